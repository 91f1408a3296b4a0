//! The real `stacks/airflow` (`--env dev`) applied by the `cairn` binary to a moto server:
//! the key AWS objects checked through the SDK, a no-op re-plan (with and without a
//! refresh), a second apply that touches nothing, one in-place change of the worker pool,
//! no generated secret anywhere cairn writes or prints, and a destroy that leaves nothing
//! tagged with the stack. Deployed into an existing VPC (`existing_vpc_id`, made here
//! with the SDK), it makes no network of its own, puts the cluster and the database in the
//! existing subnets, converges, and its destroy leaves that VPC and its subnets in place.
//!
//! The Kubernetes objects go to the mock API server (`cairn-kube-mock`, which behaves like
//! the recorded kube-apiserver v1.28), where the test also changes `airflow.cfg`, drifts
//! the scheduler and checks the Secrets; and, in a second test reported as ignored unless
//! `CAIRN_TEST_KUBECONFIG` named a cluster at build time, to that cluster.
//! `CAIRN_TEST_KUBE_NO_NODES=1` says the cluster runs no pods (a bare control plane): the
//! stack then waits only for the objects to exist.
//!
//! Issue 14's production checklist is checked through the SDK in both environments: the
//! database and the cluster's Secrets are encrypted with the stack's KMS key, the logs
//! bucket blocks public access, encrypts by default and expires logs, the Secrets Manager
//! backend's read access names exactly the environment's prefixes, prod's GPU pool carries
//! its taint; and prod, once its protections are lifted as the stack README says, is
//! destroyed down to nothing too (a key only scheduled for deletion is gone). moto has no
//! EKS add-on API, so both run with `eks_managed_addons = false`; the add-ons' versions and
//! the VPC CNI's role are checked on the plan (`tests/airflow_plan.rs`).
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

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use aws_sdk_eks::types::{CapacityTypes, TaintEffect};

use cairn_kube_mock::{MockServer, Options};
use support::aws::{Clients, Tagged, assert_nothing_left, assert_tagged};
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

/// The Deployments of the stack, which roll when their config or secrets change.
const DEPLOYMENTS: [&str; 4] = [
    "Deployment/airflow/airflow-scheduler",
    "Deployment/airflow/airflow-api-server",
    "Deployment/airflow/airflow-dag-processor",
    "Deployment/airflow/airflow-triggerer",
];

#[tokio::test(flavor = "multi_thread")]
async fn airflow_dev_on_moto_and_the_kubernetes_mock() {
    // On a thread of its own: the test blocks its runtime while the binary runs.
    let (mock, kubeconfig) = mock_cluster();
    airflow_dev(&path_of(&kubeconfig), Some(&mock), false).await;
}

/// prod (two of each component, disruption budgets, a NAT gateway per AZ, a GPU pool)
/// converges too; its destroy is refused until the protections are lifted, then leaves
/// nothing.
#[tokio::test(flavor = "multi_thread")]
async fn airflow_prod_converges_on_moto_and_the_kubernetes_mock() {
    let (mock, kubeconfig) = mock_cluster();
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let aws = Clients::new(&sdk);
    let cairn = airflow_on_moto(&moto, "prod", &path_of(&kubeconfig));
    cairn.apply(&[]);
    let made = check_production(&aws, &sdk, "prod").await;
    check_gpu_pool(&aws, "airflow-prod").await;
    assert!(
        !mock.objects("PodDisruptionBudget").is_empty(),
        "prod's disruption budgets were applied"
    );
    cairn.plan(0, &[]);
    cairn.plan(0, &["--refresh=false"]);
    let versions = kubernetes_versions(&mock);
    let again = cairn.apply(&[]);
    assert!(
        again.stdout.contains("No changes."),
        "a second apply has nothing to do:\n{}",
        again.text()
    );
    assert_eq!(kubernetes_versions(&mock), versions, "nothing touched");

    // --- destroy: refused while protected, complete once lifted ---------------------------
    let refused = cairn.run(&["destroy"], &["--auto-approve"]);
    assert_eq!(refused.code, Some(1), "{}", refused.text());
    for protected in ["aws_db_instance.metadata", "aws_s3_bucket.logs"] {
        assert!(
            refused.text().contains(protected),
            "the refusal names {protected}:\n{}",
            refused.text()
        );
    }
    // As the stack README says; and secrets deleted at once, so nothing is left at all.
    for (name, value) in [
        ("protect_database", "false"),
        ("db_deletion_protection", "false"),
        ("protect_logs_bucket", "false"),
        ("secret_recovery_window_days", "0"),
    ] {
        cairn.set_var(name, value);
    }
    cairn.apply(&[]);
    cairn.destroy(&[]);
    assert_nothing_left(&aws, STACK).await;
    check_production_gone(&sdk, &made).await;
}

