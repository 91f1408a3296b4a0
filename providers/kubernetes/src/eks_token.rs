//! EKS bearer tokens, made like `aws eks get-token`, and the layer that sends them.
//!
//! Owns the token format: a SigV4 presigned URL for STS `GetCallerIdentity` whose signed
//! headers include `x-k8s-aws-id: <cluster name>`, base64url-encoded without padding and
//! prefixed with `k8s-aws-v1.`. The API server hands the URL to STS to learn who is
//! calling. Owns also when tokens are renewed: EKS accepts a token for 15 minutes, so a
//! token is reused for at most [`TOKEN_REUSE`] and a request always leaves with at least
//! five minutes of validity left. A watch is authenticated once, when it starts, so long
//! waits are covered too. A request answered 401 is sent once more with a freshly signed
//! token (the first may have been signed before the identity could be verified).
//! Credentials come from the AWS SDK's credential chain (with the configured profile, if
//! any); no aws CLI and no kubectl are involved. Tokens never reach logs or errors.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use http::{HeaderValue, Request, Response, StatusCode};
use kube::client::Body;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tower::buffer::Buffer;
use tower::{BoxError, Service, ServiceExt};

/// How long one token is reused before a new one is signed; EKS accepts a token for 15
/// minutes after it was signed.
pub(crate) const TOKEN_REUSE: Duration = Duration::from_secs(10 * 60);

/// What the presigned URL says about its own lifetime; EKS ignores it (15 minutes), but
/// `aws eks get-token` sends 60 and so does cairn.
const PRESIGNED_URL_EXPIRES: Duration = Duration::from_secs(60);

/// The header that binds a token to one cluster.
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// Requests waiting for the shared connection while a token is being signed.
const BUFFERED_REQUESTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub(crate) enum EksTokenError {
    /// The SDK's credential chain found no usable credentials.
    #[error("no AWS credentials for the EKS token: {0}")]
    Credentials(#[source] aws_credential_types::provider::error::CredentialsError),
    /// Signing failed (a malformed region or cluster name).
    #[error("signing the EKS token failed: {0}")]
    Signing(String),
    /// The token is not a valid header value.
    #[error("the EKS token is not a valid HTTP header value")]
    Header,
}

/// `https://sts.<region>.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15` with
/// SigV4 query parameters, signed at `time` for `cluster`.
pub(crate) fn presigned_url(
    credentials: &Credentials,
    cluster: &str,
    region: &str,
    time: SystemTime,
) -> Result<String, EksTokenError> {
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGNED_URL_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| EksTokenError::Signing(e.to_string()))?
        .into();
    let url = format!(
        "https://sts.{region}.{}/?Action=GetCallerIdentity&Version=2011-06-15",
        if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        }
    );
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        [(CLUSTER_ID_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| EksTokenError::Signing(e.to_string()))?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(request, &params)
        .map_err(|e| EksTokenError::Signing(e.to_string()))?
        .into_parts();
    let mut presigned = url;
    for (name, value) in instructions.params() {
        presigned.push('&');
        presigned.push_str(name);
        presigned.push('=');
        presigned.push_str(&uri_encode(value));
    }
    Ok(presigned)
}

/// The bearer token for `cluster`: what `aws eks get-token` prints as `status.token`.
pub(crate) fn token(
    credentials: &Credentials,
    cluster: &str,
    region: &str,
    time: SystemTime,
) -> Result<String, EksTokenError> {
    let url = presigned_url(credentials, cluster, region, time)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    ))
}

/// SigV4's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`.
fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Signs tokens for one cluster and reuses each for [`TOKEN_REUSE`].
pub(crate) struct EksTokenSource {
    cluster: String,
    region: String,
    credentials: SharedCredentialsProvider,
    current: Mutex<Option<(String, Instant)>>,
}

impl EksTokenSource {
    pub fn new(cluster: String, region: String, credentials: SharedCredentialsProvider) -> Self {
        EksTokenSource {
            cluster,
            region,
            credentials,
            current: Mutex::new(None),
        }
    }

    /// Drops `rejected` if it is still the token in use, so the next [`Self::bearer`]
    /// signs a new one; a token another request already replaced is left alone.
    pub async fn reject(&self, rejected: &str) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|(token, _)| token == rejected) {
            *current = None;
        }
    }

    /// A token with at least `15m - TOKEN_REUSE` of validity left.
    pub async fn bearer(&self) -> Result<String, EksTokenError> {
        let mut current = self.current.lock().await;
        if let Some((token, signed_at)) = current.as_ref()
            && signed_at.elapsed() < TOKEN_REUSE
        {
            return Ok(token.clone());
        }
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(EksTokenError::Credentials)?;
        let fresh = token(&credentials, &self.cluster, &self.region, SystemTime::now())?;
        *current = Some((fresh.clone(), Instant::now()));
        Ok(fresh)
    }
}

