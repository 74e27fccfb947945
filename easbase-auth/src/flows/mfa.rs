//! TOTP multi-factor authentication, as GoTrue (Supabase Auth) serves it to auth-js's
//! `mfa.enroll / challenge / verify / unenroll / listFactors /
//! getAuthenticatorAssuranceLevel`, plus single-use recovery codes.
//!
//! - **Enroll** (`POST /factors`): a new `unverified` TOTP factor with a 160-bit secret,
//!   its `otpauth://` URI and a QR code (SVG). The secret must stay readable to check
//!   codes, so it is stored **sealed**: XORed with a pad of `HMAC-SHA256(project secret,
//!   factor id)` (each factor's own pad, used once); the table alone does not give it.
//!   With a verified factor already, the session must be at `aal2`.
//! - **Challenge** (`POST /factors/{id}/challenge`): a challenge that expires after
//!   [`MfaConfig::challenge_expiry`](crate::MfaConfig::challenge_expiry) and must be
//!   verified from the same client IP.
//! - **Verify** (`POST /factors/{id}/verify`): a code of the current 30-second step or one
//!   either side. The step is recorded on the factor and a code of that step or an
//!   earlier one is refused from then on (no replay, also not across challenges). The
//!   factor becomes `verified`; the **same session** is raised to `aal2`, its `amr` gains
//!   `{"method": "totp"}` and a new token pair is issued (the session's old refresh
//!   tokens are revoked); the user's other sessions still at `aal1` are signed out and
//!   their other unverified TOTP factors dropped, as GoTrue does.
//! - **Throttling**: a factor takes at most
//!   [`MfaConfig::verify_attempts_per_minute`](crate::MfaConfig::verify_attempts_per_minute)
//!   codes a minute (429 `over_request_rate_limit` beyond), whatever the challenge or the
//!   client: guessing a code takes months, and the user waits a minute at most.
//! - **Unenroll** (`DELETE /factors/{id}`): a verified factor only from an `aal2` session;
//!   sessions raised with it fall back to `aal1`.
//! - **Recovery codes** (GoTrue's experimental `/factors/recovery-codes` routes):
//!   generated at `aal2` once a factor is verified, 10 codes of 80 bits shown once,
//!   stored as SHA-256 hashes, each usable once instead of a TOTP code to raise a session
//!   to `aal2` (`amr` method `mfa/recovery_code`).
//!
//! ```
//! use std::sync::Arc;
//! use easbase_auth::{Auth, AuthConfig, AuthModule, EnrollFactor, PasswordHashConfig};
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::project::{CreateProject, Platform, PlatformConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let platform = Platform::open(Db::open_sqlite(SqliteConfig::in_memory())?,
//! #     PlatformConfig::new("http://localhost:8080"), vec![Arc::new(AuthModule::default())]).await?;
//! # let created = platform.create_project("owner-1", "Shop", CreateProject::default()).await?;
//! # let key = created.keys.expect("shown once").publishable.secret;
//! # let config = AuthConfig { autoconfirm: true, password_hash: PasswordHashConfig::insecure_fast_for_tests(),
//! #     ..AuthConfig::new("https://app.example") };
//! let auth = Auth::new(config, None)?.project(&platform, &created.project.id).await?;
//! auth.signup("ada@example.com", "correct horse battery", None).await?;
//! let session = auth.password_grant("ada@example.com", "correct horse battery").await?;
//! let ctx = platform.resolve(Some(&key), Some(&format!("Bearer {}", session.access_token)), None).await?;
//!
//! let factor = auth.enroll_factor(&ctx, EnrollFactor::totp(Some("phone"))).await?;
//! assert!(factor.totp.uri.starts_with("otpauth://totp/app.example:ada%40example.com?"));
//!
//! // The user's app computes the code from the secret.
//! let secret = totp_rs::Secret::Encoded(factor.totp.secret.clone()).to_bytes().unwrap();
//! let code = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret).generate_current()?;
//!
//! let challenge = auth.challenge_factor(&ctx, &factor.id, "").await?;
//! let raised = auth.verify_factor(&ctx, &factor.id, &challenge.id, &code, "").await?;
//! let ctx = platform.resolve(Some(&key), Some(&format!("Bearer {}", raised.access_token)), None).await?;
//! assert_eq!(ctx.claims()["aal"], "aal2");
//! // The same code is never accepted again.
//! let again = auth.challenge_factor(&ctx, &factor.id, "").await?;
//! assert!(auth.verify_factor(&ctx, &factor.id, &again.id, &code, "").await.is_err());
//! # Ok(())
//! # }
//! ```

use easbase_core::context::RequestContext;
use serde::Serialize;

use super::issue;
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AmrEntry, AuthMethod, Factor, Session};
use crate::secret::{random_token, token_hash};
use crate::store::mfa::FactorRecord;
use crate::store::sessions::SessionRecord;
use crate::store::users::UserRecord;
use crate::time::{now, rfc3339};
use crate::totp;

/// The factor type this crate enrolls.
const TOTP: &str = "totp";
/// Recovery codes per set.
const RECOVERY_CODE_COUNT: usize = 10;
/// The longest friendly name accepted.
const MAX_FRIENDLY_NAME: usize = 255;

/// What [`ProjectAuth::enroll_factor`] takes: GoTrue's `POST /factors` body.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EnrollFactor {
    /// `totp` (`phone` and `webauthn` are refused as disabled).
    pub factor_type: String,
    /// A name the user chooses, unique among their factors.
    pub friendly_name: Option<String>,
    /// The issuer shown in authenticator apps (default: the site URL's host).
    pub issuer: Option<String>,
}

