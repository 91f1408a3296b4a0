//! `aws_s3_bucket`: a bucket and its settings, each kept by its own S3 call.
//!
//! Bucket names are global: a name may already belong to another account, or to a
//! bucket of this account that some other tool made. So a create first looks at the
//! name (GetBucketTagging, which answers its tags too) and adopts a bucket only when it
//! carries this resource's `cairn:*` tags; the tags are sent with CreateBucket itself, so
//! even a bucket whose create answer was lost is recognised. (In us-east-1, S3 answers a create of a bucket the
//! account already owns with success: without that look, cairn would take over a
//! bucket it never made.)
//!
//! Destroy never deletes data by surprise: with `force_destroy` false (the default) a
//! bucket that still holds objects is left in place, and the error says how many object
//! versions and delete markers block it; with `force_destroy` true every version and
//! delete marker is removed first.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, Progress,
    ProviderError, ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, once};
use crate::error::{api_error, error_code};
use crate::resource::{AwsType, Readiness, map_attribute, order_like, unless_empty_and_unset};
use crate::tags::{created_by, object_tags, user_visible};

pub(super) struct Bucket;

/// A bucket this account can see, with its tags: GetBucketTagging both says that the
/// bucket exists and answers what a read, and the ownership check of a create, need of it.
pub(super) struct Found {
    name: String,
    tags: BTreeMap<String, String>,
}

/// How many object versions a refused destroy counts before it stops counting.
const COUNT_LIMIT: usize = 10_000;

const SSE_ALGORITHMS: [&str; 2] = ["AES256", "aws:kms"];
const OWNERSHIPS: [&str; 3] = [
    "BucketOwnerEnforced",
    "BucketOwnerPreferred",
    "ObjectWriter",
];

