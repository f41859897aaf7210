//! What `wrap` reads from a client or a wrapped server, reachable from the property tests
//! (`tool-server/tests/properties.rs`) and the fuzz targets (`fuzz/`). Not an API: each function
//! only forwards to the code `wrap` runs, except [`sse_data`], the reference reader its SSE
//! output is checked against.

use axum::body::Bytes;
use serde_json::Value;

use super::jsonrpc::{self, Kind};
use super::lines::{Line, LineReader};
use super::replay::Outgoing;
use super::session::PostAnswer;
use super::transport;
use crate::http::Refusal;

/// One line of a wrapped server's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitLine {
    /// A line within the limit, without its `\n` (or `\r\n`).
    Text(Vec<u8>),
    /// A line over the limit, skipped; how many bytes it had.
    TooLong(usize),
}

/// `input` split as the wrapper splits a child's stdout: lines of at most `max` bytes, read
/// through a buffer of `capacity` bytes (at least one).
pub fn split_lines(input: &[u8], max: usize, capacity: usize) -> Vec<SplitLine> {
    let reader = tokio::io::BufReader::with_capacity(capacity.max(1), input);
    let mut lines = LineReader::new(reader, max);
    let mut out = Vec::new();
    // A byte slice never waits, so no runtime is needed to drive the reader.
    futures::executor::block_on(async {
        while let Ok(Some(line)) = lines.next_line().await {
            out.push(match line {
                Line::Text(text) => SplitLine::Text(text),
                Line::TooLong(bytes) => SplitLine::TooLong(bytes),
            });
        }
    });
    out
}

/// What a JSON-RPC message is, as the wrapper routes it.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageKind {
    Request { id: Value, method: String },
    Notification { method: String },
    Response { id: Value },
    Invalid,
}

/// Classifies one message.
pub fn classify(message: &Value) -> MessageKind {
    match jsonrpc::kind(message) {
        Kind::Request { id, method } => MessageKind::Request {
            id: id.clone(),
            method: method.to_owned(),
        },
        Kind::Notification { method } => MessageKind::Notification {
            method: method.to_owned(),
        },
        Kind::Response { id } => MessageKind::Response { id: id.clone() },
        Kind::Invalid => MessageKind::Invalid,
    }
}

/// A client's POST body: one message or a batch, each checked.
pub fn parse_post_body(body: &[u8]) -> Result<Vec<Value>, Refusal> {
    transport::parse_body(&Bytes::copy_from_slice(body))
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// The SSE body `wrap` sends for these messages.
pub fn sse_body(messages: Vec<Value>) -> Vec<u8> {
    let first = messages
        .into_iter()
        .enumerate()
        .map(|(n, message)| Outgoing {
            id: format!("00000000.1.{}", n + 1),
            message,
        })
        .collect();
    let answer = PostAnswer {
        prime: None,
        first,
        rest: None,
    };
    // The keep-alive timer needs a runtime from the moment the response is built.
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let response = transport::sse(answer, None, false);
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map(|body| body.to_vec())
                .unwrap_or_default()
        })
    })
}

/// The `data` of each event in an SSE stream, read as the WHATWG HTML standard's event-stream
/// interpretation reads it (lines end in CRLF, LF or CR; comments and other fields are
/// skipped; several `data` lines join with `\n`; an unfinished event at the end is dropped).
pub fn sse_data(stream: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stream);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut events = Vec::new();
    let mut data = String::new();
    let mut has_data = false;
    let mut rest = text;
    loop {
        let Some(end) = rest.find(['\r', '\n']) else {
            // An unterminated last line, and any event it belonged to, are dropped.
            return events;
        };
        let line = &rest[..end];
        let terminator = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + terminator..];
        if line.is_empty() {
            if has_data {
                events.push(std::mem::take(&mut data));
            }
            data.clear();
            has_data = false;
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        if field == "data" {
            if has_data {
                data.push('\n');
            }
            data.push_str(value);
            has_data = true;
        }
    }
}
