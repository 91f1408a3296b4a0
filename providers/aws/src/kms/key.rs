//! `aws_kms_key`: a customer managed KMS key. KMS never deletes a key at once: a delete
//! schedules its deletion after a waiting period (7-30 days), during which the key is
//! `PendingDeletion`, unusable, and gone for cairn.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, ProviderError,
    ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::{NOT_FOUND, describe_key, is_deleting, key_tags, kms_tags, sync_tags};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, created_id, once};
use crate::error::{api_error, error_code};
use crate::json_text;
use crate::resource::{AwsType, Readiness, map_attribute};
use crate::tags::{created_by, object_tags, user_visible};

/// KMS's own default waiting period before a scheduled deletion.
const DEFAULT_DELETION_WINDOW: i64 = 30;
/// The waiting periods KMS accepts.
const DELETION_WINDOWS: std::ops::RangeInclusive<i64> = 7..=30;

/// The only key policy name KMS has.
const POLICY_NAME: &str = "default";

const KEY_USAGES: [&str; 4] = [
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];

const KEY_SPECS: [&str; 15] = [
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "ML_DSA_44",
    "SM2",
];

pub(super) struct Key;

#[derive(Debug, Deserialize)]
struct KeyConfig {
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    policy: Option<String>,
    enable_key_rotation: Option<bool>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// What a delete follows, as recorded in the state.
#[derive(Debug, Deserialize)]
struct DeletionWindow {
    deletion_window_in_days: Option<i64>,
}

#[async_trait]
impl AwsType for Key {
    type Object = KeyMetadata;
    const TYPE_NAME: &'static str = "aws_kms_key";
    const KIND: &'static str = "KMS key";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    /// Attributes that exist only in the stack: KMS reports the waiting period only once a
    /// deletion is scheduled.
    const CONFIG_ONLY: &'static [&'static str] = &["deletion_window_in_days"];

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("A customer managed KMS key")
            .attr(
                "description",
                AttrSchema::optional(AttrType::String).describe("what the key is for"),
            )
            .attr(
                "key_usage",
                AttrSchema::optional_computed(AttrType::enumeration(&KEY_USAGES))
                    .force_new()
                    .describe("what the key does (default ENCRYPT_DECRYPT)"),
            )
            .attr(
                "key_spec",
                AttrSchema::optional_computed(AttrType::enumeration(&KEY_SPECS))
                    .force_new()
                    .describe("key type (default SYMMETRIC_DEFAULT, AES-256)"),
            )
            .attr(
                "policy",
                AttrSchema::optional_computed(AttrType::String).describe(
                    "key policy, a JSON document compared by meaning (default: the account \
                     administers and uses the key through IAM)",
                ),
            )
            .attr(
                "enable_key_rotation",
                AttrSchema::optional_computed(AttrType::Bool)
                    .describe("rotate the key material yearly (symmetric keys; default false)"),
            )
            .attr(
                "deletion_window_in_days",
                AttrSchema::optional(AttrType::Int).describe(
                    "days between destroy and the key's deletion, 7-30 (default 30); the \
                     key is unusable meanwhile",
                ),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String)).describe("tags on the key"),
            )
            .attr(
                "key_id",
                AttrSchema::computed(AttrType::String).describe("the key's id"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String)
                    .describe("ARN of the key, e.g. for an EKS encryption config"),
            )
            .timeouts(Timeouts::all(Duration::from_secs(5 * 60)))
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        if let Some(Value::Int(days)) = request.desired.get("deletion_window_in_days")
            && !DELETION_WINDOWS.contains(days)
        {
            return Err(ProviderError::invalid(
                "deletion_window_in_days",
                "must be between 7 and 30",
            ));
        }
        if let Some(Value::String(policy)) = request.desired.get("policy") {
            json_text::parse(policy, "policy")?;
        }
        Ok(PlanAdjustments::default())
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        id: &str,
    ) -> Result<Option<KeyMetadata>, ProviderError> {
        describe_key(&aws.kms, id).await
    }

    fn is_live(&self, key: &KeyMetadata) -> bool {
        !is_deleting(key)
    }

    async fn readiness(&self, _aws: &AwsClients, key: &KeyMetadata) -> Readiness {
        match key.key_state() {
            Some(KeyState::Enabled | KeyState::Disabled) => Readiness::Ready,
            Some(KeyState::Creating | KeyState::Updating) | None => {
                Readiness::Waiting(format!("state {}", state(key)))
            }
            Some(_) => Readiness::Failed(ProviderError::Other(format!(
                "KMS key {} is {}",
                key.key_id(),
                state(key)
            ))),
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        key: &KeyMetadata,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let id = key.key_id();
        let rotation = match aws.kms.get_key_rotation_status().key_id(id).send().await {
            Ok(out) => Some(out.key_rotation_enabled()),
            // Asymmetric and HMAC keys do not rotate.
            Err(err) if error_code(&err) == Some("UnsupportedOperationException") => None,
            Err(err) => return Err(api_error("kms:GetKeyRotationStatus", err)),
        };
        let policy = aws
            .kms
            .get_key_policy()
            .key_id(id)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(|e| api_error("kms:GetKeyPolicy", e))?;
        let recorded_policy = prior.and_then(|p| p.opt_str("policy").ok().flatten());
        let policy = policy
            .policy()
            .map(|actual| json_text::reported(recorded_policy.as_deref(), actual));
        let tags = user_visible(key_tags(&aws.kms, id).await?, &aws.default_tags);
        Ok(Attrs::new()
            .with("id", id)
            .with("key_id", id)
            .with("arn", key.arn())
            .with("description", key.description().filter(|d| !d.is_empty()))
            .with("key_usage", key.key_usage().map(KeyUsageType::as_str))
            .with("key_spec", key.key_spec().map(KeySpec::as_str))
            .with("policy", policy)
            .with("enable_key_rotation", rotation)
            .with("tags", map_attribute(tags, prior, "tags")))
    }

    /// KMS cannot filter keys by tag: every customer managed key of the account and
    /// region is listed and its tags read. Only an interrupted create comes here.
    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let keys = aws
            .kms
            .list_keys()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error("kms:ListKeys", e))?;
        let mut ids = Vec::new();
        for listed in keys {
            let Some(id) = listed.key_id() else { continue };
            let Some(key) = describe_key(&aws.kms, id).await? else {
                continue;
            };
            if key.key_manager() != Some(&KeyManagerType::Customer) || is_deleting(&key) {
                continue;
            }
            if created_by(identity, &key_tags(&aws.kms, id).await?) {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// CreateKey takes no client token: a lost answer is resolved by the key's tags.
    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: KeyConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let call = aws
            .kms
            .create_key()
            .set_description(config.description.clone())
            .set_key_usage(config.key_usage.as_deref().map(KeyUsageType::from))
            .set_key_spec(config.key_spec.as_deref().map(KeySpec::from))
            .set_policy(config.policy.clone())
            .set_tags(Some(kms_tags(&tags)?));
        let made = create_once(
            CreateCall::new("kms:CreateKey", Self::KIND, &request.progress),
            |_| false,
            || call.clone().customize().config_override(once::kms()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        created_id(
            made,
            |out| out.key_metadata().map(KeyMetadata::key_id),
            "kms:CreateKey",
        )
    }

    async fn after_create(
        &self,
        aws: &AwsClients,
        _key: &KeyMetadata,
        id: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: KeyConfig = decode_config(request.config)?;
        match config.enable_key_rotation {
            Some(true) => {
                set_rotation(&aws.kms, id, true).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn update(
        &self,
        aws: &AwsClients,
        _current: &KeyMetadata,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: KeyConfig = decode_config(request.desired)?;
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        if changed("description") {
            aws.kms
                .update_key_description()
                .key_id(id)
                .description(desired.description.clone().unwrap_or_default())
                .send()
                .await
                .map_err(|e| api_error("kms:UpdateKeyDescription", e))?;
        }
        if changed("policy")
            && let Some(policy) = &desired.policy
        {
            aws.kms
                .put_key_policy()
                .key_id(id)
                .policy_name(POLICY_NAME)
                .policy(policy)
                .send()
                .await
                .map_err(|e| api_error("kms:PutKeyPolicy", e))?;
        }
        if changed("enable_key_rotation")
            && let Some(enabled) = desired.enable_key_rotation
        {
            set_rotation(&aws.kms, id, enabled).await?;
        }
        if changed("tags") {
            let wanted = object_tags(request.identity, &aws.default_tags, &desired.tags);
            sync_tags(&aws.kms, id, &key_tags(&aws.kms, id).await?, &wanted).await?;
        }
        Ok(())
    }

    /// Schedules the deletion; a key already scheduled (an interrupted destroy) is done.
    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        state: &Attrs,
    ) -> Result<(), ProviderError> {
        let days = decode_config::<DeletionWindow>(state)?
            .deletion_window_in_days
            .unwrap_or(DEFAULT_DELETION_WINDOW);
        let days = i32::try_from(days).map_err(|_| {
            ProviderError::invalid("deletion_window_in_days", "must be between 7 and 30")
        })?;
        match aws
            .kms
            .schedule_key_deletion()
            .key_id(id)
            .pending_window_in_days(days)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if error_code(&err) == Some("KMSInvalidStateException") => {
                let scheduled = describe_key(&aws.kms, id)
                    .await?
                    .is_none_or(|key| is_deleting(&key));
                if scheduled {
                    Ok(())
                } else {
                    Err(api_error("kms:ScheduleKeyDeletion", err))
                }
            }
            Err(err) => Err(api_error("kms:ScheduleKeyDeletion", err)),
        }
    }
}

fn state(key: &KeyMetadata) -> &str {
    key.key_state().map_or("unknown", KeyState::as_str)
}

async fn set_rotation(
    kms: &aws_sdk_kms::Client,
    id: &str,
    enabled: bool,
) -> Result<(), ProviderError> {
    if enabled {
        kms.enable_key_rotation()
            .key_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("kms:EnableKeyRotation", e))
    } else {
        kms.disable_key_rotation()
            .key_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("kms:DisableKeyRotation", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::capture::{Capture, body, json_error};
    use crate::resource::{AwsResource, Typed};
    use cairn_provider_core::{DeleteRequest, Progress};

    /// AWS refuses to schedule a key already pending deletion (moto accepts it): a
    /// destroy interrupted after its call is finished by the next one.
    #[tokio::test]
    async fn a_key_already_scheduled_for_deletion_is_deleted() {
        let pending = serde_json::json!({"KeyMetadata": {
            "KeyId": "k-1",
            "KeyState": "PendingDeletion",
            "KeyManager": "CUSTOMER",
        }});
        let capture = Capture::script([
            json_error(
                "KMSInvalidStateException",
                "arn:aws:kms:us-east-1:123456789012:key/k-1 is pending deletion.",
            ),
            (200, pending.to_string()),
        ]);
        let identity = ResourceIdentity {
            stack: "airflow".to_owned(),
            env: "dev".to_owned(),
            address: "aws_kms_key.main".to_owned(),
        };
        let state = Attrs::new()
            .with("id", "k-1")
            .with("deletion_window_in_days", Value::Int(7));
        Typed(Key)
            .delete(
                &capture.clients(),
                DeleteRequest {
                    type_name: "aws_kms_key",
                    identity: &identity,
                    state: &state,
                    timeout: Duration::from_secs(60),
                    progress: Progress::noop(),
                },
            )
            .await
            .expect("already scheduled counts as deleted");
        let sent: serde_json::Value =
            serde_json::from_str(&body(&capture.requests()[0])).expect("JSON body");
        assert_eq!(
            sent,
            serde_json::json!({"KeyId": "k-1", "PendingWindowInDays": 7})
        );
        assert_eq!(capture.unused(), 0);
    }

    fn planned(desired: Attrs) -> Result<PlanAdjustments, ProviderError> {
        Key.plan(PlanRequest {
            type_name: "aws_kms_key",
            prior: None,
            desired: &desired,
        })
    }

    #[test]
    fn plan_checks_the_deletion_window_and_the_policy() {
        assert!(planned(Attrs::new().with("deletion_window_in_days", Value::Int(7))).is_ok());
        let short = planned(Attrs::new().with("deletion_window_in_days", Value::Int(3)));
        assert!(
            short
                .err()
                .is_some_and(|e| e.to_string().contains("between 7 and 30"))
        );
        assert!(planned(Attrs::new().with("policy", "{not json")).is_err());
        assert!(planned(Attrs::new().with("policy", r#"{"Version":"2012-10-17"}"#)).is_ok());
        assert!(planned(Attrs::new().with("policy", Value::Unknown)).is_ok());
    }
}
