//! [`Provider`] and its configured implementation [`ProviderConfig`] (Google, GitHub,
//! generic OIDC with configured endpoints).

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, Request, header};
use serde_json::{Map, Value, json};

use super::HttpClient;
use crate::error::{AuthError, Result};
use crate::routes::percent_encode;

/// What a provider says about the user who signed in.
#[derive(Clone, PartialEq)]
pub struct ProviderUser {
    /// The user's stable id at the provider (`sub`, GitHub's numeric id).
    pub id: String,
    /// The user's address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider verified `email` (only then is it linked or confirmed).
    pub email_verified: bool,
    /// The profile (GoTrue's identity data: `sub`, `email`, `email_verified`, `name`,
    /// `full_name`, `avatar_url`, `picture`, `preferred_username`, `iss`, …).
    pub data: Map<String, Value>,
    /// The provider's access token (handed to the client as `provider_token`).
    pub access_token: String,
    /// The provider's refresh token, if any (`provider_refresh_token`).
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for ProviderUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .finish_non_exhaustive()
    }
}

/// An OAuth 2 / OIDC provider: where to send the browser, and how to turn the code it
/// comes back with into a [`ProviderUser`]. [`ProviderConfig`] covers Google, GitHub and
/// OIDC providers; implement it for others.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The name in `/authorize?provider=…` and in identities (`google`, `github`, …).
    fn name(&self) -> &str;

    /// The provider's authorization URL for this sign-in: `redirect_uri` (the service's
    /// callback), `state`, the S256 PKCE `code_challenge`, and extra `scopes` the client
    /// asked for (space separated).
    fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        scopes: Option<&str>,
    ) -> String;

    /// Exchanges `code` (with the PKCE `code_verifier`) and fetches the user's profile.
    ///
    /// # Errors
    /// [`AuthError::OAuthProvider`] when the provider cannot be reached, refuses the code
    /// or answers without a user id.
    async fn user(
        &self,
        http: &dyn HttpClient,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<ProviderUser>;
}

/// How a [`ProviderConfig`] reads the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderKind {
    /// OpenID Connect userinfo claims (`sub`, `email`, `email_verified`, `name`, `picture`).
    Oidc,
    /// Google (OIDC claims).
    Google,
    /// GitHub: `/user`, and `/user/emails` for a verified address.
    GitHub,
}

