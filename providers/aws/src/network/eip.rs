//! `aws_eip`: an Elastic IP address (e.g. the public address of a NAT gateway).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest,
    ProviderError, ReadRequest, ResourceSchema, Timeouts, UpdateRequest,
};

use super::{
    delete_until_free, desired_tags, identity_filters, not_found, reconcile_tags, single_match,
    tag_specification, tags_value, visible_after_create,
};
use crate::clients::AwsClients;
use crate::create::{CreateCall, create_once, created_id, find_request, found_attr, once};
use crate::error::{api_error, error_code};
use crate::resource::AwsResource;

pub(super) struct Eip;

const NOT_FOUND: &str = "InvalidAllocationID.NotFound";

/// Codes AWS answers while the address is still associated (a NAT gateway being
/// deleted releases it only when it reaches `deleted`).
const STILL_ASSOCIATED: &[&str] = &["InvalidIPAddress.InUse", "AuthFailure"];

#[async_trait]
impl AwsResource for Eip {
    fn type_name(&self) -> &'static str {
        "aws_eip"
    }

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
        let domain = match config.opt_str("domain")?.as_deref() {
            Some("standard") => DomainType::Standard,
            _ => DomainType::Vpc,
        };
        let made = create_once(
            CreateCall::new("ec2:AllocateAddress", "Elastic IP", &request.progress),
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
            || async { found_attr(self.find(aws, find_request(&request)).await?, "id") },
        )
        .await?;
        let id = created_id(made, |out| out.allocation_id(), "ec2:AllocateAddress")?;
        visible_after_create(&format!("Elastic IP {id}"), &request.progress, || {
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
        if request.changed.iter().any(|c| c == "tags") {
            let current = describe_address(aws, &id)
                .await?
                .ok_or_else(|| not_found("Elastic IP", &id))?;
            let tags = desired_tags(aws, request.identity, request.desired)?;
            reconcile_tags(aws, &id, current.tags(), &tags).await?;
        }
        describe(aws, &id, Some(request.desired))
            .await?
            .ok_or_else(|| not_found("Elastic IP", &id))
    }

    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let id = request.state.str("id")?;
        if describe_address(aws, &id).await?.is_none() {
            return Ok(());
        }
        delete_until_free(
            &format!("Elastic IP {id} to be released"),
            "ec2:ReleaseAddress",
            &[NOT_FOUND],
            STILL_ASSOCIATED,
            request.timeout,
            &request.progress,
            || aws.ec2.release_address().allocation_id(&id).send(),
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
            .describe_addresses()
            .set_filters(Some(identity_filters(request.identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeAddresses", e))?;
        let ids = found
            .addresses()
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_owned))
            .collect();
        match single_match("Elastic IP", ids)? {
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
            .ok_or_else(|| not_found("Elastic IP", request.id))
    }
}

async fn describe_address(
    aws: &AwsClients,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::Address>, ProviderError> {
    match aws.ec2.describe_addresses().allocation_ids(id).send().await {
        Ok(out) => Ok(out.addresses().first().cloned()),
        Err(e) if error_code(&e) == Some(NOT_FOUND) => Ok(None),
        Err(e) => Err(api_error("ec2:DescribeAddresses", e)),
    }
}

/// The address's full attributes, or `None` once it is released.
async fn describe(
    aws: &AwsClients,
    id: &str,
    prior: Option<&Attrs>,
) -> Result<Option<Attrs>, ProviderError> {
    let Some(address) = describe_address(aws, id).await? else {
        return Ok(None);
    };
    Ok(Some(
        Attrs::new()
            .with("id", id)
            .with("allocation_id", id)
            .with("domain", address.domain().map(|d| d.as_str()))
            .with("public_ip", address.public_ip())
            .with("association_id", address.association_id())
            .with("tags", tags_value(aws, address.tags(), prior)),
    ))
}
