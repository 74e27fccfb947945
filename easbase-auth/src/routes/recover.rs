//! `POST /recover` (`{email, code_challenge?, code_challenge_method?}`,
//! [`ProjectAuth::recover`](crate::ProjectAuth::recover)): `200 {}` whether or not the
//! address is registered (rate limits count both alike); the recovery token of a known
//! one is mailed with `redirect_to`.

use serde::Deserialize;
use serde_json::json;

use super::{Call, RouteResult, json_response};
use crate::flows::normalize_email;
use crate::flows::pkce::PkceChallenge;
use crate::limits::Channel;

#[derive(Deserialize)]
struct RecoverBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
}

pub(crate) async fn recover(call: &Call<'_>) -> RouteResult {
    let body: RecoverBody = call.json()?;
    let pkce = PkceChallenge::parse(body.code_challenge.as_deref(), body.code_challenge_method.as_deref())?;
    let email = normalize_email(body.email.as_deref().unwrap_or(""))?;
    call.check_send(Channel::Email, "recovery", &email).await?;
    if let Some(token) = crate::flows::recover::recover(&call.auth, &email, pkce.as_ref()).await? {
        call.send_email_hidden(token, call.redirect_to()).await;
    }
    Ok(json_response(200, &json!({})))
}
