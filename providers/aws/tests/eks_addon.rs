//! `aws_eks_addon` against the moto server, which has no EKS add-on API (moto 5.2.1
//! answers every add-on call with HTTP 404 and no error code). The type's behaviour is
//! covered by scripted EKS answers in `src/eks/addon.rs`; this test pins down what moto
//! does, so that the day it implements add-ons the gap shows and a lifecycle test can
//! replace it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use cairn_provider_core::{Attrs, ProviderError};
use common::TestResource;

#[tokio::test]
async fn moto_has_no_addon_api_and_the_error_names_the_call() {
    let addon = TestResource::new("eks_addon_moto", "aws_eks_addon.vpc_cni").await;
    let config = Attrs::new()
        .with("cluster_name", "cairn-eks-addon")
        .with("addon_name", "vpc-cni");
    let error = addon.try_create(&config).await.expect_err("moto lacks it");
    assert!(
        error.to_string().starts_with("eks:CreateAddon: "),
        "{error}"
    );
    assert!(
        !matches!(error, ProviderError::Api { code: Some(_), .. }),
        "moto now answers add-on calls with a code: write the lifecycle test ({error})"
    );
}
