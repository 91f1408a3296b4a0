//! Refresh cost: how many API calls a `plan` with refresh makes for `stacks/airflow`
//! (`--env dev`, then `--env prod`), per resource type. The stack is applied by the
//! `cairn` binary to moto and the Kubernetes mock; then the plan runs in-process with
//! every provider wrapped so each read is charged the requests it made: to moto through a
//! counting proxy, to the mock by its request log. Reads run one at a time here
//! (parallelism 1), so the requests between a read's start and end (one read, or one
//! batch of a type) are its own.
//!
//! It checks the budget of issue 15: no more API calls than resources for the whole
//! stack. Types AWS can describe in batches (subnets, route tables, roles, secrets) pay
//! for those that take one call per setting (an S3 bucket's six, a KMS key's four), and
//! Kubernetes objects are read at their recorded API resource, with no discovery. It
//! counts calls, not time. The table per type prints with
//! `cargo test --test refresh_cost -- --nocapture`. Needs `moto_server` on PATH.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

#[path = "support/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cairn::graph::ResourceGraph;
use cairn::plan::{self, PlanInput, PlanOptions};
use cairn::providers::{Clients, Registry};
use cairn::stack::{self, LoadOptions};
use cairn::state::{Location, StateView};
use cairn_kube_mock::{MockServer, Options};
use cairn_moto::Moto;
use cairn_provider_core::{
    Attrs, ConfigureRequest, CreateRequest, DeleteRequest, FindRequest, ImportRequest,
    PlanAdjustments, PlanRequest, Provider, ProviderError, ProviderSchema, ReadDataRequest,
    ReadManyRequest, ReadRequest, ResourceClient, ResourceSchema, UpdateRequest,
};

const STACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/airflow");

/// Requests made so far, to moto and to the mock together.
type Counter = Arc<dyn Fn() -> usize + Send + Sync>;

/// Per resource type: resources read, and the requests their reads made.
type Ledger = Arc<Mutex<BTreeMap<String, (usize, usize)>>>;

struct Counting {
    inner: Arc<dyn Provider>,
    counter: Counter,
    ledger: Ledger,
}

#[async_trait]
impl Provider for Counting {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn schema(&self) -> ProviderSchema {
        self.inner.schema()
    }
    fn data_sources(&self) -> BTreeMap<String, ResourceSchema> {
        self.inner.data_sources()
    }
    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        self.inner.plan(request)
    }
    async fn configure(
        &self,
        request: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        let before = (self.counter)();
        let client = self.inner.configure(request).await?;
        let made = (self.counter)() - before;
        let mut ledger = self.ledger.lock().unwrap();
        let entry = ledger
            .entry(format!("(configure {})", self.inner.name()))
            .or_default();
        entry.0 += 1;
        entry.1 += made;
        drop(ledger);
        Ok(Arc::new(CountingClient {
            inner: client,
            counter: Arc::clone(&self.counter),
            ledger: Arc::clone(&self.ledger),
        }))
    }
}

struct CountingClient {
    inner: Arc<dyn ResourceClient>,
    counter: Counter,
    ledger: Ledger,
}

#[async_trait]
impl ResourceClient for CountingClient {
    async fn read(&self, r: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        let type_name = r.type_name.to_owned();
        let before = (self.counter)();
        let read = self.inner.read(r).await;
        let made = (self.counter)() - before;
        let mut ledger = self.ledger.lock().unwrap();
        let entry = ledger.entry(type_name).or_default();
        entry.0 += 1;
        entry.1 += made;
        read
    }
    fn reads_many(&self, type_name: &str) -> bool {
        self.inner.reads_many(type_name)
    }
    async fn read_many(&self, r: ReadManyRequest<'_>) -> Vec<Result<Option<Attrs>, ProviderError>> {
        let type_name = r.type_name.to_owned();
        let count = r.reads.len();
        let before = (self.counter)();
        let read = self.inner.read_many(r).await;
        let made = (self.counter)() - before;
        let mut ledger = self.ledger.lock().unwrap();
        let entry = ledger.entry(type_name).or_default();
        entry.0 += count;
        entry.1 += made;
        read
    }
    async fn create(&self, r: CreateRequest<'_>) -> Result<Attrs, ProviderError> {
        self.inner.create(r).await
    }
    async fn update(&self, r: UpdateRequest<'_>) -> Result<Attrs, ProviderError> {
        self.inner.update(r).await
    }
    async fn delete(&self, r: DeleteRequest<'_>) -> Result<(), ProviderError> {
        self.inner.delete(r).await
    }
    async fn find(&self, r: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        self.inner.find(r).await
    }
    async fn import(&self, r: ImportRequest<'_>) -> Result<Attrs, ProviderError> {
        self.inner.import(r).await
    }
    /// Data sources read at plan time count in the total, not as resources.
    async fn read_data(&self, r: ReadDataRequest<'_>) -> Result<Attrs, ProviderError> {
        let label = format!("(data {})", r.type_name);
        let before = (self.counter)();
        let read = self.inner.read_data(r).await;
        let made = (self.counter)() - before;
        let mut ledger = self.ledger.lock().unwrap();
        let entry = ledger.entry(label).or_default();
        entry.0 += 1;
        entry.1 += made;
        read
    }
}

