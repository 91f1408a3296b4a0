//! EKS resource types against the moto server: a cluster and a SPOT node group created,
//! checked through the SDK, updated in place, drifted, adopted and deleted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_provider_core::{Attrs, DeleteRequest, FindRequest, Progress, Value};
use common::{TestResource, aws_client, identity, sdk_config};

const TIMEOUT: Duration = Duration::from_secs(120);

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn strings(items: &[&str]) -> Value {
    Value::from(items.to_vec())
}

/// A VPC with two subnets in different zones, tagged with the test's name.
async fn subnets(ec2: &aws_sdk_ec2::Client, test: &str) -> Vec<String> {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let mut ids = Vec::new();
    for (cidr, zone) in [
        ("10.40.1.0/24", "us-east-1a"),
        ("10.40.2.0/24", "us-east-1b"),
    ] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(zone)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Subnet)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("test")
                            .value(test)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("CreateSubnet");
        ids.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_owned(),
        );
    }
    ids
}

/// An IAM role the given service may assume.
async fn role(iam: &aws_sdk_iam::Client, name: &str, service: &str) -> String {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let out = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("CreateRole");
    out.role().map(|r| r.arn().to_owned()).expect("role arn")
}

#[tokio::test]
async fn cluster_and_spot_node_group_lifecycle() {
    let env = "eks_lifecycle";
    let client = aws_client(env).await;
    let sdk = sdk_config().await;
    let (ec2, iam, eks) = (
        aws_sdk_ec2::Client::new(&sdk),
        aws_sdk_iam::Client::new(&sdk),
        aws_sdk_eks::Client::new(&sdk),
    );
    let subnet_ids = subnets(&ec2, env).await;
    let subnet_refs: Vec<&str> = subnet_ids.iter().map(String::as_str).collect();
    let cluster_role = role(&iam, "eks-lifecycle-cluster", "eks.amazonaws.com").await;
    let node_role = role(&iam, "eks-lifecycle-nodes", "ec2.amazonaws.com").await;

    // The cluster.
    let cluster_resource = TestResource::new(env, "aws_eks_cluster.main").await;
    let cluster_config = Attrs::new()
        .with("name", "cairn-eks-lifecycle")
        .with("role_arn", cluster_role.clone())
        .with("version", "1.31")
        .with("vpc_config", map(&[("subnet_ids", strings(&subnet_refs))]))
        .with("enabled_cluster_log_types", strings(&["api", "audit"]))
        .with("tags", map(&[("team", Value::from("data"))]));
    let cluster = cluster_resource.create(&cluster_config).await;

    let real = eks
        .describe_cluster()
        .name("cairn-eks-lifecycle")
        .send()
        .await
        .expect("DescribeCluster")
        .cluster
        .expect("cluster");
    assert_eq!(real.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(real.role_arn(), Some(cluster_role.as_str()));
    assert_eq!(
        real.resources_vpc_config().map(|v| v.subnet_ids().to_vec()),
        Some(subnet_ids.clone())
    );
    let real_tags = real.tags().cloned().unwrap_or_default();
    assert_eq!(real_tags.get("team").map(String::as_str), Some("data"));
    assert_eq!(
        real_tags.get("cairn:address").map(String::as_str),
        Some("aws_eks_cluster.main")
    );
    assert_eq!(real_tags.get("cairn:env").map(String::as_str), Some(env));
    assert_eq!(cluster.opt_str("arn").ok().flatten().as_deref(), real.arn());
    assert_eq!(
        cluster.opt_str("endpoint").ok().flatten().as_deref(),
        real.endpoint()
    );
    assert_eq!(
        cluster.opt_str("oidc_issuer").ok().flatten().as_deref(),
        real.identity()
            .and_then(|i| i.oidc())
            .and_then(|o| o.issuer())
    );
    assert_eq!(
        cluster
            .opt_str("certificate_authority")
            .ok()
            .flatten()
            .as_deref(),
        real.certificate_authority().and_then(|c| c.data())
    );
    assert!(
        cluster
            .opt_str("oidc_issuer")
            .ok()
            .flatten()
            .is_some_and(|i| i.starts_with("https://"))
    );
    // Only the user's tags are reported; cairn's own stay on the object.
    assert_eq!(
        cluster.str_map("tags").ok(),
        Some(BTreeMap::from([("team".to_owned(), "data".to_owned())]))
    );
    assert_eq!(
        cluster.get("vpc_config"),
        cluster_config.get("vpc_config"),
        "defaults left out are not reported"
    );

    // An interrupted create is adopted by its tags, never by another stack's namesake.
    let found = client
        .find(FindRequest {
            type_name: "aws_eks_cluster",
            identity: &cluster_resource.identity,
            config: &cluster_config,
        })
        .await
        .expect("find");
    assert_eq!(
        found.and_then(|f| f.opt_str("arn").ok().flatten()),
        real.arn().map(str::to_owned)
    );
    let stranger = identity("someone_else", "aws_eks_cluster.main");
    let not_ours = client
        .find(FindRequest {
            type_name: "aws_eks_cluster",
            identity: &stranger,
            config: &cluster_config,
        })
        .await
        .expect("find");
    assert!(not_ours.is_none());

    // In place: endpoint access, logging, tags.
    let desired = cluster_config
        .clone()
        .with(
            "vpc_config",
            map(&[
                ("subnet_ids", strings(&subnet_refs)),
                ("endpoint_private_access", Value::from(true)),
                ("endpoint_public_access", Value::from(false)),
            ]),
        )
        .with("enabled_cluster_log_types", strings(&["api"]))
        .with("tags", map(&[("team", Value::from("platform"))]));
    let updated = cluster_resource
        .update_changed(
            &cluster,
            &desired,
            &["vpc_config", "enabled_cluster_log_types", "tags"],
        )
        .await;
    let real = eks
        .describe_cluster()
        .name("cairn-eks-lifecycle")
        .send()
        .await
        .expect("DescribeCluster")
        .cluster;
    let real = real.expect("cluster");
    let vpc = real.resources_vpc_config().expect("vpc config");
    assert!(vpc.endpoint_private_access());
    assert!(!vpc.endpoint_public_access());
    let logging: Vec<(String, bool)> = real
        .logging()
        .map(|l| l.cluster_logging().to_vec())
        .unwrap_or_default()
        .iter()
        .flat_map(|s| {
            s.types()
                .iter()
                .map(move |t| (t.as_str().to_owned(), s.enabled() == Some(true)))
        })
        .collect();
    assert!(logging.contains(&("api".to_owned(), true)), "{logging:?}");
    assert!(
        logging.contains(&("audit".to_owned(), false)),
        "{logging:?}"
    );
    let real_tags = real.tags().cloned().unwrap_or_default();
    assert_eq!(real_tags.get("team").map(String::as_str), Some("platform"));
    assert_eq!(
        real_tags.get("cairn:address").map(String::as_str),
        Some("aws_eks_cluster.main")
    );
    assert_eq!(
        updated.str_list("enabled_cluster_log_types").ok(),
        Some(vec!["api".to_owned()])
    );

    // The SPOT worker pool.
    let group_resource = TestResource::new(env, "aws_eks_node_group.spot_workers").await;
    let taint = |key: &str, value: &str, effect: &str| {
        map(&[
            ("key", Value::from(key)),
            ("value", Value::from(value)),
            ("effect", Value::from(effect)),
        ])
    };
    let scaling = |min: i64, desired: i64, max: i64| {
        map(&[
            ("min_size", Value::Int(min)),
            ("desired_size", Value::Int(desired)),
            ("max_size", Value::Int(max)),
        ])
    };
    let group_config = Attrs::new()
        .with("cluster_name", "cairn-eks-lifecycle")
        .with("node_group_name", "spot-workers")
        .with("node_role_arn", node_role.clone())
        .with("subnet_ids", strings(&subnet_refs))
        .with("capacity_type", "SPOT")
        .with(
            "instance_types",
            strings(&["m5.large", "m5a.large", "m6i.large"]),
        )
        .with("scaling_config", scaling(0, 1, 10))
        .with(
            "labels",
            map(&[("workload-type", Value::from("airflow-workers"))]),
        )
        .with(
            "taints",
            Value::List(vec![taint("airflow-worker", "true", "NO_SCHEDULE")]),
        )
        .with("disk_size", Value::Int(50));
    let group = group_resource.create(&group_config).await;

    let real_group = || async {
        eks.describe_nodegroup()
            .cluster_name("cairn-eks-lifecycle")
            .nodegroup_name("spot-workers")
            .send()
            .await
            .expect("DescribeNodegroup")
            .nodegroup
            .expect("node group")
    };
    let real = real_group().await;
    assert_eq!(real.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(real.capacity_type().map(|c| c.as_str()), Some("SPOT"));
    assert_eq!(
        real.instance_types(),
        ["m5.large", "m5a.large", "m6i.large"]
    );
    assert_eq!(real.node_role(), Some(node_role.as_str()));
    assert_eq!(real.disk_size(), Some(50));
    let real_scaling = real.scaling_config().expect("scaling");
    assert_eq!(
        (
            real_scaling.min_size(),
            real_scaling.desired_size(),
            real_scaling.max_size()
        ),
        (Some(0), Some(1), Some(10))
    );
    assert_eq!(
        real.labels()
            .and_then(|l| l.get("workload-type"))
            .map(String::as_str),
        Some("airflow-workers")
    );
    let real_taints: Vec<(Option<&str>, Option<&str>, Option<&str>)> = real
        .taints()
        .iter()
        .map(|t| (t.key(), t.value(), t.effect().map(|e| e.as_str())))
        .collect();
    assert_eq!(
        real_taints,
        [(Some("airflow-worker"), Some("true"), Some("NO_SCHEDULE"))]
    );
    assert_eq!(group.get("taints"), group_config.get("taints"));
    assert_eq!(
        group.str("id").ok().as_deref(),
        Some("cairn-eks-lifecycle:spot-workers")
    );
    assert!(
        group.opt_str("version").ok().flatten().is_some(),
        "version is reported when not configured"
    );

    // The cluster cannot go while the node group holds it; the error is EKS's own.
    let refused = client
        .delete(DeleteRequest {
            type_name: "aws_eks_cluster",
            identity: &cluster_resource.identity,
            state: &updated,
            timeout: TIMEOUT,
            progress: Progress::noop(),
        })
        .await
        .expect_err("cluster with node groups");
    assert!(
        refused.to_string().contains("ResourceInUseException"),
        "{refused}"
    );

    // In place: scaling, labels (one added, one removed), taints (one changed, one added).
    let desired = group_config
        .clone()
        .with("scaling_config", scaling(1, 3, 20))
        .with("labels", map(&[("pool", Value::from("spot"))]))
        .with(
            "taints",
            Value::List(vec![
                taint("airflow-worker", "yes", "NO_SCHEDULE"),
                taint("spot", "true", "PREFER_NO_SCHEDULE"),
            ]),
        );
    let group = group_resource
        .update_changed(&group, &desired, &["scaling_config", "labels", "taints"])
        .await;
    let real = real_group().await;
    let real_scaling = real.scaling_config().expect("scaling");
    assert_eq!(
        (
            real_scaling.min_size(),
            real_scaling.desired_size(),
            real_scaling.max_size()
        ),
        (Some(1), Some(3), Some(20))
    );
    let labels: BTreeMap<String, String> = real
        .labels()
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    assert_eq!(
        labels,
        BTreeMap::from([("pool".to_owned(), "spot".to_owned())])
    );
    let mut real_taints: Vec<(String, String, String)> = real
        .taints()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
                t.effect()
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    real_taints.sort();
    assert_eq!(
        real_taints,
        [
            (
                "airflow-worker".to_owned(),
                "yes".to_owned(),
                "NO_SCHEDULE".to_owned()
            ),
            (
                "spot".to_owned(),
                "true".to_owned(),
                "PREFER_NO_SCHEDULE".to_owned()
            ),
        ]
    );
    assert_eq!(group.get("taints"), desired.get("taints"));
    assert_eq!(group.get("scaling_config"), desired.get("scaling_config"));

    // Drift made outside cairn shows in a read.
    eks.update_nodegroup_config()
        .cluster_name("cairn-eks-lifecycle")
        .nodegroup_name("spot-workers")
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder()
                .min_size(1)
                .desired_size(7)
                .max_size(20)
                .build(),
        )
        .send()
        .await
        .expect("UpdateNodegroupConfig");
    let drifted = group_resource.read(&group).await.expect("still exists");
    assert_eq!(drifted.get("scaling_config"), Some(&scaling(1, 7, 20)));

    // Deletes wait until gone; deleting again is a success.
    group_resource.delete(&group).await;
    let gone = eks
        .describe_nodegroup()
        .cluster_name("cairn-eks-lifecycle")
        .nodegroup_name("spot-workers")
        .send()
        .await
        .expect_err("node group deleted");
    assert_eq!(
        gone.as_service_error()
            .map(|e| e.is_resource_not_found_exception()),
        Some(true)
    );
    assert!(group_resource.read(&group).await.is_none());
    group_resource.delete(&group).await;

    cluster_resource.delete(&updated).await;
    let gone = eks
        .describe_cluster()
        .name("cairn-eks-lifecycle")
        .send()
        .await
        .expect_err("cluster deleted");
    assert_eq!(
        gone.as_service_error()
            .map(|e| e.is_resource_not_found_exception()),
        Some(true)
    );
    assert!(cluster_resource.read(&updated).await.is_none());
    cluster_resource.delete(&updated).await;
}
