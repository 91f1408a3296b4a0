//! What the mock does beyond the recordings, where kube-apiserver's behaviour decides
//! whether cairn converges: re-applies over time, drift by other managers, pruning,
//! objects deleted by hand, namespaces, watches, readiness and injected failures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::time::Duration;

use cairn_kube_mock::{MockServer, Options};
use http_body_util::BodyExt;
use serde_json::{Value, json};

mod support;

use support::{apply, call};

const SECRETS: &str = "/api/v1/namespaces/default/secrets";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

async fn server() -> MockServer {
    let server = MockServer::start(Options {
        delete_delay: Duration::from_millis(20),
        namespace_delay: Duration::from_millis(20),
        auto_ready: false,
    })
    .await
    .expect("mock starts");
    server.freeze_clock();
    server
}

fn rv(object: &Value) -> &str {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
}

fn secret(value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
           "type": "Opaque", "stringData": {"password": value}})
}

fn deployment(replicas: Option<i64>, annotation: Option<&str>) -> Value {
    let mut object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}
    });
    if let Some(replicas) = replicas {
        object["spec"]["replicas"] = json!(replicas);
    }
    if let Some(annotation) = annotation {
        object["spec"]["template"]["metadata"]["annotations"] =
            json!({"cairn/version": annotation});
    }
    object
}

#[tokio::test]
async fn a_secret_with_string_data_is_rewritten_by_a_reapply_in_a_later_second() {
    let server = server().await;
    let path = format!("{SECRETS}/db");
    let (code, created) = apply(&server, &path, "cairn", false, &secret("s3cret")).await;
    assert_eq!(code, 201);
    let (_, same_second) = apply(&server, &path, "cairn", false, &secret("s3cret")).await;
    assert_eq!(
        rv(&same_second),
        rv(&created),
        "a no-op within the same second"
    );

    // kubernetes/kubernetes#96841: stringData is never stored, so the merged object always
    // differs from the live one and the manager's time is renewed; a second later that
    // is a write.
    server.advance_clock(Duration::from_secs(1));
    let (code, later) = apply(&server, &path, "cairn", false, &secret("s3cret")).await;
    assert_eq!(code, 200);
    assert_ne!(rv(&later), rv(&created), "written again");
    assert_eq!(later["data"], created["data"]);
    assert_eq!(later["metadata"]["uid"], created["metadata"]["uid"]);
    assert_ne!(
        later["metadata"]["managedFields"][0]["time"],
        created["metadata"]["managedFields"][0]["time"]
    );

    // The same values as base64 `data` are a true no-op.
    let data = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                      "type": "Opaque", "data": {"password": later["data"]["password"]}});
    let (_, first) = apply(&server, &path, "cairn", false, &data).await;
    server.advance_clock(Duration::from_secs(1));
    let (_, again) = apply(&server, &path, "cairn", false, &data).await;
    assert_eq!(rv(&again), rv(&first));
}

#[tokio::test]
async fn an_unchanged_deployment_stays_as_it_is_and_a_template_change_is_a_generation() {
    let server = server().await;
    let path = format!("{DEPLOYMENTS}/web");
    let (_, created) = apply(
        &server,
        &path,
        "cairn",
        false,
        &deployment(Some(1), Some("1")),
    )
    .await;
    server.advance_clock(Duration::from_secs(30));
    let (code, again) = apply(
        &server,
        &path,
        "cairn",
        false,
        &deployment(Some(1), Some("1")),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        again, created,
        "same resourceVersion, generation and managedFields time"
    );

    let (_, changed) = apply(
        &server,
        &path,
        "cairn",
        false,
        &deployment(Some(1), Some("2")),
    )
    .await;
    assert_ne!(rv(&changed), rv(&created));
    assert_eq!(changed["metadata"]["generation"], 2);
    assert_eq!(changed["status"], json!({}), "status is the stored one");

    // Dropping the annotation from the manifest removes it: nobody else owns it.
    let (_, dropped) = apply(&server, &path, "cairn", false, &deployment(Some(1), None)).await;
    assert!(
        dropped["spec"]["template"]["metadata"]
            .get("annotations")
            .is_none()
    );
    assert_eq!(dropped["metadata"]["generation"], 3);
}

