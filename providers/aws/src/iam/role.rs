//! `aws_iam_role`: an IAM role with its trust policy, attached managed policies and
//! inline policies.
//!
//! The trust policy is either `assume_role_policy` (a table or a JSON string) or the
//! compact `irsa` form ([`super::irsa`]). `managed_policy_arns` and `inline_policy`
//! are the complete lists: updates attach, detach, put and delete only the difference.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::types::{EntityType, Role as IamRole};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, DeleteRequest, PlanAdjustments, PlanRequest,
    ProviderError, ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::irsa::Irsa;
use super::{
    NO_SUCH_ENTITY, decode_document, iam_tags, policy_document, policy_value, tag_map, tags_value,
};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, once};
use crate::error::{api_error, error_code, found};
use crate::resource::{AwsType, default_name, order_like, unless_empty_and_unset};
use crate::tags::{TagChanges, created_by, object_tags};
use crate::wait::{Backoff, call_until, has_code};

pub(super) struct Role;

/// IAM names are at most 64 characters.
const MAX_NAME_LEN: usize = 64;

/// IAM is eventually consistent: a new role is visible everywhere within seconds.
const IAM_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(500),
    max: Duration::from_secs(5),
};

/// How long a trust policy naming a just-created principal (an IRSA role's OIDC
/// provider, a role made in the same apply) may be refused while IAM propagates it;
/// terraform-provider-aws (`iam/role.go`) allows the same two minutes.
const PRINCIPAL_PROPAGATION: Duration = Duration::from_secs(120);

/// True for the refusals IAM gives while a principal in the trust policy is not
/// propagated yet, or while another change of the role is under way.
fn trust_not_ready<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(err: &E) -> bool {
    (has_code(err, &["MalformedPolicyDocument"])
        && err
            .message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("invalid principal")))
        || has_code(err, &["ConcurrentModification"])
}

/// Sends CreateRole until IAM accepts the trust policy (see [`trust_not_ready`]); after
/// a lost answer, `lookup` finds the role this resource made (see [`create_once`]).
async fn send_create_role<L, LFut>(
    call: aws_sdk_iam::operation::create_role::builders::CreateRoleFluentBuilder,
    timeout: Duration,
    progress: &cairn_provider_core::Progress,
    lookup: L,
) -> Result<(), ProviderError>
where
    L: FnMut() -> LFut,
    LFut: std::future::Future<Output = Result<Option<String>, ProviderError>>,
{
    create_once(
        CreateCall::new("iam:CreateRole", "IAM role", progress)
            .retrying_for(PRINCIPAL_PROPAGATION.min(timeout)),
        trust_not_ready,
        || call.clone().customize().config_override(once::iam()).send(),
        lookup,
    )
    .await
    .map(drop)
}

/// Sends UpdateAssumeRolePolicy until IAM accepts it (see [`trust_not_ready`]).
async fn send_trust_policy(
    iam: &aws_sdk_iam::Client,
    name: &str,
    document: &str,
    timeout: Duration,
    progress: &cairn_provider_core::Progress,
) -> Result<(), ProviderError> {
    call_until(
        &format!("IAM to accept the trust policy of role {name}"),
        "iam:UpdateAssumeRolePolicy",
        PRINCIPAL_PROPAGATION.min(timeout),
        IAM_BACKOFF,
        progress,
        trust_not_ready,
        || {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(document)
                .send()
        },
    )
    .await
    .map(drop)
}

