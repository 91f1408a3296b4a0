//! `cairn show`: the recorded state, from the state alone.

use std::process::ExitCode;

use super::{CliError, StackArgs, location};
use crate::render::{self, Printer};
use crate::state;

/// `cairn show`.
pub(super) fn show(args: &StackArgs, json: bool, printer: Printer) -> Result<ExitCode, CliError> {
    let recorded = state::read_at(&location::for_state(args)?)?;
    if json {
        printer.out(&render::state_json(recorded.as_ref()));
    } else {
        printer.out(&render::state_text(recorded.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}
