//! Password recovery, step one (GoTrue's `POST /recover`): a recovery token for the
//! mailer, stored hashed, replacing earlier ones (in a PKCE flow when the client sent a
//! challenge). An unknown address gives `None`, and the route answers the same as for a
//! known one.

use super::normalize_email;
use super::pkce::PkceChallenge;
use super::signup::issue_with_flow;
use crate::auth::ProjectAuth;
use crate::error::Result;
use crate::model::{AuthMethod, OneTimeToken, TokenKind};
use crate::store::users::Set;
use crate::time::now;

pub(crate) async fn recover(
    auth: &ProjectAuth,
    email: &str,
    pkce: Option<&PkceChallenge>,
) -> Result<Option<OneTimeToken>> {
    let email = normalize_email(email)?;
    let Some(user) = auth.store.user_by_email(&email).await? else { return Ok(None) };
    let now = now();
    let (mut stmts, token) = issue_with_flow(
        auth,
        &user.id,
        TokenKind::Recovery,
        &email,
        "email",
        AuthMethod::Recovery,
        pkce,
        now,
    );
    stmts.push(auth.store.update_user(&user.id, now, vec![Set::Int("recovery_sent_at", Some(now))]));
    auth.store.run(stmts).await?;
    Ok(Some(token))
}
