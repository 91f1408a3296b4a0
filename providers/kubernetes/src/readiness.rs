//! Waiting for a just-created EKS control plane to serve before the first object goes out.
//!
//! EKS reports a cluster ACTIVE before its API endpoint reliably answers: for a while
//! the name may not resolve, connections may be refused, and the authenticator may answer
//! 401 or 403 to a valid token. Like eksctl, which waits for several successful
//! `/version` calls after a create, [`wait_until_serving`] polls `GET /version` until it
//! answers [`WarmUp::successes`] times in a row. Only inside that bounded window are auth,
//! DNS and connection errors retried; anything else (a wrong CA, a 404) fails at once,
//! and after the window the last error is reported. An established cluster costs the
//! few quick calls of the streak.

use std::time::Duration;

use cairn_provider_core::ProviderError;
use tokio::time::Instant;

/// How long and how the warm-up polls.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WarmUp {
    /// How long errors are retried before the last one is reported.
    pub window: Duration,
    /// Consecutive successful `/version` calls that make the API server ready.
    pub successes: u32,
    /// Pause between successful calls.
    pub between_successes: Duration,
    /// First pause after an error; grows by half up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for WarmUp {
    fn default() -> Self {
        WarmUp {
            window: Duration::from_secs(10 * 60),
            successes: 3,
            between_successes: Duration::from_secs(1),
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(15),
        }
    }
}

/// Polls `GET /version` on `client` until it answers `warm_up.successes` times in a row.
/// `cluster` names the cluster in errors.
pub(crate) async fn wait_until_serving(
    client: &kube::Client,
    cluster: &str,
    warm_up: &WarmUp,
) -> Result<(), ProviderError> {
    let start = Instant::now();
    let mut streak = 0;
    let mut backoff = warm_up.backoff;
    loop {
        match client.apiserver_version().await {
            Ok(_) => {
                streak += 1;
                if streak >= warm_up.successes {
                    return Ok(());
                }
                tokio::time::sleep(warm_up.between_successes).await;
            }
            Err(error) if not_serving_yet(&error) => {
                streak = 0;
                let elapsed = start.elapsed();
                if elapsed >= warm_up.window {
                    return Err(ProviderError::Timeout {
                        what: format!("the API server of EKS cluster {cluster} to answer"),
                        elapsed,
                        last_seen: error.to_string(),
                    });
                }
                tracing::debug!(cluster, %error, "API server not serving yet");
                tokio::time::sleep(backoff.min(warm_up.window - elapsed)).await;
                backoff = (backoff + backoff / 2).min(warm_up.max_backoff);
            }
            Err(error) => {
                return Err(ProviderError::Api {
                    operation: "kubernetes:GetVersion".to_owned(),
                    code: None,
                    message: format!("EKS cluster {cluster}: {error}"),
                });
            }
        }
    }
}

/// True for the answers of a control plane that is not serving yet: 401 and 403 (the
/// authenticator and the creator's access entry are not ready), 429 and 5xx, and
/// transport errors (DNS, refused or reset connections). A certificate error is not
/// one: the CA is wrong, and waiting will not fix it.
fn not_serving_yet(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 401 | 403 | 429 | 500..=599),
        kube::Error::HyperError(_) | kube::Error::Service(_) => !mentions_certificate(error),
        _ => false,
    }
}

fn mentions_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .to_string()
            .to_ascii_lowercase()
            .contains("certificate")
        {
            return true;
        }
        next = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Response, StatusCode};
    use kube::client::Body;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use tower::BoxError;

    /// What the scripted API server does with one request.
    #[derive(Clone, Copy, Debug)]
    enum Answer {
        Status(u16),
        Refused,
        BadCertificate,
    }

    /// A client whose API server plays `script` (then answers 200) and records the time
    /// of each request.
    fn scripted(script: &[Answer]) -> (kube::Client, Arc<Mutex<Vec<Instant>>>) {
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let server = tower::service_fn(move |request: Request<Body>| {
            let script = Arc::clone(&script);
            let log = Arc::clone(&log);
            async move {
                assert_eq!(request.uri().path(), "/version");
                log.lock().expect("log").push(Instant::now());
                let answer = script
                    .lock()
                    .expect("script")
                    .pop_front()
                    .unwrap_or(Answer::Status(200));
                let status = match answer {
                    Answer::Status(status) => status,
                    Answer::Refused => {
                        return Err::<Response<Body>, BoxError>(
                            "tcp connect error: Connection refused (os error 111)".into(),
                        );
                    }
                    Answer::BadCertificate => {
                        return Err("invalid peer certificate: UnknownIssuer".into());
                    }
                };
                let body = if status == 200 {
                    r#"{"major":"1","minor":"33","gitVersion":"v1.33.5-eks-1","gitCommit":"",
                        "gitTreeState":"","buildDate":"","goVersion":"","compiler":"","platform":""}"#
                        .to_owned()
                } else {
                    format!(
                        r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not ready","code":{status}}}"#
                    )
                };
                let mut response = Response::new(Body::from(body.into_bytes()));
                *response.status_mut() = StatusCode::from_u16(status).expect("status");
                Ok(response)
            }
        });
        (
            kube::client::ClientBuilder::new(server, "default").build(),
            seen,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn retries_connect_and_auth_errors_until_a_streak_of_successes() {
        let (client, seen) = scripted(&[
            Answer::Refused,
            Answer::Status(401),
            Answer::Status(403),
            Answer::Status(200),
            Answer::Status(503),
            Answer::Status(200),
        ]);
        wait_until_serving(&client, "airflow-dev", &WarmUp::default())
            .await
            .expect("serving");
        let seen = seen.lock().expect("log");
        // 5 not ready (the 200 between them does not count), then 3 in a row.
        assert_eq!(seen.len(), 8);
        let last_three = &seen[5..];
        assert_eq!(
            last_three[2] - last_three[0],
            2 * WarmUp::default().between_successes
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_window_with_the_last_error() {
        let (client, seen) = scripted(&[Answer::Status(401); 1000]);
        let warm_up = WarmUp::default();
        let start = Instant::now();
        let error = wait_until_serving(&client, "airflow-dev", &warm_up)
            .await
            .expect_err("never serving")
            .to_string();
        assert!(
            error.contains("API server of EKS cluster airflow-dev"),
            "{error}"
        );
        assert!(error.contains("401"), "{error}");
        assert!(start.elapsed() >= warm_up.window);
        assert!(start.elapsed() < warm_up.window + warm_up.max_backoff);
        let calls = seen.lock().expect("log").len();
        assert!((30..100).contains(&calls), "{calls} calls in the window");
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_fail_at_once() {
        for answer in [Answer::Status(404), Answer::BadCertificate] {
            let (client, seen) = scripted(&[answer]);
            let error = wait_until_serving(&client, "airflow-dev", &WarmUp::default())
                .await
                .expect_err("not retried");
            assert!(
                error.to_string().contains("EKS cluster airflow-dev"),
                "{error}"
            );
            assert_eq!(seen.lock().expect("log").len(), 1, "{answer:?}");
        }
    }
}
