//! Client ID Metadata Documents end to end: the MCP TypeScript SDK client offers the https URL
//! of its metadata document (served by this test over HTTPS with a self-signed certificate)
//! instead of registering; the proxy fetches it, checks it, caches it, shows its verified host
//! on the consent page, and issues tokens. DCR keeps working for clients without one. Every
//! refused document is `invalid_client` with a description saying what to fix.
//!
//! The proxy is started with the two test-only settings the README marks as such:
//! `CIMD_ALLOW_LOOPBACK_FOR_TESTS` (the document server is on loopback) and
//! `CIMD_EXTRA_CA_FOR_TESTS` (its certificate); one test runs without the first to see the
//! loopback address refused.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okta_mcp_tests::harness::{Stack, http_client, node_client};
use serde_json::{Value, json};

/// An HTTPS server on loopback answering a few client metadata documents, good and bad.
struct DocumentServer {
    port: u16,
    ca_file: PathBuf,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    _dir: tempfile::TempDir,
}

impl DocumentServer {
    fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, certified.cert.pem()).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(vec![certified.cert.der().clone()], key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = config.clone();
                let hits = counted.clone();
                std::thread::spawn(move || serve(stream, config, port, hits));
            }
        });
        Self {
            port,
            ca_file,
            hits,
            _dir: dir,
        }
    }

    fn url(&self, name: &str) -> String {
        format!("https://localhost:{}/{name}/client.json", self.port)
    }

    fn hits(&self, name: &str) -> usize {
        let path = format!("/{name}/client.json");
        self.hits.lock().unwrap().get(&path).copied().unwrap_or(0)
    }
}

