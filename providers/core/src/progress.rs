//! [`Progress`]: how a provider tells the engine what a long operation is waiting for.

use std::fmt;
use std::sync::Arc;

/// Receives progress messages; the engine's implementation drives a terminal spinner or
/// log lines.
pub trait ProgressSink: Send + Sync {
    /// `message` is a short status, e.g. `cluster status CREATING`.
    fn report(&self, message: &str);

    /// `message` is something the user must still see once the run is over (what an
    /// operation left behind that costs money), not a passing status. A sink that keeps
    /// nothing shows it as a status.
    fn warn(&self, message: &str) {
        self.report(message);
    }
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

    /// Warns of `message` (never a secret): the engine repeats it with the run's result,
    /// where a status line would have been overwritten.
    pub fn warn(&self, message: impl AsRef<str>) {
        if let Some(sink) = &self.0 {
            sink.warn(message.as_ref());
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}
