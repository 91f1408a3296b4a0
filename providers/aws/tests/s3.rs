//! `aws_s3_bucket` against the moto server: a versioned, KMS-encrypted, private bucket
//! with expiration rules, read back without false changes, updated, drifted, adopted by
//! its tags (never another's bucket of the same name), and a destroy that refuses a
//! bucket holding objects unless `force_destroy` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use aws_sdk_s3::primitives::ByteStream;
use cairn_provider_core::{Attrs, DeleteRequest, Progress, Value};
use common::{TestResource, changes, json, sdk_config, string_map, text};

/// The client tests check with: path-style, as cairn's own is against an emulator.
async fn s3() -> aws_sdk_s3::Client {
    let sdk = sdk_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

fn private() -> Value {
    json(serde_json::json!({
        "block_public_acls": true,
        "block_public_policy": true,
        "ignore_public_acls": true,
        "restrict_public_buckets": true,
    }))
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"log line"))
        .send()
        .await
        .expect("PutObject");
}

/// The versioning status. moto 5.2 names the answer's root element
/// `GetBucketVersioningResponse`, which the SDK refuses: its `Status` is then read from
/// the raw answer.
async fn versioning(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(out) => out.status().map(|s| s.as_str().to_owned()),
        Err(err) => {
            let raw = err.raw_response().expect("an answer");
            assert_eq!(raw.status().as_u16(), 200, "{err:?}");
            let body = String::from_utf8_lossy(raw.body().bytes().expect("a body")).into_owned();
            let start = body.find("<Status>")? + "<Status>".len();
            let end = start + body[start..].find("</Status>")?;
            Some(body[start..end].to_owned())
        }
    }
}

async fn exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

