//! API keys: generation, parsing, verification, rotation and a verified-key cache.
//!
//! Every project has at least one **publishable** key (safe in a browser or an app; the
//! request acts as role `anon`) and one **secret** key (server-side only; the request acts
//! as role `service`, which bypasses row policies but never the isolation between
//! projects).
//!
//! # Key format
//!
//! ```text
//! eb_pk_3kq9x0m2a7c4v8zt_Vd0dG8yq0tXQm3JcW5xk1Lr9pN2aB6sE4uH7fY0iZgQ
//! └─┬─┘ └──────┬───────┘ └──────────────────┬──────────────────────┘
//! prefix    key id (16)            secret (43 base62 characters)
//! ```
//!
//! - **prefix**: `eb_pk_` (publishable) or `eb_sk_` (secret), so a person, a log scrubber or
//!   a secret scanner can tell them apart at a glance.
//! - **key id**: 16 characters `[a-z0-9]` (≈ 82 bits), public. The database looks a key up
//!   by its id (an indexed equality, case-insensitive collations included), never by its
//!   secret. It also names the key in logs and in [`KeyCache::invalidate`].
//! - **secret**: 43 characters `[A-Za-z0-9]` drawn uniformly from the thread-local CSPRNG
//!   (`rand::rng()`: ChaCha12 seeded and reseeded from the operating system):
//!   62⁴³ ≈ 2²⁵⁶, so at least 256 bits of entropy. Base62 has no `_` or `-`, so a
//!   double-click selects the whole key and the separators stay unambiguous.
//!
//! A key is always exactly [`KEY_LEN`] (66) ASCII bytes; [`parse`] refuses anything else
//! before looking at it further.
//!
//! # What is stored
//!
//! Only a [`StoredKey`]: the id, the project, the kind, timestamps and the SHA-256 of the
//! **whole** key string (prefix, id and secret, so the hash also binds the kind and the id).
//! A slow password hash (Argon2, bcrypt) exists to make guessing *low-entropy* secrets
//! expensive; a 256-bit random secret cannot be guessed whatever the hash, so a single
//! SHA-256 gives the same protection to a leaked table at a fraction of a microsecond per
//! request. Hashes are compared with [`subtle::ConstantTimeEq`].
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use easbase_core::context::ProjectId;
//! use easbase_core::keys::{self, KeyKind};
//! use easbase_core::schema::Role;
//!
//! let project = ProjectId::new("acme")?;
//! let now = SystemTime::now();
//!
//! // Create a key: show `generated.secret` to the user once, store only `stored`.
//! let generated = keys::generate(KeyKind::Secret);
//! let stored = generated.to_stored(project, now);
//!
//! // A request comes in with the key.
//! let parsed = keys::parse(&generated.secret)?;
//! assert_eq!(parsed.id(), stored.id); // look the stored key up by this id
//! assert_eq!(keys::verify(&parsed, &stored, now)?, Role::Service);
//!
//! // Rotate it: the old key keeps working for an hour, the new one from now on.
//! let (new_key, old) = keys::rotate(&stored, Duration::from_secs(3600), now);
//! assert!(keys::verify(&parsed, &old, now + Duration::from_secs(60)).is_ok());
//! assert!(keys::verify(&parsed, &old, now + Duration::from_secs(3600)).is_err());
//! assert_eq!(new_key.kind, KeyKind::Secret);
//! # Ok::<(), easbase_core::Error>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::context::ProjectId;
use crate::error::{Error, Result};
use crate::schema::Role;

/// The prefix of publishable keys.
pub const PUBLISHABLE_PREFIX: &str = "eb_pk_";
/// The prefix of secret keys.
pub const SECRET_PREFIX: &str = "eb_sk_";
/// The length of a key id (`[a-z0-9]`).
pub const KEY_ID_LEN: usize = 16;
/// The length of a key's secret part (`[A-Za-z0-9]`, ≥ 256 bits).
pub const SECRET_LEN: usize = 43;
/// The length in bytes of every key: prefix, id, `_`, secret.
pub const KEY_LEN: usize = PUBLISHABLE_PREFIX.len() + KEY_ID_LEN + 1 + SECRET_LEN;

const ID_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Publishable or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// `eb_pk_…`: may be shipped to browsers and apps; requests act as [`Role::Anon`].
    Publishable,
    /// `eb_sk_…`: server-side only; requests act as [`Role::Service`].
    Secret,
}

