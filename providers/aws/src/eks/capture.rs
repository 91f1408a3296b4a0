//! Test support: SDK clients whose HTTP client records every request and answers from a
//! script, for tests that play real AWS's answers (which the moto server cannot: it
//! answers ACTIVE at once and is never eventually consistent) and for request-shape
//! tests of the APIs moto does not implement. Built on `aws-smithy-runtime-api`'s
//! connector traits rather than `aws-smithy-http-client`'s `test-util` feature, which
//! would rebuild every SDK crate.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use cairn_provider_core::{Attrs, CreateRequest, Progress, ResourceIdentity};

use crate::clients::AwsClients;

/// A client of the SDK crate `$sdk` (e.g. `aws_sdk_eks`) sending through `$capture`,
/// without retries so that each call is exactly one request, or with the SDK's standard
/// retries (`$retry`, a `RetryConfig`).
macro_rules! captured_client {
    ($sdk:ident, $capture:expr) => {
        captured_client!($sdk, $capture, $sdk::config::retry::RetryConfig::disabled())
    };
    ($sdk:ident, $capture:expr, $retry:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKID", "SECRET", None, None, "test",
            ))
            .retry_config($retry)
            .http_client($capture.clone())
            .build();
        $sdk::Client::from_conf(config)
    }};
}
pub(crate) use captured_client;

/// One scripted answer: an HTTP status and a body; status [`NO_ANSWER`] stands for a
/// connection lost before the answer came.
pub(crate) type Answer = (u16, String);

pub(crate) const NO_ANSWER: u16 = 0;

/// Records requests; answers them with the scripted answers in order. A request beyond
/// the script gets status 599, which fails the call and so the test.
#[derive(Clone, Debug)]
pub(crate) struct Capture {
    requests: Arc<Mutex<Vec<HttpRequest>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Capture {
    pub fn answering(status: u16, body: &str) -> Self {
        Capture::script([(status, body.to_owned())])
    }

    pub fn script(answers: impl IntoIterator<Item = Answer>) -> Self {
        Capture {
            requests: Arc::default(),
            script: Arc::new(Mutex::new(answers.into_iter().collect())),
        }
    }

    /// The one request sent; fails the test if there were none or several.
    pub fn only_request(&self) -> HttpRequest {
        let mut requests = self.requests.lock().expect("capture lock");
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.remove(0)
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests
            .lock()
            .expect("capture lock")
            .iter()
            .map(|r| r.try_clone().expect("buffered request"))
            .collect()
    }

    /// What each request asked for, in order: `METHOD /path` for REST APIs (EKS), the
    /// `Action` for query APIs (IAM, RDS, EC2).
    pub fn calls(&self) -> Vec<String> {
        self.requests().iter().map(call_name).collect()
    }

    /// How many scripted answers were not used.
    pub fn unused(&self) -> usize {
        self.script.lock().expect("capture lock").len()
    }

    /// SDK clients for every service, all sending through this capture.
    pub fn clients(&self) -> AwsClients {
        AwsClients {
            ec2: captured_client!(aws_sdk_ec2, self),
            iam: captured_client!(aws_sdk_iam, self),
            eks: captured_client!(aws_sdk_eks, self),
            rds: captured_client!(aws_sdk_rds, self),
            secrets: captured_client!(aws_sdk_secretsmanager, self),
            kms: captured_client!(aws_sdk_kms, self),
            s3: captured_client!(aws_sdk_s3, self),
            sts: captured_client!(aws_sdk_sts, self),
            elbv2: captured_client!(aws_sdk_elasticloadbalancingv2, self),
            elb: captured_client!(aws_sdk_elasticloadbalancing, self),
            region: "us-east-1".to_owned(),
            default_tags: Default::default(),
        }
    }
}

fn call_name(request: &HttpRequest) -> String {
    let text = body(request);
    match text
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
    {
        Some(action) => action.to_owned(),
        None => {
            let uri = request.uri();
            let path = uri.split_once("://").map_or(uri, |(_, rest)| {
                rest.find('/').map_or("/", |at| &rest[at..])
            });
            let path = path.split('?').next().unwrap_or(path);
            format!("{} {path}", request.method())
        }
    }
}

impl HttpConnector for Capture {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.requests.lock().expect("capture lock").push(request);
        let (status, body) = self
            .script
            .lock()
            .expect("capture lock")
            .pop_front()
            .unwrap_or((599, "unscripted request".to_owned()));
        if status == NO_ANSWER {
            let reset =
                std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
            return HttpConnectorFuture::ready(Err(ConnectorError::io(Box::new(reset))));
        }
        let status = StatusCode::try_from(status).expect("valid status");
        HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(body))))
    }
}

impl HttpClient for Capture {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A request's body as text.
pub(crate) fn body(request: &HttpRequest) -> String {
    String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned()
}

/// An error answer of a JSON API (EKS): status 400 with AWS's code and message.
pub(crate) fn json_error(code: &str, message: &str) -> Answer {
    (
        400,
        serde_json::json!({ "__type": code, "message": message }).to_string(),
    )
}

/// An error answer of a query API (IAM, RDS).
pub(crate) fn query_error(status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        ),
    )
}

/// An error answer of EC2.
pub(crate) fn ec2_error(code: &str, message: &str) -> Answer {
    (
        400,
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>\
             </Error></Errors><RequestID>r-1</RequestID></Response>"
        ),
    )
}

/// The create of a resource of `type_name` that the engine sends: `config` for
/// `identity`, within `timeout`, progress discarded.
pub(crate) fn create_request<'a>(
    type_name: &'a str,
    identity: &'a ResourceIdentity,
    config: &'a Attrs,
    timeout: Duration,
) -> CreateRequest<'a> {
    CreateRequest {
        type_name,
        identity,
        config,
        timeout,
        progress: Progress::noop(),
    }
}
