//! Batch reads (`ResourceClient::read_many`, what a refresh uses) against the moto server:
//! for every type that batches, each object reads exactly as it reads alone, drift made
//! outside cairn shows, and an object that is gone (deleted, or never there) reads as
//! gone while the others still read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use std::sync::Arc;

use cairn_provider_core::{
    Attrs, ProviderError, ReadManyRequest, ReadRequest, ResourceClient, ResourceIdentity, Value,
};
use common::{TestResource, aws_client, identity, json, sdk_config, string_map, text};
use serde_json::json as j;

/// One recorded object: its address and its recorded attributes.
struct Recorded {
    identity: ResourceIdentity,
    state: Attrs,
}

fn recorded(env: &str, address: &str, state: Attrs) -> Recorded {
    Recorded {
        identity: identity(env, address),
        state,
    }
}

/// Reads `objects` (all of `type_name`) in one `read_many`, checks that each answer is
/// the one `read` gives for it alone, and returns the batch's answers.
async fn read_together(
    client: &Arc<dyn ResourceClient>,
    type_name: &str,
    objects: &[Recorded],
) -> Vec<Option<Attrs>> {
    assert!(client.reads_many(type_name), "{type_name} reads in batches");
    let reads: Vec<ReadRequest<'_>> = objects
        .iter()
        .map(|o| ReadRequest {
            type_name,
            identity: &o.identity,
            state: &o.state,
        })
        .collect();
    let together = client
        .read_many(ReadManyRequest {
            type_name,
            reads: &reads,
            parallelism: 4,
        })
        .await;
    assert_eq!(together.len(), objects.len(), "one answer per read");
    let mut answers = Vec::new();
    for (read, batch) in reads.iter().zip(together) {
        let alone = client.read(*read).await;
        let address = &read.identity.address;
        match (batch, alone) {
            (Ok(batch), Ok(alone)) => {
                assert_eq!(batch, alone, "{address}: read together as alone");
                answers.push(batch);
            }
            (batch, alone) => panic!(
                "{address}: together {:?}, alone {:?}",
                batch.map_err(|e: ProviderError| e.to_string()),
                alone.map_err(|e| e.to_string())
            ),
        }
    }
    answers
}

fn tag(attrs: &Attrs, key: &str) -> Option<String> {
    attrs.get("tags")?.get(key)?.as_str().map(str::to_owned)
}

