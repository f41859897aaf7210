//! A request body that cannot be read, and the answer a client gets for it.
//!
//! Once a request's header is read, its body can still fail: broken chunked encoding, a body
//! that ends before its declared end, or one that does not arrive within the body deadline
//! (`deadlines`). The client is still there to read an answer, so it gets one (400 or 408,
//! in the error format of the endpoint: OAuth's for our endpoints, JSON-RPC's for `/mcp`)
//! instead of a silently closed connection; then the connection is closed, since where the
//! next request would begin is unknown.

use std::time::Duration;

use http::StatusCode;
use pingora::{Error, ErrorSource, ErrorType};

use crate::web::WebResponse;

/// pingora's error for broken chunked encoding (its constant is crate-private).
const INVALID_CHUNK: ErrorType = ErrorType::new("InvalidChunk");
/// pingora's error for a chunked body whose trailers do not end properly.
const INVALID_TRAILER_END: ErrorType = ErrorType::new("InvalidTrailerEnd");

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    /// Its chunked encoding is broken (a chunk size that is not hex, a chunk longer than its
    /// size, bad trailers).
    Malformed,
    /// The client stopped sending (closed its side) before the body's end.
    EndedEarly,
    /// The whole body did not arrive within the deadline.
    TooSlow(Duration),
}

impl BodyFailure {
    /// The failure pingora's `error` (reading a body) stands for; `None` for anything else.
    /// `deadline` is the body deadline, which a read timeout means was missed.
    pub fn of(error: &Error, deadline: Duration) -> Option<Self> {
        if error.esource() == &ErrorSource::Upstream {
            return None;
        }
        match error.etype() {
            t if *t == INVALID_CHUNK || *t == INVALID_TRAILER_END => Some(Self::Malformed),
            ErrorType::ReadTimedout | ErrorType::HTTPStatus(408) => Some(Self::TooSlow(deadline)),
            ErrorType::ConnectionClosed | ErrorType::ReadError => Some(Self::EndedEarly),
            _ => None,
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::Malformed | Self::EndedEarly => StatusCode::BAD_REQUEST,
            Self::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// What went wrong, for the client.
    pub fn describe(self) -> String {
        match self {
            Self::Malformed => "the request body's chunked encoding is invalid".to_owned(),
            Self::EndedEarly => "the request body ended before its declared end".to_owned(),
            Self::TooSlow(deadline) => format!(
                "the request body did not arrive within {} s",
                deadline.as_secs()
            ),
        }
    }

    /// The answer of one of our OAuth endpoints (RFC 6749's error format).
    pub fn oauth_answer(self) -> WebResponse {
        WebResponse::json(
            self.status(),
            &serde_json::json!({"error": "invalid_request", "error_description": self.describe()}),
        )
    }

    /// The answer of `/mcp`: a JSON-RPC "Invalid Request" error, which MCP clients show.
    pub fn jsonrpc_answer(self) -> WebResponse {
        WebResponse::jsonrpc_error(
            self.status(),
            -32600,
            &format!("Invalid request: {}", self.describe()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(30);

    #[test]
    fn pingora_errors_map_to_failures_and_answers() {
        let of = |etype: ErrorType| BodyFailure::of(&Error::new(etype), DEADLINE);
        assert_eq!(of(INVALID_CHUNK), Some(BodyFailure::Malformed));
        assert_eq!(of(INVALID_TRAILER_END), Some(BodyFailure::Malformed));
        assert_eq!(
            of(ErrorType::ConnectionClosed),
            Some(BodyFailure::EndedEarly)
        );
        assert_eq!(
            of(ErrorType::ReadTimedout),
            Some(BodyFailure::TooSlow(DEADLINE))
        );
        assert_eq!(
            of(ErrorType::HTTPStatus(408)),
            Some(BodyFailure::TooSlow(DEADLINE))
        );
        assert_eq!(of(ErrorType::ConnectTimedout), None);
        assert_eq!(of(ErrorType::HTTPStatus(413)), None);
        // The tool server closing its connection is not the client's body ending.
        let upstream = Error::new_up(ErrorType::ConnectionClosed);
        assert_eq!(BodyFailure::of(&upstream, DEADLINE), None);

        let oauth = BodyFailure::Malformed.oauth_answer();
        assert_eq!(oauth.status, StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(&oauth.body).unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("chunked")
        );

        let rpc = BodyFailure::TooSlow(DEADLINE).jsonrpc_answer();
        assert_eq!(rpc.status, StatusCode::REQUEST_TIMEOUT);
        let body: serde_json::Value = serde_json::from_slice(&rpc.body).unwrap();
        assert_eq!(body["error"]["code"], -32600);
        assert!(body["error"]["message"].as_str().unwrap().contains("30 s"));
    }
}
