//! Loading a stack: a directory of TOML files, validated against provider schemas.
//!
//! Like ripgrep's low-level/high-level argument split, loading has two steps: `raw`
//! parses each file into owned trees with spans and merges the files' definitions, then
//! `load` (with `variables`, `manifest` and `types`) validates them into the [`Stack`]
//! below, whose attribute values are [`Expr`](crate::expr::Expr)s with spans back into the files. Every
//! problem is collected into one [`Diagnostics`]. The dependency graph (and its cycle
//! errors) is `graph.rs`'s; evaluating against real values is the planner's.

mod backend;
mod load;
mod manifest;
mod model;
mod raw;
mod source;
#[cfg(test)]
pub(crate) mod tests;
mod types;
mod variables;

use std::collections::BTreeMap;
use std::path::Path;

use cairn_provider_core::ProviderSchema;

pub use backend::{BACKEND_TYPES, BackendConfig, S3_KEYS, unknown_key_names};
pub use model::{
    Import, Lifecycle, Local, Moved, Output, ProviderBlock, Resource, Stack, TimeoutOverrides,
    Variable,
};
pub use source::{FileId, SourceFile, Sources, Span};
pub use types::{TypeMismatch, check_value, describe_type};
pub use variables::VAR_ENV_PREFIX;

use crate::diagnostics::Diagnostics;

/// How to load a stack: which environment and which variable overrides.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--env NAME`: reads `env/NAME.toml`. `None` means `default`, whose file is optional.
    pub env: Option<String>,
    /// `--env-base BASE`: the values come from `env/BASE.toml` instead, and a declared
    /// variable `env` takes the environment's own name, so every name derived from it
    /// (and the state key) is the environment's.
    pub env_base: Option<String>,
    /// `--var key=value` pairs, highest precedence. Values are parsed as TOML values when
    /// they parse (`3`, `true`, `["a"]`), as strings otherwise.
    pub vars: Vec<(String, String)>,
    /// The process environment as `(name, value)` pairs, passed in so tests need no
    /// global state. Only names starting with [`VAR_ENV_PREFIX`] are used, and only for
    /// declared variables.
    pub env_vars: Vec<(String, String)>,
}

/// What a stack or environment name may be, for help lines.
pub const NAME_RULE: &str =
    "names are at most 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit";

/// Checks a stack or environment name. Both become part of file names (`env/<env>.toml`,
/// `state/<stack>-<env>.json`), so a name must not be able to leave its folder: no path
/// separators, no `..`, nothing but a safe character set (issue 11). Says what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("it is empty".to_owned());
    };
    if name.chars().count() > 64 {
        return Err("it is longer than 64 characters".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(match bad {
            '/' | '\\' => "it contains a path separator".to_owned(),
            other => format!("it contains {other:?}"),
        });
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!("it starts with {first:?}"));
    }
    if name.contains("..") {
        return Err("it contains `..`".to_owned());
    }
    Ok(())
}

/// Loads and validates the stack in `dir` for one environment. `schemas` is keyed by
/// provider name (`aws`, `kubernetes`, `cairn`). Returns every problem found, not just
/// the first.
pub fn load(
    dir: &Path,
    options: &LoadOptions,
    schemas: &BTreeMap<String, ProviderSchema>,
) -> Result<Stack, Diagnostics> {
    load::load_stack(dir, options, schemas)
}

/// A stack's name and backend, read without variables: what `output`, `show`, `state`
/// and `force-unlock` need to find its state.
#[derive(Clone, Debug)]
pub struct StackSettings {
    /// `[stack] name`.
    pub name: String,
    /// `[backend.TYPE]`; `None`: a local state file.
    pub backend: Option<BackendConfig>,
}

/// Reads only the `[stack]` and `[backend]` tables of the stack in `dir` (every file must
/// still parse). Variables are neither needed nor checked.
pub fn load_settings(dir: &Path) -> Result<StackSettings, Diagnostics> {
    load::load_settings(dir)
}
