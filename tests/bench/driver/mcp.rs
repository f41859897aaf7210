//! A small MCP streamable-HTTP client: through the proxy with a bearer token, or straight to
//! the tool server signing identity headers the way the proxy does.

use anyhow::{Context, bail};
use okta_mcp_tool_server::identity::{self, Identity, IdentityKey, RequestBinding};
use serde_json::{Value, json};

/// How a request proves who is calling.
#[derive(Clone)]
pub enum Credential {
    /// `Authorization: Bearer …` (to the proxy).
    Bearer(String),
    /// Identity headers signed with the shared key (to the tool server, or a bare proxy).
    Signed(IdentityKey, Identity),
}

/// The protocol revision the benchmark speaks (`initialize`, then `Mcp-Session-Id` if the
/// server hands one out).
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Identity headers for one request, as the proxy would add them for `path` and `session_id`,
/// stamped `t` (unix seconds; the tool server accepts them while its clock is within
/// `identity::MAX_SKEW_SECS` of `t`).
pub fn identity_headers(
    key: &IdentityKey,
    who: &Identity,
    path: &str,
    session_id: &str,
    t: i64,
) -> [(&'static str, String); 4] {
    let binding = RequestBinding {
        method: "POST",
        path,
        session_id,
    };
    [
        (identity::ROLE_HEADER, who.role.clone()),
        (identity::SUBJECT_HEADER, who.subject.clone()),
        (identity::EMAIL_HEADER, who.email.clone()),
        (
            identity::IDENTITY_HEADER,
            identity::sign(key, t, &identity::new_nonce(), binding, who),
        ),
    ]
}

/// One initialized MCP client, with the session id the server gave it, if any (a stateless
/// server gives none).
pub struct McpSession {
    http: reqwest::Client,
    pub url: String,
    path: String,
    credential: Credential,
    pub session_id: Option<String>,
    next_id: u64,
}

/// An answer: HTTP status, the session id header, and the JSON-RPC message it carried.
pub struct Answer {
    pub status: u16,
    pub session_id: Option<String>,
    pub message: Option<Value>,
    pub body: String,
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    credential: &Credential,
    session_id: Option<&str>,
    body: &Value,
) -> anyhow::Result<Answer> {
    let mut request = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(id) = session_id {
        request = request.header(identity::SESSION_HEADER, id);
    }
    // Every request after `initialize` names the negotiated revision.
    if body.get("method").and_then(Value::as_str) != Some("initialize") {
        request = request.header("mcp-protocol-version", PROTOCOL_VERSION);
    }
    match credential {
        Credential::Bearer(token) => request = request.bearer_auth(token),
        Credential::Signed(key, who) => {
            let now = chrono::Utc::now().timestamp();
            for (name, value) in identity_headers(key, who, path, session_id.unwrap_or(""), now) {
                request = request.header(name, value);
            }
        }
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status().as_u16();
    let session_id = response
        .headers()
        .get(identity::SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    // A JSON body, or the `data:` line of an SSE event that carries the response.
    let message = serde_json::from_str(&body).ok().or_else(|| {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m.get("id").is_some())
    });
    Ok(Answer {
        status,
        session_id,
        message,
        body,
    })
}

impl McpSession {
    /// `initialize` + `notifications/initialized` at `url`.
    pub async fn open(
        http: &reqwest::Client,
        url: &str,
        credential: Credential,
    ) -> anyhow::Result<Self> {
        let path = url::Url::parse(url)?.path().to_owned();
        let init = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "okta-mcp-bench", "version": "1"}
            }
        });
        let answer = post(http, url, &path, &credential, None, &init).await?;
        if answer.status != 200 {
            bail!("initialize at {url}: {} {}", answer.status, answer.body);
        }
        let session_id = answer.session_id;
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let answer = post(http, url, &path, &credential, session_id.as_deref(), &note).await?;
        if answer.status != 202 {
            bail!("initialized at {url}: {} {}", answer.status, answer.body);
        }
        Ok(Self {
            http: http.clone(),
            url: url.to_owned(),
            path,
            credential,
            session_id,
            next_id: 1,
        })
    }

    /// Sends a request in this session; the raw answer.
    pub async fn send(&mut self, method: &str, params: Value) -> anyhow::Result<Answer> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        post(
            &self.http,
            &self.url,
            &self.path,
            &self.credential,
            self.session_id.as_deref(),
            &body,
        )
        .await
    }

    /// `tools/call`; the JSON-RPC response (result or error). Anything but 200 is an error.
    pub async fn call(&mut self, tool: &str, arguments: Value) -> anyhow::Result<Value> {
        let answer = self
            .send("tools/call", json!({"name": tool, "arguments": arguments}))
            .await?;
        if answer.status != 200 {
            bail!("tools/call {tool}: {} {}", answer.status, answer.body);
        }
        answer
            .message
            .with_context(|| format!("tools/call {tool}: no JSON-RPC response in {}", answer.body))
    }
}
