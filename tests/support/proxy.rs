//! A fault-injecting HTTP proxy between cairn and moto (issue 11). cairn reaches it
//! through `AWS_ENDPOINT_URL`; it forwards each request to moto unless a [`Rules`] draw
//! says otherwise, and then it may:
//! - answer a throttling error in the protocol's own shape (EC2 query XML
//!   `RequestLimitExceeded`, IAM/RDS query XML `Throttling`, JSON `ThrottlingException`,
//!   REST-JSON `x-amzn-ErrorType: ThrottlingException`), without forwarding;
//! - answer a 500 or 503, without forwarding;
//! - close the connection without answering, without forwarding (a dropped connection);
//! - delay the request before forwarding it;
//! - forward a create, let moto act on it, and then close the connection instead of
//!   passing the answer on (a lost answer: the object exists, the caller does not know);
//! - answer a permanent error to the calls a [`Permanent`] rule matches.
//!
//! One request per connection (each answer says `Connection: close`), plain threads, and
//! a seeded random generator, so a failing run can be replayed with its seed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What to inject; probabilities are per request, each drawn independently in the order
/// permanent, dropped connection, throttle, server error, delay, lost answer.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub throttle: f64,
    pub server_error: f64,
    pub drop_connection: f64,
    /// Only for create calls (see [`is_create`]).
    pub lose_answer: f64,
    /// Milliseconds, drawn uniformly from the range for every forwarded request.
    pub delay_ms: Option<(u64, u64)>,
    pub permanent: Vec<Permanent>,
    pub seed: u64,
}

/// An error answered to every call of `operation` whose body contains `body_contains`.
#[derive(Clone, Debug)]
pub struct Permanent {
    pub operation: &'static str,
    pub body_contains: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
}

/// What the proxy did, for the tests to check the faults were really injected.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub forwarded: AtomicUsize,
    pub throttled: AtomicUsize,
    pub server_errors: AtomicUsize,
    pub dropped: AtomicUsize,
    pub lost_answers: AtomicUsize,
    pub permanent: AtomicUsize,
}

impl Stats {
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }

    pub fn summary(&self) -> String {
        format!(
            "{} requests: {} forwarded, {} throttled, {} server errors, {} dropped connections, {} lost answers, {} permanent errors",
            Stats::get(&self.requests),
            Stats::get(&self.forwarded),
            Stats::get(&self.throttled),
            Stats::get(&self.server_errors),
            Stats::get(&self.dropped),
            Stats::get(&self.lost_answers),
            Stats::get(&self.permanent),
        )
    }
}

/// A running proxy; dropping it stops accepting connections.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    pub stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    port: u16,
}

