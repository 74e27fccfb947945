//! Verification of one-time tokens (GoTrue's `POST /verify`): the email confirmation
//! after sign-up, password recovery, and email change. A token is consumed atomically
//! (one of two concurrent uses wins), must be younger than
//! [`AuthConfig::otp_lifetime`](crate::AuthConfig::otp_lifetime), and must still match
//! the user's address; every failure is the same `otp_expired`. Success signs the user in.

use super::{check_token, start_session};
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, Session, TokenKind};
use crate::secret::token_hash;
use crate::store::is_unique_violation;
use crate::store::tokens::OttRecord;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::now;

/// Consumes a token of `kind` and loads its live, unbanned user.
async fn consume(auth: &ProjectAuth, token: &str, kind: TokenKind) -> Result<(OttRecord, UserRecord)> {
    let token = check_token(token)?;
    let record =
        auth.store.consume_one_time_token(&token_hash(token), kind).await?.ok_or(AuthError::OtpExpired)?;
    let now = now();
    if now > record.created_at.saturating_add(auth.config().otp_lifetime.as_secs() as i64) {
        return Err(AuthError::OtpExpired);
    }
    let user = auth.store.user_by_id(&record.user_id).await?.ok_or(AuthError::OtpExpired)?;
    if user.is_banned(now) {
        return Err(AuthError::UserBanned);
    }
    Ok((record, user))
}

/// Marks the user's email confirmed (and its `email` identity verified).
fn confirm_stmts(
    auth: &ProjectAuth,
    user: &mut UserRecord,
    identities: &mut [IdentityRecord],
    now: i64,
) -> Vec<easbase_core::db::Stmt> {
    let mut stmts = Vec::new();
    if user.email_confirmed_at.is_none() {
        user.email_confirmed_at = Some(now);
        stmts.push(auth.store.update_user(&user.id, now, vec![Set::Int("email_confirmed_at", Some(now))]));
        for identity in identities.iter_mut().filter(|i| i.provider == "email") {
            identity.identity_data.insert("email_verified".into(), true.into());
            identity.updated_at = now;
            stmts.push(auth.store.update_identity(
                &user.id,
                "email",
                &identity.identity_data,
                identity.email.as_deref(),
                now,
            ));
        }
    }
    stmts
}

pub(crate) async fn confirm_email(auth: &ProjectAuth, token: &str) -> Result<Session> {
    let (record, mut user) = consume(auth, token, TokenKind::Confirmation).await?;
    if user.email.as_deref() != Some(record.relates_to.as_str()) {
        return Err(AuthError::OtpExpired);
    }
    let mut identities = auth.store.identities(&user.id).await?;
    let stmts = confirm_stmts(auth, &mut user, &mut identities, now());
    start_session(auth, &mut user, &identities, AuthMethod::EmailSignup, stmts).await
}

pub(crate) async fn verify_recovery(auth: &ProjectAuth, token: &str) -> Result<Session> {
    let (record, mut user) = consume(auth, token, TokenKind::Recovery).await?;
    if user.email.as_deref() != Some(record.relates_to.as_str()) {
        return Err(AuthError::OtpExpired);
    }
    // The link reached the address: that confirms it too, as in GoTrue.
    let mut identities = auth.store.identities(&user.id).await?;
    let stmts = confirm_stmts(auth, &mut user, &mut identities, now());
    start_session(auth, &mut user, &identities, AuthMethod::Recovery, stmts).await
}

pub(crate) async fn confirm_email_change(auth: &ProjectAuth, token: &str) -> Result<Session> {
    let (record, mut user) = consume(auth, token, TokenKind::EmailChange).await?;
    if user.email_change.as_deref() != Some(record.relates_to.as_str()) {
        return Err(AuthError::OtpExpired);
    }
    let now = now();
    let new_email = record.relates_to;
    let mut identities = auth.store.identities(&user.id).await?;
    let stmts = super::user::set_email_stmts(auth, &mut user, &mut identities, &new_email, now);
    match start_session(auth, &mut user, &identities, AuthMethod::EmailChange, stmts).await {
        Err(e) if is_unique_violation(&e) => Err(AuthError::EmailExists),
        other => other,
    }
}
