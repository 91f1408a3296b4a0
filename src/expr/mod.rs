//! Expressions: the values of stack attributes, with `${...}` interpolation.
//!
//! Pure: no I/O. An [`Expr`] mirrors a TOML value; strings containing `${...}` become
//! templates. A string that is exactly one `${...}` keeps the type of its value (a list
//! stays a list). [`Expr::references`] lists what an expression depends on (graph edges);
//! [`Expr::eval`] computes its [`Value`] in a [`Scope`]. Unknown values propagate
//! (anything computed from an unknown is unknown) and so does sensitivity (anything
//! computed from a secret is a secret).
//!
//! [`parse`] turns strings into templates, `eval` and `functions` compute values. The
//! stack loader decides which strings are parsed and checks references against schemas;
//! this module only knows the grammar and the built-in functions.

mod eval;
mod functions;
pub mod parse;
#[cfg(test)]
mod tests;

pub use eval::EvalError;
pub use functions::FUNCTIONS;
pub use parse::{ParseError, parse_string};

use std::collections::BTreeMap;

use cairn_provider_core::Value;

use crate::addr::ResourceAddr;
use crate::stack::Span;

/// An attribute value as written in a stack file.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written, for diagnostics.
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
    /// A TOML array whose items may interpolate.
    List(Vec<Expr>),
    /// A TOML table whose values may interpolate.
    Map(BTreeMap<String, Expr>),
}

/// One piece of a template.
#[derive(Clone, Debug)]
pub enum TemplatePart {
    /// Text as written.
    Text(String),
    /// A `${...}`, converted to a string.
    Interp(Interp),
}

/// What is inside `${...}`.
#[derive(Clone, Debug)]
pub enum Interp {
    /// `var.NAME` or `TYPE.NAME.ATTR`, with a path.
    Reference(Reference),
    /// A string or number literal, as a function argument.
    Literal(Value),
    /// A built-in function, e.g. `cidrsubnet(var.vpc_cidr, 4, 1)`.
    Call {
        /// The function's name.
        function: String,
        /// Its arguments, in order.
        args: Vec<Interp>,
    },
    /// `!operand`.
    Not(Box<Interp>),
    /// `lhs == rhs`, `lhs != rhs`, `lhs && rhs`, `lhs || rhs`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        lhs: Box<Interp>,
        /// The right operand.
        rhs: Box<Interp>,
    },
    /// `condition ? then : otherwise`; only the chosen branch is evaluated.
    Conditional {
        /// Decides the branch.
        condition: Box<Interp>,
        /// The value when the condition is true.
        then: Box<Interp>,
        /// The value when the condition is false.
        otherwise: Box<Interp>,
    },
    /// `[a, b]`, e.g. as an argument of `concat`.
    List(Vec<Interp>),
    /// `{ key = value, "other-key" = value }`, e.g. as an argument of `merge`.
    Map(BTreeMap<String, Interp>),
    /// A path after a call or a parenthesised expression: `split(",", var.x)[0]`.
    Index {
        /// What is indexed.
        target: Box<Interp>,
        /// The keys and indexes, in order.
        path: Vec<PathSegment>,
    },
}

/// A binary operator inside `${...}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl Interp {
    /// Every reference inside, in source order.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out
    }

    fn collect_references<'a>(&'a self, out: &mut Vec<&'a Reference>) {
        match self {
            Interp::Reference(reference) => out.push(reference),
            Interp::Literal(_) => {}
            Interp::Call { args, .. } => args.iter().for_each(|a| a.collect_references(out)),
            Interp::Not(operand)
            | Interp::Index {
                target: operand, ..
            } => operand.collect_references(out),
            Interp::Binary { lhs, rhs, .. } => {
                lhs.collect_references(out);
                rhs.collect_references(out);
            }
            Interp::Conditional {
                condition,
                then,
                otherwise,
            } => {
                condition.collect_references(out);
                then.collect_references(out);
                otherwise.collect_references(out);
            }
            Interp::List(items) => items.iter().for_each(|i| i.collect_references(out)),
            Interp::Map(map) => map.values().for_each(|i| i.collect_references(out)),
        }
    }

    /// Replaces, in place, every sub-expression for which `replace` returns a value.
    fn rewrite(&mut self, replace: &mut dyn FnMut(&Interp) -> Option<Interp>) {
        if let Some(replacement) = replace(self) {
            *self = replacement;
            return;
        }
        match self {
            Interp::Reference(_) | Interp::Literal(_) => {}
            Interp::Call { args, .. } => args.iter_mut().for_each(|a| a.rewrite(replace)),
            Interp::Not(operand)
            | Interp::Index {
                target: operand, ..
            } => operand.rewrite(replace),
            Interp::Binary { lhs, rhs, .. } => {
                lhs.rewrite(replace);
                rhs.rewrite(replace);
            }
            Interp::Conditional {
                condition,
                then,
                otherwise,
            } => {
                condition.rewrite(replace);
                then.rewrite(replace);
                otherwise.rewrite(replace);
            }
            Interp::List(items) => items.iter_mut().for_each(|i| i.rewrite(replace)),
            Interp::Map(map) => map.values_mut().for_each(|i| i.rewrite(replace)),
        }
    }
}

