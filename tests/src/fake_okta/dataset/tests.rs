use super::*;
use std::collections::HashSet;

fn dataset() -> Dataset {
    Dataset::generate(DEFAULT_SEED)
}

#[test]
fn counts_match_the_documented_facts() {
    let d = dataset();
    assert_eq!(d.users.len(), USER_COUNT);
    assert_eq!(d.groups.len(), GROUP_COUNT);
    assert_eq!(d.apps.len(), APP_COUNT);
    assert_eq!(d.log_events.len(), LOG_EVENT_COUNT);
    let big = d.group_by_name(BIG_GROUP_NAME).expect("big-group");
    assert_eq!(big.id, BIG_GROUP_ID);
    assert_eq!(big.member_ids.len(), BIG_GROUP_SIZE);
    assert_eq!(d.zones.len(), 10);
    assert_eq!(d.zones.iter().filter(|z| z.usage == "BLOCKLIST").count(), 5);
    assert_eq!(
        d.zones
            .iter()
            .filter(|z| z.zone_type == "DYNAMIC_V2")
            .count(),
        2
    );
    assert_eq!(d.policies.len(), 12);
    for policy_type in ["OKTA_SIGN_ON", "PASSWORD", "MFA_ENROLL", "ACCESS_POLICY"] {
        let policies = d.policies_of_type(policy_type);
        assert!(!policies.is_empty(), "{policy_type}");
        assert!(policies.iter().all(|p| !p.rules.is_empty()));
    }
}

