//! `POST /recover` (`{email}`, [`ProjectAuth::recover`](crate::ProjectAuth::recover)):
//! `200 {}` whether or not the address is registered; the recovery token of a known one
//! goes to the outbox with `redirect_to`.

use serde::Deserialize;
use serde_json::json;

use super::{Call, RouteResult, json_response};

#[derive(Deserialize)]
struct RecoverBody {
    #[serde(default)]
    email: Option<String>,
}

pub(crate) async fn recover(call: &Call<'_>) -> RouteResult {
    let body: RecoverBody = call.json()?;
    if let Some(token) = call.auth.recover(body.email.as_deref().unwrap_or("")).await? {
        call.config.deliver(call.auth.project(), token, call.redirect_to());
    }
    Ok(json_response(200, &json!({})))
}
