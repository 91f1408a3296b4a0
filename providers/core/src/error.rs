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
        code: Option<String>,
        message: String,
    },
    /// An attribute has a value the provider cannot use.
    #[error("attribute `{attribute}` {message}")]
    InvalidAttribute { attribute: String, message: String },
    /// A wait did not reach its goal in time.
    #[error("timed out after {}s waiting for {what} (last seen: {last_seen})", elapsed.as_secs())]
    Timeout {
        what: String,
        elapsed: Duration,
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
    pub fn invalid(attribute: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError::InvalidAttribute {
            attribute: attribute.into(),
            message: message.into(),
        }
    }

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
