//! `cairn apply` (and the walk `destroy` shares): open the session, lock the state, adopt
//! what an interrupted apply created, plan, confirm, and walk the plan; `cairn apply FILE`
//! applies a saved plan, never prompting. The prompt and Ctrl-C are this module's: a
//! first Ctrl-C while walking finishes what is in flight, a second stops waiting.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use super::{
    CliError, LockArgs, RunArgs, StackArgs, interruptible, open, open_options, plan_options,
    runtime, show_plan, usage,
};
use crate::apply::{self, ApplyOptions};
use crate::plan::Plan;
use crate::providers::Registry;
use crate::render::{self, Printer};
use crate::session::{self, Session};
use crate::state::StateStore;

/// Which command is walking.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Apply,
    Destroy,
}

impl Mode {
    fn command(self) -> &'static str {
        match self {
            Mode::Apply => "cairn apply",
            Mode::Destroy => "cairn destroy",
        }
    }

    fn operation(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Destroy => "destroy",
        }
    }

    fn destroy(self) -> bool {
        self == Mode::Destroy
    }
}

/// `cairn apply`.
pub(super) fn apply(
    args: &StackArgs,
    run: &RunArgs,
    lock: &LockArgs,
    auto_approve: bool,
    json: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    plan_and_walk(args, run, lock, auto_approve, json, Mode::Apply, printer)
}

/// Plans under the lock (adopting interrupted creates first), confirms, and walks.
pub(super) fn plan_and_walk(
    args: &StackArgs,
    run: &RunArgs,
    lock: &LockArgs,
    auto_approve: bool,
    json: bool,
    mode: Mode,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let command = mode.command();
    if json && !auto_approve {
        return Err(usage(
            format!("{command} --json never prompts; nothing was changed"),
            Some("review with `cairn plan`, then pass --auto-approve with --json"),
        ));
    }
    if !auto_approve && !std::io::stdin().is_terminal() {
        return Err(usage(
            format!(
                "{command} asks for confirmation, but stdin is not a terminal; nothing was changed"
            ),
            Some("review with `cairn plan`, then pass --auto-approve to run without a prompt"),
        ));
    }
    let rt = runtime()?;
    let registry = Registry::builtin();
    let session = open(&registry, args, printer)?;
    let mut store = session.lock(&lock.options(mode.operation()))?;
    let options = plan_options(run, mode.destroy())?;
    let plan = rt.block_on(interruptible(async {
        session.adopt(&mut store).await?;
        session.plan(store.state(), store.hasher(), &options).await
    }))?;
    show_plan(&plan, json, run.detailed, printer);
    if !plan.has_changes() {
        return nothing_to_do(store, json, mode, printer);
    }
    if !json {
        printer.out("");
    }
    if !auto_approve {
        let confirmed = rt.block_on(interruptible(confirm(printer, mode)));
        if !matches!(confirmed, Ok(true)) {
            store.close()?;
            // The thread blocked reading stdin must not keep the process alive.
            rt.shutdown_background();
            return match confirmed {
                Ok(_) => {
                    printer.out("Apply cancelled.");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e),
            };
        }
    }
    walk(rt, &session, store, &plan, run, json, mode, printer)
}

async fn confirm(printer: Printer, mode: Mode) -> Result<bool, CliError> {
    let question = match mode {
        Mode::Destroy => {
            "Do you really want to destroy all resources? Only 'yes' will be accepted: "
        }
        Mode::Apply => "Do you want to perform these actions? Only 'yes' will be accepted: ",
    };
    printer.prompt(question);
    let answer = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map(|_| answer)
    })
    .await
    .map_err(|e| usage(format!("could not read the answer: {e}"), None))?
    .map_err(|e| usage(format!("could not read the answer: {e}"), None))?;
    Ok(answer.trim() == "yes")
}

/// Closes the state of an apply with nothing to do.
fn nothing_to_do(
    store: StateStore,
    json: bool,
    mode: Mode,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    store.close()?;
    if json {
        printer.out(&render::apply_summary_json(
            &apply::ApplyOutcome::default(),
            mode.destroy(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Walks a confirmed plan: Ctrl-C finishes what is in flight, then the report.
#[allow(clippy::too_many_arguments)]
fn walk(
    rt: tokio::runtime::Runtime,
    session: &Session<'_>,
    mut store: StateStore,
    plan: &Plan,
    run: &RunArgs,
    json: bool,
    mode: Mode,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let observer: Arc<dyn apply::ApplyObserver> = if json {
        Arc::new(render::JsonProgress::new(printer))
    } else {
        Arc::new(render::ApplyProgress::new(printer))
    };
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(0u32);
    let options = ApplyOptions {
        parallelism: usize::from(run.parallelism),
    };
    let outcome = rt.block_on(async {
        tokio::spawn(async move {
            let mut presses = 0;
            while tokio::signal::ctrl_c().await.is_ok() {
                presses += 1;
                if presses == 1 {
                    printer.err("Interrupt received: finishing operations in flight and saving state (Ctrl-C again to stop waiting).");
                } else {
                    printer.err("Second interrupt: no longer waiting; interrupted creates are journaled and will be adopted next run.");
                }
                if cancel_tx.send(presses).is_err() {
                    break;
                }
            }
        });
        session
            .apply(&mut store, plan, options, observer, Some(cancel_rx))
            .await
    });
    if json {
        printer.out(&render::apply_summary_json(&outcome, mode.destroy()));
    } else {
        printer.out("");
        printer.out(
            render::apply_report(&outcome, mode.destroy(), mode.command(), printer.color)
                .trim_end(),
        );
    }
    store.close()?;
    // Drop the runtime without waiting on the Ctrl-C listener task.
    rt.shutdown_background();
    if outcome.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::Reported)
    }
}

/// `cairn apply FILE`: applies the saved plan in FILE, exactly, without a prompt (the
/// checks are `session::saved`'s).
pub(super) fn apply_saved(
    args: &StackArgs,
    run: &RunArgs,
    lock: &LockArgs,
    json: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let file = &args.dir;
    let saved = session::read_saved(file)?;
    if !run.targets.is_empty() {
        return Err(usage(
            "--target does not apply to a saved plan: it is applied as planned",
            Some("plan again with the targets you want"),
        ));
    }
    let registry = Registry::builtin();
    let given = open_options(args)?;
    let session = Session::open_saved(&registry, file, &saved, given)?
        .with_notices(move |notice| super::print_notice(notice, printer));
    let rt = runtime()?;
    let mut store = session.lock(&lock.options("apply"))?;
    session.check_saved(&store, file, &saved)?;
    let plan = session.saved_plan(file, &saved)?;
    show_plan(&plan, json, run.detailed, printer);
    if !plan.has_changes() {
        return nothing_to_do(store, json, Mode::Apply, printer);
    }
    if !json {
        printer.out("");
    }
    session.reserve_lineage(&mut store, &saved)?;
    walk(rt, &session, store, &plan, run, json, Mode::Apply, printer)
}
