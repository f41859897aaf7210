//! The behaviour every [`Store`] must show; run it against each implementation.

use std::sync::Arc;
use std::time::Duration;

use super::{MAX_VALUE_BYTES, Store, StoreError};

/// Runs every check of the suite against `store` (which should start empty).
pub(crate) async fn run(store: &dyn Store) {
    put_then_get_returns_the_value(store).await;
    a_missing_key_is_none(store).await;
    put_replaces_the_value(store).await;
    take_returns_the_value_once(store).await;
    delete_removes_and_tolerates_missing_keys(store).await;
    entries_expire(store).await;
    namespaces_do_not_collide(store).await;
    oversized_values_are_refused(store).await;
    values_keep_every_character(store).await;
}

/// Of many concurrent `take`s of one key, exactly one gets the value.
pub(crate) async fn run_concurrent_take(store: Arc<dyn Store>) {
    for round in 0..20 {
        let key = format!("suite-race:{round}");
        store
            .put(&key, "once", Duration::from_secs(60))
            .await
            .expect("put");
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move { store.take(&key).await }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("task").expect("take").is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "exactly one take wins");
    }
}

const MINUTE: Duration = Duration::from_secs(60);

async fn put_then_get_returns_the_value(store: &dyn Store) {
    store.put("suite:a", "alpha", MINUTE).await.expect("put");
    assert_eq!(
        store.get("suite:a").await.expect("get").as_deref(),
        Some("alpha")
    );
    // get does not consume
    assert_eq!(
        store.get("suite:a").await.expect("get").as_deref(),
        Some("alpha")
    );
}

async fn a_missing_key_is_none(store: &dyn Store) {
    assert_eq!(store.get("suite:missing").await.expect("get"), None);
    assert_eq!(store.take("suite:missing").await.expect("take"), None);
}

async fn put_replaces_the_value(store: &dyn Store) {
    store.put("suite:b", "first", MINUTE).await.expect("put");
    store.put("suite:b", "second", MINUTE).await.expect("put");
    assert_eq!(
        store.get("suite:b").await.expect("get").as_deref(),
        Some("second")
    );
}

async fn take_returns_the_value_once(store: &dyn Store) {
    store.put("suite:c", "code", MINUTE).await.expect("put");
    assert_eq!(
        store.take("suite:c").await.expect("take").as_deref(),
        Some("code")
    );
    assert_eq!(store.take("suite:c").await.expect("take"), None);
    assert_eq!(store.get("suite:c").await.expect("get"), None);
}

async fn delete_removes_and_tolerates_missing_keys(store: &dyn Store) {
    store.put("suite:d", "x", MINUTE).await.expect("put");
    store.delete("suite:d").await.expect("delete");
    assert_eq!(store.get("suite:d").await.expect("get"), None);
    store
        .delete("suite:d")
        .await
        .expect("deleting a missing key");
}

async fn entries_expire(store: &dyn Store) {
    let short = Duration::from_millis(150);
    store.put("suite:e", "soon gone", short).await.expect("put");
    store.put("suite:f", "soon gone", short).await.expect("put");
    store.put("suite:g", "stays", MINUTE).await.expect("put");
    assert!(store.get("suite:e").await.expect("get").is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.get("suite:e").await.expect("get"), None);
    assert_eq!(store.take("suite:f").await.expect("take"), None);
    assert!(store.get("suite:g").await.expect("get").is_some());
    // a fresh put after expiry starts a fresh lifetime
    store.put("suite:e", "again", MINUTE).await.expect("put");
    assert_eq!(
        store.get("suite:e").await.expect("get").as_deref(),
        Some("again")
    );
}

async fn namespaces_do_not_collide(store: &dyn Store) {
    store.put("suite-one:k", "1", MINUTE).await.expect("put");
    store.put("suite-two:k", "2", MINUTE).await.expect("put");
    assert_eq!(
        store.take("suite-one:k").await.expect("take").as_deref(),
        Some("1")
    );
    assert_eq!(
        store.get("suite-two:k").await.expect("get").as_deref(),
        Some("2")
    );
}

async fn oversized_values_are_refused(store: &dyn Store) {
    let big = "x".repeat(MAX_VALUE_BYTES + 1);
    assert!(matches!(
        store.put("suite:big", &big, MINUTE).await,
        Err(StoreError::TooLarge(_))
    ));
    assert_eq!(store.get("suite:big").await.expect("get"), None);
    let largest = "y".repeat(MAX_VALUE_BYTES);
    store
        .put("suite:largest", &largest, MINUTE)
        .await
        .expect("the limit itself fits");
}

async fn values_keep_every_character(store: &dyn Store) {
    let value = "{\"name\":\"Ünïcode ✓ \\\" ; \\n\",\"n\":1}";
    store.put("suite:json", value, MINUTE).await.expect("put");
    assert_eq!(
        store.get("suite:json").await.expect("get").as_deref(),
        Some(value)
    );
}