impl Expr {
    /// Every reference inside, in source order: the graph's edges and what the loader
    /// checks against schemas.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out
    }

    fn collect_references<'a>(&'a self, out: &mut Vec<&'a Reference>) {
        let mut with_spans = Vec::new();
        self.collect_references_with_spans(&mut with_spans);
        out.extend(with_spans.into_iter().map(|(reference, _)| reference));
    }

    /// Every reference with the span of the string it is written in (for a YAML
    /// manifest, the string inside the YAML file), for errors that point at it.
    pub fn references_with_spans(&self) -> Vec<(&Reference, &Span)> {
        let mut out = Vec::new();
        self.collect_references_with_spans(&mut out);
        out
    }

    fn collect_references_with_spans<'a>(&'a self, out: &mut Vec<(&'a Reference, &'a Span)>) {
        let mut interps = Vec::new();
        match &self.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Template(parts) => {
                for part in parts {
                    if let TemplatePart::Interp(interp) = part {
                        interp.collect_references(&mut interps);
                    }
                }
            }
            ExprKind::Interpolation(interp) => interp.collect_references(&mut interps),
            ExprKind::List(items) => items
                .iter()
                .for_each(|i| i.collect_references_with_spans(out)),
            ExprKind::Map(map) => map
                .values()
                .for_each(|i| i.collect_references_with_spans(out)),
        }
        out.extend(interps.into_iter().map(|reference| (reference, &self.span)));
    }

    /// Replaces, in place, every `${...}` sub-expression for which `replace` returns a
    /// value. The loader uses it to turn references to disabled resources into `null`.
    pub fn rewrite_interps(&mut self, replace: &mut dyn FnMut(&Interp) -> Option<Interp>) {
        match &mut self.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Template(parts) => {
                for part in parts {
                    if let TemplatePart::Interp(interp) = part {
                        interp.rewrite(replace);
                    }
                }
            }
            ExprKind::Interpolation(interp) => interp.rewrite(replace),
            ExprKind::List(items) => items.iter_mut().for_each(|i| i.rewrite_interps(replace)),
            ExprKind::Map(map) => map.values_mut().for_each(|i| i.rewrite_interps(replace)),
        }
    }

    /// The literal value if the expression has no `${...}` anywhere.
    pub fn as_literal(&self) -> Option<Value> {
        match &self.kind {
            ExprKind::Literal(value) => Some(value.clone()),
            ExprKind::Template(_) | ExprKind::Interpolation(_) => None,
            ExprKind::List(items) => items
                .iter()
                .map(Expr::as_literal)
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            ExprKind::Map(map) => map
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_literal()?)))
                .collect::<Option<BTreeMap<_, _>>>()
                .map(Value::Map),
        }
    }
}

/// A reference inside `${...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `var.NAME[...]`
    Variable {
        /// The variable's name.
        name: String,
        /// Keys and indexes into its value.
        path: Vec<PathSegment>,
    },
    /// `TYPE.NAME.ATTR[...]`
    Resource {
        /// The resource.
        addr: ResourceAddr,
        /// The attribute, e.g. `id`.
        attr: String,
        /// Keys and indexes into the attribute's value.
        path: Vec<PathSegment>,
    },
}

/// Indexing after a reference: `.key`, `["key"]` or `[0]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// `.key` or `["key"]`.
    Key(String),
    /// `[0]`.
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
