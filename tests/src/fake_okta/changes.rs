//! Changes to the org after start-up: lifecycle transitions and group memberships.
//!
//! Both the Management API's write endpoints and the `/__fake` control surface change the org
//! through these methods, so the two cannot disagree. Each change keeps every index and JSON
//! document of [`Org`] in step, writes the System Log event Okta writes for it, and returns that
//! event so the caller can publish it (Event Hooks deliver published events).

use super::dataset::{LogEvent, LogParty, UserStatus};
use super::state::Org;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};

/// Actor of changes made through the control surface or an API token: Okta logs the token's
/// admin; the fake org has one service identity for all of them.
const ADMIN_ACTOR_ID: &str = "00ufakeadmin00000001";

/// Something that happened to a user, as Okta's System Log and Event Hooks describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgEvent {
    /// The System Log event (its JSON is what an Event Hook carries in `data.events`).
    pub event: LogEvent,
}

impl OrgEvent {
    /// Okta's `eventType`.
    pub fn event_type(&self) -> &str {
        &self.event.event_type
    }
}

/// Why a change was refused, in the terms Okta's error answers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// The transition is not allowed from the user's current status (Okta: 400 `E0000001`).
    NotAllowed(String),
}

impl std::fmt::Display for ChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeError::NotAllowed(why) => f.write_str(why),
        }
    }
}

/// A lifecycle operation, as `POST /api/v1/users/{id}/lifecycle/{operation}` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Activate,
    Deactivate,
    Suspend,
    Unsuspend,
    Unlock,
    /// Not an API operation: what too many failed sign-ins do (`user.account.lock`).
    Lock,
    ExpirePassword,
}

impl Lifecycle {
    /// Parses the path segment of the lifecycle endpoint (and `lock` for the control surface).
    pub fn parse(operation: &str) -> Option<Self> {
        Some(match operation {
            "activate" => Lifecycle::Activate,
            "deactivate" => Lifecycle::Deactivate,
            "suspend" => Lifecycle::Suspend,
            "unsuspend" => Lifecycle::Unsuspend,
            "unlock" => Lifecycle::Unlock,
            "lock" => Lifecycle::Lock,
            "expire_password" => Lifecycle::ExpirePassword,
            _ => return None,
        })
    }

    /// The status after the operation, or why Okta refuses it from `from`.
    fn next(self, from: UserStatus) -> Result<UserStatus, String> {
        use UserStatus as S;
        match (self, from) {
            // Okta activates STAGED and DEPROVISIONED users ("Activate a user"); the fake's
            // users all have a password, so activation completes at once (no welcome flow).
            (Lifecycle::Activate, S::Staged | S::Provisioned | S::Deprovisioned) => Ok(S::Active),
            (Lifecycle::Activate, _) => {
                Err("Activation failed because the user is already active".to_owned())
            }
            (Lifecycle::Deactivate, S::Deprovisioned) => {
                Err("Cannot deactivate a user that is already deactivated".to_owned())
            }
            (Lifecycle::Deactivate, _) => Ok(S::Deprovisioned),
            (Lifecycle::Suspend, S::Active) => Ok(S::Suspended),
            (Lifecycle::Suspend, _) => Err("Cannot suspend a user that is not active".to_owned()),
            (Lifecycle::Unsuspend, S::Suspended) => Ok(S::Active),
            (Lifecycle::Unsuspend, _) => {
                Err("Cannot unsuspend a user that is not suspended".to_owned())
            }
            (Lifecycle::Unlock, S::LockedOut) => Ok(S::Active),
            (Lifecycle::Unlock, _) => Err("Cannot unlock a user that is not locked out".to_owned()),
            (Lifecycle::Lock, S::Active | S::PasswordExpired | S::Recovery) => Ok(S::LockedOut),
            (Lifecycle::Lock, _) => Err("Only an active user can be locked out".to_owned()),
            (Lifecycle::ExpirePassword, S::Active | S::PasswordExpired | S::Recovery) => {
                Ok(S::PasswordExpired)
            }
            (Lifecycle::ExpirePassword, _) => {
                Err("Cannot expire the password of a user that is not active".to_owned())
            }
        }
    }

    /// Okta's System Log `eventType` and message for the operation.
    fn event(self) -> (&'static str, &'static str) {
        match self {
            Lifecycle::Activate => ("user.lifecycle.activate", "Activate Okta user"),
            Lifecycle::Deactivate => ("user.lifecycle.deactivate", "Deactivate Okta user"),
            Lifecycle::Suspend => ("user.lifecycle.suspend", "Suspend Okta user"),
            Lifecycle::Unsuspend => ("user.lifecycle.unsuspend", "Unsuspend Okta user"),
            Lifecycle::Unlock => ("user.account.unlock", "Unlock user account"),
            Lifecycle::Lock => ("user.account.lock", "Max sign in attempts exceeded"),
            Lifecycle::ExpirePassword => ("user.account.expire_password", "Expire user password"),
        }
    }
}

static EVENT_COUNTER: AtomicU64 = AtomicU64::new(1);

