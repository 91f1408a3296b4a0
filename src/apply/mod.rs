//! The apply walker: executes a [`Plan`] against the real world, concurrently, recording
//! every completed operation in state as it happens.
//!
//! The plan's changes become an action DAG: creates and updates run after the creates and
//! updates of the resources they reference, deletes run before the deletes of what they
//! depend on, and a replacement is split into its delete and its create so each half is
//! ordered with its kind (see `action_graph`).
//! A ready queue starts every node whose dependencies are done, at most `parallelism` at
//! a time. Each node sends what the plan knew (its attributes, its provider's
//! configuration, its timeouts: `plan::exec`) and evaluates from the stack only what was
//! unknown when planning, with the real values of its finished dependencies; it
//! configures its provider on first use (so a provider whose configuration references a
//! resource of this run is configured mid-apply, once that resource exists), calls it
//! under the plan's timeout, and records the result.
//!
//! A failure stops only its own branch: what depends on the failed resource is skipped,
//! everything else still runs and is recorded (issue 11: one refused create used to stop
//! the whole apply). A first cancellation (Ctrl-C) starts nothing new and lets operations
//! in flight finish and be recorded; a second one stops waiting for what is in
//! flight (its create intents are already journaled, so the next run adopts the objects).
//! Printing is left to `render/` through [`ApplyObserver`]; building the plan to `plan/`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cairn_provider_core::{
    Attrs, CreateRequest, DeleteRequest, Progress, ProgressSink, ProviderError, ReadRequest,
    ResourceClient, ResourceSchema, UpdateRequest, Value,
};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;

use crate::addr::ResourceAddr;
use crate::expr::for_each_keys;
use crate::plan::diff_update;
use crate::plan::exec::Desired;
use crate::plan::scope::{LocalValues, ResourceValues, ValuesScope};
use crate::plan::{Action, Plan, Summary};
use crate::plan::{
    effective_desired, fingerprint, instance_identity, mark_sensitive, provider_config,
};
use crate::providers::{Clients, Registry};
use crate::stack::Stack;
use crate::state::{Intent, ResourceState, SensitiveHasher, Staged, StateError, StateStore};

/// Receives what the walker does, for progress display. Implementations must be quick:
/// they are called from the walker's task.
pub trait ApplyObserver: Send + Sync {
    /// An operation on `addr` started; `verb` is `creating`, `modifying`, `destroying`…
    fn started(&self, addr: &ResourceAddr, verb: &'static str);
    /// A provider reported progress (`message` never holds a secret).
    fn progress(&self, addr: &ResourceAddr, message: &str);
    /// A provider warned of something (`message` never holds a secret); the outcome
    /// carries it too, for the report at the end.
    fn warning(&self, addr: &ResourceAddr, message: &str);
    /// The operation finished successfully.
    fn finished(&self, addr: &ResourceAddr, action: Action, elapsed: Duration, id: Option<String>);
    /// The operation failed (the failure is reported again in the outcome).
    fn failed(&self, addr: &ResourceAddr, elapsed: Duration);
    /// Called every few seconds while operations are in flight, so long waits without
    /// provider messages still show signs of life.
    fn heartbeat(&self) {}
}

/// How often [`ApplyObserver::heartbeat`] is called.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// How to apply.
#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions {
    /// Operations in flight at once (`--parallelism`).
    pub parallelism: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallelism: 10 }
    }
}

/// What the apply works from: the plan, the providers, and the configuration the plan was
/// made from.
#[derive(Clone, Copy)]
pub struct ApplyInput<'a> {
    /// The stack the plan was made from: read only for what was not known at plan time
    /// (attributes, `for_each` values, provider configurations, outputs).
    pub stack: &'a Stack,
    /// The providers and their schemas.
    pub registry: &'a Registry,
    /// Providers configured so far in this run (by the plan's refresh).
    pub clients: &'a Clients,
    /// The plan to walk.
    pub plan: &'a Plan,
}

/// One failed operation: the root cause of an unfinished apply.
#[derive(Debug, Clone)]
pub struct ResourceFailure {
    /// The resource.
    pub addr: ResourceAddr,
    /// The call that failed: `create`, `update`, `delete`, `configure provider`,
    /// `evaluate`, `record state`.
    pub operation: String,
    /// What the provider (or the engine) said; never a secret.
    pub message: String,
}

/// A change that was not started.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The resource.
    pub addr: ResourceAddr,
    /// A failed resource this one depends on (directly or not), if any.
    pub blocked_by: Option<ResourceAddr>,
}

