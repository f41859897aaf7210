//! Properties of the tool server's parsers of outside bytes, on generated input (issue 11 §2):
//! `wrap`'s line splitter, message classifier, POST bodies and SSE framing; Okta's `Link`
//! header, error bodies and rate-limit headers; the policy file.
//!
//! 256 cases per property unless `PROPTEST_CASES` says otherwise. The fuzz targets in `fuzz/`
//! drive the same functions with arbitrary bytes.

use okta_mcp_tool_server::okta::OktaError;
use okta_mcp_tool_server::okta::fuzzing::{
    error_from_response, next_link, parse_link_header, parse_projected, rate_limit_wait,
};
use okta_mcp_tool_server::policy::ToolPolicy;
use okta_mcp_tool_server::wrap::fuzzing::{
    MessageKind, SplitLine, classify, parse_post_body, split_lines, sse_body, sse_data,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Any JSON value, with strings that hold line breaks, quotes and non-ASCII text.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Short floats only: serde_json reads long ones back one unit in the last place off
        // (`a_long_float_passes_through_unchanged` below).
        (any::<i16>(), 0u32..8).prop_map(|(m, e)| Value::from(f64::from(m) / f64::from(1u32 << e))),
        ".{0,12}".prop_map(Value::String),
        "[\r\n\u{2028}\u{85}\"\\\\:a ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects made of JSON-RPC's members, each present or not, with values of any type.
fn jsonrpc_like() -> impl Strategy<Value = Value> {
    let member = |good: BoxedStrategy<Value>| {
        proptest::option::of(prop_oneof![3 => good, 1 => json_value()])
    };
    (
        member(Just(json!("2.0")).boxed()),
        member(
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                "[a-z0-9]{1,4}".prop_map(Value::String)
            ]
            .boxed(),
        ),
        member(
            prop_oneof![
                Just(json!("tools/call")),
                Just(json!("initialize")),
                Just(json!("notifications/initialized")),
                Just(json!("ping")),
            ]
            .boxed(),
        ),
        member(Just(json!({})).boxed()),
        member(Just(json!({"code": -32601, "message": "x"})).boxed()),
        member(Just(json!({"name": "t"})).boxed()),
    )
        .prop_map(|(jsonrpc, id, method, result, error, params)| {
            let mut object = Map::new();
            for (name, value) in [
                ("jsonrpc", jsonrpc),
                ("id", id),
                ("method", method),
                ("result", result),
                ("error", error),
                ("params", params),
            ] {
                if let Some(value) = value {
                    object.insert(name.into(), value);
                }
            }
            Value::Object(object)
        })
}

// ---------------------------------------------------------------------------------------------
// wrap: the line splitter

