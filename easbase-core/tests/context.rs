//! Request context: JWT verification, credentials parsing, the resolver.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use easbase_core::Error;
use easbase_core::context::jwt::{Claims, JwtConfig, JwtKey, JwtVerifier, MAX_TOKEN_LEN};
use easbase_core::context::{
    ContextResolver, Credentials, KeyLookup, ProjectId, ProjectState, RequestContext, role_claim,
};
use easbase_core::keys::{self, GeneratedKey, KeyCache, KeyCacheConfig, KeyKind, StoredKey};
use easbase_core::schema::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use proptest::prelude::*;
use serde_json::{Value, json};

const SECRET: &[u8] = b"project-a-jwt-secret-0123456789-abcdef";
const OTHER_SECRET: &[u8] = b"project-b-jwt-secret-0123456789-abcdef";
const ES_PRIVATE: &[u8] = include_bytes!("fixtures/es256_private.pem");
const ES_PUBLIC: &[u8] = include_bytes!("fixtures/es256_public.pem");
const ES_JWK: &str = include_str!("fixtures/es256_public.jwk.json");
const ES_OTHER_PRIVATE: &[u8] = include_bytes!("fixtures/es256_other_private.pem");
const ES_OTHER_PUBLIC: &[u8] = include_bytes!("fixtures/es256_other_public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("fixtures/ed25519_private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("fixtures/ed25519_public.pem");

const UID: &str = "9b2f0f5e-0000-4000-8000-000000000000";

// ---- helpers -------------------------------------------------------------------------

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn user_claims() -> Value {
    json!({
        "sub": UID,
        "aud": "authenticated",
        "role": "authenticated",
        "email": "ada@example.com",
        "session_id": "s-1",
        "aal": "aal1",
        "is_anonymous": false,
        "exp": now() + 3600,
        "iat": now(),
        "app_metadata": { "org_id": 42 },
    })
}

fn with(mut claims: Value, patch: Value) -> Value {
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn hs256(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn es256(claims: &Value, private_pem: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_ec_pem(private_pem).unwrap()).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn hs_verifier() -> JwtVerifier {
    JwtVerifier::new(vec![JwtKey::hs256(SECRET).unwrap()], JwtConfig::default()).unwrap()
}

fn es_verifier() -> JwtVerifier {
    JwtVerifier::new(vec![JwtKey::es256_pem(ES_PUBLIC).unwrap().with_kid("es-key-1")], JwtConfig::default())
        .unwrap()
}

fn token_error(verifier: &JwtVerifier, token: &str) -> Error {
    let err = verifier.verify(token).unwrap_err();
    let text = err.to_string();
    // Errors never echo the token or any of its parts.
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(!text.contains(part), "error echoes the token: {text}");
    }
    err
}

fn invalid_token(verifier: &JwtVerifier, token: &str) -> String {
    match token_error(verifier, token) {
        Error::InvalidToken(why) => why,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

// ---- JWT -----------------------------------------------------------------------------

#[test]
fn valid_hs256_token() {
    let token = hs256(&user_claims(), SECRET, None);
    let claims = hs_verifier().verify(&token).unwrap();
    assert_eq!(claims.sub(), Some(UID));
    assert_eq!(claims.role(), Some("authenticated"));
    assert_eq!(claims.email(), Some("ada@example.com"));
    assert_eq!(claims.session_id(), Some("s-1"));
    assert_eq!(claims.aal(), Some("aal1"));
    assert!(!claims.is_anonymous());
    assert!(claims.exp().unwrap() > now());
    assert_eq!(claims.get("app_metadata"), Some(&json!({ "org_id": 42 })));
}

#[test]
fn valid_es256_token_pem_and_jwk() {
    let token = es256(&user_claims(), ES_PRIVATE, Some("es-key-1"));
    assert_eq!(es_verifier().verify(&token).unwrap().sub(), Some(UID));

    let from_jwk = JwtKey::from_jwk(ES_JWK).unwrap();
    assert_eq!(from_jwk.kid(), Some("es-key-1"));
    assert_eq!(from_jwk.algorithm(), Algorithm::ES256);
    let verifier = JwtVerifier::new(vec![from_jwk], JwtConfig::default()).unwrap();
    assert_eq!(verifier.verify(&token).unwrap().sub(), Some(UID));

    let jwks = format!(r#"{{"keys": [{ES_JWK}]}}"#);
    let verifier = JwtVerifier::from_jwks(&jwks, JwtConfig::default()).unwrap();
    assert_eq!(verifier.verify(&token).unwrap().sub(), Some(UID));

    // Without kid: tried against the keys of the header's algorithm.
    let no_kid = es256(&user_claims(), ES_PRIVATE, None);
    assert_eq!(es_verifier().verify(&no_kid).unwrap().sub(), Some(UID));
}

#[test]
fn valid_eddsa_token() {
    let verifier =
        JwtVerifier::new(vec![JwtKey::eddsa_pem(ED_PUBLIC).unwrap()], JwtConfig::default()).unwrap();
    let token = encode(
        &Header::new(Algorithm::EdDSA),
        &user_claims(),
        &EncodingKey::from_ed_pem(ED_PRIVATE).unwrap(),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).unwrap().sub(), Some(UID));
}

#[test]
fn several_keys_without_kid() {
    // Rotation of an HS256 secret: both verify during the overlap.
    let verifier = JwtVerifier::new(
        vec![
            JwtKey::hs256(OTHER_SECRET).unwrap(),
            JwtKey::hs256(SECRET).unwrap(),
            JwtKey::es256_pem(ES_PUBLIC).unwrap(),
        ],
        JwtConfig::default(),
    )
    .unwrap();
    assert!(verifier.verify(&hs256(&user_claims(), SECRET, None)).is_ok());
    assert!(verifier.verify(&hs256(&user_claims(), OTHER_SECRET, None)).is_ok());
    assert!(verifier.verify(&es256(&user_claims(), ES_PRIVATE, None)).is_ok());
    let forged = hs256(&user_claims(), b"not-a-key-of-this-project-at-all-0000", None);
    assert_eq!(invalid_token(&verifier, &forged), "bad signature");
}

#[test]
fn expired_and_not_yet_valid() {
    let v = hs_verifier();
    let expired = hs256(&with(user_claims(), json!({ "exp": now() - 3600 })), SECRET, None);
    assert!(matches!(token_error(&v, &expired), Error::ExpiredToken));
    let future = hs256(&with(user_claims(), json!({ "nbf": now() + 3600 })), SECRET, None);
    assert!(matches!(token_error(&v, &future), Error::TokenNotYetValid));
    // Within the leeway (30 s) both pass.
    let just_expired = hs256(&with(user_claims(), json!({ "exp": now() - 5 })), SECRET, None);
    assert!(v.verify(&just_expired).is_ok());
    let nbf_soon = hs256(&with(user_claims(), json!({ "nbf": now() + 5 })), SECRET, None);
    assert!(v.verify(&nbf_soon).is_ok());
    // `exp` is required and must be a number.
    let no_exp = hs256(&with(user_claims(), json!({ "exp": null })), SECRET, None);
    assert_eq!(invalid_token(&v, &no_exp), "missing claim `exp`");
    let bad_exp = hs256(&with(user_claims(), json!({ "exp": "tomorrow" })), SECRET, None);
    assert!(v.verify(&bad_exp).is_err());
}

#[test]
fn audience_and_issuer() {
    let v = hs_verifier();
    let wrong_aud = hs256(&with(user_claims(), json!({ "aud": "someone-else" })), SECRET, None);
    assert_eq!(invalid_token(&v, &wrong_aud), "wrong audience");
    let no_aud = hs256(&with(user_claims(), json!({ "aud": null })), SECRET, None);
    assert_eq!(invalid_token(&v, &no_aud), "missing claim `aud`");
    let list_aud = hs256(&with(user_claims(), json!({ "aud": ["x", "authenticated"] })), SECRET, None);
    assert!(v.verify(&list_aud).is_ok());

    let config = JwtConfig {
        issuer: Some("https://acme.example/auth/v1".into()),
        audience: None,
        ..JwtConfig::default()
    };
    let v = JwtVerifier::new(vec![JwtKey::hs256(SECRET).unwrap()], config).unwrap();
    let good = hs256(&with(user_claims(), json!({ "iss": "https://acme.example/auth/v1" })), SECRET, None);
    assert!(v.verify(&good).is_ok());
    let wrong_iss = hs256(&with(user_claims(), json!({ "iss": "https://evil.example" })), SECRET, None);
    assert_eq!(invalid_token(&v, &wrong_iss), "wrong issuer");
    let no_iss = hs256(&user_claims(), SECRET, None);
    assert_eq!(invalid_token(&v, &no_iss), "missing claim `iss`");
    // audience: None does not check `aud` (any value passes).
    let other_aud = hs256(
        &with(user_claims(), json!({ "aud": "x", "iss": "https://acme.example/auth/v1" })),
        SECRET,
        None,
    );
    assert!(v.verify(&other_aud).is_ok());
}

#[test]
fn alg_none_is_refused() {
    let payload = b64(&user_claims());
    for alg in ["none", "None", "NONE"] {
        let header = b64(&json!({ "alg": alg, "typ": "JWT" }));
        for token in [format!("{header}.{payload}."), format!("{header}.{payload}.c2ln")] {
            let why = invalid_token(&hs_verifier(), &token);
            assert!(why.contains("alg: none"), "{why}");
        }
    }
    // Unknown and non-string algorithms.
    for alg in [json!("HS1024"), json!(""), json!(7), json!(null)] {
        let header = b64(&json!({ "alg": alg }));
        assert!(hs_verifier().verify(&format!("{header}.{payload}.c2ln")).is_err());
    }
}

#[test]
fn algorithm_confusion_is_refused() {
    // The classic attack: an HS256 token whose HMAC key is the server's *public* key bytes.
    let claims = user_claims();
    for kid in [None, Some("es-key-1")] {
        let forged = hs256(&claims, ES_PUBLIC, kid);
        let why = invalid_token(&es_verifier(), &forged);
        assert!(why.contains("algorithm"), "{why}");
    }
    // An ES256 token against an HS256-only project.
    let es = es256(&claims, ES_PRIVATE, None);
    assert!(invalid_token(&hs_verifier(), &es).contains("algorithm"));
    // A token whose header says ES256 but carries an HMAC signature.
    let hs = hs256(&claims, SECRET, None);
    let (_, rest) = hs.split_once('.').unwrap();
    let relabelled = format!("{}.{rest}", b64(&json!({ "alg": "ES256", "typ": "JWT" })));
    assert!(matches!(token_error(&es_verifier(), &relabelled), Error::InvalidToken(_)));
    // Keys refuse to be pinned to an algorithm of another family.
    let key = jsonwebtoken::DecodingKey::from_ec_pem(ES_PUBLIC).unwrap();
    assert!(matches!(JwtKey::new(None, Algorithm::HS256, key), Err(Error::Config(_))));
    let jwk_wrong_alg = ES_JWK.replace("\"ES256\"", "\"HS256\"");
    assert!(matches!(JwtKey::from_jwk(&jwk_wrong_alg), Err(Error::Config(_))));
}

#[test]
fn kid_selects_only_this_projects_keys() {
    let token = es256(&user_claims(), ES_PRIVATE, Some("nope"));
    assert_eq!(invalid_token(&es_verifier(), &token), "unknown key id");

    // Project B's key, with B's kid, against project A's verifier.
    let a = es_verifier();
    let b = JwtVerifier::new(
        vec![JwtKey::es256_pem(ES_OTHER_PUBLIC).unwrap().with_kid("b-key-1")],
        JwtConfig::default(),
    )
    .unwrap();
    let token_b = es256(&user_claims(), ES_OTHER_PRIVATE, Some("b-key-1"));
    assert!(b.verify(&token_b).is_ok());
    assert_eq!(invalid_token(&a, &token_b), "unknown key id");
    // B's key presenting A's kid: the signature does not verify.
    let spoofed = es256(&user_claims(), ES_OTHER_PRIVATE, Some("es-key-1"));
    assert_eq!(invalid_token(&a, &spoofed), "bad signature");
    // An HS256 project: another project's secret.
    let other = hs256(&user_claims(), OTHER_SECRET, None);
    assert_eq!(invalid_token(&hs_verifier(), &other), "bad signature");
}

#[test]
fn malformed_tokens() {
    let v = hs_verifier();
    let good = hs256(&user_claims(), SECRET, None);
    let parts: Vec<&str> = good.split('.').collect();
    let huge = format!("{}.{}.{}", parts[0], "a".repeat(MAX_TOKEN_LEN), parts[2]);
    let cases = [
        String::new(),
        "garbage".into(),
        "a.b".into(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra"),
        "a!b.c.d".into(),
        format!("{}.{}.{}", parts[0], "###", parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", b64(&json!("not an object")), parts[1], parts[2]),
        format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("{not json"), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode("[1,2]"), parts[2]),
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode("{bad"), parts[2]),
        format!("{}.{}.", parts[0], parts[1]),
        format!("{}.{}.{}x", parts[0], parts[1], parts[2]),
        format!("..{}", parts[2]),
        "é.é.é".into(),
        huge,
        format!("{}.{}.{}", b64(&json!({ "alg": "HS256", "crit": ["exp"] })), parts[1], parts[2]),
        format!("{}.{}.{}", b64(&json!({ "alg": "HS256", "kid": 5 })), parts[1], parts[2]),
    ];
    for case in &cases {
        let err = token_error(&v, case);
        assert!(matches!(err, Error::InvalidToken(_)), "{case:.60}: {err:?}");
        assert_eq!(err.code(), "invalid_token");
    }
}

#[test]
fn verifier_configuration_errors() {
    assert!(matches!(JwtKey::hs256(b"short"), Err(Error::Config(_))));
    assert!(matches!(JwtKey::es256_pem(b"not a pem"), Err(Error::Config(_))));
    assert!(matches!(JwtKey::es256_pem(ED_PUBLIC), Err(Error::Config(_))));
    assert!(matches!(JwtKey::from_jwk("{}"), Err(Error::Config(_))));
    let dup = vec![
        JwtKey::hs256(SECRET).unwrap().with_kid("k"),
        JwtKey::hs256(OTHER_SECRET).unwrap().with_kid("k"),
    ];
    assert!(matches!(JwtVerifier::new(dup, JwtConfig::default()), Err(Error::Config(_))));
    let empty_aud = JwtConfig { audience: Some(vec![]), ..JwtConfig::default() };
    assert!(matches!(JwtVerifier::new(vec![], empty_aud), Err(Error::Config(_))));
    // No keys: every token refused.
    let none = JwtVerifier::new(vec![], JwtConfig::default()).unwrap();
    assert!(none.verify(&hs256(&user_claims(), SECRET, None)).is_err());
    // Debug never shows key material.
    let text = format!("{:?}", hs_verifier());
    assert!(!text.contains("project-a-jwt-secret"), "{text}");
}

// ---- ProjectId, RequestContext ----------------------------------------------------

#[test]
fn project_ids() {
    for ok in ["a", "acme", "acme-prod_1", &"x".repeat(40)] {
        assert_eq!(ProjectId::new(ok).unwrap().as_str(), ok);
    }
    for bad in ["", "Acme", "a b", "a.b", "é", &"x".repeat(41), "a/b", "a\0"] {
        assert!(matches!(ProjectId::new(bad), Err(Error::InvalidName(_))), "{bad:?}");
    }
    let id: ProjectId = serde_json::from_str("\"acme\"").unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"acme\"");
    assert!(serde_json::from_str::<ProjectId>("\"ACME\"").is_err());
}

#[test]
fn context_role_claim_matches_auth_context() {
    let project = ProjectId::new("acme").unwrap();
    for role in [Role::Anon, Role::Authenticated, Role::Service] {
        // Even a conflicting `role` claim is replaced by the role the request acts as.
        let mut claims = serde_json::Map::new();
        claims.insert("role".into(), json!("something-else"));
        let ctx = RequestContext::new(project.clone(), role, claims, None);
        let from_json: Value = serde_json::from_str(ctx.claims_json()).unwrap();
        assert_eq!(from_json["role"], json!(ctx.auth_context().role));
        assert_eq!(ctx.auth_context().role, role_claim(role));
        assert_eq!(ctx.claims()["role"], json!(role_claim(role)));
    }
    let anon = RequestContext::new(project.clone(), Role::Anon, Default::default(), None);
    assert_eq!(anon.claims_json(), r#"{"role":"anon"}"#);
    let service = RequestContext::new(project, Role::Service, Default::default(), None);
    assert_eq!(service.claims_json(), r#"{"role":"service_role"}"#);
    assert_eq!(service.auth_context().uid, None);
}

#[test]
fn request_ids() {
    let project = ProjectId::new("acme").unwrap();
    let ctx = |id: Option<&str>| RequestContext::new(project.clone(), Role::Anon, Default::default(), id);
    assert_eq!(ctx(Some("abc-123.x:y_z")).request_id(), "abc-123.x:y_z");
    for bad in [Some(""), Some("has space"), Some("new\nline"), Some(&*"x".repeat(129)), None] {
        let id = ctx(bad).request_id().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} -> {id}");
    }
    assert_ne!(ctx(None).request_id(), ctx(None).request_id());
}

// ---- Credentials ----------------------------------------------------------------------

#[test]
fn credentials_matrix() {
    let pk = keys::generate(KeyKind::Publishable).secret;
    let sk = keys::generate(KeyKind::Secret).secret;
    let jwt = hs256(&user_claims(), SECRET, None);
    let jwt2 = hs256(&with(user_claims(), json!({ "sub": "other" })), SECRET, None);
    let bearer = |v: &str| format!("Bearer {v}");

    // apikey only
    let c = Credentials::from_headers(Some(&pk), None).unwrap();
    assert_eq!(c.api_key().unwrap().kind(), KeyKind::Publishable);
    assert!(c.token().is_none());
    // bearer key only
    let c = Credentials::from_headers(None, Some(&bearer(&sk))).unwrap();
    assert_eq!(c.api_key().unwrap().kind(), KeyKind::Secret);
    // both, same key (supabase-js without a session)
    let c = Credentials::from_headers(Some(&pk), Some(&bearer(&pk))).unwrap();
    assert_eq!(c.api_key().unwrap(), &keys::parse(&pk).unwrap());
    assert!(c.token().is_none());
    // apikey + bearer JWT (a signed-in user)
    let c = Credentials::from_headers(Some(&pk), Some(&bearer(&jwt))).unwrap();
    assert!(c.api_key().is_some());
    assert_eq!(c.token(), Some(jwt.as_str()));
    // bearer JWT only (shape fine; the resolver then asks for a key)
    let c = Credentials::from_headers(None, Some(&bearer(&jwt))).unwrap();
    assert!(c.api_key().is_none() && c.token().is_some());
    // JWT in apikey and key in bearer
    let c = Credentials::from_headers(Some(&jwt), Some(&bearer(&pk))).unwrap();
    assert!(c.api_key().is_some() && c.token().is_some());
    // the same JWT in both
    assert!(Credentials::from_headers(Some(&jwt), Some(&bearer(&jwt))).is_ok());
    // scheme in any case, extra whitespace
    for auth in [
        format!("bearer {jwt}"),
        format!("BEARER {jwt}"),
        format!("  Bearer   {jwt}  "),
        format!("Bearer\t{jwt}"),
    ] {
        let c = Credentials::from_headers(Some(&pk), Some(&auth)).unwrap();
        assert_eq!(c.token(), Some(jwt.as_str()), "{auth}");
    }
    // surrounding whitespace in apikey
    assert!(Credentials::from_headers(Some(&format!(" {pk} ")), None).is_ok());

    // empty / absent
    for (a, b) in [(None, None), (Some(""), None), (None, Some("")), (Some("  "), Some(" "))] {
        assert!(matches!(Credentials::from_headers(a, b), Err(Error::MissingCredentials)), "{a:?} {b:?}");
    }
    // two different keys, two different tokens
    assert!(matches!(Credentials::from_headers(Some(&pk), Some(&bearer(&sk))), Err(Error::InvalidApiKey)));
    assert!(matches!(
        Credentials::from_headers(Some(&jwt), Some(&bearer(&jwt2))),
        Err(Error::InvalidToken(_))
    ));
    // junk
    let junk_apikey = [
        "junk",
        "eb_pk_short",
        &pk[..pk.len() - 1],
        &format!("{pk}x"),
        "é",
        "eb_pk_ééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
        &"a".repeat(100_000),
    ];
    for junk in junk_apikey {
        assert!(
            matches!(Credentials::from_headers(Some(junk), None), Err(Error::InvalidApiKey)),
            "{junk:.40}"
        );
    }
    let junk_auth = [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearerxyz",
        &jwt,
        "Bearer junk",
        "Bearer a.b",
        "Bearer é.é.é",
        "Béarer x",
    ];
    for junk in junk_auth {
        assert!(
            matches!(Credentials::from_headers(None, Some(junk)), Err(Error::InvalidToken(_))),
            "{junk:.40}"
        );
    }
    assert!(matches!(
        Credentials::from_headers(None, Some(&format!("Bearer {}x", &pk))),
        Err(Error::InvalidApiKey)
    ));
    let huge_token = format!("Bearer {}.{}.{}", "a".repeat(MAX_TOKEN_LEN), "b", "c");
    assert!(matches!(Credentials::from_headers(Some(&pk), Some(&huge_token)), Err(Error::InvalidToken(_))));
}

#[test]
fn credentials_debug_redacts() {
    let pk = keys::generate(KeyKind::Publishable).secret;
    let jwt = hs256(&user_claims(), SECRET, None);
    let c = Credentials::from_headers(Some(&pk), Some(&format!("Bearer {jwt}"))).unwrap();
    let text = format!("{c:?}");
    assert!(!text.contains(&pk[23..]), "{text}");
    assert!(!text.contains(&jwt), "{text}");
}

// ---- resolver ---------------------------------------------------------------------------

#[derive(Default)]
struct MemoryKeys {
    keys: HashMap<String, (StoredKey, ProjectState)>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl KeyLookup for MemoryKeys {
    async fn key(&self, key_id: &str) -> easbase_core::Result<Option<(StoredKey, ProjectState)>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.keys.get(key_id).cloned())
    }
}

struct Fixture {
    resolver: ContextResolver,
    lookup: Arc<MemoryKeys>,
    a_pk: GeneratedKey,
    a_sk: GeneratedKey,
    b_pk: GeneratedKey,
    paused_pk: GeneratedKey,
    revoked_sk: GeneratedKey,
}

fn state(id: &str, paused: bool, verifier: JwtVerifier) -> ProjectState {
    ProjectState { project: ProjectId::new(id).unwrap(), paused, verifier: Arc::new(verifier) }
}

fn fixture(cache: KeyCacheConfig) -> Fixture {
    let t = SystemTime::now();
    let a = state("project-a", false, hs_verifier());
    let b = state(
        "project-b",
        false,
        JwtVerifier::new(vec![JwtKey::hs256(OTHER_SECRET).unwrap()], JwtConfig::default()).unwrap(),
    );
    let p = state("project-p", true, hs_verifier());
    let (a_pk, a_sk, b_pk, paused_pk, revoked_sk) = (
        keys::generate(KeyKind::Publishable),
        keys::generate(KeyKind::Secret),
        keys::generate(KeyKind::Publishable),
        keys::generate(KeyKind::Publishable),
        keys::generate(KeyKind::Secret),
    );
    let mut lookup = MemoryKeys::default();
    for (g, s) in [(&a_pk, &a), (&a_sk, &a), (&b_pk, &b), (&paused_pk, &p), (&revoked_sk, &a)] {
        let mut stored = g.to_stored(s.project.clone(), t);
        stored.revoked = std::ptr::eq(g, &revoked_sk);
        lookup.keys.insert(g.id.clone(), (stored, s.clone()));
    }
    let lookup = Arc::new(lookup);
    let resolver = ContextResolver::new(lookup.clone(), KeyCache::new(cache));
    Fixture { resolver, lookup, a_pk, a_sk, b_pk, paused_pk, revoked_sk }
}

fn bearer(v: &str) -> String {
    format!("Bearer {v}")
}

#[tokio::test]
async fn key_only_requests() {
    let f = fixture(KeyCacheConfig::default());
    let ctx = f.resolver.resolve_headers(Some(&f.a_pk.secret), None, None).await.unwrap();
    assert_eq!(ctx.project().as_str(), "project-a");
    assert_eq!(ctx.role(), Role::Anon);
    assert_eq!(ctx.claims_json(), r#"{"role":"anon"}"#);
    let auth = ctx.auth_context();
    assert_eq!((auth.uid, auth.role.as_str(), auth.email), (None, "anon", None));

    let ctx = f.resolver.resolve_headers(None, Some(&bearer(&f.a_sk.secret)), Some("r-1")).await.unwrap();
    assert_eq!(ctx.role(), Role::Service);
    assert_eq!(ctx.auth_context().role, "service_role");
    assert_eq!(ctx.request_id(), "r-1");

    let ctx =
        f.resolver.resolve_headers(Some(&f.b_pk.secret), Some(&bearer(&f.b_pk.secret)), None).await.unwrap();
    assert_eq!(ctx.project().as_str(), "project-b");
}

#[tokio::test]
async fn user_jwt_gives_authenticated_with_claims() {
    let f = fixture(KeyCacheConfig::default());
    let jwt = hs256(&user_claims(), SECRET, None);
    let ctx = f.resolver.resolve_headers(Some(&f.a_pk.secret), Some(&bearer(&jwt)), None).await.unwrap();
    assert_eq!(ctx.role(), Role::Authenticated);
    assert_eq!(ctx.uid(), Some(UID));
    let auth = ctx.auth_context();
    assert_eq!(auth.uid.as_deref(), Some(UID));
    assert_eq!(auth.role, "authenticated");
    assert_eq!(auth.email.as_deref(), Some("ada@example.com"));
    assert_eq!(auth.claims["app_metadata"]["org_id"], json!(42));
    let json: Value = serde_json::from_str(ctx.claims_json()).unwrap();
    assert_eq!(json, *auth.claims);
    assert_eq!(json["role"], json!("authenticated"));

    // No `role` claim: authenticated, and the claim is filled in.
    let no_role = hs256(&with(user_claims(), json!({ "role": null })), SECRET, None);
    let ctx = f.resolver.resolve_headers(Some(&f.a_pk.secret), Some(&bearer(&no_role)), None).await.unwrap();
    assert_eq!(ctx.role(), Role::Authenticated);
    assert_eq!(ctx.claims()["role"], json!("authenticated"));

    // A user token with a secret key: the token decides (Supabase).
    let ctx = f.resolver.resolve_headers(Some(&f.a_sk.secret), Some(&bearer(&jwt)), None).await.unwrap();
    assert_eq!(ctx.role(), Role::Authenticated);

    // role: anon and role: service_role tokens signed by the project.
    let anon = hs256(&with(user_claims(), json!({ "role": "anon", "sub": null })), SECRET, None);
    let ctx = f.resolver.resolve_headers(Some(&f.a_pk.secret), Some(&bearer(&anon)), None).await.unwrap();
    assert_eq!((ctx.role(), ctx.uid()), (Role::Anon, None));
    let service = hs256(&with(user_claims(), json!({ "role": "service_role" })), SECRET, None);
    let ctx = f.resolver.resolve_headers(Some(&f.a_pk.secret), Some(&bearer(&service)), None).await.unwrap();
    assert_eq!(ctx.role(), Role::Service);
    assert_eq!(ctx.auth_context().role, "service_role");

    // Any other role is refused.
    for role in ["admin", "postgres", "service", ""] {
        let t = hs256(&with(user_claims(), json!({ "role": role })), SECRET, None);
        let err =
            f.resolver.resolve_headers(Some(&f.a_pk.secret), Some(&bearer(&t)), None).await.unwrap_err();
        assert!(matches!(err, Error::InvalidToken(_)), "{role}: {err:?}");
    }
}

#[tokio::test]
async fn token_errors_pass_through() {
    let f = fixture(KeyCacheConfig::default());
    let pk = Some(f.a_pk.secret.as_str());
    let expired = hs256(&with(user_claims(), json!({ "exp": now() - 3600 })), SECRET, None);
    let err = f.resolver.resolve_headers(pk, Some(&bearer(&expired)), None).await.unwrap_err();
    assert!(matches!(err, Error::ExpiredToken));
    // Project B's token with project A's key.
    let b_token = hs256(&user_claims(), OTHER_SECRET, None);
    let err = f.resolver.resolve_headers(pk, Some(&bearer(&b_token)), None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidToken(_)));
    // A token alone does not name a project.
    let jwt = hs256(&user_claims(), SECRET, None);
    let err = f.resolver.resolve_headers(None, Some(&bearer(&jwt)), None).await.unwrap_err();
    assert!(matches!(err, Error::MissingApiKey));
    assert_eq!(err.code(), "missing_api_key");
}

#[tokio::test]
async fn refused_keys() {
    let f = fixture(KeyCacheConfig::default());
    // Unknown key (well-formed, never stored).
    let unknown = keys::generate(KeyKind::Publishable);
    let err = f.resolver.resolve_headers(Some(&unknown.secret), None, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidApiKey));
    // Known id, wrong secret.
    let mut forged = f.a_sk.secret.clone();
    forged.replace_range(forged.len() - 1.., if forged.ends_with('a') { "b" } else { "a" });
    let err = f.resolver.resolve_headers(Some(&forged), None, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidApiKey));
    // Revoked.
    let err = f.resolver.resolve_headers(Some(&f.revoked_sk.secret), None, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidApiKey));
    // Paused project.
    let err = f.resolver.resolve_headers(Some(&f.paused_pk.secret), None, None).await.unwrap_err();
    assert!(matches!(err, Error::ProjectPaused));
    assert_eq!(err.code(), "project_paused");
    // A forged key with a paused project's id learns nothing about the pause.
    let mut forged = f.paused_pk.secret.clone();
    forged.replace_range(forged.len() - 1.., if forged.ends_with('a') { "b" } else { "a" });
    let err = f.resolver.resolve_headers(Some(&forged), None, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidApiKey));
    // Malformed.
    let err = f.resolver.resolve_headers(Some("eb_pk_nope"), None, None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidApiKey));
    let err = f.resolver.resolve_headers(None, None, None).await.unwrap_err();
    assert!(matches!(err, Error::MissingCredentials));
}

