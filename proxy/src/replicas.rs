//! Which replica owns an MCP session, and how another replica reaches it.
//!
//! A `wrap` session lives where its child process runs: on one replica's tool server. A load
//! balancer may send the session's next request to any replica, so the `Mcp-Session-Id` the
//! proxy hands out names its owner: `r1.<replica>.<tool server's id, base64url>.<mac>`, the MAC
//! (HMAC-SHA256 under a key derived from `SESSION_SECRET_KEY`, which every replica shares)
//! making it impossible for a client to forge or redirect one. A replica that receives a
//! request for another replica's session forwards it, unchanged, to that replica's *peer
//! listener* (`PEER_LISTEN`), found through the shared store (`replica:<id>` → `PEER_ADDRESS`,
//! refreshed every 10 s, gone 30 s after the replica stops), never through anything a client
//! sent. The owner authenticates the client's credentials again and forwards to its own tool
//! server; the peer listener never forwards further, so there are no loops. An owner that is
//! gone, or an id this proxy did not issue, gets 404, and the client starts a new session as
//! the MCP spec says.
//!
//! The Okta tool server keeps no session (it is stateless), so its requests never need this.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;

use crate::store::Store;
use crate::tokens::{derive_key, random_token, same_text};

/// How long a replica's address stays in the store without being refreshed.
const REGISTRATION_TTL: Duration = Duration::from_secs(30);
/// How often a replica refreshes its address.
const REGISTRATION_EVERY: Duration = Duration::from_secs(10);
/// How long a looked-up peer address is reused before asking the store again.
const PEER_CACHE: Duration = Duration::from_secs(5);
/// Longest session id accepted from a client.
const MAX_SESSION_ID: usize = 512;

/// Where a request for an MCP session goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To this replica's tool server, with the tool server's own session id (if any).
    Local { session: Option<String> },
    /// To the owning replica's peer listener at `address` (`host:port`).
    Peer { address: String },
    /// No live replica owns it, or it is not an id this proxy issued: 404.
    Gone,
}

/// The route MAC: HMAC-SHA256(key, "replica.session"), first 16 bytes, base64url.
fn route_mac(key: &[u8; 32], replica: &str, encoded_session: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts every key length"),
    };
    mac.update(replica.as_bytes());
    mac.update(b".");
    mac.update(encoded_session.as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
}

/// This replica's identity and the map from session ids to replicas.
pub struct SessionRoutes {
    replica: String,
    key: [u8; 32],
    /// Keys of previous session secrets: session ids they signed keep routing.
    previous: Vec<[u8; 32]>,
    peer_address: Option<String>,
    store: Arc<dyn Store>,
    peers: RwLock<HashMap<String, (Option<String>, Instant)>>,
}

impl SessionRoutes {
    /// A new replica (random id) whose peer listener others reach at `peer_address`.
    pub fn new(session_secret: &[u8], store: Arc<dyn Store>, peer_address: Option<String>) -> Self {
        Self {
            replica: random_token(9),
            key: derive_key(session_secret, "mcp-session-route"),
            previous: Vec::new(),
            peer_address,
            store,
            peers: RwLock::new(HashMap::new()),
        }
    }

