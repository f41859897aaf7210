//! Discovery: RFC 9728 protected-resource metadata and RFC 8414 authorization-server metadata.

use http::{Method, StatusCode, header};
use serde_json::json;

use super::preregistered::{CLIENT_CREDENTIALS, JWT_BEARER, PRIVATE_KEY_JWT};
use super::{AuthServer, cors, method_not_allowed, preflight};

/// The ID-JAG profile of the jwt-bearer grant (draft-ietf-oauth-identity-assertion-authz-grant).
const ID_JAG_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
use crate::web::{WebRequest, WebResponse};

/// Scopes we grant: `mcp` (use the MCP server) and `offline_access` (clients ask for it).
pub(super) const SCOPES: [&str; 2] = ["mcp", "offline_access"];

impl AuthServer {
    /// `GET /.well-known/oauth-protected-resource[/mcp]`.
    pub(super) fn protected_resource_metadata(&self, request: &WebRequest) -> WebResponse {
        self.metadata_answer(request, || {
            json!({
                "resource": self.resource,
                "authorization_servers": [self.issuer],
                "bearer_methods_supported": ["header"],
                "scopes_supported": ["mcp"],
                "resource_name": "Okta MCP server",
            })
        })
    }

    /// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
    pub(super) fn authorization_server_metadata(&self, request: &WebRequest) -> WebResponse {
        let issuer = &self.issuer;
        let documents = self.client_documents.is_some();
        let mut grants = vec!["authorization_code", "refresh_token"];
        let mut auth_methods = vec!["none", "client_secret_post", "client_secret_basic"];
        for grant in [JWT_BEARER, CLIENT_CREDENTIALS] {
            if self.preregistered.any_allows(grant) {
                grants.push(grant);
            }
        }
        let keyed = self.preregistered.any_keys();
        if keyed {
            auth_methods.push(PRIVATE_KEY_JWT);
        }
        self.metadata_answer(request, || {
            let mut document = json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "registration_endpoint": format!("{issuer}/register"),
                "revocation_endpoint": format!("{issuer}/revoke"),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": grants,
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": auth_methods,
                "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
                "scopes_supported": SCOPES,
                "authorization_response_iss_parameter_supported": true,
                "client_id_metadata_document_supported": documents,
            });
            if grants.contains(&JWT_BEARER) {
                document["authorization_grant_profiles_supported"] = json!([ID_JAG_PROFILE]);
            }
            if keyed {
                document["token_endpoint_auth_signing_alg_values_supported"] =
                    json!(["RS256", "PS256", "ES256", "EdDSA"]);
            }
            document
        })
    }

    fn metadata_answer(
        &self,
        request: &WebRequest,
        document: impl FnOnce() -> serde_json::Value,
    ) -> WebResponse {
        match request.method {
            Method::GET | Method::HEAD => cors(WebResponse::json(StatusCode::OK, &document()))
                .with_header(header::CACHE_CONTROL, "public, max-age=300"),
            Method::OPTIONS => preflight("GET, OPTIONS"),
            _ => method_not_allowed("GET"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use http::{Method, StatusCode};

    #[tokio::test]
    async fn protected_resource_metadata_names_the_resource_and_issuer() {
        let t = Harness::new();
        for path in [
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp",
        ] {
            let response = t.get(path, &[("mcp-protocol-version", "2026-07-28")]).await;
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
            let body = json_body(&response);
            assert_eq!(body["resource"], "https://mcp.example.com/mcp");
            assert_eq!(body["authorization_servers"][0], "https://mcp.example.com");
            assert_eq!(body["bearer_methods_supported"][0], "header");
        }
    }

    #[tokio::test]
    async fn authorization_server_metadata_is_rfc_8414() {
        let t = Harness::new();
        let prm = json_body(
            &t.get("/.well-known/oauth-protected-resource/mcp", &[])
                .await,
        );
        for path in [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ] {
            let response = t.get(path, &[]).await;
            assert_eq!(response.status, StatusCode::OK);
            let body = json_body(&response);
            assert_eq!(body["issuer"], prm["authorization_servers"][0]);
            assert_eq!(body["issuer"], "https://mcp.example.com");
            assert_eq!(
                body["authorization_endpoint"],
                "https://mcp.example.com/authorize"
            );
            assert_eq!(body["token_endpoint"], "https://mcp.example.com/token");
            assert_eq!(
                body["registration_endpoint"],
                "https://mcp.example.com/register"
            );
            assert_eq!(
                body["revocation_endpoint"],
                "https://mcp.example.com/revoke"
            );
            assert_eq!(
                body["response_types_supported"],
                serde_json::json!(["code"])
            );
            assert_eq!(
                body["code_challenge_methods_supported"],
                serde_json::json!(["S256"])
            );
            assert_eq!(
                body["token_endpoint_auth_methods_supported"],
                serde_json::json!(["none", "client_secret_post", "client_secret_basic"])
            );
            assert_eq!(
                body["grant_types_supported"],
                serde_json::json!(["authorization_code", "refresh_token"])
            );
            assert!(
                body["scopes_supported"]
                    .as_array()
                    .unwrap()
                    .contains(&"offline_access".into())
            );
            assert_eq!(body["authorization_response_iss_parameter_supported"], true);
            // This harness has no metadata documents turned on, so it does not offer them.
            assert_eq!(body["client_id_metadata_document_supported"], false);
        }
    }

    #[tokio::test]
    async fn metadata_answers_preflight_and_refuses_other_methods() {
        let t = Harness::new();
        let response = t
            .send(request(
                Method::OPTIONS,
                "/.well-known/oauth-authorization-server",
                None,
                &[],
                "",
            ))
            .await;
        assert_eq!(response.status, StatusCode::NO_CONTENT);
        assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
        assert!(
            header(&response, "access-control-allow-headers")
                .unwrap()
                .contains("mcp-protocol-version")
        );
        let response = t
            .send(request(
                Method::POST,
                "/.well-known/oauth-protected-resource",
                None,
                &[],
                "",
            ))
            .await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn paths_that_are_not_ours_are_left_to_the_edge() {
        let t = Harness::new();
        for path in [
            "/mcp",
            "/health",
            "/ready",
            "/",
            "/.well-known/other",
            "/tokens",
        ] {
            assert!(
                t.server
                    .handle(&request(Method::GET, path, None, &[], ""))
                    .await
                    .is_none(),
                "{path}"
            );
        }
    }
}
