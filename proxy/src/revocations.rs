//! What has been revoked: access tokens, refresh-token families, browser sessions, and
//! per-subject cut-off times ("not before").
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
//!
//! A cut-off ([`Cutoff`], set by an Okta Event Hook, `hooks`) revokes what a *subject* holds
//! without a list of it: every credential the proxy hands out carries the time its facts were
//! read from Okta ("seen", unix ms: an access token's `seen_ms`, a refresh token's record, a
//! session cookie, a code), and one seen before the subject's cut-off is refused. One store
//! entry per subject (`not-before:<subject>`, value `<everything ms> <role ms>`), held in memory
//! like the rest, so `/mcp` checks it without a remote call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::store::{Announcement, Store, StoreError};

/// The store namespaces that hold revocations of one id each.
const NAMESPACES: [&str; 3] = ["revoked-token", "revoked-family", "revoked-session"];

/// The store namespace of per-subject cut-offs.
const NOT_BEFORE: &str = "not-before";

/// The store namespace of subjects that hold credentials (see [`Revocations::note_subject`]).
const SUBJECT: &str = "subject";
/// How often a replica on a shared store reloads the whole list anyway: Redis pub/sub delivers
/// at most once, so an announcement can be lost without the subscription dropping.
const REFRESH: Duration = Duration::from_secs(60);

/// More entries than the store itself can hold in those namespaces: a bound, never reached.
const MAX_KNOWN: usize = (NAMESPACES.len() + 1) * crate::store::DEFAULT_CAPACITY_PER_NAMESPACE * 4;

/// What a subject's cut-off stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cutoff {
    /// Everything the subject holds: access tokens, refresh tokens, codes, browser sessions
    /// (the user was deactivated, suspended, locked out or signed out at Okta).
    Everything,
    /// The role read before it: access tokens and codes are refused, while refresh tokens and
    /// browser sessions read the groups from Okta again (a role-granting group was removed).
    Role,
}

/// A subject's cut-off times in unix milliseconds (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectCutoffs {
    pub everything: u64,
    pub role: u64,
}

impl SubjectCutoffs {
    /// Whether a login whose facts were read from Okta at `seen_ms` is still alive (its refresh
    /// token and browser session may be used).
    pub fn login_alive(&self, seen_ms: i64) -> bool {
        ms(seen_ms) >= self.everything
    }

    /// Whether the role read from Okta at `seen_ms` is still current (an access token or a code
    /// carrying it may be used).
    pub fn role_current(&self, seen_ms: i64) -> bool {
        self.login_alive(seen_ms) && ms(seen_ms) >= self.role
    }

    fn max(self, other: Self) -> Self {
        Self {
            everything: self.everything.max(other.everything),
            role: self.role.max(other.role),
        }
    }

    fn with(self, cutoff: Cutoff, at: u64) -> Self {
        match cutoff {
            Cutoff::Everything => self.max(Self {
                everything: at,
                role: 0,
            }),
            Cutoff::Role => self.max(Self {
                everything: 0,
                role: at,
            }),
        }
    }

    /// The stored form: `<everything> <role>`.
    fn encode(self) -> String {
        format!("{} {}", self.everything, self.role)
    }

    fn decode(value: &str) -> Option<Self> {
        let (everything, role) = value.trim().split_once(' ')?;
        Some(Self {
            everything: everything.parse().ok()?,
            role: role.parse().ok()?,
        })
    }
}

/// A seen time as unsigned milliseconds (a negative one counts as the epoch: refused by any
/// cut-off).
fn ms(seen_ms: i64) -> u64 {
    u64::try_from(seen_ms).unwrap_or(0)
}

/// Every live revocation, kept in memory and in the store.
pub struct Revocations {
    store: Arc<dyn Store>,
    known: RwLock<Known>,
    loaded: AtomicBool,
}

/// The revocations in memory: per namespace (in [`NAMESPACES`] order), the id without its
/// namespace → expiry in unix milliseconds, so a look-up builds no key string; and each
/// subject's cut-offs with their expiry.
#[derive(Default)]
struct Known {
    ids: [HashMap<Box<str>, u64>; NAMESPACES.len()],
    subjects: HashMap<Box<str>, (SubjectCutoffs, u64)>,
}

