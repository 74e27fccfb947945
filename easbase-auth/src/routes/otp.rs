//! `POST /otp` (`{email | phone, create_user?, data?, code_challenge?,
//! code_challenge_method?, channel?}`, auth-js' `signInWithOtp`) and `POST /resend`
//! (`{type, email | phone, code_challenge?, code_challenge_method?}`, auth-js'
//! `resend`). Both answer `200 {}` whether or not a message went out, so they do not
//! tell registered addresses and numbers from others (see `flows/otp.rs`).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiError, Call, RouteResult, json_response};
use crate::error::AuthError;
use crate::flows::normalize_email;
use crate::flows::otp::ResendType;
use crate::flows::pkce::PkceChallenge;
use crate::limits::Channel;
use crate::sms::normalize_phone;

#[derive(Deserialize)]
struct OtpBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    create_user: Option<bool>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

fn pkce(body: &OtpBody) -> Result<Option<PkceChallenge>, ApiError> {
    Ok(PkceChallenge::parse(body.code_challenge.as_deref(), body.code_challenge_method.as_deref())?)
}

pub(crate) async fn otp(call: &Call<'_>) -> RouteResult {
    let body: OtpBody = call.json()?;
    let create_user = body.create_user.unwrap_or(true);
    if let Some(email) = body.email.as_deref().filter(|e| !e.is_empty()) {
        let pkce = pkce(&body)?;
        let email = normalize_email(email)?;
        if !call.auth.config().email_enabled {
            return Err(AuthError::EmailProviderDisabled.into());
        }
        call.check_send(Channel::Email, "otp", &email).await?;
        if let Some(token) = call.auth.send_email_otp(&email, create_user, body.data, pkce.as_ref()).await? {
            call.send_email_hidden(token, call.redirect_to()).await;
        }
        return Ok(json_response(200, &json!({})));
    }
    if let Some(phone) = body.phone.as_deref().filter(|p| !p.is_empty()) {
        if body.channel.as_deref().is_some_and(|c| c != "sms") {
            return Err(ApiError::http(400, "validation_failed", "Only the sms channel is supported"));
        }
        call.require_sms()?;
        let phone = normalize_phone(phone)?;
        call.check_send(Channel::Sms, "otp", &phone).await?;
        if let Some(token) = call.auth.send_phone_otp(&phone, create_user, body.data).await? {
            call.send_sms_hidden(token).await;
        }
        return Ok(json_response(200, &json!({})));
    }
    Err(AuthError::ValidationFailed("You must provide either an email or phone number.".into()).into())
}

pub(crate) async fn resend(call: &Call<'_>) -> RouteResult {
    let body: OtpBody = call.json()?;
    let kind = body.kind.as_deref().and_then(ResendType::parse).ok_or_else(|| {
        AuthError::ValidationFailed("Missing one of these types: signup, email_change, sms".into())
    })?;
    let pkce = pkce(&body)?;
    if kind == ResendType::Sms {
        call.require_sms()?;
        let phone = normalize_phone(body.phone.as_deref().unwrap_or(""))?;
        call.check_send(Channel::Sms, "otp", &phone).await?;
        if let Some(token) = call.auth.resend(kind, &phone, None).await? {
            call.send_sms_hidden(token).await;
        }
    } else {
        let email = normalize_email(body.email.as_deref().unwrap_or(""))?;
        let group = if kind == ResendType::Signup { "signup" } else { "email_change" };
        call.check_send(Channel::Email, group, &email).await?;
        if let Some(token) = call.auth.resend(kind, &email, pkce.as_ref()).await? {
            call.send_email_hidden(token, call.redirect_to()).await;
        }
    }
    Ok(json_response(200, &json!({})))
}
