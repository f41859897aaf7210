//! The in-process store: bounded per namespace, expiring, for a single proxy replica.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{MAX_VALUE_BYTES, Store, StoreError};

/// Longest time to live kept; longer ones are cut to this (and cannot overflow `Instant`).
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Bytes (keys + values) one namespace may hold by default, so a flood of large registrations
/// cannot grow the proxy's memory without bound.
pub const DEFAULT_BYTES_PER_NAMESPACE: usize = 8 * 1024 * 1024;

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
        let name = key.split_once(':').map_or("", |(namespace, _)| namespace);
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
    /// Ten thousand entries per namespace.
    fn default() -> Self {
        Self::new(10_000)
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

#[async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge(value.len()));
        }
        let now = Instant::now();
        let expires = now + ttl.min(MAX_TTL);
        let capacity = self.capacity_per_namespace;
        let budget = self.bytes_per_namespace;
        let size = key.len() + value.len();
        self.with_namespace(key, |ns| {
            ns.purge_expired(now);
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
        });
        Ok(())
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
    async fn a_namespace_is_bounded_by_bytes_too() {
        let store = MemoryStore::new(1_000_000).with_bytes_per_namespace(200_000);
        let value = "v".repeat(10_000);
        for i in 0..100 {
            store
                .put(&format!("client:{i}"), &value, Duration::from_secs(60 + i))
                .await
                .unwrap();
        }
        // Only about 20 values of 10 kB fit in 200 kB: the soonest-expiring went first.
        assert!(store.get("client:0").await.unwrap().is_none());
        assert!(store.get("client:99").await.unwrap().is_some());
        let held = store.with_namespace("client:", |ns| (ns.entries.len(), ns.bytes));
        assert!(held.1 <= 200_000, "{held:?}");
        assert!(held.0 >= 19, "{held:?}");
        // Other namespaces are untouched by the flood.
        store
            .put("revoked-family:f", "1", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(store.get("revoked-family:f").await.unwrap().is_some());
        // Deleting gives the bytes back.
        store.delete("client:99").await.unwrap();
        let after = store.with_namespace("client:", |ns| ns.bytes);
        assert_eq!(after, held.1 - "client:99".len() - value.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_take_is_atomic() {
        suite::run_concurrent_take(std::sync::Arc::new(MemoryStore::default())).await;
    }

    #[tokio::test]
    async fn a_full_namespace_drops_the_entry_expiring_soonest() {
        let store = MemoryStore::new(2);
        let hour = Duration::from_secs(3600);
        store.put("client:a", "1", hour).await.unwrap();
        store.put("client:b", "2", hour * 2).await.unwrap();
        store.put("client:c", "3", hour * 3).await.unwrap();
        assert_eq!(store.get("client:a").await.unwrap(), None);
        assert_eq!(store.get("client:b").await.unwrap().as_deref(), Some("2"));
        assert_eq!(store.get("client:c").await.unwrap().as_deref(), Some("3"));
    }

    #[tokio::test]
    async fn a_flood_in_one_namespace_leaves_the_others_alone() {
        let store = MemoryStore::new(3);
        let hour = Duration::from_secs(3600);
        store.put("revoked-family:x", "1", hour).await.unwrap();
        for i in 0..100 {
            store.put(&format!("client:{i}"), "c", hour).await.unwrap();
        }
        assert_eq!(
            store.get("revoked-family:x").await.unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(store.get("client:0").await.unwrap(), None);
        assert!(store.get("client:99").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn replacing_a_key_in_a_full_namespace_evicts_nothing_else() {
        let store = MemoryStore::new(2);
        let hour = Duration::from_secs(3600);
        store.put("code:a", "1", hour).await.unwrap();
        store.put("code:b", "2", hour).await.unwrap();
        store.put("code:b", "3", hour).await.unwrap();
        assert_eq!(store.get("code:a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(store.get("code:b").await.unwrap().as_deref(), Some("3"));
    }

    #[tokio::test]
    async fn expired_entries_make_room_first() {
        let store = MemoryStore::new(2);
        store
            .put("login:old", "1", Duration::from_millis(10))
            .await
            .unwrap();
        store
            .put("login:keep", "2", Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        store
            .put("login:new", "3", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(store.get("login:keep").await.unwrap().is_some());
        assert!(store.get("login:new").await.unwrap().is_some());
    }
}
