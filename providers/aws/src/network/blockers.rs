//! Teardown: what still holds a subnet, security group, VPC or internet gateway that cairn
//! is about to delete, and what cairn does about it.
//!
//! Kubernetes makes AWS objects cairn never created: the VPC CNI's network interfaces,
//! the load balancers of `LoadBalancer` Services (ALBs and NLBs of the AWS Load Balancer
//! Controller, classic ELBs of the cloud provider) with their own interfaces and security
//! groups, the EKS control plane's interfaces. While one is left, DeleteSubnet, DeleteSecurityGroup,
//! DeleteVpc and DetachInternetGateway (held by public addresses: interfaces with one,
//! internet-facing load balancers) answer `DependencyViolation` and say little about
//! what depends. So before those calls [`clear`] lists what holds the object, and
//! - deletes what provably belongs to the stack's cluster: a network interface attached
//!   to nothing (status `available`, not managed by an AWS service) tagged for it
//!   (`cluster.k8s.amazonaws.com/name`, as the VPC CNI tags them, or
//!   `kubernetes.io/cluster/<name> = owned`), and a load balancer tagged for it
//!   (`elbv2.k8s.aws/cluster`, as the controller tags them, `kubernetes.io/cluster/<name>
//!   = owned` as the cloud provider does, or the legacy `KubernetesCluster`), and a
//!   security group tagged for it the same way (a load balancer's, which holds the VPC,
//!   or names the stack's group in its rules). A cluster is
//!   the stack's when a subnet or VPC cairn made for this stack and environment, or the
//!   object being deleted, carries `kubernetes.io/cluster/<name>` (tag the VPC too, or
//!   once the subnets are gone nothing proves it);
//! - waits for everything else, naming it in progress messages: an interface in use goes
//!   away once its owner (a load balancer, an instance, the EKS control plane) is deleted;
//! - gives up before the delete's timeout (leaving the rest for the delete call itself),
//!   naming each object that still blocks (kind, id, status, description, requester,
//!   owner, attachment, tags) so the user can remove it. The delete fails, so the object
//!   stays in state and a re-run finishes once the blocker is gone.
//!
//! Nothing else is ever deleted: not an interface in use, not one whose cluster tag is
//! missing (an `aws-K8S-*` description alone does not say which cluster), not a load
//! balancer of another cluster. An interface of a NAT gateway that is deleted is no
//! blocker: AWS removes it with the gateway (the emulator keeps it listed).
//!
//! EBS volumes of persistent volume claims never block networking; what is left of them
//! once the cluster goes is reported by [`report_volumes`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_ec2::types::{NetworkInterface, NetworkInterfaceStatus};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_provider_core::{DeleteRequest, Progress, ProviderError, ResourceIdentity, Value};

use super::{filter, tag_map};
use crate::clients::AwsClients;
use crate::error::{api_error, error_code};
use crate::wait::{Backoff, Check, poll_until};

