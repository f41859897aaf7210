//! Pre-registered clients (`CLIENTS_FILE`, TOML): the confidential clients an operator lists
//! ahead of time, for the grants no person approves on a consent page: `client_credentials`
//! (an agent without a browser, mapped to one role and a subject name) and the jwt-bearer
//! grant with an ID-JAG from Okta (Enterprise-Managed Authorization), and optionally the
//! authorization-code grant with fixed redirect URIs.
//!
//! Why it is built this way: these grants skip consent, so who may use them is the operator's
//! decision, written down and reviewed, not something a client registers for itself. The file
//! holds no secret: a client secret appears only as its SHA-256 (secrets are long and random,
//! so a fast hash is enough, as for registered clients), and `private_key_jwt` clients give
//! public keys only. `okta-mcp-proxy clients check FILE` runs the same checks as start-up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKeySet, CoreJsonWebKeyType};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm};
use serde::Deserialize;

use super::clients::{RegisteredClient, check_redirect_uri};

/// The jwt-bearer grant (RFC 7523), used with an ID-JAG as the assertion.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The client-credentials grant (RFC 6749 §4.4).
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
/// `token_endpoint_auth_method` of a client that signs assertions (RFC 7523 §2.2).
pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";

/// Grants a clients-file entry may name.
const GRANTS: [&str; 4] = [
    CLIENT_CREDENTIALS,
    JWT_BEARER,
    "authorization_code",
    "refresh_token",
];

/// Largest clients file or JWKS file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What the file says about a client beyond what a registered client has.
#[derive(Debug)]
pub struct Preregistered {
    /// Public keys for `private_key_jwt`; `None` for a client with a secret.
    pub keys: Option<CoreJsonWebKeySet>,
    /// For `client_credentials`: the role its tokens carry and the subject the audit log names.
    pub agent: Option<Agent>,
}

/// Who a `client_credentials` client is, per the clients file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub role: String,
    pub subject: String,
}

/// The clients of `CLIENTS_FILE`, by id.
#[derive(Debug, Default)]
pub struct PreregisteredClients {
    by_id: HashMap<String, RegisteredClient>,
}

