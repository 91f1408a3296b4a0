//! The versions `stacks/airflow` deploys, pinned per environment: Kubernetes (control plane
//! and node groups), the node AMI family, cluster-autoscaler, Airflow and the other images,
//! the PostgreSQL engine and its parameter group family, and the availability zones.
//!
//! The plan is made offline (no state, so no provider is configured and nothing is read
//! from AWS). A default that falls out of support must be changed on purpose: the change
//! shows here as a snapshot diff to review (issue 9: Kubernetes 1.31 and PostgreSQL 16.4
//! had quietly fallen out of support).
//!
//! The existing-VPC mode (`existing_vpc_id`) reads the network through data sources, so its
//! plan is made against a moto server holding a VPC made with the SDK: nothing of the
//! network is planned, and everything that needs it gets the existing VPC and subnets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]
#![cfg(all(feature = "aws", feature = "kubernetes"))]

// The harness is shared with tests/aws_e2e.rs; this file uses only part of it.
#[allow(dead_code)]
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use aws_sdk_ec2::types::{Tag, TagSpecification};
use support::cairn::Cairn;
use support::moto::Moto;

const STACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/airflow");

/// `cairn plan stacks/airflow --env ENV --json` against an empty state.
fn plan(env: &str) -> serde_json::Value {
    plan_with(&["--env", env])
}

/// `cairn plan stacks/airflow ARGS --json` against an empty state.
fn plan_with(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(dir.path())
        .args(["plan", STACK_DIR])
        .args(args)
        .args(["--json", "--state"])
        .arg(&state)
        .env("NO_COLOR", "1")
        .env_remove("CAIRN_LOG")
        .output()
        .expect("cairn runs");
    assert!(
        out.status.success(),
        "plan {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!Path::new(&state).exists(), "a plan must not write state");
    serde_json::from_slice(&out.stdout).expect("plan --json prints JSON")
}

/// Every `image` inside a manifest, wherever it sits (containers, init containers). The
/// task pod template is text inside the ConfigMap and is read separately.
fn images(value: &serde_json::Value, found: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item.as_str()) {
                    ("image", Some(image)) => {
                        found.insert(image.to_owned());
                    }
                    _ => images(item, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| images(item, found)),
        _ => {}
    }
}

/// One line per pinned version: `ADDRESS ATTRIBUTE = VALUE`, sorted.
fn versions(plan: &serde_json::Value) -> String {
    let pinned: &[(&str, &[&str])] = &[
        ("aws_eks_cluster", &["version"]),
        (
            "aws_eks_node_group",
            &["version", "ami_type", "instance_types"],
        ),
        ("aws_db_instance", &["engine", "engine_version"]),
        ("aws_db_parameter_group", &["family"]),
        ("aws_subnet", &["availability_zone_id"]),
    ];
    let mut lines = BTreeSet::new();
    let mut all_images = BTreeSet::new();
    let changes = plan["plan"]["changes"].as_array().expect("changes");
    for change in changes {
        let addr = change["addr"].as_str().expect("addr");
        let after = &change["after"];
        let type_name = addr.split('.').next().unwrap_or_default();
        for (pinned_type, attributes) in pinned {
            if type_name == *pinned_type {
                for attribute in *attributes {
                    lines.insert(format!("{addr} {attribute} = {}", after[*attribute]));
                }
            }
        }
        if type_name == "kubernetes_object" {
            images(&after["manifest"], &mut all_images);
            let pod_template = after["manifest"]["data"]["pod_template.yaml"]
                .as_str()
                .unwrap_or_default();
            for line in pod_template.lines() {
                if let Some(image) = line.trim().strip_prefix("image: ") {
                    all_images.insert(image.to_owned());
                }
            }
        }
    }
    for image in all_images {
        lines.insert(format!("image {image}"));
    }
    lines.into_iter().collect::<Vec<_>>().join("\n")
}

#[test]
fn dev_versions() {
    insta::assert_snapshot!("airflow_dev_versions", versions(&plan("dev")));
}

#[test]
fn prod_versions() {
    insta::assert_snapshot!("airflow_prod_versions", versions(&plan("prod")));
}

/// Every string in a JSON value, keys included.
fn strings<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(text) => found.push(text),
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                found.push(key);
                strings(item, found);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| strings(item, found)),
        _ => {}
    }
}

/// Whether `text` holds `word` delimited by non-alphanumerics (`airflow-dev`, `/dev/`).
fn holds_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|token| token == word)
}

/// A branch environment made from dev's file (`--env pr-42 --env-base dev`) must not name
/// anything after dev: the only value it shares is the logs bucket, which is dev's on
/// purpose (an existing bucket), and every unique name carries the branch.
#[test]
fn a_branch_environment_names_nothing_after_its_base() {
    let dev = plan("dev");
    let branch = plan_with(&["--env", "pr-42", "--env-base", "dev"]);
    let bucket = "example-airflow-logs-dev";
    let named_after = |plan: &serde_json::Value, word: &str| -> BTreeSet<String> {
        let mut found = Vec::new();
        strings(&plan["plan"], &mut found);
        found
            .into_iter()
            .map(|text| text.replace(bucket, ""))
            .filter(|text| holds_word(text, word))
            .collect()
    };
    assert!(
        !named_after(&dev, "dev").is_empty(),
        "the dev plan names things after dev"
    );
    assert_eq!(
        named_after(&branch, "dev"),
        BTreeSet::new(),
        "a branch environment must derive every unique name from its own name"
    );
    let cluster = branch["plan"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|change| change["addr"] == "aws_eks_cluster.main")
        .map(|change| change["after"]["name"].clone());
    assert_eq!(cluster, Some(serde_json::json!("airflow-pr-42")));
}

