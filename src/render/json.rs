//! Machine-readable output. Field names are a contract with scripts: add, never rename;
//! docs/json.md documents every document and line. Secrets and unknowns appear only as
//! `{"$sensitive": true}` and `{"$unknown": true}`.
//!
//! `plan --json`, `apply --json` and `destroy --json` print JSON lines: one compact object
//! per line, each with `format_version` and `type` ([`JsonProgress`] for the apply).

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_provider_core::Value;
use serde_json::json;

use super::Printer;
use crate::addr::ResourceAddr;
use crate::apply::{ApplyObserver, ApplyOutcome};
use crate::plan::{Action, Plan, redacted_json};
use crate::state::StateFile;

/// Format version of every JSON document cairn prints.
const FORMAT_VERSION: u32 = 1;

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// One JSON line of type `kind` with `fields`.
fn event(kind: &str, mut fields: serde_json::Value) -> String {
    if let Some(object) = fields.as_object_mut() {
        object.insert("format_version".to_owned(), json!(FORMAT_VERSION));
        object.insert("type".to_owned(), json!(kind));
    }
    fields.to_string()
}

/// `cairn plan --json`, and the first line of `apply --json` and `destroy --json`: the
/// whole plan on one line.
pub fn plan_json(plan: &Plan) -> String {
    let body = serde_json::to_value(plan).unwrap_or(serde_json::Value::Null);
    let summary = plan.summary();
    event(
        "plan",
        json!({
            "summary": { "add": summary.add, "change": summary.change, "destroy": summary.destroy },
            "has_changes": plan.has_changes(),
            "plan": body,
        }),
    )
}

/// The last line of `apply --json` and `destroy --json`.
pub fn apply_summary_json(outcome: &ApplyOutcome, destroy: bool) -> String {
    let completed = &outcome.completed;
    event(
        "summary",
        json!({
            "operation": if destroy { "destroy" } else { "apply" },
            "success": outcome.is_success(),
            "interrupted": outcome.interrupted,
            "completed": { "add": completed.add, "change": completed.change, "destroy": completed.destroy },
            "failures": outcome.failures.iter().map(|f| json!({
                "address": f.addr.to_string(),
                "operation": f.operation,
                "message": f.message,
            })).collect::<Vec<_>>(),
            "skipped": outcome.skipped.iter().map(|s| json!({
                "address": s.addr.to_string(),
                "blocked_by": s.blocked_by.as_ref().map(ToString::to_string),
            })).collect::<Vec<_>>(),
            "warnings": outcome.warnings.iter().map(|w| json!({
                "address": w.addr.to_string(),
                "message": w.message,
            })).collect::<Vec<_>>(),
            "outputs": outcome.outputs.iter().map(|(name, (value, sensitive))| {
                let value = if *sensitive { json!({ "$sensitive": true }) } else { redacted_json(value) };
                (name.clone(), json!({ "value": value, "sensitive": sensitive }))
            }).collect::<serde_json::Map<_, _>>(),
        }),
    )
}

/// The apply's progress as JSON lines on stdout.
pub struct JsonProgress {
    printer: Printer,
}

impl JsonProgress {
    /// Prints through `printer`.
    pub fn new(printer: Printer) -> Self {
        JsonProgress { printer }
    }
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

impl ApplyObserver for JsonProgress {
    fn started(&self, addr: &ResourceAddr, verb: &'static str) {
        self.printer.out(&event(
            "started",
            json!({ "address": addr.to_string(), "verb": verb }),
        ));
    }

    fn progress(&self, addr: &ResourceAddr, message: &str) {
        self.printer.out(&event(
            "progress",
            json!({ "address": addr.to_string(), "message": message }),
        ));
    }

    fn warning(&self, addr: &ResourceAddr, message: &str) {
        self.printer.out(&event(
            "warning",
            json!({ "address": addr.to_string(), "message": message }),
        ));
    }

    fn finished(&self, addr: &ResourceAddr, action: Action, elapsed: Duration, id: Option<String>) {
        self.printer.out(&event(
            "finished",
            json!({
                "address": addr.to_string(),
                "action": action,
                "elapsed_ms": millis(elapsed),
                "id": id,
            }),
        ));
    }

    fn failed(&self, addr: &ResourceAddr, elapsed: Duration) {
        self.printer.out(&event(
            "failed",
            json!({ "address": addr.to_string(), "elapsed_ms": millis(elapsed) }),
        ));
    }
}

/// `cairn show --json`.
pub fn state_json(state: Option<&StateFile>) -> String {
    let Some(state) = state else {
        return pretty(
            &json!({ "format_version": FORMAT_VERSION, "resources": [], "outputs": {} }),
        );
    };
    let resources: Vec<serde_json::Value> = state
        .resources
        .values()
        .map(|r| {
            json!({
                "address": r.addr.to_string(),
                "type": r.addr.type_name,
                "name": r.addr.name,
                "provider": r.provider,
                "attributes": redacted_json(&Value::Map(r.attrs.0.clone())),
                "dependencies": r.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    pretty(&json!({
        "format_version": FORMAT_VERSION,
        "stack": state.stack,
        "env": state.env,
        "lineage": state.lineage,
        "serial": state.serial,
        "resources": resources,
        "outputs": outputs_value(&state.outputs),
        "pending": state.pending.keys().map(ToString::to_string).collect::<Vec<_>>(),
    }))
}

fn outputs_value(outputs: &BTreeMap<String, Value>) -> serde_json::Value {
    serde_json::Value::Object(
        outputs
            .iter()
            .map(|(name, value)| {
                (name.clone(), json!({ "value": redacted_json(value), "sensitive": value.contains_sensitive() }))
            })
            .collect(),
    )
}

/// `cairn output --json`.
pub fn outputs_json(outputs: &BTreeMap<String, Value>) -> String {
    pretty(&outputs_value(outputs))
}
