//! The refresh-token grant (GoTrue's `POST /token?grant_type=refresh_token`): rotation
//! with reuse detection.
//!
//! - Refresh tokens are 256-bit random strings (43 characters of base64url); the table
//!   keeps their SHA-256 hashes and finds a token by its hash.
//! - Each use **rotates** the token: it is revoked and a child is issued in one
//!   transaction. The child is `HMAC-SHA256(project secret, parent)`, so it is fixed by
//!   the parent yet unpredictable without the project's secret.
//! - A **revoked** token presented again within
//!   [`AuthConfig::refresh_token_reuse_interval`](crate::AuthConfig::refresh_token_reuse_interval)
//!   of its rotation (two tabs refreshing at once, a lost response) gets the session's
//!   current token back: the flow follows the chain of children from the presented token
//!   (which only its holder and the server can compute) to the live one, and issues a new
//!   access token with it, as GoTrue returns the active token instead of a new one.
//! - Presented **after** that interval, or when no live descendant exists, it is taken
//!   for a stolen token: the whole session is revoked (deleted with its tokens) and the
//!   call fails with `refresh_token_already_used`; every later refresh of that session
//!   fails too.
//! - Two concurrent rotations of one token race on the child's unique hash: one commits,
//!   the other sees the token revoked and takes the path above.

use super::{MAX_TOKEN_LEN, issue};
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::Session;
use crate::secret::{child_token, token_hash};
use crate::store::sessions::RefreshRecord;
use crate::store::{is_fk_violation, is_unique_violation};
use crate::time::now;

/// How many children the reuse path follows to find the live token.
const MAX_CHAIN: usize = 16;

pub(crate) async fn refresh(auth: &ProjectAuth, refresh_token: &str) -> Result<Session> {
    let token = refresh_token.trim();
    if token.is_empty() {
        return Err(AuthError::ValidationFailed("refresh_token required".into()));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::RefreshTokenNotFound);
    }
    // A lost race against a concurrent rotation is retried once on the reuse path.
    for _ in 0..3 {
        let record =
            auth.store.refresh_token(&token_hash(token)).await?.ok_or(AuthError::RefreshTokenNotFound)?;
        match attempt(auth, token, &record).await {
            Err(Retry::Again) => continue,
            Err(Retry::Fail(e)) => return Err(e),
            Ok(session) => return Ok(session),
        }
    }
    Err(AuthError::RefreshTokenNotFound)
}

enum Retry {
    Again,
    Fail(AuthError),
}

impl From<AuthError> for Retry {
    fn from(e: AuthError) -> Retry {
        Retry::Fail(e)
    }
}

async fn attempt(auth: &ProjectAuth, token: &str, record: &RefreshRecord) -> Result<Session, Retry> {
    let store = &auth.store;
    let now = now();
    let session = store.session(&record.session_id).await?.ok_or(AuthError::RefreshTokenNotFound)?;
    if session.not_after.is_some_and(|t| now > t)
        || auth
            .config()
            .session_inactivity_timeout
            .is_some_and(|d| now > record.created_at.saturating_add(d.as_secs() as i64) && !record.revoked)
    {
        return Err(AuthError::SessionExpired.into());
    }
    let user = store.user_by_id(&session.user_id).await?.ok_or(AuthError::RefreshTokenNotFound)?;
    if user.is_banned(now) {
        return Err(AuthError::UserBanned.into());
    }
    let key = auth.signer.secret();

    let refresh_token = if record.revoked {
        let grace = auth.config().refresh_token_reuse_interval.as_secs() as i64;
        let live = if now <= record.updated_at.saturating_add(grace) {
            live_descendant(auth, token).await?
        } else {
            None
        };
        match live {
            Some(live) => live,
            None => {
                tracing::warn!(project = %auth.project(), session_id = %session.id, "refresh token reused; session revoked");
                store.run(vec![store.delete_session(&session.id)]).await?;
                return Err(AuthError::RefreshTokenAlreadyUsed.into());
            }
        }
    } else {
        let child = child_token(key, token);
        let stmts = vec![
            store.revoke_refresh_token(record.id, now),
            store.insert_refresh_token(&token_hash(&child), &session.id, Some(&token_hash(token)), now),
            store.touch_session(&session.id, now),
        ];
        match store.run(stmts).await {
            Ok(results) if results.first().is_some_and(|r| r.affected == 1) => child,
            Ok(_) => {
                // Revoked in between without a child (cannot happen with this crate's
                // writers): take the child back and refuse.
                store.run(vec![store.delete_refresh_token(&token_hash(&child))]).await?;
                return Err(AuthError::RefreshTokenNotFound.into());
            }
            Err(e) if is_unique_violation(&e) => return Err(Retry::Again),
            Err(e) if is_fk_violation(&e) => return Err(AuthError::RefreshTokenNotFound.into()),
            Err(e) => return Err(e.into()),
        }
    };
    let identities = store.identities(&user.id).await?;
    Ok(issue(auth, &user, &identities, &session, refresh_token, now).await?)
}

/// The live token descending from a revoked `token`, if any within [`MAX_CHAIN`] steps.
async fn live_descendant(auth: &ProjectAuth, token: &str) -> Result<Option<String>> {
    let mut current = token.to_owned();
    for _ in 0..MAX_CHAIN {
        current = child_token(auth.signer.secret(), &current);
        match auth.store.refresh_token(&token_hash(&current)).await? {
            None => return Ok(None),
            Some(r) if !r.revoked => return Ok(Some(current)),
            Some(_) => {}
        }
    }
    Ok(None)
}
