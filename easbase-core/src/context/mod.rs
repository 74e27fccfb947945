//! The request context: which project a request is for, which role it acts as, and the
//! claims row policies read.
//!
//! A request arrives with an `apikey` header and/or `Authorization: Bearer …` (the
//! Supabase convention). [`Credentials::from_headers`] checks their shape;
//! [`ContextResolver::resolve`] verifies the key (hash, constant-time; cached lookups),
//! the project's state and the user's JWT ([`jwt::JwtVerifier`]) and yields a
//! [`RequestContext`], which the scoped database session turns into `SET LOCAL ROLE` and
//! `request.jwt.claims` (PostgreSQL) or into bound policy values (SQLite, MySQL) through
//! [`RequestContext::auth_context`].
//!
//! # Roles and the `role` claim
//!
//! | how the request authenticated | [`Role`] | `role` claim ([`role_claim`]) |
//! |---|---|---|
//! | publishable key only | `Anon` | `anon` |
//! | secret key only | `Service` | `service_role` |
//! | key + user JWT (`role` absent or `authenticated`) | `Authenticated` | `authenticated` |
//! | key + JWT with `role: anon` | `Anon` | `anon` |
//! | key + JWT with `role: service_role` (signed by the project) | `Service` | `service_role` |
//!
//! The service role's claim is `service_role`, Supabase's name (and the PostgreSQL role
//! name easbase-schema's DDL uses by default), so policies and functions written for
//! Supabase (`auth.role() = 'service_role'`) keep working. On PostgreSQL, policies read
//! `auth.role` from the claims, so the context always sets the `role` claim to the role it
//! acts as: [`RequestContext::claims_json`] and [`RequestContext::auth_context`] agree.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::SystemTime;
//! use easbase_core::context::jwt::{JwtConfig, JwtKey, JwtVerifier};
//! use easbase_core::context::{ContextResolver, KeyLookup, ProjectId, ProjectState};
//! use easbase_core::keys::{self, KeyCache, KeyKind, StoredKey};
//! use easbase_core::schema::Role;
//!
//! // The project module implements this over the platform database.
//! struct OneKey(StoredKey, ProjectState);
//! #[async_trait::async_trait]
//! impl KeyLookup for OneKey {
//!     async fn key(&self, id: &str) -> easbase_core::Result<Option<(StoredKey, ProjectState)>> {
//!         Ok((id == self.0.id).then(|| (self.0.clone(), self.1.clone())))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let project = ProjectId::new("acme")?;
//! let key = keys::generate(KeyKind::Publishable);
//! let verifier = JwtVerifier::new(vec![JwtKey::hs256(&[7; 32])?], JwtConfig::default())?;
//! let state = ProjectState { project: project.clone(), paused: false, verifier: Arc::new(verifier) };
//! let lookup = OneKey(key.to_stored(project, SystemTime::now()), state);
//! let resolver = ContextResolver::new(Arc::new(lookup), KeyCache::default());
//!
//! let bearer = format!("Bearer {}", key.secret);
//! let ctx = resolver.resolve_headers(Some(&key.secret), Some(&bearer), None).await?;
//! assert_eq!(ctx.role(), Role::Anon);
//! assert_eq!(ctx.project().as_str(), "acme");
//! assert_eq!(ctx.claims_json(), r#"{"role":"anon"}"#);
//! assert_eq!(ctx.auth_context().role, "anon");
//! # Ok::<(), easbase_core::Error>(())
//! # }).unwrap();
//! ```

mod credentials;
mod ids;
pub mod jwt;
mod resolver;
pub mod token_cache;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use credentials::Credentials;
pub use ids::ProjectId;
pub use resolver::{ContextResolver, KeyLookup, ProjectState, ResolverCache};

use crate::schema::Role;
use crate::schema::policy::AuthContext;

/// The value of the `role` claim for `role`: `anon`, `authenticated` or `service_role`.
pub fn role_claim(role: Role) -> &'static str {
    match role {
        Role::Anon => "anon",
        Role::Authenticated => "authenticated",
        Role::Service => "service_role",
    }
}

