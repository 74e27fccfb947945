//! Password recovery, step one (GoTrue's `POST /recover`): a recovery token for the
//! mailer, stored hashed, replacing earlier ones. An unknown address gives `None`, and
//! the route answers the same as for a known one.

use super::normalize_email;
use crate::auth::ProjectAuth;
use crate::error::Result;
use crate::model::{OneTimeToken, TokenKind};
use crate::secret::{random_token, token_hash};
use crate::store::users::Set;
use crate::time::now;

pub(crate) async fn recover(auth: &ProjectAuth, email: &str) -> Result<Option<OneTimeToken>> {
    let email = normalize_email(email)?;
    let Some(user) = auth.store.user_by_email(&email).await? else { return Ok(None) };
    let now = now();
    let token = random_token();
    let store = &auth.store;
    store
        .run(vec![
            store.delete_one_time_tokens(&user.id, TokenKind::Recovery),
            store.insert_one_time_token(&user.id, TokenKind::Recovery, &token_hash(&token), &email, now),
            store.update_user(&user.id, now, vec![Set::Int("recovery_sent_at", Some(now))]),
        ])
        .await?;
    Ok(Some(OneTimeToken { kind: TokenKind::Recovery, email, token }))
}
