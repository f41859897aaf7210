//! An OAuth client and an MCP client for tests that go through the proxy without Node.
//!
//! [`Browser`] is a cookie jar that follows redirects one hop at a time, so a test sees every
//! `Location` and `Set-Cookie` and can answer the consent page itself. [`OAuthClient`] registers
//! (RFC 7591), authorizes through consent and the fake org's auto-login, and exchanges codes.
//! [`ProxiedMcp`] speaks MCP to `/mcp` with a bearer token or a session cookie.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Value, json};
use url::Url;

use crate::harness::{Answer, TEST_CLIENT_ID, TEST_CLIENT_SECRET, http_client, read_answer};

/// A reqwest client that never follows redirects (installs the rustls provider first).
pub fn manual_redirect_client() -> reqwest::Client {
    let _ = http_client();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// A browser: a per-origin cookie jar over a client that does not follow redirects.
pub struct Browser {
    http: reqwest::Client,
    jar: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    set_cookie_lines: Mutex<Vec<String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new(manual_redirect_client())
    }
}

fn origin_of(url: &str) -> String {
    Url::parse(url)
        .expect("absolute URL")
        .origin()
        .ascii_serialization()
}

impl Browser {
    /// A browser using `http`, which must not follow redirects.
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            jar: Mutex::new(BTreeMap::new()),
            set_cookie_lines: Mutex::new(Vec::new()),
        }
    }

    /// The cookie `name` this browser holds for the origin of `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar
            .lock()
            .unwrap()
            .get(&origin_of(url))
            .and_then(|cookies| cookies.get(name).cloned())
    }

    /// Every `Set-Cookie` header value received so far, in order.
    pub fn set_cookie_lines(&self) -> Vec<String> {
        self.set_cookie_lines.lock().unwrap().clone()
    }

    fn cookie_header(&self, url: &str) -> Option<String> {
        let jar = self.jar.lock().unwrap();
        let cookies = jar.get(&origin_of(url))?;
        let pairs: Vec<String> = cookies
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn keep_cookies(&self, url: &str, response: &reqwest::Response) {
        let mut jar = self.jar.lock().unwrap();
        let cookies = jar.entry(origin_of(url)).or_default();
        for line in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let line = line.to_str().unwrap_or_default().to_owned();
            let pair = line.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
            self.set_cookie_lines.lock().unwrap().push(line);
        }
    }

    async fn send(&self, url: &str, request: reqwest::RequestBuilder) -> reqwest::Response {
        let request = match self.cookie_header(url) {
            Some(cookie) => request.header(reqwest::header::COOKIE, cookie),
            None => request,
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        self.keep_cookies(url, &response);
        response
    }

    /// `GET url` with this browser's cookies.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.send(url, self.http.get(url)).await
    }

    /// `POST url` with a form body and this browser's cookies.
    pub async fn post_form<F: serde::Serialize + ?Sized>(
        &self,
        url: &str,
        form: &F,
    ) -> reqwest::Response {
        self.send(url, self.http.post(url).form(form)).await
    }

    /// Follows redirects from `url`, pressing Approve on a consent page, until a `Location`
    /// satisfies `stop`; returns that location (absolute).
    pub async fn follow(&self, url: &str, stop: impl Fn(&Url) -> bool) -> Url {
        let mut url = Url::parse(url).expect("absolute URL");
        for _ in 0..10 {
            let response = self.get(url.as_str()).await;
            let status = response.status().as_u16();
            let next = if matches!(status, 302 | 303) {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_else(|| panic!("{status} from {url} without Location"));
                url.join(location).expect("Location is a URL")
            } else {
                let html = response.text().await.unwrap_or_default();
                assert!(
                    status == 200 && html.contains("action=\"/oauth/consent\""),
                    "{url} answered {status}, not a redirect or the consent page: {html}"
                );
                let consent = url.join("/oauth/consent").expect("consent URL");
                let answer = self
                    .post_form(consent.as_str(), &consent_form(&html, "approve"))
                    .await;
                let status = answer.status().as_u16();
                let location = answer
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let Some(location) = location else {
                    panic!(
                        "consent answered {status} without Location: {}",
                        answer.text().await.unwrap_or_default()
                    )
                };
                consent.join(&location).expect("Location is a URL")
            };
            if stop(&next) {
                return next;
            }
            url = next;
        }
        panic!("more than 10 redirects from {url}");
    }
}