/// The longest caller-given request id kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Who is asking, for which project: built once per request by a [`ContextResolver`]
/// (or [`RequestContext::new`]), read by the database session and the handlers.
///
/// Invariant: `claims()["role"]` is [`role_claim`]`(role())`.
#[derive(Debug, Clone)]
pub struct RequestContext {
    project: ProjectId,
    role: Role,
    claims: Arc<Value>,
    claims_json: Arc<str>,
    request_id: String,
}

/// A new request id in the UUID v4 format: a per-process random seed (one system call,
/// once) mixed with a counter by a bijection, so ids never repeat within a process and do
/// not line up across processes, without a `getrandom` call per request. Request ids are
/// labels for logs, not secrets.
fn fresh_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (a, b) = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // splitmix64's finalizer: a bijection of u64, so distinct `n` give distinct ids.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hi = mix(a ^ n);
    let lo = mix(b.wrapping_add(n.rotate_left(17)));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

impl RequestContext {
    /// A context for `project` acting as `role`, with the user's `claims` (empty for a
    /// key-only request). The `role` claim is set to [`role_claim`]`(role)`, replacing any
    /// other value. `request_id` is kept when it is 1–128 characters of `[A-Za-z0-9._:-]`;
    /// otherwise a UUID v4 is generated.
    ///
    /// ```
    /// use easbase_core::context::{ProjectId, RequestContext};
    /// use easbase_core::schema::Role;
    /// let ctx = RequestContext::new(ProjectId::new("acme")?, Role::Service, Default::default(), Some("req-1"));
    /// assert_eq!(ctx.claims_json(), r#"{"role":"service_role"}"#);
    /// assert_eq!(ctx.request_id(), "req-1");
    /// # Ok::<(), easbase_core::Error>(())
    /// ```
    pub fn new(
        project: ProjectId,
        role: Role,
        mut claims: Map<String, Value>,
        request_id: Option<&str>,
    ) -> RequestContext {
        claims.insert("role".into(), Value::String(role_claim(role).into()));
        let claims = Value::Object(claims);
        let claims_json: Arc<str> = claims.to_string().into();
        RequestContext::from_parts(project, role, Arc::new(claims), claims_json, request_id)
    }

    /// A context from claims already normalized (`role` set) and serialized, shared with
    /// the token cache instead of copied.
    pub(crate) fn from_parts(
        project: ProjectId,
        role: Role,
        claims: Arc<Value>,
        claims_json: Arc<str>,
        request_id: Option<&str>,
    ) -> RequestContext {
        let request_id = match request_id {
            Some(id)
                if !id.is_empty()
                    && id.len() <= MAX_REQUEST_ID_LEN
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')) =>
            {
                id.to_owned()
            }
            _ => fresh_request_id(),
        };
        RequestContext { project, role, claims, claims_json, request_id }
    }

    /// The project.
    pub fn project(&self) -> &ProjectId {
        &self.project
    }

    /// The role the request acts as.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The claims (a JSON object, always with `role`).
    pub fn claims(&self) -> &Arc<Value> {
        &self.claims
    }

    /// The request id (for logs and the `X-Request-Id` response header).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The user id (`sub`), if a user token was given.
    pub fn uid(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// The claims as JSON text, what the database session sets as `request.jwt.claims`
    /// ([`easbase_schema::policy::CLAIMS_SETTING`]). Serialized once, when the context is
    /// made. For a key-only request: `{"role":"anon"}` or `{"role":"service_role"}`.
    pub fn claims_json(&self) -> &str {
        &self.claims_json
    }

    /// The request's authentication as the policy compiler binds it on SQLite and MySQL:
    /// `uid` from `sub`, `role` the [`role_claim`], `email`, and all claims.
    pub fn auth_context(&self) -> AuthContext {
        AuthContext {
            uid: self.uid().map(str::to_owned),
            role: role_claim(self.role).to_owned(),
            email: self.claims.get("email").and_then(Value::as_str).map(str::to_owned),
            claims: Arc::clone(&self.claims),
        }
    }
}
