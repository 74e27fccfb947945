//! The admin routes, with the project's secret key (the service role) only — auth-js'
//! `auth.admin`:
//!
//! | route | body / query | answer |
//! |---|---|---|
//! | `GET /admin/users` | `?page=1&per_page=50` | `{users, aud}`, `X-Total-Count`, `Link` (`rel="next"`, `rel="last"`) |
//! | `POST /admin/users` | `{email?, phone?, password?, email_confirm?, phone_confirm?, user_metadata?, app_metadata?, ban_duration?}` | the user |
//! | `GET /admin/users/{id}` | — | the user |
//! | `PUT /admin/users/{id}` | as `POST` | the user |
//! | `DELETE /admin/users/{id}` | `{should_soft_delete?}` | `{}` |
//! | `GET /admin/users/{id}/factors` | — | the user's MFA factors (an array) |
//! | `DELETE /admin/users/{id}/factors/{factor}` | — | the removed factor |
//! | `POST /invite` | `{email, data?}`, `?redirect_to=` | the invited user; the invitation is mailed |
//! | `POST /admin/generate_link` | `{type, email, password?, data?, new_email?, redirect_to?}` | the user with `action_link`, `email_otp`, `hashed_token`, `redirect_to`, `verification_type` |
//!
//! Without a bearer token: 401 `no_authorization`; with the publishable key or a user's
//! token: 403 `not_admin`, as GoTrue answers. An unknown user is 404 `user_not_found`.

use http::{HeaderValue, Method};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiError, Call, RouteResult, json_response};
use crate::error::AuthError;
use crate::flows::admin::{AdminUserAttributes, LinkType};
use crate::flows::pkce::PkceChallenge;
use easbase_core::schema::Role;

#[derive(Deserialize)]
struct UserAttributes {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    email_confirm: Option<bool>,
    #[serde(default)]
    phone_confirm: Option<bool>,
    #[serde(default)]
    user_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    app_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    ban_duration: Option<String>,
}

impl From<UserAttributes> for AdminUserAttributes {
    fn from(a: UserAttributes) -> AdminUserAttributes {
        let mut attrs = AdminUserAttributes::new();
        attrs.email = a.email;
        attrs.phone = a.phone;
        attrs.password = a.password;
        attrs.email_confirm = a.email_confirm;
        attrs.phone_confirm = a.phone_confirm;
        attrs.user_metadata = a.user_metadata;
        attrs.app_metadata = a.app_metadata;
        attrs.ban_duration = a.ban_duration;
        attrs
    }
}

#[derive(Deserialize)]
struct DeleteBody {
    #[serde(default)]
    should_soft_delete: bool,
}

#[derive(Deserialize)]
struct LinkBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    new_email: Option<String>,
    #[serde(default)]
    redirect_to: Option<String>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
}

/// Admin errors as GoTrue shows them (a missing user is 404 here, not 403).
fn admin_error(e: AuthError) -> ApiError {
    match e {
        AuthError::UserNotFound => ApiError::http(404, "user_not_found", "User not found"),
        e => ApiError::Auth(e),
    }
}

