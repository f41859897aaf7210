//! Builds a [`Dataset`] from a seed. Generation order is part of the contract (it decides which
//! random number goes where), so new content goes at the end of a step, never in the middle.

use super::names::{APPS, DEPARTMENTS, FIRST_NAMES, LAST_NAMES, OFFICES, TEAM_WORDS, USER_AGENTS};
use super::*;
use crate::fake_okta::rng::SeededRng;
use chrono::{Duration, TimeZone};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// Directory timestamps (created, lastUpdated, …) all fall before this fixed date.
fn directory_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A time `low..=high` seconds after `from`, with milliseconds, like Okta's timestamps.
fn after(rng: &mut SeededRng, from: DateTime<Utc>, low: i64, high: i64) -> DateTime<Utc> {
    from + Duration::seconds(rng.range(low, high)) + Duration::milliseconds(rng.range(0, 999))
}

/// A time between `from` and `to` (both inclusive; `from` when the range is empty).
fn between(rng: &mut SeededRng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_milliseconds();
    from + Duration::milliseconds(rng.range(0, span.max(0)))
}

struct DemoUser {
    id: &'static str,
    first: &'static str,
    last: &'static str,
    login: &'static str,
    department: &'static str,
    title: &'static str,
}

const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        id: ALICE_ID,
        first: "Alice",
        last: "Anderson",
        login: "alice@example.com",
        department: "Support",
        title: "Help Desk Analyst",
    },
    DemoUser {
        id: BOB_ID,
        first: "Bob",
        last: "Brennan",
        login: "bob@example.com",
        department: "Security",
        title: "Security Engineer",
    },
    DemoUser {
        id: CAROL_ID,
        first: "Carol",
        last: "Castillo",
        login: "carol@example.com",
        department: "IT",
        title: "IT Manager",
    },
    DemoUser {
        id: DAVE_ID,
        first: "Dave",
        last: "Dawson",
        login: "dave@example.com",
        department: "Sales",
        title: "Account Executive",
    },
];

pub(super) fn generate(seed: u64, now: DateTime<Utc>) -> Dataset {
    let mut rng = SeededRng::new(seed);
    let mut ids = IdMint::default();
    let mut users = generate_users(&mut rng, &mut ids);
    name_zoe(&mut users);
    let mut apps = generate_app_shells(&mut rng, &mut ids);
    let mut groups = generate_groups(&mut rng, &mut ids, &users, &apps);
    assign_apps(&mut rng, &mut apps, &users, &groups);
    let position: HashMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.clone(), i))
        .collect();
    let in_user_order = |ids: &mut Vec<String>| {
        ids.sort_by_key(|id| position.get(id).copied().unwrap_or(usize::MAX));
        ids.dedup();
    };
    for group in &mut groups {
        in_user_order(&mut group.member_ids);
    }
    for app in &mut apps {
        in_user_order(&mut app.user_ids);
    }
    for group in &groups {
        for member in &group.member_ids {
            if let Some(&i) = position.get(member) {
                users[i].group_ids.push(group.id.clone());
            }
        }
    }
    let factors = generate_factors(&mut rng, &mut ids, &users);
    let zones = generate_zones(&mut rng, &mut ids);
    let policies = generate_policies(&mut rng, &mut ids, &groups, &zones);
    let log_events = generate_log_events(&mut rng, now, &users, &groups, &apps, &policies);
    // Content added since: a generator of its own, so nothing generated above changes.
    let mut later = SeededRng::new(seed ^ LATER_CONTENT);
    let mut factors = factors;
    add_security_questions(&mut later, &mut ids, &users, &mut factors);
    factors.sort_by_key(|f| position.get(&f.user_id).copied().unwrap_or(usize::MAX));
    let mut zones = zones;
    add_enhanced_dynamic_zones(&mut later, &mut ids, &mut zones);
    Dataset {
        seed,
        generated_at: now,
        users,
        groups,
        apps,
        factors,
        log_events,
        policies,
        zones,
    }
}

/// Mixed into the seed of the generator of content added after the first dataset.
const LATER_CONTENT: u64 = 0x1a7e_c0de_0f00_0001;

/// Security questions (Okta's keys) and the text Okta shows for them.
const SECURITY_QUESTIONS: &[(&str, &str)] = &[
    (
        "disliked_food",
        "What is the food you least liked as a child?",
    ),
    (
        "name_of_first_plush_toy",
        "What is the name of your first stuffed animal?",
    ),
    (
        "first_award",
        "What did you earn your first medal or award for?",
    ),
    (
        "favorite_security_question",
        "What is your favorite security question?",
    ),
    (
        "first_computer_game",
        "What was the first computer game you played?",
    ),
    ("favorite_movie_quote", "What is your favorite movie quote?"),
];

/// A security question (`question` factor) for about one active user in twelve besides the
/// demo users, whose factors stay the documented two.
fn add_security_questions(
    rng: &mut SeededRng,
    ids: &mut IdMint,
    users: &[User],
    factors: &mut Vec<Factor>,
) {
    let epoch = directory_epoch();
    for user in users.iter().skip(DEMO_USERS.len()) {
        if user.status != UserStatus::Active || !rng.percent(8) {
            continue;
        }
        let (question, text) = *rng.pick(SECURITY_QUESTIONS);
        let created = between(rng, user.activated.unwrap_or(user.created), epoch);
        factors.push(Factor {
            id: ids.random(rng, "ufs"),
            user_id: user.id.clone(),
            factor_type: "question".to_owned(),
            provider: "OKTA".to_owned(),
            vendor_name: "OKTA".to_owned(),
            status: "ACTIVE".to_owned(),
            created,
            last_updated: between(rng, created, epoch),
            profile: json!({ "question": question, "questionText": text }),
        });
    }
}

