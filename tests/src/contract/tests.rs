//! The conversion and the request check on small specs: each OpenAPI rule, and that a drift
//! from the spec is reported.

use super::*;

/// A spec with one operation, `GET /api/v1/zones`, and `schemas` as its components.
fn spec(schemas: Value, parameters: Value) -> Spec {
    Spec::from_document(json!({
        "openapi": "3.0.3",
        "info": {"version": "test"},
        "paths": {
            "/api/v1/zones": {"get": {
                "operationId": "listZones",
                "parameters": parameters,
                "responses": {
                    "200": {"content": {"application/json": {"schema": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Zone"}}}}},
                    "404": {"$ref": "#/components/responses/NotFound"}
                }
            }},
            "/api/v1/zones/{zoneId}": {"get": {"operationId": "getZone", "responses": {}}},
            "/api/v1/zones/default": {"get": {"operationId": "getDefaultZone", "responses": {}}}
        },
        "components": {
            "schemas": schemas,
            "responses": {"NotFound": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Error"}}}}}
        }
    }))
    .expect("a valid spec")
}

fn zones() -> Spec {
    spec(
        json!({
            "Zone": {
                "type": "object",
                "x-okta-tags": ["ignored"],
                "required": ["type"],
                "properties": {
                    "type": {"type": "string"},
                    "name": {"type": "string", "nullable": true},
                    "secret": {"type": "string", "writeOnly": true},
                    "priority": {"type": "integer", "minimum": 0, "exclusiveMinimum": true},
                    "links": {"$ref": "#/components/schemas/Links", "description": "ignored"}
                },
                "discriminator": {"propertyName": "type", "mapping": {
                    "IP": "#/components/schemas/IpZone"}}
            },
            "IpZone": {"allOf": [
                {"$ref": "#/components/schemas/Zone"},
                {"type": "object", "properties": {"gateways": {"type": "array",
                    "items": {"type": "string"}}}}
            ]},
            "Links": {"type": "object", "properties": {"self": {"type": "string"}}},
            "Error": {"type": "object", "properties": {"errorCode": {"type": "string"}}},
            "Factor": {
                "oneOf": [{"$ref": "#/components/schemas/Sms"}, {"$ref": "#/components/schemas/Push"}],
                "discriminator": {"propertyName": "factorType", "mapping": {
                    "sms": "#/components/schemas/Sms"}}
            },
            "Sms": {"type": "object", "properties": {"phone": {"type": "string"}}},
            "Push": {"type": "object", "properties": {"device": {"type": "string"}}}
        }),
        json!([
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 20,
                                                         "maximum": 200}},
            {"name": "usage", "in": "query", "required": true,
             "schema": {"type": "string", "enum": ["POLICY", "BLOCKLIST"]}},
            {"name": "since", "in": "query",
             "schema": {"type": "integer", "format": "Integer between 0 and 1000"}},
            {"name": "all", "in": "query", "schema": {"type": "boolean"}}
        ]),
    )
}

fn check(spec: &Spec, body: Value) -> Result<(), String> {
    spec.check_response("GET", "/api/v1/zones", 200, &body)
}

#[test]
fn nullable_readonly_and_refs_follow_openapi() {
    let spec = zones();
    assert_eq!(
        check(&spec, json!([{"type": "DYNAMIC", "name": null}])),
        Ok(())
    );
    assert!(
        check(&spec, json!([{"name": "x"}])).is_err(),
        "type is required"
    );
    assert!(check(&spec, json!([{"type": 1}])).is_err());
    // `$ref` siblings are ignored, not applied.
    assert_eq!(
        check(&spec, json!([{"type": "X", "links": {"self": "a"}}])),
        Ok(())
    );
    assert!(check(&spec, json!([{"type": "X", "links": {"self": 1}}])).is_err());
}

#[test]
fn write_only_properties_never_come_back() {
    let err = check(&zones(), json!([{"type": "X", "secret": "hunter2"}])).unwrap_err();
    assert!(err.contains("/0/secret"), "{err}");
}

#[test]
fn boolean_exclusive_minimum_is_exclusive() {
    let spec = zones();
    assert!(check(&spec, json!([{"type": "X", "priority": 0}])).is_err());
    assert_eq!(check(&spec, json!([{"type": "X", "priority": 1}])), Ok(()));
}

#[test]
fn a_discriminator_picks_the_subtype_which_inherits_the_base() {
    let spec = zones();
    // The subtype's own properties apply to its discriminator value only.
    let err = check(&spec, json!([{"type": "IP", "gateways": "10.0.0.0/8"}])).unwrap_err();
    assert!(err.contains("/0/gateways"), "{err}");
    assert_eq!(
        check(&spec, json!([{"type": "DYNAMIC", "gateways": 7}])),
        Ok(())
    );
    // The base still applies to the subtype (inherited through allOf), without looping.
    assert!(check(&spec, json!([{"type": "IP", "name": 5, "gateways": []}])).is_err());
    assert_eq!(
        check(&spec, json!([{"type": "IP", "gateways": ["10.0.0.0/8"]}])),
        Ok(())
    );
}

#[test]
fn a_discriminator_over_one_of_picks_by_mapping_or_name() {
    let spec = zones();
    assert!(
        spec.check_named("Factor", &json!({"factorType": "sms", "phone": 5}))
            .is_err()
    );
    // Both choices accept this object; without the discriminator `oneOf` would refuse it.
    assert_eq!(
        spec.check_named("Factor", &json!({"factorType": "sms", "phone": "1"})),
        Ok(())
    );
    assert!(
        spec.check_named("Factor", &json!({"factorType": "Push", "device": 5}))
            .is_err()
    );
    assert_eq!(
        spec.check_named("Factor", &json!({"factorType": "Push", "device": "x"})),
        Ok(())
    );
}

#[test]
fn responses_come_from_components_and_undeclared_ones_are_errors() {
    let spec = zones();
    let not_found = json!({"errorCode": "E0000007"});
    assert_eq!(
        spec.check_response("GET", "/api/v1/zones", 404, &not_found),
        Ok(())
    );
    let bad = json!({"errorCode": 7});
    assert!(
        spec.check_response("GET", "/api/v1/zones", 404, &bad)
            .is_err()
    );
    let err = spec
        .check_response("GET", "/api/v1/zones", 401, &not_found)
        .unwrap_err();
    assert!(err.contains("declares no 401"), "{err}");
    assert!(
        spec.check_response("GET", "/api/v1/nope", 200, &json!([]))
            .is_err()
    );
}

#[test]
fn paths_find_their_operation_literal_segments_first() {
    let spec = zones();
    let id = |path: &str| spec.operation("GET", path).map(|o| o.id);
    assert_eq!(id("/api/v1/zones").as_deref(), Some("listZones"));
    assert_eq!(id("/api/v1/zones/nzo1").as_deref(), Some("getZone"));
    assert_eq!(
        id("/api/v1/zones/default").as_deref(),
        Some("getDefaultZone")
    );
    assert_eq!(id("/api/v1/zones/"), None);
    assert_eq!(spec.operation("POST", "/api/v1/zones").map(|o| o.id), None);
}

#[test]
fn requests_are_held_to_the_declared_parameters() {
    let spec = zones();
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let problems = |pairs: &[(&str, &str)]| spec.check_request("GET", "/api/v1/zones", &q(pairs));
    assert!(problems(&[("usage", "POLICY"), ("limit", "20"), ("since", "1000")]).is_empty());
    for (pairs, needle) in [
        (
            &[("usage", "POLICY"), ("after", "x")][..],
            "`after=x`: not a declared",
        ),
        (
            &[("usage", "POLICY"), ("limit", "5")],
            "below the declared minimum 20",
        ),
        (
            &[("usage", "POLICY"), ("limit", "201")],
            "above the declared maximum 200",
        ),
        (&[("usage", "POLICY"), ("limit", "many")], "not an integer"),
        (&[("usage", "SOMETIMES")], "not one of the declared values"),
        (
            &[("usage", "POLICY"), ("since", "1001")],
            "above the declared maximum 1000",
        ),
        (&[("usage", "POLICY"), ("all", "yes")], "not true or false"),
        (&[("usage", "POLICY"), ("usage", "POLICY")], "given twice"),
        (&[], "required query parameter `usage` missing"),
    ] {
        let found = problems(pairs);
        assert!(
            found.iter().any(|p| p.contains(needle)),
            "{pairs:?}: {found:?}"
        );
    }
    assert!(spec.check_request("GET", "/api/v1/other", &[])[0].contains("no such operation"));
}

/// A spec with writes: a lifecycle POST whose 200 has no body, a DELETE answering 204, a PUT
/// whose body is required.
fn writes() -> Spec {
    Spec::from_document(json!({
        "openapi": "3.0.3",
        "info": {"version": "test"},
        "paths": {
            "/api/v1/users/{id}/lifecycle/suspend": {"post": {
                "operationId": "suspendUser",
                "responses": {
                    "200": {"description": "OK", "content": {}},
                    "404": {"content": {"application/json": {"schema": {"type": "object"}}}}
                }
            }},
            "/api/v1/users/{userId}/sessions": {"delete": {
                "operationId": "revokeUserSessions",
                "responses": {"204": {"description": "No Content"}}
            }},
            "/api/v1/users/{id}": {"put": {
                "operationId": "replaceUser",
                "requestBody": {"$ref": "#/components/requestBodies/User"},
                "responses": {"200": {"content": {"application/json": {"schema": {
                    "type": "object"}}}}}
            }}
        },
        "components": {"requestBodies": {"User": {"required": true, "content": {
            "application/json": {"schema": {"type": "object"}}}}}}
    }))
    .expect("a valid spec")
}

#[test]
fn answers_without_a_body_are_held_to_what_the_status_declares() {
    let spec = writes();
    let suspend = "/api/v1/users/00u1/lifecycle/suspend";
    let sessions = "/api/v1/users/00u1/sessions";
    assert_eq!(spec.check_empty_response("POST", suspend, 200), Ok(()));
    assert_eq!(spec.check_empty_response("DELETE", sessions, 204), Ok(()));
    let err = spec
        .check_empty_response("DELETE", sessions, 200)
        .unwrap_err();
    assert!(err.contains("declares no 200"), "{err}");
    let err = spec.check_empty_response("POST", suspend, 404).unwrap_err();
    assert!(err.contains("declares a body for 404"), "{err}");
    let err = spec
        .check_response("POST", suspend, 200, &json!({}))
        .unwrap_err();
    assert!(err.contains("declares its 200 without a body"), "{err}");
    let operation = spec.operation("DELETE", sessions).expect("an operation");
    assert!(spec.declares(&operation, 204));
    assert!(!spec.declares(&operation, 200));
}

#[test]
fn request_bodies_are_held_to_what_the_operation_declares() {
    let spec = writes();
    let suspend = "/api/v1/users/00u1/lifecycle/suspend";
    assert!(spec.check_request_body("POST", suspend, b"").is_empty());
    assert!(spec.check_request_body("POST", suspend, b" \n").is_empty());
    let found = spec.check_request_body("POST", suspend, b"{}");
    assert!(found[0].contains("declares none"), "{found:?}");
    // A required body (through a `$ref`) must be there; one that is is not checked yet, and
    // says so.
    let found = spec.check_request_body("PUT", "/api/v1/users/00u1", b"");
    assert!(found[0].contains("required body is missing"), "{found:?}");
    let found = spec.check_request_body("PUT", "/api/v1/users/00u1", b"{}");
    assert!(found[0].contains("does not hold"), "{found:?}");
    let found = spec.check_request_body("PATCH", suspend, b"");
    assert!(found[0].contains("no such operation"), "{found:?}");
}

#[test]
fn what_is_not_openapi_3_0_is_refused() {
    assert!(Spec::from_document(json!({"swagger": "2.0"})).is_err());
    assert!(Spec::load(std::path::Path::new("/nonexistent/spec.yaml")).is_err());
}

#[test]
fn request_headers_are_held_to_the_declared_header_parameters() {
    let spec = Spec::from_document(json!({
        "openapi": "3.0.3",
        "info": {"version": "test"},
        "paths": {
            "/api/v1/users": {"get": {
                "operationId": "listUsers",
                "parameters": [{"$ref": "#/components/parameters/OktaResponse"}],
                "responses": {"200": {"content": {"application/json": {"schema": {
                    "type": "array"}}}}}
            }},
            "/api/v1/groups": {"get": {
                "operationId": "listGroups",
                "responses": {"200": {"content": {"application/json": {"schema": {
                    "type": "array"}}}}}
            }}
        },
        "components": {"parameters": {"OktaResponse": {
            "name": "Content-Type", "in": "header", "required": false,
            "schema": {"type": "string"}}}}
    }))
    .expect("a valid spec");
    let value = "application/json; okta-response=omitCredentials";
    assert!(
        spec.check_request_header("GET", "/api/v1/users", "content-type", value)
            .is_empty()
    );
    let found = spec.check_request_header("GET", "/api/v1/groups", "Content-Type", value);
    assert!(
        found[0].contains("not a declared header parameter"),
        "{found:?}"
    );
    let found = spec.check_request_header("GET", "/api/v1/nothing", "Content-Type", value);
    assert!(found[0].contains("no such operation"), "{found:?}");
}
