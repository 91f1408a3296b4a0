//! `aws_db_subnet_group`: the subnets an RDS instance may be placed in. Owns
//! CreateDBSubnetGroup, ModifyDBSubnetGroup (subnets and description in place), tags and
//! a delete that waits out instances still releasing the group.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, ProviderError, ResourceIdentity, ResourceSchema,
    Timeouts, UpdateRequest,
};
use serde::Deserialize;

use super::{configured_case, list_tags, rds_tags, sync_tags};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, once};
use crate::error::{api_error, found};
use crate::resource::AwsType;
use crate::resource::{keep_order, map_attribute, strings};
use crate::tags::created_by;
use crate::tags::{object_tags, user_visible};

/// RDS requires a description; Terraform users know this default's shape.
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";

pub(crate) struct SubnetGroup;

#[derive(Debug, Deserialize)]
struct SubnetGroupConfig {
    name: String,
    description: Option<String>,
    subnet_ids: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[async_trait]
impl AwsType for SubnetGroup {
    type Object = DbSubnetGroup;
    const TYPE_NAME: &'static str = "aws_db_subnet_group";
    const KIND: &'static str = "DB subnet group";
    const GONE: &'static [&'static str] = &["DBSubnetGroupNotFoundFault"];
    const ID: &'static str = "name";
    /// An instance that is itself being deleted still holds the group for a while.
    const BUSY: &'static [&'static str] = &["InvalidDBSubnetGroupStateFault"];

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An RDS DB subnet group")
            .attr(
                "name",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("subnet group name (RDS stores it in lower case)"),
            )
            .attr(
                "description",
                AttrSchema::optional_computed(AttrType::String)
                    .describe(format!("description (default \"{DEFAULT_DESCRIPTION}\")")),
            )
            .attr(
                "subnet_ids",
                AttrSchema::required(AttrType::list(AttrType::String))
                    .describe("subnets in at least two availability zones"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String)).describe("tags on the group"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the subnet group"),
            )
            .attr(
                "vpc_id",
                AttrSchema::computed(AttrType::String).describe("VPC of the subnets"),
            )
            .timeouts(Timeouts {
                delete: Duration::from_secs(10 * 60),
                ..Timeouts::default()
            })
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        name: &str,
    ) -> Result<Option<DbSubnetGroup>, ProviderError> {
        describe(&aws.rds, name).await
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        group: &DbSubnetGroup,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        attributes(
            &aws.rds,
            group,
            prior.unwrap_or(&Attrs::new()),
            &aws.default_tags,
        )
        .await
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let name = decode_config::<SubnetGroupConfig>(config)?.name;
        let Some(group) = describe(&aws.rds, &name).await? else {
            return Ok(Vec::new());
        };
        let tags = list_tags(&aws.rds, group.db_subnet_group_arn().unwrap_or_default()).await?;
        Ok(if created_by(identity, &tags) {
            vec![name]
        } else {
            Vec::new()
        })
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: SubnetGroupConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let call = aws
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(&config.name)
            .db_subnet_group_description(
                config.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION),
            )
            .set_subnet_ids(Some(config.subnet_ids.clone()))
            .set_tags(Some(rds_tags(tags)));
        create_once(
            CreateCall::new("rds:CreateDBSubnetGroup", Self::KIND, &request.progress),
            |_| false,
            || call.clone().customize().config_override(once::rds()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        Ok(config.name)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        group: &DbSubnetGroup,
        name: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: SubnetGroupConfig = decode_config(request.desired)?;
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        if changed("subnet_ids") || changed("description") {
            modify(
                &aws.rds,
                name,
                desired.description.as_deref(),
                &desired.subnet_ids,
            )
            .await?;
        }
        if changed("tags") {
            let arn = group.db_subnet_group_arn().unwrap_or_default();
            let wanted = object_tags(request.identity, &aws.default_tags, &desired.tags);
            sync_tags(&aws.rds, arn, &list_tags(&aws.rds, arn).await?, &wanted).await?;
        }
        Ok(())
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        name: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.rds
            .delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("rds:DeleteDBSubnetGroup", e))
    }
}

