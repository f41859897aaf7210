//! Where each message from a child goes: the routing table of one session.
//!
//! Over stdio a server's messages carry no hint of which HTTP request they belong to, so the
//! table decides from what JSON-RPC does say:
//! - a response goes to the POST stream of the request with its id (ids are the client's own,
//!   passed through unchanged); the stream ends when its last request is answered;
//! - `notifications/progress` goes with the request that asked for its `progressToken`, even
//!   while that stream is down (the client may resume it with `Last-Event-ID`);
//! - a request of the server to the client (sampling, elicitation, roots) goes on the newest open
//!   POST stream, since it most likely serves that call, else on the GET stream;
//! - other notifications go on the GET stream, else on the newest open POST stream;
//! - with no stream open, messages wait in a bounded backlog for the next GET stream.
//!
//! Every message written on a stream is first recorded in the session's [`ReplayLog`], so a
//! stream that drops loses nothing its client resumes.
//!
//! The table is plain data behind the session's lock; sending happens outside the lock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::jsonrpc::{IdKey, Kind, kind};
use super::replay::{EventId, Outgoing, ReplayLog, ResumeError};

/// What to do with a response once it arrives (besides passing it on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Pass it on unchanged.
    Forward,
    /// Filter the tools by `role`; `first_page` if the request had no cursor.
    ToolsList { role: String, first_page: bool },
    /// Write the audit line of an allowed call.
    ToolsCall { tool: String, role: String },
}

/// A client request the child has not answered yet.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: Value,
    pub(crate) stream: u64,
    pub(crate) purpose: Purpose,
    pub(crate) progress: Option<IdKey>,
    pub(crate) started: Instant,
    /// Whether `--max-call-secs` applies (all but `initialize`, which has its own timeout and
    /// must not be cancelled).
    pub(crate) limited: bool,
}

/// One SSE stream a message is written on.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) stream: u64,
    pub(crate) tx: mpsc::Sender<Outgoing>,
    /// The GET stream (whose undelivered messages go to the backlog), not a POST's.
    pub(crate) standalone: bool,
}

/// Where one message from the child goes.
#[derive(Debug)]
pub(crate) enum Destination {
    /// An HTTP stream (POST or GET); the message already has its event id.
    Stream(Target, Outgoing),
    /// The answer to a client request, with that request's record; recorded once the policy
    /// has been applied to it.
    Answer(Option<Target>, Pending, Value),
    /// The wrapper's own request to the child.
    Internal(oneshot::Sender<Value>, Value),
    /// Queued until a GET stream opens.
    Queued,
    /// A response nobody waits for any more (it was cancelled or timed out).
    Nowhere,
}

struct PostStream {
    tx: mpsc::Sender<Outgoing>,
    open_requests: usize,
}

/// Why a request was not registered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A request with this id is already waiting for its answer.
    DuplicateId,
    /// The session has the most requests in flight it may have.
    TooManyInFlight,
}

/// What a resumed stream gets: the events it missed, and whether more will come.
pub(crate) struct Resumed {
    pub(crate) replay: Vec<Outgoing>,
    pub(crate) live: bool,
}

/// The routing table of one session.
pub(crate) struct Routes {
    posts: BTreeMap<u64, PostStream>,
    standalone: Option<(u64, mpsc::Sender<Outgoing>)>,
    /// Messages for a GET stream that is not open, with the GET stream they failed on, if any.
    backlog: VecDeque<(Value, usize, Option<u64>)>,
    backlog_bytes: usize,
    pending: HashMap<IdKey, Pending>,
    progress: HashMap<IdKey, u64>,
    internal: HashMap<IdKey, oneshot::Sender<Value>>,
    log: ReplayLog,
    max_backlog: usize,
    max_backlog_bytes: usize,
    max_pending: usize,
    dropped: u64,
}

/// Bounds of one routing table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteLimits {
    /// Messages (and bytes of JSON) kept for a GET stream that is not open.
    pub(crate) backlog: usize,
    pub(crate) backlog_bytes: usize,
    /// Requests in flight at once.
    pub(crate) pending: usize,
    /// Messages (and bytes of JSON) kept to replay to a client that resumes a stream.
    pub(crate) replay: usize,
    pub(crate) replay_bytes: usize,
}

