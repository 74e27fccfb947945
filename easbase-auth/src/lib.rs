//! # easbase-auth: Supabase-Auth-compatible auth flows
//!
//! Users, passwords, sessions and rotating refresh tokens for every EasBase project,
//! wire-compatible with Supabase Auth (GoTrue) so `@supabase/auth-js` works unchanged
//! against [`AuthService`], the HTTP routes that serve these flows. The auth tables are an
//! [`easbase_schema::Schema`] that [`AuthModule`] adds to every project through
//! easbase-core's [`Module`](easbase_core::module::Module) trait.
//!
//! ## A tour
//!
//! ```
//! use std::sync::Arc;
//! use easbase_auth::{Auth, AuthConfig, AuthModule, PasswordHashConfig};
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::project::{CreateProject, Platform, PlatformConfig};
//! use easbase_core::schema::Role;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 1. A platform with the auth module: every project gets the auth tables.
//! let db = Db::open_sqlite(SqliteConfig::in_memory())?;
//! let platform =
//!     Platform::open(db, PlatformConfig::new("http://localhost:8080"), vec![Arc::new(AuthModule::default())]).await?;
//! let created = platform.create_project("owner-1", "Shop", CreateProject::default()).await?;
//! let keys = created.keys.expect("keys are shown once");
//!
//! // 2. The auth service (OWASP Argon2id by default; a tiny cost here, for the doctest).
//! let config = AuthConfig {
//!     autoconfirm: true,
//!     password_hash: PasswordHashConfig::insecure_fast_for_tests(),
//!     ..AuthConfig::new("http://localhost:3000")
//! };
//! let auth = Auth::new(config, None)?.project(&platform, &created.project.id).await?;
//!
//! // 3. Sign up and sign in: GoTrue's token response.
//! auth.signup("ada@example.com", "correct horse battery", None).await?;
//! let session = auth.password_grant("ada@example.com", "correct horse battery").await?;
//! assert_eq!(session.token_type, "bearer");
//! assert_eq!(serde_json::to_value(&session)?["user"]["email"], "ada@example.com");
//!
//! // 4. The access token works with easbase-core's request context.
//! let bearer = format!("Bearer {}", session.access_token);
//! let ctx = platform.resolve(Some(&keys.publishable.secret), Some(&bearer), None).await?;
//! assert_eq!(ctx.role(), Role::Authenticated);
//! assert_eq!(ctx.uid(), Some(session.user.id.as_str()));
//! assert_eq!(auth.get_user(&ctx).await?.email, "ada@example.com");
//!
//! // 5. Refresh rotates the refresh token; sign-out ends the session.
//! let next = auth.refresh(&session.refresh_token).await?;
//! assert_ne!(next.refresh_token, session.refresh_token);
//! auth.logout(&ctx, easbase_auth::LogoutScope::Local).await?;
//! assert!(auth.refresh(&next.refresh_token).await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! ## What is where
//!
//! | module | what |
//! |---|---|
//! | [`AuthModule`] | the tables (`auth_users`, `auth_identities`, `auth_sessions`, `auth_refresh_tokens`, `auth_one_time_tokens`, `auth_flow_state`, …; the list is [`AuthModule::TABLES`]) |
//! | [`Auth`], [`ProjectAuth`] | the service and one project's handle; the flows are [`ProjectAuth`]'s methods |
//! | [`flows`] | one file per flow (sign-up, password, [`flows::refresh`], logout, recovery, [`flows::verify`], passwordless and phone (`otp.rs`), [`flows::pkce`], [`flows::admin`], anonymous, user, [`flows::reauthenticate`]) |
//! | [`flows::mfa`], [`Factor`] | TOTP MFA: enroll (secret, `otpauth://` URI, QR code as SVG), challenge, verify (the session becomes `aal2`, its `amr` gains `totp`; a used time step is refused), unenroll; single-use recovery codes |
//! | [`keys`] | asymmetric signing keys by `kid` (ES256 generated; RS256 / EdDSA imported), rotation (standby → current → previous → retired), the JWKS; HS256 stays the default |
//! | [`oauth`], [`flows::oauth`] | OAuth 2 / OIDC sign-in: the [`Provider`](oauth::Provider) trait, Google / GitHub / OIDC [`ProviderConfig`](oauth::ProviderConfig)s, the host-replaceable [`HttpClient`](oauth::HttpClient) |
//! | [`mail`] | the [`Mailer`](mail::Mailer) trait, [`SmtpMailer`](mail::SmtpMailer) (lettre), [`MemoryMailer`](mail::MemoryMailer), per-project [`EmailTemplates`](mail::EmailTemplates) |
//! | [`SmsSender`], [`MemorySms`] | phone codes, and [`normalize_phone`] (E.164) |
//! | [`RateLimits`], [`ClientIp`] | per-IP, per-recipient and per-project limits over easbase-core's `CounterStore` |
//! | [`AuthConfig`] | the process-wide defaults: token lifetimes, auto-confirmation, sign-up switches, password rules, secure password change, Argon2 cost |
//! | [`settings`] | per-project [`ProjectSettings`](settings::ProjectSettings) over [`AuthConfig`] (site URL, redirect allow-list, lifetimes, switches, password rules, rate limits, Google / GitHub clients), stored in the platform table `auth_project_settings`, cached; the templates ([`settings::Template`]: `email-password`, `magic-link`, `social-oauth`, `phone-otp`) and [`Auth::provision`] |
//! | [`jwt`] | access-token claims and the [`CustomClaimsHook`] |
//! | [`Session`], [`User`] | GoTrue's token response and user object, serialized as auth-js expects |
//! | [`AuthError`] | GoTrue's error codes and HTTP statuses |
//! | [`AuthService`] | the GoTrue routes (`/signup`, `/token`, `/user`, `/reauthenticate`, `/verify`, `/factors…`, `/authorize`, `/callback`, `/settings`, `/.well-known/jwks.json`, …) as a tower service, mounted at `/auth/v1`; every route follows the project's effective settings; every request of a known project is metered (route, status, auth events by [`auth_event`]) and logged without secrets through the platform's sinks |
//!
//! ## Secrets (DESIGN.md, invariant 3)
//!
//! - Passwords: Argon2id (m = 19 MiB, t = 2, p = 1), hashed and verified on tokio's
//!   blocking pool with a bound on concurrent hashes; imported bcrypt hashes verify and
//!   are rehashed on login; unknown users cost one dummy verification.
//! - Refresh tokens and one-time tokens: 256-bit random, stored as SHA-256 hashes only;
//!   the short codes sent with one-time tokens are stored as HMACs keyed by the project
//!   secret, expire with their token, and a few wrong tries void them; PKCE auth codes
//!   are stored as SHA-256.
//! - Emails and SMS carry secrets: [`mail::EmailMessage`] and [`SmsMessage`] hide their
//!   bodies from `Debug`; rate-limit counters hold hashes of addresses, not addresses.
//! - TOTP secrets must stay readable, so they are stored sealed with a pad derived from
//!   the project secret and the factor id; MFA recovery codes (80 bits) are stored as
//!   SHA-256; OAuth `state` values as SHA-256, and the PKCE verifier sent to a provider
//!   is derived from the state with the project secret, never stored. Asymmetric private
//!   keys are stored as the project's HS256 secret is (platform table), never shown.
//! - OAuth client secrets in project settings are sealed (HMAC-SHA256 keystream and tag
//!   keyed by the project's JWT secret, a random nonce each) and write-only: settings read
//!   back never carry them, and `Debug` hides them.
//! - Tokens are never logged; [`Session`] and [`OneTimeToken`] hide them from `Debug`.
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | easbase-core's SQLite engine |
//! | `postgres` | no | easbase-core's PostgreSQL engine |
//! | `mysql` | no | easbase-core's MySQL 8 / MariaDB 10.11 engine (every flow works there too: tokens are consumed once by `SELECT … FOR UPDATE` and `DELETE` in one transaction, as MySQL has no `DELETE … RETURNING`) |
//! | `http-client` | no | `oauth::HyperClient`, a plain-HTTP client for OAuth providers over hyper (give your own [`oauth::HttpClient`] for `https://`) |
//! | `smtp-rustls` | no | STARTTLS and implicit TLS for [`SmtpMailer`](mail::SmtpMailer) (rustls, webpki roots); without it, plain SMTP to a local relay |

