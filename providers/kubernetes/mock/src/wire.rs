//! HTTP/1.1 on a TCP connection, as much as API clients use: keep-alive requests with
//! `Content-Length` or chunked bodies; answers with `Content-Length`, or chunked when over
//! 2 KiB as Go's server does; watch streams as chunked lines until the watch ends or the
//! client hangs up. Written on tokio directly so the workspace's hyper keeps its features
//! (a server feature would rebuild everything that depends on hyper, the AWS SDK included).

use std::io;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::routes;
use crate::server::Shared;

/// Go's HTTP server buffers this much before it falls back to chunked encoding.
const CHUNK_THRESHOLD: usize = 2048;

/// Request heads and bodies larger than this are refused (the connection is closed).
const LIMIT: usize = 16 * 1024 * 1024;

/// One request as read from the wire.
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    close: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
pub enum Reply {
    Json {
        code: u16,
        body: String,
    },
    /// A watch: newline-delimited events until the sender goes away.
    Watch(mpsc::UnboundedReceiver<Bytes>),
}

/// Serves one connection until the client closes it, a watch ends, or `stop` turns true.
pub async fn serve_connection(stream: TcpStream, shared: Shared, mut stop: watch::Receiver<bool>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let request = tokio::select! {
            request = read_request(&mut reader) => request,
            _ = stop.changed() => return,
        };
        let Ok(Some(request)) = request else {
            return;
        };
        let close = request.close;
        let written = match routes::handle(&shared, &request) {
            Reply::Json { code, body } => write_json(&mut write, code, body, close).await,
            Reply::Watch(events) => {
                let _ = stream_events(&mut reader, &mut write, events).await;
                return;
            }
        };
        if written.is_err() || close {
            return;
        }
    }
}

async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> io::Result<Option<Request>> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), version) = (parts.next(), parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut close = version == Some("HTTP/1.0");
    let mut headers = Vec::new();
    let mut size = line.len();
    loop {
        line.clear();
        size += reader.read_line(&mut line).await?;
        if size > LIMIT {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
        close,
    };
    if request
        .header("connection")
        .is_some_and(|c| c.eq_ignore_ascii_case("close"))
    {
        close = true;
    }
    request.close = close;
    if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(reader).await?;
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
        if length > LIMIT {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        request.body = body;
    }
    Ok(Some(request))
}

async fn read_chunked<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > LIMIT {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        line.clear();
        reader.read_line(&mut line).await?;
    }
}

fn head(code: u16, length: Option<usize>, close: bool) -> String {
    let reason = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    let framing = match length {
        Some(length) => format!("Content-Length: {length}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".to_owned(),
    };
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nDate: {date}\r\n{framing}{connection}\r\n"
    )
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

async fn write_json<W: AsyncWrite + Unpin>(
    write: &mut W,
    code: u16,
    body: String,
    close: bool,
) -> io::Result<()> {
    let mut out;
    if body.len() > CHUNK_THRESHOLD {
        out = head(code, None, close).into_bytes();
        out.extend(chunk(body.as_bytes()));
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out = head(code, Some(body.len()), close).into_bytes();
        out.extend_from_slice(body.as_bytes());
    }
    write.write_all(&out).await?;
    write.flush().await
}

/// Streams watch events until the watch ends (then the stream is closed properly) or the
/// client hangs up.
async fn stream_events<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    reader: &mut BufReader<R>,
    write: &mut W,
    mut events: mpsc::UnboundedReceiver<Bytes>,
) -> io::Result<()> {
    write.write_all(head(200, None, true).as_bytes()).await?;
    write.flush().await?;
    let mut probe = [0u8; 1];
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(line) => {
                    write.write_all(&chunk(&line)).await?;
                    write.flush().await?;
                }
                None => {
                    write.write_all(b"0\r\n\r\n").await?;
                    return write.flush().await;
                }
            },
            read = reader.read(&mut probe) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return Ok(());
                }
            }
        }
    }
}
