//! Plans: what an apply would change, resource by resource and attribute by attribute.
//!
//! A [`Plan`] is a value: built once by [`build`] (which loads nothing and prints nothing;
//! it is given the stack, its graph, the recorded state and the provider registry, and
//! calls providers only to refresh), then rendered by `render/` and walked by `apply/`.
//! It holds real secret values in memory (an apply needs them) but serializes them as
//! `{"$sensitive": true}`, so any JSON made from it is safe to print.
//!
//! Submodules: `build` (refresh, evaluation, action choice), `check` (what `validate`
//! finds by evaluating with no resource known), `diff` (per-attribute comparison against
//! the schema), `scope` (where `${...}` references are looked up), `fingerprint` (telling an
//! unchanged value derived from secrets without their plaintext), `exec` (what the apply
//! executes as planned: the values known at plan time, timeouts, provider
//! configurations), `file` (saved plans: `plan --out FILE`, `apply FILE`).

mod build;
mod check;
mod diff;
pub(crate) mod exec;
pub mod file;
mod fingerprint;
pub(crate) mod scope;

use std::collections::BTreeMap;

use cairn_provider_core::{Attrs, ProviderError, Value};
use serde::{Deserialize, Serialize, Serializer};

use crate::addr::ResourceAddr;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::state::StateError;

pub use build::{
    Adoption, PlanInput, PlanOptions, adopt_interrupted, build, import_object,
    imported_dependencies,
};
pub(crate) use build::{effective_desired, instance_identity, mark_sensitive, provider_config};
pub use check::check_values;
pub(crate) use diff::diff_update;
pub use diff::values_equal;
pub use exec::Timeouts;
pub(crate) use fingerprint::fingerprint;

/// What happens to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing to do.
    NoOp,
    /// Created.
    Create,
    /// Changed in place.
    Update,
    /// Replaced: the old object is deleted first (the default).
    DeleteThenCreate,
    /// Replaced with `create_before_destroy`: the new object exists before the old goes.
    CreateThenDelete,
    /// Deleted.
    Delete,
}

impl Action {
    /// Whether this is a replacement, in either order.
    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    /// Whether the apply creates an object.
    pub fn creates(self) -> bool {
        matches!(
            self,
            Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete
        )
    }

    /// Whether the apply deletes an object.
    pub fn deletes(self) -> bool {
        matches!(
            self,
            Action::Delete | Action::DeleteThenCreate | Action::CreateThenDelete
        )
    }
}

/// Why a resource's action is not simply "the configuration changed".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// The object was deleted outside cairn.
    Gone,
    /// Its provider cannot be configured yet, so the recorded values stand in for a read.
    RefreshDeferred,
    /// The resource is no longer in the configuration.
    RemovedFromConfig,
    /// `cairn destroy`.
    Destroy,
}

/// One resource in a plan.
#[derive(Clone, Debug, Serialize)]
pub struct ResourceChange {
    /// The resource.
    pub addr: ResourceAddr,
    /// The provider that manages it.
    pub provider: String,
    /// What happens to it.
    pub action: Action,
    /// Why, when the action alone does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ChangeReason>,
    /// Recorded attributes after refresh; `None` for a create.
    #[serde(serialize_with = "redacted_attrs_opt")]
    pub before: Option<Attrs>,
    /// Planned attributes (may hold [`Value::Unknown`]); `None` for a delete. For a no-op
    /// or an update these are the values dependents see.
    #[serde(serialize_with = "redacted_attrs_opt")]
    pub after: Option<Attrs>,
    /// The attributes that differ (all of them for a create or delete).
    pub diffs: Vec<AttrDiff>,
    /// Resources this one depends on: from the graph, or from state for a delete.
    pub dependencies: Vec<ResourceAddr>,
    /// `each.key` and `each.value` of a `for_each` instance (the value as planned: the
    /// apply evaluates the `for_each` again if it holds unknowns). In the address already,
    /// and its value may be a secret: not serialized.
    #[serde(skip)]
    pub each: Option<(String, Value)>,
    /// The address state recorded this object at before a `moved` block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<ResourceAddr>,
    /// The provider's id of an existing object this change adopts (`[[import]]`): the apply
    /// records it before making any other change to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    /// How the apply carries it out: what it sends when that was known at plan time, and
    /// its time limits. Holds secrets: not serialized.
    #[serde(skip)]
    pub(crate) execution: exec::Execution,
}

/// A recorded object taken to a new address (`[[moved]]`), without touching it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// Where the state recorded the object.
    pub from: ResourceAddr,
    /// Its address from now on.
    pub to: ResourceAddr,
}

/// One attribute that differs; maps are diffed per key in `nested`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttrDiff {
    /// The attribute name, or the key inside its parent.
    pub name: String,
    /// The recorded value; `None` when added.
    #[serde(serialize_with = "redacted_opt")]
    pub before: Option<Value>,
    /// The planned value; `None` when removed.
    #[serde(serialize_with = "redacted_opt")]
    pub after: Option<Value>,
    /// This difference is why the resource must be replaced.
    pub forces_replacement: bool,
    /// Per-key differences when both sides are maps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<AttrDiff>,
}

