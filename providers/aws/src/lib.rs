//! cairn's AWS provider, on the official AWS SDK for Rust.
//!
//! # Overview
//! - [`AwsProvider`] implements [`cairn_provider_core::Provider`]: its schema is the union
//!   of the resource types below; [`AwsProvider::configure`] loads the SDK configuration
//!   (default credential chain, region, `AWS_ENDPOINT_URL`, adaptive retry) into
//!   [`clients::AwsClients`].
//! - Each resource type implements [`resource::AwsType`]: its schema, how to describe
//!   one object and turn it into attributes, its create, update and delete calls.
//!   [`resource::Typed`] turns it into the [`resource::AwsResource`] the configured client
//!   dispatches to by type name, with read, find, import, delete-and-wait and
//!   describe-after-write shared by every type. [`create`] sends create calls so that a
//!   lost answer never makes a second object. A type reads its configuration one way:
//!   [`config::decode_config`] into its own serde struct.
//! - Modules by AWS service: [`network`] (EC2 networking), [`iam`] (roles, OIDC provider),
//!   [`eks`], [`rds`], [`secrets`] (Secrets Manager), [`kms`] (keys and aliases), [`s3`]
//!   (buckets). Shared machinery: [`error`] maps SDK errors to provider errors with the
//!   API's code and message, [`wait`] polls with backoff under a timeout, [`tags`] builds
//!   the `cairn:*` tags and compares tags, [`json_text`] compares JSON documents held in
//!   strings.

mod clients;
mod config;
mod create;
mod data;
mod eks;
mod error;
mod iam;
mod json_text;
mod kms;
mod network;
mod rds;
mod resource;
mod s3;
mod secrets;
mod tags;
mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, ConfigureRequest, CreateRequest, DeleteRequest, FindRequest,
    ImportRequest, PlanAdjustments, PlanRequest, Provider, ProviderError, ProviderSchema,
    ReadDataRequest, ReadRequest, ResourceClient, ResourceSchema, UpdateRequest,
};

use crate::clients::AwsClients;
use crate::resource::AwsResource;

/// Every resource type this provider implements, by type name.
fn resource_types() -> BTreeMap<&'static str, Box<dyn AwsResource>> {
    network::resources()
        .into_iter()
        .chain(iam::resources())
        .chain(eks::resources())
        .chain(rds::resources())
        .chain(secrets::resources())
        .chain(kms::resources())
        .chain(s3::resources())
        .map(|r| (r.type_name(), r))
        .collect()
}

/// The AWS provider, before configuration.
pub struct AwsProvider {
    types: BTreeMap<&'static str, Box<dyn AwsResource>>,
}

impl Default for AwsProvider {
    fn default() -> Self {
        AwsProvider {
            types: resource_types(),
        }
    }
}

impl AwsProvider {
    /// The provider with every resource type registered.
    pub fn new() -> Self {
        Self::default()
    }
}

fn lookup<'a>(
    types: &'a BTreeMap<&'static str, Box<dyn AwsResource>>,
    type_name: &str,
) -> Result<&'a dyn AwsResource, ProviderError> {
    types
        .get(type_name)
        .map(|r| r.as_ref())
        .ok_or_else(|| ProviderError::UnsupportedType(type_name.to_owned()))
}

#[async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            config: BTreeMap::from([
                (
                    "region".to_owned(),
                    AttrSchema::optional(AttrType::String).describe(
                        "AWS region; defaults to the SDK's resolution (AWS_REGION, profile)",
                    ),
                ),
                (
                    "profile".to_owned(),
                    AttrSchema::optional(AttrType::String)
                        .describe("named profile from ~/.aws/config"),
                ),
                (
                    "default_tags".to_owned(),
                    AttrSchema::optional(AttrType::map(AttrType::String))
                        .describe("tags added to every taggable object, besides cairn:*"),
                ),
            ]),
            resources: self
                .types
                .iter()
                .map(|(name, r)| ((*name).to_owned(), r.schema()))
                .collect(),
        }
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        lookup(&self.types, request.type_name)?.plan(request)
    }

    fn data_sources(&self) -> BTreeMap<String, ResourceSchema> {
        data::data_sources()
    }

    async fn configure(
        &self,
        request: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        let clients = AwsClients::load(&request).await?;
        Ok(Arc::new(AwsResourceClient {
            clients,
            types: resource_types(),
        }))
    }
}

/// The configured provider: SDK clients plus the resource types to dispatch to.
struct AwsResourceClient {
    clients: AwsClients,
    types: BTreeMap<&'static str, Box<dyn AwsResource>>,
}

#[async_trait]
impl ResourceClient for AwsResourceClient {
    async fn read(&self, request: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        lookup(&self.types, request.type_name)?
            .read(&self.clients, request)
            .await
    }
    async fn create(&self, request: CreateRequest<'_>) -> Result<Attrs, ProviderError> {
        lookup(&self.types, request.type_name)?
            .create(&self.clients, request)
            .await
    }
    async fn update(&self, request: UpdateRequest<'_>) -> Result<Attrs, ProviderError> {
        lookup(&self.types, request.type_name)?
            .update(&self.clients, request)
            .await
    }
    async fn delete(&self, request: DeleteRequest<'_>) -> Result<(), ProviderError> {
        lookup(&self.types, request.type_name)?
            .delete(&self.clients, request)
            .await
    }
    async fn find(&self, request: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        lookup(&self.types, request.type_name)?
            .find(&self.clients, request)
            .await
    }
    async fn import(&self, request: ImportRequest<'_>) -> Result<Attrs, ProviderError> {
        lookup(&self.types, request.type_name)?
            .import(&self.clients, request)
            .await
    }
    async fn read_data(&self, request: ReadDataRequest<'_>) -> Result<Attrs, ProviderError> {
        data::read(&self.clients, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_provider_core::Mode;

    /// The engine validates stacks from the schema alone: every type must publish a
    /// computed `id`, and every attribute a description users can read.
    #[test]
    fn every_resource_schema_is_complete() {
        let schema = AwsProvider::new().schema();
        assert!(schema.resources.len() >= 9, "{:?}", schema.resources.keys());
        for (type_name, resource) in &schema.resources {
            assert!(type_name.starts_with("aws_"), "{type_name}");
            assert!(
                !resource.description.is_empty(),
                "{type_name} has no description"
            );
            let id = resource.attributes.get("id");
            assert_eq!(id.map(|a| a.mode), Some(Mode::Computed), "{type_name}.id");
            for (name, attribute) in &resource.attributes {
                if name != "id" {
                    assert!(
                        !attribute.description.is_empty(),
                        "{type_name}.{name} has no description"
                    );
                }
            }
        }
    }

    #[test]
    fn networking_and_iam_types_are_dispatched_by_name() {
        let provider = AwsProvider::new();
        for type_name in [
            "aws_vpc",
            "aws_subnet",
            "aws_internet_gateway",
            "aws_eip",
            "aws_nat_gateway",
            "aws_route_table",
            "aws_security_group",
            "aws_iam_role",
            "aws_iam_openid_connect_provider",
            "aws_kms_key",
            "aws_kms_alias",
            "aws_s3_bucket",
            "aws_eks_addon",
        ] {
            assert!(lookup(&provider.types, type_name).is_ok(), "{type_name}");
        }
        assert!(matches!(
            lookup(&provider.types, "aws_sqs_queue"),
            Err(ProviderError::UnsupportedType(_))
        ));
    }
}