async fn describe(
    rds: &aws_sdk_rds::Client,
    name: &str,
) -> Result<Option<DbSubnetGroup>, ProviderError> {
    found(
        "rds:DescribeDBSubnetGroups",
        &["DBSubnetGroupNotFoundFault"],
        rds.describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await,
        |out| {
            out.db_subnet_groups
                .and_then(|groups| groups.into_iter().next())
        },
    )
}

/// Sets the group's subnets and description. RDS requires the full subnet list on every
/// call; a description left out of the stack stays as it is.
async fn modify(
    rds: &aws_sdk_rds::Client,
    name: &str,
    description: Option<&str>,
    subnet_ids: &[String],
) -> Result<(), ProviderError> {
    rds.modify_db_subnet_group()
        .db_subnet_group_name(name)
        .set_db_subnet_group_description(description.map(str::to_owned))
        .set_subnet_ids(Some(subnet_ids.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| api_error("rds:ModifyDBSubnetGroup", e))
}

async fn attributes(
    rds: &aws_sdk_rds::Client,
    group: &DbSubnetGroup,
    order: &Attrs,
    default_tags: &BTreeMap<String, String>,
) -> Result<Attrs, ProviderError> {
    let arn = group.db_subnet_group_arn().unwrap_or_default();
    let tags = list_tags(rds, arn).await?;
    let name = configured_case(
        order.opt_str("name")?,
        group.db_subnet_group_name().unwrap_or_default(),
    );
    let subnets: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    Ok(Attrs::new()
        .with("id", name.clone())
        .with("name", name)
        .with("description", group.db_subnet_group_description())
        .with(
            "subnet_ids",
            keep_order(strings(order.get("subnet_ids")), subnets),
        )
        .with(
            "tags",
            map_attribute(user_visible(tags, default_tags), Some(order), "tags"),
        )
        .with("arn", arn)
        .with("vpc_id", group.vpc_id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::capture::{Capture, body, captured_client};

    /// moto's ModifyDBSubnetGroup deletes the group, so the call is checked here instead.
    #[tokio::test]
    async fn modify_sends_all_subnets_and_the_description() {
        let capture = Capture::answering(
            200,
            "<ModifyDBSubnetGroupResponse><ModifyDBSubnetGroupResult><DBSubnetGroup>\
             <DBSubnetGroupName>airflow-db</DBSubnetGroupName></DBSubnetGroup>\
             </ModifyDBSubnetGroupResult></ModifyDBSubnetGroupResponse>",
        );
        let rds = captured_client!(aws_sdk_rds, capture);
        let subnets = [
            "subnet-a".to_owned(),
            "subnet-b".to_owned(),
            "subnet-c".to_owned(),
        ];
        modify(&rds, "airflow-db", Some("metadata DB"), &subnets)
            .await
            .expect("accepted");
        let sent = capture.only_request();
        let form: BTreeMap<String, String> = body(&sent)
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    urlencoding::decode(v)
                        .map(|v| v.into_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            form.get("Action").map(String::as_str),
            Some("ModifyDBSubnetGroup")
        );
        assert_eq!(
            form.get("DBSubnetGroupName").map(String::as_str),
            Some("airflow-db")
        );
        assert_eq!(
            form.get("DBSubnetGroupDescription").map(String::as_str),
            Some("metadata DB")
        );
        let sent_subnets: Vec<&str> = (1..=3)
            .filter_map(|i| {
                form.get(&format!("SubnetIds.SubnetIdentifier.{i}"))
                    .map(String::as_str)
            })
            .collect();
        assert_eq!(sent_subnets, ["subnet-a", "subnet-b", "subnet-c"]);
        assert!(!form.contains_key("SubnetIds.SubnetIdentifier.4"));
    }

    #[test]
    fn stack_spelling_of_a_name_survives_lower_casing() {
        assert_eq!(
            configured_case(Some("Airflow-DB".to_owned()), "airflow-db"),
            "Airflow-DB"
        );
        assert_eq!(
            configured_case(Some("other".to_owned()), "airflow-db"),
            "airflow-db"
        );
        assert_eq!(configured_case(None, "airflow-db"), "airflow-db");
    }
}