impl KeyKind {
    /// The visible prefix of keys of this kind (`eb_pk_` or `eb_sk_`).
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Publishable => PUBLISHABLE_PREFIX,
            KeyKind::Secret => SECRET_PREFIX,
        }
    }

    /// The role a request made with a key of this kind acts as.
    pub fn role(self) -> Role {
        match self {
            KeyKind::Publishable => Role::Anon,
            KeyKind::Secret => Role::Service,
        }
    }

    /// `"publishable"` or `"secret"` (the stored form).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Publishable => "publishable",
            KeyKind::Secret => "secret",
        }
    }

    /// The inverse of [`KeyKind::as_str`].
    pub fn from_name(name: &str) -> Option<KeyKind> {
        match name {
            "publishable" => Some(KeyKind::Publishable),
            "secret" => Some(KeyKind::Secret),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly generated key. The [`secret`](GeneratedKey::secret) is the only copy of the
/// full key: show it to its owner once, store [`GeneratedKey::to_stored`].
///
/// `Debug` prints the id and kind, never the secret.
#[derive(Clone)]
pub struct GeneratedKey {
    /// The public key id (also inside `secret`).
    pub id: String,
    /// Publishable or secret.
    pub kind: KeyKind,
    /// The whole key (`eb_pk_<id>_<secret>`), shown once.
    pub secret: String,
    /// SHA-256 of the whole key: what is stored.
    pub hash: [u8; 32],
}

impl GeneratedKey {
    /// The stored form of this key for `project`, created at `created_at`, not expiring,
    /// not revoked.
    pub fn to_stored(&self, project_id: ProjectId, created_at: SystemTime) -> StoredKey {
        StoredKey {
            id: self.id.clone(),
            project_id,
            kind: self.kind,
            hash: self.hash,
            created_at,
            expires_at: None,
            revoked: false,
        }
    }
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A key as the database keeps it: no secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The public key id (the lookup key).
    pub id: String,
    /// The project the key belongs to.
    pub project_id: ProjectId,
    /// Publishable or secret.
    pub kind: KeyKind,
    /// SHA-256 of the whole key string (see [`hash_to_hex`] for a text column).
    pub hash: [u8; 32],
    /// When the key was created.
    pub created_at: SystemTime,
    /// When the key stops working (set by [`rotate`] to the end of the grace period).
    /// `None`: no expiry.
    pub expires_at: Option<SystemTime>,
    /// A revoked key is refused at once.
    pub revoked: bool,
}

/// A syntactically valid key taken from a request: kind and id are known, the secret is
/// not verified yet (see [`verify`]).
///
/// `Debug` prints the kind and id, never the secret. Equality is constant-time.
#[derive(Clone)]
pub struct ParsedKey {
    kind: KeyKind,
    full: String,
}

impl ParsedKey {
    /// Publishable or secret, as the prefix says.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The public key id, to look the [`StoredKey`] up by.
    pub fn id(&self) -> &str {
        let start = PUBLISHABLE_PREFIX.len();
        &self.full[start..start + KEY_ID_LEN]
    }

    /// The SHA-256 of the whole key, as [`StoredKey::hash`] holds it.
    pub fn hash(&self) -> [u8; 32] {
        hash_key(&self.full)
    }
}

impl PartialEq for ParsedKey {
    fn eq(&self, other: &Self) -> bool {
        // Both are KEY_LEN bytes long, so only the contents are compared (in constant time).
        self.full.as_bytes().ct_eq(other.full.as_bytes()).into()
    }
}

impl Eq for ParsedKey {}

impl fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("kind", &self.kind)
            .field("id", &self.id())
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Generates a new key of `kind` from the CSPRNG.
///
/// ```
/// use easbase_core::keys::{self, KeyKind};
/// let key = keys::generate(KeyKind::Publishable);
/// assert!(key.secret.starts_with("eb_pk_"));
/// assert_eq!(keys::parse(&key.secret)?.id(), key.id);
/// # Ok::<(), easbase_core::Error>(())
/// ```
pub fn generate(kind: KeyKind) -> GeneratedKey {
    let mut rng = rand::rng();
    let id: String =
        (0..KEY_ID_LEN).map(|_| char::from(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())])).collect();
    let mut full = String::with_capacity(KEY_LEN);
    full.push_str(kind.prefix());
    full.push_str(&id);
    full.push('_');
    full.extend((&mut rng).sample_iter(rand::distr::Alphanumeric).take(SECRET_LEN).map(char::from));
    debug_assert_eq!(full.len(), KEY_LEN);
    let hash = hash_key(&full);
    GeneratedKey { id, kind, secret: full, hash }
}

