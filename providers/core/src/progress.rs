//! [`Progress`]: how a provider tells the engine what a long operation is waiting for.

use std::fmt;
use std::sync::Arc;

/// Receives progress messages; the engine's implementation drives a terminal spinner or
/// log lines.
pub trait ProgressSink: Send + Sync {
    /// `message` is a short status, e.g. `cluster status CREATING`.
    fn report(&self, message: &str);
}

/// A cheap, cloneable handle a provider calls while it waits.
#[derive(Clone)]
pub struct Progress(Option<Arc<dyn ProgressSink>>);

impl Progress {
    /// A handle that sends messages to `sink`.
    pub fn new(sink: Arc<dyn ProgressSink>) -> Self {
        Progress(Some(sink))
    }

    /// A handle that discards messages (tests, plan-time calls).
    pub fn noop() -> Self {
        Progress(None)
    }

    /// Reports `message` (a short status that never holds a secret).
    pub fn report(&self, message: impl AsRef<str>) {
        if let Some(sink) = &self.0 {
            sink.report(message.as_ref());
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}
