//! End-to-end tests against a real API server (kind, k3d, minikube, EKS, or the bare
//! kube-apiserver + controller manager of a CI job), named by `CAIRN_TEST_KUBECONFIG` when
//! the tests are built. Without it they are reported as ignored (`build.rs` sets
//! `cfg(cairn_test_kubeconfig)`). Every test works in a namespace of its own and deletes it
//! at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_provider_core::{
    Attrs, ConfigureRequest, CreateRequest, DeleteRequest, Progress, Provider, ProviderError,
    ReadRequest, ResourceClient, ResourceIdentity, UpdateRequest, Value,
};
use cairn_provider_kubernetes::KubernetesProvider;
use serde_json::json;

const TYPE: &str = "kubernetes_object";
const TIMEOUT: Duration = Duration::from_secs(180);

async fn cluster() -> Arc<dyn ResourceClient> {
    let kubeconfig = std::env::var("CAIRN_TEST_KUBECONFIG")
        .expect("CAIRN_TEST_KUBECONFIG names a kubeconfig (kind, k3d, minikube or EKS)");
    let request = ConfigureRequest {
        config: Attrs::new().with("kubeconfig", kubeconfig),
        stack: "e2e".to_owned(),
        env: "test".to_owned(),
    };
    KubernetesProvider::new()
        .configure(request)
        .await
        .expect("the kubeconfig loads")
}

fn unique_namespace(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("cairn-e2e-{prefix}-{}-{nanos}", std::process::id())
}

fn identity(name: &str) -> ResourceIdentity {
    ResourceIdentity {
        stack: "e2e".to_owned(),
        env: "test".to_owned(),
        address: format!("{TYPE}.{name}"),
    }
}

/// What the engine writes to state: every secret replaced by a hash.
fn redact(value: &Value) -> Value {
    match value {
        Value::Sensitive(_) => Value::SensitiveHash("hash".to_owned()),
        Value::Map(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), redact(v))).collect()),
        Value::List(items) => Value::List(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn recorded(attrs: &Attrs) -> Attrs {
    Attrs(
        attrs
            .0
            .iter()
            .map(|(k, v)| (k.clone(), redact(v)))
            .collect(),
    )
}

async fn create(
    client: &dyn ResourceClient,
    name: &str,
    config: &Attrs,
) -> Result<Attrs, ProviderError> {
    client
        .create(CreateRequest {
            type_name: TYPE,
            identity: &identity(name),
            config,
            timeout: TIMEOUT,
            progress: Progress::noop(),
        })
        .await
}

async fn update(
    client: &dyn ResourceClient,
    name: &str,
    prior: &Attrs,
    desired: &Attrs,
) -> Result<Attrs, ProviderError> {
    client
        .update(UpdateRequest {
            type_name: TYPE,
            identity: &identity(name),
            prior,
            desired,
            changed: &["manifest".to_owned()],
            timeout: TIMEOUT,
            progress: Progress::noop(),
        })
        .await
}

async fn read(client: &dyn ResourceClient, name: &str, state: &Attrs) -> Option<Attrs> {
    client
        .read(ReadRequest {
            type_name: TYPE,
            identity: &identity(name),
            state,
        })
        .await
        .expect("reads")
}

async fn delete(
    client: &dyn ResourceClient,
    name: &str,
    state: &Attrs,
) -> Result<(), ProviderError> {
    client
        .delete(DeleteRequest {
            type_name: TYPE,
            identity: &identity(name),
            state,
            timeout: TIMEOUT,
            progress: Progress::noop(),
        })
        .await
}

fn object(manifest: Value) -> Attrs {
    Attrs::new().with("manifest", manifest)
}

/// Deletes the test namespace whatever happened before.
async fn remove_namespace(client: &dyn ResourceClient, namespace: &str) {
    let state = Attrs::new().with("id", format!("v1/Namespace//{namespace}"));
    if let Err(e) = delete(client, "namespace", &state).await {
        eprintln!("cleanup of namespace {namespace} failed: {e}");
    }
}

/// The Airflow stack's kinds, each in a first and a second version.
fn airflow_objects(ns: &str) -> Vec<(&'static str, Value, Value)> {
    let plain = |v: serde_json::Value| Value::from_json(v);
    let secret = |password: &str| {
        let mut manifest = BTreeMap::from([
            ("apiVersion".to_owned(), Value::from("v1")),
            ("kind".to_owned(), Value::from("Secret")),
            (
                "metadata".to_owned(),
                plain(json!({"name": "airflow-db", "namespace": ns})),
            ),
            ("type".to_owned(), Value::from("Opaque")),
        ]);
        manifest.insert(
            "stringData".to_owned(),
            Value::Map(BTreeMap::from([
                ("password".to_owned(), Value::from(password).sensitive()),
                ("user".to_owned(), Value::from("airflow").sensitive()),
            ])),
        );
        Value::Map(manifest)
    };
    let service_account = |role: &str| {
        plain(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "airflow-worker", "namespace": ns,
                         "annotations": {"eks.amazonaws.com/role-arn": format!("arn:aws:iam::123456789012:role/{role}")}}}))
    };
    let config_map = |executor: &str| {
        plain(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "airflow-config", "namespace": ns},
            "data": {"AIRFLOW__CORE__EXECUTOR": executor, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}}),
        )
    };
    let role = |verbs: Vec<&str>| {
        plain(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "pod-launcher", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": verbs}]}),
        )
    };
    let binding = |label: &str| {
        plain(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "pod-launcher", "namespace": ns, "labels": {"tier": label}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-launcher"},
            "subjects": [{"kind": "ServiceAccount", "name": "airflow-worker", "namespace": ns}]}),
        )
    };
    let deployment = |replicas: i64| {
        plain(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "scheduler", "namespace": ns, "labels": {"app": "scheduler"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "scheduler"}},
                     "template": {"metadata": {"labels": {"app": "scheduler"}},
                                  "spec": {"serviceAccountName": "airflow-worker",
                                           "containers": [{"name": "scheduler", "image": "apache/airflow:2.10.5",
                                                           "args": ["scheduler"],
                                                           "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}}]}}}}))
    };
    let service = |port: i64| {
        plain(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": ns},
            "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": port, "targetPort": 8080}]}}),
        )
    };
    vec![
        (
            "service_account",
            service_account("airflow-worker"),
            service_account("airflow-worker-v2"),
        ),
        (
            "secret",
            secret("first-password"),
            secret("second-password"),
        ),
        (
            "config_map",
            config_map("KubernetesExecutor"),
            config_map("LocalExecutor"),
        ),
        (
            "role",
            role(vec!["get", "list"]),
            role(vec!["get", "list", "watch", "create", "delete"]),
        ),
        ("role_binding", binding("a"), binding("b")),
        ("deployment", deployment(1), deployment(2)),
        ("service", service(8080), service(80)),
    ]
}

