//! Settings that come from the environment: secrets and the Okta connection.
//!
//! Secrets are read from `NAME` or from the file named by `NAME_FILE` (Kubernetes Secret
//! mounts), never from command-line flags, which other users of the machine can see.

use std::time::Duration;

use url::Url;

use crate::identity::IdentityKey;
use crate::okta::{OktaConfig, OktaCredentials};
use okta_mcp_common::okta_auth::settings;

pub use okta_mcp_common::okta_auth::settings::{
    ServiceAppIds, SettingError as ConfigError, secret,
};

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

/// How to authenticate to Okta (see [`settings::okta_credentials`]), asking a service app
/// without `OKTA_SCOPES` for [`DEFAULT_SCOPES`].
pub fn okta_credentials(ids: &ServiceAppIds) -> Result<OktaCredentials, ConfigError> {
    settings::okta_credentials(ids, DEFAULT_SCOPES)
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
