//! `aws_nat_gateway`: a NAT gateway giving private subnets outbound internet access.
//!
//! Creating one takes a few minutes on AWS, deleting one several more; both wait, and so
//! does `find` for a gateway an interrupted apply left `pending`. A deleted gateway stays
//! listed for about an hour with state `deleted`, so every read treats `deleting`,
//! `deleted` and `failed` as gone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGateway as Gateway, NatGatewayState, ResourceType};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, ProviderError, ResourceIdentity, ResourceSchema,
    Timeouts, UpdateRequest,
};
use serde::Deserialize;

use super::{desired_tags, identity_filters, reconcile_tags, tag_specification, tags_value};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, client_token, create_once, created_id, once};
use crate::error::{api_error, found};
use crate::resource::{AwsType, Readiness};
use crate::wait::Backoff;

pub(super) struct NatGateway;

const NOT_FOUND: &[&str] = &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"];

/// How long a create may take; also how long `find` waits for a pending gateway.
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// NAT gateways take one to five minutes to become available or go away.
const NAT_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(5),
    max: Duration::from_secs(15),
};

/// The configuration of a NAT gateway, as the stack sets it.
#[derive(Debug, Deserialize)]
struct GatewayConfig {
    subnet_id: String,
    allocation_id: Option<String>,
    connectivity_type: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[async_trait]
impl AwsType for NatGateway {
    type Object = Gateway;
    const TYPE_NAME: &'static str = "aws_nat_gateway";
    const KIND: &'static str = "NAT gateway";
    const GONE: &'static [&'static str] = NOT_FOUND;
    /// Its Elastic IP and network interface are released only at `deleted`: the EIP,
    /// subnet and internet gateway deletes that follow depend on that.
    const WAIT_GONE: bool = true;
    const BACKOFF: Backoff = NAT_BACKOFF;

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("A NAT gateway in a public subnet")
            .attr(
                "subnet_id",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("the (public) subnet the gateway sits in"),
            )
            .attr(
                "allocation_id",
                AttrSchema::optional(AttrType::String)
                    .force_new()
                    .describe("allocation id of the Elastic IP of a public gateway"),
            )
            .attr(
                "connectivity_type",
                AttrSchema::optional_computed(AttrType::enumeration(&["public", "private"]))
                    .force_new()
                    .describe("`public` (the default) or `private`"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags of the gateway"),
            )
            .attr(
                "public_ip",
                AttrSchema::computed(AttrType::String)
                    .describe("public address of a public gateway"),
            )
            .attr(
                "private_ip",
                AttrSchema::computed(AttrType::String).describe("private address in the subnet"),
            )
            .attr(
                "network_interface_id",
                AttrSchema::computed(AttrType::String).describe("the gateway's network interface"),
            )
            .attr(
                "vpc_id",
                AttrSchema::computed(AttrType::String).describe("the VPC of the subnet"),
            )
            .timeouts(Timeouts {
                create: CREATE_TIMEOUT,
                update: Duration::from_secs(10 * 60),
                delete: Duration::from_secs(30 * 60),
            })
    }

    async fn describe(&self, aws: &AwsClients, id: &str) -> Result<Option<Gateway>, ProviderError> {
        found(
            "ec2:DescribeNatGateways",
            NOT_FOUND,
            aws.ec2
                .describe_nat_gateways()
                .nat_gateway_ids(id)
                .send()
                .await,
            |out| out.nat_gateways().first().cloned(),
        )
    }

    const DESCRIBES_MANY: bool = true;

