//! The browser session's role, re-read from Okta on the access-token schedule.
//!
//! A session cookie says which role its user had at login, and lives for `SESSION_TTL_SECS`
//! (8 hours by default). Trusting that role for 8 hours would let a user removed from the
//! granting Okta group keep calling tools, while an OAuth client must refresh every
//! `ACCESS_TOKEN_TTL_SECS` and is refused then. So the cookie's role is good only until its
//! `chk` time (login + the access-token lifetime); past it, the role comes from a server-side
//! record (`session:<hash of sid>`) that holds Okta's refresh token for this browser login, and
//! the record is re-checked with Okta once per access-token lifetime:
//! - same or another role granted: the record keeps the new role for another period;
//! - no role granted, or Okta refuses the refresh (user deactivated, session revoked at Okta):
//!   the session is revoked, on every replica, and the user must log in again;
//! - Okta unreachable: 503, the record is kept, the next request tries again.
//!
//! An Okta Event Hook can make the re-check due before `chk` (a role-granting group was removed:
//! a role cut-off, `revocations::Cutoff::Role`) or end the session at once (the user was
//! deactivated, suspended, locked or signed out: `Cutoff::Everything`, checked in `authenticate`).
//!
//! Only `/oauth/login` keeps an Okta refresh token for its session: a client's login hands its
//! Okta refresh token to the client's own refresh token, and with rotation at Okta two holders
//! of one token would revoke each other. Such a session (and any session when Okta issues no
//! refresh tokens) cannot be re-checked, so its cookie stops working for `/mcp` once its role
//! is due; it still serves to skip a consent page already given, which logs in at Okta anyway.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{AuthServer, Principal, now};
use crate::okta_login::LoginError;
use crate::revocations::now_ms;
use crate::session_cookie::Session;
use crate::store::StoreError;
use crate::tokens::sha256_b64;
use crate::web::WebResponse;

/// How long a request waits for another request's re-check of the same session.
const WAIT_FOR_OTHER_CHECK: Duration = Duration::from_secs(5);
const WAIT_STEP: Duration = Duration::from_millis(50);
const CANNOT_CHECK: &str = "this session's role is due for a check with Okta, which it cannot make";

/// What the proxy keeps for one browser login, so its role can be re-read from Okta.
#[derive(Serialize, Deserialize)]
pub(super) struct SessionRecord {
    pub subject: String,
    pub email: String,
    pub role: String,
    /// Okta's refresh token for this login; `None` when the role cannot be re-checked.
    pub okta_refresh_token: Option<String>,
    /// Unix seconds until which `role` is current.
    pub checked_until: i64,
    /// Unix milliseconds at which `role` was read from Okta (0 in records from before it
    /// existed: any role cut-off makes those due).
    #[serde(default)]
    pub seen: i64,
}

impl SessionRecord {
    pub(super) fn key(sid: &str) -> String {
        format!("session:{}", sha256_b64(sid))
    }
}

