//! Conformance: the wire recordings of a real kube-apiserver v1.28 (`fixtures/kube-1.28`,
//! see its README) replayed against the mock, over HTTP, phase by phase.
//!
//! Each recorded request is sent as recorded; the answer must have the recorded status
//! code, content type and body, modulo what differs between two servers: uids (matched
//! one to one, so a re-created object must get a new one), timestamps, cluster IPs and
//! concrete resourceVersions. For resourceVersions the relation must hold instead: an
//! object's version changes exactly when it changed in the recording. What other clients
//! did between recorded requests (controllers, `kubectl scale`, marking workloads ready)
//! is done through the control API, read off the recorded answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use cairn_kube_mock::{MockServer, Options};
use http_body_util::BodyExt;
use serde_json::{Value, json};

mod support;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/kube-1.28");

/// One recorded request and its answer.
#[derive(Debug)]
struct Exchange {
    label: String,
    method: String,
    path: String,
    query: String,
    content_type: Option<String>,
    body: Option<Value>,
    status: u16,
    content_type_back: String,
    response: Value,
}

impl Exchange {
    fn from_json(label: String, raw: &Value) -> Exchange {
        let text = |key: &str| raw[key].as_str().unwrap_or_default().to_owned();
        Exchange {
            label,
            method: text("method"),
            path: text("path"),
            query: text("query"),
            content_type: raw["request_headers"]["Content-Type"]
                .as_str()
                .map(str::to_owned),
            body: Some(raw["request_body"].clone()).filter(|b| !b.is_null()),
            status: raw["response_status"].as_u64().unwrap_or_default() as u16,
            content_type_back: text("response_content_type"),
            response: raw["response_body"].clone(),
        }
    }

    fn is_watch(&self) -> bool {
        self.query.contains("watch=true")
    }

    /// The object's name from `fieldSelector=metadata.name%3D...`.
    fn selected_name(&self) -> Option<String> {
        let start = self.query.find("metadata.name%3D")? + "metadata.name%3D".len();
        let rest = &self.query[start..];
        Some(rest.split('&').next().unwrap_or(rest).to_owned())
    }

    /// The control API's name for the object the request is about.
    fn target(&self) -> Option<String> {
        let segments: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let rest = match segments.as_slice() {
            ["api", _, rest @ ..] => rest,
            ["apis", _, _, rest @ ..] => rest,
            _ => return None,
        };
        let (namespace, plural, name) = match rest {
            ["namespaces", ns, plural, name] => (Some(*ns), *plural, name.to_string()),
            ["namespaces", ns, plural] => (Some(*ns), *plural, self.selected_name()?),
            [plural, name] => (None, *plural, name.to_string()),
            [plural] => (None, *plural, self.selected_name()?),
            _ => return None,
        };
        let kind = kind_of(plural)?;
        Some(match namespace {
            Some(ns) => format!("{kind}/{ns}/{name}"),
            None => format!("{kind}/{name}"),
        })
    }

    /// What identifies an object across answers: its collection and name.
    fn identity(&self, object: &Value) -> String {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let kind = if kind.is_empty() {
            self.response["kind"]
                .as_str()
                .unwrap_or_default()
                .trim_end_matches("List")
        } else {
            kind
        };
        format!("{kind}/{namespace}/{name}")
    }
}

fn kind_of(plural: &str) -> Option<&'static str> {
    Some(match plural {
        "namespaces" => "Namespace",
        "secrets" => "Secret",
        "configmaps" => "ConfigMap",
        "serviceaccounts" => "ServiceAccount",
        "services" => "Service",
        "deployments" => "Deployment",
        "jobs" => "Job",
        "roles" => "Role",
        "rolebindings" => "RoleBinding",
        "clusterroles" => "ClusterRole",
        "clusterrolebindings" => "ClusterRoleBinding",
        _ => return None,
    })
}

fn load_phase(file: &str) -> Vec<Exchange> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).expect("fixture readable");
    text.lines()
        .map(|line| {
            let raw: Value = serde_json::from_str(line).expect("fixture line is JSON");
            Exchange::from_json(format!("{file}:{}", raw["seq"]), &raw)
        })
        .collect()
}

