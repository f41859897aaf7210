//! Okta's Management API spec as the judge of what our code says to Okta and what the fake org
//! answers (`tests/tests/okta_contract.rs`).
//!
//! The spec is Okta's published OpenAPI 3.0 document, copied into `tests/spec/`. Its schema
//! objects are not quite JSON Schema: `nullable` adds `null` to a `type`, a `discriminator`
//! picks the schema that applies by a property's value (and a subtype names its base in `allOf`
//! to inherit, not to dispatch back to itself), `writeOnly` properties never come back in a
//! response, `exclusiveMinimum` is a boolean, `$ref` siblings are ignored, and `x-…` keys are
//! vendor notes. [`schema`] rewrites them into JSON Schema 2020-12 that the `jsonschema` crate
//! checks; [`Spec::check_request`] holds a request's path and query against the parameters an
//! operation declares, and [`Spec::check_request_body`] its body against the body it declares
//! (none, for the operations the tools call).

mod schema;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jsonschema::Validator;
use serde_json::{Map, Value, json};

/// Why the spec could not be read or a schema not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an OpenAPI YAML document: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("schema for {what} does not compile: {message}")]
    Schema { what: String, message: String },
}

/// The copy of Okta's spec kept in the repository.
pub fn bundled_spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/okta-management-openapi.yaml")
}

