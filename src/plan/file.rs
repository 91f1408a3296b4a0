//! Saved plans: the file `cairn plan --out FILE` writes and `cairn apply FILE` applies
//! (the format and the contract are in docs/plan-file.md).
//!
//! A saved plan pins what it was made against: the state (lineage and serial; a plan on
//! an empty state reserves the lineage its apply creates, so it applies once only) and
//! the stack's inputs (a digest of every file read and of the variables' values, with
//! sensitive values only as keyed hashes). Apply re-plans against the locked state and
//! walks the new plan only if it is the saved one: same resources, actions and attribute
//! diffs ([`compare_plans`]). The file holds no secret: its plan is the redacted JSON
//! form every printed plan uses, and sensitive variables are never written, not even
//! when they were given on the command line; apply needs them again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cairn_provider_core::Value;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Plan, redacted_json};
use crate::stack::Stack;
use crate::state::SensitiveHasher;

/// The `format` field of every plan file.
pub const PLAN_FILE_FORMAT: &str = "cairn-plan";
/// The plan file format this cairn writes and the newest it reads.
pub const PLAN_FILE_VERSION: u32 = 1;

/// A saved plan, as stored (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always [`PLAN_FILE_FORMAT`].
    pub format: String,
    /// The version of that format; a newer one is refused.
    pub format_version: u32,
    /// The cairn that wrote it, for people reading the file.
    pub cairn_version: String,
    /// RFC 3339.
    pub created_at: String,
    /// The stack's name.
    pub stack: String,
    /// The environment.
    pub env: String,
    /// `--env-base`: the environment whose file gave the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_base: Option<String>,
    /// The stack directory as given to `plan`: apply loads the stack from there.
    pub dir: PathBuf,
    /// The state the plan was made against.
    pub state: PlannedState,
    /// `--refresh` at plan time; apply plans again the same way.
    pub refresh: bool,
    /// `--target` addresses at plan time.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Values of non-sensitive variables given with `--var` or `CAIRN_VAR_<name>`, used
    /// again by apply so it sees what the plan saw. Sensitive ones are never written.
    #[serde(default)]
    pub vars: Vec<(String, String)>,
    /// Digests of the stack's files and variables, to refuse a changed stack.
    pub inputs: Inputs,
    /// The plan as `plan --json` shows it: secrets and unknowns are markers.
    pub plan: serde_json::Value,
}

/// The state a plan was made against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedState {
    /// The state's lineage; for a state never written, the lineage this plan reserves:
    /// its apply creates the state with it.
    pub lineage: String,
    /// The state's serial (0: never written).
    pub serial: u64,
}

impl PlannedState {
    /// Whether the plan was made on a state never written.
    pub fn is_new(&self) -> bool {
        self.serial == 0
    }
}

/// What the stack's inputs were when the plan was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// `sha256:` of `files` and `variables` together.
    pub digest: String,
    /// Every file the stack was loaded from (stack files, the env file, manifests), by
    /// path relative to the stack directory, to the sha256 of its bytes.
    pub files: BTreeMap<String, String>,
    /// Every non-sensitive variable to the sha256 of its value as canonical JSON.
    pub variables: BTreeMap<String, String>,
    /// Every sensitive variable to the keyed hash of its value, made with the state's
    /// key; `null` when the plan had no key of the state's to make it with (a state
    /// never written: its key is made by the first apply).
    pub sensitive_variables: BTreeMap<String, Option<String>>,
    /// Which key made those hashes (a keyed hash of a fixed text: not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn key_check(hasher: &SensitiveHasher) -> String {
    hasher.hash(&Value::from("cairn saved plan key check"))
}

/// The path of `file` relative to `dir` when it is inside it, else as shown.
fn relative(file: &Path, dir: &Path) -> String {
    let inside = match (file.canonicalize(), dir.canonicalize()) {
        (Ok(file), Ok(dir)) => file.strip_prefix(&dir).ok().map(Path::to_path_buf),
        _ => None,
    };
    inside
        .unwrap_or_else(|| file.to_path_buf())
        .to_string_lossy()
        .replace('\\', "/")
}