#[derive(Debug, Deserialize)]
struct BucketConfig {
    bucket: String,
    versioning: Option<bool>,
    server_side_encryption: Option<Encryption>,
    public_access_block: Option<PublicAccessBlock>,
    object_ownership: Option<String>,
    lifecycle_expiration: Option<Vec<Expiration>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Encryption {
    sse_algorithm: String,
    kms_master_key_id: Option<String>,
    bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct PublicAccessBlock {
    block_public_acls: bool,
    block_public_policy: bool,
    ignore_public_acls: bool,
    restrict_public_buckets: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Expiration {
    id: String,
    prefix: Option<String>,
    days: i32,
    noncurrent_days: Option<i32>,
}

/// What a delete follows, as recorded in the state.
#[derive(Debug, Deserialize)]
struct DeleteSettings {
    #[serde(default)]
    force_destroy: bool,
}

fn encryption_schema() -> AttrType {
    AttrType::object([
        (
            "sse_algorithm",
            AttrSchema::required(AttrType::enumeration(&SSE_ALGORITHMS))
                .describe("AES256 (SSE-S3) or aws:kms (SSE-KMS)"),
        ),
        (
            "kms_master_key_id",
            AttrSchema::optional(AttrType::String)
                .describe("KMS key id or ARN for aws:kms (default: the aws/s3 key)"),
        ),
        (
            "bucket_key_enabled",
            AttrSchema::optional(AttrType::Bool)
                .describe("use an S3 Bucket Key, cutting KMS requests (aws:kms only)"),
        ),
    ])
}

fn public_access_block_schema() -> AttrType {
    let flag = |text: &str| AttrSchema::required(AttrType::Bool).describe(text);
    AttrType::object([
        (
            "block_public_acls",
            flag("refuse requests that set public ACLs"),
        ),
        ("block_public_policy", flag("refuse public bucket policies")),
        ("ignore_public_acls", flag("ignore public ACLs already set")),
        (
            "restrict_public_buckets",
            flag("only AWS principals of this account reach a bucket with a public policy"),
        ),
    ])
}

fn expiration_schema() -> AttrType {
    AttrType::object([
        (
            "id",
            AttrSchema::required(AttrType::String).describe("name of the rule"),
        ),
        (
            "prefix",
            AttrSchema::optional(AttrType::String)
                .describe("only objects whose key starts with this (default: every object)"),
        ),
        (
            "days",
            AttrSchema::required(AttrType::Int).describe("days after creation an object expires"),
        ),
        (
            "noncurrent_days",
            AttrSchema::optional(AttrType::Int).describe(
                "days after it stops being current that an old version is deleted (versioned buckets)",
            ),
        ),
    ])
}

#[async_trait]
impl AwsType for Bucket {
    type Object = Found;
    const TYPE_NAME: &'static str = "aws_s3_bucket";
    const KIND: &'static str = "S3 bucket";
    const GONE: &'static [&'static str] = &["NoSuchBucket"];
    /// Attributes that exist only in the stack.
    const CONFIG_ONLY: &'static [&'static str] = &["force_destroy"];
    /// With `force_destroy`, an object written while the bucket was being emptied: the
    /// next attempt empties it again.
    const BUSY: &'static [&'static str] = &["BucketNotEmpty"];
    /// S3 is eventually consistent: a deleted bucket may still answer for a while.
    const WAIT_GONE: bool = true;
    /// The bucket's name.
    const ID: &'static str = "bucket";

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An S3 bucket with its versioning, encryption and access settings")
            .attr(
                "bucket",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("bucket name, unique across all AWS accounts (3-63 characters)"),
            )
            .attr(
                "versioning",
                AttrSchema::optional_computed(AttrType::Bool).describe(
                    "keep every version of every object (default false; once on, false suspends it)",
                ),
            )
            .attr(
                "server_side_encryption",
                AttrSchema::optional_computed(encryption_schema())
                    .describe("default encryption of new objects (AWS default: AES256)"),
            )
            .attr(
                "public_access_block",
                AttrSchema::optional_computed(public_access_block_schema())
                    .describe("the bucket's public access block (AWS default: all four on)"),
            )
            .attr(
                "object_ownership",
                AttrSchema::optional_computed(AttrType::enumeration(&OWNERSHIPS)).describe(
                    "who owns uploaded objects; BucketOwnerEnforced disables ACLs (AWS default)",
                ),
            )
            .attr(
                "lifecycle_expiration",
                AttrSchema::optional(AttrType::list(expiration_schema()))
                    .describe("rules that delete objects some days after they were written"),
            )
            .attr(
                "force_destroy",
                AttrSchema::optional(AttrType::Bool).describe(
                    "let destroy delete every object version first (default false: a bucket \
                     holding objects is not destroyed)",
                ),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags on the bucket"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the bucket"),
            )
            .attr(
                "region",
                AttrSchema::computed(AttrType::String).describe("region the bucket lives in"),
            )
            .timeouts(Timeouts {
                create: Duration::from_secs(5 * 60),
                update: Duration::from_secs(5 * 60),
                delete: Duration::from_secs(60 * 60),
            })
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        if let Some(Value::String(name)) = request.desired.get("bucket") {
            check_name(name)?;
        }
        let known = |name: &str| {
            request
                .desired
                .get(name)
                .filter(|v| !v.contains_unknown())
                .is_some()
        };
        if known("server_side_encryption")
            && let Some(encryption) = request
                .desired
                .opt_decode::<Encryption>("server_side_encryption")?
            && encryption.sse_algorithm == "AES256"
            && encryption.kms_master_key_id.is_some()
        {
            return Err(ProviderError::invalid(
                "server_side_encryption",
                "kms_master_key_id needs sse_algorithm = \"aws:kms\"",
            ));
        }
        if known("lifecycle_expiration")
            && let Some(rules) = request
                .desired
                .opt_decode::<Vec<Expiration>>("lifecycle_expiration")?
        {
            for rule in &rules {
                if rule.days < 1 || rule.noncurrent_days.is_some_and(|d| d < 1) {
                    return Err(ProviderError::invalid(
                        "lifecycle_expiration",
                        format!("rule {}: days must be at least 1", rule.id),
                    ));
                }
                if rules.iter().filter(|r| r.id == rule.id).count() > 1 {
                    return Err(ProviderError::invalid(
                        "lifecycle_expiration",
                        format!("rule id {} is used twice", rule.id),
                    ));
                }
            }
        }
        Ok(PlanAdjustments::default())
    }

    async fn describe(&self, aws: &AwsClients, name: &str) -> Result<Option<Found>, ProviderError> {
        tagged(&aws.s3, name).await
    }

    fn deletion(&self, _bucket: &Found) -> Readiness {
        Readiness::Waiting("still answers GetBucketTagging".to_owned())
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        bucket: &Found,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        attributes(aws, bucket, prior).await
    }

    /// The bucket of the configured name, if this account owns it and it carries this
    /// resource's tags.
    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let name = decode_config::<BucketConfig>(config)?.bucket;
        Ok(match tagged(&aws.s3, &name).await? {
            Some(bucket) if created_by(identity, &bucket.tags) => vec![name],
            _ => Vec::new(),
        })
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: BucketConfig = decode_config(request.config)?;
        let name = config.bucket;
        check_name(&name)?;
        if tagged(&aws.s3, &name).await?.is_some() {
            if self.found_id(aws, request).await?.is_some() {
                return Ok(name);
            }
            return Err(ProviderError::Other(format!(
                "S3 bucket {name} already exists in this account and was not made by this \
                 resource: import it, or choose another name"
            )));
        }
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let location = (aws.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(aws.region.as_str()));
        let bucket_config = CreateBucketConfiguration::builder()
            .set_location_constraint(location)
            .set_tags(Some(s3_tags(&tags)?))
            .build();
        let call = aws
            .s3
            .create_bucket()
            .bucket(&name)
            .create_bucket_configuration(bucket_config);
        let created = create_once(
            CreateCall::new("s3:CreateBucket", Self::KIND, &request.progress),
            |_| false,
            || call.clone().customize().config_override(once::s3()).send(),
            || self.found_id(aws, request),
        )
        .await;
        match created {
            Ok(_) => Ok(name),
            Err(ProviderError::Api {
                code: Some(code), ..
            }) if code == "BucketAlreadyExists" => Err(ProviderError::Other(format!(
                "S3 bucket name {name} is taken by another AWS account (bucket names are \
                 global): choose another name"
            ))),
            Err(err) => Err(err),
        }
    }

    /// Tags (again: not every S3 takes them with CreateBucket), then every setting the
    /// configuration gives, each with its own call.
    async fn after_create(
        &self,
        aws: &AwsClients,
        _bucket: &Found,
        name: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: BucketConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        put_tags(&aws.s3, name, &tags).await?;
        if let Some(ownership) = &config.object_ownership {
            put_ownership(&aws.s3, name, ownership).await?;
        }
        if let Some(block) = &config.public_access_block {
            put_public_access_block(&aws.s3, name, block).await?;
        }
        if config.versioning == Some(true) {
            put_versioning(&aws.s3, name, true).await?;
        }
        if let Some(encryption) = &config.server_side_encryption {
            put_encryption(&aws.s3, name, encryption).await?;
        }
        if let Some(rules) = config.lifecycle_expiration.as_deref() {
            put_lifecycle(&aws.s3, name, rules).await?;
        }
        Ok(true)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        _current: &Found,
        name: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: BucketConfig = decode_config(request.desired)?;
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        if changed("tags") {
            let tags = object_tags(request.identity, &aws.default_tags, &desired.tags);
            put_tags(&aws.s3, name, &tags).await?;
        }
        if changed("object_ownership")
            && let Some(ownership) = &desired.object_ownership
        {
            put_ownership(&aws.s3, name, ownership).await?;
        }
        if changed("public_access_block")
            && let Some(block) = &desired.public_access_block
        {
            put_public_access_block(&aws.s3, name, block).await?;
        }
        if changed("versioning")
            && let Some(enabled) = desired.versioning
        {
            put_versioning(&aws.s3, name, enabled).await?;
        }
        if changed("server_side_encryption")
            && let Some(encryption) = &desired.server_side_encryption
        {
            put_encryption(&aws.s3, name, encryption).await?;
        }
        if changed("lifecycle_expiration") {
            match desired.lifecycle_expiration.as_deref() {
                Some(rules) if !rules.is_empty() => put_lifecycle(&aws.s3, name, rules).await?,
                _ => aws
                    .s3
                    .delete_bucket_lifecycle()
                    .bucket(name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| api_error("s3:DeleteBucketLifecycle", e))?,
            }
        }
        Ok(())
    }

    /// Empties the bucket first with `force_destroy`; without it, refuses a bucket that
    /// holds anything and says what.
    async fn delete_call(
        &self,
        aws: &AwsClients,
        name: &str,
        state: &Attrs,
    ) -> Result<(), ProviderError> {
        let force = decode_config::<DeleteSettings>(state)?.force_destroy;
        if force {
            empty(&aws.s3, name, &Progress::noop()).await?;
        } else {
            refuse_if_not_empty(&aws.s3, name).await?;
        }
        match aws.s3.delete_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(err) if error_code(&err) == Some("BucketNotEmpty") && !force => {
                refuse_if_not_empty(&aws.s3, name).await?;
                Err(api_error("s3:DeleteBucket", err))
            }
            Err(err) => Err(api_error("s3:DeleteBucket", err)),
        }
    }
}

