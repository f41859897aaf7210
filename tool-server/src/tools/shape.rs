//! What a tool's structured result holds: the declared fields of each Okta object, and its
//! output schema, from one table per tool.
//!
//! A listing used to hand back every field of every object (183 KB for 200 users), most of it
//! never read. Now each tool names the fields an administrator looks at first ([`Shape`]); the
//! Okta client parses only those ([`Fields`]), the structured result carries only those, and
//! the tool's `outputSchema` declares exactly them. A caller who needs more passes `fields`
//! (dotted Okta property names, or `*` for everything). Values Okta sends as `null` are left
//! out, and a declared field whose value has another type than declared is dropped rather than
//! break a client that validates against the schema.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::output::ToolFailure;
use crate::okta::projection::{Expect, Fields, MAX_PATHS};

/// The JSON type of a declared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string.
    Text,
    /// A timestamp string (`2026-01-01T00:00:00.000Z`).
    Time,
    /// `true` or `false`.
    Flag,
    /// An integer.
    Count,
    /// Any JSON value, for fields whose shape depends on the object's type (a zone's
    /// `locations` is a list in a DYNAMIC zone and `{include, exclude}` in a DYNAMIC_V2 one).
    Any,
}

impl Kind {
    fn schema(self) -> Value {
        match self {
            Kind::Text => json!({"type": "string"}),
            Kind::Time => json!({"type": "string", "format": "date-time"}),
            Kind::Flag => json!({"type": "boolean"}),
            Kind::Count => json!({"type": "integer"}),
            Kind::Any => json!({"description": "Its shape depends on the object's type"}),
        }
    }

    /// What the parse checks for this kind.
    fn expect(self) -> Expect {
        match self {
            Kind::Text | Kind::Time => Expect::Text,
            Kind::Flag => Expect::Flag,
            Kind::Count => Expect::Integer,
            Kind::Any => Expect::Anything,
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Kind::Text | Kind::Time => value.is_string(),
            Kind::Flag => value.is_boolean(),
            Kind::Count => value.is_i64() || value.is_u64(),
            Kind::Any => true,
        }
    }
}

/// The declared fields of one kind of Okta object. A path segment ending in `[]` is an array
/// of objects (`target[].alternateId`).
#[derive(Debug)]
pub(crate) struct Shape {
    /// What one item is, for the schema's description (`an Okta user`).
    pub what: &'static str,
    pub fields: &'static [(&'static str, Kind)],
}

impl Shape {
    /// What to parse out of Okta's answer: the declared fields plus the caller's `extra`.
    pub(crate) fn projection(&self, extra: &ExtraFields) -> Fields {
        if extra.everything {
            return Fields::everything();
        }
        let mut fields = Fields::default();
        for (path, kind) in self.fields {
            fields.add_declared(path, kind.expect());
        }
        for path in &extra.paths {
            fields.add(path);
        }
        fields
    }

    /// Removes declared fields whose value has another type than declared (see module docs),
    /// and objects left empty by that.
    pub(crate) fn conform(&self, item: &mut Value) {
        for (path, kind) in self.fields {
            conform_at(item, path, *kind);
        }
    }

    /// The JSON Schema of one item: the declared fields, all optional, more allowed.
    pub(crate) fn item_schema(&self) -> Value {
        let mut root = json!({"type": "object", "description": self.what, "properties": {}});
        for (path, kind) in self.fields {
            let mut node = &mut root;
            let parts: Vec<&str> = path.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                let (name, array) = match part.strip_suffix("[]") {
                    Some(name) => (name, true),
                    None => (*part, false),
                };
                let last = i + 1 == parts.len();
                let properties = &mut node["properties"];
                if properties.get(name).is_none() {
                    properties[name] = if last {
                        kind.schema()
                    } else if array {
                        json!({"type": "array", "items": {"type": "object", "properties": {}}})
                    } else {
                        json!({"type": "object", "properties": {}})
                    };
                }
                node = &mut properties[name];
                if array {
                    node = &mut node["items"];
                }
            }
        }
        root
    }

    /// The output schema of a list tool answering `{key: [item…], count, after}`.
    pub(crate) fn list_schema(&self, key: &str) -> Arc<JsonObject> {
        object_schema(json!({
            "type": "object",
            "properties": {
                key: {"type": "array", "items": self.item_schema()},
                "count": {"type": "integer", "description": "How many items this answer holds"},
                "after": {
                    "type": "string",
                    "description": "Cursor of the next page; absent on the last page"
                },
                "truncated": {
                    "type": "boolean",
                    "description": "True when items were cut and the endpoint has no cursor"
                },
            },
            "description": ERROR_NOTE,
        }))
    }
}

