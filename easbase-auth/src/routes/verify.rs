//! `/verify`: one-time tokens of sign-up confirmation, recovery and email change
//! ([`ProjectAuth::confirm_email`](crate::ProjectAuth::confirm_email),
//! [`ProjectAuth::verify_recovery`](crate::ProjectAuth::verify_recovery),
//! [`ProjectAuth::confirm_email_change`](crate::ProjectAuth::confirm_email_change)).
//!
//! - `POST /verify` with JSON `{type, token_hash | token, email?}` (auth-js' `verifyOtp`):
//!   the session, or 403 `otp_expired`.
//! - `GET /verify?token=…&type=…&redirect_to=…` (the email link): by default a page whose
//!   button posts the same fields back as a form (so a scanner's prefetch does not burn
//!   the token); with [`VerifyGetMode::Redirect`] the token is consumed at once.
//! - `POST /verify` with a form body (that page's button): the token is consumed and the
//!   answer is `303` to the allow-listed `redirect_to` with the session in the fragment
//!   (`#access_token=…&expires_at=…&expires_in=…&refresh_token=…&token_type=bearer&type=…`)
//!   or the error (`#error=access_denied&error_code=otp_expired&error_description=…`),
//!   GoTrue's implicit flow.

use http::{HeaderValue, Response, header};
use serde::Deserialize;

use super::{
    Call, RouteResult, html_escape, is_form, json_response, parse_form, percent_encode, query_value,
};
use crate::error::{AuthError, Result};
use crate::model::Session;
use crate::service::VerifyGetMode;
use bytes::Bytes;

#[derive(Deserialize)]
struct VerifyBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_hash: Option<String>,
}

/// Consumes `token` of verification type `kind`.
async fn consume(call: &Call<'_>, kind: &str, token: &str) -> Result<Session> {
    match kind {
        "signup" | "email" => call.auth.confirm_email(token).await,
        "recovery" => call.auth.verify_recovery(token).await,
        "email_change" => call.auth.confirm_email_change(token).await,
        _ => Err(AuthError::ValidationFailed(
            "Unsupported verification type; use signup, recovery or email_change".into(),
        )),
    }
}

pub(crate) async fn verify_post(call: &Call<'_>) -> RouteResult {
    if is_form(call.headers) {
        // The page's form; fields missing from the body come from the query.
        let mut fields = parse_form(&String::from_utf8_lossy(call.body));
        fields.extend(call.query.iter().cloned());
        return Ok(redirect_flow(call, &fields).await);
    }
    let body: VerifyBody = call.json()?;
    let kind = body.kind.unwrap_or_default();
    let token = body.token_hash.filter(|t| !t.is_empty()).or(body.token).unwrap_or_default();
    let session = consume(call, &kind, &token).await?;
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
    let target = super::allowed_redirect(
        &call.auth.config().site_url,
        &call.config.redirect_urls,
        query_value(fields, "redirect_to"),
    );
    let fragment = match consume(call, kind, token).await {
        Ok(s) => format!(
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
