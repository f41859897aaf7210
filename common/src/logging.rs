//! Log output: lines to stderr, written by a background thread.
//!
//! Formatting stays on the thread that logs, but the `write(2)` does not: each line goes into a
//! bounded queue, and one writer thread empties it into a buffered stderr, flushing whenever the
//! queue runs dry. So a request never waits on the terminal, a pipe or the container runtime's
//! log reader, and threads no longer contend for stderr's lock. No line is ever dropped: when the
//! queue is full (whoever reads stderr is slower than we log), logging waits for room. At exit,
//! [`LogGuard::flush`] waits until every queued line is written (up to [`FLUSH_LIMIT`], for a
//! reader that has stopped reading altogether).

use std::io::{BufWriter, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait in the queue before logging blocks.
const QUEUED_LINES: usize = 64 * 1024;
/// The writer thread's buffer in front of stderr.
const BUFFER_BYTES: usize = 64 * 1024;
/// How long [`LogGuard::flush`] waits for the queue to be written out: Kubernetes' default
/// grace period between SIGTERM and SIGKILL.
pub const FLUSH_LIMIT: Duration = Duration::from_secs(30);

enum Message {
    Line(Vec<u8>),
    /// Write out everything before this, then answer.
    Flush(SyncSender<()>),
}

/// The sending end of the queue, as the `tracing` formatter's writer.
#[derive(Clone)]
pub struct QueuedWriter {
    queue: SyncSender<Message>,
}

/// One event's writer: each `write` is one formatted line (the formatter writes a whole event
/// at once).
pub struct LineWriter<'a> {
    queue: &'a SyncSender<Message>,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.queue
            .send(Message::Line(buf.to_vec()))
            .map_err(|_| std::io::Error::other("the log writer has stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for QueuedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { queue: &self.queue }
    }
}

/// Keeps the writer thread's queue open; [`flush`](Self::flush) (or dropping the guard) writes
/// out every queued line.
#[must_use = "keep the guard until main returns, then flush it"]
pub struct LogGuard {
    queue: SyncSender<Message>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogGuard")
    }
}

impl LogGuard {
    /// Waits until every line queued so far is written (at most [`FLUSH_LIMIT`]).
    pub fn flush(self) {
        drop(self);
    }

    fn wait_written(&self) {
        let (done, written) = sync_channel(1);
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = written.recv_timeout(FLUSH_LIMIT);
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.wait_written();
    }
}

/// A queue and the thread that writes it to `out`.
pub fn queued(out: impl Write + Send + 'static) -> std::io::Result<(QueuedWriter, LogGuard)> {
    let (queue, lines) = sync_channel(QUEUED_LINES);
    std::thread::Builder::new()
        .name("okta-mcp-log".into())
        .spawn(move || write_lines(&lines, BufWriter::with_capacity(BUFFER_BYTES, out)))?;
    Ok((
        QueuedWriter {
            queue: queue.clone(),
        },
        LogGuard { queue },
    ))
}

fn write_lines(lines: &Receiver<Message>, mut out: impl Write) {
    // Ends when every sender is gone; until then, each batch is flushed when the queue is empty.
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                // A line that cannot be written has nowhere else to go.
                Message::Line(line) => drop(out.write_all(&line)),
                Message::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            next = lines.try_recv().ok();
        }
        let _ = out.flush();
    }
}

/// The filter for `LOG_LEVEL` (a level like `debug`, or `tracing` directives); `info` when
/// unset or not understood.
pub fn filter_from(level: Option<&str>) -> EnvFilter {
    let level = level.unwrap_or("info").to_lowercase();
    EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Sends this process's logs (at `LOG_LEVEL`, default `info`) to stderr through the writer
/// thread. Call once, first thing in `main`, keep the guard and flush it at the end.
pub fn init() -> LogGuard {
    let (writer, guard) = match queued(std::io::stderr()) {
        Ok(queued) => queued,
        Err(error) => {
            // No thread for it: log straight to stderr as before rather than not at all.
            eprintln!("cannot start the log writer thread ({error}); logging directly");
            let (writer, guard) = direct();
            tracing_subscriber::fmt()
                .with_env_filter(filter_from(std::env::var("LOG_LEVEL").ok().as_deref()))
                .with_writer(writer)
                .with_ansi(false)
                .init();
            return guard;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter_from(std::env::var("LOG_LEVEL").ok().as_deref()))
        .with_writer(writer)
        .with_ansi(false)
        .init();
    guard
}

/// Stand-ins for when no thread can be started: stderr itself, and a guard with nothing to do.
fn direct() -> (fn() -> std::io::Stderr, LogGuard) {
    let (queue, lines) = sync_channel(1);
    // Nobody writes this queue's lines; answer flushes right away.
    std::mem::forget(lines);
    (std::io::stderr, LogGuard { queue })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    /// A writer into shared memory that can be made to stall.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        stalled: Arc<AtomicBool>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            while self.stalled.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_flush_returns() {
        let sink = Sink::default();
        let (writer, guard) = queued(sink.clone()).unwrap();
        // The reader stalls while lines are logged: they wait in the queue.
        sink.stalled.store(true, Ordering::Release);
        for i in 0..10_000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let stalled = sink.stalled.clone();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            stalled.store(false, Ordering::Release);
        });
        guard.flush();
        let text = String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10_000);
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| *l == format!("line {i}"))
        );
        release.join().unwrap();
    }
}
