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

pub(crate) async fn password_grant(auth: &ProjectAuth, email: &str, password: &str) -> Result<Session> {
    if !auth.config().email_enabled {
        return Err(AuthError::EmailProviderDisabled);
    }
    let over_long = password.len() > auth.config().password.max_bytes;
    let user = match normalize_email(email) {
        Ok(email) if !over_long => auth.store.user_by_email(&email).await?,
        _ => None,
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
    if user.email_confirmed_at.is_none() {
        return Err(AuthError::EmailNotConfirmed);
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
