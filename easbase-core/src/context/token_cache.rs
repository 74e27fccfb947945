//! A bounded cache of verified end-user tokens, so that a repeated bearer token costs a
//! SHA-256 and a lookup instead of a signature check, a JSON parse and a serialization.
//!
//! Each [`JwtVerifier`](super::jwt::JwtVerifier) owns one: the cache belongs to the keys
//! that verified its entries, so building a new verifier (a secret rotated, a signing key
//! added or removed, the resolver's key-cache entry invalidated) starts from an empty
//! cache, and one project's entries are never seen by another project's verifier.
//!
//! What is cached is the outcome of a *successful* verification, in the form the request
//! context needs (the role, the claims as a JSON value and as text). Failures are never
//! cached. On every hit `exp` and `nbf` are checked again against the clock with the
//! verifier's leeway, exactly as a fresh verification would, so a cached token is refused
//! from the moment an uncached one would be.
//!
//! **Why SHA-256 and not a faster keyed hash.** A keyed SipHash (std's `RandomState`) to
//! find the entry, plus a constant-time comparison of the full token kept in the entry,
//! was considered and measured (2026-11, the development machine, whose CPU has the SHA
//! extensions that `sha2` uses): SHA-256 took 174 / 430 / 785 ns for tokens of 300 / 800
//! / 1,500 bytes, SipHash-1-3 plus `subtle`'s comparison 253 / 649 / 1,255 ns. It is not
//! cheaper, and it would keep every cached bearer token in memory in plain text, where
//! today only its digest is kept; so the cache stays keyed by SHA-256. (Under valgrind,
//! which does not emulate the SHA extensions, the digest looks far more expensive than
//! it is.)

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::schema::Role;

/// How many verified tokens one verifier keeps (its oldest entries are evicted first).
pub const TOKEN_CACHE_CAPACITY: usize = 4096;

/// A verified token as the request context uses it.
#[derive(Debug)]
pub(crate) struct VerifiedToken {
    /// The role its `role` claim maps to.
    pub(crate) role: Role,
    /// The claims, with `role` set to the role's claim value.
    pub(crate) claims: Arc<Value>,
    /// `claims` serialized once (what PostgreSQL sets as `request.jwt.claims`).
    pub(crate) claims_json: Arc<str>,
    /// `exp`, seconds since the Unix epoch.
    exp: u64,
    /// `nbf`, when the token has one.
    nbf: Option<u64>,
}

impl VerifiedToken {
    /// `claims` (already carrying the `role` claim for `role`) as cached; `None` when the
    /// claims have no numeric `exp` (the verifier requires one, so this does not happen
    /// for a verified token, and such a token is simply not cached).
    pub(crate) fn new(role: Role, claims: Value) -> Option<VerifiedToken> {
        let exp = claims.get("exp").and_then(Value::as_u64)?;
        let nbf = claims.get("nbf").and_then(Value::as_u64);
        let claims_json: Arc<str> = claims.to_string().into();
        Some(VerifiedToken { role, claims: Arc::new(claims), claims_json, exp, nbf })
    }

    /// Whether the token may still be used at `now` (seconds since the epoch), with the
    /// verifier's `leeway`: the same rule as `jsonwebtoken`'s validation.
    fn check_time(&self, now: u64, leeway: u64) -> Result<()> {
        if self.exp < now.saturating_sub(leeway) {
            return Err(Error::ExpiredToken);
        }
        if self.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(Error::TokenNotYetValid);
        }
        Ok(())
    }
}

/// The SHA-256 of a token: what the cache is keyed by (the token itself is not kept).
pub(crate) type TokenHash = [u8; 32];

