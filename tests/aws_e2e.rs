//! The `cairn` binary against a moto server, with a stack holding every AWS resource type
//! (`tests/fixtures/aws/every_type`): apply, no-op re-plan, in-place updates, replacements,
//! drift made outside cairn, no secret value written or printed, destroy. Every step is checked through the AWS SDK, never
//! through what cairn printed or recorded.
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

use aws_sdk_ec2::types::Filter;
use aws_sdk_eks::types::{CapacityTypes, NodegroupScalingConfig, TaintEffect};

use support::aws::{Clients, Tagged, assert_nothing_left, assert_tagged};
use support::cairn::{Cairn, resources_with, summary_line};
use support::moto::Moto;

const STACK: &str = "aws-e2e";
const ENV: &str = "e2e";
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws/every_type");

/// Every resource in the fixture and the kind of AWS object it must be (one object each,
/// carrying the resource's address tag).
const ADDRESSES: [(&str, &str); 24] = [
    ("aws_vpc.main", "ec2 vpc"),
    ("aws_subnet.public_a", "ec2 subnet"),
    ("aws_subnet.public_b", "ec2 subnet"),
    ("aws_subnet.private_a", "ec2 subnet"),
    ("aws_subnet.private_b", "ec2 subnet"),
    ("aws_internet_gateway.main", "ec2 internet gateway"),
    ("aws_eip.nat", "ec2 elastic ip"),
    ("aws_nat_gateway.main", "ec2 nat gateway"),
    ("aws_route_table.public", "ec2 route table"),
    ("aws_route_table.private", "ec2 route table"),
    ("aws_security_group.cluster", "ec2 security group"),
    ("aws_security_group.db", "ec2 security group"),
    ("aws_iam_role.cluster", "iam role"),
    ("aws_iam_role.node", "iam role"),
    ("aws_iam_role.reporter", "iam role"),
    ("aws_iam_openid_connect_provider.eks", "iam oidc provider"),
    ("aws_eks_cluster.main", "eks cluster"),
    ("aws_eks_node_group.workers", "eks node group"),
    ("aws_db_subnet_group.main", "rds db subnet group"),
    ("aws_db_parameter_group.main", "rds db parameter group"),
    ("aws_db_instance.main", "rds db instance"),
    (
        "aws_secretsmanager_secret.db_password",
        "secretsmanager secret",
    ),
    ("aws_secretsmanager_secret.api_key", "secretsmanager secret"),
    ("aws_secretsmanager_secret.db_url", "secretsmanager secret"),
];

/// The names the fixture gives its objects in env `e2e`.
const CLUSTER: &str = "aws-e2e-e2e";
const DB: &str = "aws-e2e-e2e";
const API_KEY: &str = "e2e-given-api-key-0123456789";

