//! `aws_nat_gateway`: a NAT gateway giving private subnets outbound internet access.
//!
//! Creating one takes a few minutes on AWS, deleting one several more; both wait, and so
//! does `find` for a gateway an interrupted apply left `pending`. A deleted gateway stays
//! listed for about an hour with state `deleted`, so every read treats `deleting`,
//! `deleted` and `failed` as gone.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGatewayState, ResourceType};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest,
    Progress, ProviderError, ReadRequest, ResourceSchema, Timeouts, UpdateRequest,
};

use super::{
    desired_tags, identity_filters, not_found, reconcile_tags, single_match, tag_specification,
    tags_value,
};
use crate::clients::AwsClients;
use crate::create::{
    CreateCall, client_token, create_once, created_id, find_request, found_attr, once,
};
use crate::error::{api_error, error_code};
use crate::resource::AwsResource;
use crate::wait::{Backoff, Check, NotFoundGrace, poll_until};

pub(super) struct NatGateway;

const NOT_FOUND: &[&str] = &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"];

/// How long a create may take; also how long `find` waits for a pending gateway.
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// NAT gateways take one to five minutes to become available or go away.
const NAT_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(5),
    max: Duration::from_secs(15),
};

#[async_trait]
impl AwsResource for NatGateway {
    fn type_name(&self) -> &'static str {
        "aws_nat_gateway"
    }

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

    async fn read(
        &self,
        aws: &AwsClients,
        request: ReadRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let id = request.state.str("id")?;
        Ok(describe_gateway(aws, &id)
            .await?
            .filter(is_live)
            .map(|g| attributes(aws, &g, Some(request.state))))
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: CreateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let config = request.config;
        let tags = desired_tags(aws, request.identity, config)?;
        let connectivity = match config.opt_str("connectivity_type")?.as_deref() {
            Some("private") => ConnectivityType::Private,
            _ => ConnectivityType::Public,
        };
        let (subnet_id, allocation_id) =
            (config.str("subnet_id")?, config.opt_str("allocation_id")?);
        let token = client_token();
        let made = create_once(
            CreateCall::new("ec2:CreateNatGateway", "NAT gateway", &request.progress).with_token(),
            |_| false,
            || {
                aws.ec2
                    .create_nat_gateway()
                    .client_token(&token)
                    .subnet_id(&subnet_id)
                    .set_allocation_id(allocation_id.clone())
                    .connectivity_type(connectivity.clone())
                    .tag_specifications(tag_specification(ResourceType::Natgateway, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || async { found_attr(self.find(aws, find_request(&request)).await?, "id") },
        )
        .await?;
        let id = created_id(
            made,
            |out| out.nat_gateway().and_then(|g| g.nat_gateway_id()),
            "ec2:CreateNatGateway",
        )?;
        let gateway = wait_available(
            aws,
            &id,
            NotFoundGrace::start(),
            request.timeout,
            &request.progress,
        )
        .await?;
        Ok(attributes(aws, &gateway, Some(config)))
    }

    async fn update(
        &self,
        aws: &AwsClients,
        request: UpdateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let id = request.prior.str("id")?;
        let current = describe_gateway(aws, &id)
            .await?
            .filter(is_live)
            .ok_or_else(|| not_found("NAT gateway", &id))?;
        if request.changed.iter().any(|c| c == "tags") {
            let tags = desired_tags(aws, request.identity, request.desired)?;
            reconcile_tags(aws, &id, current.tags(), &tags).await?;
        }
        describe_gateway(aws, &id)
            .await?
            .map(|g| attributes(aws, &g, Some(request.desired)))
            .ok_or_else(|| not_found("NAT gateway", &id))
    }

    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let id = request.state.str("id")?;
        match aws
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(()),
            Err(e) => return Err(api_error("ec2:DeleteNatGateway", e)),
        }
        // Its Elastic IP and network interface are released only at `deleted`: the
        // EIP, subnet and internet gateway deletes that follow depend on that.
        poll_until(
            &format!("NAT gateway {id} to be deleted"),
            request.timeout,
            NAT_BACKOFF,
            &request.progress,
            || async {
                Ok(match describe_gateway(aws, &id).await? {
                    None => Check::Done(()),
                    Some(g) if g.state() == Some(&NatGatewayState::Deleted) => Check::Done(()),
                    Some(g) => Check::Waiting(format!(
                        "state {}",
                        g.state().map_or("unknown", |s| s.as_str())
                    )),
                })
            },
        )
        .await
    }

    async fn find(
        &self,
        aws: &AwsClients,
        request: FindRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let mut filters = identity_filters(request.identity);
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
        let ids = found
            .nat_gateways()
            .iter()
            .filter(|g| is_live(g))
            .filter_map(|g| g.nat_gateway_id().map(str::to_owned))
            .collect();
        let Some(id) = single_match("NAT gateway", ids)? else {
            return Ok(None);
        };
        // A gateway an interrupted apply left pending has no address yet: adopt it once
        // available, or fail with AWS's reason if it failed meanwhile.
        let gateway = wait_available(
            aws,
            &id,
            NotFoundGrace::none(),
            CREATE_TIMEOUT,
            &Progress::noop(),
        )
        .await?;
        Ok(Some(attributes(aws, &gateway, Some(request.config))))
    }

    async fn import(
        &self,
        aws: &AwsClients,
        request: ImportRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        describe_gateway(aws, request.id)
            .await?
            .filter(is_live)
            .map(|g| attributes(aws, &g, None))
            .ok_or_else(|| not_found("NAT gateway", request.id))
    }
}

/// Waits until the gateway is available; `failed` ends the wait with AWS's failure code
/// and message. Not found is "not visible yet" while `grace` lasts (right after the
/// create), and the gateway gone after it.
async fn wait_available(
    aws: &AwsClients,
    id: &str,
    grace: NotFoundGrace,
    timeout: Duration,
    progress: &Progress,
) -> Result<aws_sdk_ec2::types::NatGateway, ProviderError> {
    poll_until(
        &format!("NAT gateway {id} to become available"),
        timeout,
        NAT_BACKOFF,
        progress,
        || async {
            let Some(gateway) = describe_gateway(aws, id).await? else {
                return if grace.tolerates() {
                    Ok(Check::Waiting("not visible yet".to_owned()))
                } else {
                    Err(not_found("NAT gateway", id))
                };
            };
            match gateway.state() {
                Some(NatGatewayState::Available) => Ok(Check::Done(gateway)),
                Some(NatGatewayState::Failed) => Err(ProviderError::api(
                    "ec2:CreateNatGateway",
                    gateway.failure_code().map(str::to_owned),
                    gateway.failure_message().unwrap_or("NAT gateway failed"),
                )),
                state => Ok(Check::Waiting(format!(
                    "state {}",
                    state.map_or("unknown", |s| s.as_str())
                ))),
            }
        },
    )
    .await
}

/// False for a gateway on its way out or that never came up: for cairn it is gone.
fn is_live(gateway: &aws_sdk_ec2::types::NatGateway) -> bool {
    !matches!(
        gateway.state(),
        Some(NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)
    )
}

async fn describe_gateway(
    aws: &AwsClients,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::NatGateway>, ProviderError> {
    match aws
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.nat_gateways().first().cloned()),
        Err(e) if error_code(&e).is_some_and(|c| NOT_FOUND.contains(&c)) => Ok(None),
        Err(e) => Err(api_error("ec2:DescribeNatGateways", e)),
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
