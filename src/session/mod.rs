//! One run of cairn on one stack: what the `cairn` binary, the tests and the benchmarks
//! all drive.
//!
//! [`Session::open`] loads the stack (its environment and variables) against the
//! provider [`Registry`], builds its graph and decides where its state lives
//! ([`StateChoice`]). Then, in order: [`Session::read_state`] (a read-only plan) or
//! [`Session::lock`] (apply, destroy, import), [`Session::adopt`] (creates an interrupted
//! apply left pending), [`Session::plan`], and [`Session::apply`] to walk the plan. Saved
//! plans (`plan --out`, `apply FILE`) are in `saved.rs`.
//!
//! What a person sees is not decided here: asking for confirmation, Ctrl-C and printing
//! belong to the CLI. What the session has to say along the way (a lock taken over, an
//! object adopted) goes to the [`Notice`] callback given with [`Session::with_notices`].

mod location;
mod saved;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

pub use location::{StateChoice, local_default, remote_location, state_location};
pub use saved::read_saved;

use crate::addr::ResourceAddr;
use crate::apply::{self, ApplyInput, ApplyObserver, ApplyOptions, ApplyOutcome};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::graph::ResourceGraph;
use crate::plan::{self, Adoption, Plan, PlanError, PlanInput, PlanOptions};
use crate::providers::{Clients, Registry};
use crate::stack::{self, LoadOptions, Stack};
use crate::state::{
    Location, LockInfo, LockOptions, ResourceState, SensitiveHasher, StateError, StateFile,
    StateStore, StateView,
};

/// Why a session could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Problems in the stack, with locations.
    #[error("{0}")]
    Stack(Diagnostics),
    /// Planning failed (a provider's refresh, an evaluation).
    #[error(transparent)]
    Plan(PlanError),
    /// Reading, locking or writing the state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The request cannot be carried out as given; nothing was changed.
    #[error("{message}")]
    Refused {
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
}

impl From<Diagnostics> for SessionError {
    fn from(diagnostics: Diagnostics) -> Self {
        SessionError::Stack(diagnostics)
    }
}

impl From<Diagnostic> for SessionError {
    fn from(diagnostic: Diagnostic) -> Self {
        SessionError::Stack(Diagnostics::from(diagnostic))
    }
}

impl From<PlanError> for SessionError {
    fn from(error: PlanError) -> Self {
        match error {
            PlanError::Stack(diagnostics) => SessionError::Stack(diagnostics),
            other => SessionError::Plan(other),
        }
    }
}

pub(crate) fn refused(message: impl Into<String>, hint: Option<&str>) -> SessionError {
    SessionError::Refused {
        message: message.into(),
        hint: hint.map(str::to_owned),
    }
}

/// Something a session reports on its way, for the caller to show.
#[derive(Debug)]
pub enum Notice<'a> {
    /// This run took over the lock of a run that is gone.
    TookOver {
        /// Where the state is.
        location: &'a Location,
        /// Who held the lock.
        holder: &'a LockInfo,
    },
    /// A read-only plan found the create of `addr` pending: the next apply adopts it.
    Pending(&'a ResourceAddr),
    /// The object an interrupted apply created for `addr` was found and recorded.
    Adopted(&'a ResourceAddr),
    /// An interrupted create could not be looked up; it stays pending.
    Unresolved {
        /// The resource.
        addr: &'a ResourceAddr,
        /// What its provider said.
        error: &'a str,
    },
    /// A saved plan's sensitive variables could not be compared with the current ones.
    SensitiveUnchecked,
}

type NoticeSink = Arc<dyn Fn(&Notice<'_>) + Send + Sync>;

/// What a session is opened on.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// The stack directory.
    pub dir: PathBuf,
    /// The environment and the variables.
    pub load: LoadOptions,
    /// Where the state is.
    pub state: StateChoice,
}

impl OpenOptions {
    /// The stack in `dir` with its default environment and no variables, its state at
    /// `state`.
    pub fn with_state_file(dir: impl Into<PathBuf>, state: impl Into<PathBuf>) -> OpenOptions {
        OpenOptions {
            dir: dir.into(),
            load: LoadOptions::default(),
            state: StateChoice::file(state),
        }
    }
}

/// One run on one stack: the stack, its graph, where its state is, and the providers
/// configured so far (planning configures them, the apply reuses them).
pub struct Session<'r> {
    /// The providers compiled in (or given, in tests) and their schemas.
    pub registry: &'r Registry,
    /// The loaded stack.
    pub stack: Stack,
    /// Its resource graph.
    pub graph: ResourceGraph,
    /// Where its state lives.
    pub location: Location,
    /// Providers configured in this run.
    pub clients: Clients,
    options: OpenOptions,
    notices: NoticeSink,
}