/// The plan's view: the read-back manifest says the same as the configured one.
fn assert_no_drift(what: &str, read: &Attrs, config: &Value) {
    let read_manifest = read.get("manifest").expect("read returns a manifest");
    assert_eq!(read_manifest.expose(), config.expose(), "{what} drifted");
    assert_eq!(
        read_manifest.contains_sensitive(),
        config.contains_sensitive(),
        "{what}: sensitivity kept"
    );
    let object = format!("{:?}", read.get("object"));
    assert!(
        !object.contains("-password"),
        "{what}: a secret reached the object attribute"
    );
}

#[tokio::test]
#[cfg_attr(
    not(cairn_test_kubeconfig),
    ignore = "needs a cluster: set CAIRN_TEST_KUBECONFIG to its kubeconfig"
)]
async fn airflow_objects_apply_read_update_delete() {
    let client = cluster().await;
    let client = client.as_ref();
    let ns = unique_namespace("objects");
    let namespace = Value::from_json(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": "data"}}}),
    );
    let namespace_state = recorded(
        &create(client, "namespace", &object(namespace.clone()))
            .await
            .expect("namespace applies"),
    );
    assert_no_drift(
        "namespace",
        &read(client, "namespace", &namespace_state)
            .await
            .expect("exists"),
        &namespace,
    );

    let outcome = async {
        let mut states = Vec::new();
        for (name, first, second) in airflow_objects(&ns) {
            let created = create(client, name, &object(first.clone()))
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            assert!(
                created.opt_str("uid").ok().flatten().is_some(),
                "{name} has a uid"
            );
            let state = recorded(&created);
            assert!(!format!("{state:?}").contains("first-password"));
            let live = read(client, name, &state)
                .await
                .ok_or(format!("{name} is not there after create"))?;
            assert_no_drift(name, &live, &first);

            let updated = update(client, name, &state, &object(second.clone()))
                .await
                .map_err(|e| format!("{name} update: {e}"))?;
            let state = recorded(&updated);
            let live = read(client, name, &state)
                .await
                .ok_or(format!("{name} is not there after update"))?;
            assert_no_drift(name, &live, &second);
            assert_ne!(
                live.get("manifest").and_then(Value::expose),
                first.expose(),
                "{name} changed"
            );
            states.push((name, state));
        }
        for (name, state) in states.iter().rev() {
            delete(client, name, state)
                .await
                .map_err(|e| format!("{name} delete: {e}"))?;
            if read(client, name, state).await.is_some() {
                return Err(format!("{name} is still there after delete"));
            }
        }
        Ok::<(), String>(())
    }
    .await;

    let namespace_deleted = delete(client, "namespace", &namespace_state).await;
    if outcome.is_err() {
        remove_namespace(client, &ns).await;
    }
    outcome.expect("every object goes through its lifecycle");
    namespace_deleted.expect("the namespace is deleted");
    assert!(
        read(client, "namespace", &namespace_state).await.is_none(),
        "the namespace is gone"
    );
    assert!(
        delete(client, "namespace", &namespace_state).await.is_ok(),
        "deleting it again succeeds"
    );
}

