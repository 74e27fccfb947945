//! Verification of end-user JWTs with a project's own keys.
//!
//! A [`JwtVerifier`] holds the keys of **one** project. Each [`JwtKey`] is pinned to one
//! algorithm; a token is accepted only if its header names that algorithm, so `alg: none`,
//! unknown algorithms and the classic confusion (an `HS256` token "signed" with the
//! bytes of a public key) are refused before any signature is computed. A `kid` in the
//! header selects among this project's keys only; another project's key id is unknown here.
//!
//! Issuing tokens is `easbase-auth`'s job; this module only verifies them.
//!
//! ```
//! use easbase_core::context::jwt::{JwtConfig, JwtKey, JwtVerifier};
//! use jsonwebtoken::{encode, EncodingKey, Header};
//!
//! let secret = b"a-project-secret-of-at-least-32-bytes!";
//! let verifier = JwtVerifier::new(vec![JwtKey::hs256(secret)?], JwtConfig::default())?;
//!
//! // What easbase-auth would issue:
//! let exp = jsonwebtoken::get_current_timestamp() + 3600;
//! let claims = serde_json::json!({
//!     "sub": "9b2f0f5e-0000-4000-8000-000000000000", "aud": "authenticated",
//!     "role": "authenticated", "email": "ada@example.com", "exp": exp,
//! });
//! let token = encode(&Header::default(), &claims, &EncodingKey::from_secret(secret)).unwrap();
//!
//! let claims = verifier.verify(&token)?;
//! assert_eq!(claims.sub(), Some("9b2f0f5e-0000-4000-8000-000000000000"));
//! assert_eq!(claims.role(), Some("authenticated"));
//! assert!(verifier.verify("not.a.token").is_err());
//! # Ok::<(), easbase_core::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::token_cache::{TOKEN_CACHE_CAPACITY, TokenCache};
use crate::error::{Error, Result};

/// The longest token accepted, in bytes (16 KiB; a token with large user metadata is a
/// few KiB). Longer input is refused before it is decoded.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The shortest HS256 secret accepted, in bytes.
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// How many keys a token without `kid` is tried against (those whose algorithm matches
/// its header), so a project with many keys cannot be made to verify a signature many
/// times per request.
pub const MAX_KEYS_WITHOUT_KID: usize = 3;

/// The longest header segment decoded (base64url characters).
const MAX_HEADER_LEN: usize = 1024;

/// One verification key of a project, pinned to one algorithm.
///
/// `Debug` shows the id and the algorithm, never key material.
#[derive(Clone)]
pub struct JwtKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

impl JwtKey {
    /// A key from its parts.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the key's family (HMAC, EC, RSA, Ed) does not match
    /// `algorithm`, or an HMAC key is shorter than [`MIN_HMAC_SECRET_LEN`].
    pub fn new(kid: Option<String>, algorithm: Algorithm, key: DecodingKey) -> Result<JwtKey> {
        if key.family() != algorithm.family() {
            return Err(Error::Config(format!(
                "a {:?} key cannot verify {algorithm:?} tokens",
                key.family()
            )));
        }
        if key.family() == AlgorithmFamily::Hmac
            && key.try_get_as_bytes().map_or(true, |b| b.len() < MIN_HMAC_SECRET_LEN)
        {
            return Err(Error::Config(format!(
                "an HMAC secret must be at least {MIN_HMAC_SECRET_LEN} bytes"
            )));
        }
        Ok(JwtKey { kid, algorithm, key })
    }

    /// An HS256 shared secret (at least [`MIN_HMAC_SECRET_LEN`] bytes).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the secret is too short.
    pub fn hs256(secret: &[u8]) -> Result<JwtKey> {
        JwtKey::new(None, Algorithm::HS256, DecodingKey::from_secret(secret))
    }

    /// An ES256 (P-256) public key in PEM (`-----BEGIN PUBLIC KEY-----`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the PEM is not an EC public key.
    pub fn es256_pem(pem: &[u8]) -> Result<JwtKey> {
        let key =
            DecodingKey::from_ec_pem(pem).map_err(|_| Error::Config("not an EC public key PEM".into()))?;
        JwtKey::new(None, Algorithm::ES256, key)
    }

