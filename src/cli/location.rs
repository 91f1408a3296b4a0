//! Where a command's state lives: `--state FILE`, else the stack's `[backend]` merged with
//! `--backend-config KEY=VALUE`, else the local default file. Commands that work from the
//! state alone (`output`, `show`, `state ...`, `force-unlock`) get there with no variables,
//! and without any stack at all when `--state` or a complete `--backend-config` is given.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CliError, StackArgs, usage};
use crate::diagnostics::closest;
use crate::stack::{self, BackendConfig, S3_KEYS};
use crate::state::{self, Location};

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

fn is_stack_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|ext| ext == "toml"))
    })
}

/// The state of a loaded stack.
pub(super) fn for_stack(
    args: &StackArgs,
    name: &str,
    env: &str,
    backend: Option<&BackendConfig>,
) -> Result<Location, CliError> {
    let overrides = overrides(args)?;
    if let Some(path) = &args.selection.state {
        if !overrides.is_empty() {
            return Err(usage(
                "--state and --backend-config both say where the state is",
                Some("give one of them"),
            ));
        }
        return Ok(Location::Local(path.clone()));
    }
    let Some(settings) = merged(backend, overrides) else {
        return Ok(Location::Local(state::default_path(&args.dir, name, env)?));
    };
    remote(&settings, Some(name), env)
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
        return remote(&overrides, None, &env);
    }
    let settings = stack::load_settings(&args.dir)?;
    for_stack(args, &settings.name, &env, settings.backend.as_ref())
}

/// The local state a stack had before it named a backend, for `state migrate` and the
/// check that a new backend does not silently start from an empty state.
pub(super) fn local_default(args: &StackArgs, name: &str, env: &str) -> Result<Location, CliError> {
    Ok(Location::Local(state::default_path(&args.dir, name, env)?))
}

fn merged(
    backend: Option<&BackendConfig>,
    overrides: BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    match backend {
        Some(config) => {
            let mut settings = config.settings.clone();
            settings.extend(overrides);
            Some(settings)
        }
        None if overrides.is_empty() => None,
        // `--backend-config` alone names an S3 state (the only remote backend).
        None => Some(overrides),
    }
}

/// `key` with `${stack}` and `${env}` filled in.
#[cfg(feature = "aws")]
fn expand_key(key: &str, stack: Option<&str>, env: &str) -> Result<String, CliError> {
    let unknown = stack::unknown_key_names(key);
    if let Some(name) = unknown.first() {
        return Err(usage(
            format!("backend key `{key}` uses `${{{name}}}`"),
            Some("a backend key may use ${stack} and ${env} only"),
        ));
    }
    let expanded = key.replace("${env}", env);
    match stack {
        Some(stack) => Ok(expanded.replace("${stack}", stack)),
        None if expanded.contains("${stack}") => Err(usage(
            format!("backend key `{key}` uses ${{stack}}, but there is no stack here"),
            Some(
                "give the whole key with --backend-config key=..., or run in the stack's directory",
            ),
        )),
        None => Ok(expanded),
    }
}

#[cfg(feature = "aws")]
fn remote(
    settings: &BTreeMap<String, String>,
    stack: Option<&str>,
    env: &str,
) -> Result<Location, CliError> {
    let get = |name: &str| {
        settings.get(name).cloned().ok_or_else(|| {
            usage(
                format!("the S3 backend needs `{name}`"),
                Some(&format!(
                    "set it in [backend.s3] or with --backend-config {name}=..."
                )),
            )
        })
    };
    let lease = match settings.get("lease_seconds") {
        Some(text) => match text.parse::<u64>() {
            Ok(seconds) if seconds > 0 => Some(std::time::Duration::from_secs(seconds)),
            _ => {
                return Err(usage(
                    format!("lease_seconds `{text}` is not a positive number of seconds"),
                    None,
                ));
            }
        },
        None => None,
    };
    Ok(Location::S3(state::S3Location {
        bucket: get("bucket")?,
        key: expand_key(&get("key")?, stack, env)?,
        region: settings.get("region").cloned(),
        lease,
    }))
}

#[cfg(not(feature = "aws"))]
fn remote(
    settings: &BTreeMap<String, String>,
    stack: Option<&str>,
    env: &str,
) -> Result<Location, CliError> {
    let _ = (settings, stack, env);
    Err(usage(
        "this cairn was built without the `aws` feature, which S3 state needs",
        Some("build with the default features"),
    ))
}
