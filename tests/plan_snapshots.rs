//! The rendered plan (what `cairn plan` prints) as insta snapshots:
//! - a matrix of fixtures in `tests/fixtures/plans/<case>/`: `prior.toml`, when present,
//!   is applied first through the fake provider (`cairn-provider-fake`, which computes
//!   `id` and `arn`), then `stack.toml` is planned against that state;
//! - `cairn plan stacks/airflow` for the dev and prod environments, offline.
//!
//! Refresh them with `INSTA_UPDATE=always cargo test --test plan_snapshots`, and review the
//! diff: a changed snapshot is a changed plan.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

#[path = "support/engine.rs"]
#[allow(
    dead_code,
    reason = "shared with tests/cli.rs; this file uses part of it"
)]
mod engine;

use std::path::Path;
use std::sync::Arc;

use cairn::apply::ApplyOptions;
use cairn::plan::PlanOptions;
use cairn::providers::Registry;
use cairn_provider_core::Value;
use cairn_provider_fake::FakeProvider;

use engine::{Run, runtime};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/plans");

/// The secrets the `sensitive` fixture uses; no snapshot may contain them.
const SECRETS: [&str; 2] = ["old-Secret-41", "new-Secret-42"];

fn fake() -> FakeProvider {
    FakeProvider::new("fake")
        .resource_type("fake_thing")
        .computed("arn", |identity, _| {
            Value::from(format!("arn:fake:{}", identity.address))
        })
}

/// Applies the case's `prior.toml`, if any, then plans its `stack.toml` in a new run, and
/// renders that plan without colour, as `cairn plan` prints it by default.
fn rendered_plan(case: &str) -> String {
    rendered_with(case, cairn::render::plan_text)
}

/// The same with `render`: `plan_text` or `plan_text_detailed` (`--detailed`).
fn rendered_with(case: &str, render: fn(&cairn::plan::Plan, bool) -> String) -> String {
    let fixture = Path::new(FIXTURES).join(case);
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = dir.path().join("stack.toml");
    let registry = Registry::with_providers(vec![Arc::new(fake())]);
    let runtime = runtime();
    if let Ok(prior) = std::fs::read_to_string(fixture.join("prior.toml")) {
        std::fs::write(&stack, prior).expect("write prior stack");
        let mut run = Run::open(dir.path(), &registry);
        let plan = runtime.block_on(run.plan(&PlanOptions::default()));
        let outcome = runtime.block_on(run.apply(&plan, ApplyOptions::default()));
        assert!(outcome.is_success(), "{case}: {:?}", outcome.failures);
        run.close();
    }
    std::fs::copy(fixture.join("stack.toml"), &stack).expect("copy stack");
    let run = Run::open(dir.path(), &registry);
    let plan = runtime.block_on(run.plan(&PlanOptions::default()));
    run.close();
    let text = render(&plan, false);
    for secret in SECRETS {
        assert!(!text.contains(secret), "{case}: the secret leaked:\n{text}");
    }
    text
}

macro_rules! plan_cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                insta::assert_snapshot!(stringify!($case), rendered_plan(stringify!($case)));
            }
        )*

        #[test]
        fn every_fixture_has_a_snapshot_test() {
            let tested = [$(stringify!($case)),*];
            for entry in std::fs::read_dir(FIXTURES).expect("fixtures") {
                let name = entry.expect("entry").file_name();
                let name = name.to_string_lossy();
                assert!(tested.contains(&name.as_ref()), "tests/fixtures/plans/{name} is not in plan_cases!");
            }
        }
    };
}

plan_cases!(
    create,
    update,
    replace,
    create_before_destroy,
    delete,
    no_op,
    sensitive,
    unknown,
    update_manifest,
);

/// `--detailed` hides nothing: the unchanged entries, elements and lines of the
/// `update_manifest` case are all there, unmarked.
#[test]
fn update_manifest_detailed() {
    let detailed = rendered_with("update_manifest", cairn::render::plan_text_detailed);
    insta::assert_snapshot!("update_manifest_detailed", detailed);
    let summary = rendered_plan("update_manifest");
    // Alignment differs (the detailed view aligns more keys): compare words.
    let words = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    for line in summary.lines().filter(|l| l.contains(" -> ")) {
        assert!(
            detailed.lines().any(|d| words(d) == words(line)),
            "the detailed view has every change of the summary: {line}\n{detailed}"
        );
    }
    assert!(detailed.lines().count() > summary.lines().count());
}

#[cfg(all(feature = "aws", feature = "kubernetes"))]
mod airflow {
    //! `cairn plan stacks/airflow --env ENV` on an empty state, as the README runs it: no
    //! provider is configured and nothing is read from AWS.

    use std::process::Command;

    const STACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/airflow");

    fn plan(env: &str) -> String {
        plan_with(env, &[])
    }

    fn plan_with(env: &str, args: &[&str]) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(dir.path())
            .args(["plan", STACK_DIR, "--env", env])
            .args(args)
            .arg("--state")
            .arg(dir.path().join("state.json"))
            .env("NO_COLOR", "1")
            .env_remove("CAIRN_LOG")
            .output()
            .expect("cairn runs");
        assert!(
            out.status.success(),
            "plan --env {env} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn airflow_dev() {
        insta::assert_snapshot!("airflow_dev", plan("dev"));
    }

    #[test]
    fn airflow_prod() {
        insta::assert_snapshot!("airflow_prod", plan("prod"));
    }

    /// The worker pools the stack README documents: the default SPOT pool and a GPU pool
    /// that scales from zero, from one `worker_pools` map.
    const TWO_POOLS: &str = r#"worker_pools={ spot = {}, gpu = { capacity_type = "ON_DEMAND", instance_types = ["g5.xlarge"], ami_type = "AL2023_x86_64_NVIDIA", max_size = 2, labels = { "workload-type" = "airflow-gpu" }, taints = [{ key = "nvidia.com/gpu", value = "true", effect = "NO_SCHEDULE" }] } }"#;

    /// The blocks of the worker node groups, and the summary line.
    fn worker_pools(plan: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in plan.lines() {
            inside |= line.starts_with("  # aws_eks_node_group.workers[");
            if inside || line.starts_with("Plan:") {
                out.push_str(line);
                out.push('\n');
            }
            inside &= !line.is_empty();
        }
        out
    }

    #[test]
    fn airflow_dev_two_worker_pools() {
        let plan = plan_with("dev", &["--var", TWO_POOLS]);
        insta::assert_snapshot!("airflow_dev_two_worker_pools", worker_pools(&plan));
    }

    #[test]
    fn airflow_prod_two_worker_pools() {
        let plan = plan_with("prod", &["--var", TWO_POOLS]);
        insta::assert_snapshot!("airflow_prod_two_worker_pools", worker_pools(&plan));
    }
}
