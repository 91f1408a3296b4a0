//! Makespan of the apply walker on random DAGs whose creates sleep a random latency
//! (`cairn-provider-fake`), against two bounds that only the DAG and the latencies set:
//!
//! - with parallelism not the limit (P = N), the critical path (the longest chain of
//!   latencies): the walk can never be faster, and should be barely slower;
//! - with `--parallelism P`, a simulated list schedule that starts a ready operation the
//!   moment one of P slots is free (in the walker's ready order): a walk that ever left a
//!   slot idle while an operation was ready would be slower than it. The fake's peak of
//!   calls in flight shows P is reached and never exceeded.
//!
//! The state is a real local journal (two fsyncs per operation on its path: the create
//! intent and the result), in a temp dir, or under `CAIRN_BENCH_STATE_DIR` (e.g.
//! `/dev/shm` to leave the disk out).
//!
//! Run with `cargo bench --no-default-features --bench makespan`. Environment:
//! `CAIRN_BENCH_NODES` (default 200), `CAIRN_BENCH_SEEDS` (default 3).

#![allow(
    clippy::panic,
    clippy::print_stdout,
    reason = "a benchmark binary: it prints its figures and stops loudly if a step fails"
)]

#[path = "../tests/support/engine.rs"]
#[allow(
    dead_code,
    reason = "shared with the engine tests; a benchmark uses part of it"
)]
mod engine;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn::apply::ApplyOptions;
use cairn::plan::PlanOptions;
use cairn::providers::Registry;
use cairn_provider_fake::FakeProvider;
use engine::Run;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A random DAG: each node's parents (all earlier) and its create latency.
struct Dag {
    parents: Vec<Vec<usize>>,
    latency: Vec<Duration>,
}

impl Dag {
    fn random(n: usize, seed: u64) -> Dag {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut parents = Vec::with_capacity(n);
        let mut latency = Vec::with_capacity(n);
        for i in 0..n {
            let mut mine: Vec<usize> = if i == 0 {
                Vec::new()
            } else {
                (0..rng.random_range(0..=3usize))
                    .map(|_| rng.random_range(0..i))
                    .collect()
            };
            mine.sort_unstable();
            mine.dedup();
            parents.push(mine);
            latency.push(Duration::from_millis(rng.random_range(5..=60)));
        }
        Dag { parents, latency }
    }

    /// The longest chain of latencies.
    fn critical_path(&self) -> Duration {
        let mut finish: Vec<Duration> = Vec::with_capacity(self.parents.len());
        for (i, parents) in self.parents.iter().enumerate() {
            let start = parents.iter().map(|&p| finish[p]).max().unwrap_or_default();
            finish.push(start + self.latency[i]);
        }
        finish.into_iter().max().unwrap_or_default()
    }

    /// The makespan of a list schedule on `p` slots that starts ready operations in
    /// first-ready order whenever a slot is free (ties by index, as the plan orders them).
    fn list_schedule(&self, p: usize) -> Duration {
        let n = self.parents.len();
        let mut children = vec![Vec::new(); n];
        let mut waiting: Vec<usize> = self.parents.iter().map(Vec::len).collect();
        for (i, parents) in self.parents.iter().enumerate() {
            for &q in parents {
                children[q].push(i);
            }
        }
        let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
        // (finish time, node) of operations in flight.
        let mut running: Vec<(Duration, usize)> = Vec::new();
        let mut now = Duration::ZERO;
        let mut done = 0;
        while done < n {
            while running.len() < p {
                let Some(i) = ready.pop_front() else { break };
                running.push((now + self.latency[i], i));
            }
            running.sort_unstable();
            let (finish, i) = running.remove(0);
            now = finish;
            done += 1;
            for &c in &children[i] {
                waiting[c] -= 1;
                if waiting[c] == 0 {
                    ready.push_back(c);
                }
            }
        }
        now
    }

    fn stack_toml(&self) -> String {
        let mut toml = String::from("[stack]\nname = \"makespan\"\n");
        for (i, parents) in self.parents.iter().enumerate() {
            let refs: Vec<String> = parents
                .iter()
                .map(|p| format!("\"${{fake_thing.r{p:04}.id}}\""))
                .collect();
            let _ = write!(
                toml,
                "\n[resources.fake_thing.r{i:04}]\ninput = [{}]\n",
                refs.join(", ")
            );
        }
        toml
    }

    fn provider(&self) -> FakeProvider {
        self.latency.iter().enumerate().fold(
            FakeProvider::new("fake").resource_type("fake_thing"),
            |fake, (i, &latency)| fake.resource_latency(format!("fake_thing.r{i:04}"), latency),
        )
    }
}

/// Applies `dag` at `parallelism` from an empty state in `state_dir`; returns the walk's
/// wall time and the fake's peak of creates in flight.
fn walk(
    runtime: &tokio::runtime::Runtime,
    dag: &Dag,
    parallelism: usize,
    state_dir: &Path,
) -> (Duration, usize) {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("temp dir")
    };
    if let Err(e) = std::fs::write(dir.path().join("stack.toml"), dag.stack_toml()) {
        panic!("write stack: {e}");
    }
    let fake = dag.provider();
    let registry = Registry::with_providers(vec![Arc::new(fake.clone())]);
    let Ok(state) = tempfile::tempdir_in(state_dir) else {
        panic!("state dir")
    };
    let mut run = Run::open_with_state(dir.path(), &state.path().join("state.json"), &registry);
    let plan = runtime.block_on(run.plan(&PlanOptions::default()));
    fake.reset_counters();
    let started = Instant::now();
    let outcome = runtime.block_on(run.apply(&plan, ApplyOptions { parallelism }));
    let elapsed = started.elapsed();
    assert!(outcome.is_success(), "apply failed: {:?}", outcome.failures);
    drop(run);
    (elapsed, fake.peak_in_flight())
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => match v.parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("{name}: `{v}` is not a positive number"),
        },
        Err(_) => default,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n = env_number("CAIRN_BENCH_NODES", 200);
    let seeds = env_number("CAIRN_BENCH_SEEDS", 3);
    let state_dir =
        std::env::var_os("CAIRN_BENCH_STATE_DIR").map_or_else(std::env::temp_dir, Into::into);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    println!(
        "{n} operations per DAG, create latencies 5-60 ms, up to 3 parents each; state under {}",
        state_dir.display()
    );
    println!(
        "{:>4} {:>5} {:>12} {:>12} {:>10} {:>10} {:>9}",
        "seed", "P", "bound ms", "makespan ms", "ratio", "excess ms", "peak"
    );
    for seed in 1..=seeds as u64 {
        let dag = Dag::random(n, seed);
        for p in [n, 16, 8, 4, 2] {
            // Unlimited parallelism is bounded by the critical path, else by the list
            // schedule on P slots.
            let bound = if p >= n {
                dag.critical_path()
            } else {
                dag.list_schedule(p)
            };
            let (makespan, peak) = walk(&runtime, &dag, p, &state_dir);
            println!(
                "{:>4} {:>5} {:>12.1} {:>12.1} {:>10.3} {:>10.1} {:>9}",
                seed,
                if p >= n {
                    "N".to_owned()
                } else {
                    p.to_string()
                },
                ms(bound),
                ms(makespan),
                makespan.as_secs_f64() / bound.as_secs_f64(),
                ms(makespan.saturating_sub(bound)),
                peak
            );
        }
    }
}
