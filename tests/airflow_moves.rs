//! `stacks/airflow` rewritten with `for_each` (one subnet, NAT gateway and route table per
//! availability zone; one node group per worker pool; IRSA roles and their service accounts
//! from one map) takes over an environment made with the stack as it was before
//! (`tests/fixtures/airflow-previous`, a copy of the commit before the rewrite): on moto and
//! the mock Kubernetes API server, the previous stack is applied, then the current one
//! planned against that state shows only moves (its `[[moved]]` blocks): nothing created,
//! changed or destroyed. Applying it records the moves, and the next plan is empty.
//!
//! Needs `moto_server` on PATH (`pip install 'moto[server]'`); fails without it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

// The harness is shared with tests/aws_e2e.rs; this file uses only part of it.
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Command;

use cairn_kube_mock::{MockServer, Options};
use support::moto::Moto;

const PREVIOUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/airflow-previous"
);
const CURRENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/airflow");

struct Run {
    code: Option<i32>,
    stdout: String,
    text: String,
}

/// `cairn <command> <stack> --env <env> --state <state> --var kubeconfig=...`.
fn cairn(
    moto: &Moto,
    stack: &str,
    env: &str,
    state: &Path,
    kubeconfig: &Path,
    command: &[&str],
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(command)
        .arg(stack)
        .args(["--env", env, "--state"])
        .arg(state)
        .arg("--var")
        .arg(format!("kubeconfig={}", kubeconfig.display()))
        .env("NO_COLOR", "1")
        .env_remove("CAIRN_LOG")
        .env_remove("CAIRN_STATE_KEY")
        .stdin(std::process::Stdio::null());
    for name in Moto::CHILD_ENV_REMOVED {
        cmd.env_remove(name);
    }
    for (name, _) in std::env::vars() {
        if name.starts_with("CAIRN_VAR_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(moto.child_env());
    let out = cmd.output().expect("cairn runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    Run {
        code: out.status.code(),
        stdout,
        text,
    }
}

fn takes_over(env: &str, moves: usize) {
    let mock = MockServer::start_blocking(Options {
        auto_ready: true,
        ..Options::default()
    })
    .expect("the mock API server starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    mock.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let state = dir.path().join("state.json");
    let moto = Moto::start();

    let applied = cairn(
        &moto,
        PREVIOUS,
        env,
        &state,
        &kubeconfig,
        &["apply", "--auto-approve"],
    );
    assert_eq!(
        applied.code,
        Some(0),
        "the previous stack applies:\n{}",
        applied.text
    );

    let plan = cairn(
        &moto,
        CURRENT,
        env,
        &state,
        &kubeconfig,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, Some(2), "{}", plan.text);
    let summary = format!("Plan: 0 to add, 0 to change, 0 to destroy, {moves} moved.");
    assert!(plan.stdout.contains(&summary), "{summary}\n{}", plan.text);
    for line in plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("# "))
    {
        assert!(
            line.contains(" has moved to "),
            "only moves: {line}\n{}",
            plan.text
        );
    }
    assert!(!plan.stdout.contains("Changes to Outputs"), "{}", plan.text);
    for (from, to) in [
        ("aws_subnet.private_a", r#"aws_subnet.private["a"]"#),
        ("aws_nat_gateway.a", r#"aws_nat_gateway.nat["a"]"#),
        (
            "aws_route_table.private_b",
            r#"aws_route_table.private["b"]"#,
        ),
        (
            "aws_eks_node_group.workers",
            r#"aws_eks_node_group.workers["spot"]"#,
        ),
        (
            "aws_iam_role.airflow_api_server",
            r#"aws_iam_role.airflow["api-server"]"#,
        ),
        (
            "kubernetes_object.dag_processor_service_account",
            r#"kubernetes_object.service_account["dag-processor"]"#,
        ),
    ] {
        assert!(
            plan.stdout.contains(&format!("# {from} has moved to {to}")),
            "{}",
            plan.text
        );
    }

    let moved = cairn(
        &moto,
        CURRENT,
        env,
        &state,
        &kubeconfig,
        &["apply", "--auto-approve"],
    );
    assert_eq!(moved.code, Some(0), "{}", moved.text);
    let after = cairn(
        &moto,
        CURRENT,
        env,
        &state,
        &kubeconfig,
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(after.code, Some(0), "{}", after.text);
    let listed = cairn(&moto, CURRENT, env, &state, &kubeconfig, &["state", "list"]);
    assert!(
        listed.stdout.contains(r#"aws_subnet.public["b"]"#),
        "{}",
        listed.text
    );
    assert!(
        !listed.stdout.contains("aws_subnet.public_b"),
        "{}",
        listed.text
    );
}

#[test]
fn dev_made_with_the_previous_stack_moves_without_replacement() {
    // Four subnets, zone a's EIP and NAT gateway, two private route tables, the spot
    // worker pool, four IRSA roles and five service accounts.
    takes_over("dev", 18);
}

#[test]
fn prod_made_with_the_previous_stack_moves_without_replacement() {
    // Prod has a NAT gateway (and its EIP) in zone b too.
    takes_over("prod", 20);
}
