//! Settings that come from the environment: secrets and the Okta connection.
//!
//! Secrets are read from `NAME` or from the file named by `NAME_FILE` (Kubernetes Secret
//! mounts), never from command-line flags, which other users of the machine can see.

use std::time::Duration;

use url::Url;

use crate::identity::IdentityKey;
use crate::okta::{OktaConfig, OktaCredentials, ServiceAppSettings};

/// A setting that is missing or unusable; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set; set it or {name}_FILE (a file holding the value)")]
    Missing { name: &'static str },
    #[error("cannot read {name}_FILE ({path}): {source}")]
    File {
        name: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{name} is set but empty")]
    Empty { name: &'static str },
    #[error("{0}")]
    Invalid(String),
}

/// Reads a secret from `name`, or from the file `name_FILE` points to (one trailing newline dropped).
pub fn secret(name: &'static str) -> Result<Option<String>, ConfigError> {
    let value = match std::env::var(name) {
        Ok(value) => value,
        Err(_) => match std::env::var(format!("{name}_FILE")) {
            Ok(path) => std::fs::read_to_string(&path)
                .map(|v| {
                    v.strip_suffix("\r\n")
                        .or_else(|| v.strip_suffix('\n'))
                        .unwrap_or(&v)
                        .to_owned()
                })
                .map_err(|source| ConfigError::File { name, path, source })?,
            Err(_) => return Ok(None),
        },
    };
    if value.is_empty() {
        return Err(ConfigError::Empty { name });
    }
    Ok(Some(value))
}

/// Like [`secret`], but absence is an error.
pub fn required_secret(name: &'static str) -> Result<String, ConfigError> {
    secret(name)?.ok_or(ConfigError::Missing { name })
}

/// The identity-header key shared with the proxy.
pub fn identity_key() -> Result<IdentityKey, ConfigError> {
    IdentityKey::new(&required_secret("IDENTITY_HEADER_KEY")?)
        .map_err(|e| ConfigError::Invalid(e.to_string()))
}

/// Earlier identity-header keys still accepted (`IDENTITY_HEADER_KEYS_PREVIOUS`, comma- or
/// newline-separated; empty when unset), for rotating the key without refusing requests.
pub fn previous_identity_keys() -> Result<Vec<IdentityKey>, ConfigError> {
    let name = "IDENTITY_HEADER_KEYS_PREVIOUS";
    let list = match secret(name) {
        Ok(Some(list)) => list,
        Ok(None) | Err(ConfigError::Empty { .. }) => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    list.split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .enumerate()
        .map(|(i, key)| {
            IdentityKey::new(key)
                .map_err(|e| ConfigError::Invalid(format!("{name}: key {}: {e}", i + 1)))
        })
        .collect()
}

/// The scopes a service app asks for when `OKTA_SCOPES` is not set: those of every read tool.
pub const DEFAULT_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.groups.read",
    "okta.apps.read",
    "okta.logs.read",
    "okta.policies.read",
    "okta.networkZones.read",
];

/// The non-secret settings of an Okta service app (flags or environment).
#[derive(Debug, Clone, Default)]
pub struct ServiceAppIds {
    /// `OKTA_SERVICE_CLIENT_ID`; when set, the service app is used instead of an API token.
    pub client_id: Option<String>,
    /// `OKTA_SERVICE_KEY_ID`: the `kid` of the app's key at Okta.
    pub key_id: Option<String>,
    /// `OKTA_SCOPES`: empty means [`DEFAULT_SCOPES`].
    pub scopes: Vec<String>,
}

/// How to authenticate to Okta: a service app (`OKTA_SERVICE_CLIENT_ID` with the private key
/// in `OKTA_SERVICE_KEY_FILE`) or an API token (`OKTA_API_TOKEN`), never both.
pub fn okta_credentials(ids: &ServiceAppIds) -> Result<OktaCredentials, ConfigError> {
    let client_id = ids
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    // An empty token next to a service app is an unused Secret key (the manifests mount one).
    let api_token = match secret("OKTA_API_TOKEN") {
        Err(ConfigError::Empty { .. }) if client_id.is_some() => None,
        other => other?,
    };
    let key = secret("OKTA_SERVICE_KEY")?;
    match (client_id, api_token, key) {
        (Some(_), Some(_), _) => Err(ConfigError::Invalid(
            "both OKTA_API_TOKEN and OKTA_SERVICE_CLIENT_ID are set; use one: the service app \
             (preferred) or the API token"
                .into(),
        )),
        (Some(client_id), None, Some(private_key_pem)) => {
            let scopes: Vec<String> = if ids.scopes.is_empty() {
                DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
            } else {
                ids.scopes.clone()
            };
            if let Some(bad) = scopes
                .iter()
                .find(|s| !s.starts_with("okta.") || s.contains(char::is_whitespace))
            {
                return Err(ConfigError::Invalid(format!(
                    "OKTA_SCOPES: `{bad}` is not an Okta API scope (okta.<resource>.read or .manage)"
                )));
            }
            Ok(OktaCredentials::ServiceApp(ServiceAppSettings {
                client_id: client_id.to_owned(),
                private_key_pem,
                key_id: ids.key_id.clone(),
                scopes,
            }))
        }
        (Some(_), None, None) => Err(ConfigError::Invalid(
            "OKTA_SERVICE_CLIENT_ID is set but not the service app's private key; set \
             OKTA_SERVICE_KEY_FILE to a PKCS#8 PEM file"
                .into(),
        )),
        (None, _, Some(_)) => Err(ConfigError::Invalid(
            "OKTA_SERVICE_KEY is set but not OKTA_SERVICE_CLIENT_ID; set the service app's client id"
                .into(),
        )),
        (None, Some(token), None) => Ok(OktaCredentials::ApiToken(token)),
        (None, None, None) => Err(ConfigError::Invalid(
            "no Okta credentials: set OKTA_SERVICE_CLIENT_ID and OKTA_SERVICE_KEY_FILE (a service \
             app, preferred) or OKTA_API_TOKEN (or OKTA_API_TOKEN_FILE)"
                .into(),
        )),
    }
}

/// Builds the Okta client settings from the org URL, the credentials and the limits.
pub fn okta_config(
    org_url: Option<&str>,
    service_app: &ServiceAppIds,
    concurrent_limit: usize,
    timeout: Duration,
) -> Result<OktaConfig, ConfigError> {
    let org_url = org_url.ok_or(ConfigError::Missing {
        name: "OKTA_ORG_URL",
    })?;
    let org_url = parse_org_url(org_url)?;
    if concurrent_limit == 0 {
        return Err(ConfigError::Invalid(
            "OKTA_CONCURRENT_LIMIT must be at least 1".into(),
        ));
    }
    Ok(OktaConfig {
        org_url,
        credentials: okta_credentials(service_app)?,
        concurrent_limit,
        request_timeout: timeout,
        max_retries: 4,
    })
}

/// An org URL must be `https://…`, or `http://` on a loopback host (the fake org in tests).
fn parse_org_url(raw: &str) -> Result<Url, ConfigError> {
    let invalid = |why: &str| {
        ConfigError::Invalid(format!(
            "OKTA_ORG_URL `{raw}` {why}; expected e.g. https://your-org.okta.com"
        ))
    };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    let loopback = url_is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(invalid(
                "must use https (http is allowed only for loopback hosts)",
            ));
        }
        _ => return Err(invalid("must use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url)
}

fn url_is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_urls() {
        assert!(parse_org_url("https://dev-123.okta.com").is_ok());
        assert!(parse_org_url("http://127.0.0.1:3003").is_ok());
        assert!(parse_org_url("http://localhost:3003").is_ok());
        for bad in [
            "dev-123.okta.com",
            "http://dev-123.okta.com",
            "http://10.0.0.1",
            "ftp://x",
            "https://user:pw@x.okta.com",
            "https://x.okta.com/?a=b",
            "",
        ] {
            let err = parse_org_url(bad).unwrap_err().to_string();
            assert!(err.contains("OKTA_ORG_URL"), "{bad}: {err}");
        }
    }
}
