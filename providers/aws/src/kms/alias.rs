//! `aws_kms_alias`: a name (`alias/...`) pointing at a KMS key; an update points it at
//! another key. Aliases carry no tags: after an interrupted create, the alias of this
//! name pointing at the configured key is the one this resource made.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::types::AliasListEntry;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, ProviderError,
    ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::{NOT_FOUND, describe_key, names_key};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, once};
use crate::error::api_error;
use crate::resource::AwsType;

pub(super) struct Alias;

#[derive(Debug, Deserialize)]
struct AliasConfig {
    name: String,
    target_key_id: String,
}

#[async_trait]
impl AwsType for Alias {
    type Object = AliasListEntry;
    const TYPE_NAME: &'static str = "aws_kms_alias";
    const KIND: &'static str = "KMS alias";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    /// The alias name.
    const ID: &'static str = "name";

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("A KMS alias: a friendly name for a KMS key")
            .attr(
                "name",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("the alias, starting with alias/ (e.g. alias/airflow-prod)"),
            )
            .attr(
                "target_key_id",
                AttrSchema::required(AttrType::String)
                    .describe("id or ARN of the key it points at; changed in place"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the alias"),
            )
            .attr(
                "target_key_arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the key it points at"),
            )
            .timeouts(Timeouts::all(Duration::from_secs(2 * 60)))
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        if let Some(Value::String(name)) = request.desired.get("name")
            && (!name.starts_with("alias/") || name.starts_with("alias/aws/"))
        {
            return Err(ProviderError::invalid(
                "name",
                "must start with alias/ (and not alias/aws/, which AWS keeps for itself)",
            ));
        }
        Ok(PlanAdjustments::default())
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        name: &str,
    ) -> Result<Option<AliasListEntry>, ProviderError> {
        describe(&aws.kms, name).await
    }

    async fn attributes(
        &self,
        _aws: &AwsClients,
        alias: &AliasListEntry,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let target = alias.target_key_id().unwrap_or_default();
        let target_arn = alias.alias_arn().and_then(|arn| key_arn(arn, target));
        let configured = prior.and_then(|p| p.opt_str("target_key_id").ok().flatten());
        let target_key_id = match configured {
            Some(wanted) if names_key(&wanted, target, target_arn.as_deref()) => wanted,
            _ => target.to_owned(),
        };
        Ok(Attrs::new()
            .with("id", alias.alias_name())
            .with("name", alias.alias_name())
            .with("target_key_id", target_key_id)
            .with("arn", alias.alias_arn())
            .with("target_key_arn", target_arn))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        _identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let config: AliasConfig = decode_config(config)?;
        let Some(alias) = describe(&aws.kms, &config.name).await? else {
            return Ok(Vec::new());
        };
        let target = alias.target_key_id().unwrap_or_default();
        let target_arn = alias.alias_arn().and_then(|arn| key_arn(arn, target));
        let ours = names_key(&config.target_key_id, target, target_arn.as_deref());
        Ok(if ours { vec![config.name] } else { Vec::new() })
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: AliasConfig = decode_config(request.config)?;
        let call = aws
            .kms
            .create_alias()
            .alias_name(&config.name)
            .target_key_id(&config.target_key_id);
        create_once(
            CreateCall::new("kms:CreateAlias", Self::KIND, &request.progress),
            |_| false,
            || call.clone().customize().config_override(once::kms()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        Ok(config.name)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        _current: &AliasListEntry,
        name: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: AliasConfig = decode_config(request.desired)?;
        if request.changed.iter().any(|c| c == "target_key_id") {
            // Checked first so the error names the key rather than the alias.
            if describe_key(&aws.kms, &desired.target_key_id)
                .await?
                .is_none()
            {
                return Err(ProviderError::invalid(
                    "target_key_id",
                    format!("names no KMS key: {}", desired.target_key_id),
                ));
            }
            aws.kms
                .update_alias()
                .alias_name(name)
                .target_key_id(&desired.target_key_id)
                .send()
                .await
                .map_err(|e| api_error("kms:UpdateAlias", e))?;
        }
        Ok(())
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        name: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.kms
            .delete_alias()
            .alias_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("kms:DeleteAlias", e))
    }
}

/// The alias named `name`, if any. KMS has no lookup by alias name but ListAliases.
async fn describe(
    kms: &aws_sdk_kms::Client,
    name: &str,
) -> Result<Option<AliasListEntry>, ProviderError> {
    let aliases = kms
        .list_aliases()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| api_error("kms:ListAliases", e))?;
    Ok(aliases
        .into_iter()
        .find(|a| a.alias_name() == Some(name) && a.target_key_id().is_some()))
}

/// The ARN of key `key_id` in the account and region of the alias `alias_arn`.
fn key_arn(alias_arn: &str, key_id: &str) -> Option<String> {
    let (prefix, _) = alias_arn.split_once(":alias/")?;
    Some(format!("{prefix}:key/{key_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_arn_is_in_the_alias_account_and_region() {
        assert_eq!(
            key_arn("arn:aws:kms:eu-west-1:123456789012:alias/airflow", "k-1").as_deref(),
            Some("arn:aws:kms:eu-west-1:123456789012:key/k-1")
        );
        assert_eq!(key_arn("not-an-arn", "k-1"), None);
    }

    #[test]
    fn alias_names_are_checked_at_plan_time() {
        let plan = |name: &str| {
            Alias.plan(PlanRequest {
                type_name: "aws_kms_alias",
                prior: None,
                desired: &Attrs::new().with("name", name),
            })
        };
        assert!(plan("alias/airflow-prod").is_ok());
        assert!(plan("airflow-prod").is_err());
        assert!(plan("alias/aws/rds").is_err());
    }
}
