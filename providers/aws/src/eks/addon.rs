//! `aws_eks_addon`: an EKS managed add-on (VPC CNI, CoreDNS, kube-proxy, the Pod
//! Identity agent, ...) at a pinned version, with its configuration values and the IAM
//! role of its service account. Owns CreateAddon (with a client token), UpdateAddon
//! followed to its end by its update id, and the waits for ACTIVE and for deletion.
//!
//! An add-on whose pods cannot run yet (CoreDNS on a cluster without nodes) stays
//! DEGRADED: the create waits through it, as terraform-provider-aws does, and a timeout
//! names the health issues EKS reports.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eks::types::{Addon as EksAddon, AddonIssue, AddonStatus, ResolveConflicts, Update};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, ProviderError,
    ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::{UpdateOf, follow_update, sync_tags};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, client_token, create_once, once};
use crate::error::{api_error, found};
use crate::json_text;
use crate::resource::{AwsType, Readiness, Typed, map_attribute};
use crate::tags::{created_by, object_tags, sorted, user_visible};
use crate::wait::{Backoff, deadline, remaining};

/// How long a create may take; also how long `find` waits for an add-on an interrupted
/// apply left creating.
const CREATE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub(super) struct Addon;

#[derive(Debug, Deserialize)]
struct AddonConfig {
    cluster_name: String,
    addon_name: String,
    addon_version: Option<String>,
    configuration_values: Option<String>,
    service_account_role_arn: Option<String>,
    resolve_conflicts_on_create: Option<String>,
    resolve_conflicts_on_update: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// What a delete follows, as recorded in the state.
#[derive(Debug, Deserialize)]
struct DeleteSettings {
    #[serde(default)]
    preserve: bool,
}

#[async_trait]
impl AwsType for Addon {
    type Object = EksAddon;
    const TYPE_NAME: &'static str = "aws_eks_addon";
    const KIND: &'static str = "EKS add-on";
    const GONE: &'static [&'static str] = &["ResourceNotFoundException"];
    /// Attributes that exist only in the stack: how conflicts were resolved, and what a
    /// delete leaves behind.
    const CONFIG_ONLY: &'static [&'static str] = &[
        "resolve_conflicts_on_create",
        "resolve_conflicts_on_update",
        "preserve",
    ];
    /// The cluster is still busy with another change (an update, a node group).
    const BUSY: &'static [&'static str] = &["ResourceInUseException"];
    const WAIT_GONE: bool = true;
    const BACKOFF: Backoff = Backoff {
        initial: Duration::from_secs(5),
        max: Duration::from_secs(20),
    };

    fn schema(&self) -> ResourceSchema {
        let computed = |text: &str| AttrSchema::computed(AttrType::String).describe(text);
        ResourceSchema::new("An EKS managed add-on")
            .attr(
                "cluster_name",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("cluster the add-on runs in"),
            )
            .attr(
                "addon_name",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("e.g. vpc-cni, coredns, kube-proxy, eks-pod-identity-agent"),
            )
            .attr(
                "addon_version",
                AttrSchema::optional_computed(AttrType::String).describe(
                    "version, e.g. v1.19.2-eksbuild.1 (default: EKS's default for the \
                     cluster's Kubernetes version); changed in place",
                ),
            )
            .attr(
                "configuration_values",
                AttrSchema::optional(AttrType::String).describe(
                    "the add-on's configuration, a JSON document compared by meaning \
                     (its schema: aws eks describe-addon-configuration)",
                ),
            )
            .attr(
                "service_account_role_arn",
                AttrSchema::optional(AttrType::String).describe(
                    "IAM role (IRSA) of the add-on's service account, instead of the node \
                     role's credentials",
                ),
            )
            .attr(
                "resolve_conflicts_on_create",
                AttrSchema::optional(AttrType::enumeration(&["NONE", "OVERWRITE"])).describe(
                    "what to do with fields of the add-on's objects that differ at create \
                     (EKS default NONE: fail)",
                ),
            )
            .attr(
                "resolve_conflicts_on_update",
                AttrSchema::optional(AttrType::enumeration(&["NONE", "OVERWRITE", "PRESERVE"]))
                    .describe("what to do with fields changed on the cluster at an update"),
            )
            .attr(
                "preserve",
                AttrSchema::optional(AttrType::Bool).describe(
                    "keep the add-on's objects running on the cluster when it is destroyed \
                     (default false)",
                ),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags on the add-on"),
            )
            .attr("arn", computed("ARN of the add-on"))
            .attr("status", computed("EKS status, e.g. ACTIVE"))
            .timeouts(Timeouts {
                create: CREATE_TIMEOUT,
                update: Duration::from_secs(20 * 60),
                delete: Duration::from_secs(40 * 60),
            })
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        if let Some(Value::String(values)) = request.desired.get("configuration_values") {
            json_text::parse(values, "configuration_values")?;
        }
        Ok(PlanAdjustments::default())
    }

    /// `CLUSTER:ADDON`, as recorded, or from the two names.
    fn id(&self, state: &Attrs) -> Result<String, ProviderError> {
        match state.opt_str("id")? {
            Some(id) => Ok(id),
            None => Ok(addon_id(
                &state.str("cluster_name")?,
                &state.str("addon_name")?,
            )),
        }
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        id: &str,
    ) -> Result<Option<EksAddon>, ProviderError> {
        let (cluster, name) = split_id(id)?;
        describe(&aws.eks, cluster, name).await
    }

    fn is_live(&self, addon: &EksAddon) -> bool {
        addon.status() != Some(&AddonStatus::Deleting)
    }

    async fn readiness(&self, _aws: &AwsClients, addon: &EksAddon) -> Readiness {
        match addon.status() {
            Some(AddonStatus::Active) => Readiness::Ready,
            Some(AddonStatus::CreateFailed | AddonStatus::UpdateFailed) => {
                Readiness::Failed(ProviderError::Other(format!(
                    "EKS add-on {} is {}: {}",
                    addon.addon_name().unwrap_or_default(),
                    status(addon),
                    health(addon)
                )))
            }
            Some(AddonStatus::Degraded) => {
                Readiness::Waiting(format!("status DEGRADED ({})", health(addon)))
            }
            _ => Readiness::Waiting(format!("status {}", status(addon))),
        }
    }

    fn deletion(&self, addon: &EksAddon) -> Readiness {
        if addon.status() == Some(&AddonStatus::DeleteFailed) {
            Readiness::Failed(ProviderError::Other(format!(
                "EKS add-on {} is DELETE_FAILED: {}",
                addon.addon_name().unwrap_or_default(),
                health(addon)
            )))
        } else {
            Readiness::Waiting(format!("status {}", status(addon)))
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        addon: &EksAddon,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        Ok(attributes(addon, prior, &aws.default_tags))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let config: AddonConfig = decode_config(config)?;
        Ok(describe(&aws.eks, &config.cluster_name, &config.addon_name)
            .await?
            .filter(|a| self.is_live(a) && created_by(identity, &sorted(a.tags())))
            .map(|_| addon_id(&config.cluster_name, &config.addon_name))
            .into_iter()
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: AddonConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let token = client_token();
        let call = aws
            .eks
            .create_addon()
            .client_request_token(&token)
            .cluster_name(&config.cluster_name)
            .addon_name(&config.addon_name)
            .set_addon_version(config.addon_version.clone())
            .set_configuration_values(config.configuration_values.clone())
            .set_service_account_role_arn(config.service_account_role_arn.clone())
            .set_resolve_conflicts(
                config
                    .resolve_conflicts_on_create
                    .as_deref()
                    .map(ResolveConflicts::from),
            )
            .set_tags(Some(tags.into_iter().collect()));
        create_once(
            CreateCall::new("eks:CreateAddon", Self::KIND, &request.progress).with_token(),
            |_| false,
            || call.clone().customize().config_override(once::eks()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        Ok(addon_id(&config.cluster_name, &config.addon_name))
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &EksAddon,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: AddonConfig = decode_config(request.desired)?;
        let (cluster, name) = split_id(id)?;
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        let deadline = deadline(request.timeout);
        // A value removed from the stack is sent empty: EKS then drops it.
        let removed = |value: &Option<String>| Some(value.clone().unwrap_or_default());
        if changed("addon_version")
            || changed("configuration_values")
            || changed("service_account_role_arn")
        {
            let call = aws
                .eks
                .update_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .client_request_token(client_token())
                .set_addon_version(
                    changed("addon_version")
                        .then(|| desired.addon_version.clone())
                        .flatten(),
                )
                .set_configuration_values(
                    changed("configuration_values")
                        .then(|| removed(&desired.configuration_values))
                        .flatten(),
                )
                .set_service_account_role_arn(
                    changed("service_account_role_arn")
                        .then(|| removed(&desired.service_account_role_arn))
                        .flatten(),
                )
                .set_resolve_conflicts(
                    desired
                        .resolve_conflicts_on_update
                        .as_deref()
                        .map(ResolveConflicts::from),
                );
            let update = call
                .send()
                .await
                .map_err(|e| api_error("eks:UpdateAddon", e))?
                .update
                .unwrap_or_else(|| Update::builder().build());
            follow_update(
                &aws.eks,
                cluster,
                UpdateOf::Addon(name),
                &update,
                remaining(deadline),
                &request.progress,
            )
            .await?;
            Typed(Addon)
                .wait_usable(aws, id, remaining(deadline), &request.progress)
                .await?;
        }
        if changed("tags") {
            let wanted = object_tags(request.identity, &aws.default_tags, &desired.tags);
            let arn = current.addon_arn().unwrap_or_default();
            sync_tags(&aws.eks, arn, &sorted(current.tags()), &wanted).await?;
        }
        Ok(())
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        state: &Attrs,
    ) -> Result<(), ProviderError> {
        let (cluster, name) = split_id(id)?;
        let preserve = decode_config::<DeleteSettings>(state)?.preserve;
        aws.eks
            .delete_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .preserve(preserve)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("eks:DeleteAddon", e))
    }
}

fn addon_id(cluster: &str, name: &str) -> String {
    format!("{cluster}:{name}")
}

fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(':').ok_or_else(|| {
        ProviderError::invalid(
            "id",
            format!("`{id}` is not CLUSTER:ADDON (e.g. main:vpc-cni)"),
        )
    })
}

async fn describe(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    name: &str,
) -> Result<Option<EksAddon>, ProviderError> {
    found(
        "eks:DescribeAddon",
        &["ResourceNotFoundException"],
        eks.describe_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send()
            .await,
        |out| out.addon,
    )
}

fn status(addon: &EksAddon) -> &str {
    addon.status().map_or("unknown", AddonStatus::as_str)
}

/// The health issues EKS reports, in one line.
fn health(addon: &EksAddon) -> String {
    let issues: Vec<String> = addon
        .health()
        .map(|h| h.issues())
        .unwrap_or_default()
        .iter()
        .map(|issue: &AddonIssue| {
            format!(
                "{}: {}",
                issue.code().map_or("unknown", |c| c.as_str()),
                issue.message().unwrap_or_default()
            )
        })
        .collect();
    if issues.is_empty() {
        "no health issue reported".to_owned()
    } else {
        issues.join("; ")
    }
}

fn attributes(
    addon: &EksAddon,
    prior: Option<&Attrs>,
    default_tags: &BTreeMap<String, String>,
) -> Attrs {
    let cluster = addon.cluster_name().unwrap_or_default();
    let name = addon.addon_name().unwrap_or_default();
    let recorded = prior.and_then(|p| p.opt_str("configuration_values").ok().flatten());
    let values = addon
        .configuration_values()
        .filter(|v| !v.trim().is_empty())
        .map(|actual| json_text::reported(recorded.as_deref(), actual));
    Attrs::new()
        .with("id", addon_id(cluster, name))
        .with("cluster_name", cluster)
        .with("addon_name", name)
        .with("addon_version", addon.addon_version())
        .with("configuration_values", values)
        .with(
            "service_account_role_arn",
            addon.service_account_role_arn().filter(|r| !r.is_empty()),
        )
        .with(
            "tags",
            map_attribute(
                user_visible(sorted(addon.tags()), default_tags),
                prior,
                "tags",
            ),
        )
        .with("arn", addon.addon_arn())
        .with("status", addon.status().map(AddonStatus::as_str))
}

#[cfg(test)]
mod tests {
    //! moto has no EKS add-on API (every call answers 404): EKS's answers are played.

    use super::*;
    use crate::eks::capture::{Capture, body, create_request, json_error};
    use crate::resource::AwsResource;
    use cairn_provider_core::{DeleteRequest, FindRequest, Progress, ReadRequest};

    const CNI_VALUES: &str = r#"{"env": {"ENABLE_PREFIX_DELEGATION": "true"}}"#;
    const ROLE: &str = "arn:aws:iam::123456789012:role/airflow-dev-vpc-cni";

    fn identity() -> ResourceIdentity {
        ResourceIdentity {
            stack: "airflow".to_owned(),
            env: "dev".to_owned(),
            address: "aws_eks_addon.vpc_cni".to_owned(),
        }
    }

    fn config() -> Attrs {
        Attrs::new()
            .with("cluster_name", "airflow-dev")
            .with("addon_name", "vpc-cni")
            .with("addon_version", "v1.19.2-eksbuild.1")
            .with("configuration_values", CNI_VALUES)
            .with("service_account_role_arn", ROLE)
            .with("resolve_conflicts_on_create", "OVERWRITE")
            .with("resolve_conflicts_on_update", "PRESERVE")
            .with(
                "tags",
                Value::Map(BTreeMap::from([("team".to_owned(), Value::from("data"))])),
            )
    }

    /// DescribeAddon's answer, with EKS's own spelling of the configuration values.
    fn addon(status: &str, version: &str) -> (u16, String) {
        let mut tags = identity().tags();
        tags.insert("team".to_owned(), "data".to_owned());
        let mut addon = serde_json::json!({
            "addonName": "vpc-cni",
            "clusterName": "airflow-dev",
            "status": status,
            "addonVersion": version,
            "addonArn": "arn:aws:eks:us-east-1:123456789012:addon/airflow-dev/vpc-cni/abc",
            "serviceAccountRoleArn": ROLE,
            "configurationValues": "{\"env\":{\"ENABLE_PREFIX_DELEGATION\":\"true\"}}",
            "tags": tags,
        });
        if status == "DEGRADED" || status.ends_with("FAILED") {
            addon["health"] = serde_json::json!({"issues": [{
                "code": "InsufficientNumberOfReplicas",
                "message": "The add-on is unhealthy because it doesn't have the desired number of replicas.",
            }]});
        }
        (200, serde_json::json!({ "addon": addon }).to_string())
    }

    fn update(id: &str, status: &str) -> (u16, String) {
        (
            200,
            serde_json::json!({"update": {"id": id, "status": status, "type": "AddonUpdate"}})
                .to_string(),
        )
    }

    fn not_found() -> (u16, String) {
        json_error(
            "ResourceNotFoundException",
            "No addon: vpc-cni found in cluster: airflow-dev",
        )
    }

    #[tokio::test]
    async fn create_sends_everything_and_waits_through_degraded_until_active() {
        let capture = Capture::script([
            addon("CREATING", "v1.19.2-eksbuild.1"),
            not_found(),
            addon("CREATING", "v1.19.2-eksbuild.1"),
            addon("DEGRADED", "v1.19.2-eksbuild.1"),
            addon("ACTIVE", "v1.19.2-eksbuild.1"),
        ]);
        let (identity, config) = (identity(), config());
        let attrs = Typed(Addon)
            .create(
                &capture.clients(),
                create_request("aws_eks_addon", &identity, &config, CREATE_TIMEOUT),
            )
            .await
            .expect("created");
        assert_eq!(
            capture.calls(),
            [
                "POST /clusters/airflow-dev/addons",
                "GET /clusters/airflow-dev/addons/vpc-cni",
                "GET /clusters/airflow-dev/addons/vpc-cni",
                "GET /clusters/airflow-dev/addons/vpc-cni",
                "GET /clusters/airflow-dev/addons/vpc-cni",
            ]
        );
        let sent: serde_json::Value =
            serde_json::from_str(&body(&capture.requests()[0])).expect("JSON body");
        assert_eq!(sent["addonName"], "vpc-cni");
        assert_eq!(sent["addonVersion"], "v1.19.2-eksbuild.1");
        assert_eq!(sent["configurationValues"], CNI_VALUES);
        assert_eq!(sent["serviceAccountRoleArn"], ROLE);
        assert_eq!(sent["resolveConflicts"], "OVERWRITE");
        assert!(sent["clientRequestToken"].is_string(), "{sent}");
        assert_eq!(sent["tags"]["cairn:address"], "aws_eks_addon.vpc_cni");
        assert_eq!(sent["tags"]["team"], "data");

        // EKS's spelling of the same JSON is not a change; the stack's is kept.
        assert_eq!(
            attrs.get("configuration_values"),
            config.get("configuration_values")
        );
        assert_eq!(
            attrs.opt_str("id").ok().flatten().as_deref(),
            Some("airflow-dev:vpc-cni")
        );
        assert_eq!(
            attrs.get("resolve_conflicts_on_create"),
            config.get("resolve_conflicts_on_create")
        );
        for name in ["addon_version", "service_account_role_arn", "tags"] {
            assert_eq!(attrs.get(name), config.get(name), "{name}");
        }
    }

    #[tokio::test]
    async fn a_failed_create_fails_with_the_health_issues() {
        let capture = Capture::script([
            addon("CREATING", "v1.19.2-eksbuild.1"),
            addon("CREATE_FAILED", "v1.19.2-eksbuild.1"),
        ]);
        let (identity, config) = (identity(), config());
        let error = Typed(Addon)
            .create(
                &capture.clients(),
                create_request("aws_eks_addon", &identity, &config, CREATE_TIMEOUT),
            )
            .await
            .expect_err("failed")
            .to_string();
        assert!(error.contains("CREATE_FAILED"), "{error}");
        assert!(error.contains("InsufficientNumberOfReplicas"), "{error}");
    }

    #[tokio::test]
    async fn a_degraded_addon_times_out_naming_its_health() {
        let capture = Capture::script(std::iter::repeat_n(
            addon("DEGRADED", "v1.19.2-eksbuild.1"),
            40,
        ));
        let (identity, config) = (identity(), config());
        let error = Typed(Addon)
            .create(
                &capture.clients(),
                create_request("aws_eks_addon", &identity, &config, Duration::from_secs(60)),
            )
            .await
            .expect_err("timed out")
            .to_string();
        assert!(error.contains("InsufficientNumberOfReplicas"), "{error}");
    }

    #[tokio::test]
    async fn a_version_change_is_sent_and_followed_by_its_update_id() {
        let capture = Capture::script([
            addon("ACTIVE", "v1.19.2-eksbuild.1"),
            update("u-1", "InProgress"),
            update("u-1", "InProgress"),
            update("u-1", "Successful"),
            addon("ACTIVE", "v1.20.0-eksbuild.1"),
            addon("ACTIVE", "v1.20.0-eksbuild.1"),
        ]);
        let identity = identity();
        let prior = config().with("id", "airflow-dev:vpc-cni");
        let desired = config().with("addon_version", "v1.20.0-eksbuild.1");
        let changed = ["addon_version".to_owned()];
        let updated = Typed(Addon)
            .update(
                &capture.clients(),
                UpdateRequest {
                    type_name: "aws_eks_addon",
                    identity: &identity,
                    prior: &prior,
                    desired: &desired,
                    changed: &changed,
                    timeout: Duration::from_secs(20 * 60),
                    progress: Progress::noop(),
                },
            )
            .await
            .expect("updated");
        assert_eq!(
            capture.calls(),
            [
                "GET /clusters/airflow-dev/addons/vpc-cni",
                "POST /clusters/airflow-dev/addons/vpc-cni/update",
                "GET /clusters/airflow-dev/updates/u-1",
                "GET /clusters/airflow-dev/updates/u-1",
                "GET /clusters/airflow-dev/addons/vpc-cni",
                "GET /clusters/airflow-dev/addons/vpc-cni",
            ]
        );
        let requests = capture.requests();
        let sent: serde_json::Value = serde_json::from_str(&body(&requests[1])).expect("JSON");
        assert_eq!(sent["addonVersion"], "v1.20.0-eksbuild.1");
        assert_eq!(sent["resolveConflicts"], "PRESERVE");
        assert!(sent.get("configurationValues").is_none(), "{sent}");
        assert!(
            requests[2].uri().contains("addonName=vpc-cni"),
            "{}",
            requests[2].uri()
        );
        assert_eq!(
            updated.opt_str("addon_version").ok().flatten().as_deref(),
            Some("v1.20.0-eksbuild.1")
        );
    }

    #[tokio::test]
    async fn removed_configuration_values_are_sent_empty() {
        let capture = Capture::script([
            addon("ACTIVE", "v1.19.2-eksbuild.1"),
            update("u-2", "Successful"),
            addon("ACTIVE", "v1.19.2-eksbuild.1"),
            addon("ACTIVE", "v1.19.2-eksbuild.1"),
        ]);
        let identity = identity();
        let prior = config().with("id", "airflow-dev:vpc-cni");
        let mut desired = config();
        desired.0.remove("configuration_values");
        let changed = ["configuration_values".to_owned()];
        Typed(Addon)
            .update(
                &capture.clients(),
                UpdateRequest {
                    type_name: "aws_eks_addon",
                    identity: &identity,
                    prior: &prior,
                    desired: &desired,
                    changed: &changed,
                    timeout: Duration::from_secs(20 * 60),
                    progress: Progress::noop(),
                },
            )
            .await
            .expect("updated");
        let sent: serde_json::Value =
            serde_json::from_str(&body(&capture.requests()[1])).expect("JSON");
        assert_eq!(sent["configurationValues"], "");
        assert!(sent.get("addonVersion").is_none(), "{sent}");
    }

    #[tokio::test]
    async fn read_shows_drift_and_gone_after_deletion() {
        let mut drifted = addon("ACTIVE", "v1.18.0-eksbuild.1");
        drifted.1 = drifted.1.replace("\\\"true\\\"", "\\\"false\\\"");
        let capture = Capture::script([drifted, not_found()]);
        let identity = identity();
        let state = config().with("id", "airflow-dev:vpc-cni");
        let clients = capture.clients();
        let read = Typed(Addon)
            .read(
                &clients,
                ReadRequest {
                    type_name: "aws_eks_addon",
                    identity: &identity,
                    state: &state,
                },
            )
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(
            read.opt_str("addon_version").ok().flatten().as_deref(),
            Some("v1.18.0-eksbuild.1")
        );
        let values = read.opt_str("configuration_values").ok().flatten();
        assert!(
            values.as_deref().is_some_and(|v| v.contains("\"false\"")),
            "{values:?}"
        );
        let gone = Typed(Addon)
            .read(
                &clients,
                ReadRequest {
                    type_name: "aws_eks_addon",
                    identity: &identity,
                    state: &state,
                },
            )
            .await
            .expect("read");
        assert!(gone.is_none());
    }

    #[tokio::test]
    async fn find_adopts_only_an_addon_with_this_resource_tags() {
        let capture = Capture::script([
            addon("CREATING", "v1.19.2-eksbuild.1"),
            addon("ACTIVE", "v1.19.2-eksbuild.1"),
            addon("ACTIVE", "v1.19.2-eksbuild.1"),
        ]);
        let clients = capture.clients();
        let (identity, config) = (identity(), config());
        let found = Typed(Addon)
            .find(
                &clients,
                FindRequest {
                    type_name: "aws_eks_addon",
                    identity: &identity,
                    config: &config,
                },
            )
            .await
            .expect("find")
            .expect("found");
        assert_eq!(
            found.opt_str("status").ok().flatten().as_deref(),
            Some("ACTIVE")
        );
        let stranger = ResourceIdentity {
            env: "prod".to_owned(),
            ..identity
        };
        let other = Typed(Addon)
            .find(
                &clients,
                FindRequest {
                    type_name: "aws_eks_addon",
                    identity: &stranger,
                    config: &config,
                },
            )
            .await
            .expect("find");
        assert!(other.is_none());
    }

    #[tokio::test]
    async fn delete_waits_until_gone_and_keeps_objects_when_asked() {
        let capture = Capture::script([
            addon("DELETING", "v1.19.2-eksbuild.1"),
            addon("DELETING", "v1.19.2-eksbuild.1"),
            addon("DELETING", "v1.19.2-eksbuild.1"),
            not_found(),
        ]);
        let identity = identity();
        let state = config()
            .with("id", "airflow-dev:vpc-cni")
            .with("preserve", true);
        Typed(Addon)
            .delete(
                &capture.clients(),
                DeleteRequest {
                    type_name: "aws_eks_addon",
                    identity: &identity,
                    state: &state,
                    timeout: Duration::from_secs(40 * 60),
                    progress: Progress::noop(),
                },
            )
            .await
            .expect("deleted");
        let requests = capture.requests();
        assert_eq!(requests[0].method(), "DELETE");
        assert!(
            requests[0].uri().contains("preserve=true"),
            "{}",
            requests[0].uri()
        );
        assert_eq!(capture.unused(), 0, "waited until EKS no longer knew it");
    }

    #[test]
    fn configuration_values_must_be_json_and_ids_name_both() {
        let plan = |values: &str| {
            Addon.plan(PlanRequest {
                type_name: "aws_eks_addon",
                prior: None,
                desired: &Attrs::new().with("configuration_values", values),
            })
        };
        assert!(plan(CNI_VALUES).is_ok());
        assert!(
            plan("env: {}").is_err(),
            "YAML is not accepted: EKS compares JSON"
        );
        assert_eq!(split_id("main:coredns").ok(), Some(("main", "coredns")));
        assert!(split_id("coredns").is_err());
    }
}