/// Two enhanced dynamic (`DYNAMIC_V2`) zones shaped like Okta's: the org's default blocklist
/// of anonymizers, and a policy zone that includes and excludes locations, ASNs and services.
fn add_enhanced_dynamic_zones(rng: &mut SeededRng, ids: &mut IdMint, zones: &mut Vec<NetworkZone>) {
    let epoch = directory_epoch();
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let specs = [
        (
            "DefaultEnhancedDynamicZone",
            "BLOCKLIST",
            true,
            vec![],
            vec![],
            (vec![], vec![]),
            (strings(&["ALL_ANONYMIZERS"]), vec![]),
        ),
        (
            "North America without proxies",
            "POLICY",
            false,
            vec![("US".to_owned(), None), ("CA".to_owned(), None)],
            vec![("US".to_owned(), Some("US-TX".to_owned()))],
            (strings(&["64496", "64497"]), strings(&["64511"])),
            (
                vec![],
                strings(&["ALL_PROXIES_VPNS", "APPLE_ICLOUD_RELAY_PROXY"]),
            ),
        ),
    ];
    for (name, usage, system, included, excluded, asns, services) in specs {
        let created = after(rng, epoch - Duration::days(700), 0, 86_400 * 300);
        zones.push(NetworkZone {
            id: ids.random(rng, "nzo"),
            name: name.to_owned(),
            zone_type: "DYNAMIC_V2".to_owned(),
            usage: usage.to_owned(),
            status: "ACTIVE".to_owned(),
            system,
            created,
            last_updated: between(rng, created, epoch),
            gateways: vec![],
            proxies: vec![],
            locations: included,
            proxy_type: None,
            asns: asns.0,
            excluded_locations: excluded,
            excluded_asns: asns.1,
            ip_service_categories: services,
        });
    }
}

/// Hands out unique random ids (fixed ids are reserved up front).
#[derive(Default)]
struct IdMint {
    used: HashSet<String>,
}

impl IdMint {
    fn random(&mut self, rng: &mut SeededRng, prefix: &str) -> String {
        loop {
            let id = rng.okta_id(prefix);
            if self.used.insert(id.clone()) {
                return id;
            }
        }
    }

    fn fixed(&mut self, id: &str) -> String {
        self.used.insert(id.to_owned());
        id.to_owned()
    }
}

/// Lower-case ASCII version of a name for an email address.
fn email_part(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'ü' | 'Ü' => 'u',
            'ë' | 'é' | 'É' => 'e',
            other => other.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_lowercase)
        .collect()
}

fn pick_status(rng: &mut SeededRng) -> UserStatus {
    match rng.below(100) {
        0..=84 => UserStatus::Active,
        85..=88 => UserStatus::Provisioned,
        89..=91 => UserStatus::Staged,
        92..=94 => UserStatus::Suspended,
        95..=96 => UserStatus::LockedOut,
        97 => UserStatus::PasswordExpired,
        98 => UserStatus::Recovery,
        _ => UserStatus::Deprovisioned,
    }
}

/// The last active generated user becomes Zoë Müller, whose login and email are not ASCII
/// ([`ZOE_LOGIN`]), so tests can log in as someone Okta really could have. Only names change and
/// no random number is drawn, so the rest of the dataset stays as it was.
fn name_zoe(users: &mut [User]) {
    if let Some(user) = users
        .iter_mut()
        .rev()
        .find(|u| u.status == UserStatus::Active)
    {
        user.profile.first_name = "Zoë".to_owned();
        user.profile.last_name = "Müller".to_owned();
        user.profile.login = ZOE_LOGIN.to_owned();
        user.profile.email = ZOE_LOGIN.to_owned();
        user.profile.second_email = None;
    }
}

fn generate_users(rng: &mut SeededRng, ids: &mut IdMint) -> Vec<User> {
    let epoch = directory_epoch();
    let mut logins: HashSet<String> = HashSet::new();
    let mut users = Vec::with_capacity(USER_COUNT);
    for demo in DEMO_USERS {
        let created = after(rng, epoch - Duration::days(900), 0, 86_400 * 30);
        let activated = after(rng, created, 60, 3_600);
        let last_updated = between(rng, activated, epoch - Duration::days(20));
        let office = OFFICES[0];
        logins.insert(demo.login.to_owned());
        users.push(User {
            id: ids.fixed(demo.id),
            status: UserStatus::Active,
            created,
            activated: Some(activated),
            status_changed: Some(activated),
            last_login: Some(between(rng, epoch - Duration::days(10), epoch)),
            last_updated,
            password_changed: Some(between(rng, activated, last_updated)),
            profile: UserProfile {
                first_name: demo.first.to_owned(),
                last_name: demo.last.to_owned(),
                email: demo.login.to_owned(),
                login: demo.login.to_owned(),
                second_email: None,
                mobile_phone: Some(format!("+1-555-010-{:04}", users.len() + 1)),
                department: demo.department.to_owned(),
                title: demo.title.to_owned(),
                city: office.0.to_owned(),
                state: office.1.to_owned(),
                country_code: office.2.to_owned(),
                employee_number: format!("E{:05}", users.len() + 1),
                user_type: "Employee".to_owned(),
                manager_id: None,
            },
            group_ids: Vec::new(),
        });
    }
    while users.len() < USER_COUNT {
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
        let base = format!("{}.{}", email_part(first), email_part(last));
        let mut login = format!("{base}@example.com");
        let mut n = 2;
        while logins.contains(&login) {
            login = format!("{base}{n}@example.com");
            n += 1;
        }
        logins.insert(login.clone());
        let (department, titles) = *rng.pick(DEPARTMENTS);
        let title = *rng.pick(titles);
        let office = *rng.pick(OFFICES);
        let status = pick_status(rng);
        let created = after(rng, epoch - Duration::days(1200), 0, 86_400 * 1180);
        let activated = match status {
            UserStatus::Staged | UserStatus::Provisioned => None,
            _ => Some(after(rng, created, 60, 86_400 * 2)),
        };
        let start = activated.unwrap_or(created);
        let status_changed = match status {
            UserStatus::Staged => None,
            UserStatus::Active | UserStatus::Provisioned => Some(start),
            _ => Some(between(rng, start, epoch)),
        };
        let last_updated = between(rng, status_changed.unwrap_or(created), epoch);
        let last_login = match status {
            UserStatus::Staged | UserStatus::Provisioned => None,
            _ => Some(between(rng, start.max(epoch - Duration::days(90)), epoch)),
        };
        let password_changed = activated.map(|a| between(rng, a, last_updated));
        let index = users.len() + 1;
        let manager_id = if index > 10 && rng.percent(70) {
            Some(users[4 + rng.index(users.len() - 4)].id.clone())
        } else {
            None
        };
        users.push(User {
            id: ids.random(rng, "00u"),
            status,
            created,
            activated,
            status_changed,
            last_login,
            last_updated,
            password_changed,
            profile: UserProfile {
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                email: login.clone(),
                login,
                second_email: rng
                    .percent(20)
                    .then(|| format!("{base}@personal.example.org")),
                mobile_phone: rng
                    .percent(80)
                    .then(|| format!("+1-555-{:03}-{:04}", rng.below(1000), rng.below(10_000))),
                department: department.to_owned(),
                title: title.to_owned(),
                city: office.0.to_owned(),
                state: office.1.to_owned(),
                country_code: office.2.to_owned(),
                employee_number: format!("E{index:05}"),
                user_type: if rng.percent(85) {
                    "Employee"
                } else {
                    "Contractor"
                }
                .to_owned(),
                manager_id,
            },
            group_ids: Vec::new(),
        });
    }
    users
}

