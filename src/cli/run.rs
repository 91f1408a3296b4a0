//! `plan`, `apply` and `destroy`: load the stack, read the state, plan, and for apply and
//! destroy take the lock, confirm and walk the plan.
//!
//! `plan` is read-only: it takes no lock, creates no folder or object, writes no key and
//! adopts nothing; creates an interrupted apply left pending are reported, and the next
//! apply adopts them. `plan --out FILE` saves the plan and `apply FILE` applies it
//! (`plan::file`, docs/plan-file.md): re-planned under the lock, walked only if it is
//! still the saved plan, never prompting.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::{
    CliError, LockArgs, RunArgs, StackArgs, load, load_options, location, report_takeover, usage,
};
use crate::addr::ResourceAddr;
use crate::apply::{self, ApplyInput, ApplyOptions};
use crate::graph::ResourceGraph;
use crate::plan::file::{Inputs, PlannedState, SaveContext, SavedPlan, compare_plans};
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
        // A block, or one instance of it (`TYPE.NAME["key"]`).
        let configured = stack
            .resources
            .get(&target.config())
            .is_some_and(|r| target.key.is_none() || r.for_each.is_some());
        if !configured && !state.resources.keys().any(|a| target.covers(a)) {
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
    out: Option<&Path>,
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
    show_plan(&plan, json, run.detailed, printer);
    if let Some(out) = out {
        save_plan(out, args, run, &loaded, &view, &plan)?;
        if !json {
            printer.out(&format!(
                "\nSaved the plan to {}. Apply exactly this plan with `cairn apply {}`.",
                out.display(),
                out.display()
            ));
        }
    }
    Ok(plan.has_changes())
}

fn show_plan(plan: &Plan, json: bool, detailed: bool, printer: Printer) {
    if json {
        printer.out(&render::plan_json(plan));
    } else if detailed {
        printer.out(render::plan_text_detailed(plan, printer.color).trim_end());
    } else {
        printer.out(render::plan_text(plan, printer.color).trim_end());
    }
}

/// Writes `plan` to `out` as a saved plan (no secret in it: see `plan::file`).
fn save_plan(
    out: &Path,
    args: &StackArgs,
    run: &RunArgs,
    loaded: &Loaded,
    view: &StateView,
    plan: &Plan,
) -> Result<(), CliError> {
    let options = load_options(&args.selection)?;
    let given_vars = options
        .env_vars
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix(crate::stack::VAR_ENV_PREFIX)?.to_owned(),
                v.clone(),
            ))
        })
        .chain(options.vars)
        .collect();
    // The key of a state never written is made by its first apply, unless it comes from
    // the environment: only a key the apply will use again can hash sensitive variables.
    let key_kept = view.state.serial > 0 || std::env::var_os(crate::state::KEY_ENV_VAR).is_some();
    let saved = SavedPlan::new(
        plan,
        &loaded.stack,
        SaveContext {
            env_base: args.selection.env_base.as_deref(),
            dir: &args.dir,
            state: PlannedState {
                lineage: view.state.lineage.clone(),
                serial: view.state.serial,
            },
            hasher: key_kept.then_some(&view.hasher),
            refresh: run.refresh,
            targets: run.targets.clone(),
            given_vars,
        },
    );
    let bytes = serde_json::to_vec_pretty(&saved)
        .map_err(|e| usage(format!("could not encode the plan: {e}"), None))?;
    std::fs::write(out, bytes).map_err(|e| {
        usage(
            format!("could not write the plan to {}: {e}", out.display()),
            None,
        )
    })
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
    show_plan(&plan, json, run.detailed, printer);
    if !plan.has_changes() {
        return nothing_to_do(store, json, destroy, printer);
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
    walk(rt, &loaded, store, &plan, run, json, destroy, printer)
}

