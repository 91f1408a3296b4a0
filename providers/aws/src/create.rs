//! The one call that makes an AWS object, sent so that a lost answer never makes two
//! (issue 11).
//!
//! A create whose request reached AWS but whose answer was lost (a dropped connection, a
//! timeout, an unreadable answer) may or may not have made the object. The SDK would send
//! it again, and every API without a client token would then make a second object, the
//! first one an orphan. So a create call is sent with [`NoRetryWithoutAnswer`] (the SDK
//! still retries throttling and server errors: AWS answered that it did not do it), and
//! [`create_once`] handles a lost answer itself: it looks for the object by what
//! identifies it (the `cairn:*` tags, or the name) and carries on with it; if it is not
//! there, a call with a client token is sent again with the same token (AWS then returns
//! the first object, if any), and any other call fails with an error that says a re-run
//! finishes the job (the engine keeps the create's intent, and the next run adopts the
//! object if AWS made it).

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_provider_core::{Progress, ProviderError};
use rand::Rng;

use crate::error::api_error;
use crate::wait::{Backoff, clock, deadline};

/// Forbids the SDK to send a request again when no answer came back (connection lost,
/// timeout, unreadable answer): the first one may have been processed. Runs after the
/// SDK's own classifiers, so throttling and 5xx answers are still retried.
#[derive(Debug)]
pub(crate) struct NoRetryWithoutAnswer;

impl ClassifyRetry for NoRetryWithoutAnswer {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(error))
                if error.is_response_error()
                    || error.is_timeout_error()
                    || error.as_connector_error().is_some() =>
            {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "cairn: no retry of a create without an answer"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Per-call configuration for create calls (`.customize().config_override(once::ec2())`):
/// [`NoRetryWithoutAnswer`] added to the client's classifiers.
pub(crate) mod once {
    use super::NoRetryWithoutAnswer;

    pub(crate) fn ec2() -> aws_sdk_ec2::config::Builder {
        aws_sdk_ec2::config::Builder::default().retry_classifier(NoRetryWithoutAnswer)
    }

    pub(crate) fn iam() -> aws_sdk_iam::config::Builder {
        aws_sdk_iam::config::Builder::default().retry_classifier(NoRetryWithoutAnswer)
    }

    pub(crate) fn eks() -> aws_sdk_eks::config::Builder {
        aws_sdk_eks::config::Builder::default().retry_classifier(NoRetryWithoutAnswer)
    }

    pub(crate) fn rds() -> aws_sdk_rds::config::Builder {
        aws_sdk_rds::config::Builder::default().retry_classifier(NoRetryWithoutAnswer)
    }

    pub(crate) fn secrets() -> aws_sdk_secretsmanager::config::Builder {
        aws_sdk_secretsmanager::config::Builder::default().retry_classifier(NoRetryWithoutAnswer)
    }

    pub(crate) fn kms() -> aws_sdk_kms::config::Builder {
        aws_sdk_kms::config::Builder::default().retry_classifier(NoRetryWithoutAnswer)
    }

    pub(crate) fn s3() -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::default().retry_classifier(NoRetryWithoutAnswer)
    }
}

/// A client token for one create (a random UUID, the form every AWS API accepts): the
/// same token sent again makes AWS return the first call's object instead of a second.
pub(crate) fn client_token() -> String {
    let bits: u128 = rand::rng().random();
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// What a create call gave.
pub(crate) enum Made<O> {
    /// AWS answered.
    Answered(O),
    /// The answer was lost; the object was found, this is its id.
    Found(String),
}

/// How to send one create call.
pub(crate) struct CreateCall<'a> {
    /// The API operation, e.g. `ec2:CreateVpc`.
    pub operation: &'a str,
    /// What is made, for messages: `VPC 10.0.0.0/16`.
    pub what: &'a str,
    /// The call carries a client token (see [`client_token`]): after a lost answer and no
    /// object found, it is sent again.
    pub token: bool,
    /// How long a refusal `create_once`'s `refused_for_now` accepts is retried (an IAM
    /// role EKS cannot assume yet); zero when there is none.
    pub retry_for: Duration,
    pub progress: &'a Progress,
}

impl<'a> CreateCall<'a> {
    /// A call without a client token and without refusals to retry.
    pub(crate) fn new(operation: &'a str, what: &'a str, progress: &'a Progress) -> Self {
        CreateCall {
            operation,
            what,
            token: false,
            retry_for: Duration::ZERO,
            progress,
        }
    }

    /// The call carries a client token.
    pub(crate) fn with_token(self) -> Self {
        CreateCall {
            token: true,
            ..self
        }
    }

    /// Refusals `refused_for_now` accepts are retried for `duration`.
    pub(crate) fn retrying_for(self, duration: Duration) -> Self {
        CreateCall {
            retry_for: duration,
            ..self
        }
    }
}