fn generate_app_shells(rng: &mut SeededRng, ids: &mut IdMint) -> Vec<App> {
    let epoch = directory_epoch();
    const INACTIVE: &[&str] = &["Lucidchart", "Vendor Portal", "Legacy CRM"];
    APPS.iter()
        .take(APP_COUNT)
        .map(|(name, label, mode)| {
            let created = after(rng, epoch - Duration::days(1500), 0, 86_400 * 1000);
            App {
                id: ids.random(rng, "0oa"),
                name: (*name).to_owned(),
                label: (*label).to_owned(),
                status: if INACTIVE.contains(label) {
                    "INACTIVE"
                } else {
                    "ACTIVE"
                }
                .to_owned(),
                sign_on_mode: (*mode).to_owned(),
                created,
                last_updated: between(rng, created, epoch),
                user_ids: Vec::new(),
                group_ids: Vec::new(),
            }
        })
        .collect()
}

fn new_group(
    rng: &mut SeededRng,
    ids: &mut IdMint,
    fixed_id: Option<&str>,
    group_type: GroupType,
    name: &str,
    description: &str,
) -> Group {
    let epoch = directory_epoch();
    let id = match fixed_id {
        Some(id) => ids.fixed(id),
        None => ids.random(rng, "00g"),
    };
    let created = after(rng, epoch - Duration::days(1400), 0, 86_400 * 900);
    let last_updated = between(rng, created, epoch);
    Group {
        id,
        group_type,
        name: name.to_owned(),
        description: description.to_owned(),
        created,
        last_updated,
        last_membership_updated: between(rng, last_updated, epoch),
        member_ids: Vec::new(),
        source_app_id: None,
    }
}

fn generate_groups(
    rng: &mut SeededRng,
    ids: &mut IdMint,
    users: &[User],
    apps: &[App],
) -> Vec<Group> {
    let demo_count = DEMO_USERS.len();
    let regular: Vec<usize> = (demo_count..users.len()).collect();
    let mut groups = Vec::with_capacity(GROUP_COUNT);

    let mut everyone = new_group(
        rng,
        ids,
        Some(EVERYONE_GROUP_ID),
        GroupType::BuiltIn,
        "Everyone",
        "All users in your organization",
    );
    everyone.member_ids = users.iter().map(|u| u.id.clone()).collect();
    groups.push(everyone);

    let role_groups = [
        (
            HELP_DESK_GROUP_ID,
            "sso-help-desk",
            "Help desk staff: read-only Okta administration",
            ALICE_ID,
        ),
        (
            SECURITY_ADMINS_GROUP_ID,
            "sso-security-admins",
            "Security team: Okta security administration",
            BOB_ID,
        ),
        (
            SUPER_ADMINS_GROUP_ID,
            "sso-super-admins",
            "Identity team: full Okta administration",
            CAROL_ID,
        ),
    ];
    for (id, name, description, member) in role_groups {
        let mut group = new_group(rng, ids, Some(id), GroupType::OktaGroup, name, description);
        group.member_ids = vec![member.to_owned()];
        groups.push(group);
    }

    let mut big = new_group(
        rng,
        ids,
        Some(BIG_GROUP_ID),
        GroupType::OktaGroup,
        BIG_GROUP_NAME,
        "Large group for pagination tests",
    );
    big.member_ids = rng
        .sample_indexes(regular.len(), BIG_GROUP_SIZE)
        .into_iter()
        .map(|i| users[regular[i]].id.clone())
        .collect();
    groups.push(big);

    for (department, _) in DEPARTMENTS {
        let mut group = new_group(
            rng,
            ids,
            None,
            GroupType::OktaGroup,
            department,
            &format!("Everyone in the {department} department"),
        );
        group.member_ids = regular
            .iter()
            .filter(|&&i| users[i].profile.department == *department)
            .map(|&i| users[i].id.clone())
            .collect();
        groups.push(group);
    }

    for (city, _, _) in OFFICES {
        let mut group = new_group(
            rng,
            ids,
            None,
            GroupType::OktaGroup,
            &format!("Office - {city}"),
            &format!("People based in {city}"),
        );
        group.member_ids = regular
            .iter()
            .filter(|&&i| users[i].profile.city == *city)
            .map(|&i| users[i].id.clone())
            .collect();
        groups.push(group);
    }

    for (name, description, size) in [
        ("sso-app-owners", "Owners of SSO app integrations", 12),
        ("sso-auditors", "External auditors (no members yet)", 0),
    ] {
        let mut group = new_group(rng, ids, None, GroupType::OktaGroup, name, description);
        group.member_ids = rng
            .sample_indexes(regular.len(), size)
            .into_iter()
            .map(|i| users[regular[i]].id.clone())
            .collect();
        groups.push(group);
    }

    let app_groups = [
        (
            "AD - Domain Users",
            "Imported from Active Directory",
            "Workday",
        ),
        (
            "AD - VPN Users",
            "Imported from Active Directory",
            "Workday",
        ),
        (
            "AD - Finance Share",
            "Imported from Active Directory",
            "Workday",
        ),
        ("Workday - Managers", "Imported from Workday", "Workday"),
        (
            "Salesforce - Sales Users",
            "Imported from Salesforce",
            "Salesforce.com",
        ),
    ];
    for (name, description, source_label) in app_groups {
        let mut group = new_group(rng, ids, None, GroupType::AppGroup, name, description);
        group.source_app_id = apps
            .iter()
            .find(|a| a.label == source_label)
            .map(|a| a.id.clone());
        let size = rng.index(200) + 20;
        group.member_ids = rng
            .sample_indexes(regular.len(), size)
            .into_iter()
            .map(|i| users[regular[i]].id.clone())
            .collect();
        groups.push(group);
    }

    let mut names: HashSet<String> = groups.iter().map(|g| g.name.clone()).collect();
    while groups.len() < GROUP_COUNT {
        let (department, _) = *rng.pick(DEPARTMENTS);
        let word = *rng.pick(TEAM_WORDS);
        let slug = department.to_ascii_lowercase().replace(' ', "-");
        let name = format!("{slug}-{word}");
        if !names.insert(name.clone()) {
            continue;
        }
        let mut group = new_group(
            rng,
            ids,
            None,
            GroupType::OktaGroup,
            &name,
            &format!("{department} team {word}"),
        );
        let size = rng.index(58) + 3;
        group.member_ids = rng
            .sample_indexes(regular.len(), size)
            .into_iter()
            .map(|i| users[regular[i]].id.clone())
            .collect();
        groups.push(group);
    }
    groups
}

