//! [`ProviderError`]: what a provider call can fail with.

use std::time::Duration;

/// An error from a provider. The engine adds the resource address and the operation; the
/// provider says what the API said. Messages must never contain a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The remote API refused or failed the call. `code` is the API's own error code
    /// (e.g. `ResourceInUseException`, or an HTTP status for Kubernetes).
    #[error("{operation}: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Api {
        /// The API operation, e.g. `eks:CreateNodegroup`.
        operation: String,
        /// The API's own error code, when it gave one.
        code: Option<String>,
        /// The API's message.
        message: String,
    },
    /// The call got no usable answer: the connection, TLS, a timeout, or an answer that
    /// could not be read. `source` keeps the cause's chain, and the message ends with its
    /// root cause (see [`ProviderError::transport`]) so it is printed wherever the error
    /// is, as one line.
    #[error("{operation}: {message}")]
    Transport {
        /// The API operation, e.g. `eks:CreateNodegroup`.
        operation: String,
        /// The messages of the cause's chain, outermost first.
        message: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An attribute has a value the provider cannot use.
    #[error("attribute `{attribute}` {message}")]
    InvalidAttribute {
        /// The attribute's name in the schema.
        attribute: String,
        /// What is wrong with it, after the name (`must be a string`); never the value.
        message: String,
    },
    /// A wait did not reach its goal in time.
    #[error("timed out after {}s waiting for {what} (last seen: {last_seen})", elapsed.as_secs())]
    Timeout {
        /// What was awaited, e.g. `the API server to answer GET /api`.
        what: String,
        /// How long the wait lasted.
        elapsed: Duration,
        /// The last state observed (e.g. a status such as `CREATING`), possibly empty.
        last_seen: String,
    },
    /// The provider configuration is unusable (no credentials, unreadable kubeconfig).
    #[error("provider configuration: {0}")]
    Config(String),
    /// The resource type is not one this provider implements.
    #[error("unsupported resource type `{0}`")]
    UnsupportedType(String),
    /// Anything else, with a message fit for users.
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// A [`ProviderError::InvalidAttribute`]: `message` follows the attribute's name.
    pub fn invalid(attribute: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError::InvalidAttribute {
            attribute: attribute.into(),
            message: message.into(),
        }
    }

    /// A [`ProviderError::Transport`] for `error`. Its message is every distinct message
    /// of the chain, outermost first: `client error (Connect): invalid peer certificate:
    /// UnknownIssuer` rather than a bare `client error (Connect)` (issue 11).
    pub fn transport(
        operation: impl Into<String>,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        let source = error.into();
        ProviderError::Transport {
            operation: operation.into(),
            message: chain_message(source.as_ref()),
            source,
        }
    }

    /// The innermost cause's message, when the error has a cause.
    pub fn root_cause(&self) -> Option<String> {
        let mut cause = std::error::Error::source(self)?;
        while let Some(next) = cause.source() {
            cause = next;
        }
        Some(cause.to_string())
    }

    /// A [`ProviderError::Api`] for `operation`, with the API's code and message.
    pub fn api(
        operation: impl Into<String>,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ProviderError::Api {
            operation: operation.into(),
            code,
            message: message.into(),
        }
    }
}

/// The messages of `error` and its causes joined with `: `, leaving out a message already
/// contained in the one before it (many errors repeat their cause in their own message).
fn chain_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut last = message.clone();
    let mut cause = error.source();
    while let Some(next) = cause {
        let text = next.to_string();
        if !text.is_empty() && !last.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        last = text;
        cause = next.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Layer {
        message: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layer(message: &'static str, source: Option<Layer>) -> Layer {
        Layer {
            message,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn transport_errors_keep_the_chain_and_print_the_root_cause() {
        let cause = layer(
            "client error (Connect)",
            Some(layer(
                "tls handshake failed: invalid peer certificate: UnknownIssuer",
                Some(layer("invalid peer certificate: UnknownIssuer", None)),
            )),
        );
        let error = ProviderError::transport("kubernetes:discovery", cause);
        assert_eq!(
            error.to_string(),
            "kubernetes:discovery: client error (Connect): tls handshake failed: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(
            error.root_cause().as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        let mut depth = 0;
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            depth += 1;
            source = cause.source();
        }
        assert_eq!(depth, 3, "the whole chain is kept as sources");
        assert_eq!(ProviderError::Other("x".into()).root_cause(), None);
    }
}
