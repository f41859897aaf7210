//! The shared store for more than one replica: Redis 7 (or Valkey), through the `redis` crate.
//!
//! Chosen over `fred` because it is the most used Rust client, its `ConnectionManager`
//! reconnects by itself (so a Redis restart needs no proxy restart), it speaks TLS through the
//! rustls the proxy already uses (`rediss://`, with the ring provider installed at start-up),
//! and it needs no extra runtime. Supported: one Redis or Valkey server, with or without TLS,
//! including managed ones, or a primary found through Sentinel
//! (`redis+sentinel://host:26379,host:26379/<service>`): after a failover the next command that
//! fails (connection gone, or `READONLY` from the demoted primary) asks Sentinel again and is
//! sent once more to the new primary. Not supported: Cluster (the scripts below touch keys of one
//! namespace that a cluster would spread over slots, and the crate's reconnecting manager does
//! not speak Cluster).
//!
//! Every key is `<prefix><key>`, so two deployments can share one Redis. One-time things are
//! atomic: `take` and `put` are Lua scripts, which Redis runs one at a time, so of two replicas
//! redeeming one code exactly one gets it. The per-namespace bounds of the other stores hold
//! here too: each namespace keeps an index (a sorted set of its keys by expiry), each key's
//! size and the total, so a registration flood evicts the registrations that expire soonest
//! rather than filling Redis.
//!
//! Announcements (revocations) go out with `PUBLISH` on `<prefix>announcements`; each replica
//! keeps one subscriber connection, and after it reconnects it asks for a full reload
//! ([`Announcement::Resync`]), since messages published while it was away are lost. A replica
//! that has taken an announcement in counts itself in `<prefix>announced:<hash of it>`, and the
//! announcer waits until the count reaches what `PUBLISH` said it reached (at most
//! [`ANNOUNCE_WAIT`]): so a revocation is answered only once every replica refuses what it
//! revoked.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Client, ConnectionAddr, IntoConnectionInfo, Script, TlsMode};
use tokio::sync::mpsc;

use super::{
    ANNOUNCE_WAIT, Announced, Announcement, DEFAULT_BYTES_PER_NAMESPACE,
    DEFAULT_CAPACITY_PER_NAMESPACE, MAX_VALUE_BYTES, ScannedEntry, Store, StoreError, namespace_of,
};

/// How long one Redis command or connection attempt may take before the request that needed it
/// gets a 503.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a quiet subscription pings Redis, so that a silent partition shows.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// How long a follower's confirmation of an announcement is kept: far longer than anyone
/// waits for it.
const CONFIRMATIONS_TTL_MS: i64 = 60_000;

/// How many times an announcer asks for its confirmations back to back before it pauses.
const QUICK_CONFIRMATION_CHECKS: usize = 20;

/// Where and how to reach Redis.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS.
    pub url: String,
    /// Used when the URL has no password (`REDIS_PASSWORD` / `REDIS_PASSWORD_FILE`).
    pub password: Option<String>,
    /// For the Sentinel nodes, when they require one (`REDIS_SENTINEL_PASSWORD`).
    pub sentinel_password: Option<String>,
    /// Put before every key, e.g. `okta-mcp:`.
    pub key_prefix: String,
    pub capacity_per_namespace: usize,
    pub bytes_per_namespace: usize,
}

impl RedisSettings {
    /// Settings with the default bounds.
    pub fn new(url: &str, password: Option<String>, key_prefix: &str) -> Self {
        Self {
            url: url.trim().to_owned(),
            password,
            sentinel_password: None,
            key_prefix: key_prefix.to_owned(),
            capacity_per_namespace: DEFAULT_CAPACITY_PER_NAMESPACE,
            bytes_per_namespace: DEFAULT_BYTES_PER_NAMESPACE,
        }
    }
}

