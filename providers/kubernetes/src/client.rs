//! [`KubernetesClient`]: the configured provider, doing the calls for `kubernetes_object`.
//!
//! Owns the API calls: discovery of an apiVersion and kind (cached per client, so any kind
//! the API server serves works, CRDs included, whatever Kubernetes version the compiled-in
//! types describe; an object's reads and delete use the API resource recorded with it, and
//! ask nothing), server-side apply as field manager `cairn`, reads projected onto the
//! applied manifest, foreground deletes that wait until the object is gone, adoption and
//! import. What a manifest means offline is `manifest.rs`; readiness is `wait.rs`.
//! Request bodies may hold secrets: they are built here and never logged.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use cairn_provider_core::{
    Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest, Progress, ProviderError,
    ReadDataRequest, ReadRequest, ResourceClient, UpdateRequest, Value,
};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::{self, ApiResource, Scope};
use kube::runtime::wait::{await_condition, conditions};
use tokio::time::Instant;

use crate::manifest::{self, ObjectRef};
use crate::wait::{self, WaitFor};
use crate::{API_RESOURCE, OBJECT_TYPE, error};

/// The field manager cairn applies as; other managers' fields are theirs.
pub(crate) const FIELD_MANAGER: &str = "cairn";

/// How long a create or update keeps asking for a kind the API server does not serve yet:
/// a CRD applied just before its first custom resource takes a few seconds to be served.
const NEW_KIND_GRACE: Duration = Duration::from_secs(30);

const DISCOVERY_RETRY: Duration = Duration::from_secs(2);

/// The limit of calls that come with no timeout of their own (read, find, import): a few
/// GETs, which an API server answers in well under a second.
const READ_LIMIT: Duration = Duration::from_secs(120);

/// Creates, updates and deletes stop their own waits at the engine's timeout and say what
/// they saw; the backstop around the whole call fires only if a call hangs past that.
const BACKSTOP_GRACE: Duration = Duration::from_secs(5);

/// One object, located: its API resource, its API and its namespace as resolved against
/// the kind's scope.
struct Target {
    object: ObjectRef,
    resource: ApiResource,
    api: Api<DynamicObject>,
}

/// A configured Kubernetes provider for one cluster.
pub(crate) struct KubernetesClient {
    client: kube::Client,
    /// The kinds each apiVersion serves, from one discovery call per apiVersion (a refresh
    /// of objects of many kinds in few API groups asks each group once). Only successes are
    /// kept, and a kind missing from a kept list is asked for again, so a kind that
    /// appears later (a new CRD) is found on the next call.
    kinds: Mutex<HashMap<String, Vec<(ApiResource, Scope)>>>,
    /// Held while asking the API server, so that concurrent reads of kinds of one
    /// apiVersion wait for one answer instead of each asking.
    discovering: tokio::sync::Mutex<()>,
}

impl KubernetesClient {
    pub fn new(client: kube::Client) -> Self {
        KubernetesClient {
            client,
            kinds: Mutex::new(HashMap::new()),
            discovering: tokio::sync::Mutex::new(()),
        }
    }

