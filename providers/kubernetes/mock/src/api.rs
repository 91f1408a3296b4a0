//! What the API server does with a request, independent of HTTP: server-side apply with
//! defaults and validation, updates by other managers, deletes (foreground, background,
//! namespaces) and what the garbage collector and namespace controller do afterwards.

use serde_json::{Map, Value, json};

use crate::defaults;
use crate::resources::Resource;
use crate::ssa::{self, Entry};
use crate::status::{self, ApiError, FieldError};
use crate::store::{Key, Store};

/// What a delete leaves for the controllers to finish later.
#[derive(Clone, Debug, PartialEq)]
pub enum FollowUp {
    /// The garbage collector removes an object deleted in the foreground.
    Collect { key: Key, uid: String },
    /// The garbage collector drops a namespace's `foregroundDeletion` finalizer.
    CollectNamespace { name: String, uid: String },
    /// The namespace controller empties and removes a namespace.
    FinalizeNamespace { name: String, uid: String },
}

impl FollowUp {
    /// The object it is about.
    pub fn key(&self) -> Key {
        match self {
            FollowUp::Collect { key, .. } => key.clone(),
            FollowUp::CollectNamespace { name, .. } | FollowUp::FinalizeNamespace { name, .. } => {
                Key::namespace_key(name)
            }
        }
    }

    /// Does the work; answers what comes next, if anything.
    pub fn run(self, store: &mut Store) -> Option<FollowUp> {
        match self {
            FollowUp::Collect { key, uid } => {
                collect(store, &key, &uid);
                None
            }
            FollowUp::CollectNamespace { name, uid } => {
                namespace_collected(store, &name, &uid);
                Some(FollowUp::FinalizeNamespace { name, uid })
            }
            FollowUp::FinalizeNamespace { name, uid } => {
                if let Some(namespaces) = store.registry.by_kind("Namespace").cloned() {
                    namespace_finalized(store, &namespaces, &name, &uid);
                }
                None
            }
        }
    }
}

fn uid_of(object: &Value) -> String {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Sets `metadata.<field>` (`None` removes it). `object` is an object with object
/// metadata: [`check_body`] and [`stamp`] see to that.
fn set_meta(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        match value {
            Some(value) => meta.insert(field.to_owned(), value),
            None => meta.remove(field),
        };
    }
}

/// The object without managedFields, as structured-merge-diff sees it.
fn bare(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    out
}

/// The namespaces every cluster starts with.
pub fn bootstrap(store: &mut Store) {
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let now = store.clock.timestamp();
        let object = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": name, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": now,
                "labels": {"kubernetes.io/metadata.name": name},
                "managedFields": [{
                    "manager": "kube-apiserver", "operation": "Update", "apiVersion": "v1", "time": now,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}}
                }]
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        });
        store.put(Key::namespace_key(name), object, "ADDED");
    }
}

/// A new object may be made in `namespace` only if it exists and is not being deleted.
fn check_namespace(
    store: &Store,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let Some(namespace) = namespace.filter(|_| resource.namespaced) else {
        return Ok(());
    };
    match store.get(&Key::namespace_key(namespace)) {
        None => Err(status::namespace_not_found(namespace)),
        Some(ns) if ns.pointer("/metadata/deletionTimestamp").is_some() => {
            Err(status::namespace_terminating(resource, name, namespace))
        }
        Some(_) => Ok(()),
    }
}

