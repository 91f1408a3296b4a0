//! Evaluating expressions in a [`Scope`], with unknown and sensitive propagation.
//!
//! Owns the semantics of templates, references with paths and operators; the built-in
//! functions live in `functions`. Error messages name types, keys and functions, never
//! values, so a secret cannot leak through an evaluation error.

use std::collections::BTreeMap;

use cairn_provider_core::Value;

use super::functions;
use super::{
    BinaryOp, EachField, Expr, ExprKind, ForExpr, Instances, Interp, PathSegment, Reference, Scope,
    TemplatePart,
};
use crate::addr::ResourceAddr;
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
            ExprKind::Interpolation(interp) => {
                eval_interp(interp, &mut Env::new(scope)).map_err(fail)
            }
            ExprKind::Template(parts) => eval_template(parts, &mut Env::new(scope)).map_err(fail),
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

/// What evaluation sees: the scope, and the variables bound by enclosing `for`
/// expressions (innermost last).
pub(super) struct Env<'a> {
    scope: &'a dyn Scope,
    bound: Vec<(String, Value)>,
}

impl<'a> Env<'a> {
    pub(super) fn new(scope: &'a dyn Scope) -> Self {
        Env {
            scope,
            bound: Vec::new(),
        }
    }
}

/// The instances a `for_each` value asks for, by key, with their `each.value`: a map's
/// entries, or a set (a list) of strings whose values are the keys themselves. `Ok(None)`
/// when the keys are not known yet.
pub fn for_each_keys(value: &Value) -> Result<Option<BTreeMap<String, Value>>, String> {
    match value {
        Value::Sensitive(_) | Value::SensitiveHash(_) => Err(
            "`for_each` cannot use a sensitive value: its keys become resource addresses"
                .to_owned(),
        ),
        Value::Unknown => Ok(None),
        Value::Map(map) => Ok(Some(map.clone())),
        Value::List(items) => {
            let mut keys = BTreeMap::new();
            for item in items {
                match item {
                    Value::Unknown => return Ok(None),
                    Value::String(key) => {
                        if keys.insert(key.clone(), item.clone()).is_some() {
                            return Err(format!(
                                "`for_each` has the key `{key}` twice; use toset() to drop duplicates"
                            ));
                        }
                    }
                    Value::Sensitive(_) | Value::SensitiveHash(_) => {
                        return Err("`for_each` cannot use a sensitive value: its keys become resource addresses".to_owned());
                    }
                    other => {
                        return Err(format!(
                            "`for_each` over a list needs strings, got a {}",
                            other.type_name()
                        ));
                    }
                }
            }
            Ok(Some(keys))
        }
        Value::Null => Err("`for_each` cannot be null; use {} for no instances".to_owned()),
        other => Err(format!(
            "`for_each` needs a map or a set of strings, got {}",
            other.type_name()
        )),
    }
}

pub(super) fn eval_interp(interp: &Interp, env: &mut Env<'_>) -> Result<Value, String> {
    match interp {
        Interp::Literal(value) => Ok(value.clone()),
        Interp::Reference(reference) => eval_reference(reference, env),
        Interp::Call { function, args } if function == "try" || function == "can" => {
            // Lazy: the first argument that evaluates without an error wins.
            let can = function == "can";
            if args.is_empty() || (can && args.len() != 1) {
                return Err(format!(
                    "{function}() takes {}",
                    if can {
                        "1 argument"
                    } else {
                        "at least 1 argument"
                    }
                ));
            }
            for arg in args {
                if let Ok(value) = eval_interp(arg, env) {
                    return Ok(if can { Value::Bool(true) } else { value });
                }
            }
            if can {
                Ok(Value::Bool(false))
            } else {
                Err("try(): no argument could be evaluated".to_owned())
            }
        }
        Interp::Call { function, args } => {
            let args = args
                .iter()
                .map(|a| eval_interp(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            functions::call(function, args)
        }
        Interp::Not(operand) => {
            let (value, sensitive) = reveal_top(eval_interp(operand, env)?);
            match value {
                Value::Unknown => Ok(taint(Value::Unknown, sensitive)),
                Value::Bool(b) => Ok(taint(Value::Bool(!b), sensitive)),
                other => Err(format!("`!` needs a bool, got {}", other.type_name())),
            }
        }
        Interp::Binary { op, lhs, rhs } => eval_binary(*op, lhs, rhs, env),
        Interp::Index { target, path } => {
            let value = eval_interp(target, env)?;
            follow_path(value, path, "the expression", env)
        }
        Interp::Bound { name, path } => {
            let value = env
                .bound
                .iter()
                .rev()
                .find(|(bound, _)| bound == name)
                .map(|(_, value)| value.clone())
                .ok_or_else(|| format!("`{name}` is not defined here"))?;
            follow_path(value, path, name, env)
        }
        Interp::List(items) => items
            .iter()
            .map(|i| eval_interp(i, env))
            .collect::<Result<_, _>>()
            .map(Value::List),
        Interp::Map(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), eval_interp(v, env)?)))
            .collect::<Result<BTreeMap<_, _>, String>>()
            .map(Value::Map),
        Interp::Conditional {
            condition,
            then,
            otherwise,
        } => {
            let (value, sensitive) = reveal_top(eval_interp(condition, env)?);
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
            Ok(taint(eval_interp(chosen, env)?, sensitive))
        }
        Interp::For(for_expr) => eval_for(for_expr, env),
        Interp::Template(parts) => eval_template(parts, env),
    }
}