    /// The kind's API resource and scope; `Ok(None)` if the API server does not serve it.
    async fn discover(
        &self,
        object: &ObjectRef,
    ) -> Result<Option<(ApiResource, Scope)>, ProviderError> {
        let kind_of = |served: &[(ApiResource, Scope)]| {
            served
                .iter()
                .find(|(resource, _)| resource.kind == object.kind)
                .cloned()
        };
        let cached = || {
            self.kinds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&object.api_version)
                .and_then(|served| kind_of(served))
        };
        if let Some(found) = cached() {
            return Ok(Some(found));
        }
        let _asking = self.discovering.lock().await;
        if let Some(found) = cached() {
            return Ok(Some(found));
        }
        let gvk = object.gvk();
        let version = GroupVersion::gv(&gvk.group, &gvk.version);
        match discovery::pinned_group(&self.client, &version).await {
            Ok(group) => {
                let served: Vec<(ApiResource, Scope)> = group
                    .versioned_resources(&version.version)
                    .into_iter()
                    .map(|(resource, capabilities)| (resource, capabilities.scope))
                    .collect();
                let found = kind_of(&served);
                tracing::debug!(
                    api_version = %object.api_version,
                    kinds = served.len(),
                    kind = %object.kind,
                    served = found.is_some(),
                    "discovered API version"
                );
                self.kinds
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(object.api_version.clone(), served);
                Ok(found)
            }
            Err(kube::Error::Discovery(_)) => Ok(None),
            Err(e) if error::is_not_found(&e) => Ok(None),
            Err(e) => Err(error::from_kube("kubernetes:discovery", e)),
        }
    }

    /// Locates an object whose kind must exist, waiting up to [`NEW_KIND_GRACE`] (within
    /// `deadline`) for a kind that is not served yet.
    async fn locate(&self, object: &ObjectRef, deadline: Instant) -> Result<Target, ProviderError> {
        let give_up = deadline.min(Instant::now() + NEW_KIND_GRACE);
        loop {
            if let Some(target) = self.locate_existing(object).await? {
                return Ok(target);
            }
            if Instant::now() + DISCOVERY_RETRY > give_up {
                return Err(ProviderError::api(
                    "kubernetes:discovery",
                    Some("404 NotFound".to_owned()),
                    format!(
                        "the API server does not serve kind {} in {} (is its CRD installed?)",
                        object.kind, object.api_version
                    ),
                ));
            }
            tokio::time::sleep(DISCOVERY_RETRY).await;
        }
    }

    /// Locates an object; `Ok(None)` if its kind is not served, so no such object exists.
    async fn locate_existing(&self, object: &ObjectRef) -> Result<Option<Target>, ProviderError> {
        let Some((resource, scope)) = self.discover(object).await? else {
            return Ok(None);
        };
        let mut object = object.clone();
        let api = match scope {
            Scope::Namespaced => {
                let namespace = object
                    .namespace
                    .get_or_insert_with(|| self.client.default_namespace().to_owned());
                Api::namespaced_with(self.client.clone(), namespace, &resource)
            }
            Scope::Cluster => {
                if object.namespace.is_some() {
                    return Err(ProviderError::invalid(
                        "manifest.metadata.namespace",
                        format!("must not be set: {} is cluster-scoped", object.kind),
                    ));
                }
                Api::all_with(self.client.clone(), &resource)
            }
        };
        Ok(Some(Target {
            object,
            resource,
            api,
        }))
    }

    /// The recorded object at the API resource recorded with it: no discovery, so a
    /// refresh or destroy asks the API server only about the objects themselves. The
    /// recorded id names a namespace exactly when the kind is namespaced. `Ok(None)` for
    /// a record without the resource (made before it was kept), which is located by
    /// discovery instead. A kind no longer served answers 404, as a deleted object does.
    fn recorded_target(&self, state: &Attrs) -> Result<Option<Target>, ProviderError> {
        let (Some(id), Some(plural)) = (state.opt_str("id")?, state.opt_str(API_RESOURCE)?) else {
            return Ok(None);
        };
        let object = ObjectRef::from_id(&id)?;
        let resource = ApiResource::from_gvk_with_plural(&object.gvk(), &plural);
        let api = match &object.namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        Ok(Some(Target {
            object,
            resource,
            api,
        }))
    }

    /// A recorded object located by its record, else by discovery; `Ok(None)` if its
    /// kind is not served.
    async fn locate_recorded(&self, state: &Attrs) -> Result<Option<Target>, ProviderError> {
        match self.recorded_target(state)? {
            Some(target) => Ok(Some(target)),
            None => self.locate_existing(&Self::recorded_object(state)?).await,
        }
    }

    /// Server-side apply of `config`'s manifest, then the configured wait. `take_back`
    /// forces the apply: an update's plan showed every field it changes, including those
    /// another manager (`kubectl scale`, `kubectl patch`) took over since, and the stack is
    /// the source of truth for the fields it sets.
    async fn apply(
        &self,
        config: &Attrs,
        take_back: bool,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<Attrs, ProviderError> {
        let deadline = Instant::now() + timeout;
        let manifest = config
            .get("manifest")
            .cloned()
            .ok_or_else(|| ProviderError::invalid("manifest", "is required"))?;
        let object = ObjectRef::from_manifest(&manifest)?;
        let wait = WaitFor::parse(config.opt_str("wait")?.as_deref(), &object)?;
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if take_back || config.opt_bool("force_conflicts")?.unwrap_or(false) {
            params = params.force();
        }
        let target = self.locate(&object, deadline).await?;
        let body = manifest
            .expose()
            .ok_or_else(|| ProviderError::invalid("manifest", "has values not known yet"))?;
        // The body may hold secrets: log where it goes, never what it says.
        tracing::debug!(id = %target.object.id(), force = params.force, "server-side apply");
        progress.report(format!("applying {}", target.object.describe()));
        let applied = tokio::time::timeout_at(
            deadline,
            target
                .api
                .patch(&target.object.name, &params, &Patch::Apply(&body)),
        )
        .await
        .map_err(|_| ProviderError::Timeout {
            what: format!("the API server to apply {}", target.object.describe()),
            elapsed: timeout,
            last_seen: String::new(),
        })?
        .map_err(|e| error::without_secrets(error::from_kube("kubernetes:apply", e), &manifest))?;
        let live = to_json(&applied)?;
        let live =
            wait::until_ready(&target.api, &target.object, wait, live, deadline, progress).await?;
        Ok(with_observed(config.clone(), manifest, &target, &live))
    }

    /// The object an existing resource is about: by its `id`, else its manifest.
    fn recorded_object(state: &Attrs) -> Result<ObjectRef, ProviderError> {
        match state.opt_str("id")? {
            Some(id) => ObjectRef::from_id(&id),
            None => ObjectRef::from_manifest(
                state
                    .get("manifest")
                    .ok_or_else(|| ProviderError::invalid("manifest", "is required"))?,
            ),
        }
    }

    async fn get(&self, target: &Target) -> Result<Option<serde_json::Value>, ProviderError> {
        let live = target
            .api
            .get_opt(&target.object.name)
            .await
            .map_err(|e| error::from_kube("kubernetes:get", e))?;
        live.as_ref().map(to_json).transpose()
    }
}

