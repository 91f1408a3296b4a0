//! Request shapes against a mock API server: a tower service that records every request
//! kube-rs sends and answers with canned JSON.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_provider_core::{
    Attrs, CreateRequest, DeleteRequest, Progress, ProviderError, ReadRequest, ResourceClient,
    ResourceIdentity, UpdateRequest, Value,
};
use http::{Request, Response};
use kube::client::Body;
use serde_json::json;
use tower::BoxError;

use super::KubernetesClient;
use crate::OBJECT_TYPE;

#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    path: String,
    query: String,
    content_type: Option<String>,
    body: String,
}

type Responder = Arc<dyn Fn(&Recorded) -> (u16, serde_json::Value) + Send + Sync>;

struct MockApi {
    client: KubernetesClient,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockApi {
    fn new(
        responder: impl Fn(&Recorded) -> (u16, serde_json::Value) + Send + Sync + 'static,
    ) -> Self {
        let responder: Responder = Arc::new(responder);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let service = tower::service_fn(move |request: Request<Body>| {
            let responder = Arc::clone(&responder);
            let log = Arc::clone(&log);
            async move {
                let (parts, body) = request.into_parts();
                let body = body.collect_bytes().await?;
                let recorded = Recorded {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().unwrap_or_default().to_owned(),
                    content_type: parts
                        .headers
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let (status, reply) = responder(&recorded);
                log.lock().expect("log lock").push(recorded);
                let response = Response::builder()
                    .status(status)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Body::from(serde_json::to_vec(&reply)?))?;
                Ok::<_, BoxError>(response)
            }
        });
        MockApi {
            client: KubernetesClient::new(kube::Client::new(service, "default")),
            requests,
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("log lock").clone()
    }

    fn requests_to(&self, method: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method)
            .collect()
    }
}

fn resource(name: &str, kind: &str, namespaced: bool) -> serde_json::Value {
    json!({"name": name, "singularName": kind.to_ascii_lowercase(), "namespaced": namespaced, "kind": kind,
           "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
}

/// Discovery documents for the core group, apps, batch and one custom resource.
fn discovery(request: &Recorded) -> Option<serde_json::Value> {
    let (group_version, resources) = match request.path.as_str() {
        "/api/v1" => (
            "v1",
            vec![
                resource("namespaces", "Namespace", false),
                resource("configmaps", "ConfigMap", true),
                resource("secrets", "Secret", true),
            ],
        ),
        "/apis/apps/v1" => (
            "apps/v1",
            vec![
                resource("deployments", "Deployment", true),
                json!({"name": "deployments/status", "singularName": "", "namespaced": true, "kind": "Deployment", "verbs": ["get"]}),
            ],
        ),
        "/apis/batch/v1" => ("batch/v1", vec![resource("jobs", "Job", true)]),
        "/apis/example.com/v1" => ("example.com/v1", vec![resource("widgets", "Widget", true)]),
        _ => return None,
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// A well-behaved API server: applies echo the object back with a uid, deletes start
/// and the object is gone when watched.
fn api_server(request: &Recorded) -> (u16, serde_json::Value) {
    if let Some(document) = discovery(request) {
        return (200, document);
    }
    match request.method.as_str() {
        "PATCH" => {
            let mut object: serde_json::Value =
                serde_json::from_str(&request.body).unwrap_or_default();
            object["metadata"]["uid"] = json!("uid-1");
            object["metadata"]["managedFields"] =
                json!([{"manager": "cairn", "operation": "Apply"}]);
            if object["kind"] == "Secret" {
                // Like the API server: stringData is stored as base64 data.
                object["data"] = json!({"password": "aHVudGVyMg=="});
                object.as_object_mut().map(|o| o.remove("stringData"));
            }
            (200, object)
        }
        "DELETE" => (
            200,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "airflow", "uid": "uid-1",
                         "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["foregroundDeletion"]}}),
        ),
        "GET" if request.query.contains("fieldSelector") => (
            200,
            json!({"apiVersion": "v1", "kind": "List",
            "metadata": {"resourceVersion": "7"}, "items": []}),
        ),
        _ => not_found(),
    }
}

fn not_found() -> (u16, serde_json::Value) {
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                 "message": "the server could not find the requested resource"}),
    )
}

fn identity() -> ResourceIdentity {
    ResourceIdentity {
        stack: "airflow".to_owned(),
        env: "dev".to_owned(),
        address: "kubernetes_object.web".to_owned(),
    }
}

fn deployment_manifest() -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "airflow"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
}

fn config(manifest: serde_json::Value) -> Attrs {
    Attrs::new().with("manifest", Value::from_json(manifest))
}

async fn create(api: &MockApi, config: &Attrs) -> Result<Attrs, ProviderError> {
    let identity = identity();
    api.client
        .create(CreateRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            config,
            timeout: Duration::from_secs(5),
            progress: Progress::noop(),
        })
        .await
}