/// A provider from its endpoints and client credentials. `Debug` hides the secret.
///
/// ```
/// use easbase_auth::oauth::{Provider, ProviderConfig};
/// let github = ProviderConfig::github("client-id", "client-secret");
/// let url = github.authorize_url("https://api.example/auth/v1/callback", "st", "ch", None);
/// assert!(url.starts_with("https://github.com/login/oauth/authorize?"));
/// assert!(url.contains("&state=st&code_challenge=ch&code_challenge_method=S256"));
/// ```
#[derive(Clone)]
pub struct ProviderConfig {
    /// The provider's name.
    pub name: String,
    /// How the profile is read.
    pub kind: ProviderKind,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: String,
    /// The authorization endpoint.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The userinfo (profile) endpoint.
    pub userinfo_url: String,
    /// GitHub's emails endpoint (`None` elsewhere).
    pub emails_url: Option<String>,
    /// The scopes always asked for (space separated).
    pub scopes: String,
    /// The `iss` put in identity data.
    pub issuer: String,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("authorize_url", &self.authorize_url)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig {
    /// Google (`openid email profile`).
    pub fn google(client_id: impl Into<String>, client_secret: impl Into<String>) -> ProviderConfig {
        ProviderConfig {
            name: "google".into(),
            kind: ProviderKind::Google,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo".into(),
            emails_url: None,
            scopes: "openid email profile".into(),
            issuer: "https://accounts.google.com".into(),
        }
    }

    /// GitHub (`read:user user:email`).
    pub fn github(client_id: impl Into<String>, client_secret: impl Into<String>) -> ProviderConfig {
        ProviderConfig {
            name: "github".into(),
            kind: ProviderKind::GitHub,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            authorize_url: "https://github.com/login/oauth/authorize".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
            userinfo_url: "https://api.github.com/user".into(),
            emails_url: Some("https://api.github.com/user/emails".into()),
            scopes: "read:user user:email".into(),
            issuer: "https://api.github.com".into(),
        }
    }

    /// A generic OpenID Connect provider named `name` at `issuer`, with its endpoints
    /// as its discovery document lists them (`openid email profile`).
    pub fn oidc(
        name: impl Into<String>,
        issuer: impl Into<String>,
        endpoints: [&str; 3],
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> ProviderConfig {
        let [authorize, token, userinfo] = endpoints;
        ProviderConfig {
            name: name.into(),
            kind: ProviderKind::Oidc,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            authorize_url: authorize.into(),
            token_url: token.into(),
            userinfo_url: userinfo.into(),
            emails_url: None,
            scopes: "openid email profile".into(),
            issuer: issuer.into(),
        }
    }

    /// A generic OIDC provider from its discovery document
    /// (`{issuer}/.well-known/openid-configuration`): its `issuer` must be `issuer`, and
    /// it must list the authorization, token and userinfo endpoints.
    ///
    /// # Errors
    /// [`AuthError::OAuthProvider`] when the document cannot be fetched or is not one.
    pub async fn discover(
        http: &dyn HttpClient,
        name: impl Into<String>,
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<ProviderConfig> {
        let issuer = issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let request = Request::builder()
            .method(Method::GET)
            .uri(&url)
            .header(header::ACCEPT, "application/json")
            .body(Bytes::new())
            .map_err(|_| AuthError::OAuthProvider("the issuer URL is invalid".into()))?;
        let response =
            http.send(request).await.map_err(|e| AuthError::OAuthProvider(format!("discovery: {e}")))?;
        if !response.status().is_success() {
            return Err(AuthError::OAuthProvider(format!(
                "the discovery document answered {}",
                response.status().as_u16()
            )));
        }
        let doc: Value = serde_json::from_slice(response.body())
            .map_err(|_| AuthError::OAuthProvider("the discovery document is not JSON".into()))?;
        if doc.get("issuer").and_then(Value::as_str).map(|i| i.trim_end_matches('/')) != Some(issuer) {
            return Err(AuthError::OAuthProvider("the discovery document names another issuer".into()));
        }
        let endpoint = |key: &str| {
            text(&doc, key)
                .ok_or_else(|| AuthError::OAuthProvider(format!("the discovery document has no {key}")))
        };
        let endpoints = [
            endpoint("authorization_endpoint")?,
            endpoint("token_endpoint")?,
            endpoint("userinfo_endpoint")?,
        ];
        let [a, t, u] = &endpoints;
        Ok(ProviderConfig::oidc(name, issuer, [a.as_str(), t.as_str(), u.as_str()], client_id, client_secret))
    }

    async fn get_json(&self, http: &dyn HttpClient, url: &str, token: &str, what: &str) -> Result<Value> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(url)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "easbase-auth")
            .body(Bytes::new())
            .map_err(|_| AuthError::OAuthProvider(format!("the {what} URL is invalid")))?;
        let response =
            http.send(request).await.map_err(|e| AuthError::OAuthProvider(format!("{what}: {e}")))?;
        if !response.status().is_success() {
            return Err(AuthError::OAuthProvider(format!("{what} answered {}", response.status().as_u16())));
        }
        serde_json::from_slice(response.body())
            .map_err(|_| AuthError::OAuthProvider(format!("{what} did not answer JSON")))
    }

    async fn exchange(
        &self,
        http: &dyn HttpClient,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<(String, Option<String>)> {
        let form = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&client_secret={}&code_verifier={}",
            percent_encode(code),
            percent_encode(redirect_uri),
            percent_encode(&self.client_id),
            percent_encode(&self.client_secret),
            percent_encode(verifier),
        );
        let request = Request::builder()
            .method(Method::POST)
            .uri(&self.token_url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "easbase-auth")
            .body(Bytes::from(form))
            .map_err(|_| AuthError::OAuthProvider("the token URL is invalid".into()))?;
        let response =
            http.send(request).await.map_err(|e| AuthError::OAuthProvider(format!("token exchange: {e}")))?;
        let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        // Error codes are the provider's OAuth codes (`invalid_grant`), never secrets.
        if let Some(error) = body.get("error").and_then(Value::as_str) {
            let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
            return Err(AuthError::OAuthProvider(format!("the token exchange was refused: {error}")));
        }
        if !response.status().is_success() {
            return Err(AuthError::OAuthProvider(format!(
                "the token endpoint answered {}",
                response.status().as_u16()
            )));
        }
        let access = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::OAuthProvider("the token response has no access_token".into()))?;
        let refresh = body.get("refresh_token").and_then(Value::as_str).map(str::to_owned);
        Ok((access.to_owned(), refresh))
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

#[async_trait]
impl Provider for ProviderConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        scopes: Option<&str>,
    ) -> String {
        let mut all = self.scopes.clone();
        if let Some(extra) = scopes.map(str::trim).filter(|s| !s.is_empty()) {
            all.push(' ');
            all.push_str(extra);
        }
        let sep = if self.authorize_url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}client_id={}&redirect_uri={}&response_type=code&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
            self.authorize_url,
            percent_encode(&self.client_id),
            percent_encode(redirect_uri),
            percent_encode(&all),
            percent_encode(state),
            percent_encode(code_challenge),
        )
    }

    async fn user(
        &self,
        http: &dyn HttpClient,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<ProviderUser> {
        let (access_token, refresh_token) = self.exchange(http, code, redirect_uri, code_verifier).await?;
        let profile = self.get_json(http, &self.userinfo_url, &access_token, "the profile endpoint").await?;
        let (id, mut email, mut verified, name, avatar, username) = match self.kind {
            ProviderKind::GitHub => (
                text(&profile, "id"),
                text(&profile, "email"),
                false,
                text(&profile, "name"),
                text(&profile, "avatar_url"),
                text(&profile, "login"),
            ),
            ProviderKind::Google | ProviderKind::Oidc => (
                text(&profile, "sub"),
                text(&profile, "email"),
                truthy(profile.get("email_verified")),
                text(&profile, "name"),
                text(&profile, "picture"),
                text(&profile, "preferred_username"),
            ),
        };
        if let Some(url) = &self.emails_url {
            let emails = self.get_json(http, url, &access_token, "the emails endpoint").await?;
            let list = emails.as_array().cloned().unwrap_or_default();
            let verified_email = |primary: bool| {
                list.iter().find(|e| truthy(e.get("verified")) && (!primary || truthy(e.get("primary"))))
            };
            if let Some(e) = verified_email(true).or_else(|| verified_email(false)) {
                email = text(e, "email");
                verified = true;
            }
        }
        let id = id.ok_or_else(|| AuthError::OAuthProvider("the profile has no user id".into()))?;
        let email = email.map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
        let verified = verified && email.is_some();
        let mut data = json!({
            "iss": self.issuer,
            "sub": id,
            "provider_id": id,
            "email": email,
            "email_verified": verified,
            "phone_verified": false,
        });
        if let Some(obj) = data.as_object_mut() {
            for (key, value) in [
                ("name", &name),
                ("full_name", &name),
                ("avatar_url", &avatar),
                ("picture", &avatar),
                ("preferred_username", &username),
                ("user_name", &username),
            ] {
                if let Some(v) = value {
                    obj.insert(key.into(), Value::String(v.clone()));
                }
            }
        }
        Ok(ProviderUser {
            id,
            email,
            email_verified: verified,
            data: data.as_object().cloned().unwrap_or_default(),
            access_token,
            refresh_token,
        })
    }
}
