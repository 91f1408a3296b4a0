//! `aws_eks_cluster`: an EKS control plane. Owns CreateCluster (with retries while IAM
//! propagates the cluster role, and API-and-ConfigMap access with the creator as cluster
//! admin), the in-place updates EKS supports (Kubernetes version, subnets, endpoint
//! access, security groups, control-plane logging, tags, envelope encryption of Secrets
//! added once), each followed to its end by its update id, and the waits for ACTIVE and
//! for deletion. Node groups are `aws_eks_node_group`'s.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eks::types::{
    AuthenticationMode, Cluster as EksCluster, ClusterStatus, CreateAccessConfigRequest,
    EncryptionConfig as EksEncryptionConfig, LogSetup, LogType, Logging, Provider, Update,
    VpcConfigRequest,
};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, ProviderError,
    ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::{IAM_PROPAGATION, role_not_ready, sync_tags, wait_update};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, client_token, create_once, once};
use crate::error::{api_error, error_code, found};
use crate::resource::{AwsType, Readiness, Typed};
use crate::resource::{keep_order, map_attribute, same_items, strings};
use crate::tags::{created_by, sorted};
use crate::tags::{object_tags, user_visible};
use crate::wait::{Backoff, deadline, remaining};

/// How long a create may take; also how long `find` waits for a cluster an interrupted
/// apply left creating.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

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
    encryption_config: Option<EncryptionConfig>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Envelope encryption of Kubernetes Secrets with a KMS key.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct EncryptionConfig {
    resources: Vec<String>,
    provider_key_arn: String,
}

impl EncryptionConfig {
    fn sdk(&self) -> EksEncryptionConfig {
        EksEncryptionConfig::builder()
            .set_resources(Some(self.resources.clone()))
            .provider(Provider::builder().key_arn(&self.provider_key_arn).build())
            .build()
    }
}

fn encryption_config_schema() -> AttrType {
    AttrType::object([
        (
            "resources",
            AttrSchema::required(AttrType::list(AttrType::enumeration(&["secrets"])))
                .describe("what is encrypted: [\"secrets\"] (the only kind EKS supports)"),
        ),
        (
            "provider_key_arn",
            AttrSchema::required(AttrType::String).describe(
                "ARN of the symmetric KMS key that wraps the data keys (in the cluster's region)",
            ),
        ),
    ])
}

