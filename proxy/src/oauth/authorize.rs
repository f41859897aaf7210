//! `GET /authorize`: checks the client's request, then shows the consent page (or, when this
//! browser's user already approved this client, goes straight to Okta).

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::callback::{ConsentBy, LoginFlow};
use super::{AuthServer, now, pages, store_unavailable_page};
use crate::tokens::sha256_b64;
use crate::web::{WebRequest, WebResponse};

/// Longest `state` passed through.
const MAX_STATE: usize = 1024;
/// Longest `scope` read.
const MAX_SCOPE: usize = 1000;

/// An authorization request that passed every check, waiting for consent and the Okta login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingAuthorization {
    pub client_id: String,
    /// The redirect URI this request uses (for loopback, with its port).
    pub redirect_uri: String,
    /// Whether the request named it (then `/token` must name it too).
    pub redirect_uri_given: bool,
    pub code_challenge: String,
    pub scope: String,
    pub state: Option<String>,
}

impl PendingAuthorization {
    /// The store key of a pending authorization awaiting consent.
    pub(super) fn key(id: &str) -> String {
        format!("authz:{id}")
    }
}

/// The store key remembering that `subject` approved `client_id`.
pub(super) fn consent_key(subject: &str, client_id: &str) -> String {
    format!("consent:{}", sha256_b64(&format!("{subject}\n{client_id}")))
}

/// A PKCE value (challenge or verifier): 43–128 unreserved characters (RFC 7636 §4.1).
pub(super) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The scope we grant: always `mcp`, plus `offline_access` when asked; other scopes are ignored.
pub(super) fn grant_scope(requested: Option<&str>) -> String {
    let wants_offline = requested.is_some_and(|s| s.split(' ').any(|x| x == "offline_access"));
    if wants_offline {
        "mcp offline_access".to_owned()
    } else {
        "mcp".to_owned()
    }
}

