//! `Status` bodies, worded as kube-apiserver 1.28 words them.

use serde_json::{Value, json};

use crate::resources::Resource;
use crate::ssa::Conflict;

/// An error answer: HTTP status and `Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub body: Value,
}

fn failure(code: u16, reason: &str, message: String, details: Option<Value>) -> ApiError {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    ApiError { code, body }
}

/// `"configmaps"` or `"deployments.apps"`, as messages name a resource.
fn qualified(resource: &Resource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// `details` naming an object; `group` only outside the core group.
fn object_details(name: &str, group: &str, kind: &str) -> Value {
    let mut details = json!({"name": name, "kind": kind});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    details
}

/// 404 for an object: `details.kind` is the plural resource.
pub fn not_found(resource: &Resource, name: &str) -> ApiError {
    failure(
        404,
        "NotFound",
        format!("{} {} not found", qualified(resource), quote(name)),
        Some(object_details(name, &resource.group, &resource.plural)),
    )
}

/// 404 for a path the server does not serve.
pub fn no_such_path() -> ApiError {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource".to_owned(),
        Some(json!({})),
    )
}

/// 409 for a server-side apply that would change fields other managers own.
pub fn apply_conflict(conflicts: &[Conflict]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", c.manager),
                "field": c.field(),
            })
        })
        .collect();
    let message = match conflicts {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager,
            one.field()
        ),
        _ => {
            let mut managers: Vec<&String> = conflicts.iter().map(|c| &c.manager).collect();
            managers.sort();
            managers.dedup();
            let mut lines = Vec::new();
            for manager in managers {
                lines.push(format!("conflicts with {manager}:"));
                for c in conflicts.iter().filter(|c| &c.manager == manager) {
                    lines.push(format!("- {}", c.field()));
                }
            }
            format!(
                "Apply failed with {} conflicts: {}",
                conflicts.len(),
                lines.join("\n")
            )
        }
    };
    failure(409, "Conflict", message, Some(json!({"causes": causes})))
}

/// One field error of a 422.
pub struct FieldError {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

/// 422 Invalid, `Kind.group "name" is invalid: [field: message, ...]`.
pub fn invalid(resource: &Resource, name: &str, errors: &[FieldError]) -> ApiError {
    let kind = if resource.group.is_empty() {
        resource.kind.clone()
    } else {
        format!("{}.{}", resource.kind, resource.group)
    };
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    let listed = match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", parts.join(", ")),
    };
    let mut details = object_details(name, &resource.group, &resource.kind);
    details["causes"] = errors
        .iter()
        .map(|e| json!({"reason": e.reason, "message": e.message, "field": e.field}))
        .collect();
    failure(
        422,
        "Invalid",
        format!("{kind} {} is invalid: {listed}", quote(name)),
        Some(details),
    )
}

/// 400 for a body the server cannot read.
pub fn bad_request(message: String) -> ApiError {
    failure(400, "BadRequest", message, None)
}

/// 415 for a PATCH content type the server does not take.
pub fn unsupported_media_type(content_type: &str) -> ApiError {
    failure(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type})"
        ),
        None,
    )
}

/// 405 for a verb a path does not take.
pub fn method_not_allowed(method: &str) -> ApiError {
    failure(
        405,
        "MethodNotAllowed",
        format!("the server does not allow this method on the requested resource ({method})"),
        Some(json!({})),
    )
}

/// 403 for new objects in a namespace being deleted.
pub fn namespace_terminating(resource: &Resource, name: &str, namespace: &str) -> ApiError {
    let message = format!(
        "unable to create new content in namespace {namespace} because it is being terminated"
    );
    let mut details = object_details(name, &resource.group, &resource.plural);
    details["causes"] = json!([{
        "reason": "NamespaceTerminating",
        "message": message,
        "field": "metadata.namespace"
    }]);
    failure(
        403,
        "Forbidden",
        format!(
            "{} {} is forbidden: {message}",
            qualified(resource),
            quote(name)
        ),
        Some(details),
    )
}

/// 404 for an object in a namespace that does not exist.
pub fn namespace_not_found(namespace: &str) -> ApiError {
    failure(
        404,
        "NotFound",
        format!("namespaces {} not found", quote(namespace)),
        Some(json!({"name": namespace, "kind": "namespaces"})),
    )
}

/// An error injected by a test through the control API.
pub fn injected(code: u16) -> ApiError {
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    };
    failure(code, reason, format!("injected failure ({code})"), None)
}

/// The `Status` a delete answers when the object is gone at once.
pub fn deleted(resource: &Resource, name: &str, uid: &str) -> Value {
    let mut details = object_details(name, &resource.group, &resource.plural);
    details["uid"] = json!(uid);
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}
