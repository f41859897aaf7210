//! What has been revoked: access tokens, refresh-token families and browser sessions.
//!
//! `/mcp` checks every request against revocations, so that check must not wait on a remote
//! store: each replica keeps every live revocation in memory and answers from there. The store
//! stays the record (a restart or a new replica loads it with [`Revocations::reload`]), and a
//! revocation made on one replica reaches the others through [`Store::announce`]: Redis
//! publishes it and every replica's [`Revocations::follow`] adds it within milliseconds. If
//! announcements may have been missed (the subscription dropped and came back), the whole list
//! is loaded again. While the store is unreachable, `/mcp` keeps answering from the last known
//! list; a replica that has never loaded it answers 503 rather than guess.
//!
//! Entries are never removed before they expire, so merging a reload into what is known is
//! always safe.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::store::{Announcement, Store, StoreError};

/// The store namespaces that hold revocations.
const NAMESPACES: [&str; 3] = ["revoked-token", "revoked-family", "revoked-session"];

/// More entries than the store itself can hold in those namespaces: a bound, never reached.
const MAX_KNOWN: usize = NAMESPACES.len() * crate::store::DEFAULT_CAPACITY_PER_NAMESPACE * 4;

/// Every live revocation, kept in memory and in the store.
pub struct Revocations {
    store: Arc<dyn Store>,
    known: RwLock<Known>,
    loaded: AtomicBool,
}

/// The revocations in memory: per namespace (in [`NAMESPACES`] order), the id without its
/// namespace → expiry in unix milliseconds, so a look-up builds no key string.
#[derive(Default)]
struct Known([HashMap<Box<str>, u64>; NAMESPACES.len()]);

const TOKEN: usize = 0;
const FAMILY: usize = 1;
const SESSION: usize = 2;

impl Known {
    fn len(&self) -> usize {
        self.0.iter().map(HashMap::len).sum()
    }

    fn live(&self, namespace: usize, id: &str, now: u64) -> bool {
        self.0[namespace]
            .get(id)
            .is_some_and(|&expires| expires > now)
    }

    fn retain_live(&mut self, now: u64) {
        for map in &mut self.0 {
            map.retain(|_, &mut expires| expires > now);
        }
    }
}