/// Runs one provider call under a hard limit, so no call waits forever on an API server
/// that accepted the connection but never answers.
async fn bounded<T>(
    limit: Duration,
    call: &str,
    work: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(ProviderError::Timeout {
            what: format!("the API server to answer {call}"),
            elapsed: limit,
            last_seen: "no answer".to_owned(),
        })
    })
}

fn check_type(type_name: &str) -> Result<(), ProviderError> {
    if type_name == OBJECT_TYPE {
        Ok(())
    } else {
        Err(ProviderError::UnsupportedType(type_name.to_owned()))
    }
}

fn to_json(object: &DynamicObject) -> Result<serde_json::Value, ProviderError> {
    serde_json::to_value(object)
        .map_err(|e| ProviderError::Other(format!("unexpected object from the API server: {e}")))
}

/// `base` with `manifest` and the computed attributes observed on `live`.
fn with_observed(base: Attrs, manifest: Value, target: &Target, live: &serde_json::Value) -> Attrs {
    let uid = live
        .pointer("/metadata/uid")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let observed = manifest::observed_object(live, &manifest);
    base.with("manifest", manifest)
        .with("id", target.object.id())
        .with(API_RESOURCE, target.resource.plural.as_str())
        .with("uid", uid)
        .with("object", observed)
}

/// `data.kubernetes_object`: an existing object as the API server returns it, without
/// `managedFields`; a Secret's `data` and `stringData` are sensitive.
async fn read_object(client: &KubernetesClient, config: &Attrs) -> Result<Attrs, ProviderError> {
    let object = ObjectRef {
        api_version: config.str("api_version")?,
        kind: config.str("kind")?,
        namespace: config.opt_str("namespace")?.filter(|n| !n.is_empty()),
        name: config.str("name")?,
    };
    let target = client.locate_existing(&object).await?.ok_or_else(|| {
        ProviderError::Other(format!(
            "the API server does not serve kind {} in {}",
            object.kind, object.api_version
        ))
    })?;
    let mut live = client.get(&target).await?.ok_or_else(|| {
        ProviderError::Other(format!("there is no {} to read", target.object.describe()))
    })?;
    if let Some(metadata) = live.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.remove("managedFields");
    }
    let uid = live
        .pointer("/metadata/uid")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let mut observed = Value::from_json(live);
    if object.kind == "Secret"
        && let Value::Map(fields) = &mut observed
    {
        for key in ["data", "stringData"] {
            if let Some(value) = fields.get_mut(key) {
                *value = std::mem::take(value).sensitive();
            }
        }
    }
    Ok(Attrs::new()
        .with("id", target.object.id())
        .with("uid", uid)
        .with("object", observed))
}

#[async_trait]
impl ResourceClient for KubernetesClient {
    async fn read_data(&self, request: ReadDataRequest<'_>) -> Result<Attrs, ProviderError> {
        check_type(request.type_name)?;
        bounded(READ_LIMIT, "read", read_object(self, request.config)).await
    }

