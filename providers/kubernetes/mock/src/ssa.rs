//! Server-side apply and managed fields, after structured-merge-diff as kube-apiserver 1.28
//! runs it: the applier's set replaces its previous one, fields it no longer applies and
//! nobody else owns are removed, changing a field another manager owns is a conflict
//! unless forced, and an Update takes what it changed away from everyone else.

use serde_json::{Map, Value};

use crate::fields::{FieldSet, Path, Step, describe};
use crate::schema::{self, ListKind};

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    /// Absent for `kubectl scale`, as the scale subresource records it.
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    /// The manager as a conflict names it: `"cairn"`, or for an Update
    /// `"kubectl" with subresource "scale" using apps/v1 [at TIME]`.
    pub fn describe(&self) -> String {
        let mut text = quote(&self.manager);
        if let Some(sub) = &self.subresource {
            text = format!("{text} with subresource {}", quote(sub));
        }
        if self.operation == "Update" {
            text = format!("{text} using {}", self.api_version);
            if let Some(time) = &self.time {
                text = format!("{text} at {time}");
            }
        }
        text
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// The entries of an object's `metadata.managedFields`.
pub fn decode_entries(object: &Value) -> Vec<Entry> {
    let Some(list) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|entry| {
            let text = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
            Entry {
                manager: text("manager").unwrap_or_default(),
                operation: text("operation").unwrap_or_default(),
                api_version: text("apiVersion").unwrap_or_default(),
                time: text("time"),
                subresource: text("subresource"),
                fields: entry
                    .get("fieldsV1")
                    .map(FieldSet::from_json)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// `managedFields` as the API server writes it: Apply before Update, then by time
/// (none first), manager and subresource.
pub fn encode_entries(entries: &[Entry]) -> Value {
    let mut sorted: Vec<&Entry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    sorted.sort_by(|a, b| {
        (
            &a.operation,
            a.time.as_deref().unwrap_or(""),
            &a.manager,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                b.time.as_deref().unwrap_or(""),
                &b.manager,
                &b.subresource,
            ))
    });
    Value::Array(
        sorted
            .into_iter()
            .map(|entry| {
                let mut map = Map::new();
                map.insert("manager".into(), entry.manager.clone().into());
                map.insert("operation".into(), entry.operation.clone().into());
                map.insert("apiVersion".into(), entry.api_version.clone().into());
                if let Some(time) = &entry.time {
                    map.insert("time".into(), time.clone().into());
                }
                map.insert("fieldsType".into(), "FieldsV1".into());
                map.insert("fieldsV1".into(), entry.fields.to_json());
                if let Some(sub) = &entry.subresource {
                    map.insert("subresource".into(), sub.clone().into());
                }
                Value::Object(map)
            })
            .collect(),
    )
}

/// Metadata the API server keeps out of every manager's set.
const SYSTEM_METADATA: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// `object` without what no manager owns: apiVersion, kind and system metadata.
pub fn without_system_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            for name in SYSTEM_METADATA {
                meta.remove(name);
            }
            if meta.is_empty() {
                map.remove("metadata");
            }
        }
    }
    out
}

/// A walk over one object of one kind: the field names so far (list items not counted)
/// pick list and map kinds from the schema.
struct Walk<'a> {
    kind: &'a str,
    names: Vec<String>,
    steps: Path,
}

impl<'a> Walk<'a> {
    fn new(kind: &'a str) -> Self {
        Walk {
            kind,
            names: Vec::new(),
            steps: Vec::new(),
        }
    }

    fn list_kind(&self) -> ListKind {
        schema::list_kind(self.kind, &self.names)
    }

    fn atomic_map(&self) -> bool {
        schema::atomic_map(self.kind, &self.names)
    }

    fn enter_field(&mut self, name: &str) {
        self.names.push(name.to_owned());
        self.steps.push(Step::Field(name.to_owned()));
    }

    fn leave_field(&mut self) {
        self.names.pop();
        self.steps.pop();
    }

