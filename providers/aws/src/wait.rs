//! Polling waits with backoff under an explicit timeout.
//!
//! AWS operations such as creating an EKS cluster (~10-15 min) or an RDS instance
//! (several minutes) finish asynchronously. A wait is a check that returns
//! [`Check::Done`] or [`Check::Waiting`] with the status it saw; [`poll_until`] repeats
//! it with growing intervals, reports the status through [`Progress`], and gives up with
//! [`ProviderError::Timeout`] naming what it waited for and what it saw last.
//!
//! Real AWS is eventually consistent: an object just created may read as not found, and
//! a just-created IAM principal may be refused for a while. [`call_until`] retries a call
//! through such answers for a bounded time, and [`NotFoundGrace`] lets a wait read "not
//! found" as "not visible yet" in a create's first minute. All waits read the time from
//! [`clock`].

use std::future::Future;
use std::time::{Duration, Instant};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_provider_core::{Progress, ProviderError};

use crate::error::{api_error, error_code};

/// The time waits see. Unit tests run it 100 times faster than the wall clock, so that
/// scripted AWS answers play minutes of waiting in a blink; tokio's paused clock would
/// need its `test-util` feature, which rebuilds every SDK crate.
#[cfg(not(test))]
pub(crate) mod clock {
    use std::time::{Duration, Instant};

    pub(crate) fn now() -> Instant {
        Instant::now()
    }

    pub(crate) async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
pub(crate) mod clock {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    const SPEEDUP: u32 = 100;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();

    pub(crate) fn now() -> Instant {
        let origin = *ORIGIN.get_or_init(Instant::now);
        origin + origin.elapsed() * SPEEDUP
    }

    pub(crate) async fn sleep(duration: Duration) {
        tokio::time::sleep(duration / SPEEDUP).await;
    }
}

/// The instant `timeout` from now, for an operation made of several waits that share one
/// timeout (see [`remaining`]).
pub(crate) fn deadline(timeout: Duration) -> Instant {
    clock::now() + timeout
}

/// The time left before `deadline`.
pub(crate) fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(clock::now())
}

/// How long after a create AWS may still answer "not found" for the new object
/// (terraform-provider-aws waits through NotFound for a create's first minute).
pub(crate) const NOT_FOUND_GRACE: Duration = Duration::from_secs(60);

/// Whether "not found" still means "not visible yet": true during [`NOT_FOUND_GRACE`]
/// after the grace was started (right after the create call).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NotFoundGrace {
    until: Instant,
}

impl NotFoundGrace {
    pub(crate) fn start() -> Self {
        NotFoundGrace {
            until: deadline(NOT_FOUND_GRACE),
        }
    }

    pub(crate) fn tolerates(&self) -> bool {
        clock::now() < self.until
    }
}

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
    let start = clock::now();
    let mut interval = backoff.initial;
    loop {
        let last_seen = match check().await? {
            Check::Done(value) => return Ok(value),
            Check::Waiting(status) => status,
        };
        let elapsed = clock::now().saturating_duration_since(start);
        progress.report(format!("{what}: {last_seen} ({}s)", elapsed.as_secs()));
        if elapsed >= timeout {
            return Err(ProviderError::Timeout {
                what: what.to_owned(),
                elapsed,
                last_seen,
            });
        }
        clock::sleep(interval.min(timeout - elapsed)).await;
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

/// Sends `call` until AWS accepts it, retrying for at most `timeout` while `retryable`
/// says the refusal is one that goes away by itself (an IAM principal not propagated yet,
/// an object not visible yet right after its create, a concurrent modification). Any
/// other error fails at once; the timeout error carries the last refusal.
pub(crate) async fn call_until<T, E, F, Fut, R>(
    what: &str,
    operation: &str,
    timeout: Duration,
    backoff: Backoff,
    progress: &Progress,
    retryable: R,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Fn(&E) -> bool,
{
    poll_until(what, timeout, backoff, progress, || {
        let attempt = call();
        let retryable = &retryable;
        async move {
            match attempt.await {
                Ok(value) => Ok(Check::Done(value)),
                Err(e) if retryable(&e) => Ok(Check::Waiting(format!(
                    "{}: {}",
                    error_code(&e).unwrap_or("error"),
                    e.message().unwrap_or_default()
                ))),
                Err(e) => Err(api_error(operation, e)),
            }
        }
    })
    .await
}

/// True if `err` carries one of `codes`.
pub(crate) fn has_code<E: ProvideErrorMetadata>(err: &E, codes: &[&str]) -> bool {
    error_code(err).is_some_and(|code| codes.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::delete_vpc::DeleteVpcError;
    use aws_smithy_types::error::ErrorMetadata;

    /// Seconds on the tests' fast clock (see [`clock`]), milliseconds on the wall.
    const FAST: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(4),
    };

    #[tokio::test]
    async fn gives_up_after_timeout_with_last_status() {
        let mut calls = 0;
        let result: Result<(), _> = poll_until(
            "cluster main to become ACTIVE",
            Duration::from_secs(20),
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
