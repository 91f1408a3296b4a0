//! Building a [`Plan`]: configure the providers whose configuration is known, refresh
//! recorded resources through them, evaluate every resource in dependency order against
//! the planned values of what it references, diff, and choose each action. Rendering and
//! walking the plan belong to `render/` and `apply/`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use cairn_provider_core::{
    Attrs, FindRequest, ImportRequest, Mode, PlanRequest, ReadDataRequest, ReadRequest,
    ResourceClient, ResourceIdentity, ResourceSchema, Value,
};
use futures::StreamExt;

use super::diff::{diff_all, diff_computed, diff_update};
use super::scope::{Expansions, LocalValues, ResourceValues, ValuesScope};
use super::{
    Action, AttrDiff, ChangeReason, Move, Plan, PlanError, PlannedOutput, ResourceChange, exec,
    fingerprint, values_equal,
};
use crate::addr::ResourceAddr;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::expr::{Expr, ExprKind, Interp, Reference, Scope, for_each_keys};
use crate::graph::ResourceGraph;
use crate::providers::{Clients, Registry};
use crate::stack::{Lifecycle, Stack};
use crate::state::{ResourceState, SensitiveHasher, StateFile, StateStore};

/// How to plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Read every recorded resource through its provider first (`--refresh=false` skips).
    pub refresh: bool,
    /// `--target`: only these resources and what they depend on (for destroy: what
    /// depends on them). Empty means everything.
    pub targets: Vec<ResourceAddr>,
    /// Plan the deletion of every recorded resource.
    pub destroy: bool,
    /// Concurrent provider reads.
    pub parallelism: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            refresh: true,
            targets: Vec::new(),
            destroy: false,
            parallelism: 10,
        }
    }
}

/// What a plan is made from.
#[derive(Clone, Copy)]
pub struct PlanInput<'a> {
    /// The loaded stack.
    pub stack: &'a Stack,
    /// Its resource graph.
    pub graph: &'a ResourceGraph,
    /// The providers and their schemas.
    pub registry: &'a Registry,
    /// Providers configured so far in this run; refresh adds to it and apply reuses it.
    pub clients: &'a Clients,
    /// The recorded state.
    pub state: &'a StateFile,
    /// The state's hasher, to compare desired secrets with recorded hashes.
    pub hasher: &'a SensitiveHasher,
}

/// The identity providers tag objects with. An instance is `TYPE.NAME.KEY` there, not
/// `TYPE.NAME["KEY"]`: tag values and the names providers derive from the address
/// (security groups, IAM roles) do not allow quotes or brackets, and a resource name
/// never holds a `.`, so the form stays unambiguous.
pub(crate) fn identity(stack: &Stack, addr: &ResourceAddr) -> ResourceIdentity {
    instance_identity(&stack.name, &stack.env, addr)
}

/// [`identity`] from the stack's and the environment's names.
pub(crate) fn instance_identity(stack: &str, env: &str, addr: &ResourceAddr) -> ResourceIdentity {
    let address = match &addr.key {
        Some(key) => format!("{}.{}.{key}", addr.type_name, addr.name),
        None => addr.to_string(),
    };
    ResourceIdentity {
        stack: stack.to_owned(),
        env: env.to_owned(),
        address,
    }
}

/// Evaluates a provider's `[providers.NAME]` block against `values`. `Ok(None)` when some
/// value is not known yet (or only a hash is known), so the provider cannot be configured.
pub(crate) fn provider_config(
    stack: &Stack,
    registry: &Registry,
    name: &str,
    values: &ResourceValues,
) -> Result<Option<Attrs>, Diagnostics> {
    let Some(block) = stack.providers.get(name) else {
        return Ok(Some(Attrs::new()));
    };
    let locals = LocalValues::default();
    let expansions = recorded_expansions(stack, values);
    let scope = ValuesScope {
        stack,
        registry,
        values,
        locals: &locals,
        expansions: &expansions,
        each: None,
    };
    let mut config = Attrs::new();
    let mut diagnostics = Diagnostics::new();
    for (key, expr) in &block.config {
        match expr.eval(&scope) {
            Ok(value) if value.contains_unknown() || value.contains_hash() => return Ok(None),
            Ok(value) => config.insert(key.clone(), value),
            Err(e) => diagnostics.push(Diagnostic::at(
                &stack.sources,
                &e.span,
                format!("provider `{name}`: {}", e.message),
                "in this value",
            )),
        }
    }
    diagnostics.into_result(Some(config))
}

/// Configures `name` from recorded values if its configuration is known. `Ok(None)`: not
/// known yet.
async fn configure_from_state(
    input: &PlanInput<'_>,
    name: &str,
    recorded: &ResourceValues,
) -> Result<Option<Arc<dyn ResourceClient>>, PlanError> {
    if let Some(client) = input.clients.get(name) {
        return Ok(Some(client));
    }
    let Some(config) = provider_config(input.stack, input.registry, name, recorded)? else {
        return Ok(None);
    };
    input
        .clients
        .configure(input.registry, name, config)
        .await
        .map(Some)
        .map_err(|error| PlanError::Provider {
            subject: format!("provider.{name}"),
            operation: "configure",
            error,
        })
}

/// The instance keys of `for_each` resources among `values` (recorded or live values,
/// where a plan's expansions are not at hand).
fn recorded_expansions(stack: &Stack, values: &ResourceValues) -> Expansions {
    let mut keys: HashMap<ResourceAddr, Vec<String>> = HashMap::new();
    for addr in values.keys() {
        if let Some(key) = &addr.key
            && stack
                .resources
                .get(&addr.config())
                .is_some_and(|r| r.for_each.is_some())
        {
            keys.entry(addr.config()).or_default().push(key.clone());
        }
    }
    keys.into_iter()
        .map(|(addr, mut keys)| {
            keys.sort();
            (addr, Some(Arc::new(keys)))
        })
        .collect()
}

fn recorded_values(state: &StateFile) -> ResourceValues {
    state
        .resources
        .iter()
        .map(|(addr, r)| (addr.clone(), r.attrs.clone()))
        .collect()
}