    /// An Ed25519 (`EdDSA`) public key in PEM.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the PEM is not an Ed25519 public key.
    pub fn eddsa_pem(pem: &[u8]) -> Result<JwtKey> {
        let key = DecodingKey::from_ed_pem(pem)
            .map_err(|_| Error::Config("not an Ed25519 public key PEM".into()))?;
        JwtKey::new(None, Algorithm::EdDSA, key)
    }

    /// An RS256 public key in PEM (PKCS#1 or SPKI).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the PEM is not an RSA public key.
    pub fn rs256_pem(pem: &[u8]) -> Result<JwtKey> {
        let key =
            DecodingKey::from_rsa_pem(pem).map_err(|_| Error::Config("not an RSA public key PEM".into()))?;
        JwtKey::new(None, Algorithm::RS256, key)
    }

    /// A key from one JWK (JSON text). Its `kid` becomes the key id. The algorithm is the
    /// JWK's `alg`, or, when absent, follows from the key type: EC P-256 → ES256, EC P-384
    /// → ES384, OKP Ed25519 → EdDSA, RSA → RS256, oct → HS256.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the JSON is not a JWK, the key is meant for encryption
    /// (`"use": "enc"`), `alg` does not fit the key type or curve, or the key is invalid.
    pub fn from_jwk(json: &str) -> Result<JwtKey> {
        let jwk: Jwk = serde_json::from_str(json).map_err(|_| Error::Config("not a valid JWK".into()))?;
        JwtKey::from_parsed_jwk(&jwk)
    }

    fn from_parsed_jwk(jwk: &Jwk) -> Result<JwtKey> {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return Err(Error::Config("the JWK is an encryption key".into()));
        }
        let inferred = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return Err(Error::Config("unsupported JWK curve".into())),
            },
            AlgorithmParameters::OctetKeyPair(p) => match p.curve {
                EllipticCurve::Ed25519 => Algorithm::EdDSA,
                _ => return Err(Error::Config("unsupported JWK curve".into())),
            },
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::OctetKey(_) => Algorithm::HS256,
            _ => return Err(Error::Config("unsupported JWK key type".into())),
        };
        let algorithm = match jwk.common.key_algorithm {
            None => inferred,
            Some(declared) => {
                let alg: Algorithm = declared
                    .to_string()
                    .parse()
                    .map_err(|_| Error::Config("the JWK's `alg` is not a signature algorithm".into()))?;
                // An EC key's curve fixes its algorithm; other families accept any
                // algorithm of their family (RS512 with an RSA key, HS384 with a secret).
                let fits = if inferred.family() == AlgorithmFamily::Ec {
                    alg == inferred
                } else {
                    alg.family() == inferred.family()
                };
                if !fits {
                    return Err(Error::Config("the JWK's `alg` does not fit its key type".into()));
                }
                alg
            }
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|_| Error::Config("invalid JWK key material".into()))?;
        JwtKey::new(jwk.common.key_id.clone(), algorithm, key)
    }

    /// The same key with id `kid` (matched against a token header's `kid`).
    pub fn with_kid(mut self, kid: impl Into<String>) -> JwtKey {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// What a token must say besides being well signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// Accepted `aud` values; the token must carry `aud` and one of its values must be in
    /// the list. Default `["authenticated"]`, as Supabase Auth issues. `None`: `aud` is
    /// not checked.
    pub audience: Option<Vec<String>>,
    /// The required `iss`; `None`: not checked.
    pub issuer: Option<String>,
    /// Clock skew allowed for `exp` and `nbf`, in seconds. Default 30.
    pub leeway_secs: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig { audience: Some(vec!["authenticated".into()]), issuer: None, leeway_secs: 30 }
    }
}

/// The verification keys of one project and the checks applied to its tokens.
///
/// `exp` is required; `nbf`, when present, is checked; `aud` and `iss` as [`JwtConfig`]
/// says. Errors name what was wrong, never the token.
///
/// A verifier also keeps a bounded cache of the tokens it verified (by their SHA-256, at
/// most [`super::token_cache::TOKEN_CACHE_CAPACITY`]), which the
/// [`ContextResolver`](super::ContextResolver) uses so that a repeated bearer token is
/// not verified again; `exp` and `nbf` are still checked on every use. The cache belongs
/// to the keys: a verifier with other keys (after a rotation) starts empty, and clones
/// share it. [`JwtVerifier::verify`] itself never reads it.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: Vec<(JwtKey, Validation)>,
    tokens: Arc<TokenCache>,
}

