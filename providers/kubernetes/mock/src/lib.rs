//! A mock Kubernetes API server that behaves like kube-apiserver v1.28 where cairn depends
//! on it, checked against wire recordings of a real one (`tests/fixtures.rs`).
//!
//! It is a real HTTP/1.1 server on 127.0.0.1, reached through a plain-HTTP kubeconfig with
//! no credentials, so the cairn binary and library use it exactly as a cluster. It does
//! server-side apply with managed fields, conflicts and pruning, the defaults of the
//! built-in kinds, Secrets' `stringData`, resourceVersion and generation, LIST and WATCH,
//! foreground deletion with a garbage collector and a namespace controller, and the error
//! bodies of the real server. Tests act as other clients (kubectl, controllers) through
//! the control API on [`MockServer`].
//!
//! # Overview
//! - `wire`: HTTP/1.1 on TCP, chunked answers and watch streams.
//! - `routes`: API paths to what the server does; the request log.
//! - `store`: objects, the resourceVersion counter, events and watches, the clock.
//! - `api`: apply, updates, deletes, controllers' follow-ups, readiness.
//! - `ssa` and `fields`: structured-merge-diff (managed fields, merge, prune, conflicts).
//! - `schema`: keyed, set and atomic lists and atomic maps of the built-in kinds.
//! - `defaults`: what the server fills in per kind; `quantity`: canonical quantities.
//! - `resources`: the served kinds and discovery documents.
//! - `status`: error bodies.
//! - `server`: the accept loop and delayed controller work.

mod api;
mod defaults;
mod fields;
mod quantity;
mod resources;
mod routes;
mod schema;
mod server;
mod ssa;
mod status;
mod store;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::resources::Resource;
use crate::server::{Fault, Shared};
use crate::store::Key;

/// How the mock's controllers behave.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long after a foreground DELETE the garbage collector removes the object.
    pub delete_delay: Duration,
    /// How long a Terminating namespace takes to empty and go, after the collector.
    pub namespace_delay: Duration,
    /// Mark Deployments, StatefulSets and DaemonSets available and Jobs complete right after
    /// each apply (the apply's own answer still shows the old status), so `wait = "rollout"`
    /// and `"complete"` finish.
    pub auto_ready: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            delete_delay: Duration::from_millis(100),
            namespace_delay: Duration::from_millis(200),
            auto_ready: false,
        }
    }
}

/// One request the server answered.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    /// The HTTP method, e.g. `PATCH`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query, as sent.
    pub query: String,
    /// The request's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The request body.
    pub body: String,
    /// The status of the answer.
    pub status: u16,
}

/// What the control API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The listener or a file could not be used.
    #[error("mock API server: {0}")]
    Io(#[from] std::io::Error),
    /// A target that is not `Kind/namespace/name` or `Kind/name`.
    #[error("`{0}` is not an object reference: use Kind/namespace/name or Kind/name")]
    BadTarget(String),
    /// A kind the mock does not serve.
    #[error("the mock does not serve kind {0}")]
    UnknownKind(String),
    /// The API server's answer to the control call was an error Status.
    #[error("{code}: {message}")]
    Api {
        /// The HTTP status, e.g. 404.
        code: u16,
        /// The Status message.
        message: String,
    },
}

