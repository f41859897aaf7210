//! Okta's JSON parsed into only the fields a tool answers with.
//!
//! A page of 200 users is about 380 KB, of which a listing shows a tenth. [`parse`] reads the
//! whole body (every byte is still checked as JSON) but builds values only for the fields named
//! in a [`Fields`] tree; everything else, `_links` always and `_embedded` unless named, is
//! skipped without allocating, and so is every `null` (Okta's "not set"). A named field keeps
//! its whole value; a name under an array applies to each element (`target.alternateId` keeps
//! the `alternateId` of every target). [`parse_whole`] is the same reader for one whole object
//! (a `get_*` tool's answer): everything but `_links` (and `_embedded` unless asked for).

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Never kept unless named (`_embedded` only; `_links` never).
const LINKS: &str = "_links";
const EMBEDDED: &str = "_embedded";

/// Longest dotted path a caller may name.
pub const MAX_PATH_CHARS: usize = 200;
/// Most paths a caller may name.
pub const MAX_PATHS: usize = 50;

/// Which fields to keep: a tree of names; a node with no children keeps its whole value.
///
/// Children are a short list, not a map: every key of every object Okta sends is looked up
/// here, and a scan that compares lengths first beats a tree of string comparisons (which
/// was 15% of a listing's CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    children: Vec<(Box<str>, Fields)>,
    whole: bool,
}

impl Fields {
    /// Keeps everything (but `_links`, and `_embedded` unless named).
    pub fn everything() -> Self {
        Self {
            children: Vec::new(),
            whole: true,
        }
    }

