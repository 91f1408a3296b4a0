//! `stacks/airflow` rewritten with `for_each` (one subnet, NAT gateway and route table per
//! availability zone; one node group per worker pool; IRSA roles and their service accounts
//! from one map) takes over an environment made with the stack as it was before
//! (`tests/fixtures/airflow-previous`, a copy of the commit before the rewrite): on moto and
//! the mock Kubernetes API server, the previous stack is applied, then the current one
//! planned against that state shows its `[[moved]]` blocks as moves, and nothing else but
//! what issue 14 added, listed here by address: created (the KMS key, the dag-processor's
//! IRSA role, the StatsD exporter, prod's GPU pool, ...) or updated in place (roles that may
//! now read the Secrets Manager backend, airflow.cfg and the Deployments it rolls, ...).
//! Nothing is destroyed or replaced. Applying it records the moves, and the next plan is
//! empty.
//!
//! Such an environment keeps what it had set before: its existing logs bucket (required
//! then), and its unencrypted database (`db_storage_encrypted = false`: RDS cannot encrypt
//! in place) and cluster Secrets (`eks_secrets_encryption = false`; on AWS adding it is an
//! in-place update, which moto cannot run). What the plan shows without those two settings
//! (a replaced database in dev, a refused plan in prod) is checked too.
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

/// What an environment made with the previous stack keeps when the current one takes over
/// (see the module comment).
fn kept(env: &str) -> [String; 4] {
    [
        format!("logs_bucket=example-airflow-logs-{env}"),
        "db_storage_encrypted=false".to_owned(),
        "eks_secrets_encryption=false".to_owned(),
        // Not kept by choice: moto has no EKS add-on API (see unkept_settings for the plan).
        "eks_managed_addons=false".to_owned(),
    ]
}

/// `cairn <command> <stack> --env <env> --state <state> --var kubeconfig=... --var VARS...`.
fn cairn(
    moto: &Moto,
    stack: &str,
    env: &str,
    state: &Path,
    kubeconfig: &Path,
    command: &[&str],
) -> Run {
    let vars = if stack == CURRENT {
        kept(env).to_vec()
    } else {
        Vec::new()
    };
    cairn_with(moto, stack, env, state, kubeconfig, command, &vars)
}