/// The configuration of a role, as the stack sets it.
#[derive(Debug, Deserialize)]
struct RoleConfig {
    name: Option<String>,
    path: Option<String>,
    description: Option<String>,
    assume_role_policy: Option<serde_json::Value>,
    irsa: Option<Irsa>,
    #[serde(default)]
    managed_policy_arns: Vec<String>,
    #[serde(default)]
    inline_policy: Vec<InlinePolicy>,
    max_session_duration: Option<i64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl RoleConfig {
    /// The configured name, or `<stack>-<env>-<resource name>` cut to IAM's limit:
    /// deterministic, so an interrupted create is found again by name.
    fn role_name(&self, identity: &ResourceIdentity) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => default_name(identity).chars().take(MAX_NAME_LEN).collect(),
        }
    }

    /// The trust policy from exactly one of `assume_role_policy` and `irsa`.
    fn trust_policy(&self) -> Result<serde_json::Value, ProviderError> {
        match (&self.assume_role_policy, &self.irsa) {
            (Some(policy), None) => policy_document(policy.clone(), "assume_role_policy"),
            (None, Some(irsa)) => irsa.trust_policy(),
            (Some(_), Some(_)) => Err(ProviderError::invalid(
                "assume_role_policy",
                "cannot be set together with irsa: set exactly one",
            )),
            (None, None) => Err(ProviderError::invalid(
                "assume_role_policy",
                "or irsa is required: set exactly one",
            )),
        }
    }

    /// The inline policies, each with a valid document and a name of its own.
    fn inline_policies(&self) -> Result<&[InlinePolicy], ProviderError> {
        let policies = &self.inline_policy;
        for (i, policy) in policies.iter().enumerate() {
            policy.document()?;
            if policies[..i].iter().any(|p| p.name == policy.name) {
                return Err(ProviderError::invalid(
                    "inline_policy",
                    format!("names `{}` twice", policy.name),
                ));
            }
        }
        Ok(policies)
    }

    fn max_session(&self) -> Result<Option<i32>, ProviderError> {
        self.max_session_duration
            .map(|s| {
                i32::try_from(s)
                    .map_err(|_| ProviderError::invalid("max_session_duration", "is out of range"))
            })
            .transpose()
    }
}

/// One entry of `inline_policy`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InlinePolicy {
    name: String,
    policy: serde_json::Value,
}

impl InlinePolicy {
    fn document(&self) -> Result<serde_json::Value, ProviderError> {
        policy_document(
            self.policy.clone(),
            &format!("inline_policy.{}.policy", self.name),
        )
    }
}

