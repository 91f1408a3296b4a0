//! `aws_route_table`: a route table with its routes and subnet associations inline.
//!
//! Routes (`route = [{ cidr_block, gateway_id | nat_gateway_id }]`) and associations
//! (`subnet_ids`) are reconciled in place: only the difference between what AWS has and
//! what the stack says is created, replaced or removed. The VPC's `local` route and
//! routes propagated from a virtual private gateway are AWS's, never touched or reported.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, RouteOrigin, RouteTable as Table};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, ProviderError, ResourceIdentity,
    ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::{Deserialize, Serialize};

use super::{
    DEPENDENCY_VIOLATION, desired_tags, ec2_arn, filter, identity_filters, reconcile_tags,
    tag_specification, tags_value,
};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, client_token, create_once, created_id, once};
use crate::error::{api_error, error_code, found};
use crate::resource::{AwsType, order_like, unless_empty_and_unset};

pub(super) struct RouteTable;

const NOT_FOUND: &str = "InvalidRouteTableID.NotFound";

/// One entry of `route`: a destination and exactly one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    cidr_block: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nat_gateway_id: Option<String>,
}

impl RouteSpec {
    fn validate(&self) -> Result<(), ProviderError> {
        match (&self.gateway_id, &self.nat_gateway_id) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(ProviderError::invalid(
                "route",
                format!(
                    "entry for {} needs exactly one of gateway_id, nat_gateway_id",
                    self.cidr_block
                ),
            )),
        }
    }

    fn to_value(&self) -> Value {
        serde_json::to_value(self)
            .map(Value::from_json)
            .unwrap_or_default()
    }
}

