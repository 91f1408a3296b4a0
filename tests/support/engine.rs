//! The engine driven through the library, as one `cairn` process drives it, for tests that
//! use a fake provider (`cairn-provider-fake`) instead of the binary: [`Run`] loads a
//! stack, opens its state and builds every [`PlanInput`] and [`ApplyInput`]; [`Quiet`] is
//! the observer that shows nothing; [`stack_dir`] and [`runtime`] set a test up.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn::addr::ResourceAddr;
use cairn::apply::{self, ApplyInput, ApplyObserver, ApplyOptions, ApplyOutcome};
use cairn::graph::ResourceGraph;
use cairn::plan::{self, Action, Plan, PlanInput, PlanOptions};
use cairn::providers::{Clients, Registry};
use cairn::stack::{self, LoadOptions, Stack};
use cairn::state::StateStore;

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
    fn finished(&self, _: &ResourceAddr, _: Action, _: Duration, _: Option<String>) {}
    fn failed(&self, _: &ResourceAddr, _: Duration) {}
}

/// One run of cairn on the stack in a directory: the stack loaded against `registry`, its
/// graph, its state (`DIR/state.json`, locked until [`Run::close`] or drop) and the
/// providers configured so far.
pub struct Run<'r> {
    pub registry: &'r Registry,
    pub stack: Stack,
    pub graph: ResourceGraph,
    pub store: StateStore,
    pub clients: Clients,
}

impl<'r> Run<'r> {
    /// Loads `DIR/*.toml` and opens `DIR/state.json`. Panics if either fails.
    pub fn open(dir: &Path, registry: &'r Registry) -> Run<'r> {
        Run::open_with_state(dir, &dir.join("state.json"), registry)
    }

    /// Loads `DIR/*.toml` and opens the state at `state`. Panics if either fails.
    pub fn open_with_state(dir: &Path, state: &Path, registry: &'r Registry) -> Run<'r> {
        let stack = stack::load(dir, &LoadOptions::default(), registry.schemas())
            .unwrap_or_else(|e| panic!("the stack in {} loads: {e:?}", dir.display()));
        let graph =
            ResourceGraph::build(&stack).unwrap_or_else(|e| panic!("the stack is acyclic: {e:?}"));
        let store = StateStore::open(state, &stack.name, &stack.env, "test")
            .unwrap_or_else(|e| panic!("the state opens: {e}"));
        let clients = Clients::new(&stack.name, &stack.env);
        Run {
            registry,
            stack,
            graph,
            store,
            clients,
        }
    }

    /// Forgets the configured providers, as the next `cairn` process would start.
    pub fn restart_providers(&mut self) {
        self.clients = Clients::new(&self.stack.name, &self.stack.env);
    }

    /// What a plan of this run is made from.
    pub fn plan_input(&self) -> PlanInput<'_> {
        PlanInput {
            stack: &self.stack,
            graph: &self.graph,
            registry: self.registry,
            clients: &self.clients,
            state: self.store.state(),
            hasher: self.store.hasher(),
        }
    }

    /// Plans with `options`. Panics if planning fails.
    pub async fn plan(&self, options: &PlanOptions) -> Plan {
        plan::build(self.plan_input(), options)
            .await
            .unwrap_or_else(|e| panic!("plans: {e:?}"))
    }

    /// Applies `plan` (made by this run) with a [`Quiet`] observer and no cancellation.
    pub async fn apply(&mut self, plan: &Plan, options: ApplyOptions) -> ApplyOutcome {
        let input = ApplyInput {
            stack: &self.stack,
            registry: self.registry,
            clients: &self.clients,
            plan,
        };
        apply::apply(input, &mut self.store, options, Arc::new(Quiet), None).await
    }

    /// Closes the state (snapshot written, lock released). Panics if that fails.
    pub fn close(self) {
        self.store
            .close()
            .unwrap_or_else(|e| panic!("the state closes: {e}"));
    }
}