/// The object about to be deleted.
#[derive(Clone, Copy, Debug)]
pub(super) enum Held<'a> {
    Subnet(&'a str),
    SecurityGroup(&'a str),
    Vpc(&'a str),
    /// The public addresses of a VPC, which hold its internet gateway's detach.
    PublicAddresses(&'a str),
}

impl Held<'_> {
    /// What it is called in messages, e.g. `subnet subnet-1`.
    fn subject(&self) -> String {
        match self {
            Held::Subnet(id) => format!("subnet {id}"),
            Held::SecurityGroup(id) => format!("security group {id}"),
            Held::Vpc(id) => format!("VPC {id}"),
            Held::PublicAddresses(vpc) => format!("the internet gateway of {vpc}"),
        }
    }

    /// Where its blockers are, for `waiting for 2 network interfaces in ...`.
    fn place(&self) -> String {
        match self {
            Held::Subnet(id) | Held::SecurityGroup(id) | Held::Vpc(id) => (*id).to_owned(),
            Held::PublicAddresses(vpc) => format!("{vpc} with public addresses"),
        }
    }

    /// The DescribeNetworkInterfaces filter for the interfaces that may hold it.
    fn interface_filter(&self) -> aws_sdk_ec2::types::Filter {
        match self {
            Held::Subnet(id) => filter("subnet-id", *id),
            Held::SecurityGroup(id) => filter("group-id", *id),
            Held::Vpc(id) | Held::PublicAddresses(id) => filter("vpc-id", *id),
        }
    }

    /// Whether an interface the filter found holds it.
    fn held_by(&self, eni: &NetworkInterface) -> bool {
        match self {
            Held::PublicAddresses(_) => eni.association().and_then(|a| a.public_ip()).is_some(),
            _ => true,
        }
    }

    /// Whether a load balancer in `vpc`, in `subnets`, with `groups` and `scheme` holds it.
    fn held_by_load_balancer(
        &self,
        vpc: Option<&str>,
        subnets: &[&str],
        groups: &[String],
        scheme: Option<&str>,
    ) -> bool {
        match self {
            Held::Subnet(id) => subnets.contains(id),
            Held::SecurityGroup(id) => groups.iter().any(|g| g == id),
            Held::Vpc(id) => vpc == Some(*id),
            // AWS's default scheme is internet-facing.
            Held::PublicAddresses(id) => vpc == Some(*id) && scheme != Some("internal"),
        }
    }
}

/// How a blocker is removed, when it is the stack's cluster's.
#[derive(Debug)]
enum Target {
    Interface(String),
    LoadBalancer(String),
    ClassicLoadBalancer(String),
    SecurityGroup(String),
}

/// One object that holds the one being deleted.
#[derive(Debug)]
struct Blocker {
    /// `network interface`, `load balancer` or `classic load balancer`.
    kind: &'static str,
    id: String,
    /// What a progress line shows after the id.
    brief: String,
    /// Everything a user needs to find and judge it, for the final error.
    detail: String,
    /// The stack's cluster it provably belongs to: cairn deletes it.
    cluster: Option<String>,
    target: Target,
}

/// Cluster tags: the prefix of `kubernetes.io/cluster/<name>`, the VPC CNI's and the
/// load balancer controller's tags, and the legacy one.
const CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster/";
const CNI_CLUSTER_TAG: &str = "cluster.k8s.amazonaws.com/name";
const LB_CONTROLLER_CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";
const LEGACY_CLUSTER_TAG: &str = "KubernetesCluster";

/// Interfaces detach and load balancers go within minutes; polls stay cheap.
const BLOCKER_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(2),
    max: Duration::from_secs(20),
};

/// The share of the delete's timeout spent waiting for blockers: the rest is for the
/// delete call itself, and keeps the engine's own cut-off at the timeout from replacing
/// the error that names the blockers.
const WAIT_SHARE_PERCENT: u32 = 90;

/// Refusals of a listing the caller may not be allowed: the check is then skipped for
/// that kind (the delete still retries `DependencyViolation`).
const NOT_ALLOWED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
];

/// Makes sure nothing holds `held` before its delete call (see the module docs).
pub(super) async fn clear(
    aws: &AwsClients,
    held: Held<'_>,
    request: &DeleteRequest<'_>,
) -> Result<(), ProviderError> {
    let timeout = request.timeout * WAIT_SHARE_PERCENT / 100;
    let last: Mutex<Vec<Blocker>> = Mutex::new(Vec::new());
    let last = &last;
    let own_clusters = clusters_in(&recorded_tags(request.state.get("tags")));
    let own_clusters = &own_clusters;
    let waited = poll_until(
        &format!("{} to be free", held.subject()),
        timeout,
        BLOCKER_BACKOFF,
        &request.progress,
        || async move {
            let mut clusters = stack_clusters(aws, request.identity).await?;
            clusters.extend(own_clusters.iter().cloned());
            let blockers = blockers(aws, held, &clusters).await?;
            if blockers.is_empty() {
                return Ok(Check::Done(()));
            }
            for blocker in blockers.iter().filter(|b| b.cluster.is_some()) {
                remove(aws, &blocker.target).await?;
            }
            let status = summary(held, &blockers);
            *last.lock().unwrap_or_else(PoisonError::into_inner) = blockers;
            Ok(Check::Waiting(status))
        },
    )
    .await;
    match waited {
        Err(ProviderError::Timeout { elapsed, .. }) => {
            let blockers = last.lock().unwrap_or_else(PoisonError::into_inner);
            Err(blocked(held, elapsed, &blockers))
        }
        other => other,
    }
}

