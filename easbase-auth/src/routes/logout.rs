//! `POST /logout?scope=global|local|others` with the user's access token
//! ([`ProjectAuth::logout`](crate::ProjectAuth::logout)): 204. The default scope is
//! `global`, as in GoTrue.

use super::{ApiError, Call, RouteResult, empty_response};
use crate::auth::LogoutScope;

pub(crate) async fn logout(call: &Call<'_>) -> RouteResult {
    let scope = match call.query("scope") {
        None | Some("global") => LogoutScope::Global,
        Some("local") => LogoutScope::Local,
        Some("others") => LogoutScope::Others,
        Some(_) => {
            return Err(ApiError::http(
                400,
                "validation_failed",
                "Unsupported logout scope; use global, local or others",
            ));
        }
    };
    let ctx = call.user_ctx()?;
    call.auth.logout(ctx, scope).await?;
    Ok(empty_response(204))
}
