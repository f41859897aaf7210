//! The behaviour every [`Store`] must show; run it against each implementation.

use std::sync::Arc;
use std::time::Duration;

use super::{MAX_VALUE_BYTES, Store, StoreError};

/// Makes an empty store bounded to `capacity` entries and `bytes` per namespace.
pub(crate) type BoundedStoreFactory<'a> = &'a dyn Fn(usize, usize) -> Box<dyn Store>;

/// Runs every check of the suite against `store` (which should start empty).
pub(crate) async fn run(store: &dyn Store) {
    put_then_get_returns_the_value(store).await;
    a_missing_key_is_none(store).await;
    put_replaces_the_value(store).await;
    take_returns_the_value_once(store).await;
    put_new_writes_only_what_is_not_there(store).await;
    delete_removes_and_tolerates_missing_keys(store).await;
    entries_expire(store).await;
    namespaces_do_not_collide(store).await;
    oversized_values_are_refused(store).await;
    values_keep_every_character(store).await;
    scan_lists_one_namespace(store).await;
}

/// The per-namespace bounds: each check gets a fresh store from `make`.
pub(crate) async fn run_bounds(make: impl Fn(usize, usize) -> Box<dyn Store>) {
    let make: BoundedStoreFactory = &make;
    a_namespace_is_bounded_by_bytes(make).await;
    a_full_namespace_drops_the_entry_expiring_soonest(make).await;
    a_flood_in_one_namespace_leaves_the_others_alone(make).await;
    replacing_a_key_in_a_full_namespace_evicts_nothing_else(make).await;
    expired_entries_make_room_first(make).await;
}

