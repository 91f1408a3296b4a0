//! `cairn destroy` of a network that something outside cairn still uses (issue 14): a
//! network interface made in the stack's subnet, as the VPC CNI or a load balancer leaves
//! them, holds the subnet, its security group and the VPC. The destroy must name it when
//! it cannot finish, keep in state what it could not delete, and finish on a re-run once
//! the interface is gone, also when it goes while the destroy waits. The provider-level
//! cases (what cairn deletes itself, load balancers) are in
//! providers/aws/tests/teardown.rs.
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

// The harness is shared with tests/aws_e2e.rs; this file uses only part of it.
#[allow(dead_code)]
mod support;

use std::time::Duration;

use support::aws::{Clients, assert_nothing_left};
use support::cairn::Cairn;
use support::moto::Moto;

/// A VPC, one subnet and a security group, each with a delete timeout short enough for a
/// test (the waits end at most of it, so the error is cairn's and not the timeout's).
const STACK: &str = r#"
[stack]
name = "teardown"

[variables.env]
type = "string"

[providers.aws]
region = "us-east-1"

[resources.aws_vpc.main]
cidr_block = "10.61.0.0/16"
tags = { Name = "teardown-${var.env}" }
timeouts = { delete = "8s" }

[resources.aws_subnet.private]
vpc_id = "${aws_vpc.main.id}"
cidr_block = "10.61.1.0/24"
availability_zone = "us-east-1a"
timeouts = { delete = "8s" }

[resources.aws_security_group.nodes]
name = "teardown-${var.env}-nodes"
description = "nodes"
vpc_id = "${aws_vpc.main.id}"
timeouts = { delete = "8s" }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_destroy_names_what_holds_the_network_and_a_rerun_finishes_once_it_is_gone() {
    let moto = Moto::start();
    let aws = Clients::new(&moto.sdk_config().await);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("env")).expect("mkdir env");
    std::fs::write(dir.path().join("stack.toml"), STACK).expect("stack");
    std::fs::write(dir.path().join("env").join("ci.toml"), "env = \"ci\"\n").expect("env");
    let cairn = Cairn::new(&moto, dir.path(), "ci");
    cairn.apply(&[]);

    // Someone else's interface (no cluster tag: cairn must not delete it) in the subnet,
    // in the stack's security group.
    let subnet = only_id(&cairn, "aws_subnet.private");
    let group = only_id(&cairn, "aws_security_group.nodes");
    let eni = aws
        .ec2
        .create_network_interface()
        .subnet_id(&subnet)
        .groups(&group)
        .description("left by a load balancer")
        .send()
        .await
        .expect("CreateNetworkInterface")
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .expect("interface id")
        .to_owned();

    let failed = cairn.expect(1, &["destroy"], &["--auto-approve"]);
    let text = failed.text();
    assert!(text.contains(&eni), "the blocker is named:\n{text}");
    assert!(
        text.contains("left by a load balancer"),
        "with what it is:\n{text}"
    );
    let listed = cairn.expect(0, &["state", "list"], &[]).stdout;
    for kept in ["aws_subnet.private", "aws_vpc.main"] {
        assert!(
            listed.lines().any(|l| l == kept),
            "{kept} is still recorded, it still exists:\n{listed}"
        );
    }
    let interfaces = aws
        .ec2
        .describe_network_interfaces()
        .network_interface_ids(&eni)
        .send()
        .await
        .expect("the interface is still there");
    assert_eq!(interfaces.network_interfaces().len(), 1);

    // The interface goes while the re-run waits for it: the destroy finishes.
    let ec2 = aws.ec2.clone();
    let removal = {
        let eni = eni.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            ec2.delete_network_interface()
                .network_interface_id(eni)
                .send()
                .await
                .expect("DeleteNetworkInterface");
        })
    };
    let rerun = tokio::task::block_in_place(|| cairn.destroy(&[]));
    removal.await.expect("the removal ran");
    assert!(
        rerun.stdout.contains("Destroy complete!"),
        "{}",
        rerun.text()
    );
    assert!(
        cairn
            .expect(0, &["state", "list"], &[])
            .stdout
            .trim()
            .is_empty()
    );
    assert_nothing_left(&aws, "teardown").await;
}

/// The id `cairn state show` records for `address`.
fn only_id(cairn: &Cairn<'_>, address: &str) -> String {
    let shown = cairn.expect(0, &["state", "show", address], &[]).stdout;
    let line = shown
        .lines()
        .find_map(|l| l.trim().strip_prefix("id"))
        .unwrap_or_else(|| panic!("no id in:\n{shown}"));
    line.trim_start_matches([' ', '=', ':'])
        .trim()
        .trim_matches('"')
        .to_owned()
}