/// Something a provider warned of while it worked on a resource.
#[derive(Debug, Clone)]
pub struct Warning {
    /// The resource.
    pub addr: ResourceAddr,
    /// What the provider said; never a secret.
    pub message: String,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// What was done, counted as the plan counts.
    pub completed: Summary,
    /// Each root cause of an unfinished apply, once.
    pub failures: Vec<ResourceFailure>,
    /// Changes not started, and why.
    pub skipped: Vec<Skipped>,
    /// Stopped by a cancellation.
    pub interrupted: bool,
    /// Final outputs (real values; render prints sensitive ones as `(sensitive)`), set
    /// only when the apply finished.
    pub outputs: BTreeMap<String, (Value, bool)>,
    /// What providers warned of, in the order they did, whether or not the apply
    /// finished.
    pub warnings: Vec<Warning>,
}

impl ApplyOutcome {
    /// Nothing failed, nothing was skipped and nothing interrupted the walk.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty() && !self.interrupted && self.skipped.is_empty()
    }
}

/// Which half of a change a node performs. A replacement is two nodes, so its delete can
/// be ordered with the other deletes (dependents first) and its create with the other
/// creates (dependencies first), as Terraform does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Create (also the create half of a replacement) or update.
    Main,
    /// Delete (also the delete half of a replacement).
    Delete,
}

/// One node of the action DAG.
struct Node {
    /// Index into `plan.changes`.
    change: usize,
    phase: Phase,
    dependencies: Vec<usize>,
    dependents: Vec<usize>,
}

impl Node {
    /// The action this node performs on its own, for progress and counts.
    fn action(&self, plan: &Plan) -> Action {
        match (self.phase, plan.changes[self.change].action) {
            (Phase::Delete, _) => Action::Delete,
            (Phase::Main, Action::Update) => Action::Update,
            (Phase::Main, _) => Action::Create,
        }
    }
}

/// Builds the action DAG from a plan's changes (no-ops are not nodes). Edges:
/// - a create or update runs after the creates and updates of what it depends on;
/// - a delete runs after the deletes of what depends on it (except the late delete of a
///   `create_before_destroy` object, which waits for nothing but its own create and the
///   resources that referenced it);
/// - a delete-then-create replacement creates after its delete; a create-then-delete one
///   deletes the old object after its create and after its dependents were updated.
///
/// No cycle can arise: the late deletes have no outgoing edges, and otherwise edges only
/// go main to main, delete to delete (each following the acyclic resource graph) and
/// delete to main.
fn action_graph(plan: &Plan) -> Vec<Node> {
    let mut main_of: HashMap<&ResourceAddr, usize> = HashMap::new();
    let mut delete_of: HashMap<&ResourceAddr, usize> = HashMap::new();
    let mut nodes = Vec::new();
    let add = |nodes: &mut Vec<Node>, change: usize, phase: Phase| {
        nodes.push(Node {
            change,
            phase,
            dependencies: Vec::new(),
            dependents: Vec::new(),
        });
        nodes.len() - 1
    };
    for (i, change) in plan.changes.iter().enumerate() {
        let action = change.action;
        if action.deletes() {
            let n = add(&mut nodes, i, Phase::Delete);
            delete_of.insert(&change.addr, n);
        }
        if matches!(action, Action::Create | Action::Update) || action.is_replace() {
            let n = add(&mut nodes, i, Phase::Main);
            main_of.insert(&change.addr, n);
        }
    }
    let mut edges = Vec::new();
    for change in &plan.changes {
        let addr = &change.addr;
        if let Some(&main) = main_of.get(addr) {
            edges.extend(
                change
                    .dependencies
                    .iter()
                    .filter_map(|dep| main_of.get(dep))
                    .map(|&d| (d, main)),
            );
        }
        if let Some(&delete) = delete_of.get(addr)
            && change.action != Action::CreateThenDelete
        {
            edges.extend(
                change
                    .dependencies
                    .iter()
                    .filter_map(|dep| delete_of.get(dep))
                    .map(|&d| (delete, d)),
            );
        }
        match (change.action, main_of.get(addr), delete_of.get(addr)) {
            (Action::DeleteThenCreate, Some(&main), Some(&delete)) => edges.push((delete, main)),
            (Action::CreateThenDelete, Some(&main), Some(&delete)) => {
                edges.push((main, delete));
                for other in &plan.changes {
                    if other.dependencies.contains(addr)
                        && let Some(&user) = main_of.get(&other.addr)
                    {
                        edges.push((user, delete));
                    }
                }
            }
            _ => {}
        }
    }
    for (before, after) in edges {
        nodes[after].dependencies.push(before);
        nodes[before].dependents.push(after);
    }
    // A delete-then-create waits, where the order allows, for the creates and updates its
    // create needs: a failure among them then stops the replacement before its delete
    // instead of leaving the object deleted.
    for change in &plan.changes {
        let (Action::DeleteThenCreate, Some(&delete)) =
            (change.action, delete_of.get(&change.addr))
        else {
            continue;
        };
        for dep in &change.dependencies {
            if let Some(&needed) = main_of.get(dep)
                && !reaches(&nodes, delete, needed)
            {
                nodes[delete].dependencies.push(needed);
                nodes[needed].dependents.push(delete);
            }
        }
    }
    nodes
}