struct Shared {
    upstream: String,
    rules: Rules,
    rng: Mutex<StdRng>,
    stats: Arc<Stats>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:<port>`, moto's endpoint).
    pub fn start(upstream: &str, rules: Rules) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            upstream: upstream
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            rng: Mutex::new(StdRng::seed_from_u64(rules.seed)),
            rules,
            stats: Arc::clone(&stats),
        });
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || handle(&shared, client));
            }
        });
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            stats,
            stop,
            port,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// How a service speaks, which decides what its errors look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Ec2Query,
    Query,
    Json,
    RestJson,
}

/// One request as read from the client.
struct Request {
    head: String,
    body: Vec<u8>,
    protocol: Protocol,
    /// `CreateVpc`, `CreateSecret`, or `POST /clusters` for REST-JSON.
    operation: String,
}

/// Create calls: the ones whose lost answer could leave an object cairn does not know of.
pub fn is_create(operation: &str) -> bool {
    ["Create", "Allocate", "Run", "POST /clusters"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader)?
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    let content_type = header("content-type").unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let (protocol, operation) = if let Some(target) = header("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        (Protocol::Json, operation)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let field = |name: &str| {
            text.split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or_default()
                .to_owned()
        };
        let protocol = if field("Version") == "2016-11-15" {
            Protocol::Ec2Query
        } else {
            Protocol::Query
        };
        (protocol, field("Action"))
    } else {
        let mut words = head.split_whitespace();
        let method = words.next().unwrap_or_default();
        let path = words
            .next()
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default();
        (Protocol::RestJson, format!("{method} {path}"))
    };
    Some(Request {
        head,
        body,
        protocol,
        operation,
    })
}

/// A chunked body, kept as it was sent (sizes and all) so it can be forwarded unchanged.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        raw.extend_from_slice(size_line.as_bytes());
        let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        raw.extend_from_slice(&chunk);
        if size == 0 {
            return Some(raw);
        }
    }
}

fn handle(shared: &Shared, client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(reader_stream) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader_stream);
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let mut client = client;
    let body_text = String::from_utf8_lossy(&request.body);
    if let Some(rule) =
        shared.rules.permanent.iter().find(|rule| {
            rule.operation == request.operation && body_text.contains(rule.body_contains)
        })
    {
        stats.permanent.fetch_add(1, Ordering::Relaxed);
        let answer = error_answer(request.protocol, rule.status, rule.code, rule.message);
        let _ = client.write_all(&answer);
        return;
    }
    let (drop_it, throttle, server_error, delay, lose) = {
        let mut rng = shared
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rules = &shared.rules;
        (
            rng.random_bool(rules.drop_connection),
            rng.random_bool(rules.throttle),
            rng.random_bool(rules.server_error)
                .then(|| rng.random_bool(0.5)),
            rules
                .delay_ms
                .map(|(low, high)| rng.random_range(low..=high.max(low))),
            is_create(&request.operation) && rng.random_bool(rules.lose_answer),
        )
    };
    if drop_it {
        stats.dropped.fetch_add(1, Ordering::Relaxed);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    if throttle {
        stats.throttled.fetch_add(1, Ordering::Relaxed);
        let answer = match request.protocol {
            Protocol::Ec2Query => error_answer(
                request.protocol,
                503,
                "RequestLimitExceeded",
                "Request limit exceeded.",
            ),
            Protocol::Query => error_answer(request.protocol, 400, "Throttling", "Rate exceeded"),
            Protocol::Json | Protocol::RestJson => error_answer(
                request.protocol,
                if request.protocol == Protocol::Json {
                    400
                } else {
                    429
                },
                "ThrottlingException",
                "Rate exceeded",
            ),
        };
        let _ = client.write_all(&answer);
        return;
    }
    if let Some(unavailable) = server_error {
        stats.server_errors.fetch_add(1, Ordering::Relaxed);
        let answer = if unavailable {
            error_answer(request.protocol, 503, "ServiceUnavailable", "injected 503")
        } else {
            error_answer(request.protocol, 500, "InternalFailure", "injected 500")
        };
        let _ = client.write_all(&answer);
        return;
    }
    if let Some(ms) = delay {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let Some(answer) = forward(&shared.upstream, &request) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    stats.forwarded.fetch_add(1, Ordering::Relaxed);
    if lose {
        stats.lost_answers.fetch_add(1, Ordering::Relaxed);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let _ = client.write_all(&answer);
    let _ = client.flush();
}

/// Sends the request to moto on a fresh connection and returns its whole answer, with
/// `Connection: close` so the client does not reuse the connection.
fn forward(upstream: &str, request: &Request) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    server
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    let mut head: Vec<&str> = request
        .head
        .split("\r\n")
        .filter(|line| {
            !line.is_empty()
                && !line
                    .split(':')
                    .next()
                    .is_some_and(|k| k.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    head.push("Connection: close");
    let mut out = head.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&request.body);
    server.write_all(&out).ok()?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|line| {
            !line
                .split(':')
                .next()
                .is_some_and(|k| k.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    lines.push("Connection: close");
    let mut rewritten = lines.join("\r\n").into_bytes();
    rewritten.extend_from_slice(&answer[split..]);
    Some(rewritten)
}

/// An error answer in the protocol's shape, as the AWS SDK parses it.
fn error_answer(protocol: Protocol, status: u16, code: &str, message: &str) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let (content_type, extra, body) = match protocol {
        Protocol::Ec2Query => (
            "text/xml",
            String::new(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
            ),
        ),
        Protocol::Query => (
            "text/xml",
            String::new(),
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::Json => (
            "application/x-amz-json-1.1",
            String::new(),
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
        Protocol::RestJson => (
            "application/json",
            format!("x-amzn-ErrorType: {code}\r\n"),
            format!("{{\"message\":\"{message}\"}}"),
        ),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nx-amzn-RequestId: fault-proxy\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