/// The resource types of the stack's own network, which the existing-VPC mode never plans.
const NETWORK_TYPES: [&str; 6] = [
    "aws_vpc",
    "aws_subnet",
    "aws_internet_gateway",
    "aws_eip",
    "aws_nat_gateway",
    "aws_route_table",
];

/// A VPC made outside cairn with two private subnets tagged as EKS expects
/// (`kubernetes.io/role/internal-elb = 1`, in two zones) and a public one that is not:
/// `(vpc, private subnets sorted, public subnet)`.
async fn existing_network(ec2: &aws_sdk_ec2::Client) -> (String, Vec<String>, String) {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.60.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("the VPC's id")
        .to_owned();
    let subnet = |cidr: &'static str, zone: &'static str, private: bool| {
        let ec2 = ec2.clone();
        let vpc = vpc.clone();
        async move {
            let mut request = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(zone);
            if private {
                request = request.tag_specifications(
                    TagSpecification::builder()
                        .resource_type(aws_sdk_ec2::types::ResourceType::Subnet)
                        .tags(
                            Tag::builder()
                                .key("kubernetes.io/role/internal-elb")
                                .value("1")
                                .build(),
                        )
                        .build(),
                );
            }
            request
                .send()
                .await
                .expect("CreateSubnet")
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("the subnet's id")
                .to_owned()
        }
    };
    let mut private = vec![
        subnet("10.60.32.0/19", "us-east-1a", true).await,
        subnet("10.60.64.0/19", "us-east-1b", true).await,
    ];
    private.sort();
    let public = subnet("10.60.0.0/24", "us-east-1a", false).await;
    (vpc, private, public)
}

/// The planned value of `attribute` of `addr`.
fn planned<'p>(plan: &'p serde_json::Value, addr: &str, attribute: &str) -> &'p serde_json::Value {
    let change = plan["plan"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|change| change["addr"] == addr)
        .unwrap_or_else(|| panic!("{addr} is planned"));
    &change["after"][attribute]
}

/// `existing_vpc_id` plans no network and gives the cluster, both node groups and the
/// database the existing VPC's private subnets: found by their tags, or as listed in
/// `existing_private_subnet_ids`. An id naming no VPC fails the plan, naming the data source.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_vpc_is_used_not_created() {
    let moto = Moto::start();
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let (vpc, private, public) = existing_network(&ec2).await;
    let cairn = Cairn::new(&moto, Path::new(STACK_DIR), "dev");
    cairn.set_var("existing_vpc_id", &vpc);
    let plan_json = || -> serde_json::Value {
        let run = cairn.expect(0, &["plan"], &["--json"]);
        serde_json::from_str(&run.stdout).expect("plan --json prints JSON")
    };

    let plan = plan_json();
    let changes = plan["plan"]["changes"].as_array().expect("changes");
    let network: Vec<&str> = changes
        .iter()
        .filter_map(|change| change["addr"].as_str())
        .filter(|addr| {
            NETWORK_TYPES
                .iter()
                .any(|t| addr.split('.').next() == Some(*t))
        })
        .collect();
    assert_eq!(
        network,
        Vec::<&str>::new(),
        "no network resource is planned"
    );
    assert!(
        changes.iter().all(|change| change["action"] == "create"),
        "an empty state: only creates"
    );
    let by_tags = serde_json::json!(private);
    assert_eq!(
        planned(&plan, "aws_db_subnet_group.metadata", "subnet_ids"),
        &by_tags
    );
    assert_eq!(
        planned(&plan, "aws_eks_cluster.main", "vpc_config")["subnet_ids"],
        by_tags
    );
    assert_eq!(
        planned(&plan, "aws_eks_node_group.system", "subnet_ids"),
        &by_tags
    );
    assert_eq!(
        planned(&plan, r#"aws_eks_node_group.workers["spot"]"#, "subnet_ids"),
        &by_tags
    );
    assert_eq!(
        planned(&plan, "aws_security_group.database", "vpc_id"),
        &serde_json::json!(vpc)
    );

    // Listed by id, the subnets are used as listed (here including the untagged one).
    let listed = [private[0].clone(), public.clone()];
    cairn.set_var(
        "existing_private_subnet_ids",
        &format!(r#"["{}", "{}"]"#, listed[0], listed[1]),
    );
    let plan = plan_json();
    assert_eq!(
        planned(&plan, "aws_db_subnet_group.metadata", "subnet_ids"),
        &serde_json::json!(listed)
    );
    assert_eq!(
        planned(&plan, "aws_eks_cluster.main", "vpc_config")["subnet_ids"],
        serde_json::json!(listed)
    );

    cairn.set_var("existing_vpc_id", "vpc-0000000000000000f");
    let missing = cairn.expect(1, &["plan"], &[]);
    assert!(
        missing.stderr.contains("data.aws_vpc.existing"),
        "{}",
        missing.text()
    );
}
