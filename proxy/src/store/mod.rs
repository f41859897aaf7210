//! The authorization server's state: registered clients, pending logins, one-time codes,
//! hashed refresh tokens, consents and revocations.
//!
//! Everything is a short string key with a JSON value and a time to live, plus an atomic
//! [`Store::take`] (get-and-delete) so a one-time code or an Okta `state` can be used exactly
//! once even when two requests race. That is all a shared store needs to offer too (Redis:
//! `SET key value PX ttl`, `GET`, `GETDEL`, `DEL`), so a second implementation only has to
//! pass the same [`suite`].
//!
//! Keys are `namespace:rest` (`client:…`, `code:…`, `refresh:…`). An implementation may bound
//! each namespace on its own, so that a flood of one kind (anyone can register a client) never
//! pushes out another kind (a revocation).

mod memory;
#[cfg(test)]
pub(crate) mod suite;

pub use memory::MemoryStore;

use std::time::Duration;

use async_trait::async_trait;

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

/// Key/value state with expiry, shared by every request the proxy answers.
#[async_trait]
pub trait Store: Send + Sync {
    /// Sets `key` to `value` for `ttl`, replacing any earlier value.
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;
    /// The value of `key`, if it is set and has not expired.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Gets and deletes `key` in one step: of two racing calls, only one sees the value.
    async fn take(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Deletes `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}