/// The value of the hidden field `name` in an HTML form.
pub fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// The consent form's fields with `decision` ("approve" or "deny").
pub fn consent_form(html: &str, decision: &str) -> [(&'static str, String); 3] {
    [
        (
            "request",
            form_field(html, "request").expect("request field"),
        ),
        ("csrf", form_field(html, "csrf").expect("csrf field")),
        ("decision", decision.to_owned()),
    ]
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A fresh random pair.
    pub fn new() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        Self {
            challenge: s256(&verifier),
            verifier,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// The S256 challenge of `verifier`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// The JSON body and status of a response.
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A public client registered at the proxy.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// e.g. `http://127.0.0.1:40125`
    pub public_url: String,
    pub client_id: String,
    /// The first registered redirect URI.
    pub redirect_uri: String,
}

/// An access token and what came with it.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub client: OAuthClient,
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl OAuthClient {
    /// Registers a public client (`token_endpoint_auth_method: none`) with `redirect_uris`.
    pub async fn register(
        http: &reqwest::Client,
        public_url: &str,
        redirect_uris: &[&str],
    ) -> Self {
        let (status, body) = json_of(
            http.post(format!("{public_url}/register"))
                .json(&json!({
                    "client_name": "okta-mcp e2e",
                    "redirect_uris": redirect_uris,
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                }))
                .send()
                .await
                .expect("POST /register"),
        )
        .await;
        assert_eq!(status, 201, "register: {body}");
        Self {
            public_url: public_url.to_owned(),
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
            redirect_uri: redirect_uris[0].to_owned(),
        }
    }

    /// The canonical MCP URL, sent as `resource`.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.public_url)
    }

    /// An `/authorize` URL with S256, `resource` and `state`, redirecting to `redirect_uri`.
    pub fn authorize_url(&self, redirect_uri: &str, pkce: &Pkce, state: &str) -> String {
        let mut url = Url::parse(&format!("{}/authorize", self.public_url)).expect("URL");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("resource", &self.resource())
            .append_pair("scope", "mcp offline_access")
            .append_pair("state", state);
        url.to_string()
    }

    /// Authorizes in `browser` (consent approved, the fake org logs its auto-login user in) and
    /// returns our code from the redirect to `redirect_uri`, after checking `state` and `iss`.
    pub async fn authorize(&self, browser: &Browser, redirect_uri: &str, pkce: &Pkce) -> String {
        let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
        let back = browser
            .follow(&self.authorize_url(redirect_uri, pkce, &state), |url| {
                url.as_str().starts_with(redirect_uri)
            })
            .await;
        let param = |name: &str| {
            back.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some(state.as_str()), "{back}");
        assert_eq!(param("iss").as_deref(), Some(self.public_url.as_str()));
        param("code").unwrap_or_else(|| panic!("no code in {back}"))
    }

    /// `POST /token` with `form`; status and JSON body.
    pub async fn token(&self, http: &reqwest::Client, form: &[(&str, &str)]) -> (u16, Value) {
        json_of(
            http.post(format!("{}/token", self.public_url))
                .form(form)
                .send()
                .await
                .expect("POST /token"),
        )
        .await
    }

    /// Redeems `code` with `verifier` and `redirect_uri` (and `resource`).
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> (u16, Value) {
        let resource = self.resource();
        self.token(
            http,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &self.client_id),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect_uri),
                ("resource", &resource),
            ],
        )
        .await
    }

    /// `POST /revoke` (RFC 7009) of `token` as this client, at `public_url` (a replica or the
    /// load balancer); the revocation must be accepted.
    pub async fn revoke_at(&self, public_url: &str, token: &str) {
        let answer = crate::harness::http_client()
            .post(format!("{public_url}/revoke"))
            .form(&[("token", token), ("client_id", self.client_id.as_str())])
            .send()
            .await
            .expect("POST /revoke");
        assert_eq!(answer.status(), 200, "revoke");
    }

    /// Authorizes in a new browser and redeems the code; the exchange must succeed.
    /// `http` must not follow redirects.
    pub async fn tokens(&self, http: &reqwest::Client) -> Tokens {
        let pkce = Pkce::new();
        let code = self
            .authorize(&Browser::new(http.clone()), &self.redirect_uri, &pkce)
            .await;
        let (status, body) = self
            .exchange(http, &code, &pkce.verifier, &self.redirect_uri)
            .await;
        assert_eq!(status, 200, "token: {body}");
        Tokens {
            client: self.clone(),
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        }
    }
}

/// Registers a client with a loopback redirect URI and returns tokens for whichever user the
/// fake org logs in (`Stack::auto_login`). `http` must not follow redirects.
pub async fn log_in(http: &reqwest::Client, public_url: &str) -> Tokens {
    OAuthClient::register(http, public_url, &["http://127.0.0.1:9/callback"])
        .await
        .tokens(http)
        .await
}