    /// ToFieldSet: leaves, empty maps, atomic values and list items.
    fn owned(&mut self, value: &Value, out: &mut FieldSet) {
        match value {
            Value::Object(map) if !map.is_empty() && !self.atomic_map() => {
                self.owned_fields(map, out);
            }
            Value::Array(items) if !items.is_empty() => match self.list_kind() {
                ListKind::Atomic => out.insert(&self.steps),
                ListKind::Set => {
                    for item in items {
                        self.steps.push(Step::Value(item.to_string()));
                        out.insert(&self.steps);
                        self.steps.pop();
                    }
                }
                ListKind::Keyed(keys) => {
                    for item in items {
                        match (schema::item_key(keys, item), item.as_object()) {
                            (Some(key), Some(fields)) => {
                                self.steps.push(Step::Key(key));
                                out.insert(&self.steps);
                                self.owned_fields(fields, out);
                                self.steps.pop();
                            }
                            _ => out.insert(&self.steps),
                        }
                    }
                }
            },
            _ => out.insert(&self.steps),
        }
    }

    fn owned_fields(&mut self, map: &Map<String, Value>, out: &mut FieldSet) {
        for (name, child) in map {
            self.enter_field(name);
            self.owned(child, out);
            self.leave_field();
        }
    }

    /// Every path of a subtree, its root and inner nodes included (what Compare reports
    /// as added or removed).
    fn all_paths(&mut self, value: &Value, out: &mut FieldSet) {
        if !self.steps.is_empty() {
            out.insert(&self.steps);
        }
        match value {
            Value::Object(map) if !self.atomic_map() => {
                for (name, child) in map {
                    self.enter_field(name);
                    self.all_paths(child, out);
                    self.leave_field();
                }
            }
            Value::Array(items) => match self.list_kind() {
                ListKind::Atomic => {}
                ListKind::Set => {
                    for item in items {
                        self.steps.push(Step::Value(item.to_string()));
                        out.insert(&self.steps);
                        self.steps.pop();
                    }
                }
                ListKind::Keyed(keys) => {
                    for item in items {
                        if let Some(key) = schema::item_key(keys, item) {
                            self.steps.push(Step::Key(key));
                            self.all_paths(item, out);
                            self.steps.pop();
                        }
                    }
                }
            },
            _ => {}
        }
    }

    fn merge(&mut self, live: &Value, config: &Value) -> Value {
        match (live, config) {
            (Value::Object(live_map), Value::Object(config_map)) if !self.atomic_map() => {
                let mut out = live_map.clone();
                for (name, child) in config_map {
                    self.enter_field(name);
                    let merged = match live_map.get(name) {
                        Some(live_child) => self.merge(live_child, child),
                        None => child.clone(),
                    };
                    self.leave_field();
                    out.insert(name.clone(), merged);
                }
                Value::Object(out)
            }
            (Value::Array(live_items), Value::Array(config_items)) => match self.list_kind() {
                ListKind::Atomic => config.clone(),
                ListKind::Set => {
                    let mut out = live_items.clone();
                    for item in config_items {
                        if !out.contains(item) {
                            out.push(item.clone());
                        }
                    }
                    Value::Array(out)
                }
                ListKind::Keyed(keys) => self.merge_keyed(keys, live_items, config_items),
            },
            _ => config.clone(),
        }
    }

    /// Keyed items merge by key; items only live keep their place, the applied ones
    /// come in the applied order.
    fn merge_keyed(&mut self, keys: &[&str], live: &[Value], config: &[Value]) -> Value {
        let config_keys: Vec<Option<String>> =
            config.iter().map(|c| schema::item_key(keys, c)).collect();
        if config_keys.iter().any(Option::is_none) {
            return Value::Array(config.to_vec());
        }
        let live_of = |key: &Option<String>| {
            live.iter()
                .find(|l| schema::item_key(keys, l).as_ref() == key.as_ref())
        };
        let mut emitted = vec![false; config.len()];
        let mut out = Vec::new();
        let mut emit = |walk: &mut Self, upto: usize, out: &mut Vec<Value>| {
            for j in 0..=upto {
                if !emitted[j] {
                    emitted[j] = true;
                    out.push(match live_of(&config_keys[j]) {
                        Some(l) => walk.merge(l, &config[j]),
                        None => config[j].clone(),
                    });
                }
            }
        };
        for item in live {
            let key = schema::item_key(keys, item);
            match config_keys.iter().position(|k| *k == key) {
                Some(j) => emit(self, j, &mut out),
                None => out.push(item.clone()),
            }
        }
        if !config.is_empty() {
            emit(self, config.len() - 1, &mut out);
        }
        Value::Array(out)
    }

