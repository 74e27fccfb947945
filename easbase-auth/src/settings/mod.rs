//! Per-project auth settings and the auth templates.
//!
//! A platform serves many projects with one [`Auth`](crate::Auth); each project may
//! differ from the process-wide [`AuthConfig`] in what [`ProjectSettings`] holds: site
//! URL, redirect allow-list, token lifetimes, auto-confirmation, sign-up and sign-in
//! switches, password rules, rate limits, and its own Google / GitHub OAuth clients. A
//! field left `None` inherits the process default, so the **effective** configuration
//! of a project is its settings over [`AuthConfig`] (and
//! [`AuthServiceConfig::redirect_urls`](crate::AuthServiceConfig::redirect_urls) for the
//! allow-list); every flow and route reads the effective one, and `GET /settings`
//! reports it.
//!
//! [`Auth::provision`](crate::Auth::provision) applies a [`Template`]
//! (`email-password`, `magic-link`, `social-oauth`, `phone-otp`): the sign-in switches
//! are set from the set of provisioned templates (so the first template turns the other
//! methods off, a second one adds its own), a `social-oauth` template stores its
//! providers' clients. Provisioning is idempotent: re-running a template with the same
//! arguments writes nothing and reports [`Provisioned::Unchanged`].
//!
//! Settings live in the platform table `auth_project_settings` (one row per project,
//! deleted with it), written with an optimistic version check so concurrent writers
//! never lose each other's changes. OAuth client secrets are stored **sealed**
//! (a keystream and a tag derived by HMAC-SHA256 from the project's JWT secret and a
//! random nonce) and never read back through the API: [`ProjectSettings`] read from the
//! store carry `client_secret: None`, and writing `None` keeps the stored secret.
//!
//! Reads go through a cache in the [`Auth`](crate::Auth) value: a change made through it
//! clears the project's entry at once; other processes (and other `Auth` values) see a
//! change when their entry expires, after [`AuthConfig::settings_cache_ttl`] (default
//! 5 s). easbase-core's cross-process events carry a fixed set of kinds and do not reach
//! modules, so the TTL is the bound.
//!
//! ```
//! use std::sync::Arc;
//! use easbase_auth::settings::{ProjectSettings, Provisioned, Template};
//! use easbase_auth::{Auth, AuthConfig, AuthModule};
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::project::{CreateProject, Platform, PlatformConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Db::open_sqlite(SqliteConfig::in_memory())?;
//! let platform =
//!     Platform::open(db, PlatformConfig::new("http://localhost:8080"), vec![Arc::new(AuthModule::default())]).await?;
//! let project = platform.create_project("owner-1", "Shop", CreateProject::default()).await?.project.id;
//! let auth = Auth::new(AuthConfig::new("http://localhost:3000"), None)?;
//!
//! assert_eq!(auth.provision(&platform, &project, Template::PhoneOtp).await?, Provisioned::Applied);
//! assert_eq!(auth.provision(&platform, &project, Template::PhoneOtp).await?, Provisioned::Unchanged);
//! let settings = auth.project_settings(&platform, &project).await?;
//! assert_eq!((settings.phone_enabled, settings.email_enabled), (Some(true), Some(false)));
//!
//! let changed = ProjectSettings { autoconfirm: Some(true), ..settings };
//! auth.update_project_settings(&platform, &project, changed).await?;
//! assert!(auth.project(&platform, &project).await?.effective_config().autoconfirm);
//! # Ok(())
//! # }
//! ```

mod cache;
mod seal;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::error::{AuthError, Result};
use crate::limits::{Limit, RateLimits};
use crate::oauth::{Provider, ProviderConfig};

pub(crate) use cache::SettingsCache;
pub(crate) use store::{load_effective, platform_schema, provision, read_settings, write_settings};

/// An auth template: the sign-in methods a project picks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Template {
    /// Email and password: sign-up, confirmation, login, recovery, password change
    /// (turns the email provider on).
    EmailPassword,
    /// Magic links and email codes (`/otp`; turns the email provider on).
    MagicLink,
    /// OAuth sign-in with Google and / or GitHub, with the project's own clients.
    SocialOAuth {
        /// Google's client, if any.
        google: Option<OAuthClient>,
        /// GitHub's client, if any.
        github: Option<OAuthClient>,
    },
    /// Phone sign-in with SMS codes (turns the phone provider on; the service also needs
    /// an SMS sender).
    PhoneOtp,
}