/// Said in every output schema: failures are `isError` results with another shape.
const ERROR_NOTE: &str = "On failure (isError) the object is instead {error, message} for a \
                          bad argument or {errorCode, errorSummary, status} from Okta.";

fn object_schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// Checks the value at the dotted `path` of `value` (no allocation: it runs for every field of
/// every item).
fn conform_at(value: &mut Value, path: &str, kind: Kind) {
    let (first, rest) = match path.as_bytes().iter().position(|&b| b == b'.') {
        Some(dot) => (&path[..dot], &path[dot + 1..]),
        None => (path, ""),
    };
    let (name, array) = match first.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (first, false),
    };
    let Value::Object(map) = value else {
        return;
    };
    let Some(child) = map.get_mut(name) else {
        return;
    };
    if rest.is_empty() {
        if !kind.accepts(child) {
            map.remove(name);
        }
        return;
    }
    if array {
        match child {
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| conform_at(item, rest, kind)),
            _ => {
                map.remove(name);
            }
        }
    } else if child.is_object() {
        conform_at(child, rest, kind);
    } else {
        map.remove(name);
    }
}

/// The `fields` argument: more Okta properties to return than the tool's declared ones.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ExtraFields {
    /// `*`: every field Okta sent (minus `_links`).
    pub everything: bool,
    /// Dotted paths, checked.
    pub paths: Vec<String>,
}

impl ExtraFields {
    /// Checks what the caller sent: a list of dotted names (or one comma-separated string).
    pub(crate) fn from_arg(arg: &Option<FieldsArg>) -> Result<Self, ToolFailure> {
        let names: Vec<&str> = match arg {
            None => Vec::new(),
            Some(FieldsArg(names)) => names
                .iter()
                .flat_map(|n| n.split(','))
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect(),
        };
        if names.len() > MAX_PATHS {
            return Err(ToolFailure::invalid(format!(
                "fields names {} properties; at most {MAX_PATHS} (or \"*\" for all)",
                names.len()
            )));
        }
        let mut extra = Self::default();
        for name in names {
            if name == "*" {
                extra.everything = true;
                continue;
            }
            Fields::check_path(name).map_err(|e| ToolFailure::invalid(format!("fields: {e}")))?;
            extra.paths.push(name.to_owned());
        }
        Ok(extra)
    }
}

/// `fields` as the caller wrote it: a list of strings, or one comma-separated string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldsArg(pub Vec<String>);

impl<'de> Deserialize<'de> for FieldsArg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = FieldsArg;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "fields as a list of Okta property names, e.g. [\"profile.mobilePhone\"], \
                     or [\"*\"]",
                )
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FieldsArg, E> {
                Ok(FieldsArg(vec![v.to_owned()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldsArg, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<Value>()? {
                    let Value::String(name) = name else {
                        return Err(serde::de::Error::custom(
                            "fields must list Okta property names as strings, e.g. \
                             [\"profile.mobilePhone\"]",
                        ));
                    };
                    names.push(name);
                    if names.len() > MAX_PATHS {
                        // The count is checked with a clear message later; stop reading here.
                        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                        break;
                    }
                }
                Ok(FieldsArg(names))
            }
        }
        deserializer.deserialize_any(FieldsVisitor)
    }
}

impl JsonSchema for FieldsArg {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Fields".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "array",
            "items": {"type": "string"},
            "maxItems": MAX_PATHS,
            "description": "More Okta properties to return in the structured result than the \
                            tool's output schema declares, as dotted names (e.g. \
                            [\"profile.mobilePhone\", \"credentials\"]), or [\"*\"] for every \
                            property Okta sent"
        })
    }
}