/// The configuration of a route table, as the stack sets it.
#[derive(Debug, Deserialize)]
struct RouteTableConfig {
    vpc_id: String,
    #[serde(default)]
    route: Vec<RouteSpec>,
    #[serde(default)]
    subnet_ids: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl RouteTableConfig {
    /// The routes, each with one target and no destination twice.
    fn routes(&self) -> Result<&[RouteSpec], ProviderError> {
        let mut seen = BTreeSet::new();
        for route in &self.route {
            route.validate()?;
            if !seen.insert(route.cidr_block.as_str()) {
                return Err(ProviderError::invalid(
                    "route",
                    format!("has two entries for {}", route.cidr_block),
                ));
            }
        }
        Ok(&self.route)
    }
}

#[async_trait]
impl AwsType for RouteTable {
    type Object = Table;
    const TYPE_NAME: &'static str = "aws_route_table";
    const KIND: &'static str = "route table";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    const BUSY: &'static [&'static str] = DEPENDENCY_VIOLATION;

    fn schema(&self) -> ResourceSchema {
        let route = AttrType::object([
            (
                "cidr_block",
                AttrSchema::required(AttrType::String).describe("destination IPv4 CIDR block"),
            ),
            (
                "gateway_id",
                AttrSchema::optional(AttrType::String)
                    .describe("target internet gateway (or virtual private gateway)"),
            ),
            (
                "nat_gateway_id",
                AttrSchema::optional(AttrType::String).describe("target NAT gateway"),
            ),
        ]);
        ResourceSchema::new("A route table with its routes and subnet associations")
            .attr(
                "vpc_id",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("the VPC of the route table"),
            )
            .attr(
                "route",
                AttrSchema::optional(AttrType::list(route))
                    .describe("routes besides the VPC's local route; reconciled in place"),
            )
            .attr(
                "subnet_ids",
                AttrSchema::optional(AttrType::list(AttrType::String))
                    .describe("subnets explicitly associated with this table"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags of the route table"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the route table"),
            )
            .attr(
                "owner_id",
                AttrSchema::computed(AttrType::String).describe("account that owns the table"),
            )
            .timeouts(Timeouts {
                create: Duration::from_secs(5 * 60),
                update: Duration::from_secs(5 * 60),
                delete: Duration::from_secs(5 * 60),
            })
    }

    async fn describe(&self, aws: &AwsClients, id: &str) -> Result<Option<Table>, ProviderError> {
        found(
            "ec2:DescribeRouteTables",
            &[NOT_FOUND],
            aws.ec2
                .describe_route_tables()
                .route_table_ids(id)
                .send()
                .await,
            |out| out.route_tables().first().cloned(),
        )
    }

    const DESCRIBES_MANY: bool = true;

    async fn describe_many(
        &self,
        aws: &AwsClients,
        wanted: &[(&str, &Attrs)],
    ) -> Result<std::collections::HashMap<String, Table>, ProviderError> {
        super::described_by_id(
            "route-table-id",
            wanted,
            Table::route_table_id,
            |filter| async move {
                aws.ec2
                    .describe_route_tables()
                    .filters(filter)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| api_error("ec2:DescribeRouteTables", e))
            },
        )
        .await
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        table: &Table,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let id = table.route_table_id().unwrap_or_default();
        let owner = table.owner_id().unwrap_or_default();
        let routes = managed_routes(table)
            .values()
            .map(RouteSpec::to_value)
            .collect();
        let subnets = associations(table)
            .into_iter()
            .map(|(subnet, _)| Value::from(subnet))
            .collect();
        let routes = order_like(prior.and_then(|p| p.get("route")), routes);
        let subnets = order_like(prior.and_then(|p| p.get("subnet_ids")), subnets);
        Ok(Attrs::new()
            .with("id", id)
            .with("arn", ec2_arn(aws, owner, "route-table", id))
            .with("owner_id", owner)
            .with("vpc_id", table.vpc_id())
            .with(
                "route",
                unless_empty_and_unset(Value::List(routes), prior, "route"),
            )
            .with(
                "subnet_ids",
                unless_empty_and_unset(Value::List(subnets), prior, "subnet_ids"),
            )
            .with("tags", tags_value(aws, table.tags(), prior)))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let found = aws
            .ec2
            .describe_route_tables()
            .set_filters(Some(identity_filters(identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeRouteTables", e))?;
        Ok(found
            .route_tables()
            .iter()
            .filter_map(|t| t.route_table_id().map(str::to_owned))
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: RouteTableConfig = decode_config(request.config)?;
        let tags = desired_tags(aws, request.identity, &config.tags);
        let token = client_token();
        let made = create_once(
            CreateCall::new("ec2:CreateRouteTable", Self::KIND, &request.progress).with_token(),
            |_| false,
            || {
                aws.ec2
                    .create_route_table()
                    .client_token(&token)
                    .vpc_id(&config.vpc_id)
                    .tag_specifications(tag_specification(ResourceType::RouteTable, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await?;
        created_id(
            made,
            |out| out.route_table().and_then(|t| t.route_table_id()),
            "ec2:CreateRouteTable",
        )
    }

    /// Routes and associations, once the table is visible (before, they fail with
    /// InvalidRouteTableID.NotFound).
    async fn after_create(
        &self,
        aws: &AwsClients,
        table: &Table,
        _id: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: RouteTableConfig = decode_config(request.config)?;
        reconcile_routes(aws, table, config.routes()?).await?;
        reconcile_associations(aws, table, &config.subnet_ids).await?;
        Ok(true)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        table: &Table,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: RouteTableConfig = decode_config(request.desired)?;
        let changed = |name: &str| request.changed.iter().any(|c| c == name);
        if changed("route") {
            reconcile_routes(aws, table, desired.routes()?).await?;
        }
        if changed("subnet_ids") {
            reconcile_associations(aws, table, &desired.subnet_ids).await?;
        }
        if changed("tags") {
            let tags = desired_tags(aws, request.identity, &desired.tags);
            reconcile_tags(aws, id, table.tags(), &tags).await?;
        }
        Ok(())
    }

    /// A table with subnet associations cannot be deleted.
    async fn before_delete(
        &self,
        aws: &AwsClients,
        id: &str,
        _request: &DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        match self.describe(aws, id).await? {
            Some(table) => reconcile_associations(aws, &table, &[]).await,
            None => Ok(()),
        }
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.ec2
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("ec2:DeleteRouteTable", e))
    }
}

/// The routes cairn manages: those created with CreateRoute, keyed by destination.
fn managed_routes(table: &Table) -> BTreeMap<String, RouteSpec> {
    table
        .routes()
        .iter()
        .filter(|r| {
            r.gateway_id() != Some("local")
                && !matches!(
                    r.origin(),
                    Some(RouteOrigin::CreateRouteTable | RouteOrigin::EnableVgwRoutePropagation)
                )
        })
        .filter_map(|r| {
            let cidr = r.destination_cidr_block()?.to_owned();
            Some((
                cidr.clone(),
                RouteSpec {
                    cidr_block: cidr,
                    gateway_id: r.gateway_id().map(str::to_owned),
                    nat_gateway_id: r.nat_gateway_id().map(str::to_owned),
                },
            ))
        })
        .collect()
}

async fn reconcile_routes(
    aws: &AwsClients,
    table: &Table,
    desired: &[RouteSpec],
) -> Result<(), ProviderError> {
    let id = table.route_table_id().unwrap_or_default();
    let current = managed_routes(table);
    for route in desired {
        match current.get(&route.cidr_block) {
            Some(existing) if existing == route => {}
            Some(_) => {
                aws.ec2
                    .replace_route()
                    .route_table_id(id)
                    .destination_cidr_block(&route.cidr_block)
                    .set_gateway_id(route.gateway_id.clone())
                    .set_nat_gateway_id(route.nat_gateway_id.clone())
                    .send()
                    .await
                    .map_err(|e| api_error("ec2:ReplaceRoute", e))?;
            }
            None => {
                let created = aws
                    .ec2
                    .create_route()
                    .route_table_id(id)
                    .destination_cidr_block(&route.cidr_block)
                    .set_gateway_id(route.gateway_id.clone())
                    .set_nat_gateway_id(route.nat_gateway_id.clone())
                    .send()
                    .await;
                match created {
                    Ok(_) => {}
                    // The SDK sent it again after a lost answer and the first one made
                    // the route: make sure it has this target.
                    Err(e) if error_code(&e) == Some("RouteAlreadyExists") => {
                        aws.ec2
                            .replace_route()
                            .route_table_id(id)
                            .destination_cidr_block(&route.cidr_block)
                            .set_gateway_id(route.gateway_id.clone())
                            .set_nat_gateway_id(route.nat_gateway_id.clone())
                            .send()
                            .await
                            .map_err(|e| api_error("ec2:ReplaceRoute", e))?;
                    }
                    Err(e) => return Err(api_error("ec2:CreateRoute", e)),
                }
            }
        }
    }
    for cidr in current.keys() {
        if desired.iter().all(|r| &r.cidr_block != cidr) {
            match aws
                .ec2
                .delete_route()
                .route_table_id(id)
                .destination_cidr_block(cidr)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if error_code(&e) == Some("InvalidRoute.NotFound") => {}
                Err(e) => return Err(api_error("ec2:DeleteRoute", e)),
            }
        }
    }
    Ok(())
}

/// Explicit subnet associations (not the VPC-wide main one), as (subnet, association).
fn associations(table: &Table) -> Vec<(String, String)> {
    table
        .associations()
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter(|a| {
            a.association_state()
                .and_then(|s| s.state())
                .is_none_or(|s| !matches!(s.as_str(), "disassociating" | "disassociated"))
        })
        .filter_map(|a| {
            Some((
                a.subnet_id()?.to_owned(),
                a.route_table_association_id()?.to_owned(),
            ))
        })
        .collect()
}

async fn reconcile_associations(
    aws: &AwsClients,
    table: &Table,
    desired: &[String],
) -> Result<(), ProviderError> {
    let id = table.route_table_id().unwrap_or_default();
    let current = associations(table);
    for (subnet, association) in &current {
        if !desired.contains(subnet) {
            match aws
                .ec2
                .disassociate_route_table()
                .association_id(association)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if error_code(&e) == Some("InvalidAssociationID.NotFound") => {}
                Err(e) => return Err(api_error("ec2:DisassociateRouteTable", e)),
            }
        }
    }
    for subnet in desired {
        if current.iter().any(|(s, _)| s == subnet) {
            continue;
        }
        // A subnet has at most one explicit association: one held by another table
        // moves here (the stack says the subnet belongs here), else a new one is made.
        match association_elsewhere(aws, subnet).await? {
            Some(association) => {
                aws.ec2
                    .replace_route_table_association()
                    .association_id(association)
                    .route_table_id(id)
                    .send()
                    .await
                    .map_err(|e| api_error("ec2:ReplaceRouteTableAssociation", e))?;
            }
            None => {
                aws.ec2
                    .associate_route_table()
                    .route_table_id(id)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .map_err(|e| api_error("ec2:AssociateRouteTable", e))?;
            }
        }
    }
    Ok(())
}

/// The id of the subnet's explicit association with any route table, if it has one.
async fn association_elsewhere(
    aws: &AwsClients,
    subnet: &str,
) -> Result<Option<String>, ProviderError> {
    let found = aws
        .ec2
        .describe_route_tables()
        .filters(filter("association.subnet-id", subnet))
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeRouteTables", e))?;
    Ok(found
        .route_tables()
        .iter()
        .flat_map(|t| t.associations())
        .find(|a| a.subnet_id() == Some(subnet) && a.main() != Some(true))
        .and_then(|a| a.route_table_association_id())
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(cidr: &str, gateway: Option<&str>, nat: Option<&str>) -> RouteSpec {
        RouteSpec {
            cidr_block: cidr.to_owned(),
            gateway_id: gateway.map(str::to_owned),
            nat_gateway_id: nat.map(str::to_owned),
        }
    }

    #[test]
    fn a_route_needs_exactly_one_target() {
        assert!(route("0.0.0.0/0", Some("igw-1"), None).validate().is_ok());
        assert!(route("0.0.0.0/0", None, Some("nat-1")).validate().is_ok());
        assert!(route("0.0.0.0/0", None, None).validate().is_err());
        assert!(
            route("0.0.0.0/0", Some("igw-1"), Some("nat-1"))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn duplicate_destinations_are_refused() {
        let entry = |target: &str| {
            Value::Map(BTreeMap::from([
                ("cidr_block".to_owned(), Value::from("0.0.0.0/0")),
                ("gateway_id".to_owned(), Value::from(target)),
            ]))
        };
        let config = Attrs::new()
            .with("vpc_id", "vpc-1")
            .with("route", Value::List(vec![entry("igw-1"), entry("igw-2")]));
        let config: RouteTableConfig = decode_config(&config).expect("decodes");
        let err = config.routes().expect_err("duplicate destination");
        assert!(
            err.to_string().contains("two entries for 0.0.0.0/0"),
            "{err}"
        );
    }

    #[test]
    fn a_route_reads_back_with_only_its_target() {
        let value = route("10.1.0.0/16", None, Some("nat-1")).to_value();
        let map = value.as_map().expect("a table");
        assert_eq!(map.get("nat_gateway_id"), Some(&Value::from("nat-1")));
        assert!(!map.contains_key("gateway_id"));
    }
}
