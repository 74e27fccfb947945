//! Issuing and checking one-time tokens. Each issued token has two secrets, either of
//! which verifies it once: a 256-bit link token (in the email's link; stored as its
//! SHA-256) and a short numeric code (typed in; stored as an HMAC keyed by the project
//! secret, so a leaked table does not give codes away). A code may be tried
//! [`AuthConfig::otp_max_attempts`](crate::AuthConfig::otp_max_attempts) times in all
//! against the tokens of one recipient before they are voided; everything expires after
//! [`AuthConfig::otp_lifetime`](crate::AuthConfig::otp_lifetime).

use easbase_core::db::Stmt;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::check_token;
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{OneTimeToken, TokenKind};
use crate::secret::{random_token, token_hash};
use crate::store::tokens::{NewOtt, OttRecord};
use crate::time::now;

/// The longest code accepted from a caller.
const MAX_CODE_LEN: usize = 10;

/// A random numeric code of `len` digits (uniform).
fn random_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// The stored form of a code: HMAC-SHA256(project secret, kind, recipient, code), hex.
fn code_hash(auth: &ProjectAuth, kind: TokenKind, relates_to: &str, code: &str) -> String {
    // HMAC accepts keys of any length; `new_from_slice` never fails for it.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(auth.signer.secret()).unwrap_or_else(|_| unreachable!());
    mac.update(b"easbase-auth/otp-code/v1\0");
    mac.update(kind.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(relates_to.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Statements replacing `user_id`'s tokens of `kind` by a new one sent to `relates_to`
/// (belonging to the PKCE flow `flow_state_id`, if any), and the token to deliver.
pub(crate) fn issue(
    auth: &ProjectAuth,
    user_id: &str,
    kind: TokenKind,
    relates_to: &str,
    flow_state_id: Option<&str>,
    now: i64,
) -> (Vec<Stmt>, OneTimeToken) {
    let token = random_token();
    let code = random_code(auth.config().otp_length.clamp(6, MAX_CODE_LEN));
    let hash = token_hash(&token);
    let code_hash = code_hash(auth, kind, relates_to, &code);
    let store = &auth.store;
    let stmts = vec![
        store.delete_one_time_tokens(user_id, kind),
        store.insert_one_time_token(&NewOtt {
            user_id,
            kind,
            hash: &hash,
            code_hash: Some(&code_hash),
            relates_to,
            flow_state_id,
            now,
        }),
    ];
    (stmts, OneTimeToken { kind, email: relates_to.to_owned(), token, code })
}

/// What a caller presents to verify a token.
#[derive(Clone, Copy)]
pub enum OtpSecret<'a> {
    /// The link token (`token_hash` of `POST /verify`, `token` of the link).
    Link(&'a str),
    /// The short code typed in, with the normalized address or phone number it was sent to.
    Code {
        /// The recipient (a normalized email address or phone number).
        recipient: &'a str,
        /// The code.
        code: &'a str,
    },
}

impl std::fmt::Debug for OtpSecret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OtpSecret::Link(_) => f.write_str("Link([redacted])"),
            OtpSecret::Code { recipient, .. } => {
                f.debug_struct("Code").field("recipient", recipient).finish_non_exhaustive()
            }
        }
    }
}

/// Consumes a live token of one of `kinds` matching `secret`; every failure is
/// `otp_expired` (unknown, used, expired, voided by too many wrong codes).
pub(crate) async fn consume(
    auth: &ProjectAuth,
    kinds: &[TokenKind],
    secret: OtpSecret<'_>,
) -> Result<OttRecord> {
    let record = match secret {
        OtpSecret::Link(token) => {
            let token = check_token(token)?;
            auth.store
                .consume_one_time_token(&token_hash(token), kinds)
                .await?
                .ok_or(AuthError::OtpExpired)?
        }
        OtpSecret::Code { recipient, code } => consume_code(auth, kinds, recipient, code).await?,
    };
    if now() > record.created_at.saturating_add(auth.config().otp_lifetime.as_secs() as i64) {
        return Err(AuthError::OtpExpired);
    }
    Ok(record)
}

async fn consume_code(
    auth: &ProjectAuth,
    kinds: &[TokenKind],
    recipient: &str,
    code: &str,
) -> Result<OttRecord> {
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_CODE_LEN || recipient.is_empty() {
        return Err(AuthError::OtpExpired);
    }
    let max = i64::from(auth.config().otp_max_attempts.max(1));
    let candidates = auth.store.tokens_for(recipient, kinds).await?;
    let matching = candidates.into_iter().find(|t| {
        t.attempts < max
            && t.code_hash.as_deref().is_some_and(|stored| {
                bool::from(stored.as_bytes().ct_eq(code_hash(auth, t.kind, recipient, code).as_bytes()))
            })
    });
    match matching {
        Some(t) if auth.store.consume_token_by_id(&t.id, max).await? => Ok(t),
        _ => {
            auth.store.fail_code_attempt(recipient, kinds, max).await?;
            Err(AuthError::OtpExpired)
        }
    }
}

impl ProjectAuth {
    /// Deletes expired one-time tokens (older than
    /// [`AuthConfig::otp_lifetime`](crate::AuthConfig::otp_lifetime)) and PKCE flow
    /// states too old to be exchanged: a host calls it now and then (they are refused
    /// anyway; this only reclaims the rows). Returns how many rows went.
    ///
    /// # Errors
    /// The database's.
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = now();
        let token_cutoff = now.saturating_sub(self.config().otp_lifetime.as_secs() as i64);
        // A flow may wait for its link as long as a token lives, then for its exchange.
        let flow_lifetime = self.config().otp_lifetime + super::pkce::AUTH_CODE_LIFETIME;
        let flow_cutoff = now.saturating_sub(flow_lifetime.as_secs() as i64);
        let results = self
            .store
            .run(vec![
                self.store.delete_one_time_tokens_before(token_cutoff),
                self.store.delete_flow_states_before(flow_cutoff),
            ])
            .await?;
        Ok(results.iter().map(|r| r.affected).sum())
    }
}
