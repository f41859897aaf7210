//! A [`Store`] that times every operation of the one it wraps and counts its failures
//! (`okta_mcp_proxy_store_*`), whatever the backend.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Announced, Announcement, ScannedEntry, Store, StoreError};
use crate::metrics::METRICS;

/// `inner`, measured.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
}

impl MeteredStore {
    /// Measures every operation of `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }
}

/// Runs `operation`, recording its time and whether it failed.
async fn measured<T>(
    name: &'static str,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = operation.await;
    METRICS.store_operation(name, started.elapsed(), result.is_err());
    result
}

#[async_trait]
impl Store for MeteredStore {
    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        measured("put", self.inner.put(key, value, ttl)).await
    }
    async fn put_new(
        &self,
        key: &str,
        value: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        measured("put_new", self.inner.put_new(key, value, ttl)).await
    }
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        measured("get", self.inner.get(key)).await
    }
    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        measured("take", self.inner.take(key)).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        measured("delete", self.inner.delete(key)).await
    }
    async fn scan(&self, namespace: &str) -> Result<Vec<ScannedEntry>, StoreError> {
        measured("scan", self.inner.scan(namespace)).await
    }
    async fn purge_expired(&self) -> Result<usize, StoreError> {
        measured("purge", self.inner.purge_expired()).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        measured("ping", self.inner.ping()).await
    }
    async fn announce(&self, message: &str) -> Result<Announced, StoreError> {
        measured("announce", self.inner.announce(message)).await
    }
    async fn acknowledge(&self, message: &str) -> Result<(), StoreError> {
        measured("acknowledge", self.inner.acknowledge(message)).await
    }
    fn announcements(&self) -> Option<mpsc::Receiver<Announcement>> {
        self.inner.announcements()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, suite};

    #[tokio::test]
    async fn metered_store_passes_the_store_suite() {
        suite::run(&MeteredStore::new(Arc::new(MemoryStore::default()))).await;
    }
}
