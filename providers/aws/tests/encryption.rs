//! Encryption at rest with a stack's KMS key, against the moto server: an RDS instance
//! with encrypted storage and an EKS cluster whose Secrets are envelope-encrypted, each
//! checked through the SDK, read back without false changes, and the plan's refusal to
//! drop the cluster's encryption.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use cairn_provider_aws::AwsProvider;
use cairn_provider_core::{Attrs, PlanRequest, Provider, Value};
use common::{TestResource, changes, json, sdk_config, text};

/// Two subnets in different zones of a new VPC.
async fn subnets(ec2: &aws_sdk_ec2::Client, cidr: u8) -> Vec<String> {
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("10.{cidr}.0.0/16"))
        .send()
        .await
        .expect("CreateVpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
    let mut ids = Vec::new();
    for (n, zone) in [(1, "us-east-1a"), (2, "us-east-1b")] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(format!("10.{cidr}.{n}.0/24"))
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

async fn key(env: &str) -> (TestResource, Attrs) {
    let key = TestResource::new(env, "aws_kms_key.main").await;
    let attrs = key
        .create(
            &Attrs::new()
                .with("description", "encryption at rest")
                .with("deletion_window_in_days", Value::Int(7)),
        )
        .await;
    (key, attrs)
}

#[tokio::test]
async fn rds_storage_encrypted_with_the_stack_key() {
    let env = "encryption_rds";
    let sdk = sdk_config().await;
    let (ec2, rds) = (
        aws_sdk_ec2::Client::new(&sdk),
        aws_sdk_rds::Client::new(&sdk),
    );
    let (key, key_attrs) = key(env).await;
    let key_arn = text(&key_attrs, "arn");

    let group = TestResource::new(env, "aws_db_subnet_group.main").await;
    let group_attrs = group
        .create(
            &Attrs::new()
                .with("name", "cairn-encryption-rds")
                .with("subnet_ids", Value::from(subnets(&ec2, 61).await)),
        )
        .await;

    let db = TestResource::new(env, "aws_db_instance.main").await;
    let config = Attrs::new()
        .with("identifier", "cairn-encryption-rds")
        .with("engine", "postgres")
        .with("engine_version", "16")
        .with("instance_class", "db.t3.micro")
        .with("allocated_storage", Value::Int(20))
        .with("username", "airflow")
        .with(
            "password",
            Value::from("a-long-enough-password").sensitive(),
        )
        .with("db_subnet_group_name", "cairn-encryption-rds")
        .with("storage_encrypted", true)
        .with("kms_key_id", key_arn.clone())
        .with("skip_final_snapshot", true);
    let created = db.create(&config).await;
    let real = rds
        .describe_db_instances()
        .db_instance_identifier("cairn-encryption-rds")
        .send()
        .await
        .expect("DescribeDBInstances");
    let real = real.db_instances().first().expect("instance");
    assert_eq!(real.storage_encrypted(), Some(true));
    assert_eq!(real.kms_key_id(), Some(key_arn.as_str()));

    let read = db.refresh(&created).await.expect("exists");
    assert_eq!(
        changes("aws_db_instance", &config, &read),
        Vec::<String>::new()
    );
    assert_eq!(read.get("storage_encrypted"), Some(&Value::Bool(true)));

    // Both attributes are force-new: RDS cannot encrypt or re-key an instance in place.
    let schema = AwsProvider::new().schema();
    let instance = &schema.resources["aws_db_instance"];
    assert!(instance.attributes["storage_encrypted"].force_new);
    assert!(instance.attributes["kms_key_id"].force_new);
    // A key without encrypted storage is refused at plan time.
    let refused = AwsProvider::new()
        .plan(PlanRequest {
            type_name: "aws_db_instance",
            prior: None,
            desired: &config.clone().with("storage_encrypted", false),
        })
        .expect_err("key without encryption")
        .to_string();
    assert!(
        refused.contains("needs storage_encrypted = true"),
        "{refused}"
    );

    db.delete(&read).await;
    group.delete(&group_attrs).await;
    key.delete(&key_attrs).await;
}

#[tokio::test]
async fn eks_secrets_encrypted_with_the_stack_key() {
    let env = "encryption_eks";
    let sdk = sdk_config().await;
    let (ec2, iam, eks) = (
        aws_sdk_ec2::Client::new(&sdk),
        aws_sdk_iam::Client::new(&sdk),
        aws_sdk_eks::Client::new(&sdk),
    );
    let (key, key_attrs) = key(env).await;
    let key_arn = text(&key_attrs, "arn");
    let role = iam
        .create_role()
        .role_name("cairn-encryption-eks")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("CreateRole");
    let role_arn = role.role().map(|r| r.arn().to_owned()).expect("arn");

    let cluster = TestResource::new(env, "aws_eks_cluster.main").await;
    let encryption = json(serde_json::json!({
        "resources": ["secrets"],
        "provider_key_arn": key_arn,
    }));
    let config = Attrs::new()
        .with("name", "cairn-encryption-eks")
        .with("role_arn", role_arn)
        .with("version", "1.31")
        .with(
            "vpc_config",
            json(serde_json::json!({"subnet_ids": subnets(&ec2, 62).await})),
        )
        .with("encryption_config", encryption.clone());
    let created = cluster.create(&config).await;
    let real = eks
        .describe_cluster()
        .name("cairn-encryption-eks")
        .send()
        .await
        .expect("DescribeCluster")
        .cluster
        .expect("cluster");
    let real_encryption = real.encryption_config().first().expect("encryption config");
    assert_eq!(real_encryption.resources(), ["secrets"]);
    assert_eq!(
        real_encryption.provider().and_then(|p| p.key_arn()),
        Some(key_arn.as_str())
    );

    let read = cluster.refresh(&created).await.expect("exists");
    assert_eq!(
        changes("aws_eks_cluster", &config, &read),
        Vec::<String>::new()
    );

    // Dropping it from the stack is refused at plan time, saying why.
    let mut without = config.clone();
    without.0.remove("encryption_config");
    let refused = AwsProvider::new()
        .plan(PlanRequest {
            type_name: "aws_eks_cluster",
            prior: Some(&read),
            desired: &without,
        })
        .expect_err("removal refused")
        .to_string();
    assert!(refused.contains("cannot be removed"), "{refused}");

    cluster.delete(&read).await;
    key.delete(&key_attrs).await;
}
