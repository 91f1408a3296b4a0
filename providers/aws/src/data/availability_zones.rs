//! `data.aws_availability_zones`: the zones of the provider's region, to spread subnets.

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use cairn_provider_core::{AttrType, Attrs, ProviderError, ResourceSchema, Value};
use serde::Deserialize;

use super::{AwsDataSource, argument, computed};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::error::api_error;

pub(crate) struct AvailabilityZones;

/// The arguments, as the stack sets them.
#[derive(Debug, Deserialize)]
struct Arguments {
    state: Option<String>,
}

#[async_trait]
impl AwsDataSource for AvailabilityZones {
    fn type_name(&self) -> &'static str {
        "aws_availability_zones"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("The availability zones of the region, sorted by name")
            .attr(
                "state",
                argument(
                    AttrType::String,
                    "only zones in this state (default \"available\")",
                ),
            )
            .attr("id", computed(AttrType::String, "the region"))
            .attr(
                "names",
                computed(
                    AttrType::list(AttrType::String),
                    "zone names, e.g. us-east-1a",
                ),
            )
            .attr(
                "zone_ids",
                computed(
                    AttrType::list(AttrType::String),
                    "zone ids, e.g. use1-az1, in the order of `names`",
                ),
            )
    }

    async fn read(&self, aws: &AwsClients, config: &Attrs) -> Result<Attrs, ProviderError> {
        let state = decode_config::<Arguments>(config)?
            .state
            .unwrap_or_else(|| "available".to_owned());
        let out = aws
            .ec2
            .describe_availability_zones()
            .filters(Filter::builder().name("state").values(state).build())
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeAvailabilityZones", e))?;
        let mut zones: Vec<(String, String)> = out
            .availability_zones()
            .iter()
            .filter_map(|z| {
                Some((
                    z.zone_name()?.to_owned(),
                    z.zone_id().unwrap_or_default().to_owned(),
                ))
            })
            .collect();
        zones.sort();
        Ok(Attrs::new()
            .with("id", aws.region.clone())
            .with(
                "names",
                Value::List(zones.iter().map(|(n, _)| Value::from(n.as_str())).collect()),
            )
            .with(
                "zone_ids",
                Value::List(zones.iter().map(|(_, i)| Value::from(i.as_str())).collect()),
            ))
    }
}
