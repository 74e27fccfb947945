//! The values flows return, serialized exactly as GoTrue (Supabase Auth) sends them, so
//! auth-js reads them unchanged: [`Session`] is the body of `POST /token`, [`User`] the
//! body of `GET /user`. Timestamps are RFC 3339 text in UTC.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a session was authenticated: an entry of the `amr` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Email (or phone) and password.
    Password,
    /// Email confirmation link after sign-up.
    EmailSignup,
    /// Password recovery link.
    Recovery,
    /// Email change confirmation.
    EmailChange,
    /// Magic link.
    MagicLink,
    /// A one-time code.
    Otp,
    /// Anonymous sign-in.
    Anonymous,
    /// An accepted invitation.
    Invite,
    /// A TOTP code of an MFA factor (the second factor of an `aal2` session).
    Totp,
    /// An MFA recovery code (instead of a TOTP code).
    MfaRecoveryCode,
    /// An external OAuth / OIDC provider.
    OAuth,
}

impl AuthMethod {
    /// GoTrue's name of the method (`password`, `email/signup`, `recovery`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::EmailSignup => "email/signup",
            AuthMethod::Recovery => "recovery",
            AuthMethod::EmailChange => "email_change",
            AuthMethod::MagicLink => "magiclink",
            AuthMethod::Otp => "otp",
            AuthMethod::Anonymous => "anonymous",
            AuthMethod::Invite => "invite",
            AuthMethod::Totp => "totp",
            AuthMethod::MfaRecoveryCode => "mfa/recovery_code",
            AuthMethod::OAuth => "oauth",
        }
    }

    /// The method named `name` ([`AuthMethod::as_str`]'s inverse), as a PKCE flow state
    /// stores it.
    ///
    /// ```
    /// use easbase_auth::AuthMethod;
    /// assert_eq!(AuthMethod::from_name("magiclink"), Some(AuthMethod::MagicLink));
    /// assert_eq!(AuthMethod::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<AuthMethod> {
        Some(match name {
            "password" => AuthMethod::Password,
            "email/signup" => AuthMethod::EmailSignup,
            "recovery" => AuthMethod::Recovery,
            "email_change" => AuthMethod::EmailChange,
            "magiclink" => AuthMethod::MagicLink,
            "otp" => AuthMethod::Otp,
            "anonymous" => AuthMethod::Anonymous,
            "invite" => AuthMethod::Invite,
            "totp" => AuthMethod::Totp,
            "mfa/recovery_code" => AuthMethod::MfaRecoveryCode,
            "oauth" => AuthMethod::OAuth,
            _ => return None,
        })
    }
}

/// One entry of the `amr` claim: `{"method": "password", "timestamp": 1714564800}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmrEntry {
    /// The method's name ([`AuthMethod::as_str`]).
    pub method: String,
    /// When it was used, in Unix seconds.
    pub timestamp: i64,
}

/// A user as GoTrue shows it (`GET /user`, the `user` of a token response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user id (a UUID).
    pub id: String,
    /// The audience, `authenticated`.
    pub aud: String,
    /// The role, `authenticated`.
    pub role: String,
    /// The email address, `""` when none (anonymous users).
    pub email: String,
    /// When the email address was confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_confirmed_at: Option<String>,
    /// The phone number, `""` when none.
    pub phone: String,
    /// When the phone number was confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_confirmed_at: Option<String>,
    /// When the last confirmation message was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_sent_at: Option<String>,
    /// The earlier of the email and phone confirmation times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
    /// When the last recovery message was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_sent_at: Option<String>,
    /// The address an email change waits to confirm.
    #[serde(rename = "new_email", default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// When the user last signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<String>,
    /// Metadata only the server sets: `{"provider": "email", "providers": ["email"]}`.
    pub app_metadata: Map<String, Value>,
    /// Metadata the user sets.
    pub user_metadata: Map<String, Value>,
    /// The user's identities (one per provider account).
    pub identities: Vec<Identity>,
    /// When the user was created.
    pub created_at: String,
    /// When the user was last changed.
    pub updated_at: String,
    /// Banned until this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned_until: Option<String>,
    /// Whether the user signed in anonymously.
    pub is_anonymous: bool,
    /// The user's MFA factors (absent when none, as GoTrue sends it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factors: Vec<Factor>,
}

/// An MFA factor as GoTrue shows it (`user.factors`, auth-js `mfa.listFactors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    /// The factor id (a UUID).
    pub id: String,
    /// The name the user gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// `totp`.
    pub factor_type: String,
    /// `unverified` until a first code was accepted, then `verified`.
    pub status: String,
    /// When it was enrolled.
    pub created_at: String,
    /// When it was last changed.
    pub updated_at: String,
}

