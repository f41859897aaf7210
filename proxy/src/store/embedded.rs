//! The default store: one file on local disk, so a restart of the proxy loses nothing.
//!
//! It is [redb], a pure-Rust, ACID, copy-on-write B-tree in one file. Chosen over SQLite
//! (`rusqlite`) because it needs no C toolchain or bundled library, every commit is durable when
//! it returns (so a SIGKILL right after an answer loses nothing that answer promised), and a
//! torn write is recovered from the last good commit when the file is opened again. Only one
//! process opens the file at a time, which is what a single replica needs; more replicas share
//! Redis instead.
//!
//! Three tables: the entries (key → expiry, value), an index by (namespace, expiry, key) that
//! finds what expired or what to evict first without a scan, and each namespace's count and
//! bytes, so the bounds hold across restarts. Freed pages are reused, so a flood of
//! registrations that the bounds cut keeps the file at a steady size.
//!
//! redb's calls block (a commit waits for `fsync`), so each runs on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use super::{MAX_VALUE_BYTES, ScannedEntry, Store, StoreError, namespace_of};

/// key → (expires, unix ms; value)
const ENTRIES: TableDefinition<&str, (u64, &str)> = TableDefinition::new("entries");
/// (namespace, expires unix ms, key) → ()
const BY_EXPIRY: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("by_expiry");
/// namespace → (entries, key + value bytes)
const USAGE: TableDefinition<&str, (u64, u64)> = TableDefinition::new("usage");

/// The state file's name inside the state directory.
pub const STATE_FILE: &str = "proxy.redb";

/// redb's page cache. The state is a few MiB at most (the bounds), so this keeps the hot part in
/// memory without letting the cache grow to redb's default of 1 GiB.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Longest time to live kept (ten years); longer ones are cut to this.
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A [`Store`] in one redb file, bounded per namespace like the in-memory store.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
    capacity_per_namespace: u64,
    bytes_per_namespace: u64,
}

/// Why the state file cannot be used; each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "cannot create the state directory {dir}: {source}; set STATE_DIR to a writable folder"
    )]
    Directory {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the state file {0} is in use by another okta-mcp-proxy; each replica needs its own STATE_DIR (or share Redis with STORE_URL)"
    )]
    InUse(PathBuf),
    #[error(
        "the state file {path} cannot be read ({why}). Nothing was changed. To start with empty state (every user logs in again), move it away: mv {path} {path}.bad — or restore it from a backup"
    )]
    Unreadable { path: PathBuf, why: String },
}

