//! `aws_eks_cluster`: an EKS control plane. Owns CreateCluster (with retries while IAM
//! propagates the cluster role), the in-place updates EKS supports (Kubernetes version,
//! endpoint access, security groups, control-plane logging, tags) and the waits for
//! ACTIVE and for deletion. Node groups are `aws_eks_node_group`'s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_eks::types::{
    Cluster as EksCluster, ClusterStatus, LogSetup, LogType, Logging, Update, VpcConfigRequest,
};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest,
    PlanAdjustments, PlanRequest, Progress, ProviderError, ReadRequest, ResourceSchema, Timeouts,
    UpdateRequest, Value,
};
use serde::Deserialize;

use super::shared::{created_by, keep_order, optional_map, remaining, same_items, sorted, strings};
use super::{IAM_PROPAGATION, role_not_ready, sync_tags, wait_update};
use crate::clients::AwsClients;
use crate::error::{api_error, error_code};
use crate::resource::AwsResource;
use crate::tags::{object_tags, user_visible};
use crate::wait::{Backoff, Check, poll_until};

/// Control-plane changes take 10-15 minutes on AWS: polling faster only spends API quota.
const CLUSTER_POLL: Backoff = Backoff {
    initial: Duration::from_secs(15),
    max: Duration::from_secs(30),
};

