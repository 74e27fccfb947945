//! [`Auth`] (shared by all projects: the configuration, the password hasher and its
//! bound, the claims hook) and [`ProjectAuth`] (one project's handle: its tables and
//! signing key), whose methods are the flows.

use std::sync::Arc;

use easbase_core::context::{ProjectId, RequestContext};
use easbase_core::project::{Platform, ProjectDb};

use crate::config::AuthConfig;
use crate::error::Result;
use crate::flows;
use crate::jwt::{CustomClaimsHook, Signer};
use crate::model::{OneTimeToken, Session, User};
use crate::password::PasswordHasher;
use crate::settings::{self, Effective, ProjectSettings, Provisioned, SettingsCache, Template};
use crate::store::Store;

/// The auth service of a platform: configuration, the password hasher (with its bound on
/// concurrent hashes, shared by every project) and the claims hook. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    hasher: PasswordHasher,
    hook: Option<Arc<dyn CustomClaimsHook>>,
    settings: SettingsCache,
    /// The effective settings of a project without its own.
    defaults: Arc<Effective>,
    /// What [`Auth::project`] reads from the platform per project (its API URL, JWT
    /// secret and current signing key), for [`AuthConfig::settings_cache_ttl`].
    parts: std::sync::Mutex<std::collections::HashMap<ProjectId, Parts>>,
}

/// A project's parts as [`Auth::project`] caches them.
#[derive(Clone)]
struct Parts {
    /// When they were read, and the signing-key epoch then ([`crate::keys::keys_epoch`]).
    at: std::time::Instant,
    epoch: u64,
    api_url: String,
    secret: String,
    current: Option<crate::keys::CurrentKey>,
}

