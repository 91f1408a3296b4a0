//! The real `stacks/airflow` (`--env dev`) applied by the `cairn` binary to a moto server:
//! the key AWS objects checked through the SDK, a no-op re-plan, one in-place change of
//! the worker pool, no generated secret anywhere cairn writes or prints, and a destroy that
//! leaves nothing tagged with the stack.
//!
//! The Kubernetes objects go to the API server of `CAIRN_TEST_KUBECONFIG` when it is set.
//! Otherwise they are skipped (with a message saying so) by targeting every resource that
//! is not a Kubernetes object, as listed by the plan itself.
//!
//! Needs `moto_server` on PATH (`pip install 'moto[server]'`); fails without it.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_eks::types::{CapacityTypes, TaintEffect};

use support::aws::{Clients, assert_nothing_left, assert_tagged};
use support::cairn::{Cairn, resources_with, summary_line};
use support::moto::Moto;

const STACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/airflow");
const STACK: &str = "airflow";
const ENV: &str = "dev";

/// Names and sizes from `stacks/airflow/env/dev.toml`.
const CLUSTER: &str = "airflow-dev";
const DB: &str = "airflow-dev-metadata";
const DB_CLASS: &str = "db.t4g.micro";
const WORKER_MAX: i32 = 3;
const WORKER_TYPES: [&str; 4] = ["m5.large", "m5a.large", "m6i.large", "m6a.large"];

/// Every secret the stack keeps in Secrets Manager.
const SECRETS: [&str; 7] = [
    "airflow/dev/api-admin-password",
    "airflow/dev/api-secret-key",
    "airflow/dev/db-password",
    "airflow/dev/fernet-key",
    "airflow/dev/git-sync-credentials",
    "airflow/dev/jwt-secret",
    "airflow/dev/metadata-connection",
];

#[tokio::test(flavor = "multi_thread")]
async fn airflow_dev_on_moto() {
    let moto = Moto::start();
    let aws = Clients::new(&moto.sdk_config().await);
    let cairn = Cairn::new(&moto, Path::new(STACK_DIR), ENV);

    let kubeconfig = std::env::var("CAIRN_TEST_KUBECONFIG")
        .ok()
        .filter(|path| !path.is_empty());
    match &kubeconfig {
        Some(path) => cairn.set_var("kubeconfig", path),
        None => println!("kubernetes objects skipped: CAIRN_TEST_KUBECONFIG is not set"),
    }

    // What the first apply creates, from the plan itself, so the list follows the stack.
    let planned = cairn.expect(0, &["plan"], &["--json"]);
    let plan: serde_json::Value =
        serde_json::from_str(&planned.stdout).expect("plan --json prints JSON");
    let changes = plan["plan"]["changes"]
        .as_array()
        .expect("the plan lists its changes");
    let aws_addresses: Vec<String> = changes
        .iter()
        .filter(|c| c["provider"] == "aws" && c["action"] == "create")
        .map(|c| c["addr"].as_str().expect("an address").to_owned())
        .collect();
    let non_kubernetes: Vec<String> = changes
        .iter()
        .filter(|c| c["provider"] != "kubernetes" && c["action"] == "create")
        .map(|c| c["addr"].as_str().expect("an address").to_owned())
        .collect();
    assert!(
        aws_addresses.iter().any(|a| a == "aws_eks_cluster.main"),
        "the plan creates the cluster: {aws_addresses:?}"
    );
    let targets: Vec<String> = match kubeconfig {
        Some(_) => Vec::new(),
        None => non_kubernetes
            .iter()
            .flat_map(|addr| ["--target".to_owned(), addr.clone()])
            .collect(),
    };
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();

    // --- apply, with debug logs on: they must not carry secrets either ----------------------
    let applied = cairn.run_with_env(
        &["apply"],
        &[&["--auto-approve"][..], &targets[..]].concat(),
        &[("CAIRN_LOG", "debug")],
    );
    assert_eq!(applied.code, Some(0), "apply failed:\n{}", applied.text());
    assert!(
        applied.stderr.contains("DEBUG"),
        "CAIRN_LOG=debug produced debug logs to search:\n{}",
        applied.text()
    );

    let objects = aws.tagged_with_stack(STACK).await;
    assert_tagged(&objects, STACK, ENV, &aws_addresses);
    check_cluster_and_node_groups(&aws, WORKER_MAX).await;
    check_database(&aws).await;
    let mut names: Vec<&str> = objects
        .iter()
        .filter(|o| o.kind == "secretsmanager secret")
        .map(|o| o.id.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, SECRETS);

    // --- nothing to do on a second run --------------------------------------------------
    let replan = cairn.run_with_env(
        &["plan"],
        &[&["--detailed-exitcode"][..], &targets[..]].concat(),
        &[("CAIRN_LOG", "debug")],
    );
    assert_eq!(
        replan.code,
        Some(0),
        "a re-plan after apply shows no changes:\n{}",
        replan.text()
    );

    // --- one in-place change: the worker pool's maximum size ------------------------------
    cairn.set_var("worker_max_size", "5");
    let change = cairn.plan(2, &targets);
    assert_eq!(
        summary_line(&change),
        "Plan: 0 to add, 1 to change, 0 to destroy.",
        "{}",
        change.text()
    );
    assert_eq!(
        resources_with(&change, "~"),
        ["aws_eks_node_group.workers"],
        "{}",
        change.text()
    );
    cairn.apply(&targets);
    check_cluster_and_node_groups(&aws, 5).await;
    cairn.plan(0, &targets);

    // --- no secret value in the state directory, the output or the debug logs -------------
    let mut values = BTreeMap::new();
    for name in SECRETS {
        values.insert(name, aws.secret_value(name).await);
    }
    let generated = [
        "airflow/dev/api-admin-password",
        "airflow/dev/api-secret-key",
        "airflow/dev/db-password",
        "airflow/dev/fernet-key",
        "airflow/dev/jwt-secret",
    ];
    for name in generated {
        assert!(
            values[name].len() >= 24,
            "{name} holds a generated value, not a placeholder"
        );
    }
    assert!(
        values["airflow/dev/metadata-connection"].contains(&values["airflow/dev/db-password"]),
        "the connection URL carries the generated database password"
    );
    for (name, value) in &values {
        cairn.assert_never_written(name, value);
    }

    // --- destroy -------------------------------------------------------------------------
    cairn.destroy(&[]);
    assert_nothing_left(&aws, STACK).await;
}

