//! The command line: clap definitions and the glue from each command to the engine.
//!
//! Owns argument parsing, the tokio runtime, the confirmation prompt, Ctrl-C handling,
//! opening and closing the state, and mapping outcomes to exit codes (0 success, 1 error,
//! 2 "changes present" for `plan --detailed-exitcode`). It decides what to print; how it
//! looks is `render/`'s, and what the plan or apply does is `plan/`'s and `apply/`'s.
//! Command and flag names are a contract: scripts call them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::addr::ResourceAddr;
use crate::apply::{self, ApplyInput, ApplyOptions};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::graph::ResourceGraph;
use crate::plan::{self, Plan, PlanError, PlanInput, PlanOptions};
use crate::providers::{Clients, Registry};
use crate::render::{self, Printer};
use crate::stack::{self, LoadOptions, Stack};
use crate::state::{self, StateError, StateStore};

#[derive(Parser, Debug)]
#[command(
    name = "cairn",
    version,
    about = "Declarative infrastructure as code: plan, apply, destroy."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct StackArgs {
    /// The stack directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    selection: Selection,
}

#[derive(Args, Debug, Clone)]
struct Selection {
    /// Environment: reads env/NAME.toml.
    #[arg(long, global = true)]
    env: Option<String>,
    /// Set a variable (repeatable): --var key=value.
    #[arg(long = "var", value_name = "KEY=VALUE", global = true)]
    vars: Vec<String>,
    /// State file (default: <repo>/state/<stack>-<env>.json).
    #[arg(long, value_name = "FILE", global = true)]
    state: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Provider operations in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    parallelism: u16,
    /// Read every recorded resource through its provider before planning.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "true|false")]
    refresh: bool,
    /// Only this resource and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    targets: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the stack: every problem at once, with file:line:col.
    Validate(StackArgs),
    /// Show what apply would change.
    Plan {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make the real world match the stack.
    Apply {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Delete everything the state records.
    Destroy {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        #[arg(long)]
        auto_approve: bool,
    },
    /// Show the recorded state.
    Show {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long)]
        json: bool,
    },
    /// Show outputs; a sensitive one's value only when asked for by name.
    Output {
        /// The stack directory, then optionally an output name (a lone argument that is
        /// not a directory is taken as the name).
        #[arg(num_args = 0..=2, value_name = "DIR|NAME")]
        args: Vec<String>,
        #[command(flatten)]
        selection: Selection,
        #[arg(long)]
        json: bool,
    },
    /// Inspect or edit the recorded state.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Print the resource graph.
    Graph {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Remove a lock left behind by a cairn that is gone.
    ForceUnlock(StackArgs),
}

#[derive(Subcommand, Debug)]
enum StateCommand {
    /// List recorded resources.
    List(StackArgs),
    /// Show one recorded resource.
    Show {
        addr: String,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Forget a resource without deleting it.
    Rm {
        addr: String,
        #[command(flatten)]
        stack: StackArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
}

/// Why a command failed. Each variant is rendered once, by [`report`].
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Stack(Diagnostics),
    #[error(transparent)]
    Plan(PlanError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// Already reported (an apply's failure report was printed).
    #[error("apply failed")]
    Reported,
    /// Ctrl-C before anything was changed: the state lock is released on the way out.
    #[error("interrupted; nothing was changed")]
    Interrupted,
}

impl From<Diagnostics> for CliError {
    fn from(d: Diagnostics) -> Self {
        CliError::Stack(d)
    }
}

impl From<PlanError> for CliError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Stack(d) => CliError::Stack(d),
            other => CliError::Plan(other),
        }
    }
}

fn usage(message: impl Into<String>, hint: Option<&str>) -> CliError {
    CliError::Usage {
        message: message.into(),
        hint: hint.map(str::to_owned),
    }
}

