//! `aws_internet_gateway`: an internet gateway and its attachment to one VPC.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest,
    Progress, ProviderError, ReadRequest, ResourceSchema, Timeouts, UpdateRequest,
};

use super::{
    DEPENDENCY_VIOLATION, EC2_BACKOFF, delete_until_free, desired_tags, ec2_arn, identity_filters,
    not_found, reconcile_tags, single_match, tag_specification, tags_value, visible_after_create,
};
use crate::clients::AwsClients;
use crate::create::{CreateCall, Made, create_once, created_id, find_request, found_attr, once};
use crate::error::{api_error, error_code};
use crate::resource::AwsResource;
use crate::wait::{NOT_FOUND_GRACE, call_until, has_code};

pub(super) struct InternetGateway;

const NOT_FOUND: &str = "InvalidInternetGatewayID.NotFound";

#[async_trait]
impl AwsResource for InternetGateway {
    fn type_name(&self) -> &'static str {
        "aws_internet_gateway"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An internet gateway, attached to a VPC")
            .attr(
                "vpc_id",
                AttrSchema::optional(AttrType::String)
                    .describe("the VPC to attach to; changing it moves the attachment"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags of the gateway"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the gateway"),
            )
            .attr(
                "owner_id",
                AttrSchema::computed(AttrType::String).describe("account that owns the gateway"),
            )
            .timeouts(Timeouts::all(Duration::from_secs(20 * 60)))
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
        let made = create_once(
            CreateCall::new(
                "ec2:CreateInternetGateway",
                "internet gateway",
                &request.progress,
            ),
            |_| false,
            || {
                aws.ec2
                    .create_internet_gateway()
                    .tag_specifications(tag_specification(ResourceType::InternetGateway, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || async { found_attr(self.find(aws, find_request(&request)).await?, "id") },
        )
        .await?;
        // A gateway found after a lost answer may be attached already (by an earlier run).
        let attached = match &made {
            Made::Found(id) => describe_gateway(aws, id)
                .await?
                .map(|g| attached_vpcs(&g))
                .unwrap_or_default(),
            Made::Answered(_) => Vec::new(),
        };
        let id = created_id(
            made,
            |out| out.internet_gateway().and_then(|g| g.internet_gateway_id()),
            "ec2:CreateInternetGateway",
        )?;
        if let Some(vpc_id) = config.opt_str("vpc_id")?.filter(|v| !attached.contains(v)) {
            // The attach is the first use of the new gateway: EC2 may not know it yet.
            call_until(
                &format!("internet gateway {id} to attach to {vpc_id}"),
                "ec2:AttachInternetGateway",
                NOT_FOUND_GRACE,
                EC2_BACKOFF,
                &request.progress,
                |e| has_code(e, &[NOT_FOUND]),
                || {
                    aws.ec2
                        .attach_internet_gateway()
                        .internet_gateway_id(&id)
                        .vpc_id(&vpc_id)
                        .send()
                },
            )
            .await?;
        }
        visible_after_create(&format!("internet gateway {id}"), &request.progress, || {
            describe(aws, &id, Some(config))
        })
        .await
    }

    async fn update(
        &self,
        aws: &AwsClients,
        request: UpdateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let id = request.prior.str("id")?;
        let desired = request.desired;
        let current = describe_gateway(aws, &id)
            .await?
            .ok_or_else(|| not_found("internet gateway", &id))?;
        if request.changed.iter().any(|c| c == "vpc_id") {
            let wanted = desired.opt_str("vpc_id")?;
            for attached in attached_vpcs(&current) {
                if Some(&attached) != wanted.as_ref() {
                    detach(aws, &id, &attached, request.timeout, &request.progress).await?;
                }
            }
            if let Some(vpc_id) = wanted
                && !attached_vpcs(&current).contains(&vpc_id)
            {
                attach(aws, &id, &vpc_id).await?;
            }
        }
        if request.changed.iter().any(|c| c == "tags") {
            let tags = desired_tags(aws, request.identity, desired)?;
            reconcile_tags(aws, &id, current.tags(), &tags).await?;
        }
        describe(aws, &id, Some(desired))
            .await?
            .ok_or_else(|| not_found("internet gateway", &id))
    }

    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let id = request.state.str("id")?;
        let Some(current) = describe_gateway(aws, &id).await? else {
            return Ok(());
        };
        // A gateway cannot be deleted while attached.
        for vpc_id in attached_vpcs(&current) {
            detach(aws, &id, &vpc_id, request.timeout, &request.progress).await?;
        }
        delete_until_free(
            &format!("internet gateway {id} to be deleted"),
            "ec2:DeleteInternetGateway",
            &[NOT_FOUND],
            DEPENDENCY_VIOLATION,
            request.timeout,
            &request.progress,
            || {
                aws.ec2
                    .delete_internet_gateway()
                    .internet_gateway_id(&id)
                    .send()
            },
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
            .describe_internet_gateways()
            .set_filters(Some(identity_filters(request.identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeInternetGateways", e))?;
        let ids = found
            .internet_gateways()
            .iter()
            .filter_map(|g| g.internet_gateway_id().map(str::to_owned))
            .collect();
        match single_match("internet gateway", ids)? {
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
            .ok_or_else(|| not_found("internet gateway", request.id))
    }
}

async fn attach(aws: &AwsClients, id: &str, vpc_id: &str) -> Result<(), ProviderError> {
    aws.ec2
        .attach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc_id)
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("ec2:AttachInternetGateway", e))
}

/// Detaches, retrying while public addresses in the VPC are still mapped (AWS answers
/// `DependencyViolation` until NAT gateways and load balancers release them).
async fn detach(
    aws: &AwsClients,
    id: &str,
    vpc_id: &str,
    timeout: Duration,
    progress: &Progress,
) -> Result<(), ProviderError> {
    delete_until_free(
        &format!("internet gateway {id} to detach from {vpc_id}"),
        "ec2:DetachInternetGateway",
        &["Gateway.NotAttached", NOT_FOUND],
        DEPENDENCY_VIOLATION,
        timeout,
        progress,
        || {
            aws.ec2
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc_id)
                .send()
        },
    )
    .await
}

fn attached_vpcs(gateway: &aws_sdk_ec2::types::InternetGateway) -> Vec<String> {
    gateway
        .attachments()
        .iter()
        .filter(|a| a.state().is_none_or(|s| s.as_str() != "detached"))
        .filter_map(|a| a.vpc_id().map(str::to_owned))
        .collect()
}

async fn describe_gateway(
    aws: &AwsClients,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::InternetGateway>, ProviderError> {
    match aws
        .ec2
        .describe_internet_gateways()
        .internet_gateway_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.internet_gateways().first().cloned()),
        Err(e) if error_code(&e) == Some(NOT_FOUND) => Ok(None),
        Err(e) => Err(api_error("ec2:DescribeInternetGateways", e)),
    }
}

/// The gateway's full attributes, or `None` if it no longer exists.
async fn describe(
    aws: &AwsClients,
    id: &str,
    prior: Option<&Attrs>,
) -> Result<Option<Attrs>, ProviderError> {
    let Some(gateway) = describe_gateway(aws, id).await? else {
        return Ok(None);
    };
    let owner = gateway.owner_id().unwrap_or_default();
    Ok(Some(
        Attrs::new()
            .with("id", id)
            .with("arn", ec2_arn(aws, owner, "internet-gateway", id))
            .with("owner_id", owner)
            .with("vpc_id", attached_vpcs(&gateway).into_iter().next())
            .with("tags", tags_value(aws, gateway.tags(), prior)),
    ))
}
