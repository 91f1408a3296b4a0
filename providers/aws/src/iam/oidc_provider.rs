//! `aws_iam_openid_connect_provider`: registers an EKS cluster's OIDC issuer with IAM,
//! so roles can trust the cluster's service account tokens (IRSA).
//!
//! IAM returns the provider's URL without its scheme; `read` reports the URL as the
//! stack wrote it when it names the same issuer.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, CreateRequest, ProviderError, ResourceIdentity, ResourceSchema,
    Timeouts, UpdateRequest, Value,
};
use serde::Deserialize;

use super::{NO_SUCH_ENTITY, iam_tags, tag_map, tags_value};
use crate::clients::AwsClients;
use crate::config::decode_config;
use crate::create::{CreateCall, create_once, created_id, once};
use crate::error::{api_error, error_code};
use crate::resource::{AwsType, order_like};
use crate::tags::{TagChanges, object_tags};

pub(super) struct OidcProvider;

/// The client id EKS service account tokens are issued for.
const DEFAULT_CLIENT_ID: &str = "sts.amazonaws.com";

/// The configuration of an OIDC provider, as the stack sets it.
#[derive(Debug, Deserialize)]
struct ProviderConfig {
    url: String,
    #[serde(default)]
    client_id_list: Vec<String>,
    #[serde(default)]
    thumbprint_list: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl ProviderConfig {
    /// The client ids, [`DEFAULT_CLIENT_ID`] when none is set.
    fn client_ids(&self) -> Vec<String> {
        if self.client_id_list.is_empty() {
            vec![DEFAULT_CLIENT_ID.to_owned()]
        } else {
            self.client_id_list.clone()
        }
    }
}

/// A provider as IAM describes it (the answer does not repeat the ARN).
pub(super) struct Provider {
    arn: String,
    answer: GetOpenIdConnectProviderOutput,
}

#[async_trait]
impl AwsType for OidcProvider {
    type Object = Provider;
    const TYPE_NAME: &'static str = "aws_iam_openid_connect_provider";
    const KIND: &'static str = "OIDC provider";
    const GONE: &'static [&'static str] = &[NO_SUCH_ENTITY];

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("An IAM OpenID Connect identity provider (an EKS cluster's issuer)")
            .attr(
                "url",
                AttrSchema::required(AttrType::String)
                    .force_new()
                    .describe("issuer URL, e.g. the EKS cluster's identity.oidc.issuer"),
            )
            .attr(
                "client_id_list",
                AttrSchema::optional_computed(AttrType::list(AttrType::String))
                    .describe("audiences accepted (default [\"sts.amazonaws.com\"])"),
            )
            .attr(
                "thumbprint_list",
                AttrSchema::optional_computed(AttrType::list(AttrType::String)).describe(
                    "server certificate thumbprints; IAM works them out for well-known issuers",
                ),
            )
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String))
                    .describe("tags of the provider"),
            )
            .attr(
                "arn",
                AttrSchema::computed(AttrType::String).describe("ARN of the provider"),
            )
            .timeouts(Timeouts::all(Duration::from_secs(5 * 60)))
    }

    async fn describe(
        &self,
        aws: &AwsClients,
        arn: &str,
    ) -> Result<Option<Provider>, ProviderError> {
        match aws
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
        {
            Ok(answer) => Ok(Some(Provider {
                arn: arn.to_owned(),
                answer,
            })),
            Err(e) if error_code(&e) == Some(NO_SUCH_ENTITY) => Ok(None),
            Err(e) => Err(api_error("iam:GetOpenIDConnectProvider", e)),
        }
    }

    async fn attributes(
        &self,
        aws: &AwsClients,
        provider: &Provider,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError> {
        let (arn, provider) = (provider.arn.as_str(), &provider.answer);
        let stored = provider.url().unwrap_or_default();
        let recorded_url = prior.and_then(|p| p.get("url")).and_then(Value::as_str);
        let url = match recorded_url {
            Some(recorded) if host_path(recorded) == host_path(stored) => recorded.to_owned(),
            _ => format!("https://{}", host_path(stored)),
        };
        let list = |name: &str, items: &[String]| {
            order_like(
                prior.and_then(|p| p.get(name)),
                items.iter().map(|s| Value::from(s.as_str())).collect(),
            )
        };
        Ok(Attrs::new()
            .with("id", arn)
            .with("arn", arn)
            .with("url", url)
            .with(
                "client_id_list",
                Value::List(list("client_id_list", provider.client_id_list())),
            )
            .with(
                "thumbprint_list",
                Value::List(list("thumbprint_list", provider.thumbprint_list())),
            )
            .with("tags", tags_value(aws, provider.tags(), prior)))
    }

    /// The provider of the configured issuer: IAM allows one per URL.
    async fn find_ids(
        &self,
        aws: &AwsClients,
        _identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError> {
        let wanted = host_path(&decode_config::<ProviderConfig>(config)?.url);
        let listed = aws
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| api_error("iam:ListOpenIDConnectProviders", e))?;
        // The ARN ends with the issuer's host and path.
        Ok(listed
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|entry| entry.arn())
            .filter(|arn| arn.ends_with(&format!(":oidc-provider/{wanted}")))
            .map(str::to_owned)
            .collect())
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        let config: ProviderConfig = decode_config(request.config)?;
        let tags = object_tags(request.identity, &aws.default_tags, &config.tags);
        let thumbprints = config.thumbprint_list.clone();
        let call = aws
            .iam
            .create_open_id_connect_provider()
            .url(&config.url)
            .set_client_id_list(Some(config.client_ids()))
            // Without thumbprints IAM uses its own trust store for the issuer.
            .set_thumbprint_list((!thumbprints.is_empty()).then_some(thumbprints))
            .set_tags(Some(iam_tags(&tags)?));
        let made = create_once(
            CreateCall::new(
                "iam:CreateOpenIDConnectProvider",
                Self::KIND,
                &request.progress,
            ),
            |_| false,
            || call.clone().customize().config_override(once::iam()).send(),
            || self.found_id(aws, request),
        )
        .await?;
        created_id(
            made,
            |out| out.open_id_connect_provider_arn(),
            "iam:CreateOpenIDConnectProvider",
        )
    }

    async fn update(
        &self,
        aws: &AwsClients,
        current: &Provider,
        arn: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let desired: ProviderConfig = decode_config(request.desired)?;
        let current = &current.answer;
        let changed = |attribute: &str| request.changed.iter().any(|c| c == attribute);
        if changed("client_id_list") {
            reconcile_client_ids(
                &aws.iam,
                arn,
                current.client_id_list(),
                &desired.client_ids(),
            )
            .await?;
        }
        if changed("thumbprint_list") {
            aws.iam
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(Some(desired.thumbprint_list.clone()))
                .send()
                .await
                .map_err(|e| api_error("iam:UpdateOpenIDConnectProviderThumbprint", e))?;
        }
        if changed("tags") {
            let tags = object_tags(request.identity, &aws.default_tags, &desired.tags);
            let changes = TagChanges::between(&tag_map(current.tags()), &tags);
            if !changes.remove.is_empty() {
                aws.iam
                    .untag_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .set_tag_keys(Some(changes.remove))
                    .send()
                    .await
                    .map_err(|e| api_error("iam:UntagOpenIDConnectProvider", e))?;
            }
            if !changes.set.is_empty() {
                aws.iam
                    .tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .set_tags(Some(iam_tags(&changes.set)?))
                    .send()
                    .await
                    .map_err(|e| api_error("iam:TagOpenIDConnectProvider", e))?;
            }
        }
        Ok(())
    }

    async fn delete_call(
        &self,
        aws: &AwsClients,
        arn: &str,
        _state: &Attrs,
    ) -> Result<(), ProviderError> {
        aws.iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("iam:DeleteOpenIDConnectProvider", e))
    }
}

