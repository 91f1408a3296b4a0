//! The command line: clap definitions, error mapping and dispatch to one thin module per
//! command, on top of the library's [`Session`](crate::session::Session).
//!
//! This module owns argument parsing, turning arguments into a session's
//! [`OpenOptions`], printing what a session reports ([`Notice`]), and mapping outcomes to
//! exit codes (0 success, 1 error, 2 "changes present" for `plan --detailed-exitcode`,
//! 130 interrupted). Each command module (`plan.rs`, `apply.rs`, `destroy.rs`,
//! `import.rs`, `validate.rs`, `graph.rs`, `show.rs`, `output.rs`, `state.rs`,
//! `unlock.rs`) parses nothing and plans nothing itself: it calls the session, asks for
//! confirmation and handles Ctrl-C where it applies, and renders through `render/`.
//! `location.rs` finds the state of the commands that work from the state alone. Command
//! and flag names are a contract: scripts call them.

mod apply;
mod destroy;
mod graph;
mod import;
mod location;
mod output;
mod plan;
mod show;
mod state;
mod unlock;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::addr::ResourceAddr;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::plan::PlanError;
use crate::providers::Registry;
use crate::render::{self, Printer};
use crate::session::{Notice, OpenOptions, Session, SessionError};
use crate::stack::{self, LoadOptions, Stack};
use crate::state::StateError;

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
    /// Take the values of this environment's file (env/BASE.toml) for the --env one,
    /// whose name still names its resources and its state: --env pr-42 --env-base dev.
    #[arg(long, value_name = "BASE", global = true, requires = "env")]
    env_base: Option<String>,
    /// Set a variable (repeatable): --var key=value.
    #[arg(long = "var", value_name = "KEY=VALUE", global = true)]
    vars: Vec<String>,
    /// State file (default: <repo>/state/<stack>-<env>.json, or the stack's [backend]).
    #[arg(long, value_name = "FILE", global = true)]
    state: Option<PathBuf>,
    /// Set or override a backend setting (repeatable): --backend-config bucket=NAME.
    /// Alone, names an S3 state: bucket, key and region.
    #[arg(long = "backend-config", value_name = "KEY=VALUE", global = true)]
    backend_config: Vec<String>,
}

/// How a command that writes the state takes its lock.
#[derive(Args, Debug, Clone)]
struct LockArgs {
    /// Take the state lock. `--lock=false` only where nothing else can write the state.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "true|false")]
    lock: bool,
    /// How long to wait for a running holder of the lock (e.g. 30s, 5m; 0: fail at once).
    #[arg(long, default_value = "0s", value_parser = parse_wait, value_name = "DURATION")]
    lock_timeout: Duration,
}

impl LockArgs {
    fn options(&self, operation: &str) -> crate::state::LockOptions {
        crate::state::LockOptions {
            operation: operation.to_owned(),
            lock: self.lock,
            timeout: self.lock_timeout,
        }
    }
}

