//! `aws_db_instance`: an RDS database instance (PostgreSQL for Airflow's metadata). Owns
//! CreateDBInstance, ModifyDBInstance for what RDS changes in place, the waits for
//! `available` (through the statuses RDS passes on the way; any other status fails with
//! RDS's latest event for the instance), and a delete that honours deletion protection
//! and takes a final snapshot unless told to skip it. The master password is sent, never
//! read back.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance, PendingModifiedValues, SourceType};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, PlanAdjustments, PlanRequest, Progress,
    ProviderError, ResourceIdentity, ResourceSchema, Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::{configured_case, rds_tags, sync_tags, tag_map};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, once};
use crate::error::{api_error, found};
use crate::resource::{AwsType, Readiness, not_found};
use crate::resource::{keep_order, map_attribute, strings};
use crate::tags::created_by;
use crate::tags::{object_tags, user_visible};
use crate::wait::{Backoff, Check, deadline, poll_until, remaining};

/// Creating or modifying an instance takes 5-20 minutes on AWS.
const INSTANCE_POLL: Backoff = Backoff {
    initial: Duration::from_secs(15),
    max: Duration::from_secs(30),
};

/// How long a create may take; also how long `find` waits for an instance an
/// interrupted apply left creating.
const CREATE_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// Statuses in which an instance serves connections. `storage-optimization` follows a
/// storage change and lasts hours, with the instance fully usable.
const USABLE: [&str; 2] = ["available", "storage-optimization"];
/// Statuses RDS passes through on its way to `available` (terraform-provider-aws's
/// `waitDBInstanceAvailable` list). Any other status (`failed`, `incompatible-*`,
/// `stopped`, ...) is one RDS does not leave by itself: the wait fails.
const PENDING: [&str; 15] = [
    "backing-up",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "creating",
    "maintenance",
    "modifying",
    "moving-to-vpc",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "starting",
    "stopping",
    "storage-full",
    "upgrading",
];

pub(crate) struct Instance;

