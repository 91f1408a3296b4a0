//! KMS: `aws_kms_key`, a customer managed key (what encrypts EKS secrets and RDS storage
//! at rest), and `aws_kms_alias`, a friendly name pointing at one.

mod alias;
mod key;

use std::collections::BTreeMap;

use aws_sdk_kms::types::{KeyMetadata, KeyState, Tag};
use cairn_provider_core::ProviderError;

use crate::error::{api_error, found};
use crate::resource::{AwsResource, Typed};
use crate::tags::TagChanges;

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    vec![Box::new(Typed(key::Key)), Box::new(Typed(alias::Alias))]
}

/// KMS's answer for a key or alias that does not exist.
const NOT_FOUND: &str = "NotFoundException";

/// One key's metadata by id, ARN or alias; `None` if KMS does not know it.
async fn describe_key(
    kms: &aws_sdk_kms::Client,
    id: &str,
) -> Result<Option<KeyMetadata>, ProviderError> {
    found(
        "kms:DescribeKey",
        &[NOT_FOUND],
        kms.describe_key().key_id(id).send().await,
        |out| out.key_metadata,
    )
}

/// A key scheduled for deletion (or a replica on its way out) is gone for cairn: it can
/// no longer encrypt, and it disappears by itself at the end of its waiting period.
fn is_deleting(key: &KeyMetadata) -> bool {
    matches!(
        key.key_state(),
        Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
    )
}

fn kms_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| ProviderError::Other(format!("KMS tag {k}: {e}")))
        })
        .collect()
}

/// The tags of a key.
async fn key_tags(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut tags = BTreeMap::new();
    let mut marker = None;
    loop {
        let out = kms
            .list_resource_tags()
            .key_id(key_id)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| api_error("kms:ListResourceTags", e))?;
        tags.extend(
            out.tags()
                .iter()
                .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())),
        );
        match out.next_marker() {
            Some(next) if out.truncated() => marker = Some(next.to_owned()),
            _ => return Ok(tags),
        }
    }
}

/// Brings a key's tags from `current` to `wanted` (cairn's own tags included).
async fn sync_tags(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let changes = TagChanges::between(current, wanted);
    if !changes.remove.is_empty() {
        kms.untag_resource()
            .key_id(key_id)
            .set_tag_keys(Some(changes.remove))
            .send()
            .await
            .map_err(|e| api_error("kms:UntagResource", e))?;
    }
    if !changes.set.is_empty() {
        kms.tag_resource()
            .key_id(key_id)
            .set_tags(Some(kms_tags(&changes.set)?))
            .send()
            .await
            .map_err(|e| api_error("kms:TagResource", e))?;
    }
    Ok(())
}

/// True if `configured` (a key id or key ARN) names the key `key_id`/`key_arn`.
fn names_key(configured: &str, key_id: &str, key_arn: Option<&str>) -> bool {
    configured == key_id || Some(configured) == key_arn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_named_by_its_id_or_arn() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/k-1";
        assert!(names_key("k-1", "k-1", Some(arn)));
        assert!(names_key(arn, "k-1", Some(arn)));
        assert!(!names_key("k-2", "k-1", Some(arn)));
        assert!(!names_key("alias/x", "k-1", Some(arn)));
    }
}