impl Routes {
    /// An empty table within `limits`.
    pub(crate) fn new(limits: RouteLimits) -> Self {
        Self {
            posts: BTreeMap::new(),
            standalone: None,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            pending: HashMap::new(),
            progress: HashMap::new(),
            internal: HashMap::new(),
            log: ReplayLog::new(limits.replay, limits.replay_bytes),
            max_backlog: limits.backlog,
            max_backlog_bytes: limits.backlog_bytes,
            max_pending: limits.pending,
            dropped: 0,
        }
    }

    /// Opens a POST stream that ends once the requests registered on it are answered.
    pub(crate) fn open_post(&mut self, tx: mpsc::Sender<Outgoing>) -> u64 {
        let id = self.log.open_stream();
        self.posts.insert(
            id,
            PostStream {
                tx,
                open_requests: 0,
            },
        );
        id
    }

    /// The event id of the priming event of `stream`.
    pub(crate) fn prime(&mut self, stream: u64) -> String {
        self.log.prime(stream)
    }

    /// Gives a message written on `stream` its event id and keeps it for replay.
    pub(crate) fn record(&mut self, stream: u64, message: Value) -> Outgoing {
        self.log.record(stream, message)
    }

    /// Forgets a POST stream that got no request after all.
    pub(crate) fn close_post_if_idle(&mut self, stream: u64) {
        if self
            .posts
            .get(&stream)
            .is_some_and(|s| s.open_requests == 0)
        {
            self.posts.remove(&stream);
            self.log.finish_stream(stream);
        }
    }

    /// Whether a request could be registered now (checked before anything is sent).
    pub(crate) fn check(&self, id: &Value, also: usize) -> Result<(), Refusal> {
        if self.pending.contains_key(&IdKey::of(id)) {
            return Err(Refusal::DuplicateId);
        }
        if self.pending.len() + also >= self.max_pending {
            return Err(Refusal::TooManyInFlight);
        }
        Ok(())
    }

    /// Registers a client request answered on `stream`.
    pub(crate) fn register(
        &mut self,
        request: &Value,
        id: &Value,
        stream: u64,
        purpose: Purpose,
    ) -> Result<(), Refusal> {
        self.check(id, 0)?;
        let progress = super::jsonrpc::progress_token(request).map(IdKey::of);
        if let Some(token) = &progress {
            self.progress.insert(token.clone(), stream);
        }
        if let Some(post) = self.posts.get_mut(&stream) {
            post.open_requests += 1;
        }
        let limited = !matches!(
            kind(request),
            Kind::Request {
                method: "initialize",
                ..
            }
        );
        self.pending.insert(
            IdKey::of(id),
            Pending {
                id: id.clone(),
                stream,
                purpose,
                progress,
                started: Instant::now(),
                limited,
            },
        );
        Ok(())
    }

    /// When the oldest request still unanswered reaches `max_call`, if any.
    pub(crate) fn next_deadline(&self, max_call: Duration) -> Option<Instant> {
        self.pending
            .values()
            .filter(|p| p.limited)
            .map(|p| p.started + max_call)
            .min()
    }

