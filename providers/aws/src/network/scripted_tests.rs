//! Real EC2's answers, played by the capture: reads that answer NotFound right after a
//! create, deletes refused while the object is in use, and a NAT gateway an interrupted
//! apply left pending.

use std::time::Duration;

use cairn_provider_core::{Attrs, DeleteRequest, FindRequest, Progress, ResourceIdentity};

use super::internet_gateway::InternetGateway;
use super::nat_gateway::NatGateway;
use super::security_group::SecurityGroup;
use crate::eks::capture::{Answer, Capture, create_request, ec2_error};
use crate::resource::{AwsResource, Typed};

const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

fn identity(address: &str) -> ResourceIdentity {
    ResourceIdentity {
        stack: "airflow".to_owned(),
        env: "dev".to_owned(),
        address: address.to_owned(),
    }
}

fn ok(operation: &str, inner: &str) -> Answer {
    (
        200,
        format!(
            "<{operation}Response xmlns=\"{XMLNS}\"><requestId>r-1</requestId>{inner}\
             </{operation}Response>"
        ),
    )
}

fn security_group() -> Answer {
    ok(
        "DescribeSecurityGroups",
        "<securityGroupInfo><item><ownerId>123456789012</ownerId><groupId>sg-1</groupId>\
         <groupName>airflow-dev-db</groupName><groupDescription>Managed by cairn</groupDescription>\
         <vpcId>vpc-1</vpcId><ipPermissions/><ipPermissionsEgress/></item></securityGroupInfo>",
    )
}

#[tokio::test]
async fn a_new_security_group_is_read_through_not_found() {
    let not_found = ec2_error(
        "InvalidGroup.NotFound",
        "The security group 'sg-1' does not exist",
    );
    let capture = Capture::script([
        ok(
            "CreateSecurityGroup",
            "<return>true</return><groupId>sg-1</groupId>",
        ),
        not_found.clone(),
        not_found,
        security_group(),
        security_group(),
    ]);
    let identity = identity("aws_security_group.db");
    let config = Attrs::new().with("vpc_id", "vpc-1");
    let attrs = Typed(SecurityGroup)
        .create(
            &capture.clients(),
            create_request("", &identity, &config, Duration::from_secs(600)),
        )
        .await
        .expect("created");
    assert_eq!(attrs.opt_str("id").ok().flatten().as_deref(), Some("sg-1"));
    assert_eq!(
        capture.calls(),
        [
            "CreateSecurityGroup",
            "DescribeSecurityGroups",
            "DescribeSecurityGroups",
            "DescribeSecurityGroups",
            "DescribeSecurityGroups",
        ]
    );
}

#[tokio::test]
async fn a_security_group_that_never_shows_fails_after_a_minute() {
    let capture = Capture::script(
        std::iter::once(ok(
            "CreateSecurityGroup",
            "<return>true</return><groupId>sg-1</groupId>",
        ))
        .chain(std::iter::repeat_n(
            ec2_error(
                "InvalidGroup.NotFound",
                "The security group 'sg-1' does not exist",
            ),
            100,
        )),
    );
    let identity = identity("aws_security_group.db");
    let config = Attrs::new().with("vpc_id", "vpc-1");
    let error = Typed(SecurityGroup)
        .create(
            &capture.clients(),
            create_request("", &identity, &config, Duration::from_secs(600)),
        )
        .await
        .expect_err("gives up")
        .to_string();
    assert!(
        error.contains("security group sg-1 to become visible"),
        "{error}"
    );
    // A minute of 1-10 s backoff: about ten reads.
    assert!(capture.unused() > 80, "{} left", capture.unused());
}

#[tokio::test]
async fn security_group_delete_retries_while_in_use() {
    let capture = Capture::script([
        // Nothing Kubernetes made holds it: no cluster subnets or VPCs, interfaces or
        // load balancers...
        ok("DescribeSubnets", "<subnetSet/>"),
        ok("DescribeVpcs", "<vpcSet/>"),
        ok("DescribeNetworkInterfaces", "<networkInterfaceSet/>"),
        (
            200,
            "<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancers/>\
             </DescribeLoadBalancersResult></DescribeLoadBalancersResponse>"
                .to_owned(),
        ),
        (
            200,
            "<DescribeLoadBalancersResponse><DescribeLoadBalancersResult>\
             <LoadBalancerDescriptions/></DescribeLoadBalancersResult>\
             </DescribeLoadBalancersResponse>"
                .to_owned(),
        ),
        // ... nor another group's rules.
        ok("DescribeSecurityGroups", "<securityGroupInfo/>"),
        ok("DescribeSecurityGroups", "<securityGroupInfo/>"),
        ec2_error(
            "InvalidGroup.InUse",
            "Group sg-1 is used by security groups in other accounts.",
        ),
        ec2_error(
            "DependencyViolation",
            "resource sg-1 has a dependent object",
        ),
        ok("DeleteSecurityGroup", "<return>true</return>"),
    ]);
    let identity = identity("aws_security_group.db");
    let state = Attrs::new().with("id", "sg-1");
    Typed(SecurityGroup)
        .delete(
            &capture.clients(),
            DeleteRequest {
                type_name: "aws_security_group",
                identity: &identity,
                state: &state,
                timeout: Duration::from_secs(600),
                progress: Progress::noop(),
            },
        )
        .await
        .expect("deleted once free");
    assert_eq!(capture.calls().len(), 10);
    assert_eq!(capture.unused(), 0);
}

