//! The versions `stacks/airflow` deploys, pinned per environment: Kubernetes (control plane
//! and node groups), the node AMI family, cluster-autoscaler, Airflow and the other images,
//! the PostgreSQL engine and its parameter group family, and the availability zones.
//!
//! The plan is made offline (no state, so no provider is configured and nothing is read
//! from AWS). A default that falls out of support must be changed on purpose: the change
//! shows here as a snapshot diff to review (issue 9: Kubernetes 1.31 and PostgreSQL 16.4
//! had quietly fallen out of support).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]
#![cfg(all(feature = "aws", feature = "kubernetes"))]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

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