#[tokio::test(flavor = "multi_thread")]
async fn every_aws_resource_type_through_its_lifecycle() {
    let moto = Moto::start();
    let aws = Clients::new(&moto.sdk_config().await);
    let cairn = Cairn::new(&moto, Path::new(FIXTURE), ENV);

    // --- create everything ---------------------------------------------------------------
    let applied = cairn.apply(&[]);
    assert!(
        summary_line(&applied)
            == format!(
                "Plan: {} to add, 0 to change, 0 to destroy.",
                ADDRESSES.len()
            ),
        "{}",
        applied.text()
    );
    let objects = aws.tagged_with_stack(STACK).await;
    let addresses: Vec<String> = ADDRESSES.iter().map(|(a, _)| (*a).to_owned()).collect();
    assert_tagged(&objects, STACK, ENV, &addresses);
    for (address, kind) in ADDRESSES {
        assert_eq!(
            Clients::by_address(&objects, address).kind,
            kind,
            "{address}"
        );
    }
    assert_eq!(
        objects.len(),
        addresses.len(),
        "one AWS object per resource, nothing else tagged with the stack: {objects:#?}"
    );
    check_network(&aws, &objects).await;
    check_iam(&aws).await;
    check_eks(&aws, &objects).await;
    check_node_group(&aws, (1, 3, 2), "data").await;
    check_database(&aws, &objects, "db.t3.micro").await;
    check_secrets(&aws, "aws-e2e/api-key").await;

    // --- nothing to do on a second run --------------------------------------------------
    let replan = cairn.plan(0, &[]);
    assert!(replan.stdout.contains("No changes."), "{}", replan.text());

    // --- in-place updates: node group scaling and labels, DB instance class ---------------
    cairn.set_var("workers_min_size", "0");
    cairn.set_var("workers_max_size", "5");
    cairn.set_var("workers_desired_size", "1");
    cairn.set_var("workers_team", "ml");
    cairn.set_var("db_instance_class", "db.t3.small");
    let update = cairn.plan(2, &[]);
    assert_eq!(
        summary_line(&update),
        "Plan: 0 to add, 2 to change, 0 to destroy.",
        "{}",
        update.text()
    );
    assert_eq!(
        sorted(resources_with(&update, "~")),
        ["aws_db_instance.main", "aws_eks_node_group.workers"],
        "{}",
        update.text()
    );
    cairn.apply(&[]);
    check_node_group(&aws, (0, 5, 1), "ml").await;
    check_database(&aws, &aws.tagged_with_stack(STACK).await, "db.t3.small").await;
    cairn.plan(0, &[]);

    // --- force-new attributes: a subnet's CIDR, a secret's name ---------------------------
    let old_subnet = Clients::by_address(&objects, "aws_subnet.public_b")
        .id
        .clone();
    cairn.set_var("public_b_cidr", "10.40.3.0/24");
    cairn.set_var("api_key_secret_name", "aws-e2e/api-key-v2");
    let replace = cairn.plan(2, &[]);
    let replaced: Vec<String> = resources_with(&replace, "-/+")
        .into_iter()
        .chain(resources_with(&replace, "+/-"))
        .collect();
    assert_eq!(
        sorted(replaced),
        ["aws_secretsmanager_secret.api_key", "aws_subnet.public_b"],
        "{}",
        replace.text()
    );
    assert!(
        summary_line(&replace).ends_with("2 to destroy."),
        "{}",
        replace.text()
    );
    cairn.apply(&[]);
    let objects = aws.tagged_with_stack(STACK).await;
    assert_tagged(&objects, STACK, ENV, &addresses);
    let new_subnet = Clients::by_address(&objects, "aws_subnet.public_b");
    assert_ne!(new_subnet.id, old_subnet, "the subnet was replaced");
    let subnets = aws
        .ec2
        .describe_subnets()
        .subnet_ids(&new_subnet.id)
        .send()
        .await
        .expect("DescribeSubnets");
    assert_eq!(subnets.subnets()[0].cidr_block(), Some("10.40.3.0/24"));
    let gone = aws
        .ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("subnet-id")
                .values(&old_subnet)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSubnets");
    assert!(
        gone.subnets().is_empty(),
        "the old subnet {old_subnet} was deleted"
    );
    check_route_table_subnets(&aws, &objects, "aws_route_table.public").await;
    check_secrets(&aws, "aws-e2e/api-key-v2").await;
    cairn.plan(0, &[]);

    // --- drift made outside cairn shows in the next plan, and apply reverts it -------------
    aws.eks
        .update_nodegroup_config()
        .cluster_name(CLUSTER)
        .nodegroup_name("workers")
        .scaling_config(
            NodegroupScalingConfig::builder()
                .min_size(2)
                .max_size(9)
                .desired_size(4)
                .build(),
        )
        .send()
        .await
        .expect("UpdateNodegroupConfig");
    let drift = cairn.plan(2, &[]);
    assert_eq!(
        resources_with(&drift, "~"),
        ["aws_eks_node_group.workers"],
        "{}",
        drift.text()
    );
    assert!(
        drift.stdout.contains("9 -> 5"),
        "the plan shows the max size set outside cairn going back to the configured one:\n{}",
        drift.text()
    );
    cairn.apply(&[]);
    check_node_group(&aws, (0, 5, 1), "ml").await;
    cairn.plan(0, &[]);

    // --- no secret value in the state directory or in anything cairn printed ------------
    for name in [
        "aws-e2e/e2e/db-password",
        "aws-e2e/api-key-v2",
        "aws-e2e/e2e/db-url",
    ] {
        cairn.assert_never_written(name, &aws.secret_value(name).await);
    }

    // --- destroy -------------------------------------------------------------------------
    cairn.destroy(&[]);
    assert_nothing_left(&aws, STACK).await;
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

fn id_of<'o>(objects: &'o [Tagged], address: &str) -> &'o str {
    &Clients::by_address(objects, address).id
}