#[tokio::test]
async fn network_objects_read_together_as_alone() {
    let env = "read_many_network";
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config().await);
    let client = aws_client(env).await;
    let vpc = TestResource::new(env, "aws_vpc.main").await;
    let vpc_state = vpc
        .create(&Attrs::new().with("cidr_block", "10.40.0.0/16"))
        .await;
    let vpc_id = text(&vpc_state, "id");

    let mut subnets = Vec::new();
    for i in 0..3 {
        let address = format!("aws_subnet.s{i}");
        let state = TestResource::new(env, &address)
            .await
            .create(
                &Attrs::new()
                    .with("vpc_id", vpc_id.as_str())
                    .with("cidr_block", format!("10.40.{i}.0/24")),
            )
            .await;
        subnets.push(recorded(env, &address, state));
    }
    // Drift: a tag added outside cairn on one subnet; another subnet deleted.
    ec2.create_tags()
        .resources(text(&subnets[0].state, "id"))
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("added")
                .value("outside")
                .build(),
        )
        .send()
        .await
        .expect("CreateTags");
    ec2.delete_subnet()
        .subnet_id(text(&subnets[2].state, "id"))
        .send()
        .await
        .expect("DeleteSubnet");
    // An id that never existed, well formed.
    subnets.push(recorded(
        env,
        "aws_subnet.never",
        subnets[1]
            .state
            .clone()
            .with("id", "subnet-0123456789abcdef0"),
    ));
    let read = read_together(&client, "aws_subnet", &subnets).await;
    let first = read[0].as_ref().expect("s0 exists");
    assert_eq!(
        tag(first, "added").as_deref(),
        Some("outside"),
        "drift shows"
    );
    assert_eq!(text(first, "cidr_block"), "10.40.0.0/24");
    assert!(read[1].is_some(), "s1 exists");
    assert!(read[2].is_none(), "deleted subnet reads as gone");
    assert!(read[3].is_none(), "unknown subnet reads as gone");

    let mut groups = Vec::new();
    for name in ["a", "b"] {
        let address = format!("aws_security_group.{name}");
        let state = TestResource::new(env, &address)
            .await
            .create(
                &Attrs::new()
                    .with("vpc_id", vpc_id.as_str())
                    .with("description", format!("group {name}")),
            )
            .await;
        groups.push(recorded(env, &address, state));
    }
    ec2.delete_security_group()
        .group_id(text(&groups[1].state, "id"))
        .send()
        .await
        .expect("DeleteSecurityGroup");
    let read = read_together(&client, "aws_security_group", &groups).await;
    assert!(read[0].is_some() && read[1].is_none());

    let mut tables = Vec::new();
    for name in ["a", "b"] {
        let address = format!("aws_route_table.{name}");
        let state = TestResource::new(env, &address)
            .await
            .create(&Attrs::new().with("vpc_id", vpc_id.as_str()))
            .await;
        tables.push(recorded(env, &address, state));
    }
    ec2.delete_route_table()
        .route_table_id(text(&tables[0].state, "id"))
        .send()
        .await
        .expect("DeleteRouteTable");
    let read = read_together(&client, "aws_route_table", &tables).await;
    assert!(read[0].is_none() && read[1].is_some());

    let mut addresses = Vec::new();
    for name in ["a", "b"] {
        let address = format!("aws_eip.{name}");
        let state = TestResource::new(env, &address)
            .await
            .create(&Attrs::new().with("domain", "vpc"))
            .await;
        addresses.push(recorded(env, &address, state));
    }
    ec2.release_address()
        .allocation_id(text(&addresses[1].state, "id"))
        .send()
        .await
        .expect("ReleaseAddress");
    let read = read_together(&client, "aws_eip", &addresses).await;
    assert!(read[0].is_some() && read[1].is_none());

    let other = TestResource::new(env, "aws_vpc.other").await;
    let other_state = other
        .create(&Attrs::new().with("cidr_block", "10.41.0.0/16"))
        .await;
    let vpcs = [
        recorded(env, "aws_vpc.main", vpc_state.clone()),
        recorded(env, "aws_vpc.other", other_state),
    ];
    let read = read_together(&client, "aws_vpc", &vpcs).await;
    let main = read[0].as_ref().expect("main VPC exists");
    assert_eq!(
        main.get("default_security_group_id"),
        vpc_state.get("default_security_group_id")
    );
    assert!(read[1].is_some());

    let mut gateways = Vec::new();
    for (name, vpc) in [("main", &vpcs[0]), ("other", &vpcs[1])] {
        let address = format!("aws_internet_gateway.{name}");
        let state = TestResource::new(env, &address)
            .await
            .create(&Attrs::new().with("vpc_id", text(&vpc.state, "id")))
            .await;
        gateways.push(recorded(env, &address, state));
    }
    let read = read_together(&client, "aws_internet_gateway", &gateways).await;
    assert!(read.iter().all(Option::is_some));

    let mut nats = Vec::new();
    for (i, subnet) in subnets[..2].iter().enumerate() {
        let eip = TestResource::new(env, &format!("aws_eip.nat{i}"))
            .await
            .create(&Attrs::new().with("domain", "vpc"))
            .await;
        let address = format!("aws_nat_gateway.n{i}");
        let state = TestResource::new(env, &address)
            .await
            .create(
                &Attrs::new()
                    .with("subnet_id", text(&subnet.state, "id"))
                    .with("allocation_id", text(&eip, "id")),
            )
            .await;
        nats.push(recorded(env, &address, state));
    }
    // Deleted NAT gateways stay listed, `deleted`: gone all the same.
    ec2.delete_nat_gateway()
        .nat_gateway_id(text(&nats[1].state, "id"))
        .send()
        .await
        .expect("DeleteNatGateway");
    let read = read_together(&client, "aws_nat_gateway", &nats).await;
    assert!(read[0].is_some() && read[1].is_none());
}

