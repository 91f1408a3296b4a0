//! Manifests and what cairn keeps of live objects.
//!
//! Owns the pure, offline parts of the `kubernetes_object` resource: an object's coordinates
//! ([`ObjectRef`]: apiVersion, kind, namespace, name) and its `id`; the projection of a live
//! object onto the paths of a previously applied manifest, so that server defaults and
//! fields of other field managers never read as drift; the base64 `data` of a Secret read
//! back under its `stringData` keys; and the redacted copy of the live object kept as the
//! `object` attribute. Talking to the API server is left to `client.rs`.

use std::collections::BTreeMap;

use base64::Engine;
use cairn_provider_core::{ProviderError, Value};
use kube::core::GroupVersionKind;

/// The annotation `kubectl apply` writes with the whole applied configuration, secrets
/// included.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Where one object lives, as written in a manifest or an `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectRef {
    /// `apps/v1`, or `v1` for the core group.
    pub api_version: String,
    pub kind: String,
    /// `None` when the manifest leaves it to the client's default namespace, or for a
    /// cluster-scoped kind.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// Reads the coordinates of the object a manifest describes.
    pub fn from_manifest(manifest: &Value) -> Result<Self, ProviderError> {
        let text = |path: &[&str]| -> Result<Option<String>, ProviderError> {
            let mut node = manifest.clone();
            for key in path {
                match node.get(key) {
                    Some(next) => node = next,
                    None => return Ok(None),
                }
            }
            match node.expose() {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(ProviderError::invalid(
                    format!("manifest.{}", path.join(".")),
                    "must be a string",
                )),
            }
        };
        let required = |path: &[&str]| -> Result<String, ProviderError> {
            text(path)?.ok_or_else(|| {
                ProviderError::invalid(format!("manifest.{}", path.join(".")), "is required")
            })
        };
        Ok(ObjectRef {
            api_version: required(&["apiVersion"])?,
            kind: required(&["kind"])?,
            namespace: text(&["metadata", "namespace"])?,
            name: required(&["metadata", "name"])?,
        })
    }

    /// Parses an `id` written by [`ObjectRef::id`]: `apiVersion/kind/namespace/name`, with
    /// an empty namespace for cluster-scoped objects (`v1/Namespace//airflow`).
    pub fn from_id(id: &str) -> Result<Self, ProviderError> {
        let invalid = || {
            ProviderError::invalid(
                "id",
                format!(
                    "`{id}` is not of the form apiVersion/kind/namespace/name \
                     (e.g. apps/v1/Deployment/airflow/scheduler or v1/Namespace//airflow)"
                ),
            )
        };
        let mut parts = id.rsplitn(4, '/');
        let name = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        let namespace = parts.next().ok_or_else(invalid)?;
        let kind = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        let api_version = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
        Ok(ObjectRef {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            name: name.to_owned(),
        })
    }

    /// The `id` attribute; `namespace` is the resolved one (`None` for cluster scope).
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or_default(),
            self.name
        )
    }

    /// The API group: empty for the core group.
    pub fn group(&self) -> &str {
        api_group(&self.api_version)
    }

    pub fn gvk(&self) -> GroupVersionKind {
        let version = self.api_version.rsplit('/').next().unwrap_or_default();
        GroupVersionKind::gvk(self.group(), version, &self.kind)
    }

    /// How progress and errors name the object: `deployment airflow/scheduler`.
    pub fn describe(&self) -> String {
        let kind = self.kind.to_ascii_lowercase();
        match &self.namespace {
            Some(namespace) => format!("{kind} {namespace}/{}", self.name),
            None => format!("{kind} {}", self.name),
        }
    }
}

/// The group part of an apiVersion (`apps` of `apps/v1`; empty for `v1`).
pub(crate) fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// The smallest manifest that names an object: what an imported object starts with, so
/// the first apply after an import takes ownership of exactly the fields the stack sets.
pub(crate) fn identity_manifest(object: &ObjectRef) -> Value {
    let mut metadata = BTreeMap::from([("name".to_owned(), Value::from(object.name.as_str()))]);
    if let Some(namespace) = &object.namespace {
        metadata.insert("namespace".to_owned(), Value::from(namespace.as_str()));
    }
    Value::Map(BTreeMap::from([
        (
            "apiVersion".to_owned(),
            Value::from(object.api_version.as_str()),
        ),
        ("kind".to_owned(), Value::from(object.kind.as_str())),
        ("metadata".to_owned(), Value::Map(metadata)),
    ]))
}

