//! The end of an apply: providers' warnings, then the summary line and outputs, or the
//! failure report (each root cause once, its dependents as skipped, and what to run next).

use std::fmt::Write;

use cairn_provider_core::Value;
use owo_colors::Style;

use super::paint;
use crate::apply::ApplyOutcome;

/// `name = value` for an output; sensitive ones print `(sensitive)`.
pub fn output_line(name: &str, value: &Value, sensitive: bool) -> String {
    if sensitive {
        format!("{name} = (sensitive)")
    } else {
        format!("{name} = {value}")
    }
}

/// The report after an apply or destroy; `command` is what to re-run. Providers'
/// warnings come first, so the last lines say how the run ended.
pub fn apply_report(outcome: &ApplyOutcome, destroy: bool, command: &str, color: bool) -> String {
    let mut out = String::new();
    for warning in &outcome.warnings {
        let _ = writeln!(
            out,
            "{} {}: {}",
            paint(color, "Warning:", Style::new().yellow().bold()),
            warning.addr,
            warning.message
        );
    }
    let c = outcome.completed;
    if outcome.is_success() {
        if destroy {
            let _ = writeln!(
                out,
                "{} Resources: {} destroyed.",
                paint(color, "Destroy complete!", Style::new().green().bold()),
                c.destroy
            );
        } else {
            let imported = match c.imported {
                0 => String::new(),
                n => format!(", {n} imported"),
            };
            let _ = writeln!(
                out,
                "{} Resources: {} added, {} changed, {} destroyed{imported}.",
                paint(color, "Apply complete!", Style::new().green().bold()),
                c.add,
                c.change,
                c.destroy
            );
        }
        if !outcome.outputs.is_empty() {
            let _ = writeln!(out, "\nOutputs:\n");
            for (name, (value, sensitive)) in &outcome.outputs {
                let _ = writeln!(out, "{}", output_line(name, value, *sensitive));
            }
        }
        return out;
    }
    for failure in &outcome.failures {
        let _ = writeln!(
            out,
            "{} {}: {} failed: {}",
            paint(color, "Error:", Style::new().red().bold()),
            failure.addr,
            failure.operation,
            failure.message
        );
    }
    let blocked: Vec<String> = outcome
        .skipped
        .iter()
        .filter_map(|s| {
            s.blocked_by
                .as_ref()
                .map(|b| format!("{} (depends on {b})", s.addr))
        })
        .collect();
    let unstarted: Vec<String> = outcome
        .skipped
        .iter()
        .filter(|s| s.blocked_by.is_none())
        .map(|s| s.addr.to_string())
        .collect();
    if !blocked.is_empty() {
        let _ = writeln!(out, "Skipped: {}", blocked.join(", "));
    }
    if !unstarted.is_empty() {
        let _ = writeln!(out, "Not started: {}", unstarted.join(", "));
    }
    let why = if outcome.interrupted && outcome.failures.is_empty() {
        "interrupted"
    } else {
        "stopped"
    };
    let _ = writeln!(
        out,
        "{} after {} added, {} changed, {} destroyed; the state records everything that completed.",
        paint(color, &format!("Apply {why}"), Style::new().red().bold()),
        c.add,
        c.change,
        c.destroy
    );
    let _ = writeln!(
        out,
        "hint: fix the problem above, then re-run `{command}` to finish."
    );
    out
}