impl EnrollFactor {
    /// A TOTP enrollment with an optional name.
    pub fn totp(friendly_name: Option<&str>) -> EnrollFactor {
        EnrollFactor {
            factor_type: TOTP.into(),
            friendly_name: friendly_name.map(str::to_owned),
            issuer: None,
        }
    }
}

/// The answer to an enrollment (GoTrue's `EnrollFactorResponse`). `Debug` hides the secret.
#[derive(Clone, Serialize)]
pub struct EnrolledFactor {
    /// The new factor's id.
    pub id: String,
    /// `totp`.
    #[serde(rename = "type")]
    pub factor_type: String,
    /// The name given, `""` when none.
    pub friendly_name: String,
    /// What the authenticator app needs.
    pub totp: TotpEnrollment,
}

impl std::fmt::Debug for EnrolledFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolledFactor")
            .field("id", &self.id)
            .field("friendly_name", &self.friendly_name)
            .finish_non_exhaustive()
    }
}

/// The TOTP part of [`EnrolledFactor`]: shown once, at enrollment.
#[derive(Clone, Serialize)]
pub struct TotpEnrollment {
    /// The QR code of `uri` as SVG text (auth-js makes it a `data:image/svg+xml` URI).
    pub qr_code: String,
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://totp/…` URI.
    pub uri: String,
}

/// A challenge (GoTrue's `ChallengeFactorResponse`).
#[derive(Debug, Clone, Serialize)]
pub struct FactorChallenge {
    /// The challenge id, for [`ProjectAuth::verify_factor`].
    pub id: String,
    /// `totp`.
    #[serde(rename = "type")]
    pub factor_type: String,
    /// When it expires, in Unix seconds.
    pub expires_at: i64,
}

/// A new set of recovery codes, shown once. `Debug` hides the codes.
#[derive(Clone, Serialize)]
pub struct RecoveryCodes {
    /// `recovery_code`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The codes (`XXXX-XXXX-XXXX-XXXX`; case, spaces and dashes are ignored on use).
    pub codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCodes").field("count", &self.codes.len()).finish_non_exhaustive()
    }
}

/// How many of a user's recovery codes are left.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RecoveryCodesStatus {
    /// `recovery_code`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Codes in the set.
    pub total: i64,
    /// Codes not used yet.
    pub remaining: i64,
}

