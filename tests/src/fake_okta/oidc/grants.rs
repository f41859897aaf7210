//! Issued authorization codes, refresh tokens and access tokens, each expiring and bounded in
//! number (a long demo run cannot grow them without limit).

use super::AuthServer;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a code may wait for the token request.
pub const CODE_TTL: Duration = Duration::from_secs(300);
/// Access and ID token lifetime (Okta's default: one hour).
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// A refresh token dies after this long unused (Okta's default idle lifetime: 7 days).
pub const REFRESH_TOKEN_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most live entries of each kind.
const MAX_ENTRIES: usize = 10_000;

/// What an authorization code stands for.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub user: usize,
    pub server: AuthServer,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// S256 `code_challenge`, when the authorize request had one.
    pub challenge: Option<String>,
    /// Unix seconds of the login (the `auth_time` claim).
    pub auth_time: i64,
}

/// What a refresh or access token stands for.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub user: usize,
    pub server: AuthServer,
    pub scopes: Vec<String>,
    pub auth_time: i64,
}

/// Values with an expiry, bounded in number.
#[derive(Debug)]
struct Expiring<T> {
    entries: HashMap<String, (T, Instant)>,
}

impl<T> Default for Expiring<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<T: Clone> Expiring<T> {
    fn insert(&mut self, key: String, value: T, ttl: Duration) {
        let now = Instant::now();
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, (_, expires)| *expires > now);
        }
        if self.entries.len() >= MAX_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, expires))| *expires)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (value, now + ttl));
    }

    /// Removes and returns a live entry (one-time use).
    fn take(&mut self, key: &str) -> Option<T> {
        let (value, expires) = self.entries.remove(key)?;
        (expires > Instant::now()).then_some(value)
    }

    fn get(&self, key: &str) -> Option<T> {
        let (value, expires) = self.entries.get(key)?;
        (*expires > Instant::now()).then(|| value.clone())
    }
}

/// All live grants.
#[derive(Debug, Default)]
pub struct Grants {
    codes: Expiring<CodeGrant>,
    refresh_tokens: Expiring<TokenGrant>,
    access_tokens: Expiring<TokenGrant>,
}

impl Grants {
    pub fn add_code(&mut self, code: String, grant: CodeGrant) {
        self.codes.insert(code, grant, CODE_TTL);
    }

    /// The code's grant; the code is gone afterwards whatever the caller decides.
    pub fn take_code(&mut self, code: &str) -> Option<CodeGrant> {
        self.codes.take(code)
    }

    pub fn add_refresh_token(&mut self, token: String, grant: TokenGrant) {
        self.refresh_tokens.insert(token, grant, REFRESH_TOKEN_IDLE);
    }

    /// The refresh token's grant, removing the token (rotation).
    pub fn take_refresh_token(&mut self, token: &str) -> Option<TokenGrant> {
        self.refresh_tokens.take(token)
    }

    /// The refresh token's grant, keeping the token (no rotation).
    pub fn refresh_token(&self, token: &str) -> Option<TokenGrant> {
        self.refresh_tokens.get(token)
    }

    pub fn add_access_token(&mut self, token: String, grant: TokenGrant) {
        self.access_tokens.insert(token, grant, ACCESS_TOKEN_TTL);
    }

    pub fn access_token(&self, token: &str) -> Option<TokenGrant> {
        self.access_tokens.get(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> TokenGrant {
        TokenGrant {
            user: 0,
            server: AuthServer::Org,
            scopes: vec!["openid".into()],
            auth_time: 0,
        }
    }

    #[test]
    fn take_is_one_time_and_expiry_is_honoured() {
        let mut e = Expiring::default();
        e.insert("a".into(), grant(), Duration::from_secs(60));
        e.insert("b".into(), grant(), Duration::ZERO);
        assert!(e.get("a").is_some());
        assert!(e.take("a").is_some());
        assert!(e.take("a").is_none());
        assert!(e.get("b").is_none());
        assert!(e.take("b").is_none());
    }

    #[test]
    fn entries_are_bounded() {
        let mut e = Expiring::default();
        for i in 0..MAX_ENTRIES + 5 {
            e.insert(format!("k{i}"), grant(), Duration::from_secs(60 + i as u64));
        }
        assert_eq!(e.entries.len(), MAX_ENTRIES);
        assert!(e.get(&format!("k{}", MAX_ENTRIES + 4)).is_some());
        assert!(e.get("k0").is_none());
    }
}
