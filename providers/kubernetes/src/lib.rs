//! cairn's Kubernetes provider: any object the API server knows, by server-side apply.
//!
//! One resource type, `kubernetes_object`, holds one manifest. The provider resolves its
//! apiVersion and kind through discovery (nothing about kinds is compiled in, so older API
//! servers and CRDs work), applies it as field manager `cairn`, reads back only the fields
//! the manifest sets, waits for rollouts and Jobs when asked, and deletes in the foreground
//! until the object is gone. It reaches the cluster through a kubeconfig, or builds the
//! client itself for EKS from the cluster's endpoint and CA and a token signed like
//! `aws eks get-token`.
//!
//! # Overview
//! - [`KubernetesProvider`]: schema, plan-time replacement rules, configuration.
//! - `config`: the `[providers.kubernetes]` block and the client it yields.
//! - `eks_token`: presigned STS tokens and the layer that puts them on requests.
//! - `readiness`: waiting for a new EKS control plane to serve before the first object.
//! - `client`: the [`cairn_provider_core::ResourceClient`] doing the API calls.
//! - `manifest`: object coordinates, `id`, projection of live objects, redaction.
//! - `wait`: readiness predicates and the wait loop.
//! - `error`: API server errors as [`ProviderError`]s.

mod client;
mod config;
mod eks_token;
mod error;
mod manifest;
mod readiness;
mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_provider_core::{
    AttrSchema, AttrType, ConfigureRequest, PlanAdjustments, PlanRequest, Provider, ProviderError,
    ProviderSchema, ResourceClient, ResourceSchema, Timeouts, Value,
};

use crate::client::KubernetesClient;
use crate::config::ClusterAccess;
use crate::wait::WaitFor;

/// The one resource type of this provider.
pub(crate) const OBJECT_TYPE: &str = "kubernetes_object";

/// The attribute recording the API resource an object's kind is served as.
pub(crate) const API_RESOURCE: &str = "api_resource";

/// Manifest paths whose change makes it another object: the API server cannot rename or
/// move an object, nor change its kind or API group.
const IDENTITY_PATHS: [(&str, &[&str]); 4] = [
    ("manifest.apiVersion", &["apiVersion"]),
    ("manifest.kind", &["kind"]),
    ("manifest.metadata.name", &["metadata", "name"]),
    ("manifest.metadata.namespace", &["metadata", "namespace"]),
];

/// The Kubernetes provider, before configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct KubernetesProvider;

impl KubernetesProvider {
    /// The provider; it holds nothing until configured.
    pub fn new() -> Self {
        KubernetesProvider
    }
}

fn object_schema() -> ResourceSchema {
    ResourceSchema::new("One Kubernetes object of any kind, applied with server-side apply")
        .attr(
            "manifest",
            AttrSchema::required(AttrType::Any)
                .describe("the object: apiVersion, kind, metadata, and the rest (or `file = \"k8s/x.yaml\"`)"),
        )
        .attr(
            "force_conflicts",
            AttrSchema::optional(AttrType::Bool)
                .describe("when creating, take over fields another field manager owns instead of failing (updates always take back the fields the stack sets)"),
        )
        .attr(
            "wait",
            AttrSchema::optional(AttrType::enumeration(&WaitFor::NAMES)).describe(
                "exists (default); rollout for Deployments, StatefulSets, DaemonSets; complete for Jobs",
            ),
        )
        .attr("uid", AttrSchema::computed(AttrType::String).describe("metadata.uid"))
        .attr(
            API_RESOURCE,
            AttrSchema::computed(AttrType::String).describe(
                "the API resource the kind is served as (deployments for apps/v1 Deployment), found by discovery at apply: reads and deletes use it instead of asking again",
            ),
        )
        .attr(
            "object",
            AttrSchema::computed(AttrType::Any)
                // Every change gets a new resourceVersion (and generation): what copies
                // them (a pod template's checksum annotation) must wait for the update.
                .changes_on_update()
                .describe("the object as the API server returned it, without managedFields or Secret data"),
        )
        .timeouts(Timeouts::all(Duration::from_secs(10 * 60)))
}

