//! Group commit keeps the durability promise of the state journal: records of operations
//! that complete together share one write, yet an operation's create intent is durable
//! before its provider call, a completed operation is durable before anything that depends
//! on it starts and before it is reported, and a kill loses only operations in flight.
//!
//! The in-process tests read the state from disk (as a crash would leave it) at each
//! provider call and each report; the kill test SIGKILLs `cairn apply` mid-walk.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cairn::addr::ResourceAddr;
use cairn::apply::{self, ApplyInput, ApplyObserver, ApplyOptions};
use cairn::graph::ResourceGraph;
use cairn::plan::{self, Action, PlanInput, PlanOptions};
use cairn::providers::{Clients, Registry};
use cairn::stack::{self, LoadOptions};
use cairn::state::{self, StateStore, WriteStats};
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, ConfigureRequest, CreateRequest, DeleteRequest, FindRequest,
    ImportRequest, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceClient,
    ResourceSchema, UpdateRequest,
};
use proptest::prelude::*;

/// What each check found wrong, shared by the provider and the observer.
type Violations = Arc<Mutex<Vec<String>>>;

/// Checks, at each call, what the state on disk holds.
#[derive(Clone)]
struct Checking {
    state: PathBuf,
    /// Each resource's dependencies, by address.
    deps: Arc<BTreeMap<String, Vec<String>>>,
    violations: Violations,
}

impl Checking {
    fn on_disk(&self) -> Option<state::StateFile> {
        match state::read(&self.state) {
            Ok(state) => state,
            Err(e) => {
                self.violate(format!("the state does not open: {e}"));
                None
            }
        }
    }

    fn violate(&self, what: String) {
        self.violations.lock().expect("violations").push(what);
    }

    fn recorded(state: Option<&state::StateFile>, address: &str) -> bool {
        state.is_some_and(|s| s.resources.keys().any(|a| a.to_string() == address))
    }

    /// Uneven short waits, some none, so operations complete together and apart.
    async fn pause(address: &str) {
        let millis = address.bytes().map(u64::from).sum::<u64>() % 3;
        if millis > 0 {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
    }
}

#[async_trait]
impl Provider for Checking {
    fn name(&self) -> &'static str {
        "chk"
    }
    fn schema(&self) -> ProviderSchema {
        let mut schema = ProviderSchema::default();
        schema.resources.insert(
            "chk_data".to_owned(),
            ResourceSchema::new("checked").attr("input", AttrSchema::optional(AttrType::Any)),
        );
        schema
    }
    async fn configure(
        &self,
        _: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        Ok(Arc::new(self.clone()))
    }
}

#[async_trait]
impl ResourceClient for Checking {
    async fn read(&self, r: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        Ok(Some(r.state.clone()))
    }
    async fn create(&self, r: CreateRequest<'_>) -> Result<Attrs, ProviderError> {
        let me = r.identity.address.clone();
        let disk = self.on_disk();
        if !disk
            .as_ref()
            .is_some_and(|s| s.pending.keys().any(|a| a.to_string() == me))
        {
            self.violate(format!("{me} was created before its intent was durable"));
        }
        for dep in self.deps.get(&me).into_iter().flatten() {
            if !Checking::recorded(disk.as_ref(), dep) {
                self.violate(format!(
                    "{me} started before its dependency {dep} was durable"
                ));
            }
        }
        Checking::pause(&me).await;
        Ok(r.config.clone().with("id", me))
    }
    async fn update(&self, r: UpdateRequest<'_>) -> Result<Attrs, ProviderError> {
        Ok(r.desired.clone())
    }
    async fn delete(&self, r: DeleteRequest<'_>) -> Result<(), ProviderError> {
        let me = r.identity.address.clone();
        let disk = self.on_disk();
        for (dependent, deps) in self.deps.iter() {
            if deps.contains(&me) && Checking::recorded(disk.as_ref(), dependent) {
                self.violate(format!(
                    "{me} was deleted before the removal of its dependent {dependent} was durable"
                ));
            }
        }
        Checking::pause(&me).await;
        Ok(())
    }
    async fn find(&self, _: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        Ok(None)
    }
    async fn import(&self, r: ImportRequest<'_>) -> Result<Attrs, ProviderError> {
        Ok(Attrs::new().with("id", r.id))
    }
}

