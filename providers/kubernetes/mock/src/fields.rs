//! Field sets as structured-merge-diff keeps them in `managedFields`: a tree of path steps
//! whose nodes may themselves be owned ("members"), serialized as `fieldsV1`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a field path. The order (fields, then list keys, then set values) is the
/// one the API server serializes in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `f:name`: a field of a map or struct.
    Field(String),
    /// `k:{"name":"web"}`: an item of an associative list, by its keys (canonical JSON).
    Key(String),
    /// `v:"value"`: an item of a set list, by its value (JSON).
    Value(String),
}

impl Step {
    fn encode(&self) -> String {
        match self {
            Step::Field(name) => format!("f:{name}"),
            Step::Key(keys) => format!("k:{keys}"),
            Step::Value(value) => format!("v:{value}"),
        }
    }

    fn decode(text: &str) -> Option<Step> {
        let (prefix, rest) = text.split_at_checked(2)?;
        match prefix {
            "f:" => Some(Step::Field(rest.to_owned())),
            "k:" => Some(Step::Key(rest.to_owned())),
            "v:" => Some(Step::Value(rest.to_owned())),
            _ => None,
        }
    }

    /// The step as the API server writes it in a conflict: `.replicas`, `[name="web"]`.
    fn describe(&self) -> String {
        match self {
            Step::Field(name) => format!(".{name}"),
            Step::Key(keys) => {
                let parts: Vec<String> = match serde_json::from_str::<Map<String, Value>>(keys) {
                    Ok(map) => map.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    Err(_) => vec![keys.clone()],
                };
                format!("[{}]", parts.join(","))
            }
            Step::Value(value) => format!("[={value}]"),
        }
    }
}

/// A path from the object's root.
pub type Path = Vec<Step>;

/// The text of a path in conflict messages: `.spec.template.spec.containers[name="web"].image`.
pub fn describe(path: &[Step]) -> String {
    path.iter().map(Step::describe).collect()
}

/// A set of paths, as a tree. A node is in the set when `member` is true.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<Step, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        FieldSet::default()
    }

    pub fn insert(&mut self, path: &[Step]) {
        let mut node = self;
        for step in path {
            node = node.children.entry(step.clone()).or_default();
        }
        node.member = true;
    }

    pub fn contains(&self, path: &[Step]) -> bool {
        self.node(path).is_some_and(|node| node.member)
    }

    /// The subtree at `path`, if any.
    pub fn node(&self, path: &[Step]) -> Option<&FieldSet> {
        path.iter()
            .try_fold(self, |node, step| node.children.get(step))
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    pub fn is_member(&self) -> bool {
        self.member
    }

    pub fn children(&self) -> impl Iterator<Item = (&Step, &FieldSet)> {
        self.children.iter()
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (step, child) in &self.children {
            prefix.push(step.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for path in other.paths() {
            out.insert(&path);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for path in self.paths() {
            if !other.contains(&path) {
                out.insert(&path);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for path in self.paths() {
            if other.contains(&path) {
                out.insert(&path);
            }
        }
        out
    }

    /// The `fieldsV1` JSON of the set.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (step, child) in &self.children {
            if !child.is_empty() {
                map.insert(step.encode(), child.to_json());
            }
        }
        Value::Object(map)
    }

    /// Reads `fieldsV1`; unknown keys are skipped.
    pub fn from_json(value: &Value) -> FieldSet {
        let mut set = FieldSet::new();
        set.read(value, true);
        set
    }

    fn read(&mut self, value: &Value, root: bool) {
        let Some(map) = value.as_object() else {
            return;
        };
        if map.is_empty() && !root {
            self.member = true;
        }
        for (key, child) in map {
            if key == "." {
                self.member = true;
            } else if let Some(step) = Step::decode(key) {
                self.children.entry(step).or_default().read(child, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_with_members_of_items() {
        let fields = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}
        });
        let set = FieldSet::from_json(&fields);
        assert!(set.contains(&[
            Step::Field("spec".into()),
            Step::Field("containers".into()),
            Step::Key("{\"name\":\"web\"}".into())
        ]));
        assert!(!set.contains(&[Step::Field("metadata".into())]));
        assert_eq!(set.to_json(), fields);
        assert_eq!(set.paths().len(), 3);
    }

    #[test]
    fn paths_are_described_like_the_api_server() {
        let path = vec![
            Step::Field("spec".into()),
            Step::Field("ports".into()),
            Step::Key("{\"containerPort\":80,\"protocol\":\"TCP\"}".into()),
            Step::Field("name".into()),
        ];
        assert_eq!(
            describe(&path),
            ".spec.ports[containerPort=80,protocol=\"TCP\"].name"
        );
    }

    #[test]
    fn set_algebra_works_on_members() {
        let a = FieldSet::from_json(&json!({"f:a": {}, "f:b": {"f:c": {}}}));
        let b = FieldSet::from_json(&json!({"f:b": {"f:c": {}}}));
        assert_eq!(a.difference(&b).to_json(), json!({"f:a": {}}));
        assert_eq!(a.intersection(&b).to_json(), json!({"f:b": {"f:c": {}}}));
        assert_eq!(b.union(&a), a);
    }
}
