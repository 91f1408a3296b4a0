//! `aws_secretsmanager_secret`: a secret and its current value. The value is given by the
//! stack (`value`, e.g. a database URL the engine composed) or generated once at create
//! (`generate`); either way `read` returns it, sensitive, so other resources can use it
//! in later runs. Owns the restore of a name still scheduled for deletion and a delete
//! that honours the recovery window.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry, Tag};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, Progress,
    ProviderError, ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::generate::Generate;
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, client_token, create_once, created_id, once};
use crate::error::{api_error, error_code, found};
use crate::resource::map_attribute;
use crate::resource::{AwsType, Readiness};
use crate::tags::{TagChanges, created_by};
use crate::tags::{object_tags, user_visible};
use crate::wait::{Backoff, Check, poll_until};

/// Secrets Manager's own default recovery window.
const DEFAULT_RECOVERY_DAYS: i64 = 30;

pub(crate) struct Secret;

#[derive(Debug, Deserialize)]
struct SecretConfig {
    name: String,
    description: Option<String>,
    kms_key_id: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// The configuration a delete follows, as recorded in the state (Secrets Manager does
/// not report it).
#[derive(Debug, Deserialize)]
struct RecoveryWindow {
    recovery_window_in_days: Option<i64>,
}

fn generate_schema() -> AttrType {
    AttrType::object([
        (
            "kind",
            AttrSchema::optional(AttrType::enumeration(&["random", "fernet"]))
                .describe("random (default) or fernet: a Fernet key (32 bytes, URL-safe base64)"),
        ),
        (
            "length",
            AttrSchema::optional(AttrType::Int)
                .describe("characters of a random value (default 32)"),
        ),
        (
            "charset",
            AttrSchema::optional(AttrType::enumeration(&[
                "alphanumeric",
                "ascii_printable",
                "hex",
            ]))
            .describe("characters of a random value (default alphanumeric)"),
        ),
    ])
}

/// How long a forced delete may take to leave the list (seconds on AWS).
const FORCED_DELETE: Duration = Duration::from_secs(5 * 60);

#[async_trait]
impl AwsType for Secret {
    type Object = Described;
    const TYPE_NAME: &'static str = "aws_secretsmanager_secret";
    const KIND: &'static str = "secret";
    const GONE: &'static [&'static str] = &["ResourceNotFoundException"];
    /// Attributes that exist only in the stack: Secrets Manager cannot report them, so
    /// results carry the configured values.
    const CONFIG_ONLY: &'static [&'static str] = &["recovery_window_in_days", "generate"];
    /// Deletion is asynchronous: wait until the secret is gone, or scheduled when it
    /// keeps a recovery window.
    const WAIT_GONE: bool = true;
    const BACKOFF: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(5),
    };

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("A Secrets Manager secret and its current value")
            .attr(
                "name",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("secret name, e.g. airflow/dev/fernet-key"),
            )
            .attr(
                "description",
                AttrSchema::optional(AttrType::String).describe("description"),
            )
            .attr(
                "kms_key_id",
                AttrSchema::optional(AttrType::String)
                    .describe("KMS key that encrypts the value (default: aws/secretsmanager)"),
            )
            .attr(
                "recovery_window_in_days",
                AttrSchema::optional(AttrType::Int).describe(
                    "days a deleted secret can be restored, 7-30 (default 30); 0 deletes at once",
                ),
            )
            .attr(
                "value",
                AttrSchema::optional_computed(AttrType::String)
                    .sensitive()
                    .describe("the secret value; set it, or let `generate` make one"),
            )
            .attr(
                "generate",
                AttrSchema::optional(generate_schema())
                    .describe("generate the value once at create; changing it never regenerates"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags on the secret"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the secret"),
            )
            .attr(
                "version_id",
                AttrSchema::computed(AttrType::String).describe("version id of the current value"),
            )
            .timeouts(Timeouts::all(Duration::from_secs(5 * 60)))
    }

    /// A new secret needs its value from exactly one source. Later plans carry the
    /// recorded value, so only creates are checked.
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        if request.prior.is_none() {
            value_source(request.desired)?;
        }
        Ok(PlanAdjustments::default())
    }

    /// The ARN, or the name for a secret recorded without one.
    fn id(&self, state: &Attrs) -> Result<String, ProviderError> {
        match state.opt_str("arn")? {
            Some(arn) => Ok(arn),
            None => state.str("name"),
        }
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        id: &str,
    ) -> Result<Option<Described>, ProviderError> {
        Ok(describe(&aws.secrets, id).await?.map(|secret| Described {
            secret,
            current: None,
        }))
    }

    const DESCRIBES_MANY: bool = true;

    /// ListSecrets filtered on the names (ten per call) describes them, and
    /// BatchGetSecretValue (twenty per call) reads their values: two calls where reading
    /// each takes two. Secrets scheduled for deletion are not listed (read alone, they
    /// read as gone), nor are values the batch reports an error for (read alone).
    async fn describe_many(
        &self,
        aws: &AwsClients,
        wanted: &[(&str, &Attrs)],
    ) -> Result<HashMap<String, Described>, ProviderError> {
        let ids: HashSet<&str> = wanted.iter().map(|(id, _)| *id).collect();
        let names: Vec<String> = wanted
            .iter()
            .filter_map(|(_, state)| state.opt_str("name").ok().flatten())
            .collect();
        let mut listed = HashMap::new();
        for chunk in names.chunks(LIST_FILTER_VALUES) {
            let pages = aws
                .secrets
                .list_secrets()
                .filters(
                    Filter::builder()
                        .key(FilterNameStringType::Name)
                        .set_values(Some(chunk.to_vec()))
                        .build(),
                )
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| api_error("secretsmanager:ListSecrets", e))?;
            // The name filter matches prefixes: keep the secrets asked for.
            for entry in pages
                .into_iter()
                .flat_map(|page| page.secret_list.unwrap_or_default())
            {
                let id = [entry.arn(), entry.name()]
                    .into_iter()
                    .flatten()
                    .find(|id| ids.contains(id));
                if let Some(id) = id {
                    listed.insert(id.to_owned(), described_secret(entry));
                }
            }
        }
        let arns: Vec<String> = listed
            .values()
            .filter_map(|s: &DescribeSecretOutput| s.arn().map(str::to_owned))
            .collect();
        let mut values = HashMap::new();
        for chunk in arns.chunks(BATCH_VALUES) {
            let out = aws
                .secrets
                .batch_get_secret_value()
                .set_secret_id_list(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| api_error("secretsmanager:BatchGetSecretValue", e))?;
            for entry in out.secret_values() {
                if let Some(arn) = entry.arn() {
                    values.insert(
                        arn.to_owned(),
                        CurrentValue {
                            value: entry
                                .secret_string()
                                .map(|s| Value::from(s).sensitive())
                                .unwrap_or_default(),
                            version_id: entry.version_id().map(str::to_owned),
                        },
                    );
                }
            }
        }
        Ok(listed
            .into_iter()
            .filter_map(|(id, secret)| {
                let current = values.remove(secret.arn()?)?;
                Some((
                    id,
                    Described {
                        secret,
                        current: Some(current),
                    },
                ))
            })
            .collect())
    }

    /// A secret scheduled for deletion is gone for cairn.
    fn is_live(&self, described: &Described) -> bool {
        described.secret.deleted_date().is_none()
    }

    /// Scheduled for deletion is deleted when it keeps a recovery window (a forced
    /// delete waits in [`AwsType::delete_call`] until it is no longer listed).
    fn deletion(&self, described: &Described) -> Readiness {
        if described.secret.deleted_date().is_some() {
            Readiness::Ready
        } else {
            Readiness::Waiting("still listed".to_owned())
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        described: &Described,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let current = match &described.current {
            Some(current) => current.clone(),
            None => current_value(&aws.secrets, &described.secret).await?,
        };
        Ok(attributes(
            &described.secret,
            current,
            prior,
            &aws.default_tags,
        ))
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let name = decode_config::<SecretConfig>(config)?.name;
        Ok(describe(&aws.secrets, &name)
            .await?
            .filter(|s| s.deleted_date().is_none() && created_by(identity, &tag_map(s.tags())))
            .and_then(|s| s.arn().map(str::to_owned))
            .into_iter()
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: SecretConfig = decode_config(request.config)?;
        let value = match value_source(request.config)? {
            ValueSource::Given(value) => value,
            ValueSource::Generated(generate) => generate.recipe()?.generate()?,
        };
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let token = client_token();
        let call = aws
            .secrets
            .create_secret()
            .client_request_token(&token)
            .name(&config.name)
            .set_description(config.description.clone())
            .set_kms_key_id(config.kms_key_id.clone())
            .secret_string(&value)
            .set_tags(Some(sdk_tags(&tags)));
        let created = create_once(
            CreateCall::new("secretsmanager:CreateSecret", Self::KIND, &request.progress)
                .with_token(),
            |_| false,
            || {
                call.clone()
                    .customize()
                    .config_override(once::secrets())
                    .send()
            },
            || self.found_id(aws, request),
        )
        .await;
        let arn = match created {
            Ok(made) => created_id(made, |out| out.arn(), "secretsmanager:CreateSecret")?,
            Err(err)
                if matches!(
                    &err,
                    ProviderError::Api { code: Some(code), .. }
                        if code == "InvalidRequestException" || code == "ResourceExistsException"
                ) =>
            {
                // A secret of this name scheduled for deletion (the stack was destroyed and
                // is being created again) is restored and given the new settings; any
                // other clash is the caller's to resolve.
                match describe(&aws.secrets, &config.name).await? {
                    Some(old) if old.deleted_date().is_some() => {
                        restore(&aws.secrets, &old, &config, &value, &tags).await?
                    }
                    _ => return Err(err),
                }
            }
            Err(err) => return Err(err),
        };
        Ok(arn)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Described,
        arn: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        let desired = &request.desired;
        let config: SecretConfig = decode_config(desired)?;
        if changed("description") || changed("kms_key_id") {
            aws.secrets
                .update_secret()
                .secret_id(arn)
                .description(config.description.unwrap_or_default())
                .set_kms_key_id(config.kms_key_id)
                .send()
                .await
                .map_err(|e| api_error("secretsmanager:UpdateSecret", e))?;
        }
        // A generated value is never regenerated: the desired value then is the recorded
        // hash, which cannot be sent and is left alone.
        if changed("value")
            && let Some(value) = desired
                .get("value")
                .and_then(Value::expose)
                .and_then(|v| v.as_str().map(str::to_owned))
        {
            put_value(&aws.secrets, arn, &value).await?;
        }
        if changed("tags") {
            let user_tags = config.tags;
            let wanted = object_tags(request.identity, &aws.default_tags, &user_tags);
            sync_tags(&aws.secrets, arn, &tag_map(current.secret.tags()), &wanted).await?;
        }
        Ok(())
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        state: &Attrs,
    ) -> Result<(), ProviderError> {
        let window = decode_config::<RecoveryWindow>(state)?
            .recovery_window_in_days
            .unwrap_or(DEFAULT_RECOVERY_DAYS);
        let force = window == 0;
        let call = aws
            .secrets
            .delete_secret()
            .secret_id(id)
            .set_recovery_window_in_days((!force).then_some(window))
            .set_force_delete_without_recovery(force.then_some(true));
        match call.send().await {
            Ok(_) => {}
            // Already scheduled for deletion by an earlier, interrupted run.
            Err(err) if error_code(&err) == Some("InvalidRequestException") && !force => {
                let scheduled = describe(&aws.secrets, id)
                    .await?
                    .is_none_or(|s| s.deleted_date().is_some());
                if !scheduled {
                    return Err(api_error("secretsmanager:DeleteSecret", err));
                }
            }
            Err(err) => return Err(api_error("secretsmanager:DeleteSecret", err)),
        }
        if !force {
            return Ok(());
        }
        // Forced: the name is free again only once the secret is no longer listed.
        poll_until(
            &format!("secret {id} to be deleted"),
            FORCED_DELETE,
            Self::BACKOFF,
            &Progress::noop(),
            || async {
                Ok(match describe(&aws.secrets, id).await? {
                    None => Check::Done(()),
                    Some(_) => Check::Waiting("still listed".to_owned()),
                })
            },
        )
        .await
    }
}

/// Where a new secret's value comes from.
enum ValueSource {
    Given(String),
    Generated(Generate),
}

fn value_source(config: &Attrs) -> Result<ValueSource, ProviderError> {
    let given = config.get("value").is_some();
    let generate: Option<Generate> = match config.get("generate") {
        None => None,
        // Unknown at plan time: known at apply, checked then.
        Some(value) if value.contains_unknown() => Some(Generate::default()),
        Some(_) => config.opt_decode("generate")?,
    };
    match (given, generate) {
        (true, Some(_)) => Err(ProviderError::invalid(
            "value",
            "cannot be set together with `generate`",
        )),
        (false, None) => Err(ProviderError::invalid(
            "value",
            "is required unless `generate` is set",
        )),
        (false, Some(generate)) => {
            generate.recipe()?;
            Ok(ValueSource::Generated(generate))
        }
        (true, None) => match config.get("value").map(Value::expose) {
            Some(Some(serde_json::Value::String(value))) => Ok(ValueSource::Given(value)),
            // Unknown at plan time: known at apply.
            Some(None) => Ok(ValueSource::Given(String::new())),
            _ => Err(ProviderError::invalid("value", "must be a string")),
        },
    }
}

async fn describe(
    secrets: &aws_sdk_secretsmanager::Client,
    id: &str,
) -> Result<Option<DescribeSecretOutput>, ProviderError> {
    found(
        "secretsmanager:DescribeSecret",
        &["ResourceNotFoundException"],
        secrets.describe_secret().secret_id(id).send().await,
        Some,
    )
}

/// Brings back a secret scheduled for deletion and gives it the new value, description,
/// key and tags. Returns its ARN.
async fn restore(
    secrets: &aws_sdk_secretsmanager::Client,
    old: &DescribeSecretOutput,
    config: &SecretConfig,
    value: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String, ProviderError> {
    let arn = old.arn().unwrap_or_default().to_owned();
    secrets
        .restore_secret()
        .secret_id(&arn)
        .send()
        .await
        .map_err(|e| api_error("secretsmanager:RestoreSecret", e))?;
    secrets
        .update_secret()
        .secret_id(&arn)
        .description(config.description.clone().unwrap_or_default())
        .set_kms_key_id(config.kms_key_id.clone())
        .send()
        .await
        .map_err(|e| api_error("secretsmanager:UpdateSecret", e))?;
    put_value(secrets, &arn, value).await?;
    sync_tags(secrets, &arn, &tag_map(old.tags()), tags).await?;
    Ok(arn)
}

async fn put_value(
    secrets: &aws_sdk_secretsmanager::Client,
    arn: &str,
    value: &str,
) -> Result<(), ProviderError> {
    secrets
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| api_error("secretsmanager:PutSecretValue", e))
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
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

async fn sync_tags(
    secrets: &aws_sdk_secretsmanager::Client,
    arn: &str,
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let changes = TagChanges::between(current, wanted);
    if !changes.remove.is_empty() {
        secrets
            .untag_resource()
            .secret_id(arn)
            .set_tag_keys(Some(changes.remove))
            .send()
            .await
            .map_err(|e| api_error("secretsmanager:UntagResource", e))?;
    }
    if !changes.set.is_empty() {
        secrets
            .tag_resource()
            .secret_id(arn)
            .set_tags(Some(sdk_tags(&changes.set)))
            .send()
            .await
            .map_err(|e| api_error("secretsmanager:TagResource", e))?;
    }
    Ok(())
}

/// A secret as Secrets Manager describes it, and its current value when the describe
/// read that too.
pub(crate) struct Described {
    secret: DescribeSecretOutput,
    current: Option<CurrentValue>,
}

/// A secret's current value (sensitive) and its version.
#[derive(Clone)]
struct CurrentValue {
    value: Value,
    version_id: Option<String>,
}

/// How many values a ListSecrets filter takes.
const LIST_FILTER_VALUES: usize = 10;

/// How many secrets one BatchGetSecretValue reads.
const BATCH_VALUES: usize = 20;

/// A listed secret in the shape DescribeSecret gives it: the same fields.
fn described_secret(entry: SecretListEntry) -> DescribeSecretOutput {
    DescribeSecretOutput::builder()
        .set_arn(entry.arn)
        .set_name(entry.name)
        .set_description(entry.description)
        .set_kms_key_id(entry.kms_key_id)
        .set_rotation_enabled(entry.rotation_enabled)
        .set_rotation_lambda_arn(entry.rotation_lambda_arn)
        .set_rotation_rules(entry.rotation_rules)
        .set_last_rotated_date(entry.last_rotated_date)
        .set_last_changed_date(entry.last_changed_date)
        .set_last_accessed_date(entry.last_accessed_date)
        .set_deleted_date(entry.deleted_date)
        .set_next_rotation_date(entry.next_rotation_date)
        .set_tags(entry.tags)
        .set_owning_service(entry.owning_service)
        .set_created_date(entry.created_date)
        .set_primary_region(entry.primary_region)
        .build()
}

/// The current value of `secret`, read alone.
async fn current_value(
    secrets: &aws_sdk_secretsmanager::Client,
    secret: &DescribeSecretOutput,
) -> Result<CurrentValue, ProviderError> {
    let arn = secret.arn().unwrap_or_default();
    match secrets.get_secret_value().secret_id(arn).send().await {
        Ok(out) => Ok(CurrentValue {
            value: out
                .secret_string()
                .map(|s| Value::from(s).sensitive())
                .unwrap_or_default(),
            version_id: out.version_id().map(str::to_owned),
        }),
        // A secret created without a value has no current version.
        Err(err) if error_code(&err) == Some("ResourceNotFoundException") => Ok(CurrentValue {
            value: Value::Null,
            version_id: None,
        }),
        Err(err) => Err(api_error("secretsmanager:GetSecretValue", err)),
    }
}

/// The secret as attributes, with its current value (sensitive).
fn attributes(
    secret: &DescribeSecretOutput,
    current: CurrentValue,
    prior: Option<&Attrs>,
    default_tags: &BTreeMap<String, String>,
) -> Attrs {
    let arn = secret.arn().unwrap_or_default();
    let CurrentValue { value, version_id } = current;
    Attrs::new()
        .with("id", arn)
        .with("arn", arn)
        .with("name", secret.name())
        .with(
            "description",
            secret.description().filter(|d| !d.is_empty()),
        )
        .with("kms_key_id", secret.kms_key_id())
        .with("value", value)
        .with("version_id", version_id)
        .with(
            "tags",
            map_attribute(
                user_visible(tag_map(secret.tags()), default_tags),
                prior,
                "tags",
            ),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(desired: Attrs) -> Result<PlanAdjustments, ProviderError> {
        Secret.plan(PlanRequest {
            type_name: "aws_secretsmanager_secret",
            prior: None,
            desired: &desired,
        })
    }

    fn fernet() -> Value {
        Value::Map(BTreeMap::from([("kind".to_owned(), Value::from("fernet"))]))
    }

    #[test]
    fn a_new_secret_needs_exactly_one_value_source() {
        let value = Value::from("postgresql://airflow:pw@db:5432/airflow").sensitive();
        assert!(planned(Attrs::new().with("value", value.clone())).is_ok());
        assert!(planned(Attrs::new().with("value", Value::Unknown)).is_ok());
        assert!(planned(Attrs::new().with("generate", fernet())).is_ok());
        assert!(planned(Attrs::new()).is_err());
        let both = planned(Attrs::new().with("value", value).with("generate", fernet()));
        let message = both.expect_err("both set").to_string();
        assert!(message.contains("generate"), "{message}");
        assert!(!message.contains("airflow:pw"), "{message}");
    }

    #[test]
    fn an_existing_secret_keeps_its_recorded_value_beside_generate() {
        let prior = Attrs::new().with("value", Value::SensitiveHash("h".to_owned()));
        let desired = Attrs::new()
            .with("value", Value::SensitiveHash("h".to_owned()))
            .with("generate", fernet());
        let plan = Secret.plan(PlanRequest {
            type_name: "aws_secretsmanager_secret",
            prior: Some(&prior),
            desired: &desired,
        });
        assert!(plan.is_ok());
    }
}
