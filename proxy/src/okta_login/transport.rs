//! The one way the login's requests reach Okta: how the proxy proves it is the Okta app
//! (client secret or `private_key_jwt`) and, when the app requires it, DPoP (RFC 9449).
//!
//! `openidconnect` builds the token and userinfo requests; they all pass through
//! [`Transport::send`], which signs a DPoP proof for the exact method and URL, turns a
//! DPoP-bound access token's `Bearer` into `DPoP` (the proof then carries `ath`) and answers
//! one `use_dpop_nonce` challenge (Okta asks for a nonce at the first request). The DPoP key is
//! made at start-up, so Okta's tokens are bound to this process.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use okta_mcp_common::okta_auth::jose::{self, SigningKey};
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use url::Url;

/// The `client_assertion_type` of `private_key_jwt` (RFC 7523).
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest `DPoP-Nonce` value kept (Okta's are short).
const MAX_NONCE: usize = 512;

/// How the proxy authenticates to Okta as its OIDC app.
pub enum ClientAuth {
    /// `client_secret_basic`.
    Secret(String),
    /// `private_key_jwt`: a JWT signed by the app's registered key.
    PrivateKey {
        key: Box<SigningKey>,
        key_id: Option<String>,
    },
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Secret(_) => "client_secret_basic",
            Self::PrivateKey { .. } => "private_key_jwt",
        })
    }
}

impl ClientAuth {
    /// The form parameters that authenticate a request to `endpoint` (none for a secret, which
    /// goes in the `Authorization` header).
    pub fn assertion_params(
        &self,
        client_id: &str,
        endpoint: &str,
    ) -> Result<Vec<(&'static str, String)>, String> {
        match self {
            Self::Secret(_) => Ok(Vec::new()),
            Self::PrivateKey { key, key_id } => {
                let assertion =
                    jose::client_assertion(key, key_id.as_deref(), client_id, endpoint, unix_now())
                        .map_err(|e| format!("cannot sign the client assertion: {e}"))?;
                Ok(vec![
                    ("client_assertion_type", ASSERTION_TYPE.to_owned()),
                    ("client_assertion", assertion),
                ])
            }
        }
    }

    /// `Authorization: Basic …` for a secret (id and secret form-encoded, RFC 6749 §2.3.1).
    pub fn basic_header(&self, client_id: &str) -> Option<String> {
        let Self::Secret(secret) = self else {
            return None;
        };
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", encode(client_id), encode(secret)))
        ))
    }
}

/// Why a request could not be sent or answered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("cannot sign the DPoP proof: {0}")]
    Proof(String),
    #[error("the request to Okta is not well formed: {0}")]
    Request(String),
}

/// Sends the login's requests to Okta, with DPoP when it is on.
pub struct Transport {
    http: reqwest::Client,
    dpop: Option<SigningKey>,
    /// The last `DPoP-Nonce` each endpoint (token, userinfo, PAR) gave.
    nonces: Mutex<HashMap<String, String>>,
}

impl Transport {
    /// A transport over `http`; `dpop` makes a key for this process's proofs.
    pub fn new(http: reqwest::Client, dpop: bool) -> Result<Self, String> {
        let dpop = match dpop {
            true => Some(SigningKey::generate_es256().map_err(|e| format!("DPoP key: {e}"))?),
            false => None,
        };
        Ok(Self {
            http,
            dpop,
            nonces: Mutex::new(HashMap::new()),
        })
    }

    /// Whether requests carry DPoP proofs.
    pub fn dpop(&self) -> bool {
        self.dpop.is_some()
    }

