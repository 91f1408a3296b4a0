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

/// What to check when TLS refuses the API server's certificate.
const CERTIFICATE_HINT: &str = "the API server's certificate is not signed by the cluster CA cairn was given: \
     check eks_cluster.certificate_authority (the cluster's certificateAuthority.data) or the \
     kubeconfig's certificate-authority-data";

/// What to check when the API server rejects cairn's credentials (401).
const UNAUTHORIZED_HINT: &str = "the API server did not accept cairn's credentials. For an EKS \
     cluster cairn signs a token like `aws eks get-token` with the AWS identity of its credential \
     chain (`aws sts get-caller-identity` shows which): check that the token is for this cluster's \
     name and region and that this identity has an EKS access entry on the cluster (or a mapping \
     in the aws-auth ConfigMap); with a kubeconfig, check its user's credentials";

/// What to check when the API server refuses an authenticated identity (403).
const FORBIDDEN_HINT: &str = "the identity above was authenticated but is not allowed this \
     call: for EKS, check its access entry's access policies (or its aws-auth group mapping) and \
     the cluster's RBAC";

/// Maps an error of the kube-rs call named `operation` (e.g. `kubernetes:apply`).
///
/// An answer from the API server keeps its status code and message; anything else (the
/// connection, TLS, the auth layer) keeps kube's error as the source, with its root cause
/// in the message: a wrong CA used to surface as a bare `client error (Connect)` (issue 11).
pub(crate) fn from_kube(operation: &str, error: kube::Error) -> ProviderError {
    match error {
        kube::Error::Api(status) => from_status(operation, &status),
        other => match ProviderError::transport(operation, other) {
            ProviderError::Transport {
                operation,
                message,
                source,
            } if message.contains("certificate") => ProviderError::Transport {
                operation,
                message: format!("{message}; {CERTIFICATE_HINT}"),
                source,
            },
            error => error,
        },
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
    let hint = match status.code {
        401 => Some(UNAUTHORIZED_HINT),
        403 => Some(FORBIDDEN_HINT),
        _ => None,
    };
    let message = match hint {
        Some(hint) if status.message.is_empty() => hint.to_owned(),
        Some(hint) => format!("{}; {hint}", status.message),
        None => status.message.clone(),
    };
    ProviderError::api(operation, code, message)
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

    /// Issue 11: a wrong CA surfaced as `client error (Connect)`, the rustls cause lost.
    #[test]
    fn connection_errors_keep_their_cause_and_name_the_certificate_problem() {
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let error = from_kube("kubernetes:discovery", kube::Error::Service(Box::new(tls)));
        let message = error.to_string();
        assert!(
            message.starts_with("kubernetes:discovery: ")
                && message.contains("invalid peer certificate"),
            "{message}"
        );
        assert!(
            message.contains("eks_cluster.certificate_authority"),
            "{message}"
        );
        assert!(
            std::error::Error::source(&error).is_some(),
            "the cause is kept"
        );

        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = from_kube("kubernetes:get", kube::Error::Service(Box::new(refused)));
        assert!(error.to_string().ends_with("refused"), "{error}");
        assert!(!error.to_string().contains("certificate"), "{error}");
    }

    /// Issue 11: a rejected token said `401 Unauthorized` and nothing about EKS access.
    #[test]
    fn unauthorized_and_forbidden_say_what_to_check() {
        let unauthorized: Status = serde_json::from_value(json!({
            "status": "Failure", "code": 401, "reason": "Unauthorized", "message": "Unauthorized",
        }))
        .expect("a Status");
        let message = from_kube(
            "kubernetes:discovery",
            kube::Error::Api(Box::new(unauthorized)),
        )
        .to_string();
        assert!(
            message.starts_with("kubernetes:discovery: 401 Unauthorized: Unauthorized; "),
            "{message}"
        );
        for expected in [
            "aws sts get-caller-identity",
            "access entry",
            "aws-auth",
            "token",
        ] {
            assert!(message.contains(expected), "{expected} missing: {message}");
        }
        let forbidden: Status = serde_json::from_value(json!({
            "status": "Failure", "code": 403, "reason": "Forbidden",
            "message": "configmaps is forbidden: User \"arn:aws:sts::1:assumed-role/ci/x\" cannot create resource",
        }))
        .expect("a Status");
        let message =
            from_kube("kubernetes:apply", kube::Error::Api(Box::new(forbidden))).to_string();
        assert!(
            message.contains("User \"arn:aws:sts::1:assumed-role/ci/x\""),
            "{message}"
        );
        assert!(message.contains("access entry"), "{message}");
    }
}
