//! `aws_internet_gateway`: an internet gateway and its attachment to one VPC.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{InternetGateway as Gateway, ResourceType};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, Progress, ProviderError,
    ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest,
};
use serde::Deserialize;

use super::blockers::{self, Held};
use super::{
    DEPENDENCY_VIOLATION, EC2_BACKOFF, delete_until_free, desired_tags, ec2_arn, identity_filters,
    reconcile_tags, tag_specification, tags_value,
};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, Made, create_once, created_id, once};
use crate::error::{api_error, found};
use crate::resource::AwsType;
use crate::wait::{NOT_FOUND_GRACE, call_until, has_code};

pub(super) struct InternetGateway;

const NOT_FOUND: &str = "InvalidInternetGatewayID.NotFound";

/// The configuration of an internet gateway, as the stack sets it.
#[derive(Debug, Deserialize)]
struct GatewayConfig {
    vpc_id: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[async_trait]
impl AwsType for InternetGateway {
    type Object = Gateway;
    const TYPE_NAME: &'static str = "aws_internet_gateway";
    const KIND: &'static str = "internet gateway";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    const BUSY: &'static [&'static str] = DEPENDENCY_VIOLATION;

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

    async fn describe(&self, aws: &AwsClients, id: &str) -> Result<Option<Gateway>, ProviderError> {
        found(
            "ec2:DescribeInternetGateways",
            &[NOT_FOUND],
            aws.ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
                .await,
            |out| out.internet_gateways().first().cloned(),
        )
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        gateway: &Gateway,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let id = gateway.internet_gateway_id().unwrap_or_default();
        let owner = gateway.owner_id().unwrap_or_default();
        Ok(Attrs::new()
            .with("id", id)
            .with("arn", ec2_arn(aws, owner, "internet-gateway", id))
            .with("owner_id", owner)
            .with("vpc_id", attached_vpcs(gateway).into_iter().next())
            .with("tags", tags_value(aws, gateway.tags(), prior)))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let found = aws
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(identity_filters(identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeInternetGateways", e))?;
        Ok(found
            .internet_gateways()
            .iter()
            .filter_map(|g| g.internet_gateway_id().map(str::to_owned))
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: GatewayConfig = decode_config(request.config)?;
        let tags = desired_tags(aws, request.identity, &config.tags);
        let made = create_once(
            CreateCall::new("ec2:CreateInternetGateway", Self::KIND, &request.progress),
            |_| false,
            || {
                aws.ec2
                    .create_internet_gateway()
                    .tag_specifications(tag_specification(ResourceType::InternetGateway, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await?;
        // A gateway found after a lost answer may be attached already.
        let attached = match &made {
            Made::Found(id) => self
                .describe(aws, id)
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
        if let Some(vpc_id) = config.vpc_id.filter(|v| !attached.contains(v)) {
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
        Ok(id)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Gateway,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: GatewayConfig = decode_config(request.desired)?;
        if request.changed.iter().any(|c| c == "vpc_id") {
            let wanted = desired.vpc_id;
            for attached in attached_vpcs(current) {
                if Some(&attached) != wanted.as_ref() {
                    detach(aws, id, &attached, request.timeout, &request.progress).await?;
                }
            }
            if let Some(vpc_id) = wanted
                && !attached_vpcs(current).contains(&vpc_id)
            {
                aws.ec2
                    .attach_internet_gateway()
                    .internet_gateway_id(id)
                    .vpc_id(vpc_id)
                    .send()
                    .await
                    .map_err(|e| api_error("ec2:AttachInternetGateway", e))?;
            }
        }
        if request.changed.iter().any(|c| c == "tags") {
            let tags = desired_tags(aws, request.identity, &desired.tags);
            reconcile_tags(aws, id, current.tags(), &tags).await?;
        }
        Ok(())
    }

    /// A gateway cannot be deleted while attached, nor detached while public addresses
    /// in the VPC are mapped (load balancers Kubernetes made: see [`super::blockers`]).
    async fn before_delete(
        &self,
        aws: &AwsClients,
        id: &str,
        request: &DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let attached = self
            .describe(aws, id)
            .await?
            .map(|g| attached_vpcs(&g))
            .unwrap_or_default();
        for vpc_id in attached {
            blockers::clear(aws, Held::PublicAddresses(&vpc_id), request).await?;
            detach(aws, id, &vpc_id, request.timeout, &request.progress).await?;
        }
        Ok(())
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.ec2
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("ec2:DeleteInternetGateway", e))
    }
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

fn attached_vpcs(gateway: &Gateway) -> Vec<String> {
    gateway
        .attachments()
        .iter()
        .filter(|a| a.state().is_none_or(|s| s.as_str() != "detached"))
        .filter_map(|a| a.vpc_id().map(str::to_owned))
        .collect()
}