    fn compare(&mut self, old: Option<&Value>, new: Option<&Value>, cmp: &mut Comparison) {
        match (old, new) {
            (None, None) => {}
            (None, Some(new)) => self.all_paths(new, &mut cmp.changed),
            (Some(old), None) => self.all_paths(old, &mut cmp.removed),
            (Some(Value::Object(a)), Some(Value::Object(b))) if !self.atomic_map() => {
                let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
                names.sort();
                names.dedup();
                for name in names {
                    self.enter_field(name);
                    self.compare(a.get(name), b.get(name), cmp);
                    self.leave_field();
                }
            }
            (Some(Value::Array(a)), Some(Value::Array(b))) => match self.list_kind() {
                ListKind::Keyed(keys) => {
                    let keyed = |items: &[Value]| -> Option<Vec<(String, Value)>> {
                        items
                            .iter()
                            .map(|i| schema::item_key(keys, i).map(|k| (k, i.clone())))
                            .collect()
                    };
                    match (keyed(a), keyed(b)) {
                        (Some(a), Some(b)) => {
                            let mut all: Vec<&String> =
                                a.iter().chain(b.iter()).map(|(k, _)| k).collect();
                            all.sort();
                            all.dedup();
                            for key in all {
                                let find = |items: &[(String, Value)]| {
                                    items.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
                                };
                                let (before, after) = (find(&a), find(&b));
                                self.steps.push(Step::Key(key.clone()));
                                self.compare(before.as_ref(), after.as_ref(), cmp);
                                self.steps.pop();
                            }
                        }
                        _ if a != b => cmp.changed.insert(&self.steps),
                        _ => {}
                    }
                }
                ListKind::Set => {
                    for item in b.iter().filter(|i| !a.contains(i)) {
                        self.steps.push(Step::Value(item.to_string()));
                        cmp.changed.insert(&self.steps);
                        self.steps.pop();
                    }
                    for item in a.iter().filter(|i| !b.contains(i)) {
                        self.steps.push(Step::Value(item.to_string()));
                        cmp.removed.insert(&self.steps);
                        self.steps.pop();
                    }
                }
                ListKind::Atomic if a != b => cmp.changed.insert(&self.steps),
                ListKind::Atomic => {}
            },
            (Some(a), Some(b)) if a != b => cmp.changed.insert(&self.steps),
            _ => {}
        }
    }

    /// Removes the members of `set` from `value`, except what `keep` still owns below them.
    fn remove(&mut self, value: &mut Value, set: &FieldSet, keep: Option<&FieldSet>) {
        for (step, child) in set.children() {
            let keep_child = keep.and_then(|k| k.node(std::slice::from_ref(step)));
            let kept_below = keep_child.is_some_and(|k| !k.is_empty());
            match step {
                Step::Field(name) => {
                    let Some(map) = value.as_object_mut() else {
                        continue;
                    };
                    if child.is_member() && !kept_below {
                        map.remove(name);
                        continue;
                    }
                    let Some(inner) = map.get_mut(name) else {
                        continue;
                    };
                    let was_empty = is_empty_container(inner);
                    self.enter_field(name);
                    self.remove(inner, child, keep_child);
                    self.leave_field();
                    if !was_empty && is_empty_container(inner) {
                        map.remove(name);
                    }
                }
                Step::Key(key) => {
                    let ListKind::Keyed(keys) = self.list_kind() else {
                        continue;
                    };
                    let Some(items) = value.as_array_mut() else {
                        continue;
                    };
                    let Some(index) = items
                        .iter()
                        .position(|i| schema::item_key(keys, i).as_deref() == Some(key))
                    else {
                        continue;
                    };
                    if child.is_member() && !kept_below {
                        items.remove(index);
                    } else {
                        self.steps.push(step.clone());
                        self.remove(&mut items[index], child, keep_child);
                        self.steps.pop();
                    }
                }
                Step::Value(text) => {
                    let wanted = serde_json::from_str::<Value>(text).ok();
                    if let Some(items) = value.as_array_mut()
                        && child.is_member()
                    {
                        items.retain(|i| Some(i) != wanted.as_ref());
                    }
                }
            }
        }
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// What changed between two versions of an object.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Modified and added paths.
    pub changed: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    pub fn is_same(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }
}

pub fn compare(kind: &str, old: &Value, new: &Value) -> Comparison {
    let mut cmp = Comparison::default();
    Walk::new(kind).compare(Some(old), Some(new), &mut cmp);
    cmp
}

/// The fields an applied configuration owns.
pub fn owned_fields(kind: &str, config: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    if let Some(map) = without_system_fields(config).as_object() {
        Walk::new(kind).owned_fields(map, &mut out);
    }
    out
}

/// One field another manager owns and the apply would change.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub path: Path,
}

