//! What structured-merge-diff knows from the OpenAPI schema, for the kinds cairn applies:
//! which lists are keyed (and by what), which are sets, and which lists and maps are atomic.
//! Lists without a merge key are atomic, as in the built-in types.

use serde_json::{Map, Value};

/// How a list merges and how its items are owned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced as a whole; owned as one field.
    Atomic,
    /// Items merge by these keys; owned item by item (`k:{...}`).
    Keyed(&'static [&'static str]),
    /// Items are scalars merged as a set (`v:...`).
    Set,
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The field names leading to the pod spec inside an object of `kind`.
fn pod_spec_prefix(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some(&["spec", "template", "spec"]),
        "PodTemplate" => Some(&["template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// `path` relative to the pod spec, if it is inside one.
fn in_pod_spec<'a>(kind: &str, path: &'a [String]) -> Option<&'a [String]> {
    let prefix = pod_spec_prefix(kind)?;
    if path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b) {
        Some(&path[prefix.len()..])
    } else {
        None
    }
}

fn names(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

/// The kind of the list at `path` (field names from the root, list items not counted).
pub fn list_kind(kind: &str, path: &[String]) -> ListKind {
    if let Some(rest) = in_pod_spec(kind, path) {
        return pod_spec_list(&names(rest));
    }
    match (kind, names(path).as_slice()) {
        (_, ["metadata", "finalizers"]) => ListKind::Set,
        (_, ["metadata", "ownerReferences"]) => ListKind::Keyed(&["uid"]),
        ("Service", ["spec", "ports"]) => ListKind::Keyed(&["port", "protocol"]),
        ("Job", ["status", "conditions"]) => ListKind::Atomic,
        (_, ["status", "conditions"]) => ListKind::Keyed(&["type"]),
        _ => ListKind::Atomic,
    }
}

fn pod_spec_list(path: &[&str]) -> ListKind {
    match path {
        [list] if CONTAINER_LISTS.contains(list) => ListKind::Keyed(&["name"]),
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            ListKind::Keyed(&["name"])
        }
        ["hostAliases"] => ListKind::Keyed(&["ip"]),
        ["topologySpreadConstraints"] => ListKind::Keyed(&["topologyKey", "whenUnsatisfiable"]),
        [list, field] if CONTAINER_LISTS.contains(list) => match *field {
            "env" => ListKind::Keyed(&["name"]),
            "ports" => ListKind::Keyed(&["containerPort", "protocol"]),
            "volumeMounts" => ListKind::Keyed(&["mountPath"]),
            "volumeDevices" => ListKind::Keyed(&["devicePath"]),
            _ => ListKind::Atomic,
        },
        _ => ListKind::Atomic,
    }
}

/// Whether the map or struct at `path` is owned and replaced as a whole.
pub fn atomic_map(kind: &str, path: &[String]) -> bool {
    if let Some(rest) = in_pod_spec(kind, path) {
        return matches!(
            names(rest).as_slice(),
            ["nodeSelector"]
                | [.., "labelSelector" | "namespaceSelector"]
                | [
                    ..,
                    "secretKeyRef" | "configMapKeyRef" | "fieldRef" | "resourceFieldRef"
                ]
        );
    }
    matches!(
        (kind, names(path).as_slice()),
        (
            "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "Job"
                | "PodDisruptionBudget",
            ["spec", "selector"]
        ) | ("Service", ["spec", "selector"])
            | ("RoleBinding" | "ClusterRoleBinding", ["roleRef"])
            | ("NetworkPolicy", ["spec", "podSelector"])
    )
}

/// The key values of a keyed list item, with the schema's defaults for missing keys
/// (a container port without protocol is keyed as TCP), as canonical JSON.
pub fn item_key(keys: &[&str], item: &Value) -> Option<String> {
    let object = item.as_object()?;
    let mut key = Map::new();
    for name in keys {
        match object.get(*name) {
            Some(value) if !value.is_null() => {
                key.insert((*name).to_owned(), value.clone());
            }
            _ if *name == "protocol" => {
                key.insert((*name).to_owned(), Value::String("TCP".to_owned()));
            }
            _ => return None,
        }
    }
    serde_json::to_string(&Value::Object(key)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pod_template_lists_are_keyed_like_the_api_server() {
        let containers = path(&["spec", "template", "spec", "containers"]);
        assert_eq!(
            list_kind("Deployment", &containers),
            ListKind::Keyed(&["name"])
        );
        let ports = path(&["spec", "template", "spec", "containers", "ports"]);
        assert_eq!(
            list_kind("Job", &ports),
            ListKind::Keyed(&["containerPort", "protocol"])
        );
        let args = path(&["spec", "template", "spec", "containers", "args"]);
        assert_eq!(list_kind("Deployment", &args), ListKind::Atomic);
        assert_eq!(
            list_kind("Job", &path(&["status", "conditions"])),
            ListKind::Atomic
        );
        assert!(atomic_map(
            "Deployment",
            &path(&["spec", "template", "spec", "nodeSelector"])
        ));
    }

    #[test]
    fn missing_protocol_keys_as_tcp() {
        assert_eq!(
            item_key(
                &["containerPort", "protocol"],
                &json!({"containerPort": 80})
            )
            .as_deref(),
            Some("{\"containerPort\":80,\"protocol\":\"TCP\"}")
        );
        assert_eq!(item_key(&["name"], &json!({"image": "x"})), None);
    }
}
