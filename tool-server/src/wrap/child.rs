//! One wrapped server process: starting it, its three pipes, and ending it.
//!
//! The child runs in a process group of its own, so `npx …` or a shell script that starts the
//! real server as a grandchild is ended as a whole. Ending follows the MCP stdio transport:
//! close stdin, wait, SIGTERM, wait, SIGKILL. If the wrapper itself goes away first,
//! `kill_on_drop` and a guard that kills the group take the children with it. Its environment is
//! only what [`ChildEnvironment`] lists.

use okta_mcp_common::logging::escaped;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::environment::ChildEnvironment;
use super::lines::{Line, LineReader};

/// How long a child gets after stdin closes, and again after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Longest stderr line logged as is; longer ones are reported by size.
const MAX_STDERR_LINE: usize = 16 * 1024;
/// Messages waiting to be written to a child's stdin.
const STDIN_QUEUE: usize = 64;

/// The command line of the wrapped server: `CMD ARGS…` after `--`.
#[derive(Debug, Clone)]
pub struct ChildCommand {
    program: PathBuf,
    /// `program` as found at start-up, run as is: the child's own `PATH` may differ.
    executable: PathBuf,
    args: Vec<OsString>,
    environment: ChildEnvironment,
}

/// Why a wrapped server cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(
        "no command to wrap: give it after `--`, e.g. `wrap --policy FILE -- npx -y @modelcontextprotocol/server-everything`"
    )]
    Empty,
    #[error("cannot run `{0}`: no such executable file (nor on PATH)")]
    NotFound(String),
}

impl ChildCommand {
    /// The command `argv[0]` with arguments `argv[1..]` and exactly `environment`; fails if the
    /// program cannot be found.
    pub fn new(argv: Vec<OsString>, environment: ChildEnvironment) -> Result<Self, CommandError> {
        let mut argv = argv.into_iter();
        let program = PathBuf::from(argv.next().ok_or(CommandError::Empty)?);
        if program.as_os_str().is_empty() {
            return Err(CommandError::Empty);
        }
        let Some(executable) = find_executable(&program) else {
            return Err(CommandError::NotFound(program.display().to_string()));
        };
        Ok(Self {
            program,
            executable,
            args: argv.collect(),
            environment,
        })
    }

    /// The command line, for logs.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|part| part.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The file `program` names: itself if it has a `/`, else the first match on `PATH`.
fn find_executable(program: &Path) -> Option<PathBuf> {
    let runnable = |path: &Path| {
        path.metadata().is_ok_and(|m| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                m.is_file()
            }
        })
    };
    if program.components().count() > 1 {
        return runnable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| runnable(candidate))
}

/// Who a child serves, for its log lines.
#[derive(Debug, Clone)]
pub(crate) struct LogContext {
    pub(crate) session: String,
    pub(crate) subject: String,
}

/// A running wrapped server; ends it when asked, and knows when it has exited.
pub(crate) struct ChildProcess {
    pid: u32,
    stdin: mpsc::Sender<Vec<u8>>,
    stop: CancellationToken,
    exited: CancellationToken,
}

/// The child's stdout, read one JSON-RPC message (line) at a time.
pub(crate) struct ChildOutput {
    lines: LineReader<BufReader<ChildStdout>>,
    log: LogContext,
}

/// The child's stdin closed or the child is gone.
#[derive(Debug)]
pub(crate) struct ChildGone;

impl ChildProcess {
    /// Starts `command` with piped stdio; stderr goes to the logs with `log`'s session and subject.
    pub(crate) fn spawn(
        command: &ChildCommand,
        max_line: usize,
        log: LogContext,
    ) -> std::io::Result<(Self, ChildOutput)> {
        let mut child = build(command).spawn()?;
        let pid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("child pipes missing"));
        };
        let stop = CancellationToken::new();
        let exited = CancellationToken::new();
        let (to_stdin, from_session) = mpsc::channel(STDIN_QUEUE);
        tokio::spawn(write_stdin(stdin, from_session, stop.clone()));
        tokio::spawn(log_stderr(stderr, log.clone()));
        tokio::spawn(watch_exit(
            child,
            pid,
            stop.clone(),
            exited.clone(),
            log.clone(),
        ));
        let output = ChildOutput {
            lines: LineReader::new(BufReader::new(stdout), max_line),
            log,
        };
        Ok((
            Self {
                pid,
                stdin: to_stdin,
                stop,
                exited,
            },
            output,
        ))
    }

    /// The operating-system process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes one message (one line) to the child's stdin.
    pub(crate) async fn send(&self, message: &Value) -> Result<(), ChildGone> {
        // Compact JSON has no raw newline, so one message is exactly one line.
        let line = serde_json::to_vec(message).map_err(|_| ChildGone)?;
        self.stdin.send(line).await.map_err(|_| ChildGone)
    }

    /// Asks the child to end (stdin closed, then SIGTERM, then SIGKILL); returns at once.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until the child has exited and been reaped.
    pub(crate) async fn exited(&self) {
        self.exited.cancelled().await;
    }
}