/// Whether `to` is reachable from `from` along dependent edges.
fn reaches(nodes: &[Node], from: usize, to: usize) -> bool {
    let mut seen = vec![false; nodes.len()];
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if !std::mem::replace(&mut seen[n], true) {
            stack.extend(&nodes[n].dependents);
        }
    }
    false
}

/// Marks `node` and every unfinished node it waits for as committed: a replacement whose
/// delete has run must get its create, even while the walk is stopping.
fn commit(nodes: &[Node], node: usize, committed: &mut [bool]) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if !std::mem::replace(&mut committed[n], true) {
            stack.extend(&nodes[n].dependencies);
        }
    }
}

/// Forwards a provider's progress messages to the observer, and keeps its warnings for
/// the outcome.
struct NodeProgress {
    addr: ResourceAddr,
    observer: Arc<dyn ApplyObserver>,
    last: Mutex<String>,
    warnings: Arc<Mutex<Vec<Warning>>>,
}

impl ProgressSink for NodeProgress {
    fn report(&self, message: &str) {
        message.clone_into(&mut self.last.lock().unwrap_or_else(PoisonError::into_inner));
        self.observer.progress(&self.addr, message);
    }

    fn warn(&self, message: &str) {
        self.observer.warning(&self.addr, message);
        self.warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Warning {
                addr: self.addr.clone(),
                message: message.to_owned(),
            });
    }
}

/// A resource's configuration evaluated with live values (or what a create sends).
#[derive(Default)]
struct Evaluated {
    config: Attrs,
    /// See `plan::fingerprint`: recorded so a plan without plaintext can tell these
    /// attributes are unchanged.
    fingerprints: BTreeMap<String, String>,
}

/// Shared by all nodes of one walk.
struct Walk<'a> {
    input: ApplyInput<'a>,
    store: Mutex<&'a mut StateStore>,
    hasher: SensitiveHasher,
    live: Mutex<ResourceValues>,
    observer: Arc<dyn ApplyObserver>,
    warnings: Arc<Mutex<Vec<Warning>>>,
}

/// Why a node failed, before it is attached to an address.
struct NodeError {
    operation: String,
    message: String,
}

impl NodeError {
    fn provider(operation: &str, error: ProviderError) -> Self {
        NodeError {
            operation: operation.to_owned(),
            message: error.to_string(),
        }
    }
    fn engine(operation: &str, message: impl Into<String>) -> Self {
        NodeError {
            operation: operation.to_owned(),
            message: message.into(),
        }
    }
}

/// Runs a provider call under its time limit.
async fn with_timeout<T>(
    limit: Duration,
    what: String,
    progress: &NodeProgress,
    call: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => {
            let last_seen = progress
                .last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            Err(ProviderError::Timeout {
                what,
                elapsed: limit,
                last_seen: if last_seen.is_empty() {
                    "no progress reported".to_owned()
                } else {
                    last_seen
                },
            })
        }
    }
}

/// Marks result attributes sensitive where the desired value was, leaf by leaf: a
/// provider may echo a secret input back as a plain value, and the rest of the attribute
/// (a manifest's name and namespace) must stay readable in state.
fn carry_sensitivity(desired: &Attrs, mut result: Attrs) -> Attrs {
    for (name, value) in result.0.iter_mut() {
        if let Some(shape) = desired.0.get(name) {
            *value = std::mem::take(value).with_sensitivity_of(shape);
        }
    }
    result
}

