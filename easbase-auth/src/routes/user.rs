//! `GET /user` and `PUT /user` (`{email?, password?, data?}`) with the user's access
//! token ([`ProjectAuth::get_user`](crate::ProjectAuth::get_user),
//! [`ProjectAuth::update_user`](crate::ProjectAuth::update_user)): the user object. The
//! token confirming a new email address goes to the outbox with `redirect_to`.

use super::{ApiError, Call, RouteResult, UserBody, json_response};
use crate::auth::UserUpdate;

pub(crate) async fn get_user(call: &Call<'_>) -> RouteResult {
    let user = call.auth.get_user(call.user_ctx()?).await?;
    Ok(json_response(200, &user))
}

pub(crate) async fn update_user(call: &Call<'_>) -> RouteResult {
    let ctx = call.user_ctx()?;
    let body: UserBody = call.json()?;
    if body.phone.is_some_and(|p| !p.is_empty()) {
        return Err(ApiError::http(422, "phone_provider_disabled", "Phone logins are disabled"));
    }
    let mut update = UserUpdate::new();
    update.email = body.email.filter(|e| !e.is_empty());
    update.password = body.password.filter(|p| !p.is_empty());
    update.data = body.data;
    let outcome = call.auth.update_user(ctx, update).await?;
    if let Some(token) = outcome.email_change {
        call.send_email(token, call.redirect_to()).await?;
    }
    Ok(json_response(200, &outcome.user))
}