#[tokio::test]
async fn lookups_are_cached_and_invalidated() {
    let f = fixture(KeyCacheConfig::default());
    for _ in 0..5 {
        f.resolver.resolve_headers(Some(&f.a_pk.secret), None, None).await.unwrap();
    }
    assert_eq!(f.lookup.calls.load(Ordering::SeqCst), 1);
    // A wrong secret for a cached id is still refused (verification is per request).
    let mut forged = f.a_pk.secret.clone();
    forged.replace_range(forged.len() - 1.., if forged.ends_with('a') { "b" } else { "a" });
    assert!(f.resolver.resolve_headers(Some(&forged), None, None).await.is_err());
    assert_eq!(f.lookup.calls.load(Ordering::SeqCst), 1);

    assert!(f.resolver.cache().invalidate(&f.a_pk.id));
    f.resolver.resolve_headers(Some(&f.a_pk.secret), None, None).await.unwrap();
    assert_eq!(f.lookup.calls.load(Ordering::SeqCst), 2);

    // Invalidate a whole project (e.g. on pause).
    f.resolver.resolve_headers(Some(&f.a_sk.secret), None, None).await.unwrap();
    let removed = f.resolver.cache().invalidate_if(|_, (_, s)| s.project.as_str() == "project-a");
    assert_eq!(removed, 2);
}

