//! The server's shared state: the dataset plus the lookups and JSON documents built from it once
//! at start-up, so a request only filters and slices.

use super::dataset::{AssignmentScope, Dataset};
use super::traffic::Traffic;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Base URL used for the JSON that filters are evaluated against (links are never filtered on).
const FILTER_BASE: &str = "https://fake-okta.invalid";

/// The dataset with indexes for fast lookups.
#[derive(Debug, Clone)]
pub struct Org {
    pub dataset: Dataset,
    user_by_id: HashMap<String, usize>,
    user_by_login: HashMap<String, usize>,
    group_by_id: HashMap<String, usize>,
    app_by_id: HashMap<String, usize>,
    policy_by_id: HashMap<String, usize>,
    zone_by_id: HashMap<String, usize>,
    /// JSON of each user, for `filter`/`search`.
    pub user_docs: Vec<Value>,
    /// JSON of each group, for `filter`/`search`.
    pub group_docs: Vec<Value>,
    /// JSON of each app plus `user.id`/`group.id` of its assignments, for `filter`.
    pub app_docs: Vec<Value>,
    /// JSON of each zone, for `filter`.
    pub zone_docs: Vec<Value>,
    /// JSON of each log event (what is returned and what is filtered).
    pub event_docs: Vec<Value>,
    /// Member user indexes of each group.
    pub group_members: Vec<Vec<usize>>,
    /// Group indexes of each user.
    pub user_groups: Vec<Vec<usize>>,
    /// Users assigned to each app, with how.
    pub app_assignments: Vec<Vec<(usize, AssignmentScope)>>,
    /// Apps each user is assigned to (directly or through a group).
    pub user_apps: Vec<Vec<usize>>,
    /// Factor indexes of each user.
    pub user_factors: Vec<Vec<usize>>,
    /// Group indexes assigned to each app, in priority order.
    pub app_groups: Vec<Vec<usize>>,
}

impl Org {
    /// Indexes `dataset`.
    pub fn new(dataset: Dataset) -> Self {
        let d = &dataset;
        let user_by_id: HashMap<String, usize> = d
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i))
            .collect();
        let user_by_login = d
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.profile.login.to_lowercase(), i))
            .collect();
        let group_by_id: HashMap<String, usize> = d
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.clone(), i))
            .collect();
        let app_by_id = d
            .apps
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let policy_by_id = d
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let zone_by_id = d
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.id.clone(), i))
            .collect();

        let group_members: Vec<Vec<usize>> = d
            .groups
            .iter()
            .map(|g| {
                g.member_ids
                    .iter()
                    .filter_map(|id| user_by_id.get(id).copied())
                    .collect()
            })
            .collect();
        let user_groups = d
            .users
            .iter()
            .map(|u| {
                u.group_ids
                    .iter()
                    .filter_map(|id| group_by_id.get(id).copied())
                    .collect()
            })
            .collect();
        let app_assignments: Vec<Vec<(usize, AssignmentScope)>> =
            (0..d.apps.len()).map(|i| d.app_assignments(i)).collect();
        let mut user_apps = vec![Vec::new(); d.users.len()];
        for (app_index, assignments) in app_assignments.iter().enumerate() {
            for (user_index, _) in assignments {
                user_apps[*user_index].push(app_index);
            }
        }
        let mut user_factors = vec![Vec::new(); d.users.len()];
        for (factor_index, factor) in d.factors.iter().enumerate() {
            if let Some(&user_index) = user_by_id.get(&factor.user_id) {
                user_factors[user_index].push(factor_index);
            }
        }
        let app_groups: Vec<Vec<usize>> = d
            .apps
            .iter()
            .map(|a| {
                a.group_ids
                    .iter()
                    .filter_map(|id| group_by_id.get(id).copied())
                    .collect()
            })
            .collect();

        let user_docs = d.users.iter().map(|u| u.to_json(FILTER_BASE)).collect();
        let group_docs = d.groups.iter().map(|g| g.to_json(FILTER_BASE)).collect();
        let app_docs = d
            .apps
            .iter()
            .enumerate()
            .map(|(i, app)| {
                let mut doc = app.to_json(FILTER_BASE);
                let user_ids: Vec<&str> = app_assignments[i]
                    .iter()
                    .map(|(u, _)| d.users[*u].id.as_str())
                    .collect();
                doc["user"] = json!({ "id": user_ids });
                doc["group"] = json!({ "id": app.group_ids });
                doc
            })
            .collect();
        let zone_docs = d.zones.iter().map(|z| z.to_json(FILTER_BASE)).collect();
        let event_docs = d.log_events.iter().map(|e| e.to_json()).collect();

        Self {
            user_by_id,
            user_by_login,
            group_by_id,
            app_by_id,
            policy_by_id,
            zone_by_id,
            user_docs,
            group_docs,
            app_docs,
            zone_docs,
            event_docs,
            group_members,
            user_groups,
            app_assignments,
            user_apps,
            user_factors,
            app_groups,
            dataset,
        }
    }

    /// Index of a user by id or login (Okta accepts either in `/users/{id}`).
    pub fn find_user(&self, id_or_login: &str) -> Option<usize> {
        self.user_by_id
            .get(id_or_login)
            .or_else(|| self.user_by_login.get(&id_or_login.to_lowercase()))
            .copied()
    }

    /// Index of a group by id.
    pub fn find_group(&self, id: &str) -> Option<usize> {
        self.group_by_id.get(id).copied()
    }

    /// Index of an app by id.
    pub fn find_app(&self, id: &str) -> Option<usize> {
        self.app_by_id.get(id).copied()
    }

    /// Index of a policy by id.
    pub fn find_policy(&self, id: &str) -> Option<usize> {
        self.policy_by_id.get(id).copied()
    }

    /// Index of a zone by id.
    pub fn find_zone(&self, id: &str) -> Option<usize> {
        self.zone_by_id.get(id).copied()
    }

    /// Rebuilds the filter document of a changed user.
    pub(super) fn refresh_user_doc(&mut self, user: usize) {
        self.user_docs[user] = self.dataset.users[user].to_json(FILTER_BASE);
    }

    /// Rebuilds the filter document of a changed group.
    pub(super) fn refresh_group_doc(&mut self, group: usize) {
        self.group_docs[group] = self.dataset.groups[group].to_json(FILTER_BASE);
    }

    /// Recomputes who is assigned to `app` (after a membership change of one of its groups).
    pub(super) fn recompute_app_assignments(&mut self, app: usize) {
        let before: Vec<usize> = self.app_assignments[app].iter().map(|(u, _)| *u).collect();
        for user in before {
            self.user_apps[user].retain(|&a| a != app);
        }
        self.app_assignments[app] = self.dataset.app_assignments(app);
        for &(user, _) in &self.app_assignments[app] {
            let apps = &mut self.user_apps[user];
            let at = apps.partition_point(|&a| a < app);
            apps.insert(at, app);
        }
        let user_ids: Vec<&str> = self.app_assignments[app]
            .iter()
            .map(|(u, _)| self.dataset.users[*u].id.as_str())
            .collect();
        self.app_docs[app]["user"] = json!({ "id": user_ids });
    }

    /// Forgets one of the user's factors (the dataset entry stays; nothing lists it any more).
    pub(super) fn remove_factor(&mut self, user: usize, factor: usize) {
        self.user_factors[user].retain(|&f| f != factor);
    }

    /// Appends an event to the System Log.
    pub(super) fn push_event(&mut self, event: super::dataset::LogEvent) {
        self.event_docs.push(event.to_json());
        self.dataset.log_events.push(event);
    }
}

