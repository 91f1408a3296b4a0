//! What the API server fills in on every write, per kind, as the recordings show it
//! (and the v1.28 defaulting functions for the rest of the pod spec).

use base64::Engine;
use serde_json::{Map, Value, json};

/// Sets `key` in `map` when it is absent.
fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key.to_owned()).or_insert(value);
}

/// An object field, created empty if absent; `None` if it holds something else.
fn object<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

fn each_object(value: Option<&mut Value>, mut f: impl FnMut(&mut Map<String, Value>)) {
    if let Some(Value::Array(items)) = value {
        items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(&mut f);
    }
}

/// Context the defaults need from the server.
pub struct Context<'a> {
    pub uid: &'a str,
    /// Hands out Service cluster IPs.
    pub allocate_ip: &'a mut dyn FnMut() -> String,
}

/// Fills in the defaults of `object` (a whole object of `kind`).
pub fn apply(kind: &str, target: &mut Value, ctx: &mut Context<'_>) {
    let name = target
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(root) = target.as_object_mut() else {
        return;
    };
    match kind {
        "Namespace" => {
            if let Some(labels) = object_in(root, &["metadata", "labels"]) {
                labels.insert("kubernetes.io/metadata.name".into(), name.into());
            }
            if let Some(spec) = object(root, "spec") {
                default(spec, "finalizers", json!(["kubernetes"]));
            }
            if let Some(status) = object(root, "status") {
                default(status, "phase", json!("Active"));
            }
        }
        "Secret" => secret(root),
        "Service" => service(root, ctx),
        "Deployment" => {
            if let Some(spec) = object(root, "spec") {
                default(spec, "replicas", json!(1));
                let strategy = object(spec, "strategy");
                if let Some(strategy) = strategy {
                    default(strategy, "type", json!("RollingUpdate"));
                    if strategy.get("type") == Some(&json!("RollingUpdate"))
                        && let Some(rolling) = object(strategy, "rollingUpdate")
                    {
                        default(rolling, "maxUnavailable", json!("25%"));
                        default(rolling, "maxSurge", json!("25%"));
                    }
                }
                default(spec, "revisionHistoryLimit", json!(10));
                default(spec, "progressDeadlineSeconds", json!(600));
                pod_template(spec);
            }
            default(root, "status", json!({}));
        }
        "StatefulSet" => {
            if let Some(spec) = object(root, "spec") {
                default(spec, "replicas", json!(1));
                default(spec, "podManagementPolicy", json!("OrderedReady"));
                default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                default(spec, "revisionHistoryLimit", json!(10));
                default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
                pod_template(spec);
            }
            default(
                root,
                "status",
                json!({"replicas": 0, "availableReplicas": 0}),
            );
        }
        "DaemonSet" => {
            if let Some(spec) = object(root, "spec") {
                default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                );
                default(spec, "revisionHistoryLimit", json!(10));
                pod_template(spec);
            }
            default(
                root,
                "status",
                json!({"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}),
            );
        }
        "Job" => {
            if let Some(spec) = object(root, "spec") {
                job_spec(spec, &name, ctx.uid);
            }
            default(root, "status", json!({}));
        }
        "CronJob" => {
            if let Some(spec) = object(root, "spec") {
                default(spec, "concurrencyPolicy", json!("Allow"));
                default(spec, "suspend", json!(false));
                default(spec, "successfulJobsHistoryLimit", json!(3));
                default(spec, "failedJobsHistoryLimit", json!(1));
                if let Some(job) = object_in(spec, &["jobTemplate", "spec"]) {
                    default(job, "completionMode", json!("NonIndexed"));
                    default(job, "backoffLimit", json!(6));
                    default(job, "suspend", json!(false));
                    pod_template(job);
                }
            }
            default(root, "status", json!({}));
        }
        "PodDisruptionBudget" => default(
            root,
            "status",
            json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}),
        ),
        "HorizontalPodAutoscaler" => {
            if let Some(spec) = object(root, "spec") {
                default(spec, "minReplicas", json!(1));
            }
            default(
                root,
                "status",
                json!({"currentReplicas": 0, "desiredReplicas": 0}),
            );
        }
        _ => {}
    }
}

/// A nested object field, created empty along the way.
fn object_in<'a>(
    mut map: &'a mut Map<String, Value>,
    path: &[&str],
) -> Option<&'a mut Map<String, Value>> {
    for key in path {
        map = object(map, key)?;
    }
    Some(map)
}

/// `stringData` is merged into base64 `data` and never stored.
fn secret(root: &mut Map<String, Value>) {
    default(root, "type", json!("Opaque"));
    let Some(Value::Object(strings)) = root.remove("stringData") else {
        return;
    };
    if let Some(data) = object(root, "data") {
        for (key, value) in strings {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, Value::String(encoded));
        }
    }
}