/// Server-side apply of `body` as `manager`. Answers the status code (201 created, 200
/// otherwise) and the object; an unchanged object is answered as stored, untouched.
pub fn apply(
    store: &mut Store,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    mut body: Value,
    manager: &str,
    force: bool,
) -> Result<(u16, Value), ApiError> {
    check_body(resource, namespace, name, &body)?;
    let key = Key::new(resource, namespace, name);
    let live = store.get(&key).cloned();
    if live.is_none() {
        check_namespace(store, resource, namespace, name)?;
    }
    if resource.status
        && let Some(map) = body.as_object_mut()
    {
        // The main resource ignores status; only the status subresource writes it.
        map.remove("status");
    }
    let now = store.clock.timestamp();
    let entries = live.as_ref().map(ssa::decode_entries).unwrap_or_default();
    let base = live.as_ref().map(bare).unwrap_or_else(|| json!({}));
    let api_version = resource.api_version();
    let writer = ssa::Writer {
        kind: &resource.kind,
        api_version: &api_version,
        manager,
    };
    let applied = ssa::apply(writer, &base, entries, &body, force, &now)
        .map_err(|conflicts| status::apply_conflict(&conflicts))?;
    let mut object = applied.object;
    stamp(store, resource, namespace, name, live.as_ref(), &mut object);
    validate(resource, name, &object)?;
    if let Some(live) = &live {
        bump_generation(resource, live, &mut object);
    }
    set_meta(
        &mut object,
        "managedFields",
        Some(ssa::encode_entries(&applied.entries)),
    );
    match live {
        Some(live) if live == object => Ok((200, live)),
        Some(_) => Ok((200, store.put(key, object, "MODIFIED"))),
        None => Ok((201, store.put(key, object, "ADDED"))),
    }
}

/// The body must be the object the URL names.
fn check_body(
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    body: &Value,
) -> Result<(), ApiError> {
    if !body.is_object() || body.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(status::bad_request(
            "the body is not a Kubernetes object".to_owned(),
        ));
    }
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    if text("/kind") != Some(resource.kind.as_str())
        || text("/apiVersion") != Some(resource.api_version().as_str())
    {
        return Err(status::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({}) or the kind ({}) is not {}",
            text("/apiVersion").unwrap_or_default(),
            resource.api_version(),
            text("/kind").unwrap_or_default(),
            resource.kind
        )));
    }
    if let Some(given) = text("/metadata/name")
        && given != name
    {
        return Err(status::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(given), Some(url)) = (text("/metadata/namespace"), namespace)
        && resource.namespaced
        && given != url
    {
        return Err(status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Identity, system metadata and defaults, as the server sets them on every write.
fn stamp(
    store: &mut Store,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    live: Option<&Value>,
    object: &mut Value,
) {
    if !object.is_object() {
        *object = json!({});
    }
    object["apiVersion"] = json!(resource.api_version());
    object["kind"] = json!(resource.kind);
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let now = store.clock.timestamp();
    set_meta(object, "name", Some(json!(name)));
    set_meta(
        object,
        "namespace",
        namespace
            .filter(|_| resource.namespaced)
            .map(|ns| json!(ns)),
    );
    match live {
        Some(live) => {
            for field in [
                "uid",
                "creationTimestamp",
                "generation",
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                let value = live.pointer(&format!("/metadata/{field}")).cloned();
                set_meta(object, field, value);
            }
        }
        None => {
            set_meta(object, "uid", Some(json!(uuid::Uuid::new_v4().to_string())));
            set_meta(object, "creationTimestamp", Some(json!(now)));
            if resource.has_generation() {
                set_meta(object, "generation", Some(json!(1)));
            }
        }
    }
    let uid = uid_of(object);
    let mut allocate = || store.allocate_ip();
    defaults::apply(
        &resource.kind,
        object,
        &mut defaults::Context {
            uid: &uid,
            allocate_ip: &mut allocate,
        },
    );
}

/// A spec change counts as a new generation (for Deployments an annotation change too,
/// since annotations are copied to their ReplicaSets).
fn bump_generation(resource: &Resource, live: &Value, object: &mut Value) {
    if !resource.has_generation() {
        return;
    }
    let spec_changed = live.get("spec") != object.get("spec");
    let annotations_changed = resource.kind == "Deployment"
        && live.pointer("/metadata/annotations") != object.pointer("/metadata/annotations");
    if spec_changed || annotations_changed {
        let generation = live
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        set_meta(object, "generation", Some(json!(generation + 1)));
    }
}

/// The validation cairn's tests meet: a Deployment needs a selector that matches its
/// template's labels.
fn validate(resource: &Resource, name: &str, object: &Value) -> Result<(), ApiError> {
    if resource.kind != "Deployment" {
        return Ok(());
    }
    let mut errors = Vec::new();
    let selector = object.pointer("/spec/selector");
    if selector.is_none_or(Value::is_null) {
        errors.push(FieldError {
            reason: "FieldValueRequired",
            field: "spec.selector".to_owned(),
            message: "Required value".to_owned(),
        });
    }
    let labels = object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let wanted = selector
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let matches = !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v));
    if !matches {
        errors.push(FieldError {
            reason: "FieldValueInvalid",
            field: "spec.template.metadata.labels".to_owned(),
            message: format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                go_string_map(&labels)
            ),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(status::invalid(resource, name, &errors))
    }
}

/// A label map as Go's `%#v` prints it: `map[string]string{"a":"b", "c":"d"}`.
fn go_string_map(map: &Map<String, Value>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), json!(v.as_str().unwrap_or_default())))
        .collect();
    format!("map[string]string{{{}}}", pairs.join(", "))
}

