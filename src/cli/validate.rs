//! `cairn validate`: every problem of the stack at once, with file:line:col. Reads no
//! state and calls no provider.

use std::process::ExitCode;

use super::{CliError, StackArgs, load};
use crate::graph::ResourceGraph;
use crate::plan;
use crate::render::Printer;

/// `cairn validate`.
pub(super) fn validate(args: &StackArgs, printer: Printer) -> Result<ExitCode, CliError> {
    let (registry, loaded) = load(args)?;
    ResourceGraph::build(&loaded)?;
    plan::check_values(&loaded, &registry)?;
    printer.out(&format!(
        "The stack is valid: {} resources, {} outputs.",
        loaded.resources.len(),
        loaded.outputs.len()
    ));
    Ok(ExitCode::SUCCESS)
}