/// The lines of `input` by definition: split at `\n`, a last line without one still counts,
/// a line longer than `max` (counting a final `\r`) is skipped by size, else `\r` is dropped.
fn lines_by_definition(input: &[u8], max: usize) -> Vec<SplitLine> {
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
        .into_iter()
        .map(|line| {
            if line.len() > max {
                SplitLine::TooLong(line.len())
            } else {
                SplitLine::Text(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
            }
        })
        .collect()
}

proptest! {
    /// Any bytes split into exactly the lines of the definition, whatever the read buffer's
    /// size: no line over the limit is ever kept, so memory is bounded by `max`.
    #[test]
    fn lines_split_by_definition_whatever_the_buffer(
        input in prop_oneof![bytes(300), "[a\r\n]{0,80}".prop_map(String::into_bytes)],
        max in 0usize..40,
        capacity in 1usize..70,
    ) {
        prop_assert_eq!(split_lines(&input, max, capacity), lines_by_definition(&input, max));
    }

    /// Messages written one per line (LF or CRLF) come back as the same messages.
    #[test]
    fn messages_written_as_lines_read_back_the_same(
        messages in proptest::collection::vec(json_value(), 0..6),
        crlf in any::<bool>(),
        capacity in 1usize..64,
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let stream: String = messages.iter().map(|m| format!("{m}{end}")).collect();
        let read: Vec<Value> = split_lines(stream.as_bytes(), 1 << 20, capacity)
            .into_iter()
            .map(|line| match line {
                SplitLine::Text(text) => serde_json::from_slice(&text).map_err(|e| TestCaseError::fail(e.to_string())),
                SplitLine::TooLong(n) => Err(TestCaseError::fail(format!("too long: {n}"))),
            })
            .collect::<Result<_, _>>()?;
        prop_assert_eq!(read, messages);
    }
}

/// Found by the two round trips above: `wrap` parses each message into a `serde_json::Value`
/// and writes it out again, and serde_json (without its `float_roundtrip` feature) reads a
/// float with a long mantissa to a neighbouring value, so the message that reaches the client
/// is not the one the server wrote. Fixed by serde_json's `float_roundtrip` feature (workspace
/// `Cargo.toml`).
#[test]
fn a_long_float_passes_through_unchanged() {
    let message = json!({"jsonrpc": "2.0", "id": 1, "result": {"x": 421662.55908203125f64}});
    let line = split_lines(format!("{message}\n").as_bytes(), 1 << 20, 64);
    let SplitLine::Text(text) = &line[0] else {
        panic!("one line: {line:?}");
    };
    assert_eq!(serde_json::from_slice::<Value>(text).unwrap(), message);
    let events = sse_data(&sse_body(vec![message.clone()]));
    assert_eq!(serde_json::from_str::<Value>(&events[0]).unwrap(), message);
}

// ---------------------------------------------------------------------------------------------
// wrap: the message classifier and POST bodies

/// What a message is by the JSON-RPC 2.0 definitions the classifier documents: a request has
/// a method and a string or number id, a notification a method and no id, a response an id and
/// a result or an error and no method; anything else is invalid. A `method` that is not a
/// string counts as no method (so `{"id":1,"method":null,"result":{}}` is a response).
fn kind_by_definition(message: &Value) -> MessageKind {
    let Some(object) = message.as_object() else {
        return MessageKind::Invalid;
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return MessageKind::Invalid;
    }
    let method = object.get("method").and_then(Value::as_str);
    match (method, object.get("id")) {
        (Some(method), Some(id)) if id.is_string() || id.is_number() => MessageKind::Request {
            id: id.clone(),
            method: method.to_owned(),
        },
        (Some(method), None) => MessageKind::Notification {
            method: method.to_owned(),
        },
        (None, Some(id)) if object.contains_key("result") || object.contains_key("error") => {
            MessageKind::Response { id: id.clone() }
        }
        _ => MessageKind::Invalid,
    }
}

proptest! {
    /// Every message is classified as its definition says.
    #[test]
    fn messages_are_classified_by_definition(message in prop_oneof![jsonrpc_like(), json_value()]) {
        prop_assert_eq!(classify(&message), kind_by_definition(&message));
    }

    /// A POST body is accepted iff it is one valid message or a non-empty batch of them, with
    /// notifications only under `notifications/` and `initialize` alone; what is accepted is
    /// exactly what was sent.
    #[test]
    fn post_bodies_are_accepted_by_definition(batch in proptest::collection::vec(jsonrpc_like(), 0..4), single in any::<bool>()) {
        let body = if single && batch.len() == 1 { batch[0].clone() } else { Value::Array(batch.clone()) };
        let valid = !batch.is_empty()
            && batch.iter().all(|m| match kind_by_definition(m) {
                MessageKind::Invalid => false,
                MessageKind::Notification { method } => method.starts_with("notifications/"),
                _ => true,
            })
            && (batch.len() == 1
                || !batch.iter().any(|m| matches!(kind_by_definition(m), MessageKind::Request { method, .. } if method == "initialize")));
        match parse_post_body(body.to_string().as_bytes()) {
            Ok(messages) => {
                prop_assert!(valid, "accepted {body}");
                prop_assert_eq!(messages, batch);
            }
            Err(refusal) => {
                prop_assert!(!valid, "refused {body}: {refusal:?}");
                prop_assert_eq!(refusal.status.as_u16(), 400);
            }
        }
    }

    /// Arbitrary bytes never panic.
    #[test]
    fn any_post_body_is_parsed_or_refused(body in bytes(300)) {
        let _ = parse_post_body(&body);
    }
}

// ---------------------------------------------------------------------------------------------
// wrap: SSE framing

proptest! {
    /// What `wrap` frames as SSE, a reader that follows the standard reads back as the same
    /// messages, one per event.
    #[test]
    fn sse_events_read_back_as_the_messages(messages in proptest::collection::vec(json_value(), 0..5)) {
        let body = sse_body(messages.clone());
        let read: Vec<Value> = sse_data(&body)
            .iter()
            .map(|data| serde_json::from_str(data).map_err(|e| TestCaseError::fail(format!("{e}: {data:?}"))))
            .collect::<Result<_, _>>()?;
        prop_assert_eq!(read, messages);
    }

    /// The reader never panics and never returns more than its input could hold.
    #[test]
    fn any_sse_stream_is_read_within_its_size(stream in prop_oneof![bytes(300), sse_like()]) {
        let events = sse_data(&stream);
        let total: usize = events.iter().map(String::len).sum();
        // A byte that is not UTF-8 reads as U+FFFD (3 bytes); nothing else grows.
        prop_assert!(total <= 3 * stream.len());
    }
}

/// Streams of SSE-shaped lines: fields, comments, blank lines, any line ending.
fn sse_like() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            prop_oneof![
                "data:? ?[a :\u{fffd}]{0,6}",
                "(event|id|retry): ?[a-z0-9]{0,4}",
                ": ?[a ]{0,4}",
                Just(String::new())
            ],
            prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        ),
        0..12,
    )
    .prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(line, end)| [line, end.to_owned()])
            .collect::<String>()
            .into_bytes()
    })
}