impl Inputs {
    /// The inputs of `stack`. `hasher` is the state's key, when the state has one that
    /// an apply will use again; without it sensitive variables are recorded by name only.
    pub fn of(stack: &Stack, hasher: Option<&SensitiveHasher>) -> Inputs {
        let files: BTreeMap<String, String> = stack
            .sources
            .files
            .iter()
            .map(|f| (relative(&f.path, &stack.dir), sha256(f.text.as_bytes())))
            .collect();
        let mut variables = BTreeMap::new();
        let mut sensitive_variables = BTreeMap::new();
        for (name, variable) in &stack.variables {
            if variable.sensitive || variable.value.contains_sensitive() {
                sensitive_variables.insert(name.clone(), hasher.map(|h| h.hash(&variable.value)));
            } else {
                let canonical = redacted_json(&variable.value).to_string();
                variables.insert(name.clone(), sha256(canonical.as_bytes()));
            }
        }
        let digest = sha256(
            serde_json::json!({ "files": files, "variables": variables })
                .to_string()
                .as_bytes(),
        );
        Inputs {
            digest,
            files,
            variables,
            sensitive_variables,
            key_check: hasher.map(key_check),
        }
    }

    /// What differs between the inputs a plan was made with (`self`) and `now`, as
    /// sentences naming the files and variables; empty when they are the same. Sensitive
    /// variables are compared when both sides were hashed with the same key.
    pub fn changes_since(&self, now: &Inputs) -> Vec<String> {
        let mut changes = Vec::new();
        if self.digest != now.digest {
            describe_map_changes(&self.files, &now.files, "file", &mut changes);
            describe_map_changes(&self.variables, &now.variables, "variable", &mut changes);
            if changes.is_empty() {
                changes.push("the stack's inputs digest differs".to_owned());
            }
        }
        let saved: BTreeSet<&String> = self.sensitive_variables.keys().collect();
        let current: BTreeSet<&String> = now.sensitive_variables.keys().collect();
        for name in saved.symmetric_difference(&current) {
            changes.push(format!("variable `{name}` changed whether it is sensitive"));
        }
        if self.key_check.is_some() && self.key_check == now.key_check {
            for (name, hash) in &self.sensitive_variables {
                if let Some(Some(current)) = now.sensitive_variables.get(name)
                    && hash.as_ref() != Some(current)
                {
                    changes.push(format!("sensitive variable `{name}` has another value"));
                }
            }
        }
        changes
    }

    /// Whether the sensitive variables could be checked against `now` (both hashed with
    /// the same key), so a caller can say when they were not.
    pub fn sensitive_checked(&self, now: &Inputs) -> bool {
        self.sensitive_variables.is_empty()
            || (self.key_check.is_some() && self.key_check == now.key_check)
    }
}

fn describe_map_changes(
    saved: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
    what: &str,
    out: &mut Vec<String>,
) {
    for (name, digest) in saved {
        match now.get(name) {
            None => out.push(format!("{what} `{name}` is gone")),
            Some(current) if current != digest => out.push(format!("{what} `{name}` changed")),
            Some(_) => {}
        }
    }
    for name in now.keys().filter(|name| !saved.contains_key(*name)) {
        out.push(format!("{what} `{name}` is new"));
    }
}

/// What a saved plan needs besides the plan and the stack.
pub struct SaveContext<'a> {
    /// `--env-base`, if given.
    pub env_base: Option<&'a str>,
    /// The stack directory as given to `plan`.
    pub dir: &'a Path,
    /// The state the plan was made against.
    pub state: PlannedState,
    /// The state's key, when an apply will use the same one (see [`Inputs::of`]).
    pub hasher: Option<&'a SensitiveHasher>,
    /// `--refresh` at plan time.
    pub refresh: bool,
    /// `--target` addresses at plan time.
    pub targets: Vec<String>,
    /// Variable values given with `--var` or `CAIRN_VAR_<name>`, as `(name, text)`.
    pub given_vars: Vec<(String, String)>,
}