#[tokio::test]
async fn apply_is_a_server_side_apply_patch_as_cairn() {
    let api = MockApi::new(api_server);
    let attrs = create(&api, &config(deployment_manifest()))
        .await
        .expect("applies");

    let patches = api.requests_to("PATCH");
    assert_eq!(patches.len(), 1);
    let patch = &patches[0];
    assert_eq!(
        patch.path,
        "/apis/apps/v1/namespaces/airflow/deployments/web"
    );
    assert_eq!(patch.query, "&fieldManager=cairn");
    assert!(!patch.query.contains("force"));
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    let sent: serde_json::Value = serde_json::from_str(&patch.body).expect("JSON body");
    assert_eq!(sent, deployment_manifest());

    assert_eq!(
        attrs.opt_str("id").ok().flatten().as_deref(),
        Some("apps/v1/Deployment/airflow/web")
    );
    assert_eq!(
        attrs.opt_str("uid").ok().flatten().as_deref(),
        Some("uid-1")
    );
    let object = attrs.get("object").expect("object recorded");
    assert!(
        object
            .get("metadata")
            .and_then(|m| m.get("managedFields"))
            .is_none()
    );
    assert_eq!(
        attrs.get("manifest"),
        Some(&Value::from_json(deployment_manifest()))
    );
}

#[tokio::test]
async fn force_conflicts_adds_force_true() {
    let api = MockApi::new(api_server);
    create(
        &api,
        &config(deployment_manifest()).with("force_conflicts", true),
    )
    .await
    .expect("applies");
    let patch = &api.requests_to("PATCH")[0];
    assert_eq!(patch.query, "&force=true&fieldManager=cairn");
}

#[tokio::test]
async fn an_update_takes_back_the_fields_the_stack_sets() {
    let api = MockApi::new(api_server);
    let identity = identity();
    let prior = config(deployment_manifest());
    let desired = config(deployment_manifest());
    api.client
        .update(UpdateRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            prior: &prior,
            desired: &desired,
            changed: &["manifest".to_owned()],
            timeout: Duration::from_secs(5),
            progress: Progress::noop(),
        })
        .await
        .expect("applies");
    let patch = &api.requests_to("PATCH")[0];
    assert_eq!(patch.query, "&force=true&fieldManager=cairn");
}

#[tokio::test]
async fn discovery_resolves_plural_and_scope_once_per_api_version() {
    let api = MockApi::new(api_server);
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "airflow"}});
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "airflow"}, "data": {"a": "b"}});
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}});
    create(&api, &config(namespace))
        .await
        .expect("namespace applies");
    create(&api, &config(config_map))
        .await
        .expect("config map applies");
    let attrs = create(&api, &config(widget))
        .await
        .expect("custom resource applies");
    create(&api, &config(deployment_manifest()))
        .await
        .expect("deployment applies");
    let mut second = deployment_manifest();
    second["metadata"]["name"] = json!("web-2");
    create(&api, &config(second))
        .await
        .expect("deployment applies");

    let paths: Vec<String> = api
        .requests_to("PATCH")
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v1/namespaces/airflow",
            "/api/v1/namespaces/airflow/configmaps/c",
            "/apis/example.com/v1/namespaces/default/widgets/w",
            "/apis/apps/v1/namespaces/airflow/deployments/web",
            "/apis/apps/v1/namespaces/airflow/deployments/web-2",
        ]
    );
    assert_eq!(
        attrs.opt_str("id").ok().flatten().as_deref(),
        Some("example.com/v1/Widget/default/w")
    );
    for group_version in ["/api/v1", "/apis/apps/v1"] {
        let discoveries = api
            .requests()
            .into_iter()
            .filter(|r| r.path == group_version)
            .count();
        assert_eq!(
            discoveries, 1,
            "{group_version}: discovery is cached per client, once for all its kinds"
        );
    }
}