impl AuthServer {
    /// `GET /authorize`.
    pub(super) async fn authorize(&self, request: &WebRequest) -> WebResponse {
        let params = match pages::browser_get_query(
            request,
            "The authorization endpoint takes GET requests.",
        ) {
            Ok(params) => params,
            Err(page) => return page,
        };
        // Until client and redirect URI are known good, errors are pages, never redirects.
        let Some(client_id) = params.get("client_id") else {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The request names no app (client_id is missing).",
            );
        };
        let client = match self.find_client(client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "Unknown app",
                    "This app is not registered here, or its registration has expired. Connect the app again.",
                );
            }
            Err(error) => return error.page(),
        };
        if client.preregistered.is_some()
            && !client.grant_types.iter().any(|g| g == "authorization_code")
        {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "App not allowed here",
                "This app is registered by the administrator for grants without a sign-in page (its CLIENTS_FILE entry does not list authorization_code).",
            );
        }
        let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
            Some(uri) if client.redirect_uri_matches(uri) => (uri.to_owned(), true),
            Some(_) => {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid redirect URI",
                    "The redirect URI in this request is not one the app registered, so you are not sent anywhere.",
                );
            }
            None => match client.redirect_uris.as_slice() {
                [only] => (only.clone(), false),
                _ => {
                    return pages::error_page(
                        StatusCode::BAD_REQUEST,
                        "Invalid request",
                        "The app registered several redirect URIs and must name one (redirect_uri is missing).",
                    );
                }
            },
        };

        let state = params.get("state");
        if state.is_some_and(|s| s.len() > MAX_STATE) {
            return self.redirect_to_client(
                &redirect_uri,
                &[
                    ("error", Some("invalid_request")),
                    ("error_description", Some("state is too long")),
                ],
            );
        }
        let fail = |error: &str, description: &str| {
            self.redirect_to_client(
                &redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description)),
                    ("state", state),
                ],
            )
        };
        match params.get("response_type") {
            Some("code") => {}
            Some(_) => {
                return fail(
                    "unsupported_response_type",
                    "only response_type=code is supported",
                );
            }
            None => return fail("invalid_request", "response_type is missing"),
        }
        match params.get("code_challenge_method") {
            Some("S256") => {}
            Some(_) => {
                return fail(
                    "invalid_request",
                    "only code_challenge_method=S256 is supported",
                );
            }
            None => {
                return fail(
                    "invalid_request",
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                );
            }
        }
        let Some(code_challenge) = params.get("code_challenge") else {
            return fail("invalid_request", "code_challenge is missing");
        };
        if !is_pkce_value(code_challenge) {
            return fail(
                "invalid_request",
                "code_challenge is not a valid S256 challenge",
            );
        }
        if params.get("resource").is_some_and(|r| r != self.resource) {
            return fail(
                "invalid_target",
                &format!("resource must be {}", self.resource),
            );
        }
        if params.get("scope").is_some_and(|s| s.len() > MAX_SCOPE) {
            return fail("invalid_scope", "scope is too long");
        }
        let prompt: Vec<&str> = params
            .get("prompt")
            .map(|p| p.split(' ').collect())
            .unwrap_or_default();
        if prompt.contains(&"none") {
            return fail(
                "login_required",
                "this server always needs an interactive login",
            );
        }

        let pending = PendingAuthorization {
            client_id: client.client_id.clone(),
            redirect_uri,
            redirect_uri_given,
            code_challenge: code_challenge.to_owned(),
            scope: grant_scope(params.get("scope")),
            state: state.map(str::to_owned),
        };
        let (browser, set_browser) = self.browser_binding(&request.headers);

        // Skip the page only for a user who already approved this very client.
        if !prompt.contains(&"consent")
            && let Some(session) = self.sessions.read(&request.headers, now())
        {
            let remembered = async {
                self.revocations.ensure_loaded().await?;
                Ok::<bool, crate::store::StoreError>(
                    !self.revocations.session_revoked(&session.sid)
                        && self
                            .store
                            .get(&consent_key(&session.sub, &client.client_id))
                            .await?
                            .is_some(),
                )
            };
            match remembered.await {
                Ok(true) => {
                    let flow = LoginFlow::Client {
                        authorization: pending,
                        consent: ConsentBy::Remembered {
                            subject: session.sub,
                        },
                    };
                    return self.start_login(flow, &browser, set_browser).await;
                }
                Ok(false) => {}
                Err(error) => return store_unavailable_page(error),
            }
        }
        self.show_consent(&client, &pending, &browser, set_browser)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use http::StatusCode;

    fn error_of(response: &WebResponse) -> (String, Option<String>, Option<String>) {
        let url = redirect_url(response);
        (
            query_param(&url, "error").unwrap_or_default(),
            query_param(&url, "state"),
            query_param(&url, "iss"),
        )
    }

    #[tokio::test]
    async fn a_valid_request_shows_the_consent_page() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(&client, CLIENT_CB, &challenge, "s1"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
        assert!(
            header(&page, "content-security-policy")
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        let html = text(&page);
        assert!(html.contains("Test client"));
        assert!(html.contains("claude.ai"));
        assert!(html.contains("value=\"approve\"") && html.contains("value=\"deny\""));
        assert!(!html.contains("<script"));
        // the browser got its binding cookie
        assert!(t.browser.lock().unwrap().contains_key("__Host-mcp_browser"));
    }

    #[tokio::test]
    async fn unknown_clients_and_unregistered_redirects_get_a_page_never_a_redirect() {
        let t = Harness::new();
        let client = t
            .register_public(&[CLIENT_CB, "http://localhost:1234/cb"])
            .await;
        let (_, challenge) = pkce();
        let cases = [
            t.authorize_path("no-such-client", CLIENT_CB, &challenge, "s"),
            t.authorize_path(&client, "https://evil.example.com/cb", &challenge, "s"),
            t.authorize_path(
                &client,
                "https://claude.ai/api/mcp/auth_callback/x",
                &challenge,
                "s",
            ),
            t.authorize_path(&client, "javascript:alert(1)", &challenge, "s"),
            t.authorize_path(&client, "http://localhost:1234/other", &challenge, "s"),
            format!("/authorize?client_id={client}&response_type=code"),
            "/authorize?response_type=code".to_owned(),
            "/authorize".to_owned(),
            format!("/authorize?client_id={client}&client_id=other"),
            format!("/authorize?client_id={}", "x".repeat(500)),
        ];
        for path in cases {
            let response = t.browse_get(&path).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}");
            assert!(header(&response, "location").is_none(), "{path}");
            assert!(
                header(&response, "content-type")
                    .unwrap()
                    .starts_with("text/html")
            );
        }
    }

    #[tokio::test]
    async fn a_loopback_redirect_matches_on_any_port() {
        let t = Harness::new();
        let client = t
            .register_public(&["http://127.0.0.1:33418/callback"])
            .await;
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(
                &client,
                "http://127.0.0.1:50505/callback",
                &challenge,
                "s",
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", text(&page));
    }

    #[tokio::test]
    async fn request_errors_redirect_with_state_and_iss() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (_, challenge) = pkce();
        let base = format!(
            "/authorize?client_id={client}&redirect_uri={}&state=xyz",
            urlencode(CLIENT_CB)
        );
        let cases = [
            (
                format!("{base}&code_challenge={challenge}&code_challenge_method=S256"),
                "invalid_request",
            ),
            (
                format!(
                    "{base}&response_type=token&code_challenge={challenge}&code_challenge_method=S256"
                ),
                "unsupported_response_type",
            ),
            (format!("{base}&response_type=code"), "invalid_request"),
            (
                format!("{base}&response_type=code&code_challenge={challenge}"),
                "invalid_request",
            ),
            (
                format!(
                    "{base}&response_type=code&code_challenge={challenge}&code_challenge_method=plain"
                ),
                "invalid_request",
            ),
            (
                format!("{base}&response_type=code&code_challenge_method=S256"),
                "invalid_request",
            ),
            (
                format!(
                    "{base}&response_type=code&code_challenge=short&code_challenge_method=S256"
                ),
                "invalid_request",
            ),
            (
                format!(
                    "{base}&response_type=code&code_challenge={challenge}&code_challenge_method=S256&resource={}",
                    urlencode("https://other.example.com/mcp")
                ),
                "invalid_target",
            ),
            (
                format!(
                    "{base}&response_type=code&code_challenge={challenge}&code_challenge_method=S256&resource={}",
                    urlencode("https://mcp.example.com/")
                ),
                "invalid_target",
            ),
            (
                format!(
                    "{base}&response_type=code&code_challenge={challenge}&code_challenge_method=S256&prompt=none"
                ),
                "login_required",
            ),
        ];
        for (path, expected) in cases {
            let response = t.browse_get(&path).await;
            let (error, state, iss) = error_of(&response);
            assert_eq!(error, expected, "{path}");
            assert_eq!(state.as_deref(), Some("xyz"), "{path}");
            assert_eq!(iss.as_deref(), Some(PUBLIC), "{path}");
            assert!(location(&response).starts_with(CLIENT_CB));
        }
    }

    #[tokio::test]
    async fn resource_may_be_absent_and_redirect_uri_too_when_only_one_is_registered() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&format!(
                "/authorize?client_id={client}&response_type=code&code_challenge={challenge}&code_challenge_method=S256"
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", text(&page));
    }

    #[test]
    fn pkce_values_and_scopes() {
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(is_pkce_value(&"a-._~".repeat(20)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+/", "a".repeat(41))));
        assert_eq!(grant_scope(None), "mcp");
        assert_eq!(grant_scope(Some("openid profile")), "mcp");
        assert_eq!(
            grant_scope(Some("mcp offline_access")),
            "mcp offline_access"
        );
    }

    pub(crate) fn urlencode(text: &str) -> String {
        form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }
}
