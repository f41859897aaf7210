//! Deadlines for reading requests, so that a slow client cannot hold a connection (and its
//! memory) for ever.
//!
//! pingora bounds each read from a client (60 s), never a whole request: a client that sends
//! one header byte every 59 s keeps its connection as long as it likes, and between requests
//! on a kept-alive connection pingora waits without any limit. A few thousand such clients
//! exhaust the proxy. So, per connection:
//!
//! - **header**: a request's header must be complete within [`ReadDeadlines::header`] from the
//!   connection (first request) or from the request's first byte (later ones);
//! - **idle**: a kept-alive connection waits at most [`ReadDeadlines::idle`] for the next request;
//! - **body**: a request's body must be complete within [`ReadDeadlines::body`] from the end of
//!   its header (408 otherwise).
//!
//! The first two are kept at the connection, the only place that sees a header arrive:
//! [`service`] wraps pingora's proxy in a `ServerApp` that wraps each accepted stream (plain or
//! TLS) in a [`DeadlineStream`], whose reads fail with `TimedOut` once its deadline has passed.
//! The edge tells the stream where a request stands, [`header_read`] after the header and
//! [`request_done`] at the end, so that only reading a header or waiting for one is bounded:
//! while a request is served, reads are not (pingora keeps reading an SSE client to notice it
//! going away, for as long as the stream lasts). The body deadline is the edge's, which knows
//! where a body ends: our endpoints read theirs under one timeout, and for `/mcp` pingora's
//! per-read timeout is lowered to the time left, checked again at every chunk.
//!
//! Cost: one timer per connection, reset once per request; a read while a request is served
//! costs one atomic load. A TLS handshake is bounded by pingora itself (60 s, in total).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    ALPN, GetProxyDigest, GetSocketDigest, GetTimingDigest, IO, Peek, Shutdown, SocketDigest, Ssl,
    Stream, TimingDigest, UniqueID, UniqueIDType,
};
use pingora::proxy::Session;
use pingora::server::ShutdownWatch;
use pingora::services::listening::Service;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long reading a request may take (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct ReadDeadlines {
    /// A whole request header, from the connection or from the request's first byte.
    pub header: Duration,
    /// A whole request body, from the end of its header.
    pub body: Duration,
    /// Waiting for the next request on a kept-alive connection.
    pub idle: Duration,
}

/// A pingora service for `app` (our proxy) whose connections keep `deadlines`.
pub fn service<A>(name: &str, app: A, deadlines: ReadDeadlines) -> Service<WithDeadlines<A>>
where
    A: ServerApp + Send + Sync + 'static,
{
    Service::new(
        name.to_owned(),
        WithDeadlines {
            app: Arc::new(app),
            deadlines,
        },
    )
}

/// A `ServerApp` that hands `app` each connection wrapped in a [`DeadlineStream`].
pub struct WithDeadlines<A> {
    app: Arc<A>,
    deadlines: ReadDeadlines,
}

#[async_trait]
impl<A> ServerApp for WithDeadlines<A>
where
    A: ServerApp + Send + Sync + 'static,
{
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // The deadlines follow HTTP/1's one request at a time. HTTP/2 (not offered today)
        // multiplexes requests on a connection and has its own idle timeout.
        if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            return self.app.process_new(stream, shutdown).await;
        }
        let stream = DeadlineStream::new(stream, self.deadlines);
        self.app.process_new(Box::new(stream), shutdown).await
    }

    async fn cleanup(&self) {
        self.app.cleanup().await;
    }
}

/// Marks the end of `session`'s request header: reads are no longer bounded by a header
/// deadline (the body has its own, kept by the edge).
pub fn header_read(session: &Session) {
    if let Some(stream) = deadline_stream(session) {
        stream.clock.set(NO_DEADLINE, false);
    }
}

/// Marks the end of `session`'s request: the connection may wait `idle` for the next one.
pub fn request_done(session: &Session) {
    if let Some(stream) = deadline_stream(session) {
        stream
            .clock
            .set(stream.clock.after(stream.deadlines.idle), true);
    }
}

/// The [`DeadlineStream`] under `session`, if it has one (HTTP/1: every connection of
/// [`service`]).
fn deadline_stream(session: &Session) -> Option<&DeadlineStream> {
    let stream: &dyn IO = &**session.stream()?;
    stream.as_any().downcast_ref::<DeadlineStream>()
}

/// "No deadline" in [`Clock::deadline`].
const NO_DEADLINE: u64 = u64::MAX;

/// A connection's current read deadline, set by the edge through a shared reference.
#[derive(Debug)]
struct Clock {
    /// When the connection was accepted; deadlines count from here.
    start: Instant,
    /// Nanoseconds after `start`, or [`NO_DEADLINE`].
    deadline: AtomicU64,
    /// Between requests: the next byte starts a header, with the header deadline from then.
    idle: AtomicBool,
}

impl Clock {
    fn set(&self, deadline: u64, idle: bool) {
        self.idle.store(idle, Ordering::Relaxed);
        self.deadline.store(deadline, Ordering::Relaxed);
    }

