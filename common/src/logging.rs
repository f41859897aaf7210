//! Log output: lines to stderr, written by a background thread.
//!
//! Formatting stays on the thread that logs, but the `write(2)` does not: each line is appended
//! to a shared in-memory buffer, and a writer thread writes the buffer to stderr
//! [`WRITE_INTERVAL`] after the first line of a batch arrived. So a request never waits on the
//! terminal, a pipe or the container runtime's log reader, there is no system call per line
//! (one wake-up per batch at most), threads no longer contend for stderr's lock, and while
//! nothing is logged the writer thread sleeps: an idle process costs no CPU. No line is ever
//! dropped: when the buffer reaches [`BUFFER_LIMIT`] (whoever reads stderr is slower than we
//! log), the thread that logs writes it out itself and so waits. Lines keep their order: the
//! buffer is only ever taken, and written, under one lock on the output. At exit,
//! [`LogGuard::flush`] writes out whatever is left.
//!
//! One event is one line, whatever it carries: values from outside (tool names, subjects,
//! emails, a wrapped server's stderr) are logged through [`escaped`], which quotes anything that
//! is not a single plain token, and the writer turns any line break left inside an event into
//! `\n`, so no input can start a line of its own or add a field that looks like ours.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::prelude::*;

/// How often the writer thread writes what was logged since.
pub const WRITE_INTERVAL: Duration = Duration::from_millis(10);
/// Bytes the buffer may hold before the logging thread writes them out itself.
pub const BUFFER_LIMIT: usize = 1024 * 1024;

type Output = Box<dyn Write + Send>;

/// Lines logged and not yet written.
struct Pending {
    lines: Vec<u8>,
    /// The writer thread waits for a line (on [`Shared::logged`]): the next line wakes it.
    writer_waits: bool,
}

/// The buffer and the output it goes to.
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when a line arrives while the writer thread waits, and when logging stops.
    logged: Condvar,
    /// The output, and a spare buffer to swap in (so no buffer is allocated per batch). Whoever
    /// writes takes this lock first, then takes `pending` whole: batches go out in order.
    output: Mutex<(Output, Vec<u8>)>,
    stopped: AtomicBool,
    /// How many batches the writer thread has woken up for.
    rounds: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn new(out: impl Write + Send + 'static, stopped: bool) -> Arc<Self> {
        Arc::new(Shared {
            pending: Mutex::new(Pending {
                lines: Vec::with_capacity(64 * 1024),
                writer_waits: false,
            }),
            logged: Condvar::new(),
            output: Mutex::new((Box::new(out), Vec::with_capacity(64 * 1024))),
            stopped: AtomicBool::new(stopped),
            rounds: AtomicUsize::new(0),
        })
    }

    /// The writer thread: waits for a line, lets [`WRITE_INTERVAL`] gather more, writes them
    /// all; until logging stops. Asleep while nothing is logged.
    fn write_batches(&self) {
        loop {
            {
                let mut pending = lock(&self.pending);
                while pending.lines.is_empty() && !self.stopped.load(Ordering::Acquire) {
                    pending.writer_waits = true;
                    pending = self
                        .logged
                        .wait(pending)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                pending.writer_waits = false;
            }
            if self.stopped.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(WRITE_INTERVAL);
            self.rounds.fetch_add(1, Ordering::Release);
            self.write_pending();
        }
    }

    /// The formatter's writer and the guard, over one buffer.
    fn handles(shared: Arc<Self>) -> (BufferedWriter, LogGuard) {
        (
            BufferedWriter {
                shared: shared.clone(),
            },
            LogGuard {
                shared,
                traces: None,
            },
        )
    }

    /// Writes out everything logged so far.
    fn write_pending(&self) {
        let mut output = lock(&self.output);
        let (out, spare) = &mut *output;
        {
            let mut pending = lock(&self.pending);
            if pending.lines.is_empty() {
                return;
            }
            std::mem::swap(&mut pending.lines, spare);
        }
        // A line that cannot be written has nowhere else to go.
        let _ = out.write_all(spare);
        let _ = out.flush();
        spare.clear();
        if spare.capacity() > BUFFER_LIMIT * 2 {
            spare.shrink_to(BUFFER_LIMIT);
        }
    }

    fn append(&self, line: &[u8]) {
        let full = {
            let mut pending = lock(&self.pending);
            pending.lines.extend_from_slice(line);
            // One wake-up per batch: only the first line after the writer went to wait.
            if std::mem::take(&mut pending.writer_waits) {
                self.logged.notify_one();
            }
            pending.lines.len() >= BUFFER_LIMIT
        };
        if full || self.stopped.load(Ordering::Acquire) {
            self.write_pending();
        }
    }
}

