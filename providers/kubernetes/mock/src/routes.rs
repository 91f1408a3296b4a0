//! Routing of API paths to what the server does, with the status codes and bodies of
//! kube-apiserver; every request is logged for the control API.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::RequestRecord;
use crate::api;
use crate::resources::Resource;
use crate::server::Shared;
use crate::status::{self, ApiError};
use crate::store::{Key, Selector};
use crate::wire::{self, Reply};

/// A watch without `timeoutSeconds` ends after this long.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

fn json_reply(code: u16, value: &Value) -> Reply {
    Reply::Json {
        code,
        body: value.to_string(),
    }
}

fn error_reply(error: &ApiError) -> Reply {
    json_reply(error.code, &error.body)
}

/// Serves one request and logs it.
pub fn handle(shared: &Shared, request: &wire::Request) -> Reply {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((request.target.as_str(), ""));
    let mut record = RequestRecord {
        method: request.method.clone(),
        path: path.to_owned(),
        query: query.to_owned(),
        content_type: request.header("content-type").map(str::to_owned),
        body: String::from_utf8_lossy(&request.body).into_owned(),
        status: 0,
    };
    let call = Call {
        record: &record,
        query: parse_query(query),
        user_agent: request.header("user-agent").map(str::to_owned),
        host: request.header("host").map(str::to_owned),
    };
    let reply = route(shared, &call);
    record.status = match &reply {
        Reply::Json { code, .. } => *code,
        Reply::Watch(_) => 200,
    };
    shared.lock().log.push(record);
    reply
}

/// A request as the router sees it.
struct Call<'a> {
    record: &'a RequestRecord,
    query: Vec<(String, String)>,
    user_agent: Option<String>,
    host: Option<String>,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The manager of a non-apply write: `fieldManager`, else the client's name, as the
    /// API server derives it from the user agent.
    fn manager(&self) -> String {
        self.param("fieldManager")
            .map(str::to_owned)
            .or_else(|| {
                self.user_agent
                    .as_deref()
                    .and_then(|ua| ua.split('/').next())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "unknown".to_owned())
    }

    fn body_json(&self) -> Result<Value, ApiError> {
        let text = &self.record.body;
        serde_json::from_str(text)
            .or_else(|_| serde_yaml_ng::from_str(text))
            .map_err(|e| status::bad_request(format!("error decoding the body: {e}")))
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a path names.
enum Target {
    Version,
    CoreVersions,
    Groups,
    Discovery(String),
    Collection {
        resource: Resource,
        namespace: Option<String>,
    },
    Object {
        resource: Resource,
        key: Key,
        subresource: Option<String>,
    },
}

fn resolve(shared: &Shared, path: &str) -> Result<Target, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Ok(Target::Version),
        ["api"] => return Ok(Target::CoreVersions),
        ["apis"] => return Ok(Target::Groups),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(status::no_such_path()),
    };
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let state = shared.lock();
    let registry = &state.store.registry;
    if registry.document(&group_version).is_none() {
        return Err(status::no_such_path());
    }
    let find = |plural: &str| {
        registry
            .by_plural(group, version, plural)
            .cloned()
            .ok_or_else(status::no_such_path)
    };
    let namespaced = |plural: &str| {
        registry
            .by_plural(group, version, plural)
            .is_some_and(|r| r.namespaced)
    };
    let object = |resource: Resource, ns: Option<&str>, name: &str, sub: Option<&str>| {
        let key = Key::new(&resource, ns, name);
        Target::Object {
            resource,
            key,
            subresource: sub.map(str::to_owned),
        }
    };
    Ok(match rest {
        [] => Target::Discovery(group_version),
        ["namespaces", ns, plural, tail @ ..] if namespaced(plural) => match tail {
            [] => Target::Collection {
                resource: find(plural)?,
                namespace: Some((*ns).to_owned()),
            },
            [name] => object(find(plural)?, Some(ns), name, None),
            [name, sub] => object(find(plural)?, Some(ns), name, Some(sub)),
            _ => return Err(status::no_such_path()),
        },
        [plural] => Target::Collection {
            resource: find(plural)?,
            namespace: None,
        },
        [plural, name] if !namespaced(plural) => object(find(plural)?, None, name, None),
        [plural, name, sub] if !namespaced(plural) => object(find(plural)?, None, name, Some(sub)),
        _ => return Err(status::no_such_path()),
    })
}

