//! EC2 networking resource types against the moto server.

mod common;

use common::{aws_client, moto, sdk_config};

#[tokio::test]
async fn harness_reaches_moto_through_the_standard_endpoint() {
    let server = moto();
    assert!(server.endpoint.starts_with("http://127.0.0.1:"), "{}", server.endpoint);
    let _client = aws_client("harness_smoke").await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config().await);
    let vpcs = ec2.describe_vpcs().send().await.expect("moto answers DescribeVpcs");
    assert!(
        vpcs.vpcs().iter().any(|v| v.is_default() == Some(true)),
        "moto's default VPC is visible"
    );
}