/// Checks that what is reported finished is durable.
struct Reporter(Checking);

impl ApplyObserver for Reporter {
    fn started(&self, _: &ResourceAddr, _: &'static str) {}
    fn progress(&self, _: &ResourceAddr, _: &str) {}
    fn warning(&self, _: &ResourceAddr, _: &str) {}
    fn finished(&self, addr: &ResourceAddr, action: Action, _: Duration, _: Option<String>) {
        let address = addr.to_string();
        let recorded = Checking::recorded(self.0.on_disk().as_ref(), &address);
        if recorded == (action == Action::Delete) {
            self.0.violate(format!(
                "{address} was reported {action:?} before that was durable"
            ));
        }
    }
    fn failed(&self, _: &ResourceAddr, _: Duration) {}
}

/// A stack where resource `i` references each `j` in `deps[i]`.
fn stack_toml(deps: &[Vec<usize>]) -> String {
    let mut toml = String::from("[stack]\nname = \"group\"\n");
    for (i, list) in deps.iter().enumerate() {
        let refs: Vec<String> = list
            .iter()
            .map(|j| format!("\"${{chk_data.r{j}.id}}\""))
            .collect();
        let _ = writeln!(
            toml,
            "\n[resources.chk_data.r{i}]\ninput = [\"r{i}\", {}]",
            refs.join(", ")
        );
    }
    toml
}

fn dependency_map(deps: &[Vec<usize>]) -> BTreeMap<String, Vec<String>> {
    deps.iter()
        .enumerate()
        .map(|(i, list)| {
            (
                format!("chk_data.r{i}"),
                list.iter().map(|j| format!("chk_data.r{j}")).collect(),
            )
        })
        .collect()
}

/// Plans and applies (or destroys) the stack in `dir`; returns whether it succeeded and
/// what the store wrote.
async fn walk(
    dir: &Path,
    checking: &Checking,
    destroy: bool,
    parallelism: usize,
) -> (bool, WriteStats) {
    let registry = Registry::with_providers(vec![Arc::new(checking.clone())]);
    let loaded = stack::load(dir, &LoadOptions::default(), registry.schemas()).expect("loads");
    let graph = ResourceGraph::build(&loaded).expect("acyclic");
    let mut store =
        StateStore::open(&checking.state, &loaded.name, &loaded.env, "test").expect("opens");
    let clients = Clients::new(&loaded.name, &loaded.env);
    let plan = {
        let input = PlanInput {
            stack: &loaded,
            graph: &graph,
            registry: &registry,
            clients: &clients,
            state: store.state(),
            hasher: store.hasher(),
        };
        let options = PlanOptions {
            destroy,
            ..PlanOptions::default()
        };
        plan::build(input, &options).await.expect("plans")
    };
    let input = ApplyInput {
        stack: &loaded,
        registry: &registry,
        clients: &clients,
        plan: &plan,
    };
    let outcome = apply::apply(
        input,
        &mut store,
        ApplyOptions { parallelism },
        Arc::new(Reporter(checking.clone())),
        None,
    )
    .await;
    let stats = store.stats();
    store.close().expect("closes");
    (outcome.is_success(), stats)
}

fn checking(dir: &Path, deps: &[Vec<usize>]) -> Checking {
    std::fs::write(dir.join("stack.toml"), stack_toml(deps)).expect("write stack");
    Checking {
        state: dir.join("state.json"),
        deps: Arc::new(dependency_map(deps)),
        violations: Violations::default(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Twenty independent roots, each with a dependent: operations complete together, so they
/// share writes, and no check fails.
#[test]
fn operations_completing_together_share_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deps: Vec<Vec<usize>> = (0..40)
        .map(|i| if i < 20 { vec![] } else { vec![i - 20] })
        .collect();
    let checking = checking(dir.path(), &deps);
    let runtime = runtime();
    let (ok, stats) = runtime.block_on(walk(dir.path(), &checking, false, 8));
    assert!(ok, "apply succeeds");
    assert_eq!(
        *checking.violations.lock().expect("violations"),
        Vec::<String>::new()
    );
    // An intent and a result per resource, and the outputs.
    assert_eq!(stats.journal_records, 81);
    assert!(
        stats.journal_writes * 2 <= stats.journal_records,
        "records completed together share writes: {stats:?}"
    );
    let (ok, _) = runtime.block_on(walk(dir.path(), &checking, true, 8));
    assert!(ok, "destroy succeeds");
    assert_eq!(
        *checking.violations.lock().expect("violations"),
        Vec::<String>::new()
    );
}

fn dags() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..30).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                if i == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    proptest::collection::btree_set(0..i, 0..=i.min(3))
                        .prop_map(|set| set.into_iter().collect::<Vec<_>>())
                        .boxed()
                }
            })
            .collect::<Vec<_>>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// On random DAGs at any parallelism: every intent is durable before its create,
    /// every record before what depends on it starts and before it is reported.
    #[test]
    fn nothing_starts_or_is_reported_before_what_it_needs_is_durable(
        deps in dags(),
        parallelism in 1usize..10,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let checking = checking(dir.path(), &deps);
        let runtime = runtime();
        let (applied, _) = runtime.block_on(walk(dir.path(), &checking, false, parallelism));
        prop_assert!(applied);
        let (destroyed, _) = runtime.block_on(walk(dir.path(), &checking, true, parallelism));
        prop_assert!(destroyed);
        let violations = checking.violations.lock().expect("violations").clone();
        prop_assert!(violations.is_empty(), "{:#?}", violations);
    }
}

