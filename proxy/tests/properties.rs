//! Properties of the proxy's parsers of outside bytes, on generated input (issue 11 §2): the
//! OAuth query and form parameters, Basic client authentication, redirect-URI checks and
//! matching, the registration body, access tokens, the session cookie and the roles file.
//!
//! 256 cases per property unless `PROPTEST_CASES` says otherwise. The fuzz targets in `fuzz/`
//! drive the same functions with arbitrary bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use okta_mcp_proxy::oauth::fuzzing::{
    basic_client_credentials, parse_params, redirect_uri_allowed, redirect_uri_matches,
    registration_accepted,
};
use okta_mcp_proxy::roles::RoleMap;
use okta_mcp_proxy::session_cookie::SessionCookies;
use okta_mcp_proxy::tokens::{AccessTokens, Grant, TokenError};
use proptest::prelude::*;
use serde_json::{Value, json};

const NOW: i64 = 1_767_225_600;
const ISSUER: &str = "https://mcp.example.com";
const AUDIENCE: &str = "https://mcp.example.com/mcp";

fn tokens() -> AccessTokens {
    AccessTokens::new([7; 32], ISSUER, AUDIENCE)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

// ---------------------------------------------------------------------------------------------
// Query strings and form bodies

proptest! {
    /// Distinct names with non-empty values, form-encoded, parse back to the same values.
    #[test]
    fn form_parameters_round_trip(pairs in proptest::collection::btree_map(".{1,12}", ".{1,20}", 0..=64)) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &pairs {
            form.append_pair(name, value);
        }
        let encoded = form.finish();
        let params = parse_params(encoded.as_bytes()).map_err(TestCaseError::fail)?;
        for (name, value) in &pairs {
            prop_assert_eq!(params.get(name), Some(value.as_str()));
        }
    }

    /// A name given twice with values is refused (RFC 6749 §3.1), and so are more than 64
    /// parameters: what a request can make the proxy keep is bounded.
    #[test]
    fn repeated_or_too_many_parameters_are_refused(
        name in "[a-z_]{1,12}",
        first in ".{1,10}",
        second in ".{1,10}",
        extra in 65usize..200,
    ) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair(&name, &first).append_pair(&name, &second);
        prop_assert!(parse_params(form.finish().as_bytes()).is_err());
        let many: Vec<String> = (0..extra).map(|i| format!("p{i}=1")).collect();
        prop_assert!(parse_params(many.join("&").as_bytes()).is_err());
    }

    /// Arbitrary bytes never panic.
    #[test]
    fn any_query_bytes_parse_or_are_refused(input in bytes(512)) {
        let _ = parse_params(&input);
    }
}

// ---------------------------------------------------------------------------------------------
// Basic client authentication (RFC 6749 §2.3.1: id and secret each form-encoded)

proptest! {
    /// What a client encodes, `/token` decodes to the same id and secret, whatever the case of
    /// the scheme name.
    #[test]
    fn basic_credentials_round_trip(id in ".{0,30}", secret in ".{0,40}", scheme in "[bB][aA][sS][iI][cC]") {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let header = format!("{scheme} {}", STANDARD.encode(format!("{}:{}", encode(&id), encode(&secret))));
        prop_assert_eq!(basic_client_credentials(header.as_bytes()), Ok(Some((id, secret))));
    }

    /// Arbitrary header bytes never panic.
    #[test]
    fn any_authorization_header_is_read_or_refused(input in bytes(300)) {
        let _ = basic_client_credentials(&input);
    }
}

// ---------------------------------------------------------------------------------------------
// Redirect URIs