const TOKEN: usize = 0;
const FAMILY: usize = 1;
const SESSION: usize = 2;

impl Known {
    fn len(&self) -> usize {
        self.ids.iter().map(HashMap::len).sum::<usize>() + self.subjects.len()
    }

    fn live(&self, namespace: usize, id: &str, now: u64) -> bool {
        self.ids[namespace]
            .get(id)
            .is_some_and(|&expires| expires > now)
    }

    fn cutoffs(&self, subject: &str, now: u64) -> SubjectCutoffs {
        if self.subjects.is_empty() {
            return SubjectCutoffs::default();
        }
        match self.subjects.get(subject) {
            Some(&(cutoffs, expires)) if expires > now => cutoffs,
            _ => SubjectCutoffs::default(),
        }
    }

    fn retain_live(&mut self, now: u64) {
        for map in &mut self.ids {
            map.retain(|_, &mut expires| expires > now);
        }
        self.subjects.retain(|_, &mut (_, expires)| expires > now);
    }
}

/// A store key of one of [`NAMESPACES`]: its index and the id after the colon.
fn split_key(key: &str) -> Option<(usize, &str)> {
    let (namespace, id) = key.split_once(':')?;
    let index = NAMESPACES.iter().position(|n| *n == namespace)?;
    Some((index, id))
}

