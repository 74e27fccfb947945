//! Verification of one-time tokens (GoTrue's `/verify`): sign-up confirmation, magic
//! link and email code, invitation, recovery, email change and SMS code. A token is
//! consumed atomically (one of two concurrent uses wins), must be younger than
//! [`AuthConfig::otp_lifetime`](crate::AuthConfig::otp_lifetime), and must still match
//! the user's address or phone; every such failure is the same `otp_expired`. Success
//! confirms what the token proves and signs the user in — or, for a link of a PKCE flow
//! opened in the browser, issues the flow's auth code instead ([`Verified::AuthCode`]).

use super::one_time::{self, OtpSecret};
use super::{pkce, start_session};
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, Session, TokenKind};
use crate::store::is_unique_violation;
use crate::store::tokens::OttRecord;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::now;

/// The `type` of a verification, as GoTrue names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyType {
    /// Sign-up confirmation.
    Signup,
    /// An invitation.
    Invite,
    /// A magic link (deprecated by GoTrue in favour of `email`).
    MagicLink,
    /// Password recovery.
    Recovery,
    /// Email change.
    EmailChange,
    /// An email code or link: sign-up confirmation or magic link.
    Email,
    /// An SMS code.
    Sms,
    /// The SMS code confirming a new phone number.
    PhoneChange,
}

impl VerifyType {
    /// The type named `name` (`signup`, `invite`, `magiclink`, `recovery`,
    /// `email_change`, `email`, `sms`).
    pub fn parse(name: &str) -> Option<VerifyType> {
        Some(match name {
            "signup" => VerifyType::Signup,
            "invite" => VerifyType::Invite,
            "magiclink" => VerifyType::MagicLink,
            "recovery" => VerifyType::Recovery,
            "email_change" => VerifyType::EmailChange,
            "email" => VerifyType::Email,
            "sms" => VerifyType::Sms,
            "phone_change" => VerifyType::PhoneChange,
            _ => return None,
        })
    }

    /// GoTrue's name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyType::Signup => "signup",
            VerifyType::Invite => "invite",
            VerifyType::MagicLink => "magiclink",
            VerifyType::Recovery => "recovery",
            VerifyType::EmailChange => "email_change",
            VerifyType::Email => "email",
            VerifyType::Sms => "sms",
            VerifyType::PhoneChange => "phone_change",
        }
    }

    /// The token kinds a verification of this type accepts.
    pub(crate) fn kinds(self) -> &'static [TokenKind] {
        match self {
            VerifyType::Signup => &[TokenKind::Confirmation],
            VerifyType::Invite => &[TokenKind::Invite],
            VerifyType::MagicLink => &[TokenKind::MagicLink],
            VerifyType::Recovery => &[TokenKind::Recovery],
            VerifyType::EmailChange => &[TokenKind::EmailChange],
            VerifyType::Email => &[TokenKind::Confirmation, TokenKind::MagicLink],
            VerifyType::Sms => &[TokenKind::Phone],
            VerifyType::PhoneChange => &[TokenKind::PhoneChange],
        }
    }
}

/// What a successful verification gives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Verified {
    /// The user is signed in.
    Session(Box<Session>),
    /// The token belonged to a PKCE flow: its auth code, for `redirect_to?code=…`.
    AuthCode(String),
}

/// Marks the user's email confirmed (and its `email` identity verified).
fn confirm_email_stmts(
    auth: &ProjectAuth,
    user: &mut UserRecord,
    identities: &mut [IdentityRecord],
    now: i64,
) -> Vec<easbase_core::db::Stmt> {
    confirm_stmts(auth, user, identities, now, "email")
}

fn confirm_stmts(
    auth: &ProjectAuth,
    user: &mut UserRecord,
    identities: &mut [IdentityRecord],
    now: i64,
    provider: &str,
) -> Vec<easbase_core::db::Stmt> {
    let mut stmts = Vec::new();
    let (column, flag) = if provider == "phone" {
        if user.phone_confirmed_at.is_some() {
            return stmts;
        }
        user.phone_confirmed_at = Some(now);
        ("phone_confirmed_at", "phone_verified")
    } else {
        if user.email_confirmed_at.is_some() {
            return stmts;
        }
        user.email_confirmed_at = Some(now);
        ("email_confirmed_at", "email_verified")
    };
    stmts.push(auth.store.update_user(&user.id, now, vec![Set::Int(column, Some(now))]));
    for identity in identities.iter_mut().filter(|i| i.provider == provider) {
        identity.identity_data.insert(flag.into(), true.into());
        identity.updated_at = now;
        stmts.push(auth.store.update_identity(
            &user.id,
            provider,
            &identity.identity_data,
            identity.email.as_deref(),
            now,
        ));
    }
    stmts
}

/// Whether the token still names the user's address (or phone, or pending new address).
fn still_matches(record: &OttRecord, user: &UserRecord) -> bool {
    let current = match record.kind {
        TokenKind::EmailChange => user.email_change.as_deref(),
        TokenKind::Phone => user.phone.as_deref(),
        // The new number is the token's own; it is bound to the user by `user_id`.
        TokenKind::PhoneChange => return true,
        _ => user.email.as_deref(),
    };
    current == Some(record.relates_to.as_str())
}