/// The most projects whose parts are cached (expired entries are dropped first).
const MAX_CACHED_PARTS: usize = 10_000;

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.inner.config)
            .field("hook", &self.inner.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// An auth service with `config`, and a claims hook when given.
    ///
    /// # Errors
    /// [`AuthError::Internal`](crate::AuthError::Internal) when the Argon2 parameters are invalid.
    pub fn new(config: AuthConfig, hook: Option<Arc<dyn CustomClaimsHook>>) -> Result<Auth> {
        let hasher = PasswordHasher::new(&config.password_hash)?;
        let settings = SettingsCache::new(config.settings_cache_ttl);
        let defaults = Arc::new(Effective::defaults(&config));
        let parts = std::sync::Mutex::new(std::collections::HashMap::new());
        Ok(Auth { inner: Arc::new(Inner { config, hasher, hook, settings, defaults, parts }) })
    }

    /// The process-wide configuration (each project's [`ProjectSettings`] apply over it:
    /// [`ProjectAuth::effective_config`]).
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// Applies an auth template to `project` (see [`crate::settings`]): idempotent, a
    /// second template adds to the first.
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`](crate::AuthError::ValidationFailed) (a `social-oauth`
    /// template without a client, an empty client id or secret),
    /// [`AuthError::Core`](crate::AuthError::Core) for an unknown project.
    pub async fn provision(
        &self,
        platform: &Platform,
        project: &ProjectId,
        template: Template,
    ) -> Result<Provisioned> {
        let outcome = settings::provision(platform, project, &template).await;
        self.inner.settings.invalidate(project);
        outcome
    }

    /// The project's own settings (`None` fields inherit this `Auth`'s configuration);
    /// client secrets are never returned.
    ///
    /// # Errors
    /// [`AuthError::Core`](crate::AuthError::Core) for an unknown project.
    pub async fn project_settings(
        &self,
        platform: &Platform,
        project: &ProjectId,
    ) -> Result<ProjectSettings> {
        settings::read_settings(platform, project).await
    }

    /// Replaces the project's settings (provisioned templates stay recorded; a provider's
    /// `client_secret: None` keeps its stored secret). This process sees the change at
    /// once, others within [`AuthConfig::settings_cache_ttl`].
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`](crate::AuthError::ValidationFailed) naming the bad
    /// field, [`AuthError::Core`](crate::AuthError::Core) for an unknown project.
    pub async fn update_project_settings(
        &self,
        platform: &Platform,
        project: &ProjectId,
        settings: ProjectSettings,
    ) -> Result<Provisioned> {
        let outcome = settings::write_settings(platform, project, settings).await;
        self.inner.settings.invalidate(project);
        outcome
    }

    /// The project's effective settings, from the cache or the platform table.
    async fn effective(
        &self,
        platform: &Platform,
        id: &ProjectId,
        jwt_secret: &[u8],
    ) -> Result<Arc<Effective>> {
        if let Some(hit) = self.inner.settings.get(id) {
            return Ok(hit);
        }
        let effective =
            Arc::new(settings::load_effective(platform, id, jwt_secret, &self.inner.config).await?);
        self.inner.settings.put(id, effective.clone());
        Ok(effective)
    }

    /// The handle of one project: its database and its signing secret
    /// ([`Platform::jwt_secret`]), or its current asymmetric key when it has one
    /// ([`crate::keys`]). Without [`AuthConfig::jwt_issuer`], tokens carry
    /// `iss: {api_url}/auth/v1`.
    ///
    /// The request path calls it for every auth request, so what it reads from the
    /// platform database (the project's API URL and secret, its current signing key) is
    /// cached per project for [`AuthConfig::settings_cache_ttl`]: a key change made in
    /// this process ([`SigningKeys`](crate::keys::SigningKeys)) is used at once, one made
    /// by another process after the TTL.
    ///
    /// # Errors
    /// [`AuthError::Core`](crate::AuthError::Core) when the project is unknown or its
    /// database cannot be reached.
    pub async fn project(&self, platform: &Platform, id: &ProjectId) -> Result<ProjectAuth> {
        let parts = self.parts(platform, id).await?;
        let pdb = platform.project_db(id).await?;
        let issuer =
            self.inner.config.jwt_issuer.clone().unwrap_or_else(|| format!("{}/auth/v1", parts.api_url));
        let mut handle = self.project_with(pdb, parts.secret.as_bytes(), Some(issuer))?;
        handle.effective = self.effective(platform, id, parts.secret.as_bytes()).await?;
        if let Some(current) = parts.current {
            handle.signer = Arc::new(handle.signer.with_key(current));
        }
        Ok(handle)
    }

    /// A project's API URL, JWT secret and current signing key: from the cache while
    /// younger than [`AuthConfig::settings_cache_ttl`] and no signing key changed in this
    /// process since, else read from the platform (three queries) and cached.
    async fn parts(&self, platform: &Platform, id: &ProjectId) -> Result<Parts> {
        let ttl = self.inner.config.settings_cache_ttl;
        let epoch = crate::keys::keys_epoch();
        let cached = {
            let parts = self.inner.parts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            parts.get(id).filter(|p| p.epoch == epoch && p.at.elapsed() < ttl).cloned()
        };
        if let Some(parts) = cached {
            return Ok(parts);
        }
        let at = std::time::Instant::now();
        let project = platform.project(id).await?;
        let secret = platform.jwt_secret(id).await?;
        let current = crate::keys::current_key(platform, id).await?;
        let parts = Parts { at, epoch, api_url: project.api_url, secret, current };
        if !ttl.is_zero() {
            let mut cache = self.inner.parts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.len() >= MAX_CACHED_PARTS {
                cache.retain(|_, p| p.at.elapsed() < ttl);
                if cache.len() >= MAX_CACHED_PARTS {
                    cache.clear();
                }
            }
            cache.insert(id.clone(), parts.clone());
        }
        Ok(parts)
    }

    /// The handle of a project from its parts (a host that keeps them itself). `issuer`
    /// overrides [`AuthConfig::jwt_issuer`]. It signs with the HS256 secret; the
    /// project's asymmetric keys ([`crate::keys`]) and its stored settings
    /// ([`crate::settings`]) are used by [`Auth::project`] only: this handle follows the
    /// process-wide configuration.
    ///
    /// # Errors
    /// [`AuthError::Internal`](crate::AuthError::Internal) when the secret is shorter
    /// than 32 bytes.
    pub fn project_with(
        &self,
        pdb: ProjectDb,
        jwt_secret: &[u8],
        issuer: Option<String>,
    ) -> Result<ProjectAuth> {
        let issuer = issuer.or_else(|| self.inner.config.jwt_issuer.clone());
        let signer = Signer::new(jwt_secret, self.inner.config.jwt_kid.clone(), issuer)?;
        let effective = self.inner.defaults.clone();
        Ok(ProjectAuth { auth: self.clone(), store: Store::new(pdb), signer: Arc::new(signer), effective })
    }
}

/// One project's auth: the flows as methods. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ProjectAuth {
    auth: Auth,
    pub(crate) store: Store,
    pub(crate) signer: Arc<Signer>,
    effective: Arc<Effective>,
}

