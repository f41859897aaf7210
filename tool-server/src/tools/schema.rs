//! Portable input schemas: one `type` per property, no `null`, `$ref`s inlined.
//!
//! schemars writes an `Option<String>` as `type: ["string", "null"]`. That is valid JSON Schema,
//! but clients that map tool schemas onto a single-type dialect (Gemini's function declarations,
//! the MCP Inspector's check) refuse or warn on it. An absent argument already means "default",
//! so the schemas leave `null` out; the argument structs still accept an explicit `null`.

use schemars::Schema;
use schemars::transform::{Transform, transform_subschemas};
use serde_json::{Map, Value};

/// Where a `$ref` may point: the root's `$defs` (or the older `definitions`).
const DEF_PREFIXES: [(&str, &str); 2] = [("#/$defs/", "$defs"), ("#/definitions/", "definitions")];

/// What keeps `schema` from being portable, one line per problem; empty when it is portable.
pub fn portability_problems(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        problems.push("the root is not `type: \"object\"`".to_string());
    }
    check(schema, schema, "", &mut Vec::new(), &mut problems);
    problems
}

fn check(
    root: &Value,
    schema: &Value,
    at: &str,
    refs: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    let Value::Object(schema) = schema else {
        return;
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        if refs.iter().any(|r| r == reference) {
            problems.push(format!("{at}: `$ref` {reference} refers back to itself"));
            return;
        }
        match resolve(root, reference) {
            Some(target) => {
                refs.push(reference.to_string());
                check(root, target, at, refs, problems);
                refs.pop();
            }
            None => problems.push(format!("{at}: `$ref` {reference} does not resolve")),
        }
    }
    match schema.get("type") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(types)) => {
            problems.push(format!(
                "{at}: `type` is a list {}",
                Value::Array(types.clone())
            ));
        }
        Some(other) => problems.push(format!("{at}: `type` is {other}")),
    }
    if schema.get("type").and_then(Value::as_str) == Some("null") {
        problems.push(format!("{at}: `type` is \"null\""));
    }
    if schema.get("default").is_some_and(Value::is_null) {
        problems.push(format!("{at}: `default` is null"));
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            let at = format!("{at}.{name}");
            if !has_type(root, property) {
                problems.push(format!("{at}: no `type`"));
            }
            check(root, property, &at, refs, problems);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = schema.get(key) {
            check(root, sub, &format!("{at}/{key}"), refs, problems);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(branches)) = schema.get(key) {
            for (i, branch) in branches.iter().enumerate() {
                check(root, branch, &format!("{at}/{key}/{i}"), refs, problems);
            }
        }
    }
}

/// Whether `property` (through its `$ref`, if any) declares a `type`.
fn has_type(root: &Value, property: &Value) -> bool {
    let mut seen = Vec::new();
    let mut property = property;
    loop {
        if property.get("type").is_some() {
            return true;
        }
        let Some(reference) = property.get("$ref").and_then(Value::as_str) else {
            return false;
        };
        if seen.contains(&reference) {
            return false;
        }
        seen.push(reference);
        match resolve(root, reference) {
            Some(target) => property = target,
            None => return false,
        }
    }
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    if reference == "#" {
        return Some(root);
    }
    DEF_PREFIXES.iter().find_map(|(prefix, key)| {
        let name = reference.strip_prefix(prefix)?;
        root.get(key)?.get(name)
    })
}

/// `schema` made portable; every tool's input schema goes through here once.
pub(crate) fn portable(schema: &Map<String, Value>) -> Map<String, Value> {
    let defs = DEF_PREFIXES.map(|(prefix, key)| {
        let defs = schema.get(key).and_then(Value::as_object).cloned();
        (prefix, defs.unwrap_or_default())
    });
    let mut root = schema.clone();
    inline_children(&mut root, &defs, &mut Vec::new());
    if !root.values().any(contains_ref) {
        for (_, key) in DEF_PREFIXES {
            root.remove(key);
        }
    }
    let mut schema = Schema::from(root);
    WithoutNull.transform(&mut schema);
    schema
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default()
}

/// Replaces each `$ref` into the root's definitions with what it points to, except a `$ref`
/// back into a definition it is already inside (that one stays, and the check reports it).
fn inline_refs(value: &mut Value, defs: &[(&str, Map<String, Value>)], inside: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            let target = object
                .get("$ref")
                .and_then(Value::as_str)
                .filter(|r| !inside.iter().any(|i| i == r))
                .and_then(|r| {
                    let (prefix, defs) = defs.iter().find(|(prefix, _)| r.starts_with(prefix))?;
                    Some((r.to_string(), defs.get(&r[prefix.len()..])?.clone()))
                });
            match target {
                Some((reference, Value::Object(mut target))) => {
                    object.remove("$ref");
                    // The property's own keywords (its description) win over the definition's.
                    target.extend(std::mem::take(object));
                    *object = target;
                    inside.push(reference);
                    inline_children(object, defs, inside);
                    inside.pop();
                }
                _ => inline_children(object, defs, inside),
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| inline_refs(v, defs, inside)),
        _ => {}
    }
}