/// An output's planned value.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedOutput {
    /// The planned value (may be unknown).
    #[serde(serialize_with = "redacted")]
    pub value: Value,
    /// Printed as `(sensitive)` and never shown.
    pub sensitive: bool,
}

/// The changes that take the recorded state to the configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The stack's name.
    pub stack: String,
    /// The environment.
    pub env: String,
    /// A `cairn destroy` plan.
    pub destroy: bool,
    /// Limited by `--target`: outputs are neither planned as changes nor recorded, since
    /// they may reference resources left out.
    pub targeted: bool,
    /// The state this plan was made against (`None` for a state never written).
    pub lineage: Option<String>,
    /// The serial of that state (`None` for a state never written).
    pub serial: Option<u64>,
    /// Resources in apply order: configured ones topologically, then deletes of removed ones.
    pub changes: Vec<ResourceChange>,
    /// Every output's planned value.
    pub outputs: BTreeMap<String, PlannedOutput>,
    /// Outputs whose value differs from the recorded one (added, changed or removed).
    pub output_changes: Vec<AttrDiff>,
    /// Providers whose configuration is not known until the apply (e.g. the Kubernetes
    /// provider of a cluster this apply creates): their resources were not refreshed.
    pub deferred_providers: Vec<String>,
    /// Recorded objects that change address, applied to state before anything else.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
    /// The instance keys of every `for_each` resource, for the apply's evaluation.
    #[serde(skip)]
    pub(crate) expansions: scope::Expansions,
    /// What each data source read, for the apply's evaluation (never recorded).
    #[serde(skip)]
    pub(crate) data: scope::ResourceValues,
    /// The configuration of each provider the changes use that was fully known at plan
    /// time; the apply evaluates the others once what they reference exists. Holds
    /// secrets: not serialized.
    #[serde(skip)]
    pub(crate) provider_configs: BTreeMap<String, Attrs>,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources created (replacements included).
    pub add: usize,
    /// Resources updated in place.
    pub change: usize,
    /// Resources destroyed (replacements included).
    pub destroy: usize,
    /// Objects adopted (`[[import]]`); only an apply counts them.
    #[serde(skip_serializing_if = "is_zero")]
    pub imported: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Plan {
    /// Counts of what the plan adds, changes and destroys.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            if change.action.creates() {
                summary.add += 1;
            }
            if change.action == Action::Update {
                summary.change += 1;
            }
            if change.action.deletes() {
                summary.destroy += 1;
            }
        }
        summary
    }

    /// Whether applying would change any resource, address or output.
    pub fn has_changes(&self) -> bool {
        self.has_resource_changes()
            || !self.output_changes.is_empty()
            || !self.moves.is_empty()
            || self.imports() > 0
    }

    /// How many objects the apply adopts.
    pub fn imports(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.import_id.is_some())
            .count()
    }

    /// Whether applying would change any resource (moves aside).
    pub fn has_resource_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    /// The change of `addr`, if the plan has one.
    pub fn change(&self, addr: &ResourceAddr) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| &c.addr == addr)
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Problems in the stack (evaluation errors, `prevent_destroy`), with locations.
    #[error(transparent)]
    Stack(#[from] Diagnostics),
    /// A provider call made while refreshing failed. The provider's message is part of
    /// this one (not a separate cause), so it prints once, on one line.
    #[error("{subject}: {operation} failed: {error}")]
    Provider {
        /// The resource address, or `provider.NAME` for a configuration failure.
        subject: String,
        /// `read`, `find`, `plan` or `configure`.
        operation: &'static str,
        /// What the provider said.
        error: ProviderError,
    },
    /// Reading or writing the state failed.
    #[error(transparent)]
    State(#[from] StateError),
}

impl From<Diagnostic> for PlanError {
    fn from(diagnostic: Diagnostic) -> Self {
        PlanError::Stack(Diagnostics::from(diagnostic))
    }
}

/// A value as JSON with secrets and unknowns replaced by markers.
pub fn redacted_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Sensitive(_) | Value::SensitiveHash(_) => serde_json::json!({ "$sensitive": true }),
        Value::Unknown => serde_json::json!({ "$unknown": true }),
        Value::List(items) => serde_json::Value::Array(items.iter().map(redacted_json).collect()),
        Value::Map(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redacted_json(v)))
                .collect(),
        ),
        other => other.expose().unwrap_or(serde_json::Value::Null),
    }
}

fn redacted<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
    redacted_json(value).serialize(serializer)
}

fn redacted_opt<S: Serializer>(value: &Option<Value>, serializer: S) -> Result<S::Ok, S::Error> {
    value.as_ref().map(redacted_json).serialize(serializer)
}

fn redacted_attrs_opt<S: Serializer>(
    attrs: &Option<Attrs>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    attrs
        .as_ref()
        .map(|a| {
            serde_json::Value::Object(
                a.0.iter()
                    .map(|(k, v)| (k.clone(), redacted_json(v)))
                    .collect(),
            )
        })
        .serialize(serializer)
}