#[tokio::test]
async fn cache_ttl_and_disabled_cache() {
    let f = fixture(KeyCacheConfig { capacity: 100, ttl: Duration::from_millis(20) });
    f.resolver.resolve_headers(Some(&f.a_pk.secret), None, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    f.resolver.resolve_headers(Some(&f.a_pk.secret), None, None).await.unwrap();
    assert_eq!(f.lookup.calls.load(Ordering::SeqCst), 2);

    let f = fixture(KeyCacheConfig { capacity: 0, ttl: Duration::from_secs(60) });
    for _ in 0..3 {
        let ctx = f.resolver.resolve_headers(Some(&f.a_pk.secret), None, None).await.unwrap();
        assert_eq!(ctx.role(), Role::Anon);
    }
    assert_eq!(f.lookup.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn claims_from_map() {
    let Value::Object(map) = user_claims() else { unreachable!() };
    let claims = Claims::from_map(map.clone());
    assert_eq!(claims.as_map(), &map);
    assert_eq!(claims.into_map(), map);
    assert!(Claims::default().sub().is_none());
    assert!(
        Claims::from_map(serde_json::Map::from_iter([("is_anonymous".into(), json!(true))])).is_anonymous()
    );
}

// ---- the verified-token cache ------------------------------------------------------------

/// A key store whose entries a test changes (as the platform's rows change), with the
/// resolver cache invalidated the way the project module does it.
#[derive(Default)]
struct MutableKeys {
    keys: std::sync::Mutex<HashMap<String, (StoredKey, ProjectState)>>,
}

#[async_trait::async_trait]
impl KeyLookup for MutableKeys {
    async fn key(&self, key_id: &str) -> easbase_core::Result<Option<(StoredKey, ProjectState)>> {
        Ok(self.keys.lock().unwrap().get(key_id).cloned())
    }
}

impl MutableKeys {
    fn set(&self, key: &GeneratedKey, project: &str, verifier: JwtVerifier, revoked: bool) {
        let mut stored = key.to_stored(ProjectId::new(project).unwrap(), SystemTime::now());
        stored.revoked = revoked;
        self.keys.lock().unwrap().insert(key.id.clone(), (stored, state(project, false, verifier)));
    }
}

fn mutable_resolver() -> (ContextResolver, Arc<MutableKeys>) {
    let lookup = Arc::new(MutableKeys::default());
    (ContextResolver::new(lookup.clone(), KeyCache::default()), lookup)
}

fn invalidate_project(resolver: &ContextResolver, project: &str) {
    resolver.cache().invalidate_if(|_, (_, s)| s.project.as_str() == project);
}

#[tokio::test]
async fn a_repeated_token_is_served_from_the_cache() {
    let f = fixture(KeyCacheConfig::default());
    let pk = Some(f.a_pk.secret.as_str());
    let jwt = bearer(&hs256(&user_claims(), SECRET, None));
    let first = f.resolver.resolve_headers(pk, Some(&jwt), Some("r-1")).await.unwrap();
    let second = f.resolver.resolve_headers(pk, Some(&jwt), Some("r-2")).await.unwrap();
    // The same verified claims are shared, not parsed and serialized again.
    assert!(Arc::ptr_eq(first.claims(), second.claims()));
    assert_eq!((second.role(), second.uid(), second.request_id()), (Role::Authenticated, Some(UID), "r-2"));
    assert_eq!(first.claims_json(), second.claims_json());
    // The cache is keyed by the whole token: one more claim is another token.
    let other = bearer(&hs256(&with(user_claims(), json!({ "x": 1 })), SECRET, None));
    let third = f.resolver.resolve_headers(pk, Some(&other), None).await.unwrap();
    assert!(!Arc::ptr_eq(first.claims(), third.claims()));
    assert_eq!(third.claims()["x"], json!(1));
    // A tampered signature is not a cache hit.
    let good = hs256(&user_claims(), SECRET, None);
    let tampered = format!("{}A", &good[..good.len() - 1]);
    let tampered = if tampered == good { format!("{}B", &good[..good.len() - 1]) } else { tampered };
    let err = f.resolver.resolve_headers(pk, Some(&bearer(&tampered)), None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidToken(_)), "{err:?}");
    // Key-only requests are untouched.
    let anon = f.resolver.resolve_headers(pk, None, None).await.unwrap();
    assert_eq!(anon.claims_json(), r#"{"role":"anon"}"#);
}

#[tokio::test]
async fn a_cached_token_fails_after_its_exp() {
    let (resolver, lookup) = mutable_resolver();
    let pk = keys::generate(KeyKind::Publishable);
    let strict = JwtConfig { leeway_secs: 0, ..JwtConfig::default() };
    lookup.set(
        &pk,
        "project-a",
        JwtVerifier::new(vec![JwtKey::hs256(SECRET).unwrap()], strict).unwrap(),
        false,
    );
    let exp = now() + 1;
    let jwt = bearer(&hs256(&with(user_claims(), json!({ "exp": exp })), SECRET, None));
    let first = resolver.resolve_headers(Some(&pk.secret), Some(&jwt), None).await.unwrap();
    let again = resolver.resolve_headers(Some(&pk.secret), Some(&jwt), None).await.unwrap();
    assert!(Arc::ptr_eq(first.claims(), again.claims()), "the second use is a cache hit");
    while now() <= exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..2 {
        let err = resolver.resolve_headers(Some(&pk.secret), Some(&jwt), None).await.unwrap_err();
        assert!(matches!(err, Error::ExpiredToken), "{err:?}");
    }
}

#[tokio::test]
async fn a_cached_token_fails_after_secret_rotation() {
    let (resolver, lookup) = mutable_resolver();
    let pk = keys::generate(KeyKind::Publishable);
    lookup.set(&pk, "project-a", hs_verifier(), false);
    let old = bearer(&hs256(&user_claims(), SECRET, None));
    for _ in 0..2 {
        resolver.resolve_headers(Some(&pk.secret), Some(&old), None).await.unwrap();
    }
    // The project's secret is rotated and its keys invalidated.
    let rotated = JwtVerifier::new(vec![JwtKey::hs256(OTHER_SECRET).unwrap()], JwtConfig::default()).unwrap();
    lookup.set(&pk, "project-a", rotated, false);
    invalidate_project(&resolver, "project-a");
    let err = resolver.resolve_headers(Some(&pk.secret), Some(&old), None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidToken(_)), "{err:?}");
    let new = bearer(&hs256(&user_claims(), OTHER_SECRET, None));
    resolver.resolve_headers(Some(&pk.secret), Some(&new), None).await.unwrap();
}

#[tokio::test]
async fn a_cached_token_fails_after_key_revocation() {
    let (resolver, lookup) = mutable_resolver();
    let (pk, sk) = (keys::generate(KeyKind::Publishable), keys::generate(KeyKind::Secret));
    // Two signing keys: the project secret and an ES256 key with an id.
    let both = || {
        JwtVerifier::new(
            vec![JwtKey::hs256(SECRET).unwrap(), JwtKey::es256_pem(ES_PUBLIC).unwrap().with_kid("es-1")],
            JwtConfig::default(),
        )
        .unwrap()
    };
    lookup.set(&pk, "project-a", both(), false);
    lookup.set(&sk, "project-a", both(), false);
    let es = bearer(&es256(&user_claims(), ES_PRIVATE, Some("es-1")));
    let hs = bearer(&hs256(&user_claims(), SECRET, None));
    for key in [&pk, &sk] {
        for token in [&es, &hs] {
            for _ in 0..2 {
                resolver.resolve_headers(Some(&key.secret), Some(token), None).await.unwrap();
            }
        }
    }
    // The ES256 signing key is removed: its tokens are refused, the others still pass.
    lookup.set(&pk, "project-a", hs_verifier(), false);
    lookup.set(&sk, "project-a", hs_verifier(), false);
    invalidate_project(&resolver, "project-a");
    let err = resolver.resolve_headers(Some(&pk.secret), Some(&es), None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidToken(_)), "{err:?}");
    resolver.resolve_headers(Some(&pk.secret), Some(&hs), None).await.unwrap();
    // The API key is revoked: a cached token does not bring it back.
    lookup.set(&pk, "project-a", hs_verifier(), true);
    assert!(resolver.cache().invalidate(&pk.id));
    let err = resolver.resolve_headers(Some(&pk.secret), Some(&hs), None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidApiKey), "{err:?}");
    resolver.resolve_headers(Some(&sk.secret), Some(&hs), None).await.unwrap();
}