/// An Update by `manager` (on `subresource`, if any): `change` edits the stored object;
/// managedFields and resourceVersion follow. Answers the object after the write.
pub fn update_as(
    store: &mut Store,
    resource: &Resource,
    key: &Key,
    manager: &str,
    subresource: Option<&str>,
    timed: bool,
    change: impl FnOnce(&mut Value),
) -> Result<Value, ApiError> {
    let live = store
        .get(key)
        .cloned()
        .ok_or_else(|| status::not_found(resource, &key.name))?;
    let mut object = bare(&live);
    change(&mut object);
    if subresource == Some("status") {
        // The status subresource writes status (and annotations, as the deployment
        // controller does); the rest stays as stored.
        let mut kept = bare(&live);
        kept["status"] = object.get("status").cloned().unwrap_or(json!({}));
        let annotations = object.pointer("/metadata/annotations").cloned();
        if annotations.is_some() {
            set_meta(&mut kept, "annotations", annotations);
        }
        object = kept;
    } else if resource.status {
        object["status"] = live.get("status").cloned().unwrap_or(json!({}));
    }
    let namespace = key.namespace.clone();
    stamp(
        store,
        resource,
        namespace.as_deref(),
        &key.name,
        Some(&live),
        &mut object,
    );
    if subresource != Some("status") {
        validate(resource, &key.name, &object)?;
        bump_generation(resource, &live, &mut object);
    }
    let mut entries = ssa::decode_entries(&live);
    let time = timed.then(|| store.clock.timestamp());
    let api_version = resource.api_version();
    let writer = ssa::Writer {
        kind: &resource.kind,
        api_version: &api_version,
        manager,
    };
    ssa::update(
        writer,
        &bare(&live),
        &object,
        &mut entries,
        subresource,
        time,
    );
    set_meta(
        &mut object,
        "managedFields",
        Some(ssa::encode_entries(&entries)),
    );
    if object == live {
        return Ok(live);
    }
    Ok(store.put(key.clone(), object, "MODIFIED"))
}

/// Creates an object as an Update by `manager` (POST).
pub fn create_as(
    store: &mut Store,
    resource: &Resource,
    namespace: Option<&str>,
    mut body: Value,
    manager: &str,
) -> Result<Value, ApiError> {
    let name = body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        return Err(status::invalid(
            resource,
            "",
            &[FieldError {
                reason: "FieldValueRequired",
                field: "metadata.name".to_owned(),
                message: "Required value: name or generateName is required".to_owned(),
            }],
        ));
    }
    check_body(resource, namespace, &name, &body)?;
    let key = Key::new(resource, namespace, &name);
    if store.get(&key).is_some() {
        return Err(ApiError {
            code: 409,
            body: json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("{} \"{name}\" already exists", qualified(resource)),
                "reason": "AlreadyExists",
                "details": {"name": name, "group": resource.group, "kind": resource.plural},
                "code": 409
            }),
        });
    }
    check_namespace(store, resource, namespace, &name)?;
    if resource.status
        && let Some(map) = body.as_object_mut()
    {
        map.remove("status");
    }
    let mut entries = Vec::new();
    let time = Some(store.clock.timestamp());
    let mut object = ssa::without_system_fields(&body);
    stamp(store, resource, namespace, &name, None, &mut object);
    validate(resource, &name, &object)?;
    let api_version = resource.api_version();
    let writer = ssa::Writer {
        kind: &resource.kind,
        api_version: &api_version,
        manager,
    };
    ssa::update(writer, &json!({}), &object, &mut entries, None, time);
    set_meta(
        &mut object,
        "managedFields",
        Some(ssa::encode_entries(&entries)),
    );
    Ok(store.put(key, object, "ADDED"))
}

