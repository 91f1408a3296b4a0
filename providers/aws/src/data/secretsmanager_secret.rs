//! `data.aws_secretsmanager_secret`: an existing secret's metadata, never its value. Its
//! ARN and name are what a stack passes on (to an IRSA policy, to a pod); `tags` and
//! `description` may say what the secret is for, so they are sensitive like a value.

use async_trait::async_trait;
use cairn_provider_core::{AttrSchema, AttrType, Attrs, ProviderError, ResourceSchema, Value};
use serde::Deserialize;

use super::{AwsDataSource, computed, not_found, selector};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::error::{api_error, error_code};

pub(crate) struct SecretsManagerSecret;

/// The arguments, as the stack sets them.
#[derive(Debug, Deserialize)]
struct Arguments {
    arn: Option<String>,
    name: Option<String>,
}

#[async_trait]
impl AwsDataSource for SecretsManagerSecret {
    fn type_name(&self) -> &'static str {
        "aws_secretsmanager_secret"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new(
            "An existing Secrets Manager secret's metadata, by `name` or `arn` (never its value)",
        )
        .attr("name", selector(AttrType::String, "the secret's name"))
        .attr("arn", selector(AttrType::String, "the secret's ARN"))
        .attr("id", computed(AttrType::String, "the secret's ARN"))
        .attr(
            "description",
            AttrSchema::computed(AttrType::String)
                .sensitive()
                .describe("the secret's description (sensitive)"),
        )
        .attr(
            "kms_key_id",
            computed(
                AttrType::String,
                "the KMS key that encrypts it, if not the default",
            ),
        )
        .attr(
            "tags",
            AttrSchema::computed(AttrType::map(AttrType::String))
                .sensitive()
                .describe("the secret's tags (sensitive)"),
        )
    }

    async fn read(&self, aws: &AwsClients, config: &Attrs) -> Result<Attrs, ProviderError> {
        let arguments: Arguments = decode_config(config)?;
        let selector = match (arguments.arn, arguments.name) {
            (Some(arn), _) => arn,
            (None, Some(name)) => name,
            (None, None) => {
                return Err(ProviderError::invalid(
                    "name",
                    "set `name` or `arn` to select the secret",
                ));
            }
        };
        let out = match aws
            .secrets
            .describe_secret()
            .secret_id(&selector)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {
                return Err(not_found("secret", &selector));
            }
            Err(e) => return Err(api_error("secretsmanager:DescribeSecret", e)),
        };
        let arn = out.arn().unwrap_or_default().to_owned();
        let tags: Value = Value::Map(
            out.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), Value::from(t.value()?))))
                .collect(),
        );
        Ok(Attrs::new()
            .with("id", arn.clone())
            .with("arn", arn)
            .with("name", out.name().unwrap_or_default())
            .with(
                "description",
                Value::from(out.description().unwrap_or_default()).sensitive(),
            )
            .with("kms_key_id", out.kms_key_id().unwrap_or_default())
            .with("tags", tags.sensitive()))
    }
}
