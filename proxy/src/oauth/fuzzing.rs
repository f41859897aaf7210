//! The OAuth parsers that read a client's bytes, reachable from the property tests
//! (`proxy/tests/properties.rs`) and the fuzz targets (`fuzz/`). Not an API: each function only
//! forwards to the code `/authorize`, `/token` and `/register` run.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

use super::clients::{RegisteredClient, basic_credentials, check_redirect_uri};
use super::params::Params;
use super::register::check_metadata;
use crate::web::WebRequest;

/// A parsed query string or form body.
pub struct ParsedParams(Params);

impl ParsedParams {
    /// The value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }
}

/// A query string or form body as `/authorize` and `/token` parse it; the error as described
/// to the client.
pub fn parse_params(input: &[u8]) -> Result<ParsedParams, String> {
    Params::parse(input)
        .map(ParsedParams)
        .map_err(|e| e.describe())
}

/// Whether `uri` may be registered as a redirect URI, and if not, why.
pub fn redirect_uri_allowed(uri: &str) -> Result<(), String> {
    check_redirect_uri(uri)
}

/// Whether `/authorize` accepts `requested` for a client that registered `registered`.
pub fn redirect_uri_matches(registered: &[String], requested: &str) -> bool {
    RegisteredClient {
        client_id: "fuzz".into(),
        secret_hash: None,
        redirect_uris: registered.to_vec(),
        token_endpoint_auth_method: "none".into(),
        grant_types: vec!["authorization_code".into()],
        client_name: None,
        scope: None,
        issued_at: 0,
        preregistered: None,
    }
    .redirect_uri_matches(requested)
}

/// Whether `POST /register` accepts this body (RFC 7591 client metadata).
pub fn registration_accepted(body: &[u8]) -> bool {
    check_metadata(body).is_ok()
}

/// The client id and secret of an `Authorization` header value, as `/token` reads them:
/// `Ok(None)` without a usable header, `Err(())` for one that is not Basic authentication.
#[allow(clippy::result_unit_err)]
pub fn basic_client_credentials(authorization: &[u8]) -> Result<Option<(String, String)>, ()> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    basic_credentials(&WebRequest {
        method: Method::POST,
        path: "/token".into(),
        query: None,
        headers,
        body: Bytes::new(),
        peer: None,
    })
}
