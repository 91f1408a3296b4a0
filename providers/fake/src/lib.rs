//! A configurable in-memory provider for cairn's engine tests and benchmarks.
//!
//! [`FakeProvider`] implements [`Provider`] and its client implements [`ResourceClient`]
//! without any I/O: objects live in an in-memory world shared by every clone of the
//! provider, so a test can plan, apply, plan again and look at what "exists". It is built
//! like this:
//!
//! ```
//! use std::time::Duration;
//! use cairn_provider_core::Value;
//! use cairn_provider_fake::{FakeProvider, Operation};
//!
//! let fake = FakeProvider::new("fake")
//!     .resource_type("fake_thing")
//!     .latency(Duration::from_millis(5))
//!     .resource_latency("fake_thing.slow", Duration::from_millis(50))
//!     .fail_on("fake_thing.broken", Operation::Create)
//!     .computed("arn", |identity, _config| Value::from(format!("arn:fake:{}", identity.address)));
//! // Hand a clone to the engine's registry; keep `fake` to read its counters afterwards.
//! assert_eq!(fake.calls(Operation::Create), 0);
//! ```
//!
//! Every resource type it serves has the same schema: `input` (anything), `trigger`
//! (anything; a change forces a replacement), `secret` (anything, sensitive), the computed
//! `id`, and each attribute registered with [`FakeProvider::computed`], which is known only
//! after apply. The `[providers.NAME]` block accepts the attributes given to
//! [`FakeProvider::config_attr`].
//!
//! For benchmarks and ordering tests it counts calls per [`Operation`], the peak number of
//! calls in flight at once, and keeps an [`Event`] log of when each call started and
//! finished.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, ConfigureRequest, CreateRequest, DeleteRequest, FindRequest,
    ImportRequest, Progress, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceClient,
    ResourceIdentity, ResourceSchema, UpdateRequest, Value,
};

/// A call the engine makes on a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// [`Provider::configure`].
    Configure,
    /// [`ResourceClient::read`] (refresh at plan time).
    Read,
    /// [`ResourceClient::create`].
    Create,
    /// [`ResourceClient::update`].
    Update,
    /// [`ResourceClient::delete`].
    Delete,
    /// [`ResourceClient::find`] (adopting an interrupted create).
    Find,
    /// [`ResourceClient::import`].
    Import,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 7] = [
        Operation::Configure,
        Operation::Read,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Find,
        Operation::Import,
    ];

    /// Lower-case name, as in error messages (`fake:create`).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Configure => "configure",
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Find => "find",
            Operation::Import => "import",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether an [`Event`] marks the start or the end of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The call was entered (before its latency).
    Started,
    /// The call returned, successfully or not.
    Finished,
}

/// One entry of the call log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The call.
    pub operation: Operation,
    /// The resource address, or the provider's name for [`Operation::Configure`].
    pub subject: String,
    /// Start or end.
    pub phase: Phase,
}

/// What a chosen call does instead of succeeding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Returns an API error with code `InjectedFault`.
    Error,
    /// Panics, as a buggy provider would.
    Panic,
}

/// Computes one attribute after a create, from the identity and the configuration.
type ComputeFn = Arc<dyn Fn(&ResourceIdentity, &Attrs) -> Value + Send + Sync>;

/// How the fake behaves; fixed once the provider is handed to the engine.
#[derive(Clone, Default)]
struct Spec {
    types: Vec<String>,
    config: BTreeMap<String, AttrSchema>,
    computed: Vec<(String, ComputeFn)>,
    latency: Duration,
    type_latency: BTreeMap<String, Duration>,
    resource_latency: BTreeMap<String, Duration>,
    read_latency: Duration,
    faults: BTreeMap<(String, Operation), Fault>,
    warnings: BTreeMap<(String, Operation), String>,
}

impl Spec {
    /// The sleep of `operation` on `identity`: the resource's own latency, else its
    /// type's, else the provider's (reads and finds use the read latency only).
    fn latency(&self, operation: Operation, identity: &ResourceIdentity) -> Duration {
        match operation {
            Operation::Create | Operation::Update | Operation::Delete => self
                .resource_latency
                .get(&identity.address)
                .or_else(|| self.type_latency.get(identity.resource_type()))
                .copied()
                .unwrap_or(self.latency),
            Operation::Read | Operation::Find => self.read_latency,
            Operation::Configure | Operation::Import => Duration::ZERO,
        }
    }

