//! From credentials to a [`RequestContext`]: key lookup (cached), key verification, the
//! project's state, the user's token.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::jwt::JwtVerifier;
use super::token_cache::{VerifiedToken, token_hash};
use super::{Credentials, ProjectId, RequestContext, role_claim};
use crate::error::{Error, Result};
use crate::keys::{self, KeyCache, StoredKey};
use crate::schema::Role;

/// What the resolver needs to know about the project a key belongs to.
#[derive(Debug, Clone)]
pub struct ProjectState {
    /// The project.
    pub project: ProjectId,
    /// A paused project's keys are refused ([`Error::ProjectPaused`]).
    pub paused: bool,
    /// The project's end-user token keys.
    pub verifier: Arc<JwtVerifier>,
}

/// Where the resolver finds a key by its id (the project module implements it over the
/// platform database).
#[async_trait::async_trait]
pub trait KeyLookup: Send + Sync {
    /// The stored key with id `key_id` and the state of its project, or `None` when no
    /// such key exists.
    ///
    /// # Errors
    ///
    /// Whatever the store fails with (e.g. [`Error::Unavailable`]); it is passed on.
    async fn key(&self, key_id: &str) -> Result<Option<(StoredKey, ProjectState)>>;
}

/// The cache a [`ContextResolver`] keeps: what [`KeyLookup::key`] said, by key id.
pub type ResolverCache = KeyCache<(StoredKey, ProjectState)>;

/// Turns a request's [`Credentials`] into a [`RequestContext`].
///
/// 1. The API key is required: it names the project. A token alone does not (there is no
///    project to verify it against) and is refused with [`Error::MissingApiKey`].
/// 2. The stored key comes from the [`ResolverCache`], else from the [`KeyLookup`] (and is
///    then cached). Unknown ids: [`Error::InvalidApiKey`].
/// 3. [`keys::verify`] checks the secret (constant-time), revocation and expiry.
/// 4. A paused project: [`Error::ProjectPaused`] (only after the key verified, so a
///    wrong key learns nothing about the project).
/// 5. Without a user token the role is the key's (publishable → `anon`, secret →
///    `service`). With one, it is verified by the project's [`JwtVerifier`] and its `role`
///    claim decides: absent or `authenticated` → [`Role::Authenticated`], `anon` →
///    [`Role::Anon`], `service_role` → [`Role::Service`]; anything else is refused
///    ([`Error::InvalidToken`]). A verified token is kept in the verifier's cache (see
///    [`JwtVerifier`]), so the same token again costs a SHA-256 and a lookup; its `exp`
///    and `nbf` are checked on every request. A `service_role` token acts as service, as Supabase's
///    service key (itself such a JWT) does: only the holder of the project's signing key
///    can make one. The token wins over the key's kind, as in Supabase: a secret key with
///    a user's token acts as that user.
///
/// Invalidate [`ContextResolver::cache`] entries when a key is revoked or rotated, or a
/// project is paused; otherwise a change is seen within the cache's TTL.
pub struct ContextResolver {
    lookup: Arc<dyn KeyLookup>,
    cache: ResolverCache,
}

impl ContextResolver {
    /// A resolver over `lookup` with `cache`.
    pub fn new(lookup: Arc<dyn KeyLookup>, cache: ResolverCache) -> ContextResolver {
        ContextResolver { lookup, cache }
    }

    /// The key cache, to invalidate entries.
    pub fn cache(&self) -> &ResolverCache {
        &self.cache
    }

    /// Resolves `creds`. `request_id` is kept when it is 1–128 characters of
    /// `[A-Za-z0-9._:-]` (as from an `X-Request-Id` header); otherwise a UUID v4 is made.
    ///
    /// # Errors
    ///
    /// See the steps above: [`Error::MissingApiKey`], [`Error::InvalidApiKey`],
    /// [`Error::ProjectPaused`], the token errors of [`JwtVerifier::verify`], and any error
    /// of the [`KeyLookup`].
    pub async fn resolve(&self, creds: &Credentials, request_id: Option<&str>) -> Result<RequestContext> {
        let Some(key) = creds.api_key() else {
            return Err(Error::MissingApiKey);
        };
        let entry = match self.cache.get(key.id()) {
            Some(entry) => entry,
            None => {
                let Some(found) = self.lookup.key(key.id()).await? else {
                    tracing::debug!(key_id = key.id(), "unknown API key id");
                    return Err(Error::InvalidApiKey);
                };
                self.cache.insert(key.id(), found)
            }
        };
        let (stored, state) = &*entry;
        let key_role = keys::verify(key, stored, SystemTime::now())?;
        if stored.project_id != state.project {
            tracing::warn!(key_id = key.id(), "key lookup returned a key of another project");
            return Err(Error::InvalidApiKey);
        }
        if state.paused {
            return Err(Error::ProjectPaused);
        }
        let Some(token) = creds.token() else {
            return Ok(RequestContext::new(
                state.project.clone(),
                key_role,
                serde_json::Map::new(),
                request_id,
            ));
        };
        let verified = verified_token(&state.verifier, token)?;
        Ok(RequestContext::from_parts(
            state.project.clone(),
            verified.role,
            Arc::clone(&verified.claims),
            Arc::clone(&verified.claims_json),
            request_id,
        ))
    }

    /// [`Credentials::from_headers`] then [`ContextResolver::resolve`].
    ///
    /// # Errors
    ///
    /// As both.
    pub async fn resolve_headers(
        &self,
        apikey: Option<&str>,
        authorization: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<RequestContext> {
        let creds = Credentials::from_headers(apikey, authorization)?;
        self.resolve(&creds, request_id).await
    }
}

/// `token` verified by `verifier`, from its token cache when it is there (its `exp` and
/// `nbf` checked again), else verified, mapped to a role and cached.
fn verified_token(verifier: &JwtVerifier, token: &str) -> Result<Arc<VerifiedToken>> {
    let cache = verifier.token_cache();
    let hash = token_hash(token);
    if let Some(found) = cache.get(&hash) {
        return found;
    }
    let claims = verifier.verify(token)?;
    let role = match claims.role() {
        None | Some("authenticated") => Role::Authenticated,
        Some("anon") => Role::Anon,
        Some("service_role") => Role::Service,
        Some(_) => return Err(Error::InvalidToken("unsupported `role` claim".into())),
    };
    let mut claims = claims.into_map();
    claims.insert("role".into(), Value::String(role_claim(role).into()));
    let claims = Value::Object(claims);
    match VerifiedToken::new(role, claims) {
        Some(verified) => {
            let verified = Arc::new(verified);
            cache.insert(hash, Arc::clone(&verified));
            Ok(verified)
        }
        // Unreachable for a verified token (`exp` is required): refuse rather than guess.
        None => Err(Error::InvalidToken("missing claim `exp`".into())),
    }
}

impl fmt::Debug for ContextResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextResolver").field("cache", &self.cache).finish_non_exhaustive()
    }
}