async fn check_network(aws: &Clients, objects: &[Tagged]) {
    let vpc_id = id_of(objects, "aws_vpc.main");
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .expect("DescribeVpcs");
    assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.40.0.0/16"));
    let hostnames = aws
        .ec2
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .expect("DescribeVpcAttribute");
    assert_eq!(
        hostnames.enable_dns_hostnames().and_then(|a| a.value()),
        Some(true)
    );

    for (address, cidr, zone, public) in [
        ("aws_subnet.public_a", "10.40.1.0/24", "us-east-1a", true),
        ("aws_subnet.public_b", "10.40.2.0/24", "us-east-1b", true),
        ("aws_subnet.private_a", "10.40.64.0/19", "us-east-1a", false),
        ("aws_subnet.private_b", "10.40.96.0/19", "us-east-1b", false),
    ] {
        let out = aws
            .ec2
            .describe_subnets()
            .subnet_ids(id_of(objects, address))
            .send()
            .await
            .expect("DescribeSubnets");
        let subnet = &out.subnets()[0];
        assert_eq!(subnet.vpc_id(), Some(vpc_id), "{address}");
        assert_eq!(subnet.cidr_block(), Some(cidr), "{address}");
        assert_eq!(subnet.availability_zone(), Some(zone), "{address}");
        assert_eq!(subnet.map_public_ip_on_launch(), Some(public), "{address}");
    }

    let igw_id = id_of(objects, "aws_internet_gateway.main");
    let igws = aws
        .ec2
        .describe_internet_gateways()
        .internet_gateway_ids(igw_id)
        .send()
        .await
        .expect("DescribeInternetGateways");
    let attached: Vec<_> = igws.internet_gateways()[0]
        .attachments()
        .iter()
        .filter_map(|a| a.vpc_id())
        .collect();
    assert_eq!(attached, [vpc_id], "the internet gateway is attached");

    let eip_id = id_of(objects, "aws_eip.nat");
    let nat_id = id_of(objects, "aws_nat_gateway.main");
    let nats = aws
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(nat_id)
        .send()
        .await
        .expect("DescribeNatGateways");
    let nat = &nats.nat_gateways()[0];
    assert_eq!(nat.subnet_id(), Some(id_of(objects, "aws_subnet.public_a")));
    let allocations: Vec<_> = nat
        .nat_gateway_addresses()
        .iter()
        .filter_map(|a| a.allocation_id())
        .collect();
    assert_eq!(allocations, [eip_id], "the NAT gateway uses the Elastic IP");
    let eips = aws
        .ec2
        .describe_addresses()
        .allocation_ids(eip_id)
        .send()
        .await
        .expect("DescribeAddresses");
    assert_eq!(
        eips.addresses()[0].domain(),
        Some(&aws_sdk_ec2::types::DomainType::Vpc)
    );

    for (address, target) in [
        ("aws_route_table.public", igw_id),
        ("aws_route_table.private", nat_id),
    ] {
        let tables = aws
            .ec2
            .describe_route_tables()
            .route_table_ids(id_of(objects, address))
            .send()
            .await
            .expect("DescribeRouteTables");
        let table = &tables.route_tables()[0];
        let default_route = table
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .unwrap_or_else(|| panic!("{address} has a default route: {table:?}"));
        let via = default_route
            .gateway_id()
            .or(default_route.nat_gateway_id());
        assert_eq!(via, Some(target), "{address}: {table:?}");
        check_route_table_subnets(aws, objects, address).await;
    }

    let cluster_sg = id_of(objects, "aws_security_group.cluster");
    let db_sg = id_of(objects, "aws_security_group.db");
    let groups = aws
        .ec2
        .describe_security_groups()
        .group_ids(db_sg)
        .send()
        .await
        .expect("DescribeSecurityGroups");
    let group = &groups.security_groups()[0];
    assert_eq!(group.vpc_id(), Some(vpc_id));
    let postgres: Vec<_> = group
        .ip_permissions()
        .iter()
        .filter(|p| p.from_port() == Some(5432) && p.to_port() == Some(5432))
        .flat_map(|p| p.user_id_group_pairs())
        .filter_map(|pair| pair.group_id())
        .collect();
    assert_eq!(
        postgres,
        [cluster_sg],
        "PostgreSQL only from the cluster's group"
    );
}

