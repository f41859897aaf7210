//! The live sessions: created at `initialize` (up to `--max-children` in all and
//! `--max-children-per-subject` for one user), found by id and owner, reaped when idle, and all
//! ended at shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::child::{ChildCommand, ChildProcess, LogContext};
use super::gate::ToolGate;
use super::session::{EndReason, Session, SessionLimits};
use crate::metrics::METRICS;

/// Why no session could be created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    #[error(
        "this server already runs {0} MCP sessions, its limit (--max-children); try again later"
    )]
    Full(usize),
    #[error(
        "you have {0} MCP sessions open, the most one user may have \
         (--max-children-per-subject); close one (or let it idle out) and try again"
    )]
    SubjectFull(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("cannot start the wrapped server: {0}")]
    Spawn(std::io::Error),
}

/// How sessions are made and kept.
#[derive(Debug, Clone)]
pub(crate) struct RegistrySettings {
    pub(crate) max_children: usize,
    pub(crate) max_children_per_subject: usize,
    pub(crate) idle: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) limits: SessionLimits,
}

#[derive(Default)]
struct Table {
    live: HashMap<String, Arc<Session>>,
    /// Children being started, by subject.
    starting: HashMap<String, usize>,
    closing: bool,
}

impl Table {
    fn starting_total(&self) -> usize {
        self.starting.values().sum()
    }

    /// Sessions of `subject`, live or starting.
    fn of_subject(&self, subject: &str) -> usize {
        let live = self.live.values().filter(|s| s.subject == subject).count();
        live + self.starting.get(subject).copied().unwrap_or(0)
    }

    fn started(&mut self, subject: &str) {
        if let Some(n) = self.starting.get_mut(subject) {
            *n -= 1;
            if *n == 0 {
                self.starting.remove(subject);
            }
        }
    }
}

/// The warm child of one subject for its stateless (2026-07-28) clients, once started.
pub(crate) type WarmSlot = Arc<tokio::sync::Mutex<Option<Arc<Session>>>>;

/// Every live session of the wrapper, each with its own child.
pub struct Sessions {
    command: ChildCommand,
    gate: Arc<ToolGate>,
    settings: RegistrySettings,
    table: Mutex<Table>,
    /// Per subject, the session its stateless clients share.
    warm: Mutex<HashMap<String, WarmSlot>>,
}