/// The user's tags recorded in state.
fn recorded_tags(tags: Option<&Value>) -> BTreeMap<String, String> {
    tags.and_then(Value::as_map)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The clusters `tags` name with `kubernetes.io/cluster/<name>`.
fn clusters_in(tags: &BTreeMap<String, String>) -> BTreeSet<String> {
    tags.keys()
        .filter_map(|k| k.strip_prefix(CLUSTER_TAG_PREFIX))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The clusters named by the subnets and VPCs cairn made for this stack and environment.
/// The VPC outlives its subnets: tagged for the cluster too, it keeps the cluster provable
/// for the deletes that come after theirs (a load balancer's security group left in it).
async fn stack_clusters(
    aws: &AwsClients,
    identity: &ResourceIdentity,
) -> Result<BTreeSet<String>, ProviderError> {
    let stack = || {
        vec![
            filter("tag:cairn:stack", identity.stack.as_str()),
            filter("tag:cairn:env", identity.env.as_str()),
        ]
    };
    let subnets = aws
        .ec2
        .describe_subnets()
        .set_filters(Some(stack()))
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeSubnets", e))?;
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .set_filters(Some(stack()))
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeVpcs", e))?;
    Ok(subnets
        .subnets()
        .iter()
        .flat_map(|s| clusters_in(&tag_map(s.tags())))
        .chain(
            vpcs.vpcs()
                .iter()
                .flat_map(|v| clusters_in(&tag_map(v.tags()))),
        )
        .collect())
}

/// Everything that holds `held` now.
async fn blockers(
    aws: &AwsClients,
    held: Held<'_>,
    clusters: &BTreeSet<String>,
) -> Result<Vec<Blocker>, ProviderError> {
    let mut found = interfaces(aws, held, clusters).await?;
    found.extend(load_balancers(aws, held, clusters).await?);
    found.extend(classic_load_balancers(aws, held, clusters).await?);
    found.extend(security_groups(aws, held, clusters).await?);
    Ok(found)
}

/// Security groups that hold `held`: in a VPC, every group but its default one (cairn's
/// own are deleted before their VPC; what is left was made outside, e.g. a load
/// balancer's); for a group, the other groups whose rules name it.
async fn security_groups(
    aws: &AwsClients,
    held: Held<'_>,
    clusters: &BTreeSet<String>,
) -> Result<Vec<Blocker>, ProviderError> {
    let filters = match held {
        Held::Vpc(id) => vec![filter("vpc-id", id)],
        Held::SecurityGroup(id) => vec![
            filter("ip-permission.group-id", id),
            filter("egress.ip-permission.group-id", id),
        ],
        Held::Subnet(_) | Held::PublicAddresses(_) => return Ok(Vec::new()),
    };
    let mut groups = BTreeMap::new();
    for group_filter in filters {
        let found = aws
            .ec2
            .describe_security_groups()
            .filters(group_filter)
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeSecurityGroups", e))?;
        for group in found.security_groups() {
            let Some(id) = group.group_id() else {
                continue;
            };
            let holding = match held {
                Held::Vpc(_) => group.group_name() != Some("default"),
                Held::SecurityGroup(own) => id != own,
                Held::Subnet(_) | Held::PublicAddresses(_) => false,
            };
            if holding {
                groups.insert(id.to_owned(), group.clone());
            }
        }
    }
    Ok(groups
        .into_iter()
        .map(|(id, group)| {
            let tags = tag_map(group.tags());
            let cluster = tags
                .get(LB_CONTROLLER_CLUSTER_TAG)
                .filter(|c| clusters.contains(*c))
                .cloned()
                .or_else(|| owned_by(&tags, clusters));
            let name = group.group_name().unwrap_or_default();
            let description = group.description().unwrap_or_default();
            let why = match held {
                Held::SecurityGroup(held_id) => format!(", its rules name {held_id}"),
                _ => String::new(),
            };
            Blocker {
                kind: "security group",
                brief: format!("{name}{why}"),
                detail: format!(
                    "security group {id}: name {name}, description {description:?}, owner {}, \
                     VPC {}{why}, tags {}",
                    group.owner_id().unwrap_or("unknown"),
                    group.vpc_id().unwrap_or("unknown"),
                    show_tags(&tags),
                ),
                cluster,
                target: Target::SecurityGroup(id.clone()),
                id,
            }
        })
        .collect())
}

async fn interfaces(
    aws: &AwsClients,
    held: Held<'_>,
    clusters: &BTreeSet<String>,
) -> Result<Vec<Blocker>, ProviderError> {
    let mut pages = aws
        .ec2
        .describe_network_interfaces()
        .filters(held.interface_filter())
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| api_error("ec2:DescribeNetworkInterfaces", e))?;
        all.extend(page.network_interfaces().iter().cloned());
    }
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let released = released_nat_interfaces(aws).await?;
    Ok(all
        .into_iter()
        .filter(|eni| {
            held.held_by(eni)
                && eni
                    .network_interface_id()
                    .is_some_and(|id| !released.contains(id))
        })
        .map(|eni| interface_blocker(&eni, clusters))
        .collect())
}

