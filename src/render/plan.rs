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

/// How much of the plan to print. The summary (the default) hides what an update leaves
/// unchanged, as Terraform does (`# (12 unchanged attributes hidden)`), and keeps values
/// being created or destroyed readable: small structures on one line, deep or long ones
/// collapsed with a count. The detailed view (`--detailed`) hides nothing.
#[derive(Clone, Copy)]
struct Layout {
    color: bool,
    detailed: bool,
}

/// A structure whose one-line form ends before this column stays on one line.
const INLINE_COLUMNS: usize = 120;
/// Maps nested in an attribute's value (lists do not count) past which a map that does not
/// fit on one line is collapsed in the summary: a Deployment's containers sit at depth 4 of
/// its manifest (spec, template, spec, containers), an IAM policy's statements at 2.
const MAX_DEPTH: usize = 4;
/// Past this many cells (lines before × lines after, once the common start and end are
/// set aside) a text or list diff shows the middle as removed then added, instead of
/// building a table that size.
const MAX_DIFF_CELLS: usize = 1 << 20;
/// Text longer than this (a config file in a ConfigMap) is collapsed in the summary.
const MAX_TEXT_LINES: usize = 12;
/// Unchanged lines shown around a changed one in a text diff, as `diff -U2` does.
const TEXT_CONTEXT: usize = 2;

fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Whether a value is laid out over several lines: a non-empty map, or a list holding one.
fn structural(value: &Value) -> bool {
    match value {
        Value::Map(map) => !map.is_empty(),
        Value::List(items) => items
            .iter()
            .any(|i| matches!(i, Value::Map(m) if !m.is_empty())),
        _ => false,
    }
}

/// The one-line form of a value, `None` when it holds text with line breaks.
fn inline(value: &Value) -> Option<String> {
    match value {
        Value::Map(map) if map.is_empty() => Some("{}".to_owned()),
        Value::Map(map) => {
            let items = map
                .iter()
                .map(|(k, v)| Some(format!("{k:?} = {}", inline(v)?)))
                .collect::<Option<Vec<_>>>()?;
            Some(format!("{{ {} }}", items.join(", ")))
        }
        Value::List(items) => {
            let items = items.iter().map(inline).collect::<Option<Vec<_>>>()?;
            Some(format!("[{}]", items.join(", ")))
        }
        Value::String(text) if text.contains('\n') => None,
        other => Some(value_text(other)),
    }
}

/// A structure the summary does not spell out: its short plain entries (a container's
/// `name` and `image`) and how many others there are. `indent` is the column it starts at.
fn collapsed(value: &Value, indent: usize) -> String {
    match value {
        Value::Map(map) => {
            let mut shown = Vec::new();
            let mut column = indent + 2;
            // The name first (it says which element of a list this is), then single values
            // (a container's image), then short lists.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(key, item)| (*key != "name", matches!(item, Value::List(_))));
            for (key, item) in entries {
                let text = (!structural(item))
                    .then(|| inline(item))
                    .flatten()
                    .map(|text| format!("{key:?} = {text}"))
                    .filter(|text| column + text.len() + 2 <= INLINE_COLUMNS);
                if let Some(text) = text {
                    column += text.len() + 2;
                    shown.push(text);
                }
            }
            let hidden = map.len() - shown.len();
            if hidden > 0 {
                shown.push(format!("# ({} hidden)", counted(hidden, "attribute")));
            }
            format!("{{ {} }}", shown.join(", "))
        }
        other => value_text(other),
    }
}