impl Walk<'_> {
    /// The identity providers tag `addr`'s object with.
    fn identity(&self, addr: &ResourceAddr) -> cairn_provider_core::ResourceIdentity {
        instance_identity(&self.input.plan.stack, &self.input.plan.env, addr)
    }

    /// Waits until a staged record is durable. It yields first, so the other operations
    /// completing now stage theirs and one journal write (one fsync, one PUT) commits them
    /// all; it returns only once this record is durable, so what depends on the operation
    /// still starts after that.
    async fn durable(
        &self,
        stage: impl FnOnce(&mut StateStore) -> Result<Staged, StateError>,
    ) -> Result<(), NodeError> {
        let failed = |e: StateError| NodeError::engine("record state", e.to_string());
        let staged = stage(&mut self.store.lock().unwrap_or_else(PoisonError::into_inner))
            .map_err(failed)?;
        tokio::task::yield_now().await;
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .commit(staged)
            .map_err(failed)
    }

    async fn record(&self, resource: ResourceState) -> Result<(), NodeError> {
        self.durable(|store| store.stage_resource(resource)).await
    }

    async fn forget(&self, addr: &ResourceAddr) -> Result<(), NodeError> {
        self.durable(|store| Ok(store.stage_removal(addr))).await
    }

    /// The configured client of `provider`, configuring it now from live values.
    async fn client(&self, provider: &str) -> Result<Arc<dyn ResourceClient>, NodeError> {
        if let Some(client) = self.input.clients.get(provider) {
            return Ok(client);
        }
        let config = match self.input.plan.provider_configs.get(provider) {
            Some(planned) => Ok(Some(planned.clone())),
            None => {
                tracing::debug!(provider, "configuring provider from values known now");
                let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
                provider_config(self.input.stack, self.input.registry, provider, &live)
            }
        };
        let operation = format!("configure provider {provider}");
        let config = match config {
            Ok(Some(config)) => config,
            Ok(None) => {
                return Err(NodeError::engine(
                    &operation,
                    "its configuration still has values that are not known (or only known as a secret's hash)",
                ));
            }
            Err(diagnostics) => return Err(NodeError::engine(&operation, diagnostics.to_string())),
        };
        self.input
            .clients
            .configure(self.input.registry, provider, config)
            .await
            .map_err(|e| NodeError::provider(&operation, e))
    }

    /// Re-reads dependencies whose live values hold only a secret's hash, so a value that
    /// references them can be sent to a provider.
    async fn reread_hashed(&self, dependencies: &[ResourceAddr]) -> Result<(), NodeError> {
        for dep in dependencies {
            let recorded = {
                let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
                match live.get(dep) {
                    Some(attrs) if attrs.0.values().any(Value::contains_hash) => attrs.clone(),
                    _ => continue,
                }
            };
            let client = self.client(dep.provider()).await?;
            let identity = self.identity(dep);
            let request = ReadRequest {
                type_name: &dep.type_name,
                identity: &identity,
                state: &recorded,
            };
            let read = client
                .read(request)
                .await
                .map_err(|e| NodeError::provider(&format!("read {dep}"), e))?;
            if let Some(mut attrs) = read {
                for (name, value) in &recorded.0 {
                    attrs.0.entry(name.clone()).or_insert_with(|| value.clone());
                }
                let attrs =
                    mark_sensitive(self.input.registry.resource_schema(&dep.type_name), attrs);
                self.live
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(dep.clone(), attrs);
            }
        }
        Ok(())
    }

    /// Evaluates the resource's configured attributes with live values, and the
    /// fingerprints of those that hold secrets.
    fn evaluate(
        &self,
        addr: &ResourceAddr,
        schema: &ResourceSchema,
        planned_each: Option<&(String, Value)>,
    ) -> Result<Evaluated, NodeError> {
        let Some(resource) = self.input.stack.resources.get(&addr.config()) else {
            return Ok(Evaluated::default());
        };
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let locals = LocalValues::default();
        let base = ValuesScope {
            stack: self.input.stack,
            registry: self.input.registry,
            values: &live,
            locals: &locals,
            expansions: &self.input.plan.expansions,
            each: None,
        };
        // `each.value` as planned, unless it held values known only now (or, from a saved
        // plan, secrets kept as hashes).
        let each = match (planned_each.cloned(), &resource.for_each) {
            (Some((key, value)), Some(for_each))
                if value.contains_unknown() || value.contains_hash() =>
            {
                let keys = for_each
                    .eval(&base)
                    .map_err(|e| e.message)
                    .and_then(|v| for_each_keys(&v))
                    .map_err(|message| NodeError::engine("evaluate", message))?;
                let value = keys.and_then(|mut keys| keys.remove(&key)).unwrap_or(value);
                Some((key, value))
            }
            (each, _) => each,
        };
        let scope = base.with_each(each.as_ref().map(|(k, v)| (k.as_str(), v)));
        let mut config = Attrs::new();
        let mut fingerprints = BTreeMap::new();
        for (name, expr) in &resource.attrs {
            let value = expr
                .eval(&scope)
                .map_err(|e| NodeError::engine("evaluate", e.message))?;
            if value.contains_sensitive()
                && let Some(print) = fingerprint(expr, &scope, &self.hasher)
            {
                fingerprints.insert(name.clone(), print);
            }
            config.insert(name.clone(), value);
        }
        Ok(Evaluated {
            config: mark_sensitive(Some(schema), config),
            fingerprints,
        })
    }

    /// Evaluates, re-reading dependencies known only as hashes when needed (a value
    /// derived from such a secret evaluates as unknown); the result is fully known.
    async fn desired_config(
        &self,
        addr: &ResourceAddr,
        schema: &ResourceSchema,
        dependencies: &[ResourceAddr],
        each: Option<&(String, Value)>,
    ) -> Result<Evaluated, NodeError> {
        let mut evaluated = self.evaluate(addr, schema, each)?;
        let config = &evaluated.config;
        if config
            .0
            .values()
            .any(|v| v.contains_hash() || v.contains_unknown())
        {
            self.reread_hashed(dependencies).await?;
            evaluated = self.evaluate(addr, schema, each)?;
        }
        let config = &evaluated.config;
        if let Some((name, _)) = config.0.iter().find(|(_, v)| v.contains_unknown()) {
            return Err(NodeError::engine(
                "evaluate",
                format!(
                    "attribute `{name}` is still not known after its dependencies were applied"
                ),
            ));
        }
        if let Some((name, _)) = config.0.iter().find(|(_, v)| v.contains_hash()) {
            return Err(NodeError::engine(
                "evaluate",
                format!(
                    "attribute `{name}` references a secret that state keeps only as a hash, and its provider could not read it back"
                ),
            ));
        }
        Ok(evaluated)
    }

    async fn create(
        &self,
        addr: &ResourceAddr,
        client: &dyn ResourceClient,
        desired: Evaluated,
        dependencies: &[ResourceAddr],
        limit: Duration,
        progress: &Arc<NodeProgress>,
    ) -> Result<Attrs, NodeError> {
        let Evaluated {
            config: desired,
            fingerprints,
        } = desired;
        let desired = &desired;
        {
            let intent = Intent {
                operation: "create".to_owned(),
                config: self.hasher.redact_attrs(desired),
                started_at: chrono::Utc::now().to_rfc3339(),
            };
            self.durable(|store| store.stage_intent(addr, intent))
                .await?;
        }
        let identity = self.identity(addr);
        let request = CreateRequest {
            type_name: &addr.type_name,
            identity: &identity,
            config: desired,
            timeout: limit,
            progress: Progress::new(Arc::clone(progress) as Arc<dyn ProgressSink>),
        };
        let result = with_timeout(
            limit,
            format!("create of {addr}"),
            progress,
            client.create(request),
        )
        .await
        .map_err(|e| NodeError::provider("create", e))?;
        let schema = self.input.registry.resource_schema(&addr.type_name);
        let result = mark_sensitive(schema, carry_sensitivity(desired, result));
        self.record(ResourceState {
            addr: addr.clone(),
            provider: addr.provider().to_owned(),
            attrs: self.hasher.redact_attrs(&result),
            dependencies: dependencies.to_vec(),
            fingerprints,
        })
        .await?;
        Ok(result)
    }

    async fn delete(
        &self,
        addr: &ResourceAddr,
        client: &dyn ResourceClient,
        prior: &Attrs,
        limit: Duration,
        progress: &Arc<NodeProgress>,
    ) -> Result<(), NodeError> {
        let identity = self.identity(addr);
        let recorded = self.hasher.redact_attrs(prior);
        let request = DeleteRequest {
            type_name: &addr.type_name,
            identity: &identity,
            state: &recorded,
            timeout: limit,
            progress: Progress::new(Arc::clone(progress) as Arc<dyn ProgressSink>),
        };
        with_timeout(
            limit,
            format!("delete of {addr}"),
            progress,
            client.delete(request),
        )
        .await
        .map_err(|e| NodeError::provider("delete", e))
    }

    /// What a create (`prior` is `None`) or an update of a change sends, with the
    /// attributes an update changes: as planned when the plan knew them, else evaluated
    /// now from the stack.
    async fn desired(
        &self,
        change_index: usize,
        schema: &ResourceSchema,
        prior: Option<&Attrs>,
    ) -> Result<(Evaluated, Vec<String>), NodeError> {
        let change = &self.input.plan.changes[change_index];
        if let Desired::Known {
            attrs,
            fingerprints,
            changed,
        } = &change.execution.desired
        {
            let planned = Evaluated {
                config: attrs.clone(),
                fingerprints: fingerprints.clone(),
            };
            return Ok((planned, changed.clone()));
        }
        let addr = &change.addr;
        let evaluated = self
            .desired_config(addr, schema, &change.dependencies, change.each.as_ref())
            .await?;
        let lifecycle = self
            .input
            .stack
            .resources
            .get(&addr.config())
            .map(|r| r.lifecycle.clone())
            .unwrap_or_default();
        let config = effective_desired(schema, &evaluated.config, prior, &lifecycle);
        let changed = match prior {
            Some(prior) => diff_update(schema, prior, &config, &[], &self.hasher)
                .into_iter()
                .map(|d| d.name)
                .collect(),
            None => Vec::new(),
        };
        let evaluated = Evaluated {
            config,
            fingerprints: evaluated.fingerprints,
        };
        Ok((evaluated, changed))
    }

    /// Executes one change; returns the new live values (`None` once deleted).
    async fn run(&self, change_index: usize, phase: Phase) -> Result<Option<Attrs>, NodeError> {
        let change = &self.input.plan.changes[change_index];
        let addr = &change.addr;
        let schema = self
            .input
            .registry
            .resource_schema(&addr.type_name)
            .ok_or_else(|| {
                NodeError::engine(
                    "plan",
                    format!("no provider implements `{}`", addr.type_name),
                )
            })?;
        let timeouts = change.execution.timeouts;
        let progress = Arc::new(NodeProgress {
            addr: addr.clone(),
            observer: Arc::clone(&self.observer),
            last: Mutex::new(String::new()),
            warnings: Arc::clone(&self.warnings),
        });
        let client = self.client(&change.provider).await?;
        let prior = change.before.clone().unwrap_or_default();
        match (phase, change.action) {
            (Phase::Delete, action) => {
                self.delete(addr, client.as_ref(), &prior, timeouts.delete, &progress)
                    .await
                    .map_err(|e| match action {
                        // The new object is in state already: name the old one's fate.
                        Action::CreateThenDelete => NodeError {
                            operation: "delete (old object)".to_owned(),
                            message: e.message,
                        },
                        _ => e,
                    })?;
                if action != Action::CreateThenDelete {
                    self.forget(addr).await?;
                }
                Ok(None)
            }
            (Phase::Main, Action::NoOp | Action::Delete) => Ok(change.after.clone()),
            (Phase::Main, Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete) => {
                let (desired, _) = self.desired(change_index, schema, None).await?;
                let result = self
                    .create(
                        addr,
                        client.as_ref(),
                        desired,
                        &change.dependencies,
                        timeouts.create,
                        &progress,
                    )
                    .await?;
                Ok(Some(result))
            }
            (Phase::Main, Action::Update) => {
                let (evaluated, changed) = self.desired(change_index, schema, Some(&prior)).await?;
                let desired = evaluated.config;
                let identity = self.identity(addr);
                let recorded = self.hasher.redact_attrs(&prior);
                let request = UpdateRequest {
                    type_name: &addr.type_name,
                    identity: &identity,
                    prior: &recorded,
                    desired: &desired,
                    changed: &changed,
                    timeout: timeouts.update,
                    progress: Progress::new(Arc::clone(&progress) as Arc<dyn ProgressSink>),
                };
                let result = with_timeout(
                    timeouts.update,
                    format!("update of {addr}"),
                    &progress,
                    client.update(request),
                )
                .await
                .map_err(|e| NodeError::provider("update", e))?;
                let result = mark_sensitive(Some(schema), carry_sensitivity(&desired, result));
                self.record(ResourceState {
                    addr: addr.clone(),
                    provider: change.provider.clone(),
                    attrs: self.hasher.redact_attrs(&result),
                    dependencies: change.dependencies.clone(),
                    fingerprints: evaluated.fingerprints,
                })
                .await?;
                Ok(Some(result))
            }
        }
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Update => "modifying",
        Action::Delete => "destroying",
        _ => "creating",
    }
}