#[async_trait]
impl AwsType for Role {
    type Object = Described;
    const TYPE_NAME: &'static str = "aws_iam_role";
    const KIND: &'static str = "IAM role";
    const GONE: &'static [&'static str] = &[NO_SUCH_ENTITY];
    const BUSY: &'static [&'static str] = &["DeleteConflict"];
    const BACKOFF: Backoff = IAM_BACKOFF;

    fn schema(&self) -> ResourceSchema {
        let irsa = AttrType::object([
            (
                "oidc_provider_arn",
                AttrSchema::required(AttrType::String)
                    .describe("ARN of the cluster's aws_iam_openid_connect_provider"),
            ),
            (
                "oidc_issuer_url",
                AttrSchema::optional(AttrType::String)
                    .describe("the cluster's OIDC issuer URL; read from the ARN if unset"),
            ),
            (
                "service_accounts",
                AttrSchema::required(AttrType::list(AttrType::String))
                    .describe("`namespace:name` of each service account that may assume the role"),
            ),
        ]);
        let inline = AttrType::object([
            (
                "name",
                AttrSchema::required(AttrType::String).describe("name of the inline policy"),
            ),
            (
                "policy",
                AttrSchema::required(AttrType::Any)
                    .describe("the policy document, as a table or a JSON string"),
            ),
        ]);
        ResourceSchema::new("An IAM role: a trust policy plus the permissions it grants")
            .attr(
                "name",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe("role name; default <stack>-<env>-<resource name>"),
            )
            .attr(
                "path",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe("IAM path (default /)"),
            )
            .attr(
                "description",
                AttrSchema::optional(AttrType::String).describe("description of the role"),
            )
            .attr(
                "assume_role_policy",
                AttrSchema::optional(AttrType::Any).describe(
                    "trust policy, as a table or a JSON string; exactly one of this and irsa",
                ),
            )
            .attr(
                "irsa",
                AttrSchema::optional(irsa).describe(
                    "trust the named Kubernetes service accounts through the cluster's OIDC provider",
                ),
            )
            .attr(
                "managed_policy_arns",
                AttrSchema::optional(AttrType::list(AttrType::String))
                    .describe("ARNs of the managed policies attached; the complete list"),
            )
            .attr(
                "inline_policy",
                AttrSchema::optional(AttrType::list(inline))
                    .describe("inline policies of the role; the complete list"),
            )
            .attr(
                "max_session_duration",
                AttrSchema::optional_computed(AttrType::Int)
                    .describe("longest session in seconds, 3600-43200 (default 3600)"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String)).describe("tags of the role"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the role"),
            )
            .attr(
                "unique_id",
                AttrSchema::computed(AttrType::String).describe("stable id IAM gives the role"),
            )
            .timeouts(Timeouts::all(Duration::from_secs(5 * 60)))
    }

    /// Checks at plan time, before anything is created, that exactly one trust policy
    /// form is set (either may still be unknown).
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        let desired = request.desired;
        match (desired.get("assume_role_policy"), desired.get("irsa")) {
            (Some(_), None) | (None, Some(_)) => Ok(PlanAdjustments::default()),
            _ => Err(ProviderError::invalid(
                "assume_role_policy",
                "and irsa: set exactly one of them",
            )),
        }
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        name: &str,
    ) -> Result<Option<Described>, ProviderError> {
        found(
            "iam:GetRole",
            &[NO_SUCH_ENTITY],
            aws.iam.get_role().role_name(name).send().await,
            |out| {
                out.role().cloned().map(|role| Described {
                    role,
                    policies: None,
                })
            },
        )
    }

    const DESCRIBES_MANY: bool = true;

    /// IAM has no describe for several roles by name, but two calls list every role of
    /// the account: ListRoles (description, session duration) and
    /// GetAccountAuthorizationDetails (trust policy, tags, attached and inline policies),
    /// against three calls or more per role read alone.
    async fn describe_many(
        &self,
        aws: &AwsClients,
        wanted: &[(&str, &Attrs)],
    ) -> Result<HashMap<String, Described>, ProviderError> {
        let wanted: HashSet<&str> = wanted.iter().map(|(name, _)| *name).collect();
        let mut listed: HashMap<String, IamRole> = aws
            .iam
            .list_roles()
            .max_items(LIST_PAGE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error("iam:ListRoles", e))?
            .into_iter()
            .filter(|role| wanted.contains(role.role_name()))
            .map(|role| (role.role_name().to_owned(), role))
            .collect();
        let details = aws
            .iam
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .max_items(LIST_PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| api_error("iam:GetAccountAuthorizationDetails", e))?;
        let mut described = HashMap::new();
        for detail in details.iter().flat_map(|page| page.role_detail_list()) {
            let Some(name) = detail.role_name() else {
                continue;
            };
            // A role in one answer and not the other changed between the calls: read
            // alone.
            let Some(mut role) = listed.remove(name) else {
                continue;
            };
            if detail.role_id() != Some(role.role_id()) {
                continue;
            }
            role.tags = Some(detail.tags().to_vec());
            role.assume_role_policy_document =
                detail.assume_role_policy_document().map(str::to_owned);
            let managed = detail
                .attached_managed_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect();
            let inline = detail
                .role_policy_list()
                .iter()
                .map(|p| {
                    Ok((
                        p.policy_name().unwrap_or_default().to_owned(),
                        decode_document(p.policy_document().unwrap_or("{}"))?,
                    ))
                })
                .collect::<Result<_, ProviderError>>()?;
            described.insert(
                name.to_owned(),
                Described {
                    role,
                    policies: Some(Policies { managed, inline }),
                },
            );
        }
        Ok(described)
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        described: &Described,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let policies = match &described.policies {
            Some(policies) => policies.clone(),
            None => Policies::read(aws, described.role.role_name()).await?,
        };
        attributes(aws, &described.role, policies, prior)
    }

    /// A role of that name that cairn did not create for this resource is not adopted:
    /// the create then fails with EntityAlreadyExists, as it should.
    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let name = decode_config::<RoleConfig>(config)?.role_name(identity);
        let Some(role) = self.describe(aws, &name).await? else {
            return Ok(Vec::new());
        };
        let ours = created_by(identity, &tag_map(role.role.tags()));
        Ok(if ours { vec![name] } else { Vec::new() })
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: RoleConfig = decode_config(request.config)?;
        let name = config.role_name(request.identity);
        let trust = config.trust_policy()?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let call = aws
            .iam
            .create_role()
            .role_name(&name)
            .set_path(config.path.clone())
            .set_description(config.description.clone())
            .assume_role_policy_document(trust.to_string())
            .set_max_session_duration(config.max_session()?)
            .set_tags(Some(iam_tags(&tags)?));
        send_create_role(call, request.timeout, &request.progress, || {
            self.found_id(aws, request)
        })
        .await?;
        Ok(name)
    }

    /// Policies are attached once the role is visible.
    async fn after_create(
        &self,
        aws: &AwsClients,
        _role: &Described,
        name: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: RoleConfig = decode_config(request.config)?;
        reconcile_managed(aws, name, &config.managed_policy_arns).await?;
        reconcile_inline(aws, name, config.inline_policies()?).await?;
        // The attributes read the policies afresh; the role itself is unchanged.
        Ok(false)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        described: &Described,
        name: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: RoleConfig = decode_config(request.desired)?;
        let changed = |attribute: &str| request.changed.iter().any(|c| c == attribute);
        if changed("description") || changed("max_session_duration") {
            aws.iam
                .update_role()
                .role_name(name)
                // An empty description is how IAM clears one.
                .description(desired.description.clone().unwrap_or_default())
                .set_max_session_duration(desired.max_session()?)
                .send()
                .await
                .map_err(|e| api_error("iam:UpdateRole", e))?;
        }
        if changed("assume_role_policy") || changed("irsa") {
            let document = desired.trust_policy()?.to_string();
            send_trust_policy(
                &aws.iam,
                name,
                &document,
                request.timeout,
                &request.progress,
            )
            .await?;
        }
        if changed("managed_policy_arns") {
            reconcile_managed(aws, name, &desired.managed_policy_arns).await?;
        }
        if changed("inline_policy") {
            reconcile_inline(aws, name, desired.inline_policies()?).await?;
        }
        if changed("tags") {
            let tags = object_tags(request.identity, &aws.default_tags, &desired.tags);
            let changes = TagChanges::between(&tag_map(described.role.tags()), &tags);
            if !changes.remove.is_empty() {
                aws.iam
                    .untag_role()
                    .role_name(name)
                    .set_tag_keys(Some(changes.remove))
                    .send()
                    .await
                    .map_err(|e| api_error("iam:UntagRole", e))?;
            }
            if !changes.set.is_empty() {
                aws.iam
                    .tag_role()
                    .role_name(name)
                    .set_tags(Some(iam_tags(&changes.set)?))
                    .send()
                    .await
                    .map_err(|e| api_error("iam:TagRole", e))?;
            }
        }
        Ok(())
    }

    /// IAM refuses to delete a role that still has policies or instance profiles.
    async fn before_delete(
        &self,
        aws: &AwsClients,
        name: &str,
        _request: &DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        if self.describe(aws, name).await?.is_none() {
            return Ok(());
        }
        remove_from_instance_profiles(aws, name).await?;
        reconcile_managed(aws, name, &[]).await?;
        reconcile_inline(aws, name, &[]).await
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        name: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.iam
            .delete_role()
            .role_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("iam:DeleteRole", e))
    }
}