/// Verifies `secret` as a token of `kind`'s types. With `issue_code`, a token of a PKCE
/// flow gives the flow's auth code instead of a session.
pub(crate) async fn verify(
    auth: &ProjectAuth,
    kind: VerifyType,
    secret: OtpSecret<'_>,
    issue_code: bool,
) -> Result<Verified> {
    let record = one_time::consume(auth, kind.kinds(), secret).await?;
    let mut user = auth.store.user_by_id(&record.user_id).await?.ok_or(AuthError::OtpExpired)?;
    let now = now();
    if user.is_banned(now) {
        return Err(AuthError::UserBanned);
    }
    if !still_matches(&record, &user) {
        return Err(AuthError::OtpExpired);
    }
    let mut identities = auth.store.identities(&user.id).await?;
    let by_code = matches!(secret, OtpSecret::Code { .. });
    let (mut stmts, method) = match record.kind {
        TokenKind::Confirmation => {
            let method = if by_code { AuthMethod::Otp } else { AuthMethod::EmailSignup };
            (confirm_email_stmts(auth, &mut user, &mut identities, now), method)
        }
        TokenKind::MagicLink => {
            let method = if by_code { AuthMethod::Otp } else { AuthMethod::MagicLink };
            (confirm_email_stmts(auth, &mut user, &mut identities, now), method)
        }
        // The link reached the address: that confirms it too, as in GoTrue.
        TokenKind::Recovery => {
            (confirm_email_stmts(auth, &mut user, &mut identities, now), AuthMethod::Recovery)
        }
        TokenKind::Invite => (confirm_email_stmts(auth, &mut user, &mut identities, now), AuthMethod::Invite),
        TokenKind::EmailChange => {
            let new_email = record.relates_to.clone();
            (
                super::user::set_email_stmts(auth, &mut user, &mut identities, &new_email, now),
                AuthMethod::EmailChange,
            )
        }
        TokenKind::Phone => (confirm_stmts(auth, &mut user, &mut identities, now, "phone"), AuthMethod::Otp),
        // Never among a verify type's kinds: spent only as a password change's `nonce`.
        TokenKind::Reauthentication => return Err(AuthError::OtpExpired),
        TokenKind::PhoneChange => {
            let phone = record.relates_to.clone();
            (super::otp::set_phone_stmts(auth, &mut user, &mut identities, &phone, now), AuthMethod::Otp)
        }
    };
    let phone_change = record.kind == TokenKind::PhoneChange;
    let email_taken = |e: AuthError| match e {
        e if is_unique_violation(&e) && phone_change => AuthError::PhoneExists,
        e if is_unique_violation(&e) => AuthError::EmailExists,
        e => e,
    };
    if let Some(flow_id) = &record.flow_state_id {
        if issue_code {
            let flow = auth.store.flow_state(flow_id).await?;
            if flow.as_ref().and_then(|f| f.user_id.as_deref()) != Some(user.id.as_str()) {
                return Err(AuthError::FlowStateNotFound);
            }
            let (stmt, code) = pkce::grant(auth, flow_id, &user.id, None, now);
            stmts.push(stmt);
            auth.store.run(stmts).await.map_err(email_taken)?;
            return Ok(Verified::AuthCode(code));
        }
        stmts.push(auth.store.delete_flow_state(flow_id));
    }
    let session = start_session(auth, &mut user, &identities, method, stmts).await.map_err(email_taken)?;
    Ok(Verified::Session(Box::new(session)))
}

/// Verifies and signs in, whatever the flow.
async fn session(auth: &ProjectAuth, kind: VerifyType, secret: OtpSecret<'_>) -> Result<Session> {
    match verify(auth, kind, secret, false).await? {
        Verified::Session(s) => Ok(*s),
        Verified::AuthCode(_) => Err(AuthError::Internal("a session was expected".into())),
    }
}

pub(crate) async fn confirm_email(auth: &ProjectAuth, token: &str) -> Result<Session> {
    session(auth, VerifyType::Signup, OtpSecret::Link(token)).await
}

pub(crate) async fn verify_recovery(auth: &ProjectAuth, token: &str) -> Result<Session> {
    session(auth, VerifyType::Recovery, OtpSecret::Link(token)).await
}

pub(crate) async fn confirm_email_change(auth: &ProjectAuth, token: &str) -> Result<Session> {
    session(auth, VerifyType::EmailChange, OtpSecret::Link(token)).await
}

impl ProjectAuth {
    /// Verifies a one-time token — the link token or the code sent with it — and signs
    /// the user in (`POST /verify`).
    ///
    /// # Errors
    /// [`OtpExpired`](AuthError::OtpExpired) for an unknown, used, expired or voided
    /// token or a wrong code; [`UserBanned`](AuthError::UserBanned);
    /// [`EmailExists`](AuthError::EmailExists) (an email change to a taken address).
    pub async fn verify_otp(&self, kind: VerifyType, secret: OtpSecret<'_>) -> Result<Session> {
        session(self, kind, secret).await
    }

    /// Verifies the link token of an emailed link (`GET /verify` and its page): like
    /// [`ProjectAuth::verify_otp`], but a token of a PKCE flow gives its auth code.
    ///
    /// # Errors
    /// As [`ProjectAuth::verify_otp`], and [`FlowStateNotFound`](AuthError::FlowStateNotFound).
    pub async fn verify_link(&self, kind: VerifyType, token: &str) -> Result<Verified> {
        verify(self, kind, OtpSecret::Link(token), true).await
    }
}
