//! EC2 networking resource types against the moto server: each test creates objects
//! through the provider, checks them with the SDK, updates them in place, checks again,
//! makes drift with the SDK and reads it back, and deletes them.

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

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Tag};
use cairn_provider_core::{Attrs, Value};
use common::{TestResource, aws_client, json, moto, sdk_config, string_map, text};
use serde_json::json as j;

async fn ec2() -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config().await)
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

#[tokio::test]
async fn harness_reaches_moto_through_the_standard_endpoint() {
    let server = moto();
    assert!(
        server.endpoint.starts_with("http://127.0.0.1:"),
        "{}",
        server.endpoint
    );
    let _client = aws_client("harness_smoke").await;
    let vpcs = ec2()
        .await
        .describe_vpcs()
        .send()
        .await
        .expect("moto answers DescribeVpcs");
    assert!(
        vpcs.vpcs().iter().any(|v| v.is_default() == Some(true)),
        "moto's default VPC is visible"
    );
}

#[tokio::test]
async fn vpc_create_update_drift_find_delete() {
    let env = "vpc_lifecycle";
    let vpc = TestResource::new(env, "aws_vpc.main").await;
    let sdk = ec2().await;
    let config = Attrs::new()
        .with("cidr_block", "10.10.0.0/16")
        .with("enable_dns_hostnames", true)
        .with("tags", string_map(&[("Name", "main"), ("team", "data")]));
    let created = vpc.create(&config).await;
    let id = text(&created, "id");
    assert!(text(&created, "arn").ends_with(&format!(":vpc/{id}")));
    assert_eq!(
        created.get("enable_dns_hostnames"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        created.get("tags"),
        config.get("tags"),
        "read reports only user tags"
    );

    let real = sdk
        .describe_vpcs()
        .vpc_ids(&id)
        .send()
        .await
        .expect("describe");
    let real = &real.vpcs()[0];
    assert_eq!(real.cidr_block(), Some("10.10.0.0/16"));
    let tags = tags_of(real.tags());
    assert_eq!(
        tags.get("cairn:address").map(String::as_str),
        Some("aws_vpc.main")
    );
    assert_eq!(tags.get("cairn:env").map(String::as_str), Some(env));
    assert_eq!(tags.get("cairn:stack").map(String::as_str), Some("test"));
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));
    let hostnames = sdk
        .describe_vpc_attribute()
        .vpc_id(&id)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .expect("attribute");
    assert_eq!(
        hostnames.enable_dns_hostnames().and_then(|a| a.value()),
        Some(true)
    );

    // Update in place: a tag changes, another goes, DNS hostnames off.
    let desired = config.clone().with("enable_dns_hostnames", false).with(
        "tags",
        string_map(&[("Name", "main"), ("owner", "platform")]),
    );
    let updated = vpc.update(&created, &desired).await;
    assert_eq!(text(&updated, "id"), id, "updated in place");
    assert_eq!(updated.get("tags"), desired.get("tags"));
    let real = sdk
        .describe_vpcs()
        .vpc_ids(&id)
        .send()
        .await
        .expect("describe");
    let tags = tags_of(real.vpcs()[0].tags());
    assert_eq!(tags.get("owner").map(String::as_str), Some("platform"));
    assert!(!tags.contains_key("team"), "removed tag is gone: {tags:?}");
    assert!(
        tags.contains_key("cairn:address"),
        "identity tags survive updates"
    );
    let hostnames = sdk
        .describe_vpc_attribute()
        .vpc_id(&id)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .expect("attribute");
    assert_eq!(
        hostnames.enable_dns_hostnames().and_then(|a| a.value()),
        Some(false)
    );

    // Drift: a tag removed outside cairn shows in read.
    sdk.delete_tags()
        .resources(&id)
        .tags(Tag::builder().key("owner").build())
        .send()
        .await
        .expect("delete tag");
    let read = vpc.read(&updated).await.expect("still exists");
    assert_eq!(read.get("tags"), Some(&string_map(&[("Name", "main")])));

    // An interrupted create is adopted by its tags, not duplicated.
    let found = vpc.find(&desired).await.expect("found by tags");
    assert_eq!(text(&found, "id"), id);
    let other = TestResource::new(env, "aws_vpc.other").await;
    assert!(
        other.find(&desired).await.is_none(),
        "another address finds nothing"
    );

    vpc.delete(&updated).await;
    assert!(
        vpc.read(&updated).await.is_none(),
        "deleted VPC reads as gone"
    );
    let err = sdk.describe_vpcs().vpc_ids(&id).send().await;
    assert!(err.is_err() || err.is_ok_and(|out| out.vpcs().is_empty()));
    vpc.delete(&updated).await;
}

