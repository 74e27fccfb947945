//! Anonymous sign-in (GoTrue's `POST /signup` without email or phone): a user without
//! address or password, `is_anonymous: true`, `app_metadata.provider: "anonymous"`, no
//! identity, signed in at once. Its token's `role` is `authenticated` (with
//! `is_anonymous: true` for policies to tell), as in GoTrue.

use serde_json::{Map, Value};

use super::signup::app_metadata;
use super::start_session;
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, Session};
use crate::store::users::UserRecord;
use crate::time::now;

pub(crate) async fn sign_in_anonymously(
    auth: &ProjectAuth,
    user_metadata: Option<Map<String, Value>>,
) -> Result<Session> {
    if !auth.config().signup_enabled {
        return Err(AuthError::SignupDisabled);
    }
    if !auth.config().anonymous_enabled {
        return Err(AuthError::AnonymousProviderDisabled);
    }
    let mut user = UserRecord::new(uuid::Uuid::new_v4().to_string(), now());
    user.is_anonymous = true;
    user.app_meta = app_metadata("anonymous");
    user.user_meta = user_metadata.unwrap_or_default();
    let stmts = vec![auth.store.insert_user(&user)];
    start_session(auth, &mut user, &[], AuthMethod::Anonymous, stmts).await
}