/// The host, port and path pieces redirect URIs are built from: real ones and look-alikes.
fn registered_uri() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        Just(""),
        Just("/"),
        Just("/cb"),
        Just("/oauth/callback"),
        Just("/a/b"),
        Just("/cb?x=1"),
        Just("/%63b"),
        Just("/<cb>"),
    ];
    let loopback = prop_oneof![Just("localhost"), Just("127.0.0.1"), Just("[::1]")];
    let port = prop_oneof![Just(""), Just(":1234"), Just(":80"), Just(":33418")];
    prop_oneof![
        (loopback, port, path.clone()).prop_map(|(h, p, path)| format!("http://{h}{p}{path}")),
        (
            prop_oneof![Just("app.example"), Just("claude.ai"), Just("localhost")],
            path.clone()
        )
            .prop_map(|(h, path)| format!("https://{h}{path}")),
        path.prop_map(|path| format!(
            "com.example.app:{}",
            if path.is_empty() { "/" } else { path }
        )),
    ]
}

/// A variation of `uri`: another port, another spelling of the same host, a path that
/// normalizes to the same one, a different path or query, or junk around it.
fn variation(uri: String) -> impl Strategy<Value = String> {
    let u = uri.clone();
    (0usize..16, "[0-9]{1,5}").prop_map(move |(how, digits)| {
        let without_port = strip_port(&u);
        let authority_end = |s: &str| -> usize {
            let start = s.find("://").map_or(0, |i| i + 3);
            start + s[start..].find(['/', '?']).unwrap_or(s.len() - start)
        };
        let at = authority_end(&without_port);
        let (head, tail) = without_port.split_at(at);
        match how {
            0 => u.clone(),
            1 => format!("{head}:{digits}{tail}"),
            2 => without_port.clone(),
            3 => format!("{head}:0{digits}{tail}"),
            4 => u
                .replacen("localhost", "LOCALHOST", 1)
                .replacen("http:", "HTTP:", 1),
            5 => u
                .replacen("127.0.0.1", "127.1", 1)
                .replacen("[::1]", "[0:0::1]", 1),
            6 => format!("{head}:{digits}/x/..{tail}"),
            7 => format!("{head}:{digits}{tail}/"),
            8 => format!("{head}:{digits}{tail}#f"),
            9 => u.replacen("://", "://user@", 1),
            10 => format!("{head}.:{digits}{tail}"),
            11 => format!("{head}:{digits}{}", tail.replacen("cb", "%63b", 1)),
            12 => format!("{head}:{digits}{}", tail.replacen("%63", "c", 1)),
            13 => format!("{head}:{digits}{tail}?"),
            14 => u.replacen("http://", "https://", 1),
            _ => format!(
                "{head}:{digits}{}",
                tail.replacen('<', "%3C", 1).replacen('>', "%3E", 1)
            ),
        }
    })
}

/// `uri` without the port of its authority, textually.
fn strip_port(uri: &str) -> String {
    let Some(start) = uri.find("://").map(|i| i + 3) else {
        return uri.to_owned();
    };
    let end = start
        + uri[start..]
            .find(['/', '?', '#'])
            .unwrap_or(uri.len() - start);
    let authority = &uri[start..end];
    // RFC 3986: `port = *DIGIT` after the last colon (an IPv6 host's colons are in brackets).
    let host_end = match authority.rfind(':') {
        Some(colon)
            if authority[colon + 1..].bytes().all(|b| b.is_ascii_digit())
                && (authority[..colon].ends_with(']') || !authority[..colon].contains(':')) =>
        {
            colon
        }
        _ => authority.len(),
    };
    format!("{}{}{}", &uri[..start], &authority[..host_end], &uri[end..])
}

/// The documented rule: byte for byte, except that an `http` URI to a loopback host
/// (localhost, 127.0.0.1, [::1]) matches on any port (RFC 8252 §7.3).
fn documented_match(registered: &[String], requested: &str) -> bool {
    let loopback = |uri: &str| {
        let Some(rest) = uri.strip_prefix("http://") else {
            return false;
        };
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let host = strip_port(&format!("http://{authority}"))["http://".len()..].to_owned();
        host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]"
    };
    registered.iter().any(|r| {
        r == requested
            || (loopback(r)
                && loopback(requested)
                && redirect_uri_allowed(requested).is_ok()
                && strip_port(r) == strip_port(requested))
    })
}