#[test]
fn ids_are_unique_and_okta_shaped() {
    let d = dataset();
    let mut seen = HashSet::new();
    let all = d
        .users
        .iter()
        .map(|u| (&u.id, "00u"))
        .chain(d.groups.iter().map(|g| (&g.id, "00g")))
        .chain(d.apps.iter().map(|a| (&a.id, "0oa")))
        .chain(d.policies.iter().map(|p| (&p.id, "00p")))
        .chain(
            d.policies
                .iter()
                .flat_map(|p| p.rules.iter())
                .map(|r| (&r.id, "0pr")),
        )
        .chain(d.zones.iter().map(|z| (&z.id, "nzo")));
    for (id, prefix) in all {
        assert_eq!(id.len(), 20, "{id}");
        assert!(id.starts_with(prefix), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert!(seen.insert(id.clone()), "duplicate {id}");
    }
}

#[test]
fn demo_users_have_exact_groups() {
    let d = dataset();
    let expect = [
        (ALICE_ID, "alice@example.com", Some("sso-help-desk")),
        (BOB_ID, "bob@example.com", Some("sso-security-admins")),
        (CAROL_ID, "carol@example.com", Some("sso-super-admins")),
        (DAVE_ID, "dave@example.com", None),
    ];
    for (id, login, group) in expect {
        let user = d.user(id).expect(login);
        assert_eq!(user.profile.login, login);
        assert_eq!(user.profile.email, login);
        assert_eq!(user.status, UserStatus::Active);
        let names: Vec<&str> = user
            .group_ids
            .iter()
            .filter_map(|g| d.group(g))
            .map(|g| g.name.as_str())
            .collect();
        let mut wanted = vec!["Everyone"];
        wanted.extend(group);
        assert_eq!(names, wanted, "{login}");
        assert_eq!(
            d.user_by_login(&login.to_uppercase()).map(|u| &u.id),
            Some(&user.id)
        );
    }
    for (group_id, member) in [
        (HELP_DESK_GROUP_ID, ALICE_ID),
        (SECURITY_ADMINS_GROUP_ID, BOB_ID),
        (SUPER_ADMINS_GROUP_ID, CAROL_ID),
    ] {
        assert_eq!(
            d.group(group_id).map(|g| g.member_ids.clone()),
            Some(vec![member.to_owned()])
        );
    }
}

#[test]
fn zoe_is_an_active_user_with_a_non_ascii_login() {
    let d = dataset();
    let zoe = d.user_by_login(ZOE_LOGIN).expect("Zoë");
    assert_eq!(zoe.profile.email, ZOE_LOGIN);
    assert_eq!(zoe.profile.first_name, "Zoë");
    assert_eq!(zoe.status, UserStatus::Active);
    let names: Vec<&str> = zoe
        .group_ids
        .iter()
        .filter_map(|g| d.group(g))
        .map(|g| g.name.as_str())
        .collect();
    assert!(names.contains(&"Everyone"), "{names:?}");
    assert_eq!(
        d.users
            .iter()
            .filter(|u| u.profile.login == ZOE_LOGIN)
            .count(),
        1
    );
}

#[test]
fn everyone_contains_every_user_and_logins_are_emails() {
    let d = dataset();
    let everyone = d.group(EVERYONE_GROUP_ID).expect("Everyone");
    assert_eq!(everyone.group_type, GroupType::BuiltIn);
    assert_eq!(everyone.member_ids.len(), d.users.len());
    let mut logins = HashSet::new();
    for user in &d.users {
        assert_eq!(
            user.group_ids.first().map(String::as_str),
            Some(EVERYONE_GROUP_ID)
        );
        assert_eq!(user.profile.login, user.profile.email);
        assert!(
            logins.insert(user.profile.login.to_ascii_lowercase()),
            "{}",
            user.profile.login
        );
    }
    assert!(
        d.users
            .iter()
            .any(|u| u.status == UserStatus::Deprovisioned)
    );
}

#[test]
fn same_seed_same_org_other_seed_other_org() {
    let now = Utc::now();
    let a = Dataset::generate_at(7, now);
    let b = Dataset::generate_at(7, now);
    assert_eq!(a, b);
    let c = Dataset::generate_at(8, now);
    assert_ne!(a.users[10].id, c.users[10].id);
    // The fixed ids do not depend on the seed.
    assert_eq!(c.users[0].id, ALICE_ID);
    assert_eq!(
        c.group_by_name(BIG_GROUP_NAME).map(|g| g.id.as_str()),
        Some(BIG_GROUP_ID)
    );
    // Directory objects do not depend on "now"; only log times do.
    let later = Dataset::generate_at(7, now + chrono::Duration::hours(5));
    assert_eq!(a.users, later.users);
    assert_eq!(a.log_events[0].uuid, later.log_events[0].uuid);
    assert_ne!(a.log_events[0].published, later.log_events[0].published);
}

#[test]
fn log_events_span_the_last_30_days_in_order() {
    let now = Utc::now();
    let d = Dataset::generate_at(DEFAULT_SEED, now);
    let first = d.log_events.first().expect("events").published;
    let last = d.log_events.last().expect("events").published;
    assert!(first >= now - chrono::Duration::days(LOG_SPAN_DAYS));
    assert!(last < now);
    assert!(
        d.log_events
            .windows(2)
            .all(|w| w[0].published <= w[1].published)
    );
    let failures = d
        .log_events
        .iter()
        .filter(|e| e.event_type == "user.session.start" && e.outcome == "FAILURE")
        .count();
    assert!(failures > 50, "{failures}");
}

#[test]
fn app_assignments_include_group_members() {
    let d = dataset();
    let google = d
        .apps
        .iter()
        .position(|a| a.label == "Google Workspace")
        .expect("google");
    assert_eq!(d.app_assignments(google).len(), d.users.len());
    let zoom = d.apps.iter().position(|a| a.label == "Zoom").expect("zoom");
    assert!(d.app_assignments(zoom).len() >= BIG_GROUP_SIZE);
    let zendesk = d
        .apps
        .iter()
        .position(|a| a.label == "Zendesk")
        .expect("zendesk");
    let alice = d
        .users
        .iter()
        .position(|u| u.id == ALICE_ID)
        .expect("alice");
    assert!(
        d.app_assignments(zendesk)
            .contains(&(alice, AssignmentScope::User))
    );
    assert_eq!(d.factors_of(ALICE_ID).len(), 2);
}

#[test]
fn json_shapes_look_like_okta() {
    let d = dataset();
    let base = "http://127.0.0.1:1";
    let user = d.users[0].to_json(base);
    assert_eq!(user["id"], ALICE_ID);
    assert_eq!(user["profile"]["login"], "alice@example.com");
    assert_eq!(
        user["_links"]["self"]["href"],
        format!("{base}/api/v1/users/{ALICE_ID}")
    );
    assert!(
        user["created"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24)
    );
    let group = d.groups[0].to_json(base);
    assert_eq!(group["type"], "BUILT_IN");
    assert_eq!(group["profile"]["name"], "Everyone");
    let event = d.log_events[0].to_json();
    assert!(event["uuid"].is_string() && event["outcome"]["result"].is_string());
    let zone = d
        .zones
        .iter()
        .find(|z| z.usage == "BLOCKLIST")
        .expect("zone")
        .to_json(base);
    assert_eq!(zone["usage"], "BLOCKLIST");
    let app = d.apps[0].to_json(base);
    assert_eq!(app["signOnMode"], "SAML_2_0");
    assert!(app["_links"]["users"]["href"].is_string());
}