/// The subnets a route table is associated with are exactly the ones the fixture names.
async fn check_route_table_subnets(aws: &Clients, objects: &[Tagged], address: &str) {
    let expected: Vec<&str> = match address {
        "aws_route_table.public" => vec!["aws_subnet.public_a", "aws_subnet.public_b"],
        _ => vec!["aws_subnet.private_a", "aws_subnet.private_b"],
    };
    let mut expected: Vec<&str> = expected.into_iter().map(|a| id_of(objects, a)).collect();
    expected.sort_unstable();
    let tables = aws
        .ec2
        .describe_route_tables()
        .route_table_ids(id_of(objects, address))
        .send()
        .await
        .expect("DescribeRouteTables");
    let mut associated: Vec<&str> = tables.route_tables()[0]
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    associated.sort_unstable();
    assert_eq!(associated, expected, "{address} subnet associations");
}

async fn check_iam(aws: &Clients) {
    for (role, service, policies) in [
        (
            "aws-e2e-e2e-cluster",
            "eks.amazonaws.com",
            vec!["AmazonEKSClusterPolicy"],
        ),
        (
            "aws-e2e-e2e-node",
            "ec2.amazonaws.com",
            vec![
                "AmazonEC2ContainerRegistryReadOnly",
                "AmazonEKSWorkerNodePolicy",
                "AmazonEKS_CNI_Policy",
            ],
        ),
    ] {
        let got = aws
            .iam
            .get_role()
            .role_name(role)
            .send()
            .await
            .expect("GetRole");
        let trust = policy_document(
            got.role()
                .and_then(|r| r.assume_role_policy_document())
                .expect("a trust policy"),
        );
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"], service,
            "{role}: {trust}"
        );
        let attached = aws
            .iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .expect("ListAttachedRolePolicies");
        let mut names: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .collect();
        names.sort_unstable();
        assert_eq!(names, policies, "{role}");
    }

    // The IRSA role trusts the cluster's OIDC provider, for one service account only.
    let cluster = aws
        .eks
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .expect("DescribeCluster");
    let issuer = cluster
        .cluster()
        .and_then(|c| c.identity())
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .expect("the cluster has an OIDC issuer");
    let issuer_host = issuer.trim_start_matches("https://");
    let providers = aws
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .expect("ListOpenIDConnectProviders");
    let provider_arn = providers
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .find(|arn| arn.ends_with(issuer_host))
        .unwrap_or_else(|| panic!("an OIDC provider for {issuer}: {providers:?}"));
    let provider = aws
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(provider_arn)
        .send()
        .await
        .expect("GetOpenIDConnectProvider");
    assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);

    let reporter = aws
        .iam
        .get_role()
        .role_name("aws-e2e-e2e-reporter")
        .send()
        .await
        .expect("GetRole");
    let trust = policy_document(
        reporter
            .role()
            .and_then(|r| r.assume_role_policy_document())
            .expect("a trust policy"),
    );
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Principal"]["Federated"], provider_arn, "{trust}");
    assert_eq!(
        statement["Action"], "sts:AssumeRoleWithWebIdentity",
        "{trust}"
    );
    let conditions = statement["Condition"].to_string();
    assert!(
        conditions.contains(&format!("{issuer_host}:sub"))
            && conditions.contains("system:serviceaccount:reports:reporter"),
        "the trust is limited to reports/reporter: {trust}"
    );
    let inline = aws
        .iam
        .get_role_policy()
        .role_name("aws-e2e-e2e-reporter")
        .policy_name("read-reports")
        .send()
        .await
        .expect("GetRolePolicy read-reports");
    let policy = policy_document(inline.policy_document());
    assert_eq!(policy["Statement"][0]["Action"], "s3:GetObject", "{policy}");
}

