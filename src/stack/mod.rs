//! Loading a stack: a directory of TOML files, validated against provider schemas.
//!
//! Like ripgrep's low-level/high-level argument split, loading has two steps: serde-level
//! parsing of each file with spans (`raw`), then validation into the [`Stack`] below,
//! whose attribute values are [`Expr`]s with spans back into the files. Everything the
//! engine needs from a stack is in these types; they are the contract between loading
//! and the rest of the engine.

mod model;
mod source;

pub use model::{Lifecycle, Output, ProviderBlock, Resource, Stack, TimeoutOverrides, Variable};
pub use source::{FileId, SourceFile, Sources, Span};

#[allow(unused_imports)]
use crate::expr::Expr;