fn qualified(resource: &Resource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// How a DELETE ended.
pub struct Deleted {
    pub body: Value,
    pub follow_up: Option<FollowUp>,
}

/// DELETE: a namespace goes Terminating; in the foreground an object stays, with its
/// deletion timestamp and the `foregroundDeletion` finalizer, until the garbage collector
/// removes it; otherwise it goes at once (unless finalizers hold it).
pub fn delete(
    store: &mut Store,
    resource: &Resource,
    key: &Key,
    propagation: Option<&str>,
) -> Result<Deleted, ApiError> {
    let live = store
        .get(key)
        .cloned()
        .ok_or_else(|| status::not_found(resource, &key.name))?;
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(Deleted {
            body: live,
            follow_up: None,
        });
    }
    let foreground = propagation == Some("Foreground");
    let now = json!(store.clock.timestamp());
    let uid = uid_of(&live);
    let mut object = live.clone();
    set_meta(&mut object, "deletionTimestamp", Some(now));
    // Marking an object for deletion counts as a new generation, as the registry does.
    if let Some(generation) = live.pointer("/metadata/generation").and_then(Value::as_i64) {
        set_meta(&mut object, "generation", Some(json!(generation + 1)));
    }
    if foreground {
        add_finalizer(&mut object, "foregroundDeletion");
    }
    if resource.kind == "Namespace" {
        object["status"]["phase"] = json!("Terminating");
        let body = store.put(key.clone(), object, "MODIFIED");
        return Ok(Deleted {
            body,
            follow_up: Some(FollowUp::CollectNamespace {
                name: key.name.clone(),
                uid,
            }),
        });
    }
    let held = !finalizers_other_than(&live, "").is_empty();
    if foreground || held {
        set_meta(&mut object, "deletionGracePeriodSeconds", Some(json!(0)));
        let body = store.put(key.clone(), object, "MODIFIED");
        return Ok(Deleted {
            body,
            follow_up: foreground.then_some(FollowUp::Collect {
                key: key.clone(),
                uid,
            }),
        });
    }
    store.remove(key);
    Ok(Deleted {
        body: status::deleted(resource, &key.name, &uid),
        follow_up: None,
    })
}

fn add_finalizer(object: &mut Value, name: &str) {
    let mut list = finalizers_other_than(object, name);
    list.push(json!(name));
    set_meta(object, "finalizers", Some(Value::Array(list)));
}

fn finalizers_other_than(object: &Value, name: &str) -> Vec<Value> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter(|v| v.as_str() != Some(name))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn still(store: &Store, key: &Key, uid: &str) -> Option<Value> {
    store.get(key).filter(|o| uid_of(o) == uid).cloned()
}

/// The garbage collector's part of a foreground delete: with no dependents left, the
/// object goes (DELETED still shows the `foregroundDeletion` finalizer, as recorded);
/// other finalizers keep it, without `foregroundDeletion`.
fn collect(store: &mut Store, key: &Key, uid: &str) {
    let Some(object) = still(store, key, uid) else {
        return;
    };
    let others = finalizers_other_than(&object, "foregroundDeletion");
    if others.is_empty() {
        store.remove(key);
    } else {
        let mut object = object;
        set_meta(&mut object, "finalizers", Some(Value::Array(others)));
        store.put(key.clone(), object, "MODIFIED");
    }
}

/// First step of a namespace's deletion: the garbage collector drops `foregroundDeletion`.
fn namespace_collected(store: &mut Store, name: &str, uid: &str) {
    let key = Key::namespace_key(name);
    let Some(mut object) = still(store, &key, uid) else {
        return;
    };
    if object.pointer("/metadata/finalizers").is_none() {
        return;
    }
    let others = finalizers_other_than(&object, "foregroundDeletion");
    set_meta(
        &mut object,
        "finalizers",
        (!others.is_empty()).then_some(Value::Array(others)),
    );
    store.put(key, object, "MODIFIED");
}

