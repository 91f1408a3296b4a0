//! The `cairn` binary against the mock Kubernetes API server (`cairn-kube-mock`), which
//! behaves like the recorded kube-apiserver v1.28: Secrets' `stringData` comes back as
//! base64 `data`, re-applying an unchanged object keeps its `resourceVersion`, other field
//! managers own what they changed, and deletes go through the foreground.
//!
//! Issue 8: the loop users run converges (apply, plan, apply again touches nothing), a
//! changed secret or config is one apply that rolls the Deployment once, drift is shown
//! and reverted, and a failure elsewhere never leaves a replaced Secret deleted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use cairn_kube_mock::{MockServer, Options};
use serde_json::Value;
use tempfile::TempDir;

const PASSWORD: &str = "Kube-Secret-5150";
const SECRET: &str = "Secret/demo/app-credentials";
const CONFIG: &str = "ConfigMap/demo/app-config";
const WEB: &str = "Deployment/demo/web";

const STACK: &str = r#"
[stack]
name = "kube"

[variables.kubeconfig]
type = "string"

[variables.password]
type = "string"
sensitive = true

[variables.parallelism]
type = "number"
default = 32

[variables.secret_name]
type = "string"
default = "app-credentials"

[providers.kubernetes]
kubeconfig = "${var.kubeconfig}"

[resources.kubernetes_object.namespace]
file = "namespace.yaml"

[resources.kubernetes_object.secret]
file = "secret.yaml"
depends_on = ["kubernetes_object.namespace"]

[resources.kubernetes_object.config]
file = "config.yaml"
depends_on = ["kubernetes_object.namespace"]

[resources.kubernetes_object.web]
file = "web.yaml"
wait = "rollout"
"#;

const NAMESPACE: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: demo
";

const SECRET_YAML: &str = r#"apiVersion: v1
kind: Secret
metadata:
  name: "${var.secret_name}"
  namespace: demo
type: Opaque
stringData:
  password: "${var.password}"
  uri: "postgresql://airflow:${var.password}@db:5432/airflow"
  user: airflow
"#;

const CONFIG_YAML: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: demo
data:
  airflow.cfg: |
    [core]
    parallelism = ${var.parallelism}
"#;

const WEB_YAML: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
      annotations:
        cairn/config-version: "${kubernetes_object.config.object.metadata.resourceVersion}"
        cairn/secret-version: "${kubernetes_object.secret.object.metadata.resourceVersion}"
    spec:
      containers:
        - name: web
          image: apache/airflow:3.1.6
          ports:
            - containerPort: 8080
          envFrom:
            - secretRef:
                name: "${var.secret_name}"
          resources:
            requests:
              cpu: 0.5
              memory: 1Gi
"#;

/// A temporary checkout with the stack in `stack/`, and a mock API server for it.
struct Cluster {
    root: TempDir,
    kubeconfig: PathBuf,
    mock: MockServer,
}

impl Cluster {
    fn new() -> Cluster {
        let root = tempfile::tempdir().expect("temp dir");
        let stack = root.path().join("stack");
        std::fs::create_dir_all(root.path().join(".git")).expect("mkdir .git");
        std::fs::create_dir_all(&stack).expect("mkdir stack");
        for (name, text) in [
            ("stack.toml", STACK),
            ("namespace.yaml", NAMESPACE),
            ("secret.yaml", SECRET_YAML),
            ("config.yaml", CONFIG_YAML),
            ("web.yaml", WEB_YAML),
        ] {
            std::fs::write(stack.join(name), text).expect("write stack");
        }
        let mock = MockServer::start_blocking(Options {
            auto_ready: true,
            ..Options::default()
        })
        .expect("mock API server starts");
        let kubeconfig = root.path().join("kubeconfig.yaml");
        mock.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Cluster {
            root,
            kubeconfig,
            mock,
        }
    }

