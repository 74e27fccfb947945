//! Secrets: random tokens, their SHA-256 hashes (what the tables keep) and the derivation of a
//! refresh token's child. Stored tokens are found by their hash (an index lookup), never
//! compared as plain text, so no comparison of a secret depends on its bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random token: 32 bytes (256 bits) from the OS-seeded CSPRNG, base64url (43 characters).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token: SHA-256, lower-case hex. Tokens carry 256 bits of entropy,
/// so a fast hash is enough (no salt or stretching is needed to resist guessing).
pub(crate) fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The child of a refresh token: HMAC-SHA256 keyed by the project's secret. Deterministic,
/// so a client that refreshes twice concurrently with one token gets the same child back
/// (within the reuse interval) although only hashes are stored; unpredictable without the
/// key, so a stolen, already rotated token cannot be turned into its live child.
pub(crate) fn child_token(key: &[u8], parent: &str) -> String {
    // HMAC accepts keys of any length; `new_from_slice` never fails for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(b"easbase-auth/refresh-token-child/v1\0");
    mac.update(parent.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_eq!(token_hash("x").len(), 64);
        assert_eq!(child_token(b"k", &a), child_token(b"k", &a));
        assert_ne!(child_token(b"k", &a), child_token(b"j", &a));
    }
}