/// The resource types of the stack's own network.
const NETWORK_TYPES: [&str; 6] = [
    "aws_vpc",
    "aws_subnet",
    "aws_internet_gateway",
    "aws_eip",
    "aws_nat_gateway",
    "aws_route_table",
];

/// The kinds of AWS object the stack's own network is made of.
const NETWORK_KINDS: [&str; 6] = [
    "ec2 vpc",
    "ec2 subnet",
    "ec2 internet gateway",
    "ec2 nat gateway",
    "ec2 elastic ip",
    "ec2 route table",
];

/// A VPC made outside cairn, as a landing zone would hand it over: two private subnets in
/// two zones tagged `kubernetes.io/role/internal-elb = 1`, found by that tag.
/// `(vpc, private subnets sorted)`.
async fn existing_network(ec2: &aws_sdk_ec2::Client) -> (String, Vec<String>) {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.70.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("the VPC's id")
        .to_owned();
    let mut private = Vec::new();
    for (cidr, zone) in [
        ("10.70.32.0/19", "us-east-1a"),
        ("10.70.64.0/19", "us-east-1b"),
    ] {
        let tagged = TagSpecification::builder()
            .resource_type(ResourceType::Subnet)
            .tags(
                Tag::builder()
                    .key("kubernetes.io/role/internal-elb")
                    .value("1")
                    .build(),
            )
            .build();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .tag_specifications(tagged)
            .send()
            .await
            .expect("CreateSubnet");
        private.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("the subnet's id")
                .to_owned(),
        );
    }
    private.sort();
    (vpc, private)
}