/// The id a create ended with: from AWS's answer (`id_of`), or the one found after a
/// lost answer.
pub(crate) fn created_id<O>(
    made: Made<O>,
    id_of: impl FnOnce(&O) -> Option<&str>,
    operation: &str,
) -> Result<String, ProviderError> {
    match made {
        Made::Answered(out) => id_of(&out)
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::Other(format!("{operation} returned no id"))),
        Made::Found(id) => Ok(id),
    }
}

/// How often a lost answer's object is looked for, and for how long: a just-made object
/// may take a few seconds to show in describe calls and tag filters.
const LOOKUP: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(4),
};
const LOOKUP_GRACE: Duration = Duration::from_secs(10);
/// Sends of a call with a client token, in all.
const MAX_SENDS: u32 = 3;
/// Between retries of a refusal that passes by itself.
const REFUSAL: Backoff = Backoff {
    initial: Duration::from_secs(5),
    max: Duration::from_secs(15),
};

/// True when the request may have reached AWS but no answer came back.
pub(crate) fn answer_lost<E, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    )
}

/// Sends a create call (built with [`once`]) and survives a lost answer, as the module
/// docs say. `lookup` finds the object by its identity and returns its id if it exists
/// and is usable (a failed or deleting object is not adopted). `refused_for_now` names
/// refusals retried for [`CreateCall::retry_for`].
pub(crate) async fn create_once<O, E, F, Fut, L, LFut, P>(
    call: CreateCall<'_>,
    refused_for_now: P,
    mut send: F,
    mut lookup: L,
) -> Result<Made<O>, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    L: FnMut() -> LFut,
    LFut: Future<Output = Result<Option<String>, ProviderError>>,
    P: Fn(&E) -> bool,
{
    let refusals_until = deadline(call.retry_for);
    let mut interval = REFUSAL.initial;
    let mut sends = 0;
    loop {
        sends += 1;
        let err = match send().await {
            Ok(out) => return Ok(Made::Answered(out)),
            Err(err) => err,
        };
        if answer_lost(&err) {
            let lost = api_error(call.operation, err);
            call.progress.report(format!(
                "{}: no answer to {}; looking for the object",
                call.what, call.operation
            ));
            // With a token, sending again is safe: one look is enough.
            let grace = if call.token {
                Duration::ZERO
            } else {
                LOOKUP_GRACE
            };
            if let Some(id) = look_for(&mut lookup, grace).await? {
                return Ok(Made::Found(id));
            }
            if call.token && sends < MAX_SENDS {
                continue;
            }
            return Err(unresolved(lost, call.what));
        }
        let refused = err.as_service_error().is_some_and(&refused_for_now);
        if refused && clock::now() < refusals_until {
            call.progress.report(format!(
                "{}: {}: {}",
                call.what,
                err.code().unwrap_or("refused"),
                err.message().unwrap_or_default()
            ));
            clock::sleep(interval).await;
            interval = (interval + interval / 2).min(REFUSAL.max);
            continue;
        }
        return Err(api_error(call.operation, err));
    }
}

/// Calls `lookup` until it finds the object or `grace` has passed (at least once).
async fn look_for<L, LFut>(lookup: &mut L, grace: Duration) -> Result<Option<String>, ProviderError>
where
    L: FnMut() -> LFut,
    LFut: Future<Output = Result<Option<String>, ProviderError>>,
{
    let until = deadline(grace);
    let mut interval = LOOKUP.initial;
    loop {
        if let Some(id) = lookup().await? {
            return Ok(Some(id));
        }
        if clock::now() >= until {
            return Ok(None);
        }
        clock::sleep(interval).await;
        interval = (interval + interval / 2).min(LOOKUP.max);
    }
}

