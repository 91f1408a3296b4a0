//! The stack language against real peers: `[[import]]` and `cairn import` adopting a VPC
//! made outside cairn (moto) and a Secret (the mock Kubernetes API server), and a
//! `for_each` over a value only the apply knows, refused by the plan with the attribute
//! named. Every adoption is checked through the peer: no second object was made.
//!
//! Needs `moto_server` on PATH (`pip install 'moto[server]'`); fails without it.

// The harness is shared with tests/aws_e2e.rs; this file uses only part of it.
#[allow(dead_code)]
mod support;

use std::path::Path;

use cairn_kube_mock::{MockServer, Options};
use support::cairn::Cairn;
use support::moto::Moto;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write the stack");
}

/// A stack directory with `stack.toml` and an empty `env/e2e.toml`.
fn stack_dir(stack_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "stack.toml", stack_toml);
    std::fs::create_dir(dir.path().join("env")).expect("mkdir env");
    write(&dir.path().join("env"), "e2e.toml", "");
    dir
}

async fn vpcs_with_cidr(ec2: &aws_sdk_ec2::Client, cidr: &str) -> Vec<String> {
    let out = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("cidr")
                .values(cidr)
                .build(),
        )
        .send()
        .await
        .expect("describe VPCs");
    out.vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_owned))
        .collect()
}

async fn create_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    ec2.create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .expect("create a VPC outside cairn")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("the new VPC's id")
        .to_owned()
}

const VPC_STACK: &str = r#"
[stack]
name = "lang-aws"

[variables.vpc_id]
type = "string"

[resources.aws_vpc.main]
cidr_block = "10.7.0.0/16"

[resources.aws_vpc.extra]
for_each   = "${toset([\"b\"])}"
cidr_block = "10.8.0.0/16"

[[import]]
to = "aws_vpc.main"
id = "${var.vpc_id}"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn vpcs_made_outside_cairn_are_imported_not_created() {
    let moto = Moto::start();
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let main = create_vpc(&ec2, "10.7.0.0/16").await;
    let extra = create_vpc(&ec2, "10.8.0.0/16").await;
    let dir = stack_dir(VPC_STACK);
    let cairn = Cairn::new(&moto, dir.path(), "e2e");
    cairn.set_var("vpc_id", &main);

    // The for_each instance first, by the command; then the block, by plan and apply.
    let imported = cairn.expect(0, &["import", r#"aws_vpc.extra["b"]"#, &extra], &[]);
    assert!(
        imported
            .stdout
            .contains(&format!(r#"Imported {extra} as aws_vpc.extra["b"]"#)),
        "{}",
        imported.text()
    );
    let plan = cairn.plan(2, &[]);
    assert!(
        plan.stdout
            .contains(&format!("aws_vpc.main will be imported from {main}"))
            || plan.stdout.contains(&format!("(imported from {main})")),
        "{}",
        plan.text()
    );
    assert!(
        plan.stdout.contains("0 to add") && plan.stdout.contains("0 to destroy, 1 to import."),
        "{}",
        plan.text()
    );
    cairn.apply(&[]);
    cairn.plan(0, &[]);
    let shown = cairn.expect(0, &["state", "show", "aws_vpc.main"], &[]);
    assert!(shown.stdout.contains(&main), "{}", shown.text());
    assert_eq!(vpcs_with_cidr(&ec2, "10.7.0.0/16").await, vec![main]);
    assert_eq!(vpcs_with_cidr(&ec2, "10.8.0.0/16").await, vec![extra]);

    let missing = cairn.expect(1, &["import", r#"aws_vpc.extra["c"]"#, "vpc-00000000"], &[]);
    assert!(
        missing.stderr.contains("vpc-00000000"),
        "{}",
        missing.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_for_each_over_a_value_known_only_after_apply_is_refused_by_the_plan() {
    let moto = Moto::start();
    let dir = stack_dir(
        r#"
[stack]
name = "lang-aws"

[resources.aws_vpc.main]
cidr_block = "10.9.0.0/16"

[resources.aws_vpc.per_id]
for_each   = "${toset([aws_vpc.main.id])}"
cidr_block = "10.10.0.0/16"
"#,
    );
    let cairn = Cairn::new(&moto, dir.path(), "e2e");
    let plan = cairn.expect(1, &["plan"], &[]);
    assert!(
        plan.stderr.contains("the `for_each` of `aws_vpc.per_id` is not known until apply: it depends on `aws_vpc.main.id`"),
        "{}",
        plan.text()
    );
    assert!(plan.stderr.contains("stack.toml:9:14"), "{}", plan.text());
}

#[test]
fn a_secret_made_outside_cairn_is_imported_not_replaced() {
    let mock = MockServer::start_blocking(Options {
        auto_ready: true,
        ..Options::default()
    })
    .expect("mock API server starts");
    let root = tempfile::tempdir().expect("temp dir");
    let stack = root.path().join("stack");
    std::fs::create_dir_all(root.path().join(".git")).expect("mkdir .git");
    std::fs::create_dir_all(&stack).expect("mkdir stack");
    let kubeconfig = root.path().join("kubeconfig.yaml");
    mock.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let base = r#"
[stack]
name = "lang-kube"

[variables.kubeconfig]
type = "string"

[providers.kubernetes]
kubeconfig = "${var.kubeconfig}"

[resources.kubernetes_object.namespace]
manifest = { apiVersion = "v1", kind = "Namespace", metadata = { name = "demo" } }

[resources.kubernetes_object.secret]
manifest   = { apiVersion = "v1", kind = "Secret", metadata = { name = "creds", namespace = "demo" }, type = "Opaque", stringData = { user = "airflow" } }
depends_on = ["kubernetes_object.namespace"]
"#;
    write(&stack, "stack.toml", base);
    let run = |args: &[&str]| {
        let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(&stack)
            .args(args)
            .arg("--var")
            .arg(format!("kubeconfig={}", kubeconfig.display()))
            .env("NO_COLOR", "1")
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_STATE_KEY")
            .write_stdin("")
            .output()
            .expect("cairn runs");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let uid = |mock: &MockServer| {
        mock.object("Secret/demo/creds").expect("the Secret exists")["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let before = uid(&mock);
    // Forgotten by cairn, the Secret is an object made outside it: the block adopts it.
    let (code, out) = run(&["state", "rm", "kubernetes_object.secret"]);
    assert_eq!(code, Some(0), "{out}");
    write(
        &stack,
        "stack.toml",
        &format!(
            "{base}\n[[import]]\nto = \"kubernetes_object.secret\"\nid = \"v1/Secret/demo/creds\"\n"
        ),
    );
    let (code, out) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("kubernetes_object.secret will be")
            && out.contains("imported from v1/Secret/demo/creds"),
        "{out}"
    );
    assert!(
        out.contains("0 to add") && out.contains("0 to destroy"),
        "{out}"
    );
    let (code, out) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(uid(&mock), before, "the Secret was adopted, not replaced");
    // And by the command, after forgetting it again.
    let (code, out) = run(&["state", "rm", "kubernetes_object.secret"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["import", "kubernetes_object.secret", "v1/Secret/demo/creds"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["plan", "--detailed-exitcode"]);
    assert!(code == Some(0) || code == Some(2), "{out}");
    assert!(!out.contains("will be created"), "{out}");
    assert_eq!(uid(&mock), before);
}
