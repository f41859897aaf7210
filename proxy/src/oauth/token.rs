//! `POST /token`: the authorization-code grant (PKCE) and the refresh-token grant (rotation,
//! reuse detection, role read again from Okta). Both refuse what was read from Okta before the
//! subject's cut-off (an Okta Event Hook): a code before any cut-off, a refresh token before an
//! `Everything` one; after a `Role` one, the refresh reads the groups again as always.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::authorize::is_pkce_value;
use super::callback::AuthorizationCode;
use super::clients::RegisteredClient;
use super::params::Params;
use super::preregistered::{CLIENT_CREDENTIALS, JWT_BEARER};
use super::{
    AuthServer, cors, method_not_allowed, no_store, now, oauth_error, preflight, store_unavailable,
};
use crate::metrics::{METRICS, RefreshOutcome};
use crate::okta_login::LoginError;
use crate::revocations::now_ms;
use crate::tokens::{Grant, RefreshToken, random_token, same_text, sha256_b64};
use crate::web::{WebRequest, WebResponse};

/// Longer codes and refresh tokens are not ours; refuse them before hashing.
const MAX_GRANT_VALUE: usize = 512;

/// A refresh token's state, stored under the SHA-256 of the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RefreshRecord {
    pub family: String,
    pub client_id: String,
    pub subject: String,
    pub email: String,
    pub role: String,
    pub scope: String,
    pub okta_refresh_token: String,
    /// Unix milliseconds at which this login's status and groups were last read from Okta (0
    /// in records from before it existed: refused by any `Everything` cut-off).
    #[serde(default)]
    pub seen: i64,
}

impl RefreshRecord {
    pub(super) fn key(token: &str) -> String {
        format!("refresh:{}", sha256_b64(token))
    }
}

/// Names the family of a code or refresh token, to revoke if it is used twice. Written when the
/// code or token is issued, before anyone holds it, and never taken: so of two redemptions racing
/// on two replicas, the one whose atomic `take` finds nothing still finds this and revokes the
/// family the winner is getting.
pub(super) fn used_key(kind: &str, value: &str) -> String {
    format!("{kind}-used:{}", sha256_b64(value))
}

