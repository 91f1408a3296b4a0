//! `cairn plan`: read-only. It takes no lock, creates no folder or object, writes no key
//! and adopts nothing; creates an interrupted apply left pending are reported, and the
//! next apply adopts them. `--out FILE` saves the plan for `cairn apply FILE`
//! (`session::saved`, docs/plan-file.md).

use std::path::Path;
use std::process::ExitCode;

use super::{CliError, RunArgs, StackArgs, interruptible, open, plan_options, runtime, show_plan};
use crate::providers::Registry;
use crate::render::Printer;

/// `cairn plan`: exits 2 with `--detailed-exitcode` when the plan has changes.
pub(super) fn plan(
    args: &StackArgs,
    run: &RunArgs,
    json: bool,
    detailed_exitcode: bool,
    out: Option<&Path>,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let rt = runtime()?;
    let registry = Registry::builtin();
    let session = open(&registry, args, printer)?;
    let view = session.read_state()?;
    let options = plan_options(run, false)?;
    let plan = rt.block_on(interruptible(session.plan(
        &view.state,
        &view.hasher,
        &options,
    )))?;
    show_plan(&plan, json, run.detailed, printer);
    if let Some(out) = out {
        session.save_plan(out, &plan, &view, run.refresh, &run.targets)?;
        if !json {
            printer.out(&format!(
                "\nSaved the plan to {}. Apply exactly this plan with `cairn apply {}`.",
                out.display(),
                out.display()
            ));
        }
    }
    Ok(if detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