/// Spellings the matcher accepted before it compared text (found by the property below):
/// each names the registered loopback URI's host and path differently.
#[test]
fn other_spellings_of_a_registered_loopback_uri_do_not_match() {
    for (registered, requested) in [
        ("http://localhost", "HTTP://LOCALHOST"),
        ("http://localhost/cb", "http://LocalHost:5/cb"),
        ("http://127.0.0.1/cb", "http://127.1:5/cb"),
        ("http://127.0.0.1/cb", "http://2130706433:5/cb"),
        ("http://127.0.0.1/cb", "http://0x7f.0.0.1:5/cb"),
        ("http://[::1]/cb", "http://[0:0::1]:5/cb"),
        ("http://localhost/cb", "http://localhost:5/x/../cb"),
        ("http://localhost/cb", "http://localhost:5/%2e%2e/cb"),
        ("http://localhost/<cb>", "http://localhost:5/%3Ccb%3E"),
        ("http://localhost", "http://localhost:5/"),
    ] {
        assert!(
            !redirect_uri_matches(&[registered.to_owned()], requested),
            "{requested} must not match {registered}"
        );
    }
    // The port, and only the port, may differ.
    for (registered, requested) in [
        ("http://localhost/cb", "http://localhost:5/cb"),
        ("http://127.0.0.1:1234/cb?x=1", "http://127.0.0.1/cb?x=1"),
        ("http://[::1]:80/cb", "http://[::1]:33418/cb"),
        ("http://localhost:1234/cb", "http://localhost:/cb"),
    ] {
        assert!(
            redirect_uri_matches(&[registered.to_owned()], requested),
            "{requested} matches {registered}"
        );
    }
}

proptest! {
    /// Matching-equivalence: `/authorize` accepts a redirect URI iff it equals a registered one,
    /// up to the port of a loopback http URI.
    #[test]
    fn a_redirect_uri_matches_iff_equal_up_to_the_loopback_port(
        (registered, requested) in proptest::collection::vec(registered_uri(), 1..4)
            .prop_flat_map(|registered| {
                let pick = proptest::sample::select(registered.clone()).prop_flat_map(variation);
                (Just(registered), pick)
            })
    ) {
        prop_assert_eq!(
            redirect_uri_matches(&registered, &requested),
            documented_match(&registered, &requested),
            "registered {:?}, requested {:?}", registered, requested
        );
    }

    /// Whatever the string, the check answers without panicking, and what it allows has no
    /// fragment, no user info, no whitespace and a bounded length.
    #[test]
    fn allowed_redirect_uris_are_clean(uri in prop_oneof![".{0,80}", registered_uri().prop_flat_map(variation)]) {
        if redirect_uri_allowed(&uri).is_ok() {
            prop_assert!(uri.len() <= 2048);
            prop_assert!(!uri.contains('#') && !uri.chars().any(char::is_whitespace));
            let url = url::Url::parse(&uri).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(url.username().is_empty() && url.password().is_none());
        }
        prop_assert!(!redirect_uri_matches(&[], &uri));
    }
}

// ---------------------------------------------------------------------------------------------
// The registration body (RFC 7591)

