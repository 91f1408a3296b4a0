//! A bare HTTP/1.1 client for the tests: requests go over the wire exactly as given.
// Each test binary uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use cairn_kube_mock::MockServer;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub fn address(server: &MockServer) -> SocketAddr {
    server
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("loopback address")
}

/// Sends one request on a new connection; `uri` is the path and query.
pub async fn send(
    address: SocketAddr,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Option<&Value>,
) -> hyper::Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", address.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    sender
        .send_request(request.body(Full::new(body)).expect("request"))
        .await
        .expect("answered")
}

/// Sends a request and reads the whole JSON answer.
pub async fn call(
    server: &MockServer,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let response = send(address(server), method, uri, content_type, body).await;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Server-side apply as cairn sends it.
pub async fn apply(
    server: &MockServer,
    path: &str,
    manager: &str,
    force: bool,
    body: &Value,
) -> (u16, Value) {
    let force = if force { "&force=true" } else { "" };
    call(
        server,
        "PATCH",
        &format!("{path}?&fieldManager={manager}{force}"),
        Some("application/apply-patch+yaml"),
        Some(body),
    )
    .await
}