#[tokio::test]
async fn quantities_read_back_in_canonical_form() {
    let server = server().await;
    let mut web = deployment(Some(1), None);
    web["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": 0.5, "memory": "1024Mi"}, "limits": {"cpu": "1000m"}});
    let (_, applied) = apply(&server, &format!("{DEPLOYMENTS}/web"), "cairn", false, &web).await;
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}})
    );
}

#[tokio::test]
async fn drift_by_kubectl_conflicts_until_forced_and_unowned_fields_stay_theirs() {
    let server = server().await;
    let path = format!("{DEPLOYMENTS}/web");
    apply(&server, &path, "cairn", false, &deployment(Some(1), None)).await;
    server.scale("Deployment/default/web", 5).expect("scaled");
    let scale_entry =
        server.object("Deployment/default/web").expect("exists")["metadata"]["managedFields"][1]
            .clone();
    assert_eq!(
        scale_entry,
        json!({"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1",
               "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"})
    );

    let (code, conflict) = apply(&server, &path, "cairn", false, &deployment(Some(1), None)).await;
    assert_eq!(code, 409);
    assert_eq!(
        conflict["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    // Applying the value the other manager set is no conflict: both own it then.
    let (code, _) = apply(&server, &path, "cairn", false, &deployment(Some(5), None)).await;
    assert_eq!(code, 200);
    let (code, forced) = apply(&server, &path, "cairn", true, &deployment(Some(1), None)).await;
    assert_eq!(code, 200);
    assert_eq!(forced["spec"]["replicas"], 1);
    assert_eq!(
        server.managed_fields("Deployment/default/web", "kubectl", "Update"),
        None,
        "kubectl owns nothing any more"
    );

    // A manifest without replicas leaves them to whoever set them last (an HPA, kubectl).
    server.scale("Deployment/default/web", 3).expect("scaled");
    let (code, left) = apply(&server, &path, "cairn", false, &deployment(None, None)).await;
    assert_eq!(code, 200);
    assert_eq!(left["spec"]["replicas"], 3);

    // A label another manager set is theirs; the same key from cairn with another value
    // conflicts, naming the manager and the time of its update.
    server
        .label_as("kubectl-label", "Deployment/default/web", "team", "data")
        .expect("labelled");
    let mut labelled = deployment(None, None);
    labelled["metadata"]["labels"]["team"] = json!("infra");
    let (code, conflict) = apply(&server, &path, "cairn", false, &labelled).await;
    assert_eq!(code, 409);
    let message = conflict["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "Apply failed with 1 conflict: conflict with \"kubectl-label\" using apps/v1 at "
        ),
        "{message}"
    );
    assert!(message.ends_with(": .metadata.labels.team"), "{message}");
}

#[tokio::test]
async fn a_dry_run_apply_answers_the_result_and_stores_nothing() {
    let server = server().await;
    let path = format!("{DEPLOYMENTS}/web");
    let dry = format!("{path}?&fieldManager=cairn&dryRun=All");
    let patch = Some("application/apply-patch+yaml");
    let (code, would) = call(
        &server,
        "PATCH",
        &dry,
        patch,
        Some(&deployment(Some(1), None)),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(
        would["spec"]["strategy"]["type"], "RollingUpdate",
        "defaulted"
    );
    assert!(server.object("Deployment/default/web").is_none());
    let (_, live) = apply(&server, &path, "cairn", false, &deployment(Some(1), None)).await;
    let (code, would) = call(
        &server,
        "PATCH",
        &dry,
        patch,
        Some(&deployment(Some(2), None)),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(would["spec"]["replicas"], 2);
    assert_eq!(would["metadata"]["generation"], 2);
    assert_eq!(rv(&would), rv(&live));
    assert_eq!(server.object("Deployment/default/web"), Some(live));
}

#[tokio::test]
async fn immutable_fields_are_refused_with_422() {
    let server = server().await;
    let path = format!("{DEPLOYMENTS}/web");
    apply(&server, &path, "cairn", false, &deployment(Some(1), None)).await;
    let mut moved = deployment(Some(1), None);
    moved["spec"]["selector"]["matchLabels"] = json!({"app": "web", "tier": "front"});
    moved["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "tier": "front"});
    let (code, invalid) = apply(&server, &path, "cairn", false, &moved).await;
    assert_eq!(code, 422);
    assert_eq!(
        invalid["message"],
        "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"front\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    );

    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "m", "image": image}]}}}})
    };
    let job_path = "/apis/batch/v1/namespaces/default/jobs/migrate";
    let (code, created) = apply(&server, job_path, "cairn", false, &job("app:1")).await;
    assert_eq!(code, 201);
    let uid = created["metadata"]["uid"].as_str().unwrap_or_default();
    assert_eq!(
        created["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let (code, same) = apply(&server, job_path, "cairn", false, &job("app:1")).await;
    assert_eq!(
        (code, rv(&same)),
        (200, rv(&created)),
        "the generated selector and labels are no change"
    );
    let (code, refused) = apply(&server, job_path, "cairn", false, &job("app:2")).await;
    assert_eq!(code, 422);
    assert_eq!(refused["details"]["causes"][0]["field"], "spec.template");

    let path = format!("{SECRETS}/db");
    apply(&server, &path, "cairn", false, &secret("a")).await;
    let mut tls = secret("a");
    tls["type"] = json!("kubernetes.io/tls");
    let (code, refused) = apply(&server, &path, "cairn", false, &tls).await;
    assert_eq!(code, 422);
    assert_eq!(
        refused["message"],
        "Secret \"db\" is invalid: type: Invalid value: \"kubernetes.io/tls\": field is immutable"
    );
}

#[tokio::test]
async fn an_object_deleted_by_hand_is_gone_and_comes_back_as_another() {
    let server = server().await;
    let path = format!("{SECRETS}/db");
    let (_, first) = apply(&server, &path, "cairn", false, &secret("a")).await;
    server.delete_by_hand("Secret/default/db").expect("deleted");
    let (code, missing) = call(&server, "GET", &path, None, None).await;
    assert_eq!(code, 404);
    assert_eq!(missing["message"], "secrets \"db\" not found");
    let (code, second) = apply(&server, &path, "cairn", false, &secret("a")).await;
    assert_eq!(code, 201);
    assert_ne!(second["metadata"]["uid"], first["metadata"]["uid"]);
}

#[tokio::test]
async fn namespaces_must_exist_and_take_their_objects_with_them() {
    let server = server().await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    let (code, missing) = apply(
        &server,
        "/api/v1/namespaces/team/configmaps/c",
        "cairn",
        false,
        &body,
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(missing["message"], "namespaces \"team\" not found");

    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
    apply(
        &server,
        "/api/v1/namespaces/team",
        "cairn",
        false,
        &namespace,
    )
    .await;
    let (code, _) = apply(
        &server,
        "/api/v1/namespaces/team/configmaps/c",
        "cairn",
        false,
        &body,
    )
    .await;
    assert_eq!(code, 201);
    let (code, terminating) = call(
        &server,
        "DELETE",
        "/api/v1/namespaces/team",
        Some("application/json"),
        Some(&json!({"propagationPolicy": "Foreground"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(terminating["status"]["phase"], "Terminating");
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}});
    let (code, refused) = apply(
        &server,
        "/api/v1/namespaces/team/configmaps/d",
        "cairn",
        false,
        &other,
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(refused["reason"], "Forbidden");

    server.settle("Namespace/team").expect("settles");
    assert!(server.object("Namespace/team").is_none());
    assert!(
        server.object("ConfigMap/team/c").is_none(),
        "its objects went with it"
    );
}

#[tokio::test]
async fn a_watch_from_a_list_sees_the_foreground_delete_finish() {
    let server = server().await;
    let path = format!("{SECRETS}/db");
    apply(&server, &path, "cairn", false, &secret("a")).await;
    let (code, terminating) = call(
        &server,
        "DELETE",
        &path,
        Some("application/json"),
        Some(&json!({"propagationPolicy": "Foreground"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        terminating["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert_eq!(terminating["metadata"]["deletionGracePeriodSeconds"], 0);
    let (_, list) = call(
        &server,
        "GET",
        &format!("{SECRETS}?&fieldSelector=metadata.name%3Ddb&limit=500"),
        None,
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(
        list["items"][0].get("kind").is_none(),
        "list items carry no kind"
    );
    let watch = format!(
        "{SECRETS}?&watch=true&timeoutSeconds=5&fieldSelector=metadata.name%3Ddb&resourceVersion={}",
        rv(&list)
    );
    let response = support::send(support::address(&server), "GET", &watch, None, None).await;
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let mut body = response.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("an event within the delete delay")
        .expect("a frame")
        .expect("data");
    let event: Value = serde_json::from_slice(frame.data_ref().expect("data frame"))
        .expect("one JSON event per line");
    assert_eq!(event["type"], "DELETED");
    assert_eq!(event["object"]["metadata"]["name"], "db");
    assert!(server.object("Secret/default/db").is_none());
}

#[tokio::test]
async fn auto_ready_marks_workloads_after_answering_the_apply() {
    let server = server().await;
    server.set_auto_ready(true);
    let path = format!("{DEPLOYMENTS}/web");
    let (_, applied) = apply(&server, &path, "cairn", false, &deployment(Some(2), None)).await;
    assert_eq!(
        applied["status"],
        json!({}),
        "the apply answers the status as it was"
    );
    let (_, read) = call(&server, "GET", &path, None, None).await;
    assert_eq!(read["status"]["observedGeneration"], 1);
    assert_eq!(read["status"]["availableReplicas"], 2);
    let managers: Vec<&str> = read["metadata"]["managedFields"]
        .as_array()
        .map(|l| l.iter().filter_map(|e| e["manager"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(managers, ["cairn", "kubectl-patch"]);
}

#[tokio::test]
async fn injected_failures_answer_a_status_and_then_stop() {
    let server = server().await;
    server.fail_next(Some("PATCH"), SECRETS, 503, 1);
    let path = format!("{SECRETS}/db");
    let (code, failure) = apply(&server, &path, "cairn", false, &secret("a")).await;
    assert_eq!(code, 503);
    assert_eq!(failure["kind"], "Status");
    let (code, _) = apply(&server, &path, "cairn", false, &secret("a")).await;
    assert_eq!(code, 201);
    assert_eq!(server.request_count("PATCH"), 2);
    let (code, _) = call(&server, "GET", "/apis/example.com/v1", None, None).await;
    assert_eq!(code, 404, "unknown groups are not served");
    let (_, version) = call(&server, "GET", "/version", None, None).await;
    assert_eq!(version["gitVersion"], "v1.28.0");
}

/// `start_blocking` serves from a thread of its own, for synchronous tests that run the
/// cairn binary; `Connection: close` and plain `Content-Length` framing work.
#[test]
fn a_blocking_server_answers_synchronous_clients() {
    use std::io::{Read, Write};

    let server = MockServer::start_blocking(Options::default()).expect("starts");
    let mut stream = std::net::TcpStream::connect(support::address(&server)).expect("connects");
    stream
        .write_all(b"GET /version HTTP/1.1\r\nHost: mock\r\nConnection: close\r\n\r\n")
        .expect("sends");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("reads to the end");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("Content-Type: application/json\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\"gitVersion\":\"v1.28.0\""), "{answer}");
    assert!(
        server
            .kubeconfig()
            .contains(&format!("server: {}", server.url()))
    );
    drop(server);
}
