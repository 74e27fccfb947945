//! `/verify`: one-time tokens of every kind ([`ProjectAuth::verify_otp`](crate::ProjectAuth::verify_otp),
//! [`ProjectAuth::verify_link`](crate::ProjectAuth::verify_link)); `type` is `signup`,
//! `invite`, `magiclink`, `recovery`, `email_change`, `email` (sign-up or magic link) or
//! `sms`.
//!
//! - `POST /verify` with JSON `{type, token_hash}` (the link token) or
//!   `{type, token, email | phone}` (the code; auth-js' `verifyOtp`): the session, or
//!   403 `otp_expired` (unknown, used, expired, or too many wrong codes).
//! - `GET /verify?token=…&type=…&redirect_to=…` (the email link): by default a page whose
//!   button posts the same fields back as a form (so a scanner's prefetch does not burn
//!   the token); with [`VerifyGetMode::Redirect`] the token is consumed at once.
//! - `POST /verify` with a form body (that page's button): the token is consumed and the
//!   answer is `303` to the allow-listed `redirect_to` with the session in the fragment
//!   (`#access_token=…&expires_at=…&expires_in=…&refresh_token=…&token_type=bearer&type=…`,
//!   GoTrue's implicit flow), or, for a token of a PKCE flow, with `?code=<auth code>` for
//!   `POST /token?grant_type=pkce`; or the error
//!   (`#error=access_denied&error_code=otp_expired&error_description=…`).

use http::{HeaderValue, Response, header};
use serde::Deserialize;

use super::{
    Call, RouteResult, html_escape, is_form, json_response, parse_form, percent_encode, query_value,
};
use crate::error::{AuthError, Result};
use crate::flows::normalize_email;
use crate::flows::one_time::OtpSecret;
use crate::flows::verify::{Verified, VerifyType};
use crate::model::Session;
use crate::service::VerifyGetMode;
use crate::sms::normalize_phone;
use bytes::Bytes;

#[derive(Deserialize)]
struct VerifyBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_hash: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

fn verify_type(kind: &str) -> Result<VerifyType> {
    VerifyType::parse(kind).ok_or_else(|| {
        AuthError::ValidationFailed(
            "Unsupported verification type; use signup, invite, magiclink, recovery, email_change, email or sms"
                .into(),
        )
    })
}

/// `POST /verify` with JSON: `token_hash` (the link token), or `token` with `email` or
/// `phone` (the code), or `token` alone (the link token, as the link carries it).
async fn verify_json(call: &Call<'_>, body: VerifyBody) -> Result<Session> {
    let kind = verify_type(body.kind.as_deref().unwrap_or(""))?;
    let nonempty = |v: Option<String>| v.filter(|t| !t.trim().is_empty());
    let (token_hash, token) = (nonempty(body.token_hash), nonempty(body.token));
    let (email, phone) = (nonempty(body.email), nonempty(body.phone));
    if let Some(hash) = token_hash {
        return call.auth.verify_otp(kind, OtpSecret::Link(&hash)).await;
    }
    let token =
        token.ok_or_else(|| AuthError::ValidationFailed("Verify requires a token or a token hash".into()))?;
    let recipient = match (email, phone) {
        (Some(email), _) => normalize_email(&email)?,
        (None, Some(phone)) => normalize_phone(&phone)?,
        (None, None) if kind == VerifyType::Sms => {
            return Err(AuthError::ValidationFailed("Verify with type sms requires a phone number".into()));
        }
        (None, None) => return call.auth.verify_otp(kind, OtpSecret::Link(&token)).await,
    };
    call.auth.verify_otp(kind, OtpSecret::Code { recipient: &recipient, code: &token }).await
}

pub(crate) async fn verify_post(call: &Call<'_>) -> RouteResult {
    if is_form(call.headers) {
        // The page's form; fields missing from the body come from the query.
        let mut fields = parse_form(&String::from_utf8_lossy(call.body));
        fields.extend(call.query.iter().cloned());
        return Ok(redirect_flow(call, &fields).await);
    }
    let body: VerifyBody = call.json()?;
    let session = verify_json(call, body).await?;
    Ok(json_response(200, &session))
}

pub(crate) async fn verify_get(call: &Call<'_>) -> RouteResult {
    match call.config.verify_get {
        VerifyGetMode::Redirect => Ok(redirect_flow(call, &call.query).await),
        VerifyGetMode::ConfirmPage => Ok(confirm_page(call)),
    }
}

/// Consumes the token named by `fields` and redirects with the outcome in the fragment.
async fn redirect_flow(call: &Call<'_>, fields: &[(String, String)]) -> Response<Bytes> {
    let kind = query_value(fields, "type").unwrap_or("");
    let token = query_value(fields, "token")
        .filter(|t| !t.is_empty())
        .or_else(|| query_value(fields, "token_hash"))
        .unwrap_or("");
    let target = call.allowed_redirect(query_value(fields, "redirect_to"));
    let outcome = match verify_type(kind) {
        Ok(t) => call.auth.verify_link(t, token).await,
        Err(e) => Err(e),
    };
    let fragment = match outcome {
        Ok(Verified::AuthCode(code)) => {
            let sep = if target.contains('?') { '&' } else { '?' };
            return super::redirect(&format!("{target}{sep}code={}", percent_encode(&code)));
        }
        Ok(Verified::Session(s)) => format!(
            "access_token={}&expires_at={}&expires_in={}&refresh_token={}&token_type=bearer&type={}",
            percent_encode(&s.access_token),
            s.expires_at,
            s.expires_in,
            percent_encode(&s.refresh_token),
            percent_encode(kind),
        ),
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(error = %e, "verification failed");
            }
            let (error, description) = match &e {
                AuthError::OtpExpired => ("access_denied", "Email link is invalid or has expired".to_owned()),
                AuthError::Core(_) | AuthError::Internal(_) | AuthError::Hook(_) => {
                    ("server_error", "Unexpected failure".to_owned())
                }
                e => ("access_denied", e.to_string()),
            };
            format!(
                "error={error}&error_code={}&error_description={}",
                e.code(),
                percent_encode(&description)
            )
        }
    };
    super::redirect(&format!("{target}#{fragment}"))
}

/// The page `GET /verify` answers by default: a button that posts the link's fields.
fn confirm_page(call: &Call<'_>) -> Response<Bytes> {
    let mut inputs = String::new();
    for name in ["token", "token_hash", "type", "redirect_to", "apikey"] {
        if let Some(value) = call.query(name) {
            inputs.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                html_escape(value)
            ));
        }
    }
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>Continue</title></head>\
         <body><form method=\"post\">{inputs}<button type=\"submit\">Continue</button></form></body></html>"
    );
    let mut res = Response::new(Bytes::from(page));
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    res
}
