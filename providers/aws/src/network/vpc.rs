//! `aws_vpc`: a VPC with its DNS attributes.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, ResourceType, Vpc as Object, VpcAttributeName, VpcState,
};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, ProviderError, ResourceIdentity,
    ResourceSchema, Timeouts, UpdateRequest,
};
use serde::Deserialize;

use super::blockers::{self, Held};
use super::{
    DEPENDENCY_VIOLATION, desired_tags, ec2_arn, filter, identity_filters, reconcile_tags,
    tag_specification, tags_value,
};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, created_id, once};
use crate::error::{api_error, found};
use crate::resource::{AwsType, Readiness};

pub(super) struct Vpc;

/// The configuration of a VPC, as the stack sets it.
#[derive(Debug, Deserialize)]
struct VpcConfig {
    cidr_block: String,
    enable_dns_support: Option<bool>,
    enable_dns_hostnames: Option<bool>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl VpcConfig {
    /// The DNS attributes by attribute name, in the order they are set, with their
    /// configured values.
    fn dns(&self) -> [(&'static str, VpcAttributeName, Option<bool>); 2] {
        [
            (
                "enable_dns_support",
                VpcAttributeName::EnableDnsSupport,
                self.enable_dns_support,
            ),
            (
                "enable_dns_hostnames",
                VpcAttributeName::EnableDnsHostnames,
                self.enable_dns_hostnames,
            ),
        ]
    }
}

const NOT_FOUND: &str = "InvalidVpcID.NotFound";

#[async_trait]
impl AwsType for Vpc {
    type Object = Object;
    const TYPE_NAME: &'static str = "aws_vpc";
    const KIND: &'static str = "VPC";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    const BUSY: &'static [&'static str] = DEPENDENCY_VIOLATION;

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("A VPC: the private network every other networking object lives in")
            .attr(
                "cidr_block",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("primary IPv4 CIDR block, e.g. 10.0.0.0/16"),
            )
            .attr(
                "enable_dns_support",
                AttrSchema::optional_computed(AttrType::Bool)
                    .describe("resolve DNS through the Amazon-provided server (AWS default true)"),
            )
            .attr(
                "enable_dns_hostnames",
                AttrSchema::optional_computed(AttrType::Bool).describe(
                    "give instances public DNS hostnames (AWS default false; EKS needs true)",
                ),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String)).describe("tags of the VPC"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the VPC"),
            )
            .attr(
                "owner_id",
                AttrSchema::computed(AttrType::String).describe("account that owns the VPC"),
            )
            .attr(
                "default_security_group_id",
                AttrSchema::computed(AttrType::String)
                    .describe("the security group AWS created with the VPC"),
            )
            .attr(
                "main_route_table_id",
                AttrSchema::computed(AttrType::String)
                    .describe("the route table of subnets with no explicit association"),
            )
            .timeouts(Timeouts {
                create: Duration::from_secs(5 * 60),
                update: Duration::from_secs(5 * 60),
                delete: Duration::from_secs(10 * 60),
            })
    }

    async fn describe(&self, aws: &AwsClients, id: &str) -> Result<Option<Object>, ProviderError> {
        found(
            "ec2:DescribeVpcs",
            &[NOT_FOUND],
            aws.ec2.describe_vpcs().vpc_ids(id).send().await,
            |out| out.vpcs().first().cloned(),
        )
    }

    async fn readiness(&self, _aws: &AwsClients, vpc: &Object) -> Readiness {
        match vpc.state() {
            Some(VpcState::Available) => Readiness::Ready,
            state => {
                Readiness::Waiting(format!("state {}", state.map_or("unknown", |s| s.as_str())))
            }
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        vpc: &Object,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let id = vpc.vpc_id().unwrap_or_default();
        let owner = vpc.owner_id().unwrap_or_default();
        let dns_support = dns_attribute(aws, id, VpcAttributeName::EnableDnsSupport).await?;
        let dns_hostnames = dns_attribute(aws, id, VpcAttributeName::EnableDnsHostnames).await?;
        let default_group = aws
            .ec2
            .describe_security_groups()
            .filters(filter("vpc-id", id))
            .filters(filter("group-name", "default"))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeSecurityGroups", e))?;
        let main_table = aws
            .ec2
            .describe_route_tables()
            .filters(filter("vpc-id", id))
            .filters(filter("association.main", "true"))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeRouteTables", e))?;
        Ok(Attrs::new()
            .with("id", id)
            .with("arn", ec2_arn(aws, owner, "vpc", id))
            .with("owner_id", owner)
            .with("cidr_block", vpc.cidr_block())
            .with("enable_dns_support", dns_support)
            .with("enable_dns_hostnames", dns_hostnames)
            .with(
                "default_security_group_id",
                default_group
                    .security_groups()
                    .first()
                    .and_then(|g| g.group_id()),
            )
            .with(
                "main_route_table_id",
                main_table
                    .route_tables()
                    .first()
                    .and_then(|t| t.route_table_id()),
            )
            .with("tags", tags_value(aws, vpc.tags(), prior)))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let found = aws
            .ec2
            .describe_vpcs()
            .set_filters(Some(identity_filters(identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeVpcs", e))?;
        Ok(found
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_owned))
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: VpcConfig = decode_config(request.config)?;
        let tags = desired_tags(aws, request.identity, &config.tags);
        let made = create_once(
            CreateCall::new("ec2:CreateVpc", Self::KIND, &request.progress),
            |_| false,
            || {
                aws.ec2
                    .create_vpc()
                    .cidr_block(&config.cidr_block)
                    .tag_specifications(tag_specification(ResourceType::Vpc, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await?;
        created_id(
            made,
            |out| out.vpc().and_then(|v| v.vpc_id()),
            "ec2:CreateVpc",
        )
    }

    /// DNS attributes can only be set one per call, after the VPC exists.
    async fn after_create(
        &self,
        aws: &AwsClients,
        _vpc: &Object,
        id: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: VpcConfig = decode_config(request.config)?;
        let mut changed = false;
        for (_, attribute, enabled) in config.dns() {
            if let Some(enabled) = enabled {
                set_dns(aws, id, attribute, enabled).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Object,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: VpcConfig = decode_config(request.desired)?;
        for (name, attribute, enabled) in desired.dns() {
            if request.changed.iter().any(|c| c == name)
                && let Some(enabled) = enabled
            {
                set_dns(aws, id, attribute, enabled).await?;
            }
        }
        if request.changed.iter().any(|c| c == "tags") {
            let tags = desired_tags(aws, request.identity, &desired.tags);
            reconcile_tags(aws, id, current.tags(), &tags).await?;
        }
        Ok(())
    }

    /// What Kubernetes left holding it goes first (see [`super::blockers`]).
    async fn before_delete(
        &self,
        aws: &AwsClients,
        id: &str,
        request: &DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        blockers::clear(aws, Held::Vpc(id), request).await
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.ec2
            .delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("ec2:DeleteVpc", e))
    }
}

async fn set_dns(
    aws: &AwsClients,
    id: &str,
    attribute: VpcAttributeName,
    enabled: bool,
) -> Result<(), ProviderError> {
    let value = AttributeBooleanValue::builder().value(enabled).build();
    let call = aws.ec2.modify_vpc_attribute().vpc_id(id);
    let call = match attribute {
        VpcAttributeName::EnableDnsHostnames => call.enable_dns_hostnames(value),
        _ => call.enable_dns_support(value),
    };
    call.send()
        .await
        .map(drop)
        .map_err(|e| api_error("ec2:ModifyVpcAttribute", e))
}

async fn dns_attribute(
    aws: &AwsClients,
    id: &str,
    attribute: VpcAttributeName,
) -> Result<Option<bool>, ProviderError> {
    let out = aws
        .ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(attribute.clone())
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeVpcAttribute", e))?;
    let value = match attribute {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    Ok(value.and_then(AttributeBooleanValue::value))
}