/// `cairn import ADDR ID`: reads the object through its provider and records it.
pub(super) fn import(
    args: &StackArgs,
    lock: &LockArgs,
    addr: &str,
    id: &str,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let addr: ResourceAddr = addr
        .parse()
        .map_err(|e: crate::addr::ParseAddrError| usage(e.to_string(), None))?;
    let rt = runtime()?;
    let loaded = load_stack(args)?;
    match loaded.stack.resources.get(&addr.config()) {
        None => {
            return Err(usage(
                format!(
                    "cannot import to {addr}: `{}` is not in the stack",
                    addr.config()
                ),
                Some("add its block to the stack first: the import adopts an object for it"),
            ));
        }
        Some(resource) if resource.for_each.is_some() != addr.key.is_some() => {
            return Err(usage(
                format!(
                    "cannot import to {addr}: `{}` {}",
                    addr.config(),
                    if addr.key.is_some() {
                        "has no for_each"
                    } else {
                        "has for_each: name the instance, e.g. 'TYPE.NAME[\"key\"]'"
                    }
                ),
                None,
            ));
        }
        Some(_) => {}
    }
    let mut store = StateStore::open_at(
        &loaded.location,
        &loaded.stack.name,
        &loaded.stack.env,
        &lock.options("import"),
    )?;
    report_takeover(&store, &loaded.location, printer);
    if store.state().resources.contains_key(&addr) {
        store.close()?;
        return Err(usage(
            format!("{addr} is in the state already"),
            Some("`cairn state rm` it first to adopt another object"),
        ));
    }
    let input = PlanInput {
        stack: &loaded.stack,
        graph: &loaded.graph,
        registry: &loaded.registry,
        clients: &loaded.clients,
        state: store.state(),
        hasher: store.hasher(),
    };
    let read = async { Ok(plan::import_object(&input, &addr, id).await?) };
    let attrs = match rt.block_on(interruptible(read)) {
        Ok(Some(attrs)) => attrs,
        Ok(None) => {
            store.close()?;
            return Err(usage(
                format!(
                    "cannot import {addr}: the configuration of provider `{}` is not known yet",
                    addr.provider()
                ),
                Some("apply what the provider's configuration references first"),
            ));
        }
        Err(e) => {
            store.close()?;
            return Err(e);
        }
    };
    let resource = crate::state::ResourceState {
        addr: addr.clone(),
        provider: addr.provider().to_owned(),
        attrs: store.hasher().redact_attrs(&attrs),
        dependencies: plan::imported_dependencies(&loaded.graph, store.state(), &addr),
        fingerprints: Default::default(),
    };
    store.record_resource(resource)?;
    store.close()?;
    printer.out(&format!(
        "Imported {id} as {addr}. `cairn plan` shows how it differs from the configuration."
    ));
    Ok(ExitCode::SUCCESS)
}

