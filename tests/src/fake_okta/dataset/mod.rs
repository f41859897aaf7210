//! The fake org's contents, generated in memory from a seed.
//!
//! End-to-end tests compute their expectations from the same `Dataset::generate(seed)` the server
//! uses, so everything here is public and deterministic: the same seed gives the same ids, names,
//! memberships and assignments on every machine and every run. A few objects have fixed ids (the
//! demo users, `Everyone`, the demo role groups, `big-group`) so documents and scripts can name
//! them. Directory timestamps are fixed dates (so `lastUpdated gt …` filters give stable answers);
//! System Log events are spread over the 30 days before generation (so `since`/`until` windows
//! relative to "now" make sense).

mod generate;
mod json;
pub mod names;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use json::{
    DEFAULT_USER_TYPE_ID, UserOmissions, app_group_json, app_link_json, app_user_json, timestamp,
};

/// Seed used when none is given.
pub const DEFAULT_SEED: u64 = 42;
/// Number of users, demo users included.
pub const USER_COUNT: usize = 2000;
/// Number of groups, `Everyone` included.
pub const GROUP_COUNT: usize = 150;
/// Name of the large group used to exercise pagination.
pub const BIG_GROUP_NAME: &str = "big-group";
/// Members of `big-group`.
pub const BIG_GROUP_SIZE: usize = 1500;
/// Number of apps.
pub const APP_COUNT: usize = 40;
/// Number of System Log events.
pub const LOG_EVENT_COUNT: usize = 5000;
/// The log events cover this many days before generation.
pub const LOG_SPAN_DAYS: i64 = 30;

/// Fixed id of alice@example.com (group `sso-help-desk`).
pub const ALICE_ID: &str = "00ualice000000000001";
/// Fixed id of bob@example.com (group `sso-security-admins`).
pub const BOB_ID: &str = "00ubob00000000000002";
/// Fixed id of carol@example.com (group `sso-super-admins`).
pub const CAROL_ID: &str = "00ucarol000000000003";
/// Fixed id of dave@example.com (only `Everyone`).
pub const DAVE_ID: &str = "00udave0000000000004";
/// Login and email of Zoë Müller, an active user (only in `Everyone`) whose address is not ASCII.
pub const ZOE_LOGIN: &str = "zoë.müller@example.com";
/// Fixed id of the built-in `Everyone` group.
pub const EVERYONE_GROUP_ID: &str = "00geveryone000000001";
/// Fixed id of `sso-help-desk`.
pub const HELP_DESK_GROUP_ID: &str = "00ghelpdesk000000001";
/// Fixed id of `sso-security-admins`.
pub const SECURITY_ADMINS_GROUP_ID: &str = "00gsecadmins00000001";
/// Fixed id of `sso-super-admins`.
pub const SUPER_ADMINS_GROUP_ID: &str = "00gsuperadmins000001";
/// Fixed id of `big-group`.
pub const BIG_GROUP_ID: &str = "00gbiggroup000000001";

/// Lifecycle status of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    /// Okta's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Active => "ACTIVE",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
        }
    }
}

/// A user's profile (the `profile` object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub login: String,
    pub second_email: Option<String>,
    pub mobile_phone: Option<String>,
    pub department: String,
    pub title: String,
    pub city: String,
    pub state: String,
    pub country_code: String,
    pub employee_number: String,
    pub user_type: String,
    pub manager_id: Option<String>,
}

/// An Okta user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: DateTime<Utc>,
    pub activated: Option<DateTime<Utc>>,
    pub status_changed: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
    pub last_updated: DateTime<Utc>,
    pub password_changed: Option<DateTime<Utc>>,
    pub profile: UserProfile,
    /// Groups the user belongs to, in dataset order (`Everyone` first).
    pub group_ids: Vec<String>,
}

/// Kind of group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupType {
    OktaGroup,
    BuiltIn,
    AppGroup,
}

impl GroupType {
    /// Okta's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
            GroupType::AppGroup => "APP_GROUP",
        }
    }
}

/// An Okta group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub group_type: GroupType,
    pub name: String,
    pub description: String,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub last_membership_updated: DateTime<Utc>,
    /// Members in dataset (user) order.
    pub member_ids: Vec<String>,
    /// For `APP_GROUP`s: the app the group was imported from.
    pub source_app_id: Option<String>,
}

/// An app instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub id: String,
    pub name: String,
    pub label: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub sign_on_mode: String,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    /// Users assigned directly (scope `USER`), in user order.
    pub user_ids: Vec<String>,
    /// Groups assigned, in priority order (priority = position).
    pub group_ids: Vec<String>,
}

/// An enrolled MFA factor.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub id: String,
    pub user_id: String,
    pub factor_type: String,
    pub provider: String,
    pub vendor_name: String,
    pub status: String,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub profile: Value,
}

/// Actor or target of a log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogParty {
    pub id: String,
    pub party_type: String,
    pub alternate_id: String,
    pub display_name: String,
}

/// A System Log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub uuid: String,
    pub published: DateTime<Utc>,
    pub event_type: String,
    pub legacy_event_type: Option<String>,
    pub severity: String,
    pub display_message: String,
    /// `outcome.result`: SUCCESS, FAILURE, ALLOW, DENY, CHALLENGE, …
    pub outcome: String,
    pub outcome_reason: Option<String>,
    pub actor: LogParty,
    pub targets: Vec<LogParty>,
    pub client_ip: String,
    /// Index into [`names::USER_AGENTS`].
    pub user_agent: usize,
    /// Index into [`names::OFFICES`] for the geographical context.
    pub office: usize,
    pub zone: Option<String>,
    pub transaction_id: String,
    pub session_id: String,
    pub request_id: String,
}