/// What [`adopt_interrupted`] did with the pending intents.
#[derive(Debug, Default)]
pub struct Adoption {
    /// Objects found and recorded.
    pub adopted: Vec<ResourceAddr>,
    /// Intents that could not be looked up (their provider cannot be configured or
    /// reached), with why: they stay pending and block nothing else.
    pub unresolved: Vec<(ResourceAddr, String)>,
}

/// Looks for the objects of creates an earlier apply started but never recorded, and
/// records those it finds; the rest are forgotten, so the plan creates them again.
/// Intents whose provider cannot be configured yet stay, silently; those whose provider
/// fails are reported in [`Adoption::unresolved`] and stay too (`cairn state rm` drops one).
pub async fn adopt_interrupted(
    store: &mut StateStore,
    stack: &Stack,
    graph: &ResourceGraph,
    registry: &Registry,
    clients: &Clients,
) -> Result<Adoption, PlanError> {
    let pending: Vec<_> = store
        .state()
        .pending
        .iter()
        .map(|(a, i)| (a.clone(), i.clone()))
        .collect();
    let mut adoption = Adoption::default();
    for (addr, intent) in pending {
        let recorded = recorded_values(store.state());
        let found = {
            let input = PlanInput {
                stack,
                graph,
                registry,
                clients,
                state: store.state(),
                hasher: store.hasher(),
            };
            let client = match configure_from_state(&input, addr.provider(), &recorded).await {
                Ok(Some(client)) => client,
                Ok(None) => continue,
                Err(PlanError::Provider { error, .. }) => {
                    adoption.unresolved.push((addr, error.to_string()));
                    continue;
                }
                Err(other) => return Err(other),
            };
            let identity = identity(stack, &addr);
            let request = FindRequest {
                type_name: &addr.type_name,
                identity: &identity,
                config: &intent.config,
            };
            match client.find(request).await {
                Ok(found) => found,
                Err(error) => {
                    adoption.unresolved.push((addr, error.to_string()));
                    continue;
                }
            }
        };
        match found {
            Some(attrs) => {
                let attrs = mark_sensitive(registry.resource_schema(&addr.type_name), attrs);
                let dependencies = if stack.resources.contains_key(&addr.config()) {
                    recorded_dependencies(graph, store.state(), &addr)
                } else {
                    Vec::new()
                };
                let resource = ResourceState {
                    provider: addr.provider().to_owned(),
                    attrs: store.hasher().redact_attrs(&attrs),
                    dependencies,
                    fingerprints: Default::default(),
                    addr: addr.clone(),
                };
                store.record_resource(resource)?;
                adoption.adopted.push(addr);
            }
            None => store.clear_intent(&addr)?,
        }
    }
    Ok(adoption)
}

/// Why a data source was not read.
enum DataError {
    /// Its arguments or its provider's configuration are not known yet: a diagnostic.
    Unreadable(String),
    /// The provider failed.
    Plan(PlanError),
}

/// Reads a data source (`addr` is `data.TYPE.NAME`) with its evaluated arguments.
async fn read_data_source(
    input: &PlanInput<'_>,
    addr: &ResourceAddr,
    config: &Attrs,
) -> Result<Attrs, DataError> {
    if let Some((name, _)) = config.0.iter().find(|(_, v)| v.contains_unknown()) {
        return Err(DataError::Unreadable(format!(
            "`{name}` of {addr} is not known until apply; data sources are read when planning, so their arguments must be known then"
        )));
    }
    let recorded = recorded_values(input.state);
    let client = configure_from_state(input, addr.provider(), &recorded)
        .await
        .map_err(DataError::Plan)?
        .ok_or_else(|| {
            DataError::Unreadable(format!(
                "cannot read {addr}: the configuration of provider `{}` is known only during the apply",
                addr.provider()
            ))
        })?;
    let type_name = addr
        .type_name
        .strip_prefix(crate::providers::DATA_PREFIX)
        .unwrap_or(&addr.type_name);
    tracing::debug!(address = %addr, "reading data source");
    client
        .read_data(ReadDataRequest { type_name, config })
        .await
        .map_err(|error| {
            DataError::Plan(PlanError::Provider {
                subject: addr.to_string(),
                operation: "read",
                error,
            })
        })
}

/// Reads the existing object `id` through the provider of `addr`, to adopt it.
/// `Ok(None)`: the provider's configuration is not known yet.
pub async fn import_object(
    input: &PlanInput<'_>,
    addr: &ResourceAddr,
    id: &str,
) -> Result<Option<Attrs>, PlanError> {
    let recorded = recorded_values(input.state);
    let Some(client) = configure_from_state(input, addr.provider(), &recorded).await? else {
        return Ok(None);
    };
    let identity = identity(input.stack, addr);
    let attrs = client
        .import(ImportRequest {
            type_name: &addr.type_name,
            identity: &identity,
            id,
        })
        .await
        .map_err(|error| PlanError::Provider {
            subject: addr.to_string(),
            operation: "import",
            error,
        })?;
    Ok(Some(mark_sensitive(
        input.registry.resource_schema(&addr.type_name),
        attrs,
    )))
}

/// What an object adopted by `cairn import` depends on: the recorded instances of the
/// resources its block references.
pub fn imported_dependencies(
    graph: &ResourceGraph,
    state: &StateFile,
    addr: &ResourceAddr,
) -> Vec<ResourceAddr> {
    recorded_dependencies(graph, state, addr)
}

/// Direct resource dependencies of a configured resource (of its block, for an instance).
pub(crate) fn resource_dependencies(
    graph: &ResourceGraph,
    addr: &ResourceAddr,
) -> Vec<ResourceAddr> {
    graph.dependencies(&addr.config())
}

