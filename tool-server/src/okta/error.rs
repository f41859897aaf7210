//! What can go wrong talking to Okta, in words a model can act on.

use std::time::Duration;

use okta_mcp_common::okta_auth::{AuthError, missing_scope_message, token_request_message};
use serde_json::{Value, json};

/// A failed Okta request, after the client's retries.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    /// Okta answered with an error status (its error body, when it sent one).
    #[error("{}", api_message(error_code.as_deref(), *status, error_summary, error_causes))]
    Api {
        /// HTTP status.
        status: u16,
        /// Okta's `errorCode`, e.g. `E0000007`.
        error_code: Option<String>,
        /// Okta's `errorSummary`, or the HTTP reason when the body was not Okta's.
        error_summary: String,
        /// The `errorSummary` of each of Okta's `errorCauses`.
        error_causes: Vec<String>,
        /// Okta's `errorId`, which Okta support can look up.
        error_id: Option<String>,
    },
    /// Still HTTP 429 after every retry.
    #[error(
        "Okta rate limit exceeded{}: {error_summary} (gave up after {retries} retries; the limit resets in about {} s, try again then)",
        error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
        reset_in.as_secs()
    )]
    RateLimited {
        /// Okta's `errorCode` (normally `E0000047`).
        error_code: Option<String>,
        /// Okta's `errorSummary`.
        error_summary: String,
        /// How many times the request was retried.
        retries: u32,
        /// Time until `X-Rate-Limit-Reset`, by Okta's clock.
        reset_in: Duration,
    },
    /// No answer within the request timeout.
    #[error("Okta did not answer within {} s", after.as_secs())]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// The request never got an HTTP answer (DNS, connect, TLS, reset), after retries.
    #[error("could not reach Okta: {0}")]
    Transport(String),
    /// Okta answered 2xx with something that is not the JSON expected.
    #[error("unexpected answer from Okta: {0}")]
    BadResponse(String),
    /// A write whose outcome is unknown (a 5xx, a timeout, a lost connection): Okta may or may
    /// not have made the change, and the write is not repeated.
    #[error("{cause}. Okta may have made the change anyway: {look} before trying again")]
    Uncertain {
        /// What went wrong.
        cause: Box<OktaError>,
        /// How to find out, e.g. "check the user's status with get_okta_user".
        look: String,
    },
    /// The request was refused before it was sent (e.g. an id that is not a path segment).
    #[error("{0}")]
    InvalidRequest(String),
    /// The service app's access token lacks a scope the endpoint needs (Okta's 403 with
    /// `error="insufficient_scope"`).
    #[error("{}", missing_scope_message(scope))]
    MissingScope {
        /// The scope Okta named.
        scope: String,
        /// Okta's `errorCode` (normally `E0000006`).
        error_code: Option<String>,
    },
    /// Okta's token endpoint refused the service app's token request.
    #[error("{}", token_request_message(*status, error, description))]
    TokenRequest {
        /// HTTP status of the token endpoint's answer (0: no answer; nothing was sent to the API).
        status: u16,
        /// The OAuth `error`.
        error: String,
        /// The OAuth `error_description`.
        description: String,
    },
    /// The client cannot be built from its configuration.
    #[error("Okta client configuration: {0}")]
    Config(String),
}

fn api_message(code: Option<&str>, status: u16, summary: &str, causes: &[String]) -> String {
    let mut text = match code {
        Some(code) => format!("Okta error {code}: {summary}"),
        None => format!("Okta error HTTP {status}: {summary}"),
    };
    if !causes.is_empty() {
        text.push_str(&format!(" (causes: {})", causes.join("; ")));
    }
    text
}

