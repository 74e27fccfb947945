//! [`AuthConfig`]: what a project's auth allows and how long things live. Defaults follow
//! GoTrue's (Supabase Auth's) where auth-js or users notice them.

use std::time::Duration;

/// A project's auth settings.
///
/// ```
/// use std::time::Duration;
/// use easbase_auth::AuthConfig;
///
/// let config = AuthConfig { autoconfirm: true, ..AuthConfig::new("https://app.example.com") };
/// assert_eq!(config.access_token_lifetime, Duration::from_secs(3600));
/// assert_eq!(config.password.min_length, 6);
/// ```
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The front end's URL (where confirmation and recovery links lead; used by the mailer
    /// step).
    pub site_url: String,
    /// The `iss` claim of access tokens. `None`: `{api_url}/auth/v1` of the project when
    /// the handle comes from [`Auth::project`](crate::Auth::project), else no `iss`.
    pub jwt_issuer: Option<String>,
    /// The `kid` header of access tokens. `None` (the default): no `kid`, which is what
    /// easbase-core's verifier of the project's HS256 secret expects.
    pub jwt_kid: Option<String>,
    /// How long an access token lives (`expires_in`; default 3600 s, GoTrue's `JWT_EXP`).
    pub access_token_lifetime: Duration,
    /// How long a rotated refresh token may still be presented (by a client that refreshed
    /// concurrently or lost the response) and get the session's current token back,
    /// instead of revoking the session (default 10 s, GoTrue's
    /// `REFRESH_TOKEN_REUSE_INTERVAL`).
    pub refresh_token_reuse_interval: Duration,
    /// A session ends this long after sign-in, whatever its use (`None`: never; GoTrue's
    /// `SESSIONS_TIMEBOX`).
    pub session_timebox: Option<Duration>,
    /// A session ends when not refreshed for this long (`None`: never; GoTrue's
    /// `SESSIONS_INACTIVITY_TIMEOUT`).
    pub session_inactivity_timeout: Option<Duration>,
    /// Sign-ups are confirmed at once and get a session (default `false`: a confirmation
    /// token is issued for the mailer).
    pub autoconfirm: bool,
    /// New users may sign up (default `true`).
    pub signup_enabled: bool,
    /// Email + password sign-up and login are on (default `true`).
    pub email_enabled: bool,
    /// Anonymous sign-ins are on (default `false`, as in GoTrue).
    pub anonymous_enabled: bool,
    /// A password change (`PUT /user`) from a session signed in more than 24 hours ago
    /// needs a reauthentication code as `nonce` (default `false`; GoTrue's
    /// `SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION`; see
    /// [`crate::flows::reauthenticate`]).
    pub secure_password_change: bool,
    /// What a password must satisfy.
    pub password: PasswordRules,
    /// How long confirmation, recovery and email-change tokens stay valid (default 3600 s).
    pub otp_lifetime: Duration,
    /// How passwords are hashed (Argon2id at OWASP's parameters by default).
    pub password_hash: PasswordHashConfig,
    /// Phone sign-up and sign-in with SMS codes are on (default `false`, as GoTrue's
    /// `EXTERNAL_PHONE_ENABLED`; the service also needs an SMS sender).
    pub phone_enabled: bool,
    /// Digits of the one-time codes sent by email and SMS (6 to 10; default 6).
    pub otp_length: usize,
    /// Wrong codes accepted for one recipient's live tokens before they are voided
    /// (default 5).
    pub otp_max_attempts: u32,
    /// Rate limits of the routes that send messages or check secrets.
    pub rate_limits: crate::limits::RateLimits,
    /// Multi-factor authentication (TOTP) settings.
    pub mfa: MfaConfig,
    /// How long a project's settings ([`crate::settings`]) and the parts
    /// [`Auth::project`](crate::Auth::project) reads (API URL, JWT secret, current
    /// signing key) are cached (default 5 s): changes made by another process (or, for
    /// settings, another [`Auth`](crate::Auth)) take effect within it; `Duration::ZERO`
    /// reads them on every request.
    pub settings_cache_ttl: Duration,
}

