//! `aws_db_parameter_group`: engine settings for RDS instances (e.g. `max_connections`
//! for Airflow's many workers). Owns CreateDBParameterGroup, parameters set with
//! ModifyDBParameterGroup and taken back with ResetDBParameterGroup, and tags.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup, Parameter as RdsParameter};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, ProviderError, ResourceIdentity, ResourceSchema,
    Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::{configured_case, list_tags, rds_tags, sync_tags};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, once};
use crate::error::{api_error, found};
use crate::resource::AwsType;
use crate::resource::map_attribute;
use crate::tags::created_by;
use crate::tags::{object_tags, user_visible};

/// RDS requires a description.
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";
/// ModifyDBParameterGroup and ResetDBParameterGroup take at most 20 parameters a call.
const PARAMETERS_PER_CALL: usize = 20;
/// Used when the stack does not say: dynamic parameters take effect at once.
const DEFAULT_APPLY_METHOD: &str = "immediate";

pub(crate) struct ParameterGroup;

#[derive(Debug, Deserialize)]
struct ParameterGroupConfig {
    name: String,
    family: String,
    description: Option<String>,
    parameter: Option<Vec<Parameter>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Parameter {
    name: String,
    value: String,
    apply_method: Option<String>,
}

impl Parameter {
    fn apply_method(&self) -> &str {
        self.apply_method.as_deref().unwrap_or(DEFAULT_APPLY_METHOD)
    }

    fn to_sdk(&self) -> RdsParameter {
        RdsParameter::builder()
            .parameter_name(&self.name)
            .parameter_value(&self.value)
            .apply_method(ApplyMethod::from(self.apply_method()))
            .build()
    }
}

fn parameter_schema() -> AttrType {
    AttrType::object([
        (
            "name",
            AttrSchema::required(AttrType::String).describe("parameter name, e.g. max_connections"),
        ),
        (
            "value",
            AttrSchema::required(AttrType::String).describe("parameter value"),
        ),
        (
            "apply_method",
            AttrSchema::optional_computed(AttrType::enumeration(&["immediate", "pending-reboot"]))
                .describe(
                    "immediate (default; dynamic parameters) or pending-reboot (static ones)",
                ),
        ),
    ])
}

#[async_trait]
impl AwsType for ParameterGroup {
    type Object = DbParameterGroup;
    const TYPE_NAME: &'static str = "aws_db_parameter_group";
    const KIND: &'static str = "DB parameter group";
    const GONE: &'static [&'static str] = &["DBParameterGroupNotFound"];
    const ID: &'static str = "name";
    /// An instance that is itself being deleted still uses the group for a while.
    const BUSY: &'static [&'static str] = &["InvalidDBParameterGroupState"];

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An RDS DB parameter group")
            .attr(
                "name",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("parameter group name (RDS stores it in lower case)"),
            )
            .attr(
                "family",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("engine family, e.g. postgres16"),
            )
            .attr(
                "description",
                AttrSchema::optional_computed(AttrType::String)
                    .force_new()
                    .describe(format!("description (default \"{DEFAULT_DESCRIPTION}\")")),
            )
            .attr(
                "parameter",
                AttrSchema::optional(AttrType::list(parameter_schema()))
                    .describe("parameters that differ from the family's defaults"),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String)).describe("tags on the group"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the parameter group"),
            )
            .timeouts(Timeouts {
                delete: Duration::from_secs(10 * 60),
                ..Timeouts::default()
            })
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        name: &str,
    ) -> Result<Option<DbParameterGroup>, ProviderError> {
        describe(&aws.rds, name).await
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        group: &DbParameterGroup,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        attributes(
            &aws.rds,
            group,
            prior.unwrap_or(&Attrs::new()),
            &aws.default_tags,
        )
        .await
    }

    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let name = decode_config::<ParameterGroupConfig>(config)?.name;
        let Some(group) = describe(&aws.rds, &name).await? else {
            return Ok(Vec::new());
        };
        let tags = list_tags(&aws.rds, group.db_parameter_group_arn().unwrap_or_default()).await?;
        Ok(if created_by(identity, &tags) {
            vec![name]
        } else {
            Vec::new()
        })
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: ParameterGroupConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let call = aws
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(&config.name)
            .db_parameter_group_family(&config.family)
            .description(config.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION))
            .set_tags(Some(rds_tags(tags)));
        create_once(
            CreateCall::new("rds:CreateDBParameterGroup", Self::KIND, &request.progress),
            |_| false,
            || call.clone().customize().config_override(once::rds()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        Ok(config.name)
    }

    async fn after_create(
        &self,
        aws: &AwsClients,
        _group: &DbParameterGroup,
        name: &str,
        request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        let config: ParameterGroupConfig = decode_config(request.config)?;
        set_parameters(&aws.rds, name, &config.parameter.unwrap_or_default()).await?;
        Ok(false)
    }

    async fn update(
        &self,
        aws: &AwsClients,
        group: &DbParameterGroup,
        name: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: ParameterGroupConfig = decode_config(request.desired)?;
        let changed = |attr: &str| request.changed.iter().any(|c| c == attr);
        if changed("parameter") {
            let wanted = desired.parameter.clone().unwrap_or_default();
            let current = user_parameters(&aws.rds, name).await?;
            let prior: Vec<Parameter> = request.prior.opt_decode("parameter")?.unwrap_or_default();
            let (set, reset) = parameter_changes(&current, &prior, &wanted);
            reset_parameters(&aws.rds, name, &reset).await?;
            set_parameters(&aws.rds, name, &set).await?;
        }
        if changed("tags") {
            let arn = group.db_parameter_group_arn().unwrap_or_default();
            let wanted = object_tags(request.identity, &aws.default_tags, &desired.tags);
            sync_tags(&aws.rds, arn, &list_tags(&aws.rds, arn).await?, &wanted).await?;
        }
        Ok(())
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        name: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.rds
            .delete_db_parameter_group()
            .db_parameter_group_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("rds:DeleteDBParameterGroup", e))
    }
}

