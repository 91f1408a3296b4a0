//! Where a command's state lives, from its flags: `--state FILE`, else the stack's
//! `[backend]` merged with `--backend-config KEY=VALUE`, else the local default file (the
//! decision itself is `session::state_location`'s). Commands that work from the state
//! alone (`output`, `show`, `state ...`, `force-unlock`) get there with no variables,
//! and without any stack at all when `--state` or a complete `--backend-config` is given.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CliError, StackArgs, usage};
use crate::diagnostics::closest;
use crate::session::{self, StateChoice};
use crate::stack::{self, BackendConfig, S3_KEYS};
use crate::state::Location;

/// `--backend-config` pairs, checked against the S3 backend's settings.
fn overrides(args: &StackArgs) -> Result<BTreeMap<String, String>, CliError> {
    let mut map = BTreeMap::new();
    for pair in &args.selection.backend_config {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(usage(
                format!("--backend-config `{pair}` is not KEY=VALUE"),
                Some("e.g. --backend-config bucket=my-state-bucket"),
            ));
        };
        if !S3_KEYS.contains(&key) {
            let hint = match closest(key, S3_KEYS.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("valid keys: {}", S3_KEYS.join(", ")),
            };
            return Err(usage(
                format!("--backend-config: unknown setting `{key}`"),
                Some(&hint),
            ));
        }
        map.insert(key.to_owned(), value.to_owned());
    }
    Ok(map)
}

/// What `--state` and `--backend-config` say about where the state is.
pub(super) fn choice(args: &StackArgs) -> Result<StateChoice, CliError> {
    Ok(StateChoice {
        file: args.selection.state.clone(),
        backend_overrides: overrides(args)?,
    })
}

fn is_stack_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|ext| ext == "toml"))
    })
}

/// The state of the stack `name` in `env`, whose `[backend]` is `backend`.
pub(super) fn for_stack(
    args: &StackArgs,
    name: &str,
    env: &str,
    backend: Option<&BackendConfig>,
) -> Result<Location, CliError> {
    Ok(session::state_location(
        &args.dir,
        &choice(args)?,
        name,
        env,
        backend,
    )?)
}

/// The state for a command that needs nothing else: no variables, and no stack when
/// `--state` or a `--backend-config` naming bucket and key is given.
pub(super) fn for_state(args: &StackArgs) -> Result<Location, CliError> {
    let env = args
        .selection
        .env
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    if args.selection.state.is_some() || !is_stack_dir(&args.dir) {
        if args.selection.state.is_some() {
            return for_stack(args, "", &env, None);
        }
        let overrides = overrides(args)?;
        if overrides.is_empty() {
            return Err(usage(
                format!("{} is not a stack directory", args.dir.display()),
                Some(
                    "name the state with --state FILE or --backend-config bucket=... --backend-config key=..., or run in the stack's directory",
                ),
            ));
        }
        return Ok(session::remote_location(&overrides, &env)?);
    }
    let settings = stack::load_settings(&args.dir)?;
    for_stack(args, &settings.name, &env, settings.backend.as_ref())
}

/// The local state a stack had before it named a backend, for `state migrate`.
pub(super) fn local_default(args: &StackArgs, name: &str, env: &str) -> Result<Location, CliError> {
    Ok(session::local_default(&args.dir, name, env)?)
}
