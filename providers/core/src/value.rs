//! [`Value`]: the dynamically typed value of stack attributes, resource state and outputs.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Key of the one-entry JSON object that stands for a value known after apply.
pub const UNKNOWN_KEY: &str = "$unknown";
/// Key of the one-entry JSON object that holds a sensitive value's keyed hash.
pub const SENSITIVE_HASH_KEY: &str = "$sensitive";

/// A value in a stack, a plan or a state.
///
/// Two variants exist only inside cairn:
/// - [`Value::Unknown`]: not known until apply (an ARN, an endpoint). Serializes as
///   `{"$unknown": true}` so saved plans can carry it; state never holds it.
/// - [`Value::Sensitive`]: a secret, or anything computed from one. `Debug` and `Display`
///   print `(sensitive)`, and `Serialize` refuses it: whoever writes a value to disk must
///   first replace it with [`Value::SensitiveHash`]. Providers receive the real value and
///   read it with [`Value::expose`].
/// - [`Value::SensitiveHash`]: what state keeps of a sensitive value: a keyed hash, so a
///   change is still detected. Serializes as `{"$sensitive": "<hash>"}`. Providers never
///   receive it in desired configuration; it may appear in prior state they are given,
///   where only identifiers should be read.
#[derive(Clone, PartialEq, Default)]
pub enum Value {
    /// No value: an unset attribute.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A list.
    List(Vec<Value>),
    /// A map with string keys (TOML tables).
    Map(BTreeMap<String, Value>),
    /// Known only after apply.
    Unknown,
    /// A secret: printed as `(sensitive)`, hashed before it reaches state.
    Sensitive(Box<Value>),
    /// A secret as state keeps it: its keyed hash.
    SensitiveHash(String),
}

impl Value {
    /// Wraps `self` as sensitive (idempotent).
    pub fn sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) | Value::SensitiveHash(_) => self,
            other => Value::Sensitive(Box::new(other)),
        }
    }

    /// Whether this value itself is wrapped as sensitive.
    pub fn is_sensitive(&self) -> bool {
        matches!(self, Value::Sensitive(_) | Value::SensitiveHash(_))
    }

    /// True if this value or anything inside it is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) | Value::SensitiveHash(_) => true,
            Value::List(items) => items.iter().any(Value::contains_sensitive),
            Value::Map(map) => map.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// True if this value or anything inside it is only a secret's hash (state's form):
    /// its plaintext is not at hand.
    pub fn contains_hash(&self) -> bool {
        match self {
            Value::SensitiveHash(_) => true,
            Value::Sensitive(inner) => inner.contains_hash(),
            Value::List(items) => items.iter().any(Value::contains_hash),
            Value::Map(map) => map.values().any(Value::contains_hash),
            _ => false,
        }
    }

    /// `self` with every node wrapped as sensitive where `shape` holds a secret at the same
    /// place: maps by key, lists by index. Sensitivity stays per leaf, so a manifest with
    /// one secret keeps its structure; where the shapes part (a secret map came back as a
    /// string, say) the whole subtree is wrapped, so nothing that was secret goes plain.
    pub fn with_sensitivity_of(self, shape: &Value) -> Value {
        match (self, shape) {
            (value, Value::Sensitive(_) | Value::SensitiveHash(_)) => value.sensitive(),
            (Value::Map(mut entries), Value::Map(fields)) => {
                for (key, sub_shape) in fields {
                    if let Some(entry) = entries.get_mut(key) {
                        *entry = std::mem::take(entry).with_sensitivity_of(sub_shape);
                    }
                }
                Value::Map(entries)
            }
            (Value::List(elements), Value::List(items)) => Value::List(
                elements
                    .into_iter()
                    .enumerate()
                    .map(|(i, element)| match items.get(i) {
                        Some(item_shape) => element.with_sensitivity_of(item_shape),
                        None => element,
                    })
                    .collect(),
            ),
            (Value::Sensitive(inner), shape) => inner.with_sensitivity_of(shape).sensitive(),
            (value, shape) if shape.contains_sensitive() && !value.is_null() => value.sensitive(),
            (value, _) => value,
        }
    }

    /// True if this value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Sensitive(inner) => inner.contains_unknown(),
            Value::List(items) => items.iter().any(Value::contains_unknown),
            Value::Map(map) => map.values().any(Value::contains_unknown),
            _ => false,
        }
    }

    /// The value with every sensitive wrapper removed, for providers that must send it.
    /// Returns `None` if anything inside is unknown or only a hash: the engine never gives
    /// such a value to a create or update call, so a provider can treat `None` as a bug.
    pub fn expose(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(Value::expose)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| Some((k.clone(), v.expose()?)))
                    .collect::<Option<serde_json::Map<_, _>>>()?,
            ),
            Value::Sensitive(inner) => inner.expose()?,
            Value::Unknown | Value::SensitiveHash(_) => return None,
        })
    }

    /// Converts plain JSON (an API response) into a value. Numbers that fit `i64` become
    /// [`Value::Int`].
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or_default()),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Looks up a map entry; `None` for a missing key or a non-map value. Looks through a
    /// sensitive wrapper and keeps the result sensitive.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Map(map) => map.get(key).cloned(),
            Value::Sensitive(inner) => inner.get(key).map(Value::sensitive),
            _ => None,
        }
    }

    /// The string, if this is one (not through `Sensitive`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Unknown => "unknown",
            Value::Sensitive(_) | Value::SensitiveHash(_) => "sensitive",
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => f.debug_list().entries(items).finish(),
            Value::Map(map) => f.debug_map().entries(map).finish(),
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Sensitive(_) | Value::SensitiveHash(_) => f.write_str("(sensitive)"),
        }
    }
}

