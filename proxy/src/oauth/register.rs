//! `POST /register`: RFC 7591 dynamic client registration.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::clients::{MAX_REDIRECT_URI, RegisteredClient, check_redirect_uri};
use super::{
    AuthServer, cors, method_not_allowed, no_store, now, oauth_error, preflight, store_unavailable,
};
use crate::tokens::{random_token, sha256_b64};
use crate::web::{WebRequest, WebResponse};

const MAX_REDIRECT_URIS: usize = 10;
/// All redirect URIs of one registration together, so one registration stays small (a
/// registration is anonymous; see `limits`).
const MAX_REDIRECT_URIS_BYTES: usize = 4096;
const MAX_CLIENT_NAME_CHARS: usize = 200;
const MAX_SCOPE_LEN: usize = 1000;
const AUTH_METHODS: [&str; 3] = ["none", "client_secret_post", "client_secret_basic"];
const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

/// A registration refused, with its RFC 7591 error code.
pub(super) struct Refusal {
    error: &'static str,
    description: String,
}

fn bad_metadata(description: impl Into<String>) -> Refusal {
    Refusal {
        error: "invalid_client_metadata",
        description: description.into(),
    }
}

/// The client metadata we keep, checked.
pub(super) struct Metadata {
    redirect_uris: Vec<String>,
    auth_method: String,
    grant_types: Vec<String>,
    client_name: Option<String>,
    scope: Option<String>,
}

/// An optional string field; `null` counts as absent.
fn optional_string<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad_metadata(format!("{name} must be a string"))),
    }
}