/// The ids of the subnets of `vpc` that still exist, sorted.
async fn subnets_of(ec2: &aws_sdk_ec2::Client, vpc: &str) -> Vec<String> {
    let out = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSubnets");
    let mut ids: Vec<String> = out
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn airflow_dev_into_an_existing_vpc() {
    let (_mock, kubeconfig) = mock_cluster();
    let moto = Moto::start();
    let aws = Clients::new(&moto.sdk_config().await);
    let (vpc, private) = existing_network(&aws.ec2).await;
    let cairn = airflow_on_moto(&moto, ENV, &path_of(&kubeconfig));
    cairn.set_var("existing_vpc_id", &vpc);

    let planned = cairn.expect(0, &["plan"], &["--json"]);
    let plan: serde_json::Value =
        serde_json::from_str(&planned.stdout).expect("plan --json prints JSON");
    let changes = plan["plan"]["changes"].as_array().expect("changes");
    let network: Vec<&str> = changes
        .iter()
        .filter_map(|c| c["addr"].as_str())
        .filter(|addr| NETWORK_TYPES.contains(&addr.split('.').next().unwrap_or_default()))
        .collect();
    assert_eq!(network, Vec::<&str>::new(), "the plan makes no network");
    assert!(
        changes.iter().any(|c| c["addr"] == "aws_eks_cluster.main"),
        "the plan makes the cluster"
    );

    cairn.apply(&[]);
    let objects = aws.tagged_with_stack(STACK).await;
    let made: Vec<&Tagged> = objects
        .iter()
        .filter(|o| NETWORK_KINDS.contains(&o.kind))
        .collect();
    assert!(made.is_empty(), "no network object was made: {made:#?}");
    let cluster = aws
        .eks
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .expect("DescribeCluster");
    let vpc_config = cluster
        .cluster()
        .and_then(|c| c.resources_vpc_config())
        .expect("the cluster's VPC configuration");
    let mut cluster_subnets = vpc_config.subnet_ids().to_vec();
    cluster_subnets.sort();
    assert_eq!(
        cluster_subnets, private,
        "the cluster is in the existing subnets"
    );
    for node_group in ["system", "workers"] {
        let described = aws
            .eks
            .describe_nodegroup()
            .cluster_name(CLUSTER)
            .nodegroup_name(node_group)
            .send()
            .await
            .expect("DescribeNodegroup");
        let mut subnets = described
            .nodegroup()
            .map(|n| n.subnets().to_vec())
            .unwrap_or_default();
        subnets.sort();
        assert_eq!(subnets, private, "node group {node_group}'s subnets");
    }
    let groups = aws
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(DB)
        .send()
        .await
        .expect("DescribeDBSubnetGroups");
    let group = groups
        .db_subnet_groups()
        .first()
        .expect("the DB subnet group");
    assert_eq!(group.vpc_id(), Some(vpc.as_str()));
    let mut db_subnets: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    db_subnets.sort();
    assert_eq!(
        db_subnets, private,
        "the database is in the existing subnets"
    );
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("airflow-dev-metadata-db")
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups");
    let vpcs: Vec<Option<&str>> = groups
        .security_groups()
        .iter()
        .map(|g| g.vpc_id())
        .collect();
    assert_eq!(vpcs, [Some(vpc.as_str())], "the database's security group");

    // Converged: nothing to do, with and without a refresh.
    cairn.plan(0, &[]);
    cairn.plan(0, &["--refresh=false"]);

    cairn.destroy(&[]);
    assert_nothing_left(&aws, STACK).await;
    assert_eq!(
        subnets_of(&aws.ec2, &vpc).await,
        private,
        "the destroy leaves the existing subnets"
    );
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .expect("the existing VPC is still there");
    assert_eq!(vpcs.vpcs().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(cairn_test_kubeconfig),
    ignore = "needs a cluster: set CAIRN_TEST_KUBECONFIG to its kubeconfig"
)]
async fn airflow_dev_on_moto_and_a_real_cluster() {
    let kubeconfig = std::env::var("CAIRN_TEST_KUBECONFIG")
        .expect("CAIRN_TEST_KUBECONFIG names a kubeconfig (kind, k3d, minikube or EKS)");
    let no_nodes = std::env::var("CAIRN_TEST_KUBE_NO_NODES").is_ok_and(|v| v == "1");
    airflow_dev(&kubeconfig, None, no_nodes).await;
}

/// The whole walk; `mock` is the API server when it is the mock, for the checks only a
/// test can make there (drift by another client, resource versions).
/// The `cairn:address` tag of a planned address: a `for_each` instance `TYPE.NAME["key"]`
/// is tagged `TYPE.NAME.key` (tag values allow no quotes or brackets).
fn tag_form(addr: &str) -> String {
    match addr.split_once("[\"") {
        Some((base, key)) => format!("{base}.{}", key.trim_end_matches("\"]")),
        None => addr.to_owned(),
    }
}

/// A mock API server that makes workloads ready at once, and a kubeconfig naming it.
fn mock_cluster() -> (MockServer, tempfile::NamedTempFile) {
    let mock = MockServer::start_blocking(Options {
        auto_ready: true,
        ..Options::default()
    })
    .expect("the mock API server starts");
    let kubeconfig = tempfile::NamedTempFile::new().expect("temp file");
    mock.write_kubeconfig(kubeconfig.path())
        .expect("kubeconfig");
    (mock, kubeconfig)
}

fn path_of(file: &tempfile::NamedTempFile) -> String {
    file.path().display().to_string()
}

/// `stacks/airflow` in `env` on `moto`, its Kubernetes objects on the cluster of
/// `kubeconfig`.
fn airflow_on_moto<'m>(moto: &'m Moto, env: &str, kubeconfig: &str) -> Cairn<'m> {
    let cairn = Cairn::new(moto, Path::new(STACK_DIR), env);
    cairn.set_var("kubeconfig", kubeconfig);
    // moto has no EKS add-on API: tests/airflow_plan.rs checks the add-ons' plan.
    cairn.set_var("eks_managed_addons", "false");
    cairn
}

