//! `aws_security_group`: a security group with its ingress and egress rules inline.
//!
//! AWS stores rules as permissions that merge every source of one protocol and port
//! range, in its own order. To diff them, both sides are expanded into single rules
//! (direction, protocol, ports, one source) keyed without their description; the
//! difference is authorized, revoked, or has its description updated, so unchanged
//! rules are never touched and traffic never drops during an update. `read` folds the
//! single rules back into the stack's own entries where they all still exist, so only a
//! real difference shows as drift.
//!
//! As in Terraform, the rules in the stack are the whole truth: the allow-all egress
//! rule AWS adds to a new group is removed unless the stack lists it.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, ResourceType, SecurityGroup as Group, UserIdGroupPair,
};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, ProviderError, ResourceIdentity,
    ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::{Deserialize, Serialize};

use super::blockers::{self, Held};
use super::{
    desired_tags, ec2_arn, identity_filters, reconcile_tags, tag_specification, tags_value,
};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, created_id, once};
use crate::error::{api_error, found};
use crate::resource::{AwsType, default_name, unless_empty_and_unset};

pub(super) struct SecurityGroup;

const NOT_FOUND: &str = "InvalidGroup.NotFound";

/// Refusals of a delete while network interfaces (left by EKS, load balancers, RDS) still
/// use the group: `DependencyViolation`, or `InvalidGroup.InUse` when another group's
/// rules reference it.
const IN_USE: &[&str] = &["DependencyViolation", "InvalidGroup.InUse"];

/// The description AWS requires when the stack gives none.
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";

/// The configuration of a security group, as the stack sets it.
#[derive(Debug, Deserialize)]
struct GroupConfig {
    vpc_id: String,
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    ingress: Vec<RuleSpec>,
    #[serde(default)]
    egress: Vec<RuleSpec>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl GroupConfig {
    /// The entries of one direction, each with a source.
    fn rules(&self, direction: Direction) -> Result<&[RuleSpec], ProviderError> {
        let rules = match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        };
        for rule in rules {
            if rule.cidr_blocks.is_empty() && rule.security_groups.is_empty() && !rule.self_source {
                return Err(ProviderError::invalid(
                    direction.attribute(),
                    format!(
                        "entry for {} {}-{} needs cidr_blocks, security_groups or self",
                        rule.protocol, rule.from_port, rule.to_port
                    ),
                ));
            }
        }
        Ok(rules)
    }

    /// The configured name, or `<stack>-<env>-<resource name>`: deterministic, so a
    /// re-run never creates a second group for the same resource.
    fn group_name(&self, identity: &ResourceIdentity) -> String {
        self.name.clone().unwrap_or_else(|| default_name(identity))
    }
}

/// One entry of `ingress` or `egress`, as written in the stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    protocol: String,
    #[serde(default)]
    from_port: i64,
    #[serde(default)]
    to_port: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    cidr_blocks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    security_groups: Vec<String>,
    #[serde(default, rename = "self", skip_serializing_if = "is_false")]
    self_source: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// Where the traffic of one single rule comes from (or goes to).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Cidr(String),
    Group(String),
}

/// A single rule without its description: what AWS identifies a rule by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RuleKey {
    protocol: String,
    from_port: i64,
    to_port: i64,
    source: Source,
}

/// Single rules and their descriptions.
type RuleSet = BTreeMap<RuleKey, Option<String>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// AWS answers with names for the common protocols and `-1` for all of them; the stack
/// may use numbers or `all`.
fn normalize_protocol(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".to_owned(),
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "1" => "icmp".to_owned(),
        "58" => "icmpv6".to_owned(),
        other => other.to_owned(),
    }
}

fn key(protocol: &str, from_port: i64, to_port: i64, source: Source) -> RuleKey {
    let protocol = normalize_protocol(protocol);
    // Ports mean nothing for "all protocols"; AWS omits them.
    let (from_port, to_port) = if protocol == "-1" {
        (0, 0)
    } else {
        (from_port, to_port)
    };
    RuleKey {
        protocol,
        from_port,
        to_port,
        source,
    }
}

