//! The consent page and its answer (`POST /oauth/consent`).
//!
//! CSRF: the page's hidden `csrf` field is HMAC(key, request id, browser id), where the browser
//! id is the random value of this browser's binding cookie (HttpOnly, SameSite=Lax). Another
//! site can neither read the field nor make the browser send a matching pair, and a token copied
//! from the attacker's own browser is bound to the attacker's cookie, not the victim's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::{Method, StatusCode, header};
use sha2::Sha256;
use url::Url;

use super::authorize::PendingAuthorization;
use super::callback::{ConsentBy, LoginFlow};
use super::clients::RegisteredClient;
use super::params::Params;
use super::{AuthServer, SHORT_LIVED, pages, store_unavailable_page};
use crate::tokens::{random_token, same_text};
use crate::web::{WebRequest, WebResponse};

/// Longest pending-request id read (ours are 22 characters).
const MAX_REQUEST_ID: usize = 64;

/// What the user is told the app sends them back to: the host, or an app link's scheme.
fn destination(redirect_uri: &str) -> String {
    match Url::parse(redirect_uri) {
        Ok(url) => match url.host_str() {
            Some(host) if matches!(url.scheme(), "http" | "https") => host.to_owned(),
            _ => format!("the app ({}:)", url.scheme()),
        },
        Err(_) => "the app".to_owned(),
    }
}

