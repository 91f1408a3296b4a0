//! The kinds the mock serves, read from the discovery documents recorded from
//! kube-apiserver 1.28 (plus policy, autoscaling and networking, written the same way).

use serde_json::Value;

/// Discovery documents by group/version, as `GET /api/v1` and `GET /apis/G/V` answer them.
const DOCUMENTS: [(&str, &str); 8] = [
    ("v1", include_str!("../discovery/core-v1.json")),
    ("apps/v1", include_str!("../discovery/apps-v1.json")),
    ("batch/v1", include_str!("../discovery/batch-v1.json")),
    (
        "rbac.authorization.k8s.io/v1",
        include_str!("../discovery/rbac-v1.json"),
    ),
    ("policy/v1", include_str!("../discovery/policy-v1.json")),
    (
        "autoscaling/v2",
        include_str!("../discovery/autoscaling-v2.json"),
    ),
    (
        "autoscaling/v1",
        include_str!("../discovery/autoscaling-v1.json"),
    ),
    (
        "networking.k8s.io/v1",
        include_str!("../discovery/networking-v1.json"),
    ),
];

/// Kinds whose `metadata.generation` counts spec changes.
const WITH_GENERATION: [&str; 10] = [
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "PodDisruptionBudget",
    "Ingress",
    "NetworkPolicy",
    "ReplicationController",
];

/// One served resource type.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    /// Has a `status` subresource: applies and updates of the object leave status alone.
    pub status: bool,
}

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_generation(&self) -> bool {
        WITH_GENERATION.contains(&self.kind.as_str())
    }
}

/// Everything the server serves.
#[derive(Debug)]
pub struct Registry {
    documents: Vec<(String, Value)>,
    resources: Vec<Resource>,
}

impl Registry {
    pub fn new() -> Self {
        let mut documents = Vec::new();
        let mut resources = Vec::new();
        for (group_version, text) in DOCUMENTS {
            let Ok(document) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let (group, version) = match group_version.split_once('/') {
                Some((g, v)) => (g, v),
                None => ("", group_version),
            };
            let list = document
                .get("resources")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let names: Vec<&str> = list
                .iter()
                .filter_map(|r| r.get("name").and_then(Value::as_str))
                .collect();
            for entry in &list {
                let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
                let plural = text("name");
                if plural.contains('/') {
                    continue;
                }
                resources.push(Resource {
                    group: group.to_owned(),
                    version: version.to_owned(),
                    kind: text("kind").to_owned(),
                    plural: plural.to_owned(),
                    namespaced: entry
                        .get("namespaced")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    status: names.contains(&format!("{plural}/status").as_str()),
                });
            }
            documents.push((group_version.to_owned(), document));
        }
        Registry {
            documents,
            resources,
        }
    }

    /// The APIResourceList of a group/version.
    pub fn document(&self, group_version: &str) -> Option<&Value> {
        self.documents
            .iter()
            .find(|(gv, _)| gv == group_version)
            .map(|(_, doc)| doc)
    }

    pub fn group_versions(&self) -> impl Iterator<Item = &str> {
        self.documents.iter().map(|(gv, _)| gv.as_str())
    }

    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// A kind, preferring the core group and the first version listed.
    pub fn by_kind(&self, kind: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_kinds_are_served_with_scope_and_status() {
        let registry = Registry::new();
        let deployments = registry
            .by_plural("apps", "v1", "deployments")
            .expect("served");
        assert_eq!(deployments.kind, "Deployment");
        assert!(deployments.namespaced && deployments.status && deployments.has_generation());
        let namespaces = registry.by_kind("Namespace").expect("served");
        assert!(!namespaces.namespaced && namespaces.status);
        let secrets = registry.by_kind("Secret").expect("served");
        assert!(!secrets.status && !secrets.has_generation());
        assert!(
            registry
                .by_plural("policy", "v1", "poddisruptionbudgets")
                .is_some()
        );
        assert!(registry.document("apps/v2").is_none());
    }
}