/// The namespace controller: deletes what the namespace holds, reports it in the status
/// conditions, then the namespace goes.
fn namespace_finalized(store: &mut Store, namespaces: &Resource, name: &str, uid: &str) {
    let key = Key::namespace_key(name);
    if still(store, &key, uid).is_none() {
        return;
    }
    for inner in store.keys_in(name) {
        store.remove(&inner);
    }
    let now = store.clock.timestamp();
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "False", "lastTransitionTime": now, "reason": reason, "message": message});
    let conditions = json!([
        condition(
            "NamespaceDeletionDiscoveryFailure",
            "ResourcesDiscovered",
            "All resources successfully discovered"
        ),
        condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed"
        ),
        condition(
            "NamespaceDeletionContentFailure",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization"
        ),
        condition(
            "NamespaceContentRemaining",
            "ContentRemoved",
            "All content successfully removed"
        ),
        condition(
            "NamespaceFinalizersRemaining",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished"
        ),
    ]);
    let written = update_as(
        store,
        namespaces,
        &key,
        "kube-controller-manager",
        Some("status"),
        true,
        |object| object["status"]["conditions"] = conditions,
    );
    // Finalizers of its own (not `kubernetes`, which the controller just finished) keep it.
    if let Ok(object) = written
        && finalizers_other_than(&object, "").is_empty()
    {
        store.remove(&key);
    }
}

/// The status a controller would write once a workload is ready: Deployments available
/// for their generation, StatefulSets and DaemonSets rolled out, Jobs complete. Written as
/// the recordings did, by `kubectl-patch` through the status subresource. `None` if the
/// kind has no such state or it is already there.
pub fn ready_status(resource: &Resource, object: &Value, now: &str) -> Option<Value> {
    let generation = object
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let replicas = object
        .pointer("/spec/replicas")
        .cloned()
        .unwrap_or(json!(1));
    let current = object.get("status").cloned().unwrap_or(json!({}));
    let wanted = match resource.kind.as_str() {
        "Deployment" => {
            let condition = |kind: &str, reason: &str| json!({"type": kind, "status": "True", "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": "faked"});
            json!({
                "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas,
                "conditions": [condition("Available", "MinimumReplicasAvailable"), condition("Progressing", "NewReplicaSetAvailable")]
            })
        }
        "StatefulSet" => json!({
            "observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
            "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas,
        }),
        "DaemonSet" => json!({
            "observedGeneration": generation, "currentNumberScheduled": 1, "numberMisscheduled": 0,
            "desiredNumberScheduled": 1, "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1,
        }),
        "Job" => json!({
            "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "Faked", "message": "faked"}],
            "startTime": now, "completionTime": now, "succeeded": 1, "ready": 0
        }),
        _ => return None,
    };
    let settled = match resource.kind.as_str() {
        "Job" => current.get("succeeded") == Some(&json!(1)),
        _ => without_times(&current) == without_times(&wanted),
    };
    (!settled).then_some(wanted)
}

/// A status without condition timestamps, to tell whether a ready status is already there.
fn without_times(status: &Value) -> Value {
    let mut out = status.clone();
    if let Some(Value::Array(conditions)) = out.get_mut("conditions") {
        for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
            condition.remove("lastUpdateTime");
            condition.remove("lastTransitionTime");
            condition.remove("lastProbeTime");
        }
    }
    out
}

/// Writes the ready status of a workload, if it is not there yet.
pub fn mark_ready(store: &mut Store, resource: &Resource, key: &Key) -> Result<Value, ApiError> {
    let live = store
        .get(key)
        .cloned()
        .ok_or_else(|| status::not_found(resource, &key.name))?;
    let now = store.clock.timestamp();
    let Some(wanted) = ready_status(resource, &live, &now) else {
        return Ok(live);
    };
    update_as(
        store,
        resource,
        key,
        "kubectl-patch",
        Some("status"),
        true,
        |object| {
            object["status"] = wanted;
        },
    )
}

/// Entries of an object's managedFields (for the control API).
pub fn entries(object: &Value) -> Vec<Entry> {
    ssa::decode_entries(object)
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            for (key, value) in fields {
                if value.is_null() {
                    if let Some(map) = target.as_object_mut() {
                        map.remove(key);
                    }
                } else {
                    merge_patch(&mut target[key.as_str()], value);
                }
            }
        }
        other => *target = other.clone(),
    }
}