    fn check_type(&self, type_name: &str) -> Result<(), ProviderError> {
        if self.types.iter().any(|t| t == type_name) {
            Ok(())
        } else {
            Err(ProviderError::UnsupportedType(type_name.to_owned()))
        }
    }
}

/// What exists and what happened: shared by every clone of one [`FakeProvider`] and the
/// clients it configures.
#[derive(Default)]
struct World {
    /// Objects by address.
    objects: Mutex<BTreeMap<String, Attrs>>,
    events: Mutex<Vec<Event>>,
    configurations: Mutex<Vec<Attrs>>,
    calls: [AtomicUsize; Operation::ALL.len()],
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    /// Creates per address: ids are `ADDRESS-N`, so a replacement gets a new one and ids
    /// do not depend on the order concurrent creates run in (snapshots stay stable).
    generations: Mutex<BTreeMap<String, u64>>,
}

/// Locks `mutex`; a panic elsewhere (see [`FakeProvider::panic_on`]) must not make the
/// log unreadable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl World {
    fn record(&self, operation: Operation, subject: &str, phase: Phase) {
        lock(&self.events).push(Event {
            operation,
            subject: subject.to_owned(),
            phase,
        });
    }

    /// Counts a call and marks it in flight until the returned guard drops.
    fn enter<'a>(&'a self, operation: Operation, subject: &'a str) -> InFlight<'a> {
        self.calls[operation.index()].fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        self.record(operation, subject, Phase::Started);
        InFlight {
            world: self,
            operation,
            subject,
        }
    }
}

/// One call in flight; dropping it (on return, error, panic or cancellation) ends it.
struct InFlight<'a> {
    world: &'a World,
    operation: Operation,
    subject: &'a str,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.world.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.world
            .record(self.operation, self.subject, Phase::Finished);
    }
}

/// A configurable in-memory provider. Clones share their world and counters.
#[derive(Clone)]
pub struct FakeProvider {
    name: &'static str,
    spec: Arc<Spec>,
    world: Arc<World>,
}

impl fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeProvider")
            .field("name", &self.name)
            .field("types", &self.spec.types)
            .finish_non_exhaustive()
    }
}

impl FakeProvider {
    /// A provider called `name` (the `[providers.NAME]` block) serving no type yet.
    pub fn new(name: &'static str) -> Self {
        FakeProvider {
            name,
            spec: Arc::new(Spec::default()),
            world: Arc::new(World::default()),
        }
    }

    fn spec(&mut self) -> &mut Spec {
        Arc::make_mut(&mut self.spec)
    }

    /// Builder: serves `type_name` (which should start with the provider's name and `_`).
    pub fn resource_type(mut self, type_name: impl Into<String>) -> Self {
        self.spec().types.push(type_name.into());
        self
    }

    /// Builder: an attribute of the `[providers.NAME]` block.
    pub fn config_attr(mut self, name: impl Into<String>, schema: AttrSchema) -> Self {
        self.spec().config.insert(name.into(), schema);
        self
    }

    /// Builder: a computed attribute of every type, set by create from the identity and
    /// the configuration and kept by updates; plans show it as known after apply.
    pub fn computed(
        mut self,
        name: impl Into<String>,
        compute: impl Fn(&ResourceIdentity, &Attrs) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.spec().computed.push((name.into(), Arc::new(compute)));
        self
    }