impl<'r> Session<'r> {
    /// Loads the stack in `options.dir` and decides where its state is. Reads no state.
    pub fn open(registry: &'r Registry, options: OpenOptions) -> Result<Session<'r>, SessionError> {
        let stack = stack::load(&options.dir, &options.load, registry.schemas())?;
        let graph = ResourceGraph::build(&stack)?;
        let location = state_location(
            &options.dir,
            &options.state,
            &stack.name,
            &stack.env,
            stack.backend.as_ref(),
        )?;
        let clients = Clients::new(&stack.name, &stack.env);
        Ok(Session {
            registry,
            stack,
            graph,
            location,
            clients,
            options,
            notices: Arc::new(|_: &Notice<'_>| {}),
        })
    }

    /// Sends what the session reports to `sink` (by default, nowhere).
    pub fn with_notices(mut self, sink: impl Fn(&Notice<'_>) + Send + Sync + 'static) -> Self {
        self.notices = Arc::new(sink);
        self
    }

    /// What the session was opened with.
    pub fn options(&self) -> &OpenOptions {
        &self.options
    }

    /// Forgets the configured providers, as the next `cairn` process would start.
    pub fn restart_providers(&mut self) {
        self.clients = Clients::new(&self.stack.name, &self.stack.env);
    }

    fn notice(&self, notice: Notice<'_>) {
        (self.notices)(&notice);
    }

    /// Reads the state without locking or writing anything, for a read-only plan;
    /// pending creates are reported ([`Notice::Pending`]), not adopted.
    pub fn read_state(&self) -> Result<StateView, SessionError> {
        let view = StateView::read(&self.location, &self.stack.name, &self.stack.env)?;
        self.check_not_left_behind(&view.state)?;
        for addr in view.state.pending.keys() {
            self.notice(Notice::Pending(addr));
        }
        Ok(view)
    }

    /// Opens the state locked, for a run that writes it.
    pub fn lock(&self, lock: &LockOptions) -> Result<StateStore, SessionError> {
        let store = StateStore::open_at(&self.location, &self.stack.name, &self.stack.env, lock)?;
        if let Some(holder) = store.taken_over() {
            self.notice(Notice::TookOver {
                location: &self.location,
                holder,
            });
        }
        self.check_not_left_behind(store.state())?;
        Ok(store)
    }

    /// A stack that just named a remote backend would start from an empty state there
    /// while its resources are recorded in the local file: refuse, and say how to move it.
    fn check_not_left_behind(&self, state: &StateFile) -> Result<(), SessionError> {
        if matches!(self.location, Location::Local(_)) || self.options.state.file.is_some() {
            return Ok(());
        }
        let fresh = state.serial == 0 && state.resources.is_empty() && state.pending.is_empty();
        let local = local_default(&self.options.dir, &self.stack.name, &self.stack.env)?;
        if fresh && crate::state::read_at(&local)?.is_some() {
            return Err(refused(
                format!(
                    "the state at {} is empty, but this stack's resources are recorded in {local}",
                    self.location
                ),
                Some(
                    "move that state with `cairn state migrate` (lineage, serial and key are kept), then run again",
                ),
            ));
        }
        Ok(())
    }

    fn check_targets(
        &self,
        state: &StateFile,
        targets: &[ResourceAddr],
    ) -> Result<(), SessionError> {
        for target in targets {
            // A block, or one instance of it (`TYPE.NAME["key"]`).
            let configured = self
                .stack
                .resources
                .get(&target.config())
                .is_some_and(|r| target.key.is_none() || r.for_each.is_some());
            if !configured && !state.resources.keys().any(|a| target.covers(a)) {
                return Err(refused(
                    format!("--target {target}: no such resource in the stack or the state"),
                    None,
                ));
            }
        }
        Ok(())
    }

    fn plan_input<'a>(
        &'a self,
        state: &'a StateFile,
        hasher: &'a SensitiveHasher,
    ) -> PlanInput<'a> {
        PlanInput {
            stack: &self.stack,
            graph: &self.graph,
            registry: self.registry,
            clients: &self.clients,
            state,
            hasher,
        }
    }

    /// Plans against `state` (read with [`Session::read_state`], or a locked store's).
    pub async fn plan(
        &self,
        state: &StateFile,
        hasher: &SensitiveHasher,
        options: &PlanOptions,
    ) -> Result<Plan, SessionError> {
        self.check_targets(state, &options.targets)?;
        Ok(plan::build(self.plan_input(state, hasher), options).await?)
    }

    /// Looks for the objects of creates an interrupted apply left pending, and records
    /// those it finds ([`Notice::Adopted`], [`Notice::Unresolved`]).
    pub async fn adopt(&self, store: &mut StateStore) -> Result<Adoption, SessionError> {
        let adoption = plan::adopt_interrupted(
            store,
            &self.stack,
            &self.graph,
            self.registry,
            &self.clients,
        )
        .await?;
        for addr in &adoption.adopted {
            self.notice(Notice::Adopted(addr));
        }
        for (addr, error) in &adoption.unresolved {
            self.notice(Notice::Unresolved { addr, error });
        }
        Ok(adoption)
    }

    /// Walks `plan` (made by this session against `store`'s state). `cancel` counts
    /// interrupt requests: at 1 nothing new starts, at 2 the walk stops waiting for
    /// operations in flight. The caller closes the store.
    pub async fn apply(
        &self,
        store: &mut StateStore,
        plan: &Plan,
        options: ApplyOptions,
        observer: Arc<dyn ApplyObserver>,
        cancel: Option<watch::Receiver<u32>>,
    ) -> ApplyOutcome {
        let input = ApplyInput {
            stack: &self.stack,
            registry: self.registry,
            clients: &self.clients,
            plan,
        };
        apply::apply(input, store, options, observer, cancel).await
    }

    /// Refuses an import to `addr` that the stack has no block (or no such instance) for.
    pub fn check_import(&self, addr: &ResourceAddr) -> Result<(), SessionError> {
        match self.stack.resources.get(&addr.config()) {
            None => Err(refused(
                format!(
                    "cannot import to {addr}: `{}` is not in the stack",
                    addr.config()
                ),
                Some("add its block to the stack first: the import adopts an object for it"),
            )),
            Some(resource) if resource.for_each.is_some() != addr.key.is_some() => Err(refused(
                format!(
                    "cannot import to {addr}: `{}` {}",
                    addr.config(),
                    if addr.key.is_some() {
                        "has no for_each"
                    } else {
                        "has for_each: name the instance, e.g. 'TYPE.NAME[\"key\"]'"
                    }
                ),
                None,
            )),
            Some(_) => Ok(()),
        }
    }

    /// `cairn import`: reads the object `id` through the provider of `addr` and records it
    /// in the locked `store`.
    pub async fn import(
        &self,
        store: &mut StateStore,
        addr: &ResourceAddr,
        id: &str,
    ) -> Result<(), SessionError> {
        self.check_import(addr)?;
        if store.state().resources.contains_key(addr) {
            return Err(refused(
                format!("{addr} is in the state already"),
                Some("`cairn state rm` it first to adopt another object"),
            ));
        }
        let input = self.plan_input(store.state(), store.hasher());
        let Some(attrs) = plan::import_object(&input, addr, id).await? else {
            return Err(refused(
                format!(
                    "cannot import {addr}: the configuration of provider `{}` is not known yet",
                    addr.provider()
                ),
                Some("apply what the provider's configuration references first"),
            ));
        };
        let resource = ResourceState {
            addr: addr.clone(),
            provider: addr.provider().to_owned(),
            attrs: store.hasher().redact_attrs(&attrs),
            dependencies: plan::imported_dependencies(&self.graph, store.state(), addr),
            fingerprints: Default::default(),
        };
        store.record_resource(resource)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
