//! Secrets Manager against the moto server: a generated Fernet key, a given value
//! updated in place, and a name re-created while scheduled for deletion.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use cairn_provider_core::{Attrs, Value};
use common::{TestResource, sdk_config};

const TIMEOUT: Duration = Duration::from_secs(60);

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// The secret value in attributes, exposed for comparison.
fn value_of(attrs: &Attrs) -> String {
    let value = attrs.get("value").expect("value reported");
    assert!(value.is_sensitive(), "the value is reported sensitive");
    attrs.str("value").expect("a string value")
}

async fn current_value(secrets: &aws_sdk_secretsmanager::Client, id: &str) -> String {
    secrets
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .expect("GetSecretValue")
        .secret_string()
        .expect("string value")
        .to_owned()
}

#[tokio::test]
async fn generated_fernet_key_is_made_once() {
    let env = "secrets_fernet";
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let secret = TestResource::new(env, "aws_secretsmanager_secret.fernet_key")
        .await
        .with_timeout(TIMEOUT);
    let config = Attrs::new()
        .with("name", "cairn/secrets-fernet/fernet-key")
        .with("generate", map(&[("kind", Value::from("fernet"))]))
        .with("recovery_window_in_days", Value::Int(0));
    let created = secret.create(&config).await;
    let key = value_of(&created);
    assert_eq!(
        URL_SAFE.decode(&key).map(|b| b.len()).ok(),
        Some(32),
        "a Fernet key is 32 bytes"
    );
    let arn = created.str("arn").expect("arn");
    assert_eq!(current_value(&secrets, &arn).await, key);

    // Later reads return the same value; an unrelated update does not regenerate it.
    let again = secret.read(&created).await.expect("exists");
    assert_eq!(value_of(&again), key);
    let recorded = created
        .clone()
        .with("value", Value::SensitiveHash("recorded".to_owned()));
    let desired = recorded
        .clone()
        .with("tags", map(&[("purpose", Value::from("airflow"))]));
    let updated = secret.update_changed(&recorded, &desired, &["tags"]).await;
    assert_eq!(value_of(&updated), key);
    assert_eq!(current_value(&secrets, &arn).await, key);

    secret.delete(&created).await;
    let gone = secrets
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect_err("force-deleted");
    assert_eq!(
        gone.as_service_error()
            .map(|e| e.is_resource_not_found_exception()),
        Some(true)
    );
    assert!(secret.read(&created).await.is_none());
    secret.delete(&created).await;
}

#[tokio::test]
async fn given_value_is_updated_in_place() {
    let env = "secrets_given";
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let secret = TestResource::new(env, "aws_secretsmanager_secret.metadata_db_url")
        .await
        .with_timeout(TIMEOUT);
    let url = |password: &str| {
        Value::from(format!(
            "postgresql://airflow:{password}@db.internal:5432/airflow"
        ))
        .sensitive()
    };
    let config = Attrs::new()
        .with("name", "cairn/secrets-given/db-url")
        .with("description", "Airflow metadata DB")
        .with("value", url("first"))
        .with("tags", map(&[("team", Value::from("data"))]));
    let created = secret.create(&config).await;
    let arn = created.str("arn").expect("arn");
    assert_eq!(
        current_value(&secrets, &arn).await,
        "postgresql://airflow:first@db.internal:5432/airflow"
    );
    let real = secrets
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(real.description(), Some("Airflow metadata DB"));
    assert!(
        real.tags().iter().any(|t| t.key() == Some("cairn:address")
            && t.value() == Some(secret.identity.address.as_str()))
    );
    assert!(
        real.tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("data"))
    );

    let desired = config
        .clone()
        .with("value", url("second"))
        .with("description", "Airflow metadata database URL")
        .with("tags", map(&[("team", Value::from("platform"))]));
    let updated = secret
        .update_changed(&created, &desired, &["value", "description", "tags"])
        .await;
    assert_eq!(
        current_value(&secrets, &arn).await,
        "postgresql://airflow:second@db.internal:5432/airflow"
    );
    assert_eq!(
        value_of(&updated),
        "postgresql://airflow:second@db.internal:5432/airflow"
    );
    assert_ne!(
        updated.get("version_id"),
        created.get("version_id"),
        "a new version holds the new value"
    );
    let real = secrets
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(real.description(), Some("Airflow metadata database URL"));
    assert!(
        real.tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("platform"))
    );
    assert_eq!(updated.get("tags"), desired.get("tags"));

    let forced = updated
        .clone()
        .with("recovery_window_in_days", Value::Int(0));
    secret.delete(&forced).await;
    assert!(
        secrets
            .describe_secret()
            .secret_id(&arn)
            .send()
            .await
            .is_err(),
        "deleted"
    );
}

#[tokio::test]
async fn a_name_scheduled_for_deletion_is_restored_on_create() {
    let env = "secrets_recreate";
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let secret = TestResource::new(env, "aws_secretsmanager_secret.admin_password")
        .await
        .with_timeout(TIMEOUT);
    let config = Attrs::new()
        .with("name", "cairn/secrets-recreate/admin")
        .with("value", Value::from("first-password").sensitive())
        .with("recovery_window_in_days", Value::Int(7));
    let first = secret.create(&config).await;
    let arn = first.str("arn").expect("arn");

    // Destroyed with a recovery window: the name stays taken, scheduled for deletion.
    secret.delete(&first).await;
    let scheduled = secrets
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("still listed");
    assert!(scheduled.deleted_date().is_some());
    assert!(secret.read(&first).await.is_none());

    // Created again: the old secret is restored and carries the new value.
    let config = config
        .with("value", Value::from("second-password").sensitive())
        .with("description", "admin");
    let second = secret.create(&config).await;
    let restored = secrets
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("restored");
    assert!(restored.deleted_date().is_none());
    assert_eq!(restored.description(), Some("admin"));
    assert!(
        restored
            .tags()
            .iter()
            .any(|t| t.key() == Some("cairn:env") && t.value() == Some(env))
    );
    assert_eq!(current_value(&secrets, &arn).await, "second-password");
    assert_eq!(value_of(&second), "second-password");

    let forced = second.with("recovery_window_in_days", Value::Int(0));
    secret.delete(&forced).await;
    assert!(
        secrets
            .describe_secret()
            .secret_id(&arn)
            .send()
            .await
            .is_err(),
        "deleted"
    );
}