    /// Builder: every create, update and delete sleeps this long.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.spec().latency = latency;
        self
    }

    /// Builder: creates, updates and deletes of this type sleep this long (overrides
    /// [`FakeProvider::latency`]).
    pub fn type_latency(mut self, type_name: impl Into<String>, latency: Duration) -> Self {
        self.spec().type_latency.insert(type_name.into(), latency);
        self
    }

    /// Builder: creates, updates and deletes of this address sleep this long (overrides
    /// the type's and the provider's latency).
    pub fn resource_latency(mut self, address: impl Into<String>, latency: Duration) -> Self {
        self.spec().resource_latency.insert(address.into(), latency);
        self
    }

    /// Builder: every read and find sleeps this long (refresh at plan time).
    pub fn read_latency(mut self, latency: Duration) -> Self {
        self.spec().read_latency = latency;
        self
    }

    /// Builder: `operation` on `address` fails, after its latency, with an API error
    /// `fake:OPERATION: InjectedFault: ...`.
    pub fn fail_on(mut self, address: impl Into<String>, operation: Operation) -> Self {
        self.spec()
            .faults
            .insert((address.into(), operation), Fault::Error);
        self
    }

    /// Builder: `operation` on `address` panics, after its latency, as a provider bug
    /// would: for tests that the walker survives one.
    pub fn panic_on(mut self, address: impl Into<String>, operation: Operation) -> Self {
        self.spec()
            .faults
            .insert((address.into(), operation), Fault::Panic);
        self
    }

    /// Builder: `operation` on `address` (a create, update or delete) warns of `message`
    /// through its progress, as a provider does of what it leaves behind, and succeeds.
    pub fn warn_on(
        mut self,
        address: impl Into<String>,
        operation: Operation,
        message: impl Into<String>,
    ) -> Self {
        self.spec()
            .warnings
            .insert((address.into(), operation), message.into());
        self
    }

    /// Puts an object at `address` into the world, as if created outside cairn's record
    /// (an interrupted create that [`ResourceClient::find`] adopts), or changes one (drift).
    pub fn seed(&self, address: impl Into<String>, attrs: Attrs) {
        lock(&self.world.objects).insert(address.into(), attrs);
    }

    /// Deletes the object at `address` behind cairn's back.
    pub fn remove_object(&self, address: &str) -> Option<Attrs> {
        lock(&self.world.objects).remove(address)
    }

    /// The object at `address`, if it exists.
    pub fn object(&self, address: &str) -> Option<Attrs> {
        lock(&self.world.objects).get(address).cloned()
    }

    /// The addresses of every object that exists.
    pub fn addresses(&self) -> Vec<String> {
        lock(&self.world.objects).keys().cloned().collect()
    }

    /// How many calls of `operation` were made.
    pub fn calls(&self, operation: Operation) -> usize {
        self.world.calls[operation.index()].load(Ordering::SeqCst)
    }

    /// The most calls (of any operation) in flight at one time.
    pub fn peak_in_flight(&self) -> usize {
        self.world.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Every call's start and end, in order.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.world.events).clone()
    }

    /// The resolved `[providers.NAME]` block of each configure call, in order.
    pub fn configurations(&self) -> Vec<Attrs> {
        lock(&self.world.configurations).clone()
    }

    /// Clears the call counts, the peak, the event log and the configurations; the world's
    /// objects stay.
    pub fn reset_counters(&self) {
        for count in &self.world.calls {
            count.store(0, Ordering::SeqCst);
        }
        self.world.peak_in_flight.store(
            self.world.in_flight.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        lock(&self.world.events).clear();
        lock(&self.world.configurations).clear();
    }

    fn type_schema(&self) -> ResourceSchema {
        let mut schema = ResourceSchema::new("A fake object kept in memory.")
            .attr("input", AttrSchema::optional(AttrType::Any))
            .attr("trigger", AttrSchema::optional(AttrType::Any).force_new())
            .attr("secret", AttrSchema::optional(AttrType::Any).sensitive());
        for (name, _) in &self.spec.computed {
            schema = schema.attr(name.clone(), AttrSchema::computed(AttrType::Any));
        }
        schema
    }
}

#[async_trait]
impl Provider for FakeProvider {
    fn name(&self) -> &'static str {
        self.name
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            config: self.spec.config.clone(),
            resources: self
                .spec
                .types
                .iter()
                .map(|t| (t.clone(), self.type_schema()))
                .collect(),
        }
    }

    async fn configure(
        &self,
        request: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        let _call = self.world.enter(Operation::Configure, self.name);
        lock(&self.world.configurations).push(request.config);
        Ok(Arc::new(FakeClient {
            name: self.name,
            spec: Arc::clone(&self.spec),
            world: Arc::clone(&self.world),
        }))
    }
}

