//! EC2 networking: VPC, subnets, internet and NAT gateways, Elastic IPs, route tables and
//! security groups, one file per resource type.
//!
//! This module also owns what they share: EC2 tag conversion and reconciliation, the
//! tag filters that find an object whose create was interrupted, and EC2 ARNs. Waiting
//! lives in [`crate::wait`], error mapping in [`crate::error`].

mod blockers;
mod eip;
mod internet_gateway;
mod nat_gateway;
mod route_table;
mod security_group;
mod subnet;
mod vpc;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use cairn_provider_core::{Attrs, ProviderError, ResourceIdentity, Value};

use crate::clients::AwsClients;
use crate::error::api_error;
use crate::resource::{AwsResource, Typed, map_attribute};
use crate::tags::{TagChanges, object_tags, user_visible};
use crate::wait::{Backoff, delete_until_free};

pub(crate) use blockers::report_volumes;

/// EC2 state changes (a VPC becoming available, an attachment going away) take seconds.
const EC2_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(10),
};

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    vec![
        Box::new(Typed(vpc::Vpc)),
        Box::new(Typed(subnet::Subnet)),
        Box::new(Typed(internet_gateway::InternetGateway)),
        Box::new(Typed(eip::Eip)),
        Box::new(Typed(nat_gateway::NatGateway)),
        Box::new(Typed(route_table::RouteTable)),
        Box::new(Typed(security_group::SecurityGroup)),
    ]
}

/// Every tag the object should carry: the user's `tags`, `default_tags` and `cairn:*`.
fn desired_tags(
    aws: &AwsClients,
    identity: &ResourceIdentity,
    tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    object_tags(identity, &aws.default_tags, tags)
}

/// Tags applied atomically with the create call, so an object never exists untagged
/// (an untagged object could not be found again after an interrupted apply).
fn tag_specification(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The `tags` attribute as `read` reports it: only the user's tags.
fn tags_value(aws: &AwsClients, tags: &[Tag], prior: Option<&Attrs>) -> Value {
    map_attribute(
        user_visible(tag_map(tags), &aws.default_tags),
        prior,
        "tags",
    )
}

/// Makes the object's tags exactly `desired` (see [`TagChanges`]).
async fn reconcile_tags(
    aws: &AwsClients,
    id: &str,
    current: &[Tag],
    desired: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let changes = TagChanges::between(&tag_map(current), desired);
    if !changes.remove.is_empty() {
        let stale = changes
            .remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        aws.ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(stale))
            .send()
            .await
            .map_err(|e| api_error("ec2:DeleteTags", e))?;
    }
    if !changes.set.is_empty() {
        aws.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(&changes.set)))
            .send()
            .await
            .map_err(|e| api_error("ec2:CreateTags", e))?;
    }
    Ok(())
}

/// The error code of a delete refused because dependents still exist.
const DEPENDENCY_VIOLATION: &[&str] = &["DependencyViolation"];

fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Filters matching the `cairn:*` tags of `identity`: how `find` adopts an object.
fn identity_filters(identity: &ResourceIdentity) -> Vec<Filter> {
    identity
        .tags()
        .into_iter()
        .map(|(k, v)| filter(&format!("tag:{k}"), v))
        .collect()
}

/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `arn:<partition>:ec2:<region>:<owner>:<kind>/<id>`, as EC2 documents its ARNs (most
/// EC2 describe calls do not return one).
fn ec2_arn(aws: &AwsClients, owner: &str, kind: &str, id: &str) -> String {
    format!(
        "arn:{}:ec2:{}:{owner}:{kind}/{id}",
        partition(&aws.region),
        aws.region
    )
}

#[cfg(test)]
mod scripted_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn identity_filters_match_all_three_cairn_tags() {
        let identity = ResourceIdentity {
            stack: "airflow".to_owned(),
            env: "dev".to_owned(),
            address: "aws_vpc.main".to_owned(),
        };
        let filters = identity_filters(&identity);
        let names: Vec<&str> = filters.iter().filter_map(Filter::name).collect();
        assert_eq!(
            names,
            vec!["tag:cairn:address", "tag:cairn:env", "tag:cairn:stack"]
        );
        assert_eq!(filters[0].values(), ["aws_vpc.main"]);
    }
}
