//! KMS against the moto server: a key with rotation, a policy and tags, created, read
//! back without false changes, updated, drifted, adopted after a lost answer, imported
//! and scheduled for deletion; an alias created, retargeted and deleted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use cairn_provider_core::{Attrs, Value};
use common::{TestResource, changes, sdk_config, string_map, text};

fn policy(account_actions: &str) -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Sid": "Admin",
      "Effect": "Allow",
      "Principal": {{"AWS": "arn:aws:iam::123456789012:root"}},
      "Action": "{account_actions}",
      "Resource": "*"
    }}
  ]
}}"#
    )
}

async fn key_state(kms: &aws_sdk_kms::Client, id: &str) -> String {
    kms.describe_key()
        .key_id(id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata()
        .and_then(|k| k.key_state())
        .map(|s| s.as_str().to_owned())
        .expect("key state")
}

#[tokio::test]
async fn key_lifecycle() {
    let env = "kms_key";
    let kms = aws_sdk_kms::Client::new(&sdk_config().await);
    let key = TestResource::new(env, "aws_kms_key.main").await;
    let config = Attrs::new()
        .with("description", "airflow secrets and storage")
        .with("key_usage", "ENCRYPT_DECRYPT")
        .with("enable_key_rotation", true)
        .with("deletion_window_in_days", Value::Int(7))
        .with("policy", policy("kms:*"))
        .with("tags", string_map(&[("team", "data")]));
    let created = key.create(&config).await;
    let id = text(&created, "key_id");
    assert_eq!(text(&created, "id"), id);
    assert!(text(&created, "arn").ends_with(&format!(":key/{id}")));

    // Checked through the SDK, not through what cairn reported.
    let real = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("metadata");
    assert_eq!(real.description(), Some("airflow secrets and storage"));
    assert_eq!(
        real.key_usage().map(|u| u.as_str()),
        Some("ENCRYPT_DECRYPT")
    );
    assert_eq!(real.key_state().map(|s| s.as_str()), Some("Enabled"));
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(rotation.key_rotation_enabled());
    let tags = kms
        .list_resource_tags()
        .key_id(&id)
        .send()
        .await
        .expect("ListResourceTags");
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.tag_key() == k)
            .map(|t| t.tag_value().to_owned())
    };
    assert_eq!(tag("team").as_deref(), Some("data"));
    assert_eq!(tag("cairn:address").as_deref(), Some("aws_kms_key.main"));

    // apply -> plan: nothing to change, however KMS spells the policy.
    let read = key.refresh(&created).await.expect("exists");
    assert_eq!(changes("aws_kms_key", &config, &read), Vec::<String>::new());
    assert_eq!(
        read.get("key_spec"),
        Some(&Value::from("SYMMETRIC_DEFAULT"))
    );

    // In place: description, rotation, policy, tags.
    let desired = config
        .clone()
        .with("description", "airflow (prod)")
        .with("enable_key_rotation", false)
        .with("policy", policy("kms:Describe*"))
        .with("tags", string_map(&[("team", "platform")]));
    let updated = key
        .update_changed(
            &read,
            &desired,
            &["description", "enable_key_rotation", "policy", "tags"],
        )
        .await;
    assert_eq!(
        changes("aws_kms_key", &desired, &updated),
        Vec::<String>::new()
    );
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(!rotation.key_rotation_enabled());
    let real_policy = kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .expect("GetKeyPolicy");
    assert!(
        real_policy
            .policy()
            .is_some_and(|p| p.contains("kms:Describe*")),
        "{real_policy:?}"
    );

    // Drift made outside cairn shows in the next read.
    kms.update_key_description()
        .key_id(&id)
        .description("changed by hand")
        .send()
        .await
        .expect("UpdateKeyDescription");
    let drifted = key.refresh(&updated).await.expect("exists");
    let drift = changes("aws_kms_key", &desired, &drifted);
    assert!(
        drift.len() == 1 && drift[0].starts_with("description"),
        "{drift:?}"
    );

    // After a lost answer the key is found by its tags; another stack's never is.
    let found = key.find(&desired).await.expect("found by tags");
    assert_eq!(text(&found, "key_id"), id);
    let stranger = TestResource::new("kms_someone_else", "aws_kms_key.main").await;
    assert!(stranger.find(&desired).await.is_none());

    // Import by id.
    let imported = key.import(&id).await;
    assert_eq!(text(&imported, "arn"), text(&created, "arn"));

    // Destroy schedules the deletion; the key is gone for cairn, and again is a no-op.
    key.delete(&drifted).await;
    assert_eq!(key_state(&kms, &id).await, "PendingDeletion");
    assert!(key.read(&drifted).await.is_none());
    assert!(
        key.find(&desired).await.is_none(),
        "a key pending deletion is not adopted"
    );
    key.delete(&drifted).await;
}

#[tokio::test]
async fn alias_points_at_a_key_and_is_retargeted() {
    let env = "kms_alias";
    let kms = aws_sdk_kms::Client::new(&sdk_config().await);
    let first = TestResource::new(env, "aws_kms_key.first").await;
    let second = TestResource::new(env, "aws_kms_key.second").await;
    let key_config = Attrs::new().with("deletion_window_in_days", Value::Int(7));
    let first_key = first.create(&key_config).await;
    let second_key = second.create(&key_config).await;

    let alias = TestResource::new(env, "aws_kms_alias.main").await;
    // Given as the key's ARN (as `${aws_kms_key.first.arn}` would): reported as given.
    let config = Attrs::new()
        .with("name", "alias/cairn-kms-alias")
        .with("target_key_id", text(&first_key, "arn"));
    let created = alias.create(&config).await;
    assert_eq!(
        changes("aws_kms_alias", &config, &created),
        Vec::<String>::new()
    );
    assert_eq!(text(&created, "target_key_arn"), text(&first_key, "arn"));
    let real = kms
        .describe_key()
        .key_id("alias/cairn-kms-alias")
        .send()
        .await
        .expect("DescribeKey by alias");
    assert_eq!(
        real.key_metadata().map(|k| k.key_id().to_owned()),
        Some(text(&first_key, "key_id"))
    );

    let found = alias.find(&config).await.expect("found by name and key");
    assert_eq!(text(&found, "name"), "alias/cairn-kms-alias");
    let other = config
        .clone()
        .with("target_key_id", text(&second_key, "key_id"));
    assert!(
        alias.find(&other).await.is_none(),
        "an alias of this name pointing elsewhere is not ours"
    );

    // Retargeted in place, given by id this time.
    let updated = alias.update(&created, &other).await;
    assert_eq!(
        changes("aws_kms_alias", &other, &updated),
        Vec::<String>::new()
    );
    let real = kms
        .describe_key()
        .key_id("alias/cairn-kms-alias")
        .send()
        .await
        .expect("DescribeKey by alias");
    assert_eq!(
        real.key_metadata().map(|k| k.key_id().to_owned()),
        Some(text(&second_key, "key_id"))
    );

    alias.delete(&updated).await;
    assert!(alias.read(&updated).await.is_none());
    alias.delete(&updated).await;
    first.delete(&first_key).await;
    second.delete(&second_key).await;
}
