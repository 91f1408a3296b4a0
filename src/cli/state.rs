//! `cairn state list|show|rm|mv|pull|push|migrate`: work from the state alone, like
//! `output`, `show` and `force-unlock`. They read no variables and plan nothing; with
//! `--state FILE` or a complete `--backend-config`, they need no stack either.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{CliError, LockArgs, StackArgs, StateCommand, location, report_takeover, usage};
use crate::addr::ResourceAddr;
use crate::render::{self, Printer};
use crate::state::{self, Location, StateError, StateFile, StateStore};

fn parse_addr(text: &str) -> Result<ResourceAddr, CliError> {
    text.parse()
        .map_err(|e: crate::addr::ParseAddrError| usage(e.to_string(), None))
}

fn not_in_state(addr: &ResourceAddr) -> CliError {
    usage(
        format!("{addr} is not in the state"),
        Some("run `cairn state list`"),
    )
}

fn no_state(location: &Location) -> CliError {
    CliError::State(StateError::NoState {
        path: PathBuf::from(location.to_string()),
    })
}

/// `cairn state ...`.
pub(super) fn state(command: StateCommand, printer: Printer) -> Result<ExitCode, CliError> {
    match command {
        StateCommand::List(args) => {
            let recorded = state::read_at(&location::for_state(&args)?)?;
            let list = render::state_list(recorded.as_ref());
            if !list.is_empty() {
                printer.out(&list);
            }
        }
        StateCommand::Show { addr, stack } => {
            let addr = parse_addr(&addr)?;
            let recorded = state::read_at(&location::for_state(&stack)?)?;
            match recorded.as_ref().and_then(|s| s.resources.get(&addr)) {
                Some(resource) => printer.out(render::state_resource(resource).trim_end()),
                None => return Err(not_in_state(&addr)),
            }
        }
        StateCommand::Rm { addr, stack, lock } => {
            let addr = parse_addr(&addr)?;
            let location = location::for_state(&stack)?;
            let mut store = StateStore::open_existing(&location, &lock.options("state rm"))?
                .ok_or_else(|| no_state(&location))?;
            report_takeover(&store, &location, printer);
            let recorded = store.state().resources.contains_key(&addr);
            if !recorded && !store.state().pending.contains_key(&addr) {
                return Err(not_in_state(&addr));
            }
            store.remove_resource(&addr)?;
            store.close()?;
            printer.out(&if recorded {
                format!("Removed {addr} from the state; the real object was not deleted.")
            } else {
                format!("Dropped the pending create of {addr}; an object it made, if any, is not managed.")
            });
        }
        StateCommand::Mv {
            from,
            to,
            stack,
            lock,
        } => {
            let (from, to) = (parse_addr(&from)?, parse_addr(&to)?);
            let location = location::for_state(&stack)?;
            let mut store = StateStore::open_existing(&location, &lock.options("state mv"))?
                .ok_or_else(|| no_state(&location))?;
            report_takeover(&store, &location, printer);
            let recorded = &store.state().resources;
            // One address, or every instance of a `for_each` resource under the new name.
            let moves: Vec<(ResourceAddr, ResourceAddr)> = if recorded.contains_key(&from) {
                vec![(from.clone(), to.clone())]
            } else if from.key.is_none() && to.key.is_none() {
                recorded
                    .keys()
                    .filter(|a| a.key.is_some() && from.covers(a))
                    .filter_map(|a| Some((a.clone(), to.with_key(a.key.clone()?))))
                    .collect()
            } else {
                Vec::new()
            };
            if moves.is_empty() {
                return Err(not_in_state(&from));
            }
            if let Some((_, taken)) = moves.iter().find(|(_, to)| recorded.contains_key(to)) {
                return Err(usage(
                    format!("{taken} is in the state already"),
                    Some("`cairn state rm` it first if it is not needed"),
                ));
            }
            for (from, to) in &moves {
                store.move_resource(from, to)?;
            }
            store.close()?;
            for (from, to) in &moves {
                printer.out(&format!("Moved {from} to {to}."));
            }
        }
        StateCommand::Pull(args) => {
            let location = location::for_state(&args)?;
            let recorded = state::read_at(&location)?.ok_or_else(|| no_state(&location))?;
            printer.out(&pretty(&recorded, &location)?);
        }
        StateCommand::Push { file, stack, lock } => push(&file, &stack, &lock, printer)?,
        StateCommand::Migrate {
            stack,
            from_state,
            to_state,
            lock,
        } => migrate(&stack, from_state, to_state, &lock, printer)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn pretty(recorded: &StateFile, location: &Location) -> Result<String, CliError> {
    serde_json::to_string_pretty(recorded).map_err(|source| {
        CliError::State(StateError::Encode {
            path: PathBuf::from(location.to_string()),
            source,
        })
    })
}

/// Why `incoming` may not replace `current`, if it may not.
fn refusal(current: &StateFile, incoming: &StateFile) -> Option<String> {
    let fresh = current.serial == 0 && current.resources.is_empty() && current.pending.is_empty();
    if fresh {
        return None;
    }
    if current.lineage != incoming.lineage {
        return Some(format!(
            "it is another state (lineage {}, not {})",
            incoming.lineage, current.lineage
        ));
    }
    if incoming.serial <= current.serial {
        return Some(format!(
            "its serial {} is not above the current serial {}: it is older than the state (pull the state, change that, and push it)",
            incoming.serial, current.serial
        ));
    }
    None
}

/// `cairn state push FILE`.
fn push(file: &Path, args: &StackArgs, lock: &LockArgs, printer: Printer) -> Result<(), CliError> {
    let bytes = std::fs::read(file).map_err(|e| {
        CliError::State(StateError::Io {
            action: "read",
            path: file.to_path_buf(),
            source: e,
        })
    })?;
    let incoming = state::parse_state_file(file, &bytes)?;
    let location = location::for_state(args)?;
    let mut store = StateStore::open_at(
        &location,
        &incoming.stack,
        &incoming.env,
        &lock.options("state push"),
    )?;
    report_takeover(&store, &location, printer);
    if let Some(reason) = refusal(store.state(), &incoming) {
        return Err(CliError::State(StateError::Refused {
            path: PathBuf::from(location.to_string()),
            source_name: file.display().to_string(),
            reason,
        }));
    }
    let serial = incoming.serial;
    store.import(incoming, None)?;
    store.close()?;
    printer.out(&format!(
        "Pushed {} to {location} (serial {serial}).",
        file.display()
    ));
    Ok(())
}

/// `cairn state migrate`: copies the state (and the key its hashes were made with) from
/// one location to another, both locked, keeping lineage and serial. The source is left
/// as it was, for the user to remove once they have checked the copy.
fn migrate(
    args: &StackArgs,
    from_state: Option<PathBuf>,
    to_state: Option<PathBuf>,
    lock: &LockArgs,
    printer: Printer,
) -> Result<(), CliError> {
    let settings = crate::stack::load_settings(&args.dir)?;
    let env = args
        .selection
        .env
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let configured = location::for_stack(args, &settings.name, &env, settings.backend.as_ref())?;
    let (from, to) = match (from_state, to_state) {
        (_, Some(file)) => (configured, Location::Local(file)),
        (Some(file), None) => (Location::Local(file), configured),
        (None, None) => (
            location::local_default(args, &settings.name, &env)?,
            configured,
        ),
    };
    if from == to {
        return Err(usage(
            format!("the state is already at {to}"),
            Some(
                "add a [backend.s3] table (or --backend-config) to move it there, or --to-state FILE to move it back",
            ),
        ));
    }
    let source = StateStore::open_existing(&from, &lock.options("state migrate"))?
        .ok_or_else(|| no_state(&from))?;
    report_takeover(&source, &from, printer);
    let incoming = source.state().clone();
    let key = source.hasher().clone();
    let mut target = StateStore::open_at(
        &to,
        &incoming.stack,
        &incoming.env,
        &lock.options("state migrate"),
    )?;
    report_takeover(&target, &to, printer);
    if let Some(reason) = refusal(target.state(), &incoming) {
        return Err(CliError::State(StateError::Refused {
            path: PathBuf::from(to.to_string()),
            source_name: from.to_string(),
            reason,
        }));
    }
    let serial = incoming.serial;
    target.import(incoming, Some(key))?;
    target.close()?;
    source.close()?;
    printer.out(&format!(
        "Moved the state from {from} to {to} (serial {serial}, lineage and key kept). {from} was left as it was: remove it once you have checked the new state."
    ));
    Ok(())
}