/// The scope of [`ProjectAuth::logout`] (GoTrue's `scope` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// Every session of the user (the default).
    #[default]
    Global,
    /// This session only.
    Local,
    /// Every session but this one.
    Others,
}

/// What [`ProjectAuth::signup`] gives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SignupOutcome {
    /// Auto-confirmation is on: the user is signed in.
    Session(Box<Session>),
    /// A confirmation is needed. `user` is the user's object (GoTrue's 200 body); for an
    /// address that already belongs to a confirmed user it is a look-alike with a random
    /// id and `confirmation` is `None`, so the answer does not tell whether the address
    /// is registered. Otherwise `confirmation` is the token to mail.
    ConfirmationRequired {
        /// The user object to answer with.
        user: Box<User>,
        /// The confirmation token for the mailer, if one was issued.
        confirmation: Option<OneTimeToken>,
    },
}

/// Changes to a user ([`ProjectAuth::update_user`]); `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UserUpdate {
    /// A new email address (confirmed at once with auto-confirmation, else by the token
    /// returned in [`UserUpdateOutcome::email_change`]).
    pub email: Option<String>,
    /// A new password (other sessions of the user are signed out).
    pub password: Option<String>,
    /// Keys to merge into `user_metadata` (a `null` value removes the key).
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
    /// The reauthentication code ([`ProjectAuth::reauthenticate`]) a password change
    /// needs when [`AuthConfig::secure_password_change`] is on and the session is old.
    pub nonce: Option<String>,
}

impl UserUpdate {
    /// An empty update.
    pub fn new() -> UserUpdate {
        UserUpdate::default()
    }
}

/// What [`ProjectAuth::update_user`] gives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UserUpdateOutcome {
    /// The user after the update.
    pub user: User,
    /// The token confirming a new email address, for the mailer.
    pub email_change: Option<OneTimeToken>,
}

impl ProjectAuth {
    pub(crate) fn config(&self) -> &AuthConfig {
        &self.effective.config
    }

    /// The configuration this project's flows follow: its [`ProjectSettings`] over the
    /// process-wide [`AuthConfig`].
    pub fn effective_config(&self) -> &AuthConfig {
        &self.effective.config
    }

    /// The project's own redirect allow-list, when its settings have one.
    pub(crate) fn redirect_urls(&self) -> Option<&[String]> {
        self.effective.redirect_urls.as_deref()
    }

