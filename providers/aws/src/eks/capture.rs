//! Test support: SDK clients whose HTTP client records every request and answers with a
//! canned response, for request-shape tests of the APIs the moto server does not
//! implement. Built on `aws-smithy-runtime-api`'s connector traits rather than
//! `aws-smithy-http-client`'s `test-util` feature, which would rebuild every SDK crate.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// Records requests; answers each with `status` and `body`.
#[derive(Clone, Debug)]
pub(crate) struct Capture {
    requests: Arc<Mutex<Vec<HttpRequest>>>,
    status: u16,
    body: &'static str,
}

impl Capture {
    pub fn answering(status: u16, body: &'static str) -> Self {
        Capture {
            requests: Arc::default(),
            status,
            body,
        }
    }

    /// The one request sent; fails the test if there were none or several.
    pub fn only_request(&self) -> HttpRequest {
        let mut requests = self.requests.lock().expect("capture lock");
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.remove(0)
    }
}

impl HttpConnector for Capture {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.requests.lock().expect("capture lock").push(request);
        let status = StatusCode::try_from(self.status).expect("valid status");
        HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(self.body))))
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

/// A client of the SDK crate `$sdk` (e.g. `aws_sdk_eks`) sending through `$capture`,
/// without retries so that each call is exactly one request.
macro_rules! captured_client {
    ($sdk:ident, $capture:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKID", "SECRET", None, None, "test",
            ))
            .retry_config($sdk::config::retry::RetryConfig::disabled())
            .http_client($capture.clone())
            .build();
        $sdk::Client::from_conf(config)
    }};
}
pub(crate) use captured_client;

/// A request's body as text.
pub(crate) fn body(request: &HttpRequest) -> String {
    String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned()
}
