//! Data sources: reads of objects cairn does not manage, for `[data.TYPE.NAME]` blocks.
//!
//! Each one is an [`AwsDataSource`]: a schema (arguments are required or optional
//! attributes, what the read returns computed ones) and a read that only describes, never
//! changes. The engine reads them when planning, every plan, and never records them. Reads
//! that find nothing are errors naming what was looked for. One file per data source;
//! the provider registers them through [`data_sources`] and [`read`].

mod availability_zones;
mod caller_identity;
mod eks_cluster;
mod secretsmanager_secret;
mod subnets;
mod vpc;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, ProviderError, ReadDataRequest, ResourceSchema, Value,
};

use crate::clients::AwsClients;

/// One AWS data source.
#[async_trait]
pub(crate) trait AwsDataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> ResourceSchema;
    /// Describes what `config` selects: the arguments, plus every computed attribute.
    async fn read(&self, aws: &AwsClients, config: &Attrs) -> Result<Attrs, ProviderError>;
}

fn all() -> Vec<Box<dyn AwsDataSource>> {
    vec![
        Box::new(caller_identity::CallerIdentity),
        Box::new(availability_zones::AvailabilityZones),
        Box::new(vpc::Vpc),
        Box::new(subnets::Subnets),
        Box::new(eks_cluster::EksCluster),
        Box::new(secretsmanager_secret::SecretsManagerSecret),
    ]
}

/// Every data source's schema, by type name.
pub(crate) fn data_sources() -> BTreeMap<String, ResourceSchema> {
    all()
        .into_iter()
        .map(|d| (d.type_name().to_owned(), d.schema()))
        .collect()
}

/// Reads one data source.
pub(crate) async fn read(
    aws: &AwsClients,
    request: ReadDataRequest<'_>,
) -> Result<Attrs, ProviderError> {
    let source = all()
        .into_iter()
        .find(|d| d.type_name() == request.type_name)
        .ok_or_else(|| ProviderError::UnsupportedType(format!("data.{}", request.type_name)))?;
    let mut attrs = source.read(aws, request.config).await?;
    for (name, value) in &request.config.0 {
        attrs.0.entry(name.clone()).or_insert_with(|| value.clone());
    }
    Ok(attrs)
}

/// A computed attribute of a data source.
fn computed(ty: AttrType, description: &str) -> AttrSchema {
    AttrSchema::computed(ty).describe(description)
}

/// An optional argument of a data source.
fn argument(ty: AttrType, description: &str) -> AttrSchema {
    AttrSchema::optional(ty).describe(description)
}

/// An optional argument that the read fills in when not given (an `id` found by tags).
fn selector(ty: AttrType, description: &str) -> AttrSchema {
    AttrSchema::optional_computed(ty).describe(description)
}

/// EC2 filters for `tags = { Name = "x" }` (each tag must match).
fn tag_filters(tags: &BTreeMap<String, String>) -> Vec<Filter> {
    tags.iter()
        .map(|(key, value)| {
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build()
        })
        .collect()
}

/// EC2 tags as a map value.
fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> Value {
    Value::Map(
        tags.iter()
            .filter_map(|t| Some((t.key()?.to_owned(), Value::from(t.value()?))))
            .collect(),
    )
}

/// "found nothing" for a data source.
fn not_found(what: &str, selector: &str) -> ProviderError {
    ProviderError::Other(format!("no {what} matches {selector}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_provider_core::Mode;

    /// The engine validates `[data.*]` blocks from the schema alone: a computed `id`, and
    /// a description on everything.
    #[test]
    fn every_data_source_schema_is_complete() {
        let schemas = data_sources();
        assert_eq!(schemas.len(), 6, "{:?}", schemas.keys());
        for (type_name, schema) in &schemas {
            assert!(type_name.starts_with("aws_"), "{type_name}");
            assert!(!schema.description.is_empty(), "{type_name}");
            assert!(
                schema
                    .attributes
                    .get("id")
                    .is_some_and(|a| a.mode != Mode::Required),
                "{type_name}.id"
            );
            for (name, attribute) in &schema.attributes {
                assert!(!attribute.description.is_empty(), "{type_name}.{name}");
            }
        }
        let secret = &schemas["aws_secretsmanager_secret"];
        assert!(secret.attributes["description"].sensitive);
        assert!(!secret.attributes.contains_key("secret_string"));
    }
}
