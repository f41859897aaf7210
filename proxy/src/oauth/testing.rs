//! Test harness: an [`AuthServer`] with a stand-in Okta, a memory store and a browser cookie jar.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use sha2::{Digest, Sha256};
use url::Url;

use super::{AuthServer, OAuthSettings};
use crate::okta_login::{LoginError, LoginStart, UpstreamIdentity, UpstreamLogin};
use crate::roles::RoleMap;
use crate::store::MemoryStore;
use crate::tokens::random_token;
use crate::web::{WebRequest, WebResponse};

pub(crate) const PUBLIC: &str = "https://mcp.example.com";
pub(crate) const RESOURCE: &str = "https://mcp.example.com/mcp";
pub(crate) const CLIENT_CB: &str = "https://claude.ai/api/mcp/auth_callback";

pub(crate) const ROLES: &str = r#"
[[roles]]
name = "super-admin"
groups = ["sso-super-admins"]

[[roles]]
name = "viewer"
groups = ["sso-help-desk"]
"#;

/// The stand-in Okta's issuer.
pub(crate) const OKTA_ISSUER: &str = "https://okta.example.com";

/// What the stand-in Okta answers to a refresh.
pub(crate) enum RefreshAnswer {
    Groups(Vec<String>),
    Refused,
    Unreachable,
}

/// A stand-in for Okta: logs in whoever `user` says, checks our nonce and verifier came back.
pub(crate) struct FakeOkta {
    pub user: Mutex<UpstreamIdentity>,
    pub refresh_answer: Mutex<RefreshAnswer>,
    pub fail_finish: Mutex<bool>,
    pub not_ready: Mutex<bool>,
    /// The callback must carry `iss` (as when discovery says Okta sends it).
    pub iss_required: Mutex<bool>,
    /// state → (nonce, verifier) of every login started.
    started: Mutex<HashMap<String, (String, String)>>,
    /// Okta refresh tokens we were asked to use, in order.
    pub refreshed_with: Mutex<Vec<String>>,
    issued_okta_refresh: Mutex<HashSet<String>>,
}

impl FakeOkta {
    pub(crate) fn new() -> Self {
        Self {
            user: Mutex::new(identity(
                "00u-alice",
                "alice@example.com",
                &["sso-help-desk"],
            )),
            refresh_answer: Mutex::new(RefreshAnswer::Groups(vec!["sso-help-desk".into()])),
            fail_finish: Mutex::new(false),
            not_ready: Mutex::new(false),
            iss_required: Mutex::new(false),
            started: Mutex::new(HashMap::new()),
            refreshed_with: Mutex::new(Vec::new()),
            issued_okta_refresh: Mutex::new(HashSet::new()),
        }
    }

    /// Makes the next login be `subject` with `groups`.
    pub(crate) fn log_in_as(&self, subject: &str, email: &str, groups: &[&str]) {
        *self.user.lock().unwrap() = identity(subject, email, groups);
    }

    fn okta_refresh_token(&self) -> String {
        let token = format!("okta-rt-{}", random_token(8));
        self.issued_okta_refresh
            .lock()
            .unwrap()
            .insert(token.clone());
        token
    }
}

pub(crate) fn identity(subject: &str, email: &str, groups: &[&str]) -> UpstreamIdentity {
    UpstreamIdentity {
        subject: subject.into(),
        email: email.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        refresh_token: None,
    }
}

#[async_trait]
impl UpstreamLogin for FakeOkta {
    async fn start(&self) -> Result<LoginStart, LoginError> {
        if *self.not_ready.lock().unwrap() {
            return Err(LoginError::NotReady("discovery pending".into()));
        }
        let state = random_token(16);
        let nonce = random_token(16);
        let pkce_verifier = random_token(32);
        self.started
            .lock()
            .unwrap()
            .insert(state.clone(), (nonce.clone(), pkce_verifier.clone()));
        let url = Url::parse(&format!(
            "https://okta.example.com/oauth2/v1/authorize?client_id=proxy&state={state}&nonce={nonce}"
        ))
        .unwrap();
        Ok(LoginStart {
            url,
            state,
            nonce,
            pkce_verifier,
        })
    }

    fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), String> {
        match iss {
            Some(OKTA_ISSUER) => Ok(()),
            Some(_) => Err(format!(
                "the answer names another issuer than {OKTA_ISSUER}"
            )),
            None if *self.iss_required.lock().unwrap() => Err("the answer names no issuer".into()),
            None => Ok(()),
        }
    }

    async fn finish(
        &self,
        code: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<UpstreamIdentity, LoginError> {
        if *self.fail_finish.lock().unwrap() {
            return Err(LoginError::InvalidIdToken("bad signature".into()));
        }
        // Our fake Okta's code is "okta-code-<state>": check the proxy kept nonce and verifier.
        let state = code
            .strip_prefix("okta-code-")
            .ok_or_else(|| LoginError::Exchange("unknown code".into()))?;
        let started = self.started.lock().unwrap().get(state).cloned();
        match started {
            Some((n, v)) if n == nonce && v == verifier => {}
            _ => {
                return Err(LoginError::InvalidIdToken(
                    "nonce or verifier mismatch".into(),
                ));
            }
        }
        let mut user = self.user.lock().unwrap().clone();
        user.refresh_token = Some(self.okta_refresh_token());
        Ok(user)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<UpstreamIdentity, LoginError> {
        self.refreshed_with
            .lock()
            .unwrap()
            .push(refresh_token.to_owned());
        if !self
            .issued_okta_refresh
            .lock()
            .unwrap()
            .contains(refresh_token)
        {
            return Err(LoginError::Refresh("unknown refresh token".into()));
        }
        let groups = match &*self.refresh_answer.lock().unwrap() {
            RefreshAnswer::Groups(groups) => groups.clone(),
            RefreshAnswer::Refused => return Err(LoginError::Refresh("invalid_grant".into())),
            RefreshAnswer::Unreachable => {
                return Err(LoginError::Transport("connection refused".into()));
            }
        };
        let mut user = self.user.lock().unwrap().clone();
        user.groups = groups;
        user.refresh_token = Some(self.okta_refresh_token());
        Ok(user)
    }

    fn ready(&self) -> bool {
        !*self.not_ready.lock().unwrap()
    }
}

/// An [`AuthServer`] plus the browser and Okta around it.
pub(crate) struct Harness {
    pub server: Arc<AuthServer>,
    pub okta: Arc<FakeOkta>,
    pub store: Arc<MemoryStore>,
    /// The browser's cookies (name → value).
    pub browser: Mutex<HashMap<String, String>>,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with(|_| {}, MemoryStore::default())
    }

    pub(crate) fn with(adjust: impl FnOnce(&mut OAuthSettings), store: MemoryStore) -> Self {
        Self::with_url(PUBLIC, adjust, store)
    }

    /// A harness whose server knows the clients of the clients file `toml`.
    pub(crate) fn with_clients(toml: &str) -> Self {
        let clients = super::PreregisteredClients::from_toml_str(
            toml,
            "test clients",
            std::path::Path::new("."),
        )
        .unwrap();
        Self::build(PUBLIC, |_| {}, MemoryStore::default(), clients)
    }

    pub(crate) fn with_url(
        public: &str,
        adjust: impl FnOnce(&mut OAuthSettings),
        store: MemoryStore,
    ) -> Self {
        Self::build(
            public,
            adjust,
            store,
            super::PreregisteredClients::default(),
        )
    }

    fn build(
        public: &str,
        adjust: impl FnOnce(&mut OAuthSettings),
        store: MemoryStore,
        clients: super::PreregisteredClients,
    ) -> Self {
        let mut settings = OAuthSettings::new(Url::parse(public).unwrap(), vec![42u8; 32]).unwrap();
        adjust(&mut settings);
        let okta = Arc::new(FakeOkta::new());
        let store = Arc::new(store);
        let roles = Arc::new(RoleMap::from_toml_str(ROLES, "test roles").unwrap());
        let server = Arc::new(
            AuthServer::new(settings, store.clone(), okta.clone(), roles)
                .with_preregistered_clients(clients),
        );
        Self {
            server,
            okta,
            store,
            browser: Mutex::new(HashMap::new()),
        }
    }

    /// Sends a request as is (no browser cookies).
    pub(crate) async fn send(&self, request: WebRequest) -> WebResponse {
        self.server
            .handle(&request)
            .await
            .expect("one of our paths")
    }

    /// Sends a request from the browser: with its cookies, keeping the ones it sets.
    pub(crate) async fn browse(&self, mut request: WebRequest) -> WebResponse {
        let cookies: Vec<String> = self
            .browser
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        if !cookies.is_empty() {
            request.headers.insert(
                header::COOKIE,
                HeaderValue::from_str(&cookies.join("; ")).unwrap(),
            );
        }
        let response = self.send(request).await;
        for set in response.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.browser.lock().unwrap().remove(name);
            } else {
                self.browser
                    .lock()
                    .unwrap()
                    .insert(name.into(), value.into());
            }
        }
        response
    }

    pub(crate) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> WebResponse {
        let (path, query) = split_query(path);
        self.send(request(Method::GET, path, query, headers, ""))
            .await
    }

    pub(crate) async fn browse_get(&self, path_and_query: &str) -> WebResponse {
        let (path, query) = split_query(path_and_query);
        self.browse(request(Method::GET, path, query, &[], ""))
            .await
    }

    pub(crate) async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> WebResponse {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut headers = headers.to_vec();
        headers.push(("content-type", "application/x-www-form-urlencoded"));
        self.send(request(Method::POST, path, None, &headers, &body))
            .await
    }

    pub(crate) async fn browse_post_form(&self, path: &str, form: &[(&str, &str)]) -> WebResponse {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.browse(request(
            Method::POST,
            path,
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
            &body,
        ))
        .await
    }

    pub(crate) async fn post_json(&self, path: &str, body: &str) -> WebResponse {
        self.send(request(
            Method::POST,
            path,
            None,
            &[("content-type", "application/json")],
            body,
        ))
        .await
    }

    /// Registers a public client with `redirect_uris`; returns its id.
    pub(crate) async fn register_public(&self, redirect_uris: &[&str]) -> String {
        let body = serde_json::json!({
            "client_name": "Test client",
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        });
        let response = self.post_json("/register", &body.to_string()).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", text(&response));
        json_body(&response)["client_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The authorize URL a client would send its user to.
    pub(crate) fn authorize_path(
        &self,
        client_id: &str,
        redirect_uri: &str,
        challenge: &str,
        state: &str,
    ) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", state)
            .append_pair("resource", RESOURCE)
            .append_pair("scope", "mcp offline_access")
            .finish();
        format!("/authorize?{query}")
    }

    /// Approves the consent page `page` in the browser; returns the redirect to Okta.
    pub(crate) async fn approve(&self, page: &WebResponse) -> WebResponse {
        let (request_id, csrf) = consent_fields(page);
        self.browse_post_form(
            "/oauth/consent",
            &[
                ("request", &request_id),
                ("csrf", &csrf),
                ("decision", "approve"),
            ],
        )
        .await
    }

    /// Okta sends the browser back to our callback for the login `to_okta` started.
    pub(crate) async fn okta_returns(&self, to_okta: &WebResponse) -> WebResponse {
        assert_eq!(to_okta.status, StatusCode::FOUND, "{}", text(to_okta));
        let okta_url = Url::parse(location(to_okta)).unwrap();
        assert_eq!(okta_url.host_str(), Some("okta.example.com"));
        let state = query_param(&okta_url, "state").unwrap();
        self.browse_get(&format!(
            "/oauth/callback?code=okta-code-{state}&state={state}"
        ))
        .await
    }

    /// The whole browser part: authorize → consent → Okta → our code. Returns the final redirect.
    pub(crate) async fn log_in(
        &self,
        client_id: &str,
        redirect_uri: &str,
        challenge: &str,
        state: &str,
    ) -> WebResponse {
        let page = self
            .browse_get(&self.authorize_path(client_id, redirect_uri, challenge, state))
            .await;
        let to_okta = if page.status == StatusCode::OK {
            self.approve(&page).await
        } else {
            page
        };
        self.okta_returns(&to_okta).await
    }

    /// Runs the login and returns our code from the redirect to the client.
    pub(crate) async fn code_for(
        &self,
        client_id: &str,
        redirect_uri: &str,
        challenge: &str,
    ) -> String {
        let back = self.log_in(client_id, redirect_uri, challenge, "st").await;
        assert_eq!(back.status, StatusCode::FOUND, "{}", text(&back));
        let url = Url::parse(location(&back)).unwrap();
        query_param(&url, "code").expect("a code")
    }

    /// Redeems `code` at /token for a public client.
    pub(crate) async fn redeem(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> WebResponse {
        self.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
                ("client_id", client_id),
                ("resource", RESOURCE),
            ],
            &[],
        )
        .await
    }

    pub(crate) async fn refresh(&self, client_id: &str, refresh_token: &str) -> WebResponse {
        self.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client_id),
            ],
            &[],
        )
        .await
    }

    /// register → login → token: a public client's token answer (JSON).
    pub(crate) async fn tokens_for_new_client(&self) -> (String, serde_json::Value) {
        let client = self.register_public(&[CLIENT_CB]).await;
        let (verifier, challenge) = pkce();
        let code = self.code_for(&client, CLIENT_CB, &challenge).await;
        let response = self.redeem(&client, &code, CLIENT_CB, &verifier).await;
        assert_eq!(response.status, StatusCode::OK, "{}", text(&response));
        (client, json_body(&response))
    }

    /// `authenticate` with a bearer token.
    pub(crate) async fn bearer(&self, token: &str) -> Result<super::Principal, WebResponse> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        self.server
            .authenticate(&headers)
            .await
            .map(|p| (*p).clone())
    }

    /// `authenticate` with the browser's cookies.
    pub(crate) async fn with_browser_cookies(&self) -> Result<super::Principal, WebResponse> {
        let cookies: Vec<String> = self
            .browser
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&cookies.join("; ")).unwrap(),
        );
        self.server
            .authenticate(&headers)
            .await
            .map(|p| (*p).clone())
    }
}