fn load_canonical() -> Vec<Exchange> {
    let mut files: Vec<_> = std::fs::read_dir(format!("{FIXTURES}/canonical"))
        .expect("canonical fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let raw: Value =
                serde_json::from_str(&std::fs::read_to_string(path).expect("readable"))
                    .expect("JSON");
            let label = format!("canonical/{}", raw["name"].as_str().unwrap_or_default());
            Exchange::from_json(label, &raw)
        })
        .collect()
}

/// What the mock answered.
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

async fn send(address: SocketAddr, exchange: &Exchange) -> hyper::Response<hyper::body::Incoming> {
    let uri = if exchange.query.is_empty() {
        exchange.path.clone()
    } else {
        format!("{}?{}", exchange.path, exchange.query)
    };
    support::send(
        address,
        &exchange.method,
        &uri,
        exchange.content_type.as_deref(),
        exchange.body.as_ref(),
    )
    .await
}

fn content_type(response: &hyper::Response<hyper::body::Incoming>) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn call(address: SocketAddr, exchange: &Exchange) -> Answer {
    let response = send(address, exchange).await;
    let status = response.status().as_u16();
    let content_type = content_type(&response);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        content_type,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A watch: reads events until as many as recorded came (the client then hung up), with
/// the object's deletion finished by the controllers once the stream is open.
async fn call_watch(server: &MockServer, address: SocketAddr, exchange: &Exchange) -> Answer {
    let response = send(address, exchange).await;
    let status = response.status().as_u16();
    let content_type = content_type(&response);
    if let Some(target) = exchange.target() {
        server.settle(&target).expect("settles");
    }
    let wanted = exchange.response["$watch_events"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    let mut body = response.into_body();
    let mut buffer = Vec::new();
    let mut events = Vec::new();
    while events.len() < wanted {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame()).await;
        let Ok(Some(Ok(frame))) = frame else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            buffer.extend_from_slice(&data);
        }
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            events.push(serde_json::from_slice::<Value>(&line).unwrap_or(Value::Null));
        }
    }
    Answer {
        status,
        content_type,
        body: json!({"$watch_events": events}),
    }
}

/// A workload whose recorded status says a controller (or `kubectl patch`) made it
/// ready for its current generation.
fn recorded_ready(object: &Value) -> bool {
    match object["kind"].as_str() {
        Some("Deployment") => {
            object["status"]["observedGeneration"] == object["metadata"]["generation"]
                && object["status"]["availableReplicas"] == object["spec"]["replicas"]
        }
        Some("Job") => object["status"]["succeeded"] == json!(1),
        _ => false,
    }
}

fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e["manager"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 20 && bytes[4] == b'-' && bytes[10] == b'T' && bytes[19] == b'Z'
}

/// The replay: the mock, and what is known so far about both servers' objects.
struct Replay {
    server: MockServer,
    /// Recorded uid to the mock's.
    uids: HashMap<String, String>,
    /// Last resourceVersion of each object, recorded and the mock's.
    versions: HashMap<String, (String, String)>,
    problems: Vec<String>,
    exchanges: usize,
    /// How far the clock moves between requests.
    tick: Duration,
}

impl Replay {
    async fn new(tick: Duration) -> Replay {
        let server = MockServer::start(Options {
            // The controllers act when the replay says so (`settle`), as the recording shows.
            delete_delay: Duration::from_secs(3600),
            namespace_delay: Duration::from_secs(3600),
            auto_ready: false,
        })
        .await
        .expect("mock starts");
        server.freeze_clock();
        Replay {
            server,
            uids: HashMap::new(),
            versions: HashMap::new(),
            problems: Vec::new(),
            exchanges: 0,
            tick,
        }
    }

    fn address(&self) -> SocketAddr {
        support::address(&self.server)
    }

