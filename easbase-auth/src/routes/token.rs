//! `POST /token?grant_type=password` (`{email, password}`,
//! [`ProjectAuth::password_grant`](crate::ProjectAuth::password_grant)) and
//! `?grant_type=refresh_token` (`{refresh_token}`,
//! [`ProjectAuth::refresh`](crate::ProjectAuth::refresh)) and `?grant_type=pkce`
//! (`{auth_code, code_verifier}`,
//! [`ProjectAuth::exchange_code_for_session`](crate::ProjectAuth::exchange_code_for_session)):
//! the session. Another grant type gets GoTrue's OAuth-shaped `unsupported_grant_type`.
//! Password grants are throttled per account after repeated failures
//! ([`RateLimits::failed_logins`](crate::RateLimits::failed_logins)).

use serde::Deserialize;

use super::{ApiError, Call, RouteResult, json_response};
use crate::error::AuthError;
use crate::flows::password::Login;

#[derive(Deserialize)]
struct PasswordBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct PkceBody {
    #[serde(default)]
    auth_code: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
}

#[derive(Deserialize)]
struct RefreshBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

pub(crate) async fn token(call: &Call<'_>) -> RouteResult {
    let session = match call.query("grant_type") {
        Some("password") => {
            let body: PasswordBody = call.json()?;
            let email = body.email.filter(|e| !e.is_empty());
            let phone = body.phone.filter(|p| !p.is_empty());
            let (login, account) = match (&email, &phone) {
                (Some(email), _) => (Login::Email(email), crate::flows::normalize_email(email).ok()),
                (None, Some(phone)) => (Login::Phone(phone), crate::sms::normalize_phone(phone).ok()),
                (None, None) => {
                    return Err(AuthError::ValidationFailed("missing email or phone".into()).into());
                }
            };
            let password = body.password.as_deref().unwrap_or("");
            call.password_grant_throttled(login, account.as_deref(), password).await?
        }
        Some("refresh_token") => {
            let body: RefreshBody = call.json()?;
            call.auth.refresh(body.refresh_token.as_deref().unwrap_or("")).await?
        }
        Some("pkce") => {
            let body: PkceBody = call.json()?;
            call.auth
                .exchange_code_for_session(
                    body.auth_code.as_deref().unwrap_or(""),
                    body.code_verifier.as_deref().unwrap_or(""),
                )
                .await?
        }
        _ => {
            return Err(ApiError::OAuth {
                error: "unsupported_grant_type",
                description: "grant_type must be password, refresh_token or pkce".into(),
            });
        }
    };
    Ok(json_response(200, &session))
}
