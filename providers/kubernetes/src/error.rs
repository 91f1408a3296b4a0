//! Turning kube-rs errors into [`ProviderError`]s that quote the API server.
//!
//! Owns the wording of failed calls: the API server's own `Status` message and code, a
//! field-manager conflict spelled out with the managers and fields involved and the way
//! out (`force_conflicts = true`). Request bodies never reach an error message: kube-rs
//! errors carry the server's reply, never what was sent.

use base64::Engine;
use cairn_provider_core::{ProviderError, Value};
use kube::core::Status;

/// The `reason` of a `StatusCause` the API server gives for each conflicting field.
const FIELD_MANAGER_CONFLICT: &str = "FieldManagerConflict";

/// Maps an error of the kube-rs call named `operation` (e.g. `kubernetes:apply`).
pub(crate) fn from_kube(operation: &str, error: kube::Error) -> ProviderError {
    match error {
        kube::Error::Api(status) => from_status(operation, &status),
        other => ProviderError::api(operation, None, other.to_string()),
    }
}

/// `error` with every secret of `manifest` (and its base64 form) replaced by
/// `(sensitive)`: an API server quotes rejected values in its messages
/// (`Invalid value: "..."`), and a rejected value may be a secret.
pub(crate) fn without_secrets(error: ProviderError, manifest: &Value) -> ProviderError {
    let mut secrets = Vec::new();
    collect_secrets(manifest, false, &mut secrets);
    if secrets.is_empty() {
        return error;
    }
    let encoded: Vec<String> = secrets
        .iter()
        .map(|s| base64::engine::general_purpose::STANDARD.encode(s))
        .collect();
    secrets.extend(encoded);
    // Longest first, so a secret that contains another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let scrub = |text: String| {
        secrets.iter().fold(text, |text, secret| {
            text.replace(secret.as_str(), "(sensitive)")
        })
    };
    match error {
        ProviderError::Api {
            operation,
            code,
            message,
        } => ProviderError::Api {
            operation,
            code,
            message: scrub(message),
        },
        ProviderError::Other(message) => ProviderError::Other(scrub(message)),
        other => other,
    }
}

fn collect_secrets(value: &Value, inside_secret: bool, out: &mut Vec<String>) {
    match value {
        Value::Sensitive(inner) => collect_secrets(inner, true, out),
        Value::String(s) if inside_secret && !s.is_empty() => out.push(s.clone()),
        Value::Int(i) if inside_secret => out.push(i.to_string()),
        Value::List(items) => items
            .iter()
            .for_each(|v| collect_secrets(v, inside_secret, out)),
        Value::Map(map) => map
            .values()
            .for_each(|v| collect_secrets(v, inside_secret, out)),
        _ => {}
    }
}

/// True for a 404 from the API server.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found())
}

fn from_status(operation: &str, status: &Status) -> ProviderError {
    let code = Some(if status.reason.is_empty() {
        status.code.to_string()
    } else {
        format!("{} {}", status.code, status.reason)
    });
    if status.is_conflict()
        && let Some(message) = conflict_message(status)
    {
        return ProviderError::api(operation, code, message);
    }
    ProviderError::api(operation, code, status.message.clone())
}

/// For a server-side apply conflict: which managers own which fields, and what to do.
fn conflict_message(status: &Status) -> Option<String> {
    let causes: Vec<_> = status
        .details
        .iter()
        .flat_map(|details| &details.causes)
        .filter(|cause| cause.reason == FIELD_MANAGER_CONFLICT)
        .collect();
    if causes.is_empty() {
        return None;
    }
    // Cause messages read `conflict with "manager"` or `conflict with "manager" using apps/v1`.
    let mut owners: Vec<(String, Vec<&str>)> = Vec::new();
    for cause in &causes {
        let manager = cause
            .message
            .split('"')
            .nth(1)
            .unwrap_or(cause.message.as_str())
            .to_owned();
        match owners.iter_mut().find(|(name, _)| *name == manager) {
            Some((_, fields)) => fields.push(&cause.field),
            None => owners.push((manager, vec![&cause.field])),
        }
    }
    let owned = owners
        .iter()
        .map(|(manager, fields)| format!("field manager \"{manager}\" owns {}", fields.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!(
        "{} ({owned}); set force_conflicts = true on this resource to take these fields over",
        status.message
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conflict_names_managers_fields_and_the_way_out() {
        let status: Status = serde_json::from_value(json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 409, "reason": "Conflict",
            "message": "Apply failed with 2 conflicts: conflicts with \"helm\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image",
            "details": {"causes": [
                {"reason": "FieldManagerConflict", "message": "conflict with \"helm\" using apps/v1", "field": ".spec.replicas"},
                {"reason": "FieldManagerConflict", "message": "conflict with \"helm\" using apps/v1", "field": ".spec.template.spec.containers[name=\"web\"].image"}
            ]}
        }))
        .expect("a Status");
        let error = from_kube("kubernetes:apply", kube::Error::Api(Box::new(status))).to_string();
        assert!(
            error.starts_with("kubernetes:apply: 409 Conflict: Apply failed with 2 conflicts"),
            "{error}"
        );
        assert!(
            error.contains("field manager \"helm\" owns .spec.replicas, .spec.template"),
            "{error}"
        );
        assert!(error.contains("force_conflicts = true"), "{error}");
    }

    #[test]
    fn rejected_secrets_are_not_quoted_back() {
        let manifest = Value::Map(std::collections::BTreeMap::from([
            ("kind".to_owned(), Value::from("ConfigMap")),
            (
                "data".to_owned(),
                Value::Map(std::collections::BTreeMap::from([
                    (
                        "url".to_owned(),
                        Value::from("postgres://airflow:hunter2@db").sensitive(),
                    ),
                    ("pw".to_owned(), Value::from("hunter2").sensitive()),
                ])),
            ),
        ]));
        let error = ProviderError::api(
            "kubernetes:apply",
            Some("422 Invalid".to_owned()),
            "data[url]: Invalid value: \"postgres://airflow:hunter2@db\"; data[b64]: \"aHVudGVyMg==\"; kind ConfigMap",
        );
        let message = without_secrets(error, &manifest).to_string();
        assert_eq!(
            message,
            "kubernetes:apply: 422 Invalid: data[url]: Invalid value: \"(sensitive)\"; data[b64]: \"(sensitive)\"; kind ConfigMap"
        );
    }

    #[test]
    fn other_errors_quote_the_server() {
        let status: Status = serde_json::from_value(json!({
            "status": "Failure", "code": 422, "reason": "Invalid",
            "message": "Deployment.apps \"bad\" is invalid: spec.selector: Required value",
        }))
        .expect("a Status");
        let error = from_kube("kubernetes:apply", kube::Error::Api(Box::new(status)));
        assert_eq!(
            error.to_string(),
            "kubernetes:apply: 422 Invalid: Deployment.apps \"bad\" is invalid: spec.selector: Required value"
        );
        let not_found: Status = serde_json::from_value(
            json!({"status": "Failure", "code": 404, "reason": "NotFound", "message": "x"}),
        )
        .expect("a Status");
        assert!(is_not_found(&kube::Error::Api(Box::new(not_found))));
    }
}