    /// Sends `request`; `bound` says its `Bearer` access token is DPoP-bound.
    pub async fn send(&self, request: HttpRequest, bound: bool) -> Result<HttpResponse, SendError> {
        let (parts, body) = request.into_parts();
        let url =
            Url::parse(&parts.uri.to_string()).map_err(|e| SendError::Request(e.to_string()))?;
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut headers = parts.headers;
        let mut token = None;
        if self.dpop.is_some() && bound {
            token = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned);
            if let Some(token) = &token {
                let mut value = HeaderValue::from_str(&format!("DPoP {token}"))
                    .map_err(|e| SendError::Request(e.to_string()))?;
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
        }
        let mut challenged = false;
        loop {
            let mut request = self
                .http
                .request(parts.method.clone(), url.clone())
                .headers(headers.clone())
                .body(body.clone());
            if let Some(key) = &self.dpop {
                let nonce = self.nonce(htu.as_str());
                let proof = jose::dpop_proof(
                    key,
                    parts.method.as_str(),
                    htu.as_str(),
                    token.as_deref(),
                    nonce.as_deref(),
                    unix_now(),
                )
                .map_err(|e| SendError::Proof(e.to_string()))?;
                request = request.header("DPoP", proof);
            }
            let response = request.send().await?;
            let status = response.status();
            let response_headers = response.headers().clone();
            let bytes = response.bytes().await?;
            let nonce = match response_headers.get("dpop-nonce") {
                Some(value) => match value.to_str().ok().filter(|v| valid_nonce(v)) {
                    Some(nonce) => Some(nonce.to_owned()),
                    None => {
                        tracing::warn!(
                            url = htu.as_str(),
                            "Okta's DPoP-Nonce header is not a valid nonce; ignored"
                        );
                        None
                    }
                },
                None => None,
            };
            if let (Some(_), Some(nonce)) = (&self.dpop, &nonce) {
                self.nonces
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(htu.to_string(), nonce.clone());
                if !challenged && asks_for_nonce(status, &response_headers, &bytes) {
                    challenged = true;
                    tracing::debug!(url = htu.as_str(), "Okta asked for a DPoP nonce");
                    continue;
                }
            }
            let mut answer = http::Response::builder().status(status);
            if let Some(map) = answer.headers_mut() {
                *map = response_headers;
            }
            return answer
                .body(bytes.to_vec())
                .map_err(|e| SendError::Request(e.to_string()));
        }
    }

    /// This transport as `openidconnect`'s HTTP client; `bound` as in [`Transport::send`].
    pub fn client(&self, bound: bool) -> OktaHttp<'_> {
        OktaHttp {
            transport: self,
            bound,
        }
    }

    fn nonce(&self, htu: &str) -> Option<String> {
        self.nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(htu)
            .cloned()
    }
}

/// [`Transport`] as the HTTP client `openidconnect` calls.
pub struct OktaHttp<'a> {
    transport: &'a Transport,
    bound: bool,
}

impl<'c> AsyncHttpClient<'c> for OktaHttp<'_> {
    type Error = SendError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, SendError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.transport.send(request, self.bound))
    }
}

/// A 400 `{"error":"use_dpop_nonce"}` (token endpoint) or a 401 whose `WWW-Authenticate`
/// says `use_dpop_nonce` (resource).
fn asks_for_nonce(status: http::StatusCode, headers: &http::HeaderMap, body: &[u8]) -> bool {
    match status.as_u16() {
        400 => serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|b| b["error"] == "use_dpop_nonce"),
        401 => headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("use_dpop_nonce")),
        _ => false,
    }
}

/// RFC 9449 §8.1: `nonce = 1*NQCHAR` (printable ASCII without `"` and `\`), kept short.
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_checked() {
        assert!(valid_nonce("eyJ7S_zG.9-x~"));
        for bad in ["", "a b", "a\"b", "a\\b", "é", &"n".repeat(MAX_NONCE + 1)] {
            assert!(!valid_nonce(bad), "{bad:?}");
        }
    }

    #[test]
    fn nonce_challenges_are_recognised() {
        let empty = http::HeaderMap::new();
        assert!(asks_for_nonce(
            http::StatusCode::BAD_REQUEST,
            &empty,
            br#"{"error":"use_dpop_nonce"}"#
        ));
        assert!(!asks_for_nonce(
            http::StatusCode::BAD_REQUEST,
            &empty,
            br#"{"error":"invalid_grant"}"#
        ));
        assert!(!asks_for_nonce(
            http::StatusCode::BAD_REQUEST,
            &empty,
            b"not json"
        ));
        let mut challenge = http::HeaderMap::new();
        challenge.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("DPoP error=\"use_dpop_nonce\""),
        );
        assert!(asks_for_nonce(
            http::StatusCode::UNAUTHORIZED,
            &challenge,
            b""
        ));
        assert!(!asks_for_nonce(http::StatusCode::UNAUTHORIZED, &empty, b""));
    }

    #[test]
    fn secret_goes_in_basic_and_key_in_an_assertion() {
        let secret = ClientAuth::Secret("s:ecret".into());
        assert_eq!(
            secret.basic_header("id").as_deref(),
            Some(format!("Basic {}", STANDARD.encode("id:s%3Aecret")).as_str())
        );
        assert!(
            secret
                .assertion_params("id", "https://x/token")
                .unwrap()
                .is_empty()
        );
        let key = ClientAuth::PrivateKey {
            key: Box::new(SigningKey::generate_es256().unwrap()),
            key_id: Some("k1".into()),
        };
        assert!(key.basic_header("id").is_none());
        let params = key.assertion_params("id", "https://x/token").unwrap();
        assert_eq!(
            params[0],
            ("client_assertion_type", ASSERTION_TYPE.to_owned())
        );
        assert_eq!(params[1].0, "client_assertion");
        assert_eq!(format!("{key:?}"), "private_key_jwt");
    }
}