    /// The deadline `wait` from now.
    fn after(&self, wait: Duration) -> u64 {
        let at = self.start.elapsed().saturating_add(wait);
        u64::try_from(at.as_nanos()).unwrap_or(NO_DEADLINE - 1)
    }
}

/// A client connection whose reads fail with `TimedOut` once its deadline has passed; see
/// the module documentation for who sets the deadline.
#[derive(Debug)]
pub struct DeadlineStream {
    inner: Stream,
    deadlines: ReadDeadlines,
    clock: Clock,
    /// Fires at the deadline, to wake a read that waits for bytes.
    timer: Pin<Box<Sleep>>,
    /// The deadline `timer` is set to, in [`Clock::deadline`]'s unit.
    timer_set_to: u64,
}

impl DeadlineStream {
    /// `inner`, accepted now: its first request header is due within `deadlines.header`.
    pub fn new(inner: Stream, deadlines: ReadDeadlines) -> Self {
        let start = Instant::now();
        let first = u64::try_from(deadlines.header.as_nanos()).unwrap_or(NO_DEADLINE - 1);
        Self {
            inner,
            deadlines,
            clock: Clock {
                start,
                deadline: AtomicU64::new(first),
                idle: AtomicBool::new(false),
            },
            timer: Box::pin(tokio::time::sleep_until(start + deadlines.header)),
            timer_set_to: first,
        }
    }
}

fn timed_out(idle: bool) -> std::io::Error {
    let what = if idle {
        "the connection was idle too long"
    } else {
        "the request header took too long"
    };
    std::io::Error::new(std::io::ErrorKind::TimedOut, what)
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let deadline = this.clock.deadline.load(Ordering::Relaxed);
        if deadline == NO_DEADLINE {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if deadline != this.timer_set_to {
            this.timer_set_to = deadline;
            let at = this.clock.start + Duration::from_nanos(deadline);
            this.timer.as_mut().reset(at);
        }
        let idle = this.clock.idle.load(Ordering::Relaxed);
        if this.timer.is_elapsed() {
            return Poll::Ready(Err(timed_out(idle)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if idle && buf.filled().len() > before {
                    // The next request has begun: its header is due within `header`.
                    let due = this.clock.after(this.deadlines.header);
                    this.clock.set(due, false);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(timed_out(idle))),
                Poll::Pending => Poll::Pending,
            },
            error => error,
        }
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for DeadlineStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }
}

impl UniqueID for DeadlineStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for DeadlineStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for DeadlineStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for DeadlineStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for DeadlineStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for DeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const DEADLINES: ReadDeadlines = ReadDeadlines {
        header: Duration::from_millis(300),
        body: Duration::from_millis(900),
        idle: Duration::from_millis(600),
    };
    /// How late a deadline may fire on a busy machine.
    const LATE: Duration = Duration::from_millis(400);

    /// A connected pair: the server's end wrapped, the client's end plain.
    async fn pair() -> (DeadlineStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let server = pingora::protocols::l4::stream::Stream::from(server);
        (DeadlineStream::new(Box::new(server), DEADLINES), client)
    }

    /// Reads until the deadline fails the read; how long that took from `since`.
    async fn times_out(server: &mut DeadlineStream, since: Instant) -> Duration {
        let mut buf = [0u8; 16];
        let error = server.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        since.elapsed()
    }

    #[tokio::test]
    async fn a_header_is_due_from_the_connection_then_reads_are_free() {
        let (mut server, mut client) = pair().await;
        let mut buf = [0u8; 16];
        client.write_all(b"GET").await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 3);
        let accepted = server.clock.start;
        let took = times_out(&mut server, accepted).await;
        assert!(
            took >= DEADLINES.header && took < DEADLINES.header + LATE,
            "{took:?}"
        );

        // Once the header is read, a read waits as long as it takes.
        let (mut server, mut client) = pair().await;
        server.clock.set(NO_DEADLINE, false);
        let read = tokio::time::timeout(DEADLINES.idle * 2, server.read(&mut buf)).await;
        assert!(read.is_err(), "the read ended: {read:?}");
        client.write_all(b"x").await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn between_requests_the_idle_timeout_then_the_header_deadline_from_the_first_byte() {
        let (mut server, mut client) = pair().await;
        let mut buf = [0u8; 16];
        server.clock.set(server.clock.after(DEADLINES.idle), true);
        tokio::time::sleep(DEADLINES.idle / 2).await;
        client.write_all(b"G").await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 1);
        // The header deadline now runs from that byte, not from the idle deadline.
        let took = times_out(&mut server, Instant::now()).await;
        assert!(
            took >= DEADLINES.header - Duration::from_millis(50),
            "{took:?}"
        );
        assert!(took < DEADLINES.header + LATE, "{took:?}");

        // Idle with nothing sent: closed at the idle timeout.
        let (mut server, _client) = pair().await;
        server.clock.set(server.clock.after(DEADLINES.idle), true);
        let took = times_out(&mut server, Instant::now()).await;
        assert!(
            took >= DEADLINES.idle - Duration::from_millis(50),
            "{took:?}"
        );
        assert!(took < DEADLINES.idle + LATE, "{took:?}");
    }
}
