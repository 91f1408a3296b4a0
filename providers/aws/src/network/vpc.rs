//! `aws_vpc`: a VPC with its DNS attributes.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName, VpcState};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest,
    ProviderError, ReadRequest, ResourceSchema, Timeouts, UpdateRequest,
};

use super::{
    DEPENDENCY_VIOLATION, EC2_BACKOFF, delete_until_free, desired_tags, ec2_arn, filter,
    identity_filters, not_found, reconcile_tags, single_match, tag_specification, tags_value,
};
use crate::clients::AwsClients;
use crate::create::{CreateCall, create_once, created_id, find_request, found_attr, once};
use crate::error::{api_error, error_code};
use crate::resource::AwsResource;
use crate::wait::{Check, poll_until};

pub(super) struct Vpc;

const NOT_FOUND: &str = "InvalidVpcID.NotFound";

#[async_trait]
impl AwsResource for Vpc {
    fn type_name(&self) -> &'static str {
        "aws_vpc"
    }

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

    async fn read(
        &self,
        aws: &AwsClients,
        request: ReadRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        describe(aws, &request.state.str("id")?, Some(request.state)).await
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: CreateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let config = request.config;
        let tags = desired_tags(aws, request.identity, config)?;
        let cidr = config.str("cidr_block")?;
        let id = created_id(
            create_once(
                CreateCall::new("ec2:CreateVpc", "VPC", &request.progress),
                |_| false,
                || {
                    aws.ec2
                        .create_vpc()
                        .cidr_block(&cidr)
                        .tag_specifications(tag_specification(ResourceType::Vpc, &tags))
                        .customize()
                        .config_override(once::ec2())
                        .send()
                },
                || async { found_attr(self.find(aws, find_request(&request)).await?, "id") },
            )
            .await?,
            |out| out.vpc().and_then(|v| v.vpc_id()),
            "ec2:CreateVpc",
        )?;
        wait_available(aws, &id, &request).await?;
        // DNS attributes can only be set one per call, after the VPC exists.
        if let Some(enabled) = config.opt_bool("enable_dns_support")? {
            set_dns(aws, &id, VpcAttributeName::EnableDnsSupport, enabled).await?;
        }
        if let Some(enabled) = config.opt_bool("enable_dns_hostnames")? {
            set_dns(aws, &id, VpcAttributeName::EnableDnsHostnames, enabled).await?;
        }
        describe(aws, &id, Some(config))
            .await?
            .ok_or_else(|| not_found("VPC", &id))
    }

    async fn update(
        &self,
        aws: &AwsClients,
        request: UpdateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let id = request.prior.str("id")?;
        let desired = request.desired;
        for name in request.changed {
            match name.as_str() {
                "enable_dns_support" | "enable_dns_hostnames" => {
                    let attribute = if name == "enable_dns_support" {
                        VpcAttributeName::EnableDnsSupport
                    } else {
                        VpcAttributeName::EnableDnsHostnames
                    };
                    if let Some(enabled) = desired.opt_bool(name)? {
                        set_dns(aws, &id, attribute, enabled).await?;
                    }
                }
                "tags" => {
                    let current = describe_vpc(aws, &id)
                        .await?
                        .ok_or_else(|| not_found("VPC", &id))?;
                    let tags = desired_tags(aws, request.identity, desired)?;
                    reconcile_tags(aws, &id, current.tags(), &tags).await?;
                }
                _ => {}
            }
        }
        describe(aws, &id, Some(desired))
            .await?
            .ok_or_else(|| not_found("VPC", &id))
    }

    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let id = request.state.str("id")?;
        delete_until_free(
            &format!("VPC {id} to be deleted"),
            "ec2:DeleteVpc",
            &[NOT_FOUND],
            DEPENDENCY_VIOLATION,
            request.timeout,
            &request.progress,
            || aws.ec2.delete_vpc().vpc_id(&id).send(),
        )
        .await
    }

    async fn find(
        &self,
        aws: &AwsClients,
        request: FindRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let found = aws
            .ec2
            .describe_vpcs()
            .set_filters(Some(identity_filters(request.identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeVpcs", e))?;
        let ids = found
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_owned))
            .collect();
        match single_match("VPC", ids)? {
            Some(id) => describe(aws, &id, Some(request.config)).await,
            None => Ok(None),
        }
    }

    async fn import(
        &self,
        aws: &AwsClients,
        request: ImportRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        describe(aws, request.id, None)
            .await?
            .ok_or_else(|| not_found("VPC", request.id))
    }
}

async fn describe_vpc(
    aws: &AwsClients,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::Vpc>, ProviderError> {
    match aws.ec2.describe_vpcs().vpc_ids(id).send().await {
        Ok(out) => Ok(out.vpcs().first().cloned()),
        Err(e) if error_code(&e) == Some(NOT_FOUND) => Ok(None),
        Err(e) => Err(api_error("ec2:DescribeVpcs", e)),
    }
}

async fn wait_available(
    aws: &AwsClients,
    id: &str,
    request: &CreateRequest<'_>,
) -> Result<(), ProviderError> {
    poll_until(
        &format!("VPC {id} to become available"),
        request.timeout,
        EC2_BACKOFF,
        &request.progress,
        || async {
            Ok(match describe_vpc(aws, id).await? {
                Some(vpc) if vpc.state() == Some(&VpcState::Available) => Check::Done(()),
                Some(vpc) => Check::Waiting(format!(
                    "state {}",
                    vpc.state().map_or("unknown", |s| s.as_str())
                )),
                // Just created: EC2 reads are eventually consistent.
                None => Check::Waiting("not visible yet".to_owned()),
            })
        },
    )
    .await
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

/// The VPC's full attributes, or `None` if it no longer exists.
async fn describe(
    aws: &AwsClients,
    id: &str,
    prior: Option<&Attrs>,
) -> Result<Option<Attrs>, ProviderError> {
    let Some(vpc) = describe_vpc(aws, id).await? else {
        return Ok(None);
    };
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
    Ok(Some(
        Attrs::new()
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
            .with("tags", tags_value(aws, vpc.tags(), prior)),
    ))
}