/// A read in a new process (a plan after the apply that recorded the objects) goes
/// straight to each object's recorded API resource; only a record without one (from
/// before it was kept) asks discovery.
#[tokio::test]
async fn a_recorded_object_is_read_and_deleted_without_discovery() {
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}});
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "airflow"}});
    let applying = MockApi::new(api_server);
    let mut recorded = Vec::new();
    for manifest in [widget.clone(), namespace.clone()] {
        recorded.push(create(&applying, &config(manifest)).await.expect("applies"));
    }
    let plurals: Vec<Option<String>> = recorded
        .iter()
        .map(|attrs| attrs.opt_str(crate::API_RESOURCE).expect("a string"))
        .collect();
    assert_eq!(
        plurals,
        [Some("widgets".to_owned()), Some("namespaces".to_owned())]
    );

    let planning = MockApi::new(move |request| match request.path.as_str() {
        "/apis/example.com/v1/namespaces/default/widgets/w" if request.method == "GET" => {
            let mut live = widget.clone();
            live["metadata"]["namespace"] = json!("default");
            live["metadata"]["uid"] = json!("uid-w");
            (200, live)
        }
        "/api/v1/namespaces/airflow" if request.method == "GET" => {
            let mut live = namespace.clone();
            live["metadata"]["uid"] = json!("uid-ns");
            (200, live)
        }
        _ => api_server(request),
    });
    let identity = identity();
    for state in &recorded {
        let read = planning
            .client
            .read(ReadRequest {
                type_name: OBJECT_TYPE,
                identity: &identity,
                state,
            })
            .await
            .expect("reads")
            .expect("exists");
        assert_eq!(
            read.get(crate::API_RESOURCE),
            state.get(crate::API_RESOURCE),
            "the read keeps the recorded resource"
        );
    }
    let paths: Vec<String> = planning.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/apis/example.com/v1/namespaces/default/widgets/w",
            "/api/v1/namespaces/airflow",
        ],
        "one GET per object and no discovery"
    );

    let destroying = MockApi::new(api_server);
    destroying
        .client
        .delete(DeleteRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            state: &recorded[0],
            timeout: Duration::from_secs(5),
            progress: Progress::noop(),
        })
        .await
        .expect("deletes");
    let asked: Vec<String> = destroying
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|path| !path.contains("/namespaces/default/widgets"))
        .collect();
    assert!(asked.is_empty(), "the delete asked {asked:?}");
}

#[tokio::test]
async fn namespaced_metadata_on_a_cluster_scoped_kind_is_refused() {
    let api = MockApi::new(api_server);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "b"}});
    let error = create(&api, &config(namespace))
        .await
        .expect_err("refused")
        .to_string();
    assert!(error.contains("cluster-scoped"), "{error}");
    assert!(api.requests_to("PATCH").is_empty());
}