async fn describe(
    rds: &aws_sdk_rds::Client,
    name: &str,
) -> Result<Option<DbParameterGroup>, ProviderError> {
    found(
        "rds:DescribeDBParameterGroups",
        &["DBParameterGroupNotFound"],
        rds.describe_db_parameter_groups()
            .db_parameter_group_name(name)
            .send()
            .await,
        |out| {
            out.db_parameter_groups
                .and_then(|groups| groups.into_iter().next())
        },
    )
}

/// The parameters set on the group by users (not the family's defaults), all pages.
async fn user_parameters(
    rds: &aws_sdk_rds::Client,
    name: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut parameters = BTreeMap::new();
    let mut marker = None;
    loop {
        let out = rds
            .describe_db_parameters()
            .db_parameter_group_name(name)
            .source("user")
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| api_error("rds:DescribeDBParameters", e))?;
        for parameter in out.parameters() {
            if let Some(key) = parameter.parameter_name() {
                parameters.insert(
                    key.to_owned(),
                    parameter.parameter_value().unwrap_or_default().to_owned(),
                );
            }
        }
        match out.marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
            _ => return Ok(parameters),
        }
    }
}

/// What to set and what to reset to turn the group's `current` user parameters into
/// `wanted`. A parameter reset keeps the apply method it was set with (`prior`), since a
/// static parameter can only be reset pending a reboot.
fn parameter_changes(
    current: &BTreeMap<String, String>,
    prior: &[Parameter],
    wanted: &[Parameter],
) -> (Vec<Parameter>, Vec<Parameter>) {
    let set = wanted
        .iter()
        .filter(|w| current.get(&w.name) != Some(&w.value))
        .cloned()
        .collect();
    let reset = current
        .iter()
        .filter(|(name, _)| !wanted.iter().any(|w| &w.name == *name))
        .map(|(name, value)| Parameter {
            name: name.clone(),
            value: value.clone(),
            apply_method: prior
                .iter()
                .find(|p| &p.name == name)
                .and_then(|p| p.apply_method.clone())
                .or_else(|| Some("pending-reboot".to_owned())),
        })
        .collect();
    (set, reset)
}