/// The YAML document at `path` as JSON, for a caller that corrects it before [`Spec::from_document`].
pub fn read_document(path: &Path) -> Result<Value, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_norway::from_str(&text).map_err(|e| SpecError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// An OpenAPI document with its component schemas converted to JSON Schema.
pub struct Spec {
    document: Value,
    /// Converted `components.schemas`, plus `<Name>__base` for each discriminating base.
    defs: Map<String, Value>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

/// One operation of the spec, found from a concrete request path.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Path template, e.g. `/api/v1/users/{id}/groups`.
    pub template: String,
    /// `operationId`, e.g. `listUserGroups`.
    pub id: String,
    method: String,
}

impl Spec {
    /// Reads an OpenAPI 3.0 YAML document.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let document = read_document(path)?;
        Self::from_document(document).map_err(|message| SpecError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// The spec from an already parsed document (tests build small ones, or correct Okta's).
    pub fn from_document(document: Value) -> Result<Self, String> {
        if !document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0"))
        {
            return Err("not an OpenAPI 3.0 document".into());
        }
        let schemas = document["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let defs = schema::convert_components(&schemas);
        Ok(Self {
            document,
            defs,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The spec's `info.version` (Okta's release, e.g. `2026.06.3`).
    pub fn version(&self) -> &str {
        self.document["info"]["version"].as_str().unwrap_or("?")
    }

    /// The operation a `method` request to the concrete `path` (e.g.
    /// `/api/v1/users/00u1/groups`) reaches: literal segments must match, `{…}` matches any one
    /// non-empty segment, and the template with the most literal segments wins.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation> {
        let method = method.to_ascii_lowercase();
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.document["paths"].as_object()?;
        paths
            .iter()
            .filter(|(_, item)| item.get(&method).is_some())
            .filter_map(|(template, _)| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') && part.ends_with('}') {
                        if segment.is_empty() {
                            return None;
                        }
                    } else if part == segment {
                        literal += 1;
                    } else {
                        return None;
                    }
                }
                Some((literal, template))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, template)| Operation {
                id: self.document["paths"][template][&method]["operationId"]
                    .as_str()
                    .unwrap_or(template)
                    .to_owned(),
                template: template.clone(),
                method,
            })
    }

    /// Follows a local `$ref` (`#/components/…`) to what it names.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut value = value;
        for _ in 0..8 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(pointer) = reference.strip_prefix('#') else {
                break;
            };
            match self.document.pointer(pointer) {
                Some(target) => value = target,
                None => break,
            }
        }
        value
    }

    /// The operation's parameters (path item's, overridden by the operation's), resolved.
    pub fn parameters(&self, operation: &Operation) -> Vec<&Value> {
        let item = &self.document["paths"][&operation.template];
        let mut parameters: Vec<&Value> = Vec::new();
        for list in [&item["parameters"], &item[&operation.method]["parameters"]] {
            for parameter in list.as_array().into_iter().flatten() {
                let parameter = self.resolve(parameter);
                parameters.retain(|p| p["name"] != parameter["name"] || p["in"] != parameter["in"]);
                parameters.push(parameter);
            }
        }
        parameters
    }

    /// The JSON schema of the `application/json` body of `status` for `operation`, `None` when
    /// the operation declares no such response.
    pub fn response_schema(&self, operation: &Operation, status: u16) -> Option<&Value> {
        let responses =
            &self.document["paths"][&operation.template][&operation.method]["responses"];
        let response = self.resolve(responses.get(status.to_string())?);
        response["content"]["application/json"].get("schema")
    }

    /// Whether `operation` declares a `status` answer, with or without a body.
    pub fn declares(&self, operation: &Operation, status: u16) -> bool {
        self.document["paths"][&operation.template][&operation.method]["responses"]
            .get(status.to_string())
            .is_some()
    }

    /// Checks `body` against component schema `name` (e.g. `Error`).
    pub fn check_named(&self, name: &str, body: &Value) -> Result<(), String> {
        let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
        self.check(&format!("schema {name}"), &schema, body)
    }

    /// Checks the body of a `status` answer to `method path` against the spec. An answer the
    /// operation does not declare is an error here; callers name their exceptions.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let operation = self
            .operation(method, path)
            .ok_or_else(|| format!("{method} {path}: no such operation in Okta's spec"))?;
        let schema = self.response_schema(&operation, status).ok_or_else(|| {
            if self.declares(&operation, status) {
                format!(
                    "{} ({}) declares its {status} without a body",
                    operation.id, operation.template
                )
            } else {
                format!(
                    "{} ({}) declares no {status} response",
                    operation.id, operation.template
                )
            }
        })?;
        self.check(&format!("{} {status}", operation.id), schema, body)
    }

    /// Checks an answer without a body (a 204, or a 200 of a lifecycle operation): the operation
    /// must declare `status` and no body for it.
    pub fn check_empty_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Result<(), String> {
        let operation = self
            .operation(method, path)
            .ok_or_else(|| format!("{method} {path}: no such operation in Okta's spec"))?;
        let what = format!("{} ({})", operation.id, operation.template);
        if !self.declares(&operation, status) {
            return Err(format!("{what} declares no {status} response"));
        }
        if self.response_schema(&operation, status).is_some() {
            return Err(format!(
                "{what} declares a body for {status}, the answer has none"
            ));
        }
        Ok(())
    }

    /// Validates `body` against an OpenAPI `schema` (compiled once per `key`).
    fn check(&self, key: &str, schema: &Value, body: &Value) -> Result<(), String> {
        let validator = self.validator(key, schema).map_err(|e| e.to_string())?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .take(10)
            .map(|e| format!("{key}: at {} ({}): {e}", e.instance_path(), e.schema_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }

    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<Validator>, SpecError> {
        let mut cache = self
            .validators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(validator) = cache.get(key) {
            return Ok(Arc::clone(validator));
        }
        let root = schema::document_for(&schema::convert(schema), &self.defs);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| SpecError::Schema {
                what: key.to_owned(),
                message: e.to_string(),
            })?;
        let validator = Arc::new(validator);
        cache.insert(key.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }

    /// What is wrong with a request's body: one sent to an operation that declares none, or
    /// none where one is required. A body an operation declares is reported too: the tool server
    /// sends none yet, and this check does not hold one to its schema, so a tool that starts to
    /// send one must come with that check.
    pub fn check_request_body(&self, method: &str, path: &str, body: &[u8]) -> Vec<String> {
        let Some(operation) = self.operation(method, path) else {
            return vec![format!("{method} {path}: no such operation in Okta's spec")];
        };
        let what = format!("{} ({})", operation.id, operation.template);
        let declared = self.document["paths"][&operation.template][&operation.method]
            .get("requestBody")
            .map(|body| self.resolve(body));
        let sent = !body.iter().all(u8::is_ascii_whitespace);
        match (declared, sent) {
            (None, false) => Vec::new(),
            (None, true) => vec![format!(
                "{what}: a body of {} bytes, where the operation declares none",
                body.len()
            )],
            (Some(declared), false) if declared["required"] == true => {
                vec![format!("{what}: its required body is missing")]
            }
            (Some(_), false) => Vec::new(),
            (Some(_), true) => vec![format!(
                "{what}: a body, which this check does not hold to the declared schema yet"
            )],
        }
    }

    /// Problems with a header the tool server chose to send on a request to `method path`:
    /// `name` must be a header parameter the operation declares (Okta's `Content-Type` with
    /// `okta-response` on listUsers and getUser), and its value a string.
    pub fn check_request_header(
        &self,
        method: &str,
        path: &str,
        name: &str,
        value: &str,
    ) -> Vec<String> {
        let Some(operation) = self.operation(method, path) else {
            return vec![format!("{method} {path}: no such operation in Okta's spec")];
        };
        let parameters = self.parameters(&operation);
        let declared = parameters.iter().find(|p| {
            p["in"] == "header"
                && p["name"]
                    .as_str()
                    .is_some_and(|declared| declared.eq_ignore_ascii_case(name))
        });
        let what = format!(
            "{} ({}): header `{name}: {value}`",
            operation.id, operation.template
        );
        match declared {
            None => vec![format!("{what}: not a declared header parameter")],
            Some(parameter) => {
                let schema = self.resolve(&parameter["schema"]);
                match schema::check_parameter(schema, value) {
                    Ok(()) => Vec::new(),
                    Err(problem) => vec![format!("{what}: {problem}")],
                }
            }
        }
    }

    /// What is wrong with a request: a path no operation has, a query parameter the operation
    /// does not declare, a value outside its declared type, enum or bounds, a required one
    /// missing, or one given twice. Empty when the spec allows it.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Vec<String> {
        let Some(operation) = self.operation(method, path) else {
            return vec![format!("{method} {path}: no such operation in Okta's spec")];
        };
        let parameters = self.parameters(&operation);
        let declared = |name: &str| {
            parameters
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == name)
                .copied()
        };
        let mut problems = Vec::new();
        for (i, (name, value)) in query.iter().enumerate() {
            let what = format!(
                "{} ({}): `{name}={value}`",
                operation.id, operation.template
            );
            if query[..i].iter().any(|(earlier, _)| earlier == name) {
                problems.push(format!("{what}: given twice"));
            }
            match declared(name) {
                None => problems.push(format!("{what}: not a declared query parameter")),
                Some(parameter) => {
                    let schema = self.resolve(&parameter["schema"]);
                    if let Err(problem) = schema::check_parameter(schema, value) {
                        problems.push(format!("{what}: {problem}"));
                    }
                }
            }
        }
        for parameter in &parameters {
            let required = parameter["required"] == true && parameter["in"] == "query";
            let name = parameter["name"].as_str().unwrap_or_default();
            if required && !query.iter().any(|(given, _)| given == name) {
                problems.push(format!(
                    "{} ({}): required query parameter `{name}` missing",
                    operation.id, operation.template
                ));
            }
        }
        problems
    }
}
