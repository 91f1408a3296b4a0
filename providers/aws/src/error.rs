//! Maps SDK errors to [`ProviderError::Api`] with the API's own code and message.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_provider_core::ProviderError;

/// Converts any SDK operation error (an `SdkError<E, R>`) into a provider error naming
/// the operation, e.g. `eks:CreateNodegroup`. An answer from the service keeps its code
/// and message; a failure with neither (connection, TLS, timeout, an unreadable answer)
/// keeps the SDK error as its source and its root cause in the message (issue 11).
pub(crate) fn api_error<E>(operation: &str, err: E) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    match (code, err.message().map(str::to_owned)) {
        (None, None) => ProviderError::transport(operation, err),
        (code, message) => ProviderError::api(
            operation,
            code,
            message.unwrap_or_else(|| DisplayErrorContext(&err).to_string()),
        ),
    }
}

/// A describe call's answer: `pick` the object from it, or `None` when AWS answered one
/// of the `not_found` codes; any other error is mapped by [`api_error`].
pub(crate) fn found<O, T, E>(
    operation: &str,
    not_found: &[&str],
    answer: Result<O, E>,
    pick: impl FnOnce(O) -> Option<T>,
) -> Result<Option<T>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match answer {
        Ok(out) => Ok(pick(out)),
        Err(e) if e.code().is_some_and(|code| not_found.contains(&code)) => Ok(None),
        Err(e) => Err(api_error(operation, e)),
    }
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

    /// Issue 11: a failure with no answer from the service keeps the SDK error as its
    /// source and names the root cause.
    #[test]
    fn transport_failures_keep_their_source_and_root_cause() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "tcp connect refused");
        let err: aws_sdk_eks::error::SdkError<
            aws_sdk_eks::operation::describe_cluster::DescribeClusterError,
            aws_smithy_runtime_api::http::Response,
        > = aws_sdk_eks::error::SdkError::dispatch_failure(
            aws_smithy_runtime_api::client::result::ConnectorError::io(Box::new(refused)),
        );
        let mapped = api_error("eks:DescribeCluster", err);
        assert!(
            matches!(mapped, ProviderError::Transport { .. }),
            "{mapped:?}"
        );
        let message = mapped.to_string();
        assert!(
            message.starts_with("eks:DescribeCluster: dispatch failure"),
            "{message}"
        );
        assert!(message.ends_with("tcp connect refused"), "{message}");
        assert_eq!(mapped.root_cause().as_deref(), Some("tcp connect refused"));
    }
}
