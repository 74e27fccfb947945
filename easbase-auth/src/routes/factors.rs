//! The MFA routes, all with the user's access token ([`crate::flows::mfa`]):
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /factors` | `{factor_type: "totp", friendly_name?, issuer?}` | `{id, type, friendly_name, totp: {qr_code, secret, uri}}` |
//! | `POST /factors/{id}/challenge` | none | `{id, type, expires_at}` |
//! | `POST /factors/{id}/verify` | `{challenge_id, code}` | a session (token response) at `aal2` |
//! | `DELETE /factors/{id}` | none | `{id}` |
//! | `GET /factors/recovery-codes` | none | `{type: "recovery_code", total, remaining}` |
//! | `POST /factors/recovery-codes` | none | `{type: "recovery_code", codes: [...]}` (once) |
//! | `POST /factors/recovery-codes/regenerate` | none | a new set, the old one voided |
//! | `POST /factors/recovery-codes/verify` | `{code}` | a session at `aal2` |
//! | `DELETE /factors/recovery-codes` | none | `{type: "recovery_code"}` |
//!
//! The recovery-code routes follow GoTrue's experimental ones. A challenge is bound to
//! the client's IP as the service knows it
//! ([`AuthServiceConfig::client_ip_header`](crate::AuthServiceConfig::client_ip_header)
//! or a [`ClientIp`](crate::ClientIp) extension; none: every client is the same).

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Call, RouteResult, json_response};
use crate::flows::mfa::EnrollFactor;

#[derive(Deserialize, Default)]
struct EnrollBody {
    #[serde(default)]
    factor_type: Option<String>,
    #[serde(default)]
    friendly_name: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
}

#[derive(Deserialize, Default)]
struct VerifyBody {
    #[serde(default)]
    challenge_id: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// The client address a challenge is bound to (empty when the host does not tell it).
fn client_ip(call: &Call<'_>) -> String {
    call.ip.map(|ip| ip.to_string()).unwrap_or_default()
}

/// A JSON body, where an empty body is the default.
fn body<T: for<'de> Deserialize<'de> + Default>(call: &Call<'_>) -> Result<T, ApiError> {
    if call.body.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { call.json() }
}

/// `GET /admin/users/{user}/factors` (the factors, a JSON array) and
/// `DELETE /admin/users/{user}/factors/{factor}` (the removed factor), with the secret
/// key: called from the admin routes once the caller is known to be the service role.
pub(crate) async fn admin_factors(call: &Call<'_>, user: &str, factor: Option<&str>) -> RouteResult {
    let not_found = |e: crate::AuthError| match e {
        crate::AuthError::UserNotFound => ApiError::http(404, "user_not_found", "User not found"),
        e => ApiError::Auth(e),
    };
    match factor {
        None => Ok(json_response(200, &call.auth.admin_list_factors(user).await.map_err(not_found)?)),
        Some(factor) => {
            Ok(json_response(200, &call.auth.admin_delete_factor(user, factor).await.map_err(not_found)?))
        }
    }
}

/// Whether `path` is one of these routes (for the service's dispatch).
pub(crate) fn is_factors_path(path: &str) -> bool {
    path == "/factors" || path.starts_with("/factors/")
}

pub(crate) async fn factors(call: &Call<'_>, path: &str, method: &Method) -> RouteResult {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
    let known = matches!(
        segments.as_slice(),
        [] | ["recovery-codes"]
            | ["recovery-codes", "verify" | "regenerate"]
            | [_]
            | [_, "challenge" | "verify"]
    );
    if !known {
        return Err(ApiError::http(404, "not_found", "Not Found"));
    }
    let ctx = call.user_ctx()?;
    let auth = &call.auth;
    match (segments.as_slice(), method) {
        ([], &Method::POST) => {
            let b: EnrollBody = body(call)?;
            let params = EnrollFactor {
                factor_type: b.factor_type.unwrap_or_default(),
                friendly_name: b.friendly_name,
                issuer: b.issuer,
            };
            Ok(json_response(200, &auth.enroll_factor(ctx, params).await?))
        }
        (["recovery-codes"], &Method::GET) => Ok(json_response(200, &auth.recovery_codes_status(ctx).await?)),
        (["recovery-codes"], &Method::POST) => {
            Ok(json_response(200, &auth.generate_recovery_codes(ctx, false).await?))
        }
        (["recovery-codes", "regenerate"], &Method::POST) => {
            Ok(json_response(200, &auth.generate_recovery_codes(ctx, true).await?))
        }
        (["recovery-codes"], &Method::DELETE) => {
            auth.delete_recovery_codes(ctx).await?;
            Ok(json_response(200, &json!({ "type": "recovery_code" })))
        }
        (["recovery-codes", "verify"], &Method::POST) => {
            let b: VerifyBody = body(call)?;
            Ok(json_response(200, &auth.verify_recovery_code(ctx, b.code.as_deref().unwrap_or("")).await?))
        }
        ([id, "challenge"], &Method::POST) => {
            Ok(json_response(200, &auth.challenge_factor(ctx, id, &client_ip(call)).await?))
        }
        ([id, "verify"], &Method::POST) => {
            let b: VerifyBody = body(call)?;
            let Some(challenge_id) = b.challenge_id.filter(|c| !c.is_empty()) else {
                return Err(crate::AuthError::ValidationFailed("challenge_id required".into()).into());
            };
            let code = b.code.unwrap_or_default();
            let ip = client_ip(call);
            Ok(json_response(200, &auth.verify_factor(ctx, id, &challenge_id, &code, &ip).await?))
        }
        ([id], &Method::DELETE) if *id != "recovery-codes" => {
            Ok(json_response(200, &json!({ "id": auth.unenroll_factor(ctx, id).await? })))
        }
        _ => Err(ApiError::http(405, "method_not_allowed", "Method Not Allowed")),
    }
}