impl SavedPlan {
    /// The saved form of `plan`, made from `stack`.
    pub fn new(plan: &Plan, stack: &Stack, context: SaveContext<'_>) -> SavedPlan {
        let vars = context
            .given_vars
            .into_iter()
            .filter(|(name, _)| {
                stack
                    .variables
                    .get(name)
                    .is_some_and(|v| !v.sensitive && !v.value.contains_sensitive())
            })
            .collect();
        SavedPlan {
            format: PLAN_FILE_FORMAT.to_owned(),
            format_version: PLAN_FILE_VERSION,
            cairn_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at: chrono::Utc::now().to_rfc3339(),
            stack: stack.name.clone(),
            env: stack.env.clone(),
            env_base: context.env_base.map(str::to_owned),
            dir: context.dir.to_path_buf(),
            state: context.state,
            refresh: context.refresh,
            targets: context.targets,
            vars,
            inputs: Inputs::of(stack, context.hasher),
            plan: serde_json::to_value(plan).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Parses a plan file, refusing other formats and newer versions.
    pub fn parse(bytes: &[u8]) -> Result<SavedPlan, String> {
        let head: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("it is not JSON ({e})"))?;
        if head.get("format").and_then(serde_json::Value::as_str) != Some(PLAN_FILE_FORMAT) {
            return Err(format!("its `format` is not `{PLAN_FILE_FORMAT}`"));
        }
        match head
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
        {
            Some(v) if v <= u64::from(PLAN_FILE_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "it is format version {v}; this cairn reads up to {PLAN_FILE_VERSION}"
                ));
            }
            None => return Err("it has no `format_version`".to_owned()),
        }
        serde_json::from_value(head).map_err(|e| format!("it is not a valid plan file ({e})"))
    }
}

/// Whether `value` is the marker of a value not known at plan time.
fn is_unknown(value: &serde_json::Value) -> bool {
    value.get("$unknown").and_then(serde_json::Value::as_bool) == Some(true)
}

/// Whether `now` is what `saved` showed, where a value unknown at plan time may now be
/// anything.
fn matches(saved: &serde_json::Value, now: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    if is_unknown(saved) {
        return true;
    }
    match (saved, now) {
        (J::Object(a), J::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| matches(v, w)))
        }
        (J::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| matches(v, w))
        }
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        _ => saved == now,
    }
}

/// Whether two attribute diff lists are the same change. A diff whose planned value was
/// unknown may now have a known value, and with it per-key `nested` diffs and another
/// `forces_replacement` (a changed action would show anyway).
fn diffs_match(saved: &serde_json::Value, now: &serde_json::Value) -> bool {
    let (Some(saved), Some(now)) = (saved.as_array(), now.as_array()) else {
        return matches(saved, now);
    };
    saved.len() == now.len()
        && saved.iter().zip(now).all(|(s, n)| {
            let field = |v: &serde_json::Value, k: &str| v.get(k).cloned().unwrap_or_default();
            let unknown_after = is_unknown(&field(s, "after"));
            field(s, "name") == field(n, "name")
                && matches(&field(s, "before"), &field(n, "before"))
                && matches(&field(s, "after"), &field(n, "after"))
                && (unknown_after
                    || (field(s, "forces_replacement") == field(n, "forces_replacement")
                        && diffs_match(&field(s, "nested"), &field(n, "nested"))))
        })
}

/// The resources of a plan in JSON form, by address.
fn changes_by_addr(plan: &serde_json::Value) -> BTreeMap<String, &serde_json::Value> {
    plan.get("changes")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("addr")?.as_str()?.to_owned(), c)))
        .collect()
}

