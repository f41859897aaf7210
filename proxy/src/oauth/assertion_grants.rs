//! The grants with no person at a consent page, for clients of `CLIENTS_FILE` only:
//!
//! - `urn:ietf:params:oauth:grant-type:jwt-bearer` with an ID-JAG (Enterprise-Managed
//!   Authorization, MCP ext-auth; draft-ietf-oauth-identity-assertion-authz-grant). Okta, the
//!   company's IdP, decided this client may act for this user at this server, and signed it.
//!   We check that signature against Okta's keys (the login's discovery) and that the grant is
//!   for us, this resource and this client, fresh, and used once on any replica (`jti` in the
//!   store). The role comes from the user's Okta groups, read at Okta now unless the ID-JAG
//!   carries them, exactly as a browser login maps them.
//! - `client_credentials` (MCP ext-auth "OAuth Client Credentials"): an agent acting as itself,
//!   with the one role and subject name the file gives it.
//!
//! Neither gets a refresh token: the client asks Okta for a new ID-JAG, or authenticates
//! again, which re-checks everything.

use http::StatusCode;
use serde_json::{Map, Value};

use super::clients::{RegisteredClient, check_lifetime};
use super::metadata::SCOPES;
use super::params::Params;
use super::preregistered::{CLIENT_CREDENTIALS, JWT_BEARER};
use super::{AuthServer, cors, no_store, now, oauth_error, store_unavailable};
use crate::jws;
use crate::okta_directory::DirectoryError;
use crate::okta_login::SignedJwtError;
use crate::revocations::now_ms;
use crate::tokens::{Grant, random_token, sha256_b64};
use crate::web::WebResponse;

/// The JOSE `typ` of an ID-JAG.
const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// Longest an ID-JAG may still be valid for when presented (Okta issues them for 5 minutes).
const MAX_ID_JAG_LIFETIME: i64 = 60 * 60;
/// Okta user statuses that may act (others: deactivated, suspended, locked, not yet active).
const ACTIVE_STATUSES: [&str; 3] = ["ACTIVE", "PASSWORD_EXPIRED", "RECOVERY"];

fn bad_request(error: &str, description: &str) -> WebResponse {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn invalid_grant(description: &str) -> WebResponse {
    bad_request("invalid_grant", description)
}

/// Whether a JOSE `typ` names the ID-JAG media type (compared without case, with or without
/// the `application/` prefix, RFC 7515 §4.1.9).
fn is_id_jag_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == ID_JAG_TYP || t.strip_prefix("application/") == Some(ID_JAG_TYP)
    })
}

/// The scope granted: `mcp`, whatever subset of it was asked (these grants have no
/// `offline_access`: no refresh token).
// The `Err` is the complete answer to send, built only for refused requests.
#[allow(clippy::result_large_err)]
fn granted_scope(form: &Params) -> Result<String, WebResponse> {
    match form.get("scope") {
        None => Ok("mcp".to_owned()),
        Some(asked) if asked.split(' ').all(|s| s == SCOPES[0]) => Ok("mcp".to_owned()),
        Some(_) => Err(bad_request(
            "invalid_scope",
            "this grant gives the scope mcp only (no offline_access: there is no refresh token)",
        )),
    }
}

