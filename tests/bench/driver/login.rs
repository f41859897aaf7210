//! Getting an access token from the proxy the way an MCP client does: the 401 challenge,
//! protected-resource and authorization-server metadata, dynamic registration, authorize with
//! PKCE S256 through our consent page and the (fake) Okta login, and the code exchange.
//! The fake org's `auto_login` stands in for the user clicking their name; nothing else is
//! skipped. Then, like a client, it can refresh the access token and revoke one.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use url::Url;

/// Where the registered client says it wants the code (never contacted).
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// A client that does not follow redirects, with a per-origin cookie jar.
struct Browser {
    http: reqwest::Client,
    jar: BTreeMap<String, BTreeMap<String, String>>,
}

impl Browser {
    fn origin(url: &Url) -> String {
        url.origin().ascii_serialization()
    }

    async fn send(
        &mut self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let cookies = self.jar.entry(Self::origin(url)).or_default();
        let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let request = if header.is_empty() {
            request
        } else {
            request.header(reqwest::header::COOKIE, header.join("; "))
        };
        let response = request.send().await.with_context(|| format!("{url}"))?;
        for line in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = line.to_str().unwrap_or_default().split(';').next();
            if let Some((name, value)) = pair.and_then(|p| p.split_once('=')) {
                cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        Ok(response)
    }
}

fn location(response: &reqwest::Response, base: &Url) -> anyhow::Result<Option<Url>> {
    if !response.status().is_redirection() {
        return Ok(None);
    }
    let raw = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("redirect without Location")?;
    Ok(Some(base.join(raw)?))
}

fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

async fn json_of(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await?;
    serde_json::from_str(&text).with_context(|| format!("{status}: {text}"))
}

/// What a login got: the tokens, and what a client needs to refresh or revoke them.
pub struct Login {
    pub access_token: String,
    /// Rotated by every refresh.
    refresh_token: Option<String>,
    pub client_id: String,
    token_endpoint: String,
    revocation_endpoint: String,
    /// The MCP URL the tokens are for (`resource`).
    resource: String,
}

/// Logs in at the proxy whose MCP URL is `mcp_url` as whichever user the fake org
/// auto-logs in.
pub async fn log_in(mcp_url: &str) -> anyhow::Result<Login> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mcp = Url::parse(mcp_url)?;

    // 1. The challenge names the protected-resource metadata.
    let challenge = http.post(mcp_url).json(&json!({})).send().await?;
    if challenge.status() != 401 {
        bail!("unauthenticated POST /mcp answered {}", challenge.status());
    }
    let www = challenge
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .context("401 without WWW-Authenticate")?;
    let metadata_url = www
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("WWW-Authenticate without resource_metadata")?;
    let resource = json_of(http.get(mcp.join(metadata_url)?).send().await?).await?;
    let issuer = resource["authorization_servers"][0]
        .as_str()
        .context("no authorization_servers")?;
    let server = json_of(
        http.get(format!("{issuer}/.well-known/oauth-authorization-server"))
            .send()
            .await?,
    )
    .await?;
    let endpoint = |name: &str| {
        server[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("metadata without {name}"))
    };

    // 2. Dynamic client registration.
    let registration = http
        .post(endpoint("registration_endpoint")?)
        .json(&json!({
            "client_name": "okta-mcp bench",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }))
        .send()
        .await?;
    if registration.status() != 201 {
        bail!("register: {}", registration.status());
    }
    let client_id = json_of(registration).await?["client_id"]
        .as_str()
        .context("no client_id")?
        .to_owned();

    // 3. Authorize with PKCE: consent page, Okta login, our code back at the redirect URI.
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
    let mut url = Url::parse(&endpoint("authorization_endpoint")?)?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", mcp.as_str())
        .append_pair("scope", "mcp offline_access")
        .append_pair("state", &state);
    let mut browser = Browser {
        http: http.clone(),
        jar: BTreeMap::new(),
    };
    let mut back = None;
    for _ in 0..10 {
        let response = browser.send(&url, browser.http.get(url.clone())).await?;
        let next = match location(&response, &url)? {
            Some(next) => next,
            None => {
                let status = response.status();
                let html = response.text().await?;
                let (Some(request), Some(csrf)) =
                    (form_field(&html, "request"), form_field(&html, "csrf"))
                else {
                    bail!("{url} answered {status}, neither a redirect nor the consent page");
                };
                let consent = url.join("/oauth/consent")?;
                let form = [
                    ("request", request),
                    ("csrf", csrf),
                    ("decision", "approve".to_owned()),
                ];
                let post = browser.http.post(consent.clone()).form(&form);
                let answer = browser.send(&consent, post).await?;
                location(&answer, &consent)?.context("consent did not redirect")?
            }
        };
        if next.as_str().starts_with(REDIRECT_URI) {
            back = Some(next);
            break;
        }
        url = next;
    }
    let back = back.context("authorize never came back to the redirect URI")?;
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(state.as_str()) {
        bail!("state mismatch in {back}");
    }
    let code = param("code").with_context(|| format!("no code in {back}"))?;

    // 4. The code exchange.
    let token_endpoint = endpoint("token_endpoint")?;
    let tokens = json_of(
        http.post(&token_endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", &code),
                ("code_verifier", &verifier),
                ("redirect_uri", REDIRECT_URI),
                ("resource", mcp.as_str()),
            ])
            .send()
            .await?,
    )
    .await?;
    Ok(Login {
        access_token: tokens["access_token"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no access_token in {tokens}"))?,
        refresh_token: tokens["refresh_token"].as_str().map(str::to_owned),
        client_id,
        token_endpoint,
        revocation_endpoint: endpoint("revocation_endpoint")?,
        resource: mcp.to_string(),
    })
}

/// Logs in and returns just the access token.
pub async fn access_token(mcp_url: &str) -> anyhow::Result<String> {
    Ok(log_in(mcp_url).await?.access_token)
}

impl Login {
    /// A fresh access token from the refresh-token grant (keeping the rotated refresh token).
    pub async fn refresh(&mut self, http: &reqwest::Client) -> anyhow::Result<String> {
        let refresh_token = self
            .refresh_token
            .as_deref()
            .context("the login got no refresh token")?;
        let tokens = json_of(
            http.post(&self.token_endpoint)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", &self.client_id),
                    ("refresh_token", refresh_token),
                    ("resource", &self.resource),
                ])
                .send()
                .await?,
        )
        .await?;
        let access_token = tokens["access_token"]
            .as_str()
            .with_context(|| format!("refresh: no access_token in {tokens}"))?;
        self.refresh_token = tokens["refresh_token"].as_str().map(str::to_owned);
        self.access_token = access_token.to_owned();
        Ok(self.access_token.clone())
    }

    /// `POST /revoke` of `token` at the proxy that issued this login (RFC 7009).
    pub async fn revoke(&self, http: &reqwest::Client, token: &str) -> anyhow::Result<()> {
        let response = http
            .post(&self.revocation_endpoint)
            .form(&[("token", token), ("client_id", &self.client_id)])
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("revoke: {}", response.status());
        }
        Ok(())
    }
}