#[tokio::test]
async fn secrets_are_sent_but_never_recorded() {
    let api = MockApi::new(api_server);
    let mut manifest = BTreeMap::new();
    for (key, value) in [("apiVersion", "v1"), ("kind", "Secret")] {
        manifest.insert(key.to_owned(), Value::from(value));
    }
    manifest.insert(
        "metadata".to_owned(),
        Value::from_json(json!({"name": "db", "namespace": "airflow"})),
    );
    manifest.insert(
        "stringData".to_owned(),
        Value::Map(BTreeMap::from([(
            "password".to_owned(),
            Value::from("hunter2").sensitive(),
        )])),
    );
    let attrs = create(&api, &Attrs::new().with("manifest", Value::Map(manifest)))
        .await
        .expect("applies");

    let patch = &api.requests_to("PATCH")[0];
    assert!(
        patch.body.contains("hunter2"),
        "the API server needs the value"
    );
    let recorded = format!("{attrs:?}");
    assert!(
        !recorded.contains("hunter2") && !recorded.contains("aHVudGVyMg"),
        "{recorded}"
    );
    assert!(attrs.get("manifest").is_some_and(Value::contains_sensitive));
}

#[tokio::test]
async fn a_conflict_names_the_other_manager() {
    let api = MockApi::new(|request| {
        if let Some(document) = discovery(request) {
            return (200, document);
        }
        (
            409,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
            "message": "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
            "details": {"name": "web", "group": "apps", "kind": "deployments", "causes": [
                {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using apps/v1", "field": ".spec.replicas"}]}}),
        )
    });
    let error = create(&api, &config(deployment_manifest()))
        .await
        .expect_err("conflict")
        .to_string();
    assert!(
        error.contains("field manager \"kubectl-edit\" owns .spec.replicas"),
        "{error}"
    );
    assert!(error.contains("force_conflicts = true"), "{error}");
}

#[tokio::test]
async fn an_invalid_object_fails_with_the_servers_message() {
    let message = "Deployment.apps \"web\" is invalid: spec.selector: Required value";
    let api = MockApi::new(move |request| {
        if let Some(document) = discovery(request) {
            return (200, document);
        }
        (
            422,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422, "message": message}),
        )
    });
    let error = create(&api, &config(deployment_manifest()))
        .await
        .expect_err("invalid");
    assert!(
        matches!(&error, ProviderError::Api { code: Some(code), .. } if code == "422 Invalid"),
        "{error}"
    );
    assert!(error.to_string().ends_with(message), "{error}");
}

#[tokio::test]
async fn delete_is_foreground_and_waits_until_gone() {
    let api = MockApi::new(api_server);
    let state = config(deployment_manifest())
        .with("id", "apps/v1/Deployment/airflow/web")
        .with("uid", "uid-1");
    let identity = identity();
    api.client
        .delete(DeleteRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            state: &state,
            timeout: Duration::from_secs(5),
            progress: Progress::noop(),
        })
        .await
        .expect("deletes");
    let deletes = api.requests_to("DELETE");
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].path,
        "/apis/apps/v1/namespaces/airflow/deployments/web"
    );
    let body: serde_json::Value = serde_json::from_str(&deletes[0].body).expect("JSON body");
    assert_eq!(body["propagationPolicy"], "Foreground");
    let watched = api
        .requests_to("GET")
        .into_iter()
        .any(|r| r.query.contains("fieldSelector=metadata.name%3Dweb"));
    assert!(watched, "waits for the object to disappear");
}

#[tokio::test]
async fn deleting_what_is_gone_succeeds() {
    let api = MockApi::new(|request| discovery(request).map_or_else(not_found, |d| (200, d)));
    let state = Attrs::new().with("id", "apps/v1/Deployment/airflow/web");
    let identity = identity();
    let result = api
        .client
        .delete(DeleteRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            state: &state,
            timeout: Duration::from_secs(5),
            progress: Progress::noop(),
        })
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(api.requests_to("DELETE").len(), 1);
}

