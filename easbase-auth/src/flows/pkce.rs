//! PKCE (RFC 7636) as GoTrue does it: a client that sends `code_challenge` and
//! `code_challenge_method` (`s256` or `plain`) with `/signup`, `/otp`, `/recover` or
//! `/resend` gets, when the user opens the emailed link, a redirect to
//! `redirect_to?code=<auth code>` instead of tokens in the fragment; it then exchanges
//! the code and its `code_verifier` at `POST /token?grant_type=pkce` for a session.
//!
//! The state lives in `auth_flow_state` (GoTrue's `flow_state`): the challenge, the
//! provider, the authentication method, and the SHA-256 of the auth code once issued.
//! An auth code works once and for [`AUTH_CODE_LIFETIME`]; a flow that never got one
//! is dropped by its user's next flows' issuance or by the user's deletion.
//!
//! The OAuth routes use the same state: `new_flow_state` at `/authorize`,
//! `grant` at `/callback` (with the provider's tokens), `exchange` at `/token`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use easbase_core::db::Stmt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::start_session;
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, Session};
use crate::secret::{random_token, token_hash};
use crate::store::flow_state::FlowStateRecord;
use crate::time::now;

/// How long an issued auth code may be exchanged (GoTrue's flow-state expiry: 5 minutes).
pub const AUTH_CODE_LIFETIME: Duration = Duration::from_secs(300);

/// A checked PKCE challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge {
    /// The challenge (43 to 128 characters of `[A-Za-z0-9._~-]`).
    pub challenge: String,
    /// `s256` or `plain`.
    pub method: &'static str,
}

impl PkceChallenge {
    /// The challenge of a request: `None` when neither field is given (the implicit
    /// flow), as GoTrue's `validatePKCEParams`.
    ///
    /// ```
    /// use easbase_auth::flows::pkce::PkceChallenge;
    /// let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    /// assert_eq!(PkceChallenge::parse(Some(c), Some("S256")).unwrap().unwrap().method, "s256");
    /// assert!(PkceChallenge::parse(None, None).unwrap().is_none());
    /// assert!(PkceChallenge::parse(Some(c), None).is_err());
    /// assert!(PkceChallenge::parse(Some("short"), Some("plain")).is_err());
    /// assert!(PkceChallenge::parse(Some(c), Some("md5")).is_err());
    /// ```
    ///
    /// # Errors
    /// [`AuthError::ValidationFailed`] with GoTrue's messages.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Option<PkceChallenge>> {
        let challenge = challenge.map(str::trim).filter(|c| !c.is_empty());
        let method = method.map(str::trim).filter(|m| !m.is_empty());
        let (challenge, method) = match (challenge, method) {
            (None, None) => return Ok(None),
            (Some(c), Some(m)) => (c, m),
            _ => {
                return Err(AuthError::ValidationFailed(
                    "PKCE flow requires code_challenge_method and code_challenge".into(),
                ));
            }
        };
        if !(43..=128).contains(&challenge.len()) {
            return Err(AuthError::ValidationFailed(
                "code challenge has to be between 43 and 128 characters".into(),
            ));
        }
        if !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-')) {
            return Err(AuthError::ValidationFailed(
                "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes"
                    .into(),
            ));
        }
        let method = match method.to_ascii_lowercase().as_str() {
            "s256" => "s256",
            "plain" => "plain",
            _ => {
                return Err(AuthError::ValidationFailed(
                    "code challenge method not supported; use s256 or plain".into(),
                ));
            }
        };
        Ok(Some(PkceChallenge { challenge: challenge.to_owned(), method }))
    }

    /// Whether `verifier` answers the challenge (constant time).
    pub fn verify(&self, verifier: &str) -> bool {
        let expected = match self.method {
            "s256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            _ => verifier.to_owned(),
        };
        expected.len() == self.challenge.len()
            && bool::from(expected.as_bytes().ct_eq(self.challenge.as_bytes()))
    }
}