/// `[for ...]` and `{for ...}`. An unknown collection, condition or key makes the whole
/// result unknown; a sensitive collection makes it sensitive.
fn eval_for(for_expr: &ForExpr, env: &mut Env<'_>) -> Result<Value, String> {
    let (collection, sensitive) = reveal_top(eval_interp(&for_expr.collection, env)?);
    let elements: Vec<(Value, Value)> = match collection {
        Value::Unknown => return Ok(taint(Value::Unknown, sensitive)),
        Value::List(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Value::Int(i64::try_from(i).unwrap_or(i64::MAX)), v))
            .collect(),
        Value::Map(map) => map
            .into_iter()
            .map(|(k, v)| (Value::String(k), v))
            .collect(),
        other => {
            return Err(format!(
                "a `for` expression needs a list or a map, got {}",
                other.type_name()
            ));
        }
    };
    let mut list = Vec::new();
    let mut map = BTreeMap::new();
    let mut unknown = false;
    for (key, value) in elements {
        let depth = env.bound.len();
        if let Some(key_var) = &for_expr.key_var {
            env.bound.push((key_var.clone(), key));
        }
        env.bound.push((for_expr.value_var.clone(), value));
        let element = eval_element(for_expr, env);
        env.bound.truncate(depth);
        match element? {
            Element::Skip => {}
            Element::Unknown => unknown = true,
            Element::Item(None, value) => list.push(value),
            Element::Item(Some(key), value) => {
                if map.insert(key.clone(), value).is_some() {
                    return Err(format!(
                        "the `for` expression gives the key `{key}` twice; keys must be unique"
                    ));
                }
            }
        }
    }
    let result = if unknown {
        Value::Unknown
    } else if for_expr.key.is_some() {
        Value::Map(map)
    } else {
        Value::List(list)
    };
    Ok(taint(result, sensitive))
}

enum Element {
    Skip,
    Unknown,
    Item(Option<String>, Value),
}

