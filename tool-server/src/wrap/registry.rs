//! The live sessions: created at `initialize` (up to `--max-children`), found by id and owner,
//! reaped when idle, and all ended at shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::child::{ChildCommand, ChildProcess, LogContext};
use super::gate::ToolGate;
use super::session::{EndReason, Session, SessionLimits};

/// Why no session could be created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    #[error(
        "this server already runs {0} MCP sessions, its limit (--max-children); try again later"
    )]
    Full(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("cannot start the wrapped server: {0}")]
    Spawn(std::io::Error),
}

/// How sessions are made and kept.
#[derive(Debug, Clone)]
pub(crate) struct RegistrySettings {
    pub(crate) max_children: usize,
    pub(crate) idle: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) limits: SessionLimits,
}

#[derive(Default)]
struct Table {
    live: HashMap<String, Arc<Session>>,
    starting: usize,
    closing: bool,
}

/// Every live session of the wrapper, each with its own child.
pub struct Sessions {
    command: ChildCommand,
    gate: Arc<ToolGate>,
    settings: RegistrySettings,
    table: Mutex<Table>,
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
        });
        spawn_reaper(Arc::downgrade(&sessions));
        sessions
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a child for a new session owned by `subject`.
    pub(crate) fn create(self: &Arc<Self>, subject: &str) -> Result<Arc<Session>, CreateError> {
        {
            let mut table = self.table();
            if table.closing {
                return Err(CreateError::ShuttingDown);
            }
            if table.live.len() + table.starting >= self.settings.max_children {
                return Err(CreateError::Full(self.settings.max_children));
            }
            table.starting += 1;
        }
        let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
        let log = LogContext {
            session: id.clone(),
            subject: subject.to_owned(),
        };
        let started = ChildProcess::spawn(&self.command, self.settings.max_message_bytes, log);
        let mut table = self.table();
        table.starting -= 1;
        let (child, output) = started.map_err(CreateError::Spawn)?;
        let session = Arc::new(Session::new(
            id.clone(),
            subject.to_owned(),
            child,
            self.gate.clone(),
            self.settings.limits,
        ));
        if table.closing {
            session.end(EndReason::Shutdown);
            return Err(CreateError::ShuttingDown);
        }
        table.live.insert(id.clone(), session.clone());
        drop(table);
        tracing::info!(
            session = %id, subject, pid = session.child_pid(),
            "session started: wrapped server running"
        );
        tokio::spawn(session.clone().pump(output, Arc::downgrade(self)));
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