async fn check_eks(aws: &Clients, objects: &[Tagged]) {
    let out = aws
        .eks
        .describe_cluster()
        .name(CLUSTER)
        .send()
        .await
        .expect("DescribeCluster");
    let cluster = out.cluster().expect("the cluster");
    assert_eq!(cluster.version(), Some("1.31"));
    assert_eq!(
        cluster.role_arn(),
        Some("arn:aws:iam::123456789012:role/aws-e2e-e2e-cluster")
    );
    let vpc = cluster.resources_vpc_config().expect("a VPC config");
    let mut subnets: Vec<&str> = vpc.subnet_ids().iter().map(String::as_str).collect();
    subnets.sort_unstable();
    let mut expected = vec![
        id_of(objects, "aws_subnet.private_a"),
        id_of(objects, "aws_subnet.private_b"),
    ];
    expected.sort_unstable();
    assert_eq!(subnets, expected);
    assert_eq!(
        vpc.security_group_ids(),
        [id_of(objects, "aws_security_group.cluster")]
    );
    let mut logged: Vec<&str> = cluster
        .logging()
        .map(|l| l.cluster_logging())
        .unwrap_or_default()
        .iter()
        .filter(|setup| setup.enabled() == Some(true))
        .flat_map(|setup| setup.types())
        .map(|t| t.as_str())
        .collect();
    logged.sort_unstable();
    assert_eq!(logged, ["api", "audit"]);
}

/// The worker node group: SPOT, three instance types, its taints, its labels (the `team`
/// label is variable), and `(min, max, desired)` scaling.
async fn check_node_group(aws: &Clients, scaling: (i32, i32, i32), team: &str) {
    let out = aws
        .eks
        .describe_nodegroup()
        .cluster_name(CLUSTER)
        .nodegroup_name("workers")
        .send()
        .await
        .expect("DescribeNodegroup");
    let group = out.nodegroup().expect("the node group");
    assert_eq!(group.capacity_type(), Some(&CapacityTypes::Spot));
    assert_eq!(
        group.instance_types(),
        ["m5.large", "m5a.large", "m6i.large"]
    );
    assert_eq!(
        group.node_role(),
        Some("arn:aws:iam::123456789012:role/aws-e2e-e2e-node")
    );
    assert_eq!(group.disk_size(), Some(40));
    let config = group.scaling_config().expect("a scaling config");
    assert_eq!(
        (config.min_size(), config.max_size(), config.desired_size()),
        (Some(scaling.0), Some(scaling.1), Some(scaling.2)),
        "min, max, desired"
    );
    let labels: BTreeMap<&str, &str> = group
        .labels()
        .map(|l| l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .unwrap_or_default();
    assert_eq!(
        labels,
        BTreeMap::from([("team", team), ("workload-type", "batch")])
    );
    let mut taints: Vec<(&str, &str, &TaintEffect)> = group
        .taints()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?, t.effect()?)))
        .collect();
    taints.sort_by_key(|t| t.0);
    assert_eq!(
        taints,
        [
            ("dedicated", "batch", &TaintEffect::NoSchedule),
            ("spot", "true", &TaintEffect::PreferNoSchedule),
        ]
    );
}