    async fn describe_many(
        &self,
        aws: &AwsClients,
        wanted: &[(&str, &Attrs)],
    ) -> Result<std::collections::HashMap<String, Gateway>, ProviderError> {
        super::described_by_id(
            "nat-gateway-id",
            wanted,
            Gateway::nat_gateway_id,
            |filter| async move {
                aws.ec2
                    .describe_nat_gateways()
                    .filter(filter)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| api_error("ec2:DescribeNatGateways", e))
            },
        )
        .await
    }

    /// False for a gateway on its way out or that never came up: for cairn it is gone.
    fn is_live(&self, gateway: &Gateway) -> bool {
        !matches!(
            gateway.state(),
            Some(NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)
        )
    }

    fn deletion(&self, gateway: &Gateway) -> Readiness {
        match gateway.state() {
            Some(NatGatewayState::Deleted) => Readiness::Ready,
            state => {
                Readiness::Waiting(format!("state {}", state.map_or("unknown", |s| s.as_str())))
            }
        }
    }

    /// `failed` ends the wait with AWS's failure code and message.
    async fn readiness(&self, _aws: &AwsClients, gateway: &Gateway) -> Readiness {
        match gateway.state() {
            Some(NatGatewayState::Available) => Readiness::Ready,
            Some(NatGatewayState::Failed) => Readiness::Failed(ProviderError::api(
                "ec2:CreateNatGateway",
                gateway.failure_code().map(str::to_owned),
                gateway.failure_message().unwrap_or("NAT gateway failed"),
            )),
            state => {
                Readiness::Waiting(format!("state {}", state.map_or("unknown", |s| s.as_str())))
            }
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        gateway: &Gateway,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        Ok(attributes(aws, gateway, prior))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let mut filters = identity_filters(identity);
        filters.push(
            aws_sdk_ec2::types::Filter::builder()
                .name("state")
                .values("pending")
                .values("available")
                .build(),
        );
        let found = aws
            .ec2
            .describe_nat_gateways()
            .set_filter(Some(filters))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeNatGateways", e))?;
        Ok(found
            .nat_gateways()
            .iter()
            .filter(|g| self.is_live(g))
            .filter_map(|g| g.nat_gateway_id().map(str::to_owned))
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: GatewayConfig = decode_config(request.config)?;
        let tags = desired_tags(aws, request.identity, &config.tags);
        let connectivity = match config.connectivity_type.as_deref() {
            Some("private") => ConnectivityType::Private,
            _ => ConnectivityType::Public,
        };
        let token = client_token();
        let made = create_once(
            CreateCall::new("ec2:CreateNatGateway", Self::KIND, &request.progress).with_token(),
            |_| false,
            || {
                aws.ec2
                    .create_nat_gateway()
                    .client_token(&token)
                    .subnet_id(&config.subnet_id)
                    .set_allocation_id(config.allocation_id.clone())
                    .connectivity_type(connectivity.clone())
                    .tag_specifications(tag_specification(ResourceType::Natgateway, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await?;
        created_id(
            made,
            |out| out.nat_gateway().and_then(|g| g.nat_gateway_id()),
            "ec2:CreateNatGateway",
        )
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Gateway,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        if request.changed.iter().any(|c| c == "tags") {
            let desired: GatewayConfig = decode_config(request.desired)?;
            let tags = desired_tags(aws, request.identity, &desired.tags);
            reconcile_tags(aws, id, current.tags(), &tags).await?;
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
            .delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("ec2:DeleteNatGateway", e))
    }
}

fn attributes(
    aws: &AwsClients,
    gateway: &aws_sdk_ec2::types::NatGateway,
    prior: Option<&Attrs>,
) -> Attrs {
    let address = gateway.nat_gateway_addresses().first();
    Attrs::new()
        .with("id", gateway.nat_gateway_id())
        .with("subnet_id", gateway.subnet_id())
        .with("vpc_id", gateway.vpc_id())
        .with("allocation_id", address.and_then(|a| a.allocation_id()))
        .with("public_ip", address.and_then(|a| a.public_ip()))
        .with("private_ip", address.and_then(|a| a.private_ip()))
        .with(
            "network_interface_id",
            address.and_then(|a| a.network_interface_id()),
        )
        .with(
            "connectivity_type",
            gateway.connectivity_type().map_or("public", |c| c.as_str()),
        )
        .with("tags", tags_value(aws, gateway.tags(), prior))
}