    /// Keeps the given dotted paths.
    pub fn of<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut fields = Self::default();
        for path in paths {
            fields.add(path);
        }
        fields
    }

    /// Adds a dotted path; a shorter path already kept whole makes it redundant, and a path
    /// kept whole replaces what was kept below it.
    pub fn add(&mut self, path: &str) {
        let mut node = self;
        for part in path.split('.') {
            // A whole node keeps everything but `_embedded`, which must be named.
            if node.whole && part != EMBEDDED {
                return;
            }
            let at = match node.children.iter().position(|(name, _)| &**name == part) {
                Some(at) => at,
                None => {
                    node.children.push((part.into(), Fields::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[at].1;
        }
        node.whole = true;
        node.children.retain(|(key, _)| &**key == EMBEDDED);
    }

    /// Whether everything is kept.
    pub fn is_everything(&self) -> bool {
        self.whole
    }

    /// Whether `path` (dotted) is kept, wholly or in part.
    pub fn keeps(&self, path: &str) -> bool {
        let mut node = self;
        for part in path.split('.') {
            if node.whole {
                return true;
            }
            match node.get(part) {
                Some(child) => node = child,
                None => return false,
            }
        }
        true
    }

    /// Checks a caller's dotted path: names made of letters, digits, `_` and `-`, joined by
    /// single dots (Okta's property names, including custom profile attributes).
    pub fn check_path(path: &str) -> Result<(), String> {
        if path.is_empty() {
            return Err("a field name is empty".into());
        }
        if path.chars().count() > MAX_PATH_CHARS {
            return Err(format!(
                "the field name starting {:?} is longer than {MAX_PATH_CHARS} characters",
                path.chars().take(20).collect::<String>()
            ));
        }
        for part in path.split('.') {
            if part.is_empty() {
                return Err(format!(
                    "the field name {path:?} has an empty part (two dots, or a dot at an end)"
                ));
            }
            if let Some(bad) = part
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            {
                return Err(format!(
                    "the field name {path:?} contains {bad:?}; use property names joined by \
                     dots, e.g. profile.mobilePhone"
                ));
            }
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<&Fields> {
        self.children
            .iter()
            .find(|(name, _)| name.len() == key.len() && &**name == key)
            .map(|(_, fields)| fields)
    }

    fn child(&self, key: &str) -> Option<&Fields> {
        if key == LINKS {
            None
        } else if key == EMBEDDED {
            self.get(key)
        } else if self.whole {
            Some(self)
        } else {
            self.get(key)
        }
    }
}

/// Parses `body` (an object, or an array of them) keeping only `fields` of each object, and
/// leaving out `null`s.
pub fn parse(body: &[u8], fields: &Fields) -> serde_json::Result<Value> {
    parse_with(body, fields, false)
}

/// Parses a whole object for the `get_*` tools: everything but `_links`, and `_embedded` only
/// for a request that asked to `expand`; `null`s kept (one object's answer shows what is unset).
pub fn parse_whole(body: &[u8], keep_embedded: bool) -> serde_json::Result<Value> {
    let mut fields = Fields::everything();
    if keep_embedded {
        fields.add(EMBEDDED);
    }
    parse_with(body, &fields, true)
}

fn parse_with(body: &[u8], fields: &Fields, keep_nulls: bool) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = Projected { fields, keep_nulls }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Projected<'f> {
    fields: &'f Fields,
    keep_nulls: bool,
}

impl<'de> DeserializeSeed<'de> for Projected<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Projected<'_> {
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
        // The same selection applies to every element.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<Key>()? {
            match self.fields.child(key.as_str()) {
                Some(fields) => {
                    let value = map.next_value_seed(Projected { fields, ..self })?;
                    // Okta's `null`s say "not set": an absent field says the same in fewer bytes.
                    if self.keep_nulls || !value.is_null() {
                        object.insert(key.into_string(), value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// A map key, borrowed from the body when it has no escapes (the usual case), so a skipped
/// field costs no allocation.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn into_string(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }

            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page() -> Value {
        json!([
            {"id": "00u1", "status": "ACTIVE", "lastLogin": null,
             "profile": {"login": "a@example.com", "email": "a@example.com", "mobilePhone": "1",
                         "nested": {"deep": [1, 2]}},
             "credentials": {"provider": {"type": "OKTA"}},
             "_links": {"self": {"href": "https://example.okta.com/api/v1/users/00u1"}},
             "_embedded": {"group": {"profile": {"name": "Engineering"}}}},
            {"id": "00u2", "profile": {"login": "b\u{e9}@example.com", "_links": {}}},
            7, null, "text"
        ])
    }

    fn projected(fields: &Fields) -> Value {
        parse(&serde_json::to_vec(&page()).unwrap(), fields).unwrap()
    }

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
    fn a_whole_object_is_the_same_as_parsing_then_stripping() {
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
                parse_whole(&body, keep).unwrap(),
                stripped(page.clone(), keep),
                "{keep}"
            );
        }
        assert_eq!(
            parse_whole(&body, true).unwrap()[0]["_embedded"]["group"]["profile"]["name"],
            "Engineering"
        );
    }

    #[test]
    fn keeps_only_the_named_fields_of_every_item() {
        let fields = Fields::of(["id", "status", "lastLogin", "profile.login"]);
        assert_eq!(
            projected(&fields),
            json!([
                {"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@example.com"}},
                {"id": "00u2", "profile": {"login": "b\u{e9}@example.com"}},
                7, null, "text"
            ])
        );
    }

    #[test]
    fn a_named_object_is_kept_whole_minus_links() {
        let fields = Fields::of(["id", "profile"]);
        let value = projected(&fields);
        assert_eq!(value[0]["profile"]["nested"]["deep"], json!([1, 2]));
        assert_eq!(value[1]["profile"], json!({"login": "b\u{e9}@example.com"}));
        assert!(value[0].get("credentials").is_none());
    }

    #[test]
    fn a_listing_of_everything_is_the_whole_parse_without_nulls() {
        fn without_nulls(value: &mut Value) {
            match value {
                Value::Object(map) => {
                    map.retain(|_, v| !v.is_null());
                    map.values_mut().for_each(without_nulls);
                }
                Value::Array(items) => items.iter_mut().for_each(without_nulls),
                _ => {}
            }
        }
        let body = serde_json::to_vec(&page()).unwrap();
        let mut whole = parse_whole(&body, false).unwrap();
        without_nulls(&mut whole);
        assert_eq!(parse(&body, &Fields::everything()).unwrap(), whole);
        assert_eq!(whole[3], Value::Null, "items that are null stay");
    }

    #[test]
    fn embedded_only_when_named_and_links_never() {
        let fields = Fields::of(["id", "_embedded.group.profile.name", "_links"]);
        let value = projected(&fields);
        assert_eq!(
            value[0],
            json!({"id": "00u1", "_embedded": {"group": {"profile": {"name": "Engineering"}}}})
        );
    }

    #[test]
    fn embedded_can_be_named_when_everything_else_is_kept() {
        let mut fields = Fields::everything();
        fields.add("_embedded.group.profile.name");
        let value = projected(&fields);
        assert_eq!(
            value[0]["_embedded"]["group"]["profile"]["name"],
            "Engineering"
        );
        assert_eq!(value[0]["profile"]["mobilePhone"], "1");
        assert!(value[0].get("_links").is_none());
    }

    #[test]
    fn paths_merge_and_a_whole_parent_wins() {
        let mut fields = Fields::of(["profile.login", "profile.email"]);
        assert!(fields.keeps("profile.login") && !fields.keeps("profile.mobilePhone"));
        fields.add("profile");
        assert!(fields.keeps("profile.mobilePhone"));
        fields.add("profile.login");
        assert_eq!(fields, Fields::of(["profile"]));
        assert!(Fields::everything().keeps("anything.at.all"));
    }

    #[test]
    fn caller_paths_are_checked() {
        for good in ["profile.mobilePhone", "id", "profile.custom_attr-2"] {
            assert_eq!(Fields::check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "profile.",
            ".id",
            "a..b",
            "profile login",
            "profile/login",
            "pr\u{f6}file",
            "a\u{202e}b",
        ] {
            assert!(Fields::check_path(bad).is_err(), "{bad:?}");
        }
        assert!(Fields::check_path(&"a".repeat(MAX_PATH_CHARS + 1)).is_err());
    }

    #[test]
    fn bad_json_is_an_error_even_inside_skipped_parts() {
        let fields = Fields::of(["id"]);
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"skipped\": {\"a\": }}",
            b"{\"skipped\": [1, 2}",
            b"{\"id\": 1} trailing",
            b"{\"skipped\": \"\\uZZZZ\"}",
            b"{\"a\" 1}",
        ] {
            assert!(
                parse(bad, &fields).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{{\"skipped\": {}}}", "[".repeat(100_000));
        assert!(parse(deep.as_bytes(), &fields).is_err());
    }

    #[test]
    fn escaped_keys_are_matched_by_their_value() {
        let body = br#"{"\u0069d": "00u1", "st\"atus": 1}"#;
        assert_eq!(
            parse(body, &Fields::of(["id"])).unwrap(),
            json!({"id": "00u1"})
        );
    }
}
