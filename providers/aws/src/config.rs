//! How a resource type reads its configuration: [`decode_config`] decodes the attributes
//! into the type's own serde struct, once per call, instead of reading them one by one.
//!
//! It reads cairn's [`Value`]s directly rather than through JSON as [`Attrs::decode`]
//! does, so that:
//! - an error names the attribute at fault (`attribute \`vpc_id\` is required`,
//!   `attribute \`route\` needs \`cidr_block\``) and never shows a value, sensitive or not;
//! - sensitive values reach the struct as plain values (the provider must send them);
//! - an attribute the struct does not read may be unknown or only a recorded hash (a
//!   computed `arn` in a desired configuration, a password in recorded state);
//! - a null attribute is an absent one.

use std::fmt;

use cairn_provider_core::{Attrs, ProviderError, Value};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, Expected, IntoDeserializer, MapAccess,
    Unexpected, Visitor,
};

/// Decodes `attrs` (a configuration, or recorded attributes) into `T`.
pub(crate) fn decode_config<T: DeserializeOwned>(attrs: &Attrs) -> Result<T, ProviderError> {
    T::deserialize(Attributes(attrs)).map_err(|error| match error {
        DecodeError::Attribute(error) => error,
        DecodeError::Missing(field) => ProviderError::invalid(field, "is required"),
        DecodeError::Message(message) => ProviderError::invalid("(resource)", message),
    })
}

/// The attributes as a serde map, one attribute at a time, so an error knows its name.
struct Attributes<'a>(&'a Attrs);