/// EKS refuses a control plane with fewer than two subnets (in two AZs). The count is
/// known at plan even when the ids are not, so a stack whose subnet lookup matched nothing
/// (`data.aws_subnets` with the wrong tags) fails its plan, not the create.
fn check_subnet_count(desired: &Attrs) -> Result<(), ProviderError> {
    let Some(Value::Map(vpc)) = desired.get("vpc_config") else {
        return Ok(());
    };
    match vpc.get("subnet_ids") {
        Some(Value::List(ids)) if ids.len() < 2 => Err(ProviderError::invalid(
            "vpc_config.subnet_ids",
            if ids.is_empty() {
                "has no subnets: EKS needs at least two, in two availability zones (did a \
                 subnet lookup match nothing?)"
            } else {
                "has 1 subnet: EKS needs at least two, in two availability zones"
            },
        )),
        _ => Ok(()),
    }
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
            AttrSchema::required(AttrType::list(AttrType::String)).describe(
                "subnets for the control plane's network interfaces (two AZs at least); \
                 changed in place, within the cluster's VPC",
            ),
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
impl AwsType for Cluster {
    type Object = EksCluster;
    const TYPE_NAME: &'static str = "aws_eks_cluster";
    const KIND: &'static str = "EKS cluster";
    const GONE: &'static [&'static str] = &["ResourceNotFoundException"];
    /// The cluster's name.
    const ID: &'static str = "name";
    const WAIT_GONE: bool = true;
    /// Control-plane changes take 10-15 minutes on AWS: polling faster only spends API
    /// quota.
    const BACKOFF: Backoff = Backoff {
        initial: Duration::from_secs(15),
        max: Duration::from_secs(30),
    };

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
                "encryption_config",
                AttrSchema::optional(encryption_config_schema()).describe(
                    "envelope encryption of Kubernetes Secrets with a KMS key; can be added to \
                     a running cluster, never changed or removed",
                ),
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
                create: CREATE_TIMEOUT,
                update: Duration::from_secs(60 * 60),
                delete: Duration::from_secs(15 * 60),
            })
    }

    /// EKS can add envelope encryption to a cluster, never change or remove it: a plan
    /// that would is refused, naming the way out.
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        check_subnet_count(request.desired)?;
        let Some(prior) = request.prior.and_then(|p| p.get("encryption_config")) else {
            return Ok(PlanAdjustments::default());
        };
        match request.desired.get("encryption_config") {
            Some(desired) if desired.contains_unknown() || desired == prior => {
                Ok(PlanAdjustments::default())
            }
            Some(_) => Err(ProviderError::invalid(
                "encryption_config",
                "cannot be changed: EKS keeps a cluster's Secrets encryption key for the \
                 cluster's life (put the recorded key back, or destroy and re-create the \
                 cluster)",
            )),
            None => Err(ProviderError::invalid(
                "encryption_config",
                "cannot be removed: EKS never turns off Secrets encryption on a cluster \
                 (keep it in the stack, or destroy and re-create the cluster)",
            )),
        }
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        name: &str,
    ) -> Result<Option<EksCluster>, ProviderError> {
        describe(&aws.eks, name).await
    }

    fn deletion(&self, cluster: &EksCluster) -> Readiness {
        Readiness::Waiting(format!("status {}", status(cluster)))
    }

    fn is_live(&self, cluster: &EksCluster) -> bool {
        cluster.status() != Some(&ClusterStatus::Deleting)
    }

    /// ACTIVE with its endpoint and CA (what the Kubernetes provider needs to connect);
    /// FAILED fails with the health issues EKS reports.
    async fn readiness(&self, _aws: &AwsClients, cluster: &EksCluster) -> Readiness {
        if is_usable(cluster) {
            return Readiness::Ready;
        }
        if cluster.status() != Some(&ClusterStatus::Failed) {
            return Readiness::Waiting(format!("status {}", status(cluster)));
        }
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
        Readiness::Failed(ProviderError::Other(format!(
            "EKS cluster {} is FAILED: {}",
            cluster.name().unwrap_or_default(),
            if issues.is_empty() {
                "no health issue reported".to_owned()
            } else {
                issues.join("; ")
            }
        )))
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        cluster: &EksCluster,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        Ok(attributes(
            cluster,
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
        let name = decode_config::<ClusterConfig>(config)?.name;
        Ok(describe(&aws.eks, &name)
            .await?
            .filter(|c| self.is_live(c) && created_by(identity, &sorted(c.tags())))
            .map(|_| name)
            .into_iter()
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: ClusterConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(config.vpc_config.subnet_ids.clone()))
            .set_security_group_ids(config.vpc_config.security_group_ids.clone())
            .set_endpoint_private_access(config.vpc_config.endpoint_private_access)
            .set_endpoint_public_access(config.vpc_config.endpoint_public_access)
            .set_public_access_cidrs(config.vpc_config.public_access_cidrs.clone());
        let log_types = config.enabled_cluster_log_types.clone().unwrap_or_default();
        let token = client_token();
        let call = aws
            .eks
            .create_cluster()
            .client_request_token(&token)
            .name(&config.name)
            .role_arn(&config.role_arn)
            .set_version(config.version.clone())
            .resources_vpc_config(vpc.build())
            .set_logging((!log_types.is_empty()).then(|| logging(&log_types)))
            .access_config(access_config())
            .set_encryption_config(config.encryption_config.as_ref().map(|e| vec![e.sdk()]))
            .set_tags(Some(tags.into_iter().collect()));
        // EKS refuses a role it cannot assume yet (IAM propagation): retried.
        create_once(
            CreateCall::new("eks:CreateCluster", Self::KIND, &request.progress)
                .with_token()
                .retrying_for(IAM_PROPAGATION.min(request.timeout)),
            role_not_ready,
            || call.clone().customize().config_override(once::eks()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        Ok(config.name)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &EksCluster,
        name: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: ClusterConfig = decode_config(request.desired)?;
        let deadline = deadline(request.timeout);
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        let progress = &request.progress;

        if changed("version")
            && let Some(version) = &desired.version
        {
            let update = start_version_update(&aws.eks, name, version).await?;
            wait_update(&aws.eks, name, None, &update, remaining(deadline), progress).await?;
            Typed(Cluster)
                .wait_usable(aws, name, remaining(deadline), progress)
                .await?;
        }
        let mut config_updates = Vec::new();
        if changed("vpc_config") {
            let prior: VpcConfig = request.prior.opt_decode("vpc_config")?.unwrap_or_default();
            for vpc in vpc_updates(&prior, &desired.vpc_config) {
                config_updates.push(aws.eks.update_cluster_config().resources_vpc_config(vpc));
            }
        }
        if changed("enabled_cluster_log_types") {
            let wanted = desired
                .enabled_cluster_log_types
                .clone()
                .unwrap_or_default();
            config_updates.push(aws.eks.update_cluster_config().logging(logging(&wanted)));
        }
        // EKS runs one update of a cluster at a time: each is followed to its end.
        for call in config_updates {
            let update = call
                .name(name)
                .send()
                .await
                .map_err(|e| api_error("eks:UpdateClusterConfig", e))?
                .update
                .unwrap_or_else(|| Update::builder().build());
            wait_update(&aws.eks, name, None, &update, remaining(deadline), progress).await?;
            Typed(Cluster)
                .wait_usable(aws, name, remaining(deadline), progress)
                .await?;
        }
        // Added to a cluster without one (`plan` refuses any other change): EKS
        // re-encrypts every Secret in the background, which takes minutes.
        if changed("encryption_config")
            && current.encryption_config().is_empty()
            && let Some(encryption) = &desired.encryption_config
        {
            let update = aws
                .eks
                .associate_encryption_config()
                .cluster_name(name)
                .encryption_config(encryption.sdk())
                .client_request_token(client_token())
                .send()
                .await
                .map_err(|e| api_error("eks:AssociateEncryptionConfig", e))?
                .update
                .unwrap_or_else(|| Update::builder().build());
            wait_update(&aws.eks, name, None, &update, remaining(deadline), progress).await?;
            Typed(Cluster)
                .wait_usable(aws, name, remaining(deadline), progress)
                .await?;
        }
        if changed("tags") {
            let arn = current.arn().unwrap_or_default();
            let wanted = object_tags(request.identity, &aws.default_tags, &desired.tags);
            sync_tags(&aws.eks, arn, &sorted(current.tags()), &wanted).await?;
        }
        Ok(())
    }

    /// Node groups are gone by now, and with them what could still delete the volumes of
    /// persistent volume claims: name those left (see [`crate::network::report_volumes`]).
    async fn before_delete(
        &self,
        aws: &AwsClients,
        name: &str,
        request: &cairn_provider_core::DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        crate::network::report_volumes(aws, name, &request.progress).await;
        Ok(())
    }

    /// A delete already under way (an earlier run was interrupted) is waited on.
    async fn delete_call(
        &self,
        aws: &AwsClients,
        name: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        match aws.eks.delete_cluster().name(name).send().await {
            Ok(_) => Ok(()),
            Err(err) if error_code(&err) == Some("ResourceInUseException") => {
                let deleting = describe(&aws.eks, name)
                    .await?
                    .is_some_and(|c| c.status() == Some(&ClusterStatus::Deleting));
                if deleting {
                    Ok(())
                } else {
                    Err(api_error("eks:DeleteCluster", err))
                }
            }
            Err(err) => Err(api_error("eks:DeleteCluster", err)),
        }
    }
}

async fn describe(
    eks: &aws_sdk_eks::Client,
    name: &str,
) -> Result<Option<EksCluster>, ProviderError> {
    found(
        "eks:DescribeCluster",
        &["ResourceNotFoundException"],
        eks.describe_cluster().name(name).send().await,
        |out| out.cluster,
    )
}

fn status(cluster: &EksCluster) -> &str {
    cluster.status().map_or("unknown", ClusterStatus::as_str)
}

/// ACTIVE with its endpoint and CA: what the Kubernetes provider needs to connect.
fn is_usable(cluster: &EksCluster) -> bool {
    cluster.status() == Some(&ClusterStatus::Active)
        && cluster.endpoint().is_some_and(|e| !e.is_empty())
        && cluster
            .certificate_authority()
            .and_then(|c| c.data())
            .is_some_and(|d| !d.is_empty())
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

/// Access through both EKS access entries and the aws-auth ConfigMap, with the identity
/// that creates the cluster made its admin (eksctl's default): admins can be added
/// through the API later, and cairn's own token works at once.
fn access_config() -> CreateAccessConfigRequest {
    CreateAccessConfigRequest::builder()
        .authentication_mode(AuthenticationMode::ApiAndConfigMap)
        .bootstrap_cluster_creator_admin_permissions(true)
        .build()
}

/// The UpdateClusterConfig calls that bring the VPC configuration from `prior` to
/// `desired`: one for endpoint access, one for subnets and security groups (EKS applies
/// one kind of change per update). EKS checks that new subnets are in the cluster's VPC
/// and availability zones, and refuses the update otherwise.
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
    let groups_differ = !same_items(&had, &want);
    let subnets_differ = !same_items(&prior.subnet_ids, &desired.subnet_ids);
    if groups_differ || subnets_differ {
        updates.push(
            VpcConfigRequest::builder()
                .set_subnet_ids(subnets_differ.then(|| desired.subnet_ids.clone()))
                .set_security_group_ids(groups_differ.then_some(want))
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
            "encryption_config",
            cluster.encryption_config().first().map(|e| {
                Value::Map(BTreeMap::from([
                    ("resources".to_owned(), Value::from(e.resources().to_vec())),
                    (
                        "provider_key_arn".to_owned(),
                        Value::from(e.provider().and_then(Provider::key_arn)),
                    ),
                ]))
            }),
        )
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
            map_attribute(
                user_visible(sorted(cluster.tags()), default_tags),
                Some(order),
                "tags",
            ),
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
                    subnet_ids: vec!["subnet-a".to_owned()],
                    security_group_ids: Some(vec!["sg-1".to_owned()]),
                    ..VpcConfig::default()
                }
            )
            .is_empty()
        );
    }

    /// EKS updates a cluster's subnets in place (within its VPC): no replacement, one
    /// update that sends only the new subnets.
    #[test]
    fn changed_subnets_update_in_place() {
        let schema = Cluster.schema();
        let vpc = schema.attributes.get("vpc_config").expect("vpc_config");
        let AttrType::Object(fields) = &vpc.ty else {
            panic!("vpc_config is an object");
        };
        assert!(
            !fields["subnet_ids"].force_new,
            "subnet_ids must not force a new cluster"
        );
        let prior = VpcConfig {
            subnet_ids: vec!["subnet-a".to_owned(), "subnet-b".to_owned()],
            security_group_ids: Some(vec!["sg-1".to_owned()]),
            ..VpcConfig::default()
        };
        let desired = VpcConfig {
            subnet_ids: vec!["subnet-a".to_owned(), "subnet-c".to_owned()],
            security_group_ids: Some(vec!["sg-1".to_owned()]),
            ..VpcConfig::default()
        };
        let updates = vpc_updates(&prior, &desired);
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].subnet_ids(), ["subnet-a", "subnet-c"]);
        assert!(updates[0].security_group_ids().is_empty());
        let reordered = VpcConfig {
            subnet_ids: vec!["subnet-b".to_owned(), "subnet-a".to_owned()],
            security_group_ids: Some(vec!["sg-1".to_owned()]),
            ..VpcConfig::default()
        };
        assert!(vpc_updates(&prior, &reordered).is_empty());
    }

    fn encryption(key: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("resources".to_owned(), Value::from(vec!["secrets"])),
            ("provider_key_arn".to_owned(), Value::from(key)),
        ]))
    }

    #[test]
    fn encryption_can_be_added_never_changed_or_removed() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/k-1";
        let plan = |prior: Option<Attrs>, desired: Attrs| {
            Cluster.plan(PlanRequest {
                type_name: "aws_eks_cluster",
                prior: prior.as_ref(),
                desired: &desired,
            })
        };
        let with = |value: Value| Attrs::new().with("encryption_config", value);
        assert!(plan(None, with(encryption(key))).is_ok(), "at create");
        assert!(
            plan(Some(Attrs::new()), with(encryption(key))).is_ok(),
            "added later"
        );
        assert!(plan(Some(with(encryption(key))), with(encryption(key))).is_ok());
        assert!(plan(Some(with(encryption(key))), with(Value::Unknown)).is_ok());
        let removed = plan(Some(with(encryption(key))), Attrs::new())
            .expect_err("removal refused")
            .to_string();
        assert!(removed.contains("cannot be removed"), "{removed}");
        let changed = plan(
            Some(with(encryption(key))),
            with(encryption("arn:aws:kms:us-east-1:123456789012:key/k-2")),
        )
        .expect_err("change refused")
        .to_string();
        assert!(changed.contains("cannot be changed"), "{changed}");
    }

    #[test]
    fn fewer_than_two_subnets_fail_the_plan() {
        let plan = |ids: Value| {
            let vpc = Value::Map(BTreeMap::from([("subnet_ids".to_owned(), ids)]));
            Cluster.plan(PlanRequest {
                type_name: "aws_eks_cluster",
                prior: None,
                desired: &Attrs::new().with("vpc_config", vpc),
            })
        };
        let none = plan(Value::List(Vec::new()))
            .expect_err("no subnets refused")
            .to_string();
        assert!(none.contains("has no subnets"), "{none}");
        assert!(plan(Value::from(vec!["subnet-a"])).is_err());
        assert!(plan(Value::List(vec![Value::Unknown, Value::Unknown])).is_ok());
        assert!(plan(Value::Unknown).is_ok(), "a list not known yet");
        assert!(plan(Value::from(vec!["subnet-a", "subnet-b"])).is_ok());
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

    mod scripted {
        //! Real EKS's answers, played by the capture: what cairn sends, and when it
        //! stops waiting.

        use super::*;
        use crate::eks::capture::{create_request, json_error};
        use crate::resource::AwsResource;
        use cairn_provider_core::{FindRequest, Progress};

        fn identity() -> ResourceIdentity {
            ResourceIdentity {
                stack: "airflow".to_owned(),
                env: "dev".to_owned(),
                address: "aws_eks_cluster.main".to_owned(),
            }
        }

        fn config() -> Attrs {
            Attrs::new()
                .with("name", "airflow-dev")
                .with(
                    "role_arn",
                    "arn:aws:iam::123456789012:role/airflow-dev-cluster",
                )
                .with("version", "1.33")
                .with(
                    "vpc_config",
                    Value::Map(BTreeMap::from([(
                        "subnet_ids".to_owned(),
                        Value::from(vec!["subnet-a", "subnet-b"]),
                    )])),
                )
        }

        /// DescribeCluster's answer for a cluster in `status`; endpoint and CA only once
        /// ACTIVE, as on AWS.
        fn cluster(status: &str) -> (u16, String) {
            let mut cluster = serde_json::json!({
                "name": "airflow-dev",
                "arn": "arn:aws:eks:us-east-1:123456789012:cluster/airflow-dev",
                "status": status,
                "version": "1.33",
                "roleArn": "arn:aws:iam::123456789012:role/airflow-dev-cluster",
                "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"], "vpcId": "vpc-1"},
                "tags": identity().tags(),
            });
            if status == "ACTIVE" {
                cluster["endpoint"] = "https://ABC.gr7.us-east-1.eks.amazonaws.com".into();
                cluster["certificateAuthority"] = serde_json::json!({"data": "LS0tLS1CRUdJTg=="});
            }
            if status == "FAILED" {
                cluster["health"] = serde_json::json!({"issues": [{
                    "code": "Ec2SubnetInvalidConfiguration",
                    "message": "One or more Amazon EC2 Subnets of [subnet-a] for node group ...",
                    "resourceIds": ["subnet-a"],
                }]});
            }
            (200, serde_json::json!({ "cluster": cluster }).to_string())
        }

        fn update(id: &str, status: &str) -> (u16, String) {
            (
                200,
                serde_json::json!({"update": {"id": id, "status": status, "type": "ConfigUpdate"}})
                    .to_string(),
            )
        }

        #[tokio::test]
        async fn create_retries_role_not_ready_and_waits_through_not_found_and_creating() {
            let capture = Capture::script([
                json_error(
                    "InvalidParameterException",
                    "The provided role doesn't have the Amazon EKS Managed Policies associated with it. \
                     Please ensure the following policy is attached: arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
                ),
                json_error("InvalidParameterException", "Error in role params"),
                cluster("CREATING"),
                json_error(
                    "ResourceNotFoundException",
                    "No cluster found for name: airflow-dev.",
                ),
                cluster("CREATING"),
                cluster("CREATING"),
                cluster("ACTIVE"),
            ]);
            let (identity, config) = (identity(), config());
            let attrs = Typed(Cluster)
                .create(
                    &capture.clients(),
                    create_request("aws_eks_cluster", &identity, &config, CREATE_TIMEOUT),
                )
                .await
                .expect("created once the role is usable and the cluster ACTIVE");
            assert_eq!(
                capture.calls(),
                [
                    "POST /clusters",
                    "POST /clusters",
                    "POST /clusters",
                    "GET /clusters/airflow-dev",
                    "GET /clusters/airflow-dev",
                    "GET /clusters/airflow-dev",
                    "GET /clusters/airflow-dev",
                ]
            );
            assert_eq!(capture.unused(), 0);
            assert_eq!(
                attrs.opt_str("endpoint").ok().flatten().as_deref(),
                Some("https://ABC.gr7.us-east-1.eks.amazonaws.com")
            );
            assert!(
                attrs
                    .opt_str("certificate_authority")
                    .ok()
                    .flatten()
                    .is_some()
            );

            let sent: serde_json::Value =
                serde_json::from_str(&body(&capture.requests()[0])).expect("JSON body");
            assert_eq!(
                sent["accessConfig"],
                serde_json::json!({
                    "authenticationMode": "API_AND_CONFIG_MAP",
                    "bootstrapClusterCreatorAdminPermissions": true
                })
            );
        }

        #[tokio::test]
        async fn a_role_that_never_becomes_usable_fails_after_the_propagation_window() {
            let capture = Capture::script(std::iter::repeat_n(
                json_error(
                    "InvalidParameterException",
                    "IAM role's policy must include the `ec2:DescribeSubnets` action",
                ),
                40,
            ));
            let (identity, config) = (identity(), config());
            let error = Typed(Cluster)
                .create(
                    &capture.clients(),
                    create_request("aws_eks_cluster", &identity, &config, CREATE_TIMEOUT),
                )
                .await
                .expect_err("gives up")
                .to_string();
            assert!(error.contains("ec2:DescribeSubnets"), "{error}");
            let sent = capture.calls().len();
            // 120 s of 5-15 s backoff: about ten attempts, then no more.
            assert!((5..=20).contains(&sent), "{sent} attempts");
            assert!(capture.unused() > 0);
        }

        #[tokio::test]
        async fn not_found_after_the_first_minute_means_gone() {
            let mut script = vec![cluster("CREATING")];
            script.extend(std::iter::repeat_n(
                json_error(
                    "ResourceNotFoundException",
                    "No cluster found for name: airflow-dev.",
                ),
                10,
            ));
            let capture = Capture::script(script);
            let (identity, config) = (identity(), config());
            let error = Typed(Cluster)
                .create(
                    &capture.clients(),
                    create_request("aws_eks_cluster", &identity, &config, CREATE_TIMEOUT),
                )
                .await
                .expect_err("gone")
                .to_string();
            assert!(
                error.contains("EKS cluster airflow-dev to become visible"),
                "{error}"
            );
            // Polls at 0, 15, 37.5 and 67.5 s: the last one is past the grace.
            let describes = capture.calls().len() - 1;
            assert!((3..=5).contains(&describes), "{describes} reads");
        }

        /// Real EKS keeps saying ACTIVE right after UpdateClusterConfig: cairn follows the
        /// update id, and sends the next update only once the first has succeeded.
        #[tokio::test]
        async fn config_updates_wait_on_their_update_id() {
            let capture = Capture::script([
                cluster("ACTIVE"),
                update("u-1", "InProgress"),
                update("u-1", "InProgress"),
                update("u-1", "InProgress"),
                update("u-1", "Successful"),
                cluster("ACTIVE"),
                update("u-2", "InProgress"),
                update("u-2", "Successful"),
                cluster("ACTIVE"),
                cluster("ACTIVE"),
            ]);
            let identity = identity();
            let prior = config();
            let mut vpc = BTreeMap::from([
                (
                    "subnet_ids".to_owned(),
                    Value::from(vec!["subnet-a", "subnet-b"]),
                ),
                ("endpoint_private_access".to_owned(), Value::Bool(true)),
            ]);
            let desired = config()
                .with("vpc_config", Value::Map(std::mem::take(&mut vpc)))
                .with("enabled_cluster_log_types", Value::from(vec!["api"]));
            let changed = [
                "vpc_config".to_owned(),
                "enabled_cluster_log_types".to_owned(),
            ];
            Typed(Cluster)
                .update(
                    &capture.clients(),
                    UpdateRequest {
                        type_name: "aws_eks_cluster",
                        identity: &identity,
                        prior: &prior,
                        desired: &desired,
                        changed: &changed,
                        timeout: Duration::from_secs(60 * 60),
                        progress: Progress::noop(),
                    },
                )
                .await
                .expect("updated");
            assert_eq!(
                capture.calls(),
                [
                    "GET /clusters/airflow-dev",
                    "POST /clusters/airflow-dev/update-config",
                    "GET /clusters/airflow-dev/updates/u-1",
                    "GET /clusters/airflow-dev/updates/u-1",
                    "GET /clusters/airflow-dev/updates/u-1",
                    "GET /clusters/airflow-dev",
                    "POST /clusters/airflow-dev/update-config",
                    "GET /clusters/airflow-dev/updates/u-2",
                    "GET /clusters/airflow-dev",
                    "GET /clusters/airflow-dev",
                ]
            );
            let requests = capture.requests();
            let first: serde_json::Value = serde_json::from_str(&body(&requests[1])).expect("JSON");
            assert_eq!(first["resourcesVpcConfig"]["endpointPrivateAccess"], true);
            let second: serde_json::Value =
                serde_json::from_str(&body(&requests[6])).expect("JSON");
            assert!(second["logging"]["clusterLogging"].is_array(), "{second}");
        }

        #[tokio::test]
        async fn a_failed_update_fails_with_eks_reason() {
            let capture = Capture::script([
                cluster("ACTIVE"),
                update("u-1", "InProgress"),
                (
                    200,
                    serde_json::json!({"update": {"id": "u-1", "status": "Failed", "errors": [
                        {"errorCode": "SubnetNotFound", "errorMessage": "subnet-c does not exist"}
                    ]}})
                    .to_string(),
                ),
            ]);
            let identity = identity();
            let prior = config();
            let desired = config().with("enabled_cluster_log_types", Value::from(vec!["api"]));
            let changed = ["enabled_cluster_log_types".to_owned()];
            let error = Typed(Cluster)
                .update(
                    &capture.clients(),
                    UpdateRequest {
                        type_name: "aws_eks_cluster",
                        identity: &identity,
                        prior: &prior,
                        desired: &desired,
                        changed: &changed,
                        timeout: Duration::from_secs(60 * 60),
                        progress: Progress::noop(),
                    },
                )
                .await
                .expect_err("failed update")
                .to_string();
            assert!(
                error.contains("SubnetNotFound: subnet-c does not exist"),
                "{error}"
            );
            assert_eq!(capture.unused(), 0);
        }

        #[tokio::test]
        async fn find_waits_for_a_cluster_still_creating() {
            let capture = Capture::script([
                cluster("CREATING"),
                cluster("CREATING"),
                cluster("CREATING"),
                cluster("ACTIVE"),
            ]);
            let (identity, config) = (identity(), config());
            let found = Typed(Cluster)
                .find(
                    &capture.clients(),
                    FindRequest {
                        type_name: "aws_eks_cluster",
                        identity: &identity,
                        config: &config,
                    },
                )
                .await
                .expect("adopted")
                .expect("found");
            assert_eq!(capture.unused(), 0, "waited until ACTIVE");
            assert_eq!(
                found.opt_str("status").ok().flatten().as_deref(),
                Some("ACTIVE")
            );
            assert!(found.opt_str("endpoint").ok().flatten().is_some());
            assert!(
                found
                    .opt_str("certificate_authority")
                    .ok()
                    .flatten()
                    .is_some()
            );
        }

        /// moto has no AssociateEncryptionConfig: EKS's answers are played instead.
        #[tokio::test]
        async fn encryption_added_later_is_associated_and_followed_to_its_end() {
            let capture = Capture::script([
                cluster("ACTIVE"),
                update("u-enc", "InProgress"),
                update("u-enc", "InProgress"),
                update("u-enc", "Successful"),
                cluster("ACTIVE"),
                cluster("ACTIVE"),
            ]);
            let identity = identity();
            let prior = config();
            let key = "arn:aws:kms:us-east-1:123456789012:key/k-1";
            let desired = config().with("encryption_config", encryption(key));
            let changed = ["encryption_config".to_owned()];
            Typed(Cluster)
                .update(
                    &capture.clients(),
                    UpdateRequest {
                        type_name: "aws_eks_cluster",
                        identity: &identity,
                        prior: &prior,
                        desired: &desired,
                        changed: &changed,
                        timeout: Duration::from_secs(60 * 60),
                        progress: Progress::noop(),
                    },
                )
                .await
                .expect("associated");
            assert_eq!(
                capture.calls(),
                [
                    "GET /clusters/airflow-dev",
                    "POST /clusters/airflow-dev/encryption-config/associate",
                    "GET /clusters/airflow-dev/updates/u-enc",
                    "GET /clusters/airflow-dev/updates/u-enc",
                    "GET /clusters/airflow-dev",
                    "GET /clusters/airflow-dev",
                ]
            );
            let sent: serde_json::Value =
                serde_json::from_str(&body(&capture.requests()[1])).expect("JSON body");
            assert_eq!(
                sent["encryptionConfig"],
                serde_json::json!([{"resources": ["secrets"], "provider": {"keyArn": key}}])
            );
            assert!(sent["clientRequestToken"].is_string(), "{sent}");
        }

        #[tokio::test]
        async fn find_fails_on_a_failed_cluster_with_its_health_issues() {
            let capture = Capture::script([cluster("CREATING"), cluster("FAILED")]);
            let (identity, config) = (identity(), config());
            let error = Typed(Cluster)
                .find(
                    &capture.clients(),
                    FindRequest {
                        type_name: "aws_eks_cluster",
                        identity: &identity,
                        config: &config,
                    },
                )
                .await
                .expect_err("a failed cluster is not adopted")
                .to_string();
            assert!(error.contains("Ec2SubnetInvalidConfiguration"), "{error}");
        }
    }
}
