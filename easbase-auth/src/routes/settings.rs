//! `GET /settings` (what auth-js and dashboards read: the providers on and off,
//! `disable_signup`, `mailer_autoconfirm`, …) and `GET /health`.

use serde_json::json;

use super::{Call, RouteResult, json_response};

/// The external providers GoTrue lists; on when the service's OAuth settings or the
/// project's settings have them.
const EXTERNAL: &[&str] = &[
    "apple",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "figma",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "kakao",
    "linkedin",
    "linkedin_oidc",
    "notion",
    "slack",
    "slack_oidc",
    "spotify",
    "twitch",
    "twitter",
    "workos",
    "zoom",
    "phone",
    "saml",
];

pub(crate) fn settings(call: &Call<'_>) -> RouteResult {
    let config = call.auth.config();
    let mut external = serde_json::Map::new();
    for provider in EXTERNAL {
        external.insert((*provider).into(), false.into());
    }
    // The OAuth providers the project has, GoTrue's names or the host's own.
    for name in call.config.oauth.iter().flat_map(|o| o.provider_names(call.auth.project())) {
        external.insert(name, true.into());
    }
    // The project's own providers (they need the service's OAuth client to work).
    if call.config.oauth.is_some() {
        for (name, _) in call.auth.own_providers() {
            external.insert(name.clone(), true.into());
        }
    }
    external.insert("email".into(), config.email_enabled.into());
    external.insert("anonymous_users".into(), config.anonymous_enabled.into());
    let phone = config.phone_enabled && call.config.sms.is_some();
    external.insert("phone".into(), phone.into());
    Ok(json_response(
        200,
        &json!({
            "external": external,
            "disable_signup": !config.signup_enabled,
            "mailer_autoconfirm": config.autoconfirm,
            "phone_autoconfirm": phone && config.autoconfirm,
            "sms_provider": if phone { "custom" } else { "" },
            "saml_enabled": false,
        }),
    ))
}

pub(crate) fn health(_call: &Call<'_>) -> RouteResult {
    Ok(json_response(
        200,
        &json!({
            "version": env!("CARGO_PKG_VERSION"),
            "name": "easbase-auth",
            "description": "EasBase Auth: GoTrue-compatible user registration and authentication",
        }),
    ))
}
