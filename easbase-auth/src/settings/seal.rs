//! Sealing OAuth client secrets at rest: encrypt-then-MAC with HMAC-SHA256 as the PRF,
//! keyed by the project's JWT secret. A random 16-byte nonce per seal; the keystream is
//! `HMAC(key, "…/stream" ‖ nonce ‖ counter)`, the tag `HMAC(key, "…/tag" ‖ nonce ‖
//! ciphertext)` (truncated to 16 bytes, compared in constant time). Stored as base64url
//! of `nonce ‖ ciphertext ‖ tag`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{AuthError, Result};

const NONCE: usize = 16;
const TAG: usize = 16;

fn mac(key: &[u8], label: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(b"easbase-auth/provider-secret/v1/");
    mac.update(label);
    mac.update(b"\0");
    mac
}

fn xor_stream(key: &[u8], nonce: &[u8], data: &mut [u8]) {
    for (i, chunk) in data.chunks_mut(32).enumerate() {
        let mut m = mac(key, b"stream");
        m.update(nonce);
        m.update(&(i as u64).to_be_bytes());
        let block = m.finalize().into_bytes();
        for (b, k) in chunk.iter_mut().zip(block) {
            *b ^= k;
        }
    }
}

fn tag(key: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let mut m = mac(key, b"tag");
    m.update(nonce);
    m.update(ciphertext);
    m.finalize().into_bytes()[..TAG].to_vec()
}

/// The stored form of `secret`.
pub(super) fn seal(key: &[u8], secret: &str) -> String {
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut nonce);
    let mut data = secret.as_bytes().to_vec();
    xor_stream(key, &nonce, &mut data);
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    out.extend_from_slice(&tag(key, &nonce, &data));
    URL_SAFE_NO_PAD.encode(out)
}

/// The secret of a stored form; an error when it was not sealed with `key` or was altered.
pub(super) fn unseal(key: &[u8], stored: &str) -> Result<String> {
    let corrupt = || AuthError::Internal("a stored OAuth client secret cannot be read".into());
    let raw = URL_SAFE_NO_PAD.decode(stored).map_err(|_| corrupt())?;
    if raw.len() < NONCE + TAG {
        return Err(corrupt());
    }
    let (nonce, rest) = raw.split_at(NONCE);
    let (ciphertext, stored_tag) = rest.split_at(rest.len() - TAG);
    if !bool::from(tag(key, nonce, ciphertext).ct_eq(stored_tag)) {
        return Err(corrupt());
    }
    let mut data = ciphertext.to_vec();
    xor_stream(key, nonce, &mut data);
    String::from_utf8(data).map_err(|_| corrupt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = b"0123456789abcdef0123456789abcdef";
        let secret = "a client secret longer than one HMAC block of thirty-two bytes";
        let sealed = seal(key, secret);
        assert!(!sealed.contains("secret"));
        assert_ne!(sealed, seal(key, secret), "a fresh nonce each time");
        assert_eq!(unseal(key, &sealed).unwrap(), secret);
        assert!(unseal(b"another key of thirty-two bytes!", &sealed).is_err());
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        raw[NONCE] ^= 1;
        assert!(unseal(key, &URL_SAFE_NO_PAD.encode(raw)).is_err());
        assert!(unseal(key, "short").is_err());
    }
}
