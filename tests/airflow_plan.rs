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
        ("aws_eks_addon", &["addon_version"]),
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

// --- issue 14: what the production checklist asks of the stack, read from its plan -------

/// The planned attributes of `addr`, or `Null` when the plan does not create it.
fn after<'a>(plan: &'a serde_json::Value, addr: &str) -> &'a serde_json::Value {
    plan["plan"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|change| change["addr"] == addr)
        .map_or(&serde_json::Value::Null, |change| &change["after"])
}

/// The resources the plan says `addr` depends on.
fn dependencies(plan: &serde_json::Value, addr: &str) -> Vec<String> {
    plan["plan"]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|change| change["addr"] == addr)
        .and_then(|change| change["dependencies"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect()
}

/// The plan of `env` with an existing logs bucket: the stack's own bucket is named after the
/// account, known only once applied, and so is airflow.cfg, which names the bucket.
fn plan_known_cfg(env: &str) -> serde_json::Value {
    plan_with(&["--env", env, "--var", "logs_bucket=my-company-logs"])
}

/// `key = value` of `[section]` in the planned airflow.cfg.
fn airflow_cfg(plan: &serde_json::Value, section: &str, key: &str) -> Option<String> {
    let cfg = after(plan, "kubernetes_object.airflow_config")["manifest"]["data"]["airflow.cfg"]
        .as_str()
        .expect("airflow.cfg in the ConfigMap");
    let mut current = "";
    for line in cfg.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name;
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

/// The Airflow IRSA roles (by component) with a statement allowing `action`.
fn roles_allowed(plan: &serde_json::Value, action: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for change in plan["plan"]["changes"].as_array().into_iter().flatten() {
        let addr = change["addr"].as_str().unwrap_or_default();
        let Some(component) = addr
            .strip_prefix("aws_iam_role.airflow[\"")
            .and_then(|rest| rest.strip_suffix("\"]"))
        else {
            continue;
        };
        for policy in change["after"]["inline_policy"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for statement in policy["policy"]["Statement"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let actions: Vec<&str> = match &statement["Action"] {
                    serde_json::Value::String(one) => vec![one.as_str()],
                    many => many
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str())
                        .collect(),
                };
                if actions.contains(&action) {
                    found.insert(component.to_owned());
                }
            }
        }
    }
    found
}

/// The Secrets Manager backend is airflow.cfg's, under the environment's prefixes, and
/// exactly the components that resolve connections and variables may read it: task pods,
/// the triggerer, the api-server (Execution API) and the dag-processor; not the scheduler.
#[test]
fn the_secrets_manager_backend_and_who_may_read_it() {
    for env in ["dev", "prod"] {
        let plan = plan_known_cfg(env);
        assert_eq!(
            airflow_cfg(&plan, "secrets", "backend").as_deref(),
            Some("airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend")
        );
        let kwargs: serde_json::Value = serde_json::from_str(
            &airflow_cfg(&plan, "secrets", "backend_kwargs").expect("backend_kwargs"),
        )
        .expect("backend_kwargs is JSON");
        assert_eq!(
            kwargs["connections_prefix"],
            format!("airflow/{env}/connections")
        );
        assert_eq!(
            kwargs["variables_prefix"],
            format!("airflow/{env}/variables")
        );
        let readers = roles_allowed(&plan, "secretsmanager:GetSecretValue");
        let expected: BTreeSet<String> = ["api-server", "dag-processor", "triggerer", "worker"]
            .map(str::to_owned)
            .into();
        assert_eq!(readers, expected, "{env}");
        for component in &readers {
            let account = after(
                &plan,
                &format!("kubernetes_object.service_account[\"{component}\"]"),
            )["manifest"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
                .clone();
            assert_ne!(
                account,
                serde_json::Value::Null,
                "{env}: airflow-{component} runs with its role"
            );
        }
        assert!(
            roles_allowed(&plan, "s3:PutObject").contains("worker"),
            "task pods still write their logs"
        );
    }
}

/// airflow.cfg sends StatsD to the exporter's Service, on its UDP port; Prometheus finds the
/// exporter's metrics port through the annotations; the exporter reads the mapping.
#[test]
fn airflow_sends_metrics_to_the_statsd_exporter_that_prometheus_scrapes() {
    let plan = plan_known_cfg("dev");
    let service = &after(&plan, "kubernetes_object.statsd_service")["manifest"];
    let deployment = &after(&plan, "kubernetes_object.statsd")["manifest"];
    let mapping = &after(&plan, "kubernetes_object.statsd_mapping")["manifest"];
    assert_eq!(
        airflow_cfg(&plan, "metrics", "statsd_on").as_deref(),
        Some("True")
    );
    assert_eq!(
        airflow_cfg(&plan, "metrics", "statsd_host"),
        Some(format!(
            "{}.{}.svc.cluster.local",
            service["metadata"]["name"].as_str().expect("name"),
            service["metadata"]["namespace"]
                .as_str()
                .expect("namespace")
        ))
    );
    let port = |name: &str| {
        service["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(port("statsd-udp")["protocol"], "UDP");
    assert_eq!(
        airflow_cfg(&plan, "metrics", "statsd_port"),
        Some(port("statsd-udp")["port"].to_string())
    );
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(
        annotations["prometheus.io/port"],
        port("metrics")["port"].to_string()
    );
    assert_eq!(
        service["metadata"]["annotations"]["prometheus.io/scrape"],
        "true"
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"], service["spec"]["selector"],
        "the Service selects the exporter's pods"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"],
        mapping["metadata"]["name"]
    );
    assert!(
        mapping["data"]["mappings.yml"]
            .as_str()
            .is_some_and(|m| m.contains("airflow_task_duration"))
    );
}

/// prod has a GPU pool that scales from zero and only GPU task pods tolerate; dev has none;
/// and the README's DAG asks for exactly that pool's label and taint.
#[test]
fn the_gpu_pool_is_prods_and_the_readme_dag_lands_on_it() {
    assert_eq!(
        after(&plan("dev"), r#"aws_eks_node_group.workers["gpu"]"#),
        &serde_json::Value::Null,
        "no GPU pool in dev"
    );
    let prod = plan("prod");
    let gpu = after(&prod, r#"aws_eks_node_group.workers["gpu"]"#);
    assert_eq!(gpu["ami_type"], "AL2023_x86_64_NVIDIA");
    assert_eq!(gpu["scaling_config"]["min_size"], 0);
    assert_eq!(gpu["scaling_config"]["desired_size"], 0);
    let taints = gpu["taints"].as_array().expect("taints");
    assert_eq!(taints.len(), 1);
    assert_eq!(taints[0]["key"], "nvidia.com/gpu");
    assert_eq!(taints[0]["effect"], "NO_SCHEDULE");
    let (label, value) = gpu["labels"]
        .as_object()
        .and_then(|labels| labels.iter().next())
        .expect("a label");

    let readme = std::fs::read_to_string(Path::new(STACK_DIR).join("README.md")).expect("README");
    let dag = readme
        .split("```python")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("executor_config"))
        .expect("a DAG with a per-task pod override in the README");
    let selector = format!("node_selector={{\"{label}\": {value}}}");
    assert!(dag.contains(&selector), "{selector} in:\n{dag}");
    assert!(
        dag.contains(&format!(
            "V1Toleration(key={}, operator=\"Exists\", effect=\"NoSchedule\")",
            taints[0]["key"]
        )),
        "{dag}"
    );
    assert!(dag.contains(r#""nvidia.com/gpu": "1""#), "{dag}");
    assert!(dag.contains(r#"V1Container(name="base""#), "{dag}");
}

/// The database and the cluster's Secrets are encrypted with the stack's own key; the logs
/// bucket is private, encrypted by default, and expires the environment's logs; naming an
/// existing bucket (`logs_bucket`) drops the stack's and points the roles and airflow.cfg at it.
#[test]
fn encrypted_at_rest_and_the_logs_bucket() {
    for env in ["dev", "prod"] {
        let plan = plan(env);
        let db = after(&plan, "aws_db_instance.metadata");
        assert_eq!(db["storage_encrypted"], true, "{env}");
        assert!(
            dependencies(&plan, "aws_db_instance.metadata")
                .contains(&"aws_kms_key.main".to_owned())
        );
        let cluster = after(&plan, "aws_eks_cluster.main");
        assert_eq!(
            cluster["encryption_config"]["resources"],
            serde_json::json!(["secrets"])
        );
        assert!(
            dependencies(&plan, "aws_eks_cluster.main").contains(&"aws_kms_key.main".to_owned())
        );
        assert_eq!(
            after(&plan, "aws_kms_key.main")["enable_key_rotation"],
            true
        );
        assert_eq!(
            after(&plan, "aws_kms_alias.main")["name"],
            format!("alias/airflow-{env}")
        );

        let bucket = after(&plan, "aws_s3_bucket.logs");
        for flag in [
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ] {
            assert_eq!(bucket["public_access_block"][flag], true, "{env} {flag}");
        }
        assert_eq!(bucket["server_side_encryption"]["sse_algorithm"], "AES256");
        assert_eq!(bucket["object_ownership"], "BucketOwnerEnforced");
        let rule = &bucket["lifecycle_expiration"][0];
        assert_eq!(rule["prefix"], format!("airflow/{env}/logs/"));
        assert!(rule["days"].as_i64().is_some_and(|d| d > 0));
        assert_eq!(
            bucket["force_destroy"],
            env == "dev",
            "only dev's logs go with the bucket"
        );
    }

    let existing = plan_known_cfg("dev");
    assert_eq!(
        after(&existing, "aws_s3_bucket.logs"),
        &serde_json::Value::Null
    );
    assert_eq!(
        airflow_cfg(&existing, "logging", "remote_base_log_folder").as_deref(),
        Some("s3://my-company-logs/airflow/dev/logs")
    );
    let worker = after(&existing, r#"aws_iam_role.airflow["worker"]"#);
    assert_eq!(
        worker["inline_policy"][0]["policy"]["Statement"][0]["Resource"],
        "arn:aws:s3:::my-company-logs/airflow/dev/logs/*"
    );
}

/// The managed add-ons are pinned per Kubernetes version: each env's cluster_version has
/// its row, kube-proxy's minor version is the cluster's, another version takes another row
/// (one without a row is an error); the VPC CNI runs on its own IRSA role (kube-system/
/// aws-node) and the nodes' role no longer carries the CNI policy; the DaemonSet add-ons
/// come before the node groups, CoreDNS after the system pool.
#[test]
fn managed_addons_pinned_per_cluster_version() {
    const CNI_POLICY: &str = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy";
    for env in ["dev", "prod"] {
        let plan = plan(env);
        let version = after(&plan, "aws_eks_cluster.main")["version"]
            .as_str()
            .expect("a cluster version")
            .to_owned();
        let mut names = BTreeSet::new();
        for change in plan["plan"]["changes"].as_array().into_iter().flatten() {
            if change["addr"]
                .as_str()
                .is_some_and(|a| a.starts_with("aws_eks_addon."))
            {
                names.insert(
                    change["after"]["addon_name"]
                        .as_str()
                        .expect("a name")
                        .to_owned(),
                );
            }
        }
        let expected: BTreeSet<String> =
            ["coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
                .map(str::to_owned)
                .into();
        assert_eq!(names, expected, "{env}");
        let kube_proxy = after(&plan, r#"aws_eks_addon.node_agents["kube-proxy"]"#);
        assert!(
            kube_proxy["addon_version"]
                .as_str()
                .is_some_and(|v| v.starts_with(&format!("v{version}."))),
            "{env}: kube-proxy {} on Kubernetes {version}",
            kube_proxy["addon_version"]
        );
        assert!(
            dependencies(&plan, r#"aws_eks_addon.node_agents["vpc-cni"]"#)
                .contains(&"aws_iam_role.vpc_cni".to_owned())
        );
        assert_eq!(
            kube_proxy["service_account_role_arn"],
            serde_json::Value::Null,
            "only the CNI has a role of its own"
        );
        let role = after(&plan, "aws_iam_role.vpc_cni");
        assert_eq!(
            role["irsa"]["service_accounts"],
            serde_json::json!(["kube-system:aws-node"])
        );
        assert_eq!(role["managed_policy_arns"], serde_json::json!([CNI_POLICY]));
        let node = after(&plan, "aws_iam_role.eks_node");
        assert!(
            !node["managed_policy_arns"]
                .as_array()
                .expect("policies")
                .contains(&serde_json::json!(CNI_POLICY)),
            "{env}: the nodes' role does without the CNI policy"
        );
        for group in [
            "aws_eks_node_group.system",
            r#"aws_eks_node_group.workers["spot"]"#,
        ] {
            assert!(
                dependencies(&plan, group)
                    .contains(&r#"aws_eks_addon.node_agents["vpc-cni"]"#.to_owned()),
                "{group}: {:?}",
                dependencies(&plan, group)
            );
        }
        assert!(
            dependencies(&plan, "aws_eks_addon.coredns")
                .contains(&"aws_eks_node_group.system".to_owned())
        );
    }

    let older = plan_with(&["--env", "dev", "--var", "cluster_version=1.33"]);
    let kube_proxy = &after(&older, r#"aws_eks_addon.node_agents["kube-proxy"]"#)["addon_version"];
    assert!(
        kube_proxy.as_str().is_some_and(|v| v.starts_with("v1.33.")),
        "{kube_proxy}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(dir.path())
        .args([
            "plan",
            STACK_DIR,
            "--env",
            "dev",
            "--var",
            "cluster_version=1.30",
            "--state",
        ])
        .arg(dir.path().join("state.json"))
        .env("NO_COLOR", "1")
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("addon_versions") && stderr.contains("1.30"),
        "{stderr}"
    );

    let without = plan_with(&["--env", "dev", "--var", "eks_managed_addons=false"]);
    assert!(
        without["plan"]["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|c| !c["addr"]
                .as_str()
                .is_some_and(|a| a.starts_with("aws_eks_addon.") || a == "aws_iam_role.vpc_cni")),
        "no add-on and no CNI role without managed add-ons"
    );
    assert!(
        after(&without, "aws_iam_role.eks_node")["managed_policy_arns"]
            .as_array()
            .expect("policies")
            .contains(&serde_json::json!(CNI_POLICY)),
        "the EKS-installed CNI runs on the nodes' role"
    );
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
/// `existing_private_subnet_ids`. Tags that match no subnet fail the plan on the cluster;
/// an id naming no VPC fails it naming the data source.
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

    // Tags no subnet carries: the lookup finds none, and the plan (not the create, at
    // apply) fails on the cluster, saying why.
    cairn.set_var("existing_private_subnet_ids", "[]");
    cairn.set_var("existing_private_subnet_tags", r#"{ tier = "nowhere" }"#);
    let unmatched = cairn.expect(1, &["plan"], &[]);
    assert!(
        unmatched.stderr.contains("aws_eks_cluster.main")
            && unmatched.stderr.contains("has no subnets"),
        "{}",
        unmatched.text()
    );

    cairn.set_var("existing_vpc_id", "vpc-0000000000000000f");
    let missing = cairn.expect(1, &["plan"], &[]);
    assert!(
        missing.stderr.contains("data.aws_vpc.existing"),
        "{}",
        missing.text()
    );
}