/// The outputs after a finished walk: their planned values where the plan knew them,
/// else evaluated from the stack with the final values. Real values go into `outcome`;
/// redacted ones are returned for state.
fn final_outputs(walk: &Walk<'_>, outcome: &mut ApplyOutcome) -> BTreeMap<String, Value> {
    let live = walk.live.lock().unwrap_or_else(PoisonError::into_inner);
    let locals = LocalValues::default();
    let scope = ValuesScope {
        stack: walk.input.stack,
        registry: walk.input.registry,
        values: &live,
        locals: &locals,
        expansions: &walk.input.plan.expansions,
        each: None,
    };
    let mut recorded = BTreeMap::new();
    for (name, planned) in &walk.input.plan.outputs {
        let value = if planned.value.contains_unknown() {
            match walk.input.stack.outputs.get(name) {
                Some(output) => output.value.eval(&scope).map_err(|e| e.message),
                None => Err("it is not in the stack the plan was made from".to_owned()),
            }
        } else {
            Ok(planned.value.clone())
        };
        match value {
            // Unknown now means a provider left a value out: not recorded as unknown.
            Ok(value) if value.contains_unknown() => {}
            Ok(value) => {
                let value = if planned.sensitive {
                    value.sensitive()
                } else {
                    value
                };
                recorded.insert(name.clone(), walk.hasher.redact(&value));
                outcome
                    .outputs
                    .insert(name.clone(), (value, planned.sensitive));
            }
            Err(message) => outcome.failures.push(ResourceFailure {
                addr: ResourceAddr::new("output", name.clone()),
                operation: "evaluate".to_owned(),
                message,
            }),
        }
    }
    recorded
}