/// The value at `path` inside a manifest, if any; [`Value::Unknown`] when the value or
/// a map above it is not known yet.
fn manifest_field(attrs: &cairn_provider_core::Attrs, path: &[&str]) -> Option<Value> {
    path.iter()
        .try_fold(attrs.get("manifest")?.clone(), |node, key| match node {
            Value::Unknown => Some(Value::Unknown),
            node => node.get(key),
        })
        .filter(|value| !value.is_null() && value.as_str() != Some(""))
}

/// Whether a manifest field changed in a way that needs a new object.
fn identity_changed(path: &str, prior: Option<Value>, desired: Option<Value>) -> bool {
    match (prior, desired) {
        (_, Some(Value::Unknown)) => true,
        (Some(Value::String(prior)), Some(Value::String(desired)))
            if path == "manifest.apiVersion" =>
        {
            manifest::api_group(&prior) != manifest::api_group(&desired)
        }
        // No namespace means the client's default one, which is where "default" lives too.
        (None, Some(Value::String(ns))) | (Some(Value::String(ns)), None)
            if path == "manifest.metadata.namespace" =>
        {
            ns != "default"
        }
        (prior, desired) => prior != desired,
    }
}

#[async_trait]
impl Provider for KubernetesProvider {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn schema(&self) -> ProviderSchema {
        let text = || AttrSchema::required(AttrType::String);
        ProviderSchema {
            config: BTreeMap::from([
                (
                    "kubeconfig".to_owned(),
                    AttrSchema::optional(AttrType::String).describe(
                        "path of a kubeconfig; empty means not set (then eks_cluster is used)",
                    ),
                ),
                (
                    "context".to_owned(),
                    AttrSchema::optional(AttrType::String)
                        .describe("kubeconfig context; default: its current one"),
                ),
                (
                    "eks_cluster".to_owned(),
                    AttrSchema::optional(AttrType::object([
                        (
                            "name",
                            text().describe("cluster name, signed into the token"),
                        ),
                        ("endpoint", text().describe("API server URL")),
                        (
                            "certificate_authority",
                            text().describe("base64 PEM CA, as EKS returns it"),
                        ),
                    ]))
                    .describe("an EKS cluster reached with a token from the AWS credential chain"),
                ),
                (
                    "profile".to_owned(),
                    AttrSchema::optional(AttrType::String).describe(
                        "AWS profile signing the eks_cluster token; set it to the aws provider's",
                    ),
                ),
                (
                    "region".to_owned(),
                    AttrSchema::optional(AttrType::String).describe(
                        "region of eks_cluster; default: from its endpoint, then the AWS SDK",
                    ),
                ),
            ]),
            resources: BTreeMap::from([(OBJECT_TYPE.to_owned(), object_schema())]),
        }
    }

    fn data_sources(&self) -> BTreeMap<String, ResourceSchema> {
        let text = |what: &str| AttrSchema::required(AttrType::String).describe(what);
        let object = ResourceSchema::new("An existing Kubernetes object, read each plan")
            .attr("api_version", text("e.g. v1 or apps/v1"))
            .attr("kind", text("e.g. ConfigMap"))
            .attr("name", text("metadata.name"))
            .attr(
                "namespace",
                AttrSchema::optional(AttrType::String)
                    .describe("metadata.namespace; empty for a cluster-scoped kind"),
            )
            .attr(
                "id",
                AttrSchema::computed(AttrType::String).describe("apiVersion/kind/namespace/name"),
            )
            .attr("uid", AttrSchema::computed(AttrType::String).describe("metadata.uid"))
            .attr(
                "object",
                AttrSchema::computed(AttrType::Any).describe(
                    "the object as the API server returns it, without managedFields; a Secret's data is sensitive",
                ),
            );
        BTreeMap::from([(OBJECT_TYPE.to_owned(), object)])
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        if request.type_name != OBJECT_TYPE {
            return Err(ProviderError::UnsupportedType(request.type_name.to_owned()));
        }
        let Some(prior) = request.prior else {
            return Ok(PlanAdjustments::default());
        };
        let requires_replace = IDENTITY_PATHS
            .iter()
            .filter(|(name, path)| {
                identity_changed(
                    name,
                    manifest_field(prior, path),
                    manifest_field(request.desired, path),
                )
            })
            .map(|(name, _)| (*name).to_owned())
            .collect();
        Ok(PlanAdjustments {
            requires_replace,
            ..PlanAdjustments::default()
        })
    }