impl FactorRecord {
    fn to_factor(&self) -> Factor {
        Factor {
            id: self.id.clone(),
            friendly_name: self.friendly_name.clone(),
            factor_type: self.factor_type.clone(),
            status: self.status.clone(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

/// A user's factors as `user.factors` shows them.
pub(crate) async fn user_factors(auth: &ProjectAuth, user_id: &str) -> Result<Vec<Factor>> {
    Ok(auth.store.factors(user_id).await?.iter().map(FactorRecord::to_factor).collect())
}

/// The user and session of `ctx`'s access token (both must still exist).
async fn current(auth: &ProjectAuth, ctx: &RequestContext) -> Result<(UserRecord, SessionRecord)> {
    let (user_id, session_id) = super::user_of(auth, ctx)?;
    let session = auth.store.session(&session_id).await?.ok_or(AuthError::SessionNotFound)?;
    if session.user_id != user_id {
        return Err(AuthError::SessionNotFound);
    }
    let user = auth.store.user_by_id(&user_id).await?.ok_or(AuthError::UserNotFound)?;
    Ok((user, session))
}

fn require_aal2(session: &SessionRecord, status: u16, message: &'static str) -> Result<()> {
    if session.aal == "aal2" { Ok(()) } else { Err(AuthError::InsufficientAal { status, message }) }
}

/// The issuer of a new factor: given, or the site URL's host.
fn issuer(auth: &ProjectAuth, given: Option<&str>) -> String {
    if let Some(issuer) = given.map(str::trim).filter(|s| !s.is_empty()) {
        return issuer.to_owned();
    }
    let site = &auth.config().site_url;
    let rest = site.split_once("://").map_or(site.as_str(), |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("").to_owned()
}

impl ProjectAuth {
    /// Enrolls a TOTP factor for the user of `ctx` (`POST /factors`).
    ///
    /// # Errors
    /// [`ValidationFailed`](AuthError::ValidationFailed) (another `factor_type`, an
    /// over-long name), [`MfaEnrollDisabled`](AuthError::MfaEnrollDisabled) (`phone`,
    /// `webauthn`), [`MfaFactorNameConflict`](AuthError::MfaFactorNameConflict),
    /// [`TooManyEnrolledMfaFactors`](AuthError::TooManyEnrolledMfaFactors),
    /// [`InsufficientAal`](AuthError::InsufficientAal) (a verified factor exists and the
    /// session is `aal1`), the errors of [`ProjectAuth::get_user`].
    pub async fn enroll_factor(&self, ctx: &RequestContext, params: EnrollFactor) -> Result<EnrolledFactor> {
        match params.factor_type.as_str() {
            TOTP => {}
            "phone" => return Err(AuthError::MfaEnrollDisabled("mfa_phone_enroll_not_enabled")),
            "webauthn" => return Err(AuthError::MfaEnrollDisabled("mfa_webauthn_enroll_not_enabled")),
            _ => {
                return Err(AuthError::ValidationFailed(
                    "factor_type needs to be totp, phone, or webauthn".into(),
                ));
            }
        }
        if !self.config().mfa.totp_enabled {
            return Err(AuthError::MfaEnrollDisabled("mfa_totp_enroll_not_enabled"));
        }
        let name = params.friendly_name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if name
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_FRIENDLY_NAME || n.chars().any(char::is_control))
        {
            return Err(AuthError::ValidationFailed(format!(
                "friendly_name must be at most {MAX_FRIENDLY_NAME} printable characters"
            )));
        }
        let (user, session) = current(self, ctx).await?;
        let factors = self.store.factors(&user.id).await?;
        if let Some(name) = &name
            && factors.iter().any(|f| f.friendly_name.as_deref() == Some(name.as_str()))
        {
            return Err(AuthError::MfaFactorNameConflict(name.clone()));
        }
        let limits = &self.config().mfa;
        let verified = factors.iter().filter(|f| f.is_verified()).count();
        if factors.len() >= limits.max_enrolled_factors || verified >= limits.max_verified_factors {
            return Err(AuthError::TooManyEnrolledMfaFactors);
        }
        if verified > 0 {
            require_aal2(&session, 403, "AAL2 required to enroll a new factor")?;
        }
        let now = now();
        let id = uuid::Uuid::new_v4().to_string();
        let secret = totp::new_secret();
        let issuer = issuer(self, params.issuer.as_deref());
        let account = user.email.clone().or_else(|| user.phone.clone()).unwrap_or_else(|| user.id.clone());
        let uri = totp::otpauth_uri(&secret, &issuer, &account);
        let qr_code = totp::qr_svg(&uri)?;
        let record = FactorRecord {
            id: id.clone(),
            user_id: user.id.clone(),
            friendly_name: name.clone(),
            factor_type: TOTP.into(),
            status: "unverified".into(),
            secret: totp::seal(self.signer.secret(), &id, &secret),
            last_used_step: None,
            created_at: now,
            updated_at: now,
        };
        self.store.run(vec![self.store.insert_factor(&record)]).await?;
        Ok(EnrolledFactor {
            id,
            factor_type: TOTP.into(),
            friendly_name: name.unwrap_or_default(),
            totp: TotpEnrollment { qr_code, secret: totp::base32(&secret), uri },
        })
    }

    /// Creates a challenge for a factor of the user of `ctx` (`POST /factors/{id}/challenge`).
    /// `ip` is the client's address; [`ProjectAuth::verify_factor`] must come from the same.
    ///
    /// # Errors
    /// [`MfaFactorNotFound`](AuthError::MfaFactorNotFound) (no such factor of this user),
    /// the errors of [`ProjectAuth::get_user`].
    pub async fn challenge_factor(
        &self,
        ctx: &RequestContext,
        factor_id: &str,
        ip: &str,
    ) -> Result<FactorChallenge> {
        let (user, _) = current(self, ctx).await?;
        let factor = self.own_factor(&user.id, factor_id).await?;
        let now = now();
        let id = uuid::Uuid::new_v4().to_string();
        let store = &self.store;
        store
            .run(vec![
                store.insert_challenge(&id, &factor.id, ip, now),
                store.touch_factor_challenged(&factor.id, now),
            ])
            .await?;
        let expiry = i64::try_from(self.config().mfa.challenge_expiry.as_secs()).unwrap_or(i64::MAX);
        Ok(FactorChallenge { id, factor_type: factor.factor_type, expires_at: now.saturating_add(expiry) })
    }

    /// Verifies a TOTP code against a challenge (`POST /factors/{id}/verify`) and raises
    /// the session of `ctx` to `aal2` (see the module docs).
    ///
    /// # Errors
    /// [`MfaFactorNotFound`](AuthError::MfaFactorNotFound),
    /// [`MfaChallengeNotFound`](AuthError::MfaChallengeNotFound) (unknown, or another
    /// factor's), [`MfaIpAddressMismatch`](AuthError::MfaIpAddressMismatch) (another IP,
    /// or already verified), [`MfaChallengeExpired`](AuthError::MfaChallengeExpired),
    /// [`MfaVerificationFailed`](AuthError::MfaVerificationFailed) (a wrong code, or a
    /// code of a time step already used),
    /// [`OverRequestRateLimit`](AuthError::OverRequestRateLimit) (too many codes tried
    /// this minute), the errors of [`ProjectAuth::get_user`].
    pub async fn verify_factor(
        &self,
        ctx: &RequestContext,
        factor_id: &str,
        challenge_id: &str,
        code: &str,
        ip: &str,
    ) -> Result<Session> {
        if code.trim().is_empty() {
            return Err(AuthError::ValidationFailed("Code needs to be non-empty".into()));
        }
        let (user, session) = current(self, ctx).await?;
        let factor = self.own_factor(&user.id, factor_id).await?;
        let store = &self.store;
        let challenge = match uuid::Uuid::parse_str(challenge_id) {
            Ok(id) => store.challenge(&id.to_string()).await?,
            Err(_) => None,
        };
        let challenge =
            challenge.filter(|c| c.factor_id == factor.id).ok_or(AuthError::MfaChallengeNotFound)?;
        if challenge.verified_at.is_some() || challenge.ip_address != ip {
            return Err(AuthError::MfaIpAddressMismatch);
        }
        let now = now();
        let expiry = i64::try_from(self.config().mfa.challenge_expiry.as_secs()).unwrap_or(i64::MAX);
        if now > challenge.created_at.saturating_add(expiry) {
            store.run(vec![store.delete_challenge(challenge_id)]).await?;
            return Err(AuthError::MfaChallengeExpired(challenge_id.to_owned()));
        }
        let counted = store
            .run(
                store
                    .count_factor_attempt(&factor.id, self.config().mfa.verify_attempts_per_minute, now)
                    .to_vec(),
            )
            .await?;
        if counted.get(1).is_none_or(|r| r.affected != 1) {
            return Err(AuthError::OverRequestRateLimit);
        }
        let secret = totp::unseal(self.signer.secret(), &factor.id, &factor.secret)?;
        let step = totp::matching_step(&secret, code, u64::try_from(now).unwrap_or(0))
            .and_then(|s| i64::try_from(s).ok())
            .filter(|s| factor.last_used_step.is_none_or(|last| *s > last))
            .ok_or(AuthError::MfaVerificationFailed("Invalid TOTP code entered"))?;
        // The step and the challenge are taken first: of two concurrent uses, one wins.
        let taken = store
            .run(vec![
                store.use_factor_step(&factor.id, step, now),
                store.verify_challenge(challenge_id, now),
            ])
            .await?;
        if taken.iter().any(|r| r.affected != 1) {
            return Err(AuthError::MfaVerificationFailed("Invalid TOTP code entered"));
        }
        self.raise_to_aal2(user, session, Some(&factor.id), AuthMethod::Totp, now).await
    }

    /// Removes a factor of the user of `ctx` (`DELETE /factors/{id}`); returns its id.
    ///
    /// # Errors
    /// [`MfaFactorNotFound`](AuthError::MfaFactorNotFound),
    /// [`InsufficientAal`](AuthError::InsufficientAal) (a verified factor from an `aal1`
    /// session), [`MfaRecoveryCodesSoleFactor`](AuthError::MfaRecoveryCodesSoleFactor)
    /// (the last verified factor while recovery codes exist).
    pub async fn unenroll_factor(&self, ctx: &RequestContext, factor_id: &str) -> Result<String> {
        let (user, session) = current(self, ctx).await?;
        let factor = self.own_factor(&user.id, factor_id).await?;
        if factor.is_verified() {
            require_aal2(&session, 422, "AAL2 required to unenroll verified factor")?;
            let others = self.store.factors(&user.id).await?;
            let other_verified = others.iter().any(|f| f.id != factor.id && f.is_verified());
            if !other_verified && self.store.recovery_code_counts(&user.id).await?.0 > 0 {
                return Err(AuthError::MfaRecoveryCodesSoleFactor);
            }
        }
        let store = &self.store;
        let now = now();
        store.run(self.removal(&factor, now).await?).await?;
        Ok(factor.id)
    }

    /// A new set of recovery codes for the user of `ctx` (`POST /factors/recovery-codes`,
    /// or `…/regenerate` with `replace`), shown once; the old set stops working.
    ///
    /// # Errors
    /// [`InsufficientAal`](AuthError::InsufficientAal),
    /// [`MfaRecoveryCodesSoleFactor`](AuthError::MfaRecoveryCodesSoleFactor) (no verified
    /// factor), [`MfaVerifiedFactorExists`](AuthError::MfaVerifiedFactorExists) (a set
    /// exists and `replace` is false), [`MfaFactorNotFound`](AuthError::MfaFactorNotFound)
    /// (no set to replace).
    pub async fn generate_recovery_codes(
        &self,
        ctx: &RequestContext,
        replace: bool,
    ) -> Result<RecoveryCodes> {
        let (user, session) = current(self, ctx).await?;
        require_aal2(&session, 403, "AAL2 required to manage recovery codes")?;
        if !self.store.factors(&user.id).await?.iter().any(FactorRecord::is_verified) {
            return Err(AuthError::MfaRecoveryCodesSoleFactor);
        }
        let exists = self.store.recovery_code_counts(&user.id).await?.0 > 0;
        match (exists, replace) {
            (true, false) => return Err(AuthError::MfaVerifiedFactorExists),
            (false, true) => return Err(AuthError::MfaFactorNotFound),
            _ => {}
        }
        let now = now();
        let codes: Vec<String> = (0..RECOVERY_CODE_COUNT).map(|_| recovery_code()).collect();
        let store = &self.store;
        let mut stmts = vec![store.delete_recovery_codes(&user.id)];
        stmts.extend(
            codes.iter().map(|c| store.insert_recovery_code(&user.id, &token_hash(&normalize_code(c)), now)),
        );
        store.run(stmts).await?;
        Ok(RecoveryCodes { kind: "recovery_code", codes })
    }

    /// How many recovery codes the user of `ctx` has left (`GET /factors/recovery-codes`).
    ///
    /// # Errors
    /// [`MfaFactorNotFound`](AuthError::MfaFactorNotFound) when there is no set.
    pub async fn recovery_codes_status(&self, ctx: &RequestContext) -> Result<RecoveryCodesStatus> {
        let (user, _) = current(self, ctx).await?;
        let (total, remaining) = self.store.recovery_code_counts(&user.id).await?;
        if total == 0 {
            return Err(AuthError::MfaFactorNotFound);
        }
        Ok(RecoveryCodesStatus { kind: "recovery_code", total, remaining })
    }

    /// Deletes the recovery codes of the user of `ctx` (`DELETE /factors/recovery-codes`).
    ///
    /// # Errors
    /// [`InsufficientAal`](AuthError::InsufficientAal),
    /// [`MfaFactorNotFound`](AuthError::MfaFactorNotFound) when there is no set.
    pub async fn delete_recovery_codes(&self, ctx: &RequestContext) -> Result<()> {
        let (user, session) = current(self, ctx).await?;
        require_aal2(&session, 403, "AAL2 required to manage recovery codes")?;
        let results = self.store.run(vec![self.store.delete_recovery_codes(&user.id)]).await?;
        if results.first().is_none_or(|r| r.affected == 0) {
            return Err(AuthError::MfaFactorNotFound);
        }
        Ok(())
    }

    /// Uses a recovery code instead of a TOTP code (`POST /factors/recovery-codes/verify`):
    /// the session of `ctx` is raised to `aal2` as by [`ProjectAuth::verify_factor`].
    ///
    /// # Errors
    /// [`MfaVerificationFailed`](AuthError::MfaVerificationFailed) (wrong, used or no
    /// code), the errors of [`ProjectAuth::get_user`].
    pub async fn verify_recovery_code(&self, ctx: &RequestContext, code: &str) -> Result<Session> {
        let (user, session) = current(self, ctx).await?;
        let normalized = normalize_code(code);
        let failed = AuthError::MfaVerificationFailed("Invalid recovery code entered");
        if normalized.is_empty() || normalized.len() > 64 {
            return Err(failed);
        }
        let now = now();
        let store = &self.store;
        let used = store.run(vec![store.use_recovery_code(&user.id, &token_hash(&normalized), now)]).await?;
        if used.first().is_none_or(|r| r.affected != 1) {
            return Err(failed);
        }
        self.raise_to_aal2(user, session, None, AuthMethod::MfaRecoveryCode, now).await
    }

    /// A user's factors (`GET /admin/users/{id}/factors`, auth-js `admin.mfa.listFactors`).
    ///
    /// # Errors
    /// [`UserNotFound`](AuthError::UserNotFound).
    pub async fn admin_list_factors(&self, user_id: &str) -> Result<Vec<Factor>> {
        let user = self.admin_user(user_id).await?;
        user_factors(self, &user.id).await
    }

    /// Removes a user's factor whatever the session (`DELETE /admin/users/{id}/factors/{factor}`,
    /// auth-js `admin.mfa.deleteFactor`); sessions raised with it fall back to `aal1`.
    ///
    /// # Errors
    /// [`UserNotFound`](AuthError::UserNotFound), [`MfaFactorNotFound`](AuthError::MfaFactorNotFound).
    pub async fn admin_delete_factor(&self, user_id: &str, factor_id: &str) -> Result<Factor> {
        let user = self.admin_user(user_id).await?;
        let factor = self.own_factor(&user.id, factor_id).await?;
        let store = &self.store;
        store.run(self.removal(&factor, now()).await?).await?;
        Ok(factor.to_factor())
    }

    /// The statements removing `factor`: its sessions back to `aal1`, then the factor.
    async fn removal(&self, factor: &FactorRecord, now: i64) -> Result<Vec<easbase_core::db::Stmt>> {
        let method = AuthMethod::Totp.as_str();
        let mut stmts = self.store.downgrade_sessions_of_factor(&factor.id, method, now).await?;
        stmts.push(self.store.delete_factor(&factor.id));
        Ok(stmts)
    }

    async fn admin_user(&self, user_id: &str) -> Result<UserRecord> {
        let Ok(id) = uuid::Uuid::parse_str(user_id) else { return Err(AuthError::UserNotFound) };
        self.store.user_by_id(&id.to_string()).await?.ok_or(AuthError::UserNotFound)
    }

    async fn own_factor(&self, user_id: &str, factor_id: &str) -> Result<FactorRecord> {
        let Ok(id) = uuid::Uuid::parse_str(factor_id) else { return Err(AuthError::MfaFactorNotFound) };
        self.store.factor(user_id, &id.to_string()).await?.ok_or(AuthError::MfaFactorNotFound)
    }

    /// Raises `session` to `aal2` after a second factor, with a new token pair.
    async fn raise_to_aal2(
        &self,
        user: UserRecord,
        mut session: SessionRecord,
        factor_id: Option<&str>,
        method: AuthMethod,
        now: i64,
    ) -> Result<Session> {
        session.aal = "aal2".into();
        session.amr.retain(|a| a.method != method.as_str());
        session.amr.push(AmrEntry { method: method.as_str().into(), timestamp: now });
        let amr = serde_json::to_string(&session.amr).unwrap_or_else(|_| "[]".into());
        let identities = self.store.identities(&user.id).await?;
        let refresh_token = random_token();
        let out = issue(self, &user, &identities, &session, refresh_token, now).await?;
        let store = &self.store;
        let mut stmts = vec![
            store.raise_session(&session.id, factor_id, &amr, now),
            store.delete_aal1_sessions(&user.id),
            store.revoke_session_refresh_tokens(&session.id, now),
            store.insert_refresh_token(&token_hash(&out.refresh_token), &session.id, None, now),
        ];
        if factor_id.is_some() {
            stmts.push(store.delete_unverified_factors(&user.id, TOTP));
        }
        store.run(stmts).await?;
        // `issue` read the factors before the unverified ones were dropped.
        let mut out = out;
        out.user.factors = user_factors(self, &user.id).await?;
        Ok(out)
    }
}

/// Trims, upper-cases and drops spaces and dashes.
fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect()
}

/// `XXXX-XXXX-XXXX-XXXX` over Crockford's base32 alphabet (80 bits).
fn recovery_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let mut out = String::with_capacity(19);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        // 256 is a multiple of 32: every character is equally likely.
        out.push(ALPHABET[usize::from(b % 32)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_have_the_shape() {
        let a = recovery_code();
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches('-').count(), 3);
        assert_ne!(a, recovery_code());
        assert_eq!(normalize_code(" ab12-cd34 "), "AB12CD34");
    }
}