#[derive(Debug, Deserialize)]
struct InstanceConfig {
    identifier: String,
    engine: String,
    engine_version: Option<String>,
    instance_class: String,
    allocated_storage: i32,
    storage_type: Option<String>,
    db_name: Option<String>,
    username: String,
    password: Option<String>,
    manage_master_user_password: Option<bool>,
    db_subnet_group_name: Option<String>,
    parameter_group_name: Option<String>,
    vpc_security_group_ids: Option<Vec<String>>,
    multi_az: Option<bool>,
    backup_retention_period: Option<i32>,
    deletion_protection: Option<bool>,
    publicly_accessible: Option<bool>,
    storage_encrypted: Option<bool>,
    kms_key_id: Option<String>,
    apply_immediately: Option<bool>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// The configuration a delete follows, as recorded in the state (RDS does not report
/// it).
#[derive(Debug, Deserialize)]
struct FinalSnapshot {
    #[serde(default)]
    skip_final_snapshot: bool,
    final_snapshot_identifier: Option<String>,
}

#[async_trait]
impl AwsType for Instance {
    type Object = DbInstance;
    const TYPE_NAME: &'static str = "aws_db_instance";
    const KIND: &'static str = "DB instance";
    const GONE: &'static [&'static str] = &["DBInstanceNotFound"];
    /// Attributes that exist only in the stack: RDS cannot report them, so results carry the
    /// configured values.
    const CONFIG_ONLY: &'static [&'static str] = &[
        "password",
        "skip_final_snapshot",
        "final_snapshot_identifier",
        "apply_immediately",
    ];
    const ID: &'static str = "identifier";
    const WAIT_GONE: bool = true;
    const BACKOFF: Backoff = INSTANCE_POLL;

    fn schema(&self) -> ResourceSchema {
        let computed = |ty: AttrType, text: &str| AttrSchema::computed(ty).describe(text);
        let defaulted = |ty: AttrType, text: &str| AttrSchema::optional_computed(ty).describe(text);
        ResourceSchema::new("An RDS database instance")
            .attr(
                "identifier",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("instance identifier (RDS stores it in lower case)"),
            )
            .attr(
                "engine",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("database engine, e.g. postgres"),
            )
            .attr(
                "engine_version",
                defaulted(
                    AttrType::String,
                    "engine version, e.g. 16 or 16.4; upgraded in place",
                ),
            )
            .attr(
                "instance_class",
                AttrSchema::required(AttrType::String).describe("e.g. db.t4g.medium"),
            )
            .attr(
                "allocated_storage",
                AttrSchema::required(AttrType::Int).describe("storage in GiB (can only grow)"),
            )
            .attr(
                "storage_type",
                defaulted(AttrType::String, "gp2, gp3, io1 or io2"),
            )
            .attr(
                "db_name",
                AttrSchema::optional(AttrType::String)
                    .force_new()
                    .describe("database created with the instance"),
            )
            .attr(
                "username",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("master user name"),
            )
            .attr(
                "password",
                AttrSchema::optional(AttrType::String)
                    .sensitive()
                    .describe("master password; or set manage_master_user_password"),
            )
            .attr(
                "manage_master_user_password",
                defaulted(
                    AttrType::Bool,
                    "let RDS keep the master password in Secrets Manager",
                ),
            )
            .attr(
                "db_subnet_group_name",
                defaulted(AttrType::String, "DB subnet group to place the instance in"),
            )
            .attr(
                "parameter_group_name",
                defaulted(AttrType::String, "DB parameter group"),
            )
            .attr(
                "vpc_security_group_ids",
                defaulted(
                    AttrType::list(AttrType::String),
                    "security groups of the instance",
                ),
            )
            .attr(
                "multi_az",
                defaulted(
                    AttrType::Bool,
                    "keep a standby in another availability zone",
                ),
            )
            .attr(
                "backup_retention_period",
                defaulted(AttrType::Int, "days of automated backups (0 disables)"),
            )
            .attr(
                "deletion_protection",
                defaulted(AttrType::Bool, "refuse deletion until turned off"),
            )
            .attr(
                "publicly_accessible",
                defaulted(AttrType::Bool, "give the endpoint a public address"),
            )
            .attr(
                "storage_encrypted",
                AttrSchema::optional_computed(AttrType::Bool)
                    .force_new()
                    .describe(
                        "encrypt the storage at rest (default false); RDS cannot change it on \
                         an existing instance",
                    ),
            )
            .attr(
                "kms_key_id",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe(
                        "KMS key (id, ARN or alias) that encrypts the storage; needs \
                         storage_encrypted = true (default: the account's aws/rds key)",
                    ),
            )
            .attr(
                "skip_final_snapshot",
                AttrSchema::optional(AttrType::Bool)
                    .describe("delete without a final snapshot (default false)"),
            )
            .attr(
                "final_snapshot_identifier",
                AttrSchema::optional(AttrType::String).describe(
                    "name of the final snapshot; must be new at each deletion (default \
                         IDENTIFIER-final-RESOURCEID, unique per instance)",
                ),
            )
            .attr(
                "apply_immediately",
                AttrSchema::optional(AttrType::Bool).describe(
                    "apply changes now rather than in the maintenance window (default false)",
                ),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags on the instance"),
            )
            .attr("arn", computed(AttrType::String, "ARN of the instance"))
            .attr(
                "endpoint",
                computed(AttrType::String, "DNS name to connect to"),
            )
            .attr("port", computed(AttrType::Int, "port to connect to"))
            .attr(
                "master_user_secret_arn",
                computed(
                    AttrType::String,
                    "Secrets Manager secret holding the managed master password",
                ),
            )
            .attr(
                "status",
                computed(AttrType::String, "RDS status, e.g. available"),
            )
            .timeouts(Timeouts {
                create: CREATE_TIMEOUT,
                update: Duration::from_secs(80 * 60),
                delete: Duration::from_secs(60 * 60),
            })
    }

    /// RDS needs a master password from exactly one source, and a storage key only for
    /// encrypted storage.
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        // RDS reports the key's ARN whatever named it: an alias would differ at every
        // plan, and the attribute forces a replacement.
        if let Some(Value::String(key)) = request.desired.get("kms_key_id")
            && (key.starts_with("alias/") || key.contains(":alias/"))
        {
            return Err(ProviderError::invalid(
                "kms_key_id",
                "must name the key by id or ARN, not by alias (RDS reports the key's ARN)",
            ));
        }
        let encrypted = request.desired.get("storage_encrypted");
        if request.desired.get("kms_key_id").is_some()
            && !matches!(encrypted, Some(Value::Bool(true) | Value::Unknown))
        {
            return Err(ProviderError::invalid(
                "kms_key_id",
                "needs storage_encrypted = true",
            ));
        }
        let password = request.desired.get("password").is_some();
        match request.desired.get("manage_master_user_password") {
            Some(Value::Bool(true)) if password => Err(ProviderError::invalid(
                "password",
                "cannot be set together with manage_master_user_password = true",
            )),
            Some(Value::Bool(true)) | Some(Value::Unknown) => Ok(PlanAdjustments::default()),
            _ if password => Ok(PlanAdjustments::default()),
            _ => Err(ProviderError::invalid(
                "password",
                "is required unless manage_master_user_password = true",
            )),
        }
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        identifier: &str,
    ) -> Result<Option<DbInstance>, ProviderError> {
        describe(&aws.rds, identifier).await
    }

    fn is_live(&self, db: &DbInstance) -> bool {
        db.db_instance_status() != Some("deleting")
    }

    async fn readiness(&self, aws: &AwsClients, db: &DbInstance) -> Readiness {
        check(&aws.rds, db, false).await
    }

    fn deletion(&self, db: &DbInstance) -> Readiness {
        Readiness::Waiting(format!(
            "status {}",
            db.db_instance_status().unwrap_or("unknown")
        ))
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        db: &DbInstance,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        Ok(attributes(
            db,
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
        let identifier = decode_config::<InstanceConfig>(config)?.identifier;
        Ok(describe(&aws.rds, &identifier)
            .await?
            .filter(|db| self.is_live(db) && created_by(identity, &tag_map(db.tag_list())))
            .map(|_| identifier)
            .into_iter()
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        self.plan(PlanRequest {
            type_name: Self::TYPE_NAME,
            prior: None,
            desired: request.config,
        })?;
        let config: InstanceConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let call = aws
            .rds
            .create_db_instance()
            .db_instance_identifier(&config.identifier)
            .engine(&config.engine)
            .set_engine_version(config.engine_version.clone())
            .db_instance_class(&config.instance_class)
            .allocated_storage(config.allocated_storage)
            .set_storage_type(config.storage_type.clone())
            .set_db_name(config.db_name.clone())
            .master_username(&config.username)
            .set_master_user_password(config.password.clone())
            .set_manage_master_user_password(config.manage_master_user_password.filter(|m| *m))
            .set_db_subnet_group_name(config.db_subnet_group_name.clone())
            .set_db_parameter_group_name(config.parameter_group_name.clone())
            .set_vpc_security_group_ids(config.vpc_security_group_ids.clone())
            .set_multi_az(config.multi_az)
            .set_backup_retention_period(config.backup_retention_period)
            .set_deletion_protection(config.deletion_protection)
            .set_publicly_accessible(config.publicly_accessible)
            .set_storage_encrypted(config.storage_encrypted)
            .set_kms_key_id(config.kms_key_id.clone())
            .set_tags(Some(rds_tags(tags)));
        create_once(
            CreateCall::new("rds:CreateDBInstance", Self::KIND, &request.progress),
            |_| false,
            || call.clone().customize().config_override(once::rds()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        Ok(config.identifier)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        db: &DbInstance,
        identifier: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        // The password is read only when it changed: otherwise it may be the recorded hash
        // (e.g. under `ignore_changes`), which cannot be decoded or sent.
        let mut without_password = request.desired.clone();
        without_password.0.remove("password");
        let desired: InstanceConfig = decode_config(&without_password)?;
        let deadline = deadline(request.timeout);
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        let apply_immediately = desired.apply_immediately.unwrap_or(false);

        let mut call = aws
            .rds
            .modify_db_instance()
            .db_instance_identifier(identifier);
        let mut modified = false;
        let mut set = |attr: &str| {
            let hit = changed(attr);
            modified |= hit;
            hit
        };
        if set("instance_class") {
            call = call.db_instance_class(&desired.instance_class);
        }
        if set("allocated_storage") {
            call = call.allocated_storage(desired.allocated_storage);
        }
        if set("storage_type") {
            call = call.set_storage_type(desired.storage_type.clone());
        }
        if set("engine_version") {
            let prior = request.prior.opt_str("engine_version")?;
            call = call
                .set_engine_version(desired.engine_version.clone())
                .set_allow_major_version_upgrade(Some(major_upgrade(
                    prior.as_deref(),
                    desired.engine_version.as_deref(),
                )));
        }
        if set("password") {
            let with_password: InstanceConfig = decode_config(request.desired)?;
            call = call.set_master_user_password(with_password.password);
        }
        if set("manage_master_user_password") {
            call = call.set_manage_master_user_password(desired.manage_master_user_password);
        }
        if set("db_subnet_group_name") {
            call = call.set_db_subnet_group_name(desired.db_subnet_group_name.clone());
        }
        if set("parameter_group_name") {
            call = call.set_db_parameter_group_name(desired.parameter_group_name.clone());
        }
        if set("vpc_security_group_ids") {
            call = call.set_vpc_security_group_ids(desired.vpc_security_group_ids.clone());
        }
        if set("multi_az") {
            call = call.set_multi_az(desired.multi_az);
        }
        if set("backup_retention_period") {
            call = call.set_backup_retention_period(desired.backup_retention_period);
        }
        if set("deletion_protection") {
            call = call.set_deletion_protection(desired.deletion_protection);
        }
        if set("publicly_accessible") {
            call = call.set_publicly_accessible(desired.publicly_accessible);
        }
        if modified {
            call.apply_immediately(apply_immediately)
                .send()
                .await
                .map_err(|e| api_error("rds:ModifyDBInstance", e))?;
            wait_usable(
                &aws.rds,
                identifier,
                apply_immediately,
                remaining(deadline),
                &request.progress,
            )
            .await?;
        }
        if changed("tags") {
            let wanted = object_tags(request.identity, &aws.default_tags, &desired.tags);
            sync_tags(
                &aws.rds,
                db.db_instance_arn().unwrap_or_default(),
                &tag_map(db.tag_list()),
                &wanted,
            )
            .await?;
        }
        Ok(())
    }

    /// A delete already under way (an earlier run was interrupted) is waited on; a
    /// final snapshot is taken unless the state says to skip it.
    async fn delete_call(
        &self,
        aws: &AwsClients,
        identifier: &str,
        state: &Attrs,
    ) -> Result<(), ProviderError> {
        let Some(db) = describe(&aws.rds, identifier).await? else {
            return Ok(());
        };
        if db.db_instance_status() == Some("deleting") {
            return Ok(());
        }
        if db.deletion_protection() == Some(true) {
            return Err(ProviderError::Other(format!(
                "DB instance {identifier} has deletion protection: set deletion_protection = false and \
                 apply before destroying it"
            )));
        }
        let settings: FinalSnapshot = decode_config(state)?;
        let skip = settings.skip_final_snapshot;
        let snapshot = match settings.final_snapshot_identifier {
            Some(snapshot) => snapshot,
            None => default_snapshot_identifier(identifier, db.dbi_resource_id()),
        };
        aws.rds
            .delete_db_instance()
            .db_instance_identifier(identifier)
            .skip_final_snapshot(skip)
            .set_final_db_snapshot_identifier((!skip).then_some(snapshot))
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("rds:DeleteDBInstance", e))
    }
}

async fn describe(
    rds: &aws_sdk_rds::Client,
    identifier: &str,
) -> Result<Option<DbInstance>, ProviderError> {
    found(
        "rds:DescribeDBInstances",
        &["DBInstanceNotFound"],
        rds.describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await,
        |out| out.db_instances.and_then(|dbs| dbs.into_iter().next()),
    )
}

/// True while RDS still has changes queued that an immediate modification will apply.
fn has_pending(pending: &PendingModifiedValues) -> bool {
    pending.db_instance_class().is_some()
        || pending.allocated_storage().is_some()
        || pending.master_user_password().is_some()
        || pending.multi_az().is_some()
        || pending.engine_version().is_some()
        || pending.storage_type().is_some()
        || pending.backup_retention_period().is_some()
        || pending.db_subnet_group_name().is_some()
}

/// Serving, with the address to connect to.
fn is_usable(db: &DbInstance) -> bool {
    db.db_instance_status()
        .is_some_and(|status| USABLE.contains(&status))
        && db
            .endpoint()
            .and_then(|e| e.address())
            .is_some_and(|a| !a.is_empty())
}

/// Whether the instance is usable. After an immediate modification, RDS may still say
/// `available` for a moment with the change queued; `after_modify` waits until nothing is
/// pending. A status neither usable nor [`PENDING`] fails with RDS's latest event for the
/// instance, which says why.
async fn check(rds: &aws_sdk_rds::Client, db: &DbInstance, after_modify: bool) -> Readiness {
    let identifier = db.db_instance_identifier().unwrap_or_default();
    let status = db.db_instance_status().unwrap_or("unknown");
    let pending = after_modify && db.pending_modified_values().is_some_and(has_pending);
    if !USABLE.contains(&status) && !PENDING.contains(&status) {
        let reason = latest_event(rds, identifier)
            .await
            .unwrap_or_else(|| "RDS reported no event for it".to_owned());
        return Readiness::Failed(ProviderError::Other(format!(
            "DB instance {identifier} is in status {status}: {reason}"
        )));
    }
    if is_usable(db) && !pending {
        Readiness::Ready
    } else if pending {
        Readiness::Waiting(format!("status {status}, modifications pending"))
    } else {
        Readiness::Waiting(format!("status {status}"))
    }
}

/// Waits until a modified instance is usable with nothing pending (see [`check`]).
async fn wait_usable(
    rds: &aws_sdk_rds::Client,
    identifier: &str,
    after_modify: bool,
    timeout: Duration,
    progress: &Progress,
) -> Result<DbInstance, ProviderError> {
    poll_until(
        &format!("DB instance {identifier} to become available"),
        timeout,
        INSTANCE_POLL,
        progress,
        || async {
            let db = describe(rds, identifier)
                .await?
                .ok_or_else(|| not_found(Instance::KIND, identifier))?;
            match check(rds, &db, after_modify).await {
                Readiness::Ready => Ok(Check::Done(db)),
                Readiness::Waiting(status) => Ok(Check::Waiting(status)),
                Readiness::Failed(error) => Err(error),
            }
        },
    )
    .await
}

/// The message of the latest RDS event about the instance in the last day, e.g. why it
/// is `incompatible-parameters`. `None` if there is none or the call fails: it only
/// explains an error already being reported.
async fn latest_event(rds: &aws_sdk_rds::Client, identifier: &str) -> Option<String> {
    let events = rds
        .describe_events()
        .source_identifier(identifier)
        .source_type(SourceType::DbInstance)
        .duration(24 * 60)
        .send()
        .await
        .ok()?;
    events
        .events()
        .iter()
        .filter(|e| e.message().is_some())
        .max_by_key(|e| e.date().map(|d| (d.secs(), d.subsec_nanos())))
        .and_then(|e| e.message())
        .map(str::to_owned)
}

/// A major upgrade (16 -> 17) must be allowed explicitly; minor ones need not.
fn major_upgrade(prior: Option<&str>, desired: Option<&str>) -> bool {
    let major = |v: Option<&str>| v.and_then(|v| v.split('.').next()).map(str::to_owned);
    desired.is_some() && major(prior) != major(desired)
}

/// The final snapshot's name when the stack does not choose one: unique per deletion, so
/// a stack destroyed, re-applied and destroyed again does not collide with its first
/// snapshot (`DBSnapshotAlreadyExists`). It ends with the instance's resource id
/// (`db-ABC...`), which RDS never reuses, so no clock is involved; only if RDS reported
/// none does the deletion time stand in.
fn default_snapshot_identifier(identifier: &str, resource_id: Option<&str>) -> String {
    let suffix = match resource_id.filter(|id| !id.is_empty()) {
        Some(id) => id.to_ascii_lowercase(),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .to_string(),
    };
    format!("{identifier}-final-{suffix}")
}

/// The instance as attributes (without the password). `order` (the configuration or
/// prior state) decides list order and the spelling of what RDS normalises.
fn attributes(db: &DbInstance, order: &Attrs, default_tags: &BTreeMap<String, String>) -> Attrs {
    let identifier = configured_case(
        order.opt_str("identifier").ok().flatten(),
        db.db_instance_identifier().unwrap_or_default(),
    );
    // "16" in the stack matches RDS's "16.4": report the stack's, so it is not a change.
    let engine_version = match (
        order.opt_str("engine_version").ok().flatten(),
        db.engine_version(),
    ) {
        (Some(wanted), Some(actual)) if actual.starts_with(&format!("{wanted}.")) => Some(wanted),
        (_, actual) => actual.map(str::to_owned),
    };
    let groups: Vec<String> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
        .collect();
    let secret_arn = db.master_user_secret().and_then(|s| s.secret_arn());
    Attrs::new()
        .with("id", identifier.clone())
        .with("identifier", identifier)
        .with("engine", db.engine())
        .with("engine_version", engine_version)
        .with("instance_class", db.db_instance_class())
        .with("allocated_storage", db.allocated_storage())
        .with("storage_type", db.storage_type())
        .with("db_name", db.db_name())
        .with("username", db.master_username())
        .with("manage_master_user_password", secret_arn.is_some())
        .with(
            "db_subnet_group_name",
            db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        )
        .with(
            "parameter_group_name",
            db.db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name()),
        )
        .with(
            "vpc_security_group_ids",
            keep_order(strings(order.get("vpc_security_group_ids")), groups),
        )
        .with("multi_az", db.multi_az())
        .with("backup_retention_period", db.backup_retention_period())
        .with("deletion_protection", db.deletion_protection())
        .with("publicly_accessible", db.publicly_accessible())
        .with("storage_encrypted", db.storage_encrypted())
        .with(
            "kms_key_id",
            same_key(order.opt_str("kms_key_id").ok().flatten(), db.kms_key_id()),
        )
        .with(
            "tags",
            map_attribute(
                user_visible(tag_map(db.tag_list()), default_tags),
                Some(order),
                "tags",
            ),
        )
        .with("arn", db.db_instance_arn())
        .with("endpoint", db.endpoint().and_then(|e| e.address()))
        .with("port", db.endpoint().and_then(|e| e.port()))
        .with("master_user_secret_arn", secret_arn)
        .with("status", db.db_instance_status())
}

/// The storage key as `read` reports it: RDS returns the key's ARN; a configured key
/// id or key ARN naming the same key is reported as configured, so it is not a change
/// (`plan` refuses aliases, which cannot be matched without a KMS call).
fn same_key(configured: Option<String>, actual: Option<&str>) -> Option<String> {
    let actual = actual?;
    match configured {
        Some(wanted) if actual == wanted || actual.ends_with(&format!(":key/{wanted}")) => {
            Some(wanted)
        }
        _ => Some(actual.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::with_config_only;

    #[test]
    fn a_storage_key_needs_encrypted_storage() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd";
        let password = Value::from("hunter2-long-enough").sensitive();
        let with_key = Attrs::new()
            .with("password", password)
            .with("kms_key_id", key);
        let error = planned(with_key.clone()).expect_err("no storage_encrypted");
        assert!(error.to_string().contains("storage_encrypted"), "{error}");
        assert!(planned(with_key.clone().with("storage_encrypted", false)).is_err());
        assert!(planned(with_key.clone().with("storage_encrypted", true)).is_ok());
        assert!(planned(with_key.clone().with("storage_encrypted", Value::Unknown)).is_ok());
        let alias = with_key
            .with("storage_encrypted", true)
            .with("kms_key_id", "alias/airflow");
        let error = planned(alias).expect_err("alias refused");
        assert!(error.to_string().contains("not by alias"), "{error}");
    }

    #[test]
    fn a_key_id_naming_the_reported_arn_is_kept() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd";
        assert_eq!(
            same_key(Some("1234abcd".to_owned()), Some(arn)).as_deref(),
            Some("1234abcd")
        );
        assert_eq!(
            same_key(Some(arn.to_owned()), Some(arn)).as_deref(),
            Some(arn)
        );
        assert_eq!(
            same_key(Some("other".to_owned()), Some(arn)).as_deref(),
            Some(arn)
        );
        assert_eq!(same_key(None, Some(arn)).as_deref(), Some(arn));
        assert_eq!(same_key(Some("1234abcd".to_owned()), None), None);
    }

    fn planned(desired: Attrs) -> Result<PlanAdjustments, ProviderError> {
        Instance.plan(PlanRequest {
            type_name: "aws_db_instance",
            prior: None,
            desired: &desired,
        })
    }

    #[test]
    fn exactly_one_password_source() {
        let password = Value::from("hunter2-long-enough").sensitive();
        assert!(planned(Attrs::new().with("password", password.clone())).is_ok());
        assert!(planned(Attrs::new().with("password", Value::Unknown)).is_ok());
        assert!(planned(Attrs::new().with("manage_master_user_password", true)).is_ok());
        assert!(planned(Attrs::new()).is_err());
        assert!(planned(Attrs::new().with("manage_master_user_password", false)).is_err());
        let both = planned(
            Attrs::new()
                .with("password", password)
                .with("manage_master_user_password", true),
        );
        let message = both.expect_err("both set").to_string();
        assert!(message.contains("manage_master_user_password"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn major_upgrades_are_allowed_explicitly() {
        assert!(major_upgrade(Some("16.4"), Some("17.1")));
        assert!(major_upgrade(Some("16"), Some("17")));
        assert!(!major_upgrade(Some("16.3"), Some("16.4")));
        assert!(!major_upgrade(Some("16.3"), None));
    }

    #[test]
    fn config_only_attributes_come_from_the_config() {
        let config = Attrs::new()
            .with("password", Value::from("pw").sensitive())
            .with("skip_final_snapshot", true)
            .with("instance_class", "db.t4g.small");
        let attrs = with_config_only::<Instance>(
            Attrs::new().with("instance_class", "db.t4g.micro"),
            &config,
        );
        assert!(attrs.get("password").is_some_and(Value::is_sensitive));
        assert_eq!(
            attrs.opt_bool("skip_final_snapshot").ok().flatten(),
            Some(true)
        );
        assert_eq!(
            attrs.opt_str("instance_class").ok().flatten().as_deref(),
            Some("db.t4g.micro")
        );
    }

    mod scripted {
        //! Real RDS's answers, played by the capture.

        use super::*;
        use crate::eks::capture::{Capture, query_error};
        use crate::resource::{AwsResource, Typed};
        use cairn_provider_core::{DeleteRequest, FindRequest};

        fn identity() -> ResourceIdentity {
            ResourceIdentity {
                stack: "airflow".to_owned(),
                env: "dev".to_owned(),
                address: "aws_db_instance.airflow".to_owned(),
            }
        }

        fn config() -> Attrs {
            Attrs::new()
                .with("identifier", "airflow-dev")
                .with("engine", "postgres")
                .with("engine_version", "16")
                .with("instance_class", "db.t4g.micro")
                .with("allocated_storage", 20)
                .with("username", "airflow")
                .with("manage_master_user_password", true)
        }

        const XMLNS: &str = "http://rds.amazonaws.com/doc/2014-10-31/";

        fn instance_xml(status: &str) -> String {
            let endpoint = if status == "available" {
                "<Endpoint><Address>airflow-dev.abc.us-east-1.rds.amazonaws.com</Address>\
                 <Port>5432</Port></Endpoint>"
            } else {
                ""
            };
            let tags: String = identity()
                .tags()
                .iter()
                .map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"))
                .collect();
            format!(
                "<DBInstance><DBInstanceIdentifier>airflow-dev</DBInstanceIdentifier>\
                 <Engine>postgres</Engine><EngineVersion>16.6</EngineVersion>\
                 <DBInstanceStatus>{status}</DBInstanceStatus>{endpoint}\
                 <TagList>{tags}</TagList></DBInstance>"
            )
        }

        fn described(status: &str) -> (u16, String) {
            (
                200,
                format!(
                    "<DescribeDBInstancesResponse xmlns=\"{XMLNS}\"><DescribeDBInstancesResult>\
                     <DBInstances>{}</DBInstances></DescribeDBInstancesResult>\
                     <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\
                     </DescribeDBInstancesResponse>",
                    instance_xml(status)
                ),
            )
        }

        fn created() -> (u16, String) {
            (
                200,
                format!(
                    "<CreateDBInstanceResponse xmlns=\"{XMLNS}\"><CreateDBInstanceResult>{}\
                     </CreateDBInstanceResult><ResponseMetadata><RequestId>r</RequestId>\
                     </ResponseMetadata></CreateDBInstanceResponse>",
                    instance_xml("creating")
                ),
            )
        }

        fn not_found() -> (u16, String) {
            query_error(
                404,
                "DBInstanceNotFound",
                "DBInstance airflow-dev not found.",
            )
        }

        #[tokio::test]
        async fn create_waits_through_not_found_and_every_pending_status() {
            let capture = Capture::script([
                created(),
                not_found(),
                described("creating"),
                described("backing-up"),
                described("configuring-enhanced-monitoring"),
                described("available"),
            ]);
            let (identity, config) = (identity(), config());
            let attrs = Typed(Instance)
                .create(
                    &capture.clients(),
                    CreateRequest {
                        type_name: "aws_db_instance",
                        identity: &identity,
                        config: &config,
                        timeout: CREATE_TIMEOUT,
                        progress: Progress::noop(),
                    },
                )
                .await
                .expect("created");
            assert_eq!(capture.unused(), 0);
            assert_eq!(
                capture.calls(),
                [
                    "CreateDBInstance",
                    "DescribeDBInstances",
                    "DescribeDBInstances",
                    "DescribeDBInstances",
                    "DescribeDBInstances",
                    "DescribeDBInstances",
                ]
            );
            assert_eq!(
                attrs.opt_str("endpoint").ok().flatten().as_deref(),
                Some("airflow-dev.abc.us-east-1.rds.amazonaws.com")
            );
            assert_eq!(
                attrs.opt_str("engine_version").ok().flatten().as_deref(),
                Some("16"),
                "RDS's 16.6 matches the configured major version"
            );
            let sent = crate::eks::capture::body(&capture.requests()[0]);
            assert!(sent.contains("EngineVersion=16&"), "{sent}");
        }

        #[tokio::test]
        async fn an_unexpected_status_fails_with_the_latest_rds_event() {
            let events = (
                200,
                format!(
                    "<DescribeEventsResponse xmlns=\"{XMLNS}\"><DescribeEventsResult><Events>\
                     <Event><SourceIdentifier>airflow-dev</SourceIdentifier>\
                     <Message>DB instance created</Message><Date>2026-11-30T05:00:00Z</Date></Event>\
                     <Event><SourceIdentifier>airflow-dev</SourceIdentifier>\
                     <Message>The parameter max_connections is out of range</Message>\
                     <Date>2026-11-30T05:09:00Z</Date></Event>\
                     </Events></DescribeEventsResult></DescribeEventsResponse>"
                ),
            );
            let capture = Capture::script([
                created(),
                described("creating"),
                described("incompatible-parameters"),
                events,
            ]);
            let (identity, config) = (identity(), config());
            let error = Typed(Instance)
                .create(
                    &capture.clients(),
                    CreateRequest {
                        type_name: "aws_db_instance",
                        identity: &identity,
                        config: &config,
                        timeout: CREATE_TIMEOUT,
                        progress: Progress::noop(),
                    },
                )
                .await
                .expect_err("stuck")
                .to_string();
            assert!(error.contains("incompatible-parameters"), "{error}");
            assert!(
                error.contains("The parameter max_connections is out of range"),
                "{error}"
            );
            assert_eq!(
                capture.calls().last().map(String::as_str),
                Some("DescribeEvents")
            );
            let sent = crate::eks::capture::body(&capture.requests()[3]);
            assert!(sent.contains("SourceIdentifier=airflow-dev"), "{sent}");
        }

        /// Without a configured name the final snapshot is named after the instance's
        /// resource id: a second destroy of a re-created instance gets another name.
        #[tokio::test]
        async fn the_default_final_snapshot_name_is_unique_per_instance() {
            let with_resource_id = |id: &str| {
                let (status, body) = described("available");
                (
                    status,
                    body.replace(
                        "<DBInstanceStatus>",
                        &format!("<DbiResourceId>{id}</DbiResourceId><DBInstanceStatus>"),
                    ),
                )
            };
            let deleted = (
                200,
                format!(
                    "<DeleteDBInstanceResponse xmlns=\"{XMLNS}\"><DeleteDBInstanceResult>{}\
                     </DeleteDBInstanceResult></DeleteDBInstanceResponse>",
                    instance_xml("deleting")
                ),
            );
            let identity = identity();
            let mut names = Vec::new();
            for resource_id in ["db-FIRSTINSTANCE7Q", "db-SECONDINSTANCE2"] {
                let capture =
                    Capture::script([with_resource_id(resource_id), deleted.clone(), not_found()]);
                let state = config().with("skip_final_snapshot", false);
                Typed(Instance)
                    .delete(
                        &capture.clients(),
                        DeleteRequest {
                            type_name: "aws_db_instance",
                            identity: &identity,
                            state: &state,
                            timeout: Duration::from_secs(600),
                            progress: Progress::noop(),
                        },
                    )
                    .await
                    .expect("deleted");
                let sent = crate::eks::capture::body(&capture.requests()[1]);
                let name = sent
                    .split('&')
                    .find_map(|p| p.strip_prefix("FinalDBSnapshotIdentifier="))
                    .expect("a final snapshot is asked for")
                    .to_owned();
                names.push(name);
            }
            assert_eq!(names[0], "airflow-dev-final-db-firstinstance7q");
            assert_ne!(names[0], names[1]);
        }

        #[tokio::test]
        async fn find_waits_until_the_instance_has_an_address() {
            let capture = Capture::script([
                described("creating"),
                described("creating"),
                described("available"),
            ]);
            let (identity, config) = (identity(), config());
            let found = Typed(Instance)
                .find(
                    &capture.clients(),
                    FindRequest {
                        type_name: "aws_db_instance",
                        identity: &identity,
                        config: &config,
                    },
                )
                .await
                .expect("adopted")
                .expect("found");
            assert_eq!(capture.unused(), 0);
            assert!(found.opt_str("endpoint").ok().flatten().is_some());
        }
    }
}