/// The interfaces of NAT gateways that are deleted (or failed): AWS removes them with
/// the gateway.
async fn released_nat_interfaces(aws: &AwsClients) -> Result<BTreeSet<String>, ProviderError> {
    let gone = aws
        .ec2
        .describe_nat_gateways()
        .filter(
            aws_sdk_ec2::types::Filter::builder()
                .name("state")
                .values("deleted")
                .values("failed")
                .build(),
        )
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeNatGateways", e))?;
    Ok(gone
        .nat_gateways()
        .iter()
        .flat_map(|n| n.nat_gateway_addresses())
        .filter_map(|a| a.network_interface_id().map(str::to_owned))
        .collect())
}

fn interface_blocker(eni: &NetworkInterface, clusters: &BTreeSet<String>) -> Blocker {
    let id = eni.network_interface_id().unwrap_or_default().to_owned();
    let tags = tag_map(eni.tag_set());
    let status = eni
        .status()
        .map_or("unknown", NetworkInterfaceStatus::as_str);
    let description = eni.description().unwrap_or_default();
    let attached_to = eni.attachment().and_then(|a| {
        a.instance_id()
            .or(a.instance_owner_id())
            .map(|owner| format!("attached to {owner}"))
    });
    let requester_managed = eni.requester_managed().unwrap_or(false);
    let cluster = (eni.status() == Some(&NetworkInterfaceStatus::Available)
        && !requester_managed
        && eni.attachment().is_none())
    .then(|| {
        tags.get(CNI_CLUSTER_TAG)
            .filter(|c| clusters.contains(*c))
            .cloned()
            .or_else(|| owned_by(&tags, clusters))
    })
    .flatten();
    let mut brief = vec![status.to_owned()];
    brief.extend(attached_to.clone());
    if !description.is_empty() {
        brief.push(format!("{description:?}"));
    }
    let detail = format!(
        "network interface {id}: status {status}, type {}, description {description:?}, \
         requester {}{}, owner {}, {}, subnet {}, security groups [{}], tags {}",
        eni.interface_type().map_or("unknown", |t| t.as_str()),
        eni.requester_id().unwrap_or("unknown"),
        if requester_managed {
            " (managed by that AWS service)"
        } else {
            ""
        },
        eni.owner_id().unwrap_or("unknown"),
        attached_to.unwrap_or_else(|| "attached to nothing".to_owned()),
        eni.subnet_id().unwrap_or("unknown"),
        eni.groups()
            .iter()
            .filter_map(|g| g.group_id())
            .collect::<Vec<_>>()
            .join(", "),
        show_tags(&tags),
    );
    Blocker {
        kind: "network interface",
        target: Target::Interface(id.clone()),
        id,
        brief: brief.join(", "),
        detail,
        cluster,
    }
}

/// The stack's cluster `tags` say owns the object: `kubernetes.io/cluster/<name> = owned`.
fn owned_by(tags: &BTreeMap<String, String>, clusters: &BTreeSet<String>) -> Option<String> {
    clusters
        .iter()
        .find(|c| {
            tags.get(&format!("{CLUSTER_TAG_PREFIX}{c}"))
                .is_some_and(|v| v == "owned")
        })
        .cloned()
}

/// The listing's answer, or `None` (with a log line) when the caller may not list.
fn allowed<T, E>(operation: &str, answer: Result<T, E>) -> Result<Option<T>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(e) if error_code(&e).is_some_and(|c| NOT_ALLOWED.contains(&c)) => {
            tracing::warn!(
                operation,
                "not allowed: load balancers are not checked before the delete"
            );
            Ok(None)
        }
        Err(e) => Err(api_error(operation, e)),
    }
}

