//! The `[providers.kubernetes]` block: which cluster to talk to, and the client for it.
//!
//! Owns the precedence of the ways to reach a cluster: a `kubeconfig` path (with an
//! optional `context`; an empty string means not set, so stacks can pass a variable that
//! defaults to ""), then `eks_cluster` (name, endpoint and base64 CA as EKS returns them,
//! plus an optional `region` and AWS `profile`, which should be the AWS provider's so the
//! token is signed by the identity that created the cluster), then kube-rs's own
//! inference (`KUBECONFIG`, `~/.kube/config`, in-cluster). Token signing for EKS lives in
//! `eks_token.rs`; the wait for a new control plane to serve in `readiness.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use base64::Engine;
use cairn_provider_core::{Attrs, ProviderError};
use kube::client::ClientBuilder;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use serde::Deserialize;

use crate::eks_token::{EksAuthService, EksTokenSource};
use crate::readiness::{WarmUp, wait_until_serving};

/// The `eks_cluster` table, filled from `aws_eks_cluster` attributes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub(crate) struct EksCluster {
    pub name: String,
    /// `https://<id>.<suffix>.<region>.eks.amazonaws.com`.
    pub endpoint: String,
    /// Base64 of the PEM bundle, as `DescribeCluster` returns it.
    pub certificate_authority: String,
}

/// How to reach the cluster, in the precedence the block's attributes are read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ClusterAccess {
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    Eks {
        cluster: EksCluster,
        region: Option<String>,
        /// Named AWS profile for the token's credentials; the default chain if unset.
        profile: Option<String>,
    },
    Inferred,
}

impl ClusterAccess {
    pub fn from_config(config: &Attrs) -> Result<Self, ProviderError> {
        let set = |name: &str| -> Result<Option<String>, ProviderError> {
            Ok(config.opt_str(name)?.filter(|s| !s.trim().is_empty()))
        };
        if let Some(path) = set("kubeconfig")? {
            return Ok(ClusterAccess::Kubeconfig {
                path: expand_home(&path),
                context: set("context")?,
            });
        }
        if let Some(cluster) = config.opt_decode::<EksCluster>("eks_cluster")? {
            return Ok(ClusterAccess::Eks {
                cluster,
                region: set("region")?,
                profile: set("profile")?,
            });
        }
        Ok(ClusterAccess::Inferred)
    }

    /// The client, ready for the first object: for EKS, once the API server answers
    /// (see `readiness.rs`; a cluster created in this very apply may not serve yet).
    pub async fn client(&self) -> Result<kube::Client, ProviderError> {
        let client = self.build().await?;
        if let ClusterAccess::Eks { cluster, .. } = self {
            wait_until_serving(&client, &cluster.name, &WarmUp::default()).await?;
        }
        Ok(client)
    }

    /// Builds the client. Reads files and, for EKS, the AWS credential chain; contacts
    /// no cluster.
    async fn build(&self) -> Result<kube::Client, ProviderError> {
        install_crypto_provider();
        match self {
            ClusterAccess::Kubeconfig { path, context } => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                    ProviderError::Config(format!("kubeconfig {}: {e}", path.display()))
                })?;
                let options = KubeConfigOptions {
                    context: context.clone(),
                    ..Default::default()
                };
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| {
                        ProviderError::Config(format!("kubeconfig {}: {e}", path.display()))
                    })?;
                kube::Client::try_from(config).map_err(|e| ProviderError::Config(e.to_string()))
            }
            ClusterAccess::Eks {
                cluster,
                region,
                profile,
            } => eks_client(cluster, region.as_deref(), profile.as_deref()).await,
            ClusterAccess::Inferred => {
                let config = kube::Config::infer().await.map_err(|e| {
                    ProviderError::Config(format!(
                        "set kubeconfig or eks_cluster in [providers.kubernetes]; \
                         no cluster could be inferred: {e}"
                    ))
                })?;
                kube::Client::try_from(config).map_err(|e| ProviderError::Config(e.to_string()))
            }
        }
    }
}

/// Makes ring rustls's process-wide provider unless one is already installed: with both
/// ring (kube) and aws-lc-rs (AWS SDK) linked in, rustls panics instead of choosing.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An error means another thread installed one first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The region inside an EKS endpoint (`https://ABC.gr7.us-east-1.eks.amazonaws.com`).
pub(crate) fn region_of_endpoint(endpoint: &str) -> Option<&str> {
    let host = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let host = host.split(['/', ':']).next()?;
    let labels: Vec<&str> = host.split('.').collect();
    let eks = labels.iter().position(|label| *label == "eks")?;
    eks.checked_sub(1).and_then(|i| labels.get(i)).copied()
}