fn service(root: &mut Map<String, Value>, ctx: &mut Context<'_>) {
    let Some(spec) = object(root, "spec") else {
        return;
    };
    default(spec, "type", json!("ClusterIP"));
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    default(spec, "sessionAffinity", json!("None"));
    each_object(spec.get_mut("ports"), |port| {
        default(port, "protocol", json!("TCP"));
        if let Some(number) = port.get("port").cloned() {
            default(port, "targetPort", number);
        }
    });
    if kind != "ExternalName" {
        if !spec.contains_key("clusterIP") {
            spec.insert("clusterIP".into(), Value::String((ctx.allocate_ip)()));
        }
        if let Some(ip) = spec.get("clusterIP").cloned() {
            default(spec, "clusterIPs", Value::Array(vec![ip]));
        }
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    default(root, "status", json!({"loadBalancer": {}}));
}

fn job_spec(spec: &mut Map<String, Value>, name: &str, uid: &str) {
    default(spec, "parallelism", json!(1));
    default(spec, "completions", json!(1));
    default(spec, "backoffLimit", json!(6));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let manual = spec.get("manualSelector") == Some(&json!(true));
    if !manual {
        default(
            spec,
            "selector",
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
        if let Some(labels) = object_in(spec, &["template", "metadata", "labels"]) {
            for (key, value) in [
                ("batch.kubernetes.io/controller-uid", uid),
                ("batch.kubernetes.io/job-name", name),
                ("controller-uid", uid),
                ("job-name", name),
            ] {
                default(labels, key, json!(value));
            }
        }
    }
    pod_template(spec);
}

/// The defaults of `spec.template` in a workload.
fn pod_template(spec: &mut Map<String, Value>) {
    let Some(template) = object(spec, "template") else {
        return;
    };
    if let Some(metadata) = object(template, "metadata") {
        default(metadata, "creationTimestamp", Value::Null);
    }
    if let Some(pod) = object(template, "spec") {
        pod_spec(pod);
    }
}

fn pod_spec(pod: &mut Map<String, Value>) {
    default(pod, "restartPolicy", json!("Always"));
    default(pod, "terminationGracePeriodSeconds", json!(30));
    default(pod, "dnsPolicy", json!("ClusterFirst"));
    default(pod, "securityContext", json!({}));
    default(pod, "schedulerName", json!("default-scheduler"));
    if let Some(account) = pod.get("serviceAccountName").cloned() {
        default(pod, "serviceAccount", account);
    }
    for list in ["containers", "initContainers"] {
        each_object(pod.get_mut(list), container);
    }
    each_object(pod.get_mut("volumes"), |volume| {
        for source in ["configMap", "secret", "projected", "downwardAPI"] {
            if let Some(Value::Object(source)) = volume.get_mut(source) {
                default(source, "defaultMode", json!(420));
            }
        }
    });
}

fn container(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    let tag = image.rsplit('/').next().unwrap_or_default();
    let latest = !image.contains('@') && (!tag.contains(':') || tag.ends_with(":latest"));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(
        c,
        "imagePullPolicy",
        json!(if latest { "Always" } else { "IfNotPresent" }),
    );
    default(c, "resources", json!({}));
    each_object(c.get_mut("ports"), |port| {
        default(port, "protocol", json!("TCP"));
    });
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(Value::Object(probe)) = c.get_mut(probe) {
            default(probe, "timeoutSeconds", json!(1));
            default(probe, "periodSeconds", json!(10));
            default(probe, "successThreshold", json!(1));
            default(probe, "failureThreshold", json!(3));
            if let Some(Value::Object(http)) = probe.get_mut("httpGet") {
                default(http, "scheme", json!("HTTP"));
            }
        }
    }
    each_object(c.get_mut("env"), |env| {
        if let Some(Value::Object(field)) =
            env.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef"))
        {
            default(field, "apiVersion", json!("v1"));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(kind: &str, mut object: Value) -> Value {
        let mut next = || "10.96.0.10".to_owned();
        apply(
            kind,
            &mut object,
            &mut Context {
                uid: "u-1",
                allocate_ip: &mut next,
            },
        );
        object
    }

    #[test]
    fn secrets_keep_string_data_only_as_base64_data() {
        let secret = defaulted(
            "Secret",
            json!({"metadata": {"name": "s"}, "stringData": {"a": "redacted-a", "empty": ""}}),
        );
        assert_eq!(
            secret,
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "cmVkYWN0ZWQtYQ==", "empty": ""}})
        );
    }

    #[test]
    fn containers_get_the_server_defaults() {
        let deployment = defaulted(
            "Deployment",
            json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                {"name": "b", "image": "busybox"}
            ]}}}}),
        );
        let containers = &deployment["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(containers[1]["imagePullPolicy"], "Always");
        assert_eq!(containers[0]["ports"][0]["protocol"], "TCP");
        assert_eq!(
            deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
            "25%"
        );
        assert_eq!(deployment["status"], json!({}));
    }
}
