//! `aws_subnet`: a subnet of a VPC in one availability zone.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, SubnetState};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest,
    PlanAdjustments, PlanRequest, ProviderError, ReadRequest, ResourceSchema, Timeouts,
    UpdateRequest,
};

use super::{
    DEPENDENCY_VIOLATION, EC2_BACKOFF, delete_until_free, desired_tags, identity_filters,
    not_found, reconcile_tags, single_match, tag_specification, tags_value,
};
use crate::clients::AwsClients;
use crate::create::{CreateCall, create_once, created_id, find_request, found_attr, once};
use crate::error::{api_error, error_code};
use crate::resource::AwsResource;
use crate::wait::{Check, poll_until};

pub(super) struct Subnet;

const NOT_FOUND: &str = "InvalidSubnetID.NotFound";

#[async_trait]
impl AwsResource for Subnet {
    fn type_name(&self) -> &'static str {
        "aws_subnet"
    }

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
        // The id names the same physical zone in every account: it wins when both are
        // known (a replacement may carry the old subnet's zone name).
        let zone_id = config.opt_str("availability_zone_id")?;
        let zone = match zone_id {
            Some(_) => None,
            None => config.opt_str("availability_zone")?,
        };
        let (vpc_id, cidr) = (config.str("vpc_id")?, config.str("cidr_block")?);
        let made = create_once(
            CreateCall::new("ec2:CreateSubnet", "subnet", &request.progress),
            |_| false,
            || {
                aws.ec2
                    .create_subnet()
                    .vpc_id(&vpc_id)
                    .cidr_block(&cidr)
                    .set_availability_zone(zone.clone())
                    .set_availability_zone_id(zone_id.clone())
                    .tag_specifications(tag_specification(ResourceType::Subnet, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || async { found_attr(self.find(aws, find_request(&request)).await?, "id") },
        )
        .await?;
        let id = created_id(
            made,
            |out| out.subnet().and_then(|s| s.subnet_id()),
            "ec2:CreateSubnet",
        )?;
        poll_until(
            &format!("subnet {id} to become available"),
            request.timeout,
            EC2_BACKOFF,
            &request.progress,
            || async {
                Ok(match describe_subnet(aws, &id).await? {
                    Some(s) if s.state() == Some(&SubnetState::Available) => Check::Done(()),
                    Some(s) => Check::Waiting(format!(
                        "state {}",
                        s.state().map_or("unknown", |s| s.as_str())
                    )),
                    None => Check::Waiting("not visible yet".to_owned()),
                })
            },
        )
        .await?;
        if let Some(public) = config.opt_bool("map_public_ip_on_launch")? {
            set_map_public_ip(aws, &id, public).await?;
        }
        describe(aws, &id, Some(config))
            .await?
            .ok_or_else(|| not_found("subnet", &id))
    }

    async fn update(
        &self,
        aws: &AwsClients,
        request: UpdateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let id = request.prior.str("id")?;
        let desired = request.desired;
        if request
            .changed
            .iter()
            .any(|c| c == "map_public_ip_on_launch")
            && let Some(public) = desired.opt_bool("map_public_ip_on_launch")?
        {
            set_map_public_ip(aws, &id, public).await?;
        }
        if request.changed.iter().any(|c| c == "tags") {
            let current = describe_subnet(aws, &id)
                .await?
                .ok_or_else(|| not_found("subnet", &id))?;
            let tags = desired_tags(aws, request.identity, desired)?;
            reconcile_tags(aws, &id, current.tags(), &tags).await?;
        }
        describe(aws, &id, Some(desired))
            .await?
            .ok_or_else(|| not_found("subnet", &id))
    }

    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let id = request.state.str("id")?;
        delete_until_free(
            &format!("subnet {id} to be deleted"),
            "ec2:DeleteSubnet",
            &[NOT_FOUND],
            DEPENDENCY_VIOLATION,
            request.timeout,
            &request.progress,
            || aws.ec2.delete_subnet().subnet_id(&id).send(),
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
            .describe_subnets()
            .set_filters(Some(identity_filters(request.identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeSubnets", e))?;
        let ids = found
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_owned))
            .collect();
        match single_match("subnet", ids)? {
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
            .ok_or_else(|| not_found("subnet", request.id))
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

async fn describe_subnet(
    aws: &AwsClients,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::Subnet>, ProviderError> {
    match aws.ec2.describe_subnets().subnet_ids(id).send().await {
        Ok(out) => Ok(out.subnets().first().cloned()),
        Err(e) if error_code(&e) == Some(NOT_FOUND) => Ok(None),
        Err(e) => Err(api_error("ec2:DescribeSubnets", e)),
    }
}

/// The subnet's full attributes, or `None` if it no longer exists.
async fn describe(
    aws: &AwsClients,
    id: &str,
    prior: Option<&Attrs>,
) -> Result<Option<Attrs>, ProviderError> {
    let Some(subnet) = describe_subnet(aws, id).await? else {
        return Ok(None);
    };
    let arn = match subnet.subnet_arn() {
        Some(arn) => arn.to_owned(),
        None => super::ec2_arn(aws, subnet.owner_id().unwrap_or_default(), "subnet", id),
    };
    Ok(Some(
        Attrs::new()
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
            .with("tags", tags_value(aws, subnet.tags(), prior)),
    ))
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