/// Tokens straight from the fake org's token endpoint for the proxy's own Okta app: what a
/// client could get at Okta and try at `/mcp` (`id_token`, `access_token`, …).
pub async fn okta_tokens(okta_url: &str, redirect_uri: &str) -> Value {
    let http = manual_redirect_client();
    let mut authorize = Url::parse(&format!("{okta_url}/oauth2/v1/authorize")).expect("URL");
    authorize
        .query_pairs_mut()
        .append_pair("client_id", TEST_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile groups")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "okta-state")
        .append_pair("nonce", "okta-nonce");
    let response = http
        .get(authorize.as_str())
        .send()
        .await
        .expect("Okta authorize");
    assert_eq!(
        response.status(),
        302,
        "Okta authorize (is auto_login set?)"
    );
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("Location")
        .to_owned();
    let code = Url::parse(&location)
        .expect("redirect URL")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"));
    let (status, body) = json_of(
        http.post(format!("{okta_url}/oauth2/v1/token"))
            .basic_auth(TEST_CLIENT_ID, Some(TEST_CLIENT_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
            ])
            .send()
            .await
            .expect("Okta token"),
    )
    .await;
    assert_eq!(status, 200, "Okta token: {body}");
    body
}

/// What `/mcp` is shown to prove who is calling.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `Authorization: Bearer …`
    Bearer(String),
    /// A `Cookie` header value, e.g. `mcp_session=…`.
    Cookie(String),
    /// Nothing.
    None,
}

/// An MCP client for the proxy's `/mcp`, with a credential and any extra headers.
pub struct ProxiedMcp {
    http: reqwest::Client,
    pub url: String,
    credential: Credential,
    extra_headers: Vec<(String, String)>,
    pub session_id: Option<String>,
    pub protocol_version: String,
    next_id: u64,
}

impl ProxiedMcp {
    /// A client for `mcp_url` showing `credential`.
    pub fn new(http: &reqwest::Client, mcp_url: &str, credential: Credential) -> Self {
        Self {
            http: http.clone(),
            url: mcp_url.to_owned(),
            credential,
            extra_headers: Vec::new(),
            session_id: None,
            protocol_version: "2025-11-25".into(),
            next_id: 1,
        }
    }

    /// Sends `name: value` on every request too.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.extra_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A request to `/mcp` with the credential, session and extra headers.
    pub fn request_builder(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, &self.url);
        match &self.credential {
            Credential::Bearer(token) => request = request.bearer_auth(token),
            Credential::Cookie(cookie) => request = request.header("cookie", cookie),
            Credential::None => {}
        }
        if let Some(id) = &self.session_id {
            request = request.header("mcp-session-id", id);
        }
        for (name, value) in &self.extra_headers {
            request = request.header(name, value);
        }
        request
    }

    /// Opens the standalone SSE stream (`GET /mcp`) of this session.
    pub fn open_stream(
        &self,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        self.request_builder(reqwest::Method::GET)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", &self.protocol_version)
            .send()
    }

    /// POSTs one JSON-RPC message.
    pub async fn post(&self, body: &Value) -> Answer {
        let mut request = self
            .request_builder(reqwest::Method::POST)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if body.get("method").and_then(Value::as_str) != Some("initialize") {
            request = request.header("mcp-protocol-version", &self.protocol_version);
        }
        let response = request.send().await.expect("POST /mcp");
        read_answer(response, body.get("id")).await
    }

    /// The HTTP status of one `initialize` request with the bearer `token` at `mcp_url`
    /// (nothing else is sent, so a token revoked right after cannot fail a second request).
    pub async fn bearer_status(mcp_url: &str, token: &str) -> u16 {
        let http = crate::harness::http_client();
        let mut mcp = Self::new(&http, mcp_url, Credential::Bearer(token.to_owned()));
        let id = mcp.take_id();
        let body = json!({
            "jsonrpc": "2.0", "id": id, "method": "initialize",
            "params": {
                "protocolVersion": mcp.protocol_version,
                "capabilities": {},
                "clientInfo": {"name": "okta-mcp-proxy-e2e", "version": "1"}
            }
        });
        mcp.post(&body).await.status
    }

    /// `initialize` (its answer is returned as is) and, when it succeeded,
    /// `notifications/initialized`.
    pub async fn initialize(&mut self) -> Answer {
        let id = self.take_id();
        let answer = self
            .post(&json!({
                "jsonrpc": "2.0", "id": id, "method": "initialize",
                "params": {
                    "protocolVersion": self.protocol_version,
                    "capabilities": {},
                    "clientInfo": {"name": "okta-mcp-proxy-e2e", "version": "1"}
                }
            }))
            .await;
        if answer.status != 200 {
            return answer;
        }
        self.session_id = answer
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(v) = answer
            .message
            .as_ref()
            .and_then(|m| m["result"]["protocolVersion"].as_str())
        {
            self.protocol_version = v.to_owned();
        }
        let note = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(note.status, 202, "initialized: {note:?}");
        answer
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends a request that must answer 200; returns its JSON-RPC response message.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.take_id();
        let answer = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(answer.status, 200, "{method}: {answer:?}");
        answer
            .message
            .unwrap_or_else(|| panic!("{method}: no JSON-RPC response in {:?}", answer.body))
    }

    /// Names of the tools `tools/list` shows, sorted.
    pub async fn tool_names(&mut self) -> Vec<String> {
        crate::harness::tool_names_of(&self.request("tools/list", json!({})).await)
    }

    /// `tools/call`; the whole JSON-RPC response.
    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }
}