#[tokio::test]
async fn a_new_internet_gateway_is_attached_through_not_found() {
    let not_found = ec2_error(
        "InvalidInternetGatewayID.NotFound",
        "The internetGateway ID 'igw-1' does not exist",
    );
    let gateway = "<internetGatewayId>igw-1</internetGatewayId><ownerId>123456789012</ownerId>\
                   <attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item>\
                   </attachmentSet>";
    let capture = Capture::script([
        ok(
            "CreateInternetGateway",
            &format!("<internetGateway>{gateway}</internetGateway>"),
        ),
        not_found.clone(),
        ok("AttachInternetGateway", "<return>true</return>"),
        not_found,
        ok(
            "DescribeInternetGateways",
            &format!("<internetGatewaySet><item>{gateway}</item></internetGatewaySet>"),
        ),
    ]);
    let identity = identity("aws_internet_gateway.main");
    let config = Attrs::new().with("vpc_id", "vpc-1");
    let attrs = Typed(InternetGateway)
        .create(
            &capture.clients(),
            create_request("", &identity, &config, Duration::from_secs(600)),
        )
        .await
        .expect("created and attached");
    assert_eq!(
        attrs.opt_str("vpc_id").ok().flatten().as_deref(),
        Some("vpc-1")
    );
    assert_eq!(
        capture.calls(),
        [
            "CreateInternetGateway",
            "AttachInternetGateway",
            "AttachInternetGateway",
            "DescribeInternetGateways",
            "DescribeInternetGateways",
        ]
    );
}

fn nat_gateway(state: &str, failure: &str) -> Answer {
    let tags: String = identity("aws_nat_gateway.main")
        .tags()
        .iter()
        .map(|(k, v)| format!("<item><key>{k}</key><value>{v}</value></item>"))
        .collect();
    let address = if state == "available" {
        "<natGatewayAddressSet><item><allocationId>eipalloc-1</allocationId>\
         <publicIp>203.0.113.7</publicIp><privateIp>10.0.0.9</privateIp></item></natGatewayAddressSet>"
    } else {
        ""
    };
    ok(
        "DescribeNatGateways",
        &format!(
            "<natGatewaySet><item><natGatewayId>nat-1</natGatewayId><state>{state}</state>\
             <subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId>{address}{failure}\
             <tagSet>{tags}</tagSet></item></natGatewaySet>"
        ),
    )
}

#[tokio::test]
async fn find_waits_for_a_pending_nat_gateway_and_fails_on_a_failed_one() {
    let identity = identity("aws_nat_gateway.main");
    let config = Attrs::new().with("subnet_id", "subnet-a");
    let find = |capture: Capture| {
        let (identity, config) = (identity.clone(), config.clone());
        async move {
            Typed(NatGateway)
                .find(
                    &capture.clients(),
                    FindRequest {
                        type_name: "aws_nat_gateway",
                        identity: &identity,
                        config: &config,
                    },
                )
                .await
        }
    };
    let pending = Capture::script([
        nat_gateway("pending", ""),
        nat_gateway("pending", ""),
        nat_gateway("pending", ""),
        nat_gateway("available", ""),
    ]);
    let found = find(pending.clone())
        .await
        .expect("adopted")
        .expect("found");
    assert_eq!(pending.unused(), 0);
    assert_eq!(
        found.opt_str("public_ip").ok().flatten().as_deref(),
        Some("203.0.113.7")
    );

    let failed = Capture::script([
        nat_gateway("pending", ""),
        nat_gateway(
            "failed",
            "<failureCode>Gateway.NotAttached</failureCode>\
             <failureMessage>Network vpc-1 has no Internet gateway attached</failureMessage>",
        ),
    ]);
    let error = find(failed).await.expect_err("not adopted").to_string();
    assert!(error.contains("Gateway.NotAttached"), "{error}");
    assert!(
        error.contains("has no Internet gateway attached"),
        "{error}"
    );
}
