//! Asymmetric signing keys: rotation by `kid`, the JWKS, and verification through
//! easbase-core's request path, on SQLite and PostgreSQL
//! (`cargo test -p easbase-auth --all-features --test keys`).

mod common;

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use common::{Engine as Db, Fixture, autoconfirm};
use easbase_auth::keys::{KeyAlgorithm, KeyStatus, SigningKeys};
use easbase_auth::{Auth, AuthService, ProjectAuth, Session};
use easbase_core::context::jwt::{JwtConfig, JwtVerifier};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A fresh handle: it reads the project's current signing key.
async fn handle(fx: &Fixture) -> ProjectAuth {
    Auth::new(autoconfirm(), None).unwrap().project(&fx.platform, &fx.project).await.unwrap()
}

async fn login(fx: &Fixture) -> Session {
    handle(fx).await.password_grant("ada@example.com", PASSWORD).await.unwrap()
}

async fn resolves(fx: &Fixture, session: &Session) -> Result<(), easbase_core::Error> {
    let bearer = format!("Bearer {}", session.access_token);
    fx.platform.resolve(Some(&fx.publishable), Some(&bearer), None).await.map(|_| ())
}

/// An Ed25519 private key as PKCS#8 PEM (the fixed prefix and 32 seed bytes).
fn ed25519_pem(seed: u8) -> String {
    let mut der =
        vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    der.extend([seed; 32]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
}

async fn rotation(engine: Db) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    fx.auth.signup("ada@example.com", PASSWORD, None).await.unwrap();
    let keys = SigningKeys::new(&fx.platform);

    // HS256 by default: no kid, an empty JWKS.
    let hs = login(&fx).await;
    assert_eq!(header(&hs.access_token)["alg"], "HS256");
    assert!(header(&hs.access_token).get("kid").is_none());
    assert_eq!(keys.jwks(&fx.project).await.unwrap()["keys"].as_array().unwrap().len(), 0);

    // A standby key is published but does not sign.
    let first = keys.generate(&fx.project, KeyAlgorithm::Es256).await.unwrap();
    assert_eq!(first.status, KeyStatus::Standby);
    let jwks = keys.jwks(&fx.project).await.unwrap();
    assert_eq!(jwks["keys"][0]["kid"], first.kid.as_str());
    assert_eq!(
        (jwks["keys"][0]["kty"].as_str(), jwks["keys"][0]["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert!(jwks["keys"][0].get("d").is_none());
    assert_eq!(header(&login(&fx).await.access_token)["alg"], "HS256");

    // Activated, it signs ES256 with its kid; core's request path and a verifier built
    // from the JWKS accept the token; the earlier HS256 token still works.
    keys.activate(&fx.project, &first.kid).await.unwrap();
    let es = login(&fx).await;
    assert_eq!(header(&es.access_token)["alg"], "ES256");
    assert_eq!(header(&es.access_token)["kid"], first.kid.as_str());
    resolves(&fx, &es).await.unwrap();
    resolves(&fx, &hs).await.unwrap();
    let from_jwks = JwtVerifier::from_jwks(&jwks.to_string(), JwtConfig::default()).unwrap();
    assert_eq!(from_jwks.verify(&es.access_token).unwrap().sub(), Some(es.user.id.as_str()));
    assert!(from_jwks.verify(&hs.access_token).is_err(), "the HS256 secret is not in the JWKS");
    // Refreshing signs with the current key too.
    let refreshed = handle(&fx).await.refresh(&es.refresh_token).await.unwrap();
    assert_eq!(header(&refreshed.access_token)["kid"], first.kid.as_str());

    // Rotation: the second key becomes current, the first previous (still verifying).
    let second = keys.generate(&fx.project, KeyAlgorithm::Es256).await.unwrap();
    keys.activate(&fx.project, &second.kid).await.unwrap();
    let statuses: Vec<(String, KeyStatus)> =
        keys.list(&fx.project).await.unwrap().into_iter().map(|k| (k.kid, k.status)).collect();
    assert_eq!(
        statuses,
        [(first.kid.clone(), KeyStatus::Previous), (second.kid.clone(), KeyStatus::Current)]
    );
    let es2 = login(&fx).await;
    assert_eq!(header(&es2.access_token)["kid"], second.kid.as_str());
    resolves(&fx, &es).await.unwrap();
    resolves(&fx, &es2).await.unwrap();

    // The current key cannot be retired; the previous one can, and its tokens stop working.
    assert_eq!(keys.retire(&fx.project, &second.kid).await.unwrap_err().code(), "validation_failed");
    assert_eq!(keys.retire(&fx.project, "no-such-kid").await.unwrap_err().code(), "validation_failed");
    keys.retire(&fx.project, &first.kid).await.unwrap();
    let e = resolves(&fx, &es).await.unwrap_err();
    assert!(matches!(&e, easbase_core::Error::InvalidToken(d) if d == "unknown key id"), "{e:?}");
    resolves(&fx, &es2).await.unwrap();

    // A forged token: an HS256 header naming the ES256 kid is refused.
    let forged = {
        let payload = es2.access_token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap(),
        )
        .unwrap();
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some(second.kid.clone());
        let secret = fx.platform.jwt_secret(&fx.project).await.unwrap();
        jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };
    let bearer = format!("Bearer {forged}");
    assert!(fx.platform.resolve(Some(&fx.publishable), Some(&bearer), None).await.is_err());

    // Back to HS256: the ES256 key becomes previous and keeps verifying.
    keys.use_hs256(&fx.project).await.unwrap();
    assert_eq!(header(&login(&fx).await.access_token)["alg"], "HS256");
    resolves(&fx, &es2).await.unwrap();
    fx.cleanup().await;
}

async fn imported_keys(engine: Db) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    fx.auth.signup("ada@example.com", PASSWORD, None).await.unwrap();
    let keys = SigningKeys::new(&fx.platform);
    let e = keys.import_pem(&fx.project, KeyAlgorithm::Es256, "not a key").await.unwrap_err();
    assert_eq!(e.code(), "validation_failed");
    let e = keys.import_pem(&fx.project, KeyAlgorithm::Es256, &ed25519_pem(7)).await.unwrap_err();
    assert_eq!(e.code(), "validation_failed", "an Ed25519 key is not an ES256 key");
    let e = keys.generate(&fx.project, KeyAlgorithm::Rs256).await.unwrap_err();
    assert_eq!(e.code(), "validation_failed");

    let ed = keys.import_pem(&fx.project, KeyAlgorithm::EdDsa, &ed25519_pem(7)).await.unwrap();
    assert_eq!(ed.public_jwk["crv"], "Ed25519");
    keys.activate(&fx.project, &ed.kid).await.unwrap();
    let session = login(&fx).await;
    assert_eq!(header(&session.access_token)["alg"], "EdDSA");
    resolves(&fx, &session).await.unwrap();

    // The JWKS route, with the key as a query parameter (no headers).
    let svc = AuthService::new(fx.platform.clone(), Arc::new(Auth::new(autoconfirm(), None).unwrap()));
    let uri = format!("/.well-known/jwks.json?apikey={}", fx.publishable);
    let res = svc.handle(http::Request::get(uri).body(Bytes::new()).unwrap()).await;
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["keys"][0]["kid"], ed.kid.as_str());
    assert_eq!(body["keys"][0]["use"], "sig");
    assert!(body["keys"][0].get("d").is_none());
    let res = svc.handle(http::Request::get("/.well-known/jwks.json").body(Bytes::new()).unwrap()).await;
    assert_eq!(res.status(), 401, "the project comes from the key");

    // Another project's keys are not this one's.
    let other = fx.platform.create_project("owner", "Other", Default::default()).await.unwrap();
    assert_eq!(keys.jwks(&other.project.id).await.unwrap()["keys"].as_array().unwrap().len(), 0);
    fx.cleanup().await;
}

on_both_engines!(rotation, imported_keys);
