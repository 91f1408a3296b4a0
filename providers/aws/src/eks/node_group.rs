//! `aws_eks_node_group`: an EKS managed node group. Owns CreateNodegroup, the in-place
//! changes EKS supports (scaling, labels and taints sent as additions and removals,
//! update strategy, AMI version, tags), each followed to its end by its update id, and
//! the waits for ACTIVE and for deletion.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eks::types::{
    AmiTypes, CapacityTypes, Nodegroup, NodegroupScalingConfig, NodegroupStatus,
    NodegroupUpdateConfig, Taint as EksTaint, TaintEffect, Update, UpdateLabelsPayload,
    UpdateTaintsPayload,
};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, ProviderError,
    ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::{Deserialize, Serialize};

use super::{IAM_PROPAGATION, role_not_ready, sync_tags, wait_update};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, client_token, create_once, once};
use crate::error::{api_error, error_code, found};
use crate::resource::{AwsType, Readiness, Typed};
use crate::resource::{keep_order, map_attribute, strings};
use crate::tags::{TagChanges, created_by, sorted};
use crate::tags::{object_tags, user_visible};
use crate::wait::{Backoff, deadline, remaining};

/// Node groups take 3-10 minutes to create, update or delete on AWS.
const NODE_GROUP_POLL: Backoff = Backoff {
    initial: Duration::from_secs(10),
    max: Duration::from_secs(30),
};

/// How long a create, update or delete may take; also how long `find` waits for a node
/// group an interrupted apply left creating.
const TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub(crate) struct NodeGroup;

