//! Where each message from a child goes: the routing table of one session.
//!
//! Over stdio a server's messages carry no hint of which HTTP request they belong to, so the
//! table decides from what JSON-RPC does say:
//! - a response goes to the POST stream of the request with its id (ids are the client's own,
//!   passed through unchanged); the stream ends when its last request is answered;
//! - `notifications/progress` goes with the request that asked for its `progressToken`;
//! - a request of the server to the client (sampling, elicitation, roots) goes on the newest open
//!   POST stream, since it most likely serves that call, else on the GET stream;
//! - other notifications go on the GET stream, else on the newest open POST stream;
//! - with no stream open, messages wait in a bounded backlog for the next GET stream.
//!
//! The table is plain data behind the session's lock; sending happens outside the lock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::jsonrpc::{IdKey, Kind, kind};

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

/// Where one message from the child goes.
#[derive(Debug)]
pub(crate) enum Destination {
    /// An HTTP stream (POST or GET).
    Stream(mpsc::Sender<Value>),
    /// The answer to a client request, with that request's record.
    Answer(Option<mpsc::Sender<Value>>, Pending),
    /// The wrapper's own request to the child.
    Internal(oneshot::Sender<Value>),
    /// Queued until a GET stream opens.
    Queued,
    /// A response nobody waits for any more (its stream went away, or it was cancelled).
    Nowhere,
}

struct PostStream {
    tx: mpsc::Sender<Value>,
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

/// The routing table of one session.
pub(crate) struct Routes {
    next_stream: u64,
    posts: BTreeMap<u64, PostStream>,
    standalone: Option<mpsc::Sender<Value>>,
    backlog: VecDeque<(Value, usize)>,
    backlog_bytes: usize,
    pending: HashMap<IdKey, Pending>,
    progress: HashMap<IdKey, u64>,
    internal: HashMap<IdKey, oneshot::Sender<Value>>,
    max_backlog: usize,
    max_backlog_bytes: usize,
    max_pending: usize,
    dropped: u64,
}

impl Routes {
    /// A table keeping at most `max_backlog` messages (and `max_backlog_bytes` of JSON) for
    /// a GET stream that is not open, with at most `max_pending` requests in flight.
    pub(crate) fn new(max_backlog: usize, max_backlog_bytes: usize, max_pending: usize) -> Self {
        Self {
            next_stream: 1,
            posts: BTreeMap::new(),
            standalone: None,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            pending: HashMap::new(),
            progress: HashMap::new(),
            internal: HashMap::new(),
            max_backlog,
            max_backlog_bytes,
            max_pending,
            dropped: 0,
        }
    }

    /// Opens a POST stream that ends once `requests` registered on it are answered.
    pub(crate) fn open_post(&mut self, tx: mpsc::Sender<Value>) -> u64 {
        let id = self.next_stream;
        self.next_stream += 1;
        self.posts.insert(
            id,
            PostStream {
                tx,
                open_requests: 0,
            },
        );
        id
    }