fn assign_apps(rng: &mut SeededRng, apps: &mut [App], users: &[User], groups: &[Group]) {
    let demo_count = DEMO_USERS.len();
    let group_id = |name: &str| {
        groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.id.clone())
            .unwrap_or_default()
    };
    // Groups that random assignment may use: not Everyone, not the demo role groups, not big-group.
    let assignable: Vec<usize> = (5..groups.len()).collect();
    for app in apps.iter_mut() {
        match app.label.as_str() {
            "Google Workspace" | "Slack" => app.group_ids.push(EVERYONE_GROUP_ID.to_owned()),
            "Zoom" => app.group_ids.push(BIG_GROUP_ID.to_owned()),
            "okta-mcp" => {
                for id in [
                    HELP_DESK_GROUP_ID,
                    SECURITY_ADMINS_GROUP_ID,
                    SUPER_ADMINS_GROUP_ID,
                ] {
                    app.group_ids.push(id.to_owned());
                }
            }
            _ => {
                let count = rng.index(3) + 1;
                for i in rng.sample_indexes(assignable.len(), count) {
                    app.group_ids.push(groups[assignable[i]].id.clone());
                }
            }
        }
        let direct = rng.index(26);
        app.user_ids = rng
            .sample_indexes(users.len() - demo_count, direct)
            .into_iter()
            .map(|i| users[demo_count + i].id.clone())
            .collect();
        let sales = group_id("Sales");
        if app.label == "Salesforce.com" && !app.group_ids.contains(&sales) {
            app.group_ids.insert(0, sales);
        }
    }
    let demo_apps: &[(&str, &[&str])] = &[
        (ALICE_ID, &["Zendesk", "ServiceNow"]),
        (BOB_ID, &["AWS Account Federation", "Datadog"]),
        (
            CAROL_ID,
            &["AWS Account Federation", "Okta Org2Org", "Workday"],
        ),
    ];
    for (user_id, labels) in demo_apps {
        for label in *labels {
            if let Some(app) = apps.iter_mut().find(|a| a.label == *label) {
                app.user_ids.insert(0, (*user_id).to_owned());
            }
        }
    }
}

fn generate_factors(rng: &mut SeededRng, ids: &mut IdMint, users: &[User]) -> Vec<Factor> {
    let epoch = directory_epoch();
    let mut factors = Vec::new();
    for (index, user) in users.iter().enumerate() {
        let kinds: Vec<&str> = if index < DEMO_USERS.len() {
            vec!["push", "token:software:totp"]
        } else if user.activated.is_none() {
            Vec::new()
        } else {
            let count = if user.status == UserStatus::Active {
                rng.index(3) + 1
            } else {
                rng.index(2)
            };
            let all = ["push", "token:software:totp", "sms", "email", "webauthn"];
            rng.sample_indexes(all.len(), count)
                .into_iter()
                .map(|i| all[i])
                .collect()
        };
        for kind in kinds {
            let created = between(rng, user.activated.unwrap_or(user.created), epoch);
            let email = &user.profile.email;
            let (prefix, provider, vendor, profile) = match kind {
                "push" => (
                    "opf",
                    "OKTA",
                    "OKTA",
                    json!({
                        "credentialId": email,
                        "deviceType": "SmartPhone_IPhone",
                        "keys": [{"kty": "EC", "use": "sig", "kid": "default", "crv": "P-256",
                                  "x": "ZcXTMmWtMI7pjIbpCXi6XfVA3RS6S1q5M3j8p1oTU0c",
                                  "y": "3t3cpYh3c5vPH1b6S0kO0v6n7MvPqo9AqLWeY5RgFnk"}],
                        "name": format!("{}'s iPhone", user.profile.first_name),
                        "platform": "IOS",
                        "version": "17.4"
                    }),
                ),
                "token:software:totp" => (
                    "ost",
                    if rng.percent(50) { "GOOGLE" } else { "OKTA" },
                    "OKTA",
                    json!({ "credentialId": email }),
                ),
                "sms" => (
                    "mbl",
                    "OKTA",
                    "OKTA",
                    // E.164, as Okta's spec has factor phone numbers.
                    json!({ "phoneNumber": user.profile.mobile_phone.as_deref().unwrap_or("+15550000000").replace('-', "") }),
                ),
                "email" => ("emf", "OKTA", "OKTA", json!({ "email": email })),
                _ => (
                    "fwf",
                    "FIDO",
                    "FIDO",
                    json!({ "credentialId": rng.okta_id("cred"), "authenticatorName": "Touch ID" }),
                ),
            };
            factors.push(Factor {
                id: ids.random(rng, prefix),
                user_id: user.id.clone(),
                factor_type: kind.to_owned(),
                provider: provider.to_owned(),
                vendor_name: vendor.to_owned(),
                status: "ACTIVE".to_owned(),
                created,
                last_updated: between(rng, created, epoch),
                profile,
            });
        }
    }
    factors
}

