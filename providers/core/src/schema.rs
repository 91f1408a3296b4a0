//! Schemas: what a provider publishes about its configuration and its resource types.
//!
//! The engine validates stack files, plans diffs (in place vs replace) and redacts
//! secrets from these alone, so they must be complete: an attribute missing here is an
//! "unknown attribute" error for users.

use std::collections::BTreeMap;
use std::time::Duration;

/// Everything a provider publishes: its own configuration block and its resource types.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    /// Attributes of the `[providers.NAME]` block.
    pub config: BTreeMap<String, AttrSchema>,
    /// Resource types by full name, e.g. `aws_eks_node_group`.
    pub resources: BTreeMap<String, ResourceSchema>,
}

/// One resource type.
#[derive(Clone, Debug, Default)]
pub struct ResourceSchema {
    /// One line for `cairn` help output and docs.
    pub description: String,
    /// Attributes by name. Every resource also has a computed `id`, which the provider
    /// must list here too.
    pub attributes: BTreeMap<String, AttrSchema>,
    /// Default timeouts for long operations; `timeouts = { create = "30m" }` overrides.
    pub timeouts: Timeouts,
}

impl ResourceSchema {
    /// A type with only the computed `id`; add attributes with [`ResourceSchema::attr`].
    pub fn new(description: impl Into<String>) -> Self {
        ResourceSchema {
            description: description.into(),
            attributes: BTreeMap::from([("id".to_owned(), AttrSchema::computed(AttrType::String))]),
            timeouts: Timeouts::default(),
        }
    }

    /// Builder: adds an attribute.
    pub fn attr(mut self, name: impl Into<String>, schema: AttrSchema) -> Self {
        self.attributes.insert(name.into(), schema);
        self
    }

    /// Builder: sets default timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }
}

/// Per-operation time limits. The engine passes the effective one in each request; a
/// provider's wait must give up with [`crate::ProviderError::Timeout`] when it runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Limit of a create, its waits included.
    pub create: Duration,
    /// Limit of an update, its waits included.
    pub update: Duration,
    /// Limit of a delete, until the object is gone.
    pub delete: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let five_minutes = Duration::from_secs(5 * 60);
        Timeouts {
            create: five_minutes,
            update: five_minutes,
            delete: five_minutes,
        }
    }
}

impl Timeouts {
    /// The same limit for every operation.
    pub fn all(limit: Duration) -> Self {
        Timeouts {
            create: limit,
            update: limit,
            delete: limit,
        }
    }
}

/// Who sets an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Must be set in the stack.
    Required,
    /// May be set in the stack; when absent it is not sent, and a real value that
    /// appears later is drift.
    Optional,
    /// May be set; when not set, the provider's (or the API's) value is kept and never
    /// shown as a change. E.g. a node group's disk size defaulted by EKS.
    OptionalComputed,
    /// Set by the provider only; referencing it before apply gives `(known after apply)`.
    Computed,
}

/// The type of an attribute. Values are checked against it when a stack is loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrType {
    /// A string.
    String,
    /// An integer.
    Int,
    /// Int or float.
    Number,
    /// `true` or `false`.
    Bool,
    /// One of these strings; errors suggest the closest.
    Enum(Vec<String>),
    /// A list of items of one type.
    List(Box<AttrType>),
    /// A map with arbitrary keys (tags, labels).
    Map(Box<AttrType>),
    /// A table with fixed keys, each with its own schema (e.g. `scaling_config`).
    Object(BTreeMap<String, AttrSchema>),
    /// Anything (a Kubernetes manifest, `cairn_data.input`).
    Any,
}

impl AttrType {
    /// A list of `item`.
    pub fn list(item: AttrType) -> Self {
        AttrType::List(Box::new(item))
    }
    /// A map from any key to `item`.
    pub fn map(item: AttrType) -> Self {
        AttrType::Map(Box::new(item))
    }
    /// One of `values`.
    pub fn enumeration(values: &[&str]) -> Self {
        AttrType::Enum(values.iter().map(|v| (*v).to_owned()).collect())
    }
    /// A table with exactly these fields.
    pub fn object<const N: usize>(fields: [(&str, AttrSchema); N]) -> Self {
        AttrType::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

/// One attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrSchema {
    /// The type values are checked against.
    pub ty: AttrType,
    /// Who sets it: the stack, the provider, or either.
    pub mode: Mode,
    /// A change to this attribute replaces the resource instead of updating it.
    pub force_new: bool,
    /// Values are redacted in plans, logs and errors and kept in state only as a hash.
    pub sensitive: bool,
    /// A computed attribute that every in-place update changes (a Kubernetes object's
    /// `resourceVersion`): planned as unknown for an update, so what references it is
    /// evaluated with the new value in the same apply.
    pub changes_on_update: bool,
    /// One line for help output and docs.
    pub description: String,
}

impl AttrSchema {
    fn new(ty: AttrType, mode: Mode) -> Self {
        AttrSchema {
            ty,
            mode,
            force_new: false,
            sensitive: false,
            changes_on_update: false,
            description: String::new(),
        }
    }
    /// Must be set in the stack.
    pub fn required(ty: AttrType) -> Self {
        Self::new(ty, Mode::Required)
    }
    /// May be set in the stack; see [`Mode::Optional`].
    pub fn optional(ty: AttrType) -> Self {
        Self::new(ty, Mode::Optional)
    }
    /// May be set; else the provider's value is kept. See [`Mode::OptionalComputed`].
    pub fn optional_computed(ty: AttrType) -> Self {
        Self::new(ty, Mode::OptionalComputed)
    }
    /// Set by the provider only; known after apply.
    pub fn computed(ty: AttrType) -> Self {
        Self::new(ty, Mode::Computed)
    }
    /// Builder: a change replaces the resource.
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }
    /// Builder: the value is a secret.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    /// Builder: every in-place update changes this computed value.
    pub fn changes_on_update(mut self) -> Self {
        self.changes_on_update = true;
        self
    }
    /// Builder: one line of documentation.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
    /// Whether users may write this attribute in a stack file.
    pub fn is_settable(&self) -> bool {
        self.mode != Mode::Computed
    }
}
