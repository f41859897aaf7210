//! The Okta credentials from the environment, read and checked the same way by both binaries.
//!
//! Secrets are read from `NAME` or from the file named by `NAME_FILE` (Kubernetes Secret
//! mounts), never from command-line flags, which other users of the machine can see. The
//! service app's ids and scopes are not secret and come from the caller's flags.

use super::{OktaCredentials, ServiceAppSettings};

/// A setting that is missing or unusable; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// Neither `NAME` nor `NAME_FILE` is set.
    #[error("{name} is not set; set it or {name}_FILE (a file holding the value)")]
    Missing { name: &'static str },
    /// `NAME_FILE` names a file that cannot be read.
    #[error("cannot read {name}_FILE ({path}): {source}")]
    File {
        name: &'static str,
        path: String,
        source: std::io::Error,
    },
    /// The value is empty.
    #[error("{name} is set but empty")]
    Empty { name: &'static str },
    /// The value, or a combination of values, cannot be used.
    #[error("{0}")]
    Invalid(String),
}

/// Reads a secret from `name`, or from the file `name_FILE` points to (one trailing newline dropped).
pub fn secret(name: &'static str) -> Result<Option<String>, SettingError> {
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
                .map_err(|source| SettingError::File { name, path, source })?,
            Err(_) => return Ok(None),
        },
    };
    if value.is_empty() {
        return Err(SettingError::Empty { name });
    }
    Ok(Some(value))
}

/// The non-secret settings of an Okta service app (flags or environment).
#[derive(Debug, Clone, Default)]
pub struct ServiceAppIds {
    /// `OKTA_SERVICE_CLIENT_ID`; when set, the service app is used instead of an API token.
    pub client_id: Option<String>,
    /// `OKTA_SERVICE_KEY_ID`: the `kid` of the app's key at Okta.
    pub key_id: Option<String>,
    /// `OKTA_SCOPES`: empty means the caller's default scopes.
    pub scopes: Vec<String>,
}

/// How to authenticate to Okta: a service app (`OKTA_SERVICE_CLIENT_ID` with the private key
/// in `OKTA_SERVICE_KEY` or `OKTA_SERVICE_KEY_FILE`) or an API token (`OKTA_API_TOKEN` or
/// `OKTA_API_TOKEN_FILE`), never both. A service app without `OKTA_SCOPES` asks for
/// `default_scopes`.
pub fn okta_credentials(
    ids: &ServiceAppIds,
    default_scopes: &[&str],
) -> Result<OktaCredentials, SettingError> {
    okta_credentials_from(ids, default_scopes, secret)
}

/// [`okta_credentials`] with the secrets read by `read_secret` (tests).
fn okta_credentials_from(
    ids: &ServiceAppIds,
    default_scopes: &[&str],
    read_secret: impl Fn(&'static str) -> Result<Option<String>, SettingError>,
) -> Result<OktaCredentials, SettingError> {
    let client_id = ids
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    // An empty token next to a service app is an unused Secret key (the manifests mount one).
    let api_token = match read_secret("OKTA_API_TOKEN") {
        Err(SettingError::Empty { .. }) if client_id.is_some() => None,
        other => other?,
    };
    let key = read_secret("OKTA_SERVICE_KEY")?;
    match (client_id, api_token, key) {
        (Some(_), Some(_), _) => Err(SettingError::Invalid(
            "both OKTA_API_TOKEN and OKTA_SERVICE_CLIENT_ID are set; use one: the service app \
             (preferred) or the API token"
                .into(),
        )),
        (Some(client_id), None, Some(private_key_pem)) => {
            let scopes: Vec<String> = if ids.scopes.is_empty() {
                default_scopes.iter().map(|s| (*s).to_owned()).collect()
            } else {
                ids.scopes.clone()
            };
            if let Some(bad) = scopes
                .iter()
                .find(|s| !s.starts_with("okta.") || s.contains(char::is_whitespace))
            {
                return Err(SettingError::Invalid(format!(
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
        (Some(_), None, None) => Err(SettingError::Invalid(
            "OKTA_SERVICE_CLIENT_ID is set but not the service app's private key; set \
             OKTA_SERVICE_KEY_FILE to a PKCS#8 PEM file"
                .into(),
        )),
        (None, _, Some(_)) => Err(SettingError::Invalid(
            "OKTA_SERVICE_KEY is set but not OKTA_SERVICE_CLIENT_ID; set the service app's client id"
                .into(),
        )),
        (None, Some(token), None) => Ok(OktaCredentials::ApiToken(token)),
        (None, None, None) => Err(SettingError::Invalid(
            "no Okta credentials: set OKTA_SERVICE_CLIENT_ID and OKTA_SERVICE_KEY_FILE (a service \
             app, preferred) or OKTA_API_TOKEN (or OKTA_API_TOKEN_FILE)"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(
        ids: &ServiceAppIds,
        token: Option<&str>,
        key: Option<&str>,
    ) -> Result<OktaCredentials, String> {
        let read = |name: &'static str| {
            let value = match name {
                "OKTA_API_TOKEN" => token,
                "OKTA_SERVICE_KEY" => key,
                _ => None,
            };
            match value {
                Some("") => Err(SettingError::Empty { name }),
                other => Ok(other.map(str::to_owned)),
            }
        };
        okta_credentials_from(ids, &["okta.users.read"], read).map_err(|e| e.to_string())
    }

    fn app(scopes: &[&str]) -> ServiceAppIds {
        ServiceAppIds {
            client_id: Some(" 0oa1 ".into()),
            key_id: Some("k1".into()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn an_api_token_alone_is_used() {
        let got = credentials(&ServiceAppIds::default(), Some("t0k"), None).unwrap();
        assert!(matches!(got, OktaCredentials::ApiToken(t) if t == "t0k"));
        let err = credentials(&ServiceAppIds::default(), Some(""), None).unwrap_err();
        assert_eq!(err, "OKTA_API_TOKEN is set but empty");
    }

    #[test]
    fn a_service_app_gets_the_default_scopes_and_ignores_an_empty_token() {
        let Ok(OktaCredentials::ServiceApp(settings)) =
            credentials(&app(&[]), Some(""), Some("pem"))
        else {
            panic!("not a service app");
        };
        assert_eq!(settings.client_id, "0oa1");
        assert_eq!(settings.key_id.as_deref(), Some("k1"));
        assert_eq!(settings.scopes, ["okta.users.read"]);
        assert_eq!(settings.private_key_pem, "pem");
    }

    #[test]
    fn conflicting_or_incomplete_settings_say_what_to_set() {
        let none = ServiceAppIds::default();
        let cases = [
            (
                credentials(&app(&[]), Some("t"), Some("pem")),
                "both OKTA_API_TOKEN",
            ),
            (credentials(&app(&[]), None, None), "OKTA_SERVICE_KEY_FILE"),
            (
                credentials(&none, None, Some("pem")),
                "not OKTA_SERVICE_CLIENT_ID",
            ),
            (credentials(&none, None, None), "no Okta credentials"),
            (
                credentials(&app(&["openid"]), None, Some("pem")),
                "OKTA_SCOPES: `openid`",
            ),
        ];
        for (got, want) in cases {
            let err = got.err().unwrap_or_default();
            assert!(err.contains(want), "{err} should name {want}");
        }
    }
}