/// How the proxy finds the Redis server to talk to.
enum Target {
    /// One server at a fixed address.
    Server(Client),
    /// The current primary of a service, as Sentinel says (asked again after a failover).
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl Target {
    /// A client for the server to use now.
    async fn client(&self) -> Result<Client, StoreError> {
        match self {
            Target::Server(client) => Ok(client.clone()),
            Target::Sentinel(sentinel) => {
                let ask = async { sentinel.lock().await.async_get_client().await };
                match tokio::time::timeout(REDIS_TIMEOUT * 2, ask).await {
                    Ok(result) => result.map_err(unavailable),
                    Err(_) => Err(StoreError::Unavailable(
                        "redis: Sentinel did not name a primary in time".to_owned(),
                    )),
                }
            }
        }
    }
}

/// A [`Store`] in Redis, shared by every replica.
pub struct RedisStore {
    target: std::sync::Arc<Target>,
    /// Made on first use, inside the runtime that serves requests; dropped after a failover.
    manager: std::sync::Mutex<Option<ConnectionManager>>,
    prefix: String,
    display_url: String,
    capacity: usize,
    bytes: usize,
}

/// Why the Redis settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("STORE_URL {url}: {why}")]
pub struct RedisSettingsError {
    url: String,
    why: String,
}

// Bookkeeping shared by the scripts: forget(member) drops a key's index entry and size.
const FORGET: &str = r"
local index, sizes, total = KEYS[2], KEYS[3], KEYS[4]
local function forget(m)
  local s = redis.call('HGET', sizes, m)
  if s then
    redis.call('INCRBY', total, -tonumber(s))
    redis.call('HDEL', sizes, m)
  end
  redis.call('ZREM', index, m)
end
";

// KEYS: entry, index, sizes, total. ARGV: member, value, ttl ms, capacity, byte budget, prefix,
// only if new ('1': a live entry is left as it is and 0 returned).
const PUT: &str = r"
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member, value, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local capacity, budget, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now)) do
  redis.call('DEL', prefix .. m)
  forget(m)
end
forget(member)
local size = #member + #value
while redis.call('ZCARD', index) >= capacity
    or tonumber(redis.call('GET', total) or '0') + size > budget do
  local first = redis.call('ZRANGE', index, 0, 0)
  if #first == 0 then break end
  redis.call('DEL', prefix .. first[1])
  forget(first[1])
end
redis.call('SET', KEYS[1], value, 'PX', ttl)
redis.call('ZADD', index, now + ttl, member)
redis.call('HSET', sizes, member, size)
redis.call('INCRBY', total, size)
local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
local keep = tonumber(last[2]) - now + 60000
for _, k in ipairs({index, sizes, total}) do redis.call('PEXPIRE', k, keep) end
return 1
";

// KEYS: entry, index, sizes, total. ARGV: member.
const TAKE: &str = r"
local value = redis.call('GET', KEYS[1])
if value then redis.call('DEL', KEYS[1]) end
forget(ARGV[1])
return value
";

// KEYS: -, index, -, -. ARGV: prefix. Returns member, expiry ms, value, … for live entries.
const SCAN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local found = {}
local live = redis.call('ZRANGEBYSCORE', index, '(' .. now, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  local value = redis.call('GET', ARGV[1] .. live[i])
  if value then
    table.insert(found, live[i])
    table.insert(found, live[i + 1])
    table.insert(found, value)
  end
end
return found
";

fn script(body: &str) -> Script {
    Script::new(&format!("{FORGET}{body}"))
}

fn scripts() -> &'static [Script; 3] {
    static SCRIPTS: OnceLock<[Script; 3]> = OnceLock::new();
    SCRIPTS.get_or_init(|| [script(PUT), script(TAKE), script(SCAN)])
}

