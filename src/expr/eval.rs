//! Evaluating expressions in a [`Scope`], with unknown and sensitive propagation.
//!
//! Owns the semantics of templates, references with paths and operators; the built-in
//! functions live in `functions`. Error messages name types, keys and functions, never
//! values, so a secret cannot leak through an evaluation error.

use std::collections::BTreeMap;

use cairn_provider_core::Value;

use super::functions;
use super::{BinaryOp, Expr, ExprKind, Interp, PathSegment, Reference, Scope, TemplatePart};
use crate::stack::Span;

/// Why an expression could not be evaluated. The message never contains a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong, naming types and keys, never values.
    pub message: String,
    /// The attribute value (the TOML string or table) that failed.
    pub span: Span,
}

impl Expr {
    /// Computes the expression's value. Anything derived from an unknown is
    /// [`Value::Unknown`]; anything derived from a secret is [`Value::Sensitive`].
    pub fn eval(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        let fail = |message: String| EvalError {
            message,
            span: self.span.clone(),
        };
        match &self.kind {
            ExprKind::Literal(value) => Ok(value.clone()),
            ExprKind::Interpolation(interp) => eval_interp(interp, scope).map_err(fail),
            ExprKind::Template(parts) => eval_template(parts, scope).map_err(fail),
            ExprKind::List(items) => items
                .iter()
                .map(|i| i.eval(scope))
                .collect::<Result<_, _>>()
                .map(Value::List),
            ExprKind::Map(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), v.eval(scope)?)))
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Value::Map),
        }
    }
}

/// The value with every sensitive wrapper removed, and whether there was one. A state
/// hash stands for a secret whose value is not at hand: it evaluates as unknown.
pub(super) fn reveal(value: &Value) -> (Value, bool) {
    match value {
        Value::Sensitive(inner) => (reveal(inner).0, true),
        Value::SensitiveHash(_) => (Value::Unknown, true),
        Value::List(items) => {
            let mut sensitive = false;
            let items = items
                .iter()
                .map(|item| {
                    let (item, s) = reveal(item);
                    sensitive |= s;
                    item
                })
                .collect();
            (Value::List(items), sensitive)
        }
        Value::Map(map) => {
            let mut sensitive = false;
            let map = map
                .iter()
                .map(|(k, v)| {
                    let (v, s) = reveal(v);
                    sensitive |= s;
                    (k.clone(), v)
                })
                .collect();
            (Value::Map(map), sensitive)
        }
        other => (other.clone(), false),
    }
}

/// Like [`reveal`] but only the outermost wrapper: structural functions (`concat`,
/// `merge`, ...) keep their elements' own wrappers.
pub(super) fn reveal_top(value: Value) -> (Value, bool) {
    match value {
        Value::Sensitive(inner) => (reveal_top(*inner).0, true),
        Value::SensitiveHash(_) => (Value::Unknown, true),
        other => (other, false),
    }
}

/// Marks a result sensitive when any input was.
pub(super) fn taint(value: Value, sensitive: bool) -> Value {
    if sensitive { value.sensitive() } else { value }
}

pub(super) fn eval_interp(interp: &Interp, scope: &dyn Scope) -> Result<Value, String> {
    match interp {
        Interp::Literal(value) => Ok(value.clone()),
        Interp::Reference(reference) => eval_reference(reference, scope),
        Interp::Call { function, args } => {
            let args = args
                .iter()
                .map(|a| eval_interp(a, scope))
                .collect::<Result<Vec<_>, _>>()?;
            functions::call(function, args)
        }
        Interp::Not(operand) => {
            let (value, sensitive) = reveal_top(eval_interp(operand, scope)?);
            match value {
                Value::Unknown => Ok(taint(Value::Unknown, sensitive)),
                Value::Bool(b) => Ok(taint(Value::Bool(!b), sensitive)),
                other => Err(format!("`!` needs a bool, got {}", other.type_name())),
            }
        }
        Interp::Binary { op, lhs, rhs } => eval_binary(*op, lhs, rhs, scope),
        Interp::Index { target, path } => {
            follow_path(eval_interp(target, scope)?, path, "the expression")
        }
        Interp::List(items) => items
            .iter()
            .map(|i| eval_interp(i, scope))
            .collect::<Result<_, _>>()
            .map(Value::List),
        Interp::Map(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), eval_interp(v, scope)?)))
            .collect::<Result<BTreeMap<_, _>, String>>()
            .map(Value::Map),
        Interp::Conditional {
            condition,
            then,
            otherwise,
        } => {
            let (value, sensitive) = reveal_top(eval_interp(condition, scope)?);
            let chosen = match value {
                Value::Unknown => return Ok(taint(Value::Unknown, sensitive)),
                Value::Bool(true) => then,
                Value::Bool(false) => otherwise,
                other => {
                    return Err(format!(
                        "the condition of `? :` must be a bool, got {}",
                        other.type_name()
                    ));
                }
            };
            Ok(taint(eval_interp(chosen, scope)?, sensitive))
        }
    }
}

