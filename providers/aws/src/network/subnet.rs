//! `aws_subnet`: a subnet of a VPC in one availability zone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Subnet as Object, SubnetState};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, PlanAdjustments, PlanRequest,
    ProviderError, ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest,
};
use serde::Deserialize;

use super::blockers::{self, Held};
use super::{
    DEPENDENCY_VIOLATION, desired_tags, identity_filters, reconcile_tags, tag_specification,
    tags_value,
};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, created_id, once};
use crate::error::{api_error, found};
use crate::resource::{AwsType, Readiness};

pub(super) struct Subnet;

/// The configuration of a subnet, as the stack sets it.
#[derive(Debug, Deserialize)]
struct SubnetConfig {
    vpc_id: String,
    cidr_block: String,
    availability_zone: Option<String>,
    availability_zone_id: Option<String>,
    map_public_ip_on_launch: Option<bool>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

const NOT_FOUND: &str = "InvalidSubnetID.NotFound";

#[async_trait]
impl AwsType for Subnet {
    type Object = Object;
    const TYPE_NAME: &'static str = "aws_subnet";
    const KIND: &'static str = "subnet";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    const BUSY: &'static [&'static str] = DEPENDENCY_VIOLATION;

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("A subnet of a VPC in one availability zone")
            .attr(
                "vpc_id",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("the VPC the subnet belongs to"),
            )
            .attr(
                "cidr_block",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("IPv4 CIDR block inside the VPC's"),
            )
            .attr(
                "availability_zone",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe(
                        "availability zone by name, e.g. us-east-1a; names map to different \
                         physical zones in each account, so prefer availability_zone_id \
                         (AWS picks a zone if neither is set)",
                    ),
            )
            .attr(
                "map_public_ip_on_launch",
                AttrSchema::optional_computed(AttrType::Bool)
                    .describe("give instances launched here a public IPv4 address"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags, e.g. kubernetes.io/role/elb = \"1\" for EKS load balancers"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the subnet"),
            )
            .attr(
                "availability_zone_id",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe(
                        "availability zone by id, e.g. use1-az1: the same physical zone in \
                         every account; set it or availability_zone, not both",
                    ),
            )
            .attr(
                "owner_id",
                AttrSchema::computed(AttrType::String).describe("account that owns the subnet"),
            )
            .timeouts(Timeouts {
                create: Duration::from_secs(10 * 60),
                update: Duration::from_secs(10 * 60),
                delete: Duration::from_secs(20 * 60),
            })
    }

    /// CreateSubnet takes a zone by name or by id, never both. For a subnet that exists,
    /// the engine carries the recorded value of the one left unset (both are optional and
    /// computed): a value equal to the record is that, not a second setting.
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        let set = |name: &str| {
            request.desired.get(name).is_some_and(|v| !v.is_null())
                && request.prior.and_then(|p| p.get(name)) != request.desired.get(name)
        };
        if set("availability_zone") && set("availability_zone_id") {
            return Err(ProviderError::invalid(
                "availability_zone_id",
                "cannot be set together with availability_zone",
            ));
        }
        Ok(PlanAdjustments::default())
    }

    async fn describe(&self, aws: &AwsClients, id: &str) -> Result<Option<Object>, ProviderError> {
        found(
            "ec2:DescribeSubnets",
            &[NOT_FOUND],
            aws.ec2.describe_subnets().subnet_ids(id).send().await,
            |out| out.subnets().first().cloned(),
        )
    }

    async fn readiness(&self, _aws: &AwsClients, subnet: &Object) -> Readiness {
        match subnet.state() {
            Some(SubnetState::Available) => Readiness::Ready,
            state => {
                Readiness::Waiting(format!("state {}", state.map_or("unknown", |s| s.as_str())))
            }
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        subnet: &Object,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let id = subnet.subnet_id().unwrap_or_default();
        let arn = match subnet.subnet_arn() {
            Some(arn) => arn.to_owned(),
            None => super::ec2_arn(aws, subnet.owner_id().unwrap_or_default(), "subnet", id),
        };
        Ok(Attrs::new()
            .with("id", id)
            .with("arn", arn)
            .with("owner_id", subnet.owner_id())
            .with("vpc_id", subnet.vpc_id())
            .with("cidr_block", subnet.cidr_block())
            .with("availability_zone", subnet.availability_zone())
            .with("availability_zone_id", subnet.availability_zone_id())
            .with(
                "map_public_ip_on_launch",
                subnet.map_public_ip_on_launch().unwrap_or(false),
            )
            .with("tags", tags_value(aws, subnet.tags(), prior)))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let found = aws
            .ec2
            .describe_subnets()
            .set_filters(Some(identity_filters(identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeSubnets", e))?;
        Ok(found
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_owned))
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: SubnetConfig = decode_config(request.config)?;
        let tags = desired_tags(aws, request.identity, &config.tags);
        // The id names the same physical zone in every account: it wins when both are
        // known (a replacement may carry the old subnet's zone name).
        let zone_id = config.availability_zone_id;
        let zone = match zone_id {
            Some(_) => None,
            None => config.availability_zone,
        };
        let made = create_once(
            CreateCall::new("ec2:CreateSubnet", Self::KIND, &request.progress),
            |_| false,
            || {
                aws.ec2
                    .create_subnet()
                    .vpc_id(&config.vpc_id)
                    .cidr_block(&config.cidr_block)
                    .set_availability_zone(zone.clone())
                    .set_availability_zone_id(zone_id.clone())
                    .tag_specifications(tag_specification(ResourceType::Subnet, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await?;
        created_id(
            made,
            |out| out.subnet().and_then(|s| s.subnet_id()),
            "ec2:CreateSubnet",
        )
    }

    async fn after_create(
        &self,
        aws: &AwsClients,
        _subnet: &Object,
        id: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: SubnetConfig = decode_config(request.config)?;
        let Some(public) = config.map_public_ip_on_launch else {
            return Ok(false);
        };
        set_map_public_ip(aws, id, public).await?;
        Ok(true)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Object,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: SubnetConfig = decode_config(request.desired)?;
        if request
            .changed
            .iter()
            .any(|c| c == "map_public_ip_on_launch")
            && let Some(public) = desired.map_public_ip_on_launch
        {
            set_map_public_ip(aws, id, public).await?;
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
        blockers::clear(aws, Held::Subnet(id), request).await
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.ec2
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("ec2:DeleteSubnet", e))
    }
}

async fn set_map_public_ip(aws: &AwsClients, id: &str, public: bool) -> Result<(), ProviderError> {
    aws.ec2
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(public).build())
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("ec2:ModifySubnetAttribute", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_is_chosen_by_name_or_by_id_not_both() {
        let plan = |desired: Attrs| {
            Subnet.plan(PlanRequest {
                type_name: "aws_subnet",
                prior: None,
                desired: &desired,
            })
        };
        assert!(plan(Attrs::new().with("availability_zone_id", "use1-az1")).is_ok());
        assert!(plan(Attrs::new().with("availability_zone", "us-east-1a")).is_ok());
        let both = Attrs::new()
            .with("availability_zone", "us-east-1a")
            .with("availability_zone_id", "use1-az1");
        assert!(plan(both.clone()).is_err());
        let existing = Subnet.plan(PlanRequest {
            type_name: "aws_subnet",
            prior: Some(&both),
            desired: &both,
        });
        assert!(existing.is_ok(), "both read back once it exists");
    }
}