impl RedisStore {
    /// Checks the settings; connects on first use (so the proxy starts while Redis is down,
    /// and `/ready` says so).
    pub fn new(settings: RedisSettings) -> Result<Self, RedisSettingsError> {
        let display_url = redacted(&settings.url);
        let refuse = |why: &str| RedisSettingsError {
            url: display_url.clone(),
            why: why.to_owned(),
        };
        let target = if let Some(rest) = settings
            .url
            .strip_prefix("redis+sentinel://")
            .map(|rest| (rest, false))
            .or_else(|| {
                settings
                    .url
                    .strip_prefix("rediss+sentinel://")
                    .map(|rest| (rest, true))
            }) {
            Target::Sentinel(tokio::sync::Mutex::new(
                sentinel_client(rest.0, rest.1, &settings).map_err(|why| refuse(&why))?,
            ))
        } else {
            let parsed = url::Url::parse(&settings.url).map_err(|e| refuse(&e.to_string()))?;
            if !matches!(parsed.scheme(), "redis" | "rediss") {
                return Err(refuse(
                    "must start with redis://, rediss:// (TLS), redis+sentinel:// or rediss+sentinel://; Cluster is not supported",
                ));
            }
            let mut info = settings
                .url
                .as_str()
                .into_connection_info()
                .map_err(|e| refuse(&e.to_string()))?;
            if let Some(password) = settings.password.clone().filter(|p| !p.is_empty())
                && info.redis_settings().password().is_none()
            {
                let redis = info.redis_settings().clone().set_password(password);
                info = info.set_redis_settings(redis);
            }
            Target::Server(Client::open(info).map_err(|e| refuse(&e.to_string()))?)
        };
        Ok(Self {
            target: std::sync::Arc::new(target),
            manager: std::sync::Mutex::new(None),
            prefix: settings.key_prefix,
            display_url,
            capacity: settings.capacity_per_namespace.max(1),
            bytes: settings.bytes_per_namespace.max(MAX_VALUE_BYTES * 2),
        })
    }

    /// `put` and `put_new` (one script: the check and the write are one atomic step).
    async fn put_script(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        only_new: bool,
    ) -> Result<bool, StoreError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge(value.len()));
        }
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut call = scripts()[0].prepare_invoke();
        for name in self.script_keys(key) {
            call.key(name);
        }
        call.arg(key)
            .arg(value)
            .arg(ttl_ms)
            .arg(self.capacity)
            .arg(self.bytes)
            .arg(&self.prefix)
            .arg(if only_new { "1" } else { "0" });
        self.run(|mut c| {
            let call = &call;
            async move { call.invoke_async::<i64>(&mut c).await }
        })
        .await
        .map(|written| written == 1)
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(manager) = self.lock_manager().clone() {
            return Ok(manager);
        }
        let client = self.target.client().await?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let manager =
            ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(self.lock_manager().get_or_insert(manager).clone())
    }

    fn lock_manager(&self) -> std::sync::MutexGuard<'_, Option<ConnectionManager>> {
        self.manager
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `command` on the shared connection. A connection that broke since its last use
    /// (Redis restarted) fails the first command sent on it; that one is sent once more on the
    /// new connection, so a Redis restart costs no request a 503. Behind Sentinel, a broken
    /// connection or a `READONLY` answer (the primary was demoted) first asks Sentinel again.
    async fn run<T, F, Fut>(&self, command: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        match command(connection.clone()).await {
            Err(error)
                if error.is_connection_dropped()
                    || error.is_io_error()
                    || error.code() == Some("READONLY") =>
            {
                let connection = if matches!(*self.target, Target::Sentinel(_)) {
                    self.lock_manager().take();
                    self.connection().await?
                } else {
                    connection
                };
                command(connection).await.map_err(unavailable)
            }
            result => result.map_err(unavailable),
        }
    }

    /// The four keys a script gets for `key`: the entry and its namespace's bookkeeping.
    fn script_keys(&self, key: &str) -> [String; 4] {
        let namespace = namespace_of(key);
        let prefix = &self.prefix;
        [
            format!("{prefix}{key}"),
            format!("{prefix}index:{namespace}"),
            format!("{prefix}sizes:{namespace}"),
            format!("{prefix}bytes:{namespace}"),
        ]
    }

    fn channel(&self) -> String {
        format!("{}announcements", self.prefix)
    }

    /// The counter of followers that took `message` in. Named by the message's hash: two
    /// announcements of the same text are the same change, so a confirmation of either
    /// confirms both.
    fn confirmations_key(&self, message: &str) -> String {
        use sha2::Digest;
        use std::fmt::Write;
        let digest = sha2::Sha256::digest(message.as_bytes());
        let mut key = format!("{}announced:", self.prefix);
        for byte in &digest[..16] {
            let _ = write!(key, "{byte:02x}");
        }
        key
    }
}