/// Puts `Authorization: Bearer <EKS token>` on every request of kube's service stack.
/// The inner stack sits behind a [`Buffer`] so each request can await a token first.
pub(crate) struct EksAuthService<F> {
    inner: Buffer<Request<Body>, F>,
    tokens: Arc<EksTokenSource>,
}

impl<F> EksAuthService<F> {
    /// Must be called inside a tokio runtime: the buffer spawns its worker.
    pub fn wrap<S>(inner: S, tokens: Arc<EksTokenSource>) -> Self
    where
        S: Service<Request<Body>, Future = F> + Send + 'static,
        S::Error: Into<BoxError> + Send + Sync,
        F: Send + 'static,
    {
        EksAuthService {
            inner: Buffer::new(inner, BUFFERED_REQUESTS),
            tokens,
        }
    }
}

/// `request` with its bearer token set to `token`.
fn authorized(mut request: Request<Body>, token: &str) -> Result<Request<Body>, EksTokenError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| EksTokenError::Header)?;
    value.set_sensitive(true);
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, value);
    Ok(request)
}

/// A copy of `request` to send again, if its body is buffered (kube's always are, except
/// for streamed uploads, which are not retried).
fn copy(request: &Request<Body>) -> Option<Request<Body>> {
    let mut copy = Request::new(request.body().try_clone()?);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    Some(copy)
}

