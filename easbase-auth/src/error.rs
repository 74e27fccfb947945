//! [`AuthError`]: the crate's one error enum. Each variant carries GoTrue's (Supabase
//! Auth's) stable error code ([`AuthError::code`]) and the HTTP status GoTrue answers with
//! ([`AuthError::status`]), so the routes of a later step render them 1:1. Messages are
//! GoTrue's where auth-js or users read them, and never carry a secret (a password, a
//! token, a hash).

use serde::Serialize;

/// Why a password was refused ([`AuthError::WeakPassword`]), as GoTrue names the reasons
/// in `weak_password.reasons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum WeakPasswordReason {
    /// Shorter than the configured minimum.
    Length,
    /// Misses a required character class.
    Characters,
}

/// Everything an auth flow can refuse or fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong password or unknown email: one error for both, so accounts cannot be probed.
    #[error("Invalid login credentials")]
    InvalidCredentials,
    /// Sign-up with an address that is already registered (with auto-confirmation on).
    #[error("User already registered")]
    UserAlreadyExists,
    /// An email change to an address another user has.
    #[error("A user with this email address has already been registered")]
    EmailExists,
    /// The password breaks the configured rules.
    #[error("{message}")]
    WeakPassword {
        /// GoTrue's message (e.g. "Password should be at least 6 characters.").
        message: String,
        /// Which rules it broke.
        reasons: Vec<WeakPasswordReason>,
    },
    /// The new password equals the current one.
    #[error("New password should be different from the old password.")]
    SamePassword,
    /// Sign-ups are turned off for the project.
    #[error("Signups not allowed for this instance")]
    SignupDisabled,
    /// Email sign-ups and logins are turned off for the project.
    #[error("Email logins are disabled")]
    EmailProviderDisabled,
    /// Anonymous sign-ins are turned off (the default, as in GoTrue).
    #[error("Anonymous sign-ins are disabled")]
    AnonymousProviderDisabled,
    /// The address has not been confirmed yet.
    #[error("Email not confirmed")]
    EmailNotConfirmed,
    /// The user is banned until a later time.
    #[error("User is banned")]
    UserBanned,
    /// No such refresh token (never issued, or its session is gone).
    #[error("Invalid Refresh Token: Refresh Token Not Found")]
    RefreshTokenNotFound,
    /// A rotated refresh token was used again after the reuse interval: the session has
    /// been revoked.
    #[error("Invalid Refresh Token: Already Used")]
    RefreshTokenAlreadyUsed,
    /// The session has passed its time box or inactivity timeout.
    #[error("Invalid Refresh Token: Session Expired")]
    SessionExpired,
    /// The session named by the access token's `session_id` no longer exists.
    #[error("Session from session_id claim in JWT does not exist")]
    SessionNotFound,
    /// The user named by the access token's `sub` no longer exists.
    #[error("User from sub claim in JWT does not exist")]
    UserNotFound,
    /// The access token cannot be used here (wrong project, not a user's token, missing
    /// claims). The detail names which, never the token.
    #[error("invalid JWT: {0}")]
    BadJwt(String),
    /// A confirmation, recovery or email-change token is unknown, used or expired.
    #[error("Token has expired or is invalid")]
    OtpExpired,
    /// Malformed input (an email address, an empty token, an over-long value); the
    /// message says what, never echoing a secret.
    #[error("{0}")]
    ValidationFailed(String),
    /// Too many requests (rate limits come in a later step).
    #[error("Request rate limit reached")]
    OverRequestRateLimit,
    /// Too many messages to one recipient, or from the project, by email.
    #[error("{0}")]
    OverEmailSendRateLimit(String),
    /// Too many messages to one recipient, or from the project, by SMS.
    #[error("{0}")]
    OverSmsSendRateLimit(String),
    /// No PKCE flow state has this auth code (never issued, already exchanged).
    #[error("invalid flow state, no valid flow state found")]
    FlowStateNotFound,
    /// The PKCE flow state is too old to be exchanged.
    #[error("invalid flow state, flow state has expired")]
    FlowStateExpired,
    /// The `code_verifier` does not match the flow's `code_challenge`.
    #[error("code challenge does not match previously saved code verifier")]
    BadCodeVerifier,
    /// A password change needs a reauthentication code (`nonce`) first: secure password
    /// change is on and the session signed in more than 24 hours ago.
    #[error("Password update requires reauthentication")]
    ReauthenticationNeeded,
    /// The reauthentication code (`nonce`) is wrong, used or expired.
    #[error("Requires reauthentication")]
    ReauthenticationNotValid,
    /// Phone sign-ups and sign-ins are turned off (or no SMS sender is set).
    #[error("Phone logins are disabled")]
    PhoneProviderDisabled,
    /// The phone number has not been confirmed yet.
    #[error("Phone not confirmed")]
    PhoneNotConfirmed,
    /// A phone number another user has.
    #[error("A user with this phone number has already been registered")]
    PhoneExists,
    /// No MFA factor with this id belongs to the user (or no recovery codes exist).
    #[error("Factor not found")]
    MfaFactorNotFound,
    /// No challenge with this id exists for the factor.
    #[error("MFA factor with the provided challenge ID not found")]
    MfaChallengeNotFound,
    /// The user already has a factor with this friendly name.
    #[error("A factor with the friendly name \"{0}\" for this user already exists")]
    MfaFactorNameConflict(String),
    /// The user has as many factors as allowed.
    #[error("Maximum number of verified factors reached, unenroll to continue")]
    TooManyEnrolledMfaFactors,
    /// Enrolling this factor type is turned off; the code names the type
    /// (`mfa_totp_enroll_not_enabled`, `mfa_phone_enroll_not_enabled`, …).
    #[error("MFA enroll is disabled for this factor type")]
    MfaEnrollDisabled(&'static str),
    /// The session must be at `aal2` for this (GoTrue answers 403 or 422 by route).
    #[error("{message}")]
    InsufficientAal {
        /// The HTTP status.
        status: u16,
        /// What needed `aal2`.
        message: &'static str,
    },
    /// The challenge has expired; create a new one.
    #[error("MFA challenge {0} has expired, verify against another challenge or create a new challenge.")]
    MfaChallengeExpired(String),
    /// The challenge was created from another IP address, or is already verified.
    #[error("Challenge and verify IP addresses mismatch.")]
    MfaIpAddressMismatch,
    /// A wrong code, or a TOTP code of a time step already used, or a used recovery code.
    #[error("{0}")]
    MfaVerificationFailed(&'static str),
    /// Recovery codes cannot be the user's only second factor.
    #[error(
        "Recovery codes cannot be the only verified factor. Enroll another factor or delete your recovery codes."
    )]
    MfaRecoveryCodesSoleFactor,
    /// Recovery codes exist already (regenerate them instead).
    #[error("Recovery codes already exist, regenerate them to replace them")]
    MfaVerifiedFactorExists,
    /// The provider account is already linked to another user.
    #[error("Identity is already linked to another user")]
    IdentityAlreadyExists,
    /// The OAuth provider is unknown or not configured for the project.
    #[error("Unsupported provider: {0}")]
    ProviderDisabled(String),
    /// The OAuth `state` is missing, unknown, already used or expired.
    #[error("OAuth state is invalid or has expired")]
    BadOAuthState,
    /// The provider's callback is malformed or carries the provider's error.
    #[error("{0}")]
    BadOAuthCallback(String),
    /// The provider could not be reached or answered badly (the detail names the step,
    /// never a token).
    #[error("Error from the external provider: {0}")]
    OAuthProvider(String),
    /// The custom-claims hook refused to issue a token.
    #[error("the custom access token hook failed: {0}")]
    Hook(String),
    /// The database or another part of the platform failed.
    #[error(transparent)]
    Core(easbase_core::Error),
    /// An internal failure (a task panicked, a token could not be signed).
    #[error("unexpected failure: {0}")]
    Internal(String),
}