async fn set_parameters(
    rds: &aws_sdk_rds::Client,
    name: &str,
    parameters: &[Parameter],
) -> Result<(), ProviderError> {
    for chunk in parameters.chunks(PARAMETERS_PER_CALL) {
        rds.modify_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(chunk.iter().map(Parameter::to_sdk).collect()))
            .send()
            .await
            .map_err(|e| api_error("rds:ModifyDBParameterGroup", e))?;
    }
    Ok(())
}

/// Returns parameters to the family's defaults (moto does not implement the call).
async fn reset_parameters(
    rds: &aws_sdk_rds::Client,
    name: &str,
    parameters: &[Parameter],
) -> Result<(), ProviderError> {
    for chunk in parameters.chunks(PARAMETERS_PER_CALL) {
        rds.reset_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(chunk.iter().map(Parameter::to_sdk).collect()))
            .send()
            .await
            .map_err(|e| api_error("rds:ResetDBParameterGroup", e))?;
    }
    Ok(())
}

async fn attributes(
    rds: &aws_sdk_rds::Client,
    group: &DbParameterGroup,
    order: &Attrs,
    default_tags: &BTreeMap<String, String>,
) -> Result<Attrs, ProviderError> {
    let arn = group.db_parameter_group_arn().unwrap_or_default();
    let observed_name = group.db_parameter_group_name().unwrap_or_default();
    let tags = list_tags(rds, arn).await?;
    let current = user_parameters(rds, observed_name).await?;
    // Report parameters in the stack's order, with the apply method it chose if any (RDS
    // does not report one for user parameters); then any set outside the stack.
    let configured: Vec<Parameter> = order
        .opt_decode("parameter")
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut parameters: Vec<Value> = Vec::new();
    let entry = |name: &str, value: &str, apply_method: Option<&str>| {
        let mut entry = BTreeMap::from([
            ("name".to_owned(), Value::from(name)),
            ("value".to_owned(), Value::from(value)),
        ]);
        if let Some(apply_method) = apply_method {
            entry.insert("apply_method".to_owned(), Value::from(apply_method));
        }
        Value::Map(entry)
    };
    for p in &configured {
        if let Some(value) = current.get(&p.name) {
            parameters.push(entry(&p.name, value, p.apply_method.as_deref()));
        }
    }
    for (name, value) in &current {
        if !configured.iter().any(|p| &p.name == name) {
            parameters.push(entry(name, value, None));
        }
    }
    let name = configured_case(order.opt_str("name")?, observed_name);
    Ok(Attrs::new()
        .with("id", name.clone())
        .with("name", name)
        .with("family", group.db_parameter_group_family())
        .with("description", group.description())
        .with(
            "parameter",
            if parameters.is_empty() {
                Value::Null
            } else {
                Value::List(parameters)
            },
        )
        .with(
            "tags",
            map_attribute(user_visible(tags, default_tags), Some(order), "tags"),
        )
        .with("arn", arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(name: &str, value: &str, apply_method: Option<&str>) -> Parameter {
        Parameter {
            name: name.to_owned(),
            value: value.to_owned(),
            apply_method: apply_method.map(str::to_owned),
        }
    }

    #[test]
    fn changes_set_differences_and_reset_removed_with_their_apply_method() {
        let current = BTreeMap::from([
            ("max_connections".to_owned(), "200".to_owned()),
            ("log_min_duration_statement".to_owned(), "1000".to_owned()),
            (
                "shared_preload_libraries".to_owned(),
                "pg_stat_statements".to_owned(),
            ),
        ]);
        let prior = [parameter(
            "shared_preload_libraries",
            "pg_stat_statements",
            Some("pending-reboot"),
        )];
        let wanted = [
            parameter("max_connections", "400", None),
            parameter("log_min_duration_statement", "1000", None),
        ];
        let (set, reset) = parameter_changes(&current, &prior, &wanted);
        assert_eq!(set, [wanted[0].clone()]);
        assert_eq!(reset.len(), 1);
        assert_eq!(reset[0].name, "shared_preload_libraries");
        assert_eq!(reset[0].apply_method(), "pending-reboot");
    }
}