/// `at` in unix milliseconds.
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Now in unix milliseconds, as the "seen" time of credentials.
pub fn now_ms() -> i64 {
    i64::try_from(unix_ms(SystemTime::now())).unwrap_or(i64::MAX)
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

fn not_before_key(subject: &str) -> String {
    format!("{NOT_BEFORE}:{subject}")
}

fn subject_key(subject: &str) -> String {
    format!("{SUBJECT}:{subject}")
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

    /// Whether an access token is refused: itself, its family, or the role its subject had
    /// when it was `seen_ms` (memory only, under one lock).
    pub fn access_revoked(&self, jti: &str, family: &str, subject: &str, seen_ms: i64) -> bool {
        let now = unix_ms(SystemTime::now());
        let known = self.read();
        known.live(TOKEN, jti, now)
            || known.live(FAMILY, family, now)
            || !known.cutoffs(subject, now).role_current(seen_ms)
    }

    /// The cut-offs of `subject` (memory only).
    pub fn cutoffs(&self, subject: &str) -> SubjectCutoffs {
        self.read().cutoffs(subject, unix_ms(SystemTime::now()))
    }

    /// The cut-offs of `subject`, asking the store too: for `/token`, which must see a cut-off
    /// made on another replica a moment ago.
    pub async fn cutoffs_in_store(&self, subject: &str) -> Result<SubjectCutoffs, StoreError> {
        let known = self.cutoffs(subject);
        let stored = self
            .store
            .get(&not_before_key(subject))
            .await?
            .and_then(|value| SubjectCutoffs::decode(&value))
            .unwrap_or_default();
        Ok(known.max(stored))
    }

    /// Cuts `subject` off at `at` (unix ms) for `ttl`, which must outlive every credential it
    /// could hold. Later cut-offs win; setting an earlier one again changes nothing.
    pub async fn cut_off(
        &self,
        subject: &str,
        cutoff: Cutoff,
        at: u64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = not_before_key(subject);
        let mut wanted = self.cutoffs(subject).with(cutoff, at);
        // Read, merge, write, read back: of two replicas cutting one subject off at the same
        // moment, neither loses the other's time.
        for _ in 0..3 {
            let stored = self
                .store
                .get(&key)
                .await?
                .and_then(|value| SubjectCutoffs::decode(&value))
                .unwrap_or_default();
            wanted = wanted.max(stored);
            if stored == wanted {
                break;
            }
            self.store.put(&key, &wanted.encode(), ttl).await?;
        }
        let expires = unix_ms(SystemTime::now() + ttl);
        self.remember_cutoffs(subject, wanted, expires);
        self.announce(&format!("{key} {expires} {}", wanted.encode()))
            .await;
        Ok(())
    }

    /// Notes that `subject` holds credentials for `ttl` (the longest they live), so an Okta
    /// event about a user who never logged in here costs nothing (see `hooks`).
    pub async fn note_subject(&self, subject: &str, ttl: Duration) -> Result<(), StoreError> {
        self.store.put(&subject_key(subject), "1", ttl).await
    }

    /// Whether `subject` may hold credentials (it logged in within their lifetime).
    pub async fn subject_known(&self, subject: &str) -> Result<bool, StoreError> {
        Ok(self.store.get(&subject_key(subject)).await?.is_some())
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
        self.announce(&format!("{key} {expires}")).await;
        Ok(())
    }

    /// Tells every replica `message` and waits until each holds it, so the answer that follows
    /// is true wherever the client's next request lands. A failure is logged, not returned: the
    /// revocation is in the store, and a replica that missed it loads it when it reloads.
    async fn announce(&self, message: &str) {
        match self.store.announce(message).await {
            Ok(heard) if heard.confirmed < heard.listeners => tracing::warn!(
                listeners = heard.listeners,
                confirmed = heard.confirmed,
                "a revocation was not confirmed by every replica in time; the others load it when they next reload"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "revocation recorded but not announced"),
        }
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
        let map = &mut known.ids[namespace];
        if let Some(entry) = map.get_mut(id) {
            *entry = (*entry).max(expires);
        } else if known.len() < MAX_KNOWN {
            known.ids[namespace].insert(id.into(), expires);
        } else {
            tracing::error!(key = ?key, "revocation list full; not caching");
        }
    }

    /// Takes a subject's cut-offs into memory until `expires` (merged with what is known).
    fn remember_cutoffs(&self, subject: &str, cutoffs: SubjectCutoffs, expires: u64) {
        let mut known = self
            .known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.len() >= MAX_KNOWN {
            known.retain_live(unix_ms(SystemTime::now()));
        }
        if let Some((held, until)) = known.subjects.get_mut(subject) {
            *held = held.max(cutoffs);
            *until = (*until).max(expires);
        } else if known.len() < MAX_KNOWN {
            known.subjects.insert(subject.into(), (cutoffs, expires));
        } else {
            tracing::error!(subject = ?subject, "revocation list full; not caching a cut-off");
        }
    }

    /// Loads every live revocation from the store into memory; how many there are.
    pub async fn reload(&self) -> Result<usize, StoreError> {
        let mut found = Vec::new();
        for namespace in NAMESPACES.into_iter().chain([NOT_BEFORE]) {
            found.extend(self.store.scan(namespace).await?);
        }
        let count = found.len();
        for entry in found {
            let namespace = crate::store::namespace_of(&entry.key);
            if NAMESPACES.contains(&namespace) {
                self.remember(&entry.key, unix_ms(entry.expires));
            } else if let (Some((NOT_BEFORE, subject)), Some(cutoffs)) = (
                entry.key.split_once(':'),
                SubjectCutoffs::decode(&entry.value),
            ) {
                self.remember_cutoffs(subject, cutoffs, unix_ms(entry.expires));
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

    /// Takes one announcement into memory: `<key> <expiry ms>`, or for a cut-off
    /// `not-before:<subject> <expiry ms> <everything ms> <role ms>` (read from the right, so a
    /// subject may hold any character).
    fn hear(&self, message: &str) {
        if crate::store::namespace_of(message) == NOT_BEFORE {
            let parsed = message.rsplitn(4, ' ').collect::<Vec<_>>();
            if let [role, everything, expires, key] = parsed[..]
                && let (Some((_, subject)), Ok(expires), Some(cutoffs)) = (
                    key.split_once(':'),
                    expires.parse::<u64>(),
                    SubjectCutoffs::decode(&format!("{everything} {role}")),
                )
            {
                self.remember_cutoffs(subject, cutoffs, expires);
                return;
            }
            tracing::warn!("ignoring a cut-off announcement that does not parse");
            return;
        }
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
    /// reloads after a gap and every [`REFRESH`] (a shared store), forgets what expired.
    pub async fn follow(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        self.follow_refreshing(shutdown, REFRESH).await;
    }

    async fn follow_refreshing(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
        every: Duration,
    ) {
        let mut announcements = self.store.announcements();
        // Only a store other processes write to (one that announces) can change behind our back.
        let mut refresh = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut quiet = false;
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        let mut need_reload = true;
        loop {
            if need_reload {
                match self.reload().await {
                    Ok(count) => {
                        if quiet {
                            tracing::debug!(count, "revocations reloaded");
                        } else {
                            tracing::info!(count, "revocations loaded");
                        }
                        need_reload = false;
                        quiet = false;
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
                    Some(Announcement::Changed(message)) => {
                        self.hear(&message);
                        if let Err(error) = self.store.acknowledge(&message).await {
                            tracing::warn!(%error, "cannot confirm an announcement; its sender waits for it");
                        }
                    }
                    Some(Announcement::Resync) => {
                        need_reload = true;
                        quiet = false;
                    }
                    None => announcements = None,
                },
                _ = refresh.tick(), if announcements.is_some() && !need_reload => {
                    need_reload = true;
                    quiet = true;
                }
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

    #[tokio::test]
    async fn a_cut_off_refuses_what_was_seen_before_it_on_every_list_sharing_the_store() {
        let store = Arc::new(MemoryStore::default());
        let list = Revocations::new(store.clone());
        list.ensure_loaded().await.unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(list.cutoffs("00u1"), SubjectCutoffs::default());
        assert!(!list.access_revoked("j", "f", "00u1", 0));

        list.cut_off("00u1", Cutoff::Role, 2_000, day)
            .await
            .unwrap();
        let cut = list.cutoffs("00u1");
        assert!(cut.login_alive(1_000), "a role cut-off keeps the login");
        assert!(!cut.role_current(1_999));
        assert!(cut.role_current(2_000));
        assert!(list.access_revoked("j", "f", "00u1", 1_999));
        assert!(!list.access_revoked("j", "f", "00u1", 2_000));
        assert!(
            !list.access_revoked("j", "f", "00u2", 0),
            "others untouched"
        );

        list.cut_off("00u1", Cutoff::Everything, 3_000, day)
            .await
            .unwrap();
        // An earlier time changes nothing: later cut-offs win.
        list.cut_off("00u1", Cutoff::Everything, 1_000, day)
            .await
            .unwrap();
        let cut = list.cutoffs("00u1");
        assert_eq!(
            cut,
            SubjectCutoffs {
                everything: 3_000,
                role: 2_000
            }
        );
        assert!(!cut.login_alive(2_999));
        assert!(!cut.role_current(2_500));
        assert!(cut.role_current(3_000));
        assert!(!cut.login_alive(-5), "a negative time counts as the epoch");

        // The store holds the merged times: another replica and a restart see them.
        assert_eq!(
            store.get("not-before:00u1").await.unwrap().as_deref(),
            Some("3000 2000")
        );
        let other = Revocations::new(store.clone());
        assert_eq!(other.cutoffs_in_store("00u1").await.unwrap(), cut);
        assert_eq!(other.cutoffs("00u1"), SubjectCutoffs::default());
        other.ensure_loaded().await.unwrap();
        assert_eq!(other.cutoffs("00u1"), cut);
    }

    #[tokio::test]
    async fn cut_offs_expire_and_subjects_are_noted() {
        let list = Revocations::new(Arc::new(MemoryStore::default()));
        list.cut_off("00u1", Cutoff::Everything, 5_000, Duration::from_millis(50))
            .await
            .unwrap();
        assert!(!list.cutoffs("00u1").login_alive(0));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(list.cutoffs("00u1").login_alive(0));

        assert!(!list.subject_known("00u1").await.unwrap());
        list.note_subject("00u1", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(list.subject_known("00u1").await.unwrap());
        assert!(!list.subject_known("00u2").await.unwrap());
    }

    /// Subscribers to the announcements of the store with `prefix` on `redis`.
    async fn listeners(redis: &crate::store::TestRedis, prefix: &str) -> usize {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let counts: Vec<(String, usize)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(format!("{prefix}announcements"))
            .query_async(&mut connection)
            .await
            .unwrap();
        counts.first().map_or(0, |(_, n)| *n)
    }

    /// Waits until each of `replicas` (following the store with `prefix` on `redis`) has
    /// subscribed and loaded the list.
    async fn until_following(
        redis: &crate::store::TestRedis,
        prefix: &str,
        replicas: &[Arc<Revocations>],
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while listeners(redis, prefix).await < replicas.len()
            || !replicas.iter().all(|r| r.is_loaded())
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "replicas never subscribed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_whose_announcement_was_lost_is_loaded_at_the_next_refresh() {
        let redis = crate::store::TestRedis::start();
        let (_shutdown, stop) = watch::channel(false);
        let replica = Arc::new(Revocations::new(Arc::new(redis.store("lost:"))));
        tokio::spawn(
            replica
                .clone()
                .follow_refreshing(stop, Duration::from_millis(200)),
        );
        until_following(&redis, "lost:", std::slice::from_ref(&replica)).await;
        // In the store but never announced, as when Redis drops a message (pub/sub delivers
        // at most once) without dropping the subscription.
        redis
            .store("lost:")
            .put(&token_key("jti-lost"), "1", Duration::from_secs(600))
            .await
            .unwrap();
        assert!(!replica.token_revoked("jti-lost", "-"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while !replica.token_revoked("jti-lost", "-") {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replica never loaded a revocation it was not told about"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_is_known_to_every_replica_once_it_is_acknowledged() {
        let redis = crate::store::TestRedis::start();
        let (shutdown, stop) = watch::channel(false);
        let replicas: Vec<_> = (0..3)
            .map(|_| Arc::new(Revocations::new(Arc::new(redis.store("acks:")))))
            .collect();
        for replica in &replicas {
            tokio::spawn(replica.clone().follow(stop.clone()));
        }
        until_following(&redis, "acks:", &replicas).await;
        // The revoking replica answers only once every replica holds the revocation: the
        // next request, wherever it lands, is refused.
        let day = Duration::from_secs(86_400);
        for round in 0..40 {
            let (by, other) = (&replicas[round % 3], &replicas[(round + 1) % 3]);
            by.revoke_token(&format!("jti-{round}"), day).await.unwrap();
            assert!(
                other.token_revoked(&format!("jti-{round}"), "-"),
                "round {round}"
            );
            by.cut_off(&format!("00u{round}"), Cutoff::Everything, 5_000, day)
                .await
                .unwrap();
            assert!(
                !other.cutoffs(&format!("00u{round}")).login_alive(0),
                "round {round}"
            );
        }
        shutdown.send(true).unwrap();
    }

    #[test]
    fn cut_off_announcements_are_read_from_the_right_and_junk_is_ignored() {
        let list = Revocations::new(Arc::new(MemoryStore::default()));
        let later = unix_ms(SystemTime::now()) + 60_000;
        list.hear(&format!("not-before:00u1 {later} 100 200"));
        list.hear(&format!("not-before:odd subject:with colon {later} 300 0"));
        // Merged with what is known, never lowered.
        list.hear(&format!("not-before:00u1 {later} 50 250"));
        for junk in [
            format!("not-before:00u3 {later} 100"),
            format!("not-before:00u3 {later} x 100"),
            "not-before:00u3 1 2 3 4 5".to_owned(),
            format!("not-before {later} 1 2"),
            "not-before:".to_owned(),
        ] {
            list.hear(&junk);
        }
        assert_eq!(
            list.cutoffs("00u1"),
            SubjectCutoffs {
                everything: 100,
                role: 250
            }
        );
        assert_eq!(list.cutoffs("odd subject:with colon").everything, 300);
        assert_eq!(list.cutoffs("00u3"), SubjectCutoffs::default());
        // An expired announcement is heard but counts for nothing.
        list.hear("not-before:00u4 1 100 100");
        assert_eq!(list.cutoffs("00u4"), SubjectCutoffs::default());
    }
}