    /// Forgets a POST stream that got no request after all.
    pub(crate) fn close_post_if_idle(&mut self, stream: u64) {
        if self
            .posts
            .get(&stream)
            .is_some_and(|s| s.open_requests == 0)
        {
            self.posts.remove(&stream);
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
    /// stream its answer was due on (if still open); their late answers go nowhere.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        max_call: Duration,
    ) -> Vec<(Pending, Option<mpsc::Sender<Value>>)> {
        let overdue: Vec<IdKey> = self
            .pending
            .iter()
            .filter(|(_, p)| p.limited && now >= p.started + max_call)
            .map(|(key, _)| key.clone())
            .collect();
        let mut expired = Vec::with_capacity(overdue.len());
        for key in overdue {
            if let Some(pending) = self.pending.remove(&key) {
                let tx = self.finish(&pending);
                expired.push((pending, tx));
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

    /// Opens the GET stream (replacing an older one); returns what waited for it.
    pub(crate) fn open_standalone(&mut self, tx: mpsc::Sender<Value>) -> Vec<Value> {
        self.standalone = Some(tx);
        self.backlog_bytes = 0;
        self.backlog.drain(..).map(|(message, _)| message).collect()
    }

    /// Decides where a message from the child goes.
    pub(crate) fn route(&mut self, message: Value) -> (Destination, Value) {
        let destination = match kind(&message) {
            Kind::Response { id } => {
                let key = IdKey::of(id);
                if let Some(tx) = self.internal.remove(&key) {
                    Destination::Internal(tx)
                } else if let Some(pending) = self.pending.remove(&key) {
                    let tx = self.finish(&pending);
                    Destination::Answer(tx, pending)
                } else {
                    Destination::Nowhere
                }
            }
            Kind::Notification {
                method: "notifications/progress",
            } => {
                let stream = message
                    .pointer("/params/progressToken")
                    .and_then(|token| self.progress.get(&IdKey::of(token)))
                    .and_then(|stream| self.posts.get(stream))
                    .filter(|post| !post.tx.is_closed())
                    .map(|post| post.tx.clone());
                match stream {
                    Some(tx) => Destination::Stream(tx),
                    None => self.unrelated(&message, false),
                }
            }
            Kind::Notification { .. } => self.unrelated(&message, false),
            Kind::Request { .. } => self.unrelated(&message, true),
            Kind::Invalid => Destination::Nowhere,
        };
        if matches!(destination, Destination::Queued) {
            self.queue(message);
            return (Destination::Queued, Value::Null);
        }
        (destination, message)
    }

    /// A message that could not be sent where it was routed: the GET stream, else the backlog.
    pub(crate) fn requeue(&mut self, message: Value) {
        if let Some(tx) = self.open_standalone_tx() {
            if let Err(
                mpsc::error::TrySendError::Full(message)
                | mpsc::error::TrySendError::Closed(message),
            ) = tx.try_send(message)
            {
                self.queue(message);
            }
        } else {
            self.queue(message);
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

    /// Empties the table when the session ends: each unanswered request with the stream its
    /// answer was due on, so the caller can tell the client why it will not come.
    pub(crate) fn close(&mut self) -> Vec<(Value, mpsc::Sender<Value>)> {
        let pending: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        let unanswered = pending
            .into_iter()
            .filter_map(|p| {
                self.posts
                    .get(&p.stream)
                    .map(|post| (p.id, post.tx.clone()))
            })
            .collect();
        self.posts.clear();
        self.standalone = None;
        self.backlog.clear();
        self.backlog_bytes = 0;
        self.progress.clear();
        self.internal.clear();
        unanswered
    }

    /// Bookkeeping when a request is answered or cancelled; its stream if still open.
    fn finish(&mut self, pending: &Pending) -> Option<mpsc::Sender<Value>> {
        if let Some(token) = &pending.progress
            && self.progress.get(token) == Some(&pending.stream)
        {
            self.progress.remove(token);
        }
        let post = self.posts.get_mut(&pending.stream)?;
        post.open_requests = post.open_requests.saturating_sub(1);
        if post.open_requests == 0 {
            // Removing the last sender ends the stream once this answer is sent.
            self.posts.remove(&pending.stream).map(|post| post.tx)
        } else {
            Some(post.tx.clone())
        }
    }

    fn unrelated(&mut self, _message: &Value, prefer_post: bool) -> Destination {
        let post = self
            .posts
            .values()
            .rev()
            .find(|post| !post.tx.is_closed())
            .map(|post| post.tx.clone());
        let standalone = self.open_standalone_tx();
        let choice = if prefer_post {
            post.or(standalone)
        } else {
            standalone.or(post)
        };
        choice.map_or(Destination::Queued, Destination::Stream)
    }

    fn open_standalone_tx(&mut self) -> Option<mpsc::Sender<Value>> {
        if self
            .standalone
            .as_ref()
            .is_some_and(mpsc::Sender::is_closed)
        {
            self.standalone = None;
        }
        self.standalone.clone()
    }

    /// Keeps a message for the next GET stream, dropping the oldest beyond the bounds.
    fn queue(&mut self, message: Value) {
        let size = serde_json::to_string(&message).map_or(0, |text| text.len());
        if size > self.max_backlog_bytes {
            self.dropped += 1;
            return;
        }
        while self.backlog.len() >= self.max_backlog
            || self.backlog_bytes + size > self.max_backlog_bytes
        {
            let Some((_, old)) = self.backlog.pop_front() else {
                break;
            };
            self.backlog_bytes -= old;
            self.dropped += 1;
        }
        self.backlog_bytes += size;
        self.backlog.push_back((message, size));
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

    fn sent_to(destination: &Destination, rx_tx: &mpsc::Sender<Value>) -> bool {
        match destination {
            Destination::Stream(tx) | Destination::Answer(Some(tx), _) => tx.same_channel(rx_tx),
            _ => false,
        }
    }

    #[test]
    fn answers_go_to_their_post_stream_which_ends_after_the_last_one() {
        let mut routes = Routes::new(10, 1 << 20, 10);
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
        let (first, _) = routes.route(response(json!("1")));
        assert!(sent_to(&first, &tx));
        assert!(routes.posts.contains_key(&stream));
        let (second, _) = routes.route(response(json!(1)));
        assert!(matches!(&second, Destination::Answer(Some(_), p) if p.id == json!(1)));
        assert!(!routes.posts.contains_key(&stream), "stream ends");
        assert!(!routes.busy());
        // A second answer to the same id has nowhere to go.
        assert!(matches!(
            routes.route(response(json!(1))).0,
            Destination::Nowhere
        ));
    }

    #[test]
    fn progress_follows_its_token_and_server_requests_prefer_the_open_call() {
        let mut routes = Routes::new(10, 1 << 20, 10);
        let (get_tx, _get_rx) = mpsc::channel(8);
        assert!(routes.open_standalone(get_tx.clone()).is_empty());
        let (call_tx, _call_rx) = mpsc::channel(8);
        let stream = routes.open_post(call_tx.clone());
        let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                          "params": {"name": "x", "_meta": {"progressToken": "tok"}}});
        routes
            .register(&call, &json!(5), stream, Purpose::Forward)
            .unwrap();

        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                              "params": {"progressToken": "tok", "progress": 1}});
        assert!(sent_to(&routes.route(progress.clone()).0, &call_tx));
        let other = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                           "params": {"progressToken": "other", "progress": 1}});
        assert!(sent_to(&routes.route(other).0, &get_tx));
        let log = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}});
        assert!(sent_to(&routes.route(log.clone()).0, &get_tx));
        let sampling = request(json!(0), "sampling/createMessage");
        assert!(sent_to(&routes.route(sampling.clone()).0, &call_tx));

