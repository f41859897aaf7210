//! The consent page and the Okta login in a real headless browser: a person approves, denies,
//! meets a forged or copied form, a client name full of markup, a user without a role, and a
//! browser with JavaScript off.
//!
//! Real processes: fake-okta (with its OIDC half), okta-mcp-tool-server, okta-mcp-proxy, and
//! `node tests/clients/browser-consent.mjs` driving Debian's Chromium with `playwright-core`.

use std::path::Path;

use okta_mcp_tests::harness::{Stack, node_client};
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";
const EVIL_NAME: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";
const GRANTING_GROUPS: [&str; 3] = ["sso-help-desk", "sso-security-admins", "sso-super-admins"];

/// Runs one scenario of the browser script against `stack`; its report must carry no error.
async fn browse(stack: &Stack, scenario: &str) -> Value {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: these tests drive a real browser; install it with \
         `apt-get install -y chromium` (.ci/run does)"
    );
    let report = node_client("browser-consent.mjs", &[&stack.proxy.public_url, scenario]).await;
    assert!(report.get("error").is_none(), "{scenario}: {report}");
    report
}

fn text<'a>(report: &'a Value, pointer: &str) -> &'a str {
    report
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {report}"))
}

/// The consent page as every scenario first sees it.
fn assert_consent_page(report: &Value, client_name: &str) {
    let consent = &report["consent"];
    assert_eq!(consent["status"], 200, "{report}");
    assert_eq!(consent["clientName"], client_name, "{report}");
    assert!(
        text(report, "/consent/text").contains(client_name),
        "{report}"
    );
    assert_eq!(consent["buttons"], serde_json::json!(["Approve", "Deny"]));
    assert!(
        text(report, "/consent/csp").contains("frame-ancestors 'none'"),
        "{report}"
    );
    assert_eq!(consent["frameOptions"], "DENY", "{report}");
}

/// Where the browser went after Approve: the fake Okta org's login page, offering the demo users.
fn assert_okta_login_page(stack: &Stack, report: &Value) {
    let okta_authorize = format!("{}/oauth2/v1/authorize?", stack.okta.url);
    assert!(
        text(report, "/afterApprove/url").starts_with(&okta_authorize),
        "{report}"
    );
    assert_eq!(report["afterApprove"]["status"], 200);
    assert_eq!(report["okta"]["title"], "fake-okta: sign in");
    assert_eq!(
        report["okta"]["users"],
        serde_json::json!([
            "alice@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com"
        ])
    );
}

