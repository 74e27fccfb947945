//! `GET /user`, `GET /reauthenticate` and `PUT /user` (`{email?, password?, data?, nonce?}`) with the user's access
//! token ([`ProjectAuth::get_user`](crate::ProjectAuth::get_user),
//! [`ProjectAuth::update_user`](crate::ProjectAuth::update_user),
//! [`ProjectAuth::change_phone`](crate::ProjectAuth::change_phone) for `phone`): the user
//! object. The token confirming a new email address is mailed with `redirect_to`; the
//! code confirming a new phone number is sent by SMS (`verifyOtp({type: 'phone_change'})`).

use super::{Call, RouteResult, UserBody, json_response};
use crate::auth::UserUpdate;
use crate::limits::Channel;

pub(crate) async fn get_user(call: &Call<'_>) -> RouteResult {
    let user = call.auth.get_user(call.user_ctx()?).await?;
    Ok(json_response(200, &user))
}

/// `GET /reauthenticate`: a code for the signed-in user, by email or SMS; `200 {}`.
pub(crate) async fn reauthenticate(call: &Call<'_>) -> RouteResult {
    let token = call.auth.reauthenticate(call.user_ctx()?).await?;
    if crate::flows::reauthenticate::is_phone(&token.email) {
        call.require_sms()?;
        call.check_send(Channel::Sms, "reauthentication", &token.email).await?;
        call.send_sms(token).await?;
    } else {
        call.check_send(Channel::Email, "reauthentication", &token.email).await?;
        call.send_email(token, None).await?;
    }
    Ok(json_response(200, &serde_json::json!({})))
}

pub(crate) async fn update_user(call: &Call<'_>) -> RouteResult {
    let ctx = call.user_ctx()?;
    let body: UserBody = call.json()?;
    let phone = body.phone.filter(|p| !p.is_empty());
    if let Some(phone) = &phone {
        // Checked first, so a refused number changes nothing else.
        call.require_sms()?;
        crate::sms::normalize_phone(phone)?;
    }
    let mut update = UserUpdate::new();
    update.email = body.email.filter(|e| !e.is_empty());
    update.password = body.password.filter(|p| !p.is_empty());
    update.data = body.data;
    update.nonce = body.nonce;
    let outcome = call.auth.update_user(ctx, update).await?;
    if let Some(token) = outcome.email_change {
        call.send_email(token, call.redirect_to()).await?;
    }
    let mut user = outcome.user;
    if let Some(phone) = phone {
        let (changed, token) = call.auth.change_phone(ctx, &phone).await?;
        if let Some(token) = token {
            call.send_sms(token).await?;
        }
        user = changed;
    }
    Ok(json_response(200, &user))
}