impl ChildOutput {
    /// The next message from the child; `None` when its stdout closes (it exited).
    pub(crate) async fn next(&mut self) -> Option<Value> {
        loop {
            match self.lines.next_line().await {
                Ok(None) | Err(_) => return None,
                Ok(Some(Line::TooLong(bytes))) => tracing::error!(
                    session = %self.log.session, subject = %escaped(&self.log.subject), bytes,
                    "the wrapped server wrote a message over --max-message-bytes; dropped it"
                ),
                Ok(Some(Line::Text(line))) if line.iter().all(u8::is_ascii_whitespace) => {}
                Ok(Some(Line::Text(line))) => match serde_json::from_slice::<Value>(&line) {
                    Ok(message) => return Some(message),
                    Err(error) => tracing::warn!(
                        session = %self.log.session, subject = %escaped(&self.log.subject), %error,
                        line = %escaped(&String::from_utf8_lossy(&line[..line.len().min(200)])),
                        "the wrapped server wrote a line to stdout that is not JSON; skipped it"
                    ),
                },
            }
        }
    }
}

/// The child's command: piped stdio, its own process group, only the listed environment.
fn build(command: &ChildCommand) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&command.executable);
    cmd.args(&command.args)
        .env_clear()
        .envs(command.environment.variables())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.arg0(&command.program).process_group(0);
    cmd
}

async fn write_stdin(
    mut stdin: ChildStdin,
    mut messages: mpsc::Receiver<Vec<u8>>,
    stop: CancellationToken,
) {
    loop {
        let line = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            line = messages.recv() => match line {
                Some(line) => line,
                None => break,
            },
        };
        let written = async {
            stdin.write_all(&line).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        };
        if written.await.is_err() {
            break;
        }
    }
    // Dropping stdin closes it: the first step of the stdio shutdown sequence.
}

async fn log_stderr(stderr: tokio::process::ChildStderr, log: LogContext) {
    let mut lines = LineReader::new(BufReader::new(stderr), MAX_STDERR_LINE);
    while let Ok(Some(line)) = lines.next_line().await {
        match line {
            // In a quoted field, not the message: the child writes what it likes.
            Line::Text(text) => tracing::info!(
                session = %log.session, subject = %escaped(&log.subject),
                stderr = %escaped(&String::from_utf8_lossy(&text)),
                "wrapped server wrote to stderr"
            ),
            Line::TooLong(bytes) => tracing::info!(
                session = %log.session, subject = %escaped(&log.subject),
                "wrapped server: ({bytes} bytes of stderr in one line, not shown)"
            ),
        }
    }
}

/// Kills the child's process group when dropped before the group was ended on purpose.
struct GroupGuard {
    pgid: u32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, Signal::Kill);
        }
    }
}

async fn watch_exit(
    mut child: tokio::process::Child,
    pid: u32,
    stop: CancellationToken,
    exited: CancellationToken,
    log: LogContext,
) {
    let mut guard = GroupGuard {
        pgid: pid,
        armed: true,
    };
    let (status, signalled) = tokio::select! {
        biased;
        status = child.wait() => (status.ok(), "none"),
        () = stop.cancelled() => end_gracefully(&mut child, pid).await,
    };
    tracing::info!(
        session = %log.session, subject = %escaped(&log.subject), pid,
        status = %describe(status), signalled,
        "wrapped server process ended"
    );
    // Whatever the child left behind in its group (grandchildren) goes with it.
    signal_group(pid, Signal::Kill);
    guard.armed = false;
    exited.cancel();
}

/// stdin is already closing (the writer stops on the same token); then SIGTERM, then SIGKILL.
/// Returns the exit status and the last signal the wrapper had to send.
async fn end_gracefully(
    child: &mut tokio::process::Child,
    pid: u32,
) -> (Option<ExitStatus>, &'static str) {
    if let Ok(status) = tokio::time::timeout(STOP_GRACE, child.wait()).await {
        return (status.ok(), "none");
    }
    signal_group(pid, Signal::Term);
    if let Ok(status) = tokio::time::timeout(STOP_GRACE, child.wait()).await {
        return (status.ok(), "SIGTERM");
    }
    signal_group(pid, Signal::Kill);
    let _ = child.start_kill();
    (child.wait().await.ok(), "SIGKILL")
}