fn bad_request(error: &str, description: &str) -> WebResponse {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

impl AuthServer {
    /// `POST /token`.
    pub(super) async fn token(&self, request: &WebRequest) -> WebResponse {
        match request.method {
            Method::POST => {}
            Method::OPTIONS => return preflight("POST, OPTIONS"),
            _ => return method_not_allowed("POST"),
        }
        match self.token_grant(request).await {
            Ok(response) | Err(response) => response,
        }
    }

    async fn token_grant(&self, request: &WebRequest) -> Result<WebResponse, WebResponse> {
        let form = Params::parse(&request.body)
            .map_err(|e| bad_request("invalid_request", &e.describe()))?;
        let client = self.authenticate_client(request, &form).await?;
        if form.get("resource").is_some_and(|r| r != self.resource) {
            return Err(bad_request(
                "invalid_target",
                &format!("resource must be {}", self.resource),
            ));
        }
        match form.get("grant_type") {
            Some("authorization_code") => self.code_grant(&client, &form).await,
            Some("refresh_token") => {
                let result = self.refresh_grant(&client, &form).await;
                METRICS.refresh(match &result {
                    Ok(_) => RefreshOutcome::Success,
                    Err(answer) if answer.status.is_server_error() => RefreshOutcome::Unavailable,
                    Err(_) => RefreshOutcome::Refused,
                });
                result
            }
            Some(JWT_BEARER) => self.id_jag_grant(&client, &form).await,
            Some(CLIENT_CREDENTIALS) => self.client_credentials_grant(&client, &form).await,
            Some(_) => Err(bad_request(
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:jwt-bearer",
            )),
            None => Err(bad_request("invalid_request", "grant_type is missing")),
        }
    }

    /// `grant_type=authorization_code`.
    async fn code_grant(
        &self,
        client: &RegisteredClient,
        form: &Params,
    ) -> Result<WebResponse, WebResponse> {
        let Some(code) = form.get("code") else {
            return Err(bad_request("invalid_request", "code is missing"));
        };
        if code.len() > MAX_GRANT_VALUE {
            return Err(bad_request(
                "invalid_grant",
                "the code is unknown or has expired",
            ));
        }
        let record: AuthorizationCode = match self
            .take(&AuthorizationCode::key(code))
            .await
            .map_err(store_unavailable)?
        {
            Some(record) => record,
            None => {
                // A second use: whatever the first use got is revoked (RFC 6749 §4.1.2).
                if let Some(family) = self
                    .store
                    .get(&used_key("code", code))
                    .await
                    .map_err(store_unavailable)?
                {
                    tracing::warn!(client_id = %client.client_id, "authorization code reused; revoking its tokens");
                    self.revocations
                        .revoke_family(&family, self.settings.refresh_token_ttl)
                        .await
                        .map_err(store_unavailable)?;
                    return Err(bad_request(
                        "invalid_grant",
                        "the code was already used; the tokens issued for it are revoked",
                    ));
                }
                return Err(bad_request(
                    "invalid_grant",
                    "the code is unknown or has expired",
                ));
            }
        };
        if record.client_id != client.client_id {
            return Err(bad_request(
                "invalid_grant",
                "the code was issued to another client",
            ));
        }
        let cutoffs = self
            .revocations
            .cutoffs_in_store(&record.subject)
            .await
            .map_err(store_unavailable)?;
        if !cutoffs.role_current(record.seen) {
            tracing::info!(subject = ?record.subject, "code refused: its user was cut off at Okta since the login");
            return Err(bad_request(
                "invalid_grant",
                "your Okta account changed since this sign-in; sign in again",
            ));
        }
        match form.get("redirect_uri") {
            Some(uri) if uri != record.redirect_uri => {
                return Err(bad_request(
                    "invalid_grant",
                    "redirect_uri differs from the authorization request",
                ));
            }
            None if record.redirect_uri_given => {
                return Err(bad_request("invalid_request", "redirect_uri is missing"));
            }
            _ => {}
        }
        let Some(verifier) = form.get("code_verifier") else {
            return Err(bad_request("invalid_request", "code_verifier is missing"));
        };
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !is_pkce_value(verifier) || !same_text(&computed, &record.code_challenge) {
            return Err(bad_request(
                "invalid_grant",
                "PKCE verification failed (code_verifier)",
            ));
        }

        self.establish(client).await.map_err(store_unavailable)?;
        // Codes issued before families were chosen at issue time have none.
        let family = if record.family.is_empty() {
            random_token(16)
        } else {
            record.family
        };
        let grant = Grant {
            subject: record.subject,
            email: record.email,
            role: record.role,
            client_id: client.client_id.clone(),
            scope: record.scope,
            family,
        };
        self.issue(client, grant, record.okta_refresh_token, record.seen)
            .await
    }

    /// `grant_type=refresh_token`.
    async fn refresh_grant(
        &self,
        client: &RegisteredClient,
        form: &Params,
    ) -> Result<WebResponse, WebResponse> {
        let Some(token) = form.get("refresh_token") else {
            return Err(bad_request("invalid_request", "refresh_token is missing"));
        };
        if !client.allows_refresh() {
            return Err(bad_request(
                "unauthorized_client",
                "this client did not register the refresh_token grant",
            ));
        }
        if token.len() > MAX_GRANT_VALUE {
            return Err(bad_request(
                "invalid_grant",
                "the refresh token is unknown or has expired",
            ));
        }
        let refresh_ttl = self.settings.refresh_token_ttl;
        let revoke = |family: String| async move {
            self.revocations
                .revoke_family(&family, refresh_ttl)
                .await
                .map_err(store_unavailable)
        };
        let revoked = async |family: &str| {
            self.revocations
                .family_revoked_in_store(family)
                .await
                .map_err(store_unavailable)
        };
        let login_revoked = || {
            bad_request(
                "invalid_grant",
                "this login has been revoked; sign in again",
            )
        };
        // The family is known before the one-time `take`, and checked there: a reuse racing
        // this request on another replica revokes the family only after our take won, so the
        // winner is answered (with tokens that revocation then stops) and the loser refused.
        let family = self
            .store
            .get(&used_key("refresh", token))
            .await
            .map_err(store_unavailable)?;
        if let Some(family) = &family
            && revoked(family).await?
        {
            return Err(login_revoked());
        }
        let key = RefreshRecord::key(token);
        let record: RefreshRecord = match self.take(&key).await.map_err(store_unavailable)? {
            Some(record) => record,
            None => {
                if let Some(family) = family {
                    tracing::warn!(client_id = %client.client_id, "rotated refresh token reused; revoking its family");
                    revoke(family).await?;
                    return Err(bad_request(
                        "invalid_grant",
                        "the refresh token was already used; every token of this login is revoked",
                    ));
                }
                return Err(bad_request(
                    "invalid_grant",
                    "the refresh token is unknown or has expired",
                ));
            }
        };
        if record.client_id != client.client_id {
            tracing::warn!(client_id = %client.client_id, "refresh token presented by another client; revoking its family");
            revoke(record.family).await?;
            return Err(bad_request(
                "invalid_grant",
                "the refresh token was issued to another client",
            ));
        }
        // A token issued before markers were written at issue time was not checked above.
        if family.is_none() && revoked(&record.family).await? {
            return Err(login_revoked());
        }
        let cutoffs = self
            .revocations
            .cutoffs_in_store(&record.subject)
            .await
            .map_err(store_unavailable)?;
        if !cutoffs.login_alive(record.seen) {
            tracing::info!(subject = ?record.subject, "refresh refused: its user was cut off at Okta; revoking the family");
            revoke(record.family).await?;
            return Err(login_revoked());
        }
        let scope = match form.get("scope") {
            None => record.scope.clone(),
            Some(asked) => {
                let granted: Vec<&str> = record.scope.split(' ').collect();
                if asked.split(' ').all(|s| granted.contains(&s)) {
                    asked.to_owned()
                } else {
                    self.save(&key, &record, refresh_ttl)
                        .await
                        .map_err(store_unavailable)?;
                    return Err(bad_request(
                        "invalid_scope",
                        "scope may only narrow the original grant",
                    ));
                }
            }
        };

        // Ask Okta again: the user's groups, hence the role, may have changed. What Okta answers
        // is as of this moment: a cut-off landing while we wait is later, and stops the result.
        let seen = now_ms();
        let identity = match self.login.refresh(&record.okta_refresh_token).await {
            Ok(identity) => identity,
            Err(error @ (LoginError::NotReady(_) | LoginError::Transport(_))) => {
                tracing::warn!(
                    ?error,
                    "cannot reach Okta for a refresh; the refresh token stays valid"
                );
                self.save(&key, &record, refresh_ttl)
                    .await
                    .map_err(store_unavailable)?;
                return Err(oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "Okta cannot be reached; try again",
                ));
            }
            Err(error) => {
                tracing::info!(?error, subject = ?record.subject, "Okta refused the refresh; revoking the family");
                revoke(record.family).await?;
                return Err(bad_request(
                    "invalid_grant",
                    "Okta no longer accepts this login; sign in again",
                ));
            }
        };
        if identity.subject != record.subject {
            revoke(record.family).await?;
            return Err(bad_request(
                "invalid_grant",
                "Okta answered for another user; sign in again",
            ));
        }
        let Some(role) = self.roles.role_for(&identity.groups).map(str::to_owned) else {
            tracing::info!(subject = ?record.subject, "role lost at refresh; revoking the family");
            revoke(record.family).await?;
            return Err(bad_request(
                "invalid_grant",
                "your Okta groups no longer grant a role on this server",
            ));
        };
        if role != record.role {
            tracing::info!(subject = ?record.subject, old = %record.role, new = %role, "role changed at refresh");
        }
        let grant = Grant {
            subject: record.subject,
            email: identity.email,
            role,
            client_id: client.client_id.clone(),
            scope,
            family: record.family,
        };
        self.note_subject(&grant.subject)
            .await
            .map_err(store_unavailable)?;
        let okta_refresh_token = identity.refresh_token.unwrap_or(record.okta_refresh_token);
        self.issue(client, grant, Some(okta_refresh_token), seen)
            .await
    }

    /// The token answer: an access token, and a refresh token when the client registered the
    /// grant and Okta gave us a refresh token to re-read the role with; both carry `seen`, when
    /// Okta last told us about the user (unix ms).
    async fn issue(
        &self,
        client: &RegisteredClient,
        grant: Grant,
        okta_refresh_token: Option<String>,
        seen: i64,
    ) -> Result<WebResponse, WebResponse> {
        let ttl = self.settings.access_token_ttl;
        let (access_token, _) = self.tokens.mint_seen(&grant, now(), ttl, seen);
        let mut answer = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs(),
            "scope": grant.scope,
        });
        match okta_refresh_token {
            Some(okta_refresh_token) if client.allows_refresh() => {
                let refresh = RefreshToken::generate();
                self.store
                    .put(
                        &used_key("refresh", &refresh.token),
                        &grant.family,
                        self.settings.refresh_token_ttl,
                    )
                    .await
                    .map_err(store_unavailable)?;
                let record = RefreshRecord {
                    family: grant.family,
                    client_id: grant.client_id,
                    subject: grant.subject,
                    email: grant.email,
                    role: grant.role,
                    scope: grant.scope,
                    okta_refresh_token,
                    seen,
                };
                self.save(
                    &RefreshRecord::key(&refresh.token),
                    &record,
                    self.settings.refresh_token_ttl,
                )
                .await
                .map_err(store_unavailable)?;
                answer["refresh_token"] = json!(refresh.token);
            }
            Some(_) => {}
            None => tracing::info!(
                "Okta issued no refresh token; the client gets none (enable refresh tokens for the Okta app)"
            ),
        }
        Ok(cors(no_store(WebResponse::json(StatusCode::OK, &answer))))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::store::Store;
    use base64::engine::general_purpose::STANDARD;

    fn error_of(response: &WebResponse) -> String {
        json_body(response)["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn assert_no_store(response: &WebResponse) {
        assert_eq!(header(response, "cache-control"), Some("no-store"));
        assert_eq!(header(response, "pragma"), Some("no-cache"));
    }

    #[tokio::test]
    async fn a_code_gives_tokens_once() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (verifier, challenge) = pkce();
        let code = t.code_for(&client, CLIENT_CB, &challenge).await;
        let first = t.redeem(&client, &code, CLIENT_CB, &verifier).await;
        assert_eq!(first.status, StatusCode::OK, "{}", text(&first));
        assert_no_store(&first);
        assert_eq!(header(&first, "access-control-allow-origin"), Some("*"));
        let body = json_body(&first);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert_eq!(body["scope"], "mcp offline_access");
        let access = body["access_token"].as_str().unwrap().to_owned();
        assert!(body["refresh_token"].is_string());
        assert!(t.bearer(&access).await.is_ok());

        // the second use fails and takes the first use's tokens with it
        let second = t.redeem(&client, &code, CLIENT_CB, &verifier).await;
        assert_eq!(second.status, StatusCode::BAD_REQUEST);
        assert_eq!(error_of(&second), "invalid_grant");
        assert_no_store(&second);
        assert!(t.bearer(&access).await.is_err());
        let refresh = t
            .refresh(&client, body["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(error_of(&refresh), "invalid_grant");
    }

    #[tokio::test]
    async fn codes_and_refresh_tokens_are_stored_only_as_hashes() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (verifier, challenge) = pkce();
        let code = t.code_for(&client, CLIENT_CB, &challenge).await;
        assert!(
            t.store
                .get(&format!("code:{}", sha256_b64(&code)))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            t.store
                .get(&format!("code:{code}"))
                .await
                .unwrap()
                .is_none()
        );
        let body = json_body(&t.redeem(&client, &code, CLIENT_CB, &verifier).await);
        let refresh = body["refresh_token"].as_str().unwrap();
        let stored = t
            .store
            .get(&format!("refresh:{}", sha256_b64(refresh)))
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.contains(refresh));
        assert!(
            t.store
                .get(&format!("refresh:{refresh}"))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_wrong_verifier_redirect_or_client_is_invalid_grant() {
        let t = Harness::new();
        let client = t
            .register_public(&[CLIENT_CB, "http://localhost:4000/cb"])
            .await;
        let other = t.register_public(&[CLIENT_CB]).await;
        let (verifier, challenge) = pkce();
        let (wrong_verifier, _) = pkce();
        let cases: Vec<(&str, String, &str, &str)> = vec![
            (
                client.as_str(),
                wrong_verifier.clone(),
                CLIENT_CB,
                "invalid_grant",
            ),
            (
                client.as_str(),
                "short".to_owned(),
                CLIENT_CB,
                "invalid_grant",
            ),
            (
                client.as_str(),
                challenge.clone(),
                CLIENT_CB,
                "invalid_grant",
            ),
            (
                client.as_str(),
                verifier.clone(),
                "http://localhost:4000/cb",
                "invalid_grant",
            ),
            (
                client.as_str(),
                verifier.clone(),
                "https://evil.example.com/cb",
                "invalid_grant",
            ),
            (other.as_str(), verifier.clone(), CLIENT_CB, "invalid_grant"),
        ];
        for (who, verifier, redirect, expected) in cases {
            let code = t.code_for(&client, CLIENT_CB, &challenge).await;
            let response = t.redeem(who, &code, redirect, &verifier).await;
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{verifier} {redirect}"
            );
            assert_eq!(error_of(&response), expected);
            assert_no_store(&response);
        }
        // missing verifier / redirect_uri
        let code = t.code_for(&client, CLIENT_CB, &challenge).await;
        let response = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("client_id", &client),
                    ("redirect_uri", CLIENT_CB),
                ],
                &[],
            )
            .await;
        assert_eq!(error_of(&response), "invalid_request");
        let code = t.code_for(&client, CLIENT_CB, &challenge).await;
        let response = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("client_id", &client),
                    ("code_verifier", &verifier),
                ],
                &[],
            )
            .await;
        assert_eq!(error_of(&response), "invalid_request");
        // wrong resource
        let code = t.code_for(&client, CLIENT_CB, &challenge).await;
        let response = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("client_id", &client),
                    ("redirect_uri", CLIENT_CB),
                    ("code_verifier", &verifier),
                    ("resource", "https://other.example.com/mcp"),
                ],
                &[],
            )
            .await;
        assert_eq!(error_of(&response), "invalid_target");
    }

    #[tokio::test]
    async fn the_loopback_port_used_at_authorize_must_come_back() {
        let t = Harness::new();
        let client = t.register_public(&["http://localhost:1234/cb"]).await;
        let (verifier, challenge) = pkce();
        let code = t
            .code_for(&client, "http://localhost:5678/cb", &challenge)
            .await;
        let wrong_port = t
            .redeem(&client, &code, "http://localhost:1234/cb", &verifier)
            .await;
        assert_eq!(error_of(&wrong_port), "invalid_grant");
        let code = t
            .code_for(&client, "http://localhost:5678/cb", &challenge)
            .await;
        let ok = t
            .redeem(&client, &code, "http://localhost:5678/cb", &verifier)
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", text(&ok));
    }

    #[tokio::test]
    async fn unknown_clients_and_bad_secrets_are_invalid_client() {
        let t = Harness::new();
        let registered = t
            .post_json(
                "/register",
                &serde_json::json!({"redirect_uris": [CLIENT_CB], "token_endpoint_auth_method": "client_secret_post"}).to_string(),
            )
            .await;
        let body = json_body(&registered);
        let id = body["client_id"].as_str().unwrap();
        let secret = body["client_secret"].as_str().unwrap();
        let grant = [("grant_type", "authorization_code"), ("code", "nope")];
        type Form<'a> = Vec<(&'a str, &'a str)>;
        type Headers<'a> = Vec<(&'a str, String)>;
        let cases: Vec<(Form, Headers)> = vec![
            (vec![("client_id", "unknown-client")], vec![]),
            (vec![], vec![]),
            (vec![("client_id", id)], vec![]),
            (vec![("client_id", id), ("client_secret", "wrong")], vec![]),
            (
                vec![],
                vec![(
                    "authorization",
                    format!("Basic {}", STANDARD.encode(format!("{id}:wrong"))),
                )],
            ),
            (
                vec![],
                vec![(
                    "authorization",
                    format!("Basic {}", STANDARD.encode("nobody:x")),
                )],
            ),
            (vec![], vec![("authorization", "Basic %%%".to_owned())]),
            (vec![], vec![("authorization", "Bearer abc".to_owned())]),
            (vec![("client_id", "x".repeat(300).leak())], vec![]),
        ];
        for (extra, headers) in cases {
            let mut form = grant.to_vec();
            form.extend(extra.iter().cloned());
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let response = t.post_form("/token", &form, &headers).await;
            assert_eq!(
                response.status,
                StatusCode::UNAUTHORIZED,
                "{form:?} {headers:?}"
            );
            assert_eq!(error_of(&response), "invalid_client");
            assert_no_store(&response);
        }
        // the right secret, by post and by basic, reaches the grant check
        let by_post = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", "nope"),
                    ("client_id", id),
                    ("client_secret", secret),
                ],
                &[],
            )
            .await;
        assert_eq!(error_of(&by_post), "invalid_grant");
        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        let by_basic = t
            .post_form("/token", &grant, &[("authorization", &basic)])
            .await;
        assert_eq!(error_of(&by_basic), "invalid_grant");
    }

    #[tokio::test]
    async fn malformed_token_requests_get_rfc_errors() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("client_id", &client)], "invalid_request"),
            (
                vec![("client_id", &client), ("grant_type", "password")],
                "unsupported_grant_type",
            ),
            // Supported, but only for clients of CLIENTS_FILE (RFC 6749 §5.2).
            (
                vec![("client_id", &client), ("grant_type", "client_credentials")],
                "unauthorized_client",
            ),
            (
                vec![("client_id", &client), ("grant_type", "authorization_code")],
                "invalid_request",
            ),
            (
                vec![("client_id", &client), ("grant_type", "refresh_token")],
                "invalid_request",
            ),
            (
                vec![
                    ("client_id", &client),
                    ("grant_type", "authorization_code"),
                    ("code", "unknown"),
                ],
                "invalid_grant",
            ),
            (
                vec![
                    ("client_id", &client),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "unknown"),
                ],
                "invalid_grant",
            ),
        ];
        for (form, expected) in cases {
            let response = t.post_form("/token", &form, &[]).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{form:?}");
            assert_eq!(error_of(&response), expected, "{form:?}");
            assert_no_store(&response);
        }
        let long_code = "c".repeat(5000);
        let response = t
            .post_form(
                "/token",
                &[
                    ("client_id", &client),
                    ("grant_type", "authorization_code"),
                    ("code", &long_code),
                ],
                &[],
            )
            .await;
        assert_eq!(error_of(&response), "invalid_grant");
        let repeated = t
            .send(request(
                Method::POST,
                "/token",
                None,
                &[],
                &format!("client_id={client}&grant_type=a&grant_type=b"),
            ))
            .await;
        assert_eq!(error_of(&repeated), "invalid_request");
        let get = t.get("/token", &[]).await;
        assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
        let preflight = t
            .send(request(Method::OPTIONS, "/token", None, &[], ""))
            .await;
        assert_eq!(preflight.status, StatusCode::NO_CONTENT);
        assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
        let junk = t
            .send(request(Method::POST, "/token", None, &[], "\u{0}\u{1}%%%"))
            .await;
        assert_eq!(junk.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn refresh_rotates_and_reuse_kills_the_family() {
        let t = Harness::new();
        let (client, first) = t.tokens_for_new_client().await;
        let first_access = first["access_token"].as_str().unwrap().to_owned();
        let first_refresh = first["refresh_token"].as_str().unwrap().to_owned();

        let second = t.refresh(&client, &first_refresh).await;
        assert_eq!(second.status, StatusCode::OK, "{}", text(&second));
        assert_no_store(&second);
        let second = json_body(&second);
        let second_access = second["access_token"].as_str().unwrap().to_owned();
        let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(second_refresh, first_refresh);
        assert_eq!(second["scope"], "mcp offline_access");
        assert!(t.bearer(&second_access).await.is_ok());
        // Okta's rotated refresh token is the one used next time
        let third = json_body(&t.refresh(&client, &second_refresh).await);
        let used = t.okta.refreshed_with.lock().unwrap().clone();
        assert_eq!(used.len(), 2);
        assert_ne!(used[0], used[1]);
        let third_access = third["access_token"].as_str().unwrap().to_owned();
        let third_refresh = third["refresh_token"].as_str().unwrap().to_owned();

        // an attacker replays the first (rotated) refresh token: the whole family dies
        let replay = t.refresh(&client, &first_refresh).await;
        assert_eq!(replay.status, StatusCode::BAD_REQUEST);
        assert_eq!(error_of(&replay), "invalid_grant");
        for access in [&first_access, &second_access, &third_access] {
            let refused = t.bearer(access).await.unwrap_err();
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        }
        let legit = t.refresh(&client, &third_refresh).await;
        assert_eq!(error_of(&legit), "invalid_grant");
    }

    #[tokio::test]
    async fn a_group_change_at_okta_changes_or_removes_the_role_at_refresh() {
        let t = Harness::new();
        let (client, first) = t.tokens_for_new_client().await;
        let access = first["access_token"].as_str().unwrap().to_owned();
        assert_eq!(t.bearer(&access).await.unwrap().role, "viewer");

        *t.okta.refresh_answer.lock().unwrap() =
            RefreshAnswer::Groups(vec!["SSO-Super-Admins".into()]);
        let promoted = json_body(
            &t.refresh(&client, first["refresh_token"].as_str().unwrap())
                .await,
        );
        let promoted_access = promoted["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            t.bearer(&promoted_access).await.unwrap().role,
            "super-admin"
        );

        *t.okta.refresh_answer.lock().unwrap() = RefreshAnswer::Groups(vec!["Everyone".into()]);
        let demoted = t
            .refresh(&client, promoted["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(demoted.status, StatusCode::BAD_REQUEST);
        assert_eq!(error_of(&demoted), "invalid_grant");
        assert!(
            t.bearer(&promoted_access).await.is_err(),
            "the family is revoked"
        );
    }

    #[tokio::test]
    async fn okta_refusing_or_unreachable_at_refresh() {
        let t = Harness::new();
        let (client, first) = t.tokens_for_new_client().await;
        let refresh = first["refresh_token"].as_str().unwrap().to_owned();
        // unreachable: 503, and the same refresh token still works later
        *t.okta.refresh_answer.lock().unwrap() = RefreshAnswer::Unreachable;
        let response = t.refresh(&client, &refresh).await;
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error_of(&response), "temporarily_unavailable");
        *t.okta.refresh_answer.lock().unwrap() =
            RefreshAnswer::Groups(vec!["sso-help-desk".into()]);
        let again = t.refresh(&client, &refresh).await;
        assert_eq!(again.status, StatusCode::OK, "{}", text(&again));
        // refused (user deactivated): the family is revoked
        let next = json_body(&again);
        *t.okta.refresh_answer.lock().unwrap() = RefreshAnswer::Refused;
        let refused = t
            .refresh(&client, next["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(error_of(&refused), "invalid_grant");
        assert!(
            t.bearer(next["access_token"].as_str().unwrap())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_refresh_token_is_bound_to_its_client_and_scope() {
        let t = Harness::new();
        let (client, first) = t.tokens_for_new_client().await;
        let other = t.register_public(&[CLIENT_CB]).await;
        let refresh = first["refresh_token"].as_str().unwrap().to_owned();
        // narrowing works, widening does not (and does not burn the token)
        let widened = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh),
                    ("client_id", &client),
                    ("scope", "mcp admin"),
                ],
                &[],
            )
            .await;
        assert_eq!(error_of(&widened), "invalid_scope");
        let narrowed = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh),
                    ("client_id", &client),
                    ("scope", "mcp"),
                ],
                &[],
            )
            .await;
        assert_eq!(narrowed.status, StatusCode::OK, "{}", text(&narrowed));
        let narrowed = json_body(&narrowed);
        assert_eq!(narrowed["scope"], "mcp");
        // another client presenting it: refused, and the family is revoked
        let stolen = t
            .refresh(&other, narrowed["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(error_of(&stolen), "invalid_grant");
        assert!(
            t.bearer(narrowed["access_token"].as_str().unwrap())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn clients_without_the_refresh_grant_get_no_refresh_token() {
        let t = Harness::new();
        let response = t
            .post_json(
                "/register",
                &serde_json::json!({
                    "redirect_uris": [CLIENT_CB],
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code"],
                })
                .to_string(),
            )
            .await;
        let client = json_body(&response)["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (verifier, challenge) = pkce();
        let code = t.code_for(&client, CLIENT_CB, &challenge).await;
        let body = json_body(&t.redeem(&client, &code, CLIENT_CB, &verifier).await);
        assert!(body["access_token"].is_string());
        assert!(body.get("refresh_token").is_none());
        let refused = t.refresh(&client, "anything").await;
        assert_eq!(error_of(&refused), "unauthorized_client");
    }
}