/// S3's naming rules that a plan can check (the rest S3 checks itself).
fn check_name(name: &str) -> Result<(), ProviderError> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let edges = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (3..=63).contains(&name.len())
        && valid_chars
        && edges(name.chars().next())
        && edges(name.chars().last())
    {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            "bucket",
            "must be 3-63 characters of lower-case letters, digits, dots and hyphens, \
             starting and ending with a letter or digit",
        ))
    }
}

/// The bucket if this account can see it; `None` if no bucket has the name. A bucket of
/// another account is an error: cairn can neither read nor make it. A bucket in another
/// region than the client's is an error too (S3 redirects every call about it), so a
/// bucket found is in the client's region.
async fn tagged(s3: &aws_sdk_s3::Client, name: &str) -> Result<Option<Found>, ProviderError> {
    let tags = match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        Err(err) if error_code(&err) == Some("NoSuchTagSet") => BTreeMap::new(),
        Err(err) if error_code(&err) == Some("NoSuchBucket") || status(&err) == Some(404) => {
            return Ok(None);
        }
        Err(err) if status(&err) == Some(403) => {
            return Err(ProviderError::Other(format!(
                "S3 bucket {name} exists but this account may not use it (it belongs to \
                 another account, or a policy denies GetBucketTagging): bucket names are \
                 global, choose another"
            )));
        }
        Err(err) => return Err(api_error("s3:GetBucketTagging", err)),
    };
    Ok(Some(Found {
        name: name.to_owned(),
        tags,
    }))
}