/// A policy rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRule {
    pub id: String,
    pub rule_type: String,
    pub name: String,
    pub priority: u32,
    pub status: String,
    pub system: bool,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub conditions: Value,
    pub actions: Value,
}

/// A policy with its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: String,
    pub policy_type: String,
    pub name: String,
    pub description: String,
    pub priority: u32,
    pub status: String,
    pub system: bool,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub conditions: Value,
    pub settings: Value,
    /// Rules in priority order.
    pub rules: Vec<PolicyRule>,
}

/// A network zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkZone {
    pub id: String,
    pub name: String,
    /// `IP`, `DYNAMIC` or `DYNAMIC_V2` (an enhanced dynamic zone).
    pub zone_type: String,
    /// `POLICY` or `BLOCKLIST`.
    pub usage: String,
    pub status: String,
    pub system: bool,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    /// (`CIDR`|`RANGE`, value) gateways of an IP zone.
    pub gateways: Vec<(String, String)>,
    /// (`CIDR`|`RANGE`, value) trusted proxies of an IP zone.
    pub proxies: Vec<(String, String)>,
    /// (country, region) of a dynamic zone; those included by a `DYNAMIC_V2` zone.
    pub locations: Vec<(String, Option<String>)>,
    pub proxy_type: Option<String>,
    /// ASNs of a dynamic zone; those included by a `DYNAMIC_V2` zone.
    pub asns: Vec<String>,
    /// `DYNAMIC_V2` only: locations excluded.
    pub excluded_locations: Vec<(String, Option<String>)>,
    /// `DYNAMIC_V2` only: ASNs excluded.
    pub excluded_asns: Vec<String>,
    /// `DYNAMIC_V2` only: IP service categories (`ALL_ANONYMIZERS`, …) included and excluded.
    pub ip_service_categories: (Vec<String>, Vec<String>),
}

/// Everything the fake org contains.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub seed: u64,
    /// "Now" of the generation; log events end before it.
    pub generated_at: DateTime<Utc>,
    /// Users in dataset order (the order of `GET /api/v1/users`): the demo users first.
    pub users: Vec<User>,
    /// Groups in dataset order: `Everyone`, the three demo role groups, `big-group`, then the rest.
    pub groups: Vec<Group>,
    pub apps: Vec<App>,
    /// Factors grouped by user, in user order.
    pub factors: Vec<Factor>,
    /// Log events in `published` order (oldest first).
    pub log_events: Vec<LogEvent>,
    /// Policies grouped by type, each type in priority order.
    pub policies: Vec<Policy>,
    pub zones: Vec<NetworkZone>,
}

/// How a user came to be assigned to an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentScope {
    /// Assigned directly.
    User,
    /// Assigned through the group at this index of `Dataset::groups`.
    Group(usize),
}

impl Dataset {
    /// The dataset for `seed`, with log events relative to the current time.
    pub fn generate(seed: u64) -> Self {
        Self::generate_at(seed, Utc::now())
    }

    /// The dataset for `seed` with log events ending at `now`; directory objects do not depend on `now`.
    pub fn generate_at(seed: u64, now: DateTime<Utc>) -> Self {
        generate::generate(seed, now)
    }

    /// User by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// User by login, case-insensitively.
    pub fn user_by_login(&self, login: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.profile.login.eq_ignore_ascii_case(login))
    }

    /// Group by id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Group by exact name.
    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// App by id.
    pub fn app(&self, id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.id == id)
    }

    /// App by label.
    pub fn app_by_label(&self, label: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.label == label)
    }

    /// Every user assigned to app `app_index` (directly, or through its highest-priority group),
    /// in user order: what `GET /api/v1/apps/{id}/users` lists.
    pub fn app_assignments(&self, app_index: usize) -> Vec<(usize, AssignmentScope)> {
        let Some(app) = self.apps.get(app_index) else {
            return Vec::new();
        };
        let user_index: std::collections::HashMap<&str, usize> = self
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.as_str(), i))
            .collect();
        let mut scope: Vec<Option<AssignmentScope>> = vec![None; self.users.len()];
        for group_id in app.group_ids.iter().rev() {
            let Some(group_index) = self.groups.iter().position(|g| &g.id == group_id) else {
                continue;
            };
            for member in &self.groups[group_index].member_ids {
                if let Some(&i) = user_index.get(member.as_str()) {
                    scope[i] = Some(AssignmentScope::Group(group_index));
                }
            }
        }
        for user_id in &app.user_ids {
            if let Some(&i) = user_index.get(user_id.as_str()) {
                scope[i] = Some(AssignmentScope::User);
            }
        }
        scope
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .collect()
    }

    /// Factors of a user.
    pub fn factors_of(&self, user_id: &str) -> Vec<&Factor> {
        self.factors
            .iter()
            .filter(|f| f.user_id == user_id)
            .collect()
    }

    /// Policies of one type, in priority order.
    pub fn policies_of_type(&self, policy_type: &str) -> Vec<&Policy> {
        self.policies
            .iter()
            .filter(|p| p.policy_type == policy_type)
            .collect()
    }
}

#[cfg(test)]
mod tests;