/// Every control-plane log type EKS knows, so an update can disable the ones not wanted.
const LOG_TYPES: [&str; 5] = [
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

pub(crate) struct Cluster;

/// The configuration of a cluster, as the stack sets it.
#[derive(Debug, Deserialize)]
struct ClusterConfig {
    name: String,
    role_arn: String,
    version: Option<String>,
    vpc_config: VpcConfig,
    enabled_cluster_log_types: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
struct VpcConfig {
    subnet_ids: Vec<String>,
    security_group_ids: Option<Vec<String>>,
    endpoint_private_access: Option<bool>,
    endpoint_public_access: Option<bool>,
    public_access_cidrs: Option<Vec<String>>,
}

fn vpc_config_schema() -> AttrType {
    AttrType::object([
        (
            "subnet_ids",
            AttrSchema::required(AttrType::list(AttrType::String))
                .force_new()
                .describe("subnets for the control plane's network interfaces (two AZs at least)"),
        ),
        (
            "security_group_ids",
            AttrSchema::optional(AttrType::list(AttrType::String))
                .describe("extra security groups for the control plane's network interfaces"),
        ),
        (
            "endpoint_private_access",
            AttrSchema::optional_computed(AttrType::Bool).describe(
                "whether the API server is reachable from inside the VPC (default false)",
            ),
        ),
        (
            "endpoint_public_access",
            AttrSchema::optional_computed(AttrType::Bool)
                .describe("whether the API server is reachable from the internet (default true)"),
        ),
        (
            "public_access_cidrs",
            AttrSchema::optional_computed(AttrType::list(AttrType::String))
                .describe("CIDR blocks allowed to reach the public endpoint (default 0.0.0.0/0)"),
        ),
    ])
}

#[async_trait]
impl AwsResource for Cluster {
    fn type_name(&self) -> &'static str {
        "aws_eks_cluster"
    }

    fn schema(&self) -> ResourceSchema {
        let computed = |text: &str| AttrSchema::computed(AttrType::String).describe(text);
        ResourceSchema::new("An EKS cluster (the Kubernetes control plane)")
            .attr(
                "name",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("cluster name, unique per account and region"),
            )
            .attr(
                "role_arn",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("IAM role EKS assumes to manage the control plane"),
            )
            .attr(
                "version",
                AttrSchema::optional_computed(AttrType::String).describe(
                    "Kubernetes minor version (e.g. 1.31); upgraded in place, one minor at a time",
                ),
            )
            .attr(
                "vpc_config",
                AttrSchema::required(vpc_config_schema())
                    .describe("networking of the control plane"),
            )
            .attr(
                "enabled_cluster_log_types",
                AttrSchema::optional(AttrType::list(AttrType::enumeration(&LOG_TYPES)))
                    .describe("control-plane logs sent to CloudWatch"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags on the cluster"),
            )
            .attr("arn", computed("ARN of the cluster"))
            .attr("endpoint", computed("URL of the Kubernetes API server"))
            .attr(
                "certificate_authority",
                computed("base64 PEM of the cluster's certificate authority"),
            )
            .attr(
                "oidc_issuer",
                computed("OIDC issuer URL of the cluster, for IRSA"),
            )
            .attr("status", computed("EKS status, e.g. ACTIVE"))
            .attr(
                "platform_version",
                computed("EKS platform version, e.g. eks.5"),
            )
            .attr(
                "cluster_security_group_id",
                computed("security group EKS created for the cluster"),
            )
            .attr("vpc_id", computed("VPC of the cluster's subnets"))
            .timeouts(Timeouts {
                create: Duration::from_secs(30 * 60),
                update: Duration::from_secs(60 * 60),
                delete: Duration::from_secs(15 * 60),
            })
    }

    /// `vpc_config.subnet_ids` cannot change in place; the engine only knows top-level
    /// `force_new`, so the nested one is declared here.
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        let Some(prior) = request.prior else {
            return Ok(PlanAdjustments::default());
        };
        let desired = request
            .desired
            .get("vpc_config")
            .and_then(|v| v.get("subnet_ids"));
        let replace = match desired {
            Some(value) if value.contains_unknown() => true,
            desired => {
                let before = strings(
                    prior
                        .get("vpc_config")
                        .and_then(|v| v.get("subnet_ids"))
                        .as_ref(),
                );
                let after = strings(desired.as_ref());
                !same_items(&before, &after)
            }
        };
        Ok(PlanAdjustments {
            requires_replace: if replace {
                vec!["vpc_config.subnet_ids".to_owned()]
            } else {
                Vec::new()
            },
            ..PlanAdjustments::default()
        })
    }

    async fn read(
        &self,
        aws: &AwsClients,
        request: ReadRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let name = request.state.str("name")?;
        Ok(describe(&aws.eks, &name)
            .await?
            .filter(|c| c.status() != Some(&ClusterStatus::Deleting))
            .map(|c| attributes(&c, request.state, &aws.default_tags)))
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: CreateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let config: ClusterConfig = request.config.decode()?;
        let deadline = Instant::now() + request.timeout;
        let tags = object_tags(
            request.identity,
            &aws.default_tags,
            &config.tags.clone().unwrap_or_default(),
        );
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(config.vpc_config.subnet_ids.clone()))
            .set_security_group_ids(config.vpc_config.security_group_ids.clone())
            .set_endpoint_private_access(config.vpc_config.endpoint_private_access)
            .set_endpoint_public_access(config.vpc_config.endpoint_public_access)
            .set_public_access_cidrs(config.vpc_config.public_access_cidrs.clone());
        let log_types = config.enabled_cluster_log_types.clone().unwrap_or_default();
        let call = aws
            .eks
            .create_cluster()
            .name(&config.name)
            .role_arn(&config.role_arn)
            .set_version(config.version.clone())
            .resources_vpc_config(vpc.build())
            .set_logging((!log_types.is_empty()).then(|| logging(&log_types)))
            .set_tags(Some(tags.into_iter().collect()));
        poll_until(
            &format!("IAM role {} to be assumable by EKS", config.role_arn),
            IAM_PROPAGATION.min(request.timeout),
            Backoff {
                initial: Duration::from_secs(5),
                max: Duration::from_secs(15),
            },
            &request.progress,
            || {
                let call = call.clone();
                async move {
                    match call.send().await {
                        Ok(_) => Ok(Check::Done(())),
                        Err(err) if role_not_ready(&err) => Ok(Check::Waiting(
                            api_error("eks:CreateCluster", err).to_string(),
                        )),
                        Err(err) => Err(api_error("eks:CreateCluster", err)),
                    }
                }
            },
        )
        .await?;
        let cluster = wait_active(
            &aws.eks,
            &config.name,
            remaining(deadline),
            &request.progress,
        )
        .await?;
        Ok(attributes(&cluster, request.config, &aws.default_tags))
    }

    async fn update(
        &self,
        aws: &AwsClients,
        request: UpdateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let desired: ClusterConfig = request.desired.decode()?;
        let name = desired.name.as_str();
        let deadline = Instant::now() + request.timeout;
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        let progress = &request.progress;

        if changed("version")
            && let Some(version) = &desired.version
        {
            let update = start_version_update(&aws.eks, name, version).await?;
            wait_update(&aws.eks, name, None, &update, remaining(deadline), progress).await?;
            wait_active(&aws.eks, name, remaining(deadline), progress).await?;
        }
        if changed("vpc_config") {
            let prior: VpcConfig = request.prior.opt_decode("vpc_config")?.unwrap_or_default();
            for vpc in vpc_updates(&prior, &desired.vpc_config) {
                aws.eks
                    .update_cluster_config()
                    .name(name)
                    .resources_vpc_config(vpc)
                    .send()
                    .await
                    .map_err(|e| api_error("eks:UpdateClusterConfig", e))?;
                wait_active(&aws.eks, name, remaining(deadline), progress).await?;
            }
        }
        if changed("enabled_cluster_log_types") {
            let wanted = desired
                .enabled_cluster_log_types
                .clone()
                .unwrap_or_default();
            aws.eks
                .update_cluster_config()
                .name(name)
                .logging(logging(&wanted))
                .send()
                .await
                .map_err(|e| api_error("eks:UpdateClusterConfig", e))?;
            wait_active(&aws.eks, name, remaining(deadline), progress).await?;
        }
        let cluster = describe(&aws.eks, name).await?.ok_or_else(|| gone(name))?;
        if changed("tags") {
            let arn = cluster.arn().unwrap_or_default();
            let wanted = object_tags(
                request.identity,
                &aws.default_tags,
                &desired.tags.clone().unwrap_or_default(),
            );
            sync_tags(&aws.eks, arn, &sorted(cluster.tags()), &wanted).await?;
        }
        let cluster = describe(&aws.eks, name).await?.ok_or_else(|| gone(name))?;
        Ok(attributes(&cluster, request.desired, &aws.default_tags))
    }

    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let name = request.state.str("name")?;
        match aws.eks.delete_cluster().name(&name).send().await {
            Ok(_) => {}
            Err(err) if error_code(&err) == Some("ResourceNotFoundException") => return Ok(()),
            // A delete already under way (an earlier run was interrupted) is waited on.
            Err(err) if error_code(&err) == Some("ResourceInUseException") => {
                let deleting = describe(&aws.eks, &name)
                    .await?
                    .is_some_and(|c| c.status() == Some(&ClusterStatus::Deleting));
                if !deleting {
                    return Err(api_error("eks:DeleteCluster", err));
                }
            }
            Err(err) => return Err(api_error("eks:DeleteCluster", err)),
        }
        poll_until(
            &format!("EKS cluster {name} to be deleted"),
            request.timeout,
            CLUSTER_POLL,
            &request.progress,
            || async {
                Ok(match describe(&aws.eks, &name).await? {
                    None => Check::Done(()),
                    Some(cluster) => Check::Waiting(format!("status {}", status(&cluster))),
                })
            },
        )
        .await
    }

    async fn find(
        &self,
        aws: &AwsClients,
        request: FindRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let name = request.config.str("name")?;
        Ok(describe(&aws.eks, &name)
            .await?
            .filter(|c| c.status() != Some(&ClusterStatus::Deleting))
            .filter(|c| created_by(request.identity, &sorted(c.tags())))
            .map(|c| attributes(&c, request.config, &aws.default_tags)))
    }

    async fn import(
        &self,
        aws: &AwsClients,
        request: ImportRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let cluster = describe(&aws.eks, request.id)
            .await?
            .ok_or_else(|| gone(request.id))?;
        Ok(attributes(&cluster, &Attrs::new(), &aws.default_tags))
    }
}

