//! Readiness after an apply: what `wait = "exists" | "rollout" | "complete"` means.
//!
//! Owns the readiness predicates, pure functions of a live object (a rollout is done when
//! the controller has observed the current generation and every desired replica is
//! updated and available; a Job is done when its `Complete` condition holds, and has failed
//! for good when its `Failed` condition holds), and the poll loop that applies them until
//! a deadline while reporting progress. Deletion waits live in `client.rs`.

use std::time::Duration;

use cairn_provider_core::{Progress, ProviderError};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DynamicObject};
use kube::runtime::wait::{Condition, conditions};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::error;
use crate::manifest::ObjectRef;

/// How often a wait looks at the object again.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The `wait` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitFor {
    /// The API server accepted the object.
    Exists,
    /// A Deployment, StatefulSet or DaemonSet has rolled out.
    Rollout,
    /// A Job has succeeded.
    Complete,
}

impl WaitFor {
    pub const NAMES: [&'static str; 3] = ["exists", "rollout", "complete"];

    /// Parses the attribute and checks it fits the object's kind.
    pub fn parse(name: Option<&str>, object: &ObjectRef) -> Result<Self, ProviderError> {
        let wait = match name {
            None | Some("exists") => WaitFor::Exists,
            Some("rollout") => WaitFor::Rollout,
            Some("complete") => WaitFor::Complete,
            Some(other) => {
                return Err(ProviderError::invalid(
                    "wait",
                    format!("`{other}` is not one of {}", Self::NAMES.join(", ")),
                ));
            }
        };
        let apps = object.group() == "apps";
        let fits = match wait {
            WaitFor::Exists => true,
            WaitFor::Rollout => {
                apps && matches!(
                    object.kind.as_str(),
                    "Deployment" | "StatefulSet" | "DaemonSet"
                )
            }
            WaitFor::Complete => object.group() == "batch" && object.kind == "Job",
        };
        if !fits {
            return Err(ProviderError::invalid(
                "wait",
                format!(
                    "\"{}\" does not apply to a {} (rollout: Deployment, StatefulSet, DaemonSet; \
                     complete: Job)",
                    name.unwrap_or_default(),
                    object.kind
                ),
            ));
        }
        Ok(wait)
    }
}

/// What a predicate says about one observation of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    Ready,
    /// Not yet; the message says how far along it is.
    Pending(String),
    /// Will never become ready (a failed Job).
    Failed(String),
}

/// Evaluates `wait` on one observation of `object` (the live JSON).
pub(crate) fn readiness(
    wait: WaitFor,
    what: &str,
    object: &serde_json::Value,
) -> Result<Readiness, ProviderError> {
    let kind = object
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    match (wait, kind) {
        (WaitFor::Exists, _) => Ok(Readiness::Ready),
        (WaitFor::Rollout, "Deployment") => Ok(deployment_readiness(what, &typed(object)?)),
        (WaitFor::Rollout, "StatefulSet") => Ok(statefulset_readiness(what, &typed(object)?)),
        (WaitFor::Rollout, "DaemonSet") => Ok(daemonset_readiness(what, &typed(object)?)),
        (WaitFor::Complete, "Job") => Ok(job_readiness(what, &typed(object)?)),
        (_, other) => Err(ProviderError::Other(format!(
            "{what}: cannot wait for {wait:?} on a {other}"
        ))),
    }
}

fn typed<K: DeserializeOwned>(object: &serde_json::Value) -> Result<K, ProviderError> {
    serde_json::from_value(object.clone())
        .map_err(|e| ProviderError::Other(format!("unexpected object from the API server: {e}")))
}