/// Closes the state of an apply with nothing to do.
fn nothing_to_do(
    store: StateStore,
    json: bool,
    destroy: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    store.close()?;
    if json {
        printer.out(&render::apply_summary_json(
            &apply::ApplyOutcome::default(),
            destroy,
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Walks a confirmed plan: Ctrl-C finishes what is in flight, then the report.
#[allow(clippy::too_many_arguments)]
fn walk(
    rt: tokio::runtime::Runtime,
    loaded: &Loaded,
    mut store: StateStore,
    plan: &Plan,
    run: &RunArgs,
    json: bool,
    destroy: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let command = if destroy {
        "cairn destroy"
    } else {
        "cairn apply"
    };
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
            plan,
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

/// Why a saved plan no longer applies: nothing was changed.
fn stale(file: &Path, what: &str, reasons: &[String]) -> CliError {
    usage(
        format!(
            "the saved plan {} no longer applies: {what}: {}; nothing was changed",
            file.display(),
            reasons.join("; ")
        ),
        Some("make a new plan with `cairn plan --out FILE`, review it, and apply that file"),
    )
}

/// Whether the state is still the one the plan was made against, as the reason if not.
fn check_state(planned: &PlannedState, state: &StateFile) -> Result<(), String> {
    if planned.is_new() {
        return match state.serial {
            0 => Ok(()),
            serial if state.lineage == planned.lineage => Err(format!(
                "it was made on an empty state and was applied already (that apply created the state, lineage {}, now at serial {serial})",
                state.lineage
            )),
            serial => Err(format!(
                "it was made on an empty state, and a state was written since (lineage {}, serial {serial})",
                state.lineage
            )),
        };
    }
    if state.lineage != planned.lineage {
        return Err(format!(
            "it was made against the state of lineage {}, and the state is now lineage {} (another state replaced it)",
            planned.lineage, state.lineage
        ));
    }
    if state.serial != planned.serial {
        return Err(format!(
            "the state changed since the plan: serial {} then, {} now (another apply or a state command wrote it)",
            planned.serial, state.serial
        ));
    }
    if let Some(addr) = state.pending.keys().next() {
        return Err(format!(
            "an interrupted apply left the create of {addr} pending; `cairn apply` without a saved plan adopts it"
        ));
    }
    Ok(())
}

/// `cairn apply FILE`: applies the saved plan in FILE, exactly, without a prompt.
///
/// The stack is loaded again from the directory the plan names, with its environment and
/// variables (sensitive ones supplied again now), and planned again against the locked
/// state; the new plan is walked only if the state, the stack's inputs and the plan
/// itself are the saved ones.
pub(super) fn apply_saved(
    args: &StackArgs,
    run: &RunArgs,
    lock: &LockArgs,
    json: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let file = &args.dir;
    let bytes = std::fs::read(file)
        .map_err(|e| usage(format!("cannot read {}: {e}", file.display()), None))?;
    let saved = SavedPlan::parse(&bytes).map_err(|reason| {
        usage(
            format!("{} is not a cairn plan file: {reason}", file.display()),
            Some("make one with `cairn plan --out FILE`"),
        )
    })?;
    if !run.targets.is_empty() {
        return Err(usage(
            "--target does not apply to a saved plan: it is applied as planned",
            Some("plan again with the targets you want"),
        ));
    }
    let given = &args.selection;
    for (flag, value, planned) in [
        ("--env", &given.env, Some(&saved.env)),
        ("--env-base", &given.env_base, saved.env_base.as_ref()),
    ] {
        if value.is_some() && value.as_ref() != planned {
            return Err(usage(
                format!(
                    "{flag} {} differs from the saved plan's ({})",
                    value.as_deref().unwrap_or_default(),
                    planned.map_or("none", String::as_str)
                ),
                Some("a saved plan applies to the environment it was made for; leave the flag out"),
            ));
        }
    }
    let mut selection = given.clone();
    selection.env = Some(saved.env.clone());
    selection.env_base = saved.env_base.clone();
    // The plan's values first, so a different --var now is seen (and refused) as a change.
    selection.vars = saved
        .vars
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(given.vars.iter().cloned())
        .collect();
    let stack_args = StackArgs {
        dir: saved.dir.clone(),
        selection,
    };
    let loaded = load_stack(&stack_args)?;
    if loaded.stack.name != saved.stack {
        return Err(stale(
            file,
            "the stack changed",
            &[format!(
                "it was made for stack `{}`, {} holds `{}`",
                saved.stack,
                saved.dir.display(),
                loaded.stack.name
            )],
        ));
    }
    let changed = saved.inputs.changes_since(&Inputs::of(&loaded.stack, None));
    if !changed.is_empty() {
        return Err(stale(file, "the stack changed since the plan", &changed));
    }
    let rt = runtime()?;
    let store = StateStore::open_at(
        &loaded.location,
        &loaded.stack.name,
        &loaded.stack.env,
        &lock.options("apply"),
    )?;
    report_takeover(&store, &loaded.location, printer);
    check_not_left_behind(&stack_args, &loaded, store.state())?;
    check_state(&saved.state, store.state())
        .map_err(|reason| stale(file, "the state moved on", &[reason]))?;
    let inputs = Inputs::of(&loaded.stack, Some(store.hasher()));
    let changed = saved.inputs.changes_since(&inputs);
    if !changed.is_empty() {
        return Err(stale(file, "the stack changed since the plan", &changed));
    }
    if !saved.inputs.sensitive_checked(&inputs) {
        printer.err(
            "Note: the sensitive variables could not be compared with the plan's: the plan was made before this state had a key. The plan's changes are still checked.",
        );
    }
    let run = RunArgs {
        parallelism: run.parallelism,
        refresh: saved.refresh,
        targets: saved.targets.clone(),
        detailed: run.detailed,
    };
    let plan = rt.block_on(interruptible(build_plan(
        &loaded,
        store.state(),
        store.hasher(),
        &run,
        false,
    )))?;
    let differences = compare_plans(&saved.plan, &plan);
    if !differences.is_empty() {
        return Err(stale(
            file,
            "planning again now gives another plan",
            &differences,
        ));
    }
    show_plan(&plan, json, run.detailed, printer);
    if !plan.has_changes() {
        return nothing_to_do(store, json, false, printer);
    }
    if !json {
        printer.out("");
    }
    let mut store = store;
    if saved.state.is_new() {
        // The lineage the plan reserved: once written, the same file is refused.
        let mut reserved = StateFile::new(&loaded.stack.name, &loaded.stack.env);
        reserved.lineage = saved.state.lineage.clone();
        reserved.serial = 1;
        store.import(reserved, None)?;
    }
    walk(rt, &loaded, store, &plan, &run, json, false, printer)
}