/// Parses a key as a request carries it (surrounding whitespace is not trimmed here).
///
/// # Errors
///
/// [`Error::InvalidApiKey`] unless the input is exactly [`KEY_LEN`] ASCII bytes with a
/// known prefix, a `[a-z0-9]` id, a `_` and a `[A-Za-z0-9]` secret. Never panics, whatever
/// the input (non-ASCII, huge, empty).
pub fn parse(input: &str) -> Result<ParsedKey> {
    let bytes = input.as_bytes();
    if bytes.len() != KEY_LEN {
        return Err(Error::InvalidApiKey);
    }
    let kind = if bytes.starts_with(PUBLISHABLE_PREFIX.as_bytes()) {
        KeyKind::Publishable
    } else if bytes.starts_with(SECRET_PREFIX.as_bytes()) {
        KeyKind::Secret
    } else {
        return Err(Error::InvalidApiKey);
    };
    let rest = &bytes[PUBLISHABLE_PREFIX.len()..];
    let (id, rest) = rest.split_at(KEY_ID_LEN);
    let id_ok = id.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let sep_ok = rest[0] == b'_';
    let secret_ok = rest[1..].iter().all(u8::is_ascii_alphanumeric);
    if !(id_ok && sep_ok && secret_ok) {
        return Err(Error::InvalidApiKey);
    }
    Ok(ParsedKey { kind, full: input.to_owned() })
}

/// Checks a parsed key against its stored form at time `now` and returns the role the
/// request acts as ([`KeyKind::role`]).
///
/// The hash comparison is constant-time and always performed, whatever else is wrong, so
/// the time taken does not tell which check failed.
///
/// # Errors
///
/// [`Error::InvalidApiKey`] when the hash, id or kind differ, the key is revoked, or
/// `now` is at or past [`StoredKey::expires_at`].
pub fn verify(parsed: &ParsedKey, stored: &StoredKey, now: SystemTime) -> Result<Role> {
    let hash_ok = parsed.hash().ct_eq(&stored.hash);
    let id_ok = parsed.id().as_bytes().ct_eq(stored.id.as_bytes());
    let kind_ok = subtle::Choice::from(u8::from(parsed.kind == stored.kind));
    let live_ok =
        subtle::Choice::from(u8::from(!stored.revoked && stored.expires_at.is_none_or(|e| now < e)));
    if bool::from(hash_ok & id_ok & kind_ok & live_ok) {
        Ok(stored.kind.role())
    } else {
        Err(Error::InvalidApiKey)
    }
}

/// Rotates a key: returns a new key of the same kind, and `old` with its expiry set to
/// `now + grace` (or kept, if it already expires sooner). Store both: the old key keeps
/// working until the end of the grace period, then [`verify`] refuses it.
///
/// A zero `grace` retires the old key at once.
pub fn rotate(old: &StoredKey, grace: Duration, now: SystemTime) -> (GeneratedKey, StoredKey) {
    let new = generate(old.kind);
    let end = now.checked_add(grace).unwrap_or(now);
    let mut retired = old.clone();
    retired.expires_at = Some(match old.expires_at {
        Some(e) if e < end => e,
        _ => end,
    });
    (new, retired)
}

/// SHA-256 of a whole key string, as stored.
fn hash_key(full: &str) -> [u8; 32] {
    Sha256::digest(full.as_bytes()).into()
}

