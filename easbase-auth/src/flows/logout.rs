//! Sign-out (GoTrue's `POST /logout?scope=global|local|others`): sessions are deleted
//! with their refresh tokens, so those tokens stop working at once. Access tokens already
//! issued stay valid until they expire (they are stateless), but
//! [`ProjectAuth::get_user`] refuses them.

use easbase_core::context::RequestContext;

use super::user_of;
use crate::auth::{LogoutScope, ProjectAuth};
use crate::error::Result;

pub(crate) async fn logout(auth: &ProjectAuth, ctx: &RequestContext, scope: LogoutScope) -> Result<()> {
    let (user_id, session_id) = user_of(auth, ctx)?;
    let store = &auth.store;
    let stmt = match scope {
        LogoutScope::Global => store.delete_sessions_of(&user_id, None),
        LogoutScope::Others => store.delete_sessions_of(&user_id, Some(&session_id)),
        LogoutScope::Local => store.delete_session(&session_id),
    };
    store.run(vec![stmt]).await?;
    Ok(())
}