/// Hashes `token` for [`TokenCache::get`] / [`TokenCache::insert`].
pub(crate) fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Verified tokens by hash, bounded, first-in first-out.
pub(crate) struct TokenCache {
    capacity: usize,
    leeway: u64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<TokenHash, Arc<VerifiedToken>>,
    order: VecDeque<TokenHash>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenCache {
    /// An empty cache of at most `capacity` tokens, checking times with `leeway` seconds.
    pub(crate) fn new(capacity: usize, leeway: u64) -> TokenCache {
        TokenCache { capacity, leeway, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every operation leaves the map consistent before it can panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached token with hash `hash`, if any and still within its validity; an expired
    /// entry is removed and its error returned.
    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Result<Arc<VerifiedToken>>> {
        let found = self.lock().map.get(hash).cloned()?;
        match found.check_time(now_secs(), self.leeway) {
            Ok(()) => Some(Ok(found)),
            Err(e) => {
                if matches!(e, Error::ExpiredToken) {
                    self.lock().map.remove(hash);
                }
                Some(Err(e))
            }
        }
    }

    /// Keeps `token` under `hash`, evicting expired entries, then the oldest, beyond the
    /// capacity.
    pub(crate) fn insert(&self, hash: TokenHash, token: Arc<VerifiedToken>) {
        if self.capacity == 0 {
            return;
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.map.insert(hash, token).is_none() {
            inner.order.push_back(hash);
        }
        if inner.map.len() > self.capacity {
            let now = now_secs();
            let leeway = self.leeway;
            inner.map.retain(|_, t| t.check_time(now, leeway).is_ok());
        }
        while inner.map.len() > self.capacity {
            let Some(oldest) = inner.order.pop_front() else { break };
            inner.map.remove(&oldest);
        }
        // Removals by expiry leave hashes in `order`: compact now and then.
        if inner.order.len() > 2 * self.capacity + 16 {
            let map = &inner.map;
            inner.order.retain(|h| map.contains_key(h));
        }
    }

    /// How many tokens are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(exp: u64, nbf: Option<u64>) -> Arc<VerifiedToken> {
        let mut claims = serde_json::json!({"sub": "u", "role": "authenticated", "exp": exp});
        if let Some(nbf) = nbf {
            claims["nbf"] = nbf.into();
        }
        Arc::new(VerifiedToken::new(Role::Authenticated, claims).unwrap())
    }

    #[test]
    fn hit_then_expiry_is_refused_and_forgotten() {
        let cache = TokenCache::new(8, 0);
        let now = now_secs();
        cache.insert(token_hash("live"), token(now + 3600, None));
        cache.insert(token_hash("dead"), token(now - 5, None));
        assert!(matches!(cache.get(&token_hash("live")), Some(Ok(_))));
        assert!(matches!(cache.get(&token_hash("dead")), Some(Err(Error::ExpiredToken))));
        assert!(cache.get(&token_hash("dead")).is_none(), "an expired entry is dropped");
        assert!(cache.get(&token_hash("other")).is_none());
    }

    #[test]
    fn leeway_and_nbf_follow_the_verifier_rules() {
        let now = now_secs();
        let cache = TokenCache::new(8, 30);
        cache.insert(token_hash("a"), token(now - 10, None));
        assert!(matches!(cache.get(&token_hash("a")), Some(Ok(_))), "within the leeway");
        cache.insert(token_hash("b"), token(now + 3600, Some(now + 600)));
        assert!(matches!(cache.get(&token_hash("b")), Some(Err(Error::TokenNotYetValid))));
    }

    #[test]
    fn bounded_oldest_first_and_expired_first() {
        let now = now_secs();
        let cache = TokenCache::new(3, 0);
        cache.insert(token_hash("expired"), token(now - 100, None));
        for name in ["a", "b", "c"] {
            cache.insert(token_hash(name), token(now + 100, None));
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&token_hash("expired")).is_none(), "expired entries go first");
        cache.insert(token_hash("d"), token(now + 100, None));
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&token_hash("a")).is_none(), "then the oldest");
        assert!(matches!(cache.get(&token_hash("d")), Some(Ok(_))));
        let none = TokenCache::new(0, 0);
        none.insert(token_hash("a"), token(now + 100, None));
        assert_eq!(none.len(), 0);
    }

    #[test]
    fn claims_without_exp_are_not_cacheable() {
        assert!(VerifiedToken::new(Role::Anon, serde_json::json!({"role": "anon"})).is_none());
    }
}
