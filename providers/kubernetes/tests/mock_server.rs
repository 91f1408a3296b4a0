//! The provider's client against the mock API server (`cairn-kube-mock`), configured the
//! way a stack does it: a kubeconfig file pointing at `http://127.0.0.1:PORT`.
//! Create, read, update and delete of a Secret and a Deployment, checked on the server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_kube_mock::{MockServer, Options};
use cairn_provider_core::{
    Attrs, ConfigureRequest, CreateRequest, DeleteRequest, Progress, Provider, ReadRequest,
    ResourceClient, ResourceIdentity, UpdateRequest, Value,
};
use cairn_provider_kubernetes::KubernetesProvider;
use serde_json::json;

const TYPE: &str = "kubernetes_object";
const TIMEOUT: Duration = Duration::from_secs(30);

/// A kubeconfig file that is removed when dropped.
struct Kubeconfig(PathBuf);

impl Drop for Kubeconfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn connect(server: &MockServer) -> (Arc<dyn ResourceClient>, Kubeconfig) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let path = std::env::temp_dir().join(format!(
        "cairn-mock-kubeconfig-{}-{nanos}.yaml",
        std::process::id()
    ));
    server.write_kubeconfig(&path).expect("kubeconfig written");
    let client = KubernetesProvider::new()
        .configure(ConfigureRequest {
            config: Attrs::new().with("kubeconfig", path.display().to_string()),
            stack: "mock".to_owned(),
            env: "test".to_owned(),
        })
        .await
        .expect("the kubeconfig loads");
    (client, Kubeconfig(path))
}

fn identity(name: &str) -> ResourceIdentity {
    ResourceIdentity {
        stack: "mock".to_owned(),
        env: "test".to_owned(),
        address: format!("{TYPE}.{name}"),
    }
}

fn config(manifest: Value) -> Attrs {
    Attrs::new().with("manifest", manifest)
}

fn secret(password: &str) -> Value {
    let mut manifest = Value::from_json(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps"}, "type": "Opaque"
    }));
    if let Value::Map(map) = &mut manifest {
        map.insert(
            "stringData".to_owned(),
            Value::Map(
                [("password".to_owned(), Value::from(password).sensitive())]
                    .into_iter()
                    .collect(),
            ),
        );
    }
    manifest
}

fn deployment(image: &str) -> Value {
    Value::from_json(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}}}
    }))
}

async fn create(client: &dyn ResourceClient, name: &str, config: &Attrs) -> Attrs {
    client
        .create(CreateRequest {
            type_name: TYPE,
            identity: &identity(name),
            config,
            timeout: TIMEOUT,
            progress: Progress::noop(),
        })
        .await
        .unwrap_or_else(|e| panic!("{name} is created: {e}"))
}

async fn update(client: &dyn ResourceClient, name: &str, prior: &Attrs, desired: &Attrs) -> Attrs {
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
        .unwrap_or_else(|e| panic!("{name} is updated: {e}"))
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

async fn delete(client: &dyn ResourceClient, name: &str, state: &Attrs) {
    client
        .delete(DeleteRequest {
            type_name: TYPE,
            identity: &identity(name),
            state,
            timeout: TIMEOUT,
            progress: Progress::noop(),
        })
        .await
        .unwrap_or_else(|e| panic!("{name} is deleted: {e}"));
}

fn text(value: &serde_json::Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_and_a_deployment_go_through_their_lifecycle_on_the_mock() {
    let server = MockServer::start(Options {
        auto_ready: true,
        ..Options::default()
    })
    .await
    .expect("mock starts");
    let (client, _kubeconfig) = connect(&server).await;
    let client = client.as_ref();
    let namespace = config(Value::from_json(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
    ));
    let namespace_state = create(client, "apps", &namespace).await;

    let secret_state = create(client, "db", &config(secret("first"))).await;
    let stored = server.object("Secret/apps/db").expect("the Secret exists");
    assert_eq!(
        stored["data"]["password"], "Zmlyc3Q=",
        "stringData is stored as base64 data"
    );
    assert_eq!(
        server.managed_fields("Secret/apps/db", "cairn", "Apply"),
        Some(json!({"f:stringData": {"f:password": {}}, "f:type": {}}))
    );
    assert_eq!(
        secret_state.opt_str("uid").expect("uid").as_deref(),
        Some(text(&stored, "/metadata/uid").as_str())
    );
    assert!(!format!("{:?}", secret_state.get("object")).contains("Zmlyc3Q"));
    assert!(read(client, "db", &secret_state).await.is_some());

    let secret_state = update(client, "db", &secret_state, &config(secret("second"))).await;
    let updated = server.object("Secret/apps/db").expect("still there");
    assert_eq!(updated["data"]["password"], "c2Vjb25k");
    assert_eq!(
        text(&updated, "/metadata/uid"),
        text(&stored, "/metadata/uid"),
        "updated in place"
    );

    let rollout = |image: &str| config(deployment(image)).with("wait", "rollout");
    let web_state = create(client, "web", &rollout("nginx:1.25")).await;
    let web = server.object("Deployment/apps/web").expect("deployed");
    assert_eq!(web["metadata"]["generation"], 1);
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let web_state = update(client, "web", &web_state, &rollout("nginx:1.27")).await;
    let web = server.object("Deployment/apps/web").expect("deployed");
    assert_eq!(
        web["metadata"]["generation"], 2,
        "a new template is a new generation"
    );
    assert_eq!(
        web["status"]["observedGeneration"], 2,
        "the rollout was waited for"
    );

    // Another client scales it: the read shows the drift on the field cairn set.
    server
        .scale("Deployment/apps/web", 5)
        .expect("kubectl scale");
    let drifted = read(client, "web", &web_state).await.expect("still there");
    let replicas = drifted
        .get("manifest")
        .and_then(Value::expose)
        .and_then(|m| m.pointer("/spec/replicas").cloned());
    assert_eq!(replicas, Some(json!(5)));

    delete(client, "web", &web_state).await;
    assert!(
        server.object("Deployment/apps/web").is_none(),
        "gone after the wait"
    );
    delete(client, "db", &secret_state).await;
    assert!(server.object("Secret/apps/db").is_none());
    assert!(read(client, "db", &secret_state).await.is_none());
    delete(client, "apps", &namespace_state).await;
    assert!(server.object("Namespace/apps").is_none());

    let requests = server.requests();
    let applies: Vec<_> = requests.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(applies.len(), 5);
    for apply in applies {
        assert_eq!(
            apply.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        assert!(
            apply.query.contains("fieldManager=cairn"),
            "{}",
            apply.query
        );
    }
    for delete in requests.iter().filter(|r| r.method == "DELETE") {
        assert!(
            delete.body.contains("\"propagationPolicy\":\"Foreground\""),
            "{}",
            delete.body
        );
    }
}
