//! The flows, one file each, as [`ProjectAuth`]'s methods call them. Each takes the
//! project's handle (its [`ProjectDb`](easbase_core::project::ProjectDb) and
//! [`AuthConfig`](crate::AuthConfig)) and returns a typed outcome or an
//! [`AuthError`].
//!
//! | file | flows | GoTrue route |
//! |---|---|---|
//! | `signup.rs` | [`ProjectAuth::signup`] | `POST /signup` |
//! | `password.rs` | [`ProjectAuth::password_grant`] | `POST /token?grant_type=password` |
//! | [`refresh`] | [`ProjectAuth::refresh`] | `POST /token?grant_type=refresh_token` |
//! | `logout.rs` | [`ProjectAuth::logout`] | `POST /logout` |
//! | `recover.rs` | [`ProjectAuth::recover`] | `POST /recover` |
//! | [`verify`] | [`ProjectAuth::verify_otp`], [`ProjectAuth::verify_link`], [`ProjectAuth::confirm_email`], [`ProjectAuth::verify_recovery`], [`ProjectAuth::confirm_email_change`] | `POST /verify`, `GET /verify` |
//! | `anonymous.rs` | [`ProjectAuth::sign_in_anonymously`] | `POST /signup` (no credentials) |
//! | `otp.rs` | [`ProjectAuth::send_email_otp`], [`ProjectAuth::send_phone_otp`], [`ProjectAuth::signup_phone`], [`ProjectAuth::resend`], [`ProjectAuth::change_phone`] | `POST /otp`, `POST /resend`, `POST /signup` and `PUT /user` with `phone` |
//! | [`admin`] | [`ProjectAuth::admin_list_users`], [`ProjectAuth::admin_create_user`], [`ProjectAuth::admin_get_user`], [`ProjectAuth::admin_update_user`], [`ProjectAuth::admin_delete_user`], [`ProjectAuth::admin_generate_link`] | `/admin/users…`, `/admin/generate_link`, `/invite` |
//! | [`pkce`] | [`ProjectAuth::exchange_code_for_session`], the `auth_flow_state` of PKCE flows | `POST /token?grant_type=pkce` |
//! | `one_time.rs` | issuing one-time tokens (link token + short code), checking them with attempt limits, [`ProjectAuth::purge_expired`] | — |
//! | `user.rs` | [`ProjectAuth::get_user`], [`ProjectAuth::update_user`], [`ProjectAuth::update_password`] | `GET` / `PUT /user` |
//! | [`mfa`] | [`ProjectAuth::enroll_factor`], [`ProjectAuth::challenge_factor`], [`ProjectAuth::verify_factor`], [`ProjectAuth::unenroll_factor`], recovery codes | `/factors…` |

pub mod admin;
pub(crate) mod anonymous;
pub(crate) mod logout;
pub mod mfa;
pub mod oauth;
pub(crate) mod one_time;
pub(crate) mod otp;
pub(crate) mod password;
pub mod pkce;
pub mod reauthenticate;
pub(crate) mod recover;
pub mod refresh;
pub(crate) mod signup;
pub(crate) mod user;
pub mod verify;

use easbase_core::context::RequestContext;
use easbase_core::db::Stmt;
use easbase_core::schema::Role;

use crate::auth::ProjectAuth;
use crate::config::PasswordRules;
use crate::error::{AuthError, Result, WeakPasswordReason};
use crate::jwt::{ClaimsHookInput, apply_hook};
use crate::model::{AmrEntry, AuthMethod, Session};
use crate::secret::{random_token, token_hash};
use crate::store::sessions::SessionRecord;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::now;

/// The longest email address accepted (GoTrue's column is `varchar(255)`).
const MAX_EMAIL_LEN: usize = 255;

/// The longest token accepted from a caller; real ones are 43 characters.
pub(crate) const MAX_TOKEN_LEN: usize = 256;

/// Trims and lower-cases an email address and checks its shape.
pub(crate) fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let invalid = || AuthError::ValidationFailed("Unable to validate email address: invalid format".into());
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
    if local.is_empty()
        || local.len() > 64
        || local.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
        || domain.is_empty()
        || domain.chars().any(bad)
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(invalid());
    }
    Ok(email)
}

