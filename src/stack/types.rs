//! Checking values and literal expressions against schema types.
//!
//! Owns what "this value fits this [`AttrType`]" means. The loader checks literals at
//! load time with [`check_expr`]; the planner checks evaluated references with
//! [`check_value`] once their values are known. Messages never include a sensitive value.

use cairn_provider_core::{AttrType, Value};

use crate::diagnostics::closest;
use crate::expr::{Expr, ExprKind};

/// A readable name for a schema type, for "expected X, got Y" messages.
pub fn describe_type(ty: &AttrType) -> String {
    match ty {
        AttrType::String => "string".to_owned(),
        AttrType::Int => "integer".to_owned(),
        AttrType::Number => "number".to_owned(),
        AttrType::Bool => "bool".to_owned(),
        AttrType::Enum(values) => {
            format!(
                "one of {}",
                values
                    .iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        AttrType::List(item) => format!("list of {}", describe_type(item)),
        AttrType::Map(item) => format!("map of {}", describe_type(item)),
        AttrType::Object(_) => "table".to_owned(),
        AttrType::Any => "any value".to_owned(),
    }
}

/// One type mismatch: where inside the value (`scaling.min`, `[2]`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeMismatch {
    /// Path inside the checked value, empty for the value itself.
    pub path: String,
    /// What is wrong, never the value.
    pub message: String,
    /// A close valid name (object field or enum value), if any.
    pub suggestion: Option<String>,
}

fn mismatch(path: &str, message: String) -> TypeMismatch {
    TypeMismatch {
        path: path.to_owned(),
        message,
        suggestion: None,
    }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() || key.is_empty() || key.starts_with('[') {
        format!("{path}{key}")
    } else {
        format!("{path}.{key}")
    }
}

/// Checks an evaluated value. Unknown values (and unknown parts) pass: they are
/// checked again once known. A sensitive value is checked through its wrapper, but its
/// content never appears in the message.
pub fn check_value(value: &Value, ty: &AttrType) -> Result<(), TypeMismatch> {
    check_value_at(value, ty, "", false)
}

fn check_value_at(
    value: &Value,
    ty: &AttrType,
    path: &str,
    sensitive: bool,
) -> Result<(), TypeMismatch> {
    let wrong = |expected: &AttrType| {
        let got = if sensitive {
            "a sensitive value of another type".to_owned()
        } else {
            value.type_name().to_owned()
        };
        Err(mismatch(
            path,
            format!("expected {}, got {got}", describe_type(expected)),
        ))
    };
    match (value, ty) {
        (Value::Unknown | Value::SensitiveHash(_), _) | (_, AttrType::Any) => Ok(()),
        (Value::Sensitive(inner), _) => check_value_at(inner, ty, path, true),
        // Null means "not set"; whether that is allowed is the required-attribute check.
        (Value::Null, _) => Ok(()),
        (Value::String(_), AttrType::String)
        | (Value::Int(_), AttrType::Int | AttrType::Number)
        | (Value::Float(_), AttrType::Number)
        | (Value::Bool(_), AttrType::Bool) => Ok(()),
        (Value::String(s), AttrType::Enum(values)) => {
            if values.iter().any(|v| v == s) {
                return Ok(());
            }
            if sensitive {
                return Err(mismatch(path, format!("expected {}", describe_type(ty))));
            }
            Err(TypeMismatch {
                path: path.to_owned(),
                message: format!("\"{s}\" is not {}", describe_type(ty)),
                suggestion: closest(s, values.iter().map(String::as_str)).map(str::to_owned),
            })
        }
        (Value::List(items), AttrType::List(item_ty)) => {
            items.iter().enumerate().try_for_each(|(i, item)| {
                check_value_at(item, item_ty, &format!("{path}[{i}]"), sensitive)
            })
        }
        (Value::Map(map), AttrType::Map(item_ty)) => map
            .iter()
            .try_for_each(|(k, v)| check_value_at(v, item_ty, &join_path(path, k), sensitive)),
        (Value::Map(map), AttrType::Object(fields)) => {
            for (key, item) in map {
                let Some(field) = fields.get(key) else {
                    return Err(TypeMismatch {
                        path: path.to_owned(),
                        message: format!("unknown field `{key}`"),
                        suggestion: closest(key, fields.keys().map(String::as_str))
                            .map(str::to_owned),
                    });
                };
                check_value_at(item, &field.ty, &join_path(path, key), sensitive)?;
            }
            Ok(())
        }
        _ => wrong(ty),
    }
}

/// Checks an expression as written. Literal parts are checked now; `${...}` parts are
/// checked when evaluated. Object tables are checked for unknown, computed and missing
/// required fields. Returns every mismatch found.
pub fn check_expr(
    expr: &Expr,
    ty: &AttrType,
    path: &str,
    out: &mut Vec<(TypeMismatch, crate::stack::Span)>,
) {
    let mut push = |message: String, suggestion: Option<String>| {
        out.push((
            TypeMismatch {
                path: path.to_owned(),
                message,
                suggestion,
            },
            expr.span.clone(),
        ));
    };
    match (&expr.kind, ty) {
        (_, AttrType::Any) | (ExprKind::Interpolation(_), _) => {}
        (ExprKind::Template(_), AttrType::String | AttrType::Enum(_)) => {}
        (ExprKind::Template(_), other) => {
            push(
                format!("expected {}, got a string template", describe_type(other)),
                None,
            );
        }
        (ExprKind::Literal(value), _) => {
            if let Err(found) = check_value(value, ty) {
                out.push((
                    TypeMismatch {
                        path: join_path(path, &found.path),
                        ..found
                    },
                    expr.span.clone(),
                ));
            }
        }
        (ExprKind::List(items), AttrType::List(item_ty)) => {
            for (i, item) in items.iter().enumerate() {
                check_expr(item, item_ty, &format!("{path}[{i}]"), out);
            }
        }
        (ExprKind::Map(map), AttrType::Map(item_ty)) => {
            for (key, item) in map {
                check_expr(item, item_ty, &join_path(path, key), out);
            }
        }
        (ExprKind::Map(map), AttrType::Object(fields)) => {
            for (key, item) in map {
                match fields.get(key) {
                    None => out.push((
                        TypeMismatch {
                            path: path.to_owned(),
                            message: format!("unknown field `{key}`"),
                            suggestion: closest(key, fields.keys().map(String::as_str))
                                .map(str::to_owned),
                        },
                        item.span.clone(),
                    )),
                    Some(field) if !field.is_settable() => out.push((
                        TypeMismatch {
                            path: path.to_owned(),
                            message: format!("field `{key}` is computed and cannot be set"),
                            suggestion: None,
                        },
                        item.span.clone(),
                    )),
                    Some(field) => check_expr(item, &field.ty, &join_path(path, key), out),
                }
            }
            for (key, field) in fields {
                if field.mode == cairn_provider_core::Mode::Required && !map.contains_key(key) {
                    out.push((
                        TypeMismatch {
                            path: path.to_owned(),
                            message: format!("missing required field `{key}`"),
                            suggestion: None,
                        },
                        expr.span.clone(),
                    ));
                }
            }
        }
        (ExprKind::List(_), other) => push(
            format!("expected {}, got array", describe_type(other)),
            None,
        ),
        (ExprKind::Map(_), other) => push(
            format!("expected {}, got table", describe_type(other)),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_provider_core::AttrSchema;

    use super::*;

    #[test]
    fn values_against_types() {
        assert!(check_value(&Value::Int(1), &AttrType::Number).is_ok());
        assert!(check_value(&Value::Float(1.5), &AttrType::Int).is_err());
        assert!(check_value(&Value::Unknown, &AttrType::Bool).is_ok());
        let list = Value::List(vec![Value::from("a"), Value::Int(2)]);
        let err = check_value(&list, &AttrType::list(AttrType::String)).err();
        assert_eq!(
            err.map(|e| (e.path, e.message)),
            Some(("[1]".to_owned(), "expected string, got int".to_owned()))
        );
    }

    #[test]
    fn enums_suggest_and_secrets_do_not_leak() {
        let ty = AttrType::enumeration(&["ON_DEMAND", "SPOT"]);
        let err = check_value(&Value::from("SPOTT"), &ty).err();
        assert_eq!(err.and_then(|e| e.suggestion), Some("SPOT".to_owned()));
        let secret = Value::from("hunter2").sensitive();
        let err = check_value(&secret, &ty)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(!err.is_empty() && !err.contains("hunter2"));
        let err = check_value(&secret, &AttrType::Int)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(!err.is_empty() && !err.contains("hunter2"));
    }

    #[test]
    fn object_fields_are_checked() {
        let ty = AttrType::object([
            ("min", AttrSchema::required(AttrType::Int)),
            ("max", AttrSchema::optional(AttrType::Int)),
        ]);
        let value = Value::Map(BTreeMap::from([("mni".to_owned(), Value::Int(1))]));
        let err = check_value(&value, &ty).err();
        assert_eq!(
            err.map(|e| (e.message, e.suggestion)),
            Some(("unknown field `mni`".to_owned(), Some("min".to_owned())))
        );
    }
}