impl<'de> Deserializer<'de> for Attributes<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_map(AttributeEntries {
            entries: self.0.0.iter().filter(|(_, v)| !v.is_null()),
            pending: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct AttributeEntries<'a, I> {
    entries: I,
    pending: Option<(&'a str, &'a Value)>,
}

impl<'de, 'a, I> MapAccess<'de> for AttributeEntries<'a, I>
where
    I: Iterator<Item = (&'a String, &'a Value)>,
{
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((name, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((name, value));
        seed.deserialize(name.as_str().into_deserializer())
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, DecodeError> {
        let Some((name, value)) = self.pending.take() else {
            return Err(de::Error::custom("a value without its attribute"));
        };
        seed.deserialize(ValueDeserializer(value))
            .map_err(|error| DecodeError::Attribute(error.about(name)))
    }
}

/// One attribute's value (or a part of it).
struct ValueDeserializer<'a>(&'a Value);

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_str(s),
            Value::List(items) => {
                let mut items = SeqDeserializer::new(items.iter().map(ValueDeserializer));
                let decoded = visitor.visit_seq(&mut items)?;
                items.end()?;
                Ok(decoded)
            }
            Value::Map(map) => {
                let entries = map.iter().map(|(k, v)| (k.as_str(), ValueDeserializer(v)));
                let mut entries = MapDeserializer::new(entries);
                let decoded = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(decoded)
            }
            Value::Sensitive(inner) => ValueDeserializer(inner).deserialize_any(visitor),
            Value::Unknown | Value::SensitiveHash(_) => {
                Err(DecodeError::Message("is not known yet".to_owned()))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            Value::Sensitive(inner) => ValueDeserializer(inner).deserialize_option(visitor),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Sensitive(inner) => {
                ValueDeserializer(inner).deserialize_enum(name, variants, visitor)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    /// What the struct does not read is not looked at: it may be unknown.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
    }
}

impl<'de> IntoDeserializer<'de, DecodeError> for ValueDeserializer<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// serde's error type for [`decode_config`]. Its messages follow an attribute's name and
/// never quote a value.
#[derive(Debug)]
enum DecodeError {
    /// Already about one attribute.
    Attribute(ProviderError),
    /// A field of a struct is missing: the attribute itself at the top, a part of it
    /// below.
    Missing(&'static str),
    /// What is wrong, before the attribute is known.
    Message(String),
}

impl DecodeError {
    /// The error as one about attribute `name`.
    fn about(self, name: &str) -> ProviderError {
        match self {
            DecodeError::Attribute(error) => error,
            DecodeError::Missing(field) => ProviderError::invalid(name, format!("needs `{field}`")),
            DecodeError::Message(message) => ProviderError::invalid(name, message),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Attribute(error) => error.fmt(f),
            DecodeError::Missing(field) => write!(f, "needs `{field}`"),
            DecodeError::Message(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        DecodeError::Message(message.to_string())
    }

    fn invalid_type(_unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DecodeError::Message(format!("must be {expected}"))
    }

    fn invalid_value(_unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DecodeError::Message(format!("must be {expected}"))
    }

    fn invalid_length(_len: usize, expected: &dyn Expected) -> Self {
        DecodeError::Message(format!("must be {expected}"))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::Message(format!("must be one of {}", expected.join(", ")))
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        DecodeError::Message(format!("has no field `{field}`"))
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::Missing(field)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Config {
        vpc_id: String,
        count: Option<i64>,
        password: Option<String>,
        #[serde(default)]
        route: Vec<Route>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Route {
        cidr_block: String,
    }

    fn decode(attrs: Attrs) -> Result<Config, String> {
        decode_config::<Config>(&attrs).map_err(|e| e.to_string())
    }

    fn route(entries: &[(&str, Value)]) -> Value {
        let entry = entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>();
        Value::List(vec![Value::Map(entry)])
    }

    #[test]
    fn decodes_sensitive_nested_and_null_attributes() {
        let attrs = Attrs::new()
            .with("vpc_id", "vpc-1")
            .with("count", Value::Null)
            .with("password", Value::from("pw").sensitive())
            .with(
                "route",
                route(&[("cidr_block", Value::from("10.0.0.0/16"))]),
            );
        let config = decode(attrs);
        assert_eq!(
            config.as_ref().map(|c| (
                c.vpc_id.as_str(),
                c.count,
                c.password.as_deref(),
                c.route.first().map(|r| r.cidr_block.as_str())
            )),
            Ok(("vpc-1", None, Some("pw"), Some("10.0.0.0/16")))
        );
    }

    #[test]
    fn what_the_struct_does_not_read_may_be_unknown_or_a_hash() {
        let attrs = Attrs::new()
            .with("vpc_id", "vpc-1")
            .with("arn", Value::Unknown)
            .with("secret", Value::SensitiveHash("h".to_owned()));
        assert!(decode(attrs).is_ok());
        let unknown = decode(Attrs::new().with("vpc_id", Value::Unknown));
        assert_eq!(
            unknown.err().as_deref(),
            Some("attribute `vpc_id` is not known yet")
        );
    }

    #[test]
    fn errors_name_the_attribute_and_never_the_value() {
        let missing = decode(Attrs::new().with("vpc_id", Value::Null));
        assert_eq!(
            missing.err().as_deref(),
            Some("attribute `vpc_id` is required")
        );
        let wrong = decode(Attrs::new().with("vpc_id", "v").with("count", "many"));
        assert_eq!(
            wrong.err().as_deref(),
            Some("attribute `count` must be i64")
        );
        let secret = Value::from(vec!["hunter2"]).sensitive();
        let hidden = decode(Attrs::new().with("vpc_id", "v").with("password", secret));
        assert_eq!(
            hidden.err().as_deref(),
            Some("attribute `password` must be a string")
        );
        let partial = Attrs::new().with("vpc_id", "v").with("route", route(&[]));
        assert_eq!(
            decode(partial).err().as_deref(),
            Some("attribute `route` needs `cidr_block`")
        );
        let extra = route(&[
            ("cidr_block", Value::from("10.0.0.0/16")),
            ("gateway", Value::from("igw-1")),
        ]);
        let extra = Attrs::new().with("vpc_id", "v").with("route", extra);
        assert_eq!(
            decode(extra).err().as_deref(),
            Some("attribute `route` has no field `gateway`")
        );
    }
}
