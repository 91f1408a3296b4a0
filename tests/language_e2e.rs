//! The stack language against real peers: `[[import]]` and `cairn import` adopting a VPC
//! made outside cairn (moto) and a Secret (the mock Kubernetes API server), and a
//! `for_each` over a value only the apply knows, refused by the plan with the attribute
//! named; a data source read only when `enabled`. Every adoption is checked through the
//! peer: no second object was made.
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

    // Another stack reads what this one made, with data sources.
    let reader = root.path().join("reader");
    std::fs::create_dir_all(&reader).expect("mkdir reader");
    write(
        &reader,
        "stack.toml",
        r#"
[stack]
name = "lang-kube-reader"

[variables.kubeconfig]
type = "string"

[providers.kubernetes]
kubeconfig = "${var.kubeconfig}"

[data.kubernetes_object.creds]
api_version = "v1"
kind        = "Secret"
namespace   = "demo"
name        = "creds"

[data.kubernetes_object.namespace]
api_version = "v1"
kind        = "Namespace"
name        = "demo"

[resources.kubernetes_object.copy]
manifest = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "copy", namespace = "${data.kubernetes_object.namespace.object.metadata.name}" }, data = { secret_uid = "${data.kubernetes_object.creds.uid}" } }

[outputs.secret_data]
value = "${data.kubernetes_object.creds.object.data}"
"#,
    );
    let run_reader = |args: &[&str]| {
        let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(&reader)
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
    let (code, out) = run_reader(&["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("secret_data = (sensitive)"), "{out}");
    assert!(
        !out.contains("YWlyZmxvdw"),
        "the Secret's data is never printed: {out}"
    );
    let copy = mock.object("ConfigMap/demo/copy").expect("the copy exists");
    assert_eq!(copy["data"]["secret_uid"].as_str(), Some(before.as_str()));
    let (code, out) = run_reader(&["state", "list"]);
    assert_eq!((code, out.trim()), (Some(0), "kubernetes_object.copy"));
    let (code, out) = run_reader(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    // A data source whose object is gone fails the plan, naming it.
    let (code, out) = run(&["destroy", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run_reader(&["plan"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("data.kubernetes_object.namespace: read failed: there is no namespace demo"),
        "{out}"
    );
}

const DATA_STACK: &str = r#"
[stack]
name = "lang-data"

[data.aws_caller_identity.me]

[data.aws_availability_zones.all]

[data.aws_vpc.existing]
tags = { Name = "existing-network" }

[data.aws_subnets.existing]
vpc_id = "${data.aws_vpc.existing.id}"
tags   = { tier = "existing" }

[data.aws_eks_cluster.existing]
name = "existing-cluster"

[data.aws_secretsmanager_secret.db]
name = "existing/db-password"

[resources.aws_subnet.extra]
for_each          = "${ {for i, z in data.aws_availability_zones.all.names : z => i if i < 2} }"
vpc_id            = "${data.aws_vpc.existing.id}"
availability_zone = "${each.key}"
cidr_block        = "${cidrsubnet(data.aws_vpc.existing.cidr_block, 8, each.value + 10)}"
tags              = { account = "${data.aws_caller_identity.me.account_id}", cluster = "${data.aws_eks_cluster.existing.endpoint}" }

[outputs.account]
value = "${data.aws_caller_identity.me.account_id}"

[outputs.subnets]
value = "${length(data.aws_subnets.existing.ids)}"

[outputs.secret]
value = "${data.aws_secretsmanager_secret.db.arn}"

[outputs.secret_description]
value = "${data.aws_secretsmanager_secret.db.description}"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn data_sources_read_what_exists_each_plan_and_are_never_recorded() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpc = create_vpc(&ec2, "10.20.0.0/16").await;
    ec2.create_tags()
        .resources(&vpc)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Name")
                .value("existing-network")
                .build(),
        )
        .send()
        .await
        .expect("tag the VPC");
    let tagged_subnet = |cidr: &'static str| {
        let ec2 = ec2.clone();
        let vpc = vpc.clone();
        async move {
            let id = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .send()
                .await
                .expect("create a subnet")
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_owned();
            ec2.create_tags()
                .resources(&id)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("tier")
                        .value("existing")
                        .build(),
                )
                .send()
                .await
                .expect("tag the subnet");
            id
        }
    };
    let subnet = tagged_subnet("10.20.1.0/24").await;
    let eks = aws_sdk_eks::Client::new(&sdk);
    eks.create_cluster()
        .name("existing-cluster")
        .role_arn("arn:aws:iam::123456789012:role/existing-eks")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .subnet_ids(&subnet)
                .build(),
        )
        .send()
        .await
        .expect("create an EKS cluster");
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let description = "Password-Description-Never-Printed-7731";
    secrets
        .create_secret()
        .name("existing/db-password")
        .description(description)
        .secret_string("not-read-by-cairn")
        .send()
        .await
        .expect("create a secret");

    let dir = stack_dir(DATA_STACK);
    let cairn = Cairn::new(&moto, dir.path(), "e2e");
    let plan = cairn.plan(2, &[]);
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.text()
    );
    assert!(
        plan.stdout
            .contains(r#"aws_subnet.extra["us-east-1a"] will be created"#),
        "{}",
        plan.text()
    );
    assert!(
        plan.stdout.contains(&vpc),
        "the VPC found by its tags: {}",
        plan.text()
    );
    assert!(
        !plan.stdout.contains("data."),
        "data sources are not changes: {}",
        plan.text()
    );
    let applied = cairn.apply(&[]);
    assert!(
        applied.stdout.contains("account = \"123456789012\""),
        "{}",
        applied.text()
    );
    assert!(applied.stdout.contains("subnets = 1"), "{}", applied.text());
    assert!(
        applied
            .stdout
            .contains("arn:aws:secretsmanager:us-east-1:123456789012:secret:existing/db-password"),
        "{}",
        applied.text()
    );
    assert!(
        applied.stdout.contains("secret_description = (sensitive)"),
        "{}",
        applied.text()
    );
    let listed = cairn.expect(0, &["state", "list"], &[]);
    assert!(!listed.stdout.contains("data."), "{}", listed.text());
    assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.text());
    cairn.plan(0, &[]);
    // Read again each plan: a subnet made since shows at once.
    tagged_subnet("10.20.2.0/24").await;
    let replan = cairn.plan(2, &[]);
    assert!(
        replan.stdout.contains("~ subnets = 1 -> 2"),
        "{}",
        replan.text()
    );
    cairn.assert_never_written("the secret's description", description);

    // What is not there is an error naming what was looked for.
    let missing = stack_dir(
        r#"
[stack]
name = "lang-data"

[data.aws_vpc.gone]
tags = { Name = "no-such-network" }
"#,
    );
    let cairn = Cairn::new(&moto, missing.path(), "e2e");
    let failed = cairn.expect(1, &["plan"], &[]);
    assert!(
        failed.stderr.contains("data.aws_vpc.gone"),
        "{}",
        failed.text()
    );
    assert!(
        failed.stderr.contains("no VPC matches"),
        "{}",
        failed.text()
    );
}

