//! OpenAPI 3.0 schema objects rewritten as JSON Schema 2020-12, for checking responses; and the
//! check of one query parameter's value against its declared schema.
//!
//! The rewrite, keyword by keyword (OpenAPI 3.0.3, "Schema Object"):
//! - `$ref: #/components/schemas/X` becomes `#/$defs/X`; its siblings are dropped, as the spec
//!   says they are ignored.
//! - `nullable: true` adds `"null"` to an explicit `type` (and nothing without one; an `enum`
//!   still has to list `null` to allow it).
//! - `exclusiveMinimum: true` with `minimum: n` becomes `exclusiveMinimum: n` (same for max).
//! - `writeOnly` properties must be absent from a response (and are no longer `required`);
//!   `readOnly` ones are what responses carry, so nothing changes.
//! - `discriminator`: the value of its property picks the mapped schema (or the one of that
//!   name). A schema `B` with a discriminator and no `oneOf` is a base: `B` becomes "`B__base`
//!   and the subtype the value picks", where `B__base` is `B` without the discriminator, and a
//!   component's top-level `allOf` that names `B` inherits `B__base` (inheriting `B` itself
//!   would send validation back to the subtype, for ever). With `oneOf`/`anyOf`, the
//!   discriminator picks among them, and an unmapped value falls back to the plain `oneOf`.
//! - `x-…` vendor extensions, `example`, `xml`, `externalDocs`, `deprecated` are dropped.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

const COMPONENT_PREFIX: &str = "#/components/schemas/";
const DEFS_PREFIX: &str = "#/$defs/";
/// Suffix of the definition of a discriminating base without its dispatch.
const BASE_SUFFIX: &str = "__base";

/// The converted `components.schemas`, with a `<Name>__base` for each discriminating base.
pub(super) fn convert_components(schemas: &Map<String, Value>) -> Map<String, Value> {
    let bases: BTreeSet<&str> = schemas
        .iter()
        .filter(|(_, s)| is_base(s))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut defs = Map::new();
    for (name, raw) in schemas {
        let mut converted = convert_with(raw, &bases, true);
        if let Some(discriminator) = raw.get("discriminator").filter(|_| is_base(raw)) {
            if let Value::Object(map) = &mut converted {
                map.remove("discriminator");
            }
            defs.insert(format!("{name}{BASE_SUFFIX}"), converted);
            let base = json!({ "$ref": format!("{DEFS_PREFIX}{name}{BASE_SUFFIX}") });
            let dispatch = dispatch(discriminator, &[], json!(true));
            defs.insert(name.clone(), json!({ "allOf": [base, dispatch] }));
        } else {
            defs.insert(name.clone(), converted);
        }
    }
    defs
}

/// A schema with a discriminator that subtypes inherit (no `oneOf`/`anyOf` to choose from).
fn is_base(schema: &Value) -> bool {
    schema.get("discriminator").is_some()
        && schema.get("oneOf").is_none()
        && schema.get("anyOf").is_none()
}

/// One OpenAPI schema (outside `components`) as JSON Schema.
pub(super) fn convert(schema: &Value) -> Value {
    convert_with(schema, &BTreeSet::new(), false)
}

fn defs_ref(reference: &str) -> String {
    match reference.strip_prefix(COMPONENT_PREFIX) {
        Some(name) => format!("{DEFS_PREFIX}{name}"),
        None => reference.to_owned(),
    }
}