pub(crate) async fn admin(call: &Call<'_>, path: &str, method: &Method) -> RouteResult {
    if call.ctx.role() != Role::Service {
        return Err(if call.headers.get("authorization").is_none() {
            ApiError::http(401, "no_authorization", "This endpoint requires a Bearer token")
        } else {
            ApiError::http(403, "not_admin", "User not allowed")
        });
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (segments.as_slice(), method) {
        (["admin", "users"], &Method::GET) => list(call).await,
        (["admin", "users"], &Method::POST) => {
            let attrs: UserAttributes = call.json()?;
            let user = call.auth.admin_create_user(attrs.into()).await.map_err(admin_error)?;
            Ok(json_response(200, &user))
        }
        (["admin", "users", id], &Method::GET) => {
            Ok(json_response(200, &call.auth.admin_get_user(id).await.map_err(admin_error)?))
        }
        (["admin", "users", id], &Method::PUT) => {
            let attrs: UserAttributes = call.json()?;
            let user = call.auth.admin_update_user(id, attrs.into()).await.map_err(admin_error)?;
            Ok(json_response(200, &user))
        }
        (["admin", "users", id], &Method::DELETE) => {
            let body: Option<DeleteBody> = if call.body.is_empty() { None } else { call.json()? };
            let soft = body.is_some_and(|b| b.should_soft_delete);
            call.auth.admin_delete_user(id, soft).await.map_err(admin_error)?;
            Ok(json_response(200, &json!({})))
        }
        (["admin", "generate_link"], &Method::POST) => generate_link(call).await,
        (["admin", "users", id, "factors"], &Method::GET) => {
            super::factors::admin_factors(call, id, None).await
        }
        (["admin", "users", id, "factors", factor], &Method::DELETE) => {
            super::factors::admin_factors(call, id, Some(factor)).await
        }
        (["invite"], &Method::POST) => invite(call).await,
        (["admin", "users"] | ["admin", "users", _] | ["admin", "generate_link"] | ["invite"], _) => {
            Err(ApiError::http(405, "method_not_allowed", "Method Not Allowed"))
        }
        _ => Err(ApiError::http(404, "not_found", "Not Found")),
    }
}

fn number(call: &Call<'_>, name: &str, default: u64) -> Result<u64, ApiError> {
    match call.query(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::http(400, "validation_failed", "Bad Pagination Parameters")),
    }
}

async fn list(call: &Call<'_>) -> RouteResult {
    let page = number(call, "page", 1)?;
    let per_page = number(call, "per_page", 50)?.min(1000);
    let (users, total) = call.auth.admin_list_users(page, per_page).await?;
    let mut res = json_response(200, &json!({ "users": users, "aud": "authenticated" }));
    let last = total.div_ceil(per_page).max(1);
    let mut links = Vec::new();
    if page < last {
        links.push(format!("</admin/users?page={}&per_page={per_page}>; rel=\"next\"", page + 1));
    }
    links.push(format!("</admin/users?page={last}&per_page={per_page}>; rel=\"last\""));
    let headers = res.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(total));
    if let Ok(link) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert(http::header::LINK, link);
    }
    Ok(res)
}

/// `POST /invite` (auth-js' `inviteUserByEmail`): creates the user and mails the invitation.
async fn invite(call: &Call<'_>) -> RouteResult {
    let body: LinkBody = call.json()?;
    let email = body.email.as_deref().unwrap_or("");
    let (user, token) = call
        .auth
        .admin_generate_link(LinkType::Invite, email, None, body.data, None, None)
        .await
        .map_err(admin_error)?;
    call.send_email(token, call.redirect_to()).await?;
    Ok(json_response(200, &user))
}

async fn generate_link(call: &Call<'_>) -> RouteResult {
    let body: LinkBody = call.json()?;
    let kind = body.kind.as_deref().and_then(LinkType::parse).ok_or_else(|| {
        AuthError::ValidationFailed(
            "Invalid type: use signup, invite, magiclink, recovery, email_change_current or email_change_new"
                .into(),
        )
    })?;
    let pkce = PkceChallenge::parse(body.code_challenge.as_deref(), body.code_challenge_method.as_deref())?;
    let (user, token) = call
        .auth
        .admin_generate_link(
            kind,
            body.email.as_deref().unwrap_or(""),
            body.password.as_deref(),
            body.data,
            body.new_email.as_deref(),
            pkce.as_ref(),
        )
        .await
        .map_err(admin_error)?;
    let redirect_to =
        call.allowed_redirect(body.redirect_to.as_deref().or_else(|| call.query("redirect_to")));
    let action_link = call.verify_link(&token, Some(&redirect_to)).await?;
    let mut out = match serde_json::to_value(&user) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    out.insert("action_link".into(), action_link.into());
    out.insert("email_otp".into(), token.code.clone().into());
    out.insert("hashed_token".into(), token.token.clone().into());
    out.insert("redirect_to".into(), redirect_to.into());
    out.insert("verification_type".into(), super::delivery::verify_type(token.kind).into());
    Ok(json_response(200, &out))
}
