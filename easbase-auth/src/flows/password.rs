//! Sign-in with email and password (GoTrue's `POST /token?grant_type=password`).
//!
//! An unknown address, a user without a password and a wrong password all end in
//! `invalid_credentials`, after one password verification each (a dummy hash for the
//! first two), so neither the answer nor its timing tells them apart. Only after the
//! password matched are the ban and the confirmation checked. A bcrypt hash (an imported
//! user) or an Argon2 hash at other parameters is replaced by a fresh Argon2id hash in
//! the same transaction that starts the session.

use super::{normalize_email, start_session};
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, Session};
use crate::password::Verified;
use crate::store::users::Set;
use crate::time::now;

/// Who signs in: an email address or a phone number.
#[derive(Clone, Copy)]
pub(crate) enum Login<'a> {
    Email(&'a str),
    Phone(&'a str),
}

pub(crate) async fn password_grant(auth: &ProjectAuth, email: &str, password: &str) -> Result<Session> {
    password_grant_for(auth, Login::Email(email), password).await
}

pub(crate) async fn password_grant_for(
    auth: &ProjectAuth,
    login: Login<'_>,
    password: &str,
) -> Result<Session> {
    match login {
        Login::Email(_) if !auth.config().email_enabled => return Err(AuthError::EmailProviderDisabled),
        Login::Phone(_) if !auth.config().phone_enabled => return Err(AuthError::PhoneProviderDisabled),
        _ => {}
    }
    let over_long = password.len() > auth.config().password.max_bytes;
    let user = match login {
        _ if over_long => None,
        Login::Email(email) => match normalize_email(email) {
            Ok(email) => auth.store.user_by_email(&email).await?,
            Err(_) => None,
        },
        Login::Phone(phone) => match crate::sms::normalize_phone(phone) {
            Ok(phone) => auth.store.user_by_phone(&phone).await?,
            Err(_) => None,
        },
    };
    let stored = user.as_ref().and_then(|u| u.encrypted_password.as_deref());
    // An over-long password is checked against the dummy only (never hashed in full).
    let candidate = if over_long { "" } else { password };
    let verified = auth.hasher().verify(candidate, stored).await?;
    let (Some(mut user), Verified::Yes { rehash }) = (user, verified) else {
        return Err(AuthError::InvalidCredentials);
    };
    if user.is_banned(now()) {
        return Err(AuthError::UserBanned);
    }
    match login {
        Login::Email(_) if user.email_confirmed_at.is_none() => return Err(AuthError::EmailNotConfirmed),
        Login::Phone(_) if user.phone_confirmed_at.is_none() => return Err(AuthError::PhoneNotConfirmed),
        _ => {}
    }
    let mut stmts = Vec::new();
    if rehash {
        let fresh = auth.hasher().hash(password).await?;
        stmts.push(auth.store.update_user(
            &user.id,
            now(),
            vec![Set::Text("encrypted_password", Some(fresh.clone()))],
        ));
        user.encrypted_password = Some(fresh);
    }
    let identities = auth.store.identities(&user.id).await?;
    start_session(auth, &mut user, &identities, AuthMethod::Password, stmts).await
}
