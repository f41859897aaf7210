//! Query strings and form bodies (`application/x-www-form-urlencoded`).

use std::collections::HashMap;

/// More parameters than any OAuth request needs; the rest is refused.
const MAX_PARAMS: usize = 64;

/// Parameters by name. Empty values count as absent (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub(super) struct Params(HashMap<String, String>);

/// Why a query or form was refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ParamsError {
    /// A parameter given more than once (RFC 6749 §3.1).
    Repeated(String),
    TooMany,
}

impl ParamsError {
    /// A sentence for the error description.
    pub(super) fn describe(&self) -> String {
        match self {
            ParamsError::Repeated(name) => {
                format!("the parameter {name:?} is given more than once")
            }
            ParamsError::TooMany => "too many parameters".to_owned(),
        }
    }
}

impl Params {
    /// Parses `input`; a repeated parameter is an error.
    pub(super) fn parse(input: &[u8]) -> Result<Self, ParamsError> {
        let mut map = HashMap::new();
        for (count, (name, value)) in form_urlencoded::parse(input).enumerate() {
            if count >= MAX_PARAMS {
                return Err(ParamsError::TooMany);
            }
            if value.is_empty() {
                continue;
            }
            if map.insert(name.to_string(), value.into_owned()).is_some() {
                let name: String = name.chars().take(40).collect();
                return Err(ParamsError::Repeated(name));
            }
        }
        Ok(Self(map))
    }

    /// Parses an optional query string.
    pub(super) fn parse_query(query: Option<&str>) -> Result<Self, ParamsError> {
        Self::parse(query.unwrap_or("").as_bytes())
    }

    /// The value of `name`, if given and not empty.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let p = Params::parse(b"a=1&b=x%20y&c=&d=%E2%9C%93+z").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), Some("✓ z"));
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn repeated_and_too_many_parameters_are_refused() {
        assert_eq!(
            Params::parse(b"a=1&a=2").unwrap_err(),
            ParamsError::Repeated("a".into())
        );
        // an empty repeat is "absent", not a repeat
        assert!(Params::parse(b"a=1&a=").is_ok());
        let many: String = (0..100).map(|i| format!("p{i}=1&")).collect();
        assert_eq!(
            Params::parse(many.as_bytes()).unwrap_err(),
            ParamsError::TooMany
        );
    }

    #[test]
    fn junk_does_not_panic() {
        for junk in [
            &b"%"[..],
            b"%zz=%",
            b"===",
            b"&&&",
            b"\xff\xfe=\xff",
            b"a=%00",
        ] {
            let _ = Params::parse(junk);
        }
    }
}