/// How the plan made now differs from the saved one (`saved`, its JSON form), as
/// sentences naming resources; empty when apply may walk `now` as the saved plan.
pub fn compare_plans(saved: &serde_json::Value, now: &Plan) -> Vec<String> {
    let now = serde_json::to_value(now).unwrap_or_default();
    let action = |c: &serde_json::Value| {
        c.get("action")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let saved_changes = changes_by_addr(saved);
    let now_changes = changes_by_addr(&now);
    let mut differences = Vec::new();
    for (addr, s) in &saved_changes {
        let Some(n) = now_changes.get(addr) else {
            differences.push(format!("{addr} is no longer planned"));
            continue;
        };
        if action(s) != action(n) || s.get("reason") != n.get("reason") {
            differences.push(format!(
                "{addr}: the saved plan would {}, the stack and state now need {}",
                action(s),
                action(n)
            ));
        } else if !diffs_match(
            s.get("diffs").unwrap_or(&serde_json::Value::Null),
            n.get("diffs").unwrap_or(&serde_json::Value::Null),
        ) {
            differences.push(format!(
                "{addr}: its attribute changes differ from the saved plan's"
            ));
        }
    }
    for addr in now_changes
        .keys()
        .filter(|a| !saved_changes.contains_key(*a))
    {
        differences.push(format!("{addr} was not in the saved plan"));
    }
    let null = serde_json::Value::Null;
    if !diffs_match(
        saved.get("output_changes").unwrap_or(&null),
        now.get("output_changes").unwrap_or(&null),
    ) {
        differences.push("the outputs' changes differ from the saved plan's".to_owned());
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_saved_value_matches_what_it_became_but_nothing_else_does() {
        let saved = json!([{ "name": "input", "before": null, "after": { "$unknown": true }, "forces_replacement": false }]);
        let known = json!([{ "name": "input", "before": null, "after": "10.0.0.0/16", "forces_replacement": false }]);
        assert!(diffs_match(&saved, &known));
        let other_name =
            json!([{ "name": "cidr", "before": null, "after": "x", "forces_replacement": false }]);
        assert!(!diffs_match(&saved, &other_name));
        let was_known =
            json!([{ "name": "input", "before": null, "after": "a", "forces_replacement": false }]);
        let now_other =
            json!([{ "name": "input", "before": null, "after": "b", "forces_replacement": false }]);
        assert!(!diffs_match(&was_known, &now_other));
        assert!(diffs_match(&was_known, &was_known));
    }

    #[test]
    fn a_newer_or_foreign_file_is_refused() {
        assert!(SavedPlan::parse(b"{\"format\": \"terraform\"}").is_err());
        let newer = json!({ "format": PLAN_FILE_FORMAT, "format_version": PLAN_FILE_VERSION + 1 });
        let error = SavedPlan::parse(newer.to_string().as_bytes()).err();
        assert!(error.is_some_and(|e| e.contains("format version")));
    }

    #[test]
    fn changed_files_and_variables_are_named() {
        let inputs = |file: &str, var: &str| {
            let files = BTreeMap::from([("stack.toml".to_owned(), sha256(file.as_bytes()))]);
            let variables = BTreeMap::from([("region".to_owned(), sha256(var.as_bytes()))]);
            Inputs {
                digest: sha256(format!("{file}{var}").as_bytes()),
                files,
                variables,
                sensitive_variables: BTreeMap::new(),
                key_check: None,
            }
        };
        let saved = inputs("a", "x");
        assert!(saved.changes_since(&inputs("a", "x")).is_empty());
        assert_eq!(
            saved.changes_since(&inputs("b", "x")),
            vec!["file `stack.toml` changed".to_owned()]
        );
        assert_eq!(
            saved.changes_since(&inputs("a", "y")),
            vec!["variable `region` changed".to_owned()]
        );
    }
}