/// (name, type, usage, status, system, gateways, proxies) of a zone.
type ZoneSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    Vec<(String, String)>,
    Vec<(String, String)>,
);

fn generate_zones(rng: &mut SeededRng, ids: &mut IdMint) -> Vec<NetworkZone> {
    let epoch = directory_epoch();
    let pair = |kind: &str, value: &str| (kind.to_owned(), value.to_owned());
    let specs: Vec<ZoneSpec> = vec![
        (
            "LegacyIpZone",
            "IP",
            "POLICY",
            "ACTIVE",
            true,
            vec![],
            vec![],
        ),
        (
            "BlockedIpZone",
            "IP",
            "BLOCKLIST",
            "ACTIVE",
            true,
            vec![],
            vec![],
        ),
        (
            "Corporate HQ",
            "IP",
            "POLICY",
            "ACTIVE",
            false,
            vec![
                pair("CIDR", "203.0.113.0/24"),
                pair("RANGE", "198.51.100.10-198.51.100.20"),
            ],
            vec![],
        ),
        (
            "VPN Egress",
            "IP",
            "POLICY",
            "ACTIVE",
            false,
            vec![pair("CIDR", "192.0.2.0/27")],
            vec![pair("CIDR", "192.0.2.32/28")],
        ),
        (
            "Known Bad IPs",
            "IP",
            "BLOCKLIST",
            "ACTIVE",
            false,
            vec![
                pair("CIDR", "198.18.0.0/15"),
                pair("RANGE", "100.64.10.1-100.64.10.254"),
            ],
            vec![],
        ),
        (
            "Blocked Countries",
            "DYNAMIC",
            "BLOCKLIST",
            "ACTIVE",
            false,
            vec![],
            vec![],
        ),
        (
            "Anonymizers",
            "DYNAMIC",
            "BLOCKLIST",
            "ACTIVE",
            false,
            vec![],
            vec![],
        ),
        (
            "Partner Network",
            "IP",
            "POLICY",
            "INACTIVE",
            false,
            vec![pair("CIDR", "192.0.2.128/25")],
            vec![],
        ),
    ];
    specs
        .into_iter()
        .map(
            |(name, zone_type, usage, status, system, gateways, proxies)| {
                let created = after(rng, epoch - Duration::days(1000), 0, 86_400 * 600);
                let (locations, proxy_type, asns) = match name {
                    "Blocked Countries" => (
                        vec![
                            ("KP".to_owned(), None),
                            ("IR".to_owned(), None),
                            ("RU".to_owned(), Some("RU-MOW".to_owned())),
                        ],
                        None,
                        vec![],
                    ),
                    "Anonymizers" => (vec![], Some("Tor".to_owned()), vec!["64496".to_owned()]),
                    _ => (vec![], None, vec![]),
                };
                NetworkZone {
                    id: ids.random(rng, "nzo"),
                    name: name.to_owned(),
                    zone_type: zone_type.to_owned(),
                    usage: usage.to_owned(),
                    status: status.to_owned(),
                    system,
                    created,
                    last_updated: between(rng, created, epoch),
                    gateways,
                    proxies,
                    locations,
                    proxy_type,
                    asns,
                    excluded_locations: vec![],
                    excluded_asns: vec![],
                    ip_service_categories: (vec![], vec![]),
                }
            },
        )
        .collect()
}

struct RuleSpec {
    name: &'static str,
    system: bool,
    status: &'static str,
    conditions: Value,
    actions: Value,
}