impl AuthError {
    /// GoTrue's error code (`error_code` in its responses).
    ///
    /// ```
    /// use easbase_auth::AuthError;
    /// assert_eq!(AuthError::InvalidCredentials.code(), "invalid_credentials");
    /// assert_eq!(AuthError::InvalidCredentials.status(), 400);
    /// assert_eq!(AuthError::UserAlreadyExists.status(), 422);
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::UserAlreadyExists => "user_already_exists",
            AuthError::EmailExists => "email_exists",
            AuthError::WeakPassword { .. } => "weak_password",
            AuthError::SamePassword => "same_password",
            AuthError::SignupDisabled => "signup_disabled",
            AuthError::EmailProviderDisabled => "email_provider_disabled",
            AuthError::AnonymousProviderDisabled => "anonymous_provider_disabled",
            AuthError::EmailNotConfirmed => "email_not_confirmed",
            AuthError::UserBanned => "user_banned",
            AuthError::RefreshTokenNotFound => "refresh_token_not_found",
            AuthError::RefreshTokenAlreadyUsed => "refresh_token_already_used",
            AuthError::SessionExpired => "session_expired",
            AuthError::SessionNotFound => "session_not_found",
            AuthError::UserNotFound => "user_not_found",
            AuthError::BadJwt(_) => "bad_jwt",
            AuthError::OtpExpired => "otp_expired",
            AuthError::ReauthenticationNeeded => "reauthentication_needed",
            AuthError::ReauthenticationNotValid => "reauthentication_not_valid",
            AuthError::ValidationFailed(_) => "validation_failed",
            AuthError::OverRequestRateLimit => "over_request_rate_limit",
            AuthError::OverEmailSendRateLimit(_) => "over_email_send_rate_limit",
            AuthError::OverSmsSendRateLimit(_) => "over_sms_send_rate_limit",
            AuthError::FlowStateNotFound => "flow_state_not_found",
            AuthError::FlowStateExpired => "flow_state_expired",
            AuthError::BadCodeVerifier => "bad_code_verifier",
            AuthError::PhoneProviderDisabled => "phone_provider_disabled",
            AuthError::PhoneExists => "phone_exists",
            AuthError::PhoneNotConfirmed => "phone_not_confirmed",
            AuthError::MfaFactorNotFound | AuthError::MfaChallengeNotFound => "mfa_factor_not_found",
            AuthError::MfaFactorNameConflict(_) => "mfa_factor_name_conflict",
            AuthError::TooManyEnrolledMfaFactors => "too_many_enrolled_mfa_factors",
            AuthError::MfaEnrollDisabled(code) => code,
            AuthError::InsufficientAal { .. } => "insufficient_aal",
            AuthError::MfaChallengeExpired(_) => "mfa_challenge_expired",
            AuthError::MfaIpAddressMismatch => "mfa_ip_address_mismatch",
            AuthError::MfaVerificationFailed(_) => "mfa_verification_failed",
            AuthError::MfaRecoveryCodesSoleFactor => "mfa_recovery_codes_sole_factor",
            AuthError::MfaVerifiedFactorExists => "mfa_verified_factor_exists",
            AuthError::IdentityAlreadyExists => "identity_already_exists",
            AuthError::ProviderDisabled(_) => "provider_disabled",
            AuthError::BadOAuthState => "bad_oauth_state",
            AuthError::BadOAuthCallback(_) => "bad_oauth_callback",
            AuthError::OAuthProvider(_) => "unexpected_failure",
            AuthError::Hook(_) | AuthError::Core(_) | AuthError::Internal(_) => "unexpected_failure",
        }
    }

    /// The HTTP status GoTrue answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::InvalidCredentials
            | AuthError::EmailNotConfirmed
            | AuthError::UserBanned
            | AuthError::RefreshTokenNotFound
            | AuthError::RefreshTokenAlreadyUsed
            | AuthError::SessionExpired
            | AuthError::ValidationFailed(_) => 400,
            AuthError::SessionNotFound
            | AuthError::UserNotFound
            | AuthError::BadJwt(_)
            | AuthError::OtpExpired => 403,
            AuthError::UserAlreadyExists
            | AuthError::EmailExists
            | AuthError::WeakPassword { .. }
            | AuthError::SamePassword
            | AuthError::SignupDisabled
            | AuthError::EmailProviderDisabled
            | AuthError::AnonymousProviderDisabled => 422,
            AuthError::OverRequestRateLimit
            | AuthError::OverEmailSendRateLimit(_)
            | AuthError::OverSmsSendRateLimit(_) => 429,
            AuthError::FlowStateNotFound => 404,
            AuthError::FlowStateExpired | AuthError::PhoneProviderDisabled | AuthError::PhoneExists => 422,
            AuthError::BadCodeVerifier | AuthError::PhoneNotConfirmed => 400,
            AuthError::ReauthenticationNeeded => 400,
            AuthError::ReauthenticationNotValid => 422,
            AuthError::MfaFactorNotFound => 404,
            AuthError::MfaChallengeNotFound
            | AuthError::MfaFactorNameConflict(_)
            | AuthError::TooManyEnrolledMfaFactors
            | AuthError::MfaEnrollDisabled(_)
            | AuthError::MfaChallengeExpired(_)
            | AuthError::MfaIpAddressMismatch
            | AuthError::MfaVerificationFailed(_)
            | AuthError::MfaRecoveryCodesSoleFactor
            | AuthError::MfaVerifiedFactorExists => 422,
            AuthError::InsufficientAal { status, .. } => *status,
            AuthError::IdentityAlreadyExists => 422,
            AuthError::ProviderDisabled(_) | AuthError::BadOAuthState | AuthError::BadOAuthCallback(_) => 400,
            AuthError::OAuthProvider(_) => 502,
            AuthError::Core(e) => match e {
                easbase_core::Error::Unavailable(_) => 503,
                _ => 500,
            },
            AuthError::Hook(_) | AuthError::Internal(_) => 500,
        }
    }
}

impl From<easbase_core::Error> for AuthError {
    fn from(e: easbase_core::Error) -> Self {
        match e {
            easbase_core::Error::InvalidToken(detail) => AuthError::BadJwt(detail),
            easbase_core::Error::ExpiredToken => AuthError::BadJwt("token has expired".into()),
            other => AuthError::Core(other),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;
