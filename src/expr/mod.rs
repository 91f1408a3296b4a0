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
pub use eval::for_each_keys;
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
    /// A string that is exactly one interpolation: keeps the value's own type. Boxed, so
    /// an `Expr` stays small: maps of them (every resource's attributes) allocate room
    /// for eleven entries per node.
    Interpolation(Box<Interp>),
    /// A TOML array whose items may interpolate.
    List(Vec<Expr>),
    /// A TOML table whose values may interpolate.
    Map(BTreeMap<String, Expr>),
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    /// Text as written.
    Text(String),
    /// A `${...}`, converted to a string.
    Interp(Interp),
}

/// What is inside `${...}`.
#[derive(Clone, Debug, PartialEq)]
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
    /// `lhs OP rhs`: comparisons, arithmetic and `&&`, `||`.
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
    /// A variable bound by an enclosing `for` expression, with a path: `s.id`.
    Bound {
        /// The bound name, e.g. `s`.
        name: String,
        /// Keys and indexes into its value.
        path: Vec<PathSegment>,
    },
    /// `[for s in var.subnets : s.id]` or `{for k, v in var.pools : k => v.max}`.
    For(Box<ForExpr>),
    /// A string literal with interpolations inside `${...}`: `"${k}-${v.name}"`.
    Template(Vec<TemplatePart>),
}

/// A `for` expression. Over a list, `key_var` is the index; over a map, the key.
#[derive(Clone, Debug, PartialEq)]
pub struct ForExpr {
    /// `k` of `for k, v in ...`.
    pub key_var: Option<String>,
    /// `v` of `for k, v in ...` (or `s` of `for s in ...`).
    pub value_var: String,
    /// What is iterated: a list or a map.
    pub collection: Interp,
    /// `Some` for the map form `{for ... : KEY => VALUE}`.
    pub key: Option<Interp>,
    /// Each element's value.
    pub value: Interp,
    /// `if COND`: elements for which it is false are left out.
    pub condition: Option<Interp>,
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
    /// `<`
    Less,
    /// `<=`
    LessEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterEqual,
    /// `+`
    Add,
    /// `-`
    Subtract,
    /// `*`
    Multiply,
    /// `/`
    Divide,
    /// `%`
    Modulo,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Equal => "==",
            BinaryOp::NotEqual => "!=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
            BinaryOp::Less => "<",
            BinaryOp::LessEqual => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterEqual => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
        }
    }
}

fn path_references<'a>(path: &'a [PathSegment], out: &mut Vec<&'a Reference>) {
    for segment in path {
        if let PathSegment::Expr(inner) = segment {
            inner.collect_references(out);
        }
    }
}