fn status<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// A `Get*` call's answer, with `missing` (S3's code for "never set") read as `None`.
fn optional<O, E>(
    operation: &str,
    missing: &str,
    answer: Result<O, E>,
) -> Result<Option<O>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match answer {
        Ok(out) => Ok(Some(out)),
        Err(err) if err.code() == Some(missing) => Ok(None),
        Err(err) => Err(api_error(operation, err)),
    }
}

fn build_error(what: &str) -> impl FnOnce(BuildError) -> ProviderError + '_ {
    move |e| ProviderError::Other(format!("{what}: {e}"))
}

fn s3_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("S3 tag"))
        })
        .collect()
}

/// Replaces the bucket's tags with `tags` (S3 has no per-key tag calls).
async fn put_tags(
    s3: &aws_sdk_s3::Client,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let tagging = Tagging::builder()
        .set_tag_set(Some(s3_tags(tags)?))
        .build()
        .map_err(build_error("S3 tagging"))?;
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("s3:PutBucketTagging", e))
}

async fn put_ownership(
    s3: &aws_sdk_s3::Client,
    name: &str,
    ownership: &str,
) -> Result<(), ProviderError> {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(ownership))
        .build()
        .map_err(build_error("S3 ownership rule"))?;
    let controls = OwnershipControls::builder()
        .rules(rule)
        .build()
        .map_err(build_error("S3 ownership controls"))?;
    s3.put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(controls)
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("s3:PutBucketOwnershipControls", e))
}

async fn put_public_access_block(
    s3: &aws_sdk_s3::Client,
    name: &str,
    block: &PublicAccessBlock,
) -> Result<(), ProviderError> {
    let config = PublicAccessBlockConfiguration::builder()
        .block_public_acls(block.block_public_acls)
        .block_public_policy(block.block_public_policy)
        .ignore_public_acls(block.ignore_public_acls)
        .restrict_public_buckets(block.restrict_public_buckets)
        .build();
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(config)
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("s3:PutPublicAccessBlock", e))
}

async fn put_versioning(
    s3: &aws_sdk_s3::Client,
    name: &str,
    enabled: bool,
) -> Result<(), ProviderError> {
    let status = if enabled {
        BucketVersioningStatus::Enabled
    } else {
        BucketVersioningStatus::Suspended
    };
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("s3:PutBucketVersioning", e))
}

async fn put_encryption(
    s3: &aws_sdk_s3::Client,
    name: &str,
    encryption: &Encryption,
) -> Result<(), ProviderError> {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(
            encryption.sse_algorithm.as_str(),
        ))
        .set_kms_master_key_id(encryption.kms_master_key_id.clone())
        .build()
        .map_err(build_error("S3 default encryption"))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .set_bucket_key_enabled(encryption.bucket_key_enabled)
        .build();
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(build_error("S3 encryption configuration"))?;
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("s3:PutBucketEncryption", e))
}

