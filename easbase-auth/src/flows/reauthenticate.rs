//! Reauthentication (GoTrue's `GET /reauthenticate`, auth-js `reauthenticate()`): a
//! signed-in user is sent a one-time code, by email to their confirmed address, else by
//! SMS to their confirmed number. With secure password change on
//! ([`AuthConfig::secure_password_change`](crate::AuthConfig::secure_password_change)),
//! `PUT /user` with a new `password` needs that code as `nonce` when the session signed in
//! more than 24 hours ago (GoTrue's `SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION`):
//! without one, 400 `reauthentication_needed`; a wrong, used or expired one, 422
//! `reauthentication_not_valid`. The code is stored as other codes are (an HMAC keyed by
//! the project secret), counts wrong tries, and is single use.

use easbase_core::context::RequestContext;

use super::one_time::{self, OtpSecret};
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{OneTimeToken, TokenKind};
use crate::store::users::UserRecord;
use crate::time::now;

/// A session signed in longer ago than this needs a `nonce` to change the password.
const RECENT_SIGN_IN_SECS: i64 = 24 * 3600;

/// Where a user's reauthentication code goes: a confirmed address, else a confirmed number.
fn recipient(user: &UserRecord) -> Result<&str> {
    match (&user.email, user.email_confirmed_at, &user.phone, user.phone_confirmed_at) {
        (Some(email), Some(_), _, _) => Ok(email),
        (_, _, Some(phone), Some(_)) => Ok(phone),
        (Some(_), None, _, _) => Err(AuthError::EmailNotConfirmed),
        _ => Err(AuthError::ValidationFailed(
            "Reauthentication requires the user to have an email or a phone number".into(),
        )),
    }
}

/// Whether `recipient` is a phone number (stored without `+`, digits only).
pub(crate) fn is_phone(recipient: &str) -> bool {
    !recipient.contains('@')
}

impl ProjectAuth {
    /// Issues a reauthentication code for the user of `ctx` (`GET /reauthenticate`); the
    /// caller sends it (by email, or by SMS when the recipient is a phone number).
    ///
    /// # Errors
    /// [`EmailNotConfirmed`](AuthError::EmailNotConfirmed), [`ValidationFailed`](AuthError::ValidationFailed)
    /// (no address or number), the errors of [`ProjectAuth::get_user`].
    pub async fn reauthenticate(&self, ctx: &RequestContext) -> Result<OneTimeToken> {
        let (user, _) = super::user::current(self, ctx).await?;
        let to = recipient(&user)?.to_owned();
        let (stmts, token) = one_time::issue(self, &user.id, TokenKind::Reauthentication, &to, None, now());
        self.store.run(stmts).await?;
        Ok(token)
    }
}

/// Checks (and spends) `nonce` before a password change, when secure password change is
/// on and the session `session_id` signed in more than 24 hours ago.
pub(crate) async fn check_password_change(
    auth: &ProjectAuth,
    user: &UserRecord,
    session_id: &str,
    nonce: Option<&str>,
) -> Result<()> {
    if !auth.config().secure_password_change {
        return Ok(());
    }
    let session = auth.store.session(session_id).await?.ok_or(AuthError::SessionNotFound)?;
    let signed_in_at = session.amr.iter().map(|a| a.timestamp).min().unwrap_or(0);
    if now() <= signed_in_at.saturating_add(RECENT_SIGN_IN_SECS) {
        return Ok(());
    }
    let nonce = nonce.map(str::trim).filter(|n| !n.is_empty()).ok_or(AuthError::ReauthenticationNeeded)?;
    let to = recipient(user).map_err(|_| AuthError::ReauthenticationNotValid)?;
    match one_time::consume(
        auth,
        &[TokenKind::Reauthentication],
        OtpSecret::Code { recipient: to, code: nonce },
    )
    .await
    {
        Ok(record) if record.user_id == user.id => Ok(()),
        Ok(_) | Err(AuthError::OtpExpired) => Err(AuthError::ReauthenticationNotValid),
        Err(e) => Err(e),
    }
}
