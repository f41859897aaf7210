//! Sending the browser to Okta, and `GET /oauth/callback` when Okta sends it back.

use http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use super::authorize::{PendingAuthorization, consent_key};
use super::token::used_key;
use super::{AuthServer, SHORT_LIVED, no_store, now, pages, store_unavailable_page};
use crate::metrics::{LoginOutcome, METRICS};
use crate::okta_login::{LoginError, UpstreamIdentity};
use crate::revocations::now_ms;
use crate::tokens::{random_token, same_text, sha256_b64};
use crate::web::{WebRequest, WebResponse};

/// Longest Okta `state` looked up.
const MAX_OKTA_STATE: usize = 512;

/// How the user agreed to let the client in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum ConsentBy {
    /// They pressed Approve on the consent page.
    Page,
    /// The session cookie named `subject`, who had approved this client before.
    Remembered { subject: String },
}

/// What a login at Okta is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum LoginFlow {
    /// An MCP client's authorization: ends with our code at the client's redirect URI.
    Client {
        authorization: PendingAuthorization,
        consent: ConsentBy,
    },
    /// A same-origin web app: ends with the session cookie and a redirect to `return_to`.
    Browser { return_to: String },
}

/// A login sent to Okta, kept under Okta's `state` until the callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingLogin {
    pub flow: LoginFlow,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The browser that started it (binding cookie); only it may finish it.
    pub browser: String,
}

impl PendingLogin {
    fn key(okta_state: &str) -> String {
        format!("login:{okta_state}")
    }
}

/// Our one-time authorization code, stored under the SHA-256 of the code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub code_challenge: String,
    pub scope: String,
    pub subject: String,
    pub email: String,
    pub role: String,
    pub okta_refresh_token: Option<String>,
    /// The token family this code starts, chosen when the code is issued so that a second
    /// redemption, even one racing the first on another replica, knows what to revoke.
    #[serde(default)]
    pub family: String,
    /// Unix milliseconds at which the login read the user from Okta (0 in codes from before
    /// it existed: refused by any cut-off of the subject).
    #[serde(default)]
    pub seen: i64,
}

impl AuthorizationCode {
    pub(super) fn key(code: &str) -> String {
        format!("code:{}", sha256_b64(code))
    }
}

/// Who logged in at Okta, with the role their groups grant and when Okta said so (unix ms).
struct Login {
    identity: UpstreamIdentity,
    role: String,
    seen: i64,
}

