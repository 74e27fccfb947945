//! The signed-in user (GoTrue's `GET /user` and `PUT /user`). The access token's session
//! must still exist (so a signed-out token is refused although its signature is still
//! good) and its user must be live.
//!
//! `update_user` merges `data` into `user_metadata`; sets a new password (checked
//! against the rules and refused when equal to the current one) and signs out the
//! user's other sessions; changes the email address directly with auto-confirmation, or
//! else keeps it in `new_email` and returns a token that confirms it. An anonymous user
//! who gets an address stops being anonymous and gains an `email` identity.

use easbase_core::context::RequestContext;
use easbase_core::db::Stmt;
use serde_json::Value;

use super::{check_password, normalize_email, user_of};
use crate::auth::{ProjectAuth, UserUpdate, UserUpdateOutcome};
use crate::error::{AuthError, Result};
use crate::model::{TokenKind, User};
use crate::password::Verified;
use crate::store::is_unique_violation;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::now;

pub(crate) async fn current(auth: &ProjectAuth, ctx: &RequestContext) -> Result<(UserRecord, String)> {
    let (user_id, session_id) = user_of(auth, ctx)?;
    let session = auth.store.session(&session_id).await?.ok_or(AuthError::SessionNotFound)?;
    if session.user_id != user_id {
        return Err(AuthError::SessionNotFound);
    }
    let user = auth.store.user_by_id(&user_id).await?.ok_or(AuthError::UserNotFound)?;
    Ok((user, session_id))
}

pub(crate) async fn get_user(auth: &ProjectAuth, ctx: &RequestContext) -> Result<User> {
    let (user, _) = current(auth, ctx).await?;
    let identities = auth.store.identities(&user.id).await?;
    let mut out = user.to_user(&identities);
    out.factors = super::mfa::user_factors(auth, &user.id).await?;
    Ok(out)
}

/// Statements that give `user` the confirmed address `email`.
pub(crate) fn set_email_stmts(
    auth: &ProjectAuth,
    user: &mut UserRecord,
    identities: &mut Vec<IdentityRecord>,
    email: &str,
    now: i64,
) -> Vec<Stmt> {
    let store = &auth.store;
    user.email = Some(email.to_owned());
    user.email_confirmed_at = Some(now);
    user.email_change = None;
    user.is_anonymous = false;
    let providers = user.app_meta.entry("providers").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = providers
        && !list.iter().any(|p| p == "email")
    {
        list.push("email".into());
    }
    if user.app_meta.get("provider").and_then(Value::as_str).is_none_or(|p| p == "anonymous") {
        user.app_meta.insert("provider".into(), "email".into());
    }
    let mut stmts = vec![store.update_user(
        &user.id,
        now,
        vec![
            Set::Text("email", Some(email.to_owned())),
            Set::Int("email_confirmed_at", Some(now)),
            Set::Text("email_change", None),
            Set::Bool("is_anonymous", false),
            Set::Json("raw_app_meta_data", Value::Object(user.app_meta.clone())),
        ],
    )];
    match identities.iter_mut().find(|i| i.provider == "email") {
        Some(identity) => {
            identity.identity_data.insert("email".into(), email.into());
            identity.identity_data.insert("email_verified".into(), true.into());
            identity.email = Some(email.to_owned());
            identity.updated_at = now;
            stmts.push(store.update_identity(&user.id, "email", &identity.identity_data, Some(email), now));
        }
        None => {
            let identity = IdentityRecord::email(&user.id, email, true, now);
            stmts.push(store.insert_identity(&identity));
            identities.push(identity);
        }
    }
    stmts
}

pub(crate) async fn update_user(
    auth: &ProjectAuth,
    ctx: &RequestContext,
    update: UserUpdate,
) -> Result<UserUpdateOutcome> {
    let (mut user, session_id) = current(auth, ctx).await?;
    let store = &auth.store;
    let now = now();
    let mut identities = store.identities(&user.id).await?;
    let mut stmts = Vec::new();
    let mut email_change = None;

    if let Some(data) = update.data {
        for (k, v) in data {
            if v.is_null() {
                user.user_meta.remove(&k);
            } else {
                user.user_meta.insert(k, v);
            }
        }
        stmts.push(store.update_user(
            &user.id,
            now,
            vec![Set::Json("raw_user_meta_data", Value::Object(user.user_meta.clone()))],
        ));
    }

    if let Some(password) = update.password {
        check_password(&auth.config().password, &password)?;
        if user.encrypted_password.is_some()
            && matches!(
                auth.hasher().verify(&password, user.encrypted_password.as_deref()).await?,
                Verified::Yes { .. }
            )
        {
            return Err(AuthError::SamePassword);
        }
        super::reauthenticate::check_password_change(auth, &user, &session_id, update.nonce.as_deref())
            .await?;
        let hash = auth.hasher().hash(&password).await?;
        user.encrypted_password = Some(hash.clone());
        stmts.push(store.update_user(&user.id, now, vec![Set::Text("encrypted_password", Some(hash))]));
        stmts.push(store.delete_sessions_of(&user.id, Some(&session_id)));
    }

    if let Some(email) = update.email {
        let email = normalize_email(&email)?;
        if user.email.as_deref() != Some(email.as_str()) {
            if store.email_taken(&email).await? {
                return Err(AuthError::EmailExists);
            }
            if auth.config().autoconfirm {
                stmts.extend(set_email_stmts(auth, &mut user, &mut identities, &email, now));
            } else {
                user.email_change = Some(email.clone());
                let (more, token) =
                    super::one_time::issue(auth, &user.id, TokenKind::EmailChange, &email, None, now);
                stmts.extend(more);
                stmts.push(store.update_user(
                    &user.id,
                    now,
                    vec![Set::Text("email_change", Some(email.clone()))],
                ));
                email_change = Some(token);
            }
        }
    }

    if !stmts.is_empty() {
        match store.run(stmts).await {
            Err(e) if is_unique_violation(&e) => return Err(AuthError::EmailExists),
            other => other?,
        };
        user.updated_at = now;
    }
    let mut out = user.to_user(&identities);
    out.factors = super::mfa::user_factors(auth, &user.id).await?;
    Ok(UserUpdateOutcome { user: out, email_change })
}