/// The instances `addr` depends on: every instance of each `for_each` resource its block
/// references, the resource itself otherwise.
fn instance_dependencies(
    graph: &ResourceGraph,
    stack: &Stack,
    expansions: &Expansions,
    addr: &ResourceAddr,
) -> Vec<ResourceAddr> {
    let mut out = Vec::new();
    for dependency in resource_dependencies(graph, addr) {
        // Data sources are read when planning: nothing to wait for, nothing to record.
        if dependency.is_data() {
            continue;
        }
        let for_each = stack
            .resources
            .get(&dependency)
            .is_some_and(|r| r.for_each.is_some());
        match expansions.get(&dependency) {
            Some(Some(keys)) if for_each => {
                out.extend(keys.iter().map(|key| dependency.with_key(key.clone())));
            }
            _ if for_each => {}
            _ => out.push(dependency),
        }
    }
    out
}

/// The dependencies of an adopted object, from the graph and the instances in state.
fn recorded_dependencies(
    graph: &ResourceGraph,
    state: &StateFile,
    addr: &ResourceAddr,
) -> Vec<ResourceAddr> {
    let mut out = Vec::new();
    for dependency in resource_dependencies(graph, addr) {
        out.extend(
            state
                .resources
                .keys()
                .filter(|recorded| dependency.covers(recorded))
                .cloned(),
        );
    }
    out
}

/// What a `for_each` needs, not known until apply: the first reference in it whose value is
/// unknown, for the error.
fn unknown_for_each_cause(expr: &Expr, scope: &ValuesScope<'_>) -> Option<String> {
    expr.references().into_iter().find_map(|reference| {
        let named = match reference {
            Reference::Resource { addr, attr, .. } => match attr {
                Some(attr) => format!("{addr}.{attr}"),
                None => addr.to_string(),
            },
            Reference::Local { name, .. } => format!("local.{name}"),
            Reference::Variable { name, .. } => format!("var.{name}"),
            Reference::Each { .. } => return None,
        };
        let alone = Expr {
            kind: ExprKind::Interpolation(Interp::Reference(reference.clone())),
            span: expr.span.clone(),
        };
        alone
            .eval(scope)
            .ok()
            .filter(Value::contains_unknown)
            .map(|_| named)
    })
}

/// Wraps the values of the schema's sensitive attributes, so they are redacted wherever
/// they go even if the provider returned them plain.
pub(crate) fn mark_sensitive(schema: Option<&ResourceSchema>, mut attrs: Attrs) -> Attrs {
    if let Some(schema) = schema {
        for (name, value) in attrs.0.iter_mut() {
            if schema.attributes.get(name).is_some_and(|a| a.sensitive) && !value.is_null() {
                *value = std::mem::take(value).sensitive();
            }
        }
    }
    attrs
}

/// What the refresh found for one recorded resource.
enum Refreshed {
    /// Read through the provider (missing attributes filled from state).
    Read(Attrs),
    /// The object no longer exists.
    Gone,
    /// Not read: refresh disabled, or its provider cannot be configured yet.
    Recorded { deferred: bool },
}

/// Reads every recorded resource through its provider, concurrently.
async fn refresh(
    input: &PlanInput<'_>,
    options: &PlanOptions,
    deferred_providers: &mut BTreeSet<String>,
) -> Result<HashMap<ResourceAddr, Refreshed>, PlanError> {
    let mut results = HashMap::new();
    if !options.refresh {
        for addr in input.state.resources.keys() {
            results.insert(addr.clone(), Refreshed::Recorded { deferred: false });
        }
        return Ok(results);
    }
    let recorded = recorded_values(input.state);
    let providers: BTreeSet<&str> = input
        .state
        .resources
        .values()
        .map(|r| r.provider.as_str())
        .collect();
    let mut clients = HashMap::new();
    for name in providers {
        match configure_from_state(input, name, &recorded).await? {
            Some(client) => {
                clients.insert(name.to_owned(), client);
            }
            None => {
                tracing::debug!(
                    provider = name,
                    "configuration not known yet; refresh deferred"
                );
                deferred_providers.insert(name.to_owned());
            }
        }
    }
    let reads = input.state.resources.values().filter_map(|resource| {
        let client = clients.get(&resource.provider)?.clone();
        Some(async move {
            tracing::debug!(address = %resource.addr, "refreshing");
            let identity = identity(input.stack, &resource.addr);
            let request = ReadRequest {
                type_name: &resource.addr.type_name,
                identity: &identity,
                state: &resource.attrs,
            };
            let result = client.read(request).await;
            (resource, result)
        })
    });
    let mut stream = futures::stream::iter(reads).buffer_unordered(options.parallelism.max(1));
    while let Some((resource, result)) = stream.next().await {
        let read = result.map_err(|error| PlanError::Provider {
            subject: resource.addr.to_string(),
            operation: "read",
            error,
        })?;
        let refreshed = match read {
            None => Refreshed::Gone,
            Some(mut attrs) => {
                // Attributes the provider cannot observe (e.g. a password) keep their record.
                for (name, value) in &resource.attrs.0 {
                    attrs.0.entry(name.clone()).or_insert_with(|| value.clone());
                }
                Refreshed::Read(mark_sensitive(
                    input.registry.resource_schema(&resource.addr.type_name),
                    attrs,
                ))
            }
        };
        results.insert(resource.addr.clone(), refreshed);
    }
    for (addr, resource) in &input.state.resources {
        results
            .entry(addr.clone())
            .or_insert_with(|| Refreshed::Recorded {
                deferred: deferred_providers.contains(&resource.provider),
            });
    }
    Ok(results)
}

/// The attributes an apply would send: the configured ones, plus for a resource that
/// exists the recorded values of optional-computed attributes left unset and of the
/// `ignore_changes` paths.
pub(crate) fn effective_desired(
    schema: &ResourceSchema,
    config: &Attrs,
    prior: Option<&Attrs>,
    lifecycle: &Lifecycle,
) -> Attrs {
    let mut desired = Attrs::new();
    for (name, attr) in &schema.attributes {
        if !attr.is_settable() {
            continue;
        }
        match (config.get(name), prior.and_then(|p| p.get(name))) {
            (Some(value), _) => desired.insert(name.clone(), value.clone()),
            (None, Some(recorded)) if attr.mode == Mode::OptionalComputed => {
                desired.insert(name.clone(), recorded.clone());
            }
            _ => {}
        }
    }
    if let Some(prior) = prior {
        for path in &lifecycle.ignore_changes {
            let segments: Vec<&str> = path.split('.').collect();
            let recorded = get_path(&prior.0, &segments);
            set_path(&mut desired.0, &segments, recorded);
        }
    }
    desired
}