#[tokio::test]
#[cfg_attr(
    not(cairn_test_kubeconfig),
    ignore = "needs a cluster: set CAIRN_TEST_KUBECONFIG to its kubeconfig"
)]
async fn an_invalid_deployment_fails_with_the_servers_message() {
    let client = cluster().await;
    let client = client.as_ref();
    let ns = unique_namespace("invalid");
    let namespace = Value::from_json(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    );
    create(client, "namespace", &object(namespace))
        .await
        .expect("namespace applies");
    let no_selector = Value::from_json(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bad", "namespace": ns},
        "spec": {"template": {"metadata": {"labels": {"app": "bad"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}));
    let result = create(client, "bad", &object(no_selector)).await;
    remove_namespace(client, &ns).await;
    let error = result.expect_err("the API server rejects it").to_string();
    assert!(
        error.contains("Deployment.apps \"bad\" is invalid"),
        "{error}"
    );
    assert!(error.contains("spec.selector"), "{error}");
    assert!(error.contains("422"), "{error}");
}

#[tokio::test]
#[cfg_attr(
    not(cairn_test_kubeconfig),
    ignore = "needs a cluster: set CAIRN_TEST_KUBECONFIG to its kubeconfig"
)]
async fn a_conflict_names_the_other_manager_until_forced() {
    let client = cluster().await;
    let client = client.as_ref();
    let ns = unique_namespace("conflict");
    let namespace = Value::from_json(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    );
    create(client, "namespace", &object(namespace))
        .await
        .expect("namespace applies");
    let config_map = |value: &str| {
        Value::from_json(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "shared", "namespace": ns}, "data": {"key": value}}))
    };
    let outcome = async {
        create(client, "shared", &object(config_map("cairn"))).await.map_err(|e| e.to_string())?;
        let kube = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(std::env::var("CAIRN_TEST_KUBECONFIG").unwrap_or_default())
                    .map_err(|e| e.to_string())?,
                &Default::default(),
            )
            .await
            .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(kube, &ns);
        let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"key": "theirs"}});
        api.patch("shared", &kube::api::PatchParams::apply("e2e-other").force(), &kube::api::Patch::Apply(&theirs))
            .await
            .map_err(|e| e.to_string())?;
        let conflict = create(client, "shared", &object(config_map("cairn-again"))).await;
        let forced = create(client, "shared", &object(config_map("cairn-again")).with("force_conflicts", true)).await;
        Ok::<_, String>((conflict, forced))
    }
    .await;
    remove_namespace(client, &ns).await;
    let (conflict, forced) = outcome.expect("setup works");
    let error = conflict
        .expect_err("another manager owns data.key")
        .to_string();
    assert!(error.contains("\"e2e-other\""), "{error}");
    assert!(error.contains(".data.key"), "{error}");
    assert!(error.contains("force_conflicts = true"), "{error}");
    forced.expect("force_conflicts takes the field over");
}
