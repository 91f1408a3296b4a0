//! `cairn destroy`: plans the deletion of everything the state records, then confirms
//! and walks it as `apply` does.

use std::process::ExitCode;

use super::apply::{Mode, plan_and_walk};
use super::{CliError, LockArgs, RunArgs, StackArgs};
use crate::render::Printer;

/// `cairn destroy`.
pub(super) fn destroy(
    args: &StackArgs,
    run: &RunArgs,
    lock: &LockArgs,
    auto_approve: bool,
    json: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    plan_and_walk(args, run, lock, auto_approve, json, Mode::Destroy, printer)
}