async fn attached_policies(aws: &AwsClients, name: &str) -> Result<Vec<String>, ProviderError> {
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| api_error("iam:ListAttachedRolePolicies", e))?;
    Ok(attached
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect())
}

async fn inline_policy_names(aws: &AwsClients, name: &str) -> Result<Vec<String>, ProviderError> {
    aws.iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| api_error("iam:ListRolePolicies", e))
}

async fn inline_document(
    aws: &AwsClients,
    role: &str,
    policy: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    match aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
    {
        Ok(out) => decode_document(out.policy_document()).map(Some),
        Err(e) if error_code(&e) == Some(NO_SUCH_ENTITY) => Ok(None),
        Err(e) => Err(api_error("iam:GetRolePolicy", e)),
    }
}

async fn reconcile_managed(
    aws: &AwsClients,
    name: &str,
    desired: &[String],
) -> Result<(), ProviderError> {
    let current = attached_policies(aws, name).await?;
    for arn in desired {
        // Attaching twice is not idempotent everywhere (moto counts it twice).
        if !current.contains(arn) {
            aws.iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| api_error("iam:AttachRolePolicy", e))?;
        }
    }
    for arn in &current {
        if !desired.contains(arn) {
            match aws
                .iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if error_code(&e) == Some(NO_SUCH_ENTITY) => {}
                Err(e) => return Err(api_error("iam:DetachRolePolicy", e)),
            }
        }
    }
    Ok(())
}

async fn reconcile_inline(
    aws: &AwsClients,
    name: &str,
    desired: &[InlinePolicy],
) -> Result<(), ProviderError> {
    let current = inline_policy_names(aws, name).await?;
    for policy in desired {
        let document = policy.document()?;
        let unchanged = current.contains(&policy.name)
            && inline_document(aws, name, &policy.name).await?.as_ref() == Some(&document);
        if !unchanged {
            aws.iam
                .put_role_policy()
                .role_name(name)
                .policy_name(&policy.name)
                .policy_document(document.to_string())
                .send()
                .await
                .map_err(|e| api_error("iam:PutRolePolicy", e))?;
        }
    }
    for policy in &current {
        if desired.iter().all(|p| &p.name != policy) {
            match aws
                .iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if error_code(&e) == Some(NO_SUCH_ENTITY) => {}
                Err(e) => return Err(api_error("iam:DeleteRolePolicy", e)),
            }
        }
    }
    Ok(())
}

