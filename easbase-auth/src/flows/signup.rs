//! Sign-up with email and password (GoTrue's `POST /signup`).
//!
//! 1. Sign-ups and the email provider must be on; the address is normalized (trimmed,
//!    lower-cased) and checked; the password must meet the rules.
//! 2. The password is hashed first, whatever follows, so every answer costs one hash.
//! 3. A new address: the user and its `email` identity are created. With
//!    auto-confirmation the user is confirmed and signed in ([`SignupOutcome::Session`]);
//!    otherwise a confirmation token is stored hashed and returned for the mailer.
//! 4. A known address: with auto-confirmation, `user_already_exists`. Without it, a
//!    confirmed user gets a look-alike answer (no token, nothing changed, the password is
//!    not touched), and an unconfirmed user a new confirmation token, as GoTrue does, so
//!    the answer does not reveal whether the address is registered.

use serde_json::{Map, Value, json};

use super::{check_password, normalize_email, start_session};
use crate::auth::{ProjectAuth, SignupOutcome};
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, OneTimeToken, TokenKind, User};
use easbase_core::db::Stmt;

use super::one_time;
use super::pkce::PkceChallenge;
use crate::store::is_unique_violation;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::{now, rfc3339};

pub(crate) async fn signup(
    auth: &ProjectAuth,
    email: &str,
    password: &str,
    user_metadata: Option<Map<String, Value>>,
    pkce: Option<&PkceChallenge>,
) -> Result<SignupOutcome> {
    let config = auth.config();
    if !config.signup_enabled {
        return Err(AuthError::SignupDisabled);
    }
    if !config.email_enabled {
        return Err(AuthError::EmailProviderDisabled);
    }
    let email = normalize_email(email)?;
    check_password(&config.password, password)?;
    let metadata = user_metadata.unwrap_or_default();
    let hash = auth.hasher().hash(password).await?;

    if let Some(existing) = auth.store.user_by_email(&email).await? {
        return existing_user(auth, existing, metadata, pkce).await;
    }

    let now = now();
    let id = uuid::Uuid::new_v4().to_string();
    let mut user = UserRecord::new(id.clone(), now);
    user.email = Some(email.clone());
    user.encrypted_password = Some(hash);
    user.app_meta = app_metadata("email");
    user.user_meta = metadata;
    if config.autoconfirm {
        user.email_confirmed_at = Some(now);
    } else {
        user.confirmation_sent_at = Some(now);
    }
    let identity = IdentityRecord::email(&id, &email, config.autoconfirm, now);
    let store = &auth.store;
    let stmts = vec![store.insert_user(&user), store.insert_identity(&identity)];
    let identities = [identity.clone()];

    let created = if config.autoconfirm {
        start_session(auth, &mut user, &identities, AuthMethod::Password, stmts)
            .await
            .map(|s| SignupOutcome::Session(Box::new(s)))
    } else {
        let mut stmts = stmts;
        let (more, token) = confirmation_token(auth, &id, &email, pkce, now);
        stmts.extend(more);
        match store.run(stmts).await {
            Ok(_) => Ok(SignupOutcome::ConfirmationRequired {
                user: Box::new(user.to_user(&identities)),
                confirmation: Some(token),
            }),
            Err(e) => Err(e),
        }
    };
    match created {
        // Another sign-up with this address won the race: answer as for a known address.
        Err(e) if is_unique_violation(&e) => match auth.store.user_by_email(&email).await? {
            Some(existing) => existing_user(auth, existing, Map::new(), pkce).await,
            None => Err(AuthError::UserAlreadyExists),
        },
        other => other,
    }
}

/// `{"provider": p, "providers": [p]}`.
pub(crate) fn app_metadata(provider: &str) -> Map<String, Value> {
    match json!({ "provider": provider, "providers": [provider] }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Statements issuing a confirmation token for `user_id` (in a new PKCE flow when the
/// client sent a challenge), and the token.
pub(crate) fn confirmation_token(
    auth: &ProjectAuth,
    user_id: &str,
    email: &str,
    pkce: Option<&PkceChallenge>,
    now: i64,
) -> (Vec<Stmt>, OneTimeToken) {
    issue_with_flow(
        auth,
        user_id,
        TokenKind::Confirmation,
        email,
        "email",
        AuthMethod::EmailSignup,
        pkce,
        now,
    )
}

/// Statements issuing a token of `kind` (with a PKCE flow state for `pkce`), and the token.
#[allow(clippy::too_many_arguments)]
pub(crate) fn issue_with_flow(
    auth: &ProjectAuth,
    user_id: &str,
    kind: TokenKind,
    relates_to: &str,
    provider: &str,
    method: AuthMethod,
    pkce: Option<&PkceChallenge>,
    now: i64,
) -> (Vec<Stmt>, OneTimeToken) {
    let mut stmts = Vec::new();
    let flow = pkce.map(|c| super::pkce::new_flow_state(Some(user_id), c, provider, method, now));
    if let Some(flow) = &flow {
        stmts.push(auth.store.delete_pending_flow_states(user_id, method.as_str()));
        stmts.push(auth.store.insert_flow_state(flow));
    }
    let (more, token) =
        one_time::issue(auth, user_id, kind, relates_to, flow.as_ref().map(|f| f.id.as_str()), now);
    stmts.extend(more);
    (stmts, token)
}

async fn existing_user(
    auth: &ProjectAuth,
    user: UserRecord,
    metadata: Map<String, Value>,
    pkce: Option<&PkceChallenge>,
) -> Result<SignupOutcome> {
    if auth.config().autoconfirm {
        return Err(AuthError::UserAlreadyExists);
    }
    let email = user.email.clone().unwrap_or_default();
    if user.email_confirmed_at.is_some() {
        return Ok(SignupOutcome::ConfirmationRequired {
            user: Box::new(look_alike(&email, "", metadata)),
            confirmation: None,
        });
    }
    // Not confirmed yet: a new confirmation token replaces the old ones.
    let now = now();
    let store = &auth.store;
    let (mut stmts, token) = confirmation_token(auth, &user.id, &email, pkce, now);
    stmts.push(store.update_user(&user.id, now, vec![Set::Int("confirmation_sent_at", Some(now))]));
    store.run(stmts).await?;
    let mut user = user;
    user.confirmation_sent_at = Some(now);
    user.updated_at = now;
    let identities = store.identities(&user.id).await?;
    Ok(SignupOutcome::ConfirmationRequired {
        user: Box::new(user.to_user(&identities)),
        confirmation: Some(token),
    })
}

/// GoTrue's sanitized user: a random id, no identities, nothing confirmed.
pub(crate) fn look_alike(email: &str, phone: &str, metadata: Map<String, Value>) -> User {
    let now = rfc3339(now());
    User {
        id: uuid::Uuid::new_v4().to_string(),
        aud: "authenticated".into(),
        role: "authenticated".into(),
        email: email.to_owned(),
        email_confirmed_at: None,
        phone: phone.to_owned(),
        phone_confirmed_at: None,
        confirmation_sent_at: Some(now.clone()),
        confirmed_at: None,
        recovery_sent_at: None,
        new_email: None,
        last_sign_in_at: None,
        app_metadata: app_metadata(if email.is_empty() { "phone" } else { "email" }),
        user_metadata: metadata,
        identities: Vec::new(),
        created_at: now.clone(),
        updated_at: now,
        banned_until: None,
        is_anonymous: false,
        factors: Vec::new(),
    }
}
