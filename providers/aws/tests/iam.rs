//! IAM roles (managed and inline policies, IRSA trust) and the OIDC provider against
//! the moto server.

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

use cairn_provider_core::{Attrs, Value};
use common::{TestResource, json, sdk_config, string_map, text};
use serde_json::json as j;

async fn iam() -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config().await)
}

fn decoded(document: &str) -> serde_json::Value {
    let text = urlencoding::decode(document).expect("URL-encoded");
    serde_json::from_str(&text).expect("JSON policy")
}

const EKS_TRUST: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{ "Effect": "Allow", "Principal": { "Service": "eks.amazonaws.com" }, "Action": "sts:AssumeRole" }]
}"#;

const CLUSTER_POLICY: &str = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy";
const VPC_POLICY: &str = "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController";

async fn attached(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    iam.list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("list attached")
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn role_create_update_drift_find_delete() {
    let env = "iam_role";
    let sdk = iam().await;
    let role = TestResource::new(env, "aws_iam_role.cluster").await;
    let config = Attrs::new()
        .with("description", "EKS control plane")
        .with("assume_role_policy", EKS_TRUST)
        .with("managed_policy_arns", vec![CLUSTER_POLICY])
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
    let created = role.create(&config).await;
    let name = text(&created, "id");
    assert_eq!(name, format!("test-{env}-cluster"));
    assert!(text(&created, "arn").ends_with(&format!(":role/{name}")));
    assert!(created.get("unique_id").is_some());
    // The JSON string and the table come back exactly as written: no false drift.
    assert_eq!(
        created.get("assume_role_policy"),
        config.get("assume_role_policy")
    );
    assert_eq!(created.get("inline_policy"), config.get("inline_policy"));
    assert_eq!(
        created.get("managed_policy_arns"),
        config.get("managed_policy_arns")
    );
    assert_eq!(created.get("tags"), config.get("tags"));
    assert_eq!(created.get("max_session_duration"), Some(&Value::Int(3600)));

    let real = sdk
        .get_role()
        .role_name(&name)
        .send()
        .await
        .expect("get role");
    let real = real.role().expect("role");
    let trust = decoded(real.assume_role_policy_document().expect("trust"));
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "eks.amazonaws.com"
    );
    let tags: BTreeMap<&str, &str> = real.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags.get("cairn:address"), Some(&"aws_iam_role.cluster"));
    assert_eq!(tags.get("team"), Some(&"data"));
    assert_eq!(attached(&sdk, &name).await, vec![CLUSTER_POLICY.to_owned()]);

    // Update in place: a second managed policy, a new inline document, a tag, a
    // description and a longer session.
    let desired = config
        .clone()
        .with("description", "EKS control plane (prod)")
        .with("max_session_duration", 7200)
        .with("managed_policy_arns", vec![CLUSTER_POLICY, VPC_POLICY])
        .with(
            "inline_policy",
            json(j!([{
                "name": "logs",
                "policy": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents","logs:CreateLogStream"],"Resource":"*"}]}"#
            }])),
        )
        .with("tags", string_map(&[("team", "data"), ("env", "prod")]));
    let updated = role.update(&created, &desired).await;
    assert_eq!(
        text(&updated, "unique_id"),
        text(&created, "unique_id"),
        "same role"
    );
    for attribute in [
        "description",
        "max_session_duration",
        "managed_policy_arns",
        "inline_policy",
        "tags",
    ] {
        assert_eq!(
            updated.get(attribute),
            desired.get(attribute),
            "{attribute}"
        );
    }
    let mut policies = attached(&sdk, &name).await;
    policies.sort();
    assert_eq!(
        policies,
        vec![CLUSTER_POLICY.to_owned(), VPC_POLICY.to_owned()]
    );
    let inline = sdk
        .get_role_policy()
        .role_name(&name)
        .policy_name("logs")
        .send()
        .await
        .expect("inline policy");
    let document = decoded(inline.policy_document());
    assert_eq!(
        document["Statement"][0]["Action"][1],
        "logs:CreateLogStream"
    );
    let real = sdk
        .get_role()
        .role_name(&name)
        .send()
        .await
        .expect("get role");
    assert_eq!(
        real.role().and_then(|r| r.max_session_duration()),
        Some(7200)
    );

    // Drift made with the SDK shows in read: a policy detached, a tag removed.
    sdk.detach_role_policy()
        .role_name(&name)
        .policy_arn(VPC_POLICY)
        .send()
        .await
        .expect("detach outside cairn");
    sdk.untag_role()
        .role_name(&name)
        .tag_keys("env")
        .send()
        .await
        .expect("untag outside cairn");
    let read = role.read(&updated).await.expect("exists");
    assert_eq!(
        read.get("managed_policy_arns"),
        Some(&Value::from(vec![CLUSTER_POLICY]))
    );
    assert_eq!(read.get("tags"), Some(&string_map(&[("team", "data")])));
    assert_eq!(
        read.get("inline_policy"),
        desired.get("inline_policy"),
        "no false drift"
    );

    // Adopted by its deterministic name and tags.
    let found = role.find(&desired).await.expect("found");
    assert_eq!(text(&found, "unique_id"), text(&created, "unique_id"));
    let imported = role.import(&name).await;
    assert_eq!(text(&imported, "arn"), text(&created, "arn"));

    role.delete(&read).await;
    assert!(role.read(&read).await.is_none());
    assert!(sdk.get_role().role_name(&name).send().await.is_err());
    role.delete(&read).await;
}

