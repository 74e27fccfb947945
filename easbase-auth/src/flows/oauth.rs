//! Sign-in with an OAuth 2 / OIDC provider (GoTrue's `/authorize` and `/callback`); the
//! whole flow is described in [`crate::oauth`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use easbase_core::context::RequestContext;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::pkce::{PkceChallenge, grant, new_flow_state};
use super::start_session;
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, Session};
use crate::oauth::{OAuthSettings, ProviderUser};
use crate::secret::{random_token, token_hash};
use crate::store::is_unique_violation;
use crate::store::oauth::OAuthStateRecord;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::now;

/// The longest `state` accepted from a caller (ours are about 80 characters).
const MAX_STATE_LEN: usize = 200;

/// Where a sign-in started at `/authorize` goes next.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizeStart {
    /// The provider's authorization URL (the redirect of `/authorize`).
    pub url: String,
}

/// How a `/callback` ends.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallbackOutcome {
    /// The implicit flow: a session for the redirect's fragment.
    Session {
        /// The session.
        session: Box<Session>,
        /// Where the browser goes.
        redirect_to: String,
        /// The provider's access token (`provider_token`).
        provider_token: String,
        /// The provider's refresh token (`provider_refresh_token`).
        provider_refresh_token: Option<String>,
    },
    /// The PKCE flow: an auth code for `?code=`, exchanged at `/token?grant_type=pkce`.
    Code {
        /// The auth code.
        code: String,
        /// Where the browser goes.
        redirect_to: String,
    },
}