fn gone(name: &str) -> ProviderError {
    ProviderError::api(
        "eks:DescribeCluster",
        Some("ResourceNotFoundException".to_owned()),
        format!("No cluster found for name: {name}."),
    )
}

async fn describe(
    eks: &aws_sdk_eks::Client,
    name: &str,
) -> Result<Option<EksCluster>, ProviderError> {
    match eks.describe_cluster().name(name).send().await {
        Ok(out) => Ok(out.cluster),
        Err(err) if error_code(&err) == Some("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(api_error("eks:DescribeCluster", err)),
    }
}

fn status(cluster: &EksCluster) -> &str {
    cluster.status().map_or("unknown", ClusterStatus::as_str)
}

/// Waits until the cluster is ACTIVE; FAILED ends the wait with the health issues EKS
/// reports.
async fn wait_active(
    eks: &aws_sdk_eks::Client,
    name: &str,
    timeout: Duration,
    progress: &Progress,
) -> Result<EksCluster, ProviderError> {
    poll_until(
        &format!("EKS cluster {name} to become ACTIVE"),
        timeout,
        CLUSTER_POLL,
        progress,
        || async {
            let cluster = describe(eks, name).await?.ok_or_else(|| gone(name))?;
            match cluster.status() {
                Some(ClusterStatus::Active) => Ok(Check::Done(cluster)),
                Some(ClusterStatus::Failed) => {
                    let issues: Vec<String> = cluster
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
                    Err(ProviderError::Other(format!(
                        "EKS cluster {name} is FAILED: {}",
                        if issues.is_empty() {
                            "no health issue reported".to_owned()
                        } else {
                            issues.join("; ")
                        }
                    )))
                }
                _ => Ok(Check::Waiting(format!("status {}", status(&cluster)))),
            }
        },
    )
    .await
}

/// Starts an upgrade of the control plane to `version` (moto does not implement it) and
/// returns the update to follow.
async fn start_version_update(
    eks: &aws_sdk_eks::Client,
    name: &str,
    version: &str,
) -> Result<Update, ProviderError> {
    eks.update_cluster_version()
        .name(name)
        .version(version)
        .send()
        .await
        .map(|out| out.update.unwrap_or_else(|| Update::builder().build()))
        .map_err(|e| api_error("eks:UpdateClusterVersion", e))
}

/// The UpdateClusterConfig calls that bring the VPC configuration from `prior` to
/// `desired`: one for endpoint access, one for security groups, since EKS applies one
/// kind of change per update. Subnets are replaced, never updated (see `plan`).
fn vpc_updates(prior: &VpcConfig, desired: &VpcConfig) -> Vec<VpcConfigRequest> {
    let mut updates = Vec::new();
    let differs = |want: Option<bool>, had: Option<bool>| want.is_some() && want != had;
    let cidrs_differ = desired.public_access_cidrs.as_ref().is_some_and(|want| {
        !same_items(&prior.public_access_cidrs.clone().unwrap_or_default(), want)
    });
    if differs(
        desired.endpoint_private_access,
        prior.endpoint_private_access,
    ) || differs(desired.endpoint_public_access, prior.endpoint_public_access)
        || cidrs_differ
    {
        updates.push(
            VpcConfigRequest::builder()
                .set_endpoint_private_access(desired.endpoint_private_access)
                .set_endpoint_public_access(desired.endpoint_public_access)
                .set_public_access_cidrs(desired.public_access_cidrs.clone())
                .build(),
        );
    }
    let had = prior.security_group_ids.clone().unwrap_or_default();
    let want = desired.security_group_ids.clone().unwrap_or_default();
    if !same_items(&had, &want) {
        updates.push(
            VpcConfigRequest::builder()
                .set_security_group_ids(Some(want))
                .build(),
        );
    }
    updates
}

/// Logging with exactly `enabled` turned on and every other log type turned off.
fn logging(enabled: &[String]) -> Logging {
    let disabled: Vec<LogType> = LOG_TYPES
        .iter()
        .filter(|t| !enabled.iter().any(|e| e == *t))
        .map(|t| LogType::from(*t))
        .collect();
    let enabled: Vec<LogType> = enabled.iter().map(|t| LogType::from(t.as_str())).collect();
    let setup = |types: Vec<LogType>, on: bool| {
        LogSetup::builder()
            .set_types(Some(types))
            .enabled(on)
            .build()
    };
    let mut setups = Vec::new();
    if !enabled.is_empty() {
        setups.push(setup(enabled, true));
    }
    if !disabled.is_empty() {
        setups.push(setup(disabled, false));
    }
    Logging::builder().set_cluster_logging(Some(setups)).build()
}

/// The cluster as attributes. `order` (the configuration or prior state) decides the
/// order of unordered lists that hold the same items.
fn attributes(
    cluster: &EksCluster,
    order: &Attrs,
    default_tags: &BTreeMap<String, String>,
) -> Attrs {
    let prior_vpc = order.get("vpc_config");
    let prior_list = |key: &str| strings(prior_vpc.and_then(|v| v.get(key)).as_ref());
    // The engine compares `vpc_config` as a whole: a defaulted field the stack leaves out
    // is reported only when nothing was configured at all (an import), or every plan would
    // show it as a change.
    let configured = |key: &str| {
        prior_vpc
            .and_then(Value::as_map)
            .is_none_or(|m| m.get(key).is_some_and(|v| !v.is_null()))
    };
    let vpc = cluster.resources_vpc_config();
    let list = |items: Vec<String>| Value::from(items);
    let mut vpc_config = BTreeMap::new();
    if let Some(vpc) = vpc {
        vpc_config.insert(
            "subnet_ids".to_owned(),
            list(keep_order(
                prior_list("subnet_ids"),
                vpc.subnet_ids().to_vec(),
            )),
        );
        let groups = keep_order(
            prior_list("security_group_ids"),
            vpc.security_group_ids().to_vec(),
        );
        if !groups.is_empty() {
            vpc_config.insert("security_group_ids".to_owned(), list(groups));
        }
        if configured("endpoint_private_access") {
            vpc_config.insert(
                "endpoint_private_access".to_owned(),
                Value::Bool(vpc.endpoint_private_access()),
            );
        }
        if configured("endpoint_public_access") {
            vpc_config.insert(
                "endpoint_public_access".to_owned(),
                Value::Bool(vpc.endpoint_public_access()),
            );
        }
        if configured("public_access_cidrs") {
            vpc_config.insert(
                "public_access_cidrs".to_owned(),
                list(keep_order(
                    prior_list("public_access_cidrs"),
                    vpc.public_access_cidrs().to_vec(),
                )),
            );
        }
    }
    let log_types: Vec<String> = cluster
        .logging()
        .map(|l| l.cluster_logging())
        .unwrap_or_default()
        .iter()
        .filter(|setup| setup.enabled() == Some(true))
        .flat_map(|setup| setup.types().iter().map(|t| t.as_str().to_owned()))
        .collect();
    let log_types = keep_order(strings(order.get("enabled_cluster_log_types")), log_types);
    let name = cluster.name().unwrap_or_default();
    Attrs::new()
        .with("id", name)
        .with("name", name)
        .with("role_arn", cluster.role_arn())
        .with("version", cluster.version())
        .with("vpc_config", Value::Map(vpc_config))
        .with(
            "enabled_cluster_log_types",
            if log_types.is_empty() {
                Value::Null
            } else {
                Value::from(log_types)
            },
        )
        .with(
            "tags",
            optional_map(user_visible(sorted(cluster.tags()), default_tags)),
        )
        .with("arn", cluster.arn())
        .with("endpoint", cluster.endpoint())
        .with(
            "certificate_authority",
            cluster.certificate_authority().and_then(|c| c.data()),
        )
        .with(
            "oidc_issuer",
            cluster
                .identity()
                .and_then(|i| i.oidc())
                .and_then(|o| o.issuer()),
        )
        .with("status", cluster.status().map(ClusterStatus::as_str))
        .with("platform_version", cluster.platform_version())
        .with(
            "cluster_security_group_id",
            vpc.and_then(|v| v.cluster_security_group_id()),
        )
        .with("vpc_id", vpc.and_then(|v| v.vpc_id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::capture::{Capture, body, captured_client};

    #[tokio::test]
    async fn version_update_sends_name_in_path_and_version_in_body() {
        let capture = Capture::answering(
            200,
            r#"{"update":{"id":"u-1","status":"InProgress","type":"VersionUpdate"}}"#,
        );
        let eks = captured_client!(aws_sdk_eks, capture);
        let update = start_version_update(&eks, "airflow-dev", "1.31")
            .await
            .expect("accepted");
        assert_eq!(update.id(), Some("u-1"), "the update to follow is returned");
        let sent = capture.only_request();
        assert_eq!(sent.method(), "POST");
        assert!(
            sent.uri().ends_with("/clusters/airflow-dev/updates"),
            "{}",
            sent.uri()
        );
        let json: serde_json::Value = serde_json::from_str(&body(&sent)).expect("JSON body");
        assert_eq!(json["version"], "1.31");
    }

    #[test]
    fn endpoint_and_security_group_changes_are_separate_updates() {
        let prior = VpcConfig {
            subnet_ids: vec!["subnet-a".to_owned()],
            security_group_ids: Some(vec!["sg-1".to_owned()]),
            endpoint_private_access: Some(false),
            endpoint_public_access: Some(true),
            public_access_cidrs: Some(vec!["0.0.0.0/0".to_owned()]),
        };
        let desired = VpcConfig {
            endpoint_private_access: Some(true),
            security_group_ids: Some(vec!["sg-2".to_owned()]),
            ..VpcConfig {
                subnet_ids: prior.subnet_ids.clone(),
                ..VpcConfig::default()
            }
        };
        let updates = vpc_updates(&prior, &desired);
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].endpoint_private_access(), Some(true));
        assert!(updates[0].security_group_ids().is_empty());
        assert!(updates[0].subnet_ids().is_empty());
        assert_eq!(updates[1].security_group_ids(), ["sg-2".to_owned()]);
        assert!(
            vpc_updates(
                &prior,
                &VpcConfig {
                    security_group_ids: Some(vec!["sg-1".to_owned()]),
                    ..VpcConfig::default()
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn logging_turns_off_what_is_not_enabled() {
        let setups = logging(&["api".to_owned(), "audit".to_owned()]);
        let on: Vec<&str> = setups.cluster_logging()[0]
            .types()
            .iter()
            .map(LogType::as_str)
            .collect();
        let off: Vec<&str> = setups.cluster_logging()[1]
            .types()
            .iter()
            .map(LogType::as_str)
            .collect();
        assert_eq!(on, ["api", "audit"]);
        assert_eq!(off, ["authenticator", "controllerManager", "scheduler"]);
    }

    #[test]
    fn changed_subnets_force_replacement() {
        let with_subnets = |ids: &[&str]| {
            let mut vpc = BTreeMap::new();
            vpc.insert("subnet_ids".to_owned(), Value::from(ids.to_vec()));
            Attrs::new().with("vpc_config", Value::Map(vpc))
        };
        let prior = with_subnets(&["a", "b"]);
        let plan = |desired: &Attrs| {
            Cluster
                .plan(PlanRequest {
                    type_name: "aws_eks_cluster",
                    prior: Some(&prior),
                    desired,
                })
                .map(|p| p.requires_replace)
                .unwrap_or_default()
        };
        assert!(plan(&with_subnets(&["b", "a"])).is_empty());
        assert_eq!(plan(&with_subnets(&["a", "c"])), ["vpc_config.subnet_ids"]);
        assert_eq!(plan(&with_subnets(&["a"])), ["vpc_config.subnet_ids"]);
    }
}