fn rewrite_path(path: &mut [PathSegment], replace: &mut dyn FnMut(&Interp) -> Option<Interp>) {
    for segment in path {
        if let PathSegment::Expr(inner) = segment {
            inner.rewrite(replace);
        }
    }
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
            Interp::Reference(reference) => {
                out.push(reference);
                match reference {
                    Reference::Resource { instance, path, .. } => {
                        if let Some(PathSegment::Expr(inner)) = instance {
                            inner.collect_references(out);
                        }
                        path_references(path, out);
                    }
                    Reference::Variable { path, .. }
                    | Reference::Local { path, .. }
                    | Reference::Each { path, .. } => path_references(path, out),
                }
            }
            Interp::Literal(_) => {}
            Interp::Call { args, .. } => args.iter().for_each(|a| a.collect_references(out)),
            Interp::Not(operand) => operand.collect_references(out),
            Interp::Index { target, path } => {
                target.collect_references(out);
                path_references(path, out);
            }
            Interp::Bound { path, .. } => path_references(path, out),
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
            Interp::Template(parts) => {
                for part in parts {
                    if let TemplatePart::Interp(inner) = part {
                        inner.collect_references(out);
                    }
                }
            }
            Interp::For(for_expr) => {
                for_expr.collection.collect_references(out);
                if let Some(key) = &for_expr.key {
                    key.collect_references(out);
                }
                for_expr.value.collect_references(out);
                if let Some(condition) = &for_expr.condition {
                    condition.collect_references(out);
                }
            }
        }
    }

    /// Replaces, in place, every sub-expression for which `replace` returns a value.
    fn rewrite(&mut self, replace: &mut dyn FnMut(&Interp) -> Option<Interp>) {
        if let Some(replacement) = replace(self) {
            *self = replacement;
            return;
        }
        match self {
            Interp::Reference(Reference::Resource { instance, path, .. }) => {
                if let Some(PathSegment::Expr(inner)) = instance {
                    inner.rewrite(replace);
                }
                rewrite_path(path, replace);
            }
            Interp::Reference(
                Reference::Variable { path, .. }
                | Reference::Local { path, .. }
                | Reference::Each { path, .. },
            )
            | Interp::Bound { path, .. } => rewrite_path(path, replace),
            Interp::Literal(_) => {}
            Interp::Call { args, .. } => args.iter_mut().for_each(|a| a.rewrite(replace)),
            Interp::Not(operand) => operand.rewrite(replace),
            Interp::Index { target, path } => {
                target.rewrite(replace);
                rewrite_path(path, replace);
            }
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
            Interp::Template(parts) => {
                for part in parts {
                    if let TemplatePart::Interp(inner) = part {
                        inner.rewrite(replace);
                    }
                }
            }
            Interp::For(for_expr) => {
                for_expr.collection.rewrite(replace);
                if let Some(key) = &mut for_expr.key {
                    key.rewrite(replace);
                }
                for_expr.value.rewrite(replace);
                if let Some(condition) = &mut for_expr.condition {
                    condition.rewrite(replace);
                }
            }
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
#[derive(Clone, Debug, PartialEq)]
pub enum Reference {
    /// `var.NAME[...]`
    Variable {
        /// The variable's name.
        name: String,
        /// Keys and indexes into its value.
        path: Vec<PathSegment>,
    },
    /// `local.NAME[...]`
    Local {
        /// The local's name.
        name: String,
        /// Keys and indexes into its value.
        path: Vec<PathSegment>,
    },
    /// `each.key` or `each.value[...]`, inside a resource with `for_each`.
    Each {
        /// `key` or `value`.
        field: EachField,
        /// Keys and indexes into `each.value`.
        path: Vec<PathSegment>,
    },
    /// `TYPE.NAME`, `TYPE.NAME.ATTR[...]`, `TYPE.NAME[KEY].ATTR[...]` or
    /// `TYPE.NAME[*].ATTR`. `addr` never has an instance key: `instance` selects one.
    /// Without `attr` the reference is the whole object (for a `for_each` resource without
    /// `instance`: a map of its instances' objects).
    Resource {
        /// The resource.
        addr: ResourceAddr,
        /// The instance key of a `for_each` resource, e.g. `["a"]`.
        instance: Option<PathSegment>,
        /// The attribute, e.g. `id`; none for the whole object.
        attr: Option<String>,
        /// Keys and indexes into the attribute's value.
        path: Vec<PathSegment>,
    },
}

/// What `each.` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EachField {
    /// `each.key`: the instance's key.
    Key,
    /// `each.value`: the for_each element's value.
    Value,
}

/// Indexing after a reference: `.key`, `["key"]`, `[0]`, `[EXPR]` or the splat `[*]`
/// (what follows a splat applies to every element).
#[derive(Clone, Debug, PartialEq)]
pub enum PathSegment {
    /// `.key` or `["key"]`.
    Key(String),
    /// `[0]`.
    Index(usize),
    /// `[EXPR]`: a computed key or index.
    Expr(Box<Interp>),
    /// `[*]`.
    Splat,
}

/// An instance key set of a resource, as a [`Scope`] knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instances {
    /// No `for_each`: one instance, addressed without a key.
    Single,
    /// `for_each`: the keys, sorted (shared: a plan asks for them once per instance).
    Keys(std::sync::Arc<Vec<String>>),
    /// `for_each` whose keys are not known yet.
    Unknown,
}

/// Where evaluation finds variables, locals and resource attributes.
pub trait Scope {
    /// A variable's value (sensitive ones wrapped), `None` if undefined.
    fn variable(&self, name: &str) -> Option<Value>;
    /// A resource attribute: its value, [`Value::Unknown`] until known, `None` if the
    /// resource or attribute does not exist. `addr` carries the instance key of a
    /// `for_each` instance.
    fn resource_attr(&self, addr: &ResourceAddr, attr: &str) -> Option<Value>;
    /// A local's value, or why it failed; `None` if undefined.
    fn local(&self, _name: &str) -> Option<Result<Value, String>> {
        None
    }
    /// `each.key` and `each.value` of the instance being evaluated.
    fn each(&self) -> Option<(&str, &Value)> {
        None
    }
    /// The instances of a resource (by its address without key).
    fn instances(&self, _addr: &ResourceAddr) -> Instances {
        Instances::Single
    }
    /// Every attribute of a resource instance as one map, `None` if it does not exist.
    fn resource_object(&self, _addr: &ResourceAddr) -> Option<Value> {
        None
    }
}
