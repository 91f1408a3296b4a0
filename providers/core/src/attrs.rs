//! [`Attrs`]: a resource's attributes, with typed accessors for provider code.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{ProviderError, Value};

/// The attributes of one resource: its configuration merged with what the provider
/// computed. Keys are the schema's attribute names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attrs(pub BTreeMap<String, Value>);

impl Attrs {
    /// No attributes.
    pub fn new() -> Self {
        Attrs::default()
    }

    /// The attribute `name`; `None` when absent or null.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// Sets the attribute `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(name.into(), value.into());
    }

    /// Builder form of [`Attrs::insert`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(name, value);
        self
    }

    /// A required string attribute (sensitive values are exposed).
    pub fn str(&self, name: &str) -> Result<String, ProviderError> {
        self.opt_str(name)?
            .ok_or_else(|| ProviderError::invalid(name, "is required"))
    }

    /// An optional string attribute (sensitive values are exposed).
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ProviderError> {
        match self.get(name).map(|v| v.expose()) {
            None => Ok(None),
            Some(Some(serde_json::Value::String(s))) => Ok(Some(s)),
            Some(_) => Err(ProviderError::invalid(name, "must be a known string")),
        }
    }

    /// An optional integer attribute.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ProviderError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(_) => Err(ProviderError::invalid(name, "must be an integer")),
        }
    }

    /// An optional boolean attribute.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ProviderError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ProviderError::invalid(name, "must be a boolean")),
        }
    }

    /// A list of strings; missing means empty.
    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        self.opt_decode::<Vec<String>>(name)
            .map(Option::unwrap_or_default)
    }

    /// A map of strings (tags, labels); missing means empty.
    pub fn str_map(&self, name: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        self.opt_decode::<BTreeMap<String, String>>(name)
            .map(Option::unwrap_or_default)
    }

    /// Decodes one attribute into a serde type, exposing sensitive values.
    pub fn opt_decode<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ProviderError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let json = value
            .expose()
            .ok_or_else(|| ProviderError::invalid(name, "is not known yet"))?;
        serde_json::from_value(json)
            .map(Some)
            .map_err(|e| ProviderError::invalid(name, e.to_string()))
    }

    /// Decodes all attributes into one serde struct, exposing sensitive values.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        let json = Value::Map(self.0.clone())
            .expose()
            .ok_or_else(|| ProviderError::invalid("(resource)", "has values not known yet"))?;
        serde_json::from_value(json)
            .map_err(|e| ProviderError::invalid("(resource)", e.to_string()))
    }

    /// Builds attributes from a serializable struct (an API response mapped to the schema).
    pub fn encode<T: Serialize>(value: &T) -> Result<Attrs, ProviderError> {
        match serde_json::to_value(value).map(Value::from_json) {
            Ok(Value::Map(map)) => Ok(Attrs(map)),
            Ok(other) => Err(ProviderError::Other(format!(
                "expected an object of attributes, got {}",
                other.type_name()
            ))),
            Err(e) => Err(ProviderError::Other(e.to_string())),
        }
    }
}

impl From<BTreeMap<String, Value>> for Attrs {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Attrs(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Scaling {
        min_size: i64,
        max_size: i64,
    }

    #[test]
    fn typed_accessors_expose_and_decode() {
        let attrs = Attrs::new()
            .with("name", "main")
            .with("password", Value::from("pw").sensitive())
            .with("subnets", vec!["a", "b"])
            .with(
                "scaling",
                Value::Map(BTreeMap::from([
                    ("min_size".to_owned(), Value::Int(0)),
                    ("max_size".to_owned(), Value::Int(10)),
                ])),
            );
        assert_eq!(attrs.str("name").ok().as_deref(), Some("main"));
        assert_eq!(attrs.str("password").ok().as_deref(), Some("pw"));
        assert_eq!(
            attrs.str_list("subnets").ok(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        let scaling: Scaling = attrs.opt_decode("scaling").ok().flatten().expect("decodes");
        assert_eq!((scaling.min_size, scaling.max_size), (0, 10));
        assert!(attrs.str("missing").is_err());
        assert!(attrs.opt_i64("name").is_err());
    }
}