impl AuthServer {
    /// Starts the Okta login for `flow` and redirects the browser there.
    pub(super) async fn start_login(
        &self,
        flow: LoginFlow,
        browser: &str,
        set_browser: Option<String>,
    ) -> WebResponse {
        let start = match self.login.start().await {
            Ok(start) => start,
            Err(error) => {
                tracing::warn!(%error, "cannot start the Okta login");
                return pages::error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sign-in unavailable",
                    "The Okta sign-in is not available right now. Please try again in a moment.",
                );
            }
        };
        let pending = PendingLogin {
            flow,
            nonce: start.nonce,
            pkce_verifier: start.pkce_verifier,
            browser: browser.to_owned(),
        };
        if let Err(error) = self
            .save(&PendingLogin::key(&start.state), &pending, SHORT_LIVED)
            .await
        {
            return store_unavailable_page(error);
        }
        let response = no_store(WebResponse::redirect(start.url.as_str()))
            .with_header(header::REFERRER_POLICY, "no-referrer");
        match set_browser {
            Some(cookie) => response.append_header(header::SET_COOKIE, &cookie),
            None => response,
        }
    }

    /// `GET /oauth/callback`: Okta's answer to one of our logins.
    pub(super) async fn callback(&self, request: &WebRequest) -> WebResponse {
        let params = match pages::browser_get_query(request, "Okta returns here with GET.") {
            Ok(params) => params,
            Err(page) => return page,
        };
        let expired = || {
            pages::error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in expired",
                "This sign-in is unknown, has expired or was already used. Start again from your app.",
            )
        };
        let Some(state) = params.get("state").filter(|s| s.len() <= MAX_OKTA_STATE) else {
            return expired();
        };
        let pending: PendingLogin = match self.take(&PendingLogin::key(state)).await {
            Ok(Some(pending)) => pending,
            Ok(None) => return expired(),
            Err(error) => return store_unavailable_page(error),
        };
        let same_browser = self
            .browser_id(&request.headers)
            .is_some_and(|browser| same_text(&browser, &pending.browser));
        if !same_browser {
            tracing::warn!(
                "Okta callback arrived in another browser than the one that started the login"
            );
            return pages::error_page(
                StatusCode::FORBIDDEN,
                "Sign-in not verified",
                "This sign-in was started in another browser (or cookies are blocked). Start again from your app.",
            );
        }

        // RFC 9207: an answer naming another issuer (a mix-up) or none, when Okta always names
        // itself, is not Okta's answer to this login.
        if let Err(why) = self.login.check_response_issuer(params.get("iss")) {
            tracing::warn!(%why, "Okta's authorization response refused (RFC 9207 iss)");
            METRICS.login(LoginOutcome::Failed);
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in refused",
                &format!("Okta's answer could not be verified: {why}. Start again from your app."),
            );
        }
        if let Some(error) = params.get("error") {
            let error: String = error.chars().take(64).collect();
            tracing::info!(okta_error = ?error, "Okta returned an error");
            METRICS.login(LoginOutcome::OktaError);
            return self.refuse(
                &pending.flow,
                "access_denied",
                &format!("Okta did not sign you in ({error})"),
            );
        }
        let Some(code) = params.get("code") else {
            return self.refuse(
                &pending.flow,
                "server_error",
                "Okta returned neither a code nor an error",
            );
        };
        // What Okta answers is as of this moment: a cut-off landing while we wait is later.
        let seen = now_ms();
        let identity = match self
            .login
            .finish(code, &pending.nonce, &pending.pkce_verifier)
            .await
        {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(?error, "Okta login could not be completed");
                METRICS.login(LoginOutcome::Failed);
                let oauth_error = match error {
                    LoginError::NotReady(_) | LoginError::Transport(_) => "temporarily_unavailable",
                    _ => "server_error",
                };
                return self.refuse(
                    &pending.flow,
                    oauth_error,
                    "the Okta sign-in could not be completed",
                );
            }
        };
        let Some(role) = self.roles.role_for(&identity.groups).map(str::to_owned) else {
            tracing::info!(subject = ?identity.subject, "login refused: no role for the user's groups");
            METRICS.login(LoginOutcome::NoRole);
            let back = match &pending.flow {
                LoginFlow::Client { authorization, .. } => self.client_redirect_url(
                    &authorization.redirect_uri,
                    &[
                        ("error", Some("access_denied")),
                        (
                            "error_description",
                            Some("none of your Okta groups grants a role"),
                        ),
                        ("state", authorization.state.as_deref()),
                    ],
                ),
                LoginFlow::Browser { .. } => None,
            };
            return pages::no_role_page(self.roles.granting_groups(), back.as_deref());
        };
        tracing::info!(subject = ?identity.subject, role = %role, "user logged in at Okta");
        METRICS.login(LoginOutcome::Success);

        if let Err(error) = self.note_subject(&identity.subject).await {
            return store_unavailable_page(error);
        }
        let mut session =
            self.sessions
                .new_session(&identity.subject, &identity.email, &role, now());
        session.seen = seen;
        let session_cookie = self.sessions.set_cookie(&session);
        // Only a browser login keeps Okta's refresh token for its session: a client's goes to
        // the client's refresh token (see `session_check`).
        let okta_refresh_token = match &pending.flow {
            LoginFlow::Browser { .. } => identity.refresh_token.clone(),
            LoginFlow::Client { .. } => None,
        };
        if let Err(error) = self.save_session_record(&session, okta_refresh_token).await {
            return store_unavailable_page(error);
        }
        let response = match pending.flow {
            LoginFlow::Browser { return_to } => no_store(WebResponse::redirect(&return_to)),
            LoginFlow::Client {
                authorization,
                consent,
            } => {
                let login = Login {
                    identity,
                    role,
                    seen,
                };
                self.finish_client_login(authorization, consent, login, &pending.browser)
                    .await
            }
        };
        response.append_header(header::SET_COOKIE, &session_cookie)
    }

    /// After a good Okta login for a client: our code to the client (or the consent page, when
    /// the user Okta logged in is not the one whose approval let us skip it).
    async fn finish_client_login(
        &self,
        authorization: PendingAuthorization,
        consent: ConsentBy,
        login: Login,
        browser: &str,
    ) -> WebResponse {
        let Login {
            identity,
            role,
            seen,
        } = login;
        let consent_key = consent_key(&identity.subject, &authorization.client_id);
        if let ConsentBy::Remembered { subject } = &consent
            && *subject != identity.subject
        {
            match self.store.get(&consent_key).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let client = match self.find_client(&authorization.client_id).await {
                        Ok(Some(client)) => client,
                        Ok(None) => {
                            return pages::error_page(
                                StatusCode::BAD_REQUEST,
                                "Unknown app",
                                "This app's registration has expired. Connect the app again.",
                            );
                        }
                        Err(error) => return error.page(),
                    };
                    return self
                        .show_consent(&client, &authorization, browser, None)
                        .await;
                }
                Err(error) => return store_unavailable_page(error),
            }
        }
        if let Err(error) = self
            .store
            .put(&consent_key, "1", self.settings.consent_ttl)
            .await
        {
            return store_unavailable_page(error);
        }
        let code = random_token(32);
        let record = AuthorizationCode {
            client_id: authorization.client_id,
            redirect_uri: authorization.redirect_uri.clone(),
            redirect_uri_given: authorization.redirect_uri_given,
            code_challenge: authorization.code_challenge,
            scope: authorization.scope,
            subject: identity.subject,
            email: identity.email,
            role,
            okta_refresh_token: identity.refresh_token,
            family: random_token(16),
            seen,
        };
        // The reuse marker exists before the code is handed out (see `used_key`).
        let saved = async {
            self.store
                .put(&used_key("code", &code), &record.family, SHORT_LIVED)
                .await?;
            self.save(&AuthorizationCode::key(&code), &record, SHORT_LIVED)
                .await
        };
        if let Err(error) = saved.await {
            return store_unavailable_page(error);
        }
        self.redirect_to_client(
            &authorization.redirect_uri,
            &[
                ("code", Some(&code)),
                ("state", authorization.state.as_deref()),
            ],
        )
    }

    /// A login that ends without a code: the client hears `error`, a web app's user sees a page.
    fn refuse(&self, flow: &LoginFlow, error: &str, description: &str) -> WebResponse {
        match flow {
            LoginFlow::Client { authorization, .. } => self.redirect_to_client(
                &authorization.redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description)),
                    ("state", authorization.state.as_deref()),
                ],
            ),
            LoginFlow::Browser { .. } => {
                let status = if error == "access_denied" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_GATEWAY
                };
                pages::error_page(status, "Sign-in failed", description)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use url::Url;

    /// Authorize + approve in the harness's browser; returns the redirect to Okta.
    async fn to_okta(t: &Harness, client: &str, state: &str) -> WebResponse {
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(client, CLIENT_CB, &challenge, state))
            .await;
        t.approve(&page).await
    }

    fn okta_state(to_okta: &WebResponse) -> String {
        query_param(&Url::parse(location(to_okta)).unwrap(), "state").unwrap()
    }

    #[tokio::test]
    async fn a_good_login_returns_our_code_with_state_and_iss() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let back = t
            .okta_returns(&to_okta(&t, &client, "client-state-1").await)
            .await;
        let url = redirect_url(&back);
        assert!(url.as_str().starts_with(CLIENT_CB));
        assert_eq!(
            query_param(&url, "state").as_deref(),
            Some("client-state-1")
        );
        assert_eq!(query_param(&url, "iss").as_deref(), Some(PUBLIC));
        assert!(query_param(&url, "code").unwrap().len() >= 40);
        assert_eq!(header(&back, "cache-control"), Some("no-store"));
        let set_cookie = header(&back, "set-cookie").unwrap();
        assert!(
            set_cookie.starts_with("__Host-mcp_session="),
            "{set_cookie}"
        );
        assert!(set_cookie.contains("Secure") && set_cookie.contains("HttpOnly"));
    }

    #[tokio::test]
    async fn the_okta_state_works_once_and_only_in_the_same_browser() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let redirect = to_okta(&t, &client, "s").await;
        let state = okta_state(&redirect);
        let path = format!("/oauth/callback?code=okta-code-{state}&state={state}");
        // another browser (no binding cookie) gets nothing, and burns the state
        let response = t.get(&path, &[]).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert!(header(&response, "location").is_none());
        let response = t.browse_get(&path).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);

        let redirect = to_okta(&t, &client, "s").await;
        let first = t.okta_returns(&redirect).await;
        assert_eq!(first.status, StatusCode::FOUND);
        let replay = t.okta_returns(&redirect).await;
        assert_eq!(replay.status, StatusCode::BAD_REQUEST);
        assert!(header(&replay, "location").is_none());
    }

    #[tokio::test]
    async fn an_answer_from_another_issuer_or_none_when_required_gets_no_code() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let cases = [
            (Some("https://evil.example"), false, "another issuer"),
            // An empty parameter counts as none.
            (Some(""), true, "names no issuer"),
            (None, true, "names no issuer"),
        ];
        for (iss, required, says) in cases {
            *t.okta.iss_required.lock().unwrap() = required;
            let state = okta_state(&to_okta(&t, &client, "s").await);
            let mut path = format!("/oauth/callback?code=okta-code-{state}&state={state}");
            if let Some(iss) = iss {
                path.push_str(&format!("&iss={}", urlencoding(iss)));
            }
            let response = t.browse_get(&path).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{iss:?}");
            assert!(header(&response, "location").is_none());
            let body = String::from_utf8_lossy(&response.body).to_string();
            assert!(body.contains(says), "{body}");
        }
        // The issuer itself, or none while not required, passes.
        *t.okta.iss_required.lock().unwrap() = false;
        let state = okta_state(&to_okta(&t, &client, "s").await);
        let path = format!(
            "/oauth/callback?code=okta-code-{state}&state={state}&iss={}",
            urlencoding(OKTA_ISSUER)
        );
        assert_eq!(t.browse_get(&path).await.status, StatusCode::FOUND);
    }

    fn urlencoding(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    #[tokio::test]
    async fn unknown_or_missing_state_is_a_page() {
        let t = Harness::new();
        for path in [
            "/oauth/callback",
            "/oauth/callback?code=x",
            "/oauth/callback?code=x&state=unknown",
            "/oauth/callback?state=a&state=b",
        ] {
            let response = t.browse_get(path).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}");
            assert!(header(&response, "location").is_none());
        }
        let long = format!("/oauth/callback?code=x&state={}", "s".repeat(600));
        assert_eq!(t.browse_get(&long).await.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn an_okta_error_reaches_the_client_as_access_denied() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let redirect = to_okta(&t, &client, "st").await;
        let state = okta_state(&redirect);
        let back = t
            .browse_get(&format!(
                "/oauth/callback?error=access_denied&error_description=User+cancelled&state={state}"
            ))
            .await;
        let url = redirect_url(&back);
        assert_eq!(query_param(&url, "error").as_deref(), Some("access_denied"));
        assert_eq!(query_param(&url, "state").as_deref(), Some("st"));
        assert_eq!(query_param(&url, "iss").as_deref(), Some(PUBLIC));
        assert!(query_param(&url, "code").is_none());
    }

    #[tokio::test]
    async fn a_failed_id_token_check_gives_no_code() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        *t.okta.fail_finish.lock().unwrap() = true;
        let back = t.okta_returns(&to_okta(&t, &client, "st").await).await;
        let url = redirect_url(&back);
        assert_eq!(query_param(&url, "error").as_deref(), Some("server_error"));
        assert!(query_param(&url, "code").is_none());
        assert!(header(&back, "set-cookie").is_none());
    }

    #[tokio::test]
    async fn a_user_without_a_role_gets_a_page_naming_the_groups() {
        let t = Harness::new();
        t.okta
            .log_in_as("00u-dave", "dave@example.com", &["Everyone"]);
        let client = t.register_public(&[CLIENT_CB]).await;
        let page = t.okta_returns(&to_okta(&t, &client, "st-d").await).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(header(&page, "location").is_none());
        assert!(header(&page, "set-cookie").is_none());
        let html = text(&page);
        assert!(html.contains("sso-help-desk") && html.contains("sso-super-admins"));
        assert!(html.contains("error=access_denied"));
        assert!(html.contains("state=st-d"));
        assert!(html.contains("iss=https%3A%2F%2Fmcp.example.com"));
        assert!(!html.contains("code="));
    }

    #[tokio::test]
    async fn okta_not_ready_is_a_503_page() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (_, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(&client, CLIENT_CB, &challenge, "s"))
            .await;
        *t.okta.not_ready.lock().unwrap() = true;
        let response = t.approve(&page).await;
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            header(&response, "content-type")
                .unwrap()
                .starts_with("text/html")
        );
    }

    #[tokio::test]
    async fn consent_is_remembered_per_user_and_client() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let other = t.register_public(&[CLIENT_CB]).await;
        let (_, challenge) = pkce();
        t.log_in(&client, CLIENT_CB, &challenge, "first").await;
        // same user, same client: straight to Okta
        let again = t
            .browse_get(&t.authorize_path(&client, CLIENT_CB, &challenge, "second"))
            .await;
        assert_eq!(again.status, StatusCode::FOUND);
        assert!(location(&again).starts_with("https://okta.example.com/"));
        let back = t.okta_returns(&again).await;
        assert!(query_param(&redirect_url(&back), "code").is_some());
        // another client: the page again
        let page = t
            .browse_get(&t.authorize_path(&other, CLIENT_CB, &challenge, "third"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        // prompt=consent forces the page
        let forced = format!(
            "{}&prompt=consent",
            t.authorize_path(&client, CLIENT_CB, &challenge, "fourth")
        );
        assert_eq!(t.browse_get(&forced).await.status, StatusCode::OK);
        // a fresh browser (no session cookie) sees the page
        t.browser
            .lock()
            .unwrap()
            .retain(|name, _| !name.contains("session"));
        let page = t
            .browse_get(&t.authorize_path(&client, CLIENT_CB, &challenge, "fifth"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_different_okta_user_than_the_cookie_must_approve_first() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (_, challenge) = pkce();
        t.log_in(&client, CLIENT_CB, &challenge, "alice").await;
        // the cookie says alice (who approved); Okta now logs in carol
        t.okta
            .log_in_as("00u-carol", "carol@example.com", &["sso-super-admins"]);
        let to_okta = t
            .browse_get(&t.authorize_path(&client, CLIENT_CB, &challenge, "carol"))
            .await;
        assert_eq!(to_okta.status, StatusCode::FOUND);
        let page = t.okta_returns(&to_okta).await;
        assert_eq!(page.status, StatusCode::OK, "carol sees the consent page");
        assert!(text(&page).contains("Approve"));
        let back = t.okta_returns(&t.approve(&page).await).await;
        let url = redirect_url(&back);
        assert_eq!(query_param(&url, "state").as_deref(), Some("carol"));
        assert!(query_param(&url, "code").is_some());
    }
}