#[tokio::test]
async fn read_projects_onto_the_applied_manifest_and_none_when_gone() {
    let api = MockApi::new(|request| {
        if let Some(document) = discovery(request) {
            return (200, document);
        }
        match request.path.as_str() {
            "/apis/apps/v1/namespaces/airflow/deployments/web" => {
                let mut live = deployment_manifest();
                live["metadata"]["uid"] = json!("uid-1");
                live["metadata"]["managedFields"] = json!([{"manager": "cairn"}]);
                live["spec"]["replicas"] = json!(5);
                live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
                live["status"] = json!({"replicas": 5});
                (200, live)
            }
            _ => not_found(),
        }
    });
    let identity = identity();
    let state = config(deployment_manifest()).with("id", "apps/v1/Deployment/airflow/web");
    let read = api
        .client
        .read(ReadRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            state: &state,
        })
        .await
        .expect("reads")
        .expect("exists");
    let mut expected = deployment_manifest();
    expected["spec"]["replicas"] = json!(5);
    assert_eq!(
        read.get("manifest"),
        Some(&Value::from_json(expected)),
        "only the drifted replicas differ"
    );
    assert_eq!(read.opt_str("uid").ok().flatten().as_deref(), Some("uid-1"));

    let gone = config(json!({})).with("id", "apps/v1/Deployment/airflow/other");
    let read = api
        .client
        .read(ReadRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            state: &gone,
        })
        .await
        .expect("reads");
    assert_eq!(read, None);
}

#[tokio::test]
async fn a_failed_job_fails_the_apply_with_its_reason() {
    let api = MockApi::new(|request| {
        if let Some(document) = discovery(request) {
            return (200, document);
        }
        let mut job: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        job["metadata"]["uid"] = json!("uid-9");
        job["status"] = json!({"failed": 3, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
        (200, job)
    });
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "airflow"},
                     "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "airflow"}]}}}});
    let error = create(&api, &config(job).with("wait", "complete"))
        .await
        .expect_err("job failed")
        .to_string();
    assert_eq!(
        error,
        "job airflow/migrate failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    );
}

#[tokio::test]
async fn a_rollout_that_never_finishes_times_out_with_what_it_saw() {
    let api = MockApi::new(|request| {
        if let Some(document) = discovery(request) {
            return (200, document);
        }
        let mut deployment: serde_json::Value =
            serde_json::from_str(&request.body).unwrap_or_default();
        deployment["metadata"]["generation"] = json!(1);
        deployment["status"] = json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1});
        (200, deployment)
    });
    let identity = identity();
    let config = config(deployment_manifest()).with("wait", "rollout");
    let error = api
        .client
        .create(CreateRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            config: &config,
            timeout: Duration::from_secs(1),
            progress: Progress::noop(),
        })
        .await
        .expect_err("times out");
    match error {
        ProviderError::Timeout {
            what, last_seen, ..
        } => {
            assert_eq!(what, "deployment airflow/web to roll out");
            assert_eq!(
                last_seen,
                "deployment airflow/web: 1/2 replicas available, 2/2 updated"
            );
        }
        other => panic!("expected a timeout, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_api_server_cannot_hang_a_read() {
    let service = tower::service_fn(|_request: Request<Body>| async {
        std::future::pending::<Result<Response<Body>, BoxError>>().await
    });
    let client = KubernetesClient::new(kube::Client::new(service, "default"));
    let identity = identity();
    let state = Attrs::new().with("id", "v1/ConfigMap/airflow/settings");
    let result = client
        .read(ReadRequest {
            type_name: OBJECT_TYPE,
            identity: &identity,
            state: &state,
        })
        .await;
    match result {
        Err(ProviderError::Timeout { what, elapsed, .. }) => {
            assert_eq!(what, "the API server to answer read");
            assert_eq!(elapsed, Duration::from_secs(120));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_custom_kind_is_waited_for_then_a_missing_one_named() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The group is served from the third discovery request on, like a CRD being established.
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let api = MockApi::new(move |request| {
        if request.path == "/apis/example.com/v1" && counter.fetch_add(1, Ordering::SeqCst) < 2 {
            return not_found();
        }
        api_server(request)
    });
    let widget =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    create(&api, &config(widget))
        .await
        .expect("applies once the kind is served");
    assert_eq!(asked.load(Ordering::SeqCst), 3);

    let gadget =
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}});
    let error = create(&api, &config(gadget))
        .await
        .expect_err("never served")
        .to_string();
    assert!(
        error.contains("does not serve kind Gadget in example.com/v1"),
        "{error}"
    );
    assert!(
        api.requests_to("PATCH").len() == 1,
        "nothing is applied for an unknown kind"
    );
}