    /// Objects a recorded answer holds.
    fn objects(body: &Value) -> Vec<Value> {
        if let Some(events) = body["$watch_events"].as_array() {
            return events.iter().map(|e| e["object"].clone()).collect();
        }
        if let Some(items) = body["items"].as_array() {
            return items.clone();
        }
        if body["kind"] != json!("Status") && body["metadata"]["name"].is_string() {
            return vec![body.clone()];
        }
        Vec::new()
    }

    /// What other clients did before this request, read off its recorded answer.
    fn act_like_others(&mut self, exchange: &Exchange) {
        let Some(target) = exchange.target() else {
            return;
        };
        let recorded = &exchange.response;
        let live = self.server.object(&target);
        if exchange.method == "GET" && exchange.status == 404 && live.is_some() {
            self.server.settle(&target).expect("settles");
            return;
        }
        if exchange.method == "GET"
            && !exchange.is_watch()
            && recorded["items"].as_array().is_some_and(Vec::is_empty)
            && live.is_some()
        {
            self.server.settle(&target).expect("settles");
            return;
        }
        if exchange.method != "GET" || exchange.is_watch() {
            return;
        }
        for object in Self::objects(recorded) {
            let live = self.server.object(&target).unwrap_or_default();
            let terminating = object["metadata"]["deletionTimestamp"].is_string();
            if terminating
                && object["metadata"]["finalizers"].is_null()
                && !live["metadata"]["finalizers"].is_null()
            {
                self.server.settle_step(&target).expect("settles a step");
            }
            let mut object = object;
            if object["kind"].is_null() {
                object["kind"] = json!(target.split('/').next().unwrap_or_default());
            }
            if recorded_ready(&object) && managers(&object).contains(&"kubectl-patch".to_owned()) {
                self.server.mark_ready(&target).expect("marks ready");
            }
            if managers(&object).contains(&"kube-controller-manager".to_owned())
                && !managers(&live).contains(&"kube-controller-manager".to_owned())
                && object["kind"] == json!("Deployment")
            {
                let patch = json!({
                    "metadata": {"annotations": object["metadata"]["annotations"].clone()},
                    "status": object["status"].clone(),
                });
                self.server
                    .patch_status_as("kube-controller-manager", &target, &patch)
                    .expect("controller writes status");
            }
        }
    }

    async fn run(&mut self, exchanges: &[Exchange]) {
        for exchange in exchanges {
            self.server.advance_clock(self.tick);
            self.act_like_others(exchange);
            let answer = if exchange.is_watch() {
                let address = self.address();
                call_watch(&self.server, address, exchange).await
            } else {
                call(self.address(), exchange).await
            };
            self.check(exchange, &answer);
            self.exchanges += 1;
        }
    }

    fn problem(&mut self, exchange: &Exchange, text: String) {
        self.problems.push(format!(
            "{} {} {}: {text}",
            exchange.label, exchange.method, exchange.path
        ));
    }

    fn check(&mut self, exchange: &Exchange, answer: &Answer) {
        if answer.status != exchange.status {
            let text = format!(
                "status {} (recorded {}): {}",
                answer.status, exchange.status, answer.body
            );
            self.problem(exchange, text);
            return;
        }
        if answer.content_type != exchange.content_type_back {
            let text = format!(
                "content type {} (recorded {})",
                answer.content_type, exchange.content_type_back
            );
            self.problem(exchange, text);
        }
        let recorded_objects = Self::objects(&exchange.response);
        let objects = Self::objects(&answer.body);
        for (recorded, actual) in recorded_objects.iter().zip(&objects) {
            self.check_version(exchange, recorded, actual);
        }
        let mut recorded = exchange.response.clone();
        if let Some(map) = recorded.as_object_mut() {
            map.remove("$events_total");
            map.remove("$events_truncated");
            map.remove("$stream_end");
        }
        let mut differences = Vec::new();
        self.compare("", &recorded, &answer.body, &mut differences);
        for difference in differences {
            self.problem(exchange, difference);
        }
    }

