//! `GET /authorize?provider=…&redirect_to=…[&scopes=…][&code_challenge=…&code_challenge_method=…][&skip_http_redirect=true]`,
//! `GET /user/identities/authorize?provider=…` (the same with the user's token: the
//! callback links the account to that user; auth-js `linkIdentity`), and
//! `GET /callback?code=…&state=…` ([`crate::oauth`]).
//!
//! `/authorize` answers `302 Found` to the provider (or `{"url": …}` with
//! `skip_http_redirect=true`). `/callback` answers `302 Found` to the stored redirect:
//! `#access_token=…&expires_at=…&expires_in=…&provider_token=…&refresh_token=…&token_type=bearer`
//! (implicit flow) or `?code=…` (PKCE flow); a failure after the state was taken goes
//! there as `error`, `error_code` and `error_description` (in the query and the
//! fragment); a bad state is a 400 `bad_oauth_state` (there is no trusted place to go).

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;

use easbase_core::context::{ProjectId, RequestContext};
use easbase_core::project::{Platform, ProjectStatus};
use easbase_core::schema::Role;

use super::{ApiError, Call, RouteResult, json_response, percent_encode};
use crate::error::AuthError;
use crate::flows::oauth::{CallbackOutcome, project_of_state};
use crate::flows::pkce::PkceChallenge;
use crate::oauth::OAuthSettings;
use crate::service::AuthServiceConfig;

/// The service's OAuth settings with the project's own providers (its
/// [`ProjectSettings::providers`](crate::settings::ProjectSettings::providers)) added.
/// Those need the service's settings too, for the HTTP client and the callback URL.
fn settings<'a>(call: &'a Call<'_>) -> Result<Cow<'a, OAuthSettings>, ApiError> {
    let service = call
        .config
        .oauth
        .as_deref()
        .ok_or_else(|| ApiError::from(AuthError::ProviderDisabled("provider is not enabled".into())))?;
    let own = call.auth.own_providers();
    if own.is_empty() {
        return Ok(Cow::Borrowed(service));
    }
    let mut settings = service.clone();
    let entry = settings.project_providers.entry(call.auth.project().clone()).or_default();
    for (name, provider) in own {
        entry.insert(name.clone(), provider.clone());
    }
    Ok(Cow::Owned(settings))
}

/// A `302 Found` to `location`.
fn found(location: &str) -> Response<Bytes> {
    let mut res = super::redirect(location);
    if res.status() == StatusCode::SEE_OTHER {
        *res.status_mut() = StatusCode::FOUND;
    }
    res
}

/// The service's callback URL as providers know it.
async fn callback_url(call: &Call<'_>, settings: &OAuthSettings) -> Result<String, ApiError> {
    if let Some(url) = &settings.callback_url {
        return Ok(url.clone());
    }
    if let Some(external) = &call.config.external_url {
        return Ok(format!("{}/callback", external.trim_end_matches('/')));
    }
    let project = call.platform.project(call.auth.project()).await.map_err(AuthError::from)?;
    Ok(format!("{}/auth/v1/callback", project.api_url.trim_end_matches('/')))
}

pub(crate) async fn authorize(call: &Call<'_>) -> RouteResult {
    start(call, false).await
}

/// `GET /user/identities/authorize` (auth-js `linkIdentity`): as `/authorize`, with the
/// user's token; the callback links the provider account to that user.
pub(crate) async fn link_identity(call: &Call<'_>) -> RouteResult {
    start(call, true).await
}

async fn start(call: &Call<'_>, link: bool) -> RouteResult {
    let settings = settings(call)?;
    let Some(provider) = call.query("provider").map(str::trim).filter(|p| !p.is_empty()) else {
        return Err(AuthError::ValidationFailed("Unsupported provider: missing provider".into()).into());
    };
    let redirect_to = call.redirect_to().unwrap_or_else(|| call.auth.config().site_url.clone());
    let pkce = PkceChallenge::parse(call.query("code_challenge"), call.query("code_challenge_method"))?;
    let callback = callback_url(call, &settings).await?;
    let scopes = call.query("scopes");
    let auth = &call.auth;
    let start = if link {
        let ctx = call.user_ctx()?;
        auth.link_identity_oauth(ctx, &settings, provider, &callback, &redirect_to, scopes, pkce).await?
    } else {
        auth.authorize_oauth(&settings, provider, &callback, &redirect_to, scopes, pkce).await?
    };
    if call.query("skip_http_redirect") == Some("true") {
        return Ok(json_response(200, &json!({ "url": start.url })));
    }
    Ok(found(&start.url))
}