async fn airflow_dev(kubeconfig: &str, mock: Option<&MockServer>, no_nodes: bool) {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let aws = Clients::new(&sdk);
    let cairn = airflow_on_moto(&moto, ENV, kubeconfig);
    if no_nodes {
        cairn.set_var("wait_for_workloads", "false");
    }

    // What the first apply creates, from the plan itself, so the list follows the stack.
    let planned = cairn.expect(0, &["plan"], &["--json"]);
    let plan: serde_json::Value =
        serde_json::from_str(&planned.stdout).expect("plan --json prints JSON");
    let changes = plan["plan"]["changes"]
        .as_array()
        .expect("the plan lists its changes");
    // KMS and S3 objects are checked by check_production (the shared lister covers the
    // types the stack had before them).
    let aws_addresses: Vec<String> = changes
        .iter()
        .filter(|c| c["provider"] == "aws" && c["action"] == "create")
        .map(|c| tag_form(c["addr"].as_str().expect("an address")))
        .filter(|a| !a.starts_with("aws_kms_") && !a.starts_with("aws_s3_"))
        .collect();
    assert!(
        aws_addresses.iter().any(|a| a == "aws_eks_cluster.main"),
        "the plan creates the cluster: {aws_addresses:?}"
    );
    let targets: Vec<&str> = Vec::new();

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
    let made = check_production(&aws, &sdk, ENV).await;
    let none = aws
        .eks
        .describe_nodegroup()
        .cluster_name(CLUSTER)
        .nodegroup_name("workers-gpu")
        .send()
        .await;
    assert!(none.is_err(), "dev has no GPU pool");
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

    let refreshless = cairn.run(&["plan"], &["--detailed-exitcode", "--refresh=false"]);
    assert_eq!(
        refreshless.code,
        Some(0),
        "without a refresh, values derived from secrets kept as hashes are unchanged too:\n{}",
        refreshless.text()
    );
    let versions = mock.map(kubernetes_versions);
    let patches = mock.map(|m| m.request_count("PATCH"));
    let again = cairn.apply(&targets);
    assert!(
        again.stdout.contains("No changes."),
        "a second apply has nothing to do:\n{}",
        again.text()
    );
    if let Some(mock) = mock {
        assert_eq!(
            Some(kubernetes_versions(mock)),
            versions,
            "same uid and resourceVersion"
        );
        assert_eq!(
            Some(mock.request_count("PATCH")),
            patches,
            "nothing re-applied"
        );
    }

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
        use base64::Engine;
        cairn.assert_never_written(name, value);
        // The Kubernetes Secrets carry them base64-encoded.
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        cairn.assert_never_written(&format!("{name} (base64)"), &encoded);
    }

    if let Some(mock) = mock {
        check_kubernetes_on_the_mock(&cairn, mock, &values);
    }

    // --- destroy -------------------------------------------------------------------------
    // A volume the EBS CSI driver made for a claim outlives the cluster (Retain): the
    // destroy leaves it and says so at the end, where a progress line would be gone.
    let volume = claim_volume(&aws.ec2, "airflow-dev").await;
    let destroyed = cairn.destroy(&[]);
    let warning = format!(
        "Warning: aws_eks_cluster.main: cluster airflow-dev leaves 1 EBS volume behind \
         (persistent volumes; they cost money until deleted): {volume}"
    );
    assert!(destroyed.stdout.contains(&warning), "{}", destroyed.text());
    aws.ec2
        .delete_volume()
        .volume_id(&volume)
        .send()
        .await
        .expect("DeleteVolume");
    assert_nothing_left(&aws, STACK).await;
    check_production_gone(&sdk, &made).await;
    if let Some(mock) = mock {
        mock.settle_all();
        assert!(
            mock.object("Namespace/airflow").is_none(),
            "the namespace (and so every object in it) is gone"
        );
    }
}

