//! The contract between cairn's engine and its providers.
//!
//! This crate plays the part `kube-core` plays for kube-rs: types and traits, no I/O and
//! no SDKs. The engine (the root `cairn` package) and every provider depend on it; the
//! providers never depend on the engine and never on each other.
//!
//! # Overview
//! - [`Value`] is the one value type that flows between stack files, the engine, providers
//!   and state. It can be [`Value::Unknown`] (known after apply) or [`Value::Sensitive`]
//!   (printed as `(sensitive)`, never serialized as-is).
//! - [`ProviderSchema`] describes the provider's configuration block and, per resource
//!   type, each attribute: its type, whether it is required, optional or computed, whether
//!   a change forces a replacement, and whether it is sensitive. The engine validates stack
//!   files, diffs and redacts from these schemas alone.
//! - [`Provider`] is what the engine holds before the provider is configured: name, schema
//!   and plan-time hooks, all usable offline. [`Provider::configure`] yields a
//!   [`ResourceClient`], which does the real calls (read, create, update, delete, find,
//!   import). Splitting the two makes "call the API before configuring" unrepresentable.

mod attrs;
mod error;
mod progress;
mod provider;
mod schema;
mod value;

pub use attrs::Attrs;
pub use error::ProviderError;
pub use progress::{Progress, ProgressSink};
pub use provider::{
    ConfigureRequest, CreateRequest, DeleteRequest, FindRequest, ImportRequest, PlanAdjustments,
    PlanRequest, Provider, ReadDataRequest, ReadManyRequest, ReadRequest, ResourceClient,
    ResourceIdentity, UpdateRequest,
};
pub use schema::{AttrSchema, AttrType, Mode, ProviderSchema, ResourceSchema, Timeouts};
pub use value::Value;
