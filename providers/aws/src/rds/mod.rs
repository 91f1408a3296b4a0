//! RDS: the PostgreSQL metadata database (`aws_db_instance`) and what it is placed and
//! configured with (`aws_db_subnet_group`, `aws_db_parameter_group`). RDS keeps tags
//! apart from the objects (ListTagsForResource, AddTagsToResource, RemoveTagsFromResource);
//! the helpers for that live here.

mod instance;
mod parameter_group;
mod subnet_group;

use std::collections::BTreeMap;

use aws_sdk_rds::types::Tag;
use cairn_provider_core::ProviderError;

use crate::error::api_error;
use crate::resource::{AwsResource, Typed};
use crate::tags::TagChanges;

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    vec![
        Box::new(Typed(subnet_group::SubnetGroup)),
        Box::new(Typed(parameter_group::ParameterGroup)),
        Box::new(Typed(instance::Instance)),
    ]
}

/// Tags as RDS takes them.
fn rds_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags as RDS returns them.
fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The tags on the RDS object `arn`.
async fn list_tags(
    rds: &aws_sdk_rds::Client,
    arn: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| api_error("rds:ListTagsForResource", e))?;
    Ok(tag_map(out.tag_list()))
}

/// Brings the RDS object's tags from `current` to `wanted` (cairn's own tags included).
async fn sync_tags(
    rds: &aws_sdk_rds::Client,
    arn: &str,
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let changes = TagChanges::between(current, wanted);
    if !changes.remove.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(changes.remove))
            .send()
            .await
            .map_err(|e| api_error("rds:RemoveTagsFromResource", e))?;
    }
    if !changes.set.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(changes.set)))
            .send()
            .await
            .map_err(|e| api_error("rds:AddTagsToResource", e))?;
    }
    Ok(())
}

/// RDS stores names in lower case. When the stack spelled `name` with capitals, report
/// the stack's spelling, so the read does not look like a rename (which would replace).
fn configured_case(configured: Option<String>, observed: &str) -> String {
    configured
        .filter(|c| c.eq_ignore_ascii_case(observed))
        .unwrap_or_else(|| observed.to_owned())
}
