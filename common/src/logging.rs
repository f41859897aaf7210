//! Log output: lines to stderr, written by a background thread.
//!
//! Formatting stays on the thread that logs, but the `write(2)` does not: each line goes into a
//! bounded in-memory queue, and one writer thread empties it into a buffered stderr, flushing
//! whenever the queue runs dry. So a request never waits on the terminal, a pipe or the
//! container runtime's log reader, and threads do not contend for stderr's lock. The queue
//! never drops a line: when it is full (the reader of stderr is slower than we log), logging
//! waits for room. [`LogGuard`] flushes everything still queued when it is dropped, so `main`
//! keeps it until the very end.

use std::io::BufWriter;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines that may wait in the queue before logging blocks.
const QUEUED_LINES: usize = 64 * 1024;
/// The writer thread's buffer in front of stderr.
const BUFFER_BYTES: usize = 64 * 1024;

/// Keeps the writer thread; dropping it writes out every queued line.
#[must_use = "dropping the guard stops the log writer; keep it until main returns"]
pub struct LogGuard {
    _writer: WorkerGuard,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogGuard")
    }
}

impl LogGuard {
    /// Writes out every queued line now and stops the writer (as dropping the guard does).
    pub fn flush(self) {
        drop(self);
    }
}

/// The filter for `LOG_LEVEL` (a level like `debug`, or `tracing` directives); `info` when
/// unset or not understood.
pub fn filter_from(level: Option<&str>) -> EnvFilter {
    let level = level.unwrap_or("info").to_lowercase();
    EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Sends this process's logs (at `LOG_LEVEL`, default `info`) to stderr through the writer
/// thread. Call once, first thing in `main`, and keep the guard.
pub fn init() -> LogGuard {
    let level = std::env::var("LOG_LEVEL").ok();
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("okta-mcp-log")
        // The writer thread flushes the buffer each time the queue runs dry.
        .finish(BufWriter::with_capacity(BUFFER_BYTES, std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(filter_from(level.as_deref()))
        .with_writer(writer)
        .with_ansi(false)
        .init();
    LogGuard { _writer: guard }
}