/// The control plane, the on-demand system pool and the SPOT worker pool (whose maximum
/// size the test changes).
async fn check_cluster_and_node_groups(aws: &Clients, worker_max: i32) {
    let cluster = aws
        .eks
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .expect("DescribeCluster");
    let cluster = cluster.cluster().expect("the cluster");
    assert_eq!(cluster.version(), Some("1.34"));
    assert_eq!(cluster.status().map(|s| s.as_str()), Some("ACTIVE"));

    let workers = aws
        .eks
        .describe_nodegroup()
        .cluster_name(CLUSTER)
        .nodegroup_name("workers")
        .send()
        .await
        .expect("DescribeNodegroup workers");
    let workers = workers.nodegroup().expect("the workers node group");
    assert_eq!(workers.capacity_type(), Some(&CapacityTypes::Spot));
    assert_eq!(workers.instance_types(), WORKER_TYPES);
    let taints: Vec<(&str, &str, &TaintEffect)> = workers
        .taints()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?, t.effect()?)))
        .collect();
    assert_eq!(
        taints,
        [("airflow-worker", "true", &TaintEffect::NoSchedule)]
    );
    assert_eq!(
        workers
            .labels()
            .and_then(|l| l.get("workload-type"))
            .map(String::as_str),
        Some("airflow-workers")
    );
    let scaling = workers.scaling_config().expect("a scaling config");
    assert_eq!(scaling.min_size(), Some(0), "the workers scale to zero");
    assert_eq!(scaling.max_size(), Some(worker_max));

    let system = aws
        .eks
        .describe_nodegroup()
        .cluster_name(CLUSTER)
        .nodegroup_name("system")
        .send()
        .await
        .expect("DescribeNodegroup system");
    let system = system.nodegroup().expect("the system node group");
    assert_eq!(system.capacity_type(), Some(&CapacityTypes::OnDemand));
    assert!(system.taints().is_empty(), "the system pool is untainted");
    assert_eq!(
        system
            .labels()
            .and_then(|l| l.get("workload-type"))
            .map(String::as_str),
        Some("airflow-system")
    );
}

async fn check_database(aws: &Clients) {
    let out = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(DB)
        .send()
        .await
        .expect("DescribeDBInstances");
    let db = &out.db_instances()[0];
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.db_instance_class(), Some(DB_CLASS));
    assert_eq!(db.publicly_accessible(), Some(false));
}
