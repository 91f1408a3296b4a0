//! Maps SDK errors to [`ProviderError::Api`] with the API's own code and message.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_provider_core::ProviderError;

/// Converts any SDK operation error (an `SdkError<E, R>`) into a provider error naming
/// the operation, e.g. `eks:CreateNodegroup`. Transport failures carry no code; their
/// message is the full error chain.
pub(crate) fn api_error<E>(operation: &str, err: E) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_owned);
    let message = match err.message() {
        Some(message) => message.to_owned(),
        None => DisplayErrorContext(&err).to_string(),
    };
    ProviderError::api(operation, code, message)
}

/// The API error code of an SDK error, if the service sent one.
pub(crate) fn error_code<E: ProvideErrorMetadata>(err: &E) -> Option<&str> {
    err.code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::error::ErrorMetadata;

    #[test]
    fn api_error_keeps_code_and_message() {
        let meta = ErrorMetadata::builder()
            .code("ResourceInUseException")
            .message("Cluster has nodegroups attached")
            .build();
        let err = aws_sdk_eks::operation::delete_cluster::DeleteClusterError::generic(meta);
        let mapped = api_error("eks:DeleteCluster", err).to_string();
        assert_eq!(
            mapped,
            "eks:DeleteCluster: ResourceInUseException: Cluster has nodegroups attached"
        );
    }
}