impl<F, B, E> Service<Request<Body>> for EksAuthService<F>
where
    F: Future<Output = Result<Response<B>, E>> + Send + 'static,
    E: Into<BoxError>,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness of the inner stack is awaited per request, after the token.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let tokens = Arc::clone(&self.tokens);
        Box::pin(async move {
            let again = copy(&request);
            let token = tokens.bearer().await?;
            let response = inner.clone().oneshot(authorized(request, &token)?).await?;
            let Some(again) = again.filter(|_| response.status() == StatusCode::UNAUTHORIZED)
            else {
                return Ok(response);
            };
            // Once: a second 401 is the API server's answer, not a stale token. Neither
            // token is reused.
            tokens.reject(&token).await;
            let fresh = tokens.bearer().await?;
            let response = inner.oneshot(authorized(again, &fresh)?).await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                tokens.reject(&fresh).await;
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The SigV4 presigning steps, written out from the spec, independent of aws-sigv4.
    fn expected_signature(
        secret: &str,
        date: &str,
        amz_date: &str,
        region: &str,
        cluster: &str,
    ) -> (String, String) {
        let host = format!("sts.{region}.amazonaws.com");
        let scope = format!("{date}/{region}/sts/aws4_request");
        let credential = format!("AKIDEXAMPLE/{scope}").replace('/', "%2F");
        let query = format!(
            "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential={credential}&X-Amz-Date={amz_date}&X-Amz-Expires=60\
             &X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"
        );
        let empty_payload = hex::encode(Sha256::digest(b""));
        let canonical_request = format!(
            "GET\n/\n{query}\nhost:{host}\nx-k8s-aws-id:{cluster}\n\nhost;x-k8s-aws-id\n{empty_payload}"
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let key = hmac(format!("AWS4{secret}").as_bytes(), date);
        let key = hmac(&key, region);
        let key = hmac(&key, "sts");
        let key = hmac(&key, "aws4_request");
        let signature = hex::encode(hmac(&key, &string_to_sign));
        (
            format!("https://{host}/?{query}&X-Amz-Signature={signature}"),
            signature,
        )
    }

    #[test]
    fn token_matches_sigv4_presigning_computed_independently() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let credentials = Credentials::new("AKIDEXAMPLE", secret, None, None, "test");
        // 2015-08-30T12:36:00Z, the date of the SigV4 test suite.
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let url = presigned_url(&credentials, "airflow-dev", "us-east-1", time).expect("signs");

        let query = url.split_once('?').map(|(_, q)| q).expect("has a query");
        let params: Vec<(&str, &str)> =
            query.split('&').filter_map(|p| p.split_once('=')).collect();
        let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        assert_eq!(param("Action"), Some("GetCallerIdentity"));
        assert_eq!(param("X-Amz-Algorithm"), Some("AWS4-HMAC-SHA256"));
        assert_eq!(
            param("X-Amz-Credential"),
            Some("AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request")
        );
        assert_eq!(param("X-Amz-SignedHeaders"), Some("host%3Bx-k8s-aws-id"));
        assert_eq!(param("X-Amz-Expires"), Some("60"));
        assert_eq!(param("X-Amz-Date"), Some("20150830T123600Z"));

        let (expected_url, signature) = expected_signature(
            secret,
            "20150830",
            "20150830T123600Z",
            "us-east-1",
            "airflow-dev",
        );
        assert_eq!(param("X-Amz-Signature"), Some(signature.as_str()));
        assert_eq!(url, expected_url);

        let expected_token = format!(
            "k8s-aws-v1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&expected_url)
        );
        let token = token(&credentials, "airflow-dev", "us-east-1", time).expect("signs");
        assert_eq!(token, expected_token);
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));

        let other_cluster = presigned_url(&credentials, "other", "us-east-1", time).expect("signs");
        assert_ne!(
            other_cluster, url,
            "the cluster name is part of the signature"
        );
    }

    /// Static credentials that count how often they are asked for.
    #[derive(Debug, Default)]
    struct CountingCredentials(Arc<std::sync::atomic::AtomicUsize>);

    impl ProvideCredentials for CountingCredentials {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_request_carries_a_token_renewed_after_its_reuse_period() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let api_server = tower::service_fn(move |request: Request<Body>| {
            let log = Arc::clone(&log);
            async move {
                let authorization = request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                log.lock().expect("log lock").push(authorization);
                let versions =
                    br#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#;
                Ok::<_, BoxError>(http::Response::new(Body::from(versions.to_vec())))
            }
        });
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tokens = Arc::new(EksTokenSource::new(
            "airflow-dev".to_owned(),
            "us-east-1".to_owned(),
            SharedCredentialsProvider::new(CountingCredentials(Arc::clone(&calls))),
        ));
        let client = kube::client::ClientBuilder::new(api_server, "default")
            .with_layer(&tower::layer::layer_fn(|inner| {
                EksAuthService::wrap(inner, Arc::clone(&tokens))
            }))
            .build();

        client.list_core_api_versions().await.expect("first call");
        client.list_core_api_versions().await.expect("second call");
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the token is reused"
        );
        tokio::time::advance(TOKEN_REUSE + Duration::from_secs(1)).await;
        client.list_core_api_versions().await.expect("third call");
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "then renewed"
        );

        let seen = seen.lock().expect("log lock").clone();
        assert_eq!(seen.len(), 3);
        let first = seen[0].as_deref().expect("an Authorization header");
        assert_eq!(seen[1].as_deref(), Some(first));
        let token = first
            .strip_prefix("Bearer k8s-aws-v1.")
            .expect("an EKS bearer token");
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .expect("base64url");
        assert!(url.starts_with(
            "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        assert!(url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"));
    }

    /// A control plane that answers 401 until it trusts the identity: the rejected
    /// request goes out once more with a newly signed token, and only once.
    #[tokio::test(start_paused = true)]
    async fn a_401_is_retried_once_with_a_newly_signed_token() {
        let statuses = Arc::new(std::sync::Mutex::new(vec![401u16, 401, 200, 401]));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (script, log) = (Arc::clone(&statuses), Arc::clone(&seen));
        let api_server = tower::service_fn(move |request: Request<Body>| {
            let (script, log) = (Arc::clone(&script), Arc::clone(&log));
            async move {
                log.lock()
                    .expect("log")
                    .push((request.method().clone(), request.uri().path().to_owned()));
                let status = {
                    let mut script = script.lock().expect("script");
                    if script.is_empty() {
                        200
                    } else {
                        script.remove(0)
                    }
                };
                let body = if status == 200 {
                    br#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#
                        .to_vec()
                } else {
                    br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","code":401}"#.to_vec()
                };
                let mut response = http::Response::new(Body::from(body));
                *response.status_mut() = StatusCode::from_u16(status).expect("status");
                Ok::<_, BoxError>(response)
            }
        });
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tokens = Arc::new(EksTokenSource::new(
            "airflow-dev".to_owned(),
            "us-east-1".to_owned(),
            SharedCredentialsProvider::new(CountingCredentials(Arc::clone(&calls))),
        ));
        let client = kube::client::ClientBuilder::new(api_server, "default")
            .with_layer(&tower::layer::layer_fn(|inner| {
                EksAuthService::wrap(inner, Arc::clone(&tokens))
            }))
            .build();
        let signed = || calls.load(std::sync::atomic::Ordering::SeqCst);

        let error = client
            .list_core_api_versions()
            .await
            .expect_err("401 twice is an answer");
        assert!(error.to_string().contains("401"), "{error}");
        assert_eq!(seen.lock().expect("log").len(), 2, "sent twice, not more");
        assert_eq!(signed(), 2, "re-signed for the second try");

        client
            .list_core_api_versions()
            .await
            .expect("the next request succeeds");
        assert_eq!(signed(), 3, "the rejected token is not reused");

        client.list_core_api_versions().await.expect("401 then 200");
        assert_eq!(seen.lock().expect("log").len(), 5);
        assert_eq!(signed(), 4);
        assert!(
            seen.lock()
                .expect("log")
                .iter()
                .all(|(method, path)| method == http::Method::GET && path == "/api"),
            "the retry is the same request"
        );
    }

    #[test]
    fn session_tokens_travel_in_the_query() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session/+=".to_owned()),
            None,
            "test",
        );
        let url = presigned_url(
            &credentials,
            "c",
            "eu-west-1",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
        .expect("signs");
        assert!(url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        assert!(
            url.contains("&X-Amz-Security-Token=session%2F%2B%3D"),
            "{url}"
        );
    }
}