fn route(shared: &Shared, request: &Call<'_>) -> Reply {
    let record = request.record;
    if let Some(code) = shared.lock().take_fault(&record.method, &record.path) {
        return error_reply(&status::injected(code));
    }
    let target = match resolve(shared, &record.path) {
        Ok(target) => target,
        Err(error) => return error_reply(&error),
    };
    let answer = match (record.method.as_str(), target) {
        ("GET", Target::Version) => Ok((200, version())),
        ("GET", Target::CoreVersions) => Ok((200, core_versions(request.host.as_deref()))),
        ("GET", Target::Groups) => Ok((200, groups(shared))),
        ("GET", Target::Discovery(group_version)) => {
            let state = shared.lock();
            match state.store.registry.document(&group_version) {
                Some(document) => Ok((200, document.clone())),
                None => Err(status::no_such_path()),
            }
        }
        (
            "GET",
            Target::Collection {
                resource,
                namespace,
            },
        ) => {
            let selector = selector(&resource, namespace, request);
            if request
                .param("watch")
                .is_some_and(|w| w == "true" || w == "1")
            {
                return watch(shared, selector, request);
            }
            Ok((200, list(shared, &resource, &selector)))
        }
        (
            "POST",
            Target::Collection {
                resource,
                namespace,
            },
        ) => request.body_json().and_then(|body| {
            let mut state = shared.lock();
            let object = api::create_as(
                &mut state.store,
                &resource,
                namespace.as_deref(),
                body,
                &request.manager(),
            )?;
            Ok((201, object))
        }),
        (
            method,
            Target::Object {
                resource,
                key,
                subresource,
            },
        ) => object_request(
            shared,
            request,
            method,
            &resource,
            &key,
            subresource.as_deref(),
        ),
        (method, _) => Err(status::method_not_allowed(method)),
    };
    match answer {
        Ok((code, body)) => json_reply(code, &body),
        Err(error) => error_reply(&error),
    }
}

fn object_request(
    shared: &Shared,
    request: &Call<'_>,
    method: &str,
    resource: &Resource,
    key: &Key,
    subresource: Option<&str>,
) -> Result<(u16, Value), ApiError> {
    let content_type = request
        .record
        .content_type
        .as_deref()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    match (method, subresource) {
        ("GET", None | Some("status")) => {
            let state = shared.lock();
            state
                .store
                .get(key)
                .cloned()
                .map(|object| (200, object))
                .ok_or_else(|| status::not_found(resource, &key.name))
        }
        ("GET", Some("scale")) => {
            let state = shared.lock();
            let object = state
                .store
                .get(key)
                .ok_or_else(|| status::not_found(resource, &key.name))?;
            Ok((200, scale_of(object)))
        }
        ("PATCH", None) if content_type == "application/apply-patch+yaml" => {
            let Some(manager) = request.param("fieldManager").filter(|m| !m.is_empty()) else {
                return Err(status::bad_request(
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".to_owned(),
                ));
            };
            let force = request.param("force") == Some("true");
            let body = request.body_json()?;
            let mut state = shared.lock();
            let auto_ready = state.options.auto_ready;
            let (code, object) = api::apply(
                &mut state.store,
                resource,
                key.namespace.as_deref(),
                &key.name,
                body,
                manager,
                force,
            )?;
            if auto_ready {
                // After the answer is made: the apply answers the status as it was, the
                // next read sees the workload ready, as with a fast controller.
                api::mark_ready(&mut state.store, resource, key)?;
            }
            Ok((code, object))
        }
        ("PATCH", sub) => {
            if !matches!(
                content_type.as_str(),
                "application/merge-patch+json" | "application/strategic-merge-patch+json"
            ) {
                return Err(status::unsupported_media_type(&content_type));
            }
            let patch = request.body_json()?;
            write_as(shared, request, resource, key, sub, |object| {
                if sub == Some("scale") {
                    if let Some(replicas) = patch.pointer("/spec/replicas") {
                        object["spec"]["replicas"] = replicas.clone();
                    }
                } else {
                    api::merge_patch(object, &patch);
                }
            })
        }
        ("PUT", sub) => {
            let body = request.body_json()?;
            write_as(shared, request, resource, key, sub, |object| {
                if sub == Some("scale") {
                    if let Some(replicas) = body.pointer("/spec/replicas") {
                        object["spec"]["replicas"] = replicas.clone();
                    }
                } else {
                    let metadata = object.get("metadata").cloned();
                    *object = body;
                    if let Some(metadata) = metadata {
                        object["metadata"] = metadata;
                    }
                    if let Some(given) = body_metadata(&request.record.body) {
                        api::merge_patch(&mut object["metadata"], &given);
                    }
                }
            })
        }
        ("DELETE", None) => {
            let propagation = request
                .body_json()
                .ok()
                .and_then(|b| {
                    b.get("propagationPolicy")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .or_else(|| request.param("propagationPolicy").map(str::to_owned));
            let deleted = {
                let mut state = shared.lock();
                api::delete(&mut state.store, resource, key, propagation.as_deref())?
            };
            if let Some(follow_up) = deleted.follow_up {
                shared.schedule(follow_up);
            }
            Ok((200, deleted.body))
        }
        (method, _) => Err(status::method_not_allowed(method)),
    }
}

/// Labels, annotations and finalizers a PUT body carries.
fn body_metadata(body: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(body).ok()?;
    let meta = value.get("metadata")?;
    let mut out = json!({});
    for field in ["labels", "annotations", "finalizers"] {
        out[field] = meta.get(field).cloned().unwrap_or(Value::Null);
    }
    Some(out)
}

fn write_as(
    shared: &Shared,
    request: &Call<'_>,
    resource: &Resource,
    key: &Key,
    subresource: Option<&str>,
    change: impl FnOnce(&mut Value),
) -> Result<(u16, Value), ApiError> {
    let mut state = shared.lock();
    let manager = request.manager();
    let object = api::update_as(
        &mut state.store,
        resource,
        key,
        &manager,
        subresource,
        subresource != Some("scale"),
        change,
    )?;
    Ok((
        200,
        if subresource == Some("scale") {
            scale_of(&object)
        } else {
            object
        },
    ))
}

/// The autoscaling/v1 Scale of a workload.
fn scale_of(object: &Value) -> Value {
    let meta = &object["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]
        },
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0))}
    })
}