// ---------------------------------------------------------------------------------------------
// Okta: Link headers

fn link_target() -> impl Strategy<Value = String> {
    "https://[a-z]{1,8}\\.okta\\.com/api/v1/[a-z]{1,6}(\\?after=[A-Za-z0-9,;=\"]{0,8}&limit=[0-9]{1,3})?"
}

/// A link parameter other than `rel`: a token or a quoted string that may hold `,`, `;`, `=`.
fn other_param() -> impl Strategy<Value = String> {
    prop_oneof![
        "(title|type|hreflang)=[a-z/]{1,6}",
        "(title|type)=\"[a-z ,;=]{0,12}\"",
        "title=\"[a-z]{0,3}; ?rel=[a-z]{1,5}\"",
    ]
}

/// Found by the round trip below: a quoted parameter that spells a relation is not one.
#[test]
fn a_relation_inside_a_quoted_parameter_is_not_one() {
    let value = r#"<https://a.okta.com/api/v1/users>; rel="self"; title="a; rel=next""#;
    assert_eq!(
        parse_link_header(value),
        vec![(
            "https://a.okta.com/api/v1/users".to_owned(),
            vec!["self".to_owned()]
        )]
    );
    assert_eq!(next_link(&[value.as_bytes()]), None);
}

proptest! {
    /// Links written as RFC 8288 says (one header or several joined by commas, parameters in
    /// any order, quoted strings holding commas and semicolons) parse back to their targets and
    /// relations.
    #[test]
    fn link_headers_round_trip(
        links in proptest::collection::vec(
            (link_target(), proptest::collection::vec("[a-zA-Z]{1,6}", 1..3), proptest::collection::vec(other_param(), 0..3), any::<bool>()),
            0..4,
        ),
    ) {
        let written: Vec<String> = links
            .iter()
            .map(|(target, rels, others, rel_first)| {
                let rel = format!("rel=\"{}\"", rels.join(" "));
                let mut params = others.clone();
                if *rel_first { params.insert(0, rel) } else { params.push(rel) }
                format!("<{target}>; {}", params.join("; "))
            })
            .collect();
        let expected: Vec<(String, Vec<String>)> = links
            .iter()
            .map(|(target, rels, _, _)| (target.clone(), rels.iter().map(|r| r.to_ascii_lowercase()).collect()))
            .collect();
        prop_assert_eq!(parse_link_header(&written.join(", ")), expected.clone());
        // The same links as separate headers: the first `next` one is followed.
        let values: Vec<&[u8]> = written.iter().map(|w| w.as_bytes()).collect();
        let first_next = expected.iter().find(|(_, rels)| rels.iter().any(|r| r == "next")).map(|(t, _)| t.clone());
        prop_assert_eq!(next_link(&values), first_next);
    }

    /// Arbitrary text never panics and yields at most one link per `<`.
    #[test]
    fn any_link_header_is_parsed_within_its_size(value in prop_oneof![".{0,200}", "[<>;, =\"a-z]{0,80}"]) {
        let links = parse_link_header(&value);
        prop_assert!(links.len() <= value.matches('<').count());
    }
}

// ---------------------------------------------------------------------------------------------
// Okta: error bodies and rate-limit headers