/// `schema` converted; `bases` are the discriminating bases, and `top` says this is a
/// component's own level, where `allOf` naming a base means inheritance.
fn convert_with(schema: &Value, bases: &BTreeSet<&str>, top: bool) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        return json!({ "$ref": defs_ref(reference) });
    }
    let nested = |value: &Value| convert_with(value, bases, false);
    let mut out = Map::new();
    let mut write_only = Vec::new();
    for (key, value) in map {
        match key.as_str() {
            "nullable" | "discriminator" | "readOnly" | "writeOnly" | "example" | "xml"
            | "externalDocs" | "deprecated" => {}
            key if key.starts_with("x-") => {}
            "properties" => {
                let mut properties = Map::new();
                for (name, property) in value.as_object().into_iter().flatten() {
                    if property.get("writeOnly") == Some(&Value::Bool(true)) {
                        // Never in a response.
                        write_only.push(name.clone());
                        properties.insert(name.clone(), Value::Bool(false));
                    } else {
                        properties.insert(name.clone(), nested(property));
                    }
                }
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" | "not" | "additionalProperties" => {
                out.insert(key.clone(), nested(value));
            }
            "allOf" => {
                let parts = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|part| match part.get("$ref").and_then(Value::as_str) {
                        Some(reference) if top => {
                            let name = reference.strip_prefix(COMPONENT_PREFIX).unwrap_or("");
                            if bases.contains(name) {
                                json!({ "$ref": format!("{DEFS_PREFIX}{name}{BASE_SUFFIX}") })
                            } else {
                                nested(part)
                            }
                        }
                        _ => nested(part),
                    })
                    .collect();
                out.insert(key.clone(), Value::Array(parts));
            }
            "oneOf" | "anyOf" => {
                let parts = value.as_array().into_iter().flatten().map(nested).collect();
                out.insert(key.clone(), Value::Array(parts));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if map.get("nullable") == Some(&Value::Bool(true))
        && let Some(Value::String(kind)) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([kind, "null"]));
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match out.remove(exclusive) {
            Some(Value::Bool(true)) => {
                if let Some(limit) = out.remove(bound) {
                    out.insert(exclusive.into(), limit);
                }
            }
            Some(Value::Number(n)) => {
                out.insert(exclusive.into(), Value::Number(n));
            }
            _ => {}
        }
    }
    if let Some(Value::Array(required)) = out.get_mut("required") {
        required.retain(|name| !write_only.iter().any(|w| name == w));
    }
    // A discriminator over `oneOf`/`anyOf` picks one of them by its property's value.
    if let Some(discriminator) = map.get("discriminator")
        && !is_base(schema)
    {
        let choices: Vec<Value> = ["oneOf", "anyOf"]
            .iter()
            .filter_map(|k| out.remove(*k))
            .flat_map(|v| v.as_array().cloned().unwrap_or_default())
            .collect();
        let named: Vec<String> = choices
            .iter()
            .filter_map(|c| c.get("$ref").and_then(Value::as_str))
            .filter_map(|r| r.strip_prefix(DEFS_PREFIX))
            .map(str::to_owned)
            .collect();
        let fallback = json!({ "oneOf": choices });
        let picked = dispatch(discriminator, &named, fallback);
        let mut all = match out.remove("allOf") {
            Some(Value::Array(parts)) => parts,
            _ => Vec::new(),
        };
        all.push(picked);
        out.insert("allOf".into(), Value::Array(all));
    }
    Value::Object(out)
}

/// `if <property> is v1 then <schema 1> else if … else <otherwise>` for a discriminator; the
/// values are its `mapping` plus, for `implicit` schema names, the name itself.
fn dispatch(discriminator: &Value, implicit: &[String], otherwise: Value) -> Value {
    let property = discriminator["propertyName"].as_str().unwrap_or_default();
    let mut cases: Vec<(String, String)> = discriminator["mapping"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(value, target)| {
            let target = target.as_str()?;
            let name = target.strip_prefix(COMPONENT_PREFIX).unwrap_or(target);
            Some((value.clone(), name.to_owned()))
        })
        .collect();
    for name in implicit {
        if !cases.iter().any(|(_, target)| target == name) {
            cases.push((name.clone(), name.clone()));
        }
    }
    cases
        .into_iter()
        .rev()
        .fold(otherwise, |otherwise, (value, target)| {
            json!({
                "if": { "properties": { property: { "const": value } }, "required": [property] },
                "then": { "$ref": format!("{DEFS_PREFIX}{target}") },
                "else": otherwise,
            })
        })
}

/// A root document for `schema`: it and the definitions it reaches, under `$defs`.
pub(super) fn document_for(schema: &Value, defs: &Map<String, Value>) -> Value {
    let mut reached: HashMap<String, Value> = HashMap::new();
    let mut pending = Vec::new();
    collect_refs(schema, &mut pending);
    while let Some(name) = pending.pop() {
        if reached.contains_key(&name) {
            continue;
        }
        let Some(def) = defs.get(&name) else {
            continue;
        };
        collect_refs(def, &mut pending);
        reached.insert(name, def.clone());
    }
    let mut root = match schema {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), json!([other]));
            map
        }
    };
    root.insert("$defs".into(), Value::Object(reached.into_iter().collect()));
    Value::Object(root)
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(DEFS_PREFIX))
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Whether the query value `raw` fits a parameter's (resolved) schema: its `type` (integers and
/// booleans as their text forms), `enum`, `minimum`/`maximum`, and bounds that Okta writes only
/// as a `format` of the form `Integer between A and B` (the System Log's `limit`).
pub(super) fn check_parameter(schema: &Value, raw: &str) -> Result<(), String> {
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.iter().any(|a| a.as_str() == Some(raw))
    {
        return Err(format!("not one of the declared values {allowed:?}"));
    }
    match schema["type"].as_str() {
        Some("integer") => {
            let value: i64 = raw
                .parse()
                .map_err(|_| "not an integer, the declared type".to_owned())?;
            let (mut low, mut high) = (schema["minimum"].as_i64(), schema["maximum"].as_i64());
            if let Some((a, b)) = schema["format"]
                .as_str()
                .and_then(|f| f.strip_prefix("Integer between "))
                .and_then(|f| f.split_once(" and "))
            {
                low = low.or(a.trim().parse().ok());
                high = high.or(b.trim().parse().ok());
            }
            if let Some(low) = low.filter(|low| value < *low) {
                return Err(format!("below the declared minimum {low}"));
            }
            if let Some(high) = high.filter(|high| value > *high) {
                return Err(format!("above the declared maximum {high}"));
            }
            Ok(())
        }
        Some("boolean") if raw != "true" && raw != "false" => {
            Err("not true or false, the declared type".into())
        }
        _ => Ok(()),
    }
}