/// The issuer without scheme or trailing slash, as IAM stores it.
fn host_path(url: &str) -> String {
    url.trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

/// Adds and removes client ids one by one: IAM has no call that sets the whole list.
async fn reconcile_client_ids(
    iam: &aws_sdk_iam::Client,
    arn: &str,
    current: &[String],
    desired: &[String],
) -> Result<(), ProviderError> {
    for id in desired {
        if !current.contains(id) {
            iam.add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(id)
                .send()
                .await
                .map_err(|e| api_error("iam:AddClientIDToOpenIDConnectProvider", e))?;
        }
    }
    for id in current {
        if !desired.contains(id) {
            iam.remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(id)
                .send()
                .await
                .map_err(|e| api_error("iam:RemoveClientIDFromOpenIDConnectProvider", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::capture::{Capture, body, captured_client};

    #[test]
    fn issuer_urls_compare_without_scheme_or_trailing_slash() {
        assert_eq!(
            host_path("https://oidc.eks.us-east-1.amazonaws.com/id/AB/"),
            "oidc.eks.us-east-1.amazonaws.com/id/AB"
        );
        assert_eq!(
            host_path("oidc.eks.us-east-1.amazonaws.com/id/AB"),
            "oidc.eks.us-east-1.amazonaws.com/id/AB"
        );
    }

    #[tokio::test]
    async fn adding_a_client_id_sends_one_add_call_for_the_new_id_only() {
        // moto answers AddClientIDToOpenIDConnectProvider with a 500: check the request.
        let capture = Capture::answering(
            200,
            "<AddClientIDToOpenIDConnectProviderResponse><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AddClientIDToOpenIDConnectProviderResponse>",
        );
        let iam = captured_client!(aws_sdk_iam, capture);
        let arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AB";
        reconcile_client_ids(
            &iam,
            arn,
            &["sts.amazonaws.com".to_owned()],
            &["sts.amazonaws.com".to_owned(), "airflow".to_owned()],
        )
        .await
        .expect("the captured call succeeds");
        let request = capture.only_request();
        let form: BTreeMap<String, String> = url_form(&body(&request));
        assert_eq!(
            form.get("Action").map(String::as_str),
            Some("AddClientIDToOpenIDConnectProvider")
        );
        assert_eq!(form.get("ClientID").map(String::as_str), Some("airflow"));
        assert_eq!(
            form.get("OpenIDConnectProviderArn").map(String::as_str),
            Some(arn)
        );
    }

    #[tokio::test]
    async fn removing_a_client_id_sends_one_remove_call() {
        let capture = Capture::answering(
            200,
            "<RemoveClientIDFromOpenIDConnectProviderResponse><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></RemoveClientIDFromOpenIDConnectProviderResponse>",
        );
        let iam = captured_client!(aws_sdk_iam, capture);
        reconcile_client_ids(
            &iam,
            "arn:aws:iam::123456789012:oidc-provider/x",
            &["sts.amazonaws.com".to_owned(), "old".to_owned()],
            &["sts.amazonaws.com".to_owned()],
        )
        .await
        .expect("the captured call succeeds");
        let form = url_form(&body(&capture.only_request()));
        assert_eq!(
            form.get("Action").map(String::as_str),
            Some("RemoveClientIDFromOpenIDConnectProvider")
        );
        assert_eq!(form.get("ClientID").map(String::as_str), Some("old"));
    }

    /// The fields of an AWS Query request body.
    fn url_form(body: &str) -> BTreeMap<String, String> {
        body.split('&')
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(k, v)| {
                Some((
                    urlencoding::decode(k).ok()?.into_owned(),
                    urlencoding::decode(v).ok()?.into_owned(),
                ))
            })
            .collect()
    }

    #[test]
    fn client_ids_default_to_sts() {
        let config = |attrs: Attrs| {
            decode_config::<ProviderConfig>(&attrs.with("url", "https://oidc.example/id/AB"))
                .map(|c| c.client_ids())
                .ok()
        };
        assert_eq!(
            config(Attrs::new()),
            Some(vec!["sts.amazonaws.com".to_owned()])
        );
        let custom = Attrs::new().with("client_id_list", vec!["a", "b"]);
        assert_eq!(config(custom), Some(vec!["a".to_owned(), "b".to_owned()]));
    }
}