/// ALBs and NLBs (Elastic Load Balancing v2) that hold `held`.
async fn load_balancers(
    aws: &AwsClients,
    held: Held<'_>,
    clusters: &BTreeSet<String>,
) -> Result<Vec<Blocker>, ProviderError> {
    const OPERATION: &str = "elasticloadbalancing:DescribeLoadBalancers";
    let mut pages = aws.elbv2.describe_load_balancers().into_paginator().send();
    let mut holding = Vec::new();
    while let Some(page) = pages.next().await {
        let Some(page) = allowed(OPERATION, page)? else {
            return Ok(Vec::new());
        };
        holding.extend(
            page.load_balancers()
                .iter()
                .filter(|lb| {
                    let subnets: Vec<&str> = lb
                        .availability_zones()
                        .iter()
                        .filter_map(|z| z.subnet_id())
                        .collect();
                    held.held_by_load_balancer(
                        lb.vpc_id(),
                        &subnets,
                        lb.security_groups(),
                        lb.scheme().map(|s| s.as_str()),
                    )
                })
                .cloned(),
        );
    }
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let arns: Vec<String> = holding
        .iter()
        .filter_map(|lb| lb.load_balancer_arn().map(str::to_owned))
        .collect();
    for chunk in arns.chunks(20) {
        let described = aws
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await;
        let Some(described) = allowed("elasticloadbalancing:DescribeTags", described)? else {
            break;
        };
        for description in described.tag_descriptions() {
            let map = description
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect();
            if let Some(arn) = description.resource_arn() {
                tags.insert(arn.to_owned(), map);
            }
        }
    }
    Ok(holding
        .iter()
        .map(|lb| {
            let arn = lb.load_balancer_arn().unwrap_or_default();
            let name = lb.load_balancer_name().unwrap_or(arn);
            let empty = BTreeMap::new();
            let tags = tags.get(arn).unwrap_or(&empty);
            let cluster = tags
                .get(LB_CONTROLLER_CLUSTER_TAG)
                .filter(|c| clusters.contains(*c))
                .cloned()
                .or_else(|| owned_by(tags, clusters));
            let kind = lb.r#type().map_or("unknown", |t| t.as_str());
            let scheme = lb.scheme().map_or("unknown", |s| s.as_str());
            let state = lb
                .state()
                .and_then(|s| s.code())
                .map_or("unknown", |c| c.as_str());
            Blocker {
                kind: "load balancer",
                id: name.to_owned(),
                brief: format!("{kind}, {scheme}, {state}"),
                detail: format!(
                    "load balancer {name}: type {kind}, scheme {scheme}, state {state}, \
                     ARN {arn}, VPC {}, subnets [{}], security groups [{}], tags {}",
                    lb.vpc_id().unwrap_or("unknown"),
                    lb.availability_zones()
                        .iter()
                        .filter_map(|z| z.subnet_id())
                        .collect::<Vec<_>>()
                        .join(", "),
                    lb.security_groups().join(", "),
                    show_tags(tags),
                ),
                cluster,
                target: Target::LoadBalancer(arn.to_owned()),
            }
        })
        .collect())
}