#![forbid(unsafe_code)]

mod auth;
mod config;
mod error;
pub mod flows;
pub mod jwt;
pub mod keys;
mod limits;
pub mod mail;
mod model;
mod module;
pub mod oauth;
mod password;
mod routes;
mod secret;
mod service;
pub mod settings;
mod sms;
mod store;
mod time;
mod totp;

pub use auth::{Auth, LogoutScope, ProjectAuth, SignupOutcome, UserUpdate, UserUpdateOutcome};
pub use config::MfaConfig;
pub use config::{AuthConfig, PasswordHashConfig, PasswordRules};
pub use error::{AuthError, Result, WeakPasswordReason};
pub use flows::mfa::{
    EnrollFactor, EnrolledFactor, FactorChallenge, RecoveryCodes, RecoveryCodesStatus, TotpEnrollment,
};
pub use jwt::{ClaimsHookInput, CustomClaimsHook, PROTECTED_CLAIMS};
pub use model::Factor;
pub use model::{AmrEntry, AuthMethod, Identity, OneTimeToken, Session, TokenKind, User};
pub use module::AuthModule;
pub use service::{AuthService, AuthServiceConfig, TokenOutbox, VerifyGetMode, auth_event};
pub use time::rfc3339;

pub use flows::one_time::OtpSecret;
pub use flows::otp::ResendType;
pub use flows::pkce::PkceChallenge;
pub use flows::verify::{Verified, VerifyType};
pub use limits::{ClientIp, Limit, ProjectRateLimits, RateLimits};
pub use sms::{MemorySms, SmsMessage, SmsSender, SmsSettings, normalize_phone};

pub use easbase_schema as schema;