fn get_path(map: &BTreeMap<String, Value>, path: &[&str]) -> Option<Value> {
    let (first, rest) = path.split_first()?;
    let value = map.get(*first)?;
    if rest.is_empty() {
        return Some(value.clone());
    }
    get_path(value.as_map()?, rest)
}

fn set_path(map: &mut BTreeMap<String, Value>, path: &[&str], value: Option<Value>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match value {
            Some(value) => map.insert((*first).to_owned(), value),
            None => map.remove(*first),
        };
        return;
    }
    if let Some(Value::Map(inner)) = map.get_mut(*first) {
        set_path(inner, rest, value);
    }
}

/// Planned attributes of a resource that will be created: the desired values, computed
/// ones unknown unless the provider knows them already.
fn planned_create(
    schema: &ResourceSchema,
    desired: &Attrs,
    known: &BTreeMap<String, Value>,
) -> Attrs {
    let mut after = desired.clone();
    for (name, attr) in &schema.attributes {
        let computed = attr.mode == Mode::Computed
            || (attr.mode == Mode::OptionalComputed && desired.get(name).is_none());
        if computed {
            after.insert(name.clone(), Value::Unknown);
        }
    }
    for (name, value) in known {
        after.insert(name.clone(), value.clone());
    }
    after
}

/// Planned attributes of a resource kept in place: the record with the desired values
/// over it.
fn planned_in_place(
    schema: &ResourceSchema,
    prior: &Attrs,
    desired: &Attrs,
    known: &BTreeMap<String, Value>,
) -> Attrs {
    let mut after = prior.clone();
    for (name, attr) in &schema.attributes {
        if !attr.is_settable() {
            continue;
        }
        match desired.0.get(name) {
            Some(value) => after.insert(name.clone(), value.clone()),
            None => {
                after.0.remove(name);
            }
        }
    }
    for (name, value) in known {
        after.insert(name.clone(), value.clone());
    }
    after
}

/// Every resource `roots` reach through `next`, including the roots.
fn closure(
    roots: &[ResourceAddr],
    next: impl Fn(&ResourceAddr) -> Vec<ResourceAddr>,
) -> HashSet<ResourceAddr> {
    let mut seen: HashSet<ResourceAddr> = HashSet::new();
    let mut queue: Vec<ResourceAddr> = roots.to_vec();
    while let Some(addr) = queue.pop() {
        if seen.insert(addr.clone()) {
            queue.extend(next(&addr));
        }
    }
    seen
}

/// Recorded resources ordered so each comes before the resources it depends on.
fn delete_order(state: &StateFile, addrs: &BTreeSet<ResourceAddr>) -> Vec<ResourceAddr> {
    // Kahn's algorithm over "X depends on Y" edges, emitting dependents first.
    let mut dependents_left: HashMap<&ResourceAddr, usize> = addrs.iter().map(|a| (a, 0)).collect();
    for addr in addrs {
        if let Some(resource) = state.resources.get(addr) {
            for dep in &resource.dependencies {
                if let Some(count) = dependents_left.get_mut(dep) {
                    *count += 1;
                }
            }
        }
    }
    let mut ready: Vec<&ResourceAddr> = dependents_left
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(a, _)| *a)
        .collect();
    ready.sort();
    let mut order = Vec::new();
    while let Some(addr) = ready.pop() {
        order.push(addr.clone());
        if let Some(resource) = state.resources.get(addr) {
            for dep in &resource.dependencies {
                if let Some(count) = dependents_left.get_mut(dep) {
                    *count -= 1;
                    if *count == 0 {
                        ready.push(dep);
                    }
                }
            }
        }
    }
    // A cycle in recorded dependencies (only possible in a hand-edited state) still
    // deletes everything, in address order.
    if order.len() < addrs.len() {
        let placed: HashSet<ResourceAddr> = order.iter().cloned().collect();
        order.extend(addrs.iter().filter(|a| !placed.contains(*a)).cloned());
    }
    order
}

fn prevent_destroy_error(stack: &Stack, addr: &ResourceAddr, action: Action) -> Option<Diagnostic> {
    let resource = stack.resources.get(&addr.config())?;
    if !resource.lifecycle.prevent_destroy {
        return None;
    }
    let what = if action.is_replace() {
        "must be replaced, which destroys it"
    } else {
        "would be destroyed"
    };
    Some(
        Diagnostic::at(
            &stack.sources,
            resource.lifecycle.span.as_ref().unwrap_or(&resource.span),
            format!("{addr} has lifecycle.prevent_destroy = true but {what}"),
            "declared here",
        )
        .with_address(addr.clone())
        .with_help("remove prevent_destroy from its lifecycle, or change the plan so it keeps this resource"),
    )
}

fn delete_change(
    input: &PlanInput<'_>,
    addr: &ResourceAddr,
    before: Option<Attrs>,
    reason: ChangeReason,
) -> ResourceChange {
    let resource = input.state.resources.get(addr);
    let before = before
        .or_else(|| resource.map(|r| r.attrs.clone()))
        .unwrap_or_default();
    ResourceChange {
        addr: addr.clone(),
        provider: resource.map_or_else(|| addr.provider().to_owned(), |r| r.provider.clone()),
        action: Action::Delete,
        reason: Some(reason),
        diffs: diff_all(&before, false),
        before: Some(before),
        after: None,
        dependencies: resource.map(|r| r.dependencies.clone()).unwrap_or_default(),
        each: None,
        moved_from: None,
        import_id: None,
        execution: Default::default(),
    }
}