    /// Also routes session ids signed under `secrets` (previous session secrets).
    pub fn with_previous(mut self, secrets: &[Vec<u8>]) -> Self {
        self.previous = secrets
            .iter()
            .map(|secret| derive_key(secret, "mcp-session-route"))
            .collect();
        self
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    fn mac(&self, replica: &str, encoded_session: &str) -> String {
        route_mac(&self.key, replica, encoded_session)
    }

    /// Whether `mac` is the MAC of a route under the current key or a previous one.
    fn mac_matches(&self, replica: &str, encoded_session: &str, mac: &str) -> bool {
        std::iter::once(&self.key)
            .chain(&self.previous)
            .any(|key| same_text(&route_mac(key, replica, encoded_session), mac))
    }

    /// The id the client sees for the tool server's session `upstream`.
    pub fn outgoing(&self, upstream: &str) -> String {
        let encoded = URL_SAFE_NO_PAD.encode(upstream.as_bytes());
        let mac = self.mac(&self.replica, &encoded);
        format!("r1.{}.{encoded}.{mac}", self.replica)
    }

    /// Where a request carrying `session` (the client's `Mcp-Session-Id`) goes. On the peer
    /// listener (`from_peer`), only requests for this replica's own sessions are served.
    pub async fn route(&self, session: Option<&str>, from_peer: bool) -> Route {
        let Some(session) = session else {
            if from_peer {
                return Route::Gone;
            }
            return Route::Local { session: None };
        };
        let Some((replica, upstream)) = self.parse(session) else {
            return Route::Gone;
        };
        if replica == self.replica {
            return Route::Local {
                session: Some(upstream),
            };
        }
        if from_peer {
            return Route::Gone;
        }
        match self.peer_address_of(&replica).await {
            Some(address) => Route::Peer { address },
            None => Route::Gone,
        }
    }

    /// The owning replica and the tool server's session id, if `session` is one we issued.
    fn parse(&self, session: &str) -> Option<(String, String)> {
        if session.len() > MAX_SESSION_ID {
            return None;
        }
        let rest = session.strip_prefix("r1.")?;
        let mut parts = rest.split('.');
        let (replica, encoded, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !self.mac_matches(replica, encoded, mac) {
            return None;
        }
        let upstream = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()?;
        Some((replica.to_owned(), upstream))
    }

    async fn peer_address_of(&self, replica: &str) -> Option<String> {
        if let Some((address, at)) = self
            .peers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(replica)
            && at.elapsed() < PEER_CACHE
        {
            return address.clone();
        }
        let address = match self.store.get(&format!("replica:{replica}")).await {
            Ok(address) => address,
            Err(error) => {
                tracing::warn!(%error, "cannot look up the replica that owns an MCP session");
                return None;
            }
        };
        let mut peers = self
            .peers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        peers.retain(|_, (_, at)| at.elapsed() < PEER_CACHE);
        peers.insert(replica.to_owned(), (address.clone(), Instant::now()));
        address
    }

    /// Keeps this replica's peer address in the store until `shutdown`, then removes it.
    pub async fn stay_registered(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(address) = self.peer_address.clone() else {
            return;
        };
        let key = format!("replica:{}", self.replica);
        tracing::info!(replica = %self.replica, %address, "serving MCP sessions for other replicas");
        let mut tick = tokio::time::interval(REGISTRATION_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(error) = self.store.put(&key, &address, REGISTRATION_TTL).await {
                        tracing::warn!(%error, "cannot register this replica's peer address");
                    }
                }
                _ = shutdown.changed() => {
                    let _ = self.store.delete(&key).await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn own_sessions_are_local_and_carry_the_tool_servers_id() {
        let routes = SessionRoutes::new(SECRET, Arc::new(MemoryStore::default()), None);
        let id = routes.outgoing("0b5c-uuid");
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{id}");
        assert_eq!(
            routes.route(Some(&id), false).await,
            Route::Local {
                session: Some("0b5c-uuid".into())
            }
        );
        assert_eq!(
            routes.route(None, false).await,
            Route::Local { session: None }
        );
    }

    #[test]
    fn session_ids_signed_under_a_previous_secret_keep_routing_until_it_is_dropped() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let old = SessionRoutes::new(SECRET, store.clone(), None);
        let id = old.outgoing("0b5c-uuid");
        let new_secret = [b'n'; 32];
        let rotated = SessionRoutes {
            replica: old.replica.clone(),
            ..SessionRoutes::new(&new_secret, store.clone(), None)
        }
        .with_previous(&[SECRET.to_vec()]);
        assert_eq!(
            rotated.parse(&id),
            Some((old.replica.clone(), "0b5c-uuid".into()))
        );
        let dropped = SessionRoutes {
            replica: old.replica.clone(),
            ..SessionRoutes::new(&new_secret, store, None)
        };
        assert_eq!(dropped.parse(&id), None);
        assert!(dropped.parse(&rotated.outgoing("x")).is_some());
    }

    #[tokio::test]
    async fn another_replicas_session_goes_to_its_registered_peer_address() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let owner = Arc::new(SessionRoutes::new(
            SECRET,
            store.clone(),
            Some("10.0.0.7:3004".into()),
        ));
        let other = SessionRoutes::new(SECRET, store.clone(), Some("10.0.0.8:3004".into()));
        let id = owner.outgoing("abc");
        // Not registered yet: gone.
        assert_eq!(other.route(Some(&id), false).await, Route::Gone);
        let (stop, stopped) = watch::channel(false);
        let registration = tokio::spawn(owner.clone().stay_registered(stopped));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let fresh = SessionRoutes::new(SECRET, store.clone(), None);
        assert_eq!(
            fresh.route(Some(&id), false).await,
            Route::Peer {
                address: "10.0.0.7:3004".into()
            }
        );
        // A request that already came from a peer is never forwarded again, and the peer
        // listener is no second way in for requests without a session.
        assert_eq!(fresh.route(Some(&id), true).await, Route::Gone);
        assert_eq!(fresh.route(None, true).await, Route::Gone);
        assert_eq!(
            owner.route(Some(&id), true).await,
            Route::Local {
                session: Some("abc".into())
            }
        );
        // The owner stops: its address is removed.
        stop.send(true).unwrap();
        registration.await.unwrap();
        let later = SessionRoutes::new(SECRET, store, None);
        assert_eq!(later.route(Some(&id), false).await, Route::Gone);
    }

    #[tokio::test]
    async fn forged_or_foreign_session_ids_are_gone() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let routes = SessionRoutes::new(SECRET, store.clone(), None);
        let other_deployment =
            SessionRoutes::new(b"another-secret-another-secret-xx", store.clone(), None);
        let good = routes.outgoing("abc");
        let (_, rest) = good["r1.".len()..].split_once('.').unwrap();
        let redirected = format!("r1.someotherreplica.{rest}");
        let tampered = format!("{}x", &good[..good.len() - 1]);
        for bad in [
            "",
            "plain-uuid-from-elsewhere",
            "r1.",
            "r1.a.b",
            "r1.a.b.c.d",
            &redirected,
            &tampered,
            &other_deployment.outgoing("abc"),
            &"r1.x".repeat(200),
            "r1.ü.ö.ä",
        ] {
            assert_eq!(routes.route(Some(bad), false).await, Route::Gone, "{bad:?}");
        }
    }
}
