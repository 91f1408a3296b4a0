//! Expressions: the values of stack attributes, with `${...}` interpolation.
//!
//! Pure: no I/O. An [`Expr`] mirrors a TOML value; strings containing `${...}` become
//! templates. A string that is exactly one `${...}` keeps the type of its value (a list
//! stays a list). [`Expr::references`] lists what an expression depends on (graph edges);
//! [`Expr::eval`] computes its [`Value`] in a [`Scope`]. Unknown values propagate
//! (anything computed from an unknown is unknown) and so does sensitivity (anything
//! computed from a secret is a secret).

use std::collections::BTreeMap;

use cairn_provider_core::Value;

use crate::addr::ResourceAddr;
use crate::stack::Span;

/// An attribute value as written in a stack file.
#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// The shape of an [`Expr`].
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A TOML value with no interpolation.
    Literal(Value),
    /// A string with interpolations: `"http://${aws_eks_cluster.main.endpoint}:443"`.
    Template(Vec<TemplatePart>),
    /// A string that is exactly one interpolation: keeps the value's own type.
    Interpolation(Interp),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
}

/// One piece of a template.
#[derive(Clone, Debug)]
pub enum TemplatePart {
    Text(String),
    Interp(Interp),
}

/// What is inside `${...}`.
#[derive(Clone, Debug)]
pub enum Interp {
    Reference(Reference),
    /// A string or number literal, as a function argument.
    Literal(Value),
    /// A built-in function, e.g. `cidrsubnet(var.vpc_cidr, 4, 1)`.
    Call { function: String, args: Vec<Interp> },
}

/// A reference inside `${...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `var.NAME[...]`
    Variable { name: String, path: Vec<PathSegment> },
    /// `TYPE.NAME.ATTR[...]`
    Resource { addr: ResourceAddr, attr: String, path: Vec<PathSegment> },
}

/// Indexing after a reference: `.key`, `["key"]` or `[0]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Where evaluation finds variables and resource attributes.
pub trait Scope {
    /// A variable's value (sensitive ones wrapped), `None` if undefined.
    fn variable(&self, name: &str) -> Option<Value>;
    /// A resource attribute: its value, [`Value::Unknown`] until known, `None` if the
    /// resource or attribute does not exist.
    fn resource_attr(&self, addr: &ResourceAddr, attr: &str) -> Option<Value>;
}
