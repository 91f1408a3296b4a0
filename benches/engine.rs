//! Engine benchmarks on generated `cairn_data` stacks: load + graph, plan against an
//! empty state, apply, re-plan with everything in state (which must show no changes) and
//! destroy, for chains (every resource depends on the previous one), fans (every
//! resource depends on one root) and one `for_each` of 10,000 instances over a map
//! variable (each instance depends on one root). Prints one line per case and the
//! process's peak RSS.
//!
//! Run with `cargo bench --no-default-features --bench engine`.

#![allow(
    clippy::panic,
    clippy::print_stdout,
    reason = "a benchmark binary: it prints its figures and stops loudly if a step fails"
)]

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn::addr::ResourceAddr;
use cairn::apply::{self, ApplyInput, ApplyObserver, ApplyOptions};
use cairn::graph::ResourceGraph;
use cairn::plan::{self, Action, PlanInput, PlanOptions};
use cairn::providers::{Clients, Registry};
use cairn::stack::{self, LoadOptions, Stack};
use cairn::state::StateStore;

const SIZES: [usize; 2] = [1_000, 5_000];
/// Resources in the `for_each` case: a root and one block of `FOR_EACH_SIZE - 1` instances.
const FOR_EACH_SIZE: usize = 10_000;

#[derive(Clone, Copy)]
enum Shape {
    Chain,
    Fan,
    ForEach,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::Fan => "fan",
            Shape::ForEach => "for_each",
        }
    }

    fn for_size(n: usize) -> Vec<Shape> {
        if n == FOR_EACH_SIZE {
            vec![Shape::ForEach]
        } else {
            vec![Shape::Chain, Shape::Fan]
        }
    }
}

struct Quiet;

impl ApplyObserver for Quiet {
    fn started(&self, _: &ResourceAddr, _: &'static str) {}
    fn progress(&self, _: &ResourceAddr, _: &str) {}
    fn finished(&self, _: &ResourceAddr, _: Action, _: Duration, _: Option<String>) {}
    fn failed(&self, _: &ResourceAddr, _: Duration) {}
}

fn stack_toml(shape: Shape, n: usize) -> String {
    let mut toml = String::from(
        "[stack]\nname = \"bench\"\n\n[resources.cairn_data.r0]\ninput = { n = 0, tag = \"root\" }\n",
    );
    if let Shape::ForEach = shape {
        let items: Vec<String> = (1..n).map(|i| format!("k{i} = {i}")).collect();
        let _ = write!(
            toml,
            "\n[variables.items]\ntype = \"map\"\ndefault = {{ {} }}\n\n[resources.cairn_data.each]\nfor_each = \"${{var.items}}\"\ninput = {{ n = \"${{each.value}}\", key = \"${{each.key}}\", parent = \"${{cairn_data.r0.id}}\" }}\n",
            items.join(", ")
        );
        return toml;
    }
    for i in 1..n {
        let parent = match shape {
            Shape::Chain => i - 1,
            Shape::Fan | Shape::ForEach => 0,
        };
        let _ = write!(
            toml,
            "\n[resources.cairn_data.r{i}]\ninput = {{ n = {i}, parent = \"${{cairn_data.r{parent}.id}}\" }}\n"
        );
    }
    toml
}

fn load(dir: &Path, registry: &Registry) -> (Stack, ResourceGraph) {
    let Ok(loaded) = stack::load(dir, &LoadOptions::default(), registry.schemas()) else {
        panic!("generated stack does not load");
    };
    let Ok(graph) = ResourceGraph::build(&loaded) else {
        panic!("generated stack has a cycle");
    };
    (loaded, graph)
}

async fn plan_once(
    loaded: &Stack,
    graph: &ResourceGraph,
    registry: &Registry,
    store: &StateStore,
    clients: &Clients,
) -> plan::Plan {
    let input = PlanInput {
        stack: loaded,
        graph,
        registry,
        clients,
        state: store.state(),
        hasher: store.hasher(),
    };
    match plan::build(input, &PlanOptions::default()).await {
        Ok(plan) => plan,
        Err(e) => panic!("plan failed: {e}"),
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn ms(d: Duration) -> String {
    format!("{:>8.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let registry = Registry::builtin();
    println!(
        "{:<12} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "case", "load+graph", "plan(empty)", "apply", "re-plan", "destroy"
    );
    for n in SIZES.into_iter().chain([FOR_EACH_SIZE]) {
        for shape in Shape::for_size(n) {
            let Ok(dir) = tempfile::tempdir() else {
                panic!("temp dir")
            };
            if std::fs::write(dir.path().join("stack.toml"), stack_toml(shape, n)).is_err() {
                panic!("write stack");
            }

            let started = Instant::now();
            let (loaded, graph) = load(dir.path(), &registry);
            let load_time = started.elapsed();

            let Ok(mut store) = StateStore::open(
                &dir.path().join("state.json"),
                &loaded.name,
                &loaded.env,
                "bench",
            ) else {
                panic!("state opens");
            };
            let clients = Clients::new(&loaded.name, &loaded.env);
            let started = Instant::now();
            let first = runtime.block_on(plan_once(&loaded, &graph, &registry, &store, &clients));
            let plan_time = started.elapsed();
            assert_eq!(first.summary().add, n);

            let started = Instant::now();
            let input = ApplyInput {
                stack: &loaded,
                registry: &registry,
                clients: &clients,
                plan: &first,
            };
            let outcome = runtime.block_on(apply::apply(
                input,
                &mut store,
                ApplyOptions::default(),
                Arc::new(Quiet),
                None,
            ));
            let apply_time = started.elapsed();
            assert!(outcome.is_success(), "apply failed: {:?}", outcome.failures);
            // Each phase is its own `cairn` run in real use: what one phase planned is not
            // alive in the next.
            drop(first);

            let started = Instant::now();
            let again = runtime.block_on(plan_once(&loaded, &graph, &registry, &store, &clients));
            let replan_time = started.elapsed();
            assert!(!again.has_changes(), "re-plan must show no changes");
            drop(again);

            let started = Instant::now();
            let teardown = runtime.block_on(async {
                let input = PlanInput {
                    stack: &loaded,
                    graph: &graph,
                    registry: &registry,
                    clients: &clients,
                    state: store.state(),
                    hasher: store.hasher(),
                };
                let options = PlanOptions {
                    destroy: true,
                    ..PlanOptions::default()
                };
                match plan::build(input, &options).await {
                    Ok(plan) => plan,
                    Err(e) => panic!("destroy plan failed: {e}"),
                }
            });
            let input = ApplyInput {
                stack: &loaded,
                registry: &registry,
                clients: &clients,
                plan: &teardown,
            };
            let outcome = runtime.block_on(apply::apply(
                input,
                &mut store,
                ApplyOptions::default(),
                Arc::new(Quiet),
                None,
            ));
            let destroy_time = started.elapsed();
            assert!(
                outcome.is_success() && store.state().resources.is_empty(),
                "destroy failed"
            );
            drop(store);

            println!(
                "{:<12} {} {} {} {} {}",
                format!("{} {n}", shape.name()),
                ms(load_time),
                ms(plan_time),
                ms(apply_time),
                ms(replan_time),
                ms(destroy_time)
            );
        }
    }
    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
}