/// An optional array of strings; `null` counts as absent.
fn optional_strings(
    body: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<Vec<String>>, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > max {
                return Err(bad_metadata(format!("{name} has more than {max} values")));
            }
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(bad_metadata(format!("{name} must be an array of strings"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(_) => Err(bad_metadata(format!("{name} must be an array of strings"))),
    }
}

pub(super) fn check_metadata(body: &[u8]) -> Result<Metadata, Refusal> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| bad_metadata("the body is not JSON"))?;
    let Value::Object(body) = value else {
        return Err(bad_metadata("the body must be a JSON object"));
    };

    let Some(uris) = optional_strings(&body, "redirect_uris", MAX_REDIRECT_URIS)? else {
        return Err(bad_metadata("redirect_uris is required"));
    };
    if uris.is_empty() {
        return Err(bad_metadata("redirect_uris must not be empty"));
    }
    let total: usize = uris.iter().map(String::len).sum();
    if total > MAX_REDIRECT_URIS_BYTES {
        return Err(bad_metadata(format!(
            "redirect_uris are longer than {MAX_REDIRECT_URIS_BYTES} bytes together"
        )));
    }
    let mut redirect_uris: Vec<String> = Vec::with_capacity(uris.len());
    for (i, uri) in uris.into_iter().enumerate() {
        if uri.len() > MAX_REDIRECT_URI {
            return Err(bad_metadata(format!(
                "redirect_uris[{i}] is longer than {MAX_REDIRECT_URI} bytes"
            )));
        }
        check_redirect_uri(&uri).map_err(|why| Refusal {
            error: "invalid_redirect_uri",
            description: format!("redirect_uris[{i}] {why}"),
        })?;
        if !redirect_uris.contains(&uri) {
            redirect_uris.push(uri);
        }
    }

    // RFC 7591 §2: the default is client_secret_basic.
    let auth_method =
        optional_string(&body, "token_endpoint_auth_method")?.unwrap_or("client_secret_basic");
    if !AUTH_METHODS.contains(&auth_method) {
        return Err(bad_metadata(format!(
            "token_endpoint_auth_method must be one of {}",
            AUTH_METHODS.join(", ")
        )));
    }

    let grant_types = optional_strings(&body, "grant_types", 8)?
        .unwrap_or_else(|| GRANT_TYPES.iter().map(|g| g.to_string()).collect());
    if let Some(unsupported) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(bad_metadata(format!(
            "grant type {:?} is not supported (only authorization_code and refresh_token)",
            truncate(unsupported, 60)
        )));
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(bad_metadata("grant_types must include authorization_code"));
    }
    let mut unique_grants: Vec<String> = Vec::new();
    for grant in grant_types {
        if !unique_grants.contains(&grant) {
            unique_grants.push(grant);
        }
    }

    if let Some(response_types) = optional_strings(&body, "response_types", 8)?
        && (response_types.is_empty() || response_types.iter().any(|r| r != "code"))
    {
        return Err(bad_metadata("response_types must be [\"code\"]"));
    }

    let client_name = optional_string(&body, "client_name")?;
    if let Some(name) = client_name {
        if name.chars().count() > MAX_CLIENT_NAME_CHARS {
            return Err(bad_metadata(format!(
                "client_name is longer than {MAX_CLIENT_NAME_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(bad_metadata("client_name contains control characters"));
        }
    }
    let scope = optional_string(&body, "scope")?;
    if scope.is_some_and(|s| s.len() > MAX_SCOPE_LEN) {
        return Err(bad_metadata(format!(
            "scope is longer than {MAX_SCOPE_LEN} bytes"
        )));
    }

    Ok(Metadata {
        redirect_uris,
        auth_method: auth_method.to_owned(),
        grant_types: unique_grants,
        client_name: client_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        scope: scope.map(str::to_owned),
    })
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

impl AuthServer {
    /// `POST /register`.
    pub(super) async fn register(&self, request: &WebRequest) -> WebResponse {
        match request.method {
            Method::POST => {}
            Method::OPTIONS => return preflight("POST, OPTIONS"),
            _ => return method_not_allowed("POST"),
        }
        let metadata = match check_metadata(&request.body) {
            Ok(metadata) => metadata,
            Err(refusal) => {
                return oauth_error(StatusCode::BAD_REQUEST, refusal.error, &refusal.description);
            }
        };
        let issued_at = now();
        let client_id = random_token(16);
        let secret = (metadata.auth_method != "none").then(|| random_token(32));
        let client = RegisteredClient {
            client_id: client_id.clone(),
            secret_hash: secret.as_deref().map(sha256_b64),
            redirect_uris: metadata.redirect_uris,
            token_endpoint_auth_method: metadata.auth_method,
            grant_types: metadata.grant_types,
            client_name: metadata.client_name,
            scope: metadata.scope,
            issued_at,
            preregistered: None,
        };
        if let Err(error) = self
            .save(
                &RegisteredClient::new_key(&client_id),
                &client,
                self.settings.client_ttl,
            )
            .await
        {
            return store_unavailable(error);
        }
        tracing::info!(client_id = %client_id, name = ?client.client_name, "client registered");

        let mut answer = json!({
            "client_id": client_id,
            "client_id_issued_at": issued_at,
            "redirect_uris": client.redirect_uris,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "grant_types": client.grant_types,
            "response_types": ["code"],
        });
        if let Some(name) = &client.client_name {
            answer["client_name"] = json!(name);
        }
        if let Some(scope) = &client.scope {
            answer["scope"] = json!(scope);
        }
        if let Some(secret) = secret {
            let expires = issued_at
                .saturating_add(i64::try_from(self.settings.client_ttl.as_secs()).unwrap_or(0));
            answer["client_secret"] = json!(secret);
            answer["client_secret_expires_at"] = json!(expires);
        }
        cors(no_store(WebResponse::json(StatusCode::CREATED, &answer)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::store::MemoryStore;
    use http::{Method, StatusCode};
    use serde_json::json;

    async fn register(t: &Harness, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
        let response = t.post_json("/register", &body.to_string()).await;
        (response.status, json_body(&response))
    }

    #[tokio::test]
    async fn a_public_client_registers_without_a_secret() {
        let t = Harness::new();
        let response = t
            .post_json(
                "/register",
                &json!({
                    "client_name": "MCP Inspector",
                    "redirect_uris": ["http://localhost:6274/oauth/callback"],
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "scope": "mcp",
                    "logo_uri": "https://example.com/logo.png",
                })
                .to_string(),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
        let body = json_body(&response);
        assert!(body["client_id"].as_str().unwrap().len() >= 16);
        assert!(body["client_id_issued_at"].as_i64().unwrap() > 1_700_000_000);
        assert_eq!(body["client_name"], "MCP Inspector");
        assert_eq!(
            body["redirect_uris"],
            json!(["http://localhost:6274/oauth/callback"])
        );
        assert_eq!(body["token_endpoint_auth_method"], "none");
        assert_eq!(
            body["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(body["response_types"], json!(["code"]));
        assert_eq!(body["scope"], "mcp");
        assert!(body.get("client_secret").is_none());
        assert!(body.get("logo_uri").is_none());
    }

    #[tokio::test]
    async fn confidential_clients_get_a_secret() {
        let t = Harness::new();
        for method in ["client_secret_post", "client_secret_basic"] {
            let (status, body) = register(
                &t,
                json!({"redirect_uris": [CLIENT_CB], "token_endpoint_auth_method": method}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED);
            assert!(body["client_secret"].as_str().unwrap().len() >= 40);
            assert!(body["client_secret_expires_at"].as_i64().unwrap() > 0);
        }
        // RFC 7591's default method is client_secret_basic
        let (status, body) = register(&t, json!({"redirect_uris": [CLIENT_CB]})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
        assert!(body["client_secret"].is_string());
        assert_eq!(
            body["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
    }

    #[tokio::test]
    async fn bad_redirect_uris_are_invalid_redirect_uri() {
        let t = Harness::new();
        for uri in [
            "javascript:alert(document.cookie)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "file:///etc/passwd",
            "vbscript:x",
            "http://evil.example.com/cb",
            "https://example.com/cb#x",
            "https://user@example.com/cb",
            "/cb",
            "not a url",
            "myapp:/cb",
        ] {
            let (status, body) = register(
                &t,
                json!({"redirect_uris": [CLIENT_CB, uri], "token_endpoint_auth_method": "none"}),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .starts_with("redirect_uris[1]")
            );
        }
    }

    #[tokio::test]
    async fn bad_metadata_is_invalid_client_metadata() {
        let t = Harness::new();
        let long_name = "n".repeat(201);
        let many: Vec<String> = (0..11)
            .map(|i| format!("https://example.com/cb{i}"))
            .collect();
        let long_uri = format!("https://example.com/{}", "a".repeat(2100));
        let cases = [
            json!({}),
            json!([CLIENT_CB]),
            json!("text"),
            json!({"redirect_uris": CLIENT_CB}),
            json!({"redirect_uris": []}),
            json!({"redirect_uris": [1, 2]}),
            json!({"redirect_uris": many}),
            json!({"redirect_uris": [long_uri]}),
            json!({"redirect_uris": [CLIENT_CB], "token_endpoint_auth_method": "private_key_jwt"}),
            json!({"redirect_uris": [CLIENT_CB], "token_endpoint_auth_method": 5}),
            json!({"redirect_uris": [CLIENT_CB], "grant_types": ["client_credentials"]}),
            json!({"redirect_uris": [CLIENT_CB], "grant_types": ["implicit", "authorization_code"]}),
            json!({"redirect_uris": [CLIENT_CB], "grant_types": ["refresh_token"]}),
            json!({"redirect_uris": [CLIENT_CB], "grant_types": "authorization_code"}),
            json!({"redirect_uris": [CLIENT_CB], "response_types": ["token"]}),
            json!({"redirect_uris": [CLIENT_CB], "response_types": []}),
            json!({"redirect_uris": [CLIENT_CB], "client_name": long_name}),
            json!({"redirect_uris": [CLIENT_CB], "client_name": 7}),
            json!({"redirect_uris": [CLIENT_CB], "client_name": "a\u{0007}b"}),
            json!({"redirect_uris": [CLIENT_CB], "scope": ["mcp"]}),
        ];
        for case in cases {
            let (status, body) = register(&t, case.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
            assert_eq!(body["error"], "invalid_client_metadata", "{case}");
            assert!(body["error_description"].is_string());
        }
        for junk in ["", "{", "redirect_uris=x", "\u{0}"] {
            let response = t.post_json("/register", junk).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST);
            assert_eq!(json_body(&response)["error"], "invalid_client_metadata");
        }
    }

    #[tokio::test]
    async fn registration_answers_preflight_and_refuses_get() {
        let t = Harness::new();
        let response = t
            .send(request(Method::OPTIONS, "/register", None, &[], ""))
            .await;
        assert_eq!(response.status, StatusCode::NO_CONTENT);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        let response = t.get("/register", &[]).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(json_body(&response)["error"], "invalid_request");
    }

    #[tokio::test]
    async fn registrations_are_bounded_by_evicting_the_oldest() {
        let t = Harness::with(|_| {}, MemoryStore::new(3));
        let first = t.register_public(&[CLIENT_CB]).await;
        for _ in 0..3 {
            t.register_public(&[CLIENT_CB]).await;
        }
        // The oldest client is gone: /token says invalid_client, and the client registers again.
        let response = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", "x"),
                    ("client_id", &first),
                ],
                &[],
            )
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(json_body(&response)["error"], "invalid_client");
    }
}