async fn check_database(aws: &Clients, objects: &[Tagged], class: &str) {
    let out = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(DB)
        .send()
        .await
        .expect("DescribeDBInstances");
    let db = &out.db_instances()[0];
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.db_instance_class(), Some(class));
    assert_eq!(db.engine_version(), Some("16.4"));
    assert_eq!(db.allocated_storage(), Some(20));
    assert_eq!(db.db_name(), Some("reports"));
    assert_eq!(db.master_username(), Some("reporter"));
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some("aws-e2e-e2e")
    );
    let mut group_subnets: Vec<&str> = db
        .db_subnet_group()
        .map(|g| g.subnets())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    group_subnets.sort_unstable();
    let mut expected = vec![
        id_of(objects, "aws_subnet.private_a"),
        id_of(objects, "aws_subnet.private_b"),
    ];
    expected.sort_unstable();
    assert_eq!(group_subnets, expected);
    let parameter_groups: Vec<&str> = db
        .db_parameter_groups()
        .iter()
        .filter_map(|g| g.db_parameter_group_name())
        .collect();
    assert_eq!(parameter_groups, ["aws-e2e-e2e-pg16"]);
    let security_groups: Vec<&str> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(security_groups, [id_of(objects, "aws_security_group.db")]);

    let groups = aws
        .rds
        .describe_db_parameter_groups()
        .db_parameter_group_name("aws-e2e-e2e-pg16")
        .send()
        .await
        .expect("DescribeDBParameterGroups");
    assert_eq!(
        groups.db_parameter_groups()[0].db_parameter_group_family(),
        Some("postgres16")
    );
    let parameters = aws
        .rds
        .describe_db_parameters()
        .db_parameter_group_name("aws-e2e-e2e-pg16")
        .send()
        .await
        .expect("DescribeDBParameters");
    let slow = parameters
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("log_min_duration_statement"))
        .expect("log_min_duration_statement is set");
    assert_eq!(slow.parameter_value(), Some("500"));
}

/// The three kinds of secret value: generated by cairn, given to cairn, and composed from
/// the generated one and the database's endpoint (both read back from AWS here).
async fn check_secrets(aws: &Clients, api_key_name: &str) {
    let password = aws.secret_value("aws-e2e/e2e/db-password").await;
    assert_eq!(
        password.len(),
        40,
        "the generated password has the asked length"
    );
    assert!(
        password.chars().all(|c| c.is_ascii_alphanumeric()),
        "the generated password is alphanumeric"
    );
    assert_eq!(aws.secret_value(api_key_name).await, API_KEY);

    let out = aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(DB)
        .send()
        .await
        .expect("DescribeDBInstances");
    let endpoint = out.db_instances()[0].endpoint().expect("the DB endpoint");
    let url = format!(
        "postgresql://reporter:{password}@{}:{}/reports",
        endpoint.address().expect("an address"),
        endpoint.port().expect("a port")
    );
    assert_eq!(aws.secret_value("aws-e2e/e2e/db-url").await, url);
}

/// Decodes an IAM policy document as IAM returns it (URL-encoded JSON).
pub fn policy_document(encoded: &str) -> serde_json::Value {
    let decoded = urlencoding::decode(encoded).expect("policy document is URL-encoded UTF-8");
    serde_json::from_str(&decoded).expect("policy document is JSON")
}