    async fn read(&self, request: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        check_type(request.type_name)?;
        bounded(READ_LIMIT, "read", async {
            let Some(target) = self.locate_recorded(request.state).await? else {
                return Ok(None);
            };
            let Some(live) = self.get(&target).await? else {
                return Ok(None);
            };
            let applied = request
                .state
                .get("manifest")
                .cloned()
                .unwrap_or_else(|| manifest::identity_manifest(&target.object));
            let projected = manifest::project_live(&live, &applied);
            let attrs = with_observed(request.state.clone(), applied, &target, &live);
            Ok(Some(attrs.with("manifest", projected)))
        })
        .await
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Attrs, ProviderError> {
        check_type(request.type_name)?;
        let apply = self.apply(request.config, false, request.timeout, &request.progress);
        bounded(request.timeout + BACKSTOP_GRACE, "apply", apply).await
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<Attrs, ProviderError> {
        check_type(request.type_name)?;
        let apply = self.apply(request.desired, true, request.timeout, &request.progress);
        bounded(request.timeout + BACKSTOP_GRACE, "apply", apply).await
    }

    async fn delete(&self, request: DeleteRequest<'_>) -> Result<(), ProviderError> {
        check_type(request.type_name)?;
        bounded(request.timeout + BACKSTOP_GRACE, "delete", async {
            let started = Instant::now();
            let deadline = started + request.timeout;
            let Some(target) = self.locate_recorded(request.state).await? else {
                return Ok(());
            };
            let what = target.object.describe();
            tracing::debug!(id = %target.object.id(), "foreground delete");
            let timed_out = |last_seen: String| ProviderError::Timeout {
                what: format!("{what} to be deleted"),
                elapsed: started.elapsed(),
                last_seen,
            };
            let deleted = tokio::time::timeout_at(
                deadline,
                target
                    .api
                    .delete(&target.object.name, &DeleteParams::foreground()),
            )
            .await
            .map_err(|_| timed_out("the delete call did not return".to_owned()))?;
            let uid = match deleted {
                Err(e) if error::is_not_found(&e) => return Ok(()),
                Err(e) => return Err(error::from_kube("kubernetes:delete", e)),
                // A Status instead of the object: it is already gone.
                Ok(either::Either::Right(_)) => return Ok(()),
                Ok(either::Either::Left(terminating)) => {
                    terminating.metadata.uid.or(request.state.opt_str("uid")?)
                }
            };
            let Some(uid) = uid else {
                return Err(ProviderError::Other(format!(
                    "{what} has no uid to wait for its deletion"
                )));
            };
            request
                .progress
                .report(format!("deleting {what}: waiting for it to disappear"));
            let gone = await_condition(
                target.api.clone(),
                &target.object.name,
                conditions::is_deleted(&uid),
            );
            match tokio::time::timeout_at(deadline, gone).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(ProviderError::api("kubernetes:watch", None, e.to_string())),
                Err(_) => {
                    let last_seen = match self.get(&target).await {
                        Ok(Some(live)) => describe_terminating(&live),
                        Ok(None) => return Ok(()),
                        Err(e) => e.to_string(),
                    };
                    Err(timed_out(last_seen))
                }
            }
        })
        .await
    }

    async fn find(&self, request: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        check_type(request.type_name)?;
        bounded(READ_LIMIT, "find", async {
            let manifest = request
                .config
                .get("manifest")
                .cloned()
                .ok_or_else(|| ProviderError::invalid("manifest", "is required"))?;
            let object = ObjectRef::from_manifest(&manifest)?;
            let Some(target) = self.locate_existing(&object).await? else {
                return Ok(None);
            };
            let Some(live) = self.get(&target).await? else {
                return Ok(None);
            };
            let projected = manifest::project_live(&live, &manifest);
            let attrs = with_observed(request.config.clone(), manifest, &target, &live);
            Ok(Some(attrs.with("manifest", projected)))
        })
        .await
    }

    async fn import(&self, request: ImportRequest<'_>) -> Result<Attrs, ProviderError> {
        check_type(request.type_name)?;
        bounded(READ_LIMIT, "import", async {
            let object = ObjectRef::from_id(request.id)?;
            let target = self.locate_existing(&object).await?.ok_or_else(|| {
                ProviderError::Other(format!(
                    "the API server does not serve kind {} in {}",
                    object.kind, object.api_version
                ))
            })?;
            let live = self.get(&target).await?.ok_or_else(|| {
                ProviderError::Other(format!(
                    "there is no {} to import",
                    target.object.describe()
                ))
            })?;
            let manifest = manifest::identity_manifest(&target.object);
            Ok(with_observed(Attrs::new(), manifest, &target, &live))
        })
        .await
    }
}

/// Why an object is still there: its deletion timestamp and the finalizers holding it.
fn describe_terminating(live: &serde_json::Value) -> String {
    let finalizers: Vec<&str> = live
        .pointer("/metadata/finalizers")
        .and_then(serde_json::Value::as_array)
        .map(|list| list.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    let phase = live
        .pointer("/status/phase")
        .and_then(serde_json::Value::as_str)
        .map(|phase| format!("phase {phase}, "))
        .unwrap_or_default();
    format!("{phase}finalizers [{}]", finalizers.join(", "))
}

#[cfg(test)]
mod tests;