fn describe(status: Option<ExitStatus>) -> String {
    status.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Sends a signal to a whole process group (the child was made its leader).
fn signal_group(pgid: u32, signal: Signal) {
    #[cfg(unix)]
    {
        let Ok(pgid) = libc::pid_t::try_from(pgid) else {
            return;
        };
        if pgid <= 1 {
            return;
        }
        let signal = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: killpg only sends a signal; a group that no longer exists gives ESRCH.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
    #[cfg(not(unix))]
    let _ = (pgid, signal);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log() -> LogContext {
        LogContext {
            session: "s".into(),
            subject: "u".into(),
        }
    }

    fn command(argv: &[&str]) -> ChildCommand {
        command_with(argv, &[])
    }

    fn command_with(argv: &[&str], env: &[&str]) -> ChildCommand {
        let env: Vec<String> = env.iter().map(|e| (*e).to_owned()).collect();
        let (environment, _) = ChildEnvironment::from_flags(&env, |n| std::env::var_os(n)).unwrap();
        ChildCommand::new(argv.iter().map(OsString::from).collect(), environment).unwrap()
    }

    fn alive(pid: u32) -> bool {
        // A zombie still has a /proc entry; its state letter is Z.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    }

    #[test]
    fn commands_must_exist() {
        let env = ChildEnvironment::default;
        assert!(matches!(
            ChildCommand::new(vec![], env()),
            Err(CommandError::Empty)
        ));
        let err = ChildCommand::new(vec!["no-such-program-okta-mcp".into()], env()).unwrap_err();
        assert!(
            err.to_string().contains("no-such-program-okta-mcp"),
            "{err}"
        );
        assert!(ChildCommand::new(vec!["/no/such/file".into()], env()).is_err());
        assert_eq!(command(&["sh", "-c", "true"]).display(), "sh -c true");
    }

    #[tokio::test]
    async fn messages_go_both_ways_and_junk_is_skipped() {
        // A child that echoes stdin to stdout, after one non-JSON line and one over the limit.
        let script = "echo not-json; head -c 300 /dev/zero | tr '\\0' x; echo; cat";
        let (child, mut output) =
            ChildProcess::spawn(&command(&["sh", "-c", script]), 100, log()).unwrap();
        child
            .send(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .await
            .unwrap();
        let echoed = output.next().await.unwrap();
        assert_eq!(echoed["method"], "ping");
        child.stop();
        assert_eq!(output.next().await, None);
        tokio::time::timeout(Duration::from_secs(10), child.exited())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn stop_ends_the_whole_process_group_even_when_sigterm_is_ignored() {
        // The shell ignores SIGTERM and stdin EOF; its grandchild sleeps.
        let script = "trap '' TERM; sleep 300 & echo $!; while true; do sleep 1; done";
        let (child, mut output) =
            ChildProcess::spawn(&command(&["sh", "-c", script]), 100, log()).unwrap();
        let grandchild = output.next().await.unwrap().as_u64().unwrap() as u32;
        assert!(alive(child.pid()) && alive(grandchild));
        child.stop();
        tokio::time::timeout(Duration::from_secs(15), child.exited())
            .await
            .unwrap();
        for _ in 0..50 {
            if !alive(grandchild) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive(child.pid()), "child still alive");
        assert!(!alive(grandchild), "grandchild still alive");
    }

    #[tokio::test]
    async fn the_child_gets_only_its_environment() {
        // A variable of this test process that is not on the list (cargo sets several).
        let unlisted = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .find(|name| {
                !name.is_empty()
                    && !["PATH", "HOME", "LANG", "PWD", "SHLVL", "_"].contains(&name.as_str())
            })
            .expect("the test process has some variable");
        let script = r#"printf '{"names": "%s"}\n' "$(env | cut -d= -f1 | sort | tr '\n' ' ')""#;
        let listed = command_with(&["sh", "-c", script], &["OKTA_MCP_UNIT_SET=1"]);
        let (child, mut output) = ChildProcess::spawn(&listed, 1000, log()).unwrap();
        let seen = output.next().await.unwrap();
        let names: Vec<&str> = seen["names"].as_str().unwrap().split_whitespace().collect();
        assert!(names.contains(&"OKTA_MCP_UNIT_SET"), "{names:?}");
        assert!(names.contains(&"PATH"), "{names:?}");
        assert!(
            !names.contains(&unlisted.as_str()),
            "{unlisted} in {names:?}"
        );
        child.stop();
        tokio::time::timeout(Duration::from_secs(10), child.exited())
            .await
            .unwrap();
    }
}