/// uid and resourceVersion of every object in the mock, by kind and name.
fn kubernetes_versions(mock: &MockServer) -> BTreeMap<String, (String, String)> {
    let mut versions = BTreeMap::new();
    for kind in [
        "Namespace",
        "Secret",
        "ConfigMap",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "Job",
        "PodDisruptionBudget",
    ] {
        for object in mock.objects(kind) {
            let field = |name: &str| {
                object["metadata"][name]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            versions.insert(
                format!("{kind}/{}/{}", field("namespace"), field("name")),
                (field("uid"), field("resourceVersion")),
            );
        }
    }
    versions
}

fn generation(mock: &MockServer, target: &str) -> i64 {
    mock.object(target)
        .and_then(|o| o["metadata"]["generation"].as_i64())
        .unwrap_or_default()
}

/// The Secrets hold what Secrets Manager holds; a change of `airflow.cfg` rolls each
/// Deployment exactly once in one apply; drift by `kubectl scale` is shown and reverted.
fn check_kubernetes_on_the_mock(
    cairn: &Cairn<'_>,
    mock: &MockServer,
    values: &BTreeMap<&str, String>,
) {
    use base64::Engine;
    let secret = mock
        .object("Secret/airflow/airflow-secrets")
        .expect("the Airflow Secret exists");
    let data: Vec<String> = secret["data"]
        .as_object()
        .map(|data| {
            data.values()
                .filter_map(|v| {
                    base64::engine::general_purpose::STANDARD
                        .decode(v.as_str()?)
                        .ok()
                })
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .collect()
        })
        .unwrap_or_default();
    for name in ["airflow/dev/fernet-key", "airflow/dev/metadata-connection"] {
        assert!(
            data.contains(&values[name]),
            "the Secret carries {name} as Secrets Manager has it"
        );
    }

    let generations: Vec<i64> = DEPLOYMENTS.iter().map(|d| generation(mock, d)).collect();
    cairn.set_var("parallelism", "20");
    let change = cairn.plan(2, &[]);
    assert!(
        resources_with(&change, "~").contains(&"kubernetes_object.airflow_config".to_owned()),
        "{}",
        change.text()
    );
    cairn.apply(&[]);
    cairn.plan(0, &[]);
    for (deployment, before) in DEPLOYMENTS.iter().zip(generations) {
        assert_eq!(
            generation(mock, deployment),
            before + 1,
            "{deployment} rolled exactly once, in the same apply as the config"
        );
    }

    mock.scale("Deployment/airflow/airflow-scheduler", 5)
        .expect("kubectl scale");
    let drift = cairn.plan(2, &[]);
    assert_eq!(
        resources_with(&drift, "~"),
        ["kubernetes_object.scheduler"],
        "{}",
        drift.text()
    );
    cairn.apply(&[]);
    let scheduler = mock
        .object("Deployment/airflow/airflow-scheduler")
        .expect("scheduler");
    assert_eq!(
        scheduler["spec"]["replicas"], 1,
        "the stack's replicas again"
    );
    cairn.plan(0, &[]);
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

/// An EBS volume as the CSI driver makes one for a claim on `cluster`; its id.
async fn claim_volume(ec2: &aws_sdk_ec2::Client, cluster: &str) -> String {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
    ec2.create_volume()
        .availability_zone("us-east-1a")
        .size(20)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Volume)
                .tags(tag(&format!("kubernetes.io/cluster/{cluster}"), "owned"))
                .tags(tag("kubernetes.io/created-for/pvc/namespace", "airflow"))
                .tags(tag("kubernetes.io/created-for/pvc/name", "logs"))
                .build(),
        )
        .send()
        .await
        .expect("CreateVolume")
        .volume_id()
        .expect("a volume id")
        .to_owned()
}