fn generate_policies(
    rng: &mut SeededRng,
    ids: &mut IdMint,
    groups: &[Group],
    zones: &[NetworkZone],
) -> Vec<Policy> {
    let epoch = directory_epoch();
    let zone = |name: &str| {
        zones
            .iter()
            .find(|z| z.name == name)
            .map(|z| z.id.clone())
            .unwrap_or_default()
    };
    let group = |name: &str| {
        groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.id.clone())
            .unwrap_or_default()
    };
    let hq = zone("Corporate HQ");
    let blocked = zone("Known Bad IPs");
    let admins = vec![
        group("sso-help-desk"),
        group("sso-security-admins"),
        group("sso-super-admins"),
    ];
    let contractors = group("Operations");
    let people_all =
        json!({"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}});
    let sign_on_action = |access: &str, mfa: bool| {
        let mut action = json!({"signon": {
            "access": access,
            "requireFactor": mfa,
            "rememberDeviceByDefault": false,
            "primaryFactor": "PASSWORD_IDP_ANY_FACTOR",
            "session": {"usePersistentCookie": false, "maxSessionIdleMinutes": 120, "maxSessionLifetimeMinutes": 0}
        }});
        // Okta's spec: the factor prompt and lifetime only when a factor is required.
        if mfa {
            action["signon"]["factorPromptMode"] = json!("ALWAYS");
            action["signon"]["factorLifetime"] = json!(15);
        }
        action
    };
    let app_sign_on = |access: &str, factor_mode: &str| {
        json!({"appSignOn": {
            "access": access,
            "verificationMethod": {"factorMode": factor_mode, "type": "ASSURANCE", "reauthenticateIn": "PT2H",
                                   "constraints": [{"knowledge": {"types": ["PASSWORD"]}}]}
        }})
    };

    type PolicySpec = (
        &'static str,
        &'static str,
        &'static str,
        bool,
        &'static str,
        Value,
        Value,
        Vec<RuleSpec>,
    );
    let specs: Vec<PolicySpec> = vec![
        (
            "OKTA_SIGN_ON",
            "Admins sign-on",
            "Stricter sign-on for Okta administrators",
            false,
            "ACTIVE",
            json!({"people": {"groups": {"include": admins}}}),
            Value::Null,
            vec![
                RuleSpec {
                    name: "Deny from blocklisted networks",
                    system: false,
                    status: "ACTIVE",
                    conditions: json!({"people": {"users": {"exclude": []}}, "network": {"connection": "ZONE", "include": [blocked]}}),
                    actions: sign_on_action("DENY", false),
                },
                RuleSpec {
                    name: "MFA every time",
                    system: false,
                    status: "ACTIVE",
                    conditions: people_all.clone(),
                    actions: sign_on_action("ALLOW", true),
                },
            ],
        ),
        (
            "OKTA_SIGN_ON",
            "Contractors sign-on",
            "Contractors must use MFA off the corporate network",
            false,
            "ACTIVE",
            json!({"people": {"groups": {"include": [contractors]}}}),
            Value::Null,
            vec![RuleSpec {
                name: "MFA off network",
                system: false,
                status: "ACTIVE",
                conditions: json!({"people": {"users": {"exclude": []}}, "network": {"connection": "ZONE", "exclude": [hq]}}),
                actions: sign_on_action("ALLOW", true),
            }],
        ),
        (
            "OKTA_SIGN_ON",
            "Default Policy",
            "The default policy applies in all situations if no other policy applies.",
            true,
            "ACTIVE",
            json!({"people": {"groups": {"include": [EVERYONE_GROUP_ID]}}}),
            Value::Null,
            vec![RuleSpec {
                name: "Default Rule",
                system: true,
                status: "ACTIVE",
                conditions: people_all.clone(),
                actions: sign_on_action("ALLOW", false),
            }],
        ),
        (
            "PASSWORD",
            "Contractor password policy",
            "Shorter password lifetime for contractors",
            false,
            "ACTIVE",
            json!({"people": {"groups": {"include": [contractors]}}, "authProvider": {"provider": "OKTA"}}),
            json!({"password": {"complexity": {"minLength": 14, "minLowerCase": 1, "minUpperCase": 1, "minNumber": 1,
                                               "minSymbol": 1, "excludeUsername": true},
                                "age": {"maxAgeDays": 60, "expireWarnDays": 7, "minAgeMinutes": 60, "historyCount": 10},
                                "lockout": {"maxAttempts": 5, "autoUnlockMinutes": 30, "showLockoutFailures": true}},
                   "recovery": {"factors": {"okta_email": {"status": "ACTIVE"}}}}),
            vec![RuleSpec {
                name: "Allow self-service reset",
                system: false,
                status: "ACTIVE",
                conditions: people_all.clone(),
                actions: json!({"passwordChange": {"access": "ALLOW"},
                                "selfServicePasswordReset": {"access": "ALLOW"},
                                "selfServiceUnlock": {"access": "DENY"}}),
            }],
        ),
        (
            "PASSWORD",
            "Default Policy",
            "The default policy applies in all situations if no other policy applies.",
            true,
            "ACTIVE",
            json!({"people": {"groups": {"include": [EVERYONE_GROUP_ID]}}, "authProvider": {"provider": "OKTA"}}),
            json!({"password": {"complexity": {"minLength": 8, "minLowerCase": 1, "minUpperCase": 1, "minNumber": 1,
                                               "minSymbol": 0, "excludeUsername": true},
                                "age": {"maxAgeDays": 0, "expireWarnDays": 0, "minAgeMinutes": 0, "historyCount": 4},
                                "lockout": {"maxAttempts": 10, "autoUnlockMinutes": 0, "showLockoutFailures": false}},
                   "recovery": {"factors": {"okta_email": {"status": "ACTIVE"}}}}),
            vec![RuleSpec {
                name: "Default Rule",
                system: true,
                status: "ACTIVE",
                conditions: people_all.clone(),
                actions: json!({"passwordChange": {"access": "ALLOW"},
                                "selfServicePasswordReset": {"access": "ALLOW"},
                                "selfServiceUnlock": {"access": "ALLOW"}}),
            }],
        ),
        (
            "MFA_ENROLL",
            "Require Okta Verify",
            "Everyone enrolls Okta Verify",
            false,
            "ACTIVE",
            json!({"people": {"groups": {"include": [EVERYONE_GROUP_ID]}}}),
            json!({"type": "AUTHENTICATORS", "authenticators": [{"key": "okta_verify", "enroll": {"self": "REQUIRED"}},
                                                                {"key": "okta_email", "enroll": {"self": "OPTIONAL"}}]}),
            vec![RuleSpec {
                name: "Enroll at first sign-in",
                system: false,
                status: "ACTIVE",
                conditions: people_all.clone(),
                actions: json!({"enroll": {"self": "LOGIN"}}),
            }],
        ),
        (
            "MFA_ENROLL",
            "Default Policy",
            "The default policy applies in all situations if no other policy applies.",
            true,
            "ACTIVE",
            json!({"people": {"groups": {"include": [EVERYONE_GROUP_ID]}}}),
            json!({"type": "AUTHENTICATORS", "authenticators": [{"key": "okta_email", "enroll": {"self": "OPTIONAL"}}]}),
            vec![RuleSpec {
                name: "Default Rule",
                system: true,
                status: "ACTIVE",
                conditions: people_all.clone(),
                actions: json!({"enroll": {"self": "CHALLENGE"}}),
            }],
        ),
        (
            "ACCESS_POLICY",
            "Any two factors",
            "Require two factors for sensitive apps",
            false,
            "ACTIVE",
            Value::Null,
            Value::Null,
            vec![
                RuleSpec {
                    name: "Admins: phishing-resistant",
                    system: false,
                    status: "ACTIVE",
                    conditions: json!({"people": {"groups": {"include": admins}}}),
                    actions: app_sign_on("ALLOW", "2FA"),
                },
                RuleSpec {
                    name: "Catch-all Rule",
                    system: true,
                    status: "ACTIVE",
                    conditions: Value::Null,
                    actions: app_sign_on("ALLOW", "2FA"),
                },
            ],
        ),
        (
            "ACCESS_POLICY",
            "Password only",
            "One factor for low-risk apps",
            false,
            "ACTIVE",
            Value::Null,
            Value::Null,
            vec![RuleSpec {
                name: "Catch-all Rule",
                system: true,
                status: "ACTIVE",
                conditions: Value::Null,
                actions: app_sign_on("ALLOW", "1FA"),
            }],
        ),
        (
            "ACCESS_POLICY",
            "Legacy access (disabled)",
            "Kept for reference",
            false,
            "INACTIVE",
            Value::Null,
            Value::Null,
            vec![RuleSpec {
                name: "Catch-all Rule",
                system: true,
                status: "ACTIVE",
                conditions: Value::Null,
                actions: app_sign_on("DENY", "1FA"),
            }],
        ),
        (
            "ACCESS_POLICY",
            "Default Policy",
            "The default app sign-on policy",
            true,
            "ACTIVE",
            Value::Null,
            Value::Null,
            vec![
                RuleSpec {
                    name: "Corporate network: one factor",
                    system: false,
                    status: "INACTIVE",
                    conditions: json!({"network": {"connection": "ZONE", "include": [hq]}}),
                    actions: app_sign_on("ALLOW", "1FA"),
                },
                RuleSpec {
                    name: "Catch-all Rule",
                    system: true,
                    status: "ACTIVE",
                    conditions: Value::Null,
                    actions: app_sign_on("ALLOW", "2FA"),
                },
            ],
        ),
        (
            "IDP_DISCOVERY",
            "Idp Discovery Policy",
            "Routes users to their identity provider",
            true,
            "ACTIVE",
            Value::Null,
            Value::Null,
            vec![RuleSpec {
                name: "Default Rule",
                system: true,
                status: "ACTIVE",
                conditions: Value::Null,
                // An `OKTA` provider has no id (Okta's spec: only other IdP types need one).
                actions: json!({"idp": {"providers": [{"type": "OKTA"}]}}),
            }],
        ),
    ];

    let mut policies = Vec::new();
    let mut priority_of_type: HashMap<&str, u32> = HashMap::new();
    for (policy_type, name, description, system, status, conditions, settings, rules) in specs {
        let priority = priority_of_type.entry(policy_type).or_insert(0);
        *priority += 1;
        let created = after(rng, epoch - Duration::days(1000), 0, 86_400 * 700);
        let rule_type = match policy_type {
            "OKTA_SIGN_ON" => "SIGN_ON",
            other => other,
        };
        let rules = rules
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let rule_created = between(rng, created, epoch);
                PolicyRule {
                    id: ids.random(rng, "0pr"),
                    rule_type: rule_type.to_owned(),
                    name: spec.name.to_owned(),
                    priority: i as u32 + 1,
                    status: spec.status.to_owned(),
                    system: spec.system,
                    created: rule_created,
                    last_updated: between(rng, rule_created, epoch),
                    conditions: spec.conditions,
                    actions: spec.actions,
                }
            })
            .collect();
        policies.push(Policy {
            id: ids.random(rng, "00p"),
            policy_type: policy_type.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            priority: *priority,
            status: status.to_owned(),
            system,
            created,
            last_updated: between(rng, created, epoch),
            conditions,
            settings,
            rules,
        });
    }
    policies
}