fn eval_binary(
    op: BinaryOp,
    lhs: &Interp,
    rhs: &Interp,
    scope: &dyn Scope,
) -> Result<Value, String> {
    let (left, left_sensitive) = reveal(&eval_interp(lhs, scope)?);
    let symbol = match op {
        BinaryOp::Equal => "==",
        BinaryOp::NotEqual => "!=",
        BinaryOp::And => "&&",
        BinaryOp::Or => "||",
    };
    // `false && x` and `true || x` are decided by the left side alone, even when the
    // right side is unknown.
    match (op, &left) {
        (BinaryOp::And, Value::Bool(false)) => {
            return Ok(taint(Value::Bool(false), left_sensitive));
        }
        (BinaryOp::Or, Value::Bool(true)) => return Ok(taint(Value::Bool(true), left_sensitive)),
        _ => {}
    }
    let (right, right_sensitive) = reveal(&eval_interp(rhs, scope)?);
    let sensitive = left_sensitive || right_sensitive;
    if left.contains_unknown() || right.contains_unknown() {
        return Ok(taint(Value::Unknown, sensitive));
    }
    let result = match op {
        BinaryOp::Equal => values_equal(&left, &right),
        BinaryOp::NotEqual => !values_equal(&left, &right),
        BinaryOp::And | BinaryOp::Or => match (&left, &right) {
            (Value::Bool(_), Value::Bool(b)) => *b,
            _ => {
                return Err(format!(
                    "`{symbol}` needs two bools, got {} and {}",
                    left.type_name(),
                    right.type_name()
                ));
            }
        },
    };
    Ok(taint(Value::Bool(result), sensitive))
}

/// Equality where `1 == 1.0`, as users expect from numbers written either way.
fn values_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => (*i as f64) == *f,
        _ => left == right,
    }
}

fn eval_reference(reference: &Reference, scope: &dyn Scope) -> Result<Value, String> {
    match reference {
        Reference::Variable { name, path } => {
            let value = scope
                .variable(name)
                .ok_or_else(|| format!("undefined variable `var.{name}`"))?;
            follow_path(value, path, &format!("var.{name}"))
        }
        Reference::Resource { addr, attr, path } => {
            let value = scope
                .resource_attr(addr, attr)
                .ok_or_else(|| format!("`{addr}` has no attribute `{attr}`"))?;
            follow_path(value, path, &format!("{addr}.{attr}"))
        }
    }
}

/// Applies `.key`, `["key"]` and `[i]` in turn. Unknown stays unknown; a sensitive
/// container yields sensitive elements.
fn follow_path(mut value: Value, path: &[PathSegment], origin: &str) -> Result<Value, String> {
    for segment in path {
        value = index(value, segment, origin)?;
    }
    Ok(value)
}

fn index(value: Value, segment: &PathSegment, origin: &str) -> Result<Value, String> {
    match (value, segment) {
        (Value::Unknown, _) => Ok(Value::Unknown),
        (Value::Sensitive(inner), _) => index(*inner, segment, origin).map(Value::sensitive),
        (Value::SensitiveHash(_), _) => Ok(Value::Unknown.sensitive()),
        (Value::Map(mut map), PathSegment::Key(key)) => map
            .remove(key)
            .ok_or_else(|| format!("`{origin}` has no key `{key}`")),
        (Value::List(mut items), PathSegment::Index(i)) => {
            let len = items.len();
            if *i < len {
                Ok(items.swap_remove(*i))
            } else {
                Err(format!(
                    "index {i} is out of range: `{origin}` has {len} items"
                ))
            }
        }
        (other, PathSegment::Key(key)) => Err(format!(
            "cannot look up key `{key}` in `{origin}`: it is a {}, not a map",
            other.type_name()
        )),
        (other, PathSegment::Index(i)) => Err(format!(
            "cannot take index {i} of `{origin}`: it is a {}, not a list",
            other.type_name()
        )),
    }
}

fn eval_template(parts: &[TemplatePart], scope: &dyn Scope) -> Result<Value, String> {
    let mut out = String::new();
    let mut sensitive = false;
    let mut unknown = false;
    for part in parts {
        match part {
            TemplatePart::Text(text) => out.push_str(text),
            TemplatePart::Interp(interp) => {
                let (value, s) = reveal(&eval_interp(interp, scope)?);
                sensitive |= s;
                match value {
                    Value::Unknown => unknown = true,
                    Value::String(text) => out.push_str(&text),
                    Value::Int(i) => out.push_str(&i.to_string()),
                    Value::Float(f) => out.push_str(&f.to_string()),
                    Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                    Value::List(_) | Value::Map(_) if value.contains_unknown() => unknown = true,
                    other => {
                        return Err(format!(
                            "a {} cannot be part of a string; use join(), jsonencode() or tostring()",
                            other.type_name()
                        ));
                    }
                }
            }
        }
    }
    let value = if unknown {
        Value::Unknown
    } else {
        Value::String(out)
    };
    Ok(taint(value, sensitive))
}