/// What `check_production` found, to check after the destroy that it is gone.
struct Made {
    key_id: String,
    alias: String,
    bucket: String,
}

fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Decodes an IAM policy document as IAM returns it (URL-encoded JSON).
fn policy_document(encoded: &str) -> serde_json::Value {
    let decoded = urlencoding::decode(encoded).expect("policy document is URL-encoded UTF-8");
    serde_json::from_str(&decoded).expect("policy document is JSON")
}

/// The inline policy `policy` of the role `role`, or `None` when the role has none by that name.
async fn role_policy(aws: &Clients, role: &str, policy: &str) -> Option<serde_json::Value> {
    let names = aws
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("ListRolePolicies");
    if !names.policy_names().iter().any(|n| n == policy) {
        return None;
    }
    let out = aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .expect("GetRolePolicy");
    Some(policy_document(out.policy_document()))
}

/// Issue 14's checklist through the SDK: the stack's KMS key (found by its alias, tagged,
/// rotating) encrypts the database and the cluster's Secrets; the logs bucket is tagged,
/// private, encrypted by default and expires the environment's logs; the IRSA roles read
/// exactly the Secrets Manager backend's prefixes and write logs only to that bucket.
async fn check_production(aws: &Clients, sdk: &aws_config::SdkConfig, env: &str) -> Made {
    let kms = aws_sdk_kms::Client::new(sdk);
    let s3 = s3_client(sdk);
    let alias = format!("alias/airflow-{env}");
    let key = kms
        .describe_key()
        .key_id(&alias)
        .send()
        .await
        .expect("DescribeKey by the stack's alias");
    let key = key.key_metadata().expect("key metadata");
    let key_id = key.key_id().to_owned();
    let key_arn = key.arn().expect("the key's ARN").to_owned();
    let account = key_arn
        .split(':')
        .nth(4)
        .expect("an account in the ARN")
        .to_owned();
    let region = key_arn
        .split(':')
        .nth(3)
        .expect("a region in the ARN")
        .to_owned();
    let tags = kms
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .expect("ListResourceTags");
    let tag = |name: &str| {
        tags.tags()
            .iter()
            .find(|t| t.tag_key() == name)
            .map(|t| t.tag_value().to_owned())
    };
    assert_eq!(tag("cairn:stack").as_deref(), Some(STACK));
    assert_eq!(tag("cairn:env").as_deref(), Some(env));
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(rotation.key_rotation_enabled(), "the key rotates");

    let db = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(format!("airflow-{env}-metadata"))
        .send()
        .await
        .expect("DescribeDBInstances");
    let db = &db.db_instances()[0];
    assert_eq!(
        db.storage_encrypted(),
        Some(true),
        "the database is encrypted"
    );
    assert_eq!(
        db.kms_key_id(),
        Some(key_arn.as_str()),
        "with the stack's key"
    );

    let cluster = aws
        .eks
        .describe_cluster()
        .name(format!("airflow-{env}"))
        .send()
        .await
        .expect("DescribeCluster");
    let encryption = cluster
        .cluster()
        .and_then(|c| c.encryption_config().first())
        .expect("the cluster has an encryption config");
    assert_eq!(encryption.resources(), ["secrets"]);
    assert_eq!(
        encryption.provider().and_then(|p| p.key_arn()),
        Some(key_arn.as_str()),
        "Secrets are encrypted with the stack's key"
    );

    let prefix = format!("airflow-{env}-logs-");
    let buckets = s3.list_buckets().send().await.expect("ListBuckets");
    let bucket = buckets
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .find(|name| name.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a bucket named {prefix}...: {buckets:?}"))
        .to_owned();
    let block = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .expect("GetPublicAccessBlock");
    let block = block
        .public_access_block_configuration()
        .expect("a public access block");
    assert_eq!(
        [
            block.block_public_acls(),
            block.block_public_policy(),
            block.ignore_public_acls(),
            block.restrict_public_buckets()
        ],
        [Some(true); 4],
        "the bucket blocks public access"
    );
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .expect("GetBucketEncryption");
    let algorithm = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned());
    assert_eq!(algorithm.as_deref(), Some("AES256"), "encrypted by default");
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .expect("GetBucketLifecycleConfiguration");
    let rule = lifecycle.rules().first().expect("an expiration rule");
    assert!(
        rule.expiration()
            .and_then(|e| e.days())
            .is_some_and(|d| d > 0),
        "{rule:?}"
    );
    assert_eq!(
        rule.filter().and_then(|f| f.prefix()),
        Some(format!("airflow/{env}/logs/").as_str())
    );
    let tagging = s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .expect("GetBucketTagging");
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|t| t.key() == "cairn:stack" && t.value() == STACK),
        "{tagging:?}"
    );

    let secrets = serde_json::json!([
        format!("arn:aws:secretsmanager:{region}:{account}:secret:airflow/{env}/connections/*"),
        format!("arn:aws:secretsmanager:{region}:{account}:secret:airflow/{env}/variables/*"),
    ]);
    for component in [
        "worker",
        "triggerer",
        "api-server",
        "dag-processor",
        "scheduler",
    ] {
        let role = format!("airflow-{env}-{component}");
        let read = role_policy(aws, &role, "secrets-backend-read").await;
        if component == "scheduler" {
            assert_eq!(read, None, "the scheduler does not read the backend");
        } else {
            let read = read.unwrap_or_else(|| panic!("{role} reads the backend"));
            assert_eq!(
                read["Statement"][0]["Action"],
                "secretsmanager:GetSecretValue"
            );
            assert_eq!(read["Statement"][0]["Resource"], secrets, "{role}");
        }
    }
    let logs = role_policy(aws, &format!("airflow-{env}-worker"), "task-logs-write")
        .await
        .expect("task pods write their logs");
    assert_eq!(
        logs["Statement"][0]["Resource"],
        format!("arn:aws:s3:::{bucket}/airflow/{env}/logs/*")
    );
    Made {
        key_id,
        alias,
        bucket,
    }
}