fn selector(resource: &Resource, namespace: Option<String>, request: &Call<'_>) -> Selector {
    let mut selector = Selector {
        group: resource.group.clone(),
        plural: resource.plural.clone(),
        namespace,
        ..Selector::default()
    };
    for term in request
        .param("fieldSelector")
        .unwrap_or_default()
        .split(',')
    {
        if let Some((field, value)) = term.split_once('=') {
            let value = value.trim_start_matches('=').to_owned();
            match field {
                "metadata.name" => selector.name = Some(value),
                "metadata.namespace" => selector.field_namespace = Some(value),
                _ => {}
            }
        }
    }
    for term in request
        .param("labelSelector")
        .unwrap_or_default()
        .split(',')
    {
        if let Some((label, value)) = term.split_once('=') {
            selector
                .labels
                .push((label.to_owned(), value.trim_start_matches('=').to_owned()));
        }
    }
    selector
}

fn list(shared: &Shared, resource: &Resource, selector: &Selector) -> Value {
    let state = shared.lock();
    let items: Vec<Value> = state
        .store
        .list(selector)
        .into_iter()
        .map(|(_, mut object)| {
            // List items carry no kind or apiVersion of their own.
            if let Some(map) = object.as_object_mut() {
                map.remove("kind");
                map.remove("apiVersion");
            }
            object
        })
        .collect();
    json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": state.store.resource_version().to_string()},
        "items": items,
    })
}

fn watch(shared: &Shared, selector: Selector, request: &Call<'_>) -> Reply {
    let since = request
        .param("resourceVersion")
        .and_then(|rv| rv.parse::<u64>().ok())
        .filter(|rv| *rv > 0);
    let timeout = request
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WATCH_TIMEOUT);
    let (sender, events) = mpsc::unbounded_channel();
    let id = shared.lock().store.watch(selector, since, sender);
    shared.expire_watch(id, timeout);
    Reply::Watch(events)
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "28", "gitVersion": "v1.28.0",
        "gitCommit": "855e7c48de7388eb330da0f8d9d2394ee818fb8d", "gitTreeState": "clean",
        "buildDate": "2023-08-15T10:20:15Z", "goVersion": "go1.20.7", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn core_versions(host: Option<&str>) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host.unwrap_or("127.0.0.1")}]
    })
}

fn groups(shared: &Shared) -> Value {
    let state = shared.lock();
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for group_version in state.store.registry.group_versions() {
        let Some((group, version)) = group_version.split_once('/') else {
            continue;
        };
        match groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, versions)) => versions.push(version.to_owned()),
            None => groups.push((group.to_owned(), vec![version.to_owned()])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(group, versions)| {
            let listed: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                .collect();
            json!({"name": group, "preferredVersion": listed.first().cloned(), "versions": listed})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_like_the_api_server() {
        let query = parse_query("&fieldSelector=metadata.name%3Dairflow&limit=500&x=a+b");
        assert_eq!(
            query,
            [
                (
                    "fieldSelector".to_owned(),
                    "metadata.name=airflow".to_owned()
                ),
                ("limit".to_owned(), "500".to_owned()),
                ("x".to_owned(), "a b".to_owned()),
            ]
        );
        assert_eq!(decode("100%"), "100%");
    }
}