/// A Sentinel client from the part of `redis[s]+sentinel://[user:password@]host:port,…/service[/db]`
/// after the scheme; the message says what is wrong.
fn sentinel_client(
    rest: &str,
    tls: bool,
    settings: &RedisSettings,
) -> Result<SentinelClient, String> {
    let (authority, path) = rest
        .split_once('/')
        .ok_or("needs /<service name> after the hosts")?;
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let mut addresses = Vec::new();
    for host in hosts.split(',').filter(|h| !h.is_empty()) {
        let (name, port) = host
            .rsplit_once(':')
            .and_then(|(name, port)| Some((name, port.parse::<u16>().ok()?)))
            .ok_or_else(|| format!("Sentinel `{host}` must be host:port"))?;
        let name = name.trim_matches(|c| c == '[' || c == ']').to_owned();
        addresses.push(if tls {
            ConnectionAddr::TcpTls {
                host: name,
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(name, port)
        });
    }
    if addresses.is_empty() {
        return Err("names no Sentinel host:port".to_owned());
    }
    let mut segments = path.split('/');
    let service = segments
        .next()
        .filter(|s| !s.is_empty())
        .ok_or("needs /<service name> after the hosts")?;
    let db = match segments.next().filter(|s| !s.is_empty()) {
        Some(db) => Some(
            db.parse::<i64>()
                .map_err(|_| format!("database `{db}` is not a number"))?,
        ),
        None => None,
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (username, url_password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (Some(decode(user)), Some(decode(password))),
            None => (Some(decode(info)), None),
        },
        None => (None, None),
    };
    let mut builder = SentinelClientBuilder::new(addresses, service, SentinelServerType::Master)
        .map_err(|e| e.to_string())?;
    if tls {
        builder = builder
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
    }
    if let Some(user) = username.filter(|u| !u.is_empty()) {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = url_password
        .or_else(|| settings.password.clone())
        .filter(|p| !p.is_empty())
    {
        builder = builder.set_client_to_redis_password(password);
    }
    if let Some(password) = settings.sentinel_password.clone().filter(|p| !p.is_empty()) {
        builder = builder.set_client_to_sentinel_password(password);
    }
    if let Some(db) = db {
        builder = builder.set_client_to_redis_db(db);
    }
    builder.build().map_err(|e| e.to_string())
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {error}"))
}

/// `url` with any password replaced by `***`.
fn redacted(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && scheme.ends_with("+sentinel")
    {
        return match rest.rsplit_once('@') {
            Some((userinfo, hosts)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                format!("{scheme}://{user}:***@{hosts}")
            }
            None => url.to_owned(),
        };
    }
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        self.put_script(key, value, ttl, false).await.map(drop)
    }

    async fn put_new(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.put_script(key, value, ttl, true).await
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let command = redis::cmd("GET")
            .arg(format!("{}{key}", self.prefix))
            .clone();
        self.run(|mut c| {
            let command = &command;
            async move { command.query_async(&mut c).await }
        })
        .await
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut call = scripts()[1].prepare_invoke();
        for name in self.script_keys(key) {
            call.key(name);
        }
        call.arg(key);
        self.run(|mut c| {
            let call = &call;
            async move { call.invoke_async(&mut c).await }
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.take(key).await.map(drop)
    }

    async fn scan(&self, namespace: &str) -> Result<Vec<ScannedEntry>, StoreError> {
        let mut call = scripts()[2].prepare_invoke();
        for name in self.script_keys(&format!("{namespace}:")) {
            call.key(name);
        }
        call.arg(&self.prefix);
        let flat: Vec<String> = self
            .run(async |mut c| call.invoke_async(&mut c).await)
            .await?;
        Ok(flat
            .chunks_exact(3)
            .map(|entry| ScannedEntry {
                key: entry[0].clone(),
                expires: UNIX_EPOCH + Duration::from_millis(entry[1].parse().unwrap_or(0)),
                value: entry[2].clone(),
            })
            .filter(|entry| entry.expires > SystemTime::now())
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let command = redis::cmd("PING");
        self.run(|mut c| {
            let command = &command;
            async move { command.query_async::<String>(&mut c).await }
        })
        .await
        .map(drop)
    }

    async fn announce(&self, message: &str) -> Result<Announced, StoreError> {
        let command = redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(message)
            .clone();
        let listeners = self
            .run(|mut c| {
                let command = &command;
                async move { command.query_async::<usize>(&mut c).await }
            })
            .await?;
        // Each follower counts itself in once it holds the message (`acknowledge`).
        let count = redis::cmd("GET")
            .arg(self.confirmations_key(message))
            .clone();
        let deadline = tokio::time::Instant::now() + ANNOUNCE_WAIT;
        // Asked again at once for the first few times (each GET is a round trip, about as long
        // as a follower takes), then with growing pauses: the timer's 1 ms would otherwise be
        // most of a revocation's answer time.
        let mut asked = 0;
        let mut pause = Duration::from_millis(1);
        loop {
            let confirmed = self
                .run(|mut c| {
                    let count = &count;
                    async move { count.query_async::<Option<usize>>(&mut c).await }
                })
                .await?
                .unwrap_or(0);
            if confirmed >= listeners || tokio::time::Instant::now() >= deadline {
                return Ok(Announced {
                    listeners,
                    confirmed: confirmed.min(listeners),
                });
            }
            asked += 1;
            if asked > QUICK_CONFIRMATION_CHECKS {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }

    async fn acknowledge(&self, message: &str) -> Result<(), StoreError> {
        let key = self.confirmations_key(message);
        let confirm = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .ignore()
            .pexpire(&key, CONFIRMATIONS_TTL_MS)
            .ignore()
            .clone();
        self.run(|mut c| {
            let confirm = &confirm;
            async move { confirm.query_async::<()>(&mut c).await }
        })
        .await
    }

    fn announcements(&self) -> Option<mpsc::Receiver<Announcement>> {
        Some(self.follow(HEARTBEAT))
    }

    fn describe(&self) -> String {
        format!("Redis {} (key prefix `{}`)", self.display_url, self.prefix)
    }
}

impl RedisStore {
    /// This store's announcements, from a subscription that pings Redis every `heartbeat`.
    fn follow(&self, heartbeat: Duration) -> mpsc::Receiver<Announcement> {
        let (sender, receiver) = mpsc::channel(1024);
        tokio::spawn(follow_announcements(
            self.target.clone(),
            self.channel(),
            self.display_url.clone(),
            sender,
            heartbeat,
        ));
        receiver
    }
}

/// Keeps one subscriber connection, reconnecting with backoff; after each (re)subscription it
/// sends [`Announcement::Resync`]. Ends when the receiver is dropped.
async fn follow_announcements(
    target: std::sync::Arc<Target>,
    channel: String,
    display_url: String,
    sender: mpsc::Sender<Announcement>,
    heartbeat: Duration,
) {
    let mut wait = Duration::from_millis(100);
    loop {
        match subscribe(&target, &channel).await {
            Ok(pubsub) => {
                wait = Duration::from_millis(100);
                if sender.send(Announcement::Resync).await.is_err() {
                    return;
                }
                tracing::info!(redis = %display_url, "following revocations announced through Redis");
                let (mut sink, mut stream) = pubsub.split();
                let mut heartbeat = tokio::time::interval(heartbeat);
                heartbeat.tick().await;
                loop {
                    tokio::select! {
                        message = stream.next() => match message {
                            Some(message) => match message.get_payload::<String>() {
                                Ok(key) => {
                                    if sender.send(Announcement::Changed(key)).await.is_err() {
                                        return;
                                    }
                                }
                                Err(error) => tracing::warn!(%error, "unreadable announcement"),
                            },
                            None => break,
                        },
                        _ = heartbeat.tick() => {
                            // A silent network partition shows up here rather than never.
                            // In subscribed mode Redis answers PING with ["pong", ""] (RESP2),
                            // not +PONG: any answer in time means the server is there.
                            let alive = tokio::time::timeout(REDIS_TIMEOUT * 2, sink.ping::<redis::Value>()).await;
                            match alive {
                                Ok(Ok(_)) => {}
                                Ok(Err(error)) => {
                                    tracing::warn!(redis = %display_url, %error, "the Redis subscription's heartbeat failed");
                                    break;
                                }
                                Err(_) => {
                                    tracing::warn!(redis = %display_url, "the Redis subscription's heartbeat got no answer in {:?}", REDIS_TIMEOUT * 2);
                                    break;
                                }
                            }
                        }
                        _ = sender.closed() => return,
                    }
                }
                tracing::warn!(redis = %display_url, "lost the Redis subscription; reconnecting");
            }
            Err(error) => {
                tracing::warn!(redis = %display_url, %error, "cannot subscribe to Redis; retrying in {wait:?}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = sender.closed() => return,
        }
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

async fn subscribe(target: &Target, channel: &str) -> Result<redis::aio::PubSub, StoreError> {
    let client = target.client().await?;
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    match tokio::time::timeout(REDIS_TIMEOUT * 2, connect).await {
        Ok(result) => result.map_err(unavailable),
        Err(_) => Err(StoreError::Unavailable(
            "redis: subscribing timed out".to_owned(),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::suite;
    use std::sync::Arc;

    /// A `redis-server` of its own on a free loopback port, stopped when dropped.
    pub(crate) struct TestRedis {
        child: std::process::Child,
        pub port: u16,
        _dir: tempfile::TempDir,
    }

    impl TestRedis {
        pub(crate) fn start() -> Self {
            Self::start_with(&[])
        }

        /// Starts one with more `redis-server` arguments (e.g. `--replicaof host port`).
        pub(crate) fn start_with(extra: &[&str]) -> Self {
            Self::spawn(free_port(), tempfile::tempdir().expect("temp dir"), extra)
        }

        fn spawn(port: u16, dir: tempfile::TempDir, extra: &[&str]) -> Self {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .args(extra)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server is installed (deploy/install-missing.sh redis-server)");
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Self {
                child,
                port,
                _dir: dir,
            }
        }

        /// Stops the server.
        pub(crate) fn stop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }

        /// Starts a new, empty server on the same port.
        pub(crate) fn restart(&mut self) {
            self.stop();
            let port = self.port;
            *self = Self::spawn(port, tempfile::tempdir().expect("temp dir"), &[]);
        }

        pub(crate) fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        pub(crate) fn store(&self, prefix: &str) -> RedisStore {
            RedisStore::new(RedisSettings::new(&self.url(), None, prefix)).expect("settings")
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_store_passes_the_store_suite() {
        let redis = TestRedis::start();
        suite::run(&redis.store("suite:")).await;
        suite::run_concurrent_take(Arc::new(redis.store("race:"))).await;
        let counter = std::sync::atomic::AtomicUsize::new(0);
        suite::run_bounds(|capacity, bytes| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut settings = RedisSettings::new(&redis.url(), None, &format!("bounds{n}:"));
            settings.capacity_per_namespace = capacity;
            settings.bytes_per_namespace = bytes;
            Box::new(RedisStore::new(settings).expect("settings"))
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_prefixes_share_one_redis_without_seeing_each_other() {
        let redis = TestRedis::start();
        let (a, b) = (redis.store("one:"), redis.store("two:"));
        a.put("client:x", "a", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(b.get("client:x").await.unwrap(), None);
        assert!(b.scan("client").await.unwrap().is_empty());
        assert_eq!(a.take("client:x").await.unwrap().as_deref(), Some("a"));
    }

    async fn next(heard: &mut mpsc::Receiver<Announcement>) -> Announcement {
        tokio::time::timeout(Duration::from_secs(5), heard.recv())
            .await
            .expect("in time")
            .expect("open")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn announcements_reach_other_stores_and_a_restart_asks_for_a_resync() {
        let mut redis = TestRedis::start();
        let (writer, reader) = (redis.store("p:"), redis.store("p:"));
        let mut heard = reader.announcements().expect("redis announces");
        assert_eq!(next(&mut heard).await, Announcement::Resync);
        // A follower that never confirms holds the announcer up for ANNOUNCE_WAIT, no longer.
        let started = std::time::Instant::now();
        let announced = writer.announce("revoked-token:abc").await.unwrap();
        assert_eq!(
            announced,
            Announced {
                listeners: 1,
                confirmed: 0
            }
        );
        assert!(started.elapsed() >= ANNOUNCE_WAIT);
        assert!(started.elapsed() < ANNOUNCE_WAIT * 2);
        assert_eq!(
            next(&mut heard).await,
            Announcement::Changed("revoked-token:abc".into())
        );
        // Another prefix's announcements are not ours, and nobody follows that prefix.
        assert_eq!(
            redis
                .store("other:")
                .announce("revoked-token:zzz")
                .await
                .unwrap(),
            Announced::default()
        );
        // Once the follower confirms, the announcer returns.
        let writer = Arc::new(writer);
        let sent = tokio::spawn({
            let writer = writer.clone();
            async move { writer.announce("revoked-token:def").await.unwrap() }
        });
        assert_eq!(
            next(&mut heard).await,
            Announcement::Changed("revoked-token:def".into())
        );
        reader.acknowledge("revoked-token:def").await.unwrap();
        assert_eq!(
            sent.await.unwrap(),
            Announced {
                listeners: 1,
                confirmed: 1
            }
        );
        // Redis restarts: whatever was published meanwhile is lost, so the follower is told
        // to reload once it is subscribed again, and then hears new announcements.
        redis.restart();
        assert_eq!(next(&mut heard).await, Announcement::Resync);
        reader.acknowledge("revoked-token:ghi").await.unwrap();
        writer.announce("revoked-token:ghi").await.unwrap();
        assert_eq!(
            next(&mut heard).await,
            Announcement::Changed("revoked-token:ghi".into())
        );
    }

    fn signal(redis: &TestRedis, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &redis.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quiet_subscription_survives_its_heartbeats_and_a_frozen_server_is_noticed() {
        let redis = TestRedis::start();
        let (writer, reader) = (redis.store("quiet:"), redis.store("quiet:"));
        let mut heard = reader.follow(Duration::from_millis(100));
        assert_eq!(next(&mut heard).await, Announcement::Resync);
        // Ten heartbeats with nothing announced: still the same subscription, so no resync
        // (a resync reloads every revocation from Redis).
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(
            heard.try_recv(),
            Err(mpsc::error::TryRecvError::Empty),
            "the subscription was dropped and made again while nothing was wrong"
        );
        writer.announce("revoked-token:quiet").await.unwrap();
        assert_eq!(
            next(&mut heard).await,
            Announcement::Changed("revoked-token:quiet".into())
        );
        // A server that stops answering without closing the connection (a silent partition)
        // is noticed by the heartbeat; once it answers again the follower resubscribes and
        // is told to reload.
        signal(&redis, "-STOP");
        tokio::time::sleep(REDIS_TIMEOUT * 3).await;
        signal(&redis, "-CONT");
        assert_eq!(next(&mut heard).await, Announcement::Resync);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_down_is_a_quick_unavailable_error_and_recovery_needs_no_restart() {
        let mut redis = TestRedis::start();
        let store = redis.store("down:");
        store
            .put("code:a", "1", Duration::from_secs(60))
            .await
            .unwrap();
        redis.stop();
        let started = std::time::Instant::now();
        let error = store.get("code:a").await.unwrap_err();
        assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
        assert!(store.ping().await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // A new server on the same port: the store finds it again by itself.
        redis.restart();
        let mut ok = false;
        for _ in 0..50 {
            if store
                .put("code:b", "2", Duration::from_secs(60))
                .await
                .is_ok()
            {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "the store reconnected");
        assert_eq!(store.get("code:b").await.unwrap().as_deref(), Some("2"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn behind_sentinel_the_store_follows_a_failover_to_the_new_primary() {
        let mut primary = TestRedis::start();
        let primary_port = primary.port.to_string();
        let replica = TestRedis::start_with(&["--replicaof", "127.0.0.1", &primary_port]);
        let dir = tempfile::tempdir().expect("sentinel dir");
        let sentinel_port = free_port();
        let config = dir.path().join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor okta-mcp 127.0.0.1 {primary_port} 1\n\
                 sentinel down-after-milliseconds okta-mcp 500\n\
                 sentinel failover-timeout okta-mcp 3000\n",
                dir.path().display()
            ),
        )
        .expect("sentinel.conf");
        let mut sentinel = std::process::Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server --sentinel");
        let url = format!("redis+sentinel://127.0.0.1:{sentinel_port}/okta-mcp");
        let store = RedisStore::new(RedisSettings::new(&url, None, "ha:")).expect("settings");
        let mut written = false;
        for _ in 0..100 {
            if store
                .put("client:a", "1", Duration::from_secs(60))
                .await
                .is_ok()
            {
                written = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(written, "Sentinel named the primary");
        suite::run(
            &RedisStore::new(RedisSettings::new(&url, None, "suite-ha:")).expect("settings"),
        )
        .await;
        // Wait until the replica has it, then lose the primary.
        let on_replica = replica.store("ha:");
        for _ in 0..100 {
            if on_replica.get("client:a").await.ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        primary.stop();
        let started = std::time::Instant::now();
        let mut failed_over = false;
        while started.elapsed() < Duration::from_secs(20) {
            if store
                .put("client:b", "2", Duration::from_secs(60))
                .await
                .is_ok()
            {
                failed_over = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = sentinel.kill();
        let _ = sentinel.wait();
        assert!(failed_over, "writes resumed on the promoted replica");
        assert_eq!(store.get("client:a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(store.get("client:b").await.unwrap().as_deref(), Some("2"));
        assert_eq!(
            on_replica.get("client:b").await.unwrap().as_deref(),
            Some("2")
        );
    }

    #[test]
    fn bad_sentinel_urls_are_refused_with_what_is_wrong() {
        for (bad, why) in [
            ("redis+sentinel://127.0.0.1:26379", "service name"),
            ("redis+sentinel://127.0.0.1:26379/", "service name"),
            ("redis+sentinel:///svc", "no Sentinel"),
            ("redis+sentinel://host/svc", "host:port"),
            ("redis+sentinel://h:1,h:x/svc", "host:port"),
            ("redis+sentinel://h:1/svc/zero", "not a number"),
        ] {
            let error = RedisStore::new(RedisSettings::new(bad, None, "p:"))
                .err()
                .expect("refused")
                .to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
        let store = RedisStore::new(RedisSettings::new(
            "redis+sentinel://u:s3cret@h1:26379,h2:26379/svc/2",
            None,
            "p:",
        ))
        .expect("a good one");
        assert!(!store.describe().contains("s3cret"), "{}", store.describe());
    }

    #[test]
    fn bad_urls_are_refused_and_passwords_never_shown() {
        for bad in ["http://x", "not a url", "redis+cluster://x"] {
            let error = RedisStore::new(RedisSettings::new(bad, None, "p:"))
                .err()
                .expect("refused")
                .to_string();
            assert!(error.contains("STORE_URL"), "{error}");
        }
        let store = RedisStore::new(RedisSettings::new(
            "redis://:s3cret@127.0.0.1:1",
            None,
            "p:",
        ))
        .unwrap();
        assert!(!store.describe().contains("s3cret"), "{}", store.describe());
    }
}