/// Classic load balancers that hold `held`.
async fn classic_load_balancers(
    aws: &AwsClients,
    held: Held<'_>,
    clusters: &BTreeSet<String>,
) -> Result<Vec<Blocker>, ProviderError> {
    const OPERATION: &str = "elasticloadbalancing:DescribeLoadBalancers (classic)";
    let mut pages = aws.elb.describe_load_balancers().into_paginator().send();
    let mut holding = Vec::new();
    while let Some(page) = pages.next().await {
        let Some(page) = allowed(OPERATION, page)? else {
            return Ok(Vec::new());
        };
        holding.extend(
            page.load_balancer_descriptions()
                .iter()
                .filter(|lb| {
                    let subnets: Vec<&str> = lb.subnets().iter().map(String::as_str).collect();
                    held.held_by_load_balancer(
                        lb.vpc_id(),
                        &subnets,
                        lb.security_groups(),
                        lb.scheme(),
                    )
                })
                .cloned(),
        );
    }
    let names: Vec<String> = holding
        .iter()
        .filter_map(|lb| lb.load_balancer_name().map(str::to_owned))
        .collect();
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for chunk in names.chunks(20) {
        let described = aws
            .elb
            .describe_tags()
            .set_load_balancer_names(Some(chunk.to_vec()))
            .send()
            .await;
        let Some(described) = allowed("elasticloadbalancing:DescribeTags (classic)", described)?
        else {
            break;
        };
        for description in described.tag_descriptions() {
            let map = description
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect();
            if let Some(name) = description.load_balancer_name() {
                tags.insert(name.to_owned(), map);
            }
        }
    }
    Ok(holding
        .iter()
        .map(|lb| {
            let name = lb.load_balancer_name().unwrap_or_default();
            let empty = BTreeMap::new();
            let tags = tags.get(name).unwrap_or(&empty);
            let cluster = tags
                .get(LEGACY_CLUSTER_TAG)
                .filter(|c| clusters.contains(*c))
                .cloned()
                .or_else(|| owned_by(tags, clusters));
            let scheme = lb.scheme().unwrap_or("unknown");
            Blocker {
                kind: "classic load balancer",
                id: name.to_owned(),
                brief: scheme.to_owned(),
                detail: format!(
                    "classic load balancer {name}: scheme {scheme}, DNS name {}, VPC {}, \
                     subnets [{}], security groups [{}], tags {}",
                    lb.dns_name().unwrap_or("unknown"),
                    lb.vpc_id().unwrap_or("unknown"),
                    lb.subnets().join(", "),
                    lb.security_groups().join(", "),
                    show_tags(tags),
                ),
                cluster,
                target: Target::ClassicLoadBalancer(name.to_owned()),
            }
        })
        .collect())
}

/// Deletes a blocker of the stack's cluster. Already gone is done; an interface that got
/// attached again is waited for like any other.
async fn remove(aws: &AwsClients, target: &Target) -> Result<(), ProviderError> {
    match target {
        Target::Interface(id) => {
            let answer = aws
                .ec2
                .delete_network_interface()
                .network_interface_id(id)
                .send()
                .await;
            match answer {
                Err(e)
                    if !error_code(&e).is_some_and(|c| {
                        c == "InvalidNetworkInterfaceID.NotFound"
                            || c == "InvalidNetworkInterface.InUse"
                    }) =>
                {
                    Err(api_error("ec2:DeleteNetworkInterface", e))
                }
                _ => Ok(()),
            }
        }
        Target::LoadBalancer(arn) => {
            let answer = aws
                .elbv2
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await;
            match answer {
                Err(e) if error_code(&e) != Some("LoadBalancerNotFound") => {
                    Err(api_error("elasticloadbalancing:DeleteLoadBalancer", e))
                }
                _ => Ok(()),
            }
        }
        Target::SecurityGroup(id) => {
            let answer = aws.ec2.delete_security_group().group_id(id).send().await;
            match answer {
                Err(e)
                    if !error_code(&e).is_some_and(|c| {
                        c == "InvalidGroup.NotFound"
                            || c == "InvalidGroup.InUse"
                            || c == "DependencyViolation"
                    }) =>
                {
                    Err(api_error("ec2:DeleteSecurityGroup", e))
                }
                _ => Ok(()),
            }
        }
        Target::ClassicLoadBalancer(name) => {
            let answer = aws
                .elb
                .delete_load_balancer()
                .load_balancer_name(name)
                .send()
                .await;
            match answer {
                Err(e) if error_code(&e) != Some("LoadBalancerNotFound") => Err(api_error(
                    "elasticloadbalancing:DeleteLoadBalancer (classic)",
                    e,
                )),
                _ => Ok(()),
            }
        }
    }
}