impl RuleSpec {
    /// The single rules this entry stands for; `self` is the group's own id.
    fn expand(&self, own_id: &str) -> Vec<(RuleKey, Option<String>)> {
        let sources = self
            .cidr_blocks
            .iter()
            .map(|c| Source::Cidr(c.clone()))
            .chain(
                self.security_groups
                    .iter()
                    .map(|g| Source::Group(g.clone())),
            )
            .chain(self.self_source.then(|| Source::Group(own_id.to_owned())));
        sources
            .map(|source| {
                (
                    key(&self.protocol, self.from_port, self.to_port, source),
                    self.description.clone(),
                )
            })
            .collect()
    }
}

fn rule_set(rules: &[RuleSpec], own_id: &str) -> RuleSet {
    rules.iter().flat_map(|r| r.expand(own_id)).collect()
}

/// The single rules of AWS permissions. IPv6 ranges and prefix lists are not managed.
fn current_rules(permissions: &[IpPermission]) -> RuleSet {
    let mut rules = RuleSet::new();
    for permission in permissions {
        let protocol = permission.ip_protocol().unwrap_or("-1");
        let from = i64::from(permission.from_port().unwrap_or(0));
        let to = i64::from(permission.to_port().unwrap_or(0));
        for range in permission.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                rules.insert(
                    key(protocol, from, to, Source::Cidr(cidr.to_owned())),
                    range.description().map(str::to_owned),
                );
            }
        }
        for pair in permission.user_id_group_pairs() {
            if let Some(group) = pair.group_id() {
                rules.insert(
                    key(protocol, from, to, Source::Group(group.to_owned())),
                    pair.description().map(str::to_owned),
                );
            }
        }
    }
    rules
}

/// One AWS permission per single rule: authorize and revoke calls take a list of them.
fn permission(rule: &RuleKey, description: Option<&str>) -> IpPermission {
    let mut builder = IpPermission::builder().ip_protocol(&rule.protocol);
    if rule.protocol != "-1" {
        builder = builder
            .from_port(i32::try_from(rule.from_port).unwrap_or(-1))
            .to_port(i32::try_from(rule.to_port).unwrap_or(-1));
    }
    match &rule.source {
        Source::Cidr(cidr) => builder.ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
        Source::Group(group) => builder.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(group)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
    }
    .build()
}

/// What must change to turn `current` into `desired`.
#[derive(Debug, Default, PartialEq)]
struct RulePlan {
    authorize: Vec<IpPermission>,
    describe: Vec<IpPermission>,
    revoke: Vec<IpPermission>,
}

fn plan_rules(current: &RuleSet, desired: &RuleSet) -> RulePlan {
    let mut plan = RulePlan::default();
    for (rule, description) in desired {
        match current.get(rule) {
            None => plan
                .authorize
                .push(permission(rule, description.as_deref())),
            Some(existing) if existing != description => {
                plan.describe.push(permission(rule, description.as_deref()));
            }
            Some(_) => {}
        }
    }
    for rule in current.keys() {
        if !desired.contains_key(rule) {
            plan.revoke.push(permission(rule, None));
        }
    }
    plan
}

/// Applies the difference for one direction: new rules first, so replacing a rule never
/// leaves a moment without either.
async fn reconcile_rules(
    aws: &AwsClients,
    group: &aws_sdk_ec2::types::SecurityGroup,
    direction: Direction,
    desired: &[RuleSpec],
) -> Result<(), ProviderError> {
    let id = group.group_id().unwrap_or_default();
    let current = match direction {
        Direction::Ingress => current_rules(group.ip_permissions()),
        Direction::Egress => current_rules(group.ip_permissions_egress()),
    };
    let plan = plan_rules(&current, &rule_set(desired, id));
    if !plan.authorize.is_empty() {
        let sent = match direction {
            Direction::Ingress => aws
                .ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(plan.authorize))
                .send()
                .await
                .map(drop)
                .map_err(|e| api_error("ec2:AuthorizeSecurityGroupIngress", e)),
            Direction::Egress => aws
                .ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(plan.authorize))
                .send()
                .await
                .map(drop)
                .map_err(|e| api_error("ec2:AuthorizeSecurityGroupEgress", e)),
        };
        sent?;
    }
    if !plan.describe.is_empty() {
        let sent = match direction {
            Direction::Ingress => aws
                .ec2
                .update_security_group_rule_descriptions_ingress()
                .group_id(id)
                .set_ip_permissions(Some(plan.describe))
                .send()
                .await
                .map(drop)
                .map_err(|e| api_error("ec2:UpdateSecurityGroupRuleDescriptionsIngress", e)),
            Direction::Egress => aws
                .ec2
                .update_security_group_rule_descriptions_egress()
                .group_id(id)
                .set_ip_permissions(Some(plan.describe))
                .send()
                .await
                .map(drop)
                .map_err(|e| api_error("ec2:UpdateSecurityGroupRuleDescriptionsEgress", e)),
        };
        sent?;
    }
    if !plan.revoke.is_empty() {
        let sent = match direction {
            Direction::Ingress => aws
                .ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(plan.revoke))
                .send()
                .await
                .map(drop)
                .map_err(|e| api_error("ec2:RevokeSecurityGroupIngress", e)),
            Direction::Egress => aws
                .ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(plan.revoke))
                .send()
                .await
                .map(drop)
                .map_err(|e| api_error("ec2:RevokeSecurityGroupEgress", e)),
        };
        sent?;
    }
    Ok(())
}