impl JwtVerifier {
    /// A verifier for `keys` (may be empty: every token is then refused).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when two keys share a `kid` or the audience list is empty.
    pub fn new(keys: Vec<JwtKey>, config: JwtConfig) -> Result<JwtVerifier> {
        for (i, k) in keys.iter().enumerate() {
            if let Some(kid) = &k.kid
                && keys[..i].iter().any(|o| o.kid.as_deref() == Some(kid.as_str()))
            {
                return Err(Error::Config("two JWT keys share one key id".into()));
            }
        }
        if config.audience.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::Config("the JWT audience list is empty (use None to not check `aud`)".into()));
        }
        let keys = keys
            .into_iter()
            .map(|key| {
                let mut v = Validation::new(key.algorithm);
                v.algorithms = vec![key.algorithm];
                v.leeway = config.leeway_secs;
                v.validate_exp = true;
                v.validate_nbf = true;
                let mut required = vec!["exp"];
                match &config.audience {
                    Some(aud) => {
                        v.set_audience(aud);
                        required.push("aud");
                    }
                    None => v.validate_aud = false,
                }
                if let Some(iss) = &config.issuer {
                    v.set_issuer(&[iss]);
                    required.push("iss");
                }
                v.set_required_spec_claims(&required);
                (key, v)
            })
            .collect();
        let tokens = Arc::new(TokenCache::new(TOKEN_CACHE_CAPACITY, config.leeway_secs));
        Ok(JwtVerifier { keys, tokens })
    }

    /// A verifier from a JWK set (`{"keys": [...]}`), skipping encryption keys.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the JSON is not a JWK set or a signing key in it is invalid.
    pub fn from_jwks(json: &str, config: JwtConfig) -> Result<JwtVerifier> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|_| Error::Config("not a valid JWK set".into()))?;
        let keys = set
            .keys
            .iter()
            .filter(|k| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption)))
            .map(JwtKey::from_parsed_jwk)
            .collect::<Result<Vec<_>>>()?;
        JwtVerifier::new(keys, config)
    }

    /// The cache of tokens this verifier verified (used by the resolver).
    pub(crate) fn token_cache(&self) -> &TokenCache {
        &self.tokens
    }

    /// The keys, in the order they are tried.
    pub fn keys(&self) -> impl Iterator<Item = &JwtKey> {
        self.keys.iter().map(|(k, _)| k)
    }

    /// Verifies `token` and returns its claims.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidToken`] when the token is too long or malformed, its algorithm is
    ///   `none`, unknown or not the selected key's, its `kid` is not one of this
    ///   project's, the signature is wrong, a required claim is missing or malformed, or
    ///   `aud` / `iss` are wrong (the detail says which);
    /// - [`Error::ExpiredToken`] when `exp` has passed (beyond the leeway);
    /// - [`Error::TokenNotYetValid`] when `nbf` is in the future (beyond the leeway).
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let header = parse_header(token)?;
        let candidates: Vec<&(JwtKey, Validation)> = match &header.kid {
            Some(kid) => {
                let entry = self
                    .keys
                    .iter()
                    .find(|(k, _)| k.kid.as_deref() == Some(kid.as_str()))
                    .ok_or_else(|| invalid("unknown key id"))?;
                if entry.0.algorithm != header.alg {
                    return Err(invalid("the algorithm does not match the key"));
                }
                vec![entry]
            }
            None => self
                .keys
                .iter()
                .filter(|(k, _)| k.algorithm == header.alg)
                .take(MAX_KEYS_WITHOUT_KID)
                .collect(),
        };
        if candidates.is_empty() {
            return Err(invalid("no key of this project verifies this algorithm"));
        }
        for (key, validation) in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation) {
                Ok(data) => return Ok(Claims(data.claims)),
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
                Err(e) => return Err(map_error(e.kind())),
            }
        }
        Err(invalid("bad signature"))
    }
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier").field("keys", &self.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