#[tokio::test]
async fn irsa_role_trusts_only_its_service_accounts() {
    let env = "iam_irsa";
    let sdk = iam().await;
    let issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/IRSATEST0001";

    let provider = TestResource::new(env, "aws_iam_openid_connect_provider.cluster").await;
    let provider_config = Attrs::new().with("url", issuer).with(
        "thumbprint_list",
        vec!["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    );
    let provider_state = provider.create(&provider_config).await;
    let provider_arn = text(&provider_state, "arn");
    assert_eq!(
        text(&provider_state, "url"),
        issuer,
        "URL reads back as written"
    );
    assert_eq!(
        provider_state.get("client_id_list"),
        Some(&Value::from(vec!["sts.amazonaws.com"]))
    );

    let role = TestResource::new(env, "aws_iam_role.worker").await;
    let irsa = json(j!({
        "oidc_provider_arn": provider_arn,
        "oidc_issuer_url": issuer,
        "service_accounts": ["airflow:airflow-worker"],
    }));
    let config = Attrs::new().with("irsa", irsa.clone()).with(
        "managed_policy_arns",
        vec!["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
    );
    let state = role.create(&config).await;
    assert_eq!(state.get("irsa"), Some(&irsa));
    assert_eq!(
        state.get("assume_role_policy"),
        None,
        "the rendered policy matches irsa"
    );
    let name = text(&state, "id");
    let real = sdk
        .get_role()
        .role_name(&name)
        .send()
        .await
        .expect("get role");
    let trust = decoded(
        real.role()
            .and_then(|r| r.assume_role_policy_document())
            .expect("trust"),
    );
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Principal"]["Federated"], provider_arn.as_str());
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    let host = issuer.trim_start_matches("https://");
    assert_eq!(
        statement["Condition"]["StringEquals"][format!("{host}:sub")],
        "system:serviceaccount:airflow:airflow-worker"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"][format!("{host}:aud")],
        "sts.amazonaws.com"
    );

    // A second service account: the trust policy is rewritten in place.
    let wider = json(j!({
        "oidc_provider_arn": provider_arn,
        "service_accounts": ["airflow:airflow-worker", "airflow:airflow-scheduler"],
    }));
    let desired = config.clone().with("irsa", wider.clone());
    let state = role.update(&state, &desired).await;
    assert_eq!(state.get("irsa"), Some(&wider));
    assert_eq!(state.get("assume_role_policy"), None);
    let real = sdk
        .get_role()
        .role_name(&name)
        .send()
        .await
        .expect("get role");
    let trust = decoded(
        real.role()
            .and_then(|r| r.assume_role_policy_document())
            .expect("trust"),
    );
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"][format!("{host}:sub")],
        j!([
            "system:serviceaccount:airflow:airflow-worker",
            "system:serviceaccount:airflow:airflow-scheduler"
        ])
    );

    // Drift: the trust policy replaced outside cairn shows as assume_role_policy.
    sdk.update_assume_role_policy()
        .role_name(&name)
        .policy_document(EKS_TRUST)
        .send()
        .await
        .expect("rewrite trust outside cairn");
    let read = role.read(&state).await.expect("exists");
    assert_eq!(read.get("irsa"), Some(&wider));
    let drifted = read.get("assume_role_policy").expect("drift visible");
    assert_eq!(
        drifted
            .get("Statement")
            .and_then(|s| s.as_list().map(<[Value]>::len)),
        Some(1)
    );

    // OIDC provider: thumbprints and tags update in place; adopted by its URL.
    let provider_desired = provider_config
        .clone()
        .with(
            "thumbprint_list",
            vec!["06b25927c42a721631c1efd9431e648fa62e1e39"],
        )
        .with("tags", string_map(&[("cluster", "main")]));
    let provider_state = provider.update(&provider_state, &provider_desired).await;
    assert_eq!(
        provider_state.get("thumbprint_list"),
        provider_desired.get("thumbprint_list")
    );
    assert_eq!(provider_state.get("tags"), provider_desired.get("tags"));
    let real = sdk
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider_arn)
        .send()
        .await
        .expect("get provider");
    assert_eq!(
        real.thumbprint_list(),
        ["06b25927c42a721631c1efd9431e648fa62e1e39"]
    );
    assert!(
        real.tags()
            .iter()
            .any(|t| t.key() == "cluster" && t.value() == "main")
    );
    let found = provider
        .find(&provider_desired)
        .await
        .expect("found by URL");
    assert_eq!(text(&found, "arn"), provider_arn);

    role.delete(&read).await;
    assert!(role.read(&read).await.is_none());
    provider.delete(&provider_state).await;
    assert!(provider.read(&provider_state).await.is_none());
    assert!(provider.find(&provider_desired).await.is_none());
    provider.delete(&provider_state).await;
}