proptest! {
    /// Okta's error body becomes the tool's error with the same code, summary, causes and id.
    #[test]
    fn okta_error_bodies_round_trip(
        status in 400u16..600,
        code in "E[0-9]{7}",
        summary in ".{1,40}",
        causes in proptest::collection::vec(".{0,20}", 0..4),
        id in "[A-Za-z0-9]{1,20}",
    ) {
        let body = json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": id,
            "errorCauses": causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
        });
        let error = error_from_response(status, body.to_string().as_bytes());
        let OktaError::Api { status: s, error_code, error_summary, error_causes, error_id } = &error else {
            return Err(TestCaseError::fail(format!("not an API error: {error:?}")));
        };
        prop_assert_eq!(*s, status);
        prop_assert_eq!(error_code.as_deref(), Some(code.as_str()));
        prop_assert_eq!(error_summary, &summary);
        prop_assert_eq!(error_causes, &causes);
        prop_assert_eq!(error_id.as_deref(), Some(id.as_str()));
        prop_assert_eq!(&error.to_json()["errorCode"], &json!(code));
    }

    /// Any body (HTML from a proxy, junk, JSON of the wrong shape) gives an error whose message
    /// is never empty and never much longer than the body.
    #[test]
    fn any_error_body_gives_a_bounded_message(status in any::<u16>(), body in prop_oneof![bytes(300), json_value().prop_map(|v| v.to_string().into_bytes())]) {
        let error = error_from_response(status, &body);
        let message = error.to_string();
        prop_assert!(!message.is_empty());
        prop_assert!(message.len() <= body.len() + 80, "{} bytes from {}", message.len(), body.len());
        let _ = error.to_json();
    }

    /// A 429's wait is `X-Rate-Limit-Reset` minus Okta's `Date`, clamped to one minute, and any
    /// header bytes at all give a wait within [0, 60] s.
    #[test]
    fn rate_limit_waits_follow_okta_clock_and_stay_bounded(
        date in 1_500_000_000i64..2_000_000_000,
        ahead in -120i64..120,
        skew in -100_000i64..100_000,
        junk in proptest::collection::vec(proptest::option::of(bytes(40)), 3),
    ) {
        let http_date = chrono::DateTime::from_timestamp(date, 0).unwrap().to_rfc2822();
        let reset = (date + ahead).to_string();
        let wait = rate_limit_wait(Some(reset.as_bytes()), Some(http_date.as_bytes()), None, date + skew);
        prop_assert_eq!(wait.as_secs() as i64, ahead.clamp(0, 60));
        let wait = rate_limit_wait(junk[0].as_deref(), junk[1].as_deref(), junk[2].as_deref(), date);
        prop_assert!(wait.as_secs() <= 60);
    }
}

// ---------------------------------------------------------------------------------------------
// Okta's answers, parsed keeping only the fields a list tool declares