impl From<status::ApiError> for MockError {
    fn from(error: status::ApiError) -> Self {
        MockError::Api {
            code: error.code,
            message: error.body["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// A running mock API server. Dropping it stops the server.
pub struct MockServer {
    shared: Shared,
    address: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server on a free loopback port, on the current tokio runtime.
    pub async fn start(options: Options) -> Result<MockServer, MockError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Shared::new(options, Handle::current());
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(server::serve(listener, shared.clone(), stopped));
        Ok(MockServer {
            shared,
            address,
            stop,
            thread: None,
        })
    }

    /// Starts a server on a thread and runtime of its own: for synchronous tests that
    /// run the cairn binary against it.
    pub fn start_blocking(options: Options) -> Result<MockServer, MockError> {
        let (ready, started) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready.send(Err(MockError::Io(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                let bound = async {
                    let listener = TcpListener::bind("127.0.0.1:0").await?;
                    let address = listener.local_addr()?;
                    Ok::<_, std::io::Error>((listener, address))
                };
                let (listener, address) = match bound.await {
                    Ok(bound) => bound,
                    Err(e) => {
                        let _ = ready.send(Err(MockError::Io(e)));
                        return;
                    }
                };
                let shared = Shared::new(options, Handle::current());
                let (stop, stopped) = watch::channel(false);
                if ready.send(Ok((shared.clone(), address, stop))).is_ok() {
                    server::serve(listener, shared, stopped).await;
                }
            });
        });
        let (shared, address, stop) = started.recv().map_err(|_| {
            MockError::Io(std::io::Error::other("the server thread did not start"))
        })??;
        Ok(MockServer {
            shared,
            address,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A kubeconfig for the server: plain HTTP, no credentials, namespace `default`.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: {}\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: mock\n    namespace: default\ncurrent-context: mock\nusers:\n- name: mock\n  user: {{}}\n",
            self.url()
        )
    }

    /// Writes [`MockServer::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), MockError> {
        std::fs::write(path, self.kubeconfig())?;
        Ok(())
    }

    fn locate(&self, target: &str) -> Result<(Resource, Key), MockError> {
        let parts: Vec<&str> = target.split('/').collect();
        let state = self.shared.lock();
        let resource = |kind: &str| {
            state
                .store
                .registry
                .by_kind(kind)
                .cloned()
                .ok_or_else(|| MockError::UnknownKind(kind.to_owned()))
        };
        match parts.as_slice() {
            [kind, namespace, name] => {
                let resource = resource(kind)?;
                let key = Key::new(&resource, Some(namespace), name);
                Ok((resource, key))
            }
            [kind, name] => {
                let resource = resource(kind)?;
                let key = Key::new(&resource, None, name);
                Ok((resource, key))
            }
            _ => Err(MockError::BadTarget(target.to_owned())),
        }
    }

    /// The stored object (`Kind/namespace/name` or `Kind/name`), managedFields included.
    pub fn object(&self, target: &str) -> Option<Value> {
        let (_, key) = self.locate(target).ok()?;
        self.shared.lock().store.get(&key).cloned()
    }

    /// Every stored object of a kind.
    pub fn objects(&self, kind: &str) -> Vec<Value> {
        let state = self.shared.lock();
        let Some(resource) = state.store.registry.by_kind(kind) else {
            return Vec::new();
        };
        let selector = store::Selector {
            group: resource.group.clone(),
            plural: resource.plural.clone(),
            ..store::Selector::default()
        };
        state
            .store
            .list(&selector)
            .into_iter()
            .map(|(_, object)| object)
            .collect()
    }

    /// The `fieldsV1` of a manager's entry (`operation` Apply or Update), if it has one.
    pub fn managed_fields(&self, target: &str, manager: &str, operation: &str) -> Option<Value> {
        let object = self.object(target)?;
        api::entries(&object)
            .into_iter()
            .find(|e| e.manager == manager && e.operation == operation)
            .map(|e| e.fields.to_json())
    }

    /// The server's latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().store.resource_version()
    }

    fn update(
        &self,
        target: &str,
        manager: &str,
        subresource: Option<&str>,
        timed: bool,
        change: impl FnOnce(&mut Value),
    ) -> Result<Value, MockError> {
        let (resource, key) = self.locate(target)?;
        let mut state = self.shared.lock();
        Ok(api::update_as(
            &mut state.store,
            &resource,
            &key,
            manager,
            subresource,
            timed,
            change,
        )?)
    }

    /// `kubectl scale --replicas=N`: an Update by `kubectl` through the scale
    /// subresource, recorded without a time; it takes `spec.replicas` from its owners.
    pub fn scale(&self, target: &str, replicas: i64) -> Result<Value, MockError> {
        self.update(target, "kubectl", Some("scale"), false, |object| {
            object["spec"]["replicas"] = json!(replicas);
        })
    }

    /// A JSON merge patch by another client (`kubectl patch`, a controller): an Update
    /// by `manager`.
    pub fn patch_as(&self, manager: &str, target: &str, patch: &Value) -> Result<Value, MockError> {
        self.update(target, manager, None, true, |object| {
            api::merge_patch(object, patch);
        })
    }

    /// `kubectl label`: sets one label as `manager`.
    pub fn label_as(
        &self,
        manager: &str,
        target: &str,
        label: &str,
        value: &str,
    ) -> Result<Value, MockError> {
        self.patch_as(
            manager,
            target,
            &json!({"metadata": {"labels": {label: value}}}),
        )
    }

    /// A merge patch through the status subresource (status, and annotations as the
    /// deployment controller writes them), as `manager`.
    pub fn patch_status_as(
        &self,
        manager: &str,
        target: &str,
        patch: &Value,
    ) -> Result<Value, MockError> {
        self.update(target, manager, Some("status"), true, |object| {
            api::merge_patch(object, patch);
        })
    }

    /// Writes the status of a ready workload as `kubectl-patch`, as the recordings did:
    /// a Deployment available with `observedGeneration` caught up, a Job complete.
    pub fn mark_ready(&self, target: &str) -> Result<Value, MockError> {
        let (resource, key) = self.locate(target)?;
        let mut state = self.shared.lock();
        Ok(api::mark_ready(&mut state.store, &resource, &key)?)
    }

    /// Deletes an object at once, as `kubectl delete` of an object without finalizers.
    pub fn delete_by_hand(&self, target: &str) -> Result<(), MockError> {
        let (resource, key) = self.locate(target)?;
        let deleted = {
            let mut state = self.shared.lock();
            api::delete(&mut state.store, &resource, &key, Some("Background"))?
        };
        if let Some(follow_up) = deleted.follow_up {
            self.shared.schedule(follow_up);
        }
        Ok(())
    }

    /// Lets the garbage collector and namespace controller finish with an object now
    /// (a foreground delete completes; a namespace empties and goes), instead of after
    /// the configured delays.
    pub fn settle(&self, target: &str) -> Result<(), MockError> {
        let (_, key) = self.locate(target)?;
        self.shared.settle(&key, true);
        Ok(())
    }

    /// Like [`MockServer::settle`], one controller step at a time: for a namespace, the
    /// collector drops `foregroundDeletion` first, the namespace controller then empties
    /// and removes it.
    pub fn settle_step(&self, target: &str) -> Result<(), MockError> {
        let (_, key) = self.locate(target)?;
        self.shared.settle(&key, false);
        Ok(())
    }

    /// Finishes every pending deletion now.
    pub fn settle_all(&self) {
        self.shared.settle_all();
    }

    /// Sets [`Options::auto_ready`].
    pub fn set_auto_ready(&self, on: bool) {
        self.shared.lock().options.auto_ready = on;
    }

    /// Sets [`Options::delete_delay`].
    pub fn set_delete_delay(&self, delay: Duration) {
        self.shared.lock().options.delete_delay = delay;
    }

    /// Sets [`Options::namespace_delay`].
    pub fn set_namespace_delay(&self, delay: Duration) {
        self.shared.lock().options.namespace_delay = delay;
    }

    /// Stops the server's clock (timestamps are to the second, so re-applies within one
    /// second and after it differ for Secrets with `stringData`).
    pub fn freeze_clock(&self) {
        self.shared.lock().store.clock.freeze();
    }

    /// Moves the server's clock forward by `by`.
    pub fn advance_clock(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or_default();
        self.shared.lock().store.clock.advance(by);
    }

    /// Every request so far, in arrival order of their answers.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// How many requests each method had.
    pub fn request_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for record in self.shared.lock().log.iter() {
            *counts.entry(record.method.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// How many requests had `method`.
    pub fn request_count(&self, method: &str) -> usize {
        self.request_counts().get(method).copied().unwrap_or(0)
    }

    /// The next `times` requests whose path starts with `path` (and of `method`, if
    /// given) fail with `status` and a `Status` body.
    pub fn fail_next(&self, method: Option<&str>, path: &str, status: u16, times: usize) {
        self.shared.lock().faults.push(Fault {
            method: method.map(str::to_owned),
            path: path.to_owned(),
            status,
            remaining: times,
        });
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