/// Everything a request handler can reach.
#[derive(Debug)]
pub struct Shared {
    /// The org as it is now; writes swap in a changed copy (see [`Shared::change_org`]).
    pub org_now: std::sync::RwLock<Arc<Org>>,
    /// The API token clients must present as `Authorization: SSWS <token>`.
    pub api_token: String,
    pub traffic: Traffic,
    /// `host:port` the server listens on, for links when a request has no usable `Host`.
    pub authority: String,
    /// The OIDC provider, when a client id was given.
    pub oidc: Option<super::oidc::Provider>,
    /// The service app (client credentials, DPoP), when a service client id was given.
    pub service_app: Option<super::service_app::ServiceApp>,
    /// Every change to the org, as it happens (Event Hooks subscribe here).
    pub events: tokio::sync::broadcast::Sender<super::changes::OrgEvent>,
}

impl Shared {
    /// The org as it is now. Readers keep this snapshot for the whole request, so a write that
    /// lands meanwhile never shows them half an update.
    pub fn org(&self) -> Arc<Org> {
        Arc::clone(
            &self
                .org_now
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Applies `change` to a copy of the org and makes the copy current; writes are rare (tests
    /// and the demo), so copying is simpler than locking every reader.
    pub fn change_org<T>(&self, change: impl FnOnce(&mut Org) -> T) -> T {
        let mut now = self
            .org_now
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = Org::clone(&now);
        let result = change(&mut next);
        *now = Arc::new(next);
        result
    }

    /// Announces changes to whoever listens (nobody is fine).
    pub fn publish(&self, events: impl IntoIterator<Item = super::changes::OrgEvent>) {
        for event in events {
            tracing::info!(event_type = %event.event_type(), uuid = %event.event.uuid, "org changed");
            let _ = self.events.send(event);
        }
    }
}

/// Cheap-to-clone handle on the shared state (what axum passes around).
pub type AppState = Arc<Shared>;