proptest! {
    /// A body whose only varying part is `redirect_uris` is accepted iff it has 1 to 10 of
    /// them and each may be registered.
    #[test]
    fn registration_depends_on_each_redirect_uri(
        uris in prop_oneof![
            proptest::collection::vec(registered_uri(), 0..13),
            proptest::collection::vec(prop_oneof![registered_uri(), registered_uri().prop_flat_map(variation), ".{0,20}"], 0..13),
        ],
        auth in prop_oneof![Just("none"), Just("client_secret_post"), Just("client_secret_basic")],
    ) {
        let body = json!({"redirect_uris": uris, "token_endpoint_auth_method": auth, "client_name": "app"});
        let expected = (1..=10).contains(&uris.len()) && uris.iter().all(|u| redirect_uri_allowed(u).is_ok());
        prop_assert_eq!(registration_accepted(body.to_string().as_bytes()), expected);
    }

    /// Arbitrary bytes and arbitrary JSON never panic.
    #[test]
    fn any_registration_body_is_answered(input in bytes(400), value in arbitrary_json()) {
        let _ = registration_accepted(&input);
        let _ = registration_accepted(json!({"redirect_uris": value.clone(), "grant_types": value.clone(), "client_name": value}).to_string().as_bytes());
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        registered_uri().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Access tokens

fn grant() -> impl Strategy<Value = Grant> {
    (
        ".{0,20}", ".{0,20}", ".{0,12}", ".{0,20}", ".{0,20}", ".{0,20}",
    )
        .prop_map(|(subject, email, role, client_id, scope, family)| Grant {
            subject,
            email,
            role,
            client_id,
            scope,
            family,
        })
}

proptest! {
    /// A minted token decodes to its claims until it expires, and not after.
    #[test]
    fn minted_tokens_decode_to_their_claims(grant in grant(), ttl in 1u64..100_000, later in 0u64..200_000) {
        let t = tokens();
        let (token, claims) = t.mint(&grant, NOW, Duration::from_secs(ttl));
        prop_assert_eq!(t.decode(&token, NOW), Ok(claims.clone()));
        prop_assert_eq!(&claims.sub, &grant.subject);
        prop_assert_eq!(&claims.fid, &grant.family);
        let exp = NOW + ttl as i64;
        prop_assert_eq!(t.decode(&token, exp - 1), Ok(claims.clone()));
        prop_assert_eq!(t.decode(&token, exp), Err(TokenError::Expired));
        let at = NOW + later as i64;
        prop_assert_eq!(t.decode(&token, at).is_ok(), at < exp);
    }

    /// Any change of one character of a token makes it invalid.
    #[test]
    fn any_changed_character_is_refused(grant in grant(), at in any::<prop::sample::Index>(), to in "[A-Za-z0-9_.=-]") {
        let t = tokens();
        let (token, _) = t.mint(&grant, NOW, Duration::from_secs(60));
        let at = at.index(token.len());
        let mut changed = token.clone();
        changed.replace_range(at..at + 1, &to);
        prop_assume!(changed != token);
        prop_assert!(t.decode(&changed, NOW).is_err());
    }

    /// Arbitrary text never panics and is never accepted; oversized text is refused before
    /// anything is decoded.
    #[test]
    fn junk_tokens_are_refused(text in prop_oneof![".{0,200}", "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,50}"], pad in 0usize..3) {
        let t = tokens();
        prop_assert!(t.decode(&text, NOW).is_err());
        let long = format!("{text}{}", "A".repeat(8 * 1024 + pad));
        prop_assert_eq!(t.decode(&long, NOW), Err(TokenError::Malformed));
    }
}

// ---------------------------------------------------------------------------------------------
// The session cookie

fn cookie_header(set_cookie: &str) -> http::HeaderMap {
    let pair = set_cookie.split(';').next().unwrap_or("");
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::COOKIE, pair.parse().unwrap());
    headers
}

proptest! {
    /// A sealed session opens to the same session while unexpired, on http and https.
    #[test]
    fn a_sealed_session_opens_again(sub in ".{0,20}", email in ".{0,20}", role in ".{0,12}", secure in any::<bool>(), ttl in 1u64..10_000) {
        let cookies = SessionCookies::new(b"property-test-session-secret-0123456789", secure, Duration::from_secs(ttl), Duration::from_secs(900));
        let session = cookies.new_session(&sub, &email, &role, NOW);
        let headers = cookie_header(&cookies.set_cookie(&session));
        prop_assert_eq!(cookies.read(&headers, NOW), Some(session.clone()));
        prop_assert_eq!(cookies.read(&headers, session.exp), None);
        let other = SessionCookies::new(b"another-session-secret-0123456789abcdef", secure, Duration::from_secs(ttl), Duration::from_secs(900));
        prop_assert_eq!(other.read(&headers, NOW), None);
    }

    /// One changed character of the cookie value and it is absent.
    #[test]
    fn a_changed_cookie_is_absent(sub in ".{0,20}", at in any::<prop::sample::Index>(), to in "[A-Za-z0-9+/=_-]") {
        let cookies = SessionCookies::new(b"property-test-session-secret-0123456789", false, Duration::from_secs(600), Duration::from_secs(900));
        let session = cookies.new_session(&sub, "", "viewer", NOW);
        let set = cookies.set_cookie(&session);
        let pair = set.split(';').next().unwrap_or("").to_owned();
        let value_start = pair.find('=').unwrap() + 1;
        let at = value_start + at.index(pair.len() - value_start);
        let mut changed = pair.clone();
        changed.replace_range(at..at + 1, &to);
        prop_assume!(changed != pair);
        prop_assert_eq!(cookies.read(&cookie_header(&changed), NOW), None);
    }

    /// Arbitrary `Cookie` headers never panic and never open a session.
    #[test]
    fn junk_cookies_are_absent(values in proptest::collection::vec(bytes(200), 0..4), value in ".{0,300}") {
        let cookies = SessionCookies::new(b"property-test-session-secret-0123456789", false, Duration::from_secs(600), Duration::from_secs(900));
        let mut headers = http::HeaderMap::new();
        for v in values.iter().map(Vec::as_slice).chain([format!("mcp_session={value}").as_bytes()]) {
            if let Ok(v) = http::HeaderValue::from_bytes(v) {
                headers.append(http::header::COOKIE, v);
            }
        }
        prop_assert_eq!(cookies.read(&headers, NOW), None);
    }
}

// ---------------------------------------------------------------------------------------------
// The roles file

proptest! {
    /// A roles file made of valid roles parses, and a user gets the first role (in file order)
    /// one of their groups grants, group names compared without ASCII case.
    #[test]
    fn the_first_granting_role_wins(
        // A small alphabet, so that users often share groups with several roles.
        roles in proptest::collection::btree_map("[a-z0-9_-]{1,10}", proptest::collection::vec(" ?[a-cA-C]{1,2} ?", 0..4), 0..6),
        groups in proptest::collection::vec("[a-cA-C]{1,2}", 0..5),
    ) {
        // BTreeMap order is the file order.
        let text: String = roles.iter().map(|(name, granting)| {
            format!("[[roles]]\nname = {}\ngroups = {}\n", toml_string(name), toml_list(granting))
        }).collect();
        let map = RoleMap::from_toml_str(&text, "roles.toml").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = roles.iter().find(|(_, granting)| {
            granting.iter().any(|g| groups.iter().any(|u| u.eq_ignore_ascii_case(g.trim())))
        }).map(|(name, _)| name.as_str());
        prop_assert_eq!(map.role_for(&groups), expected);
    }

    /// Arbitrary text never panics; what parses names only valid roles.
    #[test]
    fn any_roles_text_is_parsed_or_refused(text in prop_oneof![".{0,200}", roles_like_toml()]) {
        if let Ok(map) = RoleMap::from_toml_str(&text, "roles.toml") {
            for (role, _) in map.granting_groups() {
                prop_assert!(!role.is_empty() && role.len() <= 64);
                prop_assert!(role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
            }
        }
    }
}

fn toml_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// Text shaped like a roles file, with junk in the places that are checked.
fn roles_like_toml() -> impl Strategy<Value = String> {
    let name = prop_oneof!["[a-z0-9_-]{0,70}", ".{0,10}"];
    proptest::collection::vec(
        (
            name,
            proptest::collection::vec(".{0,8}", 0..3),
            any::<bool>(),
        ),
        0..4,
    )
    .prop_map(|entries| {
        let by_name: BTreeMap<usize, String> = entries
            .iter()
            .enumerate()
            .map(|(i, (name, groups, extra))| {
                let extra = if *extra { "color = \"red\"\n" } else { "" };
                (
                    i,
                    format!(
                        "[[roles]]\nname = {}\ngroups = {}\n{extra}",
                        toml_string(name),
                        toml_list(groups)
                    ),
                )
            })
            .collect();
        by_name.into_values().collect()
    })
}
