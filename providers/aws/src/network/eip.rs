//! `aws_eip`: an Elastic IP address (e.g. the public address of a NAT gateway).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Address, DomainType, ResourceType};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, ProviderError, ResourceIdentity, ResourceSchema,
    Timeouts, UpdateRequest,
};
use serde::Deserialize;

use super::{desired_tags, identity_filters, reconcile_tags, tag_specification, tags_value};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, created_id, once};
use crate::error::{api_error, found};
use crate::resource::AwsType;

pub(super) struct Eip;

const NOT_FOUND: &str = "InvalidAllocationID.NotFound";

/// The configuration of an Elastic IP, as the stack sets it.
#[derive(Debug, Deserialize)]
struct EipConfig {
    domain: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[async_trait]
impl AwsType for Eip {
    type Object = Address;
    const TYPE_NAME: &'static str = "aws_eip";
    const KIND: &'static str = "Elastic IP";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    /// Codes AWS answers while the address is still associated (a NAT gateway being
    /// deleted releases it only when it reaches `deleted`).
    const BUSY: &'static [&'static str] = &["InvalidIPAddress.InUse", "AuthFailure"];

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An Elastic IP address")
            .attr(
                "domain",
                AttrSchema::optional_computed(AttrType::enumeration(&["vpc", "standard"]))
                    .force_new()
                    .describe("address scope; `vpc` (the default) for anything in a VPC"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags of the address"),
            )
            .attr(
                "allocation_id",
                AttrSchema::computed(AttrType::String)
                    .describe("allocation id, what a NAT gateway takes"),
            )
            .attr(
                "public_ip",
                AttrSchema::computed(AttrType::String).describe("the public IPv4 address"),
            )
            .attr(
                "association_id",
                AttrSchema::computed(AttrType::String)
                    .describe("association with an instance or network interface, if any"),
            )
            .timeouts(Timeouts {
                create: Duration::from_secs(60),
                update: Duration::from_secs(5 * 60),
                delete: Duration::from_secs(5 * 60),
            })
    }

    async fn describe(&self, aws: &AwsClients, id: &str) -> Result<Option<Address>, ProviderError> {
        found(
            "ec2:DescribeAddresses",
            &[NOT_FOUND],
            aws.ec2.describe_addresses().allocation_ids(id).send().await,
            |out| out.addresses().first().cloned(),
        )
    }

    const DESCRIBES_MANY: bool = true;

    async fn describe_many(
        &self,
        aws: &AwsClients,
        wanted: &[(&str, &Attrs)],
    ) -> Result<std::collections::HashMap<String, Address>, ProviderError> {
        super::described_by_id(
            "allocation-id",
            wanted,
            Address::allocation_id,
            |filter| async move {
                aws.ec2
                    .describe_addresses()
                    .filters(filter)
                    .send()
                    .await
                    .map(|out| out.addresses.unwrap_or_default())
                    .map_err(|e| api_error("ec2:DescribeAddresses", e))
            },
        )
        .await
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        address: &Address,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let id = address.allocation_id();
        Ok(Attrs::new()
            .with("id", id)
            .with("allocation_id", id)
            .with("domain", address.domain().map(|d| d.as_str()))
            .with("public_ip", address.public_ip())
            .with("association_id", address.association_id())
            .with("tags", tags_value(aws, address.tags(), prior)))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let found = aws
            .ec2
            .describe_addresses()
            .set_filters(Some(identity_filters(identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeAddresses", e))?;
        Ok(found
            .addresses()
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_owned))
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: EipConfig = decode_config(request.config)?;
        let tags = desired_tags(aws, request.identity, &config.tags);
        let domain = match config.domain.as_deref() {
            Some("standard") => DomainType::Standard,
            _ => DomainType::Vpc,
        };
        let made = create_once(
            CreateCall::new("ec2:AllocateAddress", Self::KIND, &request.progress),
            |_| false,
            || {
                aws.ec2
                    .allocate_address()
                    .domain(domain.clone())
                    .tag_specifications(tag_specification(ResourceType::ElasticIp, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await?;
        created_id(made, |out| out.allocation_id(), "ec2:AllocateAddress")
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Address,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        if request.changed.iter().any(|c| c == "tags") {
            let desired: EipConfig = decode_config(request.desired)?;
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
            .release_address()
            .allocation_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("ec2:ReleaseAddress", e))
    }
}
