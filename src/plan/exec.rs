//! What a plan carries for its apply, besides what it shows: per change, the attributes
//! a create or update sends when they were known at plan time (and the fingerprints and
//! changed names recorded with them) and the effective timeouts; per provider, its
//! configuration when it was known at plan time. The apply executes these as they are
//! and evaluates the stack's expressions only for what was not known when planning (a
//! value computed by a resource this apply creates, a secret state keeps only as a
//! hash). It holds secrets: a saved plan keeps only its secret-free part (`file`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cairn_provider_core::{Attrs, ResourceSchema, Value};
use serde::{Deserialize, Serialize};

use super::scope::{ResourceValues, ValuesScope};
use super::{Action, ResourceChange, diff_update, effective_desired, fingerprint, provider_config};
use crate::providers::Registry;
use crate::stack::{Resource, Stack, TimeoutOverrides};
use crate::state::SensitiveHasher;

/// How apply carries out one change.
#[derive(Clone, Debug, Default)]
pub(crate) struct Execution {
    /// What a create or an update sends.
    pub desired: Desired,
    /// The time limits of its create, update and delete.
    pub timeouts: Timeouts,
}

/// The attributes a create or an update sends.
#[derive(Clone, Debug, Default)]
pub(crate) enum Desired {
    /// Not known when planning (or nothing to send: a no-op or a delete): the apply
    /// evaluates the resource's expressions once what they reference exists.
    #[default]
    Evaluate,
    /// Known when planning: sent as they are.
    Known {
        /// The attributes sent, sensitive values marked.
        attrs: Attrs,
        /// The fingerprints recorded with them (see `plan::fingerprint`).
        fingerprints: BTreeMap<String, String>,
        /// For an update, the attributes it changes.
        changed: Vec<String>,
    },
}

/// A resource's effective time limits: its `timeouts` over its schema's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// Of a create (also the create half of a replacement).
    pub create: Duration,
    /// Of an update.
    pub update: Duration,
    /// Of a delete (also the delete half of a replacement).
    pub delete: Duration,
}

impl Timeouts {
    /// The limits of a resource of `schema`, with its block's overrides if it has one.
    pub(crate) fn of(schema: &ResourceSchema, overrides: Option<&TimeoutOverrides>) -> Timeouts {
        let defaults = schema.timeouts;
        let overrides = overrides.copied().unwrap_or_default();
        Timeouts {
            create: overrides.create.unwrap_or(defaults.create),
            update: overrides.update.unwrap_or(defaults.update),
            delete: overrides.delete.unwrap_or(defaults.delete),
        }
    }
}

/// The fingerprints of the attributes of `resource` whose values (`config`, evaluated in
/// `scope` and not yet marked by the schema) hold secrets.
pub(crate) fn fingerprints(
    resource: &Resource,
    config: &Attrs,
    scope: &ValuesScope<'_>,
    hasher: &SensitiveHasher,
) -> BTreeMap<String, String> {
    resource
        .attrs
        .iter()
        .filter(|(name, _)| {
            config
                .get(name.as_str())
                .is_some_and(Value::contains_sensitive)
        })
        .filter_map(|(name, expr)| Some((name.clone(), fingerprint(expr, scope, hasher)?)))
        .collect()
}

/// Fills in how apply carries out `change`, planned from `config` (the evaluated and
/// marked attributes of `resource`, a resource of `schema`).
pub(crate) fn prepare(
    change: &mut ResourceChange,
    schema: &ResourceSchema,
    resource: &Resource,
    config: &Attrs,
    fingerprints: BTreeMap<String, String>,
    hasher: &SensitiveHasher,
) {
    change.execution.timeouts = Timeouts::of(schema, Some(&resource.timeouts));
    let sends = change.action.creates() || change.action == Action::Update;
    // A hash stands for a secret whose plaintext the apply must read back first.
    let known = !config
        .0
        .values()
        .any(|v| v.contains_unknown() || v.contains_hash());
    if !sends || !known {
        return;
    }
    let prior = if change.action.creates() {
        None
    } else {
        change.before.as_ref()
    };
    let attrs = effective_desired(schema, config, prior, &resource.lifecycle);
    let changed = match prior {
        Some(prior) => diff_update(schema, prior, &attrs, &[], hasher)
            .into_iter()
            .map(|d| d.name)
            .collect(),
        None => Vec::new(),
    };
    change.execution.desired = Desired::Known {
        attrs,
        fingerprints,
        changed,
    };
}

/// The time limits of deleting a recorded resource the stack may no longer have.
pub(crate) fn delete_timeouts(
    registry: &Registry,
    stack: &Stack,
    change: &ResourceChange,
) -> Timeouts {
    registry
        .resource_schema(&change.addr.type_name)
        .map(|schema| {
            let block = stack.resources.get(&change.addr.config());
            Timeouts::of(schema, block.map(|r| &r.timeouts))
        })
        .unwrap_or_default()
}

/// The configuration of every provider the plan's changes use that is fully known from
/// `values` (the planned ones; for a destroy, the recorded ones); the others are
/// evaluated by the apply once their values exist.
pub(crate) fn provider_configs(
    stack: &Stack,
    registry: &Registry,
    changes: &[ResourceChange],
    values: &ResourceValues,
) -> BTreeMap<String, Attrs> {
    let used: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| c.provider.as_str())
        .collect();
    used.into_iter()
        .filter_map(|name| {
            let config = provider_config(stack, registry, name, values).ok()??;
            Some((name.to_owned(), config))
        })
        .collect()
}
