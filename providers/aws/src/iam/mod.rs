//! IAM: roles (with managed and inline policies, and the compact IRSA trust form) and
//! the OpenID Connect provider that lets a cluster's service accounts assume them.
//!
//! This module owns what both share: IAM tag conversion, and policy documents. Policies
//! may be written as TOML tables or as JSON strings; they are always compared as parsed
//! JSON (IAM returns them URL-encoded, with its own spacing), so formatting never shows
//! as drift.

mod irsa;
mod oidc_provider;
mod role;

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use cairn_provider_core::{Attrs, ProviderError, Value};

use crate::clients::AwsClients;
use crate::resource::{AwsResource, Typed, map_attribute};
use crate::tags::user_visible;

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    vec![
        Box::new(Typed(role::Role)),
        Box::new(Typed(oidc_provider::OidcProvider)),
    ]
}

/// The error code IAM answers for an object that does not exist.
const NO_SUCH_ENTITY: &str = "NoSuchEntity";

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ProviderError::invalid("tags", e.to_string()))
        })
        .collect()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// The `tags` attribute as `read` reports it: only the user's tags.
fn tags_value(aws: &AwsClients, tags: &[Tag], prior: Option<&Attrs>) -> Value {
    map_attribute(
        user_visible(tag_map(tags), &aws.default_tags),
        prior,
        "tags",
    )
}

/// A policy attribute as JSON: a table is taken as is, a string must hold JSON.
fn policy_json(value: &Value, attribute: &str) -> Result<serde_json::Value, ProviderError> {
    let exposed = value
        .expose()
        .ok_or_else(|| ProviderError::invalid(attribute, "is not known yet"))?;
    policy_document(exposed, attribute)
}

/// [`policy_json`] for a value taken from a decoded configuration.
fn policy_document(
    exposed: serde_json::Value,
    attribute: &str,
) -> Result<serde_json::Value, ProviderError> {
    match exposed {
        serde_json::Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| ProviderError::invalid(attribute, format!("is not valid JSON: {e}"))),
        json @ serde_json::Value::Object(_) => Ok(json),
        other => Err(ProviderError::invalid(
            attribute,
            format!(
                "must be a table or a JSON string, not {}",
                Value::from_json(other).type_name()
            ),
        )),
    }
}

/// A policy document as IAM returns it: URL-encoded JSON (RFC 3986), parsed.
fn decode_document(document: &str) -> Result<serde_json::Value, ProviderError> {
    let decoded = urlencoding::decode(document).map_err(|e| {
        ProviderError::Other(format!(
            "IAM returned a policy that is not URL-encoded UTF-8: {e}"
        ))
    })?;
    serde_json::from_str(&decoded)
        .map_err(|e| ProviderError::Other(format!("IAM returned a policy that is not JSON: {e}")))
}

/// The policy as `read` reports it: the recorded value itself when it means the same
/// document (so a table stays a table and a string keeps its spacing), otherwise what
/// IAM has, in the recorded form (table or JSON string).
fn policy_value(actual: serde_json::Value, recorded: Option<&Value>, attribute: &str) -> Value {
    match recorded {
        Some(value) if policy_json(value, attribute).ok().as_ref() == Some(&actual) => {
            value.clone()
        }
        Some(Value::String(_)) => Value::String(actual.to_string()),
        _ => Value::from_json(actual),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_compare_as_json_whatever_their_form() {
        let text = r#"{ "Version": "2012-10-17",  "Statement": [] }"#;
        let table = Value::from_json(serde_json::json!({"Statement": [], "Version": "2012-10-17"}));
        assert_eq!(
            policy_json(&Value::from(text), "policy").ok(),
            policy_json(&table, "policy").ok()
        );
        assert!(policy_json(&Value::from("{not json"), "policy").is_err());
        assert!(policy_json(&Value::Int(3), "policy").is_err());
    }

    #[test]
    fn documents_from_iam_are_url_decoded() {
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D";
        let decoded = decode_document(encoded).expect("decodes");
        assert_eq!(decoded["Version"], "2012-10-17");
    }

    #[test]
    fn read_keeps_the_recorded_form_of_an_unchanged_policy() {
        let recorded = Value::from(r#"{"Version":"2012-10-17","Statement":[]}"#);
        let same = serde_json::json!({"Statement": [], "Version": "2012-10-17"});
        assert_eq!(policy_value(same, Some(&recorded), "p"), recorded);
        let changed =
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny"}]});
        let read = policy_value(changed.clone(), Some(&recorded), "p");
        assert_eq!(
            read.as_str()
                .map(serde_json::from_str::<serde_json::Value>)
                .and_then(Result::ok),
            Some(changed)
        );
    }
}