    async fn configure(
        &self,
        request: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        let client = ClusterAccess::from_config(&request.config)?
            .client()
            .await?;
        Ok(Arc::new(KubernetesClient::new(client)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_provider_core::Attrs;
    use serde_json::json;

    fn object(manifest: serde_json::Value) -> Attrs {
        Attrs::new().with("manifest", Value::from_json(manifest))
    }

    fn replaced(prior: serde_json::Value, desired: serde_json::Value) -> Vec<String> {
        let (prior, desired) = (object(prior), object(desired));
        KubernetesProvider::new()
            .plan(PlanRequest {
                type_name: OBJECT_TYPE,
                prior: Some(&prior),
                desired: &desired,
            })
            .expect("plans")
            .requires_replace
    }

    #[test]
    fn identity_changes_require_replacement() {
        let base = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "a"}, "spec": {"replicas": 1}});
        let mut scaled = base.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(replaced(base.clone(), scaled).is_empty());

        let mut renamed = base.clone();
        renamed["metadata"]["name"] = json!("web2");
        renamed["metadata"]["namespace"] = json!("b");
        assert_eq!(
            replaced(base.clone(), renamed),
            ["manifest.metadata.name", "manifest.metadata.namespace"]
        );

        let mut new_version = base.clone();
        new_version["apiVersion"] = json!("apps/v2");
        assert!(
            replaced(base.clone(), new_version).is_empty(),
            "same group, another version"
        );

        let mut new_group = base.clone();
        new_group["apiVersion"] = json!("extensions/v1beta1");
        new_group["kind"] = json!("ReplicaSet");
        assert_eq!(
            replaced(base.clone(), new_group),
            ["manifest.apiVersion", "manifest.kind"]
        );

        let mut default_ns = base.clone();
        default_ns["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("namespace");
        let mut explicit_default = default_ns.clone();
        explicit_default["metadata"]["namespace"] = json!("default");
        assert!(replaced(default_ns, explicit_default).is_empty());

        let prior = object(base);
        let mut desired = prior.clone();
        if let Some(Value::Map(manifest)) = desired.0.get_mut("manifest")
            && let Some(Value::Map(metadata)) = manifest.get_mut("metadata")
        {
            metadata.insert("name".to_owned(), Value::Unknown);
        }
        let plan = KubernetesProvider::new()
            .plan(PlanRequest {
                type_name: OBJECT_TYPE,
                prior: Some(&prior),
                desired: &desired,
            })
            .expect("plans");
        assert_eq!(plan.requires_replace, ["manifest.metadata.name"]);
    }

    #[test]
    fn schema_publishes_the_object_type() {
        let schema = KubernetesProvider::new().schema();
        let object = &schema.resources[OBJECT_TYPE];
        for name in ["id", "manifest", "force_conflicts", "wait", "uid", "object"] {
            assert!(object.attributes.contains_key(name), "{name} missing");
        }
        assert_eq!(object.timeouts.create, Duration::from_secs(600));
        assert!(schema.config.contains_key("eks_cluster"));
    }
}