    /// The project's own enabled OAuth providers, by name.
    pub(crate) fn own_providers(&self) -> &[(String, Arc<dyn crate::oauth::Provider>)] {
        &self.effective.providers
    }

    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.auth.inner.hasher
    }

    pub(crate) fn hook(&self) -> Option<&dyn CustomClaimsHook> {
        self.auth.inner.hook.as_deref()
    }

    /// The project.
    pub fn project(&self) -> &ProjectId {
        self.store.project_db().project()
    }

    /// Signs up with email and password (`POST /signup`).
    ///
    /// # Errors
    /// [`SignupDisabled`](crate::AuthError::SignupDisabled),
    /// [`EmailProviderDisabled`](crate::AuthError::EmailProviderDisabled),
    /// [`ValidationFailed`](crate::AuthError::ValidationFailed) (a malformed address),
    /// [`WeakPassword`](crate::AuthError::WeakPassword),
    /// [`UserAlreadyExists`](crate::AuthError::UserAlreadyExists) (with auto-confirmation).
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        user_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<SignupOutcome> {
        flows::signup::signup(self, email, password, user_metadata, None).await
    }

    /// Confirms an email address with the token of [`SignupOutcome::ConfirmationRequired`]
    /// and signs the user in (`POST /verify`, `type=signup`).
    ///
    /// # Errors
    /// [`OtpExpired`](crate::AuthError::OtpExpired) for an unknown, used or expired token.
    pub async fn confirm_email(&self, token: &str) -> Result<Session> {
        flows::verify::confirm_email(self, token).await
    }

    /// Signs in with email and password (`POST /token?grant_type=password`).
    ///
    /// # Errors
    /// [`InvalidCredentials`](crate::AuthError::InvalidCredentials) for an unknown address
    /// and a wrong password alike; [`EmailNotConfirmed`](crate::AuthError::EmailNotConfirmed);
    /// [`UserBanned`](crate::AuthError::UserBanned).
    pub async fn password_grant(&self, email: &str, password: &str) -> Result<Session> {
        flows::password::password_grant(self, email, password).await
    }

    /// Exchanges a refresh token for a new session token pair
    /// (`POST /token?grant_type=refresh_token`); see [`crate::flows::refresh`].
    ///
    /// # Errors
    /// [`RefreshTokenNotFound`](crate::AuthError::RefreshTokenNotFound),
    /// [`RefreshTokenAlreadyUsed`](crate::AuthError::RefreshTokenAlreadyUsed) (the session
    /// is then revoked), [`SessionExpired`](crate::AuthError::SessionExpired),
    /// [`UserBanned`](crate::AuthError::UserBanned).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        flows::refresh::refresh(self, refresh_token).await
    }

    /// Signs out (`POST /logout?scope=…`) the session of `ctx`'s access token, the user's
    /// other sessions, or all. Already-ended sessions are not an error.
    ///
    /// # Errors
    /// [`BadJwt`](crate::AuthError::BadJwt) when `ctx` is not a user of this project.
    pub async fn logout(&self, ctx: &RequestContext, scope: LogoutScope) -> Result<()> {
        flows::logout::logout(self, ctx, scope).await
    }

    /// Starts a password recovery (`POST /recover`): a recovery token for the mailer, or
    /// `None` when no user has the address (the route answers the same either way).
    ///
    /// # Errors
    /// [`ValidationFailed`](crate::AuthError::ValidationFailed) for a malformed address.
    pub async fn recover(&self, email: &str) -> Result<Option<OneTimeToken>> {
        flows::recover::recover(self, email, None).await
    }

    /// Signs in with a recovery token (`POST /verify`, `type=recovery`); the user then
    /// sets a new password with [`ProjectAuth::update_password`].
    ///
    /// # Errors
    /// [`OtpExpired`](crate::AuthError::OtpExpired).
    pub async fn verify_recovery(&self, token: &str) -> Result<Session> {
        flows::verify::verify_recovery(self, token).await
    }

    /// Sets a new password for the user of `ctx` (`PUT /user` with `password`); the
    /// user's other sessions are signed out.
    ///
    /// # Errors
    /// [`WeakPassword`](crate::AuthError::WeakPassword),
    /// [`SamePassword`](crate::AuthError::SamePassword), the errors of
    /// [`ProjectAuth::get_user`].
    pub async fn update_password(&self, ctx: &RequestContext, password: &str) -> Result<User> {
        let update = UserUpdate { password: Some(password.to_owned()), ..UserUpdate::default() };
        Ok(flows::user::update_user(self, ctx, update).await?.user)
    }

    /// Signs in anonymously (`POST /signup` without credentials).
    ///
    /// # Errors
    /// [`AnonymousProviderDisabled`](crate::AuthError::AnonymousProviderDisabled),
    /// [`SignupDisabled`](crate::AuthError::SignupDisabled).
    pub async fn sign_in_anonymously(
        &self,
        user_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Session> {
        flows::anonymous::sign_in_anonymously(self, user_metadata).await
    }

    /// The user of `ctx`'s access token (`GET /user`).
    ///
    /// # Errors
    /// [`BadJwt`](crate::AuthError::BadJwt) (not a user token of this project),
    /// [`SessionNotFound`](crate::AuthError::SessionNotFound) (signed out),
    /// [`UserNotFound`](crate::AuthError::UserNotFound).
    pub async fn get_user(&self, ctx: &RequestContext) -> Result<User> {
        flows::user::get_user(self, ctx).await
    }

    /// Changes the user of `ctx` (`PUT /user`).
    ///
    /// # Errors
    /// The errors of [`ProjectAuth::get_user`], [`ValidationFailed`](crate::AuthError::ValidationFailed),
    /// [`EmailExists`](crate::AuthError::EmailExists), [`WeakPassword`](crate::AuthError::WeakPassword),
    /// [`SamePassword`](crate::AuthError::SamePassword).
    pub async fn update_user(&self, ctx: &RequestContext, update: UserUpdate) -> Result<UserUpdateOutcome> {
        flows::user::update_user(self, ctx, update).await
    }

    /// Confirms an email change with its token (`POST /verify`, `type=email_change`) and
    /// signs the user in.
    ///
    /// # Errors
    /// [`OtpExpired`](crate::AuthError::OtpExpired), [`EmailExists`](crate::AuthError::EmailExists).
    pub async fn confirm_email_change(&self, token: &str) -> Result<Session> {
        flows::verify::confirm_email_change(self, token).await
    }
}