    /// An object's resourceVersion changes in the mock exactly when it did in the recording.
    fn check_version(&mut self, exchange: &Exchange, recorded: &Value, actual: &Value) {
        let version = |o: &Value| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let identity = exchange.identity(recorded);
        let (recorded_rv, actual_rv) = (version(recorded), version(actual));
        if let Some((last_recorded, last_actual)) = self.versions.get(&identity) {
            let changed_recorded = *last_recorded != recorded_rv;
            let changed_actual = *last_actual != actual_rv;
            if changed_recorded != changed_actual {
                let text = format!(
                    "{identity}: resourceVersion {} in the mock but {} in the recording",
                    if changed_actual { "changed" } else { "kept" },
                    if changed_recorded { "changed" } else { "kept" },
                );
                self.problem(exchange, text);
            }
        }
        self.versions.insert(identity, (recorded_rv, actual_rv));
    }

    fn compare(&mut self, path: &str, recorded: &Value, actual: &Value, out: &mut Vec<String>) {
        let key = path.rsplit('.').next().unwrap_or_default();
        match (recorded, actual) {
            (Value::Object(a), Value::Object(b)) => {
                for name in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                    let child = format!("{path}.{name}");
                    match (a.get(name), b.get(name)) {
                        (Some(x), Some(y)) => self.compare(&child, x, y, out),
                        (Some(x), None) => out.push(format!("{child} missing (recorded {x})")),
                        (None, Some(y)) => out.push(format!("{child} not recorded (mock {y})")),
                        (None, None) => {}
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                if a.len() != b.len() {
                    out.push(format!(
                        "{path}: {} items (recorded {}): {actual}",
                        b.len(),
                        a.len()
                    ));
                    return;
                }
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    self.compare(&format!("{path}[{i}]"), x, y, out);
                }
            }
            (Value::String(a), Value::String(b)) => {
                if key == "resourceVersion" || key == "clusterIP" || path.contains(".clusterIPs[") {
                    return;
                }
                if is_timestamp(a) && is_timestamp(b) {
                    return;
                }
                if key == "uid" && !self.uids.contains_key(a) {
                    if self.uids.values().any(|v| v == b) {
                        out.push(format!("{path}: uid {b} reused for another object"));
                    }
                    self.uids.insert(a.clone(), b.clone());
                    return;
                }
                let expected = self.uids.get(a).unwrap_or(a);
                if expected != b {
                    out.push(format!("{path}: {b:?} (recorded {a:?})"));
                }
            }
            (a, b) if a != b => out.push(format!("{path}: {b} (recorded {a})")),
            _ => {}
        }
    }

    fn finish(self) {
        assert!(self.exchanges > 0, "nothing was replayed");
        assert!(
            self.problems.is_empty(),
            "{} of {} exchanges differ from the recording:\n{}",
            self.problems.len(),
            self.exchanges,
            self.problems.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_airflow_stack_recordings_replay_against_the_mock() {
    // Requests a second apart, as over the recorded minutes.
    let mut replay = Replay::new(Duration::from_secs(1)).await;
    for phase in ["apply.jsonl", "plan-refresh.jsonl", "reapply.jsonl"] {
        replay.run(&load_phase(phase)).await;
    }
    // Not recorded: `kubectl -n airflow scale deploy airflow-scheduler --replicas=5`.
    replay
        .server
        .scale("Deployment/airflow/airflow-scheduler", 5)
        .expect("scales");
    for phase in ["drift-plan.jsonl", "drift-apply-409.jsonl"] {
        replay.run(&load_phase(phase)).await;
    }
    // Not recorded: `kubectl scale --replicas=1` removed the drift.
    replay
        .server
        .scale("Deployment/airflow/airflow-scheduler", 1)
        .expect("scales back");
    for phase in ["config-change.jsonl", "destroy.jsonl"] {
        replay.run(&load_phase(phase)).await;
    }
    replay.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canonical_exchanges_replay_against_the_mock() {
    // Recorded within seconds: the Secret's re-apply (04) in the second it was made (02).
    let mut replay = Replay::new(Duration::ZERO).await;
    let exchanges = load_canonical();
    assert_eq!(exchanges.len(), 15);
    replay.run(&exchanges).await;
    replay.finish();
}