impl Sessions {
    pub(crate) fn new(
        command: ChildCommand,
        gate: Arc<ToolGate>,
        settings: RegistrySettings,
    ) -> Arc<Self> {
        let sessions = Arc::new(Self {
            command,
            gate,
            settings,
            table: Mutex::new(Table::default()),
            warm: Mutex::new(HashMap::new()),
        });
        spawn_reaper(Arc::downgrade(&sessions));
        sessions
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot of `subject`'s warm child (forgetting the slots of children that ended).
    pub(crate) fn warm_slot(&self, subject: &str) -> WarmSlot {
        let mut warm = self.warm.lock().unwrap_or_else(|p| p.into_inner());
        warm.retain(|_, slot| {
            slot.try_lock()
                .map_or(true, |s| s.as_ref().is_some_and(|s| !s.has_ended()))
        });
        warm.entry(subject.to_owned()).or_default().clone()
    }

    /// Starts a child for a new session owned by `subject`; a `stateless` one serves the
    /// subject's 2026-07-28 clients and can ask them nothing.
    pub(crate) fn create(
        self: &Arc<Self>,
        subject: &str,
        stateless: bool,
    ) -> Result<Arc<Session>, CreateError> {
        let created = self.start_child(subject, stateless);
        if let Err(error) = &created {
            METRICS.wrap_child_refused(match error {
                CreateError::Full(_) => "full",
                CreateError::SubjectFull(_) => "subject_full",
                CreateError::ShuttingDown => "shutting_down",
                CreateError::Spawn(_) => "spawn",
            });
        }
        created
    }

    fn start_child(
        self: &Arc<Self>,
        subject: &str,
        stateless: bool,
    ) -> Result<Arc<Session>, CreateError> {
        {
            let mut table = self.table();
            if table.closing {
                return Err(CreateError::ShuttingDown);
            }
            // The subject's own limit first: it is the one its user can do something about.
            if table.of_subject(subject) >= self.settings.max_children_per_subject {
                return Err(CreateError::SubjectFull(
                    self.settings.max_children_per_subject,
                ));
            }
            if table.live.len() + table.starting_total() >= self.settings.max_children {
                return Err(CreateError::Full(self.settings.max_children));
            }
            *table.starting.entry(subject.to_owned()).or_default() += 1;
        }
        let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
        let log = LogContext {
            session: id.clone(),
            subject: subject.to_owned(),
        };
        let started = ChildProcess::spawn(&self.command, self.settings.max_message_bytes, log);
        let mut table = self.table();
        table.started(subject);
        let (child, output) = started.map_err(CreateError::Spawn)?;
        let session = Arc::new(Session::new(
            id.clone(),
            subject.to_owned(),
            child,
            self.gate.clone(),
            self.settings.limits,
            stateless,
        ));
        if table.closing {
            session.end(EndReason::Shutdown);
            return Err(CreateError::ShuttingDown);
        }
        table.live.insert(id.clone(), session.clone());
        drop(table);
        tracing::info!(
            session = %id, subject, pid = session.child_pid(), stateless,
            "session started: wrapped server running"
        );
        tokio::spawn(session.clone().pump(output, Arc::downgrade(self)));
        tokio::spawn(session.clone().expire_overdue());
        Ok(session)
    }

    /// The live session `id` if `subject` owns it; otherwise none, the same for both cases.
    pub(crate) fn get(&self, id: &str, subject: &str) -> Option<Arc<Session>> {
        let session = self.table().live.get(id).cloned()?;
        if session.subject != subject || session.has_ended() {
            if session.subject != subject {
                tracing::warn!(subject, "session id of another subject");
            }
            return None;
        }
        Some(session)
    }

    /// Ends session `id` (if live) and forgets it.
    pub(crate) fn end(&self, id: &str, reason: EndReason) -> Option<Arc<Session>> {
        let session = self.table().live.remove(id)?;
        session.end(reason);
        Some(session)
    }

    /// How many sessions (children) are live.
    pub fn len(&self) -> usize {
        self.table().live.len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends every session and waits (a few seconds at most) for the children to exit.
    pub async fn shutdown(&self) {
        let sessions: Vec<Arc<Session>> = {
            let mut table = self.table();
            table.closing = true;
            table.live.drain().map(|(_, s)| s).collect()
        };
        if !sessions.is_empty() {
            tracing::info!(count = sessions.len(), "ending all sessions");
        }
        for session in &sessions {
            session.end(EndReason::Shutdown);
        }
        let all_exited = futures::future::join_all(sessions.iter().map(|s| s.child_exited()));
        if tokio::time::timeout(Duration::from_secs(8), all_exited)
            .await
            .is_err()
        {
            tracing::warn!("some wrapped servers did not exit in time; they are killed on exit");
        }
    }

    fn reap_idle(&self) {
        let idle: Vec<String> = self
            .table()
            .live
            .values()
            .filter(|s| s.idle_for(self.settings.idle))
            .map(|s| s.id.clone())
            .collect();
        for id in idle {
            self.end(&id, EndReason::Idle);
        }
    }
}

fn spawn_reaper(sessions: std::sync::Weak<Sessions>) {
    tokio::spawn(async move {
        let period = match sessions.upgrade() {
            Some(s) => {
                (s.settings.idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
            }
            None => return,
        };
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let Some(sessions) = sessions.upgrade() else {
                return;
            };
            sessions.reap_idle();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ToolPolicy;
    use crate::wrap::ChildEnvironment;

    fn sessions(max_children: usize, max_children_per_subject: usize) -> Arc<Sessions> {
        sessions_of(&["cat"], max_children, max_children_per_subject)
    }

    fn sessions_of(argv: &[&str], max_children: usize, per_subject: usize) -> Arc<Sessions> {
        let policy = ToolPolicy::parse("[roles.viewer]\ntools = [\"*\"]\n", "test").unwrap();
        let (environment, _) =
            ChildEnvironment::from_flags(&[], |name| std::env::var_os(name)).unwrap();
        let command =
            ChildCommand::new(argv.iter().map(Into::into).collect(), environment).unwrap();
        Sessions::new(
            command,
            Arc::new(ToolGate::new(Arc::new(policy))),
            RegistrySettings {
                max_children,
                max_children_per_subject: per_subject,
                idle: Duration::from_secs(300),
                max_message_bytes: 1024,
                limits: SessionLimits {
                    stream_queue: 8,
                    backlog: 8,
                    backlog_bytes: 1024,
                    in_flight: 8,
                    replay: 8,
                    replay_bytes: 1024,
                    max_call: Duration::from_secs(1),
                },
            },
        )
    }

    #[tokio::test]
    async fn one_subject_gets_its_share_and_the_rest_stay_for_others() {
        let sessions = sessions(3, 2);
        let first = sessions.create("mallory", false).ok().unwrap();
        assert!(sessions.create("mallory", false).is_ok());
        let Err(refused) = sessions.create("mallory", false) else {
            panic!("a third session for one subject");
        };
        assert!(matches!(refused, CreateError::SubjectFull(2)), "{refused}");
        assert!(
            refused.to_string().contains("--max-children-per-subject"),
            "{refused}"
        );
        assert!(sessions.create("alice", false).is_ok());
        let Err(refused) = sessions.create("bob", false) else {
            panic!("a fourth session in all");
        };
        assert!(matches!(refused, CreateError::Full(3)), "{refused}");
        // An ended session gives its subject the slot back.
        sessions.end(&first.id, EndReason::Deleted);
        assert!(sessions.create("mallory", false).is_ok());
        assert_eq!(sessions.len(), 3);
        sessions.shutdown().await;
    }

    #[tokio::test]
    async fn a_request_past_the_maximum_duration_is_answered_and_cancelled_toward_the_child() {
        // A child that never answers and keeps what it reads.
        let file = std::env::temp_dir().join(format!(
            "okta-mcp-wrap-stdin-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let script = format!("cat > '{}'", file.display());
        let sessions = sessions_of(&["sh", "-c", &script], 1, 1);
        let session = sessions.create("alice", false).ok().unwrap();
        let identity = crate::identity::Identity {
            role: "viewer".into(),
            subject: "alice".into(),
            email: String::new(),
        };
        let call = serde_json::json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
                                      "params": {"name": "sleep", "arguments": {}}});
        let started = std::time::Instant::now();
        let answer = session.post(vec![call], &identity).await.ok().unwrap();
        let mut rest = answer.rest.unwrap();
        let error = tokio::time::timeout(Duration::from_secs(5), rest.recv())
            .await
            .unwrap()
            .unwrap()
            .message;
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(error["id"], "slow");
        assert_eq!(error["error"]["code"], -32001, "{error}");
        assert!(
            rest.recv().await.is_none(),
            "the stream ends with the answer"
        );
        let mut seen = String::new();
        for _ in 0..100 {
            seen = std::fs::read_to_string(&file).unwrap_or_default();
            if seen.contains("notifications/cancelled") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let cancel: serde_json::Value = seen
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .find(|m: &serde_json::Value| m["method"] == "notifications/cancelled")
            .unwrap_or_else(|| panic!("no cancellation in {seen:?}"));
        assert_eq!(cancel["params"]["requestId"], "slow");
        sessions.shutdown().await;
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn a_stateless_sessions_child_asking_the_client_hears_no_at_once() {
        // A child that asks its client to sample as soon as it starts, and keeps what it reads.
        let file = std::env::temp_dir().join(format!(
            "okta-mcp-wrap-ask-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let ask = r#"{"jsonrpc":"2.0","id":"ask-1","method":"sampling/createMessage","params":{}}"#;
        let script = format!("echo '{ask}'; cat > '{}'", file.display());
        let sessions = sessions_of(&["sh", "-c", &script], 2, 2);
        let session = sessions.create("alice", true).ok().unwrap();
        let mut seen = String::new();
        for _ in 0..100 {
            seen = std::fs::read_to_string(&file).unwrap_or_default();
            if seen.contains("ask-1") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let answer: serde_json::Value = seen
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .find(|m: &serde_json::Value| m["id"] == "ask-1")
            .unwrap_or_else(|| panic!("no answer to the child's request in {seen:?}"));
        assert_eq!(answer["error"]["code"], -32601, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("stateless")),
            "{answer}"
        );
        assert!(!session.has_ended());
        sessions.shutdown().await;
        let _ = std::fs::remove_file(file);
    }
}
