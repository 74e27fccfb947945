//! `POST /token?grant_type=password` (`{email, password}`,
//! [`ProjectAuth::password_grant`](crate::ProjectAuth::password_grant)) and
//! `?grant_type=refresh_token` (`{refresh_token}`,
//! [`ProjectAuth::refresh`](crate::ProjectAuth::refresh)) and `?grant_type=pkce`
//! (`{auth_code, code_verifier}`,
//! [`ProjectAuth::exchange_code_for_session`](crate::ProjectAuth::exchange_code_for_session)):
//! the session. Another grant type gets GoTrue's OAuth-shaped `unsupported_grant_type`.

use serde::Deserialize;

use super::{ApiError, Call, RouteResult, json_response};
use crate::error::AuthError;

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
            if let (None, Some(phone)) = (&email, body.phone.as_deref().filter(|p| !p.is_empty())) {
                let password = body.password.as_deref().unwrap_or("");
                let session = crate::flows::password::password_grant_for(
                    &call.auth,
                    crate::flows::password::Login::Phone(phone),
                    password,
                )
                .await?;
                return Ok(json_response(200, &session));
            }
            let Some(email) = email else {
                return Err(AuthError::ValidationFailed("missing email or phone".into()).into());
            };
            call.auth.password_grant(&email, body.password.as_deref().unwrap_or("")).await?
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