#[tokio::test]
async fn logs_bucket_lifecycle() {
    let env = "s3_lifecycle";
    let s3 = s3().await;
    let key = TestResource::new(env, "aws_kms_key.logs").await;
    let key_attrs = key
        .create(&Attrs::new().with("deletion_window_in_days", Value::Int(7)))
        .await;
    let key_id = text(&key_attrs, "key_id");

    let bucket = TestResource::new(env, "aws_s3_bucket.logs").await;
    let name = "cairn-s3-lifecycle-logs";
    let config = Attrs::new()
        .with("bucket", name)
        .with("versioning", true)
        .with(
            "server_side_encryption",
            json(serde_json::json!({
                "sse_algorithm": "aws:kms",
                "kms_master_key_id": key_id,
                "bucket_key_enabled": true,
            })),
        )
        .with("public_access_block", private())
        .with("object_ownership", "BucketOwnerEnforced")
        .with(
            "lifecycle_expiration",
            json(serde_json::json!([
                {"id": "task-logs", "prefix": "logs/", "days": 30, "noncurrent_days": 7},
                {"id": "everything", "days": 365},
            ])),
        )
        .with("tags", string_map(&[("team", "data")]));
    let created = bucket.create(&config).await;
    assert_eq!(text(&created, "id"), name);
    assert_eq!(text(&created, "arn"), format!("arn:aws:s3:::{name}"));
    assert_eq!(text(&created, "region"), "us-east-1");

    // Checked through the SDK.
    assert_eq!(versioning(&s3, name).await.as_deref(), Some("Enabled"));
    let encryption = s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .expect("GetBucketEncryption");
    let rule = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .expect("a rule");
    let default = rule
        .apply_server_side_encryption_by_default()
        .expect("default encryption");
    assert_eq!(default.sse_algorithm().as_str(), "aws:kms");
    assert!(
        default
            .kms_master_key_id()
            .is_some_and(|k| k.ends_with(&key_id))
    );
    let block = s3
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
        .expect("GetPublicAccessBlock");
    let block = block
        .public_access_block_configuration()
        .expect("configuration");
    assert_eq!(
        (
            block.block_public_acls(),
            block.block_public_policy(),
            block.ignore_public_acls(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let ownership = s3
        .get_bucket_ownership_controls()
        .bucket(name)
        .send()
        .await
        .expect("GetBucketOwnershipControls");
    assert_eq!(
        ownership
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str()),
        Some("BucketOwnerEnforced")
    );
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await
        .expect("GetBucketLifecycleConfiguration");
    let days: Vec<(Option<&str>, Option<i32>)> = lifecycle
        .rules()
        .iter()
        .map(|r| (r.id(), r.expiration().and_then(|e| e.days())))
        .collect();
    assert_eq!(
        days,
        [
            (Some("task-logs"), Some(30)),
            (Some("everything"), Some(365))
        ]
    );
    let tags = s3
        .get_bucket_tagging()
        .bucket(name)
        .send()
        .await
        .expect("GetBucketTagging");
    let tag = |k: &str| {
        tags.tag_set()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_owned())
    };
    assert_eq!(tag("team").as_deref(), Some("data"));
    assert_eq!(tag("cairn:env").as_deref(), Some(env));

    // apply -> plan: no changes.
    let read = bucket.refresh(&created).await.expect("exists");
    assert_eq!(
        changes("aws_s3_bucket", &config, &read),
        Vec::<String>::new()
    );

    // In place: rules, tags, SSE-S3 instead of KMS, versioning suspended.
    let desired = config
        .clone()
        .with("versioning", false)
        .with(
            "server_side_encryption",
            json(serde_json::json!({"sse_algorithm": "AES256"})),
        )
        .with(
            "lifecycle_expiration",
            json(serde_json::json!([{"id": "task-logs", "prefix": "logs/", "days": 14}])),
        )
        .with("tags", string_map(&[("team", "platform")]));
    let updated = bucket
        .update_changed(
            &read,
            &desired,
            &[
                "versioning",
                "server_side_encryption",
                "lifecycle_expiration",
                "tags",
            ],
        )
        .await;
    assert_eq!(
        changes("aws_s3_bucket", &desired, &updated),
        Vec::<String>::new()
    );
    assert_eq!(versioning(&s3, name).await.as_deref(), Some("Suspended"));
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await
        .expect("GetBucketLifecycleConfiguration");
    assert_eq!(lifecycle.rules().len(), 1);

    // Drift made outside cairn: public access opened by hand.
    s3.delete_public_access_block()
        .bucket(name)
        .send()
        .await
        .expect("DeletePublicAccessBlock");
    let drifted = bucket.refresh(&updated).await.expect("exists");
    let drift = changes("aws_s3_bucket", &desired, &drifted);
    assert!(
        drift.len() == 1 && drift[0].starts_with("public_access_block"),
        "{drift:?}"
    );
    let repaired = bucket
        .update_changed(&drifted, &desired, &["public_access_block"])
        .await;
    assert_eq!(
        changes("aws_s3_bucket", &desired, &repaired),
        Vec::<String>::new()
    );

    // Found by its tags after a lost answer; another resource's find does not adopt it.
    let found = bucket.find(&desired).await.expect("found");
    assert_eq!(text(&found, "bucket"), name);
    let stranger = TestResource::new("s3_someone_else", "aws_s3_bucket.logs").await;
    assert!(stranger.find(&desired).await.is_none());
    let imported = bucket.import(name).await;
    assert_eq!(text(&imported, "arn"), text(&created, "arn"));

    // Not empty and force_destroy unset: refused, with what blocks it; nothing deleted.
    // Versioned again first, so the bucket holds old versions and a delete marker.
    let desired = desired.with("versioning", true);
    let repaired = bucket
        .update_changed(&repaired, &desired, &["versioning"])
        .await;
    put(&s3, name, "logs/dag/run/1.log").await;
    put(&s3, name, "logs/dag/run/1.log").await;
    s3.delete_object()
        .bucket(name)
        .key("logs/dag/run/1.log")
        .send()
        .await
        .expect("DeleteObject");
    let refused = bucket
        .client
        .delete(DeleteRequest {
            type_name: "aws_s3_bucket",
            identity: &bucket.identity,
            state: &repaired,
            timeout: bucket.timeout,
            progress: Progress::noop(),
        })
        .await
        .expect_err("a bucket holding objects is not destroyed")
        .to_string();
    assert!(refused.contains("is not empty"), "{refused}");
    assert!(refused.contains("force_destroy"), "{refused}");
    assert!(
        refused.contains("2 object versions and 1 delete marker"),
        "{refused}"
    );
    assert!(exists(&s3, name).await);

    // force_destroy recorded by an apply: every version and delete marker goes first.
    let forced = desired.clone().with("force_destroy", true);
    let recorded = bucket
        .update_changed(&repaired, &forced, &["force_destroy"])
        .await;
    assert_eq!(recorded.get("force_destroy"), Some(&Value::Bool(true)));
    bucket.delete(&recorded).await;
    assert!(!exists(&s3, name).await);
    assert!(bucket.read(&recorded).await.is_none());
    bucket.delete(&recorded).await;
    key.delete(&key_attrs).await;
}

#[tokio::test]
async fn a_name_already_taken_in_the_account_is_not_taken_over() {
    let env = "s3_taken";
    let s3 = s3().await;
    let name = "cairn-s3-taken-by-hand";
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("CreateBucket by hand");
    put(&s3, name, "precious.csv").await;

    let bucket = TestResource::new(env, "aws_s3_bucket.logs").await;
    let config = Attrs::new().with("bucket", name);
    let error = bucket
        .try_create(&config)
        .await
        .expect_err("not ours")
        .to_string();
    assert!(error.contains("already exists in this account"), "{error}");
    assert!(bucket.find(&config).await.is_none());
    let tags = s3.get_bucket_tagging().bucket(name).send().await;
    assert!(
        tags.map(|t| t.tag_set().is_empty()).unwrap_or(true),
        "left untouched"
    );

    // An empty bucket with force_destroy false is destroyed as usual.
    let empty = TestResource::new(env, "aws_s3_bucket.empty").await;
    let made = empty
        .create(&Attrs::new().with("bucket", "cairn-s3-taken-empty"))
        .await;
    assert_eq!(
        changes(
            "aws_s3_bucket",
            &Attrs::new().with("bucket", "cairn-s3-taken-empty"),
            &empty.refresh(&made).await.expect("exists"),
        ),
        Vec::<String>::new()
    );
    empty.delete(&made).await;
    assert!(!exists(&s3, "cairn-s3-taken-empty").await);
}
