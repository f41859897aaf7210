//! Okta's error bodies, and the one mapping from an error to an HTTP response.
//!
//! Okta answers every failure with the same JSON shape (`errorCode`, `errorSummary`, `errorLink`,
//! `errorId`, `errorCauses`); clients (ours included) branch on `errorCode`, so each variant here
//! carries the code Okta documents for that case.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;

/// A failure of a Management API request, rendered as Okta renders it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed or wrong `Authorization: SSWS` token.
    #[error("Invalid token provided")]
    InvalidToken,
    /// A valid token without the permission (kept for completeness; the fake grants everything).
    #[error("You do not have permission to perform the requested action")]
    Forbidden,
    /// A request parameter failed validation (E0000001), with one cause per problem.
    #[error("Api validation failed: {field}")]
    Validation { field: String, causes: Vec<String> },
    /// A `filter`/`search` expression that does not parse or names an unsupported attribute.
    #[error("Invalid search criteria.")]
    InvalidSearch { cause: String },
    /// The System Log's own code for a bad filter or parameter (E0000053).
    #[error("{summary}")]
    InvalidLogQuery { summary: String },
    /// An object that does not exist; `kind` is Okta's type name (`User`, `UserGroup`, …).
    #[error("Not found: Resource not found: {id} ({kind})")]
    NotFound { id: String, kind: &'static str },
    /// A path under `/api/v1` that the fake does not serve.
    #[error("Not found: Resource not found: {path} (Endpoint)")]
    UnknownEndpoint { path: String },
    /// A method other than GET on a served path.
    #[error("The endpoint does not support the provided HTTP method")]
    MethodNotAllowed,
    /// The per-minute budget of the endpoint family is spent.
    #[error("API call exceeded rate limit due to too many requests.")]
    RateLimited,
    /// An injected or simulated outage.
    #[error("Service unavailable. Please try again later.")]
    Unavailable,
}

impl ApiError {
    /// Okta's error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidToken => "E0000011",
            ApiError::Forbidden => "E0000006",
            ApiError::Validation { .. } => "E0000001",
            ApiError::InvalidSearch { .. } => "E0000031",
            ApiError::InvalidLogQuery { .. } => "E0000053",
            ApiError::NotFound { .. } | ApiError::UnknownEndpoint { .. } => "E0000007",
            ApiError::MethodNotAllowed => "E0000022",
            ApiError::RateLimited => "E0000047",
            ApiError::Unavailable => "E0000009",
        }
    }

    /// HTTP status Okta uses for this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::Validation { .. }
            | ApiError::InvalidSearch { .. }
            | ApiError::InvalidLogQuery { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } | ApiError::UnknownEndpoint { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `errorCauses` entries.
    fn causes(&self) -> Vec<String> {
        match self {
            ApiError::Validation { causes, .. } => causes.clone(),
            ApiError::InvalidSearch { cause } => vec![cause.clone()],
            _ => Vec::new(),
        }
    }

    /// Shorthand for a one-cause validation failure of query parameter `field`.
    pub fn invalid_param(field: &str, cause: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.to_owned(),
            causes: vec![format!("{field}: {}", cause.into())],
        }
    }

    /// The JSON body Okta sends for this failure (a fresh `errorId` each time).
    pub fn body(&self) -> serde_json::Value {
        let code = self.code();
        let causes: Vec<serde_json::Value> = self
            .causes()
            .into_iter()
            .map(|summary| json!({ "errorSummary": summary }))
            .collect();
        json!({
            "errorCode": code,
            "errorSummary": self.to_string(),
            "errorLink": code,
            "errorId": error_id(),
            "errorCauses": causes,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if self == ApiError::InvalidToken {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("SSWS realm=\"fake-okta\""),
            );
        }
        response
    }
}

/// An Okta-looking `errorId`: `oae` plus 22 random alphanumerics.
pub fn error_id() -> String {
    random_token("oae", 25)
}

/// A random alphanumeric token of `len` characters that starts with `prefix`.
pub fn random_token(prefix: &str, len: usize) -> String {
    const CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut rng = rand::rng();
    let mut token = String::with_capacity(len);
    token.push_str(prefix);
    while token.len() < len {
        token.push(char::from(CHARS[rng.random_range(0..CHARS.len())]));
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_okta_shape() {
        let body = ApiError::InvalidToken.body();
        assert_eq!(body["errorCode"], "E0000011");
        assert_eq!(body["errorSummary"], "Invalid token provided");
        assert_eq!(body["errorLink"], "E0000011");
        assert_eq!(body["errorCauses"], json!([]));
        let id = body["errorId"].as_str().unwrap_or_default();
        assert!(id.starts_with("oae") && id.len() == 25, "{id}");

        let not_found = ApiError::NotFound {
            id: "00uX".into(),
            kind: "User",
        };
        assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            not_found.body()["errorSummary"],
            "Not found: Resource not found: 00uX (User)"
        );
        let limited = ApiError::RateLimited.body();
        assert_eq!(limited["errorCode"], "E0000047");
        assert_eq!(
            limited["errorSummary"],
            "API call exceeded rate limit due to too many requests."
        );
    }

    #[test]
    fn validation_lists_causes() {
        let body = ApiError::invalid_param("limit", "must be a positive integer").body();
        assert_eq!(body["errorCode"], "E0000001");
        assert_eq!(body["errorSummary"], "Api validation failed: limit");
        assert_eq!(
            body["errorCauses"][0]["errorSummary"],
            "limit: must be a positive integer"
        );
    }
}