/// The rules as `read` reports them: each recorded entry whose single rules all still
/// exist, verbatim; then whatever else AWS has, one entry per protocol, port range and
/// description.
fn rules_value(current: &RuleSet, prior: Option<&Value>, own_id: &str) -> Vec<Value> {
    let mut remaining = current.clone();
    let mut out = Vec::new();
    for recorded in prior.and_then(Value::as_list).unwrap_or_default() {
        let Some(spec) = recorded
            .expose()
            .and_then(|json| serde_json::from_value::<RuleSpec>(json).ok())
        else {
            continue;
        };
        let singles = spec.expand(own_id);
        let all_present = !singles.is_empty()
            && singles
                .iter()
                .all(|(rule, description)| remaining.get(rule) == Some(description));
        if all_present {
            for (rule, _) in &singles {
                remaining.remove(rule);
            }
            out.push(recorded.clone());
        }
    }
    let mut grouped: BTreeMap<(String, i64, i64, Option<String>), RuleSpec> = BTreeMap::new();
    for (rule, description) in remaining {
        let entry = grouped
            .entry((
                rule.protocol.clone(),
                rule.from_port,
                rule.to_port,
                description.clone(),
            ))
            .or_insert_with(|| RuleSpec {
                protocol: rule.protocol.clone(),
                from_port: rule.from_port,
                to_port: rule.to_port,
                cidr_blocks: Vec::new(),
                security_groups: Vec::new(),
                self_source: false,
                description,
            });
        match rule.source {
            Source::Cidr(cidr) => entry.cidr_blocks.push(cidr),
            Source::Group(group) if group == own_id => entry.self_source = true,
            Source::Group(group) => entry.security_groups.push(group),
        }
    }
    out.extend(
        grouped
            .into_values()
            .filter_map(|spec| serde_json::to_value(spec).ok().map(Value::from_json)),
    );
    out
}