/// The error of a create whose answer was lost and whose object was not found: the
/// transport error, with what the user should do.
fn unresolved(lost: ProviderError, what: &str) -> ProviderError {
    match lost {
        ProviderError::Transport {
            operation,
            message,
            source,
        } => ProviderError::Transport {
            operation,
            message: format!(
                "{message}; no answer came back and no {what} made by this resource was found: \
                 run apply again (it adopts the object if AWS made it)"
            ),
            source,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::create_vpc::CreateVpcError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::error::ErrorMetadata;
    use std::cell::Cell;

    type Answer = Result<&'static str, SdkError<CreateVpcError, HttpResponse>>;

    fn lost() -> SdkError<CreateVpcError, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        ))))
    }

    fn refused(code: &str) -> SdkError<CreateVpcError, HttpResponse> {
        SdkError::service_error(
            CreateVpcError::generic(ErrorMetadata::builder().code(code).message("no").build()),
            HttpResponse::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).expect("a status"),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        )
    }

    fn call(token: bool) -> CreateCall<'static> {
        let call = CreateCall::new(
            "ec2:CreateVpc",
            "VPC",
            Box::leak(Box::new(Progress::noop())),
        );
        if token { call.with_token() } else { call }
    }

    async fn run(
        token: bool,
        answers: Vec<Answer>,
        found_after: Option<usize>,
    ) -> (Result<Made<&'static str>, ProviderError>, usize, usize) {
        let answers = std::sync::Mutex::new(answers.into_iter());
        let sends = Cell::new(0);
        let lookups = Cell::new(0);
        let result = create_once(
            call(token),
            |_: &CreateVpcError| false,
            || {
                sends.set(sends.get() + 1);
                let next = answers
                    .lock()
                    .ok()
                    .and_then(|mut a| a.next())
                    .unwrap_or(Ok("vpc-late"));
                std::future::ready(next)
            },
            || {
                lookups.set(lookups.get() + 1);
                let found = found_after.is_some_and(|n| lookups.get() > n);
                std::future::ready(Ok(found.then(|| "vpc-found".to_owned())))
            },
        )
        .await;
        (result, sends.get(), lookups.get())
    }

    #[tokio::test]
    async fn an_answered_create_is_sent_once_and_not_looked_for() {
        let (result, sends, lookups) = run(false, vec![Ok("vpc-1")], None).await;
        assert!(matches!(result, Ok(Made::Answered("vpc-1"))));
        assert_eq!((sends, lookups), (1, 0));
    }

    #[tokio::test]
    async fn a_lost_answer_adopts_the_object_found_by_identity() {
        let (result, sends, lookups) = run(false, vec![Err(lost())], Some(2)).await;
        assert!(matches!(result, Ok(Made::Found(ref id)) if id == "vpc-found"));
        assert_eq!(sends, 1, "never sent again");
        assert_eq!(lookups, 3, "looked again until it showed");
    }

    #[tokio::test]
    async fn without_a_token_a_lost_answer_and_no_object_fails_and_says_to_rerun() {
        let (result, sends, lookups) = run(false, vec![Err(lost()), Ok("vpc-2")], None).await;
        let err = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("run apply again"), "{err}");
        assert!(err.starts_with("ec2:CreateVpc: "), "{err}");
        assert_eq!(sends, 1, "a create without a token is never sent twice");
        assert!(lookups > 1, "looked through the grace: {lookups}");
    }

    #[tokio::test]
    async fn with_a_token_a_lost_answer_and_no_object_is_sent_again() {
        let (result, sends, lookups) = run(true, vec![Err(lost()), Ok("vpc-3")], None).await;
        assert!(matches!(result, Ok(Made::Answered("vpc-3"))));
        assert_eq!((sends, lookups), (2, 1));
        let (result, sends, _) = run(
            true,
            vec![Err(lost()), Err(lost()), Err(lost()), Err(lost())],
            None,
        )
        .await;
        assert!(result.is_err());
        assert_eq!(sends, MAX_SENDS as usize);
    }

    #[tokio::test]
    async fn other_refusals_fail_at_once_with_the_api_code() {
        let (result, sends, lookups) =
            run(true, vec![Err(refused("VpcLimitExceeded"))], None).await;
        let err = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(err, "ec2:CreateVpc: VpcLimitExceeded: no");
        assert_eq!((sends, lookups), (1, 0));
    }

    /// The SDK retries a read that got no answer, never a create (with its per-call
    /// configuration), and still retries a create that was throttled.
    #[tokio::test]
    async fn the_sdk_sends_a_create_again_only_when_aws_answered_no() {
        use crate::eks::capture::{Capture, NO_ANSWER, captured_client, ec2_error};
        let retries = aws_sdk_ec2::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1));
        let capture = Capture::script([(NO_ANSWER, String::new()), (NO_ANSWER, String::new())]);
        let ec2 = captured_client!(aws_sdk_ec2, capture, retries.clone());
        let read = ec2.describe_vpcs().send().await;
        assert!(read.is_err());
        assert_eq!(
            capture.calls(),
            ["DescribeVpcs", "DescribeVpcs", "DescribeVpcs"]
        );

        let capture = Capture::script([(NO_ANSWER, String::new()), (NO_ANSWER, String::new())]);
        let ec2 = captured_client!(aws_sdk_ec2, capture, retries.clone());
        let created = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .customize()
            .config_override(once::ec2())
            .send()
            .await;
        assert!(created.as_ref().is_err_and(answer_lost), "{created:?}");
        assert_eq!(capture.calls(), ["CreateVpc"]);

        let mut throttled = ec2_error("RequestLimitExceeded", "Request limit exceeded.");
        throttled.0 = 503;
        let capture = Capture::script([throttled, (NO_ANSWER, String::new())]);
        let ec2 = captured_client!(aws_sdk_ec2, capture, retries);
        let created = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .customize()
            .config_override(once::ec2())
            .send()
            .await;
        assert!(created.as_ref().is_err_and(answer_lost), "{created:?}");
        assert_eq!(capture.calls(), ["CreateVpc", "CreateVpc"]);
    }

    #[test]
    fn client_tokens_are_uuids_and_differ() {
        let (a, b) = (client_token(), client_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