struct EventKind {
    event_type: &'static str,
    legacy: Option<&'static str>,
    message: &'static str,
    weight: u64,
}

const EVENT_KINDS: &[EventKind] = &[
    EventKind {
        event_type: "user.session.start",
        legacy: Some("core.user_auth.login_success"),
        message: "User login to Okta",
        weight: 300,
    },
    EventKind {
        event_type: "user.authentication.sso",
        legacy: Some("app.auth.sso"),
        message: "User single sign on to app",
        weight: 200,
    },
    EventKind {
        event_type: "user.authentication.auth_via_mfa",
        legacy: Some("core.user.factor.attempt_success"),
        message: "Authentication of user via MFA",
        weight: 100,
    },
    EventKind {
        event_type: "policy.evaluate_sign_on",
        legacy: None,
        message: "Evaluation of sign-on policy",
        weight: 100,
    },
    EventKind {
        event_type: "user.session.end",
        legacy: Some("core.user_auth.logout_success"),
        message: "User logout from Okta",
        weight: 70,
    },
    EventKind {
        event_type: "group.user_membership.add",
        legacy: Some("core.user_group_member.user_add"),
        message: "Add user to group membership",
        weight: 40,
    },
    EventKind {
        event_type: "group.user_membership.remove",
        legacy: Some("core.user_group_member.user_remove"),
        message: "Remove user from group membership",
        weight: 20,
    },
    EventKind {
        event_type: "application.user_membership.add",
        legacy: Some("app.generic.provision.assign_user_to_app"),
        message: "Add user to application membership",
        weight: 30,
    },
    EventKind {
        event_type: "user.lifecycle.create",
        legacy: Some("core.user.config.user_creation.success"),
        message: "Create Okta user",
        weight: 20,
    },
    EventKind {
        event_type: "user.lifecycle.activate",
        legacy: Some("core.user.config.user_activated"),
        message: "Activate Okta user",
        weight: 20,
    },
    EventKind {
        event_type: "user.lifecycle.deactivate",
        legacy: Some("core.user.config.user_deactivated"),
        message: "Deactivate Okta user",
        weight: 10,
    },
    EventKind {
        event_type: "user.lifecycle.suspend",
        legacy: Some("core.user.config.user_status.suspended"),
        message: "Suspend Okta user",
        weight: 10,
    },
    EventKind {
        event_type: "user.account.lock",
        legacy: Some("core.user.account.locked"),
        message: "Max sign in attempts exceeded",
        weight: 20,
    },
    EventKind {
        event_type: "user.mfa.factor.activate",
        legacy: Some("core.user.factor.activate"),
        message: "Activate factor or authenticator",
        weight: 20,
    },
    EventKind {
        event_type: "user.account.update_password",
        legacy: Some("core.user.config.password_update.success"),
        message: "User update password for Okta",
        weight: 15,
    },
    EventKind {
        event_type: "security.request.blocked",
        legacy: None,
        message: "Request from suspicious actor",
        weight: 10,
    },
    EventKind {
        event_type: "application.lifecycle.update",
        legacy: Some("app.generic.config.app_updated"),
        message: "Update application",
        weight: 10,
    },
    EventKind {
        event_type: "system.api_token.create",
        legacy: Some("api.token.create"),
        message: "Create API token",
        weight: 5,
    },
];

