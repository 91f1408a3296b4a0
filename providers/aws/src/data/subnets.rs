//! `data.aws_subnets`: the ids of existing subnets, by VPC and tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use cairn_provider_core::{AttrType, Attrs, ProviderError, ResourceSchema, Value};
use serde::Deserialize;

use super::{AwsDataSource, argument, computed, tag_filters};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::error::api_error;

pub(crate) struct Subnets;

/// The arguments, as the stack sets them.
#[derive(Debug, Deserialize)]
struct Arguments {
    vpc_id: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[async_trait]
impl AwsDataSource for Subnets {
    fn type_name(&self) -> &'static str {
        "aws_subnets"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new(
            "The ids of existing subnets of a VPC, optionally only those with given tags",
        )
        .attr(
            "vpc_id",
            argument(AttrType::String, "the VPC the subnets are in"),
        )
        .attr(
            "tags",
            argument(
                AttrType::map(AttrType::String),
                "tags the subnets have (all must match)",
            ),
        )
        .attr("id", computed(AttrType::String, "the VPC id, or `all`"))
        .attr(
            "ids",
            computed(AttrType::list(AttrType::String), "the subnet ids, sorted"),
        )
        .attr(
            "availability_zones",
            computed(
                AttrType::map(AttrType::String),
                "each subnet's availability zone, by id",
            ),
        )
    }

    async fn read(&self, aws: &AwsClients, config: &Attrs) -> Result<Attrs, ProviderError> {
        let Arguments { vpc_id, tags } = decode_config(config)?;
        let mut filters = tag_filters(&tags);
        if let Some(vpc_id) = &vpc_id {
            filters.push(Filter::builder().name("vpc-id").values(vpc_id).build());
        }
        let mut subnets = Vec::new();
        let mut pages = aws
            .ec2
            .describe_subnets()
            .set_filters(Some(filters))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api_error("ec2:DescribeSubnets", e))?;
            subnets.extend(page.subnets().iter().filter_map(|s| {
                Some((
                    s.subnet_id()?.to_owned(),
                    s.availability_zone().unwrap_or_default().to_owned(),
                ))
            }));
        }
        subnets.sort();
        Ok(Attrs::new()
            .with("id", vpc_id.unwrap_or_else(|| "all".to_owned()))
            .with(
                "ids",
                Value::List(
                    subnets
                        .iter()
                        .map(|(id, _)| Value::from(id.as_str()))
                        .collect(),
                ),
            )
            .with(
                "availability_zones",
                Value::Map(
                    subnets
                        .into_iter()
                        .map(|(id, zone)| (id, Value::from(zone)))
                        .collect(),
                ),
            ))
    }
}