#[tokio::test]
async fn a_cached_token_of_project_a_never_verifies_for_project_b() {
    let f = fixture(KeyCacheConfig::default());
    let a_token = bearer(&hs256(&user_claims(), SECRET, None));
    for _ in 0..3 {
        f.resolver.resolve_headers(Some(&f.a_pk.secret), Some(&a_token), None).await.unwrap();
    }
    for _ in 0..2 {
        let err = f.resolver.resolve_headers(Some(&f.b_pk.secret), Some(&a_token), None).await.unwrap_err();
        assert!(matches!(err, Error::InvalidToken(_)), "{err:?}");
    }
    // And the other way round, with B's token cached first.
    let b_token = bearer(&hs256(&user_claims(), OTHER_SECRET, None));
    f.resolver.resolve_headers(Some(&f.b_pk.secret), Some(&b_token), None).await.unwrap();
    let err = f.resolver.resolve_headers(Some(&f.a_pk.secret), Some(&b_token), None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidToken(_)), "{err:?}");
    // A paused project refuses a cached token too.
    let p_token = bearer(&hs256(&user_claims(), SECRET, None));
    let err = f.resolver.resolve_headers(Some(&f.paused_pk.secret), Some(&p_token), None).await.unwrap_err();
    assert!(matches!(err, Error::ProjectPaused));
}

proptest! {
    #[test]
    fn arbitrary_headers_never_panic(apikey in proptest::option::of(any::<String>()), auth in proptest::option::of(any::<String>())) {
        let _ = Credentials::from_headers(apikey.as_deref(), auth.as_deref());
    }

    #[test]
    fn bearer_like_headers_never_panic(scheme in "(?i:bearer)?[ \t]{0,2}", value in "[A-Za-z0-9._é -]{0,120}") {
        let auth = format!("{scheme}{value}");
        let _ = Credentials::from_headers(Some(&value), Some(&auth));
    }

    #[test]
    fn arbitrary_tokens_never_panic(token in "[A-Za-z0-9_.=-]{0,300}") {
        let _ = hs_verifier().verify(&token);
    }

    #[test]
    fn arbitrary_headers_with_valid_parts_never_panic(header in any::<String>(), payload in any::<String>()) {
        let token = format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
        prop_assert!(hs_verifier().verify(&token).is_err());
    }
}