fn party(id: &str, party_type: &str, alternate_id: &str, display_name: &str) -> LogParty {
    LogParty {
        id: id.to_owned(),
        party_type: party_type.to_owned(),
        alternate_id: alternate_id.to_owned(),
        display_name: display_name.to_owned(),
    }
}

fn user_party(user: &User) -> LogParty {
    party(
        &user.id,
        "User",
        &user.profile.login,
        &format!("{} {}", user.profile.first_name, user.profile.last_name),
    )
}

fn generate_log_events(
    rng: &mut SeededRng,
    now: DateTime<Utc>,
    users: &[User],
    groups: &[Group],
    apps: &[App],
    policies: &[Policy],
) -> Vec<LogEvent> {
    let span_ms = Duration::days(LOG_SPAN_DAYS).num_milliseconds();
    let start = now - Duration::days(LOG_SPAN_DAYS);
    let mut offsets: Vec<i64> = (0..LOG_EVENT_COUNT)
        .map(|_| rng.range(0, span_ms - 1))
        .collect();
    offsets.sort_unstable();
    let total_weight: u64 = EVENT_KINDS.iter().map(|k| k.weight).sum();
    let admins: Vec<&User> = users
        .iter()
        .filter(|u| u.id == BOB_ID || u.id == CAROL_ID)
        .collect();
    let sign_on_policies: Vec<&Policy> = policies
        .iter()
        .filter(|p| p.policy_type == "OKTA_SIGN_ON")
        .collect();
    let active_users: Vec<&User> = users.iter().filter(|u| u.activated.is_some()).collect();

    offsets
        .into_iter()
        .map(|offset| {
            let mut roll = rng.below(total_weight);
            let kind = EVENT_KINDS
                .iter()
                .find(|k| {
                    if roll < k.weight {
                        true
                    } else {
                        roll -= k.weight;
                        false
                    }
                })
                .unwrap_or(&EVENT_KINDS[0]);
            let user = *rng.pick(&active_users);
            let admin = *rng.pick(&admins);
            let app = rng.pick(apps);
            let group = rng.pick(groups);
            let app_party = party(&app.id, "AppInstance", &app.label, &app.label);
            let mut severity = "INFO";
            let mut outcome = "SUCCESS";
            let mut reason: Option<&str> = None;
            let (actor, targets) = match kind.event_type {
                "user.session.start" => {
                    if rng.percent(15) {
                        outcome = "FAILURE";
                        reason = Some(if rng.percent(70) {
                            "INVALID_CREDENTIALS"
                        } else {
                            "VERIFICATION_ERROR"
                        });
                        severity = "WARN";
                    }
                    (user_party(user), vec![])
                }
                "user.authentication.sso" => (user_party(user), vec![app_party]),
                "user.authentication.auth_via_mfa" => {
                    if rng.percent(8) {
                        outcome = "FAILURE";
                        reason = Some("INVALID_CREDENTIALS");
                    }
                    (user_party(user), vec![user_party(user)])
                }
                "policy.evaluate_sign_on" => {
                    let policy = *rng.pick(&sign_on_policies);
                    outcome = match rng.below(10) {
                        0 => "DENY",
                        1..=3 => "CHALLENGE",
                        _ => "ALLOW",
                    };
                    let rule = rng.pick(&policy.rules);
                    (
                        user_party(user),
                        vec![
                            party(&policy.id, "PolicyEntity", &policy.name, &policy.name),
                            party(&rule.id, "PolicyRule", &rule.name, &rule.name),
                        ],
                    )
                }
                "group.user_membership.add" | "group.user_membership.remove" => (
                    user_party(admin),
                    vec![
                        user_party(user),
                        party(&group.id, "UserGroup", &group.name, &group.name),
                    ],
                ),
                "application.user_membership.add" => (
                    user_party(admin),
                    vec![
                        party(
                            &user.id,
                            "AppUser",
                            &user.profile.login,
                            &user.profile.login,
                        ),
                        app_party,
                    ],
                ),
                "user.lifecycle.create"
                | "user.lifecycle.activate"
                | "user.lifecycle.deactivate"
                | "user.lifecycle.suspend" => (user_party(admin), vec![user_party(user)]),
                "user.account.lock" => {
                    severity = "WARN";
                    (user_party(user), vec![user_party(user)])
                }
                "security.request.blocked" => {
                    severity = "WARN";
                    outcome = "DENY";
                    reason = Some("Blocklisted IP");
                    (party("unknown", "User", "unknown", "Unknown"), vec![])
                }
                "application.lifecycle.update" => (user_party(admin), vec![app_party]),
                "system.api_token.create" => {
                    let token_id = rng.okta_id("00T");
                    (
                        user_party(admin),
                        vec![party(
                            &token_id,
                            "Token",
                            "okta-mcp automation",
                            "okta-mcp automation",
                        )],
                    )
                }
                _ => (user_party(user), vec![user_party(user)]),
            };
            let blocked = kind.event_type == "security.request.blocked";
            let client_ip = if blocked {
                format!("198.18.{}.{}", rng.below(256), rng.range(1, 254))
            } else if rng.percent(60) {
                format!("203.0.113.{}", rng.range(1, 254))
            } else {
                format!("198.51.100.{}", rng.range(30, 254))
            };
            let zone = client_ip
                .starts_with("203.0.113.")
                .then(|| "Corporate HQ".to_owned());
            LogEvent {
                uuid: rng.uuid(),
                published: start + Duration::milliseconds(offset),
                event_type: kind.event_type.to_owned(),
                legacy_event_type: kind.legacy.map(str::to_owned),
                severity: severity.to_owned(),
                display_message: kind.message.to_owned(),
                outcome: outcome.to_owned(),
                outcome_reason: reason.map(str::to_owned),
                actor,
                targets,
                client_ip,
                user_agent: rng.index(USER_AGENTS.len()),
                office: rng.index(OFFICES.len()),
                zone,
                transaction_id: rng.okta_id("W"),
                session_id: rng.okta_id("102"),
                request_id: rng.okta_id("reqZ"),
            }
        })
        .collect()
}