impl Template {
    /// The template's name: `email-password`, `magic-link`, `social-oauth`, `phone-otp`.
    pub fn name(&self) -> &'static str {
        match self {
            Template::EmailPassword => "email-password",
            Template::MagicLink => "magic-link",
            Template::SocialOAuth { .. } => "social-oauth",
            Template::PhoneOtp => "phone-otp",
        }
    }

    /// The template named `name`, for the templates without arguments (`social-oauth`
    /// needs its clients: build [`Template::SocialOAuth`]).
    ///
    /// ```
    /// use easbase_auth::settings::Template;
    /// assert_eq!(Template::from_name("magic-link"), Some(Template::MagicLink));
    /// assert_eq!(Template::from_name("social-oauth"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Template> {
        match name {
            "email-password" => Some(Template::EmailPassword),
            "magic-link" => Some(Template::MagicLink),
            "phone-otp" => Some(Template::PhoneOtp),
            _ => None,
        }
    }
}

/// An OAuth client registered with a provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// The client id.
    pub client_id: String,
    /// The client secret (stored sealed).
    pub client_secret: String,
}

impl OAuthClient {
    /// A client.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> OAuthClient {
        OAuthClient { client_id: client_id.into(), client_secret: client_secret.into() }
    }
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// What [`Auth::provision`](crate::Auth::provision) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioned {
    /// The settings changed.
    Applied,
    /// The template was already provisioned with these arguments: nothing was written.
    Unchanged,
}

/// A provider a project's settings can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SocialProvider {
    /// Google (OpenID Connect).
    Google,
    /// GitHub (OAuth 2, `/user` and `/user/emails`).
    Github,
}

impl SocialProvider {
    /// GoTrue's name (`google`, `github`).
    pub fn as_str(self) -> &'static str {
        match self {
            SocialProvider::Google => "google",
            SocialProvider::Github => "github",
        }
    }
}

/// One OAuth provider of a project.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSettings {
    /// The client id.
    pub client_id: String,
    /// The client secret: write-only. Settings read back have `None`; writing `None`
    /// keeps the stored secret (a new provider needs one).
    #[serde(default, skip_serializing)]
    pub client_secret: Option<String>,
    /// Whether sign-in with it is on (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// A rate limit in settings: `max` events per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitSettings {
    /// Events per window.
    pub max: u64,
    /// The window in seconds (at least 1).
    pub window_secs: u64,
}

/// A project's rate limits; they replace [`AuthConfig::rate_limits`] as a whole, and a
/// `None` field means **no limit** (see [`RateLimits`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateLimitSettings {
    /// [`RateLimits::per_ip`].
    pub per_ip: Option<LimitSettings>,
    /// [`RateLimits::emails`].
    pub emails: Option<LimitSettings>,
    /// [`RateLimits::sms`].
    pub sms: Option<LimitSettings>,
    /// [`RateLimits::per_recipient_interval`], in seconds.
    pub per_recipient_interval_secs: Option<u64>,
    /// [`RateLimits::failed_logins`].
    pub failed_logins: Option<LimitSettings>,
}

impl From<&RateLimits> for RateLimitSettings {
    fn from(r: &RateLimits) -> RateLimitSettings {
        let limit =
            |l: Option<Limit>| l.map(|l| LimitSettings { max: l.max, window_secs: l.window.as_secs() });
        RateLimitSettings {
            per_ip: limit(r.per_ip),
            emails: limit(r.emails),
            sms: limit(r.sms),
            per_recipient_interval_secs: r.per_recipient_interval.map(|d| d.as_secs()),
            failed_logins: limit(r.failed_logins),
        }
    }
}

impl RateLimitSettings {
    fn to_limits(&self) -> RateLimits {
        let limit =
            |l: Option<LimitSettings>| l.map(|l| Limit::new(l.max, Duration::from_secs(l.window_secs)));
        RateLimits {
            per_ip: limit(self.per_ip),
            emails: limit(self.emails),
            sms: limit(self.sms),
            per_recipient_interval: self.per_recipient_interval_secs.map(Duration::from_secs),
            failed_logins: limit(self.failed_logins),
        }
    }
}