/// The configured fake.
struct FakeClient {
    name: &'static str,
    spec: Arc<Spec>,
    world: Arc<World>,
}

impl FakeClient {
    /// Sleeps the call's latency, then fails or panics if the call was chosen to.
    async fn behave(
        &self,
        operation: Operation,
        identity: &ResourceIdentity,
    ) -> Result<(), ProviderError> {
        let latency = self.spec.latency(operation, identity);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match self.spec.faults.get(&(identity.address.clone(), operation)) {
            None => Ok(()),
            Some(Fault::Error) => Err(ProviderError::api(
                format!("{}:{operation}", self.name),
                Some("InjectedFault".to_owned()),
                format!("failure injected on {}", identity.address),
            )),
            #[allow(
                clippy::panic,
                reason = "a provider bug on purpose: tests that the walker survives one"
            )]
            Some(Fault::Panic) => panic!("fake provider bug on {}", identity.address),
        }
    }

    /// Warns through `progress` if the call was chosen to.
    fn warn(&self, operation: Operation, identity: &ResourceIdentity, progress: &Progress) {
        if let Some(message) = self
            .spec
            .warnings
            .get(&(identity.address.clone(), operation))
        {
            progress.warn(message);
        }
    }

    fn store(&self, address: &str, attrs: &Attrs) {
        lock(&self.world.objects).insert(address.to_owned(), attrs.clone());
    }
}