/// Projected items as the structured result holds them: declared types enforced.
pub(crate) fn conform_all(shape: &Shape, items: &mut [Value]) {
    for item in items {
        shape.conform(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Shape = Shape {
        what: "an Okta user",
        fields: &[
            ("id", Kind::Text),
            ("status", Kind::Text),
            ("lastLogin", Kind::Time),
            ("profile.login", Kind::Text),
            ("profile.email", Kind::Text),
        ],
    };

    const EVENT: Shape = Shape {
        what: "a System Log event",
        fields: &[
            ("uuid", Kind::Text),
            ("target[].alternateId", Kind::Text),
            ("target[].type", Kind::Text),
        ],
    };

    #[test]
    fn the_schema_declares_the_fields_nested() {
        let schema = USER.item_schema();
        assert_eq!(schema["properties"]["id"]["type"], "string");
        assert_eq!(schema["properties"]["lastLogin"]["format"], "date-time");
        assert_eq!(
            schema["properties"]["profile"]["properties"]["login"]["type"],
            "string"
        );
        let event = EVENT.item_schema();
        let target = &event["properties"]["target"];
        assert_eq!(target["type"], "array");
        assert_eq!(
            target["items"]["properties"]["alternateId"]["type"],
            "string"
        );
        assert_eq!(target["items"]["properties"]["type"]["type"], "string");
        let list = USER.list_schema("users");
        assert_eq!(list["properties"]["users"]["items"], schema);
        assert!(
            list.get("required").is_none(),
            "error results must validate too"
        );
        assert!(
            super::super::schema::portability_problems(&Value::Object((*list).clone())).is_empty()
        );
    }

    #[test]
    fn projection_is_the_declared_fields_plus_the_extra_ones() {
        let fields = USER.projection(&ExtraFields::default());
        assert!(fields.keeps("profile.login") && !fields.keeps("profile.mobilePhone"));
        let extra = ExtraFields::from_arg(&Some(FieldsArg(vec![
            "profile.mobilePhone, credentials".into(),
        ])))
        .unwrap();
        let fields = USER.projection(&extra);
        assert!(fields.keeps("profile.mobilePhone") && fields.keeps("credentials.provider"));
        let all = ExtraFields::from_arg(&Some(FieldsArg(vec!["*".into()]))).unwrap();
        assert!(USER.projection(&all).is_everything());
        assert!(
            EVENT
                .projection(&ExtraFields::default())
                .keeps("target.alternateId")
        );
    }

    #[test]
    fn values_of_another_type_are_dropped() {
        let mut user = json!({
            "id": 7, "status": "ACTIVE", "lastLogin": {"odd": true},
            "profile": {"login": "a@example.com", "email": ["x"]}
        });
        USER.conform(&mut user);
        assert_eq!(
            user,
            json!({"status": "ACTIVE", "profile": {"login": "a@example.com"}})
        );
        let mut event = json!({"uuid": "u", "target": [{"alternateId": 1, "type": "User"}]});
        EVENT.conform(&mut event);
        assert_eq!(event, json!({"uuid": "u", "target": [{"type": "User"}]}));
        let mut odd = json!({"uuid": "u", "target": "not a list"});
        EVENT.conform(&mut odd);
        assert_eq!(odd, json!({"uuid": "u"}));
    }

    #[test]
    fn bad_field_names_are_clear_errors() {
        for bad in [
            vec!["profile..login".to_string()],
            vec!["a b".into()],
            vec!["x".repeat(300)],
            (0..=MAX_PATHS).map(|i| format!("f{i}")).collect(),
        ] {
            let err = ExtraFields::from_arg(&Some(FieldsArg(bad.clone())));
            assert!(
                matches!(err, Err(ToolFailure::InvalidArgument(_))),
                "{bad:?}"
            );
        }
        let parsed: FieldsArg = serde_json::from_value(json!("a,b")).unwrap();
        assert_eq!(parsed, FieldsArg(vec!["a,b".into()]));
        assert!(serde_json::from_value::<FieldsArg>(json!(3)).is_err());
        assert_eq!(
            ExtraFields::from_arg(&Some(parsed)).unwrap().paths,
            vec!["a", "b"]
        );
    }
}