/// The `tracing` formatter's writer: appends to the shared buffer.
#[derive(Clone)]
pub struct BufferedWriter {
    shared: Arc<Shared>,
}

/// One event's writer (the formatter writes a whole event with one `write`).
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        if body.contains(&b'\n') || body.contains(&b'\r') {
            self.shared.append(&one_line(body));
        } else {
            self.shared.append(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `event` with every line break inside it written as `\n` / `\r`, and one newline at the end.
fn one_line(event: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(event.len() + 16);
    for &b in event {
        match b {
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            _ => line.push(b),
        }
    }
    line.push(b'\n');
    line
}

/// A value from outside (a tool name, a subject, an email, a line a child wrote) as a log field:
/// as it is when it is one plain token (letters, digits, `-_.:/@+`), else quoted and escaped as
/// Rust's `Debug` does (`"x\naudit forged=1"`), so it can neither break the line nor look like
/// more fields. Use it with `%`: `tool = %escaped(&tool)`.
pub fn escaped(value: &str) -> Escaped<'_> {
    Escaped(value)
}

/// See [`escaped`].
pub struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plain = !self.0.is_empty()
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+".contains(&b));
        if plain {
            f.write_str(self.0)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

impl std::fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl<'a> MakeWriter<'a> for BufferedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

/// Keeps the log buffer; [`flush`](Self::flush) (or dropping the guard) writes out every
/// line logged so far, and lines logged after it are written right away.
#[must_use = "keep the guard until main returns, then flush it"]
pub struct LogGuard {
    shared: Arc<Shared>,
    /// The trace exporter, when traces are on: shut down (its last spans sent) at the end.
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogGuard")
    }
}

impl LogGuard {
    /// Writes out every line logged so far.
    pub fn flush(self) {
        drop(self);
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(traces) = self.traces.take() {
            let _ = traces.shutdown();
        }
        // From here on every line is written as it is logged: nothing is left behind.
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.write_pending();
        // The writer thread, if it waits, ends.
        let _pending = lock(&self.shared.pending);
        self.shared.logged.notify_all();
    }
}

/// A buffer written to `out` by a background thread, in batches [`WRITE_INTERVAL`] apart.
pub fn buffered(out: impl Write + Send + 'static) -> std::io::Result<(BufferedWriter, LogGuard)> {
    let shared = Shared::new(out, false);
    let writer = shared.clone();
    std::thread::Builder::new()
        .name("okta-mcp-log".into())
        .spawn(move || writer.write_batches())?;
    Ok(Shared::handles(shared))
}

/// Every line written to `out` as it is logged (as after a flush): for when no writer thread
/// can be started.
fn direct(out: impl Write + Send + 'static) -> (BufferedWriter, LogGuard) {
    Shared::handles(Shared::new(out, true))
}

/// What `info` means: our own lines at info, the MCP library's only from warn (at info it
/// writes two lines and a span per HTTP request, which said nothing an operator needs and cost
/// more than the request itself).
const INFO: &str = "info,rmcp=warn";

/// The filter for `LOG_LEVEL` (a level like `debug`, or `tracing` directives); `info` when
/// unset or not understood.
pub fn filter_from(level: Option<&str>) -> EnvFilter {
    let level = level.unwrap_or("info").trim().to_lowercase();
    let directives = if level == "info" { INFO } else { &level };
    EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new(INFO))
}

/// The most detail other crates may log, whatever `LOG_LEVEL` says.
///
/// Their `debug` and `trace` lines carry secrets: pingora logs every request's headers (bearer
/// tokens, session cookies, `Authorization: Basic` client credentials) and the raw buffer of a
/// malformed request, hyper and reqwest log Okta's codes and tokens, and the MCP library (rmcp)
/// logs every tool's arguments and results. So only our own crates (`okta_mcp*`) follow
/// `LOG_LEVEL` below `info`; the MCP library stays at `warn` even at `info`.
#[derive(Clone, Copy, Debug)]
pub struct DependencyCap;

