//! Lenient argument parsing and the checks every tool shares.
//!
//! Models send `"50"` for 50 and `"true"` for true, and leave optional fields empty rather
//! than out; all of that is accepted. What cannot be right (a limit out of range, an empty id,
//! an unknown sort order) is refused with a message that says what to send instead.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::output::ToolFailure;

/// `limit` (or `max_results`), leniently parsed; errors name the argument.
pub(crate) fn lenient_limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    lenient_int(d).map_err(|e| D::Error::custom(format_args!("invalid `limit`: {e}")))
}

/// An optional integer given as a number or a numeric string.
pub(crate) fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a whole number, got {n}"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a whole number, got {s:?}"))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a whole number, got {other}"
        ))),
    }
}

/// An optional number given as a number or a numeric string.
pub(crate) fn lenient_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a number, got {s:?}"))),
        Some(other) => Err(D::Error::custom(format!("expected a number, got {other}"))),
    }
}

/// An optional boolean given as a boolean, `"true"`/`"false"`, `"yes"`/`"no"` or 1/0.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "yes" | "1" => Ok(Some(true)),
            "false" | "no" | "0" => Ok(Some(false)),
            _ => Err(D::Error::custom(format!(
                "expected true or false, got {s:?}"
            ))),
        },
        Some(other) => Err(D::Error::custom(format!(
            "expected true or false, got {other}"
        ))),
    }
}

/// The trimmed value when it is not empty.
pub(crate) fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A required id: trimmed, not empty, not a dot segment. `hint` says what a valid one is.
pub(crate) fn required<'a>(
    name: &str,
    value: &'a Option<String>,
    hint: &str,
) -> Result<&'a str, ToolFailure> {
    match text(value) {
        None => Err(ToolFailure::invalid(format!("{name} is required: {hint}"))),
        Some(id) if id == "." || id == ".." || id.chars().any(char::is_control) => Err(
            ToolFailure::invalid(format!("{name} {id:?} is not a valid id: {hint}")),
        ),
        Some(id) => Ok(id),
    }
}

/// `limit` within 1..=max, `default` when absent.
pub(crate) fn limit(value: Option<i64>, default: usize, max: usize) -> Result<usize, ToolFailure> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 && n as u64 <= max as u64 => Ok(n as usize),
        Some(n) => Err(ToolFailure::invalid(format!(
            "limit must be between 1 and {max} (got {n}); to see more, pass the returned \
             `after` cursor to get the next page"
        ))),
    }
}

/// One of `allowed` (matched case-insensitively), returned as written in `allowed`.
pub(crate) fn one_of(
    name: &str,
    value: Option<&str>,
    allowed: &[&'static str],
) -> Result<Option<&'static str>, ToolFailure> {
    let Some(value) = value else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .map(Some)
        .ok_or_else(|| {
            ToolFailure::invalid(format!(
                "{name} must be one of {} (got {value:?})",
                allowed.join(", ")
            ))
        })
}

/// Query pairs from optional values; empty ones are left out.
pub(crate) fn query<'a>(
    pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Vec<(&'a str, String)> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    struct Args {
        #[serde(default, deserialize_with = "lenient_limit", alias = "max_results")]
        limit: Option<i64>,
        #[serde(default, deserialize_with = "lenient_bool")]
        show_all: Option<bool>,
        #[serde(default, deserialize_with = "lenient_number")]
        hours: Option<f64>,
    }

    fn parse(v: Value) -> Result<Args, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn numbers_and_booleans_may_come_as_strings() {
        let a = parse(json!({"limit": "25", "show_all": "false", "hours": "1.5"})).unwrap();
        assert_eq!(
            (a.limit, a.show_all, a.hours),
            (Some(25), Some(false), Some(1.5))
        );
        let a = parse(json!({"max_results": 10.0, "show_all": 1, "hours": 2})).unwrap();
        assert_eq!(
            (a.limit, a.show_all, a.hours),
            (Some(10), Some(true), Some(2.0))
        );
        let a = parse(json!({"limit": null, "show_all": "", "hours": " "})).unwrap();
        assert_eq!((a.limit, a.show_all, a.hours), (None, None, None));
        let a = parse(json!({})).unwrap();
        assert_eq!(a.limit, None);
        assert!(parse(json!({"limit": "lots"})).is_err());
        assert!(parse(json!({"limit": 2.5})).is_err());
        assert!(parse(json!({"show_all": "maybe"})).is_err());
        assert!(parse(json!({"hours": "NaN"})).is_err());
    }

    #[test]
    fn limits_are_checked_with_a_hint() {
        assert_eq!(limit(None, 50, 1000).unwrap(), 50);
        assert_eq!(limit(Some(1000), 50, 1000).unwrap(), 1000);
        for bad in [0, -3, 1001] {
            let err = limit(Some(bad), 50, 1000).unwrap_err();
            let ToolFailure::InvalidArgument(message) = err else {
                panic!("expected an invalid argument");
            };
            assert!(message.contains("between 1 and 1000"), "{message}");
            assert!(message.contains("after"), "{message}");
        }
    }

    #[test]
    fn ids_must_be_present_and_not_dots() {
        assert_eq!(
            required("user_id", &Some(" 00u1 ".into()), "h").unwrap(),
            "00u1"
        );
        for bad in [
            None,
            Some(String::new()),
            Some("  ".into()),
            Some("..".into()),
            Some("a\nb".into()),
        ] {
            let ToolFailure::InvalidArgument(message) =
                required("user_id", &bad, "pass 00u…").unwrap_err()
            else {
                panic!("expected an invalid argument");
            };
            assert!(
                message.starts_with("user_id") && message.contains("pass 00u…"),
                "{message}"
            );
        }
    }

    #[test]
    fn one_of_is_case_insensitive_and_lists_the_choices() {
        assert_eq!(
            one_of("sort_order", Some("DESC"), &["asc", "desc"]).unwrap(),
            Some("desc")
        );
        assert_eq!(one_of("sort_order", None, &["asc", "desc"]).unwrap(), None);
        let ToolFailure::InvalidArgument(message) =
            one_of("sort_order", Some("up"), &["asc", "desc"]).unwrap_err()
        else {
            panic!("expected an invalid argument");
        };
        assert_eq!(message, "sort_order must be one of asc, desc (got \"up\")");
    }

    #[test]
    fn query_leaves_out_empty_values() {
        assert_eq!(
            query([("q", Some("ali")), ("filter", None)]),
            [("q", "ali".to_string())]
        );
    }
}