fn invalid(what: &str) -> Error {
    Error::InvalidToken(what.to_owned())
}

struct TokenHeader {
    alg: Algorithm,
    kid: Option<String>,
}

/// Checks the shape of `token` and reads its header, without trusting it.
fn parse_header(token: &str) -> Result<TokenHeader> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid("the token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed token: expected three dot-separated parts"));
    };
    let b64url = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if header.is_empty() || payload.is_empty() || !b64url(header) || !b64url(payload) || !b64url(signature) {
        return Err(invalid("malformed token: bad base64url"));
    }
    if header.len() > MAX_HEADER_LEN {
        return Err(invalid("malformed token: header too long"));
    }
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| invalid("malformed token: bad base64url"))?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(invalid("malformed token: the header is not a JSON object"));
    };
    let Some(Value::String(alg)) = fields.get("alg") else {
        return Err(invalid("malformed token: the header has no `alg`"));
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(invalid("unsigned tokens (`alg: none`) are not accepted"));
    }
    let alg: Algorithm = alg.parse().map_err(|_| invalid("unsupported algorithm"))?;
    if fields.contains_key("crit") {
        // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
        return Err(invalid("unsupported critical header parameters"));
    }
    let kid = match fields.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(invalid("malformed token: `kid` is not a string")),
    };
    if signature.is_empty() {
        return Err(invalid("the token has no signature"));
    }
    Ok(TokenHeader { alg, kid })
}

fn map_error(kind: &ErrorKind) -> Error {
    match kind {
        ErrorKind::ExpiredSignature => Error::ExpiredToken,
        ErrorKind::ImmatureSignature => Error::TokenNotYetValid,
        ErrorKind::InvalidAudience => invalid("wrong audience"),
        ErrorKind::InvalidIssuer => invalid("wrong issuer"),
        ErrorKind::InvalidSignature => invalid("bad signature"),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            invalid("the algorithm does not match the key")
        }
        // The claim names come from our own list (exp, nbf, aud, iss), never the token.
        ErrorKind::MissingRequiredClaim(c) => {
            Error::InvalidToken(format!("missing claim `{}`", known_claim(c)))
        }
        ErrorKind::InvalidClaimFormat(c) => {
            Error::InvalidToken(format!("malformed claim `{}`", known_claim(c)))
        }
        ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            invalid("malformed token")
        }
        _ => invalid("the token cannot be verified"),
    }
}

fn known_claim(c: &str) -> &'static str {
    match c {
        "exp" => "exp",
        "nbf" => "nbf",
        "aud" => "aud",
        "iss" => "iss",
        "sub" => "sub",
        _ => "?",
    }
}

/// The claims of a verified token: a JSON object, with typed accessors for the claims
/// Supabase Auth (and easbase-auth) issue.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// Claims from a JSON object (for tests and for callers that verified a token
    /// elsewhere).
    pub fn from_map(map: Map<String, Value>) -> Claims {
        Claims(map)
    }

    /// The claim `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// `sub`: the user id.
    pub fn sub(&self) -> Option<&str> {
        self.str("sub")
    }

    /// `role`: `authenticated`, `anon` or `service_role`.
    pub fn role(&self) -> Option<&str> {
        self.str("role")
    }

    /// `email`.
    pub fn email(&self) -> Option<&str> {
        self.str("email")
    }

    /// `session_id`: the auth session the token belongs to.
    pub fn session_id(&self) -> Option<&str> {
        self.str("session_id")
    }

    /// `aal`: the authenticator assurance level (`aal1`, `aal2` after MFA).
    pub fn aal(&self) -> Option<&str> {
        self.str("aal")
    }

    /// `is_anonymous`: whether the user signed in anonymously (false when absent).
    pub fn is_anonymous(&self) -> bool {
        self.0.get("is_anonymous").and_then(Value::as_bool).unwrap_or(false)
    }

    /// `exp`, in seconds since the Unix epoch.
    pub fn exp(&self) -> Option<u64> {
        self.0.get("exp").and_then(Value::as_u64)
    }

    /// All claims.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// All claims, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Claims {
        Claims(map)
    }
}
