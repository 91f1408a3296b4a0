//! `data.aws_eks_cluster`: an existing EKS cluster, to deploy Kubernetes objects into it.

use async_trait::async_trait;
use cairn_provider_core::{AttrSchema, AttrType, Attrs, ProviderError, ResourceSchema, Value};
use serde::Deserialize;

use super::{AwsDataSource, computed, not_found};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::error::{api_error, error_code};

pub(crate) struct EksCluster;

/// The arguments, as the stack sets them.
#[derive(Debug, Deserialize)]
struct Arguments {
    name: String,
}

#[async_trait]
impl AwsDataSource for EksCluster {
    fn type_name(&self) -> &'static str {
        "aws_eks_cluster"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An existing EKS cluster, by name")
            .attr(
                "name",
                AttrSchema::required(AttrType::String).describe("the cluster's name"),
            )
            .attr("id", computed(AttrType::String, "the cluster's name"))
            .attr("arn", computed(AttrType::String, "ARN of the cluster"))
            .attr(
                "endpoint",
                computed(AttrType::String, "URL of the Kubernetes API server"),
            )
            .attr(
                "version",
                computed(AttrType::String, "Kubernetes version, e.g. 1.31"),
            )
            .attr("status", computed(AttrType::String, "e.g. ACTIVE"))
            .attr(
                "role_arn",
                computed(AttrType::String, "the cluster's IAM role"),
            )
            .attr(
                "certificate_authority_data",
                computed(AttrType::String, "base64 CA bundle of the API server"),
            )
            .attr(
                "oidc_issuer_url",
                computed(AttrType::String, "the OIDC issuer, for IRSA roles"),
            )
            .attr(
                "vpc_id",
                computed(AttrType::String, "the VPC the cluster runs in"),
            )
            .attr(
                "subnet_ids",
                computed(AttrType::list(AttrType::String), "the cluster's subnets"),
            )
    }

    async fn read(&self, aws: &AwsClients, config: &Attrs) -> Result<Attrs, ProviderError> {
        let name = decode_config::<Arguments>(config)?.name;
        let out = match aws.eks.describe_cluster().name(&name).send().await {
            Ok(out) => out,
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {
                return Err(not_found("EKS cluster", &format!("name {name}")));
            }
            Err(e) => return Err(api_error("eks:DescribeCluster", e)),
        };
        let cluster = out
            .cluster()
            .ok_or_else(|| not_found("EKS cluster", &format!("name {name}")))?;
        let vpc = cluster.resources_vpc_config();
        Ok(Attrs::new()
            .with("id", name.clone())
            .with("arn", cluster.arn().unwrap_or_default())
            .with("endpoint", cluster.endpoint().unwrap_or_default())
            .with("version", cluster.version().unwrap_or_default())
            .with(
                "status",
                cluster.status().map(|s| s.as_str()).unwrap_or_default(),
            )
            .with("role_arn", cluster.role_arn().unwrap_or_default())
            .with(
                "certificate_authority_data",
                cluster
                    .certificate_authority()
                    .and_then(|c| c.data())
                    .unwrap_or_default(),
            )
            .with(
                "oidc_issuer_url",
                cluster
                    .identity()
                    .and_then(|i| i.oidc())
                    .and_then(|o| o.issuer())
                    .unwrap_or_default(),
            )
            .with("vpc_id", vpc.and_then(|v| v.vpc_id()).unwrap_or_default())
            .with(
                "subnet_ids",
                Value::List(
                    vpc.map(|v| v.subnet_ids())
                        .unwrap_or_default()
                        .iter()
                        .map(|s| Value::from(s.as_str()))
                        .collect(),
                ),
            ))
    }
}