/// One provider account of a user, as GoTrue shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The identity's own id.
    pub identity_id: String,
    /// The user's id at the provider (the user id for `email`).
    pub id: String,
    /// The user.
    pub user_id: String,
    /// What the provider says about the user (`sub`, `email`, `email_verified`, …).
    pub identity_data: Map<String, Value>,
    /// The provider (`email`, `google`, …).
    pub provider: String,
    /// When the user last signed in with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<String>,
    /// When it was linked.
    pub created_at: String,
    /// When it was last changed.
    pub updated_at: String,
    /// Its email address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A signed-in session: GoTrue's token response (`POST /token`, sign-up with
/// auto-confirmation, verification), field for field.
///
/// `Debug` hides both tokens.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The access token (a JWT: HS256 with the project's secret, or the project's current
    /// asymmetric key with its `kid`).
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// When the access token expires, in Unix seconds.
    pub expires_at: i64,
    /// The refresh token (opaque, single use: rotated on every refresh).
    pub refresh_token: String,
    /// The user.
    pub user: User,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &"[redacted]")
            .field("user", &self.user)
            .finish()
    }
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// Confirming the email address after sign-up.
    Confirmation,
    /// Resetting a forgotten password.
    Recovery,
    /// Confirming a new email address.
    EmailChange,
    /// Signing in an existing user by email (magic link or code).
    MagicLink,
    /// Accepting an administrator's invitation.
    Invite,
    /// A code sent by SMS (phone confirmation and sign-in).
    Phone,
    /// A code sent by SMS to a user's new phone number.
    PhoneChange,
    /// A code confirming a signed-in user before a sensitive change (`GET
    /// /reauthenticate`; the `nonce` of a password change).
    Reauthentication,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [TokenKind; 8] = [
        TokenKind::Confirmation,
        TokenKind::Recovery,
        TokenKind::EmailChange,
        TokenKind::MagicLink,
        TokenKind::Invite,
        TokenKind::Phone,
        TokenKind::PhoneChange,
        TokenKind::Reauthentication,
    ];

    /// The value of the `kind` column (GoTrue's names).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Confirmation => "confirmation_token",
            TokenKind::Recovery => "recovery_token",
            TokenKind::EmailChange => "email_change_token_new",
            TokenKind::MagicLink => "magiclink_token",
            TokenKind::Invite => "invite_token",
            TokenKind::Phone => "phone_otp_token",
            TokenKind::PhoneChange => "phone_change_token",
            TokenKind::Reauthentication => "reauthentication_token",
        }
    }
}

/// A one-time token to send to the user (by the mailer of a later step). Only its
/// SHA-256 hash is stored. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken {
    /// What it is for.
    pub kind: TokenKind,
    /// The address it goes to (the phone number, without `+`, for [`TokenKind::Phone`]).
    pub email: String,
    /// The token itself (43 characters of base64url, 256 bits): put it in the link, never
    /// in a log.
    pub token: String,
    /// The short code that may be typed in instead (`verifyOtp({ email, token })`); only
    /// an HMAC of it is stored, and a few wrong tries void it.
    pub code: String,
}

impl std::fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeToken")
            .field("kind", &self.kind)
            .field("email", &self.email)
            .field("token", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::AuthMethod;

    /// Every method, checked by a match without a wildcard: a new variant fails to compile
    /// here until it is listed (and so covered by `from_name` below).
    const ALL: [AuthMethod; 11] = [
        AuthMethod::Password,
        AuthMethod::EmailSignup,
        AuthMethod::Recovery,
        AuthMethod::EmailChange,
        AuthMethod::MagicLink,
        AuthMethod::Otp,
        AuthMethod::Anonymous,
        AuthMethod::Invite,
        AuthMethod::Totp,
        AuthMethod::MfaRecoveryCode,
        AuthMethod::OAuth,
    ];

    fn index(m: AuthMethod) -> usize {
        match m {
            AuthMethod::Password => 0,
            AuthMethod::EmailSignup => 1,
            AuthMethod::Recovery => 2,
            AuthMethod::EmailChange => 3,
            AuthMethod::MagicLink => 4,
            AuthMethod::Otp => 5,
            AuthMethod::Anonymous => 6,
            AuthMethod::Invite => 7,
            AuthMethod::Totp => 8,
            AuthMethod::MfaRecoveryCode => 9,
            AuthMethod::OAuth => 10,
        }
    }

    #[test]
    fn from_name_inverts_as_str_for_every_method() {
        for (i, m) in ALL.into_iter().enumerate() {
            assert_eq!(index(m), i, "ALL lists each method once, in order");
            assert_eq!(AuthMethod::from_name(m.as_str()), Some(m), "{}", m.as_str());
        }
        assert_eq!(AuthMethod::from_name(""), None);
    }
}
