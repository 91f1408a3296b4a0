//! The human plan, in Terraform's layout so its readers need no new habits: a block per
//! changed resource with `+`, `~`, `-/+`, `+/-` or `-`, attribute lines with `# forces
//! replacement`, output changes, then the summary. What changed is decided by `plan/`;
//! this module only lays it out (secrets already print as `(sensitive)` via `Value`).

use std::fmt::Write;

use cairn_provider_core::Value;
use owo_colors::Style;

use super::paint;
use crate::plan::{Action, AttrDiff, ChangeReason, Plan, ResourceChange};

fn symbol(action: Action) -> &'static str {
    match action {
        Action::NoOp => " ",
        Action::Create => "+",
        Action::Update => "~",
        Action::DeleteThenCreate => "-/+",
        Action::CreateThenDelete => "+/-",
        Action::Delete => "-",
    }
}

fn style(action: Action) -> Style {
    match action {
        Action::Create => Style::new().green(),
        Action::Update => Style::new().yellow(),
        Action::Delete => Style::new().red(),
        Action::DeleteThenCreate | Action::CreateThenDelete => Style::new().magenta(),
        Action::NoOp => Style::new(),
    }
}

fn headline(change: &ResourceChange) -> String {
    let addr = &change.addr;
    let what = match change.action {
        Action::NoOp => "has no changes",
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::DeleteThenCreate => "must be replaced",
        Action::CreateThenDelete => "must be replaced (the new one is created first)",
        Action::Delete => "will be destroyed",
    };
    let note = match change.reason {
        Some(ChangeReason::Gone) if change.action == Action::Create => {
            " (it was deleted outside cairn)"
        }
        Some(ChangeReason::RemovedFromConfig) => " (it is no longer in the configuration)",
        Some(ChangeReason::RefreshDeferred) => {
            " (not refreshed: its provider is configured during the apply)"
        }
        _ => "",
    };
    let moved = change
        .moved_from
        .as_ref()
        .map(|from| format!(" (moved from {from})"))
        .unwrap_or_default();
    let imported = change
        .import_id
        .as_ref()
        .map(|id| format!(" (imported from {id})"))
        .unwrap_or_default();
    format!("# {addr} {what}{note}{moved}{imported}")
}

fn value_text(value: &Value) -> String {
    value.to_string()
}

/// A value spread over lines when it holds a non-empty map (a Kubernetes manifest reads
/// better as a block); `indent` is the column of the attribute's name.
fn value_block(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Map(map) if !map.is_empty() => {
            let width = map
                .keys()
                .map(|k| format!("{k:?}").len())
                .max()
                .unwrap_or(0);
            let mut out = String::from("{\n");
            for (key, item) in map {
                let key = format!("{key:?}");
                let _ = writeln!(
                    out,
                    "{pad}    {key:<width$} = {}",
                    value_block(item, indent + 4)
                );
            }
            let _ = write!(out, "{pad}}}");
            out
        }
        Value::List(items)
            if items
                .iter()
                .any(|i| matches!(i, Value::Map(m) if !m.is_empty())) =>
        {
            let mut out = String::from("[\n");
            for item in items {
                let _ = writeln!(out, "{pad}    {},", value_block(item, indent + 4));
            }
            let _ = write!(out, "{pad}]");
            out
        }
        // A config file in a ConfigMap reads as itself, not as one line of `\n`s.
        Value::String(text) if text.contains('\n') => {
            let mut out = String::from("<<-EOT\n");
            for line in text.lines() {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "{pad}    {line}");
                }
            }
            let _ = write!(out, "{pad}EOT");
            out
        }
        other => value_text(other),
    }
}