/// The configuration of a node group, as the stack sets it.
#[derive(Debug, Deserialize)]
struct NodeGroupConfig {
    cluster_name: String,
    node_group_name: String,
    node_role_arn: String,
    subnet_ids: Vec<String>,
    capacity_type: Option<String>,
    instance_types: Option<Vec<String>>,
    scaling_config: Scaling,
    labels: Option<BTreeMap<String, String>>,
    taints: Option<Vec<Taint>>,
    disk_size: Option<i32>,
    ami_type: Option<String>,
    update_config: Option<UpdateConfig>,
    version: Option<String>,
    release_version: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Scaling {
    min_size: i32,
    max_size: i32,
    desired_size: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Taint {
    key: String,
    value: Option<String>,
    effect: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct UpdateConfig {
    max_unavailable: Option<i32>,
    max_unavailable_percentage: Option<i32>,
}

impl Taint {
    fn from_sdk(taint: &EksTaint) -> Self {
        Taint {
            key: taint.key().unwrap_or_default().to_owned(),
            value: taint.value().map(str::to_owned),
            effect: taint.effect().map_or("", TaintEffect::as_str).to_owned(),
        }
    }

    fn to_sdk(&self) -> EksTaint {
        EksTaint::builder()
            .key(&self.key)
            .set_value(self.value.clone())
            .effect(TaintEffect::from(self.effect.as_str()))
            .build()
    }
}

fn scaling_schema() -> AttrType {
    let size = |text: &str| AttrSchema::required(AttrType::Int).describe(text);
    AttrType::object([
        ("min_size", size("fewest nodes")),
        ("max_size", size("most nodes")),
        (
            "desired_size",
            size("nodes wanted now (the cluster autoscaler may change it)"),
        ),
    ])
}

fn taint_schema() -> AttrType {
    AttrType::object([
        (
            "key",
            AttrSchema::required(AttrType::String).describe("taint key"),
        ),
        (
            "value",
            AttrSchema::optional(AttrType::String).describe("taint value"),
        ),
        (
            "effect",
            AttrSchema::required(AttrType::enumeration(&[
                "NO_SCHEDULE",
                "NO_EXECUTE",
                "PREFER_NO_SCHEDULE",
            ]))
            .describe("what the taint does to pods that do not tolerate it"),
        ),
    ])
}

fn update_config_schema() -> AttrType {
    AttrType::object([
        (
            "max_unavailable",
            AttrSchema::optional(AttrType::Int)
                .describe("nodes that may be unavailable during an update"),
        ),
        (
            "max_unavailable_percentage",
            AttrSchema::optional(AttrType::Int)
                .describe("percent of nodes that may be unavailable during an update"),
        ),
    ])
}

#[async_trait]
impl AwsType for NodeGroup {
    type Object = Nodegroup;
    const TYPE_NAME: &'static str = "aws_eks_node_group";
    const KIND: &'static str = "EKS node group";
    const GONE: &'static [&'static str] = &["ResourceNotFoundException"];
    const WAIT_GONE: bool = true;
    const BACKOFF: Backoff = NODE_GROUP_POLL;

    fn schema(&self) -> ResourceSchema {
        let fixed = |ty: AttrType, text: &str| AttrSchema::required(ty).force_new().describe(text);
        ResourceSchema::new("An EKS managed node group")
            .attr(
                "cluster_name",
                fixed(AttrType::String, "cluster the nodes join"),
            )
            .attr(
                "node_group_name",
                fixed(AttrType::String, "node group name, unique in the cluster"),
            )
            .attr(
                "node_role_arn",
                fixed(AttrType::String, "IAM role of the nodes' instance profile"),
            )
            .attr(
                "subnet_ids",
                fixed(AttrType::list(AttrType::String), "subnets the nodes run in"),
            )
            .attr(
                "capacity_type",
                AttrSchema::optional_computed(AttrType::enumeration(&["ON_DEMAND", "SPOT"]))
                    .force_new()
                    .describe("ON_DEMAND (default) or SPOT instances"),
            )
            .attr(
                "instance_types",
                AttrSchema::optional_computed(AttrType::list(AttrType::String))
                    .force_new()
                    .describe(
                        "instance types; several diversify SPOT capacity (default t3.medium)",
                    ),
            )
            .attr(
                "scaling_config",
                AttrSchema::required(scaling_schema()).describe("node counts"),
            )
            .attr(
                "labels",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("Kubernetes labels on the nodes"),
            )
            .attr(
                "taints",
                AttrSchema::optional(AttrType::list(taint_schema()))
                    .describe("Kubernetes taints on the nodes"),
            )
            .attr(
                "disk_size",
                AttrSchema::optional_computed(AttrType::Int)
                    .force_new()
                    .describe("root volume size in GiB (default 20)"),
            )
            .attr(
                "ami_type",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe("AMI family, e.g. AL2023_x86_64_STANDARD"),
            )
            .attr(
                "update_config",
                AttrSchema::optional_computed(update_config_schema())
                    .describe("how many nodes a rolling update may take down at once"),
            )
            .attr(
                "version",
                AttrSchema::optional_computed(AttrType::String)
                    .describe("Kubernetes version of the nodes (default: the cluster's)"),
            )
            .attr(
                "release_version",
                AttrSchema::optional_computed(AttrType::String)
                    .describe("AMI release version (default: the latest for the version)"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags on the node group"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the node group"),
            )
            .attr(
                "status",
                AttrSchema::computed(AttrType::String).describe("EKS status, e.g. ACTIVE"),
            )
            .timeouts(Timeouts::all(TIMEOUT))
    }

    /// EKS takes one of the two `update_config` limits, never both.
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        let strategy = request.desired.get("update_config");
        let set = |key: &str| {
            strategy
                .and_then(|s| s.get(key))
                .is_some_and(|v| !v.is_null())
        };
        if set("max_unavailable") && set("max_unavailable_percentage") {
            return Err(ProviderError::invalid(
                "update_config",
                "takes max_unavailable or max_unavailable_percentage, not both",
            ));
        }
        Ok(PlanAdjustments::default())
    }

    /// `CLUSTER_NAME:NODE_GROUP_NAME`, the form `import` takes.
    fn id(&self, state: &Attrs) -> Result<String, ProviderError> {
        Ok(format!(
            "{}:{}",
            state.str("cluster_name")?,
            state.str("node_group_name")?
        ))
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        id: &str,
    ) -> Result<Option<Nodegroup>, ProviderError> {
        let (cluster, name) = id
            .split_once(':')
            .ok_or_else(|| ProviderError::invalid("id", "must be CLUSTER_NAME:NODE_GROUP_NAME"))?;
        describe(&aws.eks, cluster, name).await
    }

    fn is_live(&self, node_group: &Nodegroup) -> bool {
        node_group.status() != Some(&NodegroupStatus::Deleting)
    }

    /// ACTIVE; CREATE_FAILED, DEGRADED and DELETE_FAILED fail with EKS's health issues.
    async fn readiness(&self, _aws: &AwsClients, node_group: &Nodegroup) -> Readiness {
        match node_group.status() {
            Some(NodegroupStatus::Active) => Readiness::Ready,
            Some(
                NodegroupStatus::CreateFailed
                | NodegroupStatus::Degraded
                | NodegroupStatus::DeleteFailed,
            ) => Readiness::Failed(failed(node_group)),
            _ => Readiness::Waiting(format!("status {}", status(node_group))),
        }
    }

    fn deletion(&self, node_group: &Nodegroup) -> Readiness {
        match node_group.status() {
            Some(NodegroupStatus::DeleteFailed) => Readiness::Failed(failed(node_group)),
            _ => Readiness::Waiting(format!("status {}", status(node_group))),
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        node_group: &Nodegroup,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        Ok(attributes(
            node_group,
            prior.unwrap_or(&Attrs::new()),
            &aws.default_tags,
        ))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let NodeGroupConfig {
            cluster_name: cluster,
            node_group_name: name,
            ..
        } = decode_config(config)?;
        Ok(describe(&aws.eks, &cluster, &name)
            .await?
            .filter(|ng| self.is_live(ng) && created_by(identity, &sorted(ng.tags())))
            .map(|_| format!("{cluster}:{name}"))
            .into_iter()
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: NodeGroupConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let token = client_token();
        let call = aws
            .eks
            .create_nodegroup()
            .client_request_token(&token)
            .cluster_name(&config.cluster_name)
            .nodegroup_name(&config.node_group_name)
            .node_role(&config.node_role_arn)
            .set_subnets(Some(config.subnet_ids.clone()))
            .set_capacity_type(config.capacity_type.as_deref().map(CapacityTypes::from))
            .set_instance_types(config.instance_types.clone())
            .scaling_config(scaling(&config.scaling_config))
            .set_labels(config.labels.clone().map(|l| l.into_iter().collect()))
            .set_taints(
                config
                    .taints
                    .as_ref()
                    .map(|t| t.iter().map(Taint::to_sdk).collect()),
            )
            .set_disk_size(config.disk_size)
            .set_ami_type(config.ami_type.as_deref().map(AmiTypes::from))
            .set_update_config(config.update_config.as_ref().map(update_config))
            .set_version(config.version.clone())
            .set_release_version(config.release_version.clone())
            .set_tags(Some(tags.into_iter().collect()));
        // EKS refuses a role it cannot use yet (IAM propagation): retried.
        create_once(
            CreateCall::new("eks:CreateNodegroup", Self::KIND, &request.progress)
                .with_token()
                .retrying_for(IAM_PROPAGATION.min(request.timeout)),
            role_not_ready,
            || call.clone().customize().config_override(once::eks()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        Ok(format!(
            "{}:{}",
            config.cluster_name, config.node_group_name
        ))
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Nodegroup,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: NodeGroupConfig = decode_config(request.desired)?;
        let (cluster, name) = (
            desired.cluster_name.as_str(),
            desired.node_group_name.as_str(),
        );
        let deadline = deadline(request.timeout);
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);

        let mut config_call = aws
            .eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(name);
        let mut config_changes = false;
        if changed("scaling_config") {
            config_call = config_call.scaling_config(scaling(&desired.scaling_config));
            config_changes = true;
        }
        if changed("labels")
            && let Some(payload) = labels_payload(
                &sorted(current.labels()),
                &desired.labels.clone().unwrap_or_default(),
            )
        {
            config_call = config_call.labels(payload);
            config_changes = true;
        }
        if changed("taints") {
            let current_taints: Vec<Taint> = current.taints().iter().map(Taint::from_sdk).collect();
            if let Some(payload) =
                taints_payload(&current_taints, &desired.taints.clone().unwrap_or_default())
            {
                config_call = config_call.taints(payload);
                config_changes = true;
            }
        }
        if changed("update_config")
            && let Some(strategy) = &desired.update_config
        {
            config_call = config_call.update_config(update_config(strategy));
            config_changes = true;
        }
        if config_changes {
            let update = config_call
                .send()
                .await
                .map_err(|e| api_error("eks:UpdateNodegroupConfig", e))?
                .update
                .unwrap_or_else(|| Update::builder().build());
            wait_update(
                &aws.eks,
                cluster,
                Some(name),
                &update,
                remaining(deadline),
                &request.progress,
            )
            .await?;
            Typed(NodeGroup)
                .wait_usable(aws, id, remaining(deadline), &request.progress)
                .await?;
        }

        let version = desired.version.as_deref().filter(|_| changed("version"));
        let release = desired
            .release_version
            .as_deref()
            .filter(|_| changed("release_version"));
        if version.is_some() || release.is_some() {
            let update = start_version_update(&aws.eks, cluster, name, version, release).await?;
            wait_update(
                &aws.eks,
                cluster,
                Some(name),
                &update,
                remaining(deadline),
                &request.progress,
            )
            .await?;
            Typed(NodeGroup)
                .wait_usable(aws, id, remaining(deadline), &request.progress)
                .await?;
        }

        if changed("tags") {
            let wanted = object_tags(request.identity, &aws.default_tags, &desired.tags);
            sync_tags(
                &aws.eks,
                current.nodegroup_arn().unwrap_or_default(),
                &sorted(current.tags()),
                &wanted,
            )
            .await?;
        }
        Ok(())
    }

    /// A delete already under way (an earlier run was interrupted) is waited on.
    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        let (cluster, name) = id.split_once(':').unwrap_or((id, ""));
        match aws
            .eks
            .delete_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if error_code(&err) == Some("ResourceInUseException") => {
                let deleting = describe(&aws.eks, cluster, name)
                    .await?
                    .is_some_and(|ng| ng.status() == Some(&NodegroupStatus::Deleting));
                if deleting {
                    Ok(())
                } else {
                    Err(api_error("eks:DeleteNodegroup", err))
                }
            }
            Err(err) => Err(api_error("eks:DeleteNodegroup", err)),
        }
    }
}

async fn describe(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    name: &str,
) -> Result<Option<Nodegroup>, ProviderError> {
    found(
        "eks:DescribeNodegroup",
        &["ResourceNotFoundException"],
        eks.describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await,
        |out| out.nodegroup,
    )
}

fn status(node_group: &Nodegroup) -> &str {
    node_group
        .status()
        .map_or("unknown", NodegroupStatus::as_str)
}

/// The error for a node group EKS gave up on, with the health issues it reports (e.g.
/// `AsgInstanceLaunchFailures` when SPOT capacity is short).
fn failed(node_group: &Nodegroup) -> ProviderError {
    let issues: Vec<String> = node_group
        .health()
        .map(|h| h.issues())
        .unwrap_or_default()
        .iter()
        .map(|i| {
            format!(
                "{}: {}",
                i.code().map_or("unknown", |c| c.as_str()),
                i.message().unwrap_or_default()
            )
        })
        .collect();
    ProviderError::Other(format!(
        "EKS node group {}/{} is {}: {}",
        node_group.cluster_name().unwrap_or_default(),
        node_group.nodegroup_name().unwrap_or_default(),
        status(node_group),
        if issues.is_empty() {
            "no health issue reported".to_owned()
        } else {
            issues.join("; ")
        }
    ))
}

/// Starts a rolling update of the nodes to `version` and/or AMI `release_version` (moto
/// does not implement it) and returns the update to follow.
async fn start_version_update(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    name: &str,
    version: Option<&str>,
    release_version: Option<&str>,
) -> Result<Update, ProviderError> {
    eks.update_nodegroup_version()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .set_version(version.map(str::to_owned))
        .set_release_version(release_version.map(str::to_owned))
        .send()
        .await
        .map(|out| out.update.unwrap_or_else(|| Update::builder().build()))
        .map_err(|e| api_error("eks:UpdateNodegroupVersion", e))
}

fn scaling(scaling: &Scaling) -> NodegroupScalingConfig {
    NodegroupScalingConfig::builder()
        .min_size(scaling.min_size)
        .max_size(scaling.max_size)
        .desired_size(scaling.desired_size)
        .build()
}

fn update_config(strategy: &UpdateConfig) -> NodegroupUpdateConfig {
    NodegroupUpdateConfig::builder()
        .set_max_unavailable(strategy.max_unavailable)
        .set_max_unavailable_percentage(strategy.max_unavailable_percentage)
        .build()
}

/// The label additions and removals that turn `current` into `wanted`; `None` if they
/// already match (EKS rejects an empty update).
fn labels_payload(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Option<UpdateLabelsPayload> {
    let changes = TagChanges::between(current, wanted);
    if changes.set.is_empty() && changes.remove.is_empty() {
        return None;
    }
    Some(
        UpdateLabelsPayload::builder()
            .set_add_or_update_labels(
                (!changes.set.is_empty()).then(|| changes.set.into_iter().collect()),
            )
            .set_remove_labels((!changes.remove.is_empty()).then_some(changes.remove))
            .build(),
    )
}

/// The taint additions and removals that turn `current` into `wanted`. Kubernetes keys a
/// taint by key and effect: one whose key and effect survive is updated, not removed.
fn taints_payload(current: &[Taint], wanted: &[Taint]) -> Option<UpdateTaintsPayload> {
    let remove: Vec<EksTaint> = current
        .iter()
        .filter(|c| {
            !wanted
                .iter()
                .any(|w| w.key == c.key && w.effect == c.effect)
        })
        .map(Taint::to_sdk)
        .collect();
    let add: Vec<EksTaint> = wanted
        .iter()
        .filter(|w| !current.contains(w))
        .map(Taint::to_sdk)
        .collect();
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    Some(
        UpdateTaintsPayload::builder()
            .set_add_or_update_taints((!add.is_empty()).then_some(add))
            .set_remove_taints((!remove.is_empty()).then_some(remove))
            .build(),
    )
}

/// The node group as attributes. `order` (the configuration or prior state) decides the
/// order of unordered lists that hold the same items.
fn attributes(
    node_group: &Nodegroup,
    order: &Attrs,
    default_tags: &BTreeMap<String, String>,
) -> Attrs {
    let cluster = node_group.cluster_name().unwrap_or_default();
    let name = node_group.nodegroup_name().unwrap_or_default();
    let taints: Vec<Taint> = node_group.taints().iter().map(Taint::from_sdk).collect();
    let prior_taints: Vec<Taint> = order
        .opt_decode("taints")
        .ok()
        .flatten()
        .unwrap_or_default();
    let same_taints =
        taints.len() == prior_taints.len() && taints.iter().all(|t| prior_taints.contains(t));
    let taints = if same_taints { prior_taints } else { taints };
    let scaling = node_group.scaling_config().map(|s| {
        Value::Map(BTreeMap::from([
            ("min_size".to_owned(), Value::from(s.min_size())),
            ("max_size".to_owned(), Value::from(s.max_size())),
            ("desired_size".to_owned(), Value::from(s.desired_size())),
        ]))
    });
    let strategy = node_group.update_config().map(|u| {
        Value::Map(BTreeMap::from([
            (
                "max_unavailable".to_owned(),
                Value::from(u.max_unavailable()),
            ),
            (
                "max_unavailable_percentage".to_owned(),
                Value::from(u.max_unavailable_percentage()),
            ),
        ]))
    });
    let taints = if taints.is_empty() {
        Value::Null
    } else {
        Value::List(
            taints
                .iter()
                .map(|t| {
                    Value::Map(BTreeMap::from([
                        ("key".to_owned(), Value::from(t.key.clone())),
                        ("value".to_owned(), Value::from(t.value.clone())),
                        ("effect".to_owned(), Value::from(t.effect.clone())),
                    ]))
                })
                .collect(),
        )
    };
    Attrs::new()
        .with("id", format!("{cluster}:{name}"))
        .with("cluster_name", cluster)
        .with("node_group_name", name)
        .with("node_role_arn", node_group.node_role())
        .with(
            "subnet_ids",
            keep_order(
                strings(order.get("subnet_ids")),
                node_group.subnets().to_vec(),
            ),
        )
        .with(
            "capacity_type",
            node_group.capacity_type().map(CapacityTypes::as_str),
        )
        .with(
            "instance_types",
            keep_order(
                strings(order.get("instance_types")),
                node_group.instance_types().to_vec(),
            ),
        )
        .with("scaling_config", Value::from(scaling))
        .with(
            "labels",
            map_attribute(sorted(node_group.labels()), Some(order), "labels"),
        )
        .with("taints", taints)
        .with("disk_size", node_group.disk_size())
        .with("ami_type", node_group.ami_type().map(AmiTypes::as_str))
        .with("update_config", Value::from(strategy))
        .with("version", node_group.version())
        .with("release_version", node_group.release_version())
        .with(
            "tags",
            map_attribute(
                user_visible(sorted(node_group.tags()), default_tags),
                Some(order),
                "tags",
            ),
        )
        .with("arn", node_group.nodegroup_arn())
        .with("status", node_group.status().map(NodegroupStatus::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::capture::{Capture, body, captured_client};

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.to_owned(),
            value: Some(value.to_owned()),
            effect: effect.to_owned(),
        }
    }

    #[tokio::test]
    async fn version_update_sends_version_and_release() {
        let capture = Capture::answering(
            200,
            r#"{"update":{"id":"u-2","status":"InProgress","type":"VersionUpdate"}}"#,
        );
        let eks = captured_client!(aws_sdk_eks, capture);
        let update = start_version_update(&eks, "airflow-dev", "spot-workers", Some("1.31"), None)
            .await
            .expect("accepted");
        assert_eq!(update.id(), Some("u-2"), "the update to follow is returned");
        let sent = capture.only_request();
        assert_eq!(sent.method(), "POST");
        assert!(
            sent.uri()
                .ends_with("/clusters/airflow-dev/node-groups/spot-workers/update-version"),
            "{}",
            sent.uri()
        );
        let json: serde_json::Value = serde_json::from_str(&body(&sent)).expect("JSON body");
        assert_eq!(json["version"], "1.31");
        assert!(json.get("releaseVersion").is_none(), "{json}");
    }

    #[test]
    fn update_config_takes_one_limit() {
        let strategy = |pairs: &[(&str, i64)]| {
            Attrs::new().with(
                "update_config",
                Value::Map(
                    pairs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), Value::Int(*v)))
                        .collect(),
                ),
            )
        };
        let plan = |desired: &Attrs| {
            NodeGroup.plan(PlanRequest {
                type_name: "aws_eks_node_group",
                prior: None,
                desired,
            })
        };
        assert!(plan(&strategy(&[("max_unavailable", 1)])).is_ok());
        assert!(plan(&strategy(&[("max_unavailable_percentage", 33)])).is_ok());
        assert!(plan(&Attrs::new()).is_ok());
        assert!(
            plan(&strategy(&[
                ("max_unavailable", 1),
                ("max_unavailable_percentage", 33)
            ]))
            .is_err()
        );
    }