pub(crate) fn split_query(path: &str) -> (&str, Option<&str>) {
    match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    }
}

pub(crate) fn request(
    method: Method,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> WebRequest {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    WebRequest {
        method,
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers: map,
        body: Bytes::from(body.to_owned()),
        peer: None,
    }
}

/// A PKCE (verifier, S256 challenge) pair.
pub(crate) fn pkce() -> (String, String) {
    let verifier = random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub(crate) fn text(response: &WebResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

pub(crate) fn json_body(response: &WebResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| panic!("JSON body, got {}", text(response)))
}

pub(crate) fn header<'a>(response: &'a WebResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn location(response: &WebResponse) -> &str {
    header(response, "location")
        .unwrap_or_else(|| panic!("a Location header: {} {}", response.status, text(response)))
}

pub(crate) fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The redirect's target URL.
pub(crate) fn redirect_url(response: &WebResponse) -> Url {
    assert_eq!(response.status, StatusCode::FOUND, "{}", text(response));
    Url::parse(location(response)).unwrap()
}

/// The hidden `request` and `csrf` fields of a consent page.
pub(crate) fn consent_fields(page: &WebResponse) -> (String, String) {
    let html = text(page);
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = html
            .find(&marker)
            .unwrap_or_else(|| panic!("field {name} in {html}"))
            + marker.len();
        let end = html[start..].find('"').unwrap() + start;
        html[start..end].to_owned()
    };
    (field("request"), field("csrf"))
}
