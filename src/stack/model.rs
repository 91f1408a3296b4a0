//! The validated stack: what the rest of the engine consumes.
//!
//! Plain data, built only by the loader. Spans point back into [`Sources`] for
//! diagnostics; evaluating attribute values is the planner's job, ordering resources
//! is `graph.rs`'s.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cairn_provider_core::Value;

use super::{Sources, Span};
use crate::addr::ResourceAddr;
use crate::expr::Expr;

/// A loaded, validated stack for one environment.
#[derive(Clone, Debug)]
pub struct Stack {
    /// `[stack] name`.
    pub name: String,
    /// The stack directory.
    pub dir: PathBuf,
    /// The environment selected with `--env`, or `default`.
    pub env: String,
    /// Every file read, for diagnostics.
    pub sources: Sources,
    /// `[variables.NAME]`, with their values resolved.
    pub variables: BTreeMap<String, Variable>,
    /// `[providers.NAME]` blocks; a provider used by resources but not declared gets an
    /// empty block.
    pub providers: BTreeMap<String, ProviderBlock>,
    /// `[locals]`, by name.
    pub locals: BTreeMap<String, Local>,
    /// `[[moved]]` blocks, in file order.
    pub moved: Vec<Moved>,
    /// `[[import]]` blocks, in file order.
    pub imports: Vec<Import>,
    /// Resource blocks by address (never with an instance key).
    pub resources: BTreeMap<ResourceAddr, Resource>,
    /// `[outputs.NAME]`.
    pub outputs: BTreeMap<String, Output>,
    /// `[backend.TYPE]`; `None`: a local state file.
    pub backend: Option<super::BackendConfig>,
}

/// A variable with its value resolved, in this order of precedence: `--var`,
/// `CAIRN_VAR_<name>`, `env/<env>.toml`, `default`.
#[derive(Clone, Debug)]
pub struct Variable {
    /// The variable's name.
    pub name: String,
    /// Wrapped in [`Value::Sensitive`] when the variable is sensitive.
    pub value: Value,
    /// Printed as `(sensitive)`, hashed in state.
    pub sensitive: bool,
    /// `description`, if written.
    pub description: Option<String>,
    /// The NAME in `[variables.NAME]`.
    pub span: Span,
}

/// A `[providers.NAME]` block.
#[derive(Clone, Debug)]
pub struct ProviderBlock {
    /// The provider's name.
    pub name: String,
    /// The block's attributes as written.
    pub config: BTreeMap<String, Expr>,
    /// The NAME in `[providers.NAME]`; for a provider used without a block, its first
    /// resource.
    pub span: Span,
}

/// A `[resources.TYPE.NAME]` table with its meta-arguments taken out.
#[derive(Clone, Debug)]
pub struct Resource {
    /// `TYPE.NAME`.
    pub addr: ResourceAddr,
    /// Attributes as written (after `file = "x.yaml"` became `manifest`), checked
    /// against the provider's schema: names exist, are settable, literal types match,
    /// required ones are present.
    pub attrs: BTreeMap<String, Expr>,
    /// `for_each`: a map or a set of strings; one instance per key, addressed
    /// `TYPE.NAME["key"]`, whose attributes may use `each.key` and `each.value`.
    pub for_each: Option<Expr>,
    /// Explicit `depends_on`; references inside `attrs` are edges too.
    pub depends_on: Vec<ResourceAddr>,
    /// `lifecycle = { ... }`.
    pub lifecycle: Lifecycle,
    /// `timeouts = { ... }`.
    pub timeouts: TimeoutOverrides,
    /// The NAME in the resource's table header (`[resources.aws_vpc.main]`).
    pub span: Span,
}

/// `lifecycle = { ... }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// A plan that would delete this resource fails.
    pub prevent_destroy: bool,
    /// A replacement creates the new object before deleting the old one.
    pub create_before_destroy: bool,
    /// Attribute paths (`scaling_config.desired_size`) whose differences are ignored
    /// after creation.
    pub ignore_changes: Vec<String>,
    /// Where `lifecycle` is written, so a prevent_destroy violation can point at it.
    pub span: Option<Span>,
}

/// `timeouts = { create = "30m", update = "1h", delete = "20m" }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeoutOverrides {
    /// Overrides the schema's create timeout.
    pub create: Option<Duration>,
    /// Overrides the schema's update timeout.
    pub update: Option<Duration>,
    /// Overrides the schema's delete timeout.
    pub delete: Option<Duration>,
}

/// `[[moved]] from = "..." to = "..."`: what state records at `from` is now `to`.
#[derive(Clone, Debug)]
pub struct Moved {
    /// The old address.
    pub from: ResourceAddr,
    /// The new address.
    pub to: ResourceAddr,
    /// The block, for errors.
    pub span: Span,
}

/// `[[import]] to = "..." id = "..."`: adopt the existing object `id` as `to`.
#[derive(Clone, Debug)]
pub struct Import {
    /// The address the object is adopted as.
    pub to: ResourceAddr,
    /// The provider's id of the object (may use variables).
    pub id: String,
    /// The block, for errors.
    pub span: Span,
}

/// One entry of `[locals]`: a named expression, `local.NAME`.
#[derive(Clone, Debug)]
pub struct Local {
    /// NAME.
    pub name: String,
    /// Its expression.
    pub value: Expr,
    /// The NAME key.
    pub span: Span,
}

/// `[outputs.NAME]`.
#[derive(Clone, Debug)]
pub struct Output {
    /// The output's name.
    pub name: String,
    /// `value`, as written.
    pub value: Expr,
    /// Printed as `(sensitive)` unless asked for by name.
    pub sensitive: bool,
    /// `description`, if written.
    pub description: Option<String>,
    /// Where the NAME in `[outputs.NAME]` is written.
    pub span: Span,
}