impl DependencyCap {
    /// Whether a line from `target` at `level` may be written.
    pub fn allows(target: &str, level: &Level) -> bool {
        if target.starts_with("okta_mcp") {
            return true;
        }
        let most = if target == "rmcp" || target.starts_with("rmcp::") {
            Level::WARN
        } else {
            Level::INFO
        };
        // In `tracing`, a more detailed level compares greater.
        *level <= most
    }
}

impl<S> Filter<S> for DependencyCap {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        Self::allows(meta.target(), meta.level()) && meta.target() != crate::traces::TARGET
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // The spans made for traces are exported, never written as log context.
        if Self::allows(meta.target(), meta.level()) && meta.target() != crate::traces::TARGET {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}

/// Sends this process's logs (at `LOG_LEVEL`, default `info`, other crates capped by
/// [`DependencyCap`]) to stderr through the writer thread. Call once, first thing in `main`,
/// keep the guard and flush it at the end.
pub fn init() -> LogGuard {
    init_with_traces(None)
}

/// As [`init`], and exports traces as `service` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see
/// [`crate::traces`]); an exporter that cannot be built is reported and left off.
pub fn init_for(service: &'static str) -> LogGuard {
    match crate::traces::provider(service) {
        Ok(provider) => init_with_traces(provider.map(|p| (p, service))),
        Err(error) => {
            let guard = init();
            tracing::error!("traces stay off: {error}");
            guard
        }
    }
}

fn init_with_traces(
    traces: Option<(opentelemetry_sdk::trace::SdkTracerProvider, &'static str)>,
) -> LogGuard {
    let (writer, mut guard) = buffered(std::io::stderr()).unwrap_or_else(|error| {
        eprintln!("cannot start the log writer thread ({error}); logging directly");
        direct(std::io::stderr())
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_filter(DependencyCap);
    let mut filter = filter_from(std::env::var("LOG_LEVEL").ok().as_deref());
    // The spans to export pass whatever LOG_LEVEL says (no log line shows them).
    if traces.is_some()
        && let Ok(directive) = format!("{}=trace", crate::traces::TARGET).parse()
    {
        filter = filter.add_directive(directive);
    }
    let trace_layer = traces
        .as_ref()
        .map(|(provider, service)| crate::traces::layer(provider, service));
    // Also turns `log` records (pingora logs through `log`) into events, filtered the same way.
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .with(trace_layer)
        .init();
    // `init` set `log`'s level from the filter (debug at LOG_LEVEL=debug), but only
    // dependencies log through `log`, and `DependencyCap` refuses their lines below info: stop
    // them at the macros' level check instead of building records to refuse (pingora has
    // several debug lines per request).
    log::set_max_level(log::max_level().min(log::LevelFilter::Info));
    guard.traces = traces.map(|(provider, _)| provider);
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_crates_never_log_below_info_and_the_mcp_library_below_warn() {
        for target in [
            "okta_mcp_proxy",
            "okta_mcp_tool_server::okta",
            "okta_mcp_common",
        ] {
            assert!(DependencyCap::allows(target, &Level::TRACE), "{target}");
        }
        for target in [
            "pingora_proxy",
            "pingora_core::protocols",
            "hyper",
            "reqwest::connect",
            "access",
        ] {
            assert!(DependencyCap::allows(target, &Level::INFO), "{target}");
            assert!(!DependencyCap::allows(target, &Level::DEBUG), "{target}");
            assert!(!DependencyCap::allows(target, &Level::TRACE), "{target}");
        }
        assert!(DependencyCap::allows("rmcp::service", &Level::WARN));
        assert!(!DependencyCap::allows("rmcp::service", &Level::INFO));
        assert!(!DependencyCap::allows("rmcp", &Level::DEBUG));
        // A crate whose name merely starts with `rmcp` is capped like any other.
        assert!(DependencyCap::allows("rmcpx", &Level::INFO));
    }

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
    fn log_levels() {
        for (level, expected) in [
            (None, INFO),
            (Some("info"), INFO),
            (Some(" INFO "), INFO),
            (Some("debug"), "debug"),
            (
                Some("warn,okta_mcp_proxy=trace"),
                "warn,okta_mcp_proxy=trace",
            ),
            (Some("not a level=="), INFO),
        ] {
            assert_eq!(
                filter_from(level).to_string(),
                EnvFilter::new(expected).to_string(),
                "{level:?}"
            );
        }
    }

    #[test]
    fn the_writer_thread_sleeps_while_nothing_is_logged() {
        let sink = Sink::default();
        let (writer, guard) = buffered(sink.clone()).unwrap();
        let rounds = || guard.shared.rounds.load(Ordering::Acquire);
        // Idle: no wake-ups at all (an idle pod costs no CPU).
        std::thread::sleep(WRITE_INTERVAL * 20);
        assert_eq!(rounds(), 0);
        // A line wakes it once, and is written within an interval or so.
        writer.make_writer().write_all(b"one\n").unwrap();
        writer.make_writer().write_all(b"two\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.bytes.lock().unwrap().len() < 8 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.bytes.lock().unwrap().as_slice(), b"one\ntwo\n");
        std::thread::sleep(WRITE_INTERVAL * 20);
        assert_eq!(rounds(), 1, "one batch, then asleep again");
        guard.flush();
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_flush_returns() {
        let sink = Sink::default();
        let (writer, guard) = buffered(sink.clone()).unwrap();
        // The reader stalls while lines are logged: they wait in the buffer.
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

    #[test]
    fn lines_are_written_soon_and_in_order_from_many_threads() {
        let sink = Sink::default();
        let (writer, guard) = buffered(sink.clone()).unwrap();
        // More than the buffer holds, so logging threads also write batches themselves.
        let line = "x".repeat(200);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let writer = &writer;
                let line = &line;
                scope.spawn(move || {
                    for i in 0..5_000 {
                        writer
                            .make_writer()
                            .write_all(format!("{t} {i} {line}\n").as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        // Without a flush, the writer thread writes everything within a few intervals.
        let written = || {
            sink.bytes
                .lock()
                .unwrap()
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while written() < 20_000 && std::time::Instant::now() < deadline {
            std::thread::sleep(WRITE_INTERVAL);
        }
        let text = String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap();
        let mut next = [0usize; 4];
        for l in text.lines() {
            let mut parts = l.split(' ');
            let t: usize = parts.next().unwrap().parse().unwrap();
            let i: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(i, next[t], "thread {t}'s lines in order, none lost");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4]);
        guard.flush();
        // After the flush, a line is written as it is logged.
        writer.make_writer().write_all(b"late\n").unwrap();
        let text = String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("late\n"));
    }

    #[test]
    fn outside_values_are_plain_tokens_or_quoted() {
        for (value, shown) in [
            ("get_current_time", "get_current_time"),
            ("00u1a2b3c4", "00u1a2b3c4"),
            ("alice@example.com", "alice@example.com"),
            ("", r#""""#),
            ("x\naudit forged=1", r#""x\naudit forged=1""#),
            ("x decision=\"allow\"", r#""x decision=\"allow\"""#),
            ("zoë", r#""zoë""#),
            ("a\u{2028}b", r#""a\u{2028}b""#),
        ] {
            assert_eq!(escaped(value).to_string(), shown, "{value:?}");
        }
    }

    #[test]
    fn a_line_break_inside_an_event_stays_on_its_line() {
        let sink = Sink::default();
        let (writer, _guard) = direct(sink.clone());
        writer
            .make_writer()
            .write_all(b"INFO wrapped: x\naudit forged=1\r\n")
            .unwrap();
        writer.make_writer().write_all(b"INFO plain\n").unwrap();
        assert_eq!(
            String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap(),
            "INFO wrapped: x\\naudit forged=1\\r\nINFO plain\n"
        );
    }

    #[test]
    fn through_tracing_an_event_is_one_line() {
        let sink = Sink::default();
        let (writer, _guard) = direct(sink.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let tool = "x\naudit forged=1";
            tracing::info!(target: "audit", tool = %escaped(tool), "tools/call refused");
            tracing::info!("message from a library: {}", tool);
        });
        let text = String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains(r#"tool="x\naudit forged=1""#), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("audit")), "{text}");
    }

    #[test]
    fn without_a_writer_thread_each_line_is_written_as_it_is_logged() {
        let sink = Sink::default();
        let (writer, _guard) = direct(sink.clone());
        writer.make_writer().write_all(b"now\n").unwrap();
        assert_eq!(sink.bytes.lock().unwrap().as_slice(), b"now\n");
    }
}