impl Conflict {
    pub fn field(&self) -> String {
        describe(&self.path)
    }
}

/// The result of an apply that did not conflict.
#[derive(Debug)]
pub struct Applied {
    /// The merged object, before defaulting; no managedFields.
    pub object: Value,
    pub entries: Vec<Entry>,
}

/// Who writes an object: a manager, on an object of a kind in an API version.
#[derive(Clone, Copy, Debug)]
pub struct Writer<'a> {
    pub kind: &'a str,
    pub api_version: &'a str,
    pub manager: &'a str,
}

/// Server-side apply of `config` by the writer onto `live` (without managedFields; `{}`
/// when creating), at time `now`.
pub fn apply(
    writer: Writer<'_>,
    live: &Value,
    mut entries: Vec<Entry>,
    config: &Value,
    force: bool,
    now: &str,
) -> Result<Applied, Vec<Conflict>> {
    let Writer {
        kind,
        api_version,
        manager,
    } = writer;
    let config_set = owned_fields(kind, config);
    let mut merged = Walk::new(kind).merge(live, config);
    let mine = entries.iter().position(|e| e.is(manager, "Apply", None));
    let last_set = mine.map(|i| entries[i].fields.clone()).unwrap_or_default();
    let mut owned = config_set.clone();
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) != mine {
            owned = owned.union(&entry.fields);
        }
    }
    let stale = last_set.difference(&owned);
    Walk::new(kind).remove(&mut merged, &stale, Some(&owned));

    let cmp = compare(kind, live, &merged);
    let mut conflicts = Vec::new();
    for (i, entry) in entries.iter_mut().enumerate() {
        if Some(i) == mine {
            continue;
        }
        let taken = entry.fields.intersection(&cmp.changed);
        if taken.is_empty() {
            continue;
        }
        if force {
            entry.fields = entry.fields.difference(&taken);
        } else {
            conflicts.extend(taken.paths().into_iter().map(|path| Conflict {
                manager: entry.describe(),
                path,
            }));
        }
    }
    if !conflicts.is_empty() {
        conflicts.sort_by(|a, b| (&a.manager, &a.path).cmp(&(&b.manager, &b.path)));
        return Err(conflicts);
    }
    for (i, entry) in entries.iter_mut().enumerate() {
        if Some(i) != mine {
            entry.fields = entry.fields.difference(&cmp.removed);
        }
    }
    let changed = merged != *live;
    match mine {
        Some(i) => {
            let entry = &mut entries[i];
            entry.fields = config_set;
            entry.api_version = api_version.to_owned();
            if changed || entry.time.is_none() {
                entry.time = Some(now.to_owned());
            }
        }
        None => entries.push(Entry {
            manager: manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: api_version.to_owned(),
            time: Some(now.to_owned()),
            subresource: None,
            fields: config_set,
        }),
    }
    entries.retain(|e| !e.fields.is_empty());
    Ok(Applied {
        object: merged,
        entries,
    })
}

