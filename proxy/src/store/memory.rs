//! The in-process store: bounded per namespace, expiring, for a single proxy replica.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    DEFAULT_BYTES_PER_NAMESPACE, DEFAULT_CAPACITY_PER_NAMESPACE, MAX_VALUE_BYTES, ScannedEntry,
    Store, StoreError, namespace_of,
};

/// Longest time to live kept; longer ones are cut to this (and cannot overflow `Instant`).
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A bounded, expiring in-memory [`Store`]. When a namespace is full (by count or by bytes),
/// the entries that would expire soonest (expired ones first) make room for the new one.
pub struct MemoryStore {
    capacity_per_namespace: usize,
    bytes_per_namespace: usize,
    namespaces: Mutex<HashMap<String, Namespace>>,
}

#[derive(Default)]
struct Namespace {
    entries: HashMap<String, Entry>,
    /// Key and value bytes held.
    bytes: usize,
    /// (expiry, insertion number) → key, soonest first.
    by_expiry: BTreeMap<(Instant, u64), String>,
    next_seq: u64,
}

struct Entry {
    value: String,
    expires: Instant,
    seq: u64,
}

impl MemoryStore {
    /// A store keeping at most `capacity_per_namespace` entries in each namespace.
    pub fn new(capacity_per_namespace: usize) -> Self {
        Self {
            capacity_per_namespace: capacity_per_namespace.max(1),
            bytes_per_namespace: DEFAULT_BYTES_PER_NAMESPACE,
            namespaces: Mutex::new(HashMap::new()),
        }
    }

    /// The same store, holding at most `bytes` of keys and values per namespace.
    pub fn with_bytes_per_namespace(mut self, bytes: usize) -> Self {
        self.bytes_per_namespace = bytes.max(MAX_VALUE_BYTES * 2);
        self
    }

    fn with_namespace<T>(&self, key: &str, f: impl FnOnce(&mut Namespace) -> T) -> T {
        let name = namespace_of(key);
        // A panic while holding the lock cannot leave an entry half-written, so keep going.
        let mut namespaces = self
            .namespaces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !namespaces.contains_key(name) {
            namespaces.insert(name.to_owned(), Namespace::default());
        }
        match namespaces.get_mut(name) {
            Some(namespace) => f(namespace),
            None => f(&mut Namespace::default()),
        }
    }
}

impl Default for MemoryStore {
    /// Ten thousand entries and 8 MiB per namespace.
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY_PER_NAMESPACE)
    }
}

impl Namespace {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.by_expiry.remove(&(entry.expires, entry.seq));
        self.bytes -= key.len() + entry.value.len();
        Some(entry)
    }

    /// Drops the entry that expires soonest; false when empty.
    fn evict_one(&mut self) -> bool {
        match self.by_expiry.first_key_value() {
            Some((_, key)) => {
                let key = key.clone();
                self.remove(&key).is_some()
            }
            None => false,
        }
    }

    fn purge_expired(&mut self, now: Instant) {
        while let Some((&(expires, seq), _)) = self.by_expiry.first_key_value() {
            if expires > now {
                break;
            }
            match self.by_expiry.get(&(expires, seq)).cloned() {
                Some(key) => {
                    self.remove(&key);
                }
                None => break,
            }
        }
    }

    fn live(&mut self, key: &str, now: Instant) -> Option<&Entry> {
        if self.entries.get(key).is_some_and(|e| e.expires <= now) {
            self.remove(key);
        }
        self.entries.get(key)
    }
}

impl MemoryStore {
    /// `put` and `put_new`: with `only_new`, nothing changes when `key` is live.
    fn insert(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        only_new: bool,
    ) -> Result<bool, StoreError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge(value.len()));
        }
        let now = Instant::now();
        let expires = now + ttl.min(MAX_TTL);
        let capacity = self.capacity_per_namespace;
        let budget = self.bytes_per_namespace;
        let size = key.len() + value.len();
        Ok(self.with_namespace(key, |ns| {
            ns.purge_expired(now);
            if only_new && ns.live(key, now).is_some() {
                return false;
            }
            ns.remove(key);
            while (ns.entries.len() >= capacity || ns.bytes + size > budget) && ns.evict_one() {}
            ns.bytes += size;
            let seq = ns.next_seq;
            ns.next_seq += 1;
            ns.by_expiry.insert((expires, seq), key.to_owned());
            ns.entries.insert(
                key.to_owned(),
                Entry {
                    value: value.to_owned(),
                    expires,
                    seq,
                },
            );
            true
        }))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        self.insert(key, value, ttl, false).map(drop)
    }

    async fn put_new(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.insert(key, value, ttl, true)
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = Instant::now();
        Ok(self.with_namespace(key, |ns| ns.live(key, now).map(|e| e.value.clone())))
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = Instant::now();
        Ok(self.with_namespace(key, |ns| {
            ns.live(key, now)?;
            ns.remove(key).map(|e| e.value)
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.with_namespace(key, |ns| ns.remove(key));
        Ok(())
    }

    async fn scan(&self, namespace: &str) -> Result<Vec<ScannedEntry>, StoreError> {
        let now = Instant::now();
        let wall = std::time::SystemTime::now();
        Ok(self.with_namespace(&format!("{namespace}:"), |ns| {
            ns.entries
                .iter()
                .filter(|(_, entry)| entry.expires > now)
                .map(|(key, entry)| ScannedEntry {
                    key: key.clone(),
                    value: entry.value.clone(),
                    expires: wall + (entry.expires - now),
                })
                .collect()
        }))
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = Instant::now();
        let mut namespaces = self
            .namespaces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(namespaces
            .values_mut()
            .map(|ns| {
                let before = ns.entries.len();
                ns.purge_expired(now);
                before - ns.entries.len()
            })
            .sum())
    }

    fn describe(&self) -> String {
        "in-memory store (lost at restart)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::suite;

    #[tokio::test]
    async fn memory_store_passes_the_store_suite() {
        suite::run(&MemoryStore::default()).await;
    }

    #[tokio::test]
    async fn memory_store_passes_the_bounds_suite() {
        suite::run_bounds(|capacity, bytes| {
            Box::new(MemoryStore::new(capacity).with_bytes_per_namespace(bytes))
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_take_is_atomic() {
        suite::run_concurrent_take(std::sync::Arc::new(MemoryStore::default())).await;
    }

    #[tokio::test]
    async fn deleting_gives_the_bytes_back() {
        let store = MemoryStore::new(100);
        let value = "v".repeat(10_000);
        store
            .put("client:a", &value, Duration::from_secs(60))
            .await
            .unwrap();
        let held = store.with_namespace("client:", |ns| ns.bytes);
        assert_eq!(held, "client:a".len() + value.len());
        store.delete("client:a").await.unwrap();
        assert_eq!(store.with_namespace("client:", |ns| ns.bytes), 0);
    }
}