/// One project's auth settings: every `None` inherits the process default
/// ([`AuthConfig`]; [`AuthServiceConfig::redirect_urls`](crate::AuthServiceConfig::redirect_urls)).
/// Serialized as JSON (for dashboards and the CLI); client secrets are never serialized.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectSettings {
    /// [`AuthConfig::site_url`] (an `http(s)://` URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    /// URLs besides the site URL's origin that `redirect_to` may name (exact URLs, or
    /// prefixes ending in `*`); replaces the service's list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_urls: Option<Vec<String>>,
    /// [`AuthConfig::access_token_lifetime`] in seconds (30 s to 7 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime_secs: Option<u64>,
    /// [`AuthConfig::refresh_token_reuse_interval`] in seconds (at most 1 hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_reuse_interval_secs: Option<u64>,
    /// [`AuthConfig::otp_lifetime`] in seconds (60 s to 1 day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp_lifetime_secs: Option<u64>,
    /// [`AuthConfig::autoconfirm`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoconfirm: Option<bool>,
    /// [`AuthConfig::signup_enabled`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signup_enabled: Option<bool>,
    /// [`AuthConfig::email_enabled`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_enabled: Option<bool>,
    /// [`AuthConfig::phone_enabled`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_enabled: Option<bool>,
    /// [`AuthConfig::anonymous_enabled`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_enabled: Option<bool>,
    /// [`AuthConfig::secure_password_change`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_password_change: Option<bool>,
    /// [`PasswordRules::min_length`](crate::PasswordRules::min_length) (6 to 128).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_min_length: Option<usize>,
    /// [`PasswordRules::required_characters`](crate::PasswordRules::required_characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_required_characters: Option<Vec<String>>,
    /// Rate limits replacing [`AuthConfig::rate_limits`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimitSettings>,
    /// The project's OAuth providers (they take precedence over the service's providers
    /// of the same name).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<SocialProvider, ProviderSettings>,
    /// The templates provisioned so far (by name).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub templates: BTreeSet<String>,
}

const DAY: u64 = 86_400;

fn bounded(value: Option<u64>, name: &str, min: u64, max: u64) -> Result<()> {
    match value {
        Some(v) if v < min || v > max => Err(AuthError::ValidationFailed(format!(
            "{name} must be between {min} and {max} seconds (got {v})"
        ))),
        _ => Ok(()),
    }
}

fn http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !url.chars().any(|c| c.is_whitespace()))
}