/// EKS gives the CA as base64 of a PEM bundle; kube-rs would quietly accept a bundle
/// with no certificate and fail every TLS handshake later.
fn check_certificate_authority(cluster: &EksCluster) -> Result<(), ProviderError> {
    let pem = base64::engine::general_purpose::STANDARD
        .decode(cluster.certificate_authority.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match pem {
        Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Ok(()),
        _ => Err(ProviderError::invalid(
            "eks_cluster.certificate_authority",
            format!(
                "of cluster {} is not base64 of a PEM certificate (pass the cluster's certificate_authority)",
                cluster.name
            ),
        )),
    }
}

/// The AWS SDK configuration the token is signed with: the default chain, or `profile`.
fn aws_loader(profile: Option<&str>) -> aws_config::ConfigLoader {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    match profile {
        Some(profile) => loader.profile_name(profile),
        None => loader,
    }
}

async fn eks_client(
    cluster: &EksCluster,
    region: Option<&str>,
    profile: Option<&str>,
) -> Result<kube::Client, ProviderError> {
    check_certificate_authority(cluster)?;
    let mut loader = aws_loader(profile);
    let region = region.or_else(|| region_of_endpoint(&cluster.endpoint));
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    let sdk = loader.load().await;
    let region = sdk.region().map(ToString::to_string).ok_or_else(|| {
        ProviderError::Config("set region for eks_cluster: none could be inferred".to_owned())
    })?;
    let credentials = sdk.credentials_provider().ok_or_else(|| {
        ProviderError::Config(
            "the AWS SDK found no credential provider for the EKS token".to_owned(),
        )
    })?;

    // An in-memory kubeconfig, so kube-rs parses the CA exactly as it does from a file.
    let name = "cairn-eks".to_owned();
    let kubeconfig = Kubeconfig {
        clusters: vec![NamedCluster {
            name: name.clone(),
            cluster: Some(Cluster {
                server: Some(cluster.endpoint.clone()),
                certificate_authority_data: Some(cluster.certificate_authority.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: name.clone(),
            auth_info: Some(AuthInfo::default()),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: name.clone(),
            context: Some(Context {
                cluster: name.clone(),
                user: Some(name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some(name),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| ProviderError::Config(format!("eks_cluster {}: {e}", cluster.name)))?;
    let tokens = Arc::new(EksTokenSource::new(
        cluster.name.clone(),
        region,
        credentials,
    ));
    let builder = ClientBuilder::try_from(config)
        .map_err(|e| ProviderError::Config(format!("eks_cluster {}: {e}", cluster.name)))?;
    Ok(builder
        .with_layer(&tower::layer::layer_fn(|inner| {
            EksAuthService::wrap(inner, Arc::clone(&tokens))
        }))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials;
    use cairn_provider_core::Value;
    use std::collections::BTreeMap;

    fn eks_block() -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_owned(), Value::from("airflow-dev")),
            (
                "endpoint".to_owned(),
                Value::from("https://ABC123.gr7.eu-west-1.eks.amazonaws.com"),
            ),
            (
                "certificate_authority".to_owned(),
                Value::from("LS0tLS1CRUdJTg=="),
            ),
        ]))
    }

    #[test]
    fn kubeconfig_wins_and_empty_strings_mean_unset() {
        let both = Attrs::new()
            .with("kubeconfig", "/tmp/kc")
            .with("context", "kind-a")
            .with("eks_cluster", eks_block());
        assert_eq!(
            ClusterAccess::from_config(&both).expect("valid"),
            ClusterAccess::Kubeconfig {
                path: PathBuf::from("/tmp/kc"),
                context: Some("kind-a".to_owned())
            }
        );
        let empty_path = Attrs::new()
            .with("kubeconfig", "")
            .with("eks_cluster", eks_block())
            .with("region", "")
            .with("profile", "");
        match ClusterAccess::from_config(&empty_path).expect("valid") {
            ClusterAccess::Eks {
                cluster,
                region,
                profile,
            } => {
                assert_eq!(cluster.name, "airflow-dev");
                assert_eq!(region, None);
                assert_eq!(profile, None);
            }
            other => panic!("expected EKS access, got {other:?}"),
        }
        assert_eq!(
            ClusterAccess::from_config(&Attrs::new().with("kubeconfig", "")).expect("valid"),
            ClusterAccess::Inferred
        );
    }

    /// A self-signed CA made for these tests (public certificate only), base64 of its PEM
    /// as EKS returns `certificateAuthority.data`.
    const TEST_CA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJoakNDQVMyZ0F3SUJBZ0lVRTliL3orZFFSSjVBME0yTmlYbUQ4UGtQRUZjd0NnWUlLb1pJemowRUF3SXcKR0RFV01CUUdBMVVFQXd3TlkyRnBjbTR0ZEdWemRDMWpZVEFnRncweU5qRXhNakV4TlRJM05USmFHQTh5TVRJMgpNVEF5T0RFMU1qYzFNbG93R0RFV01CUUdBMVVFQXd3TlkyRnBjbTR0ZEdWemRDMWpZVEJaTUJNR0J5cUdTTTQ5CkFnRUdDQ3FHU000OUF3RUhBMElBQkRtczBsNUhHTnV2M0Q2Qkl0bXpsL20xNHovSm9kSU9uRlBpTDc1MVN3eFMKQWZYaWtoYWZzSTV2T0QxRVF4ZnJYMlQ0cmY1M0p0ZzBjbU5ONGhqYVNTMmpVekJSTUIwR0ExVWREZ1FXQkJUbApsK1l1TDlRVVhWb01TalFIV1hadXBTVUxJVEFmQmdOVkhTTUVHREFXZ0JUbGwrWXVMOVFVWFZvTVNqUUhXWFp1CnBTVUxJVEFQQmdOVkhSTUJBZjhFQlRBREFRSC9NQW9HQ0NxR1NNNDlCQU1DQTBjQU1FUUNJQUhzamFENDRnMXIKUENhb1F6TnpLOW9Mc0hNKzI4ZHJXcDNIdmF2N0YzdHhBaUFzaFBPNkovNnRRVWZsL2RjNWxNTWZFaEI2TjhOZApDcVpvb0p5R216RGZHUT09Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

    #[tokio::test]
    async fn an_eks_client_is_built_from_endpoint_and_ca() {
        let cluster = EksCluster {
            name: "airflow-dev".to_owned(),
            endpoint: "https://ABC123.gr7.eu-west-1.eks.amazonaws.com".to_owned(),
            certificate_authority: TEST_CA.to_owned(),
        };
        let access = ClusterAccess::Eks {
            cluster: cluster.clone(),
            region: None,
            profile: None,
        };
        let client = access
            .build()
            .await
            .expect("builds without contacting the cluster");
        assert_eq!(client.default_namespace(), "default");

        let broken = ClusterAccess::Eks {
            cluster: EksCluster {
                certificate_authority: "bm90IGEgY2VydGlmaWNhdGU=".to_owned(),
                ..cluster
            },
            region: Some("eu-west-1".to_owned()),
            profile: None,
        };
        let error = broken
            .client()
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("certificate_authority") && error.contains("airflow-dev"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_kubeconfig_context_is_honoured() {
        let path =
            std::env::temp_dir().join(format!("cairn-kubeconfig-test-{}.yaml", std::process::id()));
        let kubeconfig = r#"
apiVersion: v1
kind: Config
current-context: first
clusters:
- name: local
  cluster: {server: "http://127.0.0.1:1"}
users:
- name: someone
  user: {}
contexts:
- name: first
  context: {cluster: local, user: someone, namespace: one}
- name: second
  context: {cluster: local, user: someone, namespace: two}
"#;
        std::fs::write(&path, kubeconfig).expect("temp file");
        let namespace_of = |context: Option<&str>| {
            let access = ClusterAccess::Kubeconfig {
                path: path.clone(),
                context: context.map(str::to_owned),
            };
            async move {
                access
                    .client()
                    .await
                    .map(|c| c.default_namespace().to_owned())
            }
        };
        let current = namespace_of(None).await;
        let second = namespace_of(Some("second")).await;
        let missing = namespace_of(Some("third")).await;
        let _ = std::fs::remove_file(&path);
        assert_eq!(current.expect("current context"), "one");
        assert_eq!(second.expect("named context"), "two");
        assert!(missing.is_err());
        let unreadable = ClusterAccess::Kubeconfig {
            path: PathBuf::from("/nonexistent/kubeconfig"),
            context: None,
        };
        let error = unreadable
            .client()
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("/nonexistent/kubeconfig"), "{error}");
    }

    /// The token is signed with the credentials of the configured profile, like the AWS
    /// provider's calls: a profile that does not exist fails the configuration instead
    /// of silently signing with another identity.
    #[tokio::test]
    async fn the_token_uses_the_configured_profile() {
        let config = Attrs::new()
            .with("eks_cluster", eks_block())
            .with("profile", "cairn-deployer");
        let access = ClusterAccess::from_config(&config).expect("valid");
        assert!(
            matches!(&access, ClusterAccess::Eks { profile: Some(p), .. } if p == "cairn-deployer"),
            "{access:?}"
        );
        let dir = std::env::temp_dir().join(format!("cairn-aws-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let credentials = dir.join("credentials");
        std::fs::write(
            &credentials,
            "[cairn-deployer]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n",
        )
        .expect("credentials file");
        // The non-deprecated names live in aws-runtime, which this crate does not depend on.
        #[allow(deprecated)]
        let files = aws_config::profile::profile_file::ProfileFiles::builder()
            .with_file(
                aws_config::profile::profile_file::ProfileFileKind::Credentials,
                &credentials,
            )
            .build();
        let sdk = aws_loader(Some("cairn-deployer"))
            .profile_files(files)
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let found = match sdk.credentials_provider() {
            Some(provider) => provider
                .provide_credentials()
                .await
                .map(|c| c.access_key_id().to_owned())
                .ok(),
            None => None,
        };
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.as_deref(), Some("AKIDPROFILE"));
    }

    #[test]
    fn region_comes_from_the_endpoint() {
        assert_eq!(
            region_of_endpoint("https://ABC123.gr7.eu-west-1.eks.amazonaws.com"),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_endpoint("https://ABC.yl4.cn-north-1.eks.amazonaws.com.cn:443/"),
            Some("cn-north-1")
        );
        assert_eq!(region_of_endpoint("https://127.0.0.1:6443"), None);
    }
}