/// Approve → Okta → alice → back at the app with a code that buys a working access token.
fn assert_approved(stack: &Stack, report: &Value) {
    assert_consent_page(report, "Browser Test Client");
    assert_okta_login_page(stack, report);
    let back = &report["okta"]["after"];
    assert!(text(back, "/url").contains("/cb?"), "{report}");
    assert_eq!(back["status"], 200, "the app's page loaded: {report}");
    let redirect = &back["redirect"];
    assert!(
        redirect["code"].as_str().is_some_and(|c| c.len() >= 20),
        "{report}"
    );
    assert_eq!(redirect["state"], report["state"], "{report}");
    assert_eq!(redirect["iss"], stack.proxy.public_url.as_str());
    assert!(redirect.get("error").is_none(), "{report}");
    assert_eq!(report["arrivals"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["token"]["status"], 200, "{report}");
    assert_eq!(report["token"]["tokenType"], "Bearer");
    assert_eq!(report["token"]["hasAccessToken"], true);
    assert_eq!(report["initialize"]["status"], 200, "{report}");
    assert_eq!(report["initialize"]["serverName"], "okta-mcp-tool-server");
    assert_eq!(report["dialogs"], serde_json::json!([]));
}

#[tokio::test]
async fn approving_and_signing_in_as_alice_returns_a_code_that_opens_mcp() {
    let stack = Stack::start(&[]).await;
    let report = browse(&stack, "approve").await;
    assert_approved(&stack, &report);
}

#[tokio::test]
async fn the_forms_work_with_javascript_disabled() {
    let stack = Stack::start(&[]).await;
    let report = browse(&stack, "nojs").await;
    assert_eq!(
        report["scriptsRan"], false,
        "JavaScript really was off: {report}"
    );
    assert_approved(&stack, &report);
}

#[tokio::test]
async fn denying_returns_access_denied_with_state_and_iss_and_never_visits_okta() {
    let stack = Stack::start(&[]).await;
    let report = browse(&stack, "deny").await;
    assert_consent_page(&report, "Browser Test Client");
    let redirect = &report["afterDeny"]["redirect"];
    assert_eq!(redirect["error"], "access_denied", "{report}");
    assert_eq!(redirect["state"], report["state"], "{report}");
    assert_eq!(redirect["iss"], stack.proxy.public_url.as_str());
    assert!(redirect.get("code").is_none(), "{report}");
    let origins = report["origins"].as_array().expect("origins");
    assert!(
        !origins.iter().any(|o| o == stack.okta.url.as_str()),
        "{report}"
    );
}

#[tokio::test]
async fn a_tampered_or_copied_consent_form_is_refused() {
    let stack = Stack::start(&[]).await;
    let report = browse(&stack, "csrf").await;
    assert_consent_page(&report, "Browser Test Client");
    let okta = stack.okta.url.as_str();
    for (attempt, why) in [
        // another site posts the pair into a browser that never saw the page
        ("copiedWithoutCookie", "did not send back the cookie"),
        // another browser, with its own consent page and cookie, submits this page's pair
        ("copiedWithOtherCookie", "CSRF check failed"),
        // the right browser, with its csrf field edited before Approve
        ("tampered", "CSRF check failed"),
    ] {
        let page = &report[attempt];
        assert_eq!(page["status"], 403, "{attempt}: {report}");
        assert!(
            text(page, "/url").ends_with("/oauth/consent"),
            "{attempt}: {report}"
        );
        assert_eq!(page["title"], "Request not verified", "{attempt}");
        assert!(text(page, "/text").contains(why), "{attempt}: {report}");
        let origins = page["origins"].as_array().expect("origins");
        assert!(
            !origins.iter().any(|o| o == okta),
            "{attempt} reached Okta: {report}"
        );
    }
    assert_eq!(report["otherBrowserHadOwnPair"], true, "{report}");
    assert_eq!(
        report["arrivals"],
        serde_json::json!([]),
        "nothing reached the app"
    );
    // The same browser with the form untouched goes on to Okta: the refusals were the CSRF check.
    assert!(
        text(&report, "/control/url").starts_with(&format!("{okta}/oauth2/v1/authorize?")),
        "{report}"
    );
    assert_eq!(report["control"]["title"], "fake-okta: sign in");
}

#[tokio::test]
async fn a_client_name_with_markup_is_shown_as_text_and_the_page_cannot_be_framed() {
    let stack = Stack::start(&[]).await;
    let report = browse(&stack, "escaping").await;
    assert_eq!(report["evilName"], EVIL_NAME);
    assert_consent_page(&report, EVIL_NAME);
    assert_eq!(report["elements"]["script"], 0, "{report}");
    assert_eq!(report["elements"]["img"], 0, "{report}");
    assert_eq!(report["dialogs"], serde_json::json!([]), "a script ran");
    // Another site's iframe gets Chromium's error page, not the consent form.
    assert_eq!(report["framed"]["consentInFrame"], 0, "{report}");
    assert!(
        !text(&report, "/framed/frameUrl").contains("/authorize"),
        "{report}"
    );
}

#[tokio::test]
async fn dave_without_a_role_sees_the_granting_groups_and_a_link_back_with_access_denied() {
    let stack = Stack::start(&[]).await;
    let report = browse(&stack, "dave").await;
    assert_consent_page(&report, "Browser Test Client");
    assert_okta_login_page(&stack, &report);
    let refused = &report["okta"]["after"];
    assert_eq!(refused["status"], 403, "{report}");
    assert_eq!(refused["title"], "No access");
    assert!(
        text(refused, "/url").starts_with(&format!("{}/oauth/callback?", stack.proxy.public_url)),
        "{report}"
    );
    for group in GRANTING_GROUPS {
        assert!(
            text(refused, "/text").contains(group),
            "the page names {group}: {report}"
        );
    }
    assert!(
        text(&report, "/backHref").contains("error=access_denied"),
        "{report}"
    );
    let redirect = &report["back"]["redirect"];
    assert_eq!(redirect["error"], "access_denied", "{report}");
    assert_eq!(redirect["state"], report["state"]);
    assert_eq!(redirect["iss"], stack.proxy.public_url.as_str());
    assert!(redirect.get("code").is_none(), "{report}");
    assert!(report.get("token").is_none(), "no code, no token: {report}");
}
