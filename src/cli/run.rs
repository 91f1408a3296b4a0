//! `plan`, `apply` and `destroy`: load the stack, read the state, plan, and for apply and
//! destroy take the lock, confirm and walk the plan.
//!
//! `plan` is read-only: it takes no lock, creates no folder or object, writes no key and
//! adopts nothing; creates an interrupted apply left pending are reported, and the next
//! apply adopts them.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use super::{CliError, LockArgs, RunArgs, StackArgs, load, location, report_takeover, usage};
use crate::addr::ResourceAddr;
use crate::apply::{self, ApplyInput, ApplyOptions};
use crate::graph::ResourceGraph;
use crate::plan::{self, Plan, PlanInput, PlanOptions};
use crate::providers::{Clients, Registry};
use crate::render::{self, Printer};
use crate::stack::Stack;
use crate::state::{Location, SensitiveHasher, StateFile, StateStore, StateView};

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(format!("could not start the async runtime: {e}"), None))
}

fn parse_targets(run: &RunArgs) -> Result<Vec<ResourceAddr>, CliError> {
    run.targets
        .iter()
        .map(|t| {
            t.parse::<ResourceAddr>()
                .map_err(|e| usage(e.to_string(), None))
        })
        .collect()
}

/// The stack, its graph and where its state is.
struct Loaded {
    registry: Registry,
    stack: Stack,
    graph: ResourceGraph,
    location: Location,
    clients: Clients,
}

fn load_stack(args: &StackArgs) -> Result<Loaded, CliError> {
    let (registry, stack) = load(args)?;
    let graph = ResourceGraph::build(&stack)?;
    let location = location::for_stack(args, &stack.name, &stack.env, stack.backend.as_ref())?;
    let clients = Clients::new(&stack.name, &stack.env);
    Ok(Loaded {
        registry,
        stack,
        graph,
        location,
        clients,
    })
}

/// A stack that just named a remote backend would start from an empty state there while
/// its resources are recorded in the local file: refuse, and say how to move it.
fn check_not_left_behind(
    args: &StackArgs,
    loaded: &Loaded,
    state: &StateFile,
) -> Result<(), CliError> {
    if matches!(loaded.location, Location::Local(_)) || args.selection.state.is_some() {
        return Ok(());
    }
    let fresh = state.serial == 0 && state.resources.is_empty() && state.pending.is_empty();
    let local = location::local_default(args, &loaded.stack.name, &loaded.stack.env)?;
    if fresh && crate::state::read_at(&local)?.is_some() {
        return Err(usage(
            format!(
                "the state at {} is empty, but this stack's resources are recorded in {local}",
                loaded.location
            ),
            Some(
                "move that state with `cairn state migrate` (lineage, serial and key are kept), then run again",
            ),
        ));
    }
    Ok(())
}

fn check_targets(
    stack: &Stack,
    state: &StateFile,
    targets: &[ResourceAddr],
) -> Result<(), CliError> {
    for target in targets {
        if !stack.resources.contains_key(target) && !state.resources.contains_key(target) {
            return Err(usage(
                format!("--target {target}: no such resource in the stack or the state"),
                None,
            ));
        }
    }
    Ok(())
}

async fn build_plan(
    loaded: &Loaded,
    state: &StateFile,
    hasher: &SensitiveHasher,
    run: &RunArgs,
    destroy: bool,
) -> Result<Plan, CliError> {
    let targets = parse_targets(run)?;
    check_targets(&loaded.stack, state, &targets)?;
    let input = PlanInput {
        stack: &loaded.stack,
        graph: &loaded.graph,
        registry: &loaded.registry,
        clients: &loaded.clients,
        state,
        hasher,
    };
    let options = PlanOptions {
        refresh: run.refresh,
        targets,
        destroy,
        parallelism: usize::from(run.parallelism),
    };
    Ok(plan::build(input, &options).await?)
}