/// A store key of one of [`NAMESPACES`]: its index and the id after the colon.
fn split_key(key: &str) -> Option<(usize, &str)> {
    let (namespace, id) = key.split_once(':')?;
    let index = NAMESPACES.iter().position(|n| *n == namespace)?;
    Some((index, id))
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn token_key(jti: &str) -> String {
    format!("revoked-token:{jti}")
}

fn family_key(family: &str) -> String {
    format!("revoked-family:{family}")
}

fn session_key(sid: &str) -> String {
    format!("revoked-session:{sid}")
}

impl Revocations {
    /// Revocations recorded in `store`; nothing is known until the first [`reload`](Self::reload).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            known: RwLock::new(Known::default()),
            loaded: AtomicBool::new(false),
        }
    }

    /// Whether the list has been loaded from the store at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Loads the list if it never was; the error when the store cannot be read.
    pub async fn ensure_loaded(&self) -> Result<(), StoreError> {
        if self.is_loaded() {
            return Ok(());
        }
        self.reload().await.map(drop)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        self.known
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the store key `key` is a live revocation in memory.
    #[cfg(test)]
    fn contains(&self, key: &str) -> bool {
        split_key(key).is_some_and(|(namespace, id)| {
            self.read().live(namespace, id, unix_ms(SystemTime::now()))
        })
    }

    /// Whether the access token `jti` or its family `family` is revoked (memory only, one
    /// look-up under one lock).
    pub fn token_revoked(&self, jti: &str, family: &str) -> bool {
        let now = unix_ms(SystemTime::now());
        let known = self.read();
        known.live(TOKEN, jti, now) || known.live(FAMILY, family, now)
    }

    /// Whether the browser session `sid` is revoked (memory only).
    pub fn session_revoked(&self, sid: &str) -> bool {
        self.read().live(SESSION, sid, unix_ms(SystemTime::now()))
    }

    /// Whether `family` is revoked, asking the store itself: for `/token`, which must see a
    /// revocation made on another replica a moment ago.
    pub async fn family_revoked_in_store(&self, family: &str) -> Result<bool, StoreError> {
        let known = self.read().live(FAMILY, family, unix_ms(SystemTime::now()));
        Ok(known || self.store.get(&family_key(family)).await?.is_some())
    }

    /// Stops the access token `jti` for `remaining` (until it would have expired anyway).
    pub async fn revoke_token(&self, jti: &str, remaining: Duration) -> Result<(), StoreError> {
        self.revoke(&token_key(jti), remaining).await
    }

    /// Stops every token of `family`; `ttl` must outlive its longest token.
    pub async fn revoke_family(&self, family: &str, ttl: Duration) -> Result<(), StoreError> {
        self.revoke(&family_key(family), ttl).await
    }

    /// Stops the browser session `sid` for `remaining`.
    pub async fn revoke_session(&self, sid: &str, remaining: Duration) -> Result<(), StoreError> {
        self.revoke(&session_key(sid), remaining).await
    }

    async fn revoke(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        if ttl.is_zero() {
            return Ok(());
        }
        // The store first: a revocation is acknowledged only once it is durable and shared.
        self.store.put(key, "1", ttl).await?;
        let expires = unix_ms(SystemTime::now() + ttl);
        self.remember(key, expires);
        if let Err(error) = self.store.announce(&format!("{key} {expires}")).await {
            // Recorded in the store: other replicas pick it up when they next reload.
            tracing::warn!(%error, "revocation recorded but not announced");
        }
        Ok(())
    }

    /// Takes the store key `key` (one of [`NAMESPACES`]) into memory until `expires`.
    fn remember(&self, key: &str, expires: u64) {
        let Some((namespace, id)) = split_key(key) else {
            return;
        };
        let mut known = self
            .known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.len() >= MAX_KNOWN {
            known.retain_live(unix_ms(SystemTime::now()));
        }
        let map = &mut known.0[namespace];
        if let Some(entry) = map.get_mut(id) {
            *entry = (*entry).max(expires);
        } else if known.len() < MAX_KNOWN {
            known.0[namespace].insert(id.into(), expires);
        } else {
            tracing::error!(key = ?key, "revocation list full; not caching");
        }
    }

    /// Loads every live revocation from the store into memory; how many there are.
    pub async fn reload(&self) -> Result<usize, StoreError> {
        let mut found = Vec::new();
        for namespace in NAMESPACES {
            found.extend(self.store.scan(namespace).await?);
        }
        let count = found.len();
        for entry in found {
            if NAMESPACES.contains(&crate::store::namespace_of(&entry.key)) {
                self.remember(&entry.key, unix_ms(entry.expires));
            }
        }
        self.prune();
        self.loaded.store(true, Ordering::Release);
        Ok(count)
    }

    /// Forgets expired entries.
    fn prune(&self) {
        let now = unix_ms(SystemTime::now());
        self.known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain_live(now);
    }

    /// Takes one announcement (`<key> <expiry ms>`) into memory.
    fn hear(&self, message: &str) {
        let parsed = message
            .split_once(' ')
            .and_then(|(key, expires)| Some((key, expires.parse::<u64>().ok()?)))
            .filter(|(key, _)| NAMESPACES.contains(&crate::store::namespace_of(key)));
        match parsed {
            Some((key, expires)) => self.remember(key, expires),
            None => tracing::warn!("ignoring an announcement that is not a revocation"),
        }
    }

    /// Keeps the list current until `shutdown` turns true: loads it, follows announcements,
    /// reloads after a gap, forgets what expired.
    pub async fn follow(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut announcements = self.store.announcements();
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        let mut need_reload = true;
        loop {
            if need_reload {
                match self.reload().await {
                    Ok(count) => {
                        tracing::info!(count, "revocations loaded");
                        need_reload = false;
                    }
                    Err(error) => tracing::warn!(%error, "cannot load revocations; retrying"),
                }
            }
            tokio::select! {
                heard = async {
                    match announcements.as_mut() {
                        Some(receiver) => receiver.recv().await,
                        None => std::future::pending().await,
                    }
                } => match heard {
                    Some(Announcement::Changed(message)) => self.hear(&message),
                    Some(Announcement::Resync) => need_reload = true,
                    None => announcements = None,
                },
                _ = retry.tick(), if need_reload => {}
                _ = prune.tick() => self.prune(),
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn revocations_are_answered_from_memory_and_kept_in_the_store() {
        let store = Arc::new(MemoryStore::default());
        let list = Revocations::new(store.clone());
        list.revoke_token("jti-1", Duration::from_secs(60))
            .await
            .unwrap();
        list.revoke_family("fam-1", Duration::from_secs(60))
            .await
            .unwrap();
        list.revoke_session("sid-1", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(list.token_revoked("jti-1", "other"));
        assert!(list.token_revoked("other", "fam-1"));
        assert!(!list.token_revoked("other", "other"));
        assert!(list.session_revoked("sid-1"));
        assert!(!list.session_revoked("sid-2"));
        assert!(store.get("revoked-family:fam-1").await.unwrap().is_some());
        // Zero time left: nothing to record.
        list.revoke_token("jti-0", Duration::ZERO).await.unwrap();
        assert!(store.get("revoked-token:jti-0").await.unwrap().is_none());

        // A second list on the same store (a restart) learns them by loading.
        let restarted = Revocations::new(store.clone());
        assert!(!restarted.is_loaded());
        assert!(!restarted.token_revoked("jti-1", "x"));
        restarted.ensure_loaded().await.unwrap();
        assert!(restarted.token_revoked("jti-1", "x"));
        assert!(restarted.token_revoked("x", "fam-1"));
        assert!(restarted.session_revoked("sid-1"));
        assert!(restarted.family_revoked_in_store("fam-1").await.unwrap());
    }

    #[tokio::test]
    async fn revocations_expire() {
        let list = Revocations::new(Arc::new(MemoryStore::default()));
        list.revoke_token("short", Duration::from_millis(50))
            .await
            .unwrap();
        assert!(list.token_revoked("short", "f"));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(!list.token_revoked("short", "f"));
    }

    #[test]
    fn announcements_that_are_not_revocations_are_ignored() {
        let list = Revocations::new(Arc::new(MemoryStore::default()));
        let later = unix_ms(SystemTime::now()) + 60_000;
        list.hear(&format!("revoked-token:a {later}"));
        list.hear(&format!("client:b {later}"));
        list.hear("revoked-token:c not-a-number");
        list.hear("garbage");
        assert!(list.token_revoked("a", "-"));
        assert!(!list.contains("client:b"));
        assert!(!list.token_revoked("c", "-"));
    }
}