    #[test]
    fn taint_payload_sends_only_differences() {
        let current = [
            taint("airflow-worker", "true", "NO_SCHEDULE"),
            taint("old", "x", "NO_EXECUTE"),
        ];
        let wanted = [
            taint("airflow-worker", "true", "NO_SCHEDULE"),
            taint("old", "y", "NO_EXECUTE"),
            taint("new", "z", "PREFER_NO_SCHEDULE"),
        ];
        let payload = taints_payload(&current, &wanted).expect("changes");
        let added: Vec<Taint> = payload
            .add_or_update_taints()
            .iter()
            .map(Taint::from_sdk)
            .collect();
        assert_eq!(added, [wanted[1].clone(), wanted[2].clone()]);
        assert!(payload.remove_taints().is_empty());

        let payload = taints_payload(&current, &wanted[..1]).expect("changes");
        let removed: Vec<Taint> = payload
            .remove_taints()
            .iter()
            .map(Taint::from_sdk)
            .collect();
        assert_eq!(removed, [current[1].clone()]);
        assert!(payload.add_or_update_taints().is_empty());
        assert!(taints_payload(&current, &current).is_none());
    }

    #[test]
    fn label_payload_sends_only_differences() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let payload = labels_payload(
            &map(&[("workload-type", "airflow-workers"), ("tier", "a")]),
            &map(&[("workload-type", "airflow-workers"), ("pool", "spot")]),
        )
        .expect("changes");
        assert_eq!(
            sorted(payload.add_or_update_labels()),
            map(&[("pool", "spot")])
        );
        assert_eq!(payload.remove_labels(), ["tier".to_owned()]);
        assert!(labels_payload(&map(&[("a", "b")]), &map(&[("a", "b")])).is_none());
    }

    mod scripted {
        //! Real EKS's answers for node groups, played by the capture.

        use super::*;
        use crate::resource::AwsResource;
        use cairn_provider_core::{FindRequest, Progress};

        fn identity() -> ResourceIdentity {
            ResourceIdentity {
                stack: "airflow".to_owned(),
                env: "dev".to_owned(),
                address: "aws_eks_node_group.workers".to_owned(),
            }
        }

        fn scaling_value(desired: i64) -> Value {
            Value::Map(BTreeMap::from([
                ("min_size".to_owned(), Value::Int(0)),
                ("max_size".to_owned(), Value::Int(10)),
                ("desired_size".to_owned(), Value::Int(desired)),
            ]))
        }

        fn config(desired: i64) -> Attrs {
            Attrs::new()
                .with("cluster_name", "airflow-dev")
                .with("node_group_name", "workers")
                .with("node_role_arn", "arn:aws:iam::123456789012:role/nodes")
                .with("subnet_ids", Value::from(vec!["subnet-a"]))
                .with("scaling_config", scaling_value(desired))
        }

        fn node_group(status: &str) -> (u16, String) {
            let mut node_group = serde_json::json!({
                "nodegroupName": "workers",
                "clusterName": "airflow-dev",
                "status": status,
                "scalingConfig": {"minSize": 0, "maxSize": 10, "desiredSize": 1},
                "subnets": ["subnet-a"],
                "tags": identity().tags(),
            });
            if status == "CREATE_FAILED" {
                node_group["health"] = serde_json::json!({"issues": [{
                    "code": "AsgInstanceLaunchFailures",
                    "message": "Could not launch Spot Instances. UnfulfillableCapacity",
                }]});
            }
            (
                200,
                serde_json::json!({ "nodegroup": node_group }).to_string(),
            )
        }

        fn update(status: &str) -> (u16, String) {
            (
                200,
                serde_json::json!({"update": {"id": "u-9", "status": status, "type": "ConfigUpdate"}})
                    .to_string(),
            )
        }

        #[tokio::test]
        async fn a_scaling_change_waits_on_its_update_id_not_the_status() {
            let capture = Capture::script([
                node_group("ACTIVE"),
                update("InProgress"),
                update("InProgress"),
                update("InProgress"),
                update("Successful"),
                node_group("ACTIVE"),
                node_group("ACTIVE"),
            ]);
            let identity = identity();
            let (prior, desired) = (config(1), config(3));
            let changed = ["scaling_config".to_owned()];
            Typed(NodeGroup)
                .update(
                    &capture.clients(),
                    UpdateRequest {
                        type_name: "aws_eks_node_group",
                        identity: &identity,
                        prior: &prior,
                        desired: &desired,
                        changed: &changed,
                        timeout: TIMEOUT,
                        progress: Progress::noop(),
                    },
                )
                .await
                .expect("updated");
            let path = "/clusters/airflow-dev/node-groups/workers";
            assert_eq!(
                capture.calls(),
                [
                    format!("GET {path}"),
                    format!("POST {path}/update-config"),
                    "GET /clusters/airflow-dev/updates/u-9".to_owned(),
                    "GET /clusters/airflow-dev/updates/u-9".to_owned(),
                    "GET /clusters/airflow-dev/updates/u-9".to_owned(),
                    format!("GET {path}"),
                    format!("GET {path}"),
                ]
            );
            let sent = body(&capture.requests()[1]);
            let json: serde_json::Value = serde_json::from_str(&sent).expect("JSON body");
            assert_eq!(json["scalingConfig"]["desiredSize"], 3);
            let describe_update = capture.requests()[2].uri().to_owned();
            assert!(
                describe_update.contains("nodegroupName=workers"),
                "{describe_update}"
            );
        }

        #[tokio::test]
        async fn an_update_answered_successful_is_not_followed() {
            let capture = Capture::script([
                node_group("ACTIVE"),
                update("Successful"),
                node_group("ACTIVE"),
                node_group("ACTIVE"),
            ]);
            let identity = identity();
            let (prior, desired) = (config(1), config(2));
            let changed = ["scaling_config".to_owned()];
            Typed(NodeGroup)
                .update(
                    &capture.clients(),
                    UpdateRequest {
                        type_name: "aws_eks_node_group",
                        identity: &identity,
                        prior: &prior,
                        desired: &desired,
                        changed: &changed,
                        timeout: TIMEOUT,
                        progress: Progress::noop(),
                    },
                )
                .await
                .expect("updated");
            assert!(
                capture.calls().iter().all(|c| !c.contains("/updates/")),
                "{:?}",
                capture.calls()
            );
            assert_eq!(capture.unused(), 0);
        }

        #[tokio::test]
        async fn find_waits_for_creating_and_fails_on_create_failed() {
            let (identity, config) = (identity(), config(1));
            let find = |capture: Capture| {
                let (identity, config) = (identity.clone(), config.clone());
                async move {
                    Typed(NodeGroup)
                        .find(
                            &capture.clients(),
                            FindRequest {
                                type_name: "aws_eks_node_group",
                                identity: &identity,
                                config: &config,
                            },
                        )
                        .await
                }
            };
            let creating = Capture::script([
                node_group("CREATING"),
                node_group("CREATING"),
                node_group("ACTIVE"),
            ]);
            let found = find(creating.clone())
                .await
                .expect("adopted")
                .expect("found");
            assert_eq!(creating.unused(), 0);
            assert_eq!(
                found.opt_str("status").ok().flatten().as_deref(),
                Some("ACTIVE")
            );

            let failed = Capture::script([node_group("CREATING"), node_group("CREATE_FAILED")]);
            let error = find(failed).await.expect_err("not adopted").to_string();
            assert!(error.contains("AsgInstanceLaunchFailures"), "{error}");
            assert!(error.contains("UnfulfillableCapacity"), "{error}");
        }
    }
}
