//! `POST /signup`: email + password sign-up ([`ProjectAuth::signup`](crate::ProjectAuth::signup)),
//! phone + password ([`ProjectAuth::signup_phone`](crate::ProjectAuth::signup_phone)), or,
//! with neither email nor phone (auth-js' `signInAnonymously` posts
//! `{data, gotrue_meta_security}`), an anonymous sign-in
//! ([`ProjectAuth::sign_in_anonymously`](crate::ProjectAuth::sign_in_anonymously)), as GoTrue
//! decides. The answer is the session (auto-confirmation, anonymous) or the user object
//! (a confirmation is needed: its token is mailed with `redirect_to`, or its code sent by
//! SMS). `code_challenge` + `code_challenge_method` start a PKCE flow.

use super::{ApiError, Call, RouteResult, UserBody, json_response};
use crate::auth::SignupOutcome;
use crate::error::AuthError;
use crate::flows::pkce::PkceChallenge;
use crate::flows::{check_password, normalize_email};
use crate::limits::Channel;
use crate::sms::normalize_phone;

pub(crate) async fn signup(call: &Call<'_>) -> RouteResult {
    let body: UserBody = call.json()?;
    let email = body.email.filter(|e| !e.is_empty());
    let phone = body.phone.filter(|p| !p.is_empty());
    if email.is_none() && phone.is_none() {
        let session = call.auth.sign_in_anonymously(body.data).await?;
        return Ok(json_response(200, &session));
    }
    let password = body.password.unwrap_or_default();
    if password.is_empty() {
        return Err(ApiError::http(422, "validation_failed", "Signup requires a valid password"));
    }
    let Some(email) = email else {
        call.require_sms()?;
        let phone = phone.unwrap_or_default();
        check_password(&call.auth.config().password, &password)?;
        call.check_send(Channel::Sms, "signup", &normalize_phone(&phone)?).await?;
        return match call.auth.signup_phone(&phone, &password, body.data).await? {
            SignupOutcome::Session(session) => Ok(json_response(200, &session)),
            SignupOutcome::ConfirmationRequired { user, confirmation } => {
                if let Some(token) = confirmation {
                    call.send_sms_hidden(token).await;
                }
                Ok(json_response(200, &user))
            }
        };
    };
    let pkce = PkceChallenge::parse(body.code_challenge.as_deref(), body.code_challenge_method.as_deref())?;
    let config = call.auth.config();
    if !config.autoconfirm {
        // Refusals that need no message come first, so they do not count against the limit.
        if !config.signup_enabled {
            return Err(AuthError::SignupDisabled.into());
        }
        if !config.email_enabled {
            return Err(AuthError::EmailProviderDisabled.into());
        }
        check_password(&config.password, &password)?;
        call.check_send(Channel::Email, "signup", &normalize_email(&email)?).await?;
    }
    match crate::flows::signup::signup(&call.auth, &email, &password, body.data, pkce.as_ref()).await? {
        SignupOutcome::Session(session) => Ok(json_response(200, &session)),
        SignupOutcome::ConfirmationRequired { user, confirmation } => {
            if let Some(token) = confirmation {
                call.send_email_hidden(token, call.redirect_to()).await;
            }
            Ok(json_response(200, &user))
        }
    }
}
