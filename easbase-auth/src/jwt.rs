//! Issuing access tokens: HS256 with the project's secret (or the project's current
//! asymmetric key, with its `kid`: [`crate::keys`]), GoTrue's claims, and an optional
//! [`CustomClaimsHook`] the host sets. easbase-core's
//! [`JwtVerifier`](easbase_core::context::jwt::JwtVerifier) verifies what this issues.
//!
//! Claims (as GoTrue issues them):
//!
//! | claim | value |
//! |---|---|
//! | `aud` | `authenticated` |
//! | `exp`, `iat` | Unix seconds; `exp = iat + access_token_lifetime` |
//! | `iss` | [`AuthConfig::jwt_issuer`](crate::AuthConfig::jwt_issuer) (`{api_url}/auth/v1`), when set |
//! | `sub` | the user id |
//! | `email`, `phone` | the user's, `""` when none |
//! | `app_metadata`, `user_metadata` | the user's |
//! | `role` | `authenticated` (anonymous users too, with `is_anonymous: true`) |
//! | `aal` | `aal1` |
//! | `amr` | `[{"method": "password", "timestamp": …}]` |
//! | `session_id` | the session |
//! | `is_anonymous` | whether the user signed in anonymously |

use async_trait::async_trait;
use easbase_core::context::ProjectId;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::error::{AuthError, Result};
use crate::model::{AmrEntry, User};

/// Claims a [`CustomClaimsHook`] cannot change: whatever it does with them, the issued
/// token carries the values the flow set.
pub const PROTECTED_CLAIMS: [&str; 7] = ["sub", "role", "aud", "exp", "iat", "session_id", "is_anonymous"];

/// What a [`CustomClaimsHook`] is told about the token being issued.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ClaimsHookInput<'a> {
    /// The project.
    pub project: &'a ProjectId,
    /// The user the token is for.
    pub user: &'a User,
    /// The session.
    pub session_id: &'a str,
    /// How the session was authenticated (its first `amr` method).
    pub authentication_method: &'a str,
}

/// Adds claims to access tokens (GoTrue's "custom access token hook"), e.g. an
/// `org_id` for policies to read as `auth.claims.org_id`. It may add or change any claim
/// but [`PROTECTED_CLAIMS`].
///
/// ```
/// use easbase_auth::{AuthError, ClaimsHookInput, CustomClaimsHook};
/// use serde_json::{Map, Value};
///
/// struct OrgClaim;
/// #[async_trait::async_trait]
/// impl CustomClaimsHook for OrgClaim {
///     async fn customize(&self, input: &ClaimsHookInput<'_>, claims: &mut Map<String, Value>) -> Result<(), AuthError> {
///         claims.insert("org_id".into(), Value::String(format!("org-of-{}", input.user.id)));
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait CustomClaimsHook: Send + Sync {
    /// Changes `claims` before the token is signed.
    ///
    /// # Errors
    /// An error stops the flow: no token is issued and the caller gets the error.
    async fn customize(&self, input: &ClaimsHookInput<'_>, claims: &mut Map<String, Value>) -> Result<()>;
}

/// Signs a project's access tokens. `Debug` shows no key material.
pub(crate) struct Signer {
    key: EncodingKey,
    algorithm: Algorithm,
    /// The project secret, also the HMAC key of refresh-token children.
    secret: Vec<u8>,
    kid: Option<String>,
    issuer: Option<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl Signer {
    pub(crate) fn new(secret: &[u8], kid: Option<String>, issuer: Option<String>) -> Result<Signer> {
        if secret.len() < easbase_core::context::jwt::MIN_HMAC_SECRET_LEN {
            return Err(AuthError::Internal("the project's JWT secret is too short".into()));
        }
        Ok(Signer {
            key: EncodingKey::from_secret(secret),
            algorithm: Algorithm::HS256,
            secret: secret.to_vec(),
            kid,
            issuer,
        })
    }

    /// The same signer, signing with the project's current asymmetric key instead.
    pub(crate) fn with_key(&self, current: crate::keys::CurrentKey) -> Signer {
        Signer {
            key: current.key,
            algorithm: current.algorithm,
            secret: self.secret.clone(),
            kid: Some(current.kid),
            issuer: self.issuer.clone(),
        }
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// GoTrue's claims for `user` in `session`.
    pub(crate) fn claims(
        &self,
        user: &User,
        session_id: &str,
        aal: &str,
        amr: &[AmrEntry],
        iat: i64,
        exp: i64,
    ) -> Map<String, Value> {
        let mut claims = json!({
            "aud": "authenticated",
            "exp": exp,
            "iat": iat,
            "sub": user.id,
            "email": user.email,
            "phone": user.phone,
            "app_metadata": user.app_metadata,
            "user_metadata": user.user_metadata,
            "role": "authenticated",
            "aal": aal,
            "amr": amr,
            "session_id": session_id,
            "is_anonymous": user.is_anonymous,
        });
        if let (Some(iss), Some(map)) = (&self.issuer, claims.as_object_mut()) {
            map.insert("iss".into(), Value::String(iss.clone()));
        }
        match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    pub(crate) fn sign(&self, claims: &Map<String, Value>) -> Result<String> {
        let mut header = Header::new(self.algorithm);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|_| AuthError::Internal("cannot sign the access token".into()))
    }
}

/// Runs the hook on `claims`, then puts the protected claims back.
pub(crate) async fn apply_hook(
    hook: &dyn CustomClaimsHook,
    input: &ClaimsHookInput<'_>,
    claims: &mut Map<String, Value>,
) -> Result<()> {
    let protected: Vec<(&str, Option<Value>)> =
        PROTECTED_CLAIMS.iter().map(|k| (*k, claims.get(*k).cloned())).collect();
    hook.customize(input, claims).await?;
    for (k, v) in protected {
        match v {
            Some(v) => claims.insert(k.to_owned(), v),
            None => claims.remove(k),
        };
    }
    Ok(())
}
