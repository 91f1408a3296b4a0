//! Where a stack's state lives: a file given explicitly, else the stack's `[backend]`
//! merged with overrides (`--backend-config KEY=VALUE`), else the local default file.
//! Parsing the overrides from the command line is the CLI's; this module decides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{SessionError, refused};
use crate::stack::BackendConfig;
use crate::state::{self, Location};

/// Where to look for the state, as the user said it.
#[derive(Clone, Debug, Default)]
pub struct StateChoice {
    /// A state file given explicitly (`--state FILE`).
    pub file: Option<PathBuf>,
    /// Backend settings over the stack's `[backend]` (`--backend-config`); alone, they
    /// name an S3 state.
    pub backend_overrides: BTreeMap<String, String>,
}

impl StateChoice {
    /// The state file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> StateChoice {
        StateChoice {
            file: Some(path.into()),
            backend_overrides: BTreeMap::new(),
        }
    }
}

/// The state of stack `name` in `env`, loaded from `dir` with `backend` as its
/// `[backend]` table.
pub fn state_location(
    dir: &Path,
    choice: &StateChoice,
    name: &str,
    env: &str,
    backend: Option<&BackendConfig>,
) -> Result<Location, SessionError> {
    if let Some(path) = &choice.file {
        if !choice.backend_overrides.is_empty() {
            return Err(refused(
                "--state and --backend-config both say where the state is",
                Some("give one of them"),
            ));
        }
        return Ok(Location::Local(path.clone()));
    }
    let Some(settings) = merged(backend, &choice.backend_overrides) else {
        return Ok(Location::Local(state::default_path(dir, name, env)?));
    };
    remote(&settings, Some(name), env)
}

/// The S3 state named by backend settings alone, for commands that need no stack.
pub fn remote_location(
    settings: &BTreeMap<String, String>,
    env: &str,
) -> Result<Location, SessionError> {
    remote(settings, None, env)
}

/// The local state a stack had before it named a backend, for `state migrate` and the
/// check that a new backend does not silently start from an empty state.
pub fn local_default(dir: &Path, name: &str, env: &str) -> Result<Location, SessionError> {
    Ok(Location::Local(state::default_path(dir, name, env)?))
}

fn merged(
    backend: Option<&BackendConfig>,
    overrides: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    match backend {
        Some(config) => {
            let mut settings = config.settings.clone();
            settings.extend(overrides.clone());
            Some(settings)
        }
        None if overrides.is_empty() => None,
        // Backend settings alone name an S3 state (the only remote backend).
        None => Some(overrides.clone()),
    }
}

/// `key` with `${stack}` and `${env}` filled in.
#[cfg(feature = "aws")]
fn expand_key(key: &str, stack: Option<&str>, env: &str) -> Result<String, SessionError> {
    let unknown = crate::stack::unknown_key_names(key);
    if let Some(name) = unknown.first() {
        return Err(refused(
            format!("backend key `{key}` uses `${{{name}}}`"),
            Some("a backend key may use ${stack} and ${env} only"),
        ));
    }
    let expanded = key.replace("${env}", env);
    match stack {
        Some(stack) => Ok(expanded.replace("${stack}", stack)),
        None if expanded.contains("${stack}") => Err(refused(
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
) -> Result<Location, SessionError> {
    let get = |name: &str| {
        settings.get(name).cloned().ok_or_else(|| {
            refused(
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
                return Err(refused(
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
) -> Result<Location, SessionError> {
    let _ = (settings, stack, env);
    Err(refused(
        "this cairn was built without the `aws` feature, which S3 state needs",
        Some("build with the default features"),
    ))
}
