//! Polling waits with backoff under an explicit timeout.
//!
//! AWS operations such as creating an EKS cluster (~10-15 min) or an RDS instance
//! (several minutes) finish asynchronously. A wait is a check that returns
//! [`Check::Done`] or [`Check::Waiting`] with the status it saw; [`poll_until`] repeats
//! it with growing intervals, reports the status through [`Progress`], and gives up with
//! [`ProviderError::Timeout`] naming what it waited for and what it saw last.

use std::future::Future;
use std::time::{Duration, Instant};

use cairn_provider_core::{Progress, ProviderError};

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
        Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(30) }
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
            return Err(ProviderError::Timeout { what: what.to_owned(), elapsed, last_seen });
        }
        tokio::time::sleep(interval.min(timeout - elapsed)).await;
        interval = (interval + interval / 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_timeout_with_last_status() {
        let mut calls = 0;
        let result: Result<(), _> = poll_until(
            "cluster main to become ACTIVE",
            Duration::from_secs(60),
            Backoff::default(),
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

    #[tokio::test(start_paused = true)]
    async fn returns_as_soon_as_done() {
        let mut calls = 0;
        let value = poll_until("x", Duration::from_secs(60), Backoff::default(), &Progress::noop(), || {
            calls += 1;
            let done = calls == 3;
            async move {
                Ok(if done { Check::Done(7) } else { Check::Waiting("pending".to_owned()) })
            }
        })
        .await;
        assert_eq!(value.ok(), Some(7));
    }
}