impl ProjectSettings {
    /// Checks every set field; the error names the field.
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`].
    pub fn validate(&self) -> Result<()> {
        let invalid = |m: String| Err(AuthError::ValidationFailed(m));
        if let Some(url) = &self.site_url
            && !http_url(url)
        {
            return invalid(format!("site_url must be an http(s) URL (got {url:?})"));
        }
        for url in self.redirect_urls.iter().flatten() {
            if !http_url(url) && !url.contains("://") {
                return invalid(format!("redirect_urls: {url:?} is not a URL"));
            }
        }
        bounded(self.access_token_lifetime_secs, "access_token_lifetime_secs", 30, 7 * DAY)?;
        bounded(self.refresh_token_reuse_interval_secs, "refresh_token_reuse_interval_secs", 0, 3600)?;
        bounded(self.otp_lifetime_secs, "otp_lifetime_secs", 60, DAY)?;
        if let Some(n) = self.password_min_length
            && !(6..=128).contains(&n)
        {
            return invalid(format!("password_min_length must be between 6 and 128 (got {n})"));
        }
        if self.password_required_characters.iter().flatten().any(|set| set.is_empty()) {
            return invalid("password_required_characters: a character set is empty".into());
        }
        if let Some(limits) = &self.rate_limits {
            let windows = [limits.per_ip, limits.emails, limits.sms, limits.failed_logins];
            if windows.iter().flatten().any(|l| l.window_secs == 0) {
                return invalid("rate_limits: a window must be at least 1 second".into());
            }
        }
        for (provider, p) in &self.providers {
            if p.client_id.trim().is_empty() || p.client_id.len() > 255 {
                return invalid(format!(
                    "providers.{}.client_id must be 1 to 255 characters",
                    provider.as_str()
                ));
            }
            if p.client_secret.as_ref().is_some_and(|s| s.is_empty() || s.len() > 1024) {
                return invalid(format!(
                    "providers.{}.client_secret must be 1 to 1024 characters",
                    provider.as_str()
                ));
            }
        }
        if let Some(unknown) = self.templates.iter().find(|t| !TEMPLATES.contains(&t.as_str())) {
            return invalid(format!("templates: unknown template {unknown:?}"));
        }
        Ok(())
    }

    /// The effective configuration: these settings over `base`.
    pub(crate) fn apply_to(&self, base: &AuthConfig) -> AuthConfig {
        let mut c = base.clone();
        let secs = Duration::from_secs;
        if let Some(v) = &self.site_url {
            c.site_url.clone_from(v);
        }
        if let Some(v) = self.access_token_lifetime_secs {
            c.access_token_lifetime = secs(v);
        }
        if let Some(v) = self.refresh_token_reuse_interval_secs {
            c.refresh_token_reuse_interval = secs(v);
        }
        if let Some(v) = self.otp_lifetime_secs {
            c.otp_lifetime = secs(v);
        }
        let flags = [
            (self.autoconfirm, &mut c.autoconfirm),
            (self.signup_enabled, &mut c.signup_enabled),
            (self.email_enabled, &mut c.email_enabled),
            (self.phone_enabled, &mut c.phone_enabled),
            (self.anonymous_enabled, &mut c.anonymous_enabled),
            (self.secure_password_change, &mut c.secure_password_change),
        ];
        for (value, field) in flags {
            if let Some(v) = value {
                *field = v;
            }
        }
        if let Some(v) = self.password_min_length {
            c.password.min_length = v;
        }
        if let Some(v) = &self.password_required_characters {
            c.password.required_characters.clone_from(v);
        }
        if let Some(v) = &self.rate_limits {
            c.rate_limits = v.to_limits();
        }
        c
    }

    /// Applies `template`: records it and sets the sign-in switches from the recorded
    /// set; stores a `social-oauth` template's clients.
    fn with_template(&self, template: &Template) -> Result<ProjectSettings> {
        let mut next = self.clone();
        next.templates.insert(template.name().to_owned());
        if let Template::SocialOAuth { google, github } = template {
            if google.is_none() && github.is_none() {
                return Err(AuthError::ValidationFailed(
                    "the social-oauth template needs a Google or GitHub client".into(),
                ));
            }
            for (provider, client) in [(SocialProvider::Google, google), (SocialProvider::Github, github)] {
                if let Some(client) = client {
                    next.providers.insert(
                        provider,
                        ProviderSettings {
                            client_id: client.client_id.clone(),
                            client_secret: Some(client.client_secret.clone()),
                            enabled: true,
                        },
                    );
                }
            }
        }
        let has = |name: &str| next.templates.contains(name);
        next.email_enabled = Some(has("email-password") || has("magic-link"));
        next.phone_enabled = Some(has("phone-otp"));
        next.validate()?;
        Ok(next)
    }
}

/// Every template's name.
const TEMPLATES: [&str; 4] = ["email-password", "magic-link", "social-oauth", "phone-otp"];

/// A project's effective settings, as the flows and routes read them.
pub(crate) struct Effective {
    pub(crate) config: AuthConfig,
    /// The project's own redirect allow-list (`None`: the service's).
    pub(crate) redirect_urls: Option<Vec<String>>,
    /// The project's enabled OAuth providers, by GoTrue name.
    pub(crate) providers: Vec<(String, Arc<dyn Provider>)>,
}

impl std::fmt::Debug for Effective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let providers: Vec<&str> = self.providers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Effective")
            .field("config", &self.config)
            .field("redirect_urls", &self.redirect_urls)
            .field("providers", &providers)
            .finish()
    }
}

impl Effective {
    /// The process defaults only (a project without settings).
    pub(crate) fn defaults(config: &AuthConfig) -> Effective {
        Effective { config: config.clone(), redirect_urls: None, providers: Vec::new() }
    }

    pub(crate) fn build(
        settings: &ProjectSettings,
        secrets: &BTreeMap<SocialProvider, String>,
        base: &AuthConfig,
    ) -> Effective {
        let providers = settings
            .providers
            .iter()
            .filter(|(_, p)| p.enabled)
            .filter_map(|(kind, p)| {
                let secret = secrets.get(kind)?;
                let provider: Arc<dyn Provider> = Arc::new(match kind {
                    SocialProvider::Google => ProviderConfig::google(&p.client_id, secret),
                    SocialProvider::Github => ProviderConfig::github(&p.client_id, secret),
                });
                Some((kind.as_str().to_owned(), provider))
            })
            .collect();
        Effective {
            config: settings.apply_to(base),
            redirect_urls: settings.redirect_urls.clone(),
            providers,
        }
    }
}
