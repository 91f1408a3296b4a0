//! Machine-readable output. Field names are a contract with scripts: add, never rename.
//! Secrets and unknowns appear only as `{"$sensitive": true}` and `{"$unknown": true}`.

use std::collections::BTreeMap;

use cairn_provider_core::Value;
use serde_json::json;

use crate::plan::{Plan, redacted_json};
use crate::state::StateFile;

/// Format version of every JSON document cairn prints.
const FORMAT_VERSION: u32 = 1;

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// `cairn plan --json`.
pub fn plan_json(plan: &Plan) -> String {
    let body = serde_json::to_value(plan).unwrap_or(serde_json::Value::Null);
    let summary = plan.summary();
    pretty(&json!({
        "format_version": FORMAT_VERSION,
        "summary": { "add": summary.add, "change": summary.change, "destroy": summary.destroy },
        "has_changes": plan.has_changes(),
        "plan": body,
    }))
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