fn eval_element(for_expr: &ForExpr, env: &mut Env<'_>) -> Result<Element, String> {
    let mut sensitive = false;
    if let Some(condition) = &for_expr.condition {
        let (keep, s) = reveal_top(eval_interp(condition, env)?);
        sensitive = s;
        match keep {
            Value::Unknown => return Ok(Element::Unknown),
            Value::Bool(false) => return Ok(Element::Skip),
            Value::Bool(true) => {}
            other => {
                return Err(format!(
                    "the `if` of a `for` expression must be a bool, got {}",
                    other.type_name()
                ));
            }
        }
    }
    let key = match &for_expr.key {
        Some(key) => {
            let (key, s) = reveal(&eval_interp(key, env)?);
            sensitive |= s;
            match key {
                Value::Unknown => return Ok(Element::Unknown),
                Value::String(text) => Some(text),
                Value::Int(i) => Some(i.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => {
                    return Err(format!(
                        "a `for` map key must be a string, got {}",
                        other.type_name()
                    ));
                }
            }
        }
        None => None,
    };
    let value = eval_interp(&for_expr.value, env)?;
    Ok(Element::Item(key, taint(value, sensitive)))
}

/// A number operand: an int, a float, or a string that spells one.
#[derive(Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn of(value: &Value) -> Option<Number> {
        match value {
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Float(f) => Some(Number::Float(*f)),
            Value::String(s) => s
                .parse::<i64>()
                .map(Number::Int)
                .ok()
                .or_else(|| s.parse::<f64>().ok().map(Number::Float)),
            _ => None,
        }
    }

    fn float(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

fn arithmetic(op: BinaryOp, left: Number, right: Number) -> Result<Value, String> {
    let symbol = op.symbol();
    if matches!(op, BinaryOp::Divide | BinaryOp::Modulo) && right.float() == 0.0 {
        return Err(format!("division by zero in `{symbol}`"));
    }
    let overflow = || format!("the result of `{symbol}` is out of range");
    if let (Number::Int(a), Number::Int(b)) = (left, right) {
        let result = match op {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Subtract => a.checked_sub(b),
            BinaryOp::Multiply => a.checked_mul(b),
            BinaryOp::Modulo => a.checked_rem(b),
            // A whole quotient stays a whole number; `7 / 2` is 3.5.
            _ if a.checked_rem(b) == Some(0) => a.checked_div(b),
            _ => return Ok(Value::Float(a as f64 / b as f64)),
        };
        return result.map(Value::Int).ok_or_else(overflow);
    }
    let (a, b) = (left.float(), right.float());
    let result = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Subtract => a - b,
        BinaryOp::Multiply => a * b,
        BinaryOp::Divide => a / b,
        _ => a % b,
    };
    if result.is_finite() {
        Ok(Value::Float(result))
    } else {
        Err(overflow())
    }
}

fn eval_binary(
    op: BinaryOp,
    lhs: &Interp,
    rhs: &Interp,
    env: &mut Env<'_>,
) -> Result<Value, String> {
    let (left, left_sensitive) = reveal(&eval_interp(lhs, env)?);
    let symbol = op.symbol();
    // `false && x` and `true || x` are decided by the left side alone, even when the
    // right side is unknown.
    match (op, &left) {
        (BinaryOp::And, Value::Bool(false)) => {
            return Ok(taint(Value::Bool(false), left_sensitive));
        }
        (BinaryOp::Or, Value::Bool(true)) => return Ok(taint(Value::Bool(true), left_sensitive)),
        _ => {}
    }
    let (right, right_sensitive) = reveal(&eval_interp(rhs, env)?);
    let sensitive = left_sensitive || right_sensitive;
    if left.contains_unknown() || right.contains_unknown() {
        return Ok(taint(Value::Unknown, sensitive));
    }
    let result = match op {
        BinaryOp::Equal => Value::Bool(values_equal(&left, &right)),
        BinaryOp::NotEqual => Value::Bool(!values_equal(&left, &right)),
        BinaryOp::And | BinaryOp::Or => match (&left, &right) {
            (Value::Bool(_), Value::Bool(b)) => Value::Bool(*b),
            _ => {
                return Err(format!(
                    "`{symbol}` needs two bools, got {} and {}",
                    left.type_name(),
                    right.type_name()
                ));
            }
        },
        _ => {
            let (Some(a), Some(b)) = (Number::of(&left), Number::of(&right)) else {
                return Err(format!(
                    "`{symbol}` needs two numbers, got {} and {}",
                    left.type_name(),
                    right.type_name()
                ));
            };
            match op {
                BinaryOp::Less => Value::Bool(a.float() < b.float()),
                BinaryOp::LessEqual => Value::Bool(a.float() <= b.float()),
                BinaryOp::Greater => Value::Bool(a.float() > b.float()),
                BinaryOp::GreaterEqual => Value::Bool(a.float() >= b.float()),
                _ => arithmetic(op, a, b)?,
            }
        }
    };
    Ok(taint(result, sensitive))
}

/// Equality where `1 == 1.0`, as users expect from numbers written either way.
fn values_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => (*i as f64) == *f,
        _ => left == right,
    }
}

