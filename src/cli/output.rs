//! `cairn output [DIR] [NAME]`: the outputs the last apply recorded, from the state alone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{CliError, Selection, StackArgs, location, usage};
use crate::render::{self, Printer};
use crate::state;

/// `cairn output [DIR] [NAME]`: the values recorded by the last apply. A sensitive
/// output's value is not in the state (only its keyed hash is), so it cannot be printed
/// from there; cairn says so instead of planning again, which could print a value other
/// than the one applied.
pub(super) fn output(
    args: Vec<String>,
    selection: &Selection,
    json: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let (dir, name) = match args.as_slice() {
        [] => (PathBuf::from("."), None),
        [one] if Path::new(one).is_dir() => (PathBuf::from(one), None),
        [one] => (PathBuf::from("."), Some(one.clone())),
        [dir, name, ..] => (PathBuf::from(dir), Some(name.clone())),
    };
    let stack_args = StackArgs {
        dir,
        selection: selection.clone(),
    };
    let recorded = state::read_at(&location::for_state(&stack_args)?)?;
    let outputs = recorded.map(|s| s.outputs).unwrap_or_default();
    let Some(name) = name else {
        if json {
            printer.out(&render::outputs_json(&outputs));
        } else {
            for (name, value) in &outputs {
                printer.out(&render::output_line(
                    name,
                    value,
                    value.contains_sensitive(),
                ));
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(value) = outputs.get(&name) else {
        return Err(usage(
            format!("no output named `{name}` in the state"),
            Some("run `cairn output` to list them"),
        ));
    };
    if value.contains_sensitive() {
        return Err(usage(
            format!(
                "output `{name}` is sensitive: the state keeps only a keyed hash of it, never the value"
            ),
            Some(
                "read it where the secret lives (e.g. the Secrets Manager entry the stack writes), or expose a non-sensitive part as its own output",
            ),
        ));
    }
    let exposed = value.expose().unwrap_or(serde_json::Value::Null);
    match exposed {
        serde_json::Value::String(s) if !json => printer.out(&s),
        other => printer.out(&serde_json::to_string_pretty(&other).unwrap_or_default()),
    }
    Ok(ExitCode::SUCCESS)
}
