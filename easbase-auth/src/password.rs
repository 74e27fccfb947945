//! Password hashing: Argon2id (PHC strings) on tokio's blocking pool, at most
//! [`PasswordHashConfig::max_concurrent`] at once; bcrypt hashes of imported users verify
//! and are replaced by Argon2id on the next successful login.
//!
//! Unknown users are checked against a dummy hash of the same cost, so a login for an
//! address that does not exist takes about as long as one with a wrong password.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use tokio::sync::{OnceCell, Semaphore};

use crate::config::PasswordHashConfig;
use crate::error::{AuthError, Result};

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verified {
    /// The password does not match (or there was nothing to match).
    No,
    /// It matches; `rehash` when the stored hash is bcrypt or Argon2 at other parameters.
    Yes { rehash: bool },
}

/// Hashes and verifies passwords off the async executor.
pub(crate) struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: OnceCell<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

impl PasswordHasher {
    pub(crate) fn new(config: &PasswordHashConfig) -> Result<PasswordHasher> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|e| AuthError::Internal(format!("invalid Argon2 parameters: {e}")))?;
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            dummy: OnceCell::new(),
        })
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| AuthError::Internal("the password hasher is closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|_| AuthError::Internal("a password hashing task failed".into()))
    }

    /// An Argon2id PHC string of `password` with a fresh 128-bit salt.
    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        let params = self.params.clone();
        self.blocking(move || {
            let mut salt = [0u8; 16];
            rand::rng().fill_bytes(&mut salt);
            let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Internal(e.to_string()))?;
            argon2(params)
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AuthError::Internal(format!("hashing failed: {e}")))
        })
        .await?
    }

    async fn dummy_hash(&self) -> Result<&str> {
        self.dummy
            .get_or_try_init(|| async {
                let mut bytes = [0u8; 24];
                rand::rng().fill_bytes(&mut bytes);
                let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                self.hash(&random).await
            })
            .await
            .map(String::as_str)
    }

    /// Verifies `password` against `stored`; `None` (an unknown user, a user without a
    /// password) is verified against a dummy hash of the same cost and never matches.
    pub(crate) async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified> {
        let (target, real) = match stored {
            Some(h) if h.starts_with("$argon2") || is_bcrypt(h) => (h.to_owned(), true),
            _ => (self.dummy_hash().await?.to_owned(), false),
        };
        let password = password.to_owned();
        let params = self.params.clone();
        self.blocking(move || {
            let matched = if is_bcrypt(&target) {
                bcrypt::verify(password.as_bytes(), &target).unwrap_or(false)
            } else {
                match PasswordHash::new(&target) {
                    Ok(parsed) => {
                        let ok = argon2(params.clone()).verify_password(password.as_bytes(), &parsed).is_ok();
                        if ok {
                            let current = parsed.algorithm.as_str() == "argon2id"
                                && Params::try_from(&parsed).is_ok_and(|p| {
                                    p.m_cost() == params.m_cost()
                                        && p.t_cost() == params.t_cost()
                                        && p.p_cost() == params.p_cost()
                                });
                            return if real { Verified::Yes { rehash: !current } } else { Verified::No };
                        }
                        false
                    }
                    Err(_) => false,
                }
            };
            if matched && real { Verified::Yes { rehash: true } } else { Verified::No }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(&PasswordHashConfig::insecure_fast_for_tests()).unwrap()
    }

    #[tokio::test]
    async fn argon2_round_trip() {
        let h = hasher();
        let stored = h.hash("correct horse").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(h.verify("correct horse", Some(&stored)).await.unwrap(), Verified::Yes { rehash: false });
        assert_eq!(h.verify("wrong", Some(&stored)).await.unwrap(), Verified::No);
        assert_eq!(h.verify("anything", None).await.unwrap(), Verified::No);
        assert_eq!(h.verify("anything", Some("plaintext?")).await.unwrap(), Verified::No);
        // Other parameters: still verifies, asks for a rehash.
        let owasp = PasswordHasher::new(&PasswordHashConfig::owasp()).unwrap();
        assert_eq!(
            owasp.verify("correct horse", Some(&stored)).await.unwrap(),
            Verified::Yes { rehash: true }
        );
    }

    #[tokio::test]
    async fn bcrypt_verifies_and_asks_for_rehash() {
        let stored = bcrypt::hash_with_salt("imported", 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        let h = hasher();
        assert_eq!(h.verify("imported", Some(&stored)).await.unwrap(), Verified::Yes { rehash: true });
        assert_eq!(h.verify("nope", Some(&stored)).await.unwrap(), Verified::No);
    }
}