fn cairn_with(
    moto: &Moto,
    stack: &str,
    env: &str,
    state: &Path,
    kubeconfig: &Path,
    command: &[&str],
    vars: &[String],
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(command)
        .arg(stack)
        .args(["--env", env, "--state"])
        .arg(state)
        .arg("--var")
        .arg(format!("kubeconfig={}", kubeconfig.display()));
    for var in vars {
        cmd.arg("--var").arg(var);
    }
    cmd.env("NO_COLOR", "1")
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

/// The addresses of the plan's blocks whose headline says `what` (`will be created`).
fn headed(plan: &str, what: &str) -> Vec<String> {
    let mut found: Vec<String> = plan
        .lines()
        .filter_map(|l| l.strip_prefix("  # "))
        // An update of a moved object says so: `... (moved from OLD)`.
        .map(|l| l.split_once(" (moved from ").map_or(l, |(head, _)| head))
        .filter_map(|l| l.strip_suffix(what))
        .map(|addr| addr.trim_end().to_owned())
        .collect();
    found.sort();
    found
}

fn takes_over(env: &str, moves: usize, created: &[&str], updated: &[&str]) {
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
    let summary = format!(
        "Plan: {} to add, {} to change, 0 to destroy, {moves} moved.",
        created.len(),
        updated.len()
    );
    assert!(plan.stdout.contains(&summary), "{summary}\n{}", plan.text);
    let mut created: Vec<&str> = created.to_vec();
    created.sort_unstable();
    let mut updated: Vec<&str> = updated.to_vec();
    updated.sort_unstable();
    assert_eq!(
        headed(&plan.stdout, " will be created"),
        created,
        "{}",
        plan.text
    );
    assert_eq!(
        headed(&plan.stdout, " will be updated in place"),
        updated,
        "{}",
        plan.text
    );
    for line in plan
        .stdout
        .lines()
        // Headlines sit at column 2; deeper `# (N unchanged ... hidden)` are not.
        .filter(|l| l.starts_with("  # "))
    {
        assert!(
            line.contains(" has moved to ")
                || line.ends_with(" will be created")
                || line.contains(" will be updated in place"),
            "only moves, and issue 14's additions: {line}\n{}",
            plan.text
        );
    }
    unkept_settings(&moto, env, &state, &kubeconfig);
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
        // Moved, or moved and updated by issue 14 (the api-server role reads secrets now).
        assert!(
            plan.stdout.contains(&format!("# {from} has moved to {to}"))
                || plan.stdout.contains(&format!(
                    "# {to} will be updated in place (moved from {from})"
                )),
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

/// Without `db_storage_encrypted = false`, the unencrypted database of an existing
/// environment must be replaced (dev), which prod's `prevent_destroy` refuses; the
/// cluster gains Secrets encryption in place; the managed add-ons are created over the
/// copies EKS installed, the VPC CNI with its own role, and the nodes' role loses the
/// CNI policy.
fn unkept_settings(moto: &Moto, env: &str, state: &Path, kubeconfig: &Path) {
    let vars = [format!("logs_bucket=example-airflow-logs-{env}")];
    let plan = cairn_with(moto, CURRENT, env, state, kubeconfig, &["plan"], &vars);
    if env == "prod" {
        assert_eq!(plan.code, Some(1), "{}", plan.text);
        assert!(
            plan.text.contains("aws_db_instance.metadata") && plan.text.contains("prevent_destroy"),
            "{}",
            plan.text
        );
        return;
    }
    assert_eq!(plan.code, Some(0), "{}", plan.text);
    assert_eq!(
        headed(&plan.stdout, " must be replaced"),
        ["aws_db_instance.metadata"],
        "{}",
        plan.text
    );
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.contains("storage_encrypted") && l.contains("# forces replacement")),
        "{}",
        plan.text
    );
    let updated = headed(&plan.stdout, " will be updated in place");
    for addr in ["aws_eks_cluster.main", "aws_iam_role.eks_node"] {
        assert!(updated.contains(&addr.to_owned()), "{addr}:\n{}", plan.text);
    }
    let created = headed(&plan.stdout, " will be created");
    for addr in [
        "aws_eks_addon.coredns",
        r#"aws_eks_addon.node_agents["eks-pod-identity-agent"]"#,
        r#"aws_eks_addon.node_agents["kube-proxy"]"#,
        r#"aws_eks_addon.node_agents["vpc-cni"]"#,
        "aws_iam_role.vpc_cni",
    ] {
        assert!(created.contains(&addr.to_owned()), "{addr}:\n{}", plan.text);
    }
}

/// What issue 14 adds to every environment: the KMS key, the dag-processor's IRSA role
/// (it reads the Secrets Manager backend) and the StatsD exporter.
const CREATED: [&str; 6] = [
    "aws_kms_alias.main",
    "aws_kms_key.main",
    r#"aws_iam_role.airflow["dag-processor"]"#,
    "kubernetes_object.statsd",
    "kubernetes_object.statsd_mapping",
    "kubernetes_object.statsd_service",
];

/// What issue 14 changes in place: the VPC's cluster tag (a destroy recognises what the
/// cluster left in it); the cluster role may use the key; the roles of the components that
/// read the Secrets Manager backend; the dag-processor's service account (its new role);
/// airflow.cfg ([secrets], [metrics]) and the Deployments that roll with it.
const UPDATED: [&str; 11] = [
    "aws_vpc.main",
    "aws_iam_role.eks_cluster",
    r#"aws_iam_role.airflow["api-server"]"#,
    r#"aws_iam_role.airflow["triggerer"]"#,
    r#"aws_iam_role.airflow["worker"]"#,
    r#"kubernetes_object.service_account["dag-processor"]"#,
    "kubernetes_object.airflow_config",
    "kubernetes_object.api_server",
    "kubernetes_object.dag_processor",
    "kubernetes_object.scheduler",
    "kubernetes_object.triggerer",
];

#[test]
fn dev_made_with_the_previous_stack_moves_without_replacement() {
    // Four subnets, zone a's EIP and NAT gateway, two private route tables, the spot
    // worker pool, four IRSA roles and five service accounts.
    takes_over("dev", 18, &CREATED, &UPDATED);
}

#[test]
fn prod_made_with_the_previous_stack_moves_without_replacement() {
    // Prod has a NAT gateway (and its EIP) in zone b too, and issue 14's GPU pool.
    let created = [&CREATED[..], &[r#"aws_eks_node_group.workers["gpu"]"#]].concat();
    takes_over("prod", 20, &created, &UPDATED);
}
