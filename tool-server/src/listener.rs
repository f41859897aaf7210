//! Accepting connections: HTTP/1.1 with a deadline for every request head and for idle
//! keep-alive connections.
//!
//! axum's own `serve` keeps a connection for as long as the client likes, so a client that
//! connects and says nothing, sends its header a byte at a time, or leaves a kept-alive
//! connection idle holds a socket and a task forever (slowloris). Here every connection has a
//! clock, kept by the connection's own task:
//! - a request head must be complete within [`ConnectionLimits::header`] of the connection being
//!   accepted, or of the first byte of a later request arriving;
//! - between requests (the last response finished, no new byte read) the connection may stay
//!   idle for [`ConnectionLimits::keep_alive`], long enough that the proxy's pooled connections
//!   are rarely closed under it;
//! - while a request is served (until its response body ends: an SSE stream of `wrap` lasts as
//!   long as the client keeps it) there is no deadline; the handlers bound their own work.
//!
//! A connection past its deadline is closed without an answer. HTTP/1.1 only: the proxy speaks
//! it to us, and HTTP/2's streams would need deadlines of their own.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long a connection may take over a request head, and stay idle between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From accept, or from a request's first byte, until its head is complete.
    pub header: Duration,
    /// With no request in progress, after the last response ended.
    pub keep_alive: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(10),
            keep_alive: Duration::from_secs(90),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets every connection finish its
/// request in progress (new requests are refused) and returns when all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // An SSE answer is written in small pieces; without this each would wait for the
        // peer's delayed ACK (about 40 ms).
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        tokio::spawn(connection(tcp, app.clone(), limits, stop_rx.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    // Every connection task holds a receiver: this returns when the last one ends.
    stop_tx.closed().await;
}

/// After a failed accept: go on at once after a connection-level error, else (out of file
/// descriptors, say) wait a moment instead of spinning.
async fn accept_failed(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(250)).await;
}

/// One connection: hyper serves it while its clock runs alongside.
async fn connection(
    tcp: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: tcp,
        activity: activity.clone(),
    });
    let tracker = activity.clone();
    let app = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(&tracker);
        let answer = app.call(request);
        async move {
            let response = match answer.await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|body| TrackedBody {
                body,
                _in_flight: in_flight,
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
            why = activity.overdue(limits) => {
                tracing::debug!(why, "closed a connection");
                return;
            }
        }
    }
}

/// What a connection is doing, shared by its socket, its requests and its clock.
struct Activity {
    started: Instant,
    /// Requests whose response has not ended.
    in_flight: AtomicU32,
    /// Milliseconds since `started`, plus one, when the head being read began; 0 when none is.
    head_since: AtomicU64,
    /// Milliseconds since `started` when the last response ended.
    idle_since: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicU32::new(0),
            // The first request's head is due from accept on.
            head_since: AtomicU64::new(1),
            idle_since: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Bytes arrived: with no request in progress, they start a request head.
    fn read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Acquire) == 0
        {
            self.head_since.store(self.now_ms() + 1, Ordering::Release);
        }
    }

    /// The first deadline that applies now, and what it is for.
    fn deadline(&self, limits: ConnectionLimits) -> Option<(u64, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match self.head_since.load(Ordering::Acquire) {
            0 => Some((
                self.idle_since
                    .load(Ordering::Acquire)
                    .saturating_add(ms(limits.keep_alive)),
                "idle past the keep-alive time",
            )),
            since => Some((
                (since - 1).saturating_add(ms(limits.header)),
                "no complete request head within the header timeout",
            )),
        }
    }

    /// Completes when the connection is past its deadline; says which one.
    async fn overdue(&self, limits: ConnectionLimits) -> &'static str {
        loop {
            let now = self.now_ms();
            match self.deadline(limits) {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => tokio::time::sleep(Duration::from_millis(at - now)).await,
                // Serving: look again later (a long SSE stream costs one wake-up per period).
                None => tokio::time::sleep(limits.header.max(Duration::from_secs(1))).await,
            }
        }
    }
}

/// A request being served, from its head until its response body is dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.head_since.store(0, Ordering::Release);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .idle_since
            .store(activity.now_ms(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that ends its request's [`InFlight`] when hyper is done with it.
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the connection's clock when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header: Duration::from_secs(10),
            keep_alive: Duration::from_secs(90),
        }
    }

    #[test]
    fn the_clock_follows_the_connection() {
        let activity = Arc::new(Activity::new());
        // Accepted: the first head is due within the header timeout.
        assert_eq!(activity.deadline(limits()).map(|d| d.0), Some(10_000));
        // Serving: no deadline, whatever is read meanwhile (a request body).
        let request = InFlight::begin(&activity);
        activity.read();
        assert_eq!(activity.deadline(limits()), None);
        // Answered: idle, due at the keep-alive time.
        drop(request);
        let (at, why) = activity.deadline(limits()).unwrap();
        assert!((90_000..91_000).contains(&at), "{at}");
        assert!(why.contains("keep-alive"));
        // A byte of the next request: its head is due within the header timeout.
        activity.read();
        let (at, why) = activity.deadline(limits()).unwrap();
        assert!((10_000..11_000).contains(&at), "{at}");
        assert!(why.contains("header"));
    }
}