#[tokio::test]
async fn roles_read_together_as_alone_with_their_policies() {
    let env = "read_many_roles";
    let iam = aws_sdk_iam::Client::new(&sdk_config().await);
    let client = aws_client(env).await;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let mut roles = Vec::new();
    for name in ["a", "b", "c"] {
        let address = format!("aws_iam_role.{name}");
        let config = Attrs::new()
            .with("assume_role_policy", trust)
            .with("description", format!("role {name}"))
            .with(
                "managed_policy_arns",
                vec!["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"],
            )
            .with(
                "inline_policy",
                json(j!([{
                    "name": "logs",
                    "policy": {
                        "Version": "2012-10-17",
                        "Statement": [{ "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*" }]
                    }
                }])),
            )
            .with("tags", string_map(&[("team", "data")]));
        let state = TestResource::new(env, &address).await.create(&config).await;
        roles.push(recorded(env, &address, state));
    }
    // Drift outside cairn: a second inline policy and a new description on a; b deleted.
    let a = text(&roles[0].state, "id");
    iam.put_role_policy()
        .role_name(&a)
        .policy_name("extra")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutRolePolicy");
    iam.update_role()
        .role_name(&a)
        .description("changed outside")
        .send()
        .await
        .expect("UpdateRole");
    TestResource::new(env, "aws_iam_role.b")
        .await
        .delete(&roles[1].state)
        .await;
    roles.push(recorded(
        env,
        "aws_iam_role.never",
        roles[2].state.clone().with("id", "test-read-many-never"),
    ));
    let read = read_together(&client, "aws_iam_role", &roles).await;
    let a = read[0].as_ref().expect("a exists");
    assert_eq!(text(a, "description"), "changed outside");
    let inline = a
        .get("inline_policy")
        .and_then(|v| v.as_list().map(<[Value]>::to_vec))
        .expect("inline policies");
    assert_eq!(inline.len(), 2, "the extra inline policy shows: {inline:?}");
    assert!(read[1].is_none(), "deleted role reads as gone");
    let c = read[2].as_ref().expect("c exists");
    assert_eq!(c.get("inline_policy"), roles[2].state.get("inline_policy"));
    assert_eq!(
        c.get("managed_policy_arns"),
        roles[2].state.get("managed_policy_arns")
    );
    assert_eq!(tag(c, "team").as_deref(), Some("data"));
    assert!(read[3].is_none(), "unknown role reads as gone");
}

#[tokio::test]
async fn secrets_read_together_as_alone_with_their_values() {
    let env = "read_many_secrets";
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let client = aws_client(env).await;
    // "…/db" is a prefix of "…/db-url": the name filter matches both.
    let mut recorded_secrets = Vec::new();
    for (name, suffix) in [("db", "db"), ("url", "db-url"), ("gone", "gone")] {
        let address = format!("aws_secretsmanager_secret.{name}");
        let config = Attrs::new()
            .with("name", format!("cairn/read-many/{suffix}"))
            .with("value", Value::from(format!("value of {name}")).sensitive());
        let state = TestResource::new(env, &address).await.create(&config).await;
        recorded_secrets.push(recorded(env, &address, state));
    }
    let db_arn = text(&recorded_secrets[0].state, "arn");
    secrets
        .put_secret_value()
        .secret_id(&db_arn)
        .secret_string("changed outside")
        .send()
        .await
        .expect("PutSecretValue");
    TestResource::new(env, "aws_secretsmanager_secret.gone")
        .await
        .delete(&recorded_secrets[2].state)
        .await;
    let read = read_together(&client, "aws_secretsmanager_secret", &recorded_secrets).await;
    let db = read[0].as_ref().expect("db exists");
    assert_eq!(text(db, "arn"), db_arn);
    assert!(db.get("value").is_some_and(Value::is_sensitive));
    assert_eq!(db.str("value").ok().as_deref(), Some("changed outside"));
    let url = read[1].as_ref().expect("url exists");
    assert_eq!(text(url, "name"), "cairn/read-many/db-url");
    assert_eq!(url.str("value").ok().as_deref(), Some("value of url"));
    assert!(read[2].is_none(), "a secret scheduled for deletion is gone");
}