/// Of many concurrent `take`s of one key, exactly one gets the value; of many concurrent
/// `put_new`s of one key, exactly one writes it.
pub(crate) async fn run_concurrent_take(store: Arc<dyn Store>) {
    for round in 0..20 {
        let key = format!("suite-first:{round}");
        let mut tasks = Vec::new();
        for n in 0..8 {
            let store = store.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                store.put_new(&key, &n.to_string(), MINUTE).await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("task").expect("put_new") {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "exactly one put_new wins");
    }
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

async fn put_new_writes_only_what_is_not_there(store: &dyn Store) {
    let short = Duration::from_millis(150);
    assert!(
        store
            .put_new("suite-new:a", "first", short)
            .await
            .expect("put_new")
    );
    assert!(
        !store
            .put_new("suite-new:a", "second", MINUTE)
            .await
            .expect("put_new")
    );
    assert_eq!(
        store.get("suite-new:a").await.expect("get").as_deref(),
        Some("first"),
        "a refused put_new changes nothing"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store
            .put_new("suite-new:a", "third", MINUTE)
            .await
            .expect("put_new"),
        "an expired entry is not there"
    );
    assert_eq!(
        store.get("suite-new:a").await.expect("get").as_deref(),
        Some("third")
    );
    assert!(
        store
            .put_new("suite-new:big", &"x".repeat(MAX_VALUE_BYTES + 1), MINUTE)
            .await
            .is_err()
    );
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

async fn scan_lists_one_namespace(store: &dyn Store) {
    store.put("suite-scan:a", "1", MINUTE).await.expect("put");
    store.put("suite-scan:b", "2", MINUTE).await.expect("put");
    store
        .put("suite-scan:gone", "3", Duration::from_millis(50))
        .await
        .expect("put");
    store
        .put("suite-scanner:c", "4", MINUTE)
        .await
        .expect("put");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut found = store.scan("suite-scan").await.expect("scan");
    found.sort_by(|a, b| a.key.cmp(&b.key));
    let keys: Vec<(&str, &str)> = found
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str()))
        .collect();
    assert_eq!(keys, [("suite-scan:a", "1"), ("suite-scan:b", "2")]);
    let now = std::time::SystemTime::now();
    for entry in &found {
        let left = entry.expires.duration_since(now).expect("in the future");
        assert!(left <= MINUTE && left > MINUTE / 2, "{left:?}");
    }
    assert!(store.scan("suite-nothing").await.expect("scan").is_empty());
}

const HOUR: Duration = Duration::from_secs(3600);

async fn a_namespace_is_bounded_by_bytes(make: BoundedStoreFactory<'_>) {
    let store = make(1_000_000, 200_000);
    let value = "v".repeat(10_000);
    for i in 0..100 {
        store
            .put(&format!("client:{i}"), &value, Duration::from_secs(60 + i))
            .await
            .expect("put");
    }
    // Only about 20 values of 10 kB fit in 200 kB: the soonest-expiring went first.
    assert!(store.get("client:0").await.expect("get").is_none());
    assert!(store.get("client:99").await.expect("get").is_some());
    let held = store.scan("client").await.expect("scan");
    let bytes: usize = held.iter().map(|e| e.key.len() + e.value.len()).sum();
    assert!(bytes <= 200_000, "{bytes}");
    assert!(held.len() >= 19, "{}", held.len());
    // Other namespaces are untouched by the flood.
    store
        .put("revoked-family:f", "1", Duration::from_secs(5))
        .await
        .expect("put");
    assert!(store.get("revoked-family:f").await.expect("get").is_some());
    // Deleting gives room back: one more fits without evicting the newest.
    store.delete("client:99").await.expect("delete");
    store.put("client:new", &value, HOUR).await.expect("put");
    assert!(store.get("client:98").await.expect("get").is_some());
}

async fn a_full_namespace_drops_the_entry_expiring_soonest(make: BoundedStoreFactory<'_>) {
    let store = make(2, 1 << 20);
    store.put("client:a", "1", HOUR).await.expect("put");
    store.put("client:b", "2", HOUR * 2).await.expect("put");
    store.put("client:c", "3", HOUR * 3).await.expect("put");
    assert_eq!(store.get("client:a").await.expect("get"), None);
    assert_eq!(
        store.get("client:b").await.expect("get").as_deref(),
        Some("2")
    );
    assert_eq!(
        store.get("client:c").await.expect("get").as_deref(),
        Some("3")
    );
}

async fn a_flood_in_one_namespace_leaves_the_others_alone(make: BoundedStoreFactory<'_>) {
    let store = make(3, 1 << 20);
    store.put("revoked-family:x", "1", HOUR).await.expect("put");
    for i in 0..100 {
        store
            .put(&format!("client:{i}"), "c", HOUR)
            .await
            .expect("put");
    }
    assert_eq!(
        store.get("revoked-family:x").await.expect("get").as_deref(),
        Some("1")
    );
    assert_eq!(store.get("client:0").await.expect("get"), None);
    assert!(store.get("client:99").await.expect("get").is_some());
    assert_eq!(store.scan("client").await.expect("scan").len(), 3);
}

async fn replacing_a_key_in_a_full_namespace_evicts_nothing_else(make: BoundedStoreFactory<'_>) {
    let store = make(2, 1 << 20);
    store.put("code:a", "1", HOUR).await.expect("put");
    store.put("code:b", "2", HOUR).await.expect("put");
    store.put("code:b", "3", HOUR).await.expect("put");
    assert_eq!(
        store.get("code:a").await.expect("get").as_deref(),
        Some("1")
    );
    assert_eq!(
        store.get("code:b").await.expect("get").as_deref(),
        Some("3")
    );
}

async fn expired_entries_make_room_first(make: BoundedStoreFactory<'_>) {
    let store = make(2, 1 << 20);
    store
        .put("login:old", "1", Duration::from_millis(10))
        .await
        .expect("put");
    store
        .put("login:keep", "2", Duration::from_secs(60))
        .await
        .expect("put");
    tokio::time::sleep(Duration::from_millis(30)).await;
    store
        .put("login:new", "3", Duration::from_secs(60))
        .await
        .expect("put");
    assert!(store.get("login:keep").await.expect("get").is_some());
    assert!(store.get("login:new").await.expect("get").is_some());
}