impl Org {
    /// Applies `operation` to the user at `user`.
    pub fn apply_lifecycle(
        &mut self,
        user: usize,
        operation: Lifecycle,
        now: DateTime<Utc>,
    ) -> Result<OrgEvent, ChangeError> {
        let from = self.dataset.users[user].status;
        let to = operation.next(from).map_err(ChangeError::NotAllowed)?;
        {
            let u = &mut self.dataset.users[user];
            u.status = to;
            u.status_changed = Some(now);
            u.last_updated = now;
            if operation == Lifecycle::Activate {
                u.activated = Some(now);
            }
        }
        self.refresh_user_doc(user);
        let (event_type, message) = operation.event();
        Ok(self.log(event_type, message, user, None, now))
    }

    /// Clears the user's sessions (`DELETE /api/v1/users/{id}/sessions`); always succeeds.
    pub fn clear_sessions(&mut self, user: usize, now: DateTime<Utc>) -> OrgEvent {
        self.log("user.session.clear", "Clear user session", user, None, now)
    }

    /// Resets one factor (`DELETE /api/v1/users/{id}/factors/{factorId}`).
    pub fn reset_factor(&mut self, user: usize, factor: usize, now: DateTime<Utc>) -> OrgEvent {
        self.remove_factor(user, factor);
        self.log(
            "user.mfa.factor.deactivate",
            "Reset factor for user",
            user,
            None,
            now,
        )
    }

    /// Adds the user to the group; `None` when already a member (Okta answers 204 either way).
    pub fn add_member(
        &mut self,
        group: usize,
        user: usize,
        now: DateTime<Utc>,
    ) -> Option<OrgEvent> {
        if self.group_members[group].contains(&user) {
            return None;
        }
        let members = &mut self.group_members[group];
        let at = members.partition_point(|&m| m < user);
        members.insert(at, user);
        let groups = &mut self.user_groups[user];
        let at = groups.partition_point(|&g| g < group);
        groups.insert(at, group);
        self.after_membership_change(group, user, now);
        Some(self.log(
            "group.user_membership.add",
            "Add user to group membership",
            user,
            Some(group),
            now,
        ))
    }

    /// Removes the user from the group; `None` when not a member (Okta answers 204 either way).
    pub fn remove_member(
        &mut self,
        group: usize,
        user: usize,
        now: DateTime<Utc>,
    ) -> Option<OrgEvent> {
        let at = self.group_members[group].iter().position(|&m| m == user)?;
        self.group_members[group].remove(at);
        self.user_groups[user].retain(|&g| g != group);
        self.after_membership_change(group, user, now);
        Some(self.log(
            "group.user_membership.remove",
            "Remove user from group membership",
            user,
            Some(group),
            now,
        ))
    }

    fn after_membership_change(&mut self, group: usize, user: usize, now: DateTime<Utc>) {
        let group_ids: Vec<String> = self.user_groups[user]
            .iter()
            .map(|&g| self.dataset.groups[g].id.clone())
            .collect();
        let member_ids: Vec<String> = self.group_members[group]
            .iter()
            .map(|&u| self.dataset.users[u].id.clone())
            .collect();
        self.dataset.users[user].group_ids = group_ids;
        let g = &mut self.dataset.groups[group];
        g.member_ids = member_ids;
        g.last_membership_updated = now;
        self.refresh_group_doc(group);
        // Group assignments decide app assignments: recompute the ones this group feeds.
        let group_id = self.dataset.groups[group].id.clone();
        for app in 0..self.dataset.apps.len() {
            if self.dataset.apps[app].group_ids.contains(&group_id) {
                self.recompute_app_assignments(app);
            }
        }
    }

    /// Appends a System Log event about `user` (and `group`) and returns it.
    fn log(
        &mut self,
        event_type: &str,
        message: &str,
        user: usize,
        group: Option<usize>,
        now: DateTime<Utc>,
    ) -> OrgEvent {
        let n = EVENT_COUNTER.fetch_add(1, Ordering::Relaxed);
        let u = &self.dataset.users[user];
        let mut targets = vec![LogParty {
            id: u.id.clone(),
            party_type: "User".to_owned(),
            alternate_id: u.profile.login.clone(),
            display_name: format!("{} {}", u.profile.first_name, u.profile.last_name),
        }];
        if let Some(g) = group {
            let g = &self.dataset.groups[g];
            targets.push(LogParty {
                id: g.id.clone(),
                party_type: "UserGroup".to_owned(),
                alternate_id: "unknown".to_owned(),
                display_name: g.name.clone(),
            });
        }
        let event = LogEvent {
            uuid: format!("fa4e0000-0000-4000-8000-{:012x}", n),
            published: now,
            event_type: event_type.to_owned(),
            legacy_event_type: None,
            severity: "INFO".to_owned(),
            display_message: message.to_owned(),
            outcome: "SUCCESS".to_owned(),
            outcome_reason: None,
            actor: LogParty {
                id: ADMIN_ACTOR_ID.to_owned(),
                party_type: "User".to_owned(),
                alternate_id: "admin@example.com".to_owned(),
                display_name: "Fake Org Admin".to_owned(),
            },
            targets,
            client_ip: "127.0.0.1".to_owned(),
            user_agent: 0,
            office: 0,
            zone: None,
            transaction_id: format!("fakechange{n:010}"),
            session_id: format!("fakesession{n:010}"),
            request_id: format!("fakerequest{n:010}"),
        };
        self.push_event(event.clone());
        OrgEvent { event }
    }
}