impl EmbeddedStore {
    /// Opens (or creates) `dir/proxy.redb`, bounded like [`MemoryStore::default`](super::MemoryStore).
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        Self::open_bounded(
            dir,
            super::DEFAULT_CAPACITY_PER_NAMESPACE,
            super::DEFAULT_BYTES_PER_NAMESPACE,
        )
    }

    /// Opens (or creates) `dir/proxy.redb`, keeping at most `capacity` entries and `bytes` of
    /// keys and values per namespace.
    pub fn open_bounded(dir: &Path, capacity: usize, bytes: usize) -> Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
            dir: dir.to_owned(),
            source,
        })?;
        let path = dir.join(STATE_FILE);
        let unreadable = |why: String| OpenError::Unreadable {
            path: path.clone(),
            why,
        };
        let db = match Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
        {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => return Err(OpenError::InUse(path)),
            Err(error) => return Err(unreadable(error.to_string())),
        };
        // Create the tables once, so readers never meet a missing one.
        let created = (|| -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            txn.open_table(ENTRIES)?;
            txn.open_table(BY_EXPIRY)?;
            txn.open_table(USAGE)?;
            txn.commit()?;
            Ok(())
        })();
        created.map_err(|e| unreadable(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                path,
                capacity_per_namespace: capacity.max(1) as u64,
                bytes_per_namespace: bytes.max(MAX_VALUE_BYTES * 2) as u64,
            }),
        })
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` on the blocking pool; redb errors become [`StoreError::Unavailable`].
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        match tokio::task::spawn_blocking(move || work(&inner)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::Unavailable(format!(
                "state file {}: {error}",
                self.inner.path.display()
            ))),
            Err(error) => Err(StoreError::Unavailable(format!(
                "state file task failed: {error}"
            ))),
        }
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Inner {
    /// Removes `key` with its index entry and usage; returns its (expiry, value) if it was there.
    fn remove(txn: &WriteTransaction, key: &str) -> Result<Option<(u64, String)>, redb::Error> {
        let mut entries = txn.open_table(ENTRIES)?;
        let Some((expires, value)) = entries.remove(key)?.map(|guard| {
            let (expires, value) = guard.value();
            (expires, value.to_owned())
        }) else {
            return Ok(None);
        };
        let namespace = namespace_of(key);
        txn.open_table(BY_EXPIRY)?
            .remove((namespace, expires, key))?;
        let mut usage = txn.open_table(USAGE)?;
        let (count, bytes) = usage.get(namespace)?.map_or((0, 0), |g| g.value());
        let size = (key.len() + value.len()) as u64;
        usage.insert(
            namespace,
            (count.saturating_sub(1), bytes.saturating_sub(size)),
        )?;
        Ok(Some((expires, value)))
    }

    /// The key in `namespace` that expires soonest, if its expiry is before `before`.
    fn soonest(
        txn: &WriteTransaction,
        namespace: &str,
        before: u64,
    ) -> Result<Option<String>, redb::Error> {
        let index = txn.open_table(BY_EXPIRY)?;
        let mut range = index.range((namespace, 0, "")..(namespace, before, ""))?;
        Ok(match range.next() {
            Some(item) => Some(item?.0.value().2.to_owned()),
            None => None,
        })
    }

    fn purge_expired(
        txn: &WriteTransaction,
        namespace: &str,
        now: u64,
    ) -> Result<usize, redb::Error> {
        let mut purged = 0;
        while let Some(key) = Self::soonest(txn, namespace, now.saturating_add(1))? {
            Self::remove(txn, &key)?;
            purged += 1;
        }
        Ok(purged)
    }

    fn usage(txn: &WriteTransaction, namespace: &str) -> Result<(u64, u64), redb::Error> {
        Ok(txn
            .open_table(USAGE)?
            .get(namespace)?
            .map_or((0, 0), |g| g.value()))
    }

    /// `put` and `put_new`: with `only_new`, nothing changes when `key` is live.
    fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        only_new: bool,
    ) -> Result<bool, redb::Error> {
        let now = unix_ms(SystemTime::now());
        let expires = now.saturating_add(u64::try_from(ttl.min(MAX_TTL).as_millis()).unwrap_or(0));
        let namespace = namespace_of(key);
        let size = (key.len() + value.len()) as u64;
        let txn = self.db.begin_write()?;
        Self::purge_expired(&txn, namespace, now)?;
        if only_new {
            let live = txn
                .open_table(ENTRIES)?
                .get(key)?
                .is_some_and(|guard| guard.value().0 > now);
            if live {
                return Ok(false);
            }
        }
        Self::remove(&txn, key)?;
        loop {
            let (count, bytes) = Self::usage(&txn, namespace)?;
            if count < self.capacity_per_namespace && bytes + size <= self.bytes_per_namespace {
                break;
            }
            match Self::soonest(&txn, namespace, u64::MAX)? {
                Some(victim) => {
                    Self::remove(&txn, &victim)?;
                }
                None => break,
            }
        }
        txn.open_table(ENTRIES)?.insert(key, (expires, value))?;
        txn.open_table(BY_EXPIRY)?
            .insert((namespace, expires, key), ())?;
        let (count, bytes) = Self::usage(&txn, namespace)?;
        txn.open_table(USAGE)?
            .insert(namespace, (count + 1, bytes + size))?;
        txn.commit()?;
        Ok(true)
    }

    fn get(&self, key: &str) -> Result<Option<String>, redb::Error> {
        let now = unix_ms(SystemTime::now());
        let txn = self.db.begin_read()?;
        let entries = txn.open_table(ENTRIES)?;
        Ok(entries.get(key)?.and_then(|guard| {
            let (expires, value) = guard.value();
            (expires > now).then(|| value.to_owned())
        }))
    }

    fn take(&self, key: &str) -> Result<Option<String>, redb::Error> {
        let now = unix_ms(SystemTime::now());
        let txn = self.db.begin_write()?;
        let removed = Self::remove(&txn, key)?;
        txn.commit()?;
        Ok(removed.and_then(|(expires, value)| (expires > now).then_some(value)))
    }

    fn delete(&self, key: &str) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        if Self::remove(&txn, key)?.is_some() {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(())
    }

    fn scan(&self, namespace: &str) -> Result<Vec<ScannedEntry>, redb::Error> {
        let now = unix_ms(SystemTime::now());
        let txn = self.db.begin_read()?;
        let entries = txn.open_table(ENTRIES)?;
        // Keys of `namespace` are exactly those from "namespace:" up to "namespace;" (':' + 1).
        let from = format!("{namespace}:");
        let to = format!("{namespace};");
        let mut found = Vec::new();
        for item in entries.range(from.as_str()..to.as_str())? {
            let (key, value) = item?;
            let (expires, value) = value.value();
            if expires > now {
                found.push(ScannedEntry {
                    key: key.value().to_owned(),
                    value: value.to_owned(),
                    expires: UNIX_EPOCH + Duration::from_millis(expires),
                });
            }
        }
        Ok(found)
    }

    fn purge_all(&self) -> Result<usize, redb::Error> {
        let now = unix_ms(SystemTime::now());
        let txn = self.db.begin_write()?;
        let namespaces: Vec<String> = txn
            .open_table(USAGE)?
            .iter()?
            .filter_map(|item| item.ok().map(|(name, _)| name.value().to_owned()))
            .collect();
        let mut purged = 0;
        for namespace in &namespaces {
            purged += Self::purge_expired(&txn, namespace, now)?;
        }
        if purged > 0 {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(purged)
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge(value.len()));
        }
        let (key, value) = (key.to_owned(), value.to_owned());
        self.blocking(move |inner| inner.put(&key, &value, ttl, false))
            .await
            .map(drop)
    }

    async fn put_new(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge(value.len()));
        }
        let (key, value) = (key.to_owned(), value.to_owned());
        self.blocking(move |inner| inner.put(&key, &value, ttl, true))
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.get(&key)).await
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.take(&key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.blocking(move |inner| inner.delete(&key)).await
    }

    async fn scan(&self, namespace: &str) -> Result<Vec<ScannedEntry>, StoreError> {
        let namespace = namespace.to_owned();
        self.blocking(move |inner| inner.scan(&namespace)).await
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        self.blocking(Inner::purge_all).await
    }

    fn describe(&self) -> String {
        format!("embedded store {}", self.inner.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::suite;

    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_store_passes_the_store_suite() {
        let dir = scratch();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        suite::run(&store).await;
        suite::run_concurrent_take(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_store_passes_the_bounds_suite() {
        let dir = scratch();
        suite::run_bounds(|capacity, bytes| {
            let sub = dir.path().join(format!("{capacity}-{bytes}"));
            Box::new(EmbeddedStore::open_bounded(&sub, capacity, bytes).unwrap())
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_was_acknowledged_is_there_after_reopening() {
        let dir = scratch();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .put("client:a", "kept", Duration::from_secs(60))
                .await
                .unwrap();
            store
                .put("code:b", "gone", Duration::from_secs(60))
                .await
                .unwrap();
            store.take("code:b").await.unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            store.get("client:a").await.unwrap().as_deref(),
            Some("kept")
        );
        assert_eq!(store.get("code:b").await.unwrap(), None);
        // The bounds' bookkeeping survived too: the namespace holds one entry.
        let usage = store
            .blocking(|inner| {
                let txn = inner.db.begin_write()?;
                let usage = Inner::usage(&txn, "client")?;
                txn.abort()?;
                Ok(usage)
            })
            .await
            .unwrap();
        assert_eq!(usage, (1, ("client:a".len() + "kept".len()) as u64));
    }

    #[tokio::test]
    async fn a_second_opener_is_told_the_file_is_in_use() {
        let dir = scratch();
        let _first = EmbeddedStore::open(dir.path()).unwrap();
        let second = EmbeddedStore::open(dir.path()).err().expect("refused");
        let message = second.to_string();
        assert!(message.contains("in use"), "{message}");
        assert!(message.contains(STATE_FILE), "{message}");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_refused_with_what_to_do() {
        let dir = scratch();
        std::fs::write(dir.path().join(STATE_FILE), b"definitely not redb\n").unwrap();
        let message = EmbeddedStore::open(dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(message.contains("cannot be read"), "{message}");
        assert!(message.contains("mv "), "{message}");
        // Nothing was overwritten.
        assert_eq!(
            std::fs::read(dir.path().join(STATE_FILE)).unwrap(),
            b"definitely not redb\n"
        );
    }

    #[tokio::test]
    async fn a_state_dir_that_cannot_be_created_is_a_clear_error() {
        let dir = scratch();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let message = EmbeddedStore::open(&blocker.join("state"))
            .err()
            .expect("refused")
            .to_string();
        assert!(message.contains("STATE_DIR"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_entries_are_purged_in_the_background_sweep() {
        let dir = scratch();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .put("login:a", "1", Duration::from_millis(50))
            .await
            .unwrap();
        store
            .put("consent:b", "2", Duration::from_millis(50))
            .await
            .unwrap();
        store
            .put("consent:c", "3", Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(store.purge_expired().await.unwrap(), 2);
        assert_eq!(store.purge_expired().await.unwrap(), 0);
        assert_eq!(store.scan("consent").await.unwrap().len(), 1);
    }
}
