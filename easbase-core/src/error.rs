//! The crate's one error enum. Every variant has a stable, machine-readable
//! [`Error::code`] that the HTTP layers map to statuses; messages never carry secrets.

/// Everything that can go wrong in easbase-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- database ------------------------------------------------------------------
    /// The database refused a statement. `sqlstate` is the five-character SQLSTATE (or the
    /// engine's extended code) when known.
    #[error("database error: {message}")]
    Database {
        /// SQLSTATE or engine code.
        sqlstate: Option<String>,
        /// The engine's message (never contains bound values).
        message: String,
    },
    /// The database cannot be reached or the pool is closed.
    #[error("database unavailable: {0}")]
    Unavailable(String),

    // ---- keys and request context ----------------------------------------------------
    /// Neither an `apikey` header nor a bearer token was given.
    #[error("no API key or token in the request")]
    MissingCredentials,
    /// A user token came without an API key: the key names the project, so it is required.
    #[error("no API key in the request: a token alone does not name the project")]
    MissingApiKey,
    /// The API key is malformed, unknown, revoked, or past its grace period.
    #[error("invalid API key")]
    InvalidApiKey,
    /// The project's keys are refused while it is paused.
    #[error("the project is paused")]
    ProjectPaused,
    /// The token cannot be used: malformed, bad signature, wrong algorithm, unknown `kid`,
    /// wrong audience or issuer. The detail names which, never the token.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The token's `exp` has passed.
    #[error("the token has expired")]
    ExpiredToken,
    /// The token's `nbf` is in the future.
    #[error("the token is not valid yet")]
    TokenNotYetValid,

    // ---- projects ------------------------------------------------------------------
    /// No project with that id or slug.
    #[error("project not found: {0}")]
    ProjectNotFound(String),
    /// A project name or slug breaks the rules.
    #[error("invalid project name: {0}")]
    InvalidName(String),
    /// The request would exceed a plan's quota.
    #[error("quota exceeded: {what} (limit {limit})")]
    QuotaExceeded {
        /// What is limited (`projects per owner`, `requests per minute`, …).
        what: String,
        /// The limit.
        limit: u64,
    },
    /// The project's plan allows no more requests this minute
    /// ([`Plan::requests_per_minute`](crate::project::Plan::requests_per_minute)): the
    /// HTTP layers answer 429 with `Retry-After: retry_after_secs`.
    #[error("rate limit exceeded: {limit} requests per minute; retry after {retry_after_secs} s")]
    RateLimited {
        /// The plan's requests per minute.
        limit: u64,
        /// Seconds until the current window ends and requests are admitted again (1–60).
        retry_after_secs: u64,
    },
    /// Provisioning a project failed; nothing half-made is left.
    #[error("provisioning failed: {0}")]
    Provisioning(String),
    /// A guarded operation (deleting a project) was called without its confirmation.
    #[error("refused: {0}")]
    Guard(String),

    // ---- other ---------------------------------------------------------------------
    /// The schema compiler refused a schema or a migration.
    #[error(transparent)]
    Schema(#[from] easbase_schema::Error),
    /// A configuration value is wrong.
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// A stable code for this error, for logs and for the HTTP layers.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Database { .. } => "database",
            Error::Unavailable(_) => "unavailable",
            Error::MissingCredentials => "missing_credentials",
            Error::MissingApiKey => "missing_api_key",
            Error::InvalidApiKey => "invalid_api_key",
            Error::ProjectPaused => "project_paused",
            Error::InvalidToken(_) => "invalid_token",
            Error::ExpiredToken => "expired_token",
            Error::TokenNotYetValid => "token_not_yet_valid",
            Error::ProjectNotFound(_) => "project_not_found",
            Error::InvalidName(_) => "invalid_name",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::RateLimited { .. } => "rate_limited",
            Error::Provisioning(_) => "provisioning",
            Error::Guard(_) => "guard",
            Error::Schema(e) => e.code(),
            Error::Config(_) => "config",
        }
    }

    /// How many seconds to wait before retrying, for errors that say so
    /// ([`Error::RateLimited`]): what a `Retry-After` header carries.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after_secs, .. } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The SQLSTATE of a database error, if any.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Database { sqlstate, .. } => sqlstate.as_deref(),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