/// The attributes of each resource block that the stack's expressions read from planned
/// values. A plan keeps only those of each planned resource, rather than a second copy of
/// all its values: at 10,000 resources that copy is a large share of a plan's memory.
struct ReferencedAttrs<'a> {
    /// By resource block; `None`: the whole object is referenced, so all of it is kept.
    by_block: HashMap<&'a ResourceAddr, Option<HashSet<&'a str>>>,
}

impl<'a> ReferencedAttrs<'a> {
    fn of(stack: &'a Stack) -> Self {
        let exprs = stack
            .resources
            .values()
            .flat_map(|r| r.attrs.values().chain(&r.for_each))
            .chain(stack.outputs.values().map(|o| &o.value))
            .chain(stack.locals.values().map(|l| &l.value))
            .chain(stack.providers.values().flat_map(|p| p.config.values()));
        let mut by_block: HashMap<&ResourceAddr, Option<HashSet<&str>>> = HashMap::new();
        for expr in exprs {
            for reference in expr.references() {
                if let Reference::Resource { addr, attr, .. } = reference {
                    let entry = by_block.entry(addr).or_insert_with(|| Some(HashSet::new()));
                    match (entry.as_mut(), attr) {
                        (Some(names), Some(attr)) => {
                            names.insert(attr.as_str());
                        }
                        _ => *entry = None,
                    }
                }
            }
        }
        ReferencedAttrs { by_block }
    }

    /// What of `after`, planned for `addr`, later evaluation may read.
    fn keep(&self, addr: &ResourceAddr, after: &Attrs) -> Attrs {
        match self.by_block.get(&addr.config()) {
            None => Attrs::new(),
            Some(None) => after.clone(),
            Some(Some(names)) => Attrs(
                after
                    .0
                    .iter()
                    .filter(|(name, _)| names.contains(name.as_str()))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect(),
            ),
        }
    }
}

/// The moves `[[moved]]` asks of this state, in order: an address recorded at `from` (or,
/// for a whole `for_each` resource renamed, each of its instances) goes to `to` unless
/// something is recorded there already.
fn planned_moves(stack: &Stack, state: &StateFile) -> Vec<Move> {
    if stack.moved.is_empty() {
        return Vec::new();
    }
    let mut present: HashSet<ResourceAddr> = state.resources.keys().cloned().collect();
    let mut moves = Vec::new();
    for moved in &stack.moved {
        let pairs: Vec<(ResourceAddr, ResourceAddr)> = if present.contains(&moved.from) {
            vec![(moved.from.clone(), moved.to.clone())]
        } else if moved.from.key.is_none() && moved.to.key.is_none() {
            let mut instances: Vec<ResourceAddr> = present
                .iter()
                .filter(|a| a.key.is_some() && moved.from.covers(a))
                .cloned()
                .collect();
            instances.sort();
            instances
                .into_iter()
                .filter_map(|from| {
                    let key = from.key.clone()?;
                    Some((from, moved.to.with_key(key)))
                })
                .collect()
        } else {
            Vec::new()
        };
        for (from, to) in pairs {
            if present.contains(&to) {
                continue;
            }
            present.remove(&from);
            present.insert(to.clone());
            moves.push(Move { from, to });
        }
    }
    moves
}

/// `state` with `moves` made, as the apply will make them first.
fn moved_state(state: &StateFile, moves: &[Move]) -> StateFile {
    let mut state = state.clone();
    for Move { from, to } in moves {
        if let Some(mut resource) = state.resources.remove(from) {
            resource.addr = to.clone();
            state.resources.insert(to.clone(), resource);
        }
        for resource in state.resources.values_mut() {
            for dependency in &mut resource.dependencies {
                if dependency == from {
                    *dependency = to.clone();
                }
            }
        }
    }
    state
}

/// Makes the plan. Provider calls: `configure` and `read` for recorded resources whose
/// provider configuration is known (unless `options.refresh` is off), plus the providers'
/// offline `plan` hooks.
pub async fn build(input: PlanInput<'_>, options: &PlanOptions) -> Result<Plan, PlanError> {
    let moves = planned_moves(input.stack, input.state);
    let after_moves;
    let input = if moves.is_empty() {
        input
    } else {
        after_moves = moved_state(input.state, &moves);
        PlanInput {
            state: &after_moves,
            ..input
        }
    };
    let mut plan = build_moved(input, options).await?;
    let moved_to: HashMap<&ResourceAddr, &ResourceAddr> =
        moves.iter().map(|m| (&m.to, &m.from)).collect();
    for change in &mut plan.changes {
        change.moved_from = moved_to.get(&change.addr).map(|from| (*from).clone());
        if change.action == Action::Delete {
            change.execution.timeouts = exec::delete_timeouts(input.registry, input.stack, change);
        }
    }
    plan.moves = moves;
    Ok(plan)
}