/// `30s`, `5m`, `1h`, `1m30s`, or a number of seconds.
fn parse_wait(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("`{text}` is not a duration like 30s, 5m or 1h")),
        };
        let amount: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration like 30s, 5m or 1h"))?;
        total = total.saturating_add(amount.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!("`{text}` is not a duration like 30s, 5m or 1h"));
    }
    Ok(Duration::from_secs(total))
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
    /// Print the plan in full: every nested value, and what an update leaves unchanged.
    #[arg(long)]
    detailed: bool,
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
        /// Print the plan as one JSON line (docs/json.md).
        #[arg(long)]
        json: bool,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Save the plan to FILE, for `cairn apply FILE` (docs/plan-file.md).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make the real world match the stack; `cairn apply FILE` applies a saved plan.
    Apply {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        lock: LockArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Print JSON lines (docs/json.md); needs --auto-approve.
        #[arg(long)]
        json: bool,
    },
    /// Delete everything the state records.
    Destroy {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[arg(long)]
        auto_approve: bool,
        /// Print JSON lines (docs/json.md); needs --auto-approve.
        #[arg(long)]
        json: bool,
    },
    /// Show the recorded state.
    Show {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long)]
        json: bool,
    },
    /// Show the applied outputs, from the state alone.
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
    /// Adopt an existing object as ADDR (e.g. `aws_vpc.main` or
    /// `'aws_subnet.private["a"]'`): read it by its provider ID and record it; the next
    /// plan shows how it differs from the configuration.
    Import {
        addr: String,
        id: String,
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Remove the state's lock; a holder that is still running only with --force.
    ForceUnlock {
        #[command(flatten)]
        stack: StackArgs,
        /// Remove the lock even though its holder is still running.
        #[arg(long)]
        force: bool,
    },
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
    /// Forget a resource (or the pending create of one) without deleting it.
    Rm {
        addr: String,
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Record a resource under another address without touching it: a rename, a
    /// resource turned into a `for_each` instance (`'aws_vpc.main["a"]'`), or every
    /// instance of a `for_each` resource at once.
    Mv {
        from: String,
        to: String,
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Print the whole state as JSON (what `state push` takes).
    Pull(StackArgs),
    /// Replace the state with FILE: same lineage and a higher serial only.
    Push {
        file: PathBuf,
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Move the state between the local file and the stack's backend, keeping its
    /// lineage, serial and key. Default: from the local file to the backend.
    Migrate {
        #[command(flatten)]
        stack: StackArgs,
        /// Read the state from this local file instead of the default one.
        #[arg(long, value_name = "FILE", conflicts_with = "to_state")]
        from_state: Option<PathBuf>,
        /// Move the backend's state to this local file instead.
        #[arg(long, value_name = "FILE")]
        to_state: Option<PathBuf>,
        #[command(flatten)]
        lock: LockArgs,
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

impl From<SessionError> for CliError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Stack(d) => CliError::Stack(d),
            SessionError::Plan(e) => CliError::Plan(e),
            SessionError::State(e) => CliError::State(e),
            SessionError::Refused { message, hint } => CliError::Usage { message, hint },
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

fn run(command: Command, printer: Printer) -> Result<ExitCode, CliError> {
    match command {
        Command::Validate(args) => validate::validate(&args, printer),
        Command::Plan {
            stack,
            run,
            json,
            detailed_exitcode,
            out,
        } => plan::plan(
            &stack,
            &run,
            json,
            detailed_exitcode,
            out.as_deref(),
            printer,
        ),
        Command::Apply {
            stack,
            run,
            lock,
            // A saved plan was reviewed when it was made: applying it never prompts.
            auto_approve: _,
            json,
        } if stack.dir.is_file() => apply::apply_saved(&stack, &run, &lock, json, printer),
        Command::Apply {
            stack,
            run,
            lock,
            auto_approve,
            json,
        } => apply::apply(&stack, &run, &lock, auto_approve, json, printer),
        Command::Destroy {
            stack,
            run,
            lock,
            auto_approve,
            json,
        } => destroy::destroy(&stack, &run, &lock, auto_approve, json, printer),
        Command::Show { stack, json } => show::show(&stack, json, printer),
        Command::Output {
            args,
            selection,
            json,
        } => output::output(args, &selection, json, printer),
        Command::State { command } => state::state(command, printer),
        Command::Graph { stack, format } => graph::graph(&stack, format, printer),
        Command::ForceUnlock { stack, force } => unlock::force_unlock(&stack, force, printer),
        Command::Import {
            addr,
            id,
            stack,
            lock,
        } => import::import(&stack, &lock, &addr, &id, printer),
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
        env_base: selection.env_base.clone(),
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

/// What a session on `args` is opened with.
fn open_options(args: &StackArgs) -> Result<OpenOptions, CliError> {
    Ok(OpenOptions {
        dir: args.dir.clone(),
        load: load_options(&args.selection)?,
        state: location::choice(args)?,
    })
}

/// Opens a session on `args`, printing what it reports.
fn open<'r>(
    registry: &'r Registry,
    args: &StackArgs,
    printer: Printer,
) -> Result<Session<'r>, CliError> {
    let options = open_options(args)?;
    Ok(Session::open(registry, options)?.with_notices(move |notice| print_notice(notice, printer)))
}

fn print_notice(notice: &Notice<'_>, printer: Printer) {
    match notice {
        Notice::TookOver { location, holder } => print_takeover(holder, location, printer),
        Notice::Pending(addr) => printer.err(&format!(
            "{addr}: an interrupted apply started creating this object; `cairn apply` looks for it and adopts it"
        )),
        Notice::Adopted(addr) => printer.err(&format!(
            "{addr}: adopted the object an interrupted apply created"
        )),
        Notice::Unresolved { addr, error } => printer.err(&format!(
            "Warning: {addr}: an interrupted create could not be looked up ({error}); it stays pending. `cairn state rm {addr}` forgets it."
        )),
        Notice::SensitiveUnchecked => printer.err(
            "Note: the sensitive variables could not be compared with the plan's: the plan was made before this state had a key. The plan's changes are still checked.",
        ),
    }
}

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

/// The plan options `run` asks for.
fn plan_options(run: &RunArgs, destroy: bool) -> Result<crate::plan::PlanOptions, CliError> {
    Ok(crate::plan::PlanOptions {
        refresh: run.refresh,
        targets: parse_targets(run)?,
        destroy,
        parallelism: usize::from(run.parallelism),
    })
}

/// Runs `work` unless Ctrl-C comes first. Used while the state is locked but nothing has
/// changed yet (planning, the prompt), so an interrupt unwinds normally and releases the
/// lock instead of killing the process with it held.
async fn interruptible<T, E: Into<CliError>>(
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, CliError> {
    tokio::select! {
        result = work => result.map_err(Into::into),
        _ = tokio::signal::ctrl_c() => Err(CliError::Interrupted),
    }
}

/// Prints a plan, as text (summarised, or in full with `--detailed`) or as one JSON line.
fn show_plan(plan: &crate::plan::Plan, json: bool, detailed: bool, printer: Printer) {
    if json {
        printer.out(&render::plan_json(plan));
    } else if detailed {
        printer.out(render::plan_text_detailed(plan, printer.color).trim_end());
    } else {
        printer.out(render::plan_text(plan, printer.color).trim_end());
    }
}

/// Says so when this run took over the lock of a run that is gone.
fn report_takeover(
    store: &crate::state::StateStore,
    location: &crate::state::Location,
    printer: Printer,
) {
    if let Some(holder) = store.taken_over() {
        print_takeover(holder, location, printer);
    }
}

fn print_takeover(
    holder: &crate::state::LockInfo,
    location: &crate::state::Location,
    printer: Printer,
) {
    let why = match &holder.expires_at {
        Some(expiry) => format!("its lease ended at {expiry}"),
        None => "its process is gone".to_owned(),
    };
    printer.err(&format!(
        "Took over the lock on {location} held for {}: {why}.",
        holder.describe()
    ));
}

impl From<Diagnostic> for CliError {
    fn from(d: Diagnostic) -> Self {
        CliError::Stack(Diagnostics::from(d))
    }
}