fn eval_reference(reference: &Reference, env: &mut Env<'_>) -> Result<Value, String> {
    match reference {
        Reference::Variable { name, path } => {
            let value = env
                .scope
                .variable(name)
                .ok_or_else(|| format!("undefined variable `var.{name}`"))?;
            follow_path(value, path, &format!("var.{name}"), env)
        }
        Reference::Local { name, path } => {
            let value = match env.scope.local(name) {
                Some(Ok(value)) => value,
                Some(Err(message)) => return Err(format!("in `local.{name}`: {message}")),
                None => return Err(format!("undefined local `local.{name}`")),
            };
            follow_path(value, path, &format!("local.{name}"), env)
        }
        Reference::Each { field, path } => {
            let Some((key, value)) = env.scope.each() else {
                return Err("`each` is only defined in a resource with `for_each`".to_owned());
            };
            let (value, origin) = match field {
                EachField::Key => (Value::from(key), "each.key"),
                EachField::Value => (value.clone(), "each.value"),
            };
            follow_path(value, path, origin, env)
        }
        Reference::Resource {
            addr,
            instance,
            attr,
            path,
        } => eval_resource(addr, instance.as_ref(), attr.as_deref(), path, env),
    }
}

/// One instance's attribute, or its whole object without `attr`.
fn instance_value(env: &Env<'_>, addr: &ResourceAddr, attr: Option<&str>) -> Result<Value, String> {
    match attr {
        Some(attr) => env
            .scope
            .resource_attr(addr, attr)
            .ok_or_else(|| format!("`{addr}` has no attribute `{attr}`")),
        None => env
            .scope
            .resource_object(addr)
            .ok_or_else(|| format!("`{addr}` is not known")),
    }
}

fn eval_resource(
    addr: &ResourceAddr,
    instance: Option<&PathSegment>,
    attr: Option<&str>,
    path: &[PathSegment],
    env: &mut Env<'_>,
) -> Result<Value, String> {
    let origin = match attr {
        Some(attr) => format!("{addr}.{attr}"),
        None => addr.to_string(),
    };
    let keys = match env.scope.instances(addr) {
        Instances::Unknown => return Ok(Value::Unknown),
        Instances::Single => {
            return match instance {
                None => {
                    let value = instance_value(env, addr, attr)?;
                    follow_path(value, path, &origin, env)
                }
                Some(PathSegment::Splat) => {
                    let value = instance_value(env, addr, attr)?;
                    let value = follow_path(value, path, &origin, env)?;
                    Ok(Value::List(vec![value]))
                }
                Some(_) => Err(format!(
                    "`{addr}` has no `for_each`: refer to it without `[...]`"
                )),
            };
        }
        Instances::Keys(keys) => keys,
    };
    match instance {
        None => match attr {
            Some(attr) => Err(format!(
                "`{addr}` has `for_each`: name an instance, e.g. `{addr}[each.key].{attr}` or `{addr}[\"KEY\"].{attr}`"
            )),
            None => {
                let mut map = BTreeMap::new();
                for key in keys.iter() {
                    let value = instance_value(env, &addr.with_key(key.clone()), None)?;
                    map.insert(key.clone(), value);
                }
                follow_path(Value::Map(map), path, &origin, env)
            }
        },
        Some(PathSegment::Splat) => {
            let mut items = Vec::with_capacity(keys.len());
            for key in keys.iter() {
                let value = instance_value(env, &addr.with_key(key.clone()), attr)?;
                items.push(follow_path(value, path, &origin, env)?);
            }
            Ok(Value::List(items))
        }
        Some(segment) => {
            let (key, sensitive) = match segment {
                PathSegment::Key(key) => (Value::from(key.as_str()), false),
                PathSegment::Index(i) => (Value::Int(i64::try_from(*i).unwrap_or(i64::MAX)), false),
                PathSegment::Expr(inner) => reveal(&eval_interp(inner, env)?),
                PathSegment::Splat => (Value::Null, false),
            };
            let key = match key {
                Value::Unknown => return Ok(taint(Value::Unknown, sensitive)),
                Value::String(key) => key,
                other => {
                    return Err(format!(
                        "instances of `{addr}` are keyed by strings, got {}",
                        other.type_name()
                    ));
                }
            };
            if keys.binary_search(&key).is_err() {
                return Err(format!("`{addr}` has no instance `{key}`"));
            }
            let value = instance_value(env, &addr.with_key(key), attr)?;
            Ok(taint(follow_path(value, path, &origin, env)?, sensitive))
        }
    }
}