/// After the destroy: the alias and the bucket are gone, the key waits for its deletion.
async fn check_production_gone(sdk: &aws_config::SdkConfig, made: &Made) {
    let kms = aws_sdk_kms::Client::new(sdk);
    let s3 = s3_client(sdk);
    assert!(
        kms.describe_key().key_id(&made.alias).send().await.is_err(),
        "{} is gone",
        made.alias
    );
    let key = kms
        .describe_key()
        .key_id(&made.key_id)
        .send()
        .await
        .expect("DescribeKey by id");
    assert_eq!(
        key.key_metadata()
            .and_then(|k| k.key_state())
            .map(|s| s.as_str()),
        Some("PendingDeletion"),
        "the key is scheduled for deletion"
    );
    assert!(
        s3.head_bucket().bucket(&made.bucket).send().await.is_err(),
        "the bucket {} is gone",
        made.bucket
    );
}

/// prod's GPU pool: the NVIDIA AMI, its taint and label, at zero nodes.
async fn check_gpu_pool(aws: &Clients, cluster: &str) {
    let out = aws
        .eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name("workers-gpu")
        .send()
        .await
        .expect("DescribeNodegroup workers-gpu");
    let gpu = out.nodegroup().expect("the GPU node group");
    assert_eq!(
        gpu.ami_type().map(|a| a.as_str()),
        Some("AL2023_x86_64_NVIDIA")
    );
    let taints: Vec<(&str, &str, &TaintEffect)> = gpu
        .taints()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?, t.effect()?)))
        .collect();
    assert_eq!(
        taints,
        [("nvidia.com/gpu", "true", &TaintEffect::NoSchedule)]
    );
    assert_eq!(
        gpu.labels()
            .and_then(|l| l.get("workload-type"))
            .map(String::as_str),
        Some("airflow-gpu")
    );
    let scaling = gpu.scaling_config().expect("a scaling config");
    assert_eq!(
        (scaling.min_size(), scaling.desired_size()),
        (Some(0), Some(0))
    );
}
