//! Saved plans: the file `cairn plan --out FILE` writes and `cairn apply FILE` applies
//! (the format and the contract are in docs/plan-file.md).
//!
//! A saved plan pins what it was made against: the state (lineage and serial; a plan on
//! an empty state reserves the lineage its apply creates, so it applies once only) and
//! the stack's inputs (a digest of every file read and of the variables' values, with
//! sensitive values only as keyed hashes). It holds the plan twice: as `plan --json`
//! shows it (for readers), and as the [`Executable`] apply walks, so what is applied is
//! what was reviewed, with no second plan. The file holds no secret: values are what
//! state would hold (a secret is its keyed hash), what an apply sends is kept only where
//! it holds no secret (the rest is evaluated again at apply time), and sensitive
//! variables are never written, not even when they were given on the command line;
//! apply needs them again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_provider_core::{Attrs, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::exec::{Desired, Execution, Timeouts};
use super::{
    Action, AttrDiff, ChangeReason, Move, Plan, PlannedOutput, ResourceChange, redacted_json,
};
use crate::addr::ResourceAddr;
use crate::stack::Stack;
use crate::state::SensitiveHasher;

/// The `format` field of every plan file.
pub const PLAN_FILE_FORMAT: &str = "cairn-plan";
/// The plan file format this cairn writes and the newest it reads.
pub const PLAN_FILE_VERSION: u32 = 2;

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
    /// The plan as `plan --json` shows it: secrets and unknowns are markers. For readers;
    /// apply walks `executable`.
    pub plan: serde_json::Value,
    /// The plan `apply FILE` walks (absent in files of an older cairn, which are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<Executable>,
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
    /// The key the plan's secrets are redacted with (the state's, or for a state never
    /// written the one the plan was made with).
    pub redactor: &'a SensitiveHasher,
    /// `--refresh` at plan time.
    pub refresh: bool,
    /// `--target` addresses at plan time.
    pub targets: Vec<String>,
    /// Variable values given with `--var` or `CAIRN_VAR_<name>`, as `(name, text)`.
    pub given_vars: Vec<(String, String)>,
}

impl SavedPlan {
    /// The saved form of `plan`, made from `stack`; refused (with why) when it cannot be
    /// saved without a secret.
    pub fn new(plan: &Plan, stack: &Stack, context: SaveContext<'_>) -> Result<SavedPlan, String> {
        let executable = Executable::of(plan, context.redactor)?;
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
        Ok(SavedPlan {
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
            executable: Some(executable),
        })
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

/// The plan itself, as `apply FILE` walks it. Values are what state would hold (a secret
/// is its keyed hash); what a create or an update sends is kept where it was known at
/// plan time and holds no secret. Everything else (a value unknown when planning, or
/// derived from a secret) the apply evaluates again from the stack, whose sensitive
/// variables are supplied again; the inputs digest guarantees it is the stack planned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Executable {
    /// A `cairn destroy` plan.
    pub destroy: bool,
    /// Limited by `--target`.
    pub targeted: bool,
    /// Resources in apply order.
    pub changes: Vec<SavedChange>,
    /// Every output's planned value; `{"$unknown": true}` where the apply evaluates it.
    pub outputs: BTreeMap<String, SavedOutput>,
    /// Outputs whose value changes.
    pub output_changes: Vec<SavedDiff>,
    /// Providers whose configuration was not known when planning.
    pub deferred_providers: Vec<String>,
    /// Recorded objects that change address.
    pub moves: Vec<Move>,
    /// The instance keys of every `for_each` resource (`null`: not known).
    pub expansions: BTreeMap<ResourceAddr, Option<Vec<String>>>,
    /// What each data source read.
    pub data: BTreeMap<ResourceAddr, Attrs>,
    /// Provider configurations known when planning, those with no secret in them.
    pub provider_configs: BTreeMap<String, Attrs>,
}

/// One resource's change in a saved plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedChange {
    /// The resource.
    pub addr: ResourceAddr,
    /// The provider that manages it.
    pub provider: String,
    /// What happens to it.
    pub action: Action,
    /// Why, when the action alone does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ChangeReason>,
    /// Recorded attributes after refresh.
    pub before: Option<Attrs>,
    /// Planned attributes.
    pub after: Option<Attrs>,
    /// The attributes that differ, as shown.
    pub diffs: Vec<SavedDiff>,
    /// Resources this one depends on.
    pub dependencies: Vec<ResourceAddr>,
    /// `each.key` and `each.value` of a `for_each` instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<(String, Value)>,
    /// The address state recorded this object at before a `moved` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<ResourceAddr>,
    /// The provider's id of an existing object this change adopts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    /// What a create or an update sends, when known at plan time and free of secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<SavedDesired>,
    /// Its time limits.
    pub timeouts: Timeouts,
}