fn is_secret(object: &serde_json::Value) -> bool {
    object.get("kind").and_then(serde_json::Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(serde_json::Value::as_str) == Some("v1")
}

/// The live object as cairn compares it with a manifest: a Secret's base64 `data` is
/// decoded and also offered under `stringData`, because that is where a manifest that
/// wrote `stringData` expects it (the API server never returns `stringData`).
fn comparable(live: &serde_json::Value) -> serde_json::Value {
    let mut live = live.clone();
    if !is_secret(&live) {
        return live;
    }
    let decoded: serde_json::Map<String, serde_json::Value> = live
        .get("data")
        .and_then(serde_json::Value::as_object)
        .map(|data| {
            data.iter()
                .filter_map(|(key, encoded)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(encoded.as_str()?)
                        .ok()?;
                    Some((
                        key.clone(),
                        serde_json::Value::String(String::from_utf8(bytes).ok()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(object) = live.as_object_mut() {
        object.insert("stringData".to_owned(), serde_json::Value::Object(decoded));
    }
    live
}

/// The live object projected onto the paths present in `applied` (the manifest cairn last
/// applied, as recorded in state or as configured): maps by key, lists element-wise.
/// Where `applied` held a secret, the live value comes back as [`Value::Sensitive`], and a
/// Secret's `stringData` always does, so the engine compares hashes and never sees
/// plaintext unwrapped.
pub(crate) fn project_live(live: &serde_json::Value, applied: &Value) -> Value {
    let live = comparable(live);
    let mut projected = project(&live, applied).unwrap_or(Value::Map(BTreeMap::new()));
    if is_secret(&live)
        && let Value::Map(top) = &mut projected
        && let Some(string_data) = top.get_mut("stringData")
    {
        *string_data = match std::mem::take(string_data) {
            Value::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.sensitive()))
                    .collect(),
            ),
            other => other.sensitive(),
        };
    }
    projected
}

/// `None` when `live` does not have the path at all.
fn project(live: &serde_json::Value, shape: &Value) -> Option<Value> {
    match shape {
        Value::SensitiveHash(_) => Some(Value::from_json(live.clone()).sensitive()),
        Value::Sensitive(inner) => project(live, inner).map(Value::sensitive),
        Value::Map(fields) => {
            let Some(object) = live.as_object() else {
                return Some(Value::from_json(live.clone()));
            };
            let mut out = BTreeMap::new();
            for (key, sub_shape) in fields {
                match object.get(key) {
                    Some(sub_live) => {
                        if let Some(value) = project(sub_live, sub_shape) {
                            out.insert(key.clone(), value);
                        }
                    }
                    // The API server drops empty maps, lists and nulls: they are no drift.
                    None if is_empty(sub_shape) => {
                        out.insert(key.clone(), sub_shape.clone());
                    }
                    None => {}
                }
            }
            Some(Value::Map(out))
        }
        Value::List(items) => {
            let Some(elements) = live.as_array() else {
                return Some(Value::from_json(live.clone()));
            };
            // Lists of objects (containers, ports) may gain elements from other managers or
            // admission webhooks; lists of scalars are owned whole, so extra elements are
            // real drift.
            let holds_objects = items.iter().any(|item| matches!(item, Value::Map(_)));
            let mut out = Vec::with_capacity(elements.len());
            for (index, element) in elements.iter().enumerate() {
                match items.get(index) {
                    Some(item_shape) => {
                        out.push(project(element, item_shape).unwrap_or(Value::Null));
                    }
                    None if holds_objects => break,
                    None => out.push(Value::from_json(element.clone())),
                }
            }
            Some(Value::List(out))
        }
        scalar => Some(normalize_scalar(live, scalar)),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Map(map) => map.is_empty(),
        Value::List(items) => items.is_empty(),
        _ => false,
    }
}

/// The live scalar, unless it is only another spelling of what the manifest said: the API
/// server turns quantities into canonical strings (`cpu: 1` reads back `"1"`, `0.5` as
/// `"500m"`), which must not show as drift.
fn normalize_scalar(live: &serde_json::Value, applied: &Value) -> Value {
    let applied_text = match applied {
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    let live_text = match live {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let (Some(a), Some(l)) = (applied_text, live_text) {
        let same_amount = || match (parse_quantity(&a), parse_quantity(&l)) {
            (Some(qa), Some(ql)) => (qa - ql).abs() <= f64::EPSILON * qa.abs().max(ql.abs()),
            _ => false,
        };
        if a == l || same_amount() {
            return applied.clone();
        }
    }
    Value::from_json(live.clone())
}

/// A Kubernetes resource quantity (`500m`, `1.5`, `2Gi`, `1e3`) as a number.
fn parse_quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|n| (n, *factor)))
        .unwrap_or((text, 1.0));
    if number.is_empty()
        || !number.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
    {
        return None;
    }
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// The `object` attribute: the live object without `metadata.managedFields`, without a
/// Secret's `data`, `stringData` and last-applied annotation, and with every path where
/// `applied` holds a secret wrapped as [`Value::Sensitive`], so nothing secret reaches
/// state in plaintext.
pub(crate) fn observed_object(live: &serde_json::Value, applied: &Value) -> Value {
    let mut live = live.clone();
    let secret = is_secret(&live);
    if let Some(object) = live.as_object_mut() {
        if secret {
            object.remove("data");
            object.remove("stringData");
        }
        if let Some(metadata) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            metadata.remove("managedFields");
            if secret
                && let Some(annotations) = metadata
                    .get_mut("annotations")
                    .and_then(|a| a.as_object_mut())
            {
                annotations.remove(LAST_APPLIED_ANNOTATION);
            }
        }
    }
    Value::from_json(live).with_sensitivity_of(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(json: serde_json::Value) -> Value {
        Value::from_json(json)
    }

    #[test]
    fn coordinates_come_from_the_manifest_and_round_trip_through_the_id() {
        let manifest = value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "scheduler", "namespace": "airflow"}
        }));
        let object = ObjectRef::from_manifest(&manifest).expect("valid manifest");
        assert_eq!(object.group(), "apps");
        assert_eq!(object.gvk().version, "v1");
        assert_eq!(object.describe(), "deployment airflow/scheduler");
        assert_eq!(ObjectRef::from_id(&object.id()).expect("parses"), object);

        let namespace = value(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "airflow"}}),
        );
        let namespace = ObjectRef::from_manifest(&namespace).expect("valid manifest");
        assert_eq!(namespace.group(), "");
        assert_eq!(namespace.namespace, None);
        assert_eq!(
            ObjectRef::from_id(&namespace.id()).expect("parses"),
            namespace
        );

        let crd_like =
            ObjectRef::from_id("rbac.authorization.k8s.io/v1/ClusterRole//reader").expect("parses");
        assert_eq!(crd_like.api_version, "rbac.authorization.k8s.io/v1");
        assert_eq!(crd_like.kind, "ClusterRole");
        assert!(ObjectRef::from_id("Deployment/x").is_err());
        assert!(
            ObjectRef::from_manifest(&value(json!({"apiVersion": "v1", "kind": "ConfigMap"})))
                .is_err()
        );
    }

    #[test]
    fn projection_keeps_only_applied_paths() {
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "uid": "u-1", "generation": 3,
                          "labels": {"app": "web", "added-by-someone-else": "x"}},
            "spec": {"replicas": 2, "revisionHistoryLimit": 10,
                     "template": {"spec": {"containers": [
                        {"name": "web", "image": "nginx:2", "imagePullPolicy": "IfNotPresent",
                         "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                        {"name": "injected-sidecar", "image": "proxy"}]}}},
            "status": {"replicas": 2}
        });
        let applied = value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1", "resources": {"requests": {"cpu": 0.5, "memory": "1024Mi"}}}]}}}
        }));
        let projected = project_live(&live, &applied);
        let expected = value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:2", "resources": {"requests": {"cpu": 0.5, "memory": "1024Mi"}}}]}}}
        }));
        assert_eq!(projected, expected);
    }

    #[test]
    fn removed_fields_and_changed_scalar_lists_are_drift() {
        let live = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"},
                          "data": {"b": "2"}, "args": ["x", "y", "z"]});
        let applied = value(
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "labels": {}},
                                   "data": {"a": "1", "b": "2"}, "args": ["x", "y"]}),
        );
        let projected = project_live(&live, &applied);
        let expected = value(
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "labels": {}},
                                    "data": {"b": "2"}, "args": ["x", "y", "z"]}),
        );
        assert_eq!(projected, expected);
        assert_ne!(projected, applied);
    }

    #[test]
    fn secret_string_data_reads_back_sensitive_from_base64_data() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                          "data": {"password": "aHVudGVyMg==", "other": "eA=="}, "type": "Opaque"});
        let applied =
            value(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}}));
        let Value::Map(mut applied) = applied else {
            panic!("map")
        };
        applied.insert(
            "stringData".to_owned(),
            Value::Map(BTreeMap::from([(
                "password".to_owned(),
                Value::SensitiveHash("h".to_owned()),
            )])),
        );
        let projected = project_live(&live, &Value::Map(applied));
        let string_data = projected.get("stringData").expect("stringData projected");
        let password = string_data.get("password").expect("password key");
        assert!(password.is_sensitive());
        assert_eq!(password.expose(), Some(json!("hunter2")));
        assert!(
            string_data.get("other").is_none(),
            "keys cairn did not apply stay out"
        );
        assert!(projected.get("data").is_none());
        assert!(!format!("{projected:?}").contains("hunter2"));
    }

    #[test]
    fn observed_object_drops_secrets_and_managed_fields() {
        let live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "uid": "u", "managedFields": [{"manager": "cairn"}],
                         "annotations": {LAST_APPLIED_ANNOTATION: "{\"stringData\":{\"p\":\"hunter2\"}}", "keep": "me"}},
            "data": {"p": "aHVudGVyMg=="}, "type": "Opaque"});
        let observed = observed_object(&live, &Value::Null);
        let text = format!("{observed:?}");
        assert!(!text.contains("hunter2") && !text.contains("aHVudGVyMg"));
        assert!(!text.contains("managedFields"));
        assert!(text.contains("keep"));

        let deployment = json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "w"},
            "spec": {"template": {"spec": {"containers": [{"name": "w", "env": [{"name": "DB", "value": "postgres://u:hunter2@h"}]}]}}}});
        let env_entry = BTreeMap::from([
            ("name".to_owned(), Value::from("DB")),
            (
                "value".to_owned(),
                Value::from("postgres://u:hunter2@h").sensitive(),
            ),
        ]);
        let container = BTreeMap::from([
            ("name".to_owned(), Value::from("w")),
            ("env".to_owned(), Value::List(vec![Value::Map(env_entry)])),
        ]);
        let nest = |key: &str, inner: Value| Value::Map(BTreeMap::from([(key.to_owned(), inner)]));
        let applied = nest(
            "spec",
            nest(
                "template",
                nest(
                    "spec",
                    nest("containers", Value::List(vec![Value::Map(container)])),
                ),
            ),
        );
        let observed = observed_object(&deployment, &applied);
        assert!(!format!("{observed:?}").contains("hunter2"));
        assert!(observed.contains_sensitive());
    }

    #[test]
    fn quantities_compare_by_amount() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), parse_quantity("1024Mi"));
        assert_eq!(parse_quantity("web"), None);
        assert_eq!(normalize_scalar(&json!("1"), &Value::Int(1)), Value::Int(1));
        assert_eq!(
            normalize_scalar(&json!("2"), &Value::Int(1)),
            Value::from("2")
        );
        assert_eq!(
            normalize_scalar(&json!("nginx:2"), &Value::from("nginx:1")),
            Value::from("nginx:2")
        );
    }
}