/// Checks a new password against the rules.
pub(crate) fn check_password(rules: &PasswordRules, password: &str) -> Result<()> {
    if password.len() > rules.max_bytes {
        return Err(AuthError::ValidationFailed(format!(
            "Password cannot be longer than {} bytes",
            rules.max_bytes
        )));
    }
    let mut reasons = Vec::new();
    let mut messages = Vec::new();
    if password.chars().count() < rules.min_length {
        reasons.push(WeakPasswordReason::Length);
        messages.push(format!("Password should be at least {} characters.", rules.min_length));
    }
    if rules.required_characters.iter().any(|set| !password.chars().any(|c| set.contains(c))) {
        reasons.push(WeakPasswordReason::Characters);
        messages.push(format!(
            "Password should contain at least one character of each: {}.",
            rules.required_characters.join(", ")
        ));
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(AuthError::WeakPassword { message: messages.join(" "), reasons })
    }
}

/// A token given by a caller: non-empty, not absurdly long.
pub(crate) fn check_token(token: &str) -> Result<&str> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::OtpExpired);
    }
    Ok(token)
}

/// The user id and session id of a user's access token of this project.
pub(crate) fn user_of(auth: &ProjectAuth, ctx: &RequestContext) -> Result<(String, String)> {
    if ctx.project() != auth.project() {
        return Err(AuthError::BadJwt("the token belongs to another project".into()));
    }
    if ctx.role() != Role::Authenticated {
        return Err(AuthError::BadJwt("not a user's token".into()));
    }
    let sub = ctx.uid().ok_or_else(|| AuthError::BadJwt("no `sub` claim".into()))?;
    let sub = uuid::Uuid::parse_str(sub).map_err(|_| AuthError::BadJwt("`sub` is not a UUID".into()))?;
    let session = ctx
        .claims()
        .get("session_id")
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| AuthError::BadJwt("no valid `session_id` claim".into()))?;
    Ok((sub.to_string(), session.to_string()))
}

/// Signs an access token for `user` in `session` and builds the token response.
pub(crate) async fn issue(
    auth: &ProjectAuth,
    user: &UserRecord,
    identities: &[IdentityRecord],
    session: &SessionRecord,
    refresh_token: String,
    now: i64,
) -> Result<Session> {
    let mut user = user.to_user(identities);
    user.factors = mfa::user_factors(auth, &user.id).await?;
    let lifetime = auth.config().access_token_lifetime.as_secs().max(1);
    let exp = now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let mut claims = auth.signer.claims(&user, &session.id, &session.aal, &session.amr, now, exp);
    if let Some(hook) = auth.hook() {
        let method = session.amr.first().map(|a| a.method.as_str()).unwrap_or("");
        let input = ClaimsHookInput {
            project: auth.project(),
            user: &user,
            session_id: &session.id,
            authentication_method: method,
        };
        apply_hook(hook, &input, &mut claims).await?;
    }
    let access_token = auth.signer.sign(&claims)?;
    Ok(Session {
        access_token,
        token_type: "bearer".into(),
        expires_in: lifetime,
        expires_at: exp,
        refresh_token,
        user,
    })
}

/// Starts a session for `user` (whose row `stmts` may create or change): a session row, a
/// refresh token (stored hashed), `last_sign_in_at`, all in one transaction with `stmts`.
/// The token is signed first, so a failing hook commits nothing.
pub(crate) async fn start_session(
    auth: &ProjectAuth,
    user: &mut UserRecord,
    identities: &[IdentityRecord],
    method: AuthMethod,
    mut stmts: Vec<Stmt>,
) -> Result<Session> {
    let now = now();
    let session = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        aal: "aal1".into(),
        amr: vec![AmrEntry { method: method.as_str().into(), timestamp: now }],
        not_after: auth.config().session_timebox.map(|d| now.saturating_add(d.as_secs() as i64)),
    };
    user.last_sign_in_at = Some(now);
    user.updated_at = now;
    let refresh_token = random_token();
    let out = issue(auth, user, identities, &session, refresh_token, now).await?;
    let store = &auth.store;
    stmts.push(store.insert_session(&session, now));
    stmts.push(store.insert_refresh_token(&token_hash(&out.refresh_token), &session.id, None, now));
    stmts.push(store.update_user(&user.id, now, vec![Set::Int("last_sign_in_at", Some(now))]));
    store.run(stmts).await?;
    Ok(out)
}