#[test]
fn refresh_of_the_airflow_stack_makes_no_more_api_calls_than_resources() {
    // One after the other: each sets the process's AWS endpoint to its own moto.
    for env in ["dev", "prod"] {
        refresh_within_budget(env);
    }
}

fn refresh_within_budget(env: &str) {
    let mock = Arc::new(
        MockServer::start_blocking(Options {
            auto_ready: true,
            ..Options::default()
        })
        .expect("the mock API server starts"),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    mock.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let kubeconfig = kubeconfig.display().to_string();
    let moto = Moto::start();
    let state = dir.path().join("state.json");

    let applied = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args([
            "apply",
            STACK_DIR,
            "--env",
            env,
            "--auto-approve",
            "--state",
        ])
        .arg(&state)
        .args(["--var", &format!("kubeconfig={kubeconfig}")])
        // moto has no EKS add-on API (see tests/airflow_e2e.rs).
        .args(["--var", "eks_managed_addons=false"])
        .envs(moto.child_env())
        .env("NO_COLOR", "1")
        .output()
        .expect("cairn runs");
    assert!(
        applied.status.success(),
        "apply failed:\n{}{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );

    let proxy = proxy::FaultProxy::start(&moto.endpoint, proxy::Rules::default());
    for (name, value) in moto.child_env() {
        let value = if name == "AWS_ENDPOINT_URL" {
            proxy.endpoint.clone()
        } else {
            value
        };
        // SAFETY: this test crate has this one test, which checks one environment at a
        // time, and nothing else in the process reads the environment while it is set:
        // the SDK reads it at configure, later.
        unsafe { std::env::set_var(name, value) };
    }
    let stats = Arc::clone(&proxy.stats);
    let kube = Arc::clone(&mock);
    let counter: Counter = Arc::new(move || {
        stats.requests.load(Ordering::SeqCst) + kube.request_counts().values().sum::<usize>()
    });
    let ledger = Ledger::default();
    let builtin = Registry::builtin();
    let wrapped: Vec<Arc<dyn Provider>> = ["cairn", "aws", "kubernetes"]
        .iter()
        .map(|name| {
            let inner = Arc::clone(builtin.get(name).expect("a built-in provider"));
            Arc::new(Counting {
                inner,
                counter: Arc::clone(&counter),
                ledger: Arc::clone(&ledger),
            }) as Arc<dyn Provider>
        })
        .collect();
    let registry = Registry::with_providers(wrapped);
    let options = LoadOptions {
        env: Some(env.to_owned()),
        vars: vec![
            ("kubeconfig".to_owned(), kubeconfig),
            ("eks_managed_addons".to_owned(), "false".to_owned()),
        ],
        ..LoadOptions::default()
    };
    let loaded =
        stack::load(Path::new(STACK_DIR), &options, registry.schemas()).expect("the stack loads");
    let graph = ResourceGraph::build(&loaded).expect("acyclic");
    let view = StateView::read(&Location::Local(state), &loaded.name, &loaded.env)
        .expect("the state reads");
    let clients = Clients::new(&loaded.name, &loaded.env);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let before = counter();
    let planned = runtime
        .block_on(plan::build(
            PlanInput {
                stack: &loaded,
                graph: &graph,
                registry: &registry,
                clients: &clients,
                state: &view.state,
                hasher: &view.hasher,
            },
            &PlanOptions {
                parallelism: 1,
                ..PlanOptions::default()
            },
        ))
        .expect("plans");
    let total = counter() - before;
    assert!(!planned.has_changes(), "the re-plan shows no changes");

    let ledger = ledger.lock().unwrap();
    let resources: usize = ledger
        .iter()
        .filter(|(name, _)| !name.starts_with('('))
        .map(|(_, (n, _))| n)
        .sum();
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        format!("resource type (--env {env})"),
        "resources",
        "calls",
        "per res."
    );
    for (type_name, (n, calls)) in ledger.iter() {
        println!(
            "{:<34} {:>9} {:>9} {:>9.1}",
            type_name,
            n,
            calls,
            *calls as f64 / *n as f64
        );
    }
    println!(
        "{:<34} {:>9} {:>9} {:>9.1}",
        "total (plan with refresh)",
        resources,
        total,
        total as f64 / resources as f64
    );
    assert_eq!(
        resources,
        view.state.resources.len(),
        "every recorded resource was read once"
    );
    assert!(
        total <= resources,
        "--env {env}: the refresh made {total} API calls for {resources} resources"
    );
}