/// [`build`] once the state shows the moves made.
async fn build_moved(input: PlanInput<'_>, options: &PlanOptions) -> Result<Plan, PlanError> {
    let stack = input.stack;
    let mut deferred = BTreeSet::new();
    let mut refreshed = refresh(&input, options, &mut deferred).await?;
    let mut diagnostics = Diagnostics::new();
    // `[[import]]`: an object not recorded yet is read as if it were, so it plans like a
    // refreshed resource: no change, or the update that makes it match the configuration.
    let mut imported: HashMap<ResourceAddr, String> = HashMap::new();
    if !options.destroy {
        for import in &stack.imports {
            if input.state.resources.contains_key(&import.to) {
                continue;
            }
            match import_object(&input, &import.to, &import.id).await? {
                Some(attrs) => {
                    refreshed.insert(import.to.clone(), Refreshed::Read(attrs));
                    imported.insert(import.to.clone(), import.id.clone());
                }
                None => diagnostics.push(
                    Diagnostic::at(
                        &stack.sources,
                        &import.span,
                        format!(
                            "cannot import `{}` yet: the configuration of provider `{}` is known only during the apply",
                            import.to,
                            import.to.provider()
                        ),
                        "this import",
                    )
                    .with_help("apply what the provider's configuration needs first (--target), then plan the import"),
                ),
            }
        }
    }
    let mut prior_of = |addr: &ResourceAddr| -> (Option<Attrs>, Option<ChangeReason>) {
        match refreshed.remove(addr) {
            Some(Refreshed::Read(attrs)) => (Some(attrs), None),
            Some(Refreshed::Gone) => (None, Some(ChangeReason::Gone)),
            Some(Refreshed::Recorded { deferred }) => (
                input.state.resources.get(addr).map(|r| r.attrs.clone()),
                deferred.then_some(ChangeReason::RefreshDeferred),
            ),
            None => (None, None),
        }
    };
    let mut plan = Plan {
        stack: stack.name.clone(),
        env: stack.env.clone(),
        destroy: options.destroy,
        targeted: !options.targets.is_empty(),
        lineage: (input.state.serial > 0).then(|| input.state.lineage.clone()),
        serial: (input.state.serial > 0).then_some(input.state.serial),
        changes: Vec::new(),
        outputs: BTreeMap::new(),
        output_changes: Vec::new(),
        deferred_providers: Vec::new(),
        moves: Vec::new(),
        expansions: Expansions::new(),
        data: ResourceValues::new(),
        provider_configs: BTreeMap::new(),
    };

    if options.destroy {
        let selected: BTreeSet<ResourceAddr> = if options.targets.is_empty() {
            input.state.resources.keys().cloned().collect()
        } else {
            // Destroying a target destroys what depends on it first.
            let dependents = |addr: &ResourceAddr| {
                input
                    .state
                    .resources
                    .values()
                    .filter(|r| r.dependencies.contains(addr))
                    .map(|r| r.addr.clone())
                    .collect()
            };
            let roots: Vec<ResourceAddr> = input
                .state
                .resources
                .keys()
                .filter(|a| options.targets.iter().any(|t| t.covers(a)))
                .cloned()
                .collect();
            closure(&roots, dependents)
                .into_iter()
                .filter(|a| input.state.resources.contains_key(a))
                .collect()
        };
        for addr in delete_order(input.state, &selected) {
            if let Some(d) = prevent_destroy_error(stack, &addr, Action::Delete) {
                diagnostics.push(d);
            }
            let (before, _) = prior_of(&addr);
            plan.changes
                .push(delete_change(&input, &addr, before, ChangeReason::Destroy));
        }
        plan.deferred_providers = deferred.into_iter().collect();
        plan.provider_configs = exec::provider_configs(
            stack,
            input.registry,
            &plan.changes,
            &recorded_values(input.state),
        );
        return diagnostics.into_result(plan).map_err(PlanError::from);
    }

    // `--target`: the targets (a block, or one instance) and every block they need.
    let needed: Option<HashSet<ResourceAddr>> = (!options.targets.is_empty()).then(|| {
        let roots: Vec<ResourceAddr> = options
            .targets
            .iter()
            .flat_map(|t| resource_dependencies(input.graph, t))
            .collect();
        closure(&roots, |addr| resource_dependencies(input.graph, addr))
    });
    let selected = |addr: &ResourceAddr| match &needed {
        None => true,
        Some(needed) => {
            needed.contains(&addr.config()) || options.targets.iter().any(|t| t.covers(addr))
        }
    };
    let mut planned: ResourceValues = HashMap::new();
    let referenced = ReferencedAttrs::of(stack);
    let mut expansions = Expansions::new();
    let locals = LocalValues::default();
    // Every instance the configuration has (or may have: a block whose `for_each`
    // failed keeps its recorded instances), so the rest of the state is deleted.
    let mut configured: HashSet<ResourceAddr> = HashSet::new();
    for config_addr in input.graph.resources() {
        let Some(resource) = stack.resources.get(config_addr) else {
            continue;
        };
        let Some(schema) = input.registry.resource_schema(&config_addr.type_name) else {
            diagnostics.push(
                Diagnostic::at(
                    &stack.sources,
                    &resource.span,
                    format!("unknown resource type `{}`", config_addr.type_name),
                    "here",
                )
                .with_address(config_addr.clone()),
            );
            continue;
        };
        let base = ValuesScope {
            stack,
            registry: input.registry,
            values: &planned,
            locals: &locals,
            expansions: &expansions,
            each: None,
        };
        let instances: Vec<(ResourceAddr, Option<(String, Value)>)> = match &resource.for_each {
            None => vec![(config_addr.clone(), None)],
            Some(expr) => {
                let keys = match expr.eval(&base) {
                    Ok(value) => for_each_keys(&value).map_err(|message| (message, None)),
                    Err(e) => Err((e.message, None)),
                };
                let keys = match keys {
                    Ok(Some(keys)) => Ok(keys),
                    Ok(None) => Err((
                        format!(
                            "the `for_each` of `{config_addr}` is not known until apply{}",
                            unknown_for_each_cause(expr, &base)
                                .map(|cause| format!(": it depends on `{cause}`"))
                                .unwrap_or_default()
                        ),
                        Some(
                            "instance keys must be known when planning: derive them from variables or locals, or apply what they depend on first with --target",
                        ),
                    )),
                    Err(e) => Err(e),
                };
                match keys {
                    Ok(keys) => keys
                        .into_iter()
                        .map(|(key, value)| (config_addr.with_key(key.clone()), Some((key, value))))
                        .collect(),
                    Err((message, help)) => {
                        let mut diagnostic =
                            Diagnostic::at(&stack.sources, &expr.span, message, "this for_each")
                                .with_address(config_addr.clone());
                        if let Some(help) = help {
                            diagnostic = diagnostic.with_help(help);
                        }
                        diagnostics.push(diagnostic);
                        configured.extend(
                            input
                                .state
                                .resources
                                .keys()
                                .filter(|a| config_addr.covers(a))
                                .cloned(),
                        );
                        expansions.insert(config_addr.clone(), None);
                        continue;
                    }
                }
            }
        };
        if resource.for_each.is_some() {
            let keys: Vec<String> = instances
                .iter()
                .filter_map(|(_, each)| each.as_ref().map(|(key, _)| key.clone()))
                .collect();
            expansions.insert(config_addr.clone(), Some(Arc::new(keys)));
        }
        let dependencies = instance_dependencies(input.graph, stack, &expansions, config_addr);
        for (addr, each) in instances {
            configured.insert(addr.clone());
            let scope = ValuesScope {
                stack,
                registry: input.registry,
                values: &planned,
                locals: &locals,
                expansions: &expansions,
                each: each.as_ref().map(|(key, value)| (key.as_str(), value)),
            };
            let mut config = Attrs::new();
            let mut failed = false;
            for (name, expr) in &resource.attrs {
                match expr.eval(&scope) {
                    Ok(value) => config.insert(name.clone(), value),
                    Err(e) => {
                        failed = true;
                        diagnostics.push(
                            Diagnostic::at(
                                &stack.sources,
                                &e.span,
                                e.message.clone(),
                                "in this value",
                            )
                            .with_address(addr.clone()),
                        );
                    }
                }
            }
            if failed {
                continue;
            }
            // A value over secrets known here only as hashes evaluates as unknown; when its
            // fingerprint is the one recorded, it is the recorded value.
            if let Some(recorded) = input.state.resources.get(&addr) {
                for (name, expr) in &resource.attrs {
                    let unchanged = config.get(name).is_some_and(Value::contains_unknown)
                        && recorded.fingerprints.get(name).is_some_and(|recorded| {
                            fingerprint(expr, &scope, input.hasher).as_ref() == Some(recorded)
                        });
                    if let (true, Some(value)) = (unchanged, recorded.attrs.get(name)) {
                        config.insert(name.clone(), value.clone());
                    }
                }
            }
            // Scope marks config values sensitive only when they derive from secrets; the
            // schema's sensitive attributes are secrets whatever their origin.
            let fingerprints = exec::fingerprints(resource, &config, &scope, input.hasher);
            let config = mark_sensitive(Some(schema), config);
            if addr.is_data() {
                // Unknown or failed reads leave unknown values, so what uses them is
                // still checked without a second error.
                let mut read = planned_create(schema, &Attrs::new(), &BTreeMap::new());
                match read_data_source(&input, &addr, &config).await {
                    Ok(attrs) => read = mark_sensitive(Some(schema), attrs),
                    Err(DataError::Unreadable(message)) => diagnostics.push(
                        Diagnostic::at(&stack.sources, &resource.span, message, "this data source")
                            .with_address(addr.clone()),
                    ),
                    Err(DataError::Plan(e)) => return Err(e),
                }
                plan.data.insert(addr.clone(), read.clone());
                planned.insert(addr.clone(), read);
                continue;
            }
            let (prior, reason) = prior_of(&addr);
            let desired = effective_desired(schema, &config, prior.as_ref(), &resource.lifecycle);
            let provider = input.registry.get(addr.provider());
            let adjustments = match provider {
                Some(p) => p
                    .plan(PlanRequest {
                        type_name: &addr.type_name,
                        prior: prior.as_ref(),
                        desired: &desired,
                    })
                    .map_err(|error| PlanError::Provider {
                        subject: addr.to_string(),
                        operation: "plan",
                        error,
                    })?,
                None => Default::default(),
            };
            let known = mark_sensitive(Some(schema), Attrs(adjustments.known_computed)).0;
            let dependencies = dependencies.clone();
            let mut change = match prior {
                None => {
                    let after = planned_create(schema, &desired, &known);
                    ResourceChange {
                        addr: addr.clone(),
                        provider: addr.provider().to_owned(),
                        action: Action::Create,
                        reason,
                        diffs: diff_all(&after, true),
                        before: None,
                        after: Some(after),
                        dependencies,
                        each: each.clone(),
                        moved_from: None,
                        import_id: None,
                        execution: Default::default(),
                    }
                }
                Some(prior) => {
                    let diffs = diff_update(
                        schema,
                        &prior,
                        &desired,
                        &adjustments.requires_replace,
                        input.hasher,
                    );
                    let replace = diffs.iter().any(|d| d.forces_replacement);
                    let (action, after) = if replace {
                        let action = if resource.lifecycle.create_before_destroy {
                            Action::CreateThenDelete
                        } else {
                            Action::DeleteThenCreate
                        };
                        let fresh = effective_desired(schema, &config, None, &resource.lifecycle);
                        (action, planned_create(schema, &fresh, &known))
                    } else if diffs.is_empty() {
                        (
                            Action::NoOp,
                            planned_in_place(schema, &prior, &desired, &known),
                        )
                    } else {
                        let mut after = planned_in_place(schema, &prior, &desired, &known);
                        for (name, attr) in &schema.attributes {
                            if attr.changes_on_update && !known.contains_key(name) {
                                after.insert(name.clone(), Value::Unknown);
                            }
                        }
                        (Action::Update, after)
                    };
                    let mut diffs = diffs;
                    if action != Action::NoOp {
                        diffs.extend(diff_computed(schema, &prior, &after, input.hasher));
                        diffs.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                    ResourceChange {
                        addr: addr.clone(),
                        provider: addr.provider().to_owned(),
                        action,
                        reason,
                        diffs,
                        before: Some(prior),
                        after: Some(after),
                        dependencies,
                        each: each.clone(),
                        moved_from: None,
                        import_id: None,
                        execution: Default::default(),
                    }
                }
            };
            exec::prepare(
                &mut change,
                schema,
                resource,
                &config,
                fingerprints,
                input.hasher,
            );
            if change.action.is_replace()
                && let Some(d) = prevent_destroy_error(stack, &addr, change.action)
            {
                diagnostics.push(d);
            }
            if let Some(after) = &change.after {
                planned.insert(addr.clone(), referenced.keep(&addr, after));
            }
            if selected(&addr) {
                plan.changes.push(change);
            }
        }
    }

    let removed: BTreeSet<ResourceAddr> = input
        .state
        .resources
        .keys()
        .filter(|a| !configured.contains(*a))
        .filter(|a| options.targets.is_empty() || options.targets.iter().any(|t| t.covers(a)))
        .cloned()
        .collect();
    for addr in delete_order(input.state, &removed) {
        let (before, _) = prior_of(&addr);
        plan.changes.push(delete_change(
            &input,
            &addr,
            before,
            ChangeReason::RemovedFromConfig,
        ));
    }

    let scope = ValuesScope {
        stack,
        registry: input.registry,
        values: &planned,
        locals: &locals,
        expansions: &expansions,
        each: None,
    };
    for (name, output) in &stack.outputs {
        match output.value.eval(&scope) {
            Ok(value) => {
                let value = if output.sensitive {
                    value.sensitive()
                } else {
                    value
                };
                plan.outputs.insert(
                    name.clone(),
                    PlannedOutput {
                        value,
                        sensitive: output.sensitive,
                    },
                );
            }
            Err(e) => diagnostics.push(Diagnostic::at(
                &stack.sources,
                &e.span,
                format!("output `{name}`: {}", e.message),
                "in this value",
            )),
        }
    }
    if !plan.targeted {
        plan.output_changes = output_changes(&plan.outputs, input.state, input.hasher);
    }
    if !plan.has_resource_changes() {
        // Nothing will be created, so an output still unknown (it references a resource a
        // targeted apply left out) stays unknown: applying would not change it.
        plan.output_changes
            .retain(|d| !d.after.as_ref().is_some_and(Value::contains_unknown));
    }
    // Locals nothing used were never evaluated: their errors are errors all the same.
    for (name, local) in &stack.locals {
        if locals.evaluated(name).is_none()
            && let Some(Err(message)) = scope.local(name)
        {
            diagnostics.push(Diagnostic::at(
                &stack.sources,
                &local.value.span,
                format!("local `{name}`: {message}"),
                "in this value",
            ));
        }
    }
    for import in &stack.imports {
        if imported.contains_key(&import.to) && !configured.contains(&import.to) {
            diagnostics.push(Diagnostic::at(
                &stack.sources,
                &import.span,
                format!(
                    "import to `{}`, which the configuration does not have (no such `for_each` key)",
                    import.to
                ),
                "this import",
            ));
        }
    }
    for change in &mut plan.changes {
        change.import_id = imported.remove(&change.addr);
    }
    plan.deferred_providers = deferred.into_iter().collect();
    plan.provider_configs = exec::provider_configs(stack, input.registry, &plan.changes, &planned);
    plan.expansions = expansions;
    diagnostics.into_result(plan).map_err(PlanError::from)
}

/// Planned outputs compared with the recorded ones.
fn output_changes(
    outputs: &BTreeMap<String, PlannedOutput>,
    state: &StateFile,
    hasher: &SensitiveHasher,
) -> Vec<AttrDiff> {
    let names: BTreeSet<&String> = outputs.keys().chain(state.outputs.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let before = state.outputs.get(name).filter(|v| !v.is_null()).cloned();
            let after = outputs
                .get(name)
                .map(|o| o.value.clone())
                .filter(|v| !v.is_null());
            let same = match (&before, &after) {
                (None, None) => true,
                (Some(b), Some(a)) => !a.contains_unknown() && values_equal(hasher, a, b),
                _ => false,
            };
            (!same).then(|| AttrDiff {
                name: name.clone(),
                before,
                after,
                forces_replacement: false,
                nested: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_provider_core::{AttrSchema, AttrType};

    fn schema() -> ResourceSchema {
        ResourceSchema::new("test")
            .attr("name", AttrSchema::required(AttrType::String))
            .attr("disk", AttrSchema::optional_computed(AttrType::Int))
            .attr("scaling", AttrSchema::optional(AttrType::Any))
            .attr("arn", AttrSchema::computed(AttrType::String))
    }

    fn scaling(desired: i64, max: i64) -> Value {
        Value::Map(BTreeMap::from([
            ("desired".to_owned(), Value::Int(desired)),
            ("max".to_owned(), Value::Int(max)),
        ]))
    }

    #[test]
    fn optional_computed_left_unset_keeps_the_recorded_value() {
        let prior = Attrs::new()
            .with("name", "a")
            .with("disk", 20)
            .with("arn", "arn:1");
        let config = Attrs::new().with("name", "a");
        let desired = effective_desired(&schema(), &config, Some(&prior), &Lifecycle::default());
        assert_eq!(desired.get("disk"), Some(&Value::Int(20)));
        assert_eq!(
            desired.get("arn"),
            None,
            "computed attributes are never sent"
        );
        let fresh = effective_desired(&schema(), &config, None, &Lifecycle::default());
        assert_eq!(fresh.get("disk"), None);
    }

    #[test]
    fn ignore_changes_paths_keep_recorded_values_only_for_existing_resources() {
        let lifecycle = Lifecycle {
            ignore_changes: vec!["scaling.desired".to_owned()],
            ..Lifecycle::default()
        };
        let prior = Attrs::new()
            .with("name", "a")
            .with("scaling", scaling(3, 10));
        let config = Attrs::new()
            .with("name", "a")
            .with("scaling", scaling(1, 12));
        let desired = effective_desired(&schema(), &config, Some(&prior), &lifecycle);
        assert_eq!(desired.get("scaling"), Some(&scaling(3, 12)));
        let created = effective_desired(&schema(), &config, None, &lifecycle);
        assert_eq!(created.get("scaling"), Some(&scaling(1, 12)));
    }

    #[test]
    fn planned_values_mark_computed_unknown_unless_known() {
        let desired = Attrs::new().with("name", "a");
        let known = BTreeMap::from([("arn".to_owned(), Value::from("arn:known"))]);
        let after = planned_create(&schema(), &desired, &BTreeMap::new());
        assert_eq!(after.get("arn"), Some(&Value::Unknown));
        assert_eq!(
            after.get("disk"),
            Some(&Value::Unknown),
            "unset optional-computed is the provider's"
        );
        let after = planned_create(&schema(), &desired, &known);
        assert_eq!(after.get("arn"), Some(&Value::from("arn:known")));
    }
}