fn inline_children(
    object: &mut Map<String, Value>,
    defs: &[(&str, Map<String, Value>)],
    inside: &mut Vec<String>,
) {
    for (key, sub) in object.iter_mut() {
        if DEF_PREFIXES.iter().all(|(_, defs_key)| key != defs_key) {
            inline_refs(sub, defs, inside);
        }
    }
}

fn contains_ref(value: &Value) -> bool {
    match value {
        Value::Object(object) => object.iter().any(|(k, v)| k == "$ref" || contains_ref(v)),
        Value::Array(items) => items.iter().any(contains_ref),
        _ => false,
    }
}

/// Takes `null` out of every schema: out of `type` lists, `enum`s and `anyOf`/`oneOf`
/// branches, and drops `default: null` (absent already means default).
struct WithoutNull;

impl Transform for WithoutNull {
    fn transform(&mut self, schema: &mut Schema) {
        for key in ["anyOf", "oneOf"] {
            let Some(Value::Array(branches)) = schema.get_mut(key) else {
                continue;
            };
            branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
            if let [Value::Object(only)] = branches.as_slice() {
                let mut merged = only.clone();
                schema.remove(key);
                // The property's own keywords (its description) win over the branch's.
                merged.extend(std::mem::take(schema.ensure_object()));
                *schema = merged.into();
            }
        }
        if let Some(Value::Array(types)) = schema.get_mut("type") {
            types.retain(|t| t != "null");
            if let [only] = types.as_slice() {
                let only = only.clone();
                schema.insert("type".into(), only);
            }
        }
        if let Some(Value::Array(values)) = schema.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
        if schema.get("default").is_some_and(Value::is_null) {
            schema.remove("default");
        }
        transform_subschemas(self, schema);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde_json::json;

    #[test]
    fn the_check_finds_type_lists_null_missing_types_and_ref_cycles() {
        let fine = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        assert!(portability_problems(&fine).is_empty());
        let bad = json!({
            "type": "object",
            "properties": {
                "q": {"type": ["string", "null"], "default": null},
                "anything": {},
                "node": {"$ref": "#/$defs/Node"},
                "gone": {"$ref": "#/$defs/Gone"},
            },
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        });
        let problems = portability_problems(&bad);
        for expected in [
            ".q: `type` is a list",
            ".q: `default` is null",
            ".anything: no `type`",
            ".node.next: `$ref` #/$defs/Node refers back to itself",
            ".gone: `$ref` #/$defs/Gone does not resolve",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected} missing from {problems:#?}"
            );
        }
    }

    /// A sort order, as a future tool might take one.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    enum Order {
        Asc,
        Desc,
    }

    /// A list of nodes, to see that a recursive `$ref` is kept and reported.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Node {
        next: Option<Box<Node>>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Args {
        /// Search text.
        query: Option<String>,
        /// Most to return.
        #[schemars(default = "fifty")]
        limit: Option<i64>,
        /// Sort order.
        order: Option<Order>,
        /// Ids to read.
        ids: Option<Vec<String>>,
    }

    fn fifty() -> Option<i64> {
        Some(50)
    }

    fn generated<T: JsonSchema>() -> Map<String, Value> {
        let schema = schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<T>();
        match schema.to_value() {
            Value::Object(object) => object,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn optional_arguments_get_one_type_and_keep_description_and_default() {
        let before = Value::Object(generated::<Args>());
        assert!(!portability_problems(&before).is_empty(), "{before:#}");
        let after = Value::Object(portable(&generated::<Args>()));
        assert!(portability_problems(&after).is_empty(), "{after:#}");
        let properties = &after["properties"];
        assert_eq!(
            properties["query"],
            json!({"type": "string", "description": "Search text."})
        );
        assert_eq!(
            properties["limit"],
            json!({"type": "integer", "format": "int64", "default": 50, "description": "Most to return."})
        );
        assert_eq!(
            properties["order"],
            json!({"type": "string", "enum": ["Asc", "Desc"], "description": "Sort order."})
        );
        assert_eq!(properties["ids"]["type"], "array");
        assert_eq!(properties["ids"]["items"], json!({"type": "string"}));
        assert!(after.get("$defs").is_none(), "{after:#}");
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Chain {
        /// First node.
        first: Option<Node>,
    }

    #[test]
    fn a_recursive_ref_stays_and_is_reported() {
        for after in [
            portable(&generated::<Node>()),
            portable(&generated::<Chain>()),
        ] {
            let after = Value::Object(after);
            let problems = portability_problems(&after);
            assert!(
                problems.iter().any(|p| p.contains("refers back to itself")),
                "{problems:#?} in {after:#}"
            );
        }
    }
}