/// MFA settings (GoTrue's `MFA_*`).
#[derive(Debug, Clone)]
pub struct MfaConfig {
    /// TOTP factors may be enrolled and verified (default `true`).
    pub totp_enabled: bool,
    /// Factors (verified or not) one user may have (default 10).
    pub max_enrolled_factors: usize,
    /// Verified factors one user may have (default 10).
    pub max_verified_factors: usize,
    /// How long a challenge can be verified (default 300 s).
    pub challenge_expiry: Duration,
    /// Codes one factor may be tried with per minute (default 5; then 429
    /// `over_request_rate_limit` until the minute ends: a guesser is slowed to a crawl, the
    /// user is never locked out for longer).
    pub verify_attempts_per_minute: u32,
}

impl Default for MfaConfig {
    fn default() -> MfaConfig {
        MfaConfig {
            totp_enabled: true,
            max_enrolled_factors: 10,
            max_verified_factors: 10,
            challenge_expiry: Duration::from_secs(300),
            verify_attempts_per_minute: 5,
        }
    }
}

impl AuthConfig {
    /// Defaults with a site URL.
    pub fn new(site_url: impl Into<String>) -> AuthConfig {
        AuthConfig {
            site_url: site_url.into(),
            jwt_issuer: None,
            jwt_kid: None,
            access_token_lifetime: Duration::from_secs(3600),
            refresh_token_reuse_interval: Duration::from_secs(10),
            session_timebox: None,
            session_inactivity_timeout: None,
            autoconfirm: false,
            signup_enabled: true,
            email_enabled: true,
            anonymous_enabled: false,
            secure_password_change: false,
            password: PasswordRules::default(),
            otp_lifetime: Duration::from_secs(3600),
            password_hash: PasswordHashConfig::default(),
            phone_enabled: false,
            otp_length: 6,
            otp_max_attempts: 5,
            rate_limits: crate::limits::RateLimits::default(),
            mfa: MfaConfig::default(),
            settings_cache_ttl: Duration::from_secs(5),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig::new("http://localhost:3000")
    }
}

/// Password rules (GoTrue's `PASSWORD_MIN_LENGTH` and `PASSWORD_REQUIRED_CHARACTERS`).
#[derive(Debug, Clone)]
pub struct PasswordRules {
    /// The fewest characters (default 6).
    pub min_length: usize,
    /// Character sets of which the password must contain at least one character each,
    /// e.g. `["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"]`.
    pub required_characters: Vec<String>,
    /// The most bytes accepted (default 1024; longer input is a validation error, not
    /// hashed).
    pub max_bytes: usize,
}

impl Default for PasswordRules {
    fn default() -> PasswordRules {
        PasswordRules { min_length: 6, required_characters: Vec::new(), max_bytes: 1024 }
    }
}

/// Argon2id parameters and the bound on concurrent hashes.
///
/// Every hash takes `memory_kib` of memory and a core for its duration, so at most
/// `max_concurrent` run at once (on tokio's blocking pool); others wait for a permit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHashConfig {
    /// Memory cost in KiB (OWASP: 19456 = 19 MiB).
    pub memory_kib: u32,
    /// Iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// Hashes running at once (default: the available cores).
    pub max_concurrent: usize,
}

impl PasswordHashConfig {
    /// OWASP's Argon2id recommendation: m = 19 MiB, t = 2, p = 1.
    pub fn owasp() -> PasswordHashConfig {
        PasswordHashConfig {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        }
    }

    /// A tiny cost (m = 64 KiB, t = 1) so test suites stay fast. **Never in production**:
    /// such hashes are cheap to brute-force. Hashes made with it still verify (and are
    /// rehashed) under [`PasswordHashConfig::owasp`], since the parameters are in the hash.
    pub fn insecure_fast_for_tests() -> PasswordHashConfig {
        PasswordHashConfig { memory_kib: 64, iterations: 1, ..PasswordHashConfig::owasp() }
    }
}

impl Default for PasswordHashConfig {
    fn default() -> PasswordHashConfig {
        PasswordHashConfig::owasp()
    }
}