/// One step of a difference between two sequences (list elements or lines of text).
enum Step<'a, T> {
    Same(&'a T),
    Removed(&'a T),
    Added(&'a T),
}

/// The shortest edit from `before` to `after` (a longest common subsequence of what lies
/// between their common start and end).
fn steps<'a, T: PartialEq>(before: &'a [T], after: &'a [T]) -> Vec<Step<'a, T>> {
    let head = before.iter().zip(after).take_while(|(b, a)| b == a).count();
    let tail = before[head..]
        .iter()
        .rev()
        .zip(after[head..].iter().rev())
        .take_while(|(b, a)| b == a)
        .count();
    let (middle_before, middle_after) = (
        &before[head..before.len() - tail],
        &after[head..after.len() - tail],
    );
    let mut out: Vec<Step<'a, T>> = before[..head].iter().map(Step::Same).collect();
    if middle_before.len().saturating_mul(middle_after.len()) > MAX_DIFF_CELLS {
        out.extend(middle_before.iter().map(Step::Removed));
        out.extend(middle_after.iter().map(Step::Added));
    } else {
        out.extend(common_subsequence(middle_before, middle_after));
    }
    out.extend(before[before.len() - tail..].iter().map(Step::Same));
    out
}

fn common_subsequence<'a, T: PartialEq>(before: &'a [T], after: &'a [T]) -> Vec<Step<'a, T>> {
    let (n, m) = (before.len(), after.len());
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if before[i] == after[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && before[i] == after[j] {
            out.push(Step::Same(&before[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
            // What goes before what comes in its place, as `diff` prints it.
            out.push(Step::Removed(&before[i]));
            i += 1;
        } else {
            out.push(Step::Added(&after[j]));
            j += 1;
        }
    }
    out
}

/// Which of `steps` the summary shows: every change, and `context` unchanged steps
/// either side of one.
fn shown<T>(steps: &[Step<'_, T>], context: usize) -> Vec<bool> {
    let near = |since: usize, step: &Step<'_, T>| match step {
        Step::Same(_) => since.saturating_add(1),
        _ => 0,
    };
    let mut shown = vec![false; steps.len()];
    let mut since = usize::MAX;
    for (i, step) in steps.iter().enumerate() {
        since = near(since, step);
        shown[i] = since <= context;
    }
    since = usize::MAX;
    for (i, step) in steps.iter().enumerate().rev() {
        since = near(since, step);
        shown[i] |= since <= context;
    }
    shown
}

impl Layout {
    fn mark(&self, before: Option<&Value>, after: Option<&Value>) -> String {
        let (mark, sty) = match (before, after) {
            (None, Some(_)) => ("+", Style::new().green()),
            (Some(_), None) => ("-", Style::new().red()),
            _ => ("~", Style::new().yellow()),
        };
        paint(self.color, mark, sty)
    }

    /// A value spread over lines when it holds a non-empty map (a Kubernetes manifest
    /// reads better as a block); `indent` is the column of the attribute's name and
    /// `depth` how deep the value sits below the attribute.
    fn block(&self, value: &Value, indent: usize, depth: usize) -> String {
        if !self.detailed {
            if structural(value) {
                if let Some(line) = inline(value).filter(|l| indent + l.len() <= INLINE_COLUMNS) {
                    return line;
                }
                if depth >= MAX_DEPTH && matches!(value, Value::Map(_)) {
                    return collapsed(value, indent);
                }
            }
            if let Value::String(text) = value {
                let lines = text.lines().count();
                if lines > MAX_TEXT_LINES {
                    return format!("<<-EOT # ({} hidden) EOT", counted(lines, "line"));
                }
            }
        }
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
                        self.block(item, indent + 4, depth + 1)
                    );
                }
                let _ = write!(out, "{pad}}}");
                out
            }
            Value::List(items) if structural(value) => {
                let mut out = String::from("[\n");
                for item in items {
                    let _ = writeln!(out, "{pad}    {},", self.block(item, indent + 4, depth));
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

    /// The line saying how many unchanged things the summary leaves out, if any.
    fn hidden(&self, out: &mut String, indent: usize, n: usize, what: &str) {
        if n > 0 {
            let pad = " ".repeat(indent);
            let _ = writeln!(
                out,
                "{pad}# ({} hidden)",
                counted(n, &format!("unchanged {what}"))
            );
        }
    }

    /// One attribute line (and nested lines for per-key map diffs).
    fn attr_lines(
        &self,
        out: &mut String,
        diff: &AttrDiff,
        width: usize,
        indent: usize,
        quote_key: bool,
    ) {
        let pad = " ".repeat(indent);
        let name = if quote_key && !diff.name.starts_with('[') {
            format!("{:?}", diff.name)
        } else {
            diff.name.clone()
        };
        let mark = self.mark(diff.before.as_ref(), diff.after.as_ref());
        let forces = if diff.forces_replacement {
            paint(self.color, " # forces replacement", Style::new().red())
        } else {
            String::new()
        };
        if !diff.nested.is_empty() {
            let (open, close) = match diff.after {
                Some(Value::List(_)) => ('[', ']'),
                _ => ('{', '}'),
            };
            let _ = writeln!(out, "{pad}{mark} {name:<width$} = {open}{forces}");
            self.nested_lines(out, diff, indent + 4);
            let _ = writeln!(out, "{pad}  {close}");
            return;
        }
        match (&diff.before, &diff.after) {
            (Some(Value::List(before)), Some(Value::List(after)))
                if before
                    .iter()
                    .chain(after)
                    .any(|v| structural(v) || matches!(v, Value::List(_)))
                    || inline(&Value::List(before.clone())).map_or(0, |t| t.len())
                        + inline(&Value::List(after.clone())).map_or(0, |t| t.len())
                        > INLINE_COLUMNS =>
            {
                let _ = writeln!(out, "{pad}{mark} {name:<width$} = [{forces}");
                self.list_steps(out, before, after, indent + 4);
                let _ = writeln!(out, "{pad}  ]");
                return;
            }
            (Some(Value::String(before)), Some(Value::String(after)))
                if before.contains('\n') || after.contains('\n') =>
            {
                let _ = writeln!(out, "{pad}{mark} {name:<width$} = <<-EOT{forces}");
                self.text_steps(out, before, after, indent + 4);
                let _ = writeln!(out, "{pad}  EOT");
                return;
            }
            _ => {}
        }
        let text = match (&diff.before, &diff.after) {
            (Some(before), Some(after)) => {
                format!("{} -> {}", value_text(before), value_text(after))
            }
            (None, Some(after)) => self.block(after, indent + 2, 0),
            (Some(before), None) if indent > 6 => self.block(before, indent + 2, 0),
            (Some(before), None) => format!("{} -> null", value_text(before)),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "{pad}{mark} {name:<width$} = {text}{forces}");
    }

    /// The entries of a map or same-length list that differ; the summary counts the
    /// others, the detailed view prints them unmarked. `indent` is the entries' column.
    fn nested_lines(&self, out: &mut String, diff: &AttrDiff, indent: usize) {
        let entries: Vec<(String, &Value)> = match (&diff.before, &diff.after) {
            (Some(Value::Map(before)), Some(Value::Map(after))) => after
                .iter()
                .chain(before.iter().filter(|(k, _)| !after.contains_key(*k)))
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (format!("{k:?}"), v))
                .collect(),
            (_, Some(Value::List(after))) => after
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("[{i}]"), v))
                .collect(),
            _ => Vec::new(),
        };
        let key = |d: &AttrDiff| {
            if d.name.starts_with('[') {
                d.name.clone()
            } else {
                format!("{:?}", d.name)
            }
        };
        let width = if self.detailed {
            entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0)
        } else {
            diff.nested.iter().map(|d| key(d).len()).max().unwrap_or(0)
        };
        let what = match diff.after {
            Some(Value::List(_)) => "element",
            _ => "attribute",
        };
        if !self.detailed {
            for nested in &diff.nested {
                self.attr_lines(out, nested, width, indent, true);
            }
            let unchanged = entries.len().saturating_sub(diff.nested.len());
            self.hidden(out, indent + 2, unchanged, what);
            return;
        }
        let pad = " ".repeat(indent);
        let mut entries = entries;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in entries {
            match diff.nested.iter().find(|d| key(d) == name) {
                Some(nested) => self.attr_lines(out, nested, width, indent, true),
                None => {
                    let text = self.block(value, indent + 2, 0);
                    let _ = writeln!(out, "{pad}  {name:<width$} = {text}");
                }
            }
        }
    }

    /// A list whose length changed, element by element; `indent` is the elements' column.
    fn list_steps(&self, out: &mut String, before: &[Value], after: &[Value], indent: usize) {
        let pad = " ".repeat(indent);
        let steps = steps(before, after);
        let mut unchanged = 0;
        for step in &steps {
            let (mark, value) = match step {
                Step::Same(_) if !self.detailed => {
                    unchanged += 1;
                    continue;
                }
                Step::Same(value) => (" ".to_owned(), *value),
                Step::Removed(value) => (self.mark(Some(value), None), *value),
                Step::Added(value) => (self.mark(None, Some(value)), *value),
            };
            self.hidden(out, indent + 2, std::mem::take(&mut unchanged), "element");
            let _ = writeln!(out, "{pad}{mark} {},", self.block(value, indent + 2, 0));
        }
        self.hidden(out, indent + 2, unchanged, "element");
    }

    /// Text with line breaks, line by line; the summary keeps a little context around
    /// each change. `indent` is the lines' column.
    fn text_steps(&self, out: &mut String, before: &str, after: &str, indent: usize) {
        let pad = " ".repeat(indent);
        let before: Vec<&str> = before.lines().collect();
        let after: Vec<&str> = after.lines().collect();
        let steps = steps(&before, &after);
        let context = if self.detailed {
            usize::MAX
        } else {
            TEXT_CONTEXT
        };
        let shown = shown(&steps, context);
        let mut unchanged = 0;
        for (step, shown) in steps.iter().zip(shown) {
            let (mark, line) = match step {
                Step::Same(_) if !shown => {
                    unchanged += 1;
                    continue;
                }
                Step::Same(line) => (" ".to_owned(), **line),
                Step::Removed(line) => (paint(self.color, "-", Style::new().red()), **line),
                Step::Added(line) => (paint(self.color, "+", Style::new().green()), **line),
            };
            self.hidden(out, indent + 2, std::mem::take(&mut unchanged), "line");
            let _ = writeln!(out, "{}", format!("{pad}{mark} {line}").trim_end());
        }
        self.hidden(out, indent + 2, unchanged, "line");
    }

    fn change_block(&self, out: &mut String, change: &ResourceChange) {
        let color = self.color;
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
        // An update's attributes that do not change: counted, or listed in the detailed view.
        let unchanged: Vec<(&String, &Value)> = match (&change.before, &change.after) {
            (Some(before), Some(after)) if change.action != Action::Delete => after
                .0
                .iter()
                .chain(before.0.iter().filter(|(k, _)| !after.0.contains_key(*k)))
                .filter(|(k, v)| !v.is_null() && !change.diffs.iter().any(|d| &d.name == *k))
                .collect(),
            _ => Vec::new(),
        };
        let width = change
            .diffs
            .iter()
            .filter(|d| d.nested.is_empty())
            .map(|d| d.name.len())
            .chain(
                unchanged
                    .iter()
                    .filter(|_| self.detailed)
                    .map(|(k, _)| k.len()),
            )
            .max()
            .unwrap_or(0);
        for diff in &change.diffs {
            if change.action == Action::Delete {
                let mark = paint(color, "-", Style::new().red());
                let value = diff
                    .before
                    .as_ref()
                    .map(|v| self.block(v, 8, 0))
                    .unwrap_or_default();
                let _ = writeln!(out, "      {mark} {:<width$} = {value}", diff.name);
            } else {
                self.attr_lines(out, diff, width, 6, false);
            }
        }
        if self.detailed {
            for (name, value) in &unchanged {
                let _ = writeln!(out, "        {name:<width$} = {}", self.block(value, 8, 0));
            }
        } else {
            self.hidden(out, 8, unchanged.len(), "attribute");
        }
        let _ = writeln!(out, "    }}");
        let _ = writeln!(out);
    }
}

/// The whole plan as Terraform prints it, unchanged nested structure summarised.
pub fn plan_text(plan: &Plan, color: bool) -> String {
    Layout {
        color,
        detailed: false,
    }
    .plan(plan)
}

/// The whole plan with nothing summarised (`--detailed`): every value in full, and an
/// update's unchanged attributes, entries, elements and lines unmarked.
pub fn plan_text_detailed(plan: &Plan, color: bool) -> String {
    Layout {
        color,
        detailed: true,
    }
    .plan(plan)
}

impl Layout {
    fn plan(&self, plan: &Plan) -> String {
        let color = self.color;
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
                (Some(from), None, Action::NoOp) => {
                    format!("# {from} has moved to {}", change.addr)
                }
                (_, _, Action::NoOp) => continue,
                _ => {
                    self.change_block(&mut out, change);
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
                self.attr_lines(&mut out, diff, width, 2, false);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks<T: std::fmt::Display>(steps: &[Step<'_, T>]) -> String {
        steps
            .iter()
            .map(|s| match s {
                Step::Same(v) => format!(" {v}"),
                Step::Removed(v) => format!("-{v}"),
                Step::Added(v) => format!("+{v}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn steps_keep_what_is_common_and_remove_before_adding() {
        let before = ["a", "b", "c", "d", "e"];
        let after = ["a", "x", "c", "d", "e", "f"];
        assert_eq!(marks(&steps(&before, &after)), " a,-b,+x, c, d, e,+f");
        assert_eq!(marks(&steps::<&str>(&[], &["a"])), "+a");
        assert_eq!(marks(&steps(&["a"], &["a"])), " a");
    }

    #[test]
    fn a_diff_too_big_for_the_table_replaces_its_middle() {
        let before: Vec<u32> = (0..1100).collect();
        let after: Vec<u32> = std::iter::once(0).chain(2000..3000).chain([1099]).collect();
        let found = steps(&before, &after);
        assert!(matches!(found.first(), Some(Step::Same(0))));
        assert!(matches!(found.last(), Some(Step::Same(1099))));
        let removed = found
            .iter()
            .filter(|s| matches!(s, Step::Removed(_)))
            .count();
        let added = found.iter().filter(|s| matches!(s, Step::Added(_))).count();
        assert_eq!((removed, added), (1098, 1000));
    }

    #[test]
    fn the_summary_shows_context_around_changes() {
        let before = ["1", "2", "3", "4", "5", "6", "7", "8"];
        let after = ["1", "2", "3", "4", "X", "6", "7", "8"];
        let found = steps(&before, &after);
        let shown: Vec<usize> = shown(&found, 1)
            .iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(i, _)| i)
            .collect();
        // 4, -5, +X, 6: one line either side of the change.
        assert_eq!(shown, [3, 4, 5, 6]);
        assert!(shown_all(&found));
    }

    fn shown_all(found: &[Step<'_, &str>]) -> bool {
        shown(found, usize::MAX).iter().all(|s| *s)
    }
}