/// A new flow state for `challenge` (insert it with `Store::insert_flow_state`).
pub(crate) fn new_flow_state(
    user_id: Option<&str>,
    challenge: &PkceChallenge,
    provider_type: &str,
    method: AuthMethod,
    now: i64,
) -> FlowStateRecord {
    FlowStateRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.map(str::to_owned),
        code_challenge: challenge.challenge.clone(),
        code_challenge_method: challenge.method.to_owned(),
        provider_type: provider_type.to_owned(),
        authentication_method: method.as_str().to_owned(),
        provider_access_token: None,
        provider_refresh_token: None,
        auth_code_issued_at: None,
        created_at: now,
    }
}

/// Issues the auth code of flow `flow_id` for `user_id`: the statement that records it
/// (run it with the sign-in's other changes) and the code for the redirect.
pub(crate) fn grant(
    auth: &ProjectAuth,
    flow_id: &str,
    user_id: &str,
    provider_tokens: Option<(&str, Option<&str>)>,
    now: i64,
) -> (Stmt, String) {
    let code = uuid::Uuid::new_v4().to_string() + &random_token()[..11];
    let stmt = auth.store.grant_flow_state(flow_id, user_id, &token_hash(&code), provider_tokens, now);
    (stmt, code)
}

/// `POST /token?grant_type=pkce`: the session of an auth code and its verifier.
pub(crate) async fn exchange(auth: &ProjectAuth, auth_code: &str, verifier: &str) -> Result<Session> {
    let (auth_code, verifier) = (auth_code.trim(), verifier.trim());
    if auth_code.is_empty() || verifier.is_empty() {
        return Err(AuthError::ValidationFailed(
            "invalid request: both auth code and code verifier should be non-empty".into(),
        ));
    }
    if auth_code.len() > super::MAX_TOKEN_LEN || verifier.len() > 256 {
        return Err(AuthError::FlowStateNotFound);
    }
    let hash = token_hash(auth_code);
    let flow = auth.store.flow_state_by_code(&hash).await?.ok_or(AuthError::FlowStateNotFound)?;
    let Some(user_id) = flow.user_id.clone() else { return Err(AuthError::FlowStateNotFound) };
    let issued = flow.auth_code_issued_at.unwrap_or(flow.created_at);
    if now() > issued.saturating_add(AUTH_CODE_LIFETIME.as_secs() as i64) {
        return Err(AuthError::FlowStateExpired);
    }
    let challenge = PkceChallenge {
        challenge: flow.code_challenge.clone(),
        method: if flow.code_challenge_method == "s256" { "s256" } else { "plain" },
    };
    if !challenge.verify(verifier) {
        return Err(AuthError::BadCodeVerifier);
    }
    if !auth.store.take_flow_state(&flow.id, &hash).await? {
        return Err(AuthError::FlowStateNotFound);
    }
    let method = AuthMethod::from_name(&flow.authentication_method).ok_or_else(|| {
        AuthError::Internal(format!(
            "unknown authentication method `{}` in a flow state",
            flow.authentication_method
        ))
    })?;
    let mut user = auth.store.user_by_id(&user_id).await?.ok_or(AuthError::FlowStateNotFound)?;
    if user.is_banned(now()) {
        return Err(AuthError::UserBanned);
    }
    let identities = auth.store.identities(&user.id).await?;
    start_session(auth, &mut user, &identities, method, Vec::new()).await
}

impl ProjectAuth {
    /// Exchanges a PKCE auth code and its verifier for a session
    /// (`POST /token?grant_type=pkce`).
    ///
    /// # Errors
    /// [`FlowStateNotFound`](AuthError::FlowStateNotFound) (unknown or used code),
    /// [`FlowStateExpired`](AuthError::FlowStateExpired),
    /// [`BadCodeVerifier`](AuthError::BadCodeVerifier),
    /// [`ValidationFailed`](AuthError::ValidationFailed) (a field missing).
    pub async fn exchange_code_for_session(&self, auth_code: &str, code_verifier: &str) -> Result<Session> {
        exchange(self, auth_code, code_verifier).await
    }
}