/// `cairn apply --json` killed mid-walk: every resource it reported finished is in the
/// state it left, and the next apply completes the rest.
#[test]
fn a_kill_loses_only_operations_in_flight() {
    let cairn = env!("CARGO_BIN_EXE_cairn");
    let n = 2_000;
    for kill_after in [1, 300, 1_200] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut toml =
            String::from("[stack]\nname = \"killed\"\n\n[resources.cairn_data.r0]\ninput = 0\n");
        for i in 1..n {
            let _ = write!(
                toml,
                "\n[resources.cairn_data.r{i}]\ninput = \"${{cairn_data.r{}.id}}\"\n",
                (i - 1) / 4
            );
        }
        std::fs::write(dir.path().join("stack.toml"), toml).expect("write stack");
        let state_file = dir.path().join("state.json");
        let args = |command: &str| {
            let mut c = Command::new(cairn);
            c.arg(command)
                .arg(dir.path())
                .arg("--state")
                .arg(&state_file)
                .args(["--auto-approve", "--json"])
                .stdin(Stdio::null())
                .stderr(Stdio::null());
            c
        };
        let mut child = args("apply")
            .stdout(Stdio::piped())
            .spawn()
            .expect("cairn runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut reported = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event["type"] == "finished" {
                if let Some(address) = event["address"].as_str() {
                    reported.push(address.to_owned());
                }
                if reported.len() == kill_after {
                    child.kill().expect("kill");
                    break;
                }
            }
        }
        child.wait().expect("reaped");
        let left = state::read(&state_file)
            .expect("the state opens")
            .expect("a state");
        let recorded: Vec<String> = left.resources.keys().map(ToString::to_string).collect();
        let missing: Vec<&String> = reported.iter().filter(|a| !recorded.contains(a)).collect();
        assert!(
            missing.is_empty(),
            "killed after {kill_after} reports: reported but not in state: {missing:?}"
        );
        let finished = args("apply")
            .stdout(Stdio::null())
            .status()
            .expect("cairn runs");
        assert!(finished.success(), "the next apply completes");
        let done = state::read(&state_file).expect("opens").expect("a state");
        assert_eq!(done.resources.len(), n, "after the kill at {kill_after}");
        assert!(done.pending.is_empty());
    }
}
