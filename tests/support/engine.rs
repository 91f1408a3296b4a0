//! The engine driven through the library's [`Session`], as one `cairn` process drives it,
//! for tests and benchmarks that use a fake provider (`cairn-provider-fake`) instead of
//! the binary: [`Run`] is a session with its state locked; [`Quiet`] is the observer that
//! shows nothing; [`stack_dir`] and [`runtime`] set a test up.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn::addr::ResourceAddr;
use cairn::apply::{ApplyObserver, ApplyOptions, ApplyOutcome};
use cairn::plan::{Action, Plan, PlanOptions};
use cairn::providers::Registry;
use cairn::session::{OpenOptions, Session};
use cairn::state::{LockOptions, StateStore};

/// A temporary directory holding `toml` as its `stack.toml`.
pub fn stack_dir(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    std::fs::write(dir.path().join("stack.toml"), toml)
        .unwrap_or_else(|e| panic!("write stack.toml: {e}"));
    dir
}

/// A multi-threaded tokio runtime, as the `cairn` binary runs the engine on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

/// An [`ApplyObserver`] that ignores everything.
pub struct Quiet;

impl ApplyObserver for Quiet {
    fn started(&self, _: &ResourceAddr, _: &'static str) {}
    fn progress(&self, _: &ResourceAddr, _: &str) {}
    fn warning(&self, _: &ResourceAddr, _: &str) {}
    fn finished(&self, _: &ResourceAddr, _: Action, _: Duration, _: Option<String>) {}
    fn failed(&self, _: &ResourceAddr, _: Duration) {}
}

/// One run of cairn on the stack in a directory: a [`Session`] on it and its state
/// (locked until [`Run::close`] or drop).
pub struct Run<'r> {
    pub session: Session<'r>,
    pub store: StateStore,
}

impl<'r> Run<'r> {
    /// Loads `DIR/*.toml` and opens `DIR/state.json`. Panics if either fails.
    pub fn open(dir: &Path, registry: &'r Registry) -> Run<'r> {
        Run::open_with_state(dir, &dir.join("state.json"), registry)
    }

    /// Loads `DIR/*.toml` and opens the state at `state`. Panics if either fails.
    pub fn open_with_state(dir: &Path, state: &Path, registry: &'r Registry) -> Run<'r> {
        let session = Session::open(registry, OpenOptions::with_state_file(dir, state))
            .unwrap_or_else(|e| panic!("the stack in {} loads: {e:?}", dir.display()));
        let store = session
            .lock(&LockOptions::new("test"))
            .unwrap_or_else(|e| panic!("the state opens: {e}"));
        Run { session, store }
    }

    /// Forgets the configured providers, as the next `cairn` process would start.
    pub fn restart_providers(&mut self) {
        self.session.restart_providers();
    }

    /// Plans with `options`. Panics if planning fails.
    pub async fn plan(&self, options: &PlanOptions) -> Plan {
        self.session
            .plan(self.store.state(), self.store.hasher(), options)
            .await
            .unwrap_or_else(|e| panic!("plans: {e:?}"))
    }

    /// Applies `plan` (made by this run) with a [`Quiet`] observer and no cancellation.
    pub async fn apply(&mut self, plan: &Plan, options: ApplyOptions) -> ApplyOutcome {
        self.session
            .apply(&mut self.store, plan, options, Arc::new(Quiet), None)
            .await
    }

    /// Closes the state (snapshot written, lock released). Panics if that fails.
    pub fn close(self) {
        self.store
            .close()
            .unwrap_or_else(|e| panic!("the state closes: {e}"));
    }
}