/// Answers one connection: the document named by the path's first segment.
fn serve(
    tcp: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
) {
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let me = format!("https://localhost:{port}{path}");
    let document = |extra: Value| {
        let mut doc = json!({
            "client_id": me,
            "client_name": "CIMD test client",
            "redirect_uris": ["http://127.0.0.1:9/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        doc.to_string()
    };
    let ok = |body: String| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=60\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let answer = match path.split('/').nth(1).unwrap_or("") {
        "good" => ok(document(json!({}))),
        "mismatch" => ok(document(
            json!({"client_id": "https://elsewhere.example/client.json"}),
        )),
        "secret-post" => ok(document(
            json!({"token_endpoint_auth_method": "client_secret_post"}),
        )),
        // A JSON body under another media type (a login page, an error page) is not a document.
        "html" => ok(document(json!({}))).replace("application/json", "text/html"),
        "redirect" => format!(
            "HTTP/1.1 302 Found\r\nlocation: https://localhost:{port}/good/client.json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
        "big" => {
            // No length given: only the streamed cap stops it.
            let padding = "x".repeat(64 * 1024);
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{}",
                document(json!({"client_name": padding}))
            )
        }
        "slow" => {
            std::thread::sleep(Duration::from_secs(8));
            ok(document(json!({})))
        }
        _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
    };
    let _ = tls.write_all(answer.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

async fn stack_for(documents: &DocumentServer, allow_loopback: bool) -> Stack {
    let ca = documents.ca_file.display().to_string();
    let loopback = if allow_loopback { "true" } else { "false" };
    Stack::start(&[
        ("CIMD_EXTRA_CA_FOR_TESTS", ca.as_str()),
        ("CIMD_ALLOW_LOOPBACK_FOR_TESTS", loopback),
        ("CIMD_DENIED_HOSTS", "denied.example"),
    ])
    .await
}

/// `POST /token` naming `client_id`: the client is resolved before the code is looked at.
async fn token_with(stack: &Stack, client_id: &str) -> (u16, Value) {
    let response = http_client()
        .post(format!("{}/token", stack.proxy.public_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", "not-a-code"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", &"v".repeat(43)),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_sdk_logs_in_with_a_client_id_metadata_document_and_dcr_still_works() {
    let documents = DocumentServer::start();
    let stack = stack_for(&documents, true).await;
    let metadata = stack.proxy.authorization_server_metadata().await;
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    let url = documents.url("good");
    stack.auto_login("alice@example.com").await;
    let report = node_client("sdk-flow.mjs", &[&stack.proxy.mcp_url, "cimd", &url]).await;
    assert_eq!(report["connected"], true, "{report}");
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(
        report["first"]["tools"].as_array().map(Vec::len),
        Some(12),
        "{report}"
    );
    let steps = report["steps"].as_array().unwrap();
    let registered = steps.iter().find(|s| s["name"] == "registered").unwrap();
    assert_eq!(
        registered["client_id"],
        url.as_str(),
        "the SDK used the URL as its client_id"
    );
    let consent = steps.iter().find(|s| s["name"] == "consent page").unwrap();
    assert_eq!(consent["verifiedHost"], "localhost", "{consent}");
    // Fetched once at /authorize; the callback and /token used the cached copy.
    assert_eq!(documents.hits("good"), 1);

    // A client that offers no document registers as before.
    stack.auto_login("bob@example.com").await;
    let report = node_client("sdk-flow.mjs", &[&stack.proxy.mcp_url, "basic"]).await;
    assert_eq!(report["connected"], true, "{report}");
    let steps = report["steps"].as_array().unwrap();
    let registered = steps.iter().find(|s| s["name"] == "registered").unwrap();
    assert!(
        !registered["client_id"].as_str().unwrap().contains(':'),
        "{registered}"
    );
    let consent = steps.iter().find(|s| s["name"] == "consent page").unwrap();
    assert!(consent["verifiedHost"].is_null(), "{consent}");
}

#[tokio::test]
async fn refused_documents_are_invalid_client_saying_what_to_fix() {
    let documents = DocumentServer::start();
    let stack = stack_for(&documents, true).await;
    let http_url = documents.url("good").replace("https://", "http://");
    for (client_id, expected) in [
        (http_url.as_str(), "must use https"),
        (&documents.url("redirect"), "redirect"),
        (&documents.url("mismatch"), "must equal the URL"),
        (
            &documents.url("secret-post"),
            "must not be client_secret_post",
        ),
        (&documents.url("big"), "larger than"),
        (&documents.url("html"), "content type"),
        (&documents.url("slow"), "did not arrive within"),
        (&documents.url("missing"), "HTTP 404"),
        ("https://denied.example/client.json", "denied host"),
        (
            "https://169.254.169.254/latest/meta-data",
            "not a public address",
        ),
    ] {
        let (status, body) = token_with(&stack, client_id).await;
        assert_eq!(status, 401, "{client_id}: {body}");
        assert_eq!(body["error"], "invalid_client", "{client_id}: {body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(expected), "{client_id}: {description}");
    }
    assert_eq!(documents.hits("good"), 0, "an http URL is never fetched");
    assert_eq!(
        documents.hits("redirect"),
        1,
        "and a redirect is not followed"
    );

    // The good document works at /token (the code is what is wrong), and at /authorize a
    // redirect URI it does not list is refused without redirecting anywhere.
    let good = documents.url("good");
    let (status, body) = token_with(&stack, &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let authorize = |redirect_uri: &str, client_id: &str| {
        let mut url = url::Url::parse(&format!("{}/authorize", stack.proxy.public_url)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("code_challenge", &"c".repeat(43))
            .append_pair("code_challenge_method", "S256");
        http_client().get(url).send()
    };
    let page = authorize("http://127.0.0.1:9/elsewhere", &good)
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("location").is_none());
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("not one the app registered")
    );
    // A refused document at /authorize is a page naming invalid_client and the reason.
    let page = authorize("http://127.0.0.1:9/callback", &documents.url("mismatch"))
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("invalid_client") && text.contains("must equal the URL"),
        "{text}"
    );
}

#[tokio::test]
async fn a_loopback_document_is_refused_without_the_test_setting() {
    let documents = DocumentServer::start();
    let stack = stack_for(&documents, false).await;
    let (status, body) = token_with(&stack, &documents.url("good")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains("not a public address"),
        "{description}"
    );
    assert_eq!(documents.hits("good"), 0, "no connection was made");
}