/// HMAC(key, "consent", request id, browser id), base64url.
fn csrf_token_with(key: &[u8; 32], request_id: &str, browser: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts every key length"),
    };
    mac.update(b"consent\n");
    mac.update(request_id.as_bytes());
    mac.update(b"\n");
    mac.update(browser.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl AuthServer {
    /// The CSRF token for pending request `request_id` in browser `browser`.
    fn csrf_token(&self, request_id: &str, browser: &str) -> String {
        csrf_token_with(&self.csrf_key, request_id, browser)
    }

    /// Whether `csrf` is the token of `request_id` and `browser`, under the current key or a
    /// previous session secret's (a page shown just before a key rotation).
    fn csrf_matches(&self, csrf: &str, request_id: &str, browser: &str) -> bool {
        std::iter::once(&self.csrf_key)
            .chain(&self.previous_csrf_keys)
            .any(|key| same_text(csrf, &csrf_token_with(key, request_id, browser)))
    }

    /// Keeps `pending` and shows the consent page for it.
    pub(super) async fn show_consent(
        &self,
        client: &RegisteredClient,
        pending: &PendingAuthorization,
        browser: &str,
        set_browser: Option<String>,
    ) -> WebResponse {
        let request_id = random_token(16);
        if let Err(error) = self
            .save(
                &PendingAuthorization::key(&request_id),
                pending,
                SHORT_LIVED,
            )
            .await
        {
            return store_unavailable_page(error);
        }
        let verified_host = client.verified_host();
        let page = pages::consent_page(&pages::Consent {
            client_name: client.client_name.as_deref(),
            client_id: &client.client_id,
            verified_host: verified_host.as_deref(),
            loopback_destination: super::clients::loopback_without_port(&pending.redirect_uri)
                .is_some(),
            destination: &destination(&pending.redirect_uri),
            request_id: &request_id,
            csrf: &self.csrf_token(&request_id, browser),
        });
        match set_browser {
            Some(cookie) => page.append_header(header::SET_COOKIE, &cookie),
            None => page,
        }
    }

    /// `POST /oauth/consent`: Approve → Okta; Deny → back to the client with `access_denied`.
    pub(super) async fn consent(&self, request: &WebRequest) -> WebResponse {
        if request.method != Method::POST {
            return pages::error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Not allowed",
                "Answer the consent page with its buttons.",
            );
        }
        let form = match Params::parse(&request.body) {
            Ok(form) => form,
            Err(error) => {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid request",
                    &error.describe(),
                );
            }
        };
        let forbidden = |message: &str| {
            pages::error_page(StatusCode::FORBIDDEN, "Request not verified", message)
        };
        let Some(browser) = self.browser_id(&request.headers) else {
            return forbidden(
                "Your browser did not send back the cookie this page set. Allow cookies for this site and start again from your app.",
            );
        };
        let request_id = form.get("request").filter(|id| id.len() <= MAX_REQUEST_ID);
        let (Some(request_id), Some(csrf)) = (request_id, form.get("csrf")) else {
            return forbidden(
                "The form is incomplete (the CSRF token is missing). Start again from your app.",
            );
        };
        if !self.csrf_matches(csrf, request_id, &browser) {
            return forbidden(
                "The form could not be verified (CSRF check failed). Start again from your app.",
            );
        }
        let approve = match form.get("decision") {
            Some("approve") => true,
            Some("deny") => false,
            _ => {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid request",
                    "Choose Approve or Deny.",
                );
            }
        };
        let pending: PendingAuthorization = match self
            .take(&PendingAuthorization::key(request_id))
            .await
        {
            Ok(Some(pending)) => pending,
            Ok(None) => {
                return pages::error_page(
                    StatusCode::BAD_REQUEST,
                    "Request expired",
                    "This authorization request has expired or was already answered. Start again from your app.",
                );
            }
            Err(error) => return store_unavailable_page(error),
        };
        if !approve {
            tracing::info!(client_id = %pending.client_id, "user denied consent");
            return self.redirect_to_client(
                &pending.redirect_uri,
                &[
                    ("error", Some("access_denied")),
                    ("error_description", Some("the user denied access")),
                    ("state", pending.state.as_deref()),
                ],
            );
        }
        let flow = LoginFlow::Client {
            authorization: pending,
            consent: ConsentBy::Page,
        };
        self.start_login(flow, &browser, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    async fn consent_page(t: &Harness) -> WebResponse {
        let client = t.register_public(&[CLIENT_CB]).await;
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(&client, CLIENT_CB, &challenge, "st-1"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        page
    }

    #[tokio::test]
    async fn approve_sends_the_browser_to_okta() {
        let t = Harness::new();
        let page = consent_page(&t).await;
        let to_okta = t.approve(&page).await;
        assert_eq!(to_okta.status, StatusCode::FOUND);
        assert!(location(&to_okta).starts_with("https://okta.example.com/oauth2/v1/authorize?"));
    }

    #[tokio::test]
    async fn deny_returns_access_denied_with_state_and_iss() {
        let t = Harness::new();
        let page = consent_page(&t).await;
        let (request_id, csrf) = consent_fields(&page);
        let back = t
            .browse_post_form(
                "/oauth/consent",
                &[
                    ("request", &request_id),
                    ("csrf", &csrf),
                    ("decision", "deny"),
                ],
            )
            .await;
        let url = redirect_url(&back);
        assert!(url.as_str().starts_with(CLIENT_CB));
        assert_eq!(query_param(&url, "error").as_deref(), Some("access_denied"));
        assert_eq!(query_param(&url, "state").as_deref(), Some("st-1"));
        assert_eq!(query_param(&url, "iss").as_deref(), Some(PUBLIC));
        assert!(query_param(&url, "code").is_none());
        // the request is answered: approving it afterwards does nothing
        let again = t
            .browse_post_form(
                "/oauth/consent",
                &[
                    ("request", &request_id),
                    ("csrf", &csrf),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_missing_or_wrong_csrf_token_is_refused() {
        let t = Harness::new();
        let page = consent_page(&t).await;
        let (request_id, csrf) = consent_fields(&page);
        for form in [
            vec![("request", request_id.as_str()), ("decision", "approve")],
            vec![
                ("request", request_id.as_str()),
                ("csrf", "forged"),
                ("decision", "approve"),
            ],
            vec![("csrf", csrf.as_str()), ("decision", "approve")],
            vec![
                ("request", "other-request"),
                ("csrf", csrf.as_str()),
                ("decision", "approve"),
            ],
        ] {
            let response = t.browse_post_form("/oauth/consent", &form).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{form:?}");
            assert!(header(&response, "location").is_none());
        }
        // the right token from another browser (no binding cookie, or another one)
        let body = format!("request={request_id}&csrf={csrf}&decision=approve");
        let response = t
            .send(request(Method::POST, "/oauth/consent", None, &[], &body))
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        let other_browser = format!("__Host-mcp_browser={}", crate::tokens::random_token(32));
        let response = t
            .send(request(
                Method::POST,
                "/oauth/consent",
                None,
                &[("cookie", &other_browser)],
                &body,
            ))
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        // and the request still works in the right browser afterwards
        assert_eq!(t.approve(&page).await.status, StatusCode::FOUND);
    }

    #[tokio::test]
    async fn junk_answers_get_pages_not_panics() {
        let t = Harness::new();
        let page = consent_page(&t).await;
        let (request_id, csrf) = consent_fields(&page);
        let bad_decision = t
            .browse_post_form(
                "/oauth/consent",
                &[
                    ("request", &request_id),
                    ("csrf", &csrf),
                    ("decision", "maybe"),
                ],
            )
            .await;
        assert_eq!(bad_decision.status, StatusCode::BAD_REQUEST);
        let repeated = t
            .browse(request(
                Method::POST,
                "/oauth/consent",
                None,
                &[],
                "request=a&request=b",
            ))
            .await;
        assert_eq!(repeated.status, StatusCode::BAD_REQUEST);
        let get = t.browse_get("/oauth/consent").await;
        assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn shown_values_are_escaped() {
        let t = Harness::new();
        let body = serde_json::json!({
            "client_name": "<script>alert('x')</script>",
            "redirect_uris": ["https://a.example/cb"],
            "token_endpoint_auth_method": "none",
        });
        let response = t.post_json("/register", &body.to_string()).await;
        let client = json_body(&response)["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(&client, "https://a.example/cb", &challenge, "s"))
            .await;
        let html = text(&page);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;"));
    }

    #[test]
    fn destinations_name_the_host_or_the_app_scheme() {
        assert_eq!(
            destination("https://claude.ai/api/mcp/auth_callback"),
            "claude.ai"
        );
        assert_eq!(destination("http://127.0.0.1:3000/cb"), "127.0.0.1");
        assert_eq!(
            destination("com.example.app:/cb"),
            "the app (com.example.app:)"
        );
    }
}