/// One attribute line (and nested lines for per-key map diffs).
fn attr_lines(
    out: &mut String,
    diff: &AttrDiff,
    width: usize,
    indent: usize,
    color: bool,
    quote_key: bool,
) {
    let pad = " ".repeat(indent);
    let name = if quote_key && !diff.name.starts_with('[') {
        format!("{:?}", diff.name)
    } else {
        diff.name.clone()
    };
    let (mark, sty) = match (&diff.before, &diff.after) {
        (None, Some(_)) => ("+", Style::new().green()),
        (Some(_), None) => ("-", Style::new().red()),
        _ => ("~", Style::new().yellow()),
    };
    let mark = paint(color, mark, sty);
    let forces = if diff.forces_replacement {
        paint(color, " # forces replacement", Style::new().red())
    } else {
        String::new()
    };
    if !diff.nested.is_empty() {
        let (open, close) = match diff.after {
            Some(Value::List(_)) => ('[', ']'),
            _ => ('{', '}'),
        };
        let _ = writeln!(out, "{pad}{mark} {name:<width$} = {open}{forces}");
        let inner = diff
            .nested
            .iter()
            .map(|d| {
                if d.name.starts_with('[') {
                    d.name.len()
                } else {
                    format!("{:?}", d.name).len()
                }
            })
            .max()
            .unwrap_or(0);
        for nested in &diff.nested {
            attr_lines(out, nested, inner, indent + 4, color, true);
        }
        let _ = writeln!(out, "{pad}  {close}");
        return;
    }
    let text = match (&diff.before, &diff.after) {
        (Some(before), Some(after)) => format!("{} -> {}", value_text(before), value_text(after)),
        (None, Some(after)) => value_block(after, indent + 2),
        (Some(before), None) => format!("{} -> null", value_text(before)),
        (None, None) => String::new(),
    };
    let text = match (&diff.before, &diff.after) {
        (Some(before), None) if indent > 6 => value_text(before),
        _ => text,
    };
    let _ = writeln!(out, "{pad}{mark} {name:<width$} = {text}{forces}");
}

fn change_block(out: &mut String, change: &ResourceChange, color: bool) {
    let sym = paint(color, symbol(change.action), style(change.action));
    let _ = writeln!(
        out,
        "  {}",
        paint(color, &headline(change), Style::new().bold())
    );
    let lead = if symbol(change.action).len() == 3 {
        String::new()
    } else {
        "  ".to_owned()
    };
    let _ = writeln!(
        out,
        "{lead}{sym} resource {:?} {:?} {{",
        change.addr.type_name, change.addr.name
    );
    let width = change
        .diffs
        .iter()
        .filter(|d| d.nested.is_empty())
        .map(|d| d.name.len())
        .max()
        .unwrap_or(0);
    for diff in &change.diffs {
        if change.action == Action::Delete {
            let mark = paint(color, "-", Style::new().red());
            let value = diff
                .before
                .as_ref()
                .map(|v| value_block(v, 8))
                .unwrap_or_default();
            let _ = writeln!(out, "      {mark} {:<width$} = {value}", diff.name);
        } else {
            attr_lines(out, diff, width, 6, color, false);
        }
    }
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out);
}

/// The whole plan as Terraform prints it.
pub fn plan_text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if !plan.has_changes() {
        let _ = writeln!(
            out,
            "No changes. Your infrastructure matches the configuration."
        );
        return out;
    }
    if plan.has_resource_changes() || !plan.moves.is_empty() || plan.imports() > 0 {
        let _ = writeln!(out, "cairn will perform the following actions:");
        let _ = writeln!(out);
    }
    for change in &plan.changes {
        let line = match (&change.moved_from, &change.import_id, change.action) {
            (_, Some(id), Action::NoOp) => {
                format!("# {} will be imported from {id}", change.addr)
            }
            (Some(from), None, Action::NoOp) => format!("# {from} has moved to {}", change.addr),
            (_, _, Action::NoOp) => continue,
            _ => {
                change_block(&mut out, change, color);
                continue;
            }
        };
        let _ = writeln!(out, "  {}", paint(color, &line, Style::new().bold()));
        let _ = writeln!(out);
    }
    if !plan.output_changes.is_empty() {
        let _ = writeln!(out, "Changes to Outputs:");
        let width = plan
            .output_changes
            .iter()
            .map(|d| d.name.len())
            .max()
            .unwrap_or(0);
        for diff in &plan.output_changes {
            attr_lines(&mut out, diff, width, 2, color, false);
        }
        let _ = writeln!(out);
    }
    if !plan.deferred_providers.is_empty() {
        let _ = writeln!(
            out,
            "Note: provider(s) {} will be configured during the apply; their resources were not refreshed.",
            plan.deferred_providers.join(", ")
        );
        let _ = writeln!(out);
    }
    let summary = plan.summary();
    let moved = match plan.moves.len() {
        0 => String::new(),
        n => format!(", {n} moved"),
    } + &match plan.imports() {
        0 => String::new(),
        n => format!(", {n} to import"),
    };
    let _ = write!(
        out,
        "{} {} to add, {} to change, {} to destroy{moved}.",
        paint(color, "Plan:", Style::new().bold()),
        summary.add,
        summary.change,
        summary.destroy
    );
    let _ = writeln!(out);
    out
}
