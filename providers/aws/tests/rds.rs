//! RDS resource types against the moto server: a subnet group, a parameter group and a
//! PostgreSQL instance created, checked through the SDK, updated in place and deleted.
//! (moto's ModifyDBSubnetGroup deletes the group, so subnet changes are covered by a
//! request-shape unit test instead.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use std::time::Duration;

use cairn_provider_core::{Attrs, DeleteRequest, FindRequest, Progress, Value};
use common::{TestResource, aws_client, sdk_config};

const TIMEOUT: Duration = Duration::from_secs(120);

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// Two subnets in different zones of a new VPC.
async fn subnets(ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.50.0.0/16")
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
        ("10.50.1.0/24", "us-east-1a"),
        ("10.50.2.0/24", "us-east-1b"),
    ] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(zone)
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

#[tokio::test]
async fn postgres_instance_lifecycle() {
    let env = "rds_lifecycle";
    let client = aws_client(env).await;
    let sdk = sdk_config().await;
    let (ec2, rds) = (
        aws_sdk_ec2::Client::new(&sdk),
        aws_sdk_rds::Client::new(&sdk),
    );
    let subnet_ids = subnets(&ec2).await;

    // Subnet group.
    let subnet_group_resource = TestResource::new(env, "aws_db_subnet_group.airflow").await;
    let subnet_group_config = Attrs::new()
        .with("name", "cairn-rds-lifecycle")
        .with("subnet_ids", Value::from(subnet_ids.clone()))
        .with("tags", map(&[("team", Value::from("data"))]));
    let subnet_group = subnet_group_resource.create(&subnet_group_config).await;
    let real = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name("cairn-rds-lifecycle")
        .send()
        .await
        .expect("DescribeDBSubnetGroups");
    let real = real.db_subnet_groups().first().expect("subnet group");
    let mut real_subnets: Vec<String> = real
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    real_subnets.sort();
    let mut wanted = subnet_ids.clone();
    wanted.sort();
    assert_eq!(real_subnets, wanted);
    assert_eq!(
        subnet_group.opt_str("arn").ok().flatten().as_deref(),
        real.db_subnet_group_arn()
    );
    assert_eq!(
        subnet_group.get("subnet_ids"),
        subnet_group_config.get("subnet_ids")
    );
    let tags = rds
        .list_tags_for_resource()
        .resource_name(real.db_subnet_group_arn().unwrap_or_default())
        .send()
        .await
        .expect("ListTagsForResource");
    let tag = |key: &str| {
        tags.tag_list()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_owned)
    };
    assert_eq!(tag("team").as_deref(), Some("data"));
    assert_eq!(
        tag("cairn:address").as_deref(),
        Some("aws_db_subnet_group.airflow")
    );
    let found = client
        .find(FindRequest {
            type_name: "aws_db_subnet_group",
            identity: &subnet_group_resource.identity,
            config: &subnet_group_config,
        })
        .await
        .expect("find");
    assert!(
        found.is_some(),
        "an interrupted create is adopted by its tags"
    );

    // Parameter group with one parameter, then changed in place.
    let parameters_resource = TestResource::new(env, "aws_db_parameter_group.airflow").await;
    let parameter = |value: &str| {
        Value::List(vec![map(&[
            ("name", Value::from("max_connections")),
            ("value", Value::from(value)),
        ])])
    };
    let parameters_config = Attrs::new()
        .with("name", "cairn-rds-lifecycle")
        .with("family", "postgres16")
        .with("parameter", parameter("200"));
    let parameters = parameters_resource.create(&parameters_config).await;
    assert_eq!(
        parameters.get("parameter"),
        parameters_config.get("parameter")
    );
    let real_parameter = |rds: aws_sdk_rds::Client| async move {
        let out = rds
            .describe_db_parameters()
            .db_parameter_group_name("cairn-rds-lifecycle")
            .send()
            .await
            .expect("DescribeDBParameters");
        out.parameters()
            .iter()
            .find(|p| p.parameter_name() == Some("max_connections"))
            .and_then(|p| p.parameter_value())
            .map(str::to_owned)
    };
    assert_eq!(real_parameter(rds.clone()).await.as_deref(), Some("200"));
    let desired = parameters_config
        .clone()
        .with("parameter", parameter("400"));
    let parameters = parameters_resource
        .update_changed(&parameters, &desired, &["parameter"])
        .await;
    assert_eq!(real_parameter(rds.clone()).await.as_deref(), Some("400"));
    assert_eq!(parameters.get("parameter"), desired.get("parameter"));

    // The instance.
    let db_resource = TestResource::new(env, "aws_db_instance.metadata").await;
    let password = Value::from("correct-horse-battery-staple").sensitive();
    let db_config = Attrs::new()
        .with("identifier", "cairn-rds-lifecycle")
        .with("engine", "postgres")
        .with("engine_version", "16.3")
        .with("instance_class", "db.t3.micro")
        .with("allocated_storage", Value::Int(20))
        .with("db_name", "airflow")
        .with("username", "airflow")
        .with("password", password.clone())
        .with("db_subnet_group_name", "cairn-rds-lifecycle")
        .with("parameter_group_name", "cairn-rds-lifecycle")
        .with("backup_retention_period", Value::Int(7))
        .with("deletion_protection", true)
        .with("apply_immediately", true)
        .with("tags", map(&[("team", Value::from("data"))]));
    let db = db_resource.create(&db_config).await;
    let describe = |rds: aws_sdk_rds::Client| async move {
        rds.describe_db_instances()
            .db_instance_identifier("cairn-rds-lifecycle")
            .send()
            .await
            .map(|out| out.db_instances().first().cloned())
    };
    let real = describe(rds.clone())
        .await
        .expect("DescribeDBInstances")
        .expect("instance");
    assert_eq!(real.engine(), Some("postgres"));
    assert_eq!(real.db_instance_class(), Some("db.t3.micro"));
    assert_eq!(real.master_username(), Some("airflow"));
    assert_eq!(
        real.db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some("cairn-rds-lifecycle")
    );
    assert_eq!(real.deletion_protection(), Some(true));
    assert!(
        real.tag_list()
            .iter()
            .any(|t| t.key() == Some("cairn:env") && t.value() == Some(env))
    );
    assert_eq!(
        db.opt_str("endpoint").ok().flatten().as_deref(),
        real.endpoint().and_then(|e| e.address())
    );
    assert_eq!(
        db.opt_i64("port").ok().flatten(),
        real.endpoint().and_then(|e| e.port()).map(i64::from)
    );
    assert!(
        db.get("password").is_some_and(Value::is_sensitive),
        "create keeps the password, sensitive"
    );
    let refreshed = db_resource.read(&db).await.expect("exists");
    assert!(
        refreshed.get("password").is_none(),
        "the password is never read back"
    );
    assert_eq!(
        refreshed
            .opt_str("instance_class")
            .ok()
            .flatten()
            .as_deref(),
        Some("db.t3.micro")
    );

    // In place: a bigger class.
    let desired = db_config.clone().with("instance_class", "db.t3.small");
    let db = db_resource
        .update_changed(&db, &desired, &["instance_class"])
        .await;
    let real = describe(rds.clone())
        .await
        .expect("DescribeDBInstances")
        .expect("instance");
    assert_eq!(real.db_instance_class(), Some("db.t3.small"));
    assert_eq!(
        db.opt_str("instance_class").ok().flatten().as_deref(),
        Some("db.t3.small")
    );

    // Deletion protection stops a delete with a clear error, and nothing is deleted.
    let refused = client
        .delete(DeleteRequest {
            type_name: "aws_db_instance",
            identity: &db_resource.identity,
            state: &db,
            timeout: TIMEOUT,
            progress: Progress::noop(),
        })
        .await
        .expect_err("protected instance");
    assert!(
        refused.to_string().contains("deletion_protection = false"),
        "{refused}"
    );
    assert!(
        describe(rds.clone())
            .await
            .expect("DescribeDBInstances")
            .is_some()
    );

    // Turn protection off, then delete with a final snapshot.
    let desired = desired
        .with("deletion_protection", false)
        .with("final_snapshot_identifier", "cairn-rds-lifecycle-last");
    let db = db_resource
        .update_changed(
            &db,
            &desired,
            &["deletion_protection", "final_snapshot_identifier"],
        )
        .await;
    db_resource.delete(&db).await;
    let gone = describe(rds.clone()).await.expect_err("instance deleted");
    assert_eq!(
        gone.as_service_error()
            .map(|e| e.is_db_instance_not_found_fault()),
        Some(true)
    );
    let snapshots = rds
        .describe_db_snapshots()
        .db_snapshot_identifier("cairn-rds-lifecycle-last")
        .send()
        .await
        .expect("final snapshot taken");
    assert_eq!(snapshots.db_snapshots().len(), 1);
    assert!(db_resource.read(&db).await.is_none());
    db_resource.delete(&db).await;

    // The groups.
    parameters_resource.delete(&parameters).await;
    assert!(parameters_resource.read(&parameters).await.is_none());
    let desired = subnet_group_config
        .clone()
        .with("tags", map(&[("team", Value::from("platform"))]));
    let subnet_group = subnet_group_resource
        .update_changed(&subnet_group, &desired, &["tags"])
        .await;
    assert_eq!(subnet_group.get("tags"), desired.get("tags"));
    subnet_group_resource.delete(&subnet_group).await;
    let gone = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name("cairn-rds-lifecycle")
        .send()
        .await;
    assert!(gone.is_err(), "subnet group deleted");
    assert!(subnet_group_resource.read(&subnet_group).await.is_none());
}
