//! Settings that come from the environment: secrets and the Okta connection.
//!
//! Secrets are read from `NAME` or from the file named by `NAME_FILE` (Kubernetes Secret
//! mounts), never from command-line flags, which other users of the machine can see.

use std::time::Duration;

use url::Url;

use crate::identity::IdentityKey;
use crate::okta::OktaConfig;

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

/// Builds the Okta client settings from the org URL, the token secret and the limit.
pub fn okta_config(
    org_url: Option<&str>,
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
        api_token: required_secret("OKTA_API_TOKEN")?,
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