/// A key hash as 64 lower-case hex digits (for a text column).
pub fn hash_to_hex(hash: &[u8; 32]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(64);
    for b in hash {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The inverse of [`hash_to_hex`]; `None` unless `hex` is 64 hex digits.
pub fn hash_from_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

// ---- cache -------------------------------------------------------------------------

/// Size and lifetime of a [`KeyCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCacheConfig {
    /// At most this many entries; the oldest insertions are evicted first. Zero disables
    /// the cache.
    pub capacity: usize,
    /// An entry is served for this long after insertion, then looked up again. This bounds
    /// how long a revocation or a pause made by another process goes unnoticed when no
    /// invalidation reaches this one.
    pub ttl: Duration,
}

impl Default for KeyCacheConfig {
    /// 10,000 keys for 60 seconds.
    fn default() -> Self {
        KeyCacheConfig { capacity: 10_000, ttl: Duration::from_secs(60) }
    }
}

/// A bounded, time-limited, in-memory cache of looked-up keys, by key id, so that the hot
/// path does not query the database for every request.
///
/// It caches what the database said about a key id (by default a [`StoredKey`]; the
/// [request-context resolver](crate::context::ContextResolver) also keeps the project's
/// state), **not** the outcome of a verification: every request still runs [`verify`]
/// against the cached entry, so a wrong secret, an expiry or a revocation flag are
/// checked each time. Eviction is first-in first-out; all operations are O(1) amortized.
/// Thread-safe (`&self` everywhere).
///
/// ```
/// use easbase_core::keys::{KeyCache, KeyCacheConfig};
/// let cache: KeyCache<&str> = KeyCache::new(KeyCacheConfig::default());
/// cache.insert("k1", "value");
/// assert_eq!(cache.get("k1").as_deref(), Some(&"value"));
/// assert!(cache.invalidate("k1"));
/// assert!(cache.get("k1").is_none());
/// ```
pub struct KeyCache<V = StoredKey> {
    config: KeyCacheConfig,
    inner: Mutex<CacheInner<V>>,
}

struct CacheEntry<V> {
    value: Arc<V>,
    inserted: Instant,
    generation: u64,
}

struct CacheInner<V> {
    map: HashMap<String, CacheEntry<V>>,
    /// Insertion order; an element whose generation no longer matches the map is stale.
    order: VecDeque<(String, u64)>,
    next_generation: u64,
}

impl<V> KeyCache<V> {
    /// An empty cache.
    pub fn new(config: KeyCacheConfig) -> Self {
        KeyCache {
            config,
            inner: Mutex::new(CacheInner { map: HashMap::new(), order: VecDeque::new(), next_generation: 0 }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> KeyCacheConfig {
        self.config
    }

    fn lock(&self) -> MutexGuard<'_, CacheInner<V>> {
        // A panic while holding the lock cannot leave the map inconsistent in a way that
        // matters (worst case a stale order entry), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `key_id`, unless absent or older than the TTL.
    pub fn get(&self, key_id: &str) -> Option<Arc<V>> {
        let mut inner = self.lock();
        let entry = inner.map.get(key_id)?;
        if entry.inserted.elapsed() < self.config.ttl {
            return Some(entry.value.clone());
        }
        inner.map.remove(key_id);
        None
    }

    /// Inserts or replaces the entry for `key_id`, evicting the oldest entries beyond the
    /// capacity, and returns the value as the cache shares it.
    pub fn insert(&self, key_id: impl Into<String>, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if self.config.capacity == 0 {
            return value;
        }
        let key_id = key_id.into();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let generation = inner.next_generation;
        inner.next_generation += 1;
        inner.map.insert(
            key_id.clone(),
            CacheEntry { value: value.clone(), inserted: Instant::now(), generation },
        );
        inner.order.push_back((key_id, generation));
        while inner.map.len() > self.config.capacity {
            let Some((id, generation)) = inner.order.pop_front() else { break };
            if inner.map.get(&id).is_some_and(|e| e.generation == generation) {
                inner.map.remove(&id);
            }
        }
        // Re-insertions and invalidations leave stale order entries: compact now and then.
        if inner.order.len() > 2 * self.config.capacity + 16 {
            let map = &inner.map;
            inner.order.retain(|(id, g)| map.get(id).is_some_and(|e| e.generation == *g));
        }
        value
    }

    /// Forgets `key_id` (after a revocation, a rotation, or a notice from another
    /// process). Returns whether an entry was there.
    pub fn invalidate(&self, key_id: &str) -> bool {
        self.lock().map.remove(key_id).is_some()
    }

    /// Forgets every entry for which `pred(key_id, value)` holds (e.g. all keys of a
    /// project being paused). Returns how many were removed.
    pub fn invalidate_if(&self, mut pred: impl FnMut(&str, &V) -> bool) -> usize {
        let mut inner = self.lock();
        let before = inner.map.len();
        inner.map.retain(|id, e| !pred(id, &e.value));
        before - inner.map.len()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.order.clear();
    }

    /// How many entries are held (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<V> Default for KeyCache<V> {
    fn default() -> Self {
        KeyCache::new(KeyCacheConfig::default())
    }
}

impl<V> fmt::Debug for KeyCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache").field("config", &self.config).field("len", &self.len()).finish()
    }
}
