//! `data.aws_vpc`: an existing VPC, by id or by tags, to deploy into it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use cairn_provider_core::{AttrType, Attrs, ProviderError, ResourceSchema};
use serde::Deserialize;

use super::{AwsDataSource, computed, ec2_tags, not_found, selector, tag_filters};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::error::api_error;

pub(crate) struct Vpc;

/// The arguments, as the stack sets them.
#[derive(Debug, Deserialize)]
struct Arguments {
    id: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[async_trait]
impl AwsDataSource for Vpc {
    fn type_name(&self) -> &'static str {
        "aws_vpc"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An existing VPC, by `id` or by `tags`; exactly one must match")
            .attr("id", selector(AttrType::String, "the VPC id"))
            .attr(
                "tags",
                selector(
                    AttrType::map(AttrType::String),
                    "tags the VPC has (all must match)",
                ),
            )
            .attr(
                "cidr_block",
                computed(AttrType::String, "primary IPv4 CIDR block"),
            )
            .attr("arn", computed(AttrType::String, "ARN of the VPC"))
            .attr(
                "owner_id",
                computed(AttrType::String, "account that owns the VPC"),
            )
            .attr(
                "is_default",
                computed(AttrType::Bool, "whether it is the default VPC"),
            )
    }

    async fn read(&self, aws: &AwsClients, config: &Attrs) -> Result<Attrs, ProviderError> {
        let Arguments { id, tags } = decode_config(config)?;
        if id.is_none() && tags.is_empty() {
            return Err(ProviderError::invalid(
                "id",
                "set `id` or `tags` to select the VPC",
            ));
        }
        let mut request = aws
            .ec2
            .describe_vpcs()
            .set_filters(Some(tag_filters(&tags)));
        if let Some(id) = &id {
            request = request.vpc_ids(id);
        }
        let out = request
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeVpcs", e))?;
        let selector = match &id {
            Some(id) => format!("id {id}"),
            None => format!("tags {tags:?}"),
        };
        let vpc = match out.vpcs() {
            [one] => one,
            [] => return Err(not_found("VPC", &selector)),
            many => {
                return Err(ProviderError::Other(format!(
                    "{} VPCs match {selector}; data.aws_vpc needs exactly one",
                    many.len()
                )));
            }
        };
        let vpc_id = vpc.vpc_id().unwrap_or_default().to_owned();
        let owner = vpc.owner_id().unwrap_or_default().to_owned();
        Ok(Attrs::new()
            .with("id", vpc_id.clone())
            .with("tags", ec2_tags(vpc.tags()))
            .with("cidr_block", vpc.cidr_block().unwrap_or_default())
            .with(
                "arn",
                format!("arn:aws:ec2:{}:{owner}:vpc/{vpc_id}", aws.region),
            )
            .with("owner_id", owner)
            .with("is_default", vpc.is_default().unwrap_or(false)))
    }
}