/// Why a cookie's role could not be confirmed.
enum Refused {
    /// The user must log in again (the message says why).
    LogInAgain(&'static str),
    /// Try again shortly (Okta or the store is unreachable).
    Unavailable(&'static str),
}

impl AuthServer {
    /// Seconds a role read from Okta is trusted: the access-token lifetime.
    fn role_period(&self) -> i64 {
        i64::try_from(self.settings.access_token_ttl.as_secs()).unwrap_or(i64::MAX)
    }

    /// Time left on a session cookie, for records and revocations that must outlive it.
    pub(super) fn session_remaining(session: &Session, now: i64) -> Duration {
        Duration::from_secs(u64::try_from(session.exp.saturating_sub(now)).unwrap_or(0))
    }

    /// Keeps the record a new browser session's role is re-checked with.
    pub(super) async fn save_session_record(
        &self,
        session: &Session,
        okta_refresh_token: Option<String>,
    ) -> Result<(), StoreError> {
        let record = SessionRecord {
            subject: session.sub.clone(),
            email: session.email.clone(),
            role: session.role.clone(),
            okta_refresh_token,
            checked_until: session.chk,
            seen: session.seen,
        };
        let ttl = Self::session_remaining(session, now());
        self.save(&SessionRecord::key(&session.sid), &record, ttl)
            .await
    }

    /// The principal of a session cookie whose role is due for its re-check (`chk` passed).
    pub(super) async fn recheck_session(
        &self,
        session: Session,
    ) -> Result<Arc<Principal>, WebResponse> {
        match self.current_role(&session).await {
            Ok(record) => Ok(Arc::new(Principal {
                subject: record.subject,
                email: record.email,
                role: record.role,
                client_id: None,
                seen_ms: record.seen,
            })),
            Err(Refused::LogInAgain(reason)) => Err(self.session_ended(reason)),
            Err(Refused::Unavailable(reason)) => Err(WebResponse::jsonrpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -32603,
                reason,
            )),
        }
    }

    pub(super) fn session_ended(&self, reason: &str) -> WebResponse {
        let mut refused = self.unauthorized(None);
        refused.body = WebResponse::jsonrpc_error(
            StatusCode::UNAUTHORIZED,
            -32001,
            &format!("Unauthorized: {reason}; log in again at /oauth/login"),
        )
        .body;
        refused
    }

    async fn current_role(&self, session: &Session) -> Result<SessionRecord, Refused> {
        let unreachable = |error: StoreError| {
            tracing::warn!(%error, "cannot re-check a session's role");
            Refused::Unavailable("the authorization state is not reachable; try again")
        };
        let key = SessionRecord::key(&session.sid);
        let started = tokio::time::Instant::now();
        loop {
            if self.revocations.session_revoked(&session.sid) {
                return Err(Refused::LogInAgain("this session has ended"));
            }
            let record: Option<SessionRecord> = self.load(&key).await.map_err(unreachable)?;
            let cutoffs = self.revocations.cutoffs(&session.sub);
            if !cutoffs.login_alive(session.seen) {
                return Err(Refused::LogInAgain(
                    "your Okta account or session was revoked",
                ));
            }
            match record {
                Some(record)
                    if record.checked_until > now() && cutoffs.role_current(record.seen) =>
                {
                    return Ok(record);
                }
                Some(record) if record.okta_refresh_token.is_none() => {
                    return Err(Refused::LogInAgain(CANNOT_CHECK));
                }
                // Due: one request (on any replica) re-checks, the one whose take wins.
                Some(_) => {
                    if let Some(record) = self.take(&key).await.map_err(unreachable)? {
                        return self.check_with_okta(session, record).await;
                    }
                }
                // Taken by a re-check in flight, or gone (expired, evicted).
                None => {}
            }
            if started.elapsed() >= WAIT_FOR_OTHER_CHECK {
                return Err(Refused::LogInAgain(CANNOT_CHECK));
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
    }

    async fn check_with_okta(
        &self,
        session: &Session,
        record: SessionRecord,
    ) -> Result<SessionRecord, Refused> {
        let now = now();
        // What Okta answers is as of this moment: a cut-off landing while we wait is later.
        let seen = now_ms();
        let key = SessionRecord::key(&session.sid);
        let ttl = Self::session_remaining(session, now);
        let Some(okta_refresh_token) = record.okta_refresh_token.clone() else {
            return Err(Refused::LogInAgain(CANNOT_CHECK));
        };
        let identity = match self.login.refresh(&okta_refresh_token).await {
            Ok(identity) => identity,
            Err(error @ (LoginError::NotReady(_) | LoginError::Transport(_))) => {
                tracing::warn!(?error, "cannot reach Okta to re-check a session's role");
                if let Err(error) = self.save(&key, &record, ttl).await {
                    tracing::warn!(%error, "cannot keep a session's record");
                }
                return Err(Refused::Unavailable(
                    "Okta cannot be reached to re-check your role; try again",
                ));
            }
            Err(error) => {
                tracing::info!(?error, subject = ?record.subject, "Okta refused a session's re-check; ending the session");
                self.end_session(session, ttl).await;
                return Err(Refused::LogInAgain("Okta no longer accepts this login"));
            }
        };
        if identity.subject != record.subject {
            self.end_session(session, ttl).await;
            return Err(Refused::LogInAgain("Okta answered for another user"));
        }
        let Some(role) = self.roles.role_for(&identity.groups).map(str::to_owned) else {
            tracing::info!(subject = ?record.subject, "role lost at a session's re-check; ending the session");
            self.end_session(session, ttl).await;
            return Err(Refused::LogInAgain(
                "your Okta groups no longer grant a role on this server",
            ));
        };
        if role != record.role {
            tracing::info!(subject = ?record.subject, old = ?record.role, new = ?role, "role changed at a session's re-check");
        }
        let renewed = SessionRecord {
            subject: record.subject,
            email: identity.email,
            role,
            okta_refresh_token: Some(identity.refresh_token.unwrap_or(okta_refresh_token)),
            checked_until: now.saturating_add(self.role_period()),
            seen,
        };
        let saved = async {
            self.note_subject(&renewed.subject).await?;
            self.save(&key, &renewed, ttl).await
        };
        saved.await.map_err(|error| {
            tracing::warn!(%error, "cannot keep a session's re-checked role");
            Refused::Unavailable("the authorization state is not reachable; try again")
        })?;
        Ok(renewed)
    }

    /// Revokes a session on every replica and forgets its record.
    pub(super) async fn end_session(&self, session: &Session, remaining: Duration) {
        if let Err(error) = self
            .revocations
            .revoke_session(&session.sid, remaining)
            .await
        {
            tracing::warn!(%error, "cannot record a session's end");
        }
        if let Err(error) = self.store.delete(&SessionRecord::key(&session.sid)).await {
            tracing::warn!(%error, "cannot forget a session's record");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use http::StatusCode;

    /// A harness whose roles are due for their re-check at once.
    fn due_at_once() -> Harness {
        Harness::with(
            |s| s.access_token_ttl = std::time::Duration::ZERO,
            crate::store::MemoryStore::default(),
        )
    }

    #[tokio::test]
    async fn a_browser_session_is_rechecked_and_okta_down_is_retryable() {
        let t = due_at_once();
        let to_okta = t.browse_get("/oauth/login").await;
        t.okta_returns(&to_okta).await;
        assert_eq!(t.with_browser_cookies().await.unwrap().role, "viewer");
        assert_eq!(t.okta.refreshed_with.lock().unwrap().len(), 1);

        *t.okta.refresh_answer.lock().unwrap() = RefreshAnswer::Unreachable;
        let refused = t.with_browser_cookies().await.unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text(&refused).contains("try again"), "{}", text(&refused));

        // Okta back: the session was kept, with Okta's rotated refresh token.
        *t.okta.refresh_answer.lock().unwrap() =
            RefreshAnswer::Groups(vec!["sso-super-admins".into()]);
        assert_eq!(t.with_browser_cookies().await.unwrap().role, "super-admin");
        let used = t.okta.refreshed_with.lock().unwrap().clone();
        assert_ne!(used.first(), used.last());

        *t.okta.refresh_answer.lock().unwrap() = RefreshAnswer::Refused;
        let ended = t.with_browser_cookies().await.unwrap_err();
        assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
        assert!(text(&ended).contains("log in again"), "{}", text(&ended));
        // Ended for good, whatever Okta says next.
        *t.okta.refresh_answer.lock().unwrap() =
            RefreshAnswer::Groups(vec!["sso-help-desk".into()]);
        assert!(t.with_browser_cookies().await.is_err());
    }

    #[tokio::test]
    async fn a_client_logins_cookie_cannot_be_rechecked_and_stops_when_due() {
        let t = due_at_once();
        let client = t.register_public(&[CLIENT_CB]).await;
        let (_verifier, challenge) = pkce();
        let _code = t.code_for(&client, CLIENT_CB, &challenge).await;
        let refused = t.with_browser_cookies().await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(
            text(&refused).contains("/oauth/login"),
            "{}",
            text(&refused)
        );
        // Okta's refresh token stayed the client's alone.
        assert!(t.okta.refreshed_with.lock().unwrap().is_empty());
    }
}