#[async_trait]
impl ResourceClient for FakeClient {
    async fn read(&self, request: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        self.spec.check_type(request.type_name)?;
        let address = &request.identity.address;
        let _call = self.world.enter(Operation::Read, address);
        self.behave(Operation::Read, request.identity).await?;
        Ok(lock(&self.world.objects).get(address).cloned())
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Attrs, ProviderError> {
        self.spec.check_type(request.type_name)?;
        let address = &request.identity.address;
        let _call = self.world.enter(Operation::Create, address);
        self.behave(Operation::Create, request.identity).await?;
        self.warn(Operation::Create, request.identity, &request.progress);
        let generation = {
            let mut generations = lock(&self.world.generations);
            let count = generations.entry(address.clone()).or_insert(0);
            *count += 1;
            *count
        };
        let mut attrs = request.config.clone();
        for (name, compute) in &self.spec.computed {
            attrs.insert(name.clone(), compute(request.identity, request.config));
        }
        attrs.insert("id", format!("{address}-{generation}"));
        self.store(address, &attrs);
        Ok(attrs)
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<Attrs, ProviderError> {
        self.spec.check_type(request.type_name)?;
        let address = &request.identity.address;
        let _call = self.world.enter(Operation::Update, address);
        self.behave(Operation::Update, request.identity).await?;
        self.warn(Operation::Update, request.identity, &request.progress);
        let existing = lock(&self.world.objects).get(address).cloned();
        let prior = existing.as_ref().unwrap_or(request.prior);
        let mut attrs = request.desired.clone();
        let kept = self.spec.computed.iter().map(|(name, _)| name.as_str());
        for name in kept.chain(["id"]) {
            if let Some(value) = prior.get(name) {
                attrs.insert(name, value.clone());
            }
        }
        self.store(address, &attrs);
        Ok(attrs)
    }

    async fn delete(&self, request: DeleteRequest<'_>) -> Result<(), ProviderError> {
        self.spec.check_type(request.type_name)?;
        let address = &request.identity.address;
        let _call = self.world.enter(Operation::Delete, address);
        self.behave(Operation::Delete, request.identity).await?;
        self.warn(Operation::Delete, request.identity, &request.progress);
        lock(&self.world.objects).remove(address);
        Ok(())
    }

    async fn find(&self, request: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        self.spec.check_type(request.type_name)?;
        let address = &request.identity.address;
        let _call = self.world.enter(Operation::Find, address);
        self.behave(Operation::Find, request.identity).await?;
        Ok(lock(&self.world.objects).get(address).cloned())
    }

    async fn import(&self, request: ImportRequest<'_>) -> Result<Attrs, ProviderError> {
        self.spec.check_type(request.type_name)?;
        let _call = self
            .world
            .enter(Operation::Import, &request.identity.address);
        self.behave(Operation::Import, request.identity).await?;
        let objects = lock(&self.world.objects);
        objects
            .values()
            .find(|attrs| attrs.get("id").and_then(Value::as_str) == Some(request.id))
            .cloned()
            .ok_or_else(|| {
                ProviderError::api(
                    format!("{}:import", self.name),
                    Some("NotFound".to_owned()),
                    format!("no object with id {}", request.id),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use cairn_provider_core::Progress;

    use super::*;

    fn identity(address: &str) -> ResourceIdentity {
        ResourceIdentity {
            stack: "s".to_owned(),
            env: "e".to_owned(),
            address: address.to_owned(),
        }
    }

    async fn client(fake: &FakeProvider) -> Arc<dyn ResourceClient> {
        let configured = fake
            .configure(ConfigureRequest {
                config: Attrs::new(),
                stack: "s".to_owned(),
                env: "e".to_owned(),
            })
            .await;
        match configured {
            Ok(client) => client,
            Err(e) => panic!("configure: {e}"),
        }
    }

    async fn create(
        client: &dyn ResourceClient,
        address: &str,
        config: &Attrs,
    ) -> Result<Attrs, ProviderError> {
        let identity = identity(address);
        client
            .create(CreateRequest {
                type_name: identity.resource_type(),
                identity: &identity,
                config,
                timeout: Duration::from_secs(5),
                progress: Progress::noop(),
            })
            .await
    }

    #[tokio::test]
    async fn computed_attributes_are_set_by_create_and_kept_by_update() {
        let fake = FakeProvider::new("fake")
            .resource_type("fake_thing")
            .computed("arn", |identity, config| {
                let input = config.get("input").and_then(Value::as_str).unwrap_or("");
                Value::from(format!("arn:{}:{input}", identity.address))
            });
        let schema = fake.schema();
        let thing = &schema.resources["fake_thing"];
        assert!(!thing.attributes["arn"].is_settable());
        assert!(thing.attributes["trigger"].force_new);
        assert!(thing.attributes["secret"].sensitive);

        let client = client(&fake).await;
        let config = Attrs::new().with("input", "v1");
        let created = create(client.as_ref(), "fake_thing.a", &config).await;
        let created = created.unwrap_or_default();
        assert_eq!(
            created.get("arn").and_then(Value::as_str),
            Some("arn:fake_thing.a:v1")
        );
        let id = created.get("id").cloned();
        assert!(id.is_some());
        assert_eq!(fake.object("fake_thing.a"), Some(created.clone()));

        let identity = identity("fake_thing.a");
        let desired = Attrs::new().with("input", "v2");
        let updated = client
            .update(UpdateRequest {
                type_name: "fake_thing",
                identity: &identity,
                prior: &created,
                desired: &desired,
                changed: &["input".to_owned()],
                timeout: Duration::from_secs(5),
                progress: Progress::noop(),
            })
            .await
            .unwrap_or_default();
        assert_eq!(updated.get("id").cloned(), id);
        assert_eq!(updated.get("arn"), created.get("arn"));
        assert_eq!(updated.get("input").and_then(Value::as_str), Some("v2"));

        let again = create(client.as_ref(), "fake_thing.a", &config).await;
        assert_eq!(
            again.unwrap_or_default().get("id").and_then(Value::as_str),
            Some("fake_thing.a-2"),
            "a replacement gets a new id"
        );
    }

    #[tokio::test]
    async fn chosen_calls_fail_and_the_rest_succeed() {
        let fake = FakeProvider::new("fake")
            .resource_type("fake_thing")
            .fail_on("fake_thing.bad", Operation::Create);
        let client = client(&fake).await;
        let failed = create(client.as_ref(), "fake_thing.bad", &Attrs::new()).await;
        let message = failed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("fake:create: InjectedFault"), "{message}");
        assert_eq!(fake.object("fake_thing.bad"), None, "nothing was created");
        let made = create(client.as_ref(), "fake_thing.good", &Attrs::new()).await;
        assert!(made.is_ok());
        let wrong = create(client.as_ref(), "other_thing.x", &Attrs::new()).await;
        assert!(matches!(wrong, Err(ProviderError::UnsupportedType(_))));
    }

    #[tokio::test]
    async fn latency_is_per_resource_then_type_then_provider() {
        let fake = FakeProvider::new("fake")
            .resource_type("fake_thing")
            .resource_type("fake_slow")
            .latency(Duration::from_millis(1))
            .type_latency("fake_slow", Duration::from_millis(40))
            .resource_latency("fake_thing.slowest", Duration::from_millis(80));
        let spec = &fake.spec;
        let latency = |address: &str| spec.latency(Operation::Create, &identity(address));
        assert_eq!(latency("fake_thing.a"), Duration::from_millis(1));
        assert_eq!(latency("fake_slow.a"), Duration::from_millis(40));
        assert_eq!(latency("fake_thing.slowest"), Duration::from_millis(80));
        assert_eq!(
            spec.latency(Operation::Read, &identity("fake_slow.a")),
            Duration::ZERO
        );

        let client = client(&fake).await;
        let started = Instant::now();
        let made = create(client.as_ref(), "fake_slow.a", &Attrs::new()).await;
        assert!(made.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(40));
    }

    #[tokio::test]
    async fn counters_see_calls_and_the_peak_in_flight() {
        let fake = FakeProvider::new("fake")
            .resource_type("fake_thing")
            .latency(Duration::from_millis(30));
        let client = client(&fake).await;
        let config = Attrs::new();
        let calls = (0..4).map(|i| {
            let client = Arc::clone(&client);
            let config = config.clone();
            async move { create(client.as_ref(), &format!("fake_thing.r{i}"), &config).await }
        });
        let results: Vec<_> = spawn_all(calls).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(fake.calls(Operation::Create), 4);
        assert_eq!(fake.calls(Operation::Configure), 1);
        assert_eq!(fake.peak_in_flight(), 4, "all four overlapped");
        let events = fake.events();
        let starts = events.iter().filter(|e| e.phase == Phase::Started).count();
        let ends = events.iter().filter(|e| e.phase == Phase::Finished).count();
        assert_eq!((starts, ends), (5, 5), "{events:?}");
        assert_eq!(fake.addresses().len(), 4);

        fake.reset_counters();
        assert_eq!(fake.calls(Operation::Create), 0);
        assert_eq!(fake.peak_in_flight(), 0);
        assert!(fake.events().is_empty());
        assert_eq!(fake.addresses().len(), 4, "objects stay");
    }

    /// Runs the futures as concurrent tasks and collects their results in order.
    async fn spawn_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for handle in handles {
            match handle.await {
                Ok(value) => out.push(value),
                Err(e) => panic!("task: {e}"),
            }
        }
        out
    }

    #[tokio::test]
    async fn find_adopts_a_seeded_object_and_import_finds_by_id() {
        let fake = FakeProvider::new("fake").resource_type("fake_thing");
        let seeded = Attrs::new().with("id", "x-1").with("input", "v");
        fake.seed("fake_thing.x", seeded.clone());
        let client = client(&fake).await;
        let identity = identity("fake_thing.x");
        let found = client
            .find(FindRequest {
                type_name: "fake_thing",
                identity: &identity,
                config: &Attrs::new(),
            })
            .await
            .unwrap_or_default();
        assert_eq!(found, Some(seeded.clone()));
        let imported = client
            .import(ImportRequest {
                type_name: "fake_thing",
                identity: &identity,
                id: "x-1",
            })
            .await
            .unwrap_or_default();
        assert_eq!(imported, seeded);
        fake.remove_object("fake_thing.x");
        let read = client
            .read(ReadRequest {
                type_name: "fake_thing",
                identity: &identity,
                state: &seeded,
            })
            .await
            .unwrap_or_default();
        assert_eq!(read, None, "gone behind cairn's back");
    }
}