/// Why the clients file cannot be used; the text names the file, the client and what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {why}")]
pub struct ClientsFileError {
    origin: String,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDocument {
    #[serde(default)]
    client: Vec<FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    client_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    secret_sha256: Option<String>,
    #[serde(default)]
    jwks: Option<String>,
    #[serde(default)]
    jwks_file: Option<PathBuf>,
    grant_types: Vec<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

fn is_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

fn is_role(role: &str) -> bool {
    (1..=64).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

/// A subject name for the audit log: short, printable, and never mistakable for an Okta user
/// id (which the Event Hooks act on).
fn check_subject(subject: &str) -> Result<(), String> {
    if !(1..=64).contains(&subject.len())
        || !subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b':'))
    {
        return Err(format!(
            "subject {subject:?} must be 1 to 64 letters, digits or - _ . @ :"
        ));
    }
    if subject.starts_with("00u") {
        return Err(format!(
            "subject {subject:?} looks like an Okta user id; name the agent, e.g. \"agent:nightly-audit\""
        ));
    }
    Ok(())
}

/// The public keys of a `private_key_jwt` client, refusing private or symmetric keys.
fn check_keys(text: &str) -> Result<CoreJsonWebKeySet, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the JWKS is not JSON ({e})"))?;
    let keys = value
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or("the JWKS has no \"keys\" array")?;
    if keys.is_empty() {
        return Err("the JWKS has no keys".into());
    }
    for key in keys {
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|part| key.get(part).is_some())
        {
            return Err(
                "the JWKS holds a private or symmetric key; give the public key only".into(),
            );
        }
    }
    let set: CoreJsonWebKeySet =
        serde_json::from_value(value).map_err(|e| format!("the JWKS is not valid ({e})"))?;
    for key in set.keys() {
        match key.key_type() {
            CoreJsonWebKeyType::RSA => {
                let n = serde_json::to_value(key)
                    .ok()
                    .and_then(|v| v["n"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                let bits = URL_SAFE_NO_PAD
                    .decode(n)
                    .map_or(0, |n| n.iter().skip_while(|b| **b == 0).count() * 8);
                if bits < 2048 {
                    return Err(format!(
                        "an RSA key of the JWKS has {bits} bits; at least 2048 are needed"
                    ));
                }
            }
            CoreJsonWebKeyType::EllipticCurve | CoreJsonWebKeyType::OctetKeyPair => {}
            _ => return Err("the JWKS holds a key that is not RSA, EC or OKP".into()),
        }
        if matches!(key.signing_alg(), JsonWebKeyAlgorithm::Unsupported) {
            return Err("a key of the JWKS has an alg that is not a signature algorithm".into());
        }
    }
    Ok(set)
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl FileEntry {
    /// The registered client this entry describes; `base` is the clients file's folder, for a
    /// relative `jwks_file`.
    fn into_client(self, base: &Path) -> Result<RegisteredClient, String> {
        let id = self.client_id;
        if !is_client_id(&id) {
            return Err(format!(
                "client_id {id:?} must be 1 to 128 letters, digits or - _ . ~ (an https client id is a metadata document, not a file entry)"
            ));
        }
        let why = |text: String| format!("client {id}: {text}");
        if self.grant_types.is_empty() {
            return Err(why(format!(
                "grant_types is empty; name one or more of {GRANTS:?}"
            )));
        }
        for grant in &self.grant_types {
            if !GRANTS.contains(&grant.as_str()) {
                return Err(why(format!(
                    "grant type {grant:?} is not one of {GRANTS:?}"
                )));
            }
        }
        let grants = |name: &str| self.grant_types.iter().any(|g| g == name);
        let credentials = [
            self.secret_sha256.is_some(),
            self.jwks.is_some(),
            self.jwks_file.is_some(),
        ];
        if credentials.iter().filter(|given| **given).count() != 1 {
            return Err(why(
                "give exactly one of secret_sha256, jwks or jwks_file (these clients are confidential)".into(),
            ));
        }
        let secret_hash = match &self.secret_sha256 {
            Some(hex) => {
                let hex = hex.trim().to_ascii_lowercase();
                let bytes = (hex.len() == 64)
                    .then(|| {
                        (0..32)
                            .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok())
                            .collect::<Option<Vec<u8>>>()
                    })
                    .flatten()
                    .ok_or_else(|| {
                        why("secret_sha256 must be 64 hex digits: the SHA-256 of the secret (printf %s \"$SECRET\" | sha256sum)".into())
                    })?;
                Some(URL_SAFE_NO_PAD.encode(bytes))
            }
            None => None,
        };
        let keys = match (&self.jwks, &self.jwks_file) {
            (Some(text), _) => Some(check_keys(text).map_err(why)?),
            (None, Some(file)) => {
                let path = base.join(file);
                Some(check_keys(&read_bounded(&path).map_err(why)?).map_err(why)?)
            }
            (None, None) => None,
        };
        let agent = match (self.role, self.subject) {
            (Some(role), Some(subject)) if grants(CLIENT_CREDENTIALS) => {
                if !is_role(&role) {
                    return Err(why(format!(
                        "role {role:?} must be lowercase letters, digits, - or _"
                    )));
                }
                check_subject(&subject).map_err(why)?;
                Some(Agent { role, subject })
            }
            (_, _) if grants(CLIENT_CREDENTIALS) => {
                return Err(why(
                    "client_credentials needs role (the role its tokens carry) and subject (the name the audit log shows)".into(),
                ));
            }
            (None, None) => None,
            _ => {
                return Err(why(
                    "role and subject apply to client_credentials only (other grants take the role from the user's Okta groups)".into(),
                ));
            }
        };
        if grants("authorization_code") {
            if self.redirect_uris.is_empty() {
                return Err(why("authorization_code needs redirect_uris".into()));
            }
        } else if grants("refresh_token") {
            return Err(why(
                "refresh_token goes with authorization_code only (jwt-bearer and client_credentials clients get no refresh token)".into(),
            ));
        }
        if !self.redirect_uris.is_empty() && !grants("authorization_code") {
            return Err(why("redirect_uris apply to authorization_code only".into()));
        }
        for uri in &self.redirect_uris {
            check_redirect_uri(uri).map_err(|e| why(format!("redirect URI {uri:?} {e}")))?;
        }
        let method = if keys.is_some() {
            PRIVATE_KEY_JWT
        } else {
            "client_secret_basic"
        };
        Ok(RegisteredClient {
            client_id: id,
            secret_hash,
            redirect_uris: self.redirect_uris,
            token_endpoint_auth_method: method.into(),
            grant_types: self.grant_types,
            client_name: self.name,
            scope: None,
            issued_at: 0,
            preregistered: Some(Arc::new(Preregistered { keys, agent })),
        })
    }
}

impl PreregisteredClients {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ClientsFileError> {
        let origin = path.display().to_string();
        let text = read_bounded(path).map_err(|why| ClientsFileError {
            origin: origin.clone(),
            why,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, &origin, base)
    }

    /// Parses and checks a clients file's text; `base` resolves relative `jwks_file`s.
    pub fn from_toml_str(text: &str, origin: &str, base: &Path) -> Result<Self, ClientsFileError> {
        let error = |why: String| ClientsFileError {
            origin: origin.to_owned(),
            why,
        };
        let document: FileDocument = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        if document.client.is_empty() {
            return Err(error(
                "no [[client]] entries; remove CLIENTS_FILE or add a client".into(),
            ));
        }
        let mut by_id = HashMap::new();
        for entry in document.client {
            let client = entry.into_client(base).map_err(error)?;
            let id = client.client_id.clone();
            if by_id.insert(id.clone(), client).is_some() {
                return Err(error(format!("client {id} is listed twice")));
            }
        }
        Ok(Self { by_id })
    }

    /// The client `client_id`, if the file lists it.
    pub(super) fn get(&self, client_id: &str) -> Option<&RegisteredClient> {
        self.by_id.get(client_id)
    }

    /// Whether any client may use `grant`.
    pub fn any_allows(&self, grant: &str) -> bool {
        self.by_id
            .values()
            .any(|c| c.grant_types.iter().any(|g| g == grant))
    }

    /// Whether any client authenticates with `private_key_jwt`.
    pub fn any_keys(&self) -> bool {
        self.by_id
            .values()
            .any(|c| c.token_endpoint_auth_method == PRIVATE_KEY_JWT)
    }

    /// One line per client for `clients check` and the start-up log (no secrets: there are
    /// none in the file).
    pub fn summary(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .by_id
            .values()
            .map(|c| {
                let auth = &c.token_endpoint_auth_method;
                let agent = c
                    .preregistered
                    .as_ref()
                    .and_then(|p| p.agent.as_ref())
                    .map(|a| format!(", role {} as {}", a.role, a.subject))
                    .unwrap_or_default();
                format!(
                    "{}: {} by {auth}{agent}",
                    c.client_id,
                    c.grant_types.join(" + ")
                )
            })
            .collect();
        lines.sort();
        lines
    }

    /// How many clients the file lists.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the file lists none (never true for a loaded file).
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const EC_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

    fn parse(text: &str) -> Result<PreregisteredClients, String> {
        PreregisteredClients::from_toml_str(text, "clients.toml", Path::new("."))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_file_gives_each_client_its_grants_and_credentials() {
        let clients = parse(&format!(
            r#"
[[client]]
client_id = "audit-agent"
name = "Nightly audit"
secret_sha256 = "{HASH}"
grant_types = ["client_credentials"]
role = "viewer"
subject = "agent:nightly-audit"

[[client]]
client_id = "xaa-client"
jwks = '{EC_JWKS}'
grant_types = ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
"#
        ))
        .unwrap();
        assert_eq!(clients.len(), 2);
        let agent = clients.get("audit-agent").unwrap();
        assert_eq!(
            agent.secret_hash.as_deref(),
            Some(crate::tokens::sha256_b64("test").as_str())
        );
        assert_eq!(
            agent.preregistered.as_ref().unwrap().agent,
            Some(Agent {
                role: "viewer".into(),
                subject: "agent:nightly-audit".into()
            })
        );
        let xaa = clients.get("xaa-client").unwrap();
        assert_eq!(xaa.token_endpoint_auth_method, PRIVATE_KEY_JWT);
        assert!(xaa.preregistered.as_ref().unwrap().keys.is_some());
        assert!(clients.any_allows(JWT_BEARER));
        assert!(!clients.any_allows("authorization_code"));
        assert_eq!(
            clients.summary(),
            [
                "audit-agent: client_credentials by client_secret_basic, role viewer as agent:nightly-audit",
                "xaa-client: urn:ietf:params:oauth:grant-type:jwt-bearer by private_key_jwt",
            ]
        );
    }

    #[test]
    fn bad_entries_are_refused_with_what_to_fix() {
        let cc = |extra: &str| {
            format!(
                "[[client]]\nclient_id = \"a\"\ngrant_types = [\"client_credentials\"]\n{extra}"
            )
        };
        for (text, expected) in [
            ("", "no [[client]] entries"),
            ("[[client]]\nclient_id = \"a\"\n", "grant_types"),
            (
                &cc(&format!(
                    "secret_sha256 = \"{HASH}\"\nrole = \"viewer\"\nsubject = \"x\"\nsecret = \"s\""
                )),
                "unknown field",
            ),
            (&cc("role = \"viewer\"\nsubject = \"x\""), "exactly one of"),
            (
                &cc(&format!(
                    "secret_sha256 = \"{HASH}\"\njwks = '{EC_JWKS}'\nrole = \"viewer\"\nsubject = \"x\""
                )),
                "exactly one of",
            ),
            (
                &cc("secret_sha256 = \"abc\"\nrole = \"viewer\"\nsubject = \"x\""),
                "64 hex digits",
            ),
            (&cc(&format!("secret_sha256 = \"{HASH}\"")), "needs role"),
            (
                &cc(&format!(
                    "secret_sha256 = \"{HASH}\"\nrole = \"Viewer!\"\nsubject = \"x\""
                )),
                "lowercase",
            ),
            (
                &cc(&format!(
                    "secret_sha256 = \"{HASH}\"\nrole = \"viewer\"\nsubject = \"00uabc123\""
                )),
                "looks like an Okta user id",
            ),
            (
                &cc(&format!(
                    "secret_sha256 = \"{HASH}\"\nrole = \"viewer\"\nsubject = \"a b\""
                )),
                "must be 1 to 64",
            ),
            (
                &cc(&format!(
                    "secret_sha256 = \"{HASH}\"\nrole = \"viewer\"\nsubject = \"x\"\nredirect_uris = [\"https://a/cb\"]"
                )),
                "redirect_uris apply",
            ),
            (
                &cc("jwks = '{\"keys\":[]}'\nrole = \"viewer\"\nsubject = \"x\""),
                "has no keys",
            ),
            (
                &cc("jwks = 'nope'\nrole = \"viewer\"\nsubject = \"x\""),
                "not JSON",
            ),
            (
                &cc(
                    "jwks = '{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}'\nrole = \"viewer\"\nsubject = \"x\"",
                ),
                "private or symmetric",
            ),
            (
                &cc(
                    "jwks = '{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}]}'\nrole = \"viewer\"\nsubject = \"x\"",
                ),
                "private or symmetric",
            ),
            (
                &cc(
                    "jwks = '{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}'\nrole = \"viewer\"\nsubject = \"x\"",
                ),
                "at least 2048",
            ),
            (
                &cc("jwks_file = \"missing.json\"\nrole = \"viewer\"\nsubject = \"x\""),
                "cannot read",
            ),
            (
                &format!(
                    "[[client]]\nclient_id = \"a\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"password\"]"
                ),
                "not one of",
            ),
            (
                &format!(
                    "[[client]]\nclient_id = \"https://x.example/c\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"{JWT_BEARER}\"]"
                ),
                "metadata document",
            ),
            (
                &format!(
                    "[[client]]\nclient_id = \"a\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"{JWT_BEARER}\"]\nrole = \"viewer\"\nsubject = \"x\""
                ),
                "client_credentials only",
            ),
            (
                &format!(
                    "[[client]]\nclient_id = \"a\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"authorization_code\"]"
                ),
                "needs redirect_uris",
            ),
            (
                &format!(
                    "[[client]]\nclient_id = \"a\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"authorization_code\"]\nredirect_uris = [\"http://evil.example/cb\"]"
                ),
                "not loopback",
            ),
            (
                &format!(
                    "[[client]]\nclient_id = \"a\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"refresh_token\", \"{JWT_BEARER}\"]"
                ),
                "refresh_token goes with",
            ),
            (
                &format!(
                    "[[client]]\nclient_id = \"a\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"{JWT_BEARER}\"]\n[[client]]\nclient_id = \"a\"\nsecret_sha256 = \"{HASH}\"\ngrant_types = [\"{JWT_BEARER}\"]"
                ),
                "listed twice",
            ),
        ] {
            let error = parse(text)
                .err()
                .unwrap_or_else(|| panic!("accepted: {text}"));
            assert!(error.starts_with("clients.toml: "), "{error}");
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
        }
    }
}