pub(crate) async fn callback(call: &Call<'_>) -> RouteResult {
    let settings = settings(call)?;
    let state = call.query("state").unwrap_or("");
    let record = call.auth.take_oauth_state(&settings, state).await?;
    let target = record.redirect_to.clone();
    let pkce = record.flow_state_id.is_some();
    let outcome = match call.query("error").filter(|e| !e.is_empty()) {
        // The provider's own error (the user denied access, …): passed on, shortened.
        Some(error) => {
            let description = call.query("error_description").unwrap_or(error);
            let description: String = description.chars().filter(|c| !c.is_control()).take(200).collect();
            let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
            return Ok(error_redirect(&target, &error, "bad_oauth_callback", &description));
        }
        None => {
            let code = call.query("code").unwrap_or("");
            let callback = callback_url(call, &settings).await?;
            call.auth.finish_oauth(&settings, state, record, code, &callback).await
        }
    };
    match outcome {
        Ok(CallbackOutcome::Code { code, redirect_to }) => {
            let sep = if redirect_to.contains('?') { '&' } else { '?' };
            Ok(found(&format!("{redirect_to}{sep}code={}", percent_encode(&code))))
        }
        Ok(CallbackOutcome::Session { session, redirect_to, provider_token, provider_refresh_token }) => {
            let mut fragment = format!(
                "access_token={}&expires_at={}&expires_in={}&provider_token={}",
                percent_encode(&session.access_token),
                session.expires_at,
                session.expires_in,
                percent_encode(&provider_token),
            );
            if let Some(refresh) = provider_refresh_token {
                fragment.push_str(&format!("&provider_refresh_token={}", percent_encode(&refresh)));
            }
            fragment.push_str(&format!(
                "&refresh_token={}&token_type=bearer",
                percent_encode(&session.refresh_token)
            ));
            Ok(found(&format!("{redirect_to}#{fragment}")))
        }
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(error = %e, pkce, "OAuth callback failed");
            }
            let (error, description) = match &e {
                AuthError::Core(_) | AuthError::Internal(_) | AuthError::Hook(_) => {
                    ("server_error", "Unexpected failure".to_owned())
                }
                AuthError::OAuthProvider(_) => ("server_error", e.to_string()),
                e => ("access_denied", e.to_string()),
            };
            Ok(error_redirect(&target, error, e.code(), &description))
        }
    }
}

/// A redirect carrying an error in the query (PKCE clients read it there) and the
/// fragment (implicit clients).
fn error_redirect(target: &str, error: &str, code: &str, description: &str) -> Response<Bytes> {
    let fields = format!(
        "error={}&error_code={}&error_description={}",
        percent_encode(error),
        percent_encode(code),
        percent_encode(description)
    );
    let sep = if target.contains('?') { '&' } else { '?' };
    let mut res = found(&format!("{target}{sep}{fields}#{fields}"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The context of a request without an API key: `/callback`'s project comes from its
/// `state`, `/authorize`'s from [`OAuthSettings::default_project`].
pub(crate) async fn keyless_context(
    platform: &Platform,
    config: &AuthServiceConfig,
    query: &[(String, String)],
    callback: bool,
) -> Result<RequestContext, ApiError> {
    let project = if callback {
        let state = super::query_value(query, "state").unwrap_or("");
        project_of_state(state).and_then(|p| ProjectId::new(p).ok()).ok_or(AuthError::BadOAuthState)?
    } else {
        config
            .oauth
            .as_ref()
            .and_then(|o| o.default_project.clone())
            .ok_or_else(|| ApiError::http(401, "no_api_key", "No API key found in request"))?
    };
    let found = match platform.project(&project).await {
        Ok(found) => found,
        Err(easbase_core::Error::ProjectNotFound(_)) if callback => {
            return Err(AuthError::BadOAuthState.into());
        }
        Err(e) => return Err(AuthError::from(e).into()),
    };
    if found.status != ProjectStatus::Ready {
        return Err(ApiError::http(503, "project_paused", "The project is paused"));
    }
    Ok(RequestContext::new(project, Role::Anon, serde_json::Map::new(), None))
}