    fn stack_dir(&self) -> PathBuf {
        self.root.path().join("stack")
    }

    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        self.command(PASSWORD, args, vars)
            .output()
            .expect("cairn runs")
    }

    /// The binary with this password, the kubeconfig and `vars` set.
    fn command(&self, password: &str, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.current_dir(self.stack_dir())
            .args(args)
            .arg("--var")
            .arg(format!("kubeconfig={}", self.kubeconfig.display()))
            .env("NO_COLOR", "1")
            .env("CAIRN_VAR_password", password)
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_STATE_KEY")
            .env_remove("CAIRN_TEST_KUBECONFIG")
            .write_stdin("");
        for (name, value) in vars {
            cmd.arg("--var").arg(format!("{name}={value}"));
        }
        cmd
    }

    fn apply(&self, vars: &[(&str, &str)]) -> Output {
        let out = self.run(&["apply", "--auto-approve"], vars);
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{}", text(&out));
        out
    }

    /// `plan --detailed-exitcode` (with the given extra flags): 0 means no changes.
    fn plan_code(&self, flags: &[&str], vars: &[(&str, &str)]) -> (Option<i32>, String) {
        let out = self.run(
            &[&["plan", "--detailed-exitcode"][..], flags].concat(),
            vars,
        );
        (out.status.code(), text(&out))
    }

    fn assert_converged(&self, vars: &[(&str, &str)]) {
        for flags in [&[][..], &["--refresh=false"]] {
            let (code, out) = self.plan_code(flags, vars);
            assert_eq!(code, Some(0), "plan {flags:?} shows changes:\n{out}");
        }
    }

    fn object(&self, target: &str) -> Value {
        self.mock
            .object(target)
            .unwrap_or_else(|| panic!("{target} exists"))
    }

    /// uid and resourceVersion of every object the stack manages.
    fn versions(&self) -> Vec<(String, String)> {
        [SECRET, CONFIG, WEB, "Namespace/demo"]
            .iter()
            .map(|target| {
                let object = self.object(target);
                (
                    object["metadata"]["uid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    object["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }

    fn annotation(&self, name: &str) -> String {
        self.object(WEB)["spec"]["template"]["metadata"]["annotations"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn generation(&self, target: &str) -> i64 {
        self.object(target)["metadata"]["generation"]
            .as_i64()
            .unwrap_or_default()
    }

    fn state_files(&self) -> String {
        let dir = self.root.path().join("state");
        std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| {
                        String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default())
                            .into_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn assert_no_secret(what: &str, text: &str) {
    for form in [PASSWORD.to_owned(), base64(PASSWORD)] {
        assert!(
            !text.contains(&form),
            "the secret leaked into {what}:\n{text}"
        );
    }
}

#[test]
fn apply_converges_and_a_second_apply_touches_nothing() {
    let cluster = Cluster::new();
    let first = cluster.apply(&[]);
    assert_no_secret("apply output", &text(&first));
    let secret = cluster.object(SECRET);
    assert_eq!(
        secret["data"]["password"].as_str(),
        Some(base64(PASSWORD).as_str()),
        "the Secret holds the password"
    );
    cluster.assert_converged(&[]);

    let before = cluster.versions();
    let patches = cluster.mock.request_count("PATCH");
    let again = cluster.run(&["apply", "--auto-approve"], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains("No changes"),
        "a second apply has nothing to do:\n{}",
        text(&again)
    );
    assert_eq!(cluster.versions(), before, "same uid and resourceVersion");
    assert_eq!(cluster.mock.request_count("PATCH"), patches, "nothing sent");

    let mut seen = String::new();
    for args in [
        &["plan"][..],
        &["plan", "--json"],
        &["show", "--json"],
        &["state", "show", "kubernetes_object.secret"],
    ] {
        let out = cluster.run(args, &[]);
        seen.push_str(&text(&out));
    }
    let debug = cluster
        .command(PASSWORD, &["plan"], &[])
        .env("CAIRN_LOG", "debug")
        .output()
        .expect("runs");
    seen.push_str(&text(&debug));
    assert_no_secret("plans, JSON, state commands and debug logs", &seen);
    assert_no_secret("state files", &cluster.state_files());
}

#[test]
fn a_changed_secret_updates_it_in_place_and_rolls_the_deployment_once() {
    let cluster = Cluster::new();
    cluster.apply(&[]);
    let secret_uid = cluster.object(SECRET)["metadata"]["uid"].clone();
    let generation = cluster.generation(WEB);

    const NEW_PASSWORD: &str = "Another-Secret-6160";
    let out = cluster
        .command(NEW_PASSWORD, &["apply", "--auto-approve"], &[])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("0 added, 2 changed, 0 destroyed"),
        "the Secret and the Deployment, in place:\n{}",
        text(&out)
    );
    let secret = cluster.object(SECRET);
    assert_eq!(
        secret["metadata"]["uid"], secret_uid,
        "updated, not replaced"
    );
    assert_eq!(
        cluster.annotation("cairn/secret-version"),
        secret["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default(),
        "the pod template carries the new resourceVersion after one apply"
    );
    assert_eq!(
        cluster.generation(WEB),
        generation + 1,
        "rolled exactly once"
    );
    let replan = cluster
        .command(NEW_PASSWORD, &["plan", "--detailed-exitcode"], &[])
        .output()
        .expect("runs");
    let (code, plan) = (replan.status.code(), text(&replan));
    assert_eq!(code, Some(0), "converged after one apply:\n{plan}");
}

#[test]
fn a_config_change_rolls_the_deployment_in_the_same_apply() {
    let cluster = Cluster::new();
    cluster.apply(&[]);
    let generation = cluster.generation(WEB);
    let vars = [("parallelism", "20")];
    let (code, plan) = cluster.plan_code(&[], &vars);
    assert_eq!(code, Some(2), "{plan}");
    assert!(
        plan.contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "the ConfigMap and, through its resourceVersion, the Deployment:\n{plan}"
    );
    cluster.apply(&vars);
    let config = cluster.object(CONFIG);
    assert!(
        config["data"]["airflow.cfg"]
            .as_str()
            .is_some_and(|cfg| cfg.contains("parallelism = 20"))
    );
    assert_eq!(
        cluster.annotation("cairn/config-version"),
        config["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
    );
    assert_eq!(
        cluster.generation(WEB),
        generation + 1,
        "rolled exactly once"
    );
    cluster.assert_converged(&vars);
}

#[test]
fn drift_on_managed_fields_is_shown_and_reverted_and_other_managers_fields_are_not_drift() {
    let cluster = Cluster::new();
    cluster.apply(&[]);

    // Fields cairn never set, owned by others: not drift.
    cluster
        .mock
        .patch_as(
            "hpa-controller",
            WEB,
            &serde_json::json!({"metadata": {"annotations": {"autoscaling/last-scale": "now"}}}),
        )
        .expect("patch");
    cluster.assert_converged(&[]);

    // kubectl scale and kubectl label take over fields the stack sets.
    cluster.mock.scale(WEB, 5).expect("scale");
    cluster
        .mock
        .label_as("kubectl-label", WEB, "app", "other")
        .expect("label");
    let (code, plan) = cluster.plan_code(&[], &[]);
    assert_eq!(code, Some(2), "{plan}");
    assert!(
        plan.contains("replicas"),
        "the plan names the drift:\n{plan}"
    );
    let out = cluster.apply(&[]);
    assert!(
        text(&out).contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        text(&out)
    );
    let web = cluster.object(WEB);
    assert_eq!(web["spec"]["replicas"], 1, "replicas taken back");
    assert_eq!(web["metadata"]["labels"]["app"], "web", "label taken back");
    let owned = cluster
        .mock
        .managed_fields(WEB, "cairn", "Apply")
        .expect("cairn's entry");
    assert!(
        owned["f:spec"]["f:replicas"].is_object(),
        "cairn owns replicas again: {owned}"
    );
    cluster.assert_converged(&[]);

    // Deleted by hand: created again.
    cluster.mock.delete_by_hand(CONFIG).expect("delete");
    cluster.mock.settle_all();
    let (code, plan) = cluster.plan_code(&[], &[]);
    assert_eq!(code, Some(2), "{plan}");
    cluster.apply(&[]);
    assert!(cluster.mock.object(CONFIG).is_some());
    cluster.assert_converged(&[]);
}

#[test]
fn a_failure_elsewhere_never_leaves_a_replaced_secret_deleted() {
    let cluster = Cluster::new();
    cluster.apply(&[]);
    // A new name replaces the Secret; the ConfigMap's update fails on the server.
    let vars = [("secret_name", "app-credentials-v2"), ("parallelism", "8")];
    cluster
        .mock
        .fail_next(Some("PATCH"), "/api/v1/namespaces/demo/configmaps", 500, 1);
    let out = cluster.run(&["apply", "--auto-approve"], &vars);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        cluster
            .mock
            .object("Secret/demo/app-credentials-v2")
            .is_some(),
        "the replacement was finished:\n{}",
        text(&out)
    );
    cluster.mock.settle_all();
    assert!(
        cluster.mock.object(SECRET).is_none(),
        "the old Secret is gone"
    );
    cluster.apply(&vars);
    cluster.assert_converged(&vars);
}

#[test]
fn a_plan_reads_each_object_once_and_changes_nothing() {
    let cluster = Cluster::new();
    cluster.apply(&[]);
    cluster.mock.clear_requests();
    let (code, plan) = cluster.plan_code(&[], &[]);
    assert_eq!(code, Some(0), "{plan}");
    let writes: Vec<_> = cluster
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "a plan only reads: {writes:?}");
    let (discoveries, object_reads): (Vec<_>, Vec<_>) = cluster
        .mock
        .requests()
        .into_iter()
        .partition(|r| is_discovery(&r.path));
    assert_eq!(object_reads.len(), 4, "one GET per object");
    assert!(
        discoveries.is_empty(),
        "the objects' recorded API resources need no discovery: {discoveries:?}"
    );
}

/// `GET /api/v1`, `/apis/GROUP/VERSION` or `/version`.
fn is_discovery(path: &str) -> bool {
    path == "/api/v1"
        || path == "/version"
        || (path.starts_with("/apis/") && path.matches('/').count() == 3)
}

/// Issue 11: creates interrupted against an API server that cannot be reached stay
/// pending, are reported, block no command, and `cairn state rm` forgets them.
#[test]
fn pending_creates_on_an_unreachable_cluster_block_nothing() {
    let cluster = Cluster::new();
    // A port where nothing listens any more.
    let gone = MockServer::start_blocking(Options::default()).expect("starts");
    gone.write_kubeconfig(&cluster.kubeconfig)
        .expect("kubeconfig");
    drop(gone);

    let failed = cluster.run(&["apply", "--auto-approve"], &[]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    let shown: Value =
        serde_json::from_slice(&cluster.run(&["show", "--json"], &[]).stdout).expect("show --json");
    let pending = shown["pending"].as_array().cloned().unwrap_or_default();
    assert!(
        !pending.is_empty(),
        "the failed creates stay pending: {shown}"
    );

    let plan = cluster.run(&["plan"], &[]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let destroy = cluster.run(&["destroy", "--auto-approve"], &[]);
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
    assert!(
        text(&destroy).contains("could not be looked up")
            && text(&destroy).contains("cairn state rm"),
        "the pending creates are reported with the way out:\n{}",
        text(&destroy)
    );

    for addr in &pending {
        let addr = addr.as_str().expect("an address");
        let out = cluster.run(&["state", "rm", addr], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let shown: Value =
        serde_json::from_slice(&cluster.run(&["show", "--json"], &[]).stdout).expect("show --json");
    assert_eq!(shown["pending"], serde_json::json!([]), "{shown}");
}