/// Applies `.key`, `["key"]`, `[i]`, `[EXPR]` and `[*]` in turn. Unknown stays unknown;
/// a sensitive container yields sensitive elements.
fn follow_path(
    mut value: Value,
    path: &[PathSegment],
    origin: &str,
    env: &mut Env<'_>,
) -> Result<Value, String> {
    for (at, segment) in path.iter().enumerate() {
        let key = match segment {
            PathSegment::Key(key) => Key::Name(key.clone()),
            PathSegment::Index(i) => Key::Index(*i),
            PathSegment::Splat => return splat(value, &path[at + 1..], origin, env),
            PathSegment::Expr(inner) => {
                let (key, sensitive) = reveal(&eval_interp(inner, env)?);
                if sensitive {
                    value = value.sensitive();
                }
                match key {
                    Value::Unknown => return Ok(taint(Value::Unknown, sensitive)),
                    Value::String(key) => Key::Name(key),
                    Value::Int(i) => match usize::try_from(i) {
                        Ok(i) => Key::Index(i),
                        Err(_) => return Err(format!("index {i} of `{origin}` is negative")),
                    },
                    other => {
                        return Err(format!(
                            "an index of `{origin}` must be a string or a whole number, got {}",
                            other.type_name()
                        ));
                    }
                }
            }
        };
        value = index(value, &key, origin)?;
    }
    Ok(value)
}

/// `[*]`: the rest of the path applied to every element. A map's elements are its values
/// in key order, null is no element, anything else is one.
fn splat(
    value: Value,
    rest: &[PathSegment],
    origin: &str,
    env: &mut Env<'_>,
) -> Result<Value, String> {
    let (value, sensitive) = reveal_top(value);
    let items = match value {
        Value::Unknown => return Ok(taint(Value::Unknown, sensitive)),
        Value::Null => Vec::new(),
        Value::List(items) => items,
        Value::Map(map) => map.into_values().collect(),
        other => vec![other],
    };
    let items = items
        .into_iter()
        .map(|item| follow_path(item, rest, origin, env))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(taint(Value::List(items), sensitive))
}

/// A computed or literal index.
enum Key {
    Name(String),
    Index(usize),
}

fn index(value: Value, key: &Key, origin: &str) -> Result<Value, String> {
    match (value, key) {
        (Value::Unknown, _) => Ok(Value::Unknown),
        (Value::Sensitive(inner), _) => index(*inner, key, origin).map(Value::sensitive),
        (Value::SensitiveHash(_), _) => Ok(Value::Unknown.sensitive()),
        (Value::Map(mut map), Key::Name(name)) => map
            .remove(name)
            .ok_or_else(|| format!("`{origin}` has no key `{name}`")),
        // A number indexes a map by its decimal spelling, as in Terraform.
        (Value::Map(mut map), Key::Index(i)) => map
            .remove(&i.to_string())
            .ok_or_else(|| format!("`{origin}` has no key `{i}`")),
        (Value::List(mut items), Key::Index(i)) => {
            let len = items.len();
            if *i < len {
                Ok(items.swap_remove(*i))
            } else {
                Err(format!(
                    "index {i} is out of range: `{origin}` has {len} items"
                ))
            }
        }
        (Value::List(items), Key::Name(name)) if name.parse::<usize>().is_ok() => {
            let i = name.parse::<usize>().unwrap_or(usize::MAX);
            index(Value::List(items), &Key::Index(i), origin)
        }
        (other, Key::Name(name)) => Err(format!(
            "cannot look up key `{name}` in `{origin}`: it is a {}, not a map",
            other.type_name()
        )),
        (other, Key::Index(i)) => Err(format!(
            "cannot take index {i} of `{origin}`: it is a {}, not a list",
            other.type_name()
        )),
    }
}

fn eval_template(parts: &[TemplatePart], env: &mut Env<'_>) -> Result<Value, String> {
    let mut out = String::new();
    let mut sensitive = false;
    let mut unknown = false;
    for part in parts {
        match part {
            TemplatePart::Text(text) => out.push_str(text),
            TemplatePart::Interp(interp) => {
                let (value, s) = reveal(&eval_interp(interp, env)?);
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