async fn remove_from_instance_profiles(aws: &AwsClients, name: &str) -> Result<(), ProviderError> {
    let profiles = aws
        .iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| api_error("iam:ListInstanceProfilesForRole", e))?;
    for profile in profiles {
        match aws
            .iam
            .remove_role_from_instance_profile()
            .instance_profile_name(profile.instance_profile_name())
            .role_name(name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some(NO_SUCH_ENTITY) => {}
            Err(e) => return Err(api_error("iam:RemoveRoleFromInstanceProfile", e)),
        }
    }
    Ok(())
}

/// The trust policy attributes as `read` reports them. With `irsa` recorded, `irsa`
/// stays and `assume_role_policy` appears only if the real policy differs from what
/// `irsa` renders: that is the drift, and an update rewrites it.
fn trust_attributes(actual: serde_json::Value, prior: Option<&Attrs>) -> (Value, Value) {
    let recorded_irsa = prior.and_then(|p| p.get("irsa"));
    if let Some(irsa_value) = recorded_irsa {
        let rendered = irsa_value
            .expose()
            .and_then(|json| serde_json::from_value::<Irsa>(json).ok())
            .and_then(|irsa| irsa.trust_policy().ok());
        let policy = if rendered.as_ref() == Some(&actual) {
            Value::Null
        } else {
            Value::from_json(actual)
        };
        return (policy, irsa_value.clone());
    }
    let recorded = prior.and_then(|p| p.get("assume_role_policy"));
    (
        policy_value(actual, recorded, "assume_role_policy"),
        Value::Null,
    )
}

/// A role as IAM describes it, and its policies when the describe returned them too.
pub(super) struct Described {
    role: IamRole,
    policies: Option<Policies>,
}

/// The policies of a role.
#[derive(Clone)]
struct Policies {
    /// ARNs of the attached managed policies.
    managed: Vec<String>,
    /// Name and document of each inline policy.
    inline: Vec<(String, serde_json::Value)>,
}

impl Policies {
    /// Reads them for the role `name`: one call for the attached ones, one for the names
    /// of the inline ones, one per inline document.
    async fn read(aws: &AwsClients, name: &str) -> Result<Policies, ProviderError> {
        let managed = attached_policies(aws, name).await?;
        let mut inline = Vec::new();
        for policy_name in inline_policy_names(aws, name).await? {
            if let Some(document) = inline_document(aws, name, &policy_name).await? {
                inline.push((policy_name, document));
            }
        }
        Ok(Policies { managed, inline })
    }
}

/// How many items a page of an account-wide IAM list holds (IAM's maximum).
const LIST_PAGE: i32 = 1000;