/// Walks the plan. `cancel` counts interrupt requests (Ctrl-C): at 1 nothing new starts,
/// at 2 the walk stops waiting for operations in flight. State is recorded as operations
/// complete; the caller closes the store.
pub async fn apply(
    input: ApplyInput<'_>,
    store: &mut StateStore,
    options: ApplyOptions,
    observer: Arc<dyn ApplyObserver>,
    mut cancel: Option<watch::Receiver<u32>>,
) -> ApplyOutcome {
    let plan = input.plan;
    let mut outcome = ApplyOutcome::default();
    // Moves first: the plan's changes use the new addresses.
    for moved in &plan.moves {
        if let Err(e) = store.move_resource(&moved.from, &moved.to) {
            outcome.failures.push(ResourceFailure {
                addr: moved.to.clone(),
                operation: "record state".to_owned(),
                message: e.to_string(),
            });
            return outcome;
        }
    }
    // Then imports: the adopted object is recorded as it is, and changed below like any
    // recorded one.
    for change in plan.changes.iter().filter(|c| c.import_id.is_some()) {
        let Some(before) = &change.before else {
            continue;
        };
        let resource = ResourceState {
            addr: change.addr.clone(),
            provider: change.provider.clone(),
            attrs: store.hasher().redact_attrs(before),
            dependencies: change.dependencies.clone(),
            fingerprints: BTreeMap::new(),
        };
        if let Err(e) = store.record_resource(resource) {
            outcome.failures.push(ResourceFailure {
                addr: change.addr.clone(),
                operation: "record state".to_owned(),
                message: e.to_string(),
            });
            return outcome;
        }
        outcome.completed.imported += 1;
    }
    let nodes = action_graph(plan);
    let hasher = store.hasher().clone();
    let mut live: ResourceValues = store
        .state()
        .resources
        .iter()
        .map(|(addr, r)| (addr.clone(), r.attrs.clone()))
        .collect();
    live.extend(
        plan.data
            .iter()
            .map(|(addr, attrs)| (addr.clone(), attrs.clone())),
    );
    for change in &plan.changes {
        let values = if change.action == Action::NoOp {
            change.after.as_ref()
        } else {
            change.before.as_ref()
        };
        if let Some(values) = values {
            live.insert(change.addr.clone(), values.clone());
        }
    }
    let walk = Walk {
        input,
        store: Mutex::new(store),
        hasher,
        live: Mutex::new(live),
        observer: Arc::clone(&observer),
        warnings: Arc::default(),
    };

    let mut waiting: Vec<usize> = nodes.iter().map(|n| n.dependencies.len()).collect();
    let mut started = vec![false; nodes.len()];
    let mut failed_root: Vec<Option<ResourceAddr>> = vec![None; nodes.len()];
    let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|&n| waiting[n] == 0).collect();
    let mut committed = vec![false; nodes.len()];
    let mut running = FuturesUnordered::new();
    let mut stopping = false;
    let parallelism = options.parallelism.max(1);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        while running.len() < parallelism {
            let Some(n) = ready
                .iter()
                .position(|&n| !stopping || committed[n])
                .and_then(|at| ready.remove(at))
            else {
                break;
            };
            started[n] = true;
            let change = &plan.changes[nodes[n].change];
            let action = nodes[n].action(plan);
            tracing::debug!(address = %change.addr, ?action, in_flight = running.len() + 1, "starting");
            observer.started(&change.addr, verb(action));
            let walk = &walk;
            let change_index = nodes[n].change;
            let phase = nodes[n].phase;
            running.push(async move {
                let begun = Instant::now();
                // A provider bug must not unwind through the walker while it holds the
                // state: it fails this resource like any other error.
                let result = std::panic::AssertUnwindSafe(walk.run(change_index, phase))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        Err(NodeError::engine(
                            "provider call",
                            "the provider panicked (a bug in cairn)",
                        ))
                    });
                (n, begun.elapsed(), result)
            });
        }
        if running.is_empty() {
            break;
        }
        let next = match cancel.as_mut() {
            Some(signal) => tokio::select! {
                next = running.next() => next,
                _ = heartbeat.tick() => {
                    observer.heartbeat();
                    continue;
                }
                changed = signal.changed() => {
                    match changed {
                        Ok(()) => {
                            let presses = *signal.borrow();
                            outcome.interrupted = true;
                            stopping = true;
                            if presses >= 2 {
                                break;
                            }
                        }
                        Err(_) => cancel = None,
                    }
                    continue;
                }
            },
            None => tokio::select! {
                next = running.next() => next,
                _ = heartbeat.tick() => {
                    observer.heartbeat();
                    continue;
                }
            },
        };
        let Some((n, elapsed, result)) = next else {
            break;
        };
        let change = &plan.changes[nodes[n].change];
        let action = nodes[n].action(plan);
        match result {
            Ok(values) => {
                tracing::debug!(address = %change.addr, elapsed_ms = elapsed.as_millis() as u64, "finished");
                let id = values
                    .as_ref()
                    .and_then(|v| v.get("id"))
                    .and_then(|v| v.as_str().map(str::to_owned));
                observer.finished(&change.addr, action, elapsed, id);
                let mut live = walk.live.lock().unwrap_or_else(PoisonError::into_inner);
                match values {
                    Some(values) => {
                        live.insert(change.addr.clone(), values);
                    }
                    // Only a plain delete ends the resource; a replacement's delete
                    // leaves the values its create brings (or brought).
                    None if change.action == Action::Delete => {
                        live.remove(&change.addr);
                    }
                    None => {}
                }
                drop(live);
                if action == Action::Delete && change.action == Action::DeleteThenCreate {
                    for &d in &nodes[n].dependents {
                        if nodes[d].change == nodes[n].change {
                            commit(&nodes, d, &mut committed);
                        }
                    }
                }
                match action {
                    Action::Update => outcome.completed.change += 1,
                    Action::Delete => outcome.completed.destroy += 1,
                    _ => outcome.completed.add += 1,
                }
                for &d in &nodes[n].dependents {
                    waiting[d] -= 1;
                    if waiting[d] == 0 {
                        ready.push_back(d);
                    }
                }
            }
            Err(error) => {
                tracing::debug!(address = %change.addr, operation = %error.operation, "failed; skipping what depends on it");
                observer.failed(&change.addr, elapsed);
                outcome.failures.push(ResourceFailure {
                    addr: change.addr.clone(),
                    operation: error.operation,
                    message: error.message,
                });
                // Dependents never become ready (this node never finishes); mark them so
                // the report says which failure they wait on.
                let mut queue = vec![n];
                while let Some(m) = queue.pop() {
                    for &d in &nodes[m].dependents {
                        if failed_root[d].is_none() {
                            failed_root[d] = Some(change.addr.clone());
                            queue.push(d);
                        }
                    }
                }
            }
        }
    }
    drop(running);
    outcome.warnings =
        std::mem::take(&mut *walk.warnings.lock().unwrap_or_else(PoisonError::into_inner));
    for (n, node) in nodes.iter().enumerate() {
        let addr = &plan.changes[node.change].addr;
        // Both halves of a replacement may be unstarted: list the resource once.
        if !started[n] && !outcome.skipped.iter().any(|s| &s.addr == addr) {
            outcome.skipped.push(Skipped {
                addr: plan.changes[node.change].addr.clone(),
                blocked_by: failed_root[n].clone(),
            });
        }
    }
    // Outputs are recorded only after a complete, untargeted walk: a targeted apply may
    // have left out what they use, and a destroy clears them.
    if outcome.is_success() && !plan.targeted {
        let recorded = if plan.destroy {
            BTreeMap::new()
        } else {
            final_outputs(&walk, &mut outcome)
        };
        let mut store = walk.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = store.set_outputs(recorded) {
            outcome.failures.push(ResourceFailure {
                addr: ResourceAddr::new("output", "all"),
                operation: "record state".to_owned(),
                message: e.to_string(),
            });
        }
    }
    outcome
}