        routes.route(response(json!(5)));
        // With the call answered, the server's next request goes on the GET stream.
        assert!(sent_to(&routes.route(sampling).0, &get_tx));
        // And late progress for a finished call too.
        assert!(sent_to(&routes.route(progress).0, &get_tx));
    }

    #[test]
    fn without_streams_messages_wait_in_a_bounded_backlog() {
        let mut routes = Routes::new(2, 1 << 20, 10);
        for n in 0..3 {
            let note =
                json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": n}});
            assert!(matches!(routes.route(note).0, Destination::Queued));
        }
        assert_eq!(routes.dropped(), 1);
        let (tx, _rx) = mpsc::channel(8);
        let waiting = routes.open_standalone(tx);
        let ns: Vec<i64> = waiting
            .iter()
            .filter_map(|m| m["params"]["n"].as_i64())
            .collect();
        assert_eq!(ns, [1, 2], "oldest dropped first");

        // The byte bound holds too.
        let mut routes = Routes::new(100, 320, 10);
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
        let mut routes = Routes::new(10, 1 << 20, 10);
        let (tx, rx) = mpsc::channel(8);
        routes.open_standalone(tx);
        drop(rx);
        let note = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}});
        assert!(matches!(routes.route(note).0, Destination::Queued));
    }

    #[test]
    fn cancelled_requests_close_their_stream_and_limits_hold() {
        let mut routes = Routes::new(10, 1 << 20, 2);
        let (tx, _rx) = mpsc::channel(8);
        let stream = routes.open_post(tx);
        routes
            .register(&request(json!(1), "a"), &json!(1), stream, Purpose::Forward)
            .unwrap();
        assert_eq!(routes.check(&json!(2), 1), Err(Refusal::TooManyInFlight));
        routes.cancel(&json!(1));
        assert!(routes.posts.is_empty());
        assert!(matches!(
            routes.route(response(json!(1))).0,
            Destination::Nowhere
        ));
    }

    #[test]
    fn requests_past_the_maximum_duration_expire_except_initialize() {
        let mut routes = Routes::new(10, 1 << 20, 10);
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
        assert!(expired[0].1.as_ref().is_some_and(|t| t.same_channel(&tx)));
        assert_eq!(routes.next_deadline(max), None);
        // Its late answer goes nowhere; initialize's still reaches its stream.
        assert!(matches!(
            routes.route(response(json!(1))).0,
            Destination::Nowhere
        ));
        assert!(sent_to(&routes.route(response(json!(0))).0, &tx));
    }

    #[test]
    fn internal_requests_and_closing() {
        let mut routes = Routes::new(10, 1 << 20, 10);
        let (once_tx, _once_rx) = oneshot::channel();
        routes.register_internal(&json!("probe"), once_tx);
        assert!(matches!(
            routes.route(response(json!("probe"))).0,
            Destination::Internal(_)
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
}
