//! The wrapped server's environment: empty but for an allowlist.
//!
//! A child inherits nothing from the wrapper by default, because the wrapper's environment is the
//! pod's: cloud credentials, other clients' secrets, paths to mounted keys. Whatever reaches the
//! child reaches, through a tool like server-everything's `get-env`, everyone whose role may
//! call it. So the child gets `PATH`, `HOME` and `LANG` (when the wrapper has them) and what
//! `--env NAME` (the wrapper's value) or `--env NAME=VALUE` adds, and never the wrapper's own
//! secrets.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Passed through unless the flags say otherwise: enough for Node, Python and most servers.
pub const DEFAULT_VARIABLES: [&str; 3] = ["PATH", "HOME", "LANG"];

/// Environment variables of this project that hold secrets: never handed to a wrapped server.
const SECRET_VARIABLES: [&str; 6] = [
    "IDENTITY_HEADER_KEY",
    "IDENTITY_HEADER_KEYS_PREVIOUS",
    "OKTA_API_TOKEN",
    "OKTA_CLIENT_SECRET",
    "SESSION_SECRET_KEY",
    "SESSION_SECRET_KEYS_PREVIOUS",
];

/// Why an `--env` value is refused. The messages name the variable, never its value (which
/// may be a secret).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("--env: no name given; give NAME (to pass the wrapper's value) or NAME=VALUE")]
    NoName,
    #[error("--env {0:?}: a variable name is letters, digits and _, not starting with a digit")]
    BadName(String),
    #[error("--env {0}: a secret of the wrapper, never passed to the wrapped server")]
    Secret(String),
}

/// The variables a child starts with, and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildEnvironment {
    variables: BTreeMap<String, OsString>,
}

impl ChildEnvironment {
    /// The defaults plus `flags` (`NAME` or `NAME=VALUE`; a later one wins), with the values
    /// of `NAME`s taken from `wrapper`. Also returns the `--env NAME`s the wrapper lacks.
    pub fn from_flags(
        flags: &[String],
        wrapper: impl Fn(&str) -> Option<OsString>,
    ) -> Result<(Self, Vec<String>), EnvError> {
        let mut variables = BTreeMap::new();
        for name in DEFAULT_VARIABLES {
            if let Some(value) = wrapper(name) {
                variables.insert(name.to_owned(), value);
            }
        }
        let mut missing = Vec::new();
        for flag in flags {
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(OsString::from(value))),
                None => (flag.as_str(), None),
            };
            check_name(name)?;
            match value.or_else(|| wrapper(name)) {
                Some(value) => {
                    variables.insert(name.to_owned(), value);
                }
                None => {
                    variables.remove(name);
                    missing.push(name.to_owned());
                }
            }
        }
        Ok((Self { variables }, missing))
    }

    /// The names set, for logs (values may be secrets).
    pub fn names(&self) -> Vec<&str> {
        self.variables.keys().map(String::as_str).collect()
    }

    /// Name and value of each variable.
    pub(crate) fn variables(&self) -> impl Iterator<Item = (&String, &OsString)> {
        self.variables.iter()
    }
}

fn check_name(name: &str) -> Result<(), EnvError> {
    if name.is_empty() {
        return Err(EnvError::NoName);
    }
    let portable = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !portable {
        return Err(EnvError::BadName(name.to_owned()));
    }
    let secret = SECRET_VARIABLES
        .iter()
        .any(|s| name == *s || name.strip_suffix("_FILE") == Some(s));
    if secret {
        return Err(EnvError::Secret(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapper(name: &str) -> Option<OsString> {
        match name {
            "PATH" => Some("/usr/bin".into()),
            "HOME" => Some("/home/app".into()),
            "CLOUD_TOKEN" => Some("secret".into()),
            "PASSED" => Some("from the wrapper".into()),
            _ => None,
        }
    }

    fn parse(flags: &[&str]) -> Result<(ChildEnvironment, Vec<String>), EnvError> {
        let flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        ChildEnvironment::from_flags(&flags, wrapper)
    }

    fn pairs(env: &ChildEnvironment) -> Vec<(String, String)> {
        env.variables()
            .map(|(n, v)| (n.clone(), v.to_string_lossy().into_owned()))
            .collect()
    }

    #[test]
    fn only_the_defaults_and_the_listed_variables() {
        let (env, missing) = parse(&[]).unwrap();
        assert_eq!(
            env.names(),
            ["HOME", "PATH"],
            "LANG is unset in the wrapper"
        );
        assert!(missing.is_empty());

        let (env, missing) = parse(&["PASSED", "SET=a=b", "PATH=/opt/bin", "ABSENT"]).unwrap();
        assert_eq!(
            pairs(&env),
            [
                ("HOME".to_owned(), "/home/app".to_owned()),
                ("PASSED".to_owned(), "from the wrapper".to_owned()),
                ("PATH".to_owned(), "/opt/bin".to_owned()),
                ("SET".to_owned(), "a=b".to_owned()),
            ]
        );
        assert_eq!(missing, ["ABSENT"]);
        // An empty value is a value.
        let (env, _) = parse(&["EMPTY="]).unwrap();
        assert!(env.names().contains(&"EMPTY"));
    }

    #[test]
    fn bad_names_and_secrets_are_refused() {
        for flag in ["", "=", "=x"] {
            assert_eq!(parse(&[flag]), Err(EnvError::NoName), "{flag:?}");
        }
        for (flag, name) in [("1A", "1A"), ("A B=c", "A B"), ("A-B", "A-B"), ("É", "É")] {
            assert_eq!(
                parse(&[flag]),
                Err(EnvError::BadName(name.into())),
                "{flag:?}"
            );
        }
        for (flag, name) in [
            ("IDENTITY_HEADER_KEY", "IDENTITY_HEADER_KEY"),
            ("OKTA_API_TOKEN_FILE=/x", "OKTA_API_TOKEN_FILE"),
            ("SESSION_SECRET_KEY=x", "SESSION_SECRET_KEY"),
        ] {
            let refused = parse(&[flag]).unwrap_err();
            assert_eq!(refused, EnvError::Secret(name.into()));
            assert!(refused.to_string().contains("never passed"), "{refused}");
        }
        // A value never appears in a message: it may be the secret itself.
        for flag in [
            "=hunter2-value",
            "BAD-NAME=hunter2-value",
            "OKTA_API_TOKEN=hunter2-value",
        ] {
            let refused = parse(&[flag]).unwrap_err().to_string();
            assert!(!refused.contains("hunter2"), "{refused}");
        }
    }
}