/// The progress line: what is deleted, what is waited for, by kind.
fn summary(held: Held<'_>, blockers: &[Blocker]) -> String {
    let mut parts = Vec::new();
    let deleting: Vec<&Blocker> = blockers.iter().filter(|b| b.cluster.is_some()).collect();
    if !deleting.is_empty() {
        parts.push(format!(
            "deleting {} of the stack's cluster: {}",
            counted(deleting.len(), "object"),
            deleting
                .iter()
                .map(|b| format!("{} {}", b.kind, b.id))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut by_kind: BTreeMap<&str, Vec<&Blocker>> = BTreeMap::new();
    for blocker in blockers.iter().filter(|b| b.cluster.is_none()) {
        by_kind.entry(blocker.kind).or_default().push(blocker);
    }
    for (kind, group) in by_kind {
        parts.push(format!(
            "waiting for {} in {}: {}",
            counted(group.len(), kind),
            held.place(),
            group
                .iter()
                .map(|b| format!("{} ({})", b.id, b.brief))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    parts.join("; ")
}

/// `1 network interface`, `3 network interfaces`.
fn counted(n: usize, kind: &str) -> String {
    if n == 1 {
        format!("1 {kind}")
    } else {
        format!("{n} {kind}s")
    }
}

/// The error of a delete whose blockers did not go in time.
fn blocked(held: Held<'_>, elapsed: Duration, blockers: &[Blocker]) -> ProviderError {
    let list = blockers
        .iter()
        .map(|b| match &b.cluster {
            Some(cluster) => format!(
                "{} (cluster {cluster}'s; cairn asked AWS to delete it)",
                b.detail
            ),
            None => b.detail.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    ProviderError::Other(format!(
        "{} is still in use after {}s of waiting, by {}: {list}. cairn deletes only what \
         provably belongs to the stack's cluster and waits for what goes away by itself; \
         remove these objects, then run the destroy again (until then it stays in state)",
        held.subject(),
        elapsed.as_secs(),
        counted(blockers.len(), "object"),
    ))
}

fn show_tags(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return "none".to_owned();
    }
    let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Reports the EBS volumes still tagged for `cluster` (by the EBS CSI driver or the
/// in-tree provisioner: `kubernetes.io/cluster/<name>`, `KubernetesCluster`). Called as
/// the cluster is deleted, after its node groups: nothing in the cluster can delete them
/// any more, they block nothing, and they cost money until someone deletes them. cairn
/// does not delete them: a volume outlives its claim on purpose (`Retain`) as often as
/// by accident. Best effort: a failed listing is logged, never fails the delete.
pub(crate) async fn report_volumes(aws: &AwsClients, cluster: &str, progress: &Progress) {
    match cluster_volumes(aws, cluster).await {
        Ok(volumes) if volumes.is_empty() => {}
        Ok(volumes) => {
            let message = format!(
                "cluster {cluster} leaves {} behind (persistent volumes; they cost money \
                 until deleted): {}",
                counted(volumes.len(), "EBS volume"),
                volumes.join(", ")
            );
            tracing::warn!(cluster, "{message}");
            progress.warn(message);
        }
        Err(e) => tracing::warn!(cluster, error = %e, "could not list the cluster's volumes"),
    }
}

/// `vol-… (20 GiB, available, claim airflow/logs)` for each volume tagged for `cluster`.
async fn cluster_volumes(aws: &AwsClients, cluster: &str) -> Result<Vec<String>, ProviderError> {
    let by_key = filter("tag-key", format!("{CLUSTER_TAG_PREFIX}{cluster}"));
    let legacy = filter(&format!("tag:{LEGACY_CLUSTER_TAG}"), cluster);
    let mut seen = BTreeMap::new();
    for tag_filter in [by_key, legacy] {
        let found = aws
            .ec2
            .describe_volumes()
            .filters(tag_filter)
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeVolumes", e))?;
        for volume in found.volumes() {
            let Some(id) = volume.volume_id() else {
                continue;
            };
            let tags = tag_map(volume.tags());
            let claim = match (
                tags.get("kubernetes.io/created-for/pvc/namespace"),
                tags.get("kubernetes.io/created-for/pvc/name"),
            ) {
                (Some(ns), Some(name)) => format!(", claim {ns}/{name}"),
                _ => String::new(),
            };
            seen.insert(
                id.to_owned(),
                format!(
                    "{id} ({} GiB, {}{claim})",
                    volume.size().unwrap_or_default(),
                    volume.state().map_or("unknown", |s| s.as_str()),
                ),
            );
        }
    }
    Ok(seen.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::builders::NetworkInterfaceBuilder;
    use aws_sdk_ec2::types::{NetworkInterfaceAttachment, Tag};

    fn eni(status: NetworkInterfaceStatus, tags: &[(&str, &str)]) -> NetworkInterfaceBuilder {
        NetworkInterface::builder()
            .network_interface_id("eni-1")
            .status(status)
            .description("aws-K8S-i-0123")
            .set_tag_set(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
    }

    fn clusters(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn only_a_detached_interface_tagged_for_the_stacks_cluster_is_deleted() {
        let ours = clusters(&["airflow-dev"]);
        let tagged = [(CNI_CLUSTER_TAG, "airflow-dev")];
        let free = interface_blocker(
            &eni(NetworkInterfaceStatus::Available, &tagged).build(),
            &ours,
        );
        assert_eq!(free.cluster.as_deref(), Some("airflow-dev"));

        let other = [(CNI_CLUSTER_TAG, "someone-else")];
        let foreign = interface_blocker(
            &eni(NetworkInterfaceStatus::Available, &other).build(),
            &ours,
        );
        assert_eq!(foreign.cluster, None, "another cluster's");

        let untagged =
            interface_blocker(&eni(NetworkInterfaceStatus::Available, &[]).build(), &ours);
        assert_eq!(
            untagged.cluster, None,
            "an aws-K8S description alone proves nothing"
        );

        let in_use = interface_blocker(&eni(NetworkInterfaceStatus::InUse, &tagged).build(), &ours);
        assert_eq!(in_use.cluster, None, "in use: waited for, never deleted");

        let attached = eni(NetworkInterfaceStatus::Available, &tagged)
            .attachment(
                NetworkInterfaceAttachment::builder()
                    .instance_id("i-1")
                    .build(),
            )
            .build();
        assert_eq!(interface_blocker(&attached, &ours).cluster, None);

        let owned = [("kubernetes.io/cluster/airflow-dev", "owned")];
        let by_owned = interface_blocker(
            &eni(NetworkInterfaceStatus::Available, &owned).build(),
            &ours,
        );
        assert_eq!(by_owned.cluster.as_deref(), Some("airflow-dev"));
        let shared = [("kubernetes.io/cluster/airflow-dev", "shared")];
        let by_shared = interface_blocker(
            &eni(NetworkInterfaceStatus::Available, &shared).build(),
            &ours,
        );
        assert_eq!(by_shared.cluster, None, "shared is not ownership");
    }

    #[test]
    fn a_blocker_is_named_with_what_the_user_needs_to_remove_it() {
        let blocker = interface_blocker(
            &eni(NetworkInterfaceStatus::InUse, &[("team", "data")])
                .requester_id("amazon-elb")
                .requester_managed(true)
                .owner_id("123456789012")
                .attachment(
                    NetworkInterfaceAttachment::builder()
                        .instance_owner_id("amazon-elb")
                        .build(),
                )
                .build(),
            &clusters(&[]),
        );
        for part in [
            "network interface eni-1",
            "status in-use",
            "\"aws-K8S-i-0123\"",
            "requester amazon-elb (managed by that AWS service)",
            "owner 123456789012",
            "attached to amazon-elb",
            "tags {team=data}",
        ] {
            assert!(
                blocker.detail.contains(part),
                "{part} in {}",
                blocker.detail
            );
        }
        let line = summary(Held::Subnet("subnet-1"), &[blocker]);
        assert_eq!(
            line,
            "waiting for 1 network interface in subnet-1: \
             eni-1 (in-use, attached to amazon-elb, \"aws-K8S-i-0123\")"
        );
    }

    #[test]
    fn only_public_addresses_hold_the_internet_gateway() {
        use aws_sdk_ec2::types::NetworkInterfaceAssociation;
        let public = eni(NetworkInterfaceStatus::InUse, &[])
            .association(
                NetworkInterfaceAssociation::builder()
                    .public_ip("54.1.2.3")
                    .build(),
            )
            .build();
        let private = eni(NetworkInterfaceStatus::InUse, &[]).build();
        let gateway = Held::PublicAddresses("vpc-1");
        assert!(gateway.held_by(&public));
        assert!(!gateway.held_by(&private));
        assert!(Held::Vpc("vpc-1").held_by(&private));
        let none: [String; 0] = [];
        assert!(gateway.held_by_load_balancer(Some("vpc-1"), &[], &none, None));
        assert!(!gateway.held_by_load_balancer(Some("vpc-1"), &[], &none, Some("internal")));
        assert!(!gateway.held_by_load_balancer(Some("vpc-2"), &[], &none, None));
    }

    #[test]
    fn clusters_come_from_cluster_tags_only() {
        let tags = BTreeMap::from([
            (
                "kubernetes.io/cluster/airflow-dev".to_owned(),
                "shared".to_owned(),
            ),
            ("kubernetes.io/role/elb".to_owned(), "1".to_owned()),
            ("kubernetes.io/cluster/".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(clusters_in(&tags), clusters(&["airflow-dev"]));
    }
}
