//! Polling waits with backoff under an explicit timeout.
//!
//! AWS operations such as creating an EKS cluster (~10-15 min) or an RDS instance
//! (several minutes) finish asynchronously. A wait is a check that returns
//! [`Check::Done`] or [`Check::Waiting`] with the status it saw; [`poll_until`] repeats
//! it with growing intervals, reports the status through [`Progress`], and gives up with
//! [`ProviderError::Timeout`] naming what it waited for and what it saw last.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_provider_core::{Progress, ProviderError};

use crate::error::{api_error, error_code};

/// The outcome of one check.
pub(crate) enum Check<T> {
    Done(T),
    /// Not there yet; the string is the status seen, e.g. `status CREATING`.
    Waiting(String),
}

/// How often to poll: first after `initial`, then growing by half each time up to `max`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(30),
        }
    }
}

/// Runs `check` until it is done or `timeout` passes. The first check runs at once, so
/// an object that is ready immediately costs no sleep.
pub(crate) async fn poll_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    backoff: Backoff,
    progress: &Progress,
    mut check: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, ProviderError>>,
{
    let start = Instant::now();
    let mut interval = backoff.initial;
    loop {
        let last_seen = match check().await? {
            Check::Done(value) => return Ok(value),
            Check::Waiting(status) => status,
        };
        let elapsed = start.elapsed();
        progress.report(format!("{what}: {last_seen} ({}s)", elapsed.as_secs()));
        if elapsed >= timeout {
            return Err(ProviderError::Timeout {
                what: what.to_owned(),
                elapsed,
                last_seen,
            });
        }
        tokio::time::sleep(interval.min(timeout - elapsed)).await;
        interval = (interval + interval / 2).min(backoff.max);
    }
}

/// A dependency that blocks a delete (an ENI a load balancer or EKS left behind, a
/// mapped public address, a policy still attached) is released within minutes; no
/// point asking faster.
const DEPENDENCY_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(5),
    max: Duration::from_secs(20),
};

/// Calls a delete until it succeeds, retrying while AWS answers with a code in `busy`
/// (dependents still draining, e.g. `DependencyViolation`), as Terraform does. A code
/// in `gone` means the object is already deleted, which counts as success.
pub(crate) async fn delete_until_free<T, E, F, Fut>(
    what: &str,
    operation: &str,
    gone: &[&str],
    busy: &[&str],
    timeout: Duration,
    progress: &Progress,
    mut call: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    poll_until(what, timeout, DEPENDENCY_BACKOFF, progress, || {
        let attempt = call();
        async move {
            match attempt.await {
                Ok(_) => Ok(Check::Done(())),
                Err(e) => match error_code(&e) {
                    Some(code) if gone.contains(&code) => Ok(Check::Done(())),
                    Some(code) if busy.contains(&code) => Ok(Check::Waiting(format!(
                        "{code}: {}",
                        e.message().unwrap_or_default()
                    ))),
                    _ => Err(api_error(operation, e)),
                },
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::delete_vpc::DeleteVpcError;
    use aws_smithy_types::error::ErrorMetadata;

    /// Milliseconds instead of seconds, so the tests run on the real clock (tokio's
    /// paused clock needs its `test-util` feature, which rebuilds every SDK crate).
    const FAST: Backoff = Backoff {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
    };

    #[tokio::test]
    async fn gives_up_after_timeout_with_last_status() {
        let mut calls = 0;
        let result: Result<(), _> = poll_until(
            "cluster main to become ACTIVE",
            Duration::from_millis(200),
            FAST,
            &Progress::noop(),
            || {
                calls += 1;
                async { Ok(Check::Waiting("status CREATING".to_owned())) }
            },
        )
        .await;
        let err = result.expect_err("must time out").to_string();
        assert!(err.contains("cluster main to become ACTIVE"), "{err}");
        assert!(err.contains("status CREATING"), "{err}");
        assert!(calls > 3, "polled {calls} times");
    }

    #[tokio::test]
    async fn returns_as_soon_as_done() {
        let mut calls = 0;
        let value = poll_until(
            "x",
            Duration::from_secs(60),
            FAST,
            &Progress::noop(),
            || {
                calls += 1;
                let done = calls == 3;
                async move {
                    Ok(if done {
                        Check::Done(7)
                    } else {
                        Check::Waiting("pending".to_owned())
                    })
                }
            },
        )
        .await;
        assert_eq!(value.ok(), Some(7));
        assert_eq!(calls, 3);
    }

    fn refused(code: &str) -> DeleteVpcError {
        DeleteVpcError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("refused")
                .build(),
        )
    }

    #[tokio::test]
    async fn delete_retries_while_busy_and_accepts_already_gone() {
        let mut answers = vec![
            Err(refused("InvalidVpcID.NotFound")),
            Err(refused("DependencyViolation")),
        ];
        let result = delete_until_free(
            "vpc",
            "ec2:DeleteVpc",
            &["InvalidVpcID.NotFound"],
            &["DependencyViolation"],
            Duration::from_secs(60),
            &Progress::noop(),
            || std::future::ready(answers.pop().unwrap_or(Ok(()))),
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert!(
            answers.is_empty(),
            "retried past DependencyViolation until NotFound"
        );
    }

    #[tokio::test]
    async fn delete_fails_at_once_on_other_errors_with_the_api_code() {
        let mut calls = 0;
        let result = delete_until_free(
            "vpc",
            "ec2:DeleteVpc",
            &["InvalidVpcID.NotFound"],
            &["DependencyViolation"],
            Duration::from_secs(60),
            &Progress::noop(),
            || {
                calls += 1;
                std::future::ready(Err::<(), _>(refused("UnauthorizedOperation")))
            },
        )
        .await;
        let err = result.expect_err("must fail").to_string();
        assert!(
            err.contains("ec2:DeleteVpc: UnauthorizedOperation"),
            "{err}"
        );
        assert_eq!(calls, 1);
    }
}