/// What keeping `paths` of `value` means, by definition: an object keeps the named keys (a
/// name with nothing below it whole, minus `_links`, `_embedded` and nulls below), an array
/// applies the same to each element, and nulls are left out.
fn projected_by_definition(value: &Value, paths: &[Vec<&str>]) -> Value {
    fn whole(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, v)| *k != "_links" && *k != "_embedded" && !v.is_null())
                    .map(|(k, v)| (k.clone(), whole(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(whole).collect()),
            other => other.clone(),
        }
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in map {
                if key == "_links" || child.is_null() {
                    continue;
                }
                let below: Vec<Vec<&str>> = paths
                    .iter()
                    .filter(|p| p.first() == Some(&key.as_str()))
                    .map(|p| p[1..].to_vec())
                    .collect();
                if below.is_empty() {
                    continue;
                }
                let kept = if below.iter().any(Vec::is_empty) {
                    if key == "_embedded" {
                        child.clone()
                    } else {
                        whole(child)
                    }
                } else {
                    projected_by_definition(child, &below)
                };
                out.insert(key.clone(), kept);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| projected_by_definition(i, paths))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// JSON shaped like Okta's answers: objects whose keys are the names the paths use.
fn okta_like() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[a-z\"\\\\é]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("id"),
                    Just("profile"),
                    Just("login"),
                    Just("_links"),
                    Just("_embedded"),
                    Just("a")
                ]
                .prop_map(str::to_owned),
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Parsing with a projection equals parsing everything and then keeping the named paths.
    #[test]
    fn a_projection_keeps_exactly_the_named_paths(
        value in okta_like(),
        paths in proptest::collection::vec(proptest::collection::vec(prop_oneof![
            Just("id"), Just("profile"), Just("login"), Just("_links"), Just("a"), Just("")
        ], 1..4), 0..4),
    ) {
        // Names as the tools write them: no empty part, no `_embedded` (named only for expands).
        let paths: Vec<Vec<&str>> = paths.into_iter().filter(|p| !p.contains(&"")).collect();
        let dotted: Vec<String> = paths.iter().map(|p| p.join(".")).collect();
        let dotted: Vec<&str> = dotted.iter().map(String::as_str).collect();
        let body = serde_json::to_vec(&value).unwrap();
        let parsed = parse_projected(&body, &dotted).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed, projected_by_definition(&value, &paths));
    }

    /// Arbitrary bytes are parsed or refused, never a panic.
    #[test]
    fn any_okta_body_is_projected_or_refused(body in prop_oneof![bytes(300), json_value().prop_map(|v| serde_json::to_vec(&v).unwrap())]) {
        let _ = parse_projected(&body, &["id", "profile.login", "target.alternateId"]);
    }

    /// The projection's own JSON reader accepts what serde_json accepts and refuses what it
    /// refuses, skipped parts included: bodies are valid JSON with one byte changed, added or
    /// removed (and pretty-printed ones, for whitespace).
    #[test]
    fn the_projection_reader_checks_json_as_serde_json_does(
        value in json_value(),
        pretty in any::<bool>(),
        edit in (any::<proptest::sample::Index>(), 0u8..3, prop_oneof![
            Just(b'"'), Just(b'\\'), Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b','),
            Just(b':'), Just(b'0'), Just(b'-'), Just(b'.'), Just(b'e'), Just(b'u'), Just(b'n'),
            Just(b' '), Just(0x01), Just(0xff), any::<u8>()
        ]),
    ) {
        let mut body = if pretty { serde_json::to_vec_pretty(&value) } else { serde_json::to_vec(&value) }.unwrap();
        let (at, how, byte) = edit;
        let at = at.index(body.len() + 1);
        match how {
            0 if at < body.len() => body[at] = byte,
            1 => body.insert(at, byte),
            _ if at < body.len() => { body.remove(at); }
            _ => {}
        }
        // Paths that keep some of it and skip the rest (`a` and `login` are skipped).
        let ours = parse_projected(&body, &["id", "profile"]);
        match serde_json::from_slice::<Value>(&body) {
            Ok(whole) => {
                let paths = [vec!["id"], vec!["profile"]];
                let ours = ours.map_err(|e| TestCaseError::fail(format!("{e} for {:?}", String::from_utf8_lossy(&body))))?;
                prop_assert_eq!(ours, projected_by_definition(&whole, &paths));
            }
            // serde_json refuses a few things only when it builds them (numbers out of range,
            // lone surrogates); in skipped parts neither reader builds them.
            Err(_) if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok() => {}
            Err(_) => prop_assert!(ours.is_err(), "accepted {:?}", String::from_utf8_lossy(&body)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The policy file

proptest! {
    /// A policy file made of valid roles allows a role a tool iff the role lists it or `*`;
    /// a role the file does not name gets nothing.
    #[test]
    fn the_policy_allows_what_it_lists(
        (roles, role) in proptest::collection::btree_map("[a-z0-9_-]{1,10}", proptest::collection::vec(prop_oneof![Just("*".to_owned()), "[a-c_]{1,2}"], 0..4), 0..5)
            .prop_flat_map(|roles| {
                let named: Vec<String> = roles.keys().cloned().chain(["unnamed".to_owned()]).collect();
                (Just(roles), proptest::sample::select(named))
            }),
        tool in "[a-c_]{1,2}",
    ) {
        let text: String = std::iter::once("[roles]\n".to_owned()).chain(roles
            .iter()
            .map(|(name, tools)| format!("[roles.{}]\ntools = {}\n", json!(name), json!(tools))))
            .collect();
        let policy = ToolPolicy::parse(&text, "policy.toml").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = roles.get(&role).is_some_and(|tools| tools.iter().any(|t| t == "*" || *t == tool));
        prop_assert_eq!(policy.allows(&role, &tool), expected);
    }

    /// Arbitrary text never panics.
    #[test]
    fn any_policy_text_is_parsed_or_refused(text in prop_oneof![".{0,200}", "\\[roles\\.[a-z\"]{0,8}\\]\ntools = \\[[\"a-z*, ]{0,20}\\]\n(description = .{0,10})?", "\\[roles\\.[a-z]{1,8}\\]\ntools = \\[(\"[a-z* ]{0,5}\", ){0,3}\\]\n"]) {
        let _ = ToolPolicy::parse(&text, "policy.toml");
    }
}