const OPTIONAL_VPC_STACK: &str = r#"
[stack]
name = "lang-optional"

[variables.existing_vpc_id]
type    = "string"
default = ""

[data.aws_vpc.existing]
enabled = "${var.existing_vpc_id != \"\"}"
id      = "${var.existing_vpc_id}"

[resources.aws_vpc.main]
enabled    = "${var.existing_vpc_id == \"\"}"
cidr_block = "10.8.0.0/16"

[resources.aws_subnet.one]
vpc_id     = "${var.existing_vpc_id == \"\" ? aws_vpc.main.id : data.aws_vpc.existing.id}"
cidr_block = "${cidrsubnet(coalesce(data.aws_vpc.existing.cidr_block, aws_vpc.main.cidr_block), 8, 1)}"
"#;

/// A data source with `enabled` is read only when enabled: with no id it is not read at
/// all (an empty `id` would fail the read), with an id it is, and a resource switched off
/// by the same variable is neither planned nor created.
#[tokio::test(flavor = "multi_thread")]
async fn a_data_source_is_read_only_when_enabled() {
    let moto = Moto::start();
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let existing = create_vpc(&ec2, "10.9.0.0/16").await;
    let dir = stack_dir(OPTIONAL_VPC_STACK);
    let cairn = Cairn::new(&moto, dir.path(), "e2e");

    let own = cairn.plan(2, &[]);
    assert!(
        own.stdout.contains("aws_vpc.main will be created")
            && own.stdout.contains("\"10.8.1.0/24\""),
        "{}",
        own.text()
    );

    cairn.set_var("existing_vpc_id", &existing);
    let into = cairn.plan(2, &[]);
    assert!(
        into.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        into.text()
    );
    assert!(
        into.stdout.contains(&existing) && into.stdout.contains("\"10.9.1.0/24\""),
        "the subnet goes in the existing VPC: {}",
        into.text()
    );
    cairn.apply(&[]);
    assert_eq!(
        vpcs_with_cidr(&ec2, "10.8.0.0/16").await,
        Vec::<String>::new(),
        "no VPC of the stack's own"
    );
    cairn.plan(0, &[]);

    cairn.set_var("existing_vpc_id", "vpc-00000000000000bad");
    let missing = cairn.expect(1, &["plan"], &[]);
    assert!(
        missing.stderr.contains("data.aws_vpc.existing"),
        "{}",
        missing.text()
    );
}