#[async_trait]
impl AwsType for SecurityGroup {
    type Object = Group;
    const TYPE_NAME: &'static str = "aws_security_group";
    const KIND: &'static str = "security group";
    const GONE: &'static [&'static str] = &[NOT_FOUND];
    /// Network interfaces left by EKS or load balancers keep a group in use for a few
    /// minutes after their owners are gone.
    const BUSY: &'static [&'static str] = IN_USE;

    fn schema(&self) -> ResourceSchema {
        let rule = AttrType::object([
            (
                "protocol",
                AttrSchema::required(AttrType::String)
                    .describe("tcp, udp, icmp, a protocol number, or -1 / all"),
            ),
            (
                "from_port",
                AttrSchema::optional(AttrType::Int).describe("first port (ICMP type); 0 if unset"),
            ),
            (
                "to_port",
                AttrSchema::optional(AttrType::Int).describe("last port (ICMP code); 0 if unset"),
            ),
            (
                "cidr_blocks",
                AttrSchema::optional(AttrType::list(AttrType::String))
                    .describe("IPv4 CIDR blocks the rule allows"),
            ),
            (
                "security_groups",
                AttrSchema::optional(AttrType::list(AttrType::String))
                    .describe("ids of other security groups the rule allows"),
            ),
            (
                "self",
                AttrSchema::optional(AttrType::Bool).describe("allow members of this group itself"),
            ),
            (
                "description",
                AttrSchema::optional(AttrType::String).describe("description of the rule"),
            ),
        ]);
        ResourceSchema::new("A security group and its rules")
            .attr(
                "name",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe(
                        "group name, unique in the VPC; default <stack>-<env>-<resource name>",
                    ),
            )
            .attr(
                "description",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe("group description (AWS cannot change it)"),
            )
            .attr(
                "vpc_id",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("the VPC of the group"),
            )
            .attr(
                "ingress",
                AttrSchema::optional(AttrType::list(rule.clone()))
                    .describe("inbound rules; the complete list, reconciled in place"),
            )
            .attr(
                "egress",
                AttrSchema::optional(AttrType::list(rule)).describe(
                    "outbound rules; the complete list (AWS's default allow-all is removed)",
                ),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String)).describe("tags of the group"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the group"),
            )
            .attr(
                "owner_id",
                AttrSchema::computed(AttrType::String).describe("account that owns the group"),
            )
            .timeouts(Timeouts {
                create: Duration::from_secs(10 * 60),
                update: Duration::from_secs(10 * 60),
                delete: Duration::from_secs(15 * 60),
            })
    }

    async fn describe(&self, aws: &AwsClients, id: &str) -> Result<Option<Group>, ProviderError> {
        found(
            "ec2:DescribeSecurityGroups",
            &[NOT_FOUND],
            aws.ec2
                .describe_security_groups()
                .group_ids(id)
                .send()
                .await,
            |out| out.security_groups().first().cloned(),
        )
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        group: &Group,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let id = group.group_id().unwrap_or_default();
        let owner = group.owner_id().unwrap_or_default();
        let arn = group
            .security_group_arn()
            .map_or_else(|| ec2_arn(aws, owner, "security-group", id), str::to_owned);
        let mut attrs = Attrs::new()
            .with("id", id)
            .with("arn", arn)
            .with("owner_id", owner)
            .with("name", group.group_name())
            .with("description", group.description())
            .with("vpc_id", group.vpc_id())
            .with("tags", tags_value(aws, group.tags(), prior));
        for direction in [Direction::Ingress, Direction::Egress] {
            let name = direction.attribute();
            let current = match direction {
                Direction::Ingress => current_rules(group.ip_permissions()),
                Direction::Egress => current_rules(group.ip_permissions_egress()),
            };
            let rules = rules_value(&current, prior.and_then(|p| p.get(name)), id);
            attrs.insert(
                name,
                unless_empty_and_unset(Value::List(rules), prior, name),
            );
        }
        Ok(attrs)
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        _config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let found = aws
            .ec2
            .describe_security_groups()
            .set_filters(Some(identity_filters(identity)))
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeSecurityGroups", e))?;
        Ok(found
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: GroupConfig = decode_config(request.config)?;
        let tags = desired_tags(aws, request.identity, &config.tags);
        let name = config.group_name(request.identity);
        let description = config.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION);
        let made = create_once(
            CreateCall::new("ec2:CreateSecurityGroup", Self::KIND, &request.progress),
            |_| false,
            || {
                aws.ec2
                    .create_security_group()
                    .group_name(&name)
                    .description(description)
                    .vpc_id(&config.vpc_id)
                    .tag_specifications(tag_specification(ResourceType::SecurityGroup, &tags))
                    .customize()
                    .config_override(once::ec2())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await?;
        created_id(made, |out| out.group_id(), "ec2:CreateSecurityGroup")
    }

    async fn after_create(
        &self,
        aws: &AwsClients,
        group: &Group,
        _id: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: GroupConfig = decode_config(request.config)?;
        for direction in [Direction::Ingress, Direction::Egress] {
            reconcile_rules(aws, group, direction, config.rules(direction)?).await?;
        }
        Ok(true)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        group: &Group,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: GroupConfig = decode_config(request.desired)?;
        for direction in [Direction::Ingress, Direction::Egress] {
            if request.changed.iter().any(|c| c == direction.attribute()) {
                reconcile_rules(aws, group, direction, desired.rules(direction)?).await?;
            }
        }
        if request.changed.iter().any(|c| c == "tags") {
            let tags = desired_tags(aws, request.identity, &desired.tags);
            reconcile_tags(aws, id, group.tags(), &tags).await?;
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
        blockers::clear(aws, Held::SecurityGroup(id), request).await
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.ec2
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("ec2:DeleteSecurityGroup", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https_from(cidrs: &[&str]) -> RuleSpec {
        RuleSpec {
            protocol: "tcp".to_owned(),
            from_port: 443,
            to_port: 443,
            cidr_blocks: cidrs.iter().map(|c| (*c).to_owned()).collect(),
            security_groups: Vec::new(),
            self_source: false,
            description: Some("https".to_owned()),
        }
    }

    #[test]
    fn merged_aws_permissions_match_the_stack_entries() {
        // AWS merges two entries with the same protocol and ports into one permission.
        let merged = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443)
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip("10.0.0.0/16")
                    .description("https")
                    .build(),
            )
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip("10.1.0.0/16")
                    .description("https")
                    .build(),
            )
            .build();
        let current = current_rules(&[merged]);
        let desired = rule_set(
            &[https_from(&["10.1.0.0/16"]), https_from(&["10.0.0.0/16"])],
            "sg-1",
        );
        assert_eq!(plan_rules(&current, &desired), RulePlan::default());
    }

    #[test]
    fn only_the_difference_is_authorized_or_revoked() {
        let current = rule_set(&[https_from(&["10.0.0.0/16", "10.9.0.0/16"])], "sg-1");
        let desired = rule_set(&[https_from(&["10.0.0.0/16", "10.1.0.0/16"])], "sg-1");
        let plan = plan_rules(&current, &desired);
        let cidr = |p: &IpPermission| p.ip_ranges()[0].cidr_ip().map(str::to_owned);
        assert_eq!(
            plan.authorize.iter().map(cidr).collect::<Vec<_>>(),
            vec![Some("10.1.0.0/16".to_owned())]
        );
        assert_eq!(
            plan.revoke.iter().map(cidr).collect::<Vec<_>>(),
            vec![Some("10.9.0.0/16".to_owned())]
        );
        assert!(plan.describe.is_empty());
    }

    #[test]
    fn a_new_description_updates_instead_of_replacing() {
        let mut renamed = https_from(&["10.0.0.0/16"]);
        renamed.description = Some("TLS from the VPC".to_owned());
        let plan = plan_rules(
            &rule_set(&[https_from(&["10.0.0.0/16"])], "sg-1"),
            &rule_set(&[renamed], "sg-1"),
        );
        assert!(plan.authorize.is_empty() && plan.revoke.is_empty());
        assert_eq!(plan.describe.len(), 1);
    }

    #[test]
    fn all_protocols_ignore_ports_and_accept_either_spelling() {
        let all = RuleSpec {
            protocol: "all".to_owned(),
            from_port: 0,
            to_port: 65535,
            cidr_blocks: vec!["0.0.0.0/0".to_owned()],
            security_groups: Vec::new(),
            self_source: false,
            description: None,
        };
        let aws_default = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        assert_eq!(
            plan_rules(&current_rules(&[aws_default]), &rule_set(&[all], "sg-1")),
            RulePlan::default()
        );
    }

    #[test]
    fn read_keeps_stack_entries_and_reports_rules_added_outside() {
        let own = RuleSpec {
            protocol: "-1".to_owned(),
            from_port: 0,
            to_port: 0,
            cidr_blocks: Vec::new(),
            security_groups: Vec::new(),
            self_source: true,
            description: None,
        };
        let recorded = Value::List(vec![
            serde_json::to_value(&own)
                .map(Value::from_json)
                .expect("encodes"),
        ]);
        let mut current = rule_set(std::slice::from_ref(&own), "sg-1");
        current.extend(rule_set(&[https_from(&["203.0.113.0/24"])], "sg-1"));
        let read = rules_value(&current, Some(&recorded), "sg-1");
        assert_eq!(read.len(), 2, "{read:?}");
        assert_eq!(read[0], recorded.as_list().expect("list")[0]);
        let added: RuleSpec =
            serde_json::from_value(read[1].expose().expect("plain")).expect("rule");
        assert_eq!(added, https_from(&["203.0.113.0/24"]));
    }

    #[test]
    fn an_entry_without_a_source_is_refused() {
        let config = Attrs::new().with("vpc_id", "vpc-1").with(
            "ingress",
            Value::List(vec![Value::Map(BTreeMap::from([(
                "protocol".to_owned(),
                Value::from("tcp"),
            )]))]),
        );
        let config: GroupConfig = decode_config(&config).expect("decodes");
        assert!(config.rules(Direction::Ingress).is_err());
        assert!(config.rules(Direction::Egress).is_ok());
    }
}