/// Runs cairn with the process's arguments; `main` only calls this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::detect();
    if let Err(error) = crate::logging::init() {
        report(
            &usage(error.to_string(), Some(crate::logging::VALID)),
            printer,
        );
        return ExitCode::from(1);
    }
    match run(cli.command, printer) {
        Ok(code) => code,
        Err(CliError::Interrupted) => {
            report(&CliError::Interrupted, printer);
            // 128 + SIGINT, the shell's convention for a command stopped by Ctrl-C.
            ExitCode::from(130)
        }
        Err(error) => {
            report(&error, printer);
            ExitCode::from(1)
        }
    }
}

fn report(error: &CliError, printer: Printer) {
    match error {
        CliError::Stack(d) => {
            printer.err(render::diagnostics(d, printer.stderr_color()).trim_end())
        }
        CliError::Reported => {}
        CliError::Interrupted => printer.err("Interrupted; nothing was changed."),
        CliError::Usage { message, hint } => {
            let hints: Vec<String> = hint.iter().cloned().collect();
            printer.err(&render::error_chain(&UsageMessage(message.clone()), &hints));
        }
        CliError::Plan(e) => printer.err(&render::error_chain(e, &[])),
        CliError::State(e) => printer.err(&render::error_chain(e, &[])),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageMessage(String);

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(format!("could not start the async runtime: {e}"), None))
}