/// The PKCE verifier sent to the provider for `state`: derived, not stored.
fn provider_verifier(auth: &ProjectAuth, state: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(auth.signer.secret()).unwrap_or_else(|_| unreachable!());
    mac.update(b"easbase-auth/oauth-pkce/v1\0");
    mac.update(state.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The project a `state` names (its part before the first `.`), if well formed.
pub(crate) fn project_of_state(state: &str) -> Option<&str> {
    if state.is_empty() || state.len() > MAX_STATE_LEN {
        return None;
    }
    state.split_once('.').map(|(project, _)| project).filter(|p| !p.is_empty())
}

impl ProjectAuth {
    /// Starts a sign-in with `provider` (`GET /authorize`): stores the state and returns
    /// the provider's URL. `redirect_to` must already be allow-listed; `callback_url` is
    /// the service's `/callback` as registered with the provider; `pkce` is the client's
    /// challenge for the PKCE flow.
    ///
    /// # Errors
    /// [`ProviderDisabled`](AuthError::ProviderDisabled) for a provider the project does
    /// not have.
    pub async fn authorize_oauth(
        &self,
        settings: &OAuthSettings,
        provider: &str,
        callback_url: &str,
        redirect_to: &str,
        scopes: Option<&str>,
        pkce: Option<PkceChallenge>,
    ) -> Result<AuthorizeStart> {
        let target = OAuthTarget { provider, callback_url, redirect_to, scopes };
        self.start_oauth(settings, target, pkce, None).await
    }

    /// Starts linking a provider account to the signed-in user of `ctx`
    /// (`GET /user/identities/authorize`, auth-js `linkIdentity`): as
    /// [`ProjectAuth::authorize_oauth`], and the callback adds the identity to this user
    /// (an anonymous user stops being anonymous, and gets the provider's address when it
    /// is verified and free).
    ///
    /// # Errors
    /// The errors of [`ProjectAuth::authorize_oauth`] and of [`ProjectAuth::get_user`].
    #[allow(clippy::too_many_arguments)]
    pub async fn link_identity_oauth(
        &self,
        ctx: &RequestContext,
        settings: &OAuthSettings,
        provider: &str,
        callback_url: &str,
        redirect_to: &str,
        scopes: Option<&str>,
        pkce: Option<PkceChallenge>,
    ) -> Result<AuthorizeStart> {
        let user = self.get_user(ctx).await?;
        let target = OAuthTarget { provider, callback_url, redirect_to, scopes };
        self.start_oauth(settings, target, pkce, Some(user.id)).await
    }

    async fn start_oauth(
        &self,
        settings: &OAuthSettings,
        target: OAuthTarget<'_>,
        pkce: Option<PkceChallenge>,
        link_user_id: Option<String>,
    ) -> Result<AuthorizeStart> {
        let OAuthTarget { provider, callback_url, redirect_to, scopes } = target;
        let found = settings
            .provider(self.project(), provider)
            .ok_or_else(|| AuthError::ProviderDisabled("provider is not enabled".into()))?;
        let now = now();
        let state = format!("{}.{}", self.project(), random_token());
        let store = &self.store;
        let mut stmts =
            vec![store.delete_old_oauth_states(now.saturating_sub(settings.state_lifetime.as_secs() as i64))];
        let flow_state_id = match &pkce {
            Some(challenge) => {
                let flow = new_flow_state(None, challenge, provider, AuthMethod::OAuth, now);
                stmts.push(store.insert_flow_state(&flow));
                Some(flow.id)
            }
            None => None,
        };
        let record = OAuthStateRecord {
            provider: provider.to_owned(),
            redirect_to: redirect_to.to_owned(),
            flow_state_id,
            link_user_id,
            created_at: now,
        };
        stmts.push(store.insert_oauth_state(&token_hash(&state), &record));
        store.run(stmts).await?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(provider_verifier(self, &state).as_bytes()));
        Ok(AuthorizeStart { url: found.authorize_url(callback_url, &state, &challenge, scopes) })
    }

    /// Consumes `state` (`GET /callback`): the stored sign-in it started.
    ///
    /// # Errors
    /// [`BadOAuthState`](AuthError::BadOAuthState) for a malformed, unknown, used or
    /// expired state.
    pub(crate) async fn take_oauth_state(
        &self,
        settings: &OAuthSettings,
        state: &str,
    ) -> Result<OAuthStateRecord> {
        if project_of_state(state) != Some(self.project().as_str()) {
            return Err(AuthError::BadOAuthState);
        }
        let record =
            self.store.consume_oauth_state(&token_hash(state)).await?.ok_or(AuthError::BadOAuthState)?;
        if now() > record.created_at.saturating_add(settings.state_lifetime.as_secs() as i64) {
            return Err(AuthError::BadOAuthState);
        }
        Ok(record)
    }

    /// Finishes a sign-in (`GET /callback`) whose state was taken: exchanges `code`,
    /// finds or makes the user, and signs in (implicit flow) or grants an auth code
    /// (PKCE flow).
    ///
    /// # Errors
    /// [`BadOAuthCallback`](AuthError::BadOAuthCallback) (no code),
    /// [`ProviderDisabled`](AuthError::ProviderDisabled) (removed since),
    /// [`OAuthProvider`](AuthError::OAuthProvider), [`SignupDisabled`](AuthError::SignupDisabled),
    /// [`UserBanned`](AuthError::UserBanned).
    pub(crate) async fn finish_oauth(
        &self,
        settings: &OAuthSettings,
        state: &str,
        record: OAuthStateRecord,
        code: &str,
        callback_url: &str,
    ) -> Result<CallbackOutcome> {
        if code.is_empty() || code.len() > 2048 {
            return Err(AuthError::BadOAuthCallback("OAuth callback with missing authorization code".into()));
        }
        let provider = settings
            .provider(self.project(), &record.provider)
            .ok_or_else(|| AuthError::ProviderDisabled("provider is not enabled".into()))?;
        let verifier = provider_verifier(self, state);
        let profile = provider.user(&*settings.http, code, callback_url, &verifier).await?;
        let (mut user, identities, stmts) = match &record.link_user_id {
            Some(user_id) => self.link_account(&record.provider, &profile, user_id).await?,
            None => self.oauth_account(&record.provider, &profile).await?,
        };
        if user.is_banned(now()) {
            return Err(AuthError::UserBanned);
        }
        match record.flow_state_id {
            Some(flow_id) => {
                let tokens = Some((profile.access_token.as_str(), profile.refresh_token.as_deref()));
                let (stmt, code) = grant(self, &flow_id, &user.id, tokens, now());
                let mut stmts = stmts;
                stmts.push(stmt);
                self.run_account(stmts).await?;
                Ok(CallbackOutcome::Code { code, redirect_to: record.redirect_to })
            }
            None => {
                let session =
                    match start_session(self, &mut user, &identities, AuthMethod::OAuth, stmts).await {
                        Err(e) if is_unique_violation(&e) => return Err(AuthError::EmailExists),
                        other => other?,
                    };
                Ok(CallbackOutcome::Session {
                    session: Box::new(session),
                    redirect_to: record.redirect_to,
                    provider_token: profile.access_token,
                    provider_refresh_token: profile.refresh_token,
                })
            }
        }
    }

    async fn run_account(&self, stmts: Vec<easbase_core::db::Stmt>) -> Result<()> {
        match self.store.run(stmts).await {
            Err(e) if is_unique_violation(&e) => Err(AuthError::EmailExists),
            other => other.map(|_| ()),
        }
    }

    /// The user of a provider account: its identity's user, else the user with the
    /// provider's **verified** address (linked), else a new user. Returns the statements
    /// that create or update rows, to run with the sign-in.
    async fn oauth_account(
        &self,
        provider: &str,
        profile: &ProviderUser,
    ) -> Result<(UserRecord, Vec<IdentityRecord>, Vec<easbase_core::db::Stmt>)> {
        let store = &self.store;
        let now = now();
        let verified_email = profile.email.as_deref().filter(|_| profile.email_verified);
        let mut stmts = Vec::new();
        let identity = store.identity_by_provider(provider, &profile.id).await?;
        let existing = match &identity {
            Some(identity) => store.user_by_id(&identity.user_id).await?,
            None => match verified_email {
                Some(email) => store.user_by_email(email).await?,
                None => None,
            },
        };
        let mut user = match existing {
            Some(mut user) => {
                if identity.is_some() {
                    stmts.push(store.update_identity(
                        &user.id,
                        provider,
                        &profile.data,
                        profile.email.as_deref(),
                        now,
                    ));
                } else {
                    stmts.push(store.insert_identity(&new_identity(&user.id, provider, profile, now)));
                    add_provider(&mut user, provider);
                    let mut sets = vec![Set::Json("raw_app_meta_data", Value::Object(user.app_meta.clone()))];
                    if user.email_confirmed_at.is_none() {
                        // The provider verified the address: it is confirmed now.
                        user.email_confirmed_at = Some(now);
                        sets.push(Set::Int("email_confirmed_at", Some(now)));
                    }
                    stmts.push(store.update_user(&user.id, now, sets));
                }
                user
            }
            None => {
                if !self.config().signup_enabled {
                    return Err(AuthError::SignupDisabled);
                }
                let mut user = UserRecord::new(uuid::Uuid::new_v4().to_string(), now);
                user.email = verified_email.map(str::to_owned);
                user.email_confirmed_at = verified_email.map(|_| now);
                user.app_meta.insert("provider".into(), json!(provider));
                user.app_meta.insert("providers".into(), json!([provider]));
                user.user_meta = profile.data.clone();
                stmts.push(store.insert_user(&user));
                stmts.push(store.insert_identity(&new_identity(&user.id, provider, profile, now)));
                user
            }
        };
        user.updated_at = now;
        let mut identities = store.identities(&user.id).await?;
        if !identities.iter().any(|i| i.provider == provider && i.provider_id == profile.id) {
            identities.push(new_identity(&user.id, provider, profile, now));
        }
        Ok((user, identities, stmts))
    }
}

impl ProjectAuth {
    /// Adds the provider account to the user `user_id` (linking): refused when it belongs
    /// to another user.
    async fn link_account(
        &self,
        provider: &str,
        profile: &ProviderUser,
        user_id: &str,
    ) -> Result<(UserRecord, Vec<IdentityRecord>, Vec<easbase_core::db::Stmt>)> {
        let store = &self.store;
        let now = now();
        let mut user = store.user_by_id(user_id).await?.ok_or(AuthError::UserNotFound)?;
        let mut stmts = Vec::new();
        match store.identity_by_provider(provider, &profile.id).await? {
            Some(identity) if identity.user_id != user.id => return Err(AuthError::IdentityAlreadyExists),
            Some(_) => stmts.push(store.update_identity(
                &user.id,
                provider,
                &profile.data,
                profile.email.as_deref(),
                now,
            )),
            None => {
                stmts.push(store.insert_identity(&new_identity(&user.id, provider, profile, now)));
                add_provider(&mut user, provider);
                let mut sets = vec![];
                if user.is_anonymous {
                    user.is_anonymous = false;
                    sets.push(Set::Bool("is_anonymous", false));
                    if user.app_meta.get("provider").and_then(Value::as_str).is_none_or(|p| p == "anonymous")
                    {
                        user.app_meta.insert("provider".into(), json!(provider));
                    }
                }
                let verified = profile.email.as_deref().filter(|_| profile.email_verified);
                if let Some(email) = verified
                    && user.email.is_none()
                    && !store.email_taken(email).await?
                {
                    user.email = Some(email.to_owned());
                    user.email_confirmed_at = Some(now);
                    sets.push(Set::Text("email", Some(email.to_owned())));
                    sets.push(Set::Int("email_confirmed_at", Some(now)));
                }
                sets.push(Set::Json("raw_app_meta_data", Value::Object(user.app_meta.clone())));
                stmts.push(store.update_user(&user.id, now, sets));
            }
        }
        let mut identities = store.identities(&user.id).await?;
        if !identities.iter().any(|i| i.provider == provider && i.provider_id == profile.id) {
            identities.push(new_identity(&user.id, provider, profile, now));
        }
        Ok((user, identities, stmts))
    }
}

/// Where a sign-in goes: the provider, the callback registered with it, the app's
/// redirect, extra scopes.
struct OAuthTarget<'a> {
    provider: &'a str,
    callback_url: &'a str,
    redirect_to: &'a str,
    scopes: Option<&'a str>,
}

fn new_identity(user_id: &str, provider: &str, profile: &ProviderUser, now: i64) -> IdentityRecord {
    IdentityRecord {
        id: uuid::Uuid::new_v4().to_string(),
        provider: provider.to_owned(),
        provider_id: profile.id.clone(),
        user_id: user_id.to_owned(),
        identity_data: profile.data.clone(),
        email: profile.email.clone(),
        last_sign_in_at: Some(now),
        created_at: now,
        updated_at: now,
    }
}

fn add_provider(user: &mut UserRecord, provider: &str) {
    let providers = user.app_meta.entry("providers").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = providers
        && !list.iter().any(|p| p == provider)
    {
        list.push(provider.into());
    }
}
