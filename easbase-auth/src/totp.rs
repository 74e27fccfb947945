//! TOTP (RFC 6238) as GoTrue uses it: SHA-1, 6 digits, 30-second steps, one step of
//! skew either way; 160-bit secrets shown in base32. Computation is `totp-rs`'s; this
//! module adds what the MFA flow needs around it: which **time step** a code matched (so
//! a used step is refused afterwards), the `otpauth://` URI, the QR code as SVG, and the
//! sealing of secrets at rest.
//!
//! A TOTP secret must be readable to check codes, so it cannot be stored as a hash.
//! It is stored **sealed**: XORed with a pad of `HMAC-SHA256(project secret,
//! "easbase-auth/totp-secret/v1" ‖ factor id)`. Every factor has its own id and its
//! secret is written once, so each pad is used once; reading the table alone does not
//! give the secrets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{AuthError, Result};
use crate::routes::percent_encode;

/// Seconds per step.
pub(crate) const STEP: u64 = 30;
/// Digits per code.
pub(crate) const DIGITS: usize = 6;
/// Secret length in bytes (160 bits, RFC 4226's recommendation and GoTrue's).
const SECRET_LEN: usize = 20;

/// A new random secret.
pub(crate) fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; SECRET_LEN];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// The secret as authenticator apps take it: base32 without padding.
pub(crate) fn base32(secret: &[u8]) -> String {
    match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    }
}

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 1, STEP, secret.to_vec())
}

/// The code of time step `step`.
pub(crate) fn code_at_step(secret: &[u8], step: u64) -> String {
    totp(secret).generate(step.saturating_mul(STEP))
}

/// The time step of `code` at Unix time `now`, if it matches the current step or one
/// step either side. Codes of all three steps are compared in constant time.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now / STEP;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = code_at_step(secret, step);
        // Compare all bytes, whatever matched before, so timing does not depend on the code.
        let diff = expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
pub(crate) fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?algorithm=SHA1&digits={DIGITS}&issuer={}&period={STEP}&secret={}",
        percent_encode(issuer),
        percent_encode(account),
        percent_encode(issuer),
        base32(secret)
    )
}

/// The QR code of `text` as an SVG document (black modules on white, a 4-module quiet
/// zone), as GoTrue's `totp.qr_code` (auth-js prefixes `data:image/svg+xml;utf-8,`).
pub(crate) fn qr_svg(text: &str) -> Result<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| AuthError::Internal("the otpauth URI is too long for a QR code".into()))?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"{w}\" height=\"{w}\" \
         shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\
         <path d=\"{path}\" fill=\"#000000\"/></svg>",
        w = size * 4
    ))
}

fn pad(project_secret: &[u8], factor_id: &str, len: usize) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(project_secret).unwrap_or_else(|_| unreachable!());
    mac.update(b"easbase-auth/totp-secret/v1\0");
    mac.update(factor_id.as_bytes());
    let mut out = mac.finalize().into_bytes().to_vec();
    out.truncate(len);
    out
}

/// The stored form of a factor's secret (base64url of the sealed bytes).
pub(crate) fn seal(project_secret: &[u8], factor_id: &str, secret: &[u8]) -> String {
    let pad = pad(project_secret, factor_id, secret.len());
    let sealed: Vec<u8> = secret.iter().zip(pad).map(|(a, b)| a ^ b).collect();
    URL_SAFE_NO_PAD.encode(sealed)
}

/// The secret of a stored factor.
pub(crate) fn unseal(project_secret: &[u8], factor_id: &str, stored: &str) -> Result<Vec<u8>> {
    let sealed = URL_SAFE_NO_PAD
        .decode(stored)
        .ok()
        .filter(|s| s.len() == SECRET_LEN)
        .ok_or_else(|| AuthError::Internal("unexpected value in auth column `secret`".into()))?;
    let pad = pad(project_secret, factor_id, sealed.len());
    Ok(sealed.iter().zip(pad).map(|(a, b)| a ^ b).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vectors() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits there; the
        // last 6 digits are the 6-digit code.
        let secret = b"12345678901234567890";
        assert_eq!(code_at_step(secret, 59 / STEP), "287082");
        assert_eq!(code_at_step(secret, 1_111_111_109 / STEP), "081804");
        assert_eq!(code_at_step(secret, 2_000_000_000 / STEP), "279037");
    }

    #[test]
    fn steps_match_within_skew_only() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let step = now / STEP;
        for s in [step - 1, step, step + 1] {
            assert_eq!(matching_step(&secret, &code_at_step(&secret, s), now), Some(s));
        }
        let far = code_at_step(&secret, step + 3);
        if ![step - 1, step, step + 1].iter().any(|s| code_at_step(&secret, *s) == far) {
            assert_eq!(matching_step(&secret, &far, now), None);
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn sealing_round_trips_and_differs_per_factor() {
        let secret = new_secret();
        let a = seal(b"project-secret", "f1", &secret);
        assert_ne!(a, seal(b"project-secret", "f2", &secret));
        assert_eq!(unseal(b"project-secret", "f1", &a).unwrap(), secret);
        assert_ne!(unseal(b"other-secret", "f1", &a).unwrap(), secret);
        assert!(unseal(b"project-secret", "f1", "short").is_err());
    }

    #[test]
    fn uri_and_qr() {
        let uri = otpauth_uri(b"12345678901234567890", "app.test", "ada@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/app.test:ada%40example.com?algorithm=SHA1&digits=6&issuer=app.test&period=30\
             &secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>") && svg.contains("h1v1h-1z"));
    }
}
