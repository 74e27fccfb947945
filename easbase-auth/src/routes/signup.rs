//! `POST /signup`: email + password sign-up ([`ProjectAuth::signup`](crate::ProjectAuth::signup)),
//! or, with neither email nor phone (auth-js' `signInAnonymously` posts
//! `{data, gotrue_meta_security}`), an anonymous sign-in
//! ([`ProjectAuth::sign_in_anonymously`](crate::ProjectAuth::sign_in_anonymously)), as GoTrue
//! decides. The answer is the session (auto-confirmation, anonymous) or the user object
//! (a confirmation is needed; its token goes to the outbox with `redirect_to`).

use super::{ApiError, Call, RouteResult, UserBody, json_response};
use crate::auth::SignupOutcome;

pub(crate) async fn signup(call: &Call<'_>) -> RouteResult {
    let body: UserBody = call.json()?;
    let email = body.email.filter(|e| !e.is_empty());
    let phone = body.phone.filter(|p| !p.is_empty());
    if email.is_none() && phone.is_none() {
        let session = call.auth.sign_in_anonymously(body.data).await?;
        return Ok(json_response(200, &session));
    }
    let Some(email) = email else {
        return Err(ApiError::http(422, "phone_provider_disabled", "Phone signups are disabled"));
    };
    let password = body.password.unwrap_or_default();
    if password.is_empty() {
        return Err(ApiError::http(422, "validation_failed", "Signup requires a valid password"));
    }
    match call.auth.signup(&email, &password, body.data).await? {
        SignupOutcome::Session(session) => Ok(json_response(200, &session)),
        SignupOutcome::ConfirmationRequired { user, confirmation } => {
            if let Some(token) = confirmation {
                call.config.deliver(call.auth.project(), token, call.redirect_to());
            }
            Ok(json_response(200, &user))
        }
    }
}