impl OktaError {
    /// A short machine-readable name for the kind of failure.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Api { .. } => "okta_api_error",
            Self::RateLimited { .. } => "rate_limited",
            Self::Timeout { .. } => "timeout",
            Self::Transport(_) => "transport",
            Self::BadResponse(_) => "bad_response",
            Self::Uncertain { .. } => "outcome_unknown",
            Self::InvalidRequest(_) => "invalid_argument",
            Self::MissingScope { .. } => "missing_scope",
            Self::TokenRequest { .. } => "okta_auth",
            Self::Config(_) => "config",
        }
    }

    /// The HTTP status Okta answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            Self::MissingScope { .. } => Some(403),
            Self::TokenRequest { status, .. } => (*status != 0).then_some(*status),
            Self::Uncertain { cause, .. } => cause.status(),
            _ => None,
        }
    }

    /// Okta's `errorCode`, if it sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Api { error_code, .. }
            | Self::RateLimited { error_code, .. }
            | Self::MissingScope { error_code, .. } => error_code.as_deref(),
            Self::Uncertain { cause, .. } => cause.error_code(),
            _ => None,
        }
    }

    /// The error as a JSON object for a tool result: `error`, `message`, and Okta's
    /// `status`, `errorCode`, `errorSummary`, `errorCauses`, `errorId` when known.
    pub fn to_json(&self) -> Value {
        let mut obj = serde_json::Map::new();
        obj.insert("error".into(), json!(self.kind()));
        obj.insert("message".into(), json!(self.to_string()));
        if let Some(status) = self.status() {
            obj.insert("status".into(), json!(status));
        }
        match self {
            Self::Api {
                error_code,
                error_summary,
                error_causes,
                error_id,
                ..
            } => {
                obj.insert("errorCode".into(), json!(error_code));
                obj.insert("errorSummary".into(), json!(error_summary));
                obj.insert("errorCauses".into(), json!(error_causes));
                if let Some(id) = error_id {
                    obj.insert("errorId".into(), json!(id));
                }
            }
            Self::RateLimited {
                error_code,
                error_summary,
                reset_in,
                ..
            } => {
                obj.insert("errorCode".into(), json!(error_code));
                obj.insert("errorSummary".into(), json!(error_summary));
                obj.insert("retryAfterSeconds".into(), json!(reset_in.as_secs()));
            }
            Self::MissingScope { scope, error_code } => {
                obj.insert("errorCode".into(), json!(error_code));
                obj.insert("missingScope".into(), json!(scope));
            }
            Self::Uncertain { cause, .. } => {
                if let Value::Object(inner) = cause.to_json() {
                    for (key, value) in inner {
                        obj.entry(key).or_insert(value);
                    }
                }
                obj.insert("cause".into(), json!(cause.kind()));
                obj.insert("changeMayHaveBeenMade".into(), json!(true));
            }
            _ => {}
        }
        Value::Object(obj)
    }

    /// Builds an [`OktaError::Api`] from an error answer, reading Okta's error body when it
    /// is one and falling back to the HTTP reason when it is not (a proxy's HTML page, say).
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        let parsed = OktaErrorBody::parse(body);
        let error_summary = parsed
            .summary
            .unwrap_or_else(|| http_reason(status).to_string());
        Self::Api {
            status,
            error_code: parsed.code,
            error_summary,
            error_causes: parsed.causes,
            error_id: parsed.id,
        }
    }
}

/// The shared authorizer's failures, as the tool server has always reported them.
impl From<AuthError> for OktaError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Config(text) => Self::Config(text),
            AuthError::TokenRequest {
                status,
                error,
                description,
            } => Self::TokenRequest {
                status,
                error,
                description,
            },
            AuthError::BadResponse(text) => Self::BadResponse(text),
        }
    }
}

/// The fields of Okta's error body; anything missing or odd is left out, never an error.
#[derive(Default)]
pub(crate) struct OktaErrorBody {
    pub code: Option<String>,
    pub summary: Option<String>,
    pub causes: Vec<String>,
    pub id: Option<String>,
}

impl OktaErrorBody {
    pub(crate) fn parse(body: &[u8]) -> Self {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let causes = map
            .get("errorCauses")
            .and_then(Value::as_array)
            .map(|causes| {
                causes
                    .iter()
                    .filter_map(|c| c.get("errorSummary").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code: text("errorCode"),
            summary: text("errorSummary"),
            causes,
            id: text("errorId"),
        }
    }
}

fn http_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unexpected HTTP status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_error_body_becomes_a_message_with_code_and_causes() {
        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: limit",
            "errorLink":"E0000001","errorId":"oaeX","errorCauses":[{"errorSummary":"limit: must be positive"}]}"#;
        let err = OktaError::from_response(400, body);
        assert_eq!(
            err.to_string(),
            "Okta error E0000001: Api validation failed: limit (causes: limit: must be positive)"
        );
        let json = err.to_json();
        assert_eq!(json["errorCode"], "E0000001");
        assert_eq!(json["status"], 400);
        assert_eq!(json["errorId"], "oaeX");
        assert_eq!(json["error"], "okta_api_error");
    }

    #[test]
    fn a_body_that_is_not_okta_json_falls_back_to_the_http_reason() {
        let err = OktaError::from_response(502, b"<html>bad gateway</html>");
        assert_eq!(err.to_string(), "Okta error HTTP 502: Bad Gateway");
        assert_eq!(err.error_code(), None);
        let err = OktaError::from_response(404, br#"{"errorCode": 7, "errorCauses": "x"}"#);
        assert_eq!(err.to_string(), "Okta error HTTP 404: Not Found");
    }

    #[test]
    fn rate_limited_says_when_to_retry() {
        let err = OktaError::RateLimited {
            error_code: Some("E0000047".into()),
            error_summary: "API call exceeded rate limit due to too many requests.".into(),
            retries: 4,
            reset_in: Duration::from_secs(12),
        };
        let text = err.to_string();
        assert!(text.contains("E0000047") && text.contains("12 s"), "{text}");
        assert_eq!(err.to_json()["retryAfterSeconds"], 12);
        assert_eq!(err.status(), Some(429));
    }
}