/// `cairn plan`: returns whether the plan has changes.
pub(super) fn plan(
    args: &StackArgs,
    run: &RunArgs,
    json: bool,
    printer: Printer,
) -> Result<bool, CliError> {
    let rt = runtime()?;
    let loaded = load_stack(args)?;
    let view = StateView::read(&loaded.location, &loaded.stack.name, &loaded.stack.env)?;
    check_not_left_behind(args, &loaded, &view.state)?;
    for addr in view.state.pending.keys() {
        printer.err(&format!(
            "{addr}: an interrupted apply started creating this object; `cairn apply` looks for it and adopts it"
        ));
    }
    let plan = rt.block_on(interruptible(build_plan(
        &loaded,
        &view.state,
        &view.hasher,
        run,
        false,
    )))?;
    if json {
        printer.out(&render::plan_json(&plan));
    } else {
        printer.out(render::plan_text(&plan, printer.color).trim_end());
    }
    Ok(plan.has_changes())
}

/// Adopts what interrupted applies created, then plans.
async fn adopt_and_plan(
    loaded: &Loaded,
    store: &mut StateStore,
    run: &RunArgs,
    destroy: bool,
    printer: Printer,
) -> Result<Plan, CliError> {
    let adopted = plan::adopt_interrupted(
        store,
        &loaded.stack,
        &loaded.graph,
        &loaded.registry,
        &loaded.clients,
    )
    .await?;
    for addr in adopted.adopted {
        printer.err(&format!(
            "{addr}: adopted the object an interrupted apply created"
        ));
    }
    for (addr, error) in adopted.unresolved {
        printer.err(&format!(
            "Warning: {addr}: an interrupted create could not be looked up ({error}); it stays pending. `cairn state rm {addr}` forgets it."
        ));
    }
    build_plan(loaded, store.state(), store.hasher(), run, destroy).await
}

/// Runs `work` unless Ctrl-C comes first. Used while the state is locked but nothing has
/// changed yet (planning, the prompt), so an interrupt unwinds normally and releases the
/// lock instead of killing the process with it held.
async fn interruptible<T>(
    work: impl std::future::Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(CliError::Interrupted),
    }
}

async fn confirm(printer: Printer, destroy: bool) -> Result<bool, CliError> {
    let question = if destroy {
        "Do you really want to destroy all resources? Only 'yes' will be accepted: "
    } else {
        "Do you want to perform these actions? Only 'yes' will be accepted: "
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

/// `cairn apply` and `cairn destroy`.
pub(super) fn apply(
    args: &StackArgs,
    run: &RunArgs,
    lock: &LockArgs,
    auto_approve: bool,
    json: bool,
    destroy: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let command = if destroy {
        "cairn destroy"
    } else {
        "cairn apply"
    };
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
    let loaded = load_stack(args)?;
    let operation = if destroy { "destroy" } else { "apply" };
    let mut store = StateStore::open_at(
        &loaded.location,
        &loaded.stack.name,
        &loaded.stack.env,
        &lock.options(operation),
    )?;
    report_takeover(&store, &loaded.location, printer);
    check_not_left_behind(args, &loaded, store.state())?;
    let plan = rt.block_on(interruptible(adopt_and_plan(
        &loaded, &mut store, run, destroy, printer,
    )))?;
    if json {
        printer.out(&render::plan_json(&plan));
    } else {
        printer.out(render::plan_text(&plan, printer.color).trim_end());
    }
    if !plan.has_changes() {
        store.close()?;
        if json {
            printer.out(&render::apply_summary_json(
                &apply::ApplyOutcome::default(),
                destroy,
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        printer.out("");
    }
    if !auto_approve {
        let confirmed = rt.block_on(interruptible(confirm(printer, destroy)));
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
    let observer: Arc<dyn apply::ApplyObserver> = if json {
        Arc::new(render::JsonProgress::new(printer))
    } else {
        Arc::new(render::ApplyProgress::new(printer))
    };
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(0u32);
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
        let input = ApplyInput {
            stack: &loaded.stack,
            registry: &loaded.registry,
            clients: &loaded.clients,
            plan: &plan,
        };
        let options = ApplyOptions { parallelism: usize::from(run.parallelism) };
        apply::apply(input, &mut store, options, observer, Some(cancel_rx)).await
    });
    if json {
        printer.out(&render::apply_summary_json(&outcome, destroy));
    } else {
        printer.out("");
        printer.out(render::apply_report(&outcome, destroy, command, printer.color).trim_end());
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