/// Renders like a stack-file literal (strings quoted); secrets print as `(sensitive)`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Value::Map(map)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(x) => serializer.serialize_f64(*x),
            Value::String(s) => serializer.serialize_str(s),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    out.serialize_entry(k, v)?;
                }
                out.end()
            }
            Value::Unknown => {
                let mut out = serializer.serialize_map(Some(1))?;
                out.serialize_entry(UNKNOWN_KEY, &true)?;
                out.end()
            }
            Value::SensitiveHash(hash) => {
                let mut out = serializer.serialize_map(Some(1))?;
                out.serialize_entry(SENSITIVE_HASH_KEY, hash)?;
                out.end()
            }
            Value::Sensitive(_) => Err(ser::Error::custom(
                "refusing to serialize a sensitive value: redact it to a hash first",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some((k, v)) = access.next_entry::<String, Value>()? {
            map.insert(k, v);
        }
        if map.len() == 1 {
            if let Some(Value::String(hash)) = map.get(SENSITIVE_HASH_KEY) {
                return Ok(Value::SensitiveHash(hash.clone()));
            }
            if map.get(UNKNOWN_KEY) == Some(&Value::Bool(true)) {
                return Ok(Value::Unknown);
            }
        }
        Ok(Value::Map(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_never_print_or_serialize() {
        let secret = Value::from("hunter2").sensitive();
        assert_eq!(format!("{secret:?}"), "(sensitive)");
        assert_eq!(secret.to_string(), "(sensitive)");
        let nested = Value::List(vec![Value::from("a"), secret.clone()]);
        assert!(!format!("{nested:?}").contains("hunter2"));
        assert!(serde_json::to_string(&nested).is_err());
        assert_eq!(secret.expose(), Some(serde_json::json!("hunter2")));
    }

    #[test]
    fn unknown_and_hash_round_trip_through_json() {
        let mut map = BTreeMap::new();
        map.insert("arn".to_owned(), Value::Unknown);
        map.insert(
            "password".to_owned(),
            Value::SensitiveHash("abc".to_owned()),
        );
        map.insert("port".to_owned(), Value::Int(5432));
        let value = Value::Map(map);
        let json = serde_json::to_string(&value).expect("serializable");
        assert_eq!(
            json,
            r#"{"arn":{"$unknown":true},"password":{"$sensitive":"abc"},"port":5432}"#
        );
        let back: Value = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, value);
        assert!(back.contains_unknown());
        assert_eq!(back.expose(), None);
    }

    #[test]
    fn get_through_sensitive_stays_sensitive() {
        let mut map = BTreeMap::new();
        map.insert("user".to_owned(), Value::from("airflow"));
        let secret = Value::Map(map).sensitive();
        assert!(secret.get("user").is_some_and(|v| v.is_sensitive()));
    }

    fn json(value: serde_json::Value) -> Value {
        Value::from_json(value)
    }

    #[test]
    fn sensitivity_is_carried_per_leaf() {
        // A Secret manifest: only the stringData leaf is secret in the shape.
        let mut shape = json(serde_json::json!({
            "kind": "Secret",
            "metadata": {"name": "s"},
            "stringData": {"password": "x", "user": "airflow"},
        }));
        if let Value::Map(top) = &mut shape
            && let Some(Value::Map(data)) = top.get_mut("stringData")
            && let Some(password) = data.get_mut("password")
        {
            *password = Value::SensitiveHash("hmac".to_owned());
        }
        let result = json(serde_json::json!({
            "kind": "Secret",
            "metadata": {"name": "s", "uid": "u-1"},
            "stringData": {"password": "hunter2", "user": "airflow"},
        }))
        .with_sensitivity_of(&shape);
        assert!(!result.is_sensitive(), "the structure stays readable");
        assert_eq!(
            result.get("metadata").and_then(|m| m.get("name")),
            Some(Value::from("s"))
        );
        let data = result.get("stringData").expect("stringData");
        assert!(!data.is_sensitive());
        assert!(data.get("password").is_some_and(|v| v.is_sensitive()));
        assert_eq!(data.get("user"), Some(Value::from("airflow")));
    }

    #[test]
    fn sensitivity_covers_a_subtree_whose_shape_changed() {
        let shape = Value::List(vec![Value::from("a"), Value::from("b").sensitive()]);
        let result = Value::from("a,b").with_sensitivity_of(&shape);
        assert!(result.is_sensitive());
        let longer = Value::List(vec![Value::from("a"), Value::from("b"), Value::from("c")])
            .with_sensitivity_of(&shape);
        assert_eq!(
            longer,
            Value::List(vec![
                Value::from("a"),
                Value::from("b").sensitive(),
                Value::from("c")
            ])
        );
    }
}