/// What a create or an update sends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedDesired {
    /// The attributes sent.
    pub attrs: Attrs,
    /// For an update, the attributes it changes.
    pub changed: Vec<String>,
}

/// An attribute difference, as shown.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedDiff {
    /// The attribute name, or the key inside its parent.
    pub name: String,
    /// The recorded value.
    pub before: Option<Value>,
    /// The planned value.
    pub after: Option<Value>,
    /// This difference is why the resource must be replaced.
    pub forces_replacement: bool,
    /// Per-key differences when both sides are maps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<SavedDiff>,
}

/// An output in a saved plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedOutput {
    /// The planned value; unknown where the apply evaluates it.
    pub value: Value,
    /// Printed as `(sensitive)` and never shown.
    pub sensitive: bool,
}

fn saved_diff(diff: &AttrDiff, hasher: &SensitiveHasher) -> SavedDiff {
    SavedDiff {
        name: diff.name.clone(),
        before: diff.before.as_ref().map(|v| hasher.redact(v)),
        after: diff.after.as_ref().map(|v| hasher.redact(v)),
        forces_replacement: diff.forces_replacement,
        nested: diff.nested.iter().map(|d| saved_diff(d, hasher)).collect(),
    }
}

fn attr_diff(diff: SavedDiff) -> AttrDiff {
    AttrDiff {
        name: diff.name,
        before: diff.before,
        after: diff.after,
        forces_replacement: diff.forces_replacement,
        nested: diff.nested.into_iter().map(attr_diff).collect(),
    }
}

fn has_secret(attrs: &Attrs) -> bool {
    attrs.0.values().any(Value::contains_sensitive)
}

impl Executable {
    /// The saved form of `plan`, secrets redacted with `hasher`. Refused when a data
    /// source read a secret: the apply needs it, and a plan file cannot hold it.
    pub fn of(plan: &Plan, hasher: &SensitiveHasher) -> Result<Executable, String> {
        if let Some(addr) = plan
            .data
            .iter()
            .find_map(|(addr, attrs)| has_secret(attrs).then_some(addr))
        {
            return Err(format!(
                "data source {addr} read a secret, which a plan file cannot hold"
            ));
        }
        let changes = plan
            .changes
            .iter()
            .map(|change| {
                let desired = match &change.execution.desired {
                    Desired::Known { attrs, changed, .. } if !has_secret(attrs) => {
                        Some(SavedDesired {
                            attrs: attrs.clone(),
                            changed: changed.clone(),
                        })
                    }
                    _ => None,
                };
                SavedChange {
                    addr: change.addr.clone(),
                    provider: change.provider.clone(),
                    action: change.action,
                    reason: change.reason,
                    before: change.before.as_ref().map(|a| hasher.redact_attrs(a)),
                    after: change.after.as_ref().map(|a| hasher.redact_attrs(a)),
                    diffs: change.diffs.iter().map(|d| saved_diff(d, hasher)).collect(),
                    dependencies: change.dependencies.clone(),
                    each: change
                        .each
                        .as_ref()
                        .map(|(key, value)| (key.clone(), hasher.redact(value))),
                    moved_from: change.moved_from.clone(),
                    import_id: change.import_id.clone(),
                    desired,
                    timeouts: change.execution.timeouts,
                }
            })
            .collect();
        let outputs = plan
            .outputs
            .iter()
            .map(|(name, output)| {
                // A secret is evaluated again by the apply: the file keeps no plaintext,
                // and the hash of a state never written is made with another key.
                let value = if output.value.contains_sensitive() {
                    Value::Unknown
                } else {
                    output.value.clone()
                };
                let saved = SavedOutput {
                    value,
                    sensitive: output.sensitive,
                };
                (name.clone(), saved)
            })
            .collect();
        Ok(Executable {
            destroy: plan.destroy,
            targeted: plan.targeted,
            changes,
            outputs,
            output_changes: plan
                .output_changes
                .iter()
                .map(|d| saved_diff(d, hasher))
                .collect(),
            deferred_providers: plan.deferred_providers.clone(),
            moves: plan.moves.clone(),
            expansions: plan
                .expansions
                .iter()
                .map(|(addr, keys)| (addr.clone(), keys.as_ref().map(|k| k.to_vec())))
                .collect(),
            data: plan
                .data
                .iter()
                .map(|(a, v)| (a.clone(), v.clone()))
                .collect(),
            provider_configs: plan
                .provider_configs
                .iter()
                .filter(|(_, config)| !has_secret(config))
                .map(|(name, config)| (name.clone(), config.clone()))
                .collect(),
        })
    }