/// `metadata.generation` has been seen by the controller: status describes this spec.
fn generation_observed(generation: Option<i64>, observed: Option<i64>) -> bool {
    match (generation, observed) {
        (Some(generation), Some(observed)) => observed >= generation,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

pub(crate) fn deployment_readiness(what: &str, deployment: &Deployment) -> Readiness {
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    if !generation_observed(deployment.metadata.generation, status.observed_generation) {
        return Readiness::Pending(format!(
            "{what}: waiting for the controller to see the new spec"
        ));
    }
    if updated >= desired && available >= desired && total <= updated {
        return Readiness::Ready;
    }
    // The controller gave up on this rollout; waiting longer changes nothing.
    if let Some(stalled) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "Progressing"
            && c.status == "False"
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        return Readiness::Failed(format!(
            "{what} exceeded its progress deadline: {}",
            stalled.message.as_deref().unwrap_or("no message")
        ));
    }
    let old = (total - updated).max(0);
    let old = if old > 0 {
        format!(", {old} old pending termination")
    } else {
        String::new()
    };
    Readiness::Pending(format!(
        "{what}: {available}/{desired} replicas available, {updated}/{desired} updated{old}"
    ))
}

pub(crate) fn statefulset_readiness(what: &str, set: &StatefulSet) -> Readiness {
    let desired = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    // With OnDelete nothing is updated until someone deletes pods; with a partition only
    // the pods at or above it are: like `kubectl rollout status`, expect only those.
    let on_delete = strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete");
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let to_update = if on_delete {
        0
    } else {
        (desired - partition).max(0)
    };
    let status = set.status.clone().unwrap_or_default();
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status
        .available_replicas
        .unwrap_or(status.ready_replicas.unwrap_or(0));
    if !generation_observed(set.metadata.generation, status.observed_generation) {
        return Readiness::Pending(format!(
            "{what}: waiting for the controller to see the new spec"
        ));
    }
    if updated >= to_update && ready >= desired {
        return Readiness::Ready;
    }
    Readiness::Pending(format!(
        "{what}: {ready}/{desired} replicas available, {updated}/{to_update} updated"
    ))
}

pub(crate) fn daemonset_readiness(what: &str, set: &DaemonSet) -> Readiness {
    let status = set.status.clone().unwrap_or_default();
    let desired = status.desired_number_scheduled;
    let on_delete = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete");
    let updated = if on_delete {
        desired
    } else {
        status.updated_number_scheduled.unwrap_or(0)
    };
    let available = status.number_available.unwrap_or(0);
    if !generation_observed(set.metadata.generation, status.observed_generation) {
        return Readiness::Pending(format!(
            "{what}: waiting for the controller to see the new spec"
        ));
    }
    if updated >= desired && available >= desired {
        return Readiness::Ready;
    }
    Readiness::Pending(format!(
        "{what}: {available}/{desired} pods available, {updated}/{desired} updated"
    ))
}

pub(crate) fn job_readiness(what: &str, job: &Job) -> Readiness {
    if conditions::is_job_completed().matches_object(Some(job)) {
        return Readiness::Ready;
    }
    let status = job.status.clone().unwrap_or_default();
    if let Some(failed) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True")
    {
        return Readiness::Failed(format!(
            "{what} failed: {}{}",
            failed.reason.as_deref().unwrap_or("Failed"),
            failed
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
    }
    Readiness::Pending(format!(
        "{what}: {} succeeded, {} active, {} failed",
        status.succeeded.unwrap_or(0),
        status.active.unwrap_or(0),
        status.failed.unwrap_or(0)
    ))
}

/// Polls `name` until `wait` holds or `deadline` passes. Returns the last observation.
pub(crate) async fn until_ready(
    api: &Api<DynamicObject>,
    object: &ObjectRef,
    wait: WaitFor,
    applied: serde_json::Value,
    deadline: Instant,
    progress: &Progress,
) -> Result<serde_json::Value, ProviderError> {
    let what = object.describe();
    let started = Instant::now();
    let mut observed = applied;
    let mut last_report = String::new();
    loop {
        match readiness(wait, &what, &observed)? {
            Readiness::Ready => return Ok(observed),
            Readiness::Failed(message) => return Err(ProviderError::Other(message)),
            Readiness::Pending(message) => {
                if message != last_report {
                    progress.report(&message);
                    last_report = message;
                }
            }
        }
        if Instant::now() + POLL_INTERVAL > deadline {
            return Err(ProviderError::Timeout {
                what: format!(
                    "{what} to {}",
                    if wait == WaitFor::Complete {
                        "complete"
                    } else {
                        "roll out"
                    }
                ),
                elapsed: started.elapsed(),
                last_seen: last_report,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
        let live = tokio::time::timeout_at(deadline, api.get_opt(&object.name))
            .await
            .map_err(|_| ProviderError::Timeout {
                what: format!("{what} to be readable"),
                elapsed: started.elapsed(),
                last_seen: last_report.clone(),
            })?
            .map_err(|e| error::from_kube("kubernetes:get", e))?;
        let Some(live) = live else {
            return Err(ProviderError::Other(format!(
                "{what} disappeared while cairn waited for it"
            )));
        };
        observed = serde_json::to_value(&live).map_err(|e| {
            ProviderError::Other(format!("unexpected object from the API server: {e}"))
        })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(value: serde_json::Value) -> Deployment {
        serde_json::from_value(value).expect("a Deployment")
    }

    #[test]
    fn rollout_waits_for_generation_and_every_replica() {
        let what = "deployment airflow/scheduler";
        let fresh = deployment(
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}}),
        );
        assert!(
            matches!(deployment_readiness(what, &fresh), Readiness::Pending(m) if m.contains("see the new spec"))
        );

        let halfway = deployment(
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 1}}),
        );
        assert_eq!(
            deployment_readiness(what, &halfway),
            Readiness::Pending(
                "deployment airflow/scheduler: 1/2 replicas available, 2/2 updated, 1 old pending termination".to_owned()
            )
        );

        let done = deployment(
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}}),
        );
        assert_eq!(deployment_readiness(what, &done), Readiness::Ready);

        let stalled = deployment(
            json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
                       "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                       "message": "ReplicaSet \"web-7d\" has timed out progressing."}]}}),
        );
        assert_eq!(
            deployment_readiness(what, &stalled),
            Readiness::Failed(
                "deployment airflow/scheduler exceeded its progress deadline: ReplicaSet \"web-7d\" has timed out progressing."
                    .to_owned()
            )
        );

        let scaled_to_zero = deployment(
            json!({"metadata": {"generation": 1}, "spec": {"replicas": 0},
            "status": {"observedGeneration": 1}}),
        );
        assert_eq!(
            deployment_readiness(what, &scaled_to_zero),
            Readiness::Ready
        );
    }

    #[test]
    fn statefulsets_and_daemonsets_count_their_own_fields() {
        let set: StatefulSet = serde_json::from_value(json!({"metadata": {"generation": 1}, "spec": {"replicas": 3,
            "selector": {}, "serviceName": "s", "template": {}},
            "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}}))
        .expect("a StatefulSet");
        assert!(
            matches!(statefulset_readiness("s", &set), Readiness::Pending(m) if m.contains("2/3 replicas available"))
        );

        let partitioned: StatefulSet = serde_json::from_value(json!({"metadata": {"generation": 2}, "spec": {"replicas": 3,
            "selector": {}, "serviceName": "s", "template": {},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3}}))
        .expect("a StatefulSet");
        assert_eq!(statefulset_readiness("s", &partitioned), Readiness::Ready);

        let daemons: DaemonSet = serde_json::from_value(json!({"metadata": {"generation": 4},
            "status": {"observedGeneration": 4, "desiredNumberScheduled": 5, "currentNumberScheduled": 5,
                       "numberMisscheduled": 0, "numberReady": 5, "updatedNumberScheduled": 5, "numberAvailable": 5}}))
        .expect("a DaemonSet");
        assert_eq!(daemonset_readiness("d", &daemons), Readiness::Ready);
    }

    #[test]
    fn a_failed_job_reports_the_reason() {
        let job = |status: serde_json::Value| -> Job {
            serde_json::from_value(json!({"status": status})).expect("a Job")
        };
        assert_eq!(
            job_readiness(
                "job airflow/migrate",
                &job(
                    json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
                )
            ),
            Readiness::Ready
        );
        assert_eq!(
            job_readiness("job airflow/migrate", &job(json!({"failed": 7, "conditions": [{"type": "Failed", "status": "True",
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}))),
            Readiness::Failed(
                "job airflow/migrate failed: BackoffLimitExceeded: Job has reached the specified backoff limit".to_owned()
            )
        );
        assert!(
            matches!(job_readiness("j", &job(json!({"active": 1}))), Readiness::Pending(m) if m.contains("1 active"))
        );
    }

    #[test]
    fn waits_must_fit_the_kind() {
        let object = |api_version: &str, kind: &str| ObjectRef {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: None,
            name: "x".to_owned(),
        };
        assert_eq!(
            WaitFor::parse(None, &object("v1", "ConfigMap")).ok(),
            Some(WaitFor::Exists)
        );
        assert_eq!(
            WaitFor::parse(Some("rollout"), &object("apps/v1", "StatefulSet")).ok(),
            Some(WaitFor::Rollout)
        );
        assert_eq!(
            WaitFor::parse(Some("complete"), &object("batch/v1", "Job")).ok(),
            Some(WaitFor::Complete)
        );
        assert!(WaitFor::parse(Some("rollout"), &object("v1", "Service")).is_err());
        assert!(WaitFor::parse(Some("complete"), &object("apps/v1", "Deployment")).is_err());
        assert!(WaitFor::parse(Some("ready"), &object("v1", "Pod")).is_err());
    }
}
