//! Teardown against the moto server: network interfaces and load balancers made outside
//! cairn (as the VPC CNI, the load balancer controller and the cloud provider make them)
//! hold the stack's subnets, security groups and VPC. The delete waits for them and names
//! them, deletes those provably of the stack's cluster, fails naming a blocker that never
//! goes, and a re-run finishes once it is gone. The EKS cluster's delete names the EBS
//! volumes its claims left.
//!
//! moto deletes subnets and security groups whatever holds them, so the waits seen here
//! are cairn's own check, not retried `DependencyViolation`s.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use cairn_provider_core::{Attrs, DeleteRequest, Progress, ProgressSink, ProviderError, Value};
use common::{TestResource, sdk_config, string_map, text};

/// Every progress message of one delete; warnings start with `warning: `.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl ProgressSink for Recorder {
    fn report(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }

    fn warn(&self, message: &str) {
        self.0.lock().unwrap().push(format!("warning: {message}"));
    }
}

impl Recorder {
    fn all(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// Deletes through the provider as the engine does, recording progress.
async fn delete(
    resource: &TestResource,
    state: &Attrs,
    timeout: Duration,
) -> (Result<(), ProviderError>, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let result = resource
        .client
        .delete(DeleteRequest {
            type_name: &resource.type_name,
            identity: &resource.identity,
            state,
            timeout,
            progress: Progress::new(Arc::clone(&recorder) as Arc<dyn ProgressSink>),
        })
        .await;
    (result, recorder)
}

/// What a test deletes outside cairn, a while after the delete started waiting.
const OUTSIDE_DELAY: Duration = Duration::from_secs(3);

struct Clients {
    ec2: aws_sdk_ec2::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    elb: aws_sdk_elasticloadbalancing::Client,
}

async fn clients() -> Clients {
    let sdk = sdk_config().await;
    Clients {
        ec2: aws_sdk_ec2::Client::new(&sdk),
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
        elb: aws_sdk_elasticloadbalancing::Client::new(&sdk),
    }
}

/// A VPC, a subnet tagged for `cluster` as the Airflow stack tags its subnets, and a
/// security group, all made by cairn for the test's env.
struct Network {
    vpc: TestResource,
    vpc_state: Attrs,
    subnet: TestResource,
    subnet_state: Attrs,
    group: TestResource,
    group_state: Attrs,
}

impl Network {
    async fn create(env: &str, cidr: u8, cluster: &str) -> Network {
        let vpc = TestResource::new(env, "aws_vpc.main").await;
        let vpc_state = vpc
            .create(&Attrs::new().with("cidr_block", format!("10.{cidr}.0.0/16")))
            .await;
        let vpc_id = text(&vpc_state, "id");
        let subnet = TestResource::new(env, "aws_subnet.private").await;
        let cluster_tag = format!("kubernetes.io/cluster/{cluster}");
        let subnet_state = subnet
            .create(
                &Attrs::new()
                    .with("vpc_id", vpc_id.clone())
                    .with("cidr_block", format!("10.{cidr}.1.0/24"))
                    .with("availability_zone", "us-east-1a")
                    .with("tags", string_map(&[(&cluster_tag, "shared")])),
            )
            .await;
        let group = TestResource::new(env, "aws_security_group.nodes").await;
        let group_state = group.create(&Attrs::new().with("vpc_id", vpc_id)).await;
        Network {
            vpc,
            vpc_state,
            subnet,
            subnet_state,
            group,
            group_state,
        }
    }

    fn vpc_id(&self) -> String {
        text(&self.vpc_state, "id")
    }

    fn subnet_id(&self) -> String {
        text(&self.subnet_state, "id")
    }

    fn group_id(&self) -> String {
        text(&self.group_state, "id")
    }
}

fn tag_spec(kind: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build()
}

/// A network interface made outside cairn.
async fn interface(
    ec2: &aws_sdk_ec2::Client,
    subnet: &str,
    group: Option<&str>,
    description: &str,
    tags: &[(&str, &str)],
) -> String {
    let mut call = ec2
        .create_network_interface()
        .subnet_id(subnet)
        .description(description)
        .set_groups(group.map(|g| vec![g.to_owned()]));
    if !tags.is_empty() {
        call = call.tag_specifications(tag_spec(ResourceType::NetworkInterface, tags));
    }
    call.send()
        .await
        .expect("CreateNetworkInterface")
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .expect("interface id")
        .to_owned()
}

async fn interface_exists(ec2: &aws_sdk_ec2::Client, id: &str) -> bool {
    match ec2
        .describe_network_interfaces()
        .network_interface_ids(id)
        .send()
        .await
    {
        Ok(out) => !out.network_interfaces().is_empty(),
        Err(e) => {
            let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e);
            assert_eq!(code, Some("InvalidNetworkInterfaceID.NotFound"), "{e:?}");
            false
        }
    }
}

/// A security group made outside cairn in `vpc`, whose ingress rule names `source`.
async fn group_naming(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    name: &str,
    source: &str,
    tags: &[(&str, &str)],
) -> String {
    let mut call = ec2
        .create_security_group()
        .group_name(name)
        .description("made outside cairn")
        .vpc_id(vpc);
    if !tags.is_empty() {
        call = call.tag_specifications(tag_spec(ResourceType::SecurityGroup, tags));
    }
    let id = call
        .send()
        .await
        .expect("CreateSecurityGroup")
        .group_id()
        .expect("group id")
        .to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .user_id_group_pairs(
                    aws_sdk_ec2::types::UserIdGroupPair::builder()
                        .group_id(source)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("AuthorizeSecurityGroupIngress");
    id
}

async fn group_exists(ec2: &aws_sdk_ec2::Client, id: &str) -> bool {
    ec2.describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(id)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups")
        .security_groups()
        .iter()
        .any(|g| g.group_id() == Some(id))
}

/// An ALB made outside cairn, as the AWS Load Balancer Controller makes one.
async fn load_balancer(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    name: &str,
    subnet: &str,
    group: Option<&str>,
    tags: &[(&str, &str)],
) -> String {
    elbv2
        .create_load_balancer()
        .name(name)
        .subnets(subnet)
        .set_security_groups(group.map(|g| vec![g.to_owned()]))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| {
                    aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                        .key(*k)
                        .value(*v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .expect("CreateLoadBalancer")
        .load_balancers()
        .first()
        .and_then(|lb| lb.load_balancer_arn())
        .expect("load balancer arn")
        .to_owned()
}

/// A classic ELB made outside cairn, as the cloud provider makes one for a Service.
async fn classic_load_balancer(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
    subnet: &str,
    tags: &[(&str, &str)],
) {
    use aws_sdk_elasticloadbalancing::types::{Listener, Tag};
    elb.create_load_balancer()
        .load_balancer_name(name)
        .listeners(
            Listener::builder()
                .protocol("TCP")
                .load_balancer_port(80)
                .instance_port(8080)
                .build()
                .expect("listener"),
        )
        .subnets(subnet)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
                .collect(),
        ))
        .send()
        .await
        .expect("CreateLoadBalancer (classic)");
}

async fn load_balancer_names(clients: &Clients) -> Vec<String> {
    let v2 = clients
        .elbv2
        .describe_load_balancers()
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let classic = clients
        .elb
        .describe_load_balancers()
        .send()
        .await
        .expect("DescribeLoadBalancers (classic)");
    v2.load_balancers()
        .iter()
        .filter_map(|lb| lb.load_balancer_name())
        .chain(
            classic
                .load_balancer_descriptions()
                .iter()
                .filter_map(|lb| lb.load_balancer_name()),
        )
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn interfaces_left_by_kubernetes_hold_the_delete_until_they_go() {
    let env = "teardown_waits";
    let clients = clients().await;
    let net = Network::create(env, 61, "teardown-waits").await;
    let (subnet_id, group_id) = (net.subnet_id(), net.group_id());
    // A load balancer's interface, and one of the VPC CNI of a cluster that is not the
    // stack's: neither provably the stack's cluster's, so cairn waits for them.
    let elb_eni = interface(
        &clients.ec2,
        &subnet_id,
        Some(&group_id),
        "ELB app/k8s-web-1234/abcd",
        &[],
    )
    .await;
    let cni_eni = interface(
        &clients.ec2,
        &subnet_id,
        Some(&group_id),
        "aws-K8S-i-0123456789",
        &[("cluster.k8s.amazonaws.com/name", "another-cluster")],
    )
    .await;

    // A group of someone else's whose rule lets the stack's group in.
    let referring = group_naming(
        &clients.ec2,
        &net.vpc_id(),
        "k8s-traffic-another",
        &group_id,
        &[("elbv2.k8s.aws/cluster", "another-cluster")],
    )
    .await;

    let ec2 = clients.ec2.clone();
    let enis = [elb_eni.clone(), cni_eni.clone()];
    let referring_group = referring.clone();
    let outside = tokio::spawn(async move {
        tokio::time::sleep(OUTSIDE_DELAY).await;
        for eni in enis {
            ec2.delete_network_interface()
                .network_interface_id(eni)
                .send()
                .await
                .expect("DeleteNetworkInterface");
        }
        ec2.delete_security_group()
            .group_id(referring_group)
            .send()
            .await
            .expect("DeleteSecurityGroup");
    });
    let started = Instant::now();
    let timeout = Duration::from_secs(120);
    let ((subnet_result, subnet_progress), (group_result, group_progress)) = tokio::join!(
        delete(&net.subnet, &net.subnet_state, timeout),
        delete(&net.group, &net.group_state, timeout),
    );
    outside.await.expect("outside deletes");
    subnet_result.expect("the subnet goes once its interfaces are gone");
    group_result.expect("the group goes once its interfaces are gone");
    assert!(started.elapsed() >= OUTSIDE_DELAY, "the deletes waited");

    for (id, progress) in [(&subnet_id, &subnet_progress), (&group_id, &group_progress)] {
        let seen = progress.all();
        assert!(
            seen.contains(&format!("waiting for 2 network interfaces in {id}: ")),
            "{seen}"
        );
        assert!(seen.contains(&elb_eni) && seen.contains(&cni_eni), "{seen}");
        assert!(seen.contains("\"ELB app/k8s-web-1234/abcd\""), "{seen}");
    }
    let seen = group_progress.all();
    assert!(
        seen.contains(&format!(
            "waiting for 1 security group in {group_id}: {referring} (k8s-traffic-another, \
             its rules name {group_id})"
        )),
        "{seen}"
    );
    assert!(net.subnet.read(&net.subnet_state).await.is_none());
    assert!(net.group.read(&net.group_state).await.is_none());

    // A subnet made outside cairn, with an interface: the VPC's delete names it too.
    let vpc_id = net.vpc_id();
    let stray_subnet = clients
        .ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.61.9.0/24")
        .send()
        .await
        .expect("CreateSubnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_owned();
    let stray_eni = interface(&clients.ec2, &stray_subnet, None, "someone's", &[]).await;
    let ec2 = clients.ec2.clone();
    let (eni, subnet) = (stray_eni.clone(), stray_subnet.clone());
    let outside = tokio::spawn(async move {
        tokio::time::sleep(OUTSIDE_DELAY).await;
        ec2.delete_network_interface()
            .network_interface_id(eni)
            .send()
            .await
            .expect("DeleteNetworkInterface");
        ec2.delete_subnet()
            .subnet_id(subnet)
            .send()
            .await
            .expect("DeleteSubnet");
    });
    let (vpc_result, vpc_progress) = delete(&net.vpc, &net.vpc_state, timeout).await;
    outside.await.expect("outside deletes");
    vpc_result.expect("the VPC goes once the stray interface is gone");
    let seen = vpc_progress.all();
    assert!(
        seen.contains(&format!(
            "waiting for 1 network interface in {vpc_id}: {stray_eni} (available, \"someone's\")"
        )),
        "{seen}"
    );
    assert!(net.vpc.read(&net.vpc_state).await.is_none());
}

#[tokio::test]
async fn a_blocker_that_never_goes_fails_the_delete_naming_it_and_a_rerun_finishes() {
    let env = "teardown_blocked";
    let clients = clients().await;
    let net = Network::create(env, 62, "teardown-blocked").await;
    let subnet_id = net.subnet_id();
    let eni = interface(
        &clients.ec2,
        &subnet_id,
        None,
        "aws-K8S-i-0abcdef",
        &[
            ("cluster.k8s.amazonaws.com/name", "someone-elses"),
            ("owner", "team-b"),
        ],
    )
    .await;

    let (result, progress) = delete(&net.subnet, &net.subnet_state, Duration::from_secs(5)).await;
    let message = result.expect_err("the interface never goes").to_string();
    for part in [
        format!("subnet {subnet_id} is still in use"),
        format!("network interface {eni}: status available"),
        "description \"aws-K8S-i-0abcdef\"".to_owned(),
        "requester ".to_owned(),
        "owner ".to_owned(),
        "attached to nothing".to_owned(),
        "tags {cluster.k8s.amazonaws.com/name=someone-elses, owner=team-b}".to_owned(),
        "run the destroy again".to_owned(),
    ] {
        assert!(message.contains(&part), "{part} in {message}");
    }
    assert!(
        progress.all().contains(&format!(
            "waiting for 1 network interface in {subnet_id}: {eni}"
        )),
        "{}",
        progress.all()
    );
    // Not the stack's cluster's: cairn left it, and the subnet is still there, as the
    // state still records it.
    assert!(interface_exists(&clients.ec2, &eni).await);
    assert!(net.subnet.read(&net.subnet_state).await.is_some());

    // The user removes it; the re-run finishes.
    clients
        .ec2
        .delete_network_interface()
        .network_interface_id(&eni)
        .send()
        .await
        .expect("DeleteNetworkInterface");
    let (rerun, _) = delete(&net.subnet, &net.subnet_state, Duration::from_secs(60)).await;
    rerun.expect("nothing holds it any more");
    assert!(net.subnet.read(&net.subnet_state).await.is_none());
}

#[tokio::test]
async fn what_provably_belongs_to_the_stacks_cluster_is_deleted() {
    let env = "teardown_owned";
    let cluster = "teardown-owned";
    let clients = clients().await;
    let net = Network::create(env, 63, cluster).await;
    let subnet_id = net.subnet_id();
    let cluster_tag = format!("kubernetes.io/cluster/{cluster}");
    // A VPC CNI interface left detached, an ALB of the load balancer controller, a
    // classic ELB of the cloud provider: all tagged for the stack's cluster.
    let eni = interface(
        &clients.ec2,
        &subnet_id,
        None,
        "aws-K8S-i-0fedcba",
        &[("cluster.k8s.amazonaws.com/name", cluster)],
    )
    .await;
    load_balancer(
        &clients.elbv2,
        "k8s-owned-web",
        &subnet_id,
        None,
        &[("elbv2.k8s.aws/cluster", cluster)],
    )
    .await;
    classic_load_balancer(
        &clients.elb,
        "owned-classic",
        &subnet_id,
        &[(&cluster_tag, "owned")],
    )
    .await;

    let referring = group_naming(
        &clients.ec2,
        &net.vpc_id(),
        "k8s-traffic-owned",
        &net.group_id(),
        &[("elbv2.k8s.aws/cluster", cluster)],
    )
    .await;

    let (result, progress) = delete(&net.subnet, &net.subnet_state, Duration::from_secs(60)).await;
    result.expect("cairn removes its cluster's leftovers, then the subnet");
    let seen = progress.all();
    assert!(
        seen.contains("deleting 3 objects of the stack's cluster: "),
        "{seen}"
    );
    assert!(!interface_exists(&clients.ec2, &eni).await);
    let names = load_balancer_names(&clients).await;
    assert!(
        !names
            .iter()
            .any(|n| n == "k8s-owned-web" || n == "owned-classic"),
        "{names:?}"
    );
    assert!(net.subnet.read(&net.subnet_state).await.is_none());

    // The subnets are gone; the VPC tagged for the cluster as they were keeps it provable.
    clients
        .ec2
        .create_tags()
        .resources(net.vpc_id())
        .tags(Tag::builder().key(&cluster_tag).value("shared").build())
        .send()
        .await
        .expect("CreateTags");
    let (result, progress) = delete(&net.group, &net.group_state, Duration::from_secs(60)).await;
    result.expect("cairn removes its cluster's group that names the stack's, then the group");
    assert!(
        progress.all().contains(&format!(
            "deleting 1 object of the stack's cluster: security group {referring}"
        )),
        "{}",
        progress.all()
    );
    assert!(!group_exists(&clients.ec2, &referring).await);
    assert!(net.group.read(&net.group_state).await.is_none());
}

#[tokio::test]
async fn load_balancers_of_another_owner_hold_the_delete_until_they_go() {
    let env = "teardown_lbs";
    let clients = clients().await;
    let net = Network::create(env, 64, "teardown-lbs").await;
    let (subnet_id, group_id, vpc_id) = (net.subnet_id(), net.group_id(), net.vpc_id());
    let gateway = TestResource::new(env, "aws_internet_gateway.main").await;
    let gateway_state = gateway
        .create(&Attrs::new().with("vpc_id", vpc_id.clone()))
        .await;
    let arn = load_balancer(
        &clients.elbv2,
        "k8s-foreign-web",
        &subnet_id,
        Some(&group_id),
        &[("elbv2.k8s.aws/cluster", "another-cluster")],
    )
    .await;
    classic_load_balancer(
        &clients.elb,
        "foreign-classic",
        &subnet_id,
        &[("kubernetes.io/cluster/another-cluster", "owned")],
    )
    .await;

    let (elbv2, elb) = (clients.elbv2.clone(), clients.elb.clone());
    let outside = tokio::spawn(async move {
        tokio::time::sleep(OUTSIDE_DELAY).await;
        elbv2
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .expect("DeleteLoadBalancer");
        elb.delete_load_balancer()
            .load_balancer_name("foreign-classic")
            .send()
            .await
            .expect("DeleteLoadBalancer (classic)");
    });
    let timeout = Duration::from_secs(120);
    let (
        (subnet_result, subnet_progress),
        (group_result, group_progress),
        (gateway_result, gateway_progress),
    ) = tokio::join!(
        delete(&net.subnet, &net.subnet_state, timeout),
        delete(&net.group, &net.group_state, timeout),
        delete(&gateway, &gateway_state, timeout),
    );
    outside.await.expect("outside deletes");
    subnet_result.expect("the subnet goes once the load balancers are gone");
    group_result.expect("the group goes once the load balancer is gone");
    gateway_result.expect("the gateway detaches once the public load balancers are gone");

    let seen = subnet_progress.all();
    assert!(
        seen.contains(&format!(
            "waiting for 1 classic load balancer in {subnet_id}: foreign-classic"
        )),
        "{seen}"
    );
    assert!(
        seen.contains(&format!(
            "waiting for 1 load balancer in {subnet_id}: k8s-foreign-web (application"
        )),
        "{seen}"
    );
    let seen = group_progress.all();
    assert!(
        seen.contains(&format!(
            "waiting for 1 load balancer in {group_id}: k8s-foreign-web"
        )),
        "{seen}"
    );
    assert!(
        !seen.contains("foreign-classic"),
        "not in the group: {seen}"
    );
    // Both are internet-facing: they hold the gateway's detach.
    let seen = gateway_progress.all();
    assert!(
        seen.contains(&format!(
            "waiting for 1 classic load balancer in {vpc_id} with public addresses: \
             foreign-classic (internet-facing)"
        )),
        "{seen}"
    );
    assert!(
        seen.contains(&format!(
            "1 load balancer in {vpc_id} with public addresses: k8s-foreign-web"
        )),
        "{seen}"
    );

    // The classic ELB made itself a security group in the VPC, as AWS does when it is
    // given none, and left it: the VPC's delete names it until someone deletes it.
    let stray_group = clients
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc_id)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups")
        .security_groups()
        .iter()
        .find(|g| {
            g.group_name()
                .is_some_and(|n| n.starts_with("default_elb_"))
        })
        .and_then(|g| g.group_id())
        .expect("the classic ELB's own group")
        .to_owned();
    let ec2 = clients.ec2.clone();
    let group = stray_group.clone();
    let outside = tokio::spawn(async move {
        tokio::time::sleep(OUTSIDE_DELAY).await;
        ec2.delete_security_group()
            .group_id(group)
            .send()
            .await
            .expect("DeleteSecurityGroup");
    });
    let (vpc_result, vpc_progress) = delete(&net.vpc, &net.vpc_state, timeout).await;
    outside.await.expect("outside deletes");
    vpc_result.expect("the VPC goes once the stray group is gone");
    let seen = vpc_progress.all();
    assert!(
        seen.contains(&format!(
            "waiting for 1 security group in {vpc_id}: {stray_group} (default_elb_"
        )),
        "{seen}"
    );
}

#[tokio::test]
async fn the_clusters_delete_names_the_volumes_its_claims_left() {
    let env = "teardown_volumes";
    let cluster_name = "cairn-teardown-volumes";
    let sdk = sdk_config().await;
    let (ec2, iam) = (
        aws_sdk_ec2::Client::new(&sdk),
        aws_sdk_iam::Client::new(&sdk),
    );
    let net = Network::create(env, 65, cluster_name).await;
    let role = iam
        .create_role()
        .role_name("teardown-volumes-cluster")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("CreateRole")
        .role()
        .map(|r| r.arn().to_owned())
        .expect("role arn");
    let cluster = TestResource::new(env, "aws_eks_cluster.main").await;
    let subnet = Value::List(vec![Value::from(net.subnet_id())]);
    let state = cluster
        .create(
            &Attrs::new()
                .with("name", cluster_name)
                .with("role_arn", role)
                .with(
                    "vpc_config",
                    Value::Map([("subnet_ids".to_owned(), subnet)].into_iter().collect()),
                ),
        )
        .await;
    let cluster_tag = format!("kubernetes.io/cluster/{cluster_name}");
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(20)
        .tag_specifications(tag_spec(
            ResourceType::Volume,
            &[
                (&cluster_tag, "owned"),
                ("kubernetes.io/created-for/pvc/namespace", "airflow"),
                (
                    "kubernetes.io/created-for/pvc/name",
                    "logs-airflow-triggerer-0",
                ),
            ],
        ))
        .send()
        .await
        .expect("CreateVolume")
        .volume_id()
        .expect("volume id")
        .to_owned();
    let unrelated = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .send()
        .await
        .expect("CreateVolume")
        .volume_id()
        .expect("volume id")
        .to_owned();

    let (result, progress) = delete(&cluster, &state, Duration::from_secs(120)).await;
    result.expect("the volumes do not hold the cluster");
    let seen = progress.all();
    assert!(
        seen.contains(&format!(
            "warning: cluster {cluster_name} leaves 1 EBS volume behind (persistent volumes; they \
             cost money until deleted): {volume} (20 GiB, available, claim \
             airflow/logs-airflow-triggerer-0)"
        )),
        "{seen}"
    );
    assert!(!seen.contains(&unrelated), "{seen}");
    // Reported, never deleted: a retained volume may be on purpose.
    let left = ec2
        .describe_volumes()
        .volume_ids(&volume)
        .send()
        .await
        .expect("DescribeVolumes");
    assert_eq!(left.volumes().len(), 1);
}
