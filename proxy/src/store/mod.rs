//! The authorization server's state: registered clients, pending logins, one-time codes,
//! hashed refresh tokens, consents and revocations.
//!
//! Everything is a short string key with a JSON value and a time to live, plus an atomic
//! [`Store::take`] (get-and-delete) so a one-time code or an Okta `state` can be used exactly
//! once even when two requests race. That is all a shared store needs to offer too (Redis:
//! `SET key value PX ttl`, `GET`, `GETDEL`, `DEL`), so a second implementation only has to
//! pass the same [`suite`].
//!
//! Keys are `namespace:rest` (`client:…`, `code:…`, `refresh:…`). Each implementation bounds
//! each namespace on its own, so that a flood of one kind (anyone can register a client) never
//! pushes out another kind (a revocation).
//!
//! Three implementations pass the one [`suite`]: [`MemoryStore`] (tests, `--state-dir none`),
//! [`EmbeddedStore`] (the default: one file on disk, survives restarts) and [`RedisStore`]
//! (`STORE_URL`, shared by every replica). Revocations are also *announced* through the store
//! ([`Store::announce`]) so that every replica's in-memory copy (`revocations`) learns of them
//! at once; stores that only one process can open announce nothing.

mod embedded;
mod memory;
mod metered;
mod redis;
#[cfg(test)]
pub(crate) mod suite;

pub use embedded::{EmbeddedStore, OpenError, STATE_FILE};
pub use memory::MemoryStore;
pub use metered::MeteredStore;
#[cfg(test)]
pub(crate) use redis::tests::TestRedis;
pub use redis::{RedisSettings, RedisStore};

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::mpsc;

/// Entries one namespace may hold by default.
pub const DEFAULT_CAPACITY_PER_NAMESPACE: usize = 10_000;

/// Bytes (keys + values) one namespace may hold by default, so a flood of large registrations
/// cannot grow the proxy's memory, its state file or Redis without bound.
pub const DEFAULT_BYTES_PER_NAMESPACE: usize = 8 * 1024 * 1024;

/// The largest value a store must accept; larger ones are refused with [`StoreError::TooLarge`].
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("value of {0} bytes is larger than the store accepts")]
    TooLarge(usize),
    #[error("the store is not reachable: {0}")]
    Unavailable(String),
}

/// One live entry found by [`Store::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedEntry {
    pub key: String,
    pub value: String,
    pub expires: SystemTime,
}

/// What another process sharing the store announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// What [`Store::announce`] sent (the revocation list sends `<key> <expiry>`).
    Changed(String),
    /// Announcements may have been missed (the connection to the store was lost and is back):
    /// reload everything that is cached.
    Resync,
}

/// How long [`Store::announce`] waits for every follower to confirm an announcement: a
/// follower that takes longer is stuck or cut off, and catches up when it reloads.
pub const ANNOUNCE_WAIT: Duration = Duration::from_secs(1);

/// Who heard an announcement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Announced {
    /// The processes following announcements when it went out (the announcer's own included).
    pub listeners: usize,
    /// How many of them confirmed taking it in within [`ANNOUNCE_WAIT`].
    pub confirmed: usize,
}

/// The namespace of `key`: what comes before the first `:` (empty when there is none).
pub fn namespace_of(key: &str) -> &str {
    key.split_once(':').map_or("", |(namespace, _)| namespace)
}

/// Key/value state with expiry, shared by every request the proxy answers.
#[async_trait]
pub trait Store: Send + Sync {
    /// Sets `key` to `value` for `ttl`, replacing any earlier value.
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;
    /// Sets `key` like [`Store::put`] only if it holds no live value: of two racing calls,
    /// only one gets `true` (a one-time id's first use).
    async fn put_new(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// The value of `key`, if it is set and has not expired.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Gets and deletes `key` in one step: of two racing calls, only one sees the value.
    async fn take(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Deletes `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Every live entry of `namespace` (keys `namespace:…`), for caches that hold a whole one.
    async fn scan(&self, namespace: &str) -> Result<Vec<ScannedEntry>, StoreError>;
    /// Removes expired entries now; how many. Stores that expire entries themselves return 0.
    async fn purge_expired(&self) -> Result<usize, StoreError> {
        Ok(0)
    }
    /// Whether the store answers (for `/ready`).
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Tells every process following this store's announcements `message` (e.g. a key that
    /// changed), and returns once each of them has confirmed taking it in
    /// ([`Store::acknowledge`]) or [`ANNOUNCE_WAIT`] has passed.
    async fn announce(&self, _message: &str) -> Result<Announced, StoreError> {
        Ok(Announced::default())
    }
    /// Confirms to the announcer of `message` that this process has taken it in.
    async fn acknowledge(&self, _message: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// What other processes announce, from now on; `None` where no other process can share
    /// the store.
    fn announcements(&self) -> Option<mpsc::Receiver<Announcement>> {
        None
    }
    /// Which store this is, for logs (never a password).
    fn describe(&self) -> String;
}