/// The role's full attributes, with its policies.
fn attributes(
    aws: &AwsClients,
    role: &IamRole,
    policies: Policies,
    prior: Option<&Attrs>,
) -> Result<Attrs, ProviderError> {
    let trust = decode_document(role.assume_role_policy_document().unwrap_or("{}"))?;
    let (assume_role_policy, irsa) = trust_attributes(trust, prior);
    let managed = policies.managed.into_iter().map(Value::from).collect();
    let managed = order_like(prior.and_then(|p| p.get("managed_policy_arns")), managed);
    let recorded_inline: BTreeMap<String, Value> = prior
        .and_then(|p| p.get("inline_policy"))
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            Some((
                entry.get("name")?.as_str()?.to_owned(),
                entry.get("policy")?,
            ))
        })
        .collect();
    let inline = policies
        .inline
        .into_iter()
        .map(|(policy_name, document)| {
            let policy = policy_value(
                document,
                recorded_inline.get(&policy_name),
                "inline_policy.policy",
            );
            Value::Map(BTreeMap::from([
                ("name".to_owned(), Value::from(policy_name)),
                ("policy".to_owned(), policy),
            ]))
        })
        .collect();
    let inline = order_like(prior.and_then(|p| p.get("inline_policy")), inline);
    Ok(Attrs::new()
        .with("id", role.role_name())
        .with("name", role.role_name())
        .with("path", role.path())
        .with("arn", role.arn())
        .with("unique_id", role.role_id())
        .with("description", role.description().filter(|d| !d.is_empty()))
        .with("max_session_duration", role.max_session_duration())
        .with("assume_role_policy", assume_role_policy)
        .with("irsa", irsa)
        .with(
            "managed_policy_arns",
            unless_empty_and_unset(Value::List(managed), prior, "managed_policy_arns"),
        )
        .with(
            "inline_policy",
            unless_empty_and_unset(Value::List(inline), prior, "inline_policy"),
        )
        .with("tags", tags_value(aws, role.tags(), prior)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(address: &str) -> ResourceIdentity {
        ResourceIdentity {
            stack: "airflow".to_owned(),
            env: "dev".to_owned(),
            address: address.to_owned(),
        }
    }

    fn config(attrs: &Attrs) -> RoleConfig {
        decode_config(attrs).expect("decodes")
    }

    fn irsa_config() -> Value {
        Value::from_json(serde_json::json!({
            "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AB",
            "service_accounts": ["airflow:airflow-worker"],
        }))
    }

    #[test]
    fn exactly_one_trust_policy_form_is_accepted() {
        let policy = Value::from(r#"{"Version":"2012-10-17","Statement":[]}"#);
        let both = Attrs::new()
            .with("assume_role_policy", policy.clone())
            .with("irsa", irsa_config());
        assert!(config(&both).trust_policy().is_err());
        assert!(config(&Attrs::new()).trust_policy().is_err());
        let one = Attrs::new().with("assume_role_policy", policy);
        assert!(config(&one).trust_policy().is_ok());
        let irsa = Attrs::new().with("irsa", irsa_config());
        let rendered = config(&irsa).trust_policy().expect("renders");
        assert_eq!(
            rendered["Statement"][0]["Action"],
            "sts:AssumeRoleWithWebIdentity"
        );
    }

    #[test]
    fn a_drifted_irsa_trust_policy_shows_as_assume_role_policy() {
        let prior = Attrs::new().with("irsa", irsa_config());
        let rendered = config(&prior).trust_policy().expect("renders");
        let (policy, irsa) = trust_attributes(rendered.clone(), Some(&prior));
        assert_eq!((policy, irsa.clone()), (Value::Null, irsa_config()));
        let mut widened = rendered;
        widened["Statement"][0]["Condition"] = serde_json::json!({});
        let (policy, _) = trust_attributes(widened.clone(), Some(&prior));
        assert_eq!(policy, Value::from_json(widened));
    }

    #[test]
    fn plan_refuses_both_or_neither_trust_form_even_when_unknown() {
        let plan = |desired: &Attrs| {
            Role.plan(PlanRequest {
                type_name: "aws_iam_role",
                prior: None,
                desired,
            })
        };
        assert!(plan(&Attrs::new().with("irsa", Value::Unknown)).is_ok());
        assert!(plan(&Attrs::new().with("assume_role_policy", EKS_POLICY)).is_ok());
        assert!(plan(&Attrs::new()).is_err());
        let both = Attrs::new()
            .with("irsa", Value::Unknown)
            .with("assume_role_policy", EKS_POLICY);
        assert!(plan(&both).is_err());
    }

    const EKS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

    #[test]
    fn default_names_are_deterministic_and_fit_iam() {
        let unnamed = config(&Attrs::new());
        assert_eq!(
            unnamed.role_name(&identity("aws_iam_role.worker")),
            "airflow-dev-worker"
        );
        let long = identity(&format!("aws_iam_role.{}", "x".repeat(100)));
        assert_eq!(unnamed.role_name(&long).len(), MAX_NAME_LEN);
        let named = config(&Attrs::new().with("name", "custom"));
        assert_eq!(named.role_name(&identity("aws_iam_role.worker")), "custom");
    }

    #[test]
    fn inline_policies_need_distinct_names_and_valid_documents() {
        let entry = |name: &str, policy: &str| {
            Value::from_json(serde_json::json!({"name": name, "policy": policy}))
        };
        let valid = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let twice = Attrs::new().with(
            "inline_policy",
            Value::List(vec![entry("a", valid), entry("a", valid)]),
        );
        assert!(config(&twice).inline_policies().is_err());
        let broken = Attrs::new().with("inline_policy", Value::List(vec![entry("a", "{")]));
        assert!(config(&broken).inline_policies().is_err());
        let fine = Attrs::new().with(
            "inline_policy",
            Value::List(vec![entry("a", valid), entry("b", valid)]),
        );
        let fine = config(&fine);
        assert_eq!(fine.inline_policies().map(|p| p.len()).ok(), Some(2));
    }

    mod scripted {
        //! Real IAM's answers while a just-created principal propagates.

        use super::*;
        use crate::eks::capture::{Capture, captured_client, query_error};
        use cairn_provider_core::Progress;

        const INVALID_PRINCIPAL: &str = "Invalid principal in policy: \
            \"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AB\"";

        fn created() -> (u16, String) {
            (
                200,
                "<CreateRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
                 <CreateRoleResult><Role><Path>/</Path><RoleName>irsa</RoleName>\
                 <RoleId>AROAEXAMPLE</RoleId><Arn>arn:aws:iam::123456789012:role/irsa</Arn>\
                 <CreateDate>2026-11-30T05:00:00Z</CreateDate></Role></CreateRoleResult>\
                 <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></CreateRoleResponse>"
                    .to_owned(),
            )
        }

        #[tokio::test]
        async fn create_role_retries_invalid_principal_then_succeeds() {
            let capture = Capture::script([
                query_error(400, "MalformedPolicyDocument", INVALID_PRINCIPAL),
                query_error(400, "MalformedPolicyDocument", INVALID_PRINCIPAL),
                created(),
            ]);
            let iam = captured_client!(aws_sdk_iam, capture);
            let call = iam
                .create_role()
                .role_name("irsa")
                .assume_role_policy_document("{}");
            send_create_role(call, Duration::from_secs(600), &Progress::noop(), || {
                std::future::ready(Ok(None))
            })
            .await
            .expect("accepted on the third try");
            assert_eq!(capture.calls(), ["CreateRole", "CreateRole", "CreateRole"]);
            assert_eq!(capture.unused(), 0);
        }

        #[tokio::test]
        async fn other_malformed_documents_fail_at_once() {
            let capture = Capture::script([
                query_error(400, "MalformedPolicyDocument", "Syntax errors in policy."),
                created(),
            ]);
            let iam = captured_client!(aws_sdk_iam, capture);
            let call = iam
                .create_role()
                .role_name("irsa")
                .assume_role_policy_document("{");
            let error = send_create_role(call, Duration::from_secs(600), &Progress::noop(), || {
                std::future::ready(Ok(None))
            })
            .await
            .expect_err("not retried")
            .to_string();
            assert!(
                error.contains("iam:CreateRole: MalformedPolicyDocument"),
                "{error}"
            );
            assert_eq!(capture.calls(), ["CreateRole"]);
        }

        #[tokio::test]
        async fn trust_policy_updates_retry_concurrent_modification_for_a_bounded_time() {
            let ok = (
                200,
                "<UpdateAssumeRolePolicyResponse><ResponseMetadata><RequestId>r-2</RequestId>\
                 </ResponseMetadata></UpdateAssumeRolePolicyResponse>"
                    .to_owned(),
            );
            let capture = Capture::script([
                query_error(409, "ConcurrentModification", "Rate exceeded for role irsa"),
                query_error(400, "MalformedPolicyDocument", INVALID_PRINCIPAL),
                ok,
            ]);
            let iam = captured_client!(aws_sdk_iam, capture);
            send_trust_policy(
                &iam,
                "irsa",
                "{}",
                Duration::from_secs(600),
                &Progress::noop(),
            )
            .await
            .expect("accepted");
            assert_eq!(capture.calls().len(), 3);
            let body = crate::eks::capture::body(&capture.requests()[2]);
            assert!(body.contains("RoleName=irsa"), "{body}");

            let never = Capture::script(std::iter::repeat_n(
                query_error(400, "MalformedPolicyDocument", INVALID_PRINCIPAL),
                200,
            ));
            let iam = captured_client!(aws_sdk_iam, never);
            let error = send_trust_policy(
                &iam,
                "irsa",
                "{}",
                Duration::from_secs(600),
                &Progress::noop(),
            )
            .await
            .expect_err("gives up")
            .to_string();
            assert!(error.contains("Invalid principal"), "{error}");
            // Two minutes of 0.5-5 s backoff, far fewer than the 200 scripted refusals.
            assert!(never.unused() > 100, "{} left", never.unused());
        }
    }
}