fn run(command: Command, printer: Printer) -> Result<ExitCode, CliError> {
    match command {
        Command::Validate(args) => validate(&args, printer),
        Command::Plan {
            stack,
            run,
            json,
            detailed_exitcode,
        } => {
            let changes = plan_command(&stack, &run, json, printer)?;
            Ok(if detailed_exitcode && changes {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply {
            stack,
            run,
            auto_approve,
        } => apply_command(&stack, &run, auto_approve, false, printer),
        Command::Destroy {
            stack,
            run,
            auto_approve,
        } => apply_command(&stack, &run, auto_approve, true, printer),
        Command::Show { stack, json } => show(&stack, json, printer),
        Command::Output {
            args,
            selection,
            json,
        } => output(args, &selection, json, printer),
        Command::State { command } => state_command(command, printer),
        Command::Graph { stack, format } => {
            let (_, loaded) = load(&stack)?;
            let graph = ResourceGraph::build(&loaded)?;
            let text = match format {
                GraphFormat::Dot => graph.to_dot(),
                GraphFormat::Mermaid => graph.to_mermaid(),
            };
            printer.out(text.trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Command::ForceUnlock(args) => {
            let (_, loaded) = load(&args)?;
            let path = state_path(&args, &loaded)?;
            match state::force_unlock(&path)? {
                Some(info) => printer.out(&format!(
                    "Removed the lock on {} held for {} by {} (pid {} on {}) since {}.",
                    path.display(),
                    info.operation,
                    info.owner,
                    info.pid,
                    info.host,
                    info.created_at
                )),
                None => printer.out(&format!("{} is not locked.", path.display())),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_options(selection: &Selection) -> Result<LoadOptions, CliError> {
    let vars = selection
        .vars
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    usage(
                        format!("--var `{pair}` is not KEY=VALUE"),
                        Some("e.g. --var region=eu-west-1"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let env_vars = std::env::vars()
        .filter(|(k, _)| k.starts_with(stack::VAR_ENV_PREFIX))
        .collect();
    Ok(LoadOptions {
        env: selection.env.clone(),
        vars,
        env_vars,
    })
}

fn load(args: &StackArgs) -> Result<(Registry, Stack), CliError> {
    let registry = Registry::builtin();
    let loaded = stack::load(
        &args.dir,
        &load_options(&args.selection)?,
        registry.schemas(),
    )?;
    Ok((registry, loaded))
}

fn state_path(args: &StackArgs, loaded: &Stack) -> Result<PathBuf, StateError> {
    match &args.selection.state {
        Some(path) => Ok(path.clone()),
        None => state::default_path(&args.dir, &loaded.name, &loaded.env),
    }
}

fn validate(args: &StackArgs, printer: Printer) -> Result<ExitCode, CliError> {
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

fn parse_targets(run: &RunArgs) -> Result<Vec<ResourceAddr>, CliError> {
    run.targets
        .iter()
        .map(|t| {
            t.parse::<ResourceAddr>()
                .map_err(|e| usage(e.to_string(), None))
        })
        .collect()
}

/// Everything a plan or apply run holds open.
struct Session {
    registry: Registry,
    stack: Stack,
    graph: ResourceGraph,
    store: StateStore,
    clients: Clients,
}

fn open_session(args: &StackArgs, operation: &str) -> Result<Session, CliError> {
    let (registry, loaded) = load(args)?;
    let graph = ResourceGraph::build(&loaded)?;
    let path = state_path(args, &loaded)?;
    let store = StateStore::open(&path, &loaded.name, &loaded.env, operation)?;
    let clients = Clients::new(&loaded.name, &loaded.env);
    Ok(Session {
        registry,
        stack: loaded,
        graph,
        store,
        clients,
    })
}

fn check_targets(session: &Session, targets: &[ResourceAddr]) -> Result<(), CliError> {
    for target in targets {
        if !session.stack.resources.contains_key(target)
            && !session.store.state().resources.contains_key(target)
        {
            return Err(usage(
                format!("--target {target}: no such resource in the stack or the state"),
                None,
            ));
        }
    }
    Ok(())
}

async fn make_plan(
    session: &mut Session,
    run: &RunArgs,
    destroy: bool,
    printer: Printer,
) -> Result<Plan, CliError> {
    let targets = parse_targets(run)?;
    check_targets(session, &targets)?;
    let adopted = plan::adopt_interrupted(
        &mut session.store,
        &session.stack,
        &session.graph,
        &session.registry,
        &session.clients,
    )
    .await?;
    for addr in adopted {
        printer.err(&format!(
            "{addr}: adopted the object an interrupted apply created"
        ));
    }
    let input = PlanInput {
        stack: &session.stack,
        graph: &session.graph,
        registry: &session.registry,
        clients: &session.clients,
        state: session.store.state(),
        hasher: session.store.hasher(),
    };
    let options = PlanOptions {
        refresh: run.refresh,
        targets,
        destroy,
        parallelism: usize::from(run.parallelism),
    };
    Ok(plan::build(input, &options).await?)
}

fn plan_command(
    args: &StackArgs,
    run: &RunArgs,
    json: bool,
    printer: Printer,
) -> Result<bool, CliError> {
    let rt = runtime()?;
    let mut session = open_session(args, "plan")?;
    let plan = rt.block_on(interruptible(make_plan(&mut session, run, false, printer)))?;
    if json {
        printer.out(&render::plan_json(&plan));
    } else {
        printer.out(render::plan_text(&plan, printer.color).trim_end());
    }
    session.store.close()?;
    Ok(plan.has_changes())
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

fn apply_command(
    args: &StackArgs,
    run: &RunArgs,
    auto_approve: bool,
    destroy: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let command = if destroy {
        "cairn destroy"
    } else {
        "cairn apply"
    };
    if !auto_approve && !std::io::stdin().is_terminal() {
        return Err(usage(
            format!(
                "{command} asks for confirmation, but stdin is not a terminal; nothing was changed"
            ),
            Some("review with `cairn plan`, then pass --auto-approve to run without a prompt"),
        ));
    }
    let rt = runtime()?;
    let mut session = open_session(args, if destroy { "destroy" } else { "apply" })?;
    let plan = rt.block_on(interruptible(make_plan(
        &mut session,
        run,
        destroy,
        printer,
    )))?;
    printer.out(render::plan_text(&plan, printer.color).trim_end());
    if !plan.has_changes() {
        session.store.close()?;
        return Ok(ExitCode::SUCCESS);
    }
    printer.out("");
    if !auto_approve {
        let confirmed = rt.block_on(interruptible(confirm(printer, destroy)));
        if !matches!(confirmed, Ok(true)) {
            session.store.close()?;
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
    let observer = Arc::new(render::ApplyProgress::new(printer));
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
            stack: &session.stack,
            registry: &session.registry,
            clients: &session.clients,
            plan: &plan,
        };
        let options = ApplyOptions { parallelism: usize::from(run.parallelism) };
        apply::apply(input, &mut session.store, options, observer, Some(cancel_rx)).await
    });
    printer.out("");
    printer.out(render::apply_report(&outcome, destroy, command, printer.color).trim_end());
    session.store.close()?;
    // Drop the runtime without waiting on the Ctrl-C listener task.
    rt.shutdown_background();
    if outcome.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::Reported)
    }
}

fn show(args: &StackArgs, json: bool, printer: Printer) -> Result<ExitCode, CliError> {
    let (_, loaded) = load(args)?;
    let recorded = state::read(&state_path(args, &loaded)?)?;
    if json {
        printer.out(&render::state_json(recorded.as_ref()));
    } else {
        printer.out(&render::state_text(recorded.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

fn output(
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
    let (_, loaded) = load(&stack_args)?;
    let recorded = state::read(&state_path(&stack_args, &loaded)?)?;
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
    let value = if value.contains_sensitive() {
        // State keeps only a hash: compute the value again from a refreshed plan.
        let rt = runtime()?;
        let mut session = open_session(&stack_args, "output")?;
        let run = RunArgs {
            parallelism: 10,
            refresh: true,
            targets: Vec::new(),
        };
        let plan = rt.block_on(interruptible(make_plan(&mut session, &run, false, printer)))?;
        session.store.close()?;
        let planned = plan
            .outputs
            .get(&name)
            .map(|o| o.value.clone())
            .unwrap_or_default();
        if planned.contains_unknown() || planned.expose().is_none() {
            return Err(usage(
                format!(
                    "output `{name}` is sensitive and state keeps only its hash; its providers could not read the value back"
                ),
                None,
            ));
        }
        planned
    } else {
        value.clone()
    };
    let exposed = value.expose().unwrap_or(serde_json::Value::Null);
    match exposed {
        serde_json::Value::String(s) if !json => printer.out(&s),
        other => printer.out(&serde_json::to_string_pretty(&other).unwrap_or_default()),
    }
    Ok(ExitCode::SUCCESS)
}

fn state_command(command: StateCommand, printer: Printer) -> Result<ExitCode, CliError> {
    match command {
        StateCommand::List(args) => {
            let (_, loaded) = load(&args)?;
            let recorded = state::read(&state_path(&args, &loaded)?)?;
            let list = render::state_list(recorded.as_ref());
            if !list.is_empty() {
                printer.out(&list);
            }
        }
        StateCommand::Show { addr, stack: args } => {
            let addr: ResourceAddr = addr
                .parse()
                .map_err(|e: crate::addr::ParseAddrError| usage(e.to_string(), None))?;
            let (_, loaded) = load(&args)?;
            let recorded = state::read(&state_path(&args, &loaded)?)?;
            let resource = recorded.as_ref().and_then(|s| s.resources.get(&addr));
            match resource {
                Some(resource) => printer.out(render::state_resource(resource).trim_end()),
                None => {
                    return Err(usage(
                        format!("{addr} is not in the state"),
                        Some("run `cairn state list`"),
                    ));
                }
            }
        }
        StateCommand::Rm { addr, stack: args } => {
            let addr: ResourceAddr = addr
                .parse()
                .map_err(|e: crate::addr::ParseAddrError| usage(e.to_string(), None))?;
            let (_, loaded) = load(&args)?;
            let mut store = StateStore::open(
                &state_path(&args, &loaded)?,
                &loaded.name,
                &loaded.env,
                "state rm",
            )?;
            if !store.state().resources.contains_key(&addr) {
                return Err(usage(
                    format!("{addr} is not in the state"),
                    Some("run `cairn state list`"),
                ));
            }
            store.remove_resource(&addr)?;
            store.close()?;
            printer.out(&format!(
                "Removed {addr} from the state; the real object was not deleted."
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl From<Diagnostic> for CliError {
    fn from(d: Diagnostic) -> Self {
        CliError::Stack(Diagnostics::from(d))
    }
}