/// The group names of a `groups` claim, if the claim is there.
fn groups_claim(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let list = claims.get("groups")?.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

impl AuthServer {
    /// Whether `client` is from `CLIENTS_FILE` and may use `grant`.
    fn allows(client: &RegisteredClient, grant: &str) -> bool {
        client.preregistered.is_some() && client.grant_types.iter().any(|g| g == grant)
    }

    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an ID-JAG.
    pub(super) async fn id_jag_grant(
        &self,
        client: &RegisteredClient,
        form: &Params,
    ) -> Result<WebResponse, WebResponse> {
        if !Self::allows(client, JWT_BEARER) {
            return Err(bad_request(
                "unauthorized_client",
                "this client may not use the jwt-bearer grant (list it with that grant in CLIENTS_FILE)",
            ));
        }
        let Some(assertion) = form.get("assertion") else {
            return Err(bad_request("invalid_request", "assertion is missing"));
        };
        let scope = granted_scope(form)?;
        let header = jws::peek_header(assertion)
            .map_err(|e| invalid_grant(&format!("the assertion is not an ID-JAG: {e}")))?;
        if !is_id_jag_typ(header.typ.as_deref()) {
            return Err(invalid_grant(&format!(
                "the assertion is not an ID-JAG: its typ must be {ID_JAG_TYP}"
            )));
        }
        let verified = match self.login.verify_signed(assertion).await {
            Ok(verified) => verified,
            Err(SignedJwtError::Unavailable(error)) => {
                tracing::warn!(%error, "cannot read Okta's keys to check an ID-JAG");
                return Err(oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "Okta's signing keys cannot be read right now; try again",
                ));
            }
            Err(SignedJwtError::Refused(why)) => {
                tracing::info!(client_id = %client.client_id, reason = %why, "ID-JAG refused");
                return Err(invalid_grant(&why));
            }
        };
        let claims = &verified.claims;
        let now = now();
        if !jws::audience_is(claims, &self.issuer) {
            return Err(invalid_grant(&format!(
                "the ID-JAG is for another server: its aud must be {:?}",
                self.issuer
            )));
        }
        if jws::string_claim(claims, "resource") != Some(self.resource.as_str()) {
            return Err(bad_request(
                "invalid_target",
                &format!("the ID-JAG's resource must be {}", self.resource),
            ));
        }
        if jws::string_claim(claims, "client_id") != Some(client.client_id.as_str()) {
            return Err(invalid_grant(
                "the ID-JAG was issued for another client (client_id)",
            ));
        }
        let exp = check_lifetime(claims, now, MAX_ID_JAG_LIFETIME)
            .map_err(|why| invalid_grant(&format!("the ID-JAG is not valid now: {why}")))?;
        let Some(iat) = jws::time_claim(claims, "iat") else {
            return Err(invalid_grant("the ID-JAG has no iat"));
        };
        let Some(subject) = jws::string_claim(claims, "sub").filter(|s| !s.is_empty()) else {
            return Err(invalid_grant("the ID-JAG has no sub"));
        };
        let Some(jti) = jws::string_claim(claims, "jti").filter(|j| !j.is_empty()) else {
            return Err(invalid_grant("the ID-JAG has no jti"));
        };
        let key = format!("id-jag-jti:{}", sha256_b64(jti));
        if !self.first_use(&key, &client.client_id, exp, now).await? {
            tracing::warn!(client_id = %client.client_id, subject = ?subject, "ID-JAG replayed");
            return Err(invalid_grant(
                "this ID-JAG was already used (jti); ask Okta for a new one",
            ));
        }

        let (email, groups, seen) = match groups_claim(claims) {
            Some(groups) => {
                let email = jws::string_claim(claims, "email")
                    .unwrap_or_default()
                    .to_owned();
                (email, groups, iat.saturating_mul(1000))
            }
            None => self.read_user_at_okta(subject).await?,
        };
        let cutoffs = self
            .revocations
            .cutoffs_in_store(subject)
            .await
            .map_err(store_unavailable)?;
        if !cutoffs.role_current(seen) {
            tracing::info!(subject = ?subject, "ID-JAG refused: its user was cut off at Okta since it was issued");
            return Err(invalid_grant(
                "your Okta account changed since Okta issued this ID-JAG; ask for a new one",
            ));
        }
        let Some(role) = self.roles.role_for(&groups) else {
            tracing::info!(subject = ?subject, client_id = %client.client_id, "ID-JAG refused: no role");
            return Err(invalid_grant(&format!(
                "{} has no role here: none of their Okta groups maps to one",
                if email.is_empty() { subject } else { &email }
            )));
        };
        tracing::info!(subject = ?subject, client_id = %client.client_id, role, "ID-JAG accepted");
        let grant = Grant {
            subject: subject.to_owned(),
            email,
            role: role.to_owned(),
            client_id: client.client_id.clone(),
            scope,
            family: random_token(16),
        };
        Ok(self.access_token_answer(&grant, seen))
    }

    /// The user's email, groups and the time they were read (unix ms), from Okta's Management
    /// API; a user who may not act is `invalid_grant`.
    async fn read_user_at_okta(
        &self,
        subject: &str,
    ) -> Result<(String, Vec<String>, i64), WebResponse> {
        let Some(directory) = &self.directory else {
            tracing::warn!(
                "an ID-JAG has no groups claim and no Okta API access is configured (OKTA_API_TOKEN or OKTA_SERVICE_CLIENT_ID)"
            );
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the ID-JAG carries no groups and this server cannot read them at Okta; its operator must configure Okta API access",
            ));
        };
        let seen = now_ms();
        let user = match directory.user(subject).await {
            Ok(user) => user,
            Err(DirectoryError::NotFound) => {
                return Err(invalid_grant("the ID-JAG's user does not exist at Okta"));
            }
            Err(error @ (DirectoryError::Unavailable(_) | DirectoryError::BadAnswer(_))) => {
                tracing::warn!(%error, "cannot read an ID-JAG's user at Okta");
                return Err(oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "Okta cannot be asked for the user's groups right now; try again",
                ));
            }
            Err(DirectoryError::Refused(why)) => {
                tracing::error!(reason = %why, "Okta refused this server's API credentials");
                return Err(oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "this server cannot read users at Okta; its operator must fix its Okta API access",
                ));
            }
        };
        if !ACTIVE_STATUSES.contains(&user.status.as_str()) {
            tracing::info!(subject = ?subject, status = %user.status, "ID-JAG refused: user not active");
            return Err(invalid_grant(&format!(
                "{} is not active at Okta (status {})",
                user.email, user.status
            )));
        }
        Ok((user.email, user.groups, seen))
    }

    /// `grant_type=client_credentials`: the agent the clients file describes.
    pub(super) async fn client_credentials_grant(
        &self,
        client: &RegisteredClient,
        form: &Params,
    ) -> Result<WebResponse, WebResponse> {
        let agent = client
            .preregistered
            .as_ref()
            .and_then(|p| p.agent.as_ref())
            .filter(|_| Self::allows(client, CLIENT_CREDENTIALS));
        let Some(agent) = agent else {
            return Err(bad_request(
                "unauthorized_client",
                "this client may not use client_credentials (list it with that grant, a role and a subject in CLIENTS_FILE)",
            ));
        };
        let scope = granted_scope(form)?;
        tracing::info!(subject = %agent.subject, client_id = %client.client_id, role = %agent.role, "client credentials accepted");
        let grant = Grant {
            subject: agent.subject.clone(),
            email: String::new(),
            role: agent.role.clone(),
            client_id: client.client_id.clone(),
            scope,
            family: random_token(16),
        };
        Ok(self.access_token_answer(&grant, now_ms()))
    }

    /// An access token alone (no refresh token), as the token endpoint answers it.
    fn access_token_answer(&self, grant: &Grant, seen: i64) -> WebResponse {
        let ttl = self.settings.access_token_ttl;
        let (access_token, _) = self.tokens.mint_seen(grant, now(), ttl, seen);
        let answer = serde_json::json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs(),
            "scope": grant.scope,
        });
        cors(no_store(WebResponse::json(StatusCode::OK, &answer)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::jws::test_keys::{es256, es256_token};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    /// SHA-256 of "agent-secret".
    fn secret_hash() -> String {
        use sha2::Digest;
        sha2::Sha256::digest(b"agent-secret")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn harness(jwk: &Value) -> Harness {
        Harness::with_clients(&format!(
            r#"
[[client]]
client_id = "audit-agent"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
role = "viewer"
subject = "agent:nightly-audit"

[[client]]
client_id = "keyed-agent"
jwks = '{}'
grant_types = ["client_credentials"]
role = "super-admin"
subject = "agent:keyed"

[[client]]
client_id = "xaa-client"
secret_sha256 = "{}"
grant_types = ["{JWT_BEARER}"]
"#,
            secret_hash(),
            json!({ "keys": [jwk] }),
            secret_hash()
        ))
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn error_of(response: &WebResponse) -> (StatusCode, String, String) {
        let body = json_body(response);
        (
            response.status,
            body["error"].as_str().unwrap_or_default().to_owned(),
            body["error_description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }

    #[tokio::test]
    async fn an_agent_gets_an_access_token_with_its_role_and_no_refresh_token() {
        let (_, jwk) = es256(Some("k1"));
        let t = harness(&jwk);
        let auth = basic("audit-agent", "agent-secret");
        let response = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("resource", "https://mcp.example.com/mcp"),
                ],
                &[("authorization", &auth)],
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", text(&response));
        let body = json_body(&response);
        assert_eq!(body["scope"], "mcp");
        assert!(body.get("refresh_token").is_none());
        let token = body["access_token"].as_str().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        let principal = t.server.authenticate(&headers).await.unwrap();
        assert_eq!(principal.subject, "agent:nightly-audit");
        assert_eq!(principal.role, "viewer");
        assert_eq!(principal.client_id.as_deref(), Some("audit-agent"));
        // client_secret_post works too.
        let response = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "audit-agent"),
                    ("client_secret", "agent-secret"),
                ],
                &[],
            )
            .await;
        assert_eq!(response.status, StatusCode::OK);
        // The metadata names both new grants and private_key_jwt.
        let metadata = json_body(&t.get("/.well-known/oauth-authorization-server", &[]).await);
        let grants = metadata["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&json!("client_credentials")));
        assert!(grants.contains(&json!(JWT_BEARER)));
        assert_eq!(
            metadata["authorization_grant_profiles_supported"],
            json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
        );
        assert!(
            metadata["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt"))
        );
    }

    #[tokio::test]
    async fn client_credentials_refusals() {
        let (_, jwk) = es256(Some("k1"));
        let t = harness(&jwk);
        type Case<'a> = (Vec<(&'a str, &'a str)>, Option<String>, StatusCode, &'a str);
        let cases: Vec<Case> = vec![
            (
                vec![("grant_type", "client_credentials")],
                Some(basic("audit-agent", "wrong")),
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", "audit-agent"),
                ],
                None,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                vec![("grant_type", "client_credentials")],
                Some(basic("nobody", "x")),
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                vec![("grant_type", "client_credentials")],
                Some(basic("xaa-client", "agent-secret")),
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("scope", "mcp offline_access"),
                ],
                Some(basic("audit-agent", "agent-secret")),
                StatusCode::BAD_REQUEST,
                "invalid_scope",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("resource", "https://evil.example/mcp"),
                ],
                Some(basic("audit-agent", "agent-secret")),
                StatusCode::BAD_REQUEST,
                "invalid_target",
            ),
            // A keyed client may not use a secret.
            (
                vec![("grant_type", "client_credentials")],
                Some(basic("keyed-agent", "agent-secret")),
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
        ];
        for (form, auth, status, error) in cases {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let response = t.post_form("/token", &form, &headers).await;
            let (got_status, got_error, description) = error_of(&response);
            assert_eq!(
                (got_status, got_error.as_str()),
                (status, error),
                "{form:?}: {description}"
            );
            assert!(!description.is_empty());
        }
        // A client registered through DCR cannot use the grant.
        let public = t.register_public(&["http://localhost/cb"]).await;
        let response = t
            .post_form(
                "/token",
                &[("grant_type", "client_credentials"), ("client_id", &public)],
                &[],
            )
            .await;
        assert_eq!(error_of(&response).1, "unauthorized_client");
        // Nor a file client that lists only jwt-bearer at /authorize.
        let page = t
            .get("/authorize?client_id=xaa-client&response_type=code", &[])
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(text(&page).contains("CLIENTS_FILE"));
    }

    #[tokio::test]
    async fn private_key_jwt_is_checked_and_used_once() {
        let (key, jwk) = es256(Some("k1"));
        let (other, _) = es256(Some("k1"));
        let t = harness(&jwk);
        let now = now();
        let claims = |changes: Value| {
            let mut c = json!({
                "iss": "keyed-agent", "sub": "keyed-agent", "aud": "https://mcp.example.com",
                "exp": now + 120, "iat": now, "jti": random_token(8),
            });
            for (k, v) in changes.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            c
        };
        let header = json!({"alg": "ES256", "kid": "k1"});
        let post = |assertion: String, extra: Vec<(&'static str, String)>| {
            let t = &t;
            async move {
                let mut form = vec![
                    ("grant_type", "client_credentials".to_owned()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                    ),
                    ("client_assertion", assertion),
                ];
                form.extend(extra);
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                t.post_form("/token", &form, &[]).await
            }
        };
        let good = es256_token(&key, &header, &claims(json!({})));
        let response = post(good.clone(), vec![]).await;
        assert_eq!(response.status, StatusCode::OK, "{}", text(&response));
        let (_, _, replay) = error_of(&post(good, vec![]).await);
        assert!(replay.contains("already used"), "{replay}");
        for (assertion, expected) in [
            (
                es256_token(
                    &key,
                    &header,
                    &claims(json!({"aud": "https://mcp.example.com/token"})),
                ),
                "aud must be",
            ),
            (
                es256_token(
                    &key,
                    &header,
                    &claims(json!({"aud": ["https://mcp.example.com", "https://x"]})),
                ),
                "aud must be",
            ),
            (
                es256_token(&key, &header, &claims(json!({"exp": now - 3600}))),
                "expired",
            ),
            (
                es256_token(&key, &header, &claims(json!({"exp": now + 86_400}))),
                "short-lived",
            ),
            (
                es256_token(&key, &header, &claims(json!({"exp": null}))),
                "exp is missing",
            ),
            (
                es256_token(&key, &header, &claims(json!({"iat": now + 3600}))),
                "in the future",
            ),
            (
                es256_token(&key, &header, &claims(json!({"jti": null}))),
                "jti is missing",
            ),
            (
                es256_token(&key, &header, &claims(json!({"iss": "someone-else"}))),
                "iss and sub",
            ),
            (
                es256_token(&other, &header, &claims(json!({}))),
                "signature",
            ),
            (
                es256_token(
                    &key,
                    &json!({"alg": "ES256", "kid": "k2"}),
                    &claims(json!({})),
                ),
                "kid",
            ),
            (
                es256_token(
                    &key,
                    &header,
                    &claims(json!({"sub": "audit-agent", "iss": "audit-agent"})),
                ),
                "no keys for private_key_jwt",
            ),
            (
                es256_token(&key, &header, &claims(json!({"sub": "nobody"}))),
                "unknown client",
            ),
            ("not.a.jwt".to_owned(), "not a JWT"),
        ] {
            let (status, error, description) = error_of(&post(assertion, vec![]).await);
            assert_eq!(
                (status, error.as_str()),
                (StatusCode::UNAUTHORIZED, "invalid_client"),
                "{expected}: {description}"
            );
            assert!(
                description.contains(expected),
                "{expected:?} not in {description:?}"
            );
        }
        // Two methods at once, or a wrong assertion type.
        let fresh = || es256_token(&key, &header, &claims(json!({})));
        let (status, error, _) =
            error_of(&post(fresh(), vec![("client_secret", "x".into())]).await);
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        let (_, error, _) =
            error_of(&post(fresh(), vec![("client_id", "audit-agent".into())]).await);
        assert_eq!(error, "invalid_client");
        let response = t
            .post_form(
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", "urn:x"),
                    ("client_assertion", &fresh()),
                ],
                &[],
            )
            .await;
        assert!(
            error_of(&response)
                .2
                .contains("client_assertion_type must be")
        );
    }

    #[tokio::test]
    async fn a_listed_client_with_authorization_code_signs_users_in_with_its_secret() {
        let t = Harness::with_clients(&format!(
            r#"
[[client]]
client_id = "portal"
name = "Company portal"
secret_sha256 = "{}"
grant_types = ["authorization_code", "refresh_token"]
redirect_uris = ["{CLIENT_CB}"]
"#,
            secret_hash()
        ));
        let (verifier, challenge) = pkce();
        let code = t.code_for("portal", CLIENT_CB, &challenge).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CLIENT_CB),
            ("code_verifier", verifier.as_str()),
        ];
        // Without its secret the code is not redeemed.
        let mut no_secret = form.to_vec();
        no_secret.push(("client_id", "portal"));
        let response = t.post_form("/token", &no_secret, &[]).await;
        assert_eq!(error_of(&response).1, "invalid_client");
        let response = t
            .post_form(
                "/token",
                &form,
                &[("authorization", &basic("portal", "agent-secret"))],
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", text(&response));
        assert!(json_body(&response)["refresh_token"].is_string());
        // Another redirect URI is not accepted at /authorize.
        let page = t
            .browse_get(&t.authorize_path("portal", "https://evil.example/cb", &challenge, "s"))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn the_jwt_bearer_grant_needs_an_id_jag_from_okta() {
        let (key, jwk) = es256(Some("k1"));
        let t = harness(&jwk);
        let auth = basic("xaa-client", "agent-secret");
        let send = |form: Vec<(&'static str, String)>| {
            let (t, auth) = (&t, &auth);
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                error_of(
                    &t.post_form("/token", &form, &[("authorization", auth.as_str())])
                        .await,
                )
            }
        };
        let grant = ("grant_type", JWT_BEARER.to_owned());
        let (_, error, description) = send(vec![grant.clone()]).await;
        assert_eq!(
            (error.as_str(), description.as_str()),
            ("invalid_request", "assertion is missing")
        );
        let wrong_typ = es256_token(&key, &json!({"alg": "ES256", "typ": "JWT"}), &json!({}));
        let (_, error, description) = send(vec![grant.clone(), ("assertion", wrong_typ)]).await;
        assert_eq!(error, "invalid_grant");
        assert!(
            description.contains("typ must be oauth-id-jag+jwt"),
            "{description}"
        );
        // This stand-in Okta checks no signatures, so a well-formed ID-JAG is still refused.
        let typed = es256_token(
            &key,
            &json!({"alg": "ES256", "typ": "oauth-id-jag+jwt"}),
            &json!({}),
        );
        let (_, error, _) = send(vec![grant.clone(), ("assertion", typed)]).await;
        assert_eq!(error, "invalid_grant");
        // An agent client may not use it.
        let response = t
            .post_form(
                "/token",
                &[("grant_type", JWT_BEARER), ("assertion", "x.y.z")],
                &[("authorization", &basic("audit-agent", "agent-secret"))],
            )
            .await;
        assert_eq!(error_of(&response).1, "unauthorized_client");
    }

    #[test]
    fn the_id_jag_typ_is_compared_as_a_media_type() {
        assert!(is_id_jag_typ(Some("oauth-id-jag+jwt")));
        assert!(is_id_jag_typ(Some("OAuth-ID-JAG+JWT")));
        assert!(is_id_jag_typ(Some("application/oauth-id-jag+jwt")));
        assert!(!is_id_jag_typ(Some("JWT")));
        assert!(!is_id_jag_typ(Some("at+jwt")));
        assert!(!is_id_jag_typ(Some("application/JWT")));
        assert!(!is_id_jag_typ(None));
    }

    #[test]
    fn these_grants_give_mcp_and_nothing_more() {
        let scope = |q: &str| granted_scope(&Params::parse(q.as_bytes()).unwrap()).ok();
        assert_eq!(scope("").as_deref(), Some("mcp"));
        assert_eq!(scope("scope=mcp").as_deref(), Some("mcp"));
        assert_eq!(scope("scope=mcp+offline_access"), None);
        assert_eq!(scope("scope=admin"), None);
    }
}
