//! Okta's JSON parsed without what the tools throw away.
//!
//! Every Okta object carries `_links` (hypermedia links to related resources), and `_embedded`
//! when a request asks to `expand` something. Neither reaches a tool's answer, and on a page of
//! 200 users they are a large share of the bytes. Building them as [`Value`]s only to remove them
//! afterwards was most of the cost of a listing, so [`parse`] skips them while it reads: their
//! bytes are still checked as JSON, but nothing is allocated for them.

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The keys skipped at every depth.
const LINKS: &str = "_links";
const EMBEDDED: &str = "_embedded";

/// Parses `body` like `serde_json::from_slice::<Value>`, minus every `_links` and (unless
/// `keep_embedded`, for requests that `expand`) every `_embedded`, at any depth.
pub fn parse(body: &[u8], keep_embedded: bool) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = Lean { keep_embedded }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Lean {
    keep_embedded: bool,
}

impl Lean {
    fn skips(self, key: &str) -> bool {
        key == LINKS || (key == EMBEDDED && !self.keep_embedded)
    }
}

impl<'de> DeserializeSeed<'de> for Lean {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lean {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.skips(&key) {
                map.next_value::<IgnoredAny>()?;
            } else {
                let value = map.next_value_seed(self)?;
                object.insert(key, value);
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stripped(mut value: Value, keep_embedded: bool) -> Value {
        match &mut value {
            Value::Object(map) => {
                map.remove(LINKS);
                if !keep_embedded {
                    map.remove(EMBEDDED);
                }
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let inner = map.remove(&key).unwrap_or(Value::Null);
                    map.insert(key, stripped(inner, keep_embedded));
                }
            }
            Value::Array(items) => {
                let taken = std::mem::take(items);
                *items = taken
                    .into_iter()
                    .map(|v| stripped(v, keep_embedded))
                    .collect();
            }
            _ => {}
        }
        value
    }

    #[test]
    fn the_same_as_parsing_then_stripping() {
        let page = json!([
            {"id": "00u1", "status": "ACTIVE", "created": "2024-01-01T00:00:00.000Z",
             "profile": {"login": "a@example.com", "email": "a@example.com", "_links": {"x": 1},
                         "numbers": [1, -2, 3.5, 1e300, 18446744073709551615u64], "none": null,
                         "flag": false, "nested": [{"_embedded": {"g": 1}, "k": "v"}]},
             "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
             "_links": {"self": {"href": "https://example.okta.com/api/v1/users/00u1"}},
             "_embedded": {"group": {"profile": {"name": "Engineering"}}}},
            "text with \"escapes\" \u{e9} \u{1F600}", 7, null, [], {}
        ]);
        let body = serde_json::to_vec(&page).unwrap();
        for keep in [false, true] {
            assert_eq!(
                parse(&body, keep).unwrap(),
                stripped(page.clone(), keep),
                "{keep}"
            );
        }
        assert_eq!(
            parse(&body, true).unwrap()[0]["_embedded"]["group"]["profile"]["name"],
            "Engineering"
        );
    }

    #[test]
    fn bad_json_is_an_error_even_inside_skipped_parts() {
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"_links\": {\"a\": }}",
            b"{\"_links\": [1, 2}",
            b"{\"a\": 1} trailing",
            b"\"\\uD800\"",
            b"{\"a\" 1}",
        ] {
            assert!(
                parse(bad, false).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes(), false).is_err());
        let deep_links = format!("{{\"_links\": {}}}", "[".repeat(100_000));
        assert!(parse(deep_links.as_bytes(), false).is_err());
    }
}