    /// Takes out the requests unanswered for `max_call` or longer at `now`, each with the
    /// stream its answer was due on; their late answers go nowhere.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        max_call: Duration,
    ) -> Vec<(Pending, Option<Target>)> {
        let overdue: Vec<IdKey> = self
            .pending
            .iter()
            .filter(|(_, p)| p.limited && now >= p.started + max_call)
            .map(|(key, _)| key.clone())
            .collect();
        let mut expired = Vec::with_capacity(overdue.len());
        for key in overdue {
            if let Some(pending) = self.pending.remove(&key) {
                let target = self.finish(&pending);
                expired.push((pending, target));
            }
        }
        expired
    }

    /// The client cancelled a request: its answer is no longer awaited.
    pub(crate) fn cancel(&mut self, id: &Value) {
        if let Some(pending) = self.pending.remove(&IdKey::of(id)) {
            self.finish(&pending);
        }
    }

    /// Registers the wrapper's own request to the child.
    pub(crate) fn register_internal(&mut self, id: &Value, tx: oneshot::Sender<Value>) {
        self.internal.insert(IdKey::of(id), tx);
    }

    /// Forgets the wrapper's own request (it timed out).
    pub(crate) fn forget_internal(&mut self, id: &Value) {
        self.internal.remove(&IdKey::of(id));
    }

    /// Opens a new GET stream (replacing an older one); returns its number and what waited
    /// for it, with event ids.
    pub(crate) fn open_standalone(&mut self, tx: mpsc::Sender<Outgoing>) -> (u64, Vec<Outgoing>) {
        let stream = self.log.open_stream();
        let waiting = self.attach_standalone(stream, tx, None);
        (stream, waiting)
    }

    /// Resumes the stream of `last_event_id` on a new connection: the events after it, then,
    /// if the stream is not over, the rest of it live on `tx`.
    pub(crate) fn resume(
        &mut self,
        last_event_id: &str,
        tx: mpsc::Sender<Outgoing>,
    ) -> Result<Resumed, ResumeError> {
        let from: EventId = self.log.parse(last_event_id)?;
        let (mut replay, done) = self.log.replay(from)?;
        let stream = from.stream;
        if let Some(post) = self.posts.get_mut(&stream) {
            post.tx = tx;
            return Ok(Resumed { replay, live: true });
        }
        let current_get = self.standalone.as_ref().map(|(s, _)| *s) == Some(stream);
        if !done && current_get && self.log.is_live(stream) {
            // The GET stream goes on here, with what waited while it was down (less what
            // failed on this very stream: that is in the replay).
            replay.extend(self.attach_standalone(stream, tx, Some(stream)));
            return Ok(Resumed { replay, live: true });
        }
        Ok(Resumed {
            replay,
            live: false,
        })
    }

    fn attach_standalone(
        &mut self,
        stream: u64,
        tx: mpsc::Sender<Outgoing>,
        skip_from: Option<u64>,
    ) -> Vec<Outgoing> {
        if let Some((old, _)) = self.standalone.replace((stream, tx))
            && old != stream
        {
            self.log.finish_stream(old);
        }
        self.backlog_bytes = 0;
        let waiting: Vec<Value> = self
            .backlog
            .drain(..)
            .filter(|(_, _, from)| from.is_none() || *from != skip_from)
            .map(|(message, _, _)| message)
            .collect();
        waiting
            .into_iter()
            .map(|message| self.log.record(stream, message))
            .collect()
    }

    /// Decides where a message from the child goes.
    pub(crate) fn route(&mut self, message: Value) -> Destination {
        match kind(&message) {
            Kind::Response { id } => {
                let key = IdKey::of(id);
                if let Some(tx) = self.internal.remove(&key) {
                    Destination::Internal(tx, message)
                } else if let Some(pending) = self.pending.remove(&key) {
                    let target = self.finish(&pending);
                    Destination::Answer(target, pending, message)
                } else {
                    Destination::Nowhere
                }
            }
            Kind::Notification {
                method: "notifications/progress",
            } => {
                // Progress stays with its call's stream even while that stream is down, so a
                // client that resumes it gets it there.
                let stream = message
                    .pointer("/params/progressToken")
                    .and_then(|token| self.progress.get(&IdKey::of(token)))
                    .copied()
                    .and_then(|stream| self.post_target(stream));
                match stream {
                    Some(target) => self.send_to(target, message),
                    None => self.unrelated(message, false),
                }
            }
            Kind::Notification { .. } => self.unrelated(message, false),
            Kind::Request { .. } => self.unrelated(message, true),
            Kind::Invalid => Destination::Nowhere,
        }
    }

    /// A message that could not be sent: the open GET stream, else the backlog for the next
    /// one; `from` is the GET stream it failed on, if it did.
    pub(crate) fn requeue(&mut self, message: Value, from: Option<u64>) {
        match self.open_standalone_target() {
            Some(target) if from != Some(target.stream) => {
                let outgoing = self.log.record(target.stream, message);
                if let Err(
                    mpsc::error::TrySendError::Full(outgoing)
                    | mpsc::error::TrySendError::Closed(outgoing),
                ) = target.tx.try_send(outgoing)
                {
                    self.queue(outgoing.message, None);
                }
            }
            _ => self.queue(message, from),
        }
    }

    /// Whether a request is in flight whose client still listens for the answer.
    pub(crate) fn busy(&self) -> bool {
        self.pending.values().any(|p| {
            self.posts
                .get(&p.stream)
                .is_some_and(|post| !post.tx.is_closed())
        })
    }

    /// Messages dropped because the backlog was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Empties the table when the session ends: for each unanswered request, the stream its
    /// answer was due on, so the caller can tell the client why it will not come.
    pub(crate) fn close(&mut self) -> Vec<(Value, Target)> {
        let pending: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        let unanswered = pending
            .into_iter()
            .filter_map(|p| self.post_target(p.stream).map(|target| (p.id, target)))
            .collect();
        self.posts.clear();
        self.standalone = None;
        self.backlog.clear();
        self.backlog_bytes = 0;
        self.progress.clear();
        self.internal.clear();
        self.log.clear();
        unanswered
    }

    /// Bookkeeping when a request is answered or cancelled; the stream its answer goes on.
    fn finish(&mut self, pending: &Pending) -> Option<Target> {
        if let Some(token) = &pending.progress
            && self.progress.get(token) == Some(&pending.stream)
        {
            self.progress.remove(token);
        }
        let target = self.post_target(pending.stream)?;
        let post = self.posts.get_mut(&pending.stream)?;
        post.open_requests = post.open_requests.saturating_sub(1);
        if post.open_requests == 0 {
            // Removing the last sender ends the stream once this answer is sent.
            self.posts.remove(&pending.stream);
            self.log.finish_stream(pending.stream);
        }
        Some(target)
    }

    fn post_target(&self, stream: u64) -> Option<Target> {
        self.posts.get(&stream).map(|post| Target {
            stream,
            tx: post.tx.clone(),
            standalone: false,
        })
    }

    fn send_to(&mut self, target: Target, message: Value) -> Destination {
        let outgoing = self.log.record(target.stream, message);
        Destination::Stream(target, outgoing)
    }

    fn unrelated(&mut self, message: Value, prefer_post: bool) -> Destination {
        let post = self
            .posts
            .iter()
            .rev()
            .find(|(_, post)| !post.tx.is_closed())
            .and_then(|(stream, _)| self.post_target(*stream));
        let standalone = self.open_standalone_target();
        let choice = if prefer_post {
            post.or(standalone)
        } else {
            standalone.or(post)
        };
        match choice {
            Some(target) => self.send_to(target, message),
            None => {
                self.queue(message, None);
                Destination::Queued
            }
        }
    }

    fn open_standalone_target(&self) -> Option<Target> {
        self.standalone
            .as_ref()
            .filter(|(_, tx)| !tx.is_closed())
            .map(|(stream, tx)| Target {
                stream: *stream,
                tx: tx.clone(),
                standalone: true,
            })
    }

    /// Keeps a message for the next GET stream, dropping the oldest beyond the bounds.
    fn queue(&mut self, message: Value, from: Option<u64>) {
        let size = serde_json::to_string(&message).map_or(0, |text| text.len());
        if size > self.max_backlog_bytes {
            self.dropped += 1;
            return;
        }
        while self.backlog.len() >= self.max_backlog
            || self.backlog_bytes + size > self.max_backlog_bytes
        {
            let Some((_, old, _)) = self.backlog.pop_front() else {
                break;
            };
            self.backlog_bytes -= old;
            self.dropped += 1;
        }
        self.backlog_bytes += size;
        self.backlog.push_back((message, size, from));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(id: Value, method: &str) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}})
    }

    fn response(id: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "result": {}})
    }

    fn limits(backlog: usize, backlog_bytes: usize, pending: usize) -> RouteLimits {
        RouteLimits {
            backlog,
            backlog_bytes,
            pending,
            replay: 100,
            replay_bytes: 1 << 20,
        }
    }

    fn sent_to(destination: &Destination, rx_tx: &mpsc::Sender<Outgoing>) -> bool {
        match destination {
            Destination::Stream(target, _) | Destination::Answer(Some(target), _, _) => {
                target.tx.same_channel(rx_tx)
            }
            _ => false,
        }
    }

    #[test]
    fn answers_go_to_their_post_stream_which_ends_after_the_last_one() {
        let mut routes = Routes::new(limits(10, 1 << 20, 10));
        let (tx, _rx) = mpsc::channel(8);
        let stream = routes.open_post(tx.clone());
        routes
            .register(&request(json!(1), "a"), &json!(1), stream, Purpose::Forward)
            .unwrap();
        routes
            .register(
                &request(json!("1"), "b"),
                &json!("1"),
                stream,
                Purpose::Forward,
            )
            .unwrap();
        assert_eq!(
            routes.register(&request(json!(1), "a"), &json!(1), stream, Purpose::Forward),
            Err(Refusal::DuplicateId)
        );
        assert!(routes.busy());
        let first = routes.route(response(json!("1")));
        assert!(sent_to(&first, &tx));
        assert!(routes.posts.contains_key(&stream));
        let second = routes.route(response(json!(1)));
        assert!(matches!(&second, Destination::Answer(Some(_), p, _) if p.id == json!(1)));
        assert!(!routes.posts.contains_key(&stream), "stream ends");
        assert!(!routes.busy());
        // A second answer to the same id has nowhere to go.
        assert!(matches!(
            routes.route(response(json!(1))),
            Destination::Nowhere
        ));
    }

    #[test]
    fn progress_follows_its_token_and_server_requests_prefer_the_open_call() {
        let mut routes = Routes::new(limits(10, 1 << 20, 10));
        let (get_tx, _get_rx) = mpsc::channel(8);
        assert!(routes.open_standalone(get_tx.clone()).1.is_empty());
        let (call_tx, _call_rx) = mpsc::channel(8);
        let stream = routes.open_post(call_tx.clone());
        let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                          "params": {"name": "x", "_meta": {"progressToken": "tok"}}});
        routes
            .register(&call, &json!(5), stream, Purpose::Forward)
            .unwrap();

        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                              "params": {"progressToken": "tok", "progress": 1}});
        assert!(sent_to(&routes.route(progress.clone()), &call_tx));
        let other = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                           "params": {"progressToken": "other", "progress": 1}});
        assert!(sent_to(&routes.route(other), &get_tx));
        let log = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}});
        assert!(sent_to(&routes.route(log.clone()), &get_tx));
        let sampling = request(json!(0), "sampling/createMessage");
        assert!(sent_to(&routes.route(sampling.clone()), &call_tx));

        routes.route(response(json!(5)));
        // With the call answered, the server's next request goes on the GET stream.
        assert!(sent_to(&routes.route(sampling), &get_tx));
        // And late progress for a finished call too.
        assert!(sent_to(&routes.route(progress), &get_tx));
    }

    #[test]
    fn without_streams_messages_wait_in_a_bounded_backlog() {
        let mut routes = Routes::new(limits(2, 1 << 20, 10));
        for n in 0..3 {
            let note =
                json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": n}});
            assert!(matches!(routes.route(note), Destination::Queued));
        }
        assert_eq!(routes.dropped(), 1);
        let (tx, _rx) = mpsc::channel(8);
        let (_, waiting) = routes.open_standalone(tx);
        let ns: Vec<i64> = waiting
            .iter()
            .filter_map(|m| m.message["params"]["n"].as_i64())
            .collect();
        assert_eq!(ns, [1, 2], "oldest dropped first");

        // The byte bound holds too.
        let mut routes = Routes::new(limits(100, 320, 10));
        let big = |n: usize| json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"pad": "x".repeat(80), "n": n}});
        for n in 0..4 {
            routes.route(big(n));
        }
        assert!(routes.backlog_bytes <= 320);
        assert_eq!(routes.backlog.len(), 2);
        assert_eq!(routes.dropped(), 2);
        routes.route(json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"pad": "x".repeat(300)}}));
        assert_eq!(
            routes.dropped(),
            3,
            "a message over the whole bound is dropped"
        );
    }

    #[test]
    fn a_closed_get_stream_is_not_used() {
        let mut routes = Routes::new(limits(10, 1 << 20, 10));
        let (tx, rx) = mpsc::channel(8);
        routes.open_standalone(tx);
        drop(rx);
        let note = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}});
        assert!(matches!(routes.route(note), Destination::Queued));
    }

    #[test]
    fn cancelled_requests_close_their_stream_and_limits_hold() {
        let mut routes = Routes::new(limits(10, 1 << 20, 2));
        let (tx, _rx) = mpsc::channel(8);
        let stream = routes.open_post(tx);
        routes
            .register(&request(json!(1), "a"), &json!(1), stream, Purpose::Forward)
            .unwrap();
        assert_eq!(routes.check(&json!(2), 1), Err(Refusal::TooManyInFlight));
        routes.cancel(&json!(1));
        assert!(routes.posts.is_empty());
        assert!(matches!(
            routes.route(response(json!(1))),
            Destination::Nowhere
        ));
    }

    #[test]
    fn requests_past_the_maximum_duration_expire_except_initialize() {
        let mut routes = Routes::new(limits(10, 1 << 20, 10));
        let max = Duration::from_secs(5);
        assert_eq!(routes.next_deadline(max), None);
        let (tx, _rx) = mpsc::channel(8);
        let stream = routes.open_post(tx.clone());
        routes
            .register(
                &request(json!(0), "initialize"),
                &json!(0),
                stream,
                Purpose::Forward,
            )
            .unwrap();
        assert_eq!(routes.next_deadline(max), None, "initialize is not limited");
        routes
            .register(
                &request(json!(1), "tools/call"),
                &json!(1),
                stream,
                Purpose::Forward,
            )
            .unwrap();
        let deadline = routes.next_deadline(max).unwrap();
        assert!(
            routes
                .expire(deadline - Duration::from_millis(1), max)
                .is_empty()
        );
        let expired = routes.expire(deadline, max);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0.id, json!(1));
        assert!(
            expired[0]
                .1
                .as_ref()
                .is_some_and(|t| t.tx.same_channel(&tx))
        );
        assert_eq!(routes.next_deadline(max), None);
        // Its late answer goes nowhere; initialize's still reaches its stream.
        assert!(matches!(
            routes.route(response(json!(1))),
            Destination::Nowhere
        ));
        assert!(sent_to(&routes.route(response(json!(0))), &tx));
    }

    #[test]
    fn internal_requests_and_closing() {
        let mut routes = Routes::new(limits(10, 1 << 20, 10));
        let (once_tx, _once_rx) = oneshot::channel();
        routes.register_internal(&json!("probe"), once_tx);
        assert!(matches!(
            routes.route(response(json!("probe"))),
            Destination::Internal(..)
        ));
        let (tx, _rx) = mpsc::channel(8);
        let stream = routes.open_post(tx);
        routes
            .register(&request(json!(9), "a"), &json!(9), stream, Purpose::Forward)
            .unwrap();
        let unanswered = routes.close();
        assert_eq!(unanswered.len(), 1);
        assert_eq!(unanswered[0].0, json!(9));
        assert!(!routes.busy());
    }

    #[test]
    fn a_dropped_stream_keeps_its_messages_and_resumes_where_it_stopped() {
        let mut routes = Routes::new(limits(10, 1 << 20, 10));
        let (get_tx, get_rx) = mpsc::channel(8);
        let (get, _) = routes.open_standalone(get_tx);
        let get_primed = routes.prime(get);
        let (call_tx, call_rx) = mpsc::channel(8);
        let stream = routes.open_post(call_tx);
        let primed = routes.prime(stream);
        let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                          "params": {"name": "x", "_meta": {"progressToken": "tok"}}});
        routes
            .register(&call, &json!(5), stream, Purpose::Forward)
            .unwrap();
        drop(call_rx);
        drop(get_rx);
        // Progress of a call whose stream dropped stays with that stream, not the GET stream.
        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                              "params": {"progressToken": "tok", "progress": 1}});
        let Destination::Stream(target, _) = routes.route(progress) else {
            panic!("progress goes to its stream");
        };
        assert_eq!(target.stream, stream);
        let (new_tx, _new_rx) = mpsc::channel(8);
        let resumed = routes.resume(&primed, new_tx.clone()).ok().unwrap();
        assert_eq!(resumed.replay.len(), 1);
        assert!(resumed.live, "the call is still open");
        // The answer now goes to the new connection, and ends the stream.
        let answer = routes.route(response(json!(5)));
        assert!(sent_to(&answer, &new_tx));
        // The session records the answer once the policy is applied.
        routes.record(stream, response(json!(5)));
        let (again_tx, _again_rx) = mpsc::channel(8);
        let replay = routes.resume(&primed, again_tx).ok().unwrap();
        assert_eq!(replay.replay.len(), 2, "progress and answer, still there");
        assert!(!replay.live);

        // A GET stream's message that could not be sent waits for the next GET, and a client
        // that resumes that GET stream gets it once, from the replay.
        let note = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}});
        let (get_tx2, get_rx2) = mpsc::channel(8);
        routes.standalone = Some((get, get_tx2));
        let Destination::Stream(target, outgoing) = routes.route(note) else {
            panic!("to the GET stream");
        };
        drop(get_rx2);
        assert!(target.tx.try_send(outgoing.clone()).is_err());
        routes.requeue(outgoing.message, Some(target.stream));
        let (tx, _rx) = mpsc::channel(8);
        let resumed = routes.resume(&get_primed, tx).ok().unwrap();
        assert_eq!(resumed.replay.len(), 1, "not twice: {:?}", resumed.replay);
        assert!(resumed.live);
    }
}