/// The public/private layout of the flagship stack: subnets, an internet gateway, an
/// Elastic IP and a NAT gateway, and a route table per tier.
#[tokio::test]
async fn public_and_private_routing_create_update_drift_delete() {
    let env = "routing";
    let sdk = ec2().await;
    let vpc = TestResource::new(env, "aws_vpc.main").await;
    let vpc_state = vpc
        .create(&Attrs::new().with("cidr_block", "10.20.0.0/16"))
        .await;
    let vpc_id = text(&vpc_state, "id");

    let public = TestResource::new(env, "aws_subnet.public").await;
    let public_config = Attrs::new()
        .with("vpc_id", vpc_id.as_str())
        .with("cidr_block", "10.20.0.0/24")
        .with("availability_zone", "us-east-1a")
        .with("map_public_ip_on_launch", true)
        .with("tags", string_map(&[("kubernetes.io/role/elb", "1")]));
    let public_state = public.create(&public_config).await;
    let public_id = text(&public_state, "id");
    let real = sdk
        .describe_subnets()
        .subnet_ids(&public_id)
        .send()
        .await
        .expect("describe subnet");
    let real = &real.subnets()[0];
    assert_eq!(real.map_public_ip_on_launch(), Some(true));
    assert_eq!(real.availability_zone(), Some("us-east-1a"));
    assert_eq!(
        tags_of(real.tags())
            .get("kubernetes.io/role/elb")
            .map(String::as_str),
        Some("1")
    );
    assert_eq!(public_state.get("tags"), public_config.get("tags"));

    let private = TestResource::new(env, "aws_subnet.private").await;
    let private_config = Attrs::new()
        .with("vpc_id", vpc_id.as_str())
        .with("cidr_block", "10.20.1.0/24")
        .with(
            "tags",
            string_map(&[("kubernetes.io/role/internal-elb", "1")]),
        );
    let private_state = private.create(&private_config).await;
    let private_id = text(&private_state, "id");
    assert_eq!(
        private_state.get("map_public_ip_on_launch"),
        Some(&Value::Bool(false))
    );
    assert!(
        private_state.get("availability_zone").is_some(),
        "AWS picked a zone"
    );

    // Subnet update in place, then adoption by tags.
    let public_desired = public_config.clone().with("map_public_ip_on_launch", false);
    let public_state = public.update(&public_state, &public_desired).await;
    let real = sdk
        .describe_subnets()
        .subnet_ids(&public_id)
        .send()
        .await
        .expect("describe subnet");
    assert_eq!(real.subnets()[0].map_public_ip_on_launch(), Some(false));
    let found = public.find(&public_desired).await.expect("found by tags");
    assert_eq!(text(&found, "id"), public_id);

    let igw = TestResource::new(env, "aws_internet_gateway.main").await;
    let igw_config = Attrs::new().with("vpc_id", vpc_id.as_str());
    let igw_state = igw.create(&igw_config).await;
    let igw_id = text(&igw_state, "id");
    let real = sdk
        .describe_internet_gateways()
        .internet_gateway_ids(&igw_id)
        .send()
        .await
        .expect("describe igw");
    assert_eq!(
        real.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(vpc_id.as_str())
    );
    let igw_desired = igw_config
        .clone()
        .with("tags", string_map(&[("Name", "edge")]));
    let igw_state = igw.update(&igw_state, &igw_desired).await;
    assert_eq!(igw_state.get("tags"), igw_desired.get("tags"));

    let eip = TestResource::new(env, "aws_eip.nat").await;
    let eip_state = eip.create(&Attrs::new().with("domain", "vpc")).await;
    let allocation = text(&eip_state, "allocation_id");
    assert!(eip_state.get("public_ip").is_some());
    let found = eip.find(&Attrs::new()).await.expect("EIP found by tags");
    assert_eq!(text(&found, "id"), allocation);

    let nat = TestResource::new(env, "aws_nat_gateway.main").await;
    let nat_config = Attrs::new()
        .with("subnet_id", public_id.as_str())
        .with("allocation_id", allocation.as_str());
    let nat_state = nat.create(&nat_config).await;
    let nat_id = text(&nat_state, "id");
    assert_eq!(text(&nat_state, "connectivity_type"), "public");
    assert_eq!(text(&nat_state, "vpc_id"), vpc_id);
    let real = sdk
        .describe_nat_gateways()
        .nat_gateway_ids(&nat_id)
        .send()
        .await
        .expect("describe nat");
    assert_eq!(
        real.nat_gateways()[0].state().map(|s| s.as_str()),
        Some("available")
    );
    let nat_desired = nat_config
        .clone()
        .with("tags", string_map(&[("tier", "egress")]));
    let nat_state = nat.update(&nat_state, &nat_desired).await;
    assert_eq!(nat_state.get("tags"), nat_desired.get("tags"));

    let public_rt = TestResource::new(env, "aws_route_table.public").await;
    let public_rt_config = Attrs::new()
        .with("vpc_id", vpc_id.as_str())
        .with(
            "route",
            json(j!([{ "cidr_block": "0.0.0.0/0", "gateway_id": igw_id }])),
        )
        .with("subnet_ids", vec![public_id.as_str()]);
    let public_rt_state = public_rt.create(&public_rt_config).await;
    assert_eq!(public_rt_state.get("route"), public_rt_config.get("route"));
    assert_eq!(
        public_rt_state.get("subnet_ids"),
        public_rt_config.get("subnet_ids")
    );

    let private_rt = TestResource::new(env, "aws_route_table.private").await;
    let private_rt_config = Attrs::new()
        .with("vpc_id", vpc_id.as_str())
        .with(
            "route",
            json(j!([{ "cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_id }])),
        )
        .with("subnet_ids", vec![private_id.as_str()]);
    let private_rt_state = private_rt.create(&private_rt_config).await;
    let private_rt_id = text(&private_rt_state, "id");
    let real = sdk
        .describe_route_tables()
        .route_table_ids(&private_rt_id)
        .send()
        .await
        .expect("describe route table");
    let table = &real.route_tables()[0];
    assert!(
        table
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.nat_gateway_id() == Some(nat_id.as_str())),
        "{:?}",
        table.routes()
    );
    assert!(
        table
            .associations()
            .iter()
            .any(|a| a.subnet_id() == Some(private_id.as_str()))
    );

    // Update in place: a second route, and the public subnet moves in too (it is
    // associated with the public table, so the association is replaced).
    let private_rt_desired = private_rt_config
        .clone()
        .with(
            "route",
            json(j!([
                { "cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_id },
                { "cidr_block": "192.168.0.0/16", "gateway_id": igw_id },
            ])),
        )
        .with("subnet_ids", vec![private_id.as_str(), public_id.as_str()]);
    let private_rt_state = private_rt
        .update(&private_rt_state, &private_rt_desired)
        .await;
    assert_eq!(
        text(&private_rt_state, "id"),
        private_rt_id,
        "updated in place"
    );
    assert_eq!(
        private_rt_state.get("route"),
        private_rt_desired.get("route")
    );
    assert_eq!(
        private_rt_state.get("subnet_ids"),
        private_rt_desired.get("subnet_ids")
    );
    let real = sdk
        .describe_route_tables()
        .route_table_ids(&private_rt_id)
        .send()
        .await
        .expect("describe route table");
    let table = &real.route_tables()[0];
    assert!(
        table
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("192.168.0.0/16"))
    );
    let public_table = public_rt.read(&public_rt_state).await.expect("exists");
    assert_eq!(
        public_table.get("subnet_ids"),
        Some(&Value::List(Vec::new())),
        "the public subnet moved away"
    );

    // Drift: a route added outside cairn shows in read.
    sdk.create_route()
        .route_table_id(&private_rt_id)
        .destination_cidr_block("172.16.0.0/12")
        .gateway_id(&igw_id)
        .send()
        .await
        .expect("create route outside cairn");
    let read = private_rt.read(&private_rt_state).await.expect("exists");
    let routes = read.get("route").and_then(Value::as_list).expect("routes");
    assert_eq!(routes.len(), 3, "{routes:?}");
    assert_eq!(
        routes[2],
        json(j!({ "cidr_block": "172.16.0.0/12", "gateway_id": igw_id }))
    );
    // ...and the next update removes it again.
    let private_rt_state = private_rt.update(&read, &private_rt_desired).await;
    assert_eq!(
        private_rt_state.get("route"),
        private_rt_desired.get("route")
    );

    // Tear down in the engine's reverse order; each delete is checked.
    private_rt.delete(&private_rt_state).await;
    assert!(private_rt.read(&private_rt_state).await.is_none());
    public_rt.delete(&public_rt_state).await;
    assert!(public_rt.read(&public_rt_state).await.is_none());
    nat.delete(&nat_state).await;
    assert!(
        nat.read(&nat_state).await.is_none(),
        "a NAT gateway listed as deleted reads as gone"
    );
    assert!(
        nat.find(&nat_desired).await.is_none(),
        "deleted gateways are not adopted"
    );
    eip.delete(&eip_state).await;
    assert!(eip.read(&eip_state).await.is_none());
    igw.delete(&igw_state).await;
    assert!(igw.read(&igw_state).await.is_none());
    public.delete(&public_state).await;
    private.delete(&private_state).await;
    assert!(public.read(&public_state).await.is_none());
    assert!(private.read(&private_state).await.is_none());
    vpc.delete(&vpc_state).await;
    assert!(vpc.read(&vpc_state).await.is_none());
    // Deleting what is already gone succeeds.
    nat.delete(&nat_state).await;
    igw.delete(&igw_state).await;
    eip.delete(&eip_state).await;
}

#[tokio::test]
async fn security_group_rules_reconcile_in_place() {
    let env = "security_group";
    let sdk = ec2().await;
    let vpc = TestResource::new(env, "aws_vpc.main").await;
    let vpc_state = vpc
        .create(&Attrs::new().with("cidr_block", "10.30.0.0/16"))
        .await;
    let vpc_id = text(&vpc_state, "id");

    let group = TestResource::new(env, "aws_security_group.workers").await;
    let config = Attrs::new()
        .with("vpc_id", vpc_id.as_str())
        .with("description", "Airflow workers")
        .with(
            "ingress",
            json(j!([{
                "protocol": "tcp", "from_port": 443, "to_port": 443,
                "cidr_blocks": ["10.0.0.0/8", "172.16.0.0/12"], "description": "https"
            }])),
        )
        .with(
            "egress",
            json(j!([{ "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"] }])),
        )
        .with("tags", string_map(&[("Name", "workers")]));
    let state = group.create(&config).await;
    let id = text(&state, "id");
    assert_eq!(
        text(&state, "name"),
        format!("test-{env}-workers"),
        "deterministic name"
    );
    assert_eq!(state.get("ingress"), config.get("ingress"));
    assert_eq!(state.get("egress"), config.get("egress"));

    let real = sdk
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .expect("describe group");
    let real = &real.security_groups()[0];
    let cidrs: Vec<&str> = real
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges())
        .filter_map(|r| r.cidr_ip())
        .collect();
    assert_eq!(cidrs.len(), 2, "{:?}", real.ip_permissions());
    assert!(cidrs.contains(&"10.0.0.0/8") && cidrs.contains(&"172.16.0.0/12"));

    // Update in place: one CIDR goes, a self rule for PostgreSQL arrives.
    let desired = config.clone().with(
        "ingress",
        json(j!([
            { "protocol": "tcp", "from_port": 443, "to_port": 443,
              "cidr_blocks": ["10.0.0.0/8"], "description": "https" },
            { "protocol": "tcp", "from_port": 5432, "to_port": 5432, "self": true },
        ])),
    );
    let state = group.update(&state, &desired).await;
    assert_eq!(text(&state, "id"), id);
    assert_eq!(state.get("ingress"), desired.get("ingress"));
    let real = sdk
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .expect("describe group");
    let permissions = real.security_groups()[0].ip_permissions();
    assert!(
        permissions.iter().any(|p| p.from_port() == Some(5432)
            && p.user_id_group_pairs()
                .iter()
                .any(|g| g.group_id() == Some(id.as_str()))),
        "{permissions:?}"
    );
    assert!(
        !permissions
            .iter()
            .flat_map(|p| p.ip_ranges())
            .any(|r| r.cidr_ip() == Some("172.16.0.0/12")),
        "{permissions:?}"
    );

    // Drift: a rule authorized outside cairn shows in read as its own entry.
    sdk.authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("203.0.113.0/24").build())
                .build(),
        )
        .send()
        .await
        .expect("authorize outside cairn");
    let read = group.read(&state).await.expect("exists");
    let ingress = read
        .get("ingress")
        .and_then(Value::as_list)
        .expect("ingress");
    assert_eq!(ingress.len(), 3, "{ingress:?}");
    assert!(ingress.contains(&json(j!({
        "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["203.0.113.0/24"]
    }))));

    let found = group.find(&desired).await.expect("found by tags");
    assert_eq!(text(&found, "id"), id);
    let by_filter = sdk
        .describe_security_groups()
        .filters(Filter::builder().name("tag:cairn:env").values(env).build())
        .send()
        .await
        .expect("describe by tag");
    assert_eq!(by_filter.security_groups().len(), 1);

    group.delete(&read).await;
    assert!(group.read(&read).await.is_none());
    vpc.delete(&vpc_state).await;
}
