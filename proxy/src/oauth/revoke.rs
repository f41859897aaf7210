//! `POST /revoke`: RFC 7009 token revocation.

use std::time::Duration;

use http::{Method, StatusCode};

use super::params::Params;
use super::token::RefreshRecord;
use super::{
    AuthServer, cors, method_not_allowed, no_store, now, oauth_error, preflight, store_unavailable,
};
use crate::web::{WebRequest, WebResponse};

/// Longer strings are none of our tokens.
const MAX_TOKEN: usize = 8 * 1024;

impl AuthServer {
    /// `POST /revoke`: a refresh token revokes its family; an access token, itself. Unknown
    /// tokens and other clients' tokens get the same 200, so nothing is revealed.
    pub(super) async fn revoke(&self, request: &WebRequest) -> WebResponse {
        match request.method {
            Method::POST => {}
            Method::OPTIONS => return preflight("POST, OPTIONS"),
            _ => return method_not_allowed("POST"),
        }
        match self.revoke_token(request).await {
            Ok(response) | Err(response) => response,
        }
    }

    async fn revoke_token(&self, request: &WebRequest) -> Result<WebResponse, WebResponse> {
        let form = Params::parse(&request.body)
            .map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e.describe()))?;
        let client = self.authenticate_client(request, &form).await?;
        let Some(token) = form.get("token") else {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "token is missing",
            ));
        };
        let done = cors(no_store(WebResponse::new(
            StatusCode::OK,
            "application/json",
            "{}",
        )));
        if token.len() > MAX_TOKEN {
            return Ok(done);
        }
        // The hint only says where to look first; both kinds are tried.
        let now = now();
        if let Ok(claims) = self.tokens.decode(token, now) {
            if claims.client_id == client.client_id {
                let remaining = u64::try_from(claims.exp.saturating_sub(now)).unwrap_or(0);
                self.revocations
                    .revoke_token(&claims.jti, Duration::from_secs(remaining))
                    .await
                    .map_err(store_unavailable)?;
                tracing::info!(client_id = %client.client_id, "access token revoked");
            }
            return Ok(done);
        }
        let record: Option<RefreshRecord> = self
            .load(&RefreshRecord::key(token))
            .await
            .map_err(store_unavailable)?;
        if let Some(record) = record
            && record.client_id == client.client_id
        {
            self.revocations
                .revoke_family(&record.family, self.settings.refresh_token_ttl)
                .await
                .map_err(store_unavailable)?;
            self.store
                .delete(&RefreshRecord::key(token))
                .await
                .map_err(store_unavailable)?;
            tracing::info!(client_id = %client.client_id, "refresh token family revoked");
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    async fn revoke(t: &Harness, client: &str, token: &str, hint: Option<&str>) -> WebResponse {
        let mut form = vec![("token", token), ("client_id", client)];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        t.post_form("/revoke", &form, &[]).await
    }

    #[tokio::test]
    async fn revoking_a_refresh_token_ends_the_login() {
        let t = Harness::new();
        let (client, tokens) = t.tokens_for_new_client().await;
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let response = revoke(&t, &client, refresh, Some("refresh_token")).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
        assert_eq!(
            json_body(&t.refresh(&client, refresh).await)["error"],
            "invalid_grant"
        );
        assert!(t.bearer(access).await.is_err());
    }

    #[tokio::test]
    async fn revoking_an_access_token_ends_only_that_token() {
        let t = Harness::new();
        let (client, tokens) = t.tokens_for_new_client().await;
        let access = tokens["access_token"].as_str().unwrap();
        // the hint is only a hint
        let response = revoke(&t, &client, access, Some("refresh_token")).await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(t.bearer(access).await.is_err());
        let refreshed = t
            .refresh(&client, tokens["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(refreshed.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_and_foreign_tokens_get_200_and_change_nothing() {
        let t = Harness::new();
        let (client, tokens) = t.tokens_for_new_client().await;
        let other = t.register_public(&[CLIENT_CB]).await;
        for token in ["unknown", "a.b.c", &"x".repeat(10_000)] {
            assert_eq!(
                revoke(&t, &client, token, None).await.status,
                StatusCode::OK
            );
        }
        // another client cannot revoke this client's tokens
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(
            revoke(&t, &other, access, None).await.status,
            StatusCode::OK
        );
        assert_eq!(
            revoke(&t, &other, refresh, None).await.status,
            StatusCode::OK
        );
        assert!(t.bearer(access).await.is_ok());
        assert_eq!(t.refresh(&client, refresh).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn revocation_needs_client_authentication_and_a_token() {
        let t = Harness::new();
        let client = t.register_public(&[CLIENT_CB]).await;
        let response = t
            .post_form("/revoke", &[("token", "x"), ("client_id", "nobody")], &[])
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(json_body(&response)["error"], "invalid_client");
        let response = t.post_form("/revoke", &[("token", "x")], &[]).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        let response = t.post_form("/revoke", &[("client_id", &client)], &[]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert_eq!(json_body(&response)["error"], "invalid_request");
        assert_eq!(
            t.get("/revoke", &[]).await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let preflight = t
            .send(request(http::Method::OPTIONS, "/revoke", None, &[], ""))
            .await;
        assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    }
}