/// Records an Update by the writer (a PUT, a patch, a status or scale write) that turned
/// `old` into `new`: it owns what it changed, and nobody else owns that any more.
pub fn update(
    writer: Writer<'_>,
    old: &Value,
    new: &Value,
    entries: &mut Vec<Entry>,
    subresource: Option<&str>,
    time: Option<String>,
) {
    let Writer {
        kind,
        api_version,
        manager,
    } = writer;
    let cmp = compare(
        kind,
        &without_system_fields(old),
        &without_system_fields(new),
    );
    if cmp.is_same() {
        return;
    }
    for entry in entries.iter_mut() {
        if !entry.is(manager, "Update", subresource) {
            entry.fields = entry
                .fields
                .difference(&cmp.changed)
                .difference(&cmp.removed);
        }
    }
    match entries
        .iter_mut()
        .find(|e| e.is(manager, "Update", subresource))
    {
        Some(entry) => {
            entry.fields = entry.fields.union(&cmp.changed).difference(&cmp.removed);
            entry.time = time;
            entry.api_version = api_version.to_owned();
        }
        None => entries.push(Entry {
            manager: manager.to_owned(),
            operation: "Update".to_owned(),
            api_version: api_version.to_owned(),
            time,
            subresource: subresource.map(str::to_owned),
            fields: cmp.changed,
        }),
    }
    entries.retain(|e| !e.fields.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2026-11-30T03:53:00Z";

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            kind: "Deployment",
            api_version: "apps/v1",
            manager,
        }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}}
            }
        })
    }

    #[test]
    fn apply_owns_what_it_applies_keyed_by_the_schema() {
        let config = deployment(1, "nginx");
        let applied =
            apply(writer("cairn"), &json!({}), vec![], &config, false, NOW).expect("no conflict");
        assert_eq!(applied.entries.len(), 1);
        assert_eq!(
            applied.entries[0].fields.to_json(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {}, "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}}
                }
            })
        );
    }

    #[test]
    fn another_manager_changing_an_owned_field_conflicts_unless_forced() {
        let live = deployment(1, "nginx");
        let entries = apply(writer("cairn"), &json!({}), vec![], &live, false, NOW)
            .expect("created")
            .entries;
        let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 3}});
        let conflicts = apply(writer("other"), &live, entries.clone(), &scale, false, NOW)
            .expect_err("conflicts");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].manager, "\"cairn\"");
        assert_eq!(conflicts[0].field(), ".spec.replicas");

        let forced = apply(writer("other"), &live, entries, &scale, true, NOW).expect("forced");
        assert_eq!(forced.object["spec"]["replicas"], json!(3));
        let cairn = forced
            .entries
            .iter()
            .find(|e| e.manager == "cairn")
            .expect("cairn");
        assert!(
            cairn
                .fields
                .node(&[Step::Field("spec".into()), Step::Field("replicas".into())])
                .is_none()
        );
    }

    #[test]
    fn fields_no_longer_applied_are_removed_unless_someone_else_owns_them() {
        let first = deployment(1, "nginx");
        let applied =
            apply(writer("cairn"), &json!({}), vec![], &first, false, NOW).expect("created");
        let mut second = first.clone();
        second["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("labels");
        let again = apply(
            writer("cairn"),
            &applied.object,
            applied.entries,
            &second,
            false,
            NOW,
        )
        .expect("applied");
        assert!(again.object["metadata"].get("labels").is_none());
    }

    #[test]
    fn an_update_takes_the_changed_field_from_the_applier() {
        let live = deployment(1, "nginx");
        let mut entries = apply(writer("cairn"), &json!({}), vec![], &live, false, NOW)
            .expect("created")
            .entries;
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(5);
        update(
            writer("kubectl"),
            &live,
            &scaled,
            &mut entries,
            Some("scale"),
            None,
        );
        let kubectl = entries
            .iter()
            .find(|e| e.manager == "kubectl")
            .expect("kubectl");
        assert_eq!(
            kubectl.fields.to_json(),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(
            kubectl.describe(),
            "\"kubectl\" with subresource \"scale\" using apps/v1"
        );
        let cairn = entries
            .iter()
            .find(|e| e.manager == "cairn")
            .expect("cairn");
        assert!(
            !cairn.fields.to_json()["f:spec"]
                .as_object()
                .expect("spec")
                .contains_key("f:replicas")
        );
    }
}