async fn put_lifecycle(
    s3: &aws_sdk_s3::Client,
    name: &str,
    rules: &[Expiration],
) -> Result<(), ProviderError> {
    let rules = rules
        .iter()
        .map(|rule| {
            LifecycleRule::builder()
                .id(&rule.id)
                .status(ExpirationStatus::Enabled)
                .filter(
                    LifecycleRuleFilter::builder()
                        .prefix(rule.prefix.clone().unwrap_or_default())
                        .build(),
                )
                .expiration(LifecycleExpiration::builder().days(rule.days).build())
                .set_noncurrent_version_expiration(rule.noncurrent_days.map(|days| {
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(days)
                        .build()
                }))
                .build()
                .map_err(build_error("S3 lifecycle rule"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(build_error("S3 lifecycle configuration"))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(config)
        .send()
        .await
        .map(drop)
        .map_err(|e| api_error("s3:PutBucketLifecycleConfiguration", e))
}

/// What is left in a bucket: object versions (every object, in an unversioned bucket)
/// and delete markers.
#[derive(Debug, Default, PartialEq)]
struct Contents {
    versions: usize,
    delete_markers: usize,
    /// Counting stopped at [`COUNT_LIMIT`].
    more: bool,
}

impl Contents {
    fn is_empty(&self) -> bool {
        self.versions == 0 && self.delete_markers == 0
    }

    fn describe(&self) -> String {
        let plural = |n: usize, what: &str| {
            if n == 1 {
                format!("1 {what}")
            } else {
                format!("{n} {what}s")
            }
        };
        format!(
            "{}{} and {}",
            if self.more { "at least " } else { "" },
            plural(self.versions, "object version"),
            plural(self.delete_markers, "delete marker")
        )
    }
}

/// One page of ListObjectVersions: its versions and delete markers as identifiers.
struct Page {
    versions: Vec<ObjectIdentifier>,
    delete_markers: Vec<ObjectIdentifier>,
    next: Option<(Option<String>, Option<String>)>,
}

async fn list_page(
    s3: &aws_sdk_s3::Client,
    name: &str,
    from: Option<(Option<String>, Option<String>)>,
) -> Result<Page, ProviderError> {
    let (key_marker, version_marker) = from.unwrap_or_default();
    let out = s3
        .list_object_versions()
        .bucket(name)
        .set_key_marker(key_marker)
        .set_version_id_marker(version_marker)
        .send()
        .await
        .map_err(|e| api_error("s3:ListObjectVersions", e))?;
    let id = |key: Option<&str>, version: Option<&str>| {
        ObjectIdentifier::builder()
            .set_key(key.map(str::to_owned))
            .set_version_id(version.map(str::to_owned))
            .build()
            .map_err(build_error("S3 object identifier"))
    };
    let versions = out
        .versions()
        .iter()
        .map(|v| id(v.key(), v.version_id()))
        .collect::<Result<Vec<_>, _>>()?;
    let delete_markers = out
        .delete_markers()
        .iter()
        .map(|m| id(m.key(), m.version_id()))
        .collect::<Result<Vec<_>, _>>()?;
    let next = out.is_truncated().unwrap_or(false).then(|| {
        (
            out.next_key_marker().map(str::to_owned),
            out.next_version_id_marker().map(str::to_owned),
        )
    });
    Ok(Page {
        versions,
        delete_markers,
        next,
    })
}

async fn count(s3: &aws_sdk_s3::Client, name: &str) -> Result<Contents, ProviderError> {
    let mut contents = Contents::default();
    let mut from = None;
    loop {
        let page = list_page(s3, name, from).await?;
        contents.versions += page.versions.len();
        contents.delete_markers += page.delete_markers.len();
        match page.next {
            Some(next) if contents.versions + contents.delete_markers < COUNT_LIMIT => {
                from = Some(next);
            }
            Some(_) => {
                contents.more = true;
                return Ok(contents);
            }
            None => return Ok(contents),
        }
    }
}

async fn refuse_if_not_empty(s3: &aws_sdk_s3::Client, name: &str) -> Result<(), ProviderError> {
    let contents = count(s3, name).await?;
    if contents.is_empty() {
        return Ok(());
    }
    Err(ProviderError::Other(format!(
        "S3 bucket {name} is not empty: {} block its deletion (force_destroy is false). \
         Empty the bucket, or set force_destroy = true and apply, then destroy again",
        contents.describe()
    )))
}

/// Deletes every object version and delete marker, a page (up to 1,000) at a time.
async fn empty(
    s3: &aws_sdk_s3::Client,
    name: &str,
    progress: &Progress,
) -> Result<(), ProviderError> {
    let mut deleted = 0;
    loop {
        // Always from the start: what was listed before is deleted now.
        let page = list_page(s3, name, None).await?;
        let batch: Vec<ObjectIdentifier> = page
            .versions
            .into_iter()
            .chain(page.delete_markers)
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        deleted += batch.len();
        let delete = Delete::builder()
            .set_objects(Some(batch))
            .quiet(true)
            .build()
            .map_err(build_error("S3 delete request"))?;
        let out = s3
            .delete_objects()
            .bucket(name)
            .delete(delete)
            .send()
            .await
            .map_err(|e| api_error("s3:DeleteObjects", e))?;
        if let Some(error) = out.errors().first() {
            return Err(ProviderError::api(
                "s3:DeleteObjects",
                error.code().map(str::to_owned),
                format!(
                    "{} (object {} version {})",
                    error.message().unwrap_or("could not delete an object"),
                    error.key().unwrap_or("?"),
                    error.version_id().unwrap_or("null")
                ),
            ));
        }
        progress.report(format!(
            "S3 bucket {name}: {deleted} object versions deleted"
        ));
    }
}

/// The bucket as attributes: one S3 call per setting besides its tags.
async fn attributes(
    aws: &AwsClients,
    bucket: &Found,
    prior: Option<&Attrs>,
) -> Result<Attrs, ProviderError> {
    let s3 = &aws.s3;
    let name = bucket.name.as_str();
    let versioning = versioning_status(s3, name).await?;
    let encryption = optional(
        "s3:GetBucketEncryption",
        "ServerSideEncryptionConfigurationNotFoundError",
        s3.get_bucket_encryption().bucket(name).send().await,
    )?;
    let block = optional(
        "s3:GetPublicAccessBlock",
        "NoSuchPublicAccessBlockConfiguration",
        s3.get_public_access_block().bucket(name).send().await,
    )?;
    let ownership = optional(
        "s3:GetBucketOwnershipControls",
        "OwnershipControlsNotFoundError",
        s3.get_bucket_ownership_controls().bucket(name).send().await,
    )?;
    let lifecycle = optional(
        "s3:GetBucketLifecycleConfiguration",
        "NoSuchLifecycleConfiguration",
        s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await,
    )?;
    let tags = user_visible(bucket.tags.clone(), &aws.default_tags);

    let prior_encryption = prior.and_then(|p| p.get("server_side_encryption"));
    let encryption = encryption
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .and_then(|rule| encryption_value(rule, prior_encryption));
    let block = block
        .as_ref()
        .and_then(|b| b.public_access_block_configuration())
        .map(|b| {
            object([
                ("block_public_acls", b.block_public_acls().into()),
                ("block_public_policy", b.block_public_policy().into()),
                ("ignore_public_acls", b.ignore_public_acls().into()),
                (
                    "restrict_public_buckets",
                    b.restrict_public_buckets().into(),
                ),
            ])
        });
    let ownership = ownership
        .as_ref()
        .and_then(|o| o.ownership_controls())
        .and_then(|c| c.rules().first())
        .map(|r| r.object_ownership().as_str().to_owned());
    let rules: Vec<Value> = lifecycle
        .as_ref()
        .map(|l| l.rules())
        .unwrap_or_default()
        .iter()
        .filter(|r| r.status() == &ExpirationStatus::Enabled)
        .map(expiration_value)
        .collect();
    let prior_rules = prior.and_then(|p| p.get("lifecycle_expiration"));
    let rules = Value::List(order_like(prior_rules, rules));
    let region = aws.region.as_str();
    Ok(Attrs::new()
        .with("id", name)
        .with("bucket", name)
        .with("arn", format!("arn:{}:s3:::{name}", partition(region)))
        .with("region", region)
        .with("versioning", versioning.as_deref() == Some("Enabled"))
        .with("server_side_encryption", encryption)
        .with("public_access_block", block)
        .with("object_ownership", ownership)
        .with(
            "lifecycle_expiration",
            unless_empty_and_unset(rules, prior, "lifecycle_expiration"),
        )
        .with("tags", map_attribute(tags, prior, "tags")))
}

/// The bucket's versioning status (`Enabled`, `Suspended`), `None` if never set.
async fn versioning_status(
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Option<String>, ProviderError> {
    match s3.get_bucket_versioning().bucket(name).send().await {
        Ok(out) => Ok(out.status().map(|s| s.as_str().to_owned())),
        // S3-compatible servers (moto 5.2 among them) may name the answer's root element
        // otherwise than S3 (`GetBucketVersioningResponse`), which the SDK refuses: a
        // successful answer's `Status` element is read directly then.
        Err(err) if error_code(&err).is_none() && status(&err) == Some(200) => {
            let body = err
                .raw_response()
                .and_then(|r| r.body().bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Ok(xml_element(&body, "Status"))
        }
        Err(err) => Err(api_error("s3:GetBucketVersioning", err)),
    }
}

/// The text of the first `<name>` element of an XML document.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..end].to_owned())
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Map(
        fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// The default encryption as `read` reports it: the key as configured when it names the
/// same key (an id for S3's ARN), and `bucket_key_enabled` only when configured.
fn encryption_value(rule: &ServerSideEncryptionRule, prior: Option<&Value>) -> Option<Value> {
    let default = rule.apply_server_side_encryption_by_default()?;
    let configured = |field: &str| prior.and_then(|p| p.get(field)).filter(|v| !v.is_null());
    let key = default.kms_master_key_id().map(|actual| {
        match configured("kms_master_key_id").and_then(|v| v.as_str().map(str::to_owned)) {
            Some(wanted) if actual == wanted || actual.ends_with(&format!("/{wanted}")) => wanted,
            _ => actual.to_owned(),
        }
    });
    let bucket_key = configured("bucket_key_enabled")
        .is_some()
        .then(|| rule.bucket_key_enabled().unwrap_or(false));
    Some(object([
        ("sse_algorithm", default.sse_algorithm().as_str().into()),
        ("kms_master_key_id", key.into()),
        ("bucket_key_enabled", bucket_key.into()),
    ]))
}

fn expiration_value(rule: &LifecycleRule) -> Value {
    let prefix = rule
        .filter()
        .and_then(LifecycleRuleFilter::prefix)
        .filter(|p| !p.is_empty());
    object([
        ("id", rule.id().into()),
        ("prefix", prefix.into()),
        (
            "days",
            rule.expiration().and_then(LifecycleExpiration::days).into(),
        ),
        (
            "noncurrent_days",
            rule.noncurrent_version_expiration()
                .and_then(NoncurrentVersionExpiration::noncurrent_days)
                .into(),
        ),
    ])
}

/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod lost_answer {
        //! A CreateBucket whose answer is lost: the bucket of that name is adopted only
        //! when it carries this resource's tags. (moto ignores tags sent with
        //! CreateBucket, so its answers are played here.)

        use super::*;
        use crate::eks::capture::{Capture, NO_ANSWER};
        use crate::resource::{AwsResource, Typed};

        fn identity() -> ResourceIdentity {
            ResourceIdentity {
                stack: "airflow".to_owned(),
                env: "prod".to_owned(),
                address: "aws_s3_bucket.logs".to_owned(),
            }
        }

        fn tagging(tags: &BTreeMap<String, String>) -> (u16, String) {
            let tags: String = tags
                .iter()
                .map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"))
                .collect();
            (200, format!("<Tagging><TagSet>{tags}</TagSet></Tagging>"))
        }

        fn missing(code: &str) -> (u16, String) {
            (
                404,
                format!("<Error><Code>{code}</Code><Message>none</Message></Error>"),
            )
        }

        fn ok() -> (u16, String) {
            (200, String::new())
        }

        /// `METHOD ?query` of each request: S3 names its calls by their query.
        fn calls(capture: &Capture) -> Vec<String> {
            capture
                .requests()
                .iter()
                .map(|r| {
                    let query = r.uri().split_once('?').map_or("", |(_, q)| q);
                    let query = query.split('&').next().unwrap_or_default();
                    format!(
                        "{} ?{}",
                        r.method(),
                        query.split('=').next().unwrap_or_default()
                    )
                })
                .collect()
        }

        fn request<'a>(identity: &'a ResourceIdentity, config: &'a Attrs) -> CreateRequest<'a> {
            CreateRequest {
                type_name: "aws_s3_bucket",
                identity,
                config,
                timeout: Duration::from_secs(5 * 60),
                progress: Progress::noop(),
            }
        }

        #[tokio::test]
        async fn the_bucket_carrying_this_resource_tags_is_adopted() {
            let mut tags = identity().tags();
            tags.insert("team".to_owned(), "data".to_owned());
            let capture = Capture::script([
                missing("NoSuchBucket"),
                (NO_ANSWER, String::new()),
                tagging(&tags),
                tagging(&tags),
                ok(),
                tagging(&tags),
                (200, "<VersioningConfiguration/>".to_owned()),
                missing("ServerSideEncryptionConfigurationNotFoundError"),
                missing("NoSuchPublicAccessBlockConfiguration"),
                missing("OwnershipControlsNotFoundError"),
                missing("NoSuchLifecycleConfiguration"),
            ]);
            let identity = identity();
            let config = Attrs::new().with("bucket", "airflow-prod-logs").with(
                "tags",
                Value::Map(BTreeMap::from([("team".to_owned(), Value::from("data"))])),
            );
            let attrs = Typed(Bucket)
                .create(&capture.clients(), request(&identity, &config))
                .await
                .expect("adopted");
            assert_eq!(
                calls(&capture),
                [
                    "GET ?tagging",
                    "PUT ?",
                    "GET ?tagging",
                    "GET ?tagging",
                    "PUT ?tagging",
                    "GET ?tagging",
                    "GET ?versioning",
                    "GET ?encryption",
                    "GET ?publicAccessBlock",
                    "GET ?ownershipControls",
                    "GET ?lifecycle",
                ]
            );
            let sent = crate::eks::capture::body(&capture.requests()[1]);
            assert!(sent.contains("<Key>cairn:address</Key>"), "{sent}");
            assert_eq!(attrs.get("tags"), config.get("tags"));
            assert_eq!(
                attrs.opt_str("id").ok().flatten().as_deref(),
                Some("airflow-prod-logs")
            );
        }

        #[tokio::test]
        async fn a_bucket_without_this_resource_tags_is_never_adopted() {
            let mut theirs = identity().tags();
            theirs.insert("cairn:env".to_owned(), "dev".to_owned());
            let mut script = vec![missing("NoSuchBucket"), (NO_ANSWER, String::new())];
            script.extend(std::iter::repeat_n(tagging(&theirs), 20));
            let capture = Capture::script(script);
            let identity = identity();
            let config = Attrs::new().with("bucket", "airflow-prod-logs");
            let error = Typed(Bucket)
                .create(&capture.clients(), request(&identity, &config))
                .await
                .expect_err("not ours")
                .to_string();
            assert!(error.contains("run apply again"), "{error}");
            assert!(
                !calls(&capture).contains(&"PUT ?tagging".to_owned()),
                "nothing written to the other bucket"
            );
            assert!(capture.unused() > 0);
        }
    }

    fn planned(desired: Attrs) -> Result<PlanAdjustments, ProviderError> {
        Bucket.plan(PlanRequest {
            type_name: "aws_s3_bucket",
            prior: None,
            desired: &desired,
        })
    }

    fn map(fields: &[(&str, Value)]) -> Value {
        Value::Map(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn an_element_is_read_from_xml() {
        let xml = r#"<?xml version="1.0"?><R xmlns="x"><Status>Enabled</Status></R>"#;
        assert_eq!(xml_element(xml, "Status").as_deref(), Some("Enabled"));
        assert_eq!(xml_element(r#"<R xmlns="x"/>"#, "Status"), None);
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for good in ["abc", "airflow-prod-logs", "logs.example.com", "a1-b2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Airflow",
            "-logs",
            "logs-",
            "under_score",
            &"a".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_refuses_a_key_without_kms_and_bad_rules() {
        let sse = |algorithm: &str| {
            map(&[
                ("sse_algorithm", Value::from(algorithm)),
                ("kms_master_key_id", Value::from("k-1")),
            ])
        };
        let base = Attrs::new().with("bucket", "airflow-logs");
        assert!(planned(base.clone().with("server_side_encryption", sse("aws:kms"))).is_ok());
        assert!(planned(base.clone().with("server_side_encryption", sse("AES256"))).is_err());
        let rule =
            |id: &str, days: i64| map(&[("id", Value::from(id)), ("days", Value::Int(days))]);
        let rules = |items: Vec<Value>| {
            base.clone()
                .with("lifecycle_expiration", Value::List(items))
        };
        assert!(planned(rules(vec![rule("logs", 30), rule("tmp", 1)])).is_ok());
        assert!(planned(rules(vec![rule("logs", 0)])).is_err());
        let twice = planned(rules(vec![rule("logs", 30), rule("logs", 7)]));
        assert!(twice.err().is_some_and(|e| e.to_string().contains("twice")));
        assert!(planned(base.with("lifecycle_expiration", Value::Unknown)).is_ok());
    }

    #[test]
    fn what_blocks_a_destroy_is_counted_in_words() {
        let contents = Contents {
            versions: 3,
            delete_markers: 1,
            more: false,
        };
        assert_eq!(contents.describe(), "3 object versions and 1 delete marker");
        let many = Contents {
            versions: 10_000,
            delete_markers: 0,
            more: true,
        };
        assert_eq!(
            many.describe(),
            "at least 10000 object versions and 0 delete markers"
        );
        assert!(Contents::default().is_empty());
    }

    #[test]
    fn a_configured_key_id_matches_the_arn_s3_reports() {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id("arn:aws:kms:us-east-1:123456789012:key/k-1")
            .build()
            .expect("valid");
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .bucket_key_enabled(true)
            .build();
        let configured = map(&[
            ("sse_algorithm", Value::from("aws:kms")),
            ("kms_master_key_id", Value::from("k-1")),
        ]);
        assert_eq!(
            encryption_value(&rule, Some(&configured)),
            Some(configured.clone())
        );
        let read = encryption_value(&rule, None).expect("encryption");
        assert_eq!(
            read.get("kms_master_key_id"),
            Some(Value::from("arn:aws:kms:us-east-1:123456789012:key/k-1"))
        );
        assert_eq!(
            read.get("bucket_key_enabled"),
            None,
            "not configured: not reported"
        );
    }
}