    /// The plan to walk, for stack `stack` in `env` against the state `state`.
    pub fn into_plan(self, stack: &str, env: &str, state: &PlannedState) -> Plan {
        let changes = self
            .changes
            .into_iter()
            .map(|change| {
                let desired = match change.desired {
                    Some(SavedDesired { attrs, changed }) => Desired::Known {
                        attrs,
                        fingerprints: BTreeMap::new(),
                        changed,
                    },
                    None => Desired::Evaluate,
                };
                ResourceChange {
                    addr: change.addr,
                    provider: change.provider,
                    action: change.action,
                    reason: change.reason,
                    before: change.before,
                    after: change.after,
                    diffs: change.diffs.into_iter().map(attr_diff).collect(),
                    dependencies: change.dependencies,
                    each: change.each,
                    moved_from: change.moved_from,
                    import_id: change.import_id,
                    execution: Execution {
                        desired,
                        timeouts: change.timeouts,
                    },
                }
            })
            .collect();
        Plan {
            stack: stack.to_owned(),
            env: env.to_owned(),
            destroy: self.destroy,
            targeted: self.targeted,
            lineage: (!state.is_new()).then(|| state.lineage.clone()),
            serial: (!state.is_new()).then_some(state.serial),
            changes,
            outputs: self
                .outputs
                .into_iter()
                .map(|(name, o)| {
                    let planned = PlannedOutput {
                        value: o.value,
                        sensitive: o.sensitive,
                    };
                    (name, planned)
                })
                .collect(),
            output_changes: self.output_changes.into_iter().map(attr_diff).collect(),
            deferred_providers: self.deferred_providers,
            moves: self.moves,
            expansions: self
                .expansions
                .into_iter()
                .map(|(addr, keys)| (addr, keys.map(Arc::new)))
                .collect(),
            data: self.data.into_iter().collect(),
            provider_configs: self.provider_configs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A plan with a secret in every place one can be.
    fn plan_with_secrets(secret: &str) -> Plan {
        let hidden = || Value::from(secret).sensitive();
        let attrs = || Attrs::new().with("password", hidden()).with("name", "x");
        let diff = AttrDiff {
            name: "password".to_owned(),
            before: Some(hidden()),
            after: Some(hidden()),
            forces_replacement: false,
            nested: Vec::new(),
        };
        let addr = ResourceAddr::new("fake_thing", "db").with_key("a");
        let change = ResourceChange {
            addr: addr.clone(),
            provider: "fake".to_owned(),
            action: Action::Update,
            reason: None,
            before: Some(attrs()),
            after: Some(attrs()),
            diffs: vec![diff.clone()],
            dependencies: Vec::new(),
            each: Some(("a".to_owned(), hidden())),
            moved_from: None,
            import_id: None,
            execution: Execution {
                desired: Desired::Known {
                    attrs: attrs(),
                    fingerprints: BTreeMap::new(),
                    changed: vec!["password".to_owned()],
                },
                timeouts: Timeouts::default(),
            },
        };
        Plan {
            stack: "s".to_owned(),
            env: "e".to_owned(),
            destroy: false,
            targeted: false,
            lineage: None,
            serial: None,
            changes: vec![change],
            outputs: BTreeMap::from([(
                "password".to_owned(),
                PlannedOutput {
                    value: hidden(),
                    sensitive: true,
                },
            )]),
            output_changes: vec![diff],
            deferred_providers: Vec::new(),
            moves: Vec::new(),
            expansions: super::super::scope::Expansions::from([(
                addr.config(),
                Some(Arc::new(vec!["a".to_owned()])),
            )]),
            data: Default::default(),
            provider_configs: BTreeMap::from([("fake".to_owned(), attrs())]),
        }
    }

    #[test]
    fn the_executable_plan_holds_no_secret_and_leaves_secret_derived_sends_to_apply() {
        let secret = "hunter2-in-the-plan";
        let hasher = SensitiveHasher::from_key([7; 32]);
        let executable = Executable::of(&plan_with_secrets(secret), &hasher).expect("saves");
        let text = serde_json::to_string(&executable).expect("serializes");
        assert!(!text.contains(secret), "{text}");
        assert!(executable.provider_configs.is_empty());
        let plan = executable.into_plan(
            "s",
            "e",
            &PlannedState {
                lineage: "l".to_owned(),
                serial: 0,
            },
        );
        assert!(matches!(
            plan.changes[0].execution.desired,
            Desired::Evaluate
        ));
        assert!(plan.outputs["password"].value.contains_unknown());
        assert_eq!(plan.changes[0].action, Action::Update);

        let mut reads_a_secret = plan_with_secrets(secret);
        reads_a_secret.data.insert(
            ResourceAddr::new("data.fake_thing", "x"),
            Attrs::new().with("value", Value::from(secret).sensitive()),
        );
        assert!(Executable::of(&reads_a_secret, &hasher).is_err());
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
