//! The write tools' shape: names, annotations, arguments, and what a failed write says.

use super::*;
use crate::tools::okta_tool_router;

#[test]
fn write_tools_say_what_they_do_in_their_annotations() {
    let router = okta_tool_router();
    // (tool, destructive): every write is idempotent (the same call again changes nothing
    // more, or Okta refuses it) and talks to Okta (open world).
    let expected = [
        ("suspend_okta_user", true),
        ("unsuspend_okta_user", false),
        ("clear_okta_user_sessions", true),
        ("reset_okta_user_factor", true),
        ("add_okta_user_to_group", false),
        ("remove_okta_user_from_group", true),
        ("expire_okta_user_password", true),
    ];
    assert_eq!(expected.len(), WRITE_TOOL_NAMES.len());
    for (name, destructive) in expected {
        assert!(WRITE_TOOL_NAMES.contains(&name), "{name}");
        let tool = router
            .list_all()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} is not routed"));
        let a = tool.annotations.clone().expect("annotations");
        assert_eq!(a.read_only_hint, Some(false), "{name}");
        assert_eq!(a.destructive_hint, Some(destructive), "{name}");
        assert_eq!(a.idempotent_hint, Some(true), "{name}");
        assert_eq!(a.open_world_hint, Some(true), "{name}");
        let schema = serde_json::Value::Object((*tool.input_schema).clone());
        assert!(
            schema["properties"]["confirmation"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("token")),
            "{name}: {schema}"
        );
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(required.contains(&"user_id"), "{name}: {schema}");
        assert!(!required.contains(&"confirmation"), "{name}: {schema}");
        let description = tool.description.as_deref().unwrap_or("");
        assert!(description.contains("confirm"), "{name}: {description}");
    }
}

#[test]
fn ids_are_checked_before_anything_is_sent() {
    let long = "a".repeat(MAX_ID_CHARS + 1);
    for bad in [
        None,
        Some(String::new()),
        Some("   ".into()),
        Some("..".into()),
        Some(".".into()),
        Some("00u\n1".into()),
        Some("a\u{0}b".into()),
        Some(long),
    ] {
        let Err(ToolFailure::InvalidArgument(message)) = user_id_arg(&bad) else {
            panic!("{bad:?} was accepted");
        };
        assert!(message.starts_with("user_id"), "{message}");
    }
    // Logins with non-ASCII letters and ids of the longest allowed length are fine; `/` and
    // `..` inside an id are encoded into one path segment later (okta::path).
    for good in [
        "zoë.müller@example.com",
        "00u1a2b3c4D5e6F7g8h9",
        "a/../b",
        &"a".repeat(MAX_ID_CHARS),
    ] {
        assert_eq!(user_id_arg(&Some(good.to_string())).ok(), Some(good));
    }
    assert!(group_id_arg(&Some("..".into())).is_err());
    assert!(factor_id_arg(&None).is_err());
}

#[test]
fn a_write_that_may_have_happened_says_so_and_a_refusal_does_not() {
    let server_error = OktaError::from_response(500, b"{}");
    let failure = write_failed(server_error, "check the user's status with get_okta_user");
    let result = failure.into_result();
    assert_eq!(result.is_error, Some(true));
    let text = &result.content[0].as_text().unwrap().text;
    assert!(text.contains("may have made the change"), "{text}");
    assert!(text.contains("get_okta_user"), "{text}");
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["error"], "outcome_unknown");
    assert_eq!(structured["status"], 500);
    assert_eq!(structured["changeMayHaveBeenMade"], true);

    let timeout = write_failed(
        OktaError::Timeout {
            after: Duration::from_secs(30),
        },
        "look",
    );
    assert!(matches!(
        timeout,
        ToolFailure::Okta(OktaError::Uncertain { .. })
    ));

    let refused = OktaError::from_response(
        400,
        br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: suspendUser",
            "errorCauses":[{"errorSummary":"Cannot suspend a user that is not active"}]}"#,
    );
    let result = write_failed(refused, "look").into_result();
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["errorCode"], "E0000001");
    assert!(structured.get("changeMayHaveBeenMade").is_none());
}

#[test]
fn the_first_call_without_elicitation_does_nothing_and_says_how_to_confirm() {
    let plan = WritePlan {
        tool: "suspend_okta_user",
        target: "00u1".into(),
        arguments: json!({"user_id": "alice@example.com"}),
        question: "Suspend alice@example.com (00u1, ACTIVE)?".into(),
        details: json!({"action": "suspend"}),
    };
    let result = needs_confirmation(&plan, "okc1.1.2.3".into());
    assert_eq!(result.is_error, Some(false));
    let text = &result.content[0].as_text().unwrap().text;
    assert!(text.starts_with("Nothing was done yet."), "{text}");
    assert!(text.contains("confirmation=\"okc1.1.2.3\""), "{text}");
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["done"], false);
    assert_eq!(structured["confirmation"], "okc1.1.2.3");
    assert_eq!(structured["expires_in_seconds"], 120);
}
