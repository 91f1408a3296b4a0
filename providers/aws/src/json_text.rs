//! JSON held in a string attribute (a KMS key policy, an EKS add-on's configuration
//! values): compared by meaning, never by spelling, so that AWS reformatting a document
//! is not drift.

use cairn_provider_core::ProviderError;

/// The document parsed, or an error naming `attribute`.
pub(crate) fn parse(text: &str, attribute: &str) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_str(text)
        .map_err(|e| ProviderError::invalid(attribute, format!("is not valid JSON: {e}")))
}

/// What `read` reports for a document AWS holds as `actual`: the recorded or configured
/// text when it means the same JSON (keeping its spacing and key order), else AWS's text.
pub(crate) fn reported(recorded: Option<&str>, actual: &str) -> String {
    match recorded {
        Some(text) if same(text, actual) => text.to_owned(),
        _ => actual.to_owned(),
    }
}

/// True if both texts are JSON and mean the same value.
pub(crate) fn same(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_spelling_of_the_same_document_is_kept() {
        let recorded = r#"{ "b": [1, 2], "a": {"x": true} }"#;
        let actual = r#"{"a":{"x":true},"b":[1,2]}"#;
        assert_eq!(reported(Some(recorded), actual), recorded);
        let changed = r#"{"a":{"x":false},"b":[1,2]}"#;
        assert_eq!(reported(Some(recorded), changed), changed);
        assert_eq!(reported(None, actual), actual);
        assert_eq!(reported(Some("not json"), actual), actual);
        assert!(
            !same(r#"{"b":[2,1]}"#, r#"{"b":[1,2]}"#),
            "order of lists counts"
        );
        assert!(parse("{", "policy").is_err());
    }
}
