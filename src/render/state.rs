//! Human views of recorded state: `cairn show` and `cairn state list|show`. Reading the
//! state is `state/`'s job; secrets there are hashes, which print as `(sensitive)`.

use std::fmt::Write;

use crate::state::{ResourceState, StateFile};

/// One recorded resource, attributes redacted (hashes print as `(sensitive)`).
pub fn state_resource(resource: &ResourceState) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}:", resource.addr);
    let _ = writeln!(
        out,
        "resource {:?} {:?} {{",
        resource.addr.type_name, resource.addr.name
    );
    let width = resource.attrs.0.keys().map(String::len).max().unwrap_or(0);
    for (name, value) in resource.attrs.0.iter().filter(|(_, v)| !v.is_null()) {
        let _ = writeln!(out, "    {name:<width$} = {value}");
    }
    let _ = writeln!(out, "}}");
    out
}

/// `cairn show`.
pub fn state_text(state: Option<&StateFile>) -> String {
    let Some(state) = state.filter(|s| !s.resources.is_empty() || !s.outputs.is_empty()) else {
        return "The state is empty: nothing has been applied.".to_owned();
    };
    let mut out = String::new();
    for resource in state.resources.values() {
        out.push_str(&state_resource(resource));
        out.push('\n');
    }
    if !state.outputs.is_empty() {
        let _ = writeln!(out, "Outputs:\n");
        for (name, value) in &state.outputs {
            let _ = writeln!(out, "{name} = {value}");
        }
    }
    if !state.pending.is_empty() {
        let _ = writeln!(
            out,
            "\nInterrupted creates (the next plan looks for them): {}",
            state
                .pending
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out.trim_end().to_owned()
}

/// `cairn state list`.
pub fn state_list(state: Option<&StateFile>) -> String {
    state
        .map(|s| {
            s.resources
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
