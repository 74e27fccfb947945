//! TOTP MFA and recovery codes on SQLite and PostgreSQL
//! (`cargo test -p easbase-auth --all-features --test mfa`).

mod common;

use common::{Engine, Fixture, autoconfirm};
use easbase_auth::{AuthError, EnrollFactor, EnrolledFactor, Session, SignupOutcome};
use easbase_core::context::RequestContext;
use totp_rs::{Algorithm, Secret, TOTP};

const PASSWORD: &str = "correct horse battery";

async fn signed_up(fx: &Fixture, email: &str) -> Session {
    match fx.auth.signup(email, PASSWORD, None).await.unwrap() {
        SignupOutcome::Session(s) => *s,
        other => panic!("expected a session, got {other:?}"),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The code of the step `offset` steps from now, computed independently from the base32
/// secret the enrollment showed.
fn code(enrolled: &EnrolledFactor, offset: i64) -> String {
    code_for(&enrolled.totp.secret, offset)
}

fn code_for(base32: &str, offset: i64) -> String {
    let secret = Secret::Encoded(base32.to_owned()).to_bytes().unwrap();
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, secret);
    totp.generate((now() as i64 + offset * 30) as u64)
}

/// A TOTP code different from every code accepted right now.
fn wrong_code(enrolled: &EnrolledFactor) -> String {
    let valid: Vec<String> = (-1..=2).map(|o| code(enrolled, o)).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

/// A `service_role` token of the project (what a dashboard's server holds).
async fn service_token(fx: &Fixture) -> String {
    let secret = fx.platform.jwt_secret(&fx.project).await.unwrap();
    let claims = serde_json::json!({ "role": "service_role", "aud": "authenticated", "exp": now() + 600 });
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

async fn enrolled(fx: &Fixture, ctx: &RequestContext, name: Option<&str>) -> EnrolledFactor {
    fx.auth.enroll_factor(ctx, EnrollFactor::totp(name)).await.unwrap()
}

/// Challenges and verifies `factor` with the current code.
async fn verify(fx: &Fixture, ctx: &RequestContext, factor: &EnrolledFactor, offset: i64) -> Session {
    let challenge = fx.auth.challenge_factor(ctx, &factor.id, "").await.unwrap();
    fx.auth.verify_factor(ctx, &factor.id, &challenge.id, &code(factor, offset), "").await.unwrap()
}

async fn enroll_challenge_verify(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let signup = signed_up(&fx, "ada@example.com").await;
    let login = fx.auth.password_grant("ada@example.com", PASSWORD).await.unwrap();
    let ctx = fx.ctx(&login).await;
    let factor = enrolled(&fx, &ctx, Some("phone app")).await;

    // GoTrue's enroll response.
    let body = serde_json::to_value(&factor).unwrap();
    assert_eq!(body["type"], "totp");
    assert_eq!(body["friendly_name"], "phone app");
    assert_eq!(factor.totp.secret.len(), 32, "160 bits in base32");
    assert_eq!(
        factor.totp.uri,
        format!(
            "otpauth://totp/app.test:ada%40example.com?algorithm=SHA1&digits=6&issuer=app.test&period=30&secret={}",
            factor.totp.secret
        )
    );
    assert!(factor.totp.qr_code.starts_with("<svg") && factor.totp.qr_code.ends_with("</svg>"));
    assert!(!format!("{factor:?}").contains(&factor.totp.secret), "Debug hides the secret");

    // Listed unverified; the secret is not stored readable.
    let user = fx.auth.get_user(&ctx).await.unwrap();
    assert_eq!(user.factors.len(), 1);
    assert_eq!(
        (user.factors[0].status.as_str(), user.factors[0].factor_type.as_str()),
        ("unverified", "totp")
    );
    let dump = fx.dump("auth_mfa_factors").await.join(" ");
    assert!(!dump.contains(&factor.totp.secret));

    let challenge = fx.auth.challenge_factor(&ctx, &factor.id, "").await.unwrap();
    assert_eq!(challenge.factor_type, "totp");
    let expires = challenge.expires_at - now() as i64;
    assert!((290..=310).contains(&expires), "{expires}");

    let session =
        fx.auth.verify_factor(&ctx, &factor.id, &challenge.id, &code(&factor, 0), "").await.unwrap();
    assert_eq!(session.user.factors[0].status, "verified");
    let raised = fx.ctx(&session).await;
    let claims = raised.claims();
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["session_id"], ctx.claims()["session_id"], "the same session is raised");
    let methods: Vec<&str> =
        claims["amr"].as_array().unwrap().iter().map(|a| a["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["password", "totp"]);
    assert!(
        claims["amr"][1]["timestamp"].as_i64().unwrap() >= claims["amr"][0]["timestamp"].as_i64().unwrap()
    );

    // The new refresh token keeps aal2; the session's old one is revoked (presenting it
    // is taken for reuse and ends the session).
    let refreshed = fx.auth.refresh(&session.refresh_token).await.unwrap();
    assert_eq!(fx.ctx(&refreshed).await.claims()["aal"], "aal2");
    assert!(fx.auth.refresh(&login.refresh_token).await.is_err());

    // The user's other aal1 session (from sign-up) was signed out.
    assert!(fx.auth.refresh(&signup.refresh_token).await.is_err());

    // A new sign-in is aal1 again, with the factor listed as verified.
    let again = fx.auth.password_grant("ada@example.com", PASSWORD).await.unwrap();
    assert_eq!(fx.ctx(&again).await.claims()["aal"], "aal1");
    assert_eq!(again.user.factors[0].status, "verified");
    fx.cleanup().await;
}

async fn refusals(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let ada = signed_up(&fx, "ada@example.com").await;
    let ctx = fx.ctx(&ada).await;
    let factor = enrolled(&fx, &ctx, Some("app")).await;

    // Bad enrollments.
    let e = fx.auth.enroll_factor(&ctx, EnrollFactor::totp(Some("app"))).await.unwrap_err();
    assert!(matches!(e, AuthError::MfaFactorNameConflict(_)) && e.status() == 422, "{e:?}");
    let mut phone = EnrollFactor::totp(None);
    phone.factor_type = "phone".into();
    let e = fx.auth.enroll_factor(&ctx, phone).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("mfa_phone_enroll_not_enabled", 422));
    let mut other = EnrollFactor::totp(None);
    other.factor_type = "sms".into();
    assert_eq!(fx.auth.enroll_factor(&ctx, other).await.unwrap_err().code(), "validation_failed");

    // A wrong code, an unknown challenge, a bad factor id.
    let challenge = fx.auth.challenge_factor(&ctx, &factor.id, "").await.unwrap();
    let e =
        fx.auth.verify_factor(&ctx, &factor.id, &challenge.id, &wrong_code(&factor), "").await.unwrap_err();
    assert_eq!(
        (e.code(), e.status(), e.to_string().as_str()),
        ("mfa_verification_failed", 422, "Invalid TOTP code entered")
    );
    let e = fx.auth.verify_factor(&ctx, &factor.id, &challenge.id, "", "").await.unwrap_err();
    assert_eq!(e.code(), "validation_failed");
    let unknown = uuid::Uuid::new_v4().to_string();
    let e = fx.auth.verify_factor(&ctx, &factor.id, &unknown, &code(&factor, 0), "").await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("mfa_factor_not_found", 422));
    let e = fx.auth.challenge_factor(&ctx, "not-a-uuid", "").await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("mfa_factor_not_found", 404));

    // Another IP than the challenge's.
    let e = fx
        .auth
        .verify_factor(&ctx, &factor.id, &challenge.id, &code(&factor, 0), "10.0.0.9")
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::MfaIpAddressMismatch), "{e:?}");

    // An expired challenge (made older in the table) is refused and removed.
    let old = fx.auth.challenge_factor(&ctx, &factor.id, "").await.unwrap();
    let table = fx.table("auth_mfa_challenges").await;
    let sql = format!("update {table} set created_at = created_at - 1000 where id = {}", fx.placeholder(1));
    assert_eq!(fx.exec(sql, vec![old.id.clone().into()]).await, 1);
    let e = fx.auth.verify_factor(&ctx, &factor.id, &old.id, &code(&factor, 0), "").await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("mfa_challenge_expired", 422));
    let e = fx.auth.verify_factor(&ctx, &factor.id, &old.id, &code(&factor, 0), "").await.unwrap_err();
    assert_eq!(e.code(), "mfa_factor_not_found", "the expired challenge is gone");

    // Replay: a code is accepted once; its time step (and earlier ones) never again,
    // also with a fresh challenge, and a verified challenge cannot be used again.
    let session =
        fx.auth.verify_factor(&ctx, &factor.id, &challenge.id, &code(&factor, 1), "").await.unwrap();
    let aal2 = fx.ctx(&session).await;
    let e = fx.auth.verify_factor(&aal2, &factor.id, &challenge.id, &code(&factor, 1), "").await.unwrap_err();
    assert!(matches!(e, AuthError::MfaIpAddressMismatch), "a verified challenge: {e:?}");
    for offset in [1, 0, -1] {
        let fresh = fx.auth.challenge_factor(&aal2, &factor.id, "").await.unwrap();
        let e = fx
            .auth
            .verify_factor(&aal2, &factor.id, &fresh.id, &code(&factor, offset), "")
            .await
            .unwrap_err();
        assert_eq!(e.code(), "mfa_verification_failed", "step offset {offset} replayed");
    }

    // Another user's factor is not found by any route.
    let bob = signed_up(&fx, "bob@example.com").await;
    let bob_ctx = fx.ctx(&bob).await;
    let e = fx.auth.challenge_factor(&bob_ctx, &factor.id, "").await.unwrap_err();
    assert!(matches!(e, AuthError::MfaFactorNotFound), "{e:?}");
    let e =
        fx.auth.verify_factor(&bob_ctx, &factor.id, &challenge.id, &code(&factor, 0), "").await.unwrap_err();
    assert!(matches!(e, AuthError::MfaFactorNotFound), "{e:?}");
    let e = fx.auth.unenroll_factor(&bob_ctx, &factor.id).await.unwrap_err();
    assert!(matches!(e, AuthError::MfaFactorNotFound), "{e:?}");
    let bob_factor = enrolled(&fx, &bob_ctx, None).await;
    let bob_challenge = fx.auth.challenge_factor(&bob_ctx, &bob_factor.id, "").await.unwrap();
    let e = fx
        .auth
        .verify_factor(&aal2, &factor.id, &bob_challenge.id, &code(&bob_factor, 0), "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "mfa_factor_not_found", "another factor's challenge");

    // At aal1 with a verified factor: no unenrolling (422) and no new factor (403).
    let aal1 = fx.auth.password_grant("ada@example.com", PASSWORD).await.unwrap();
    let aal1 = fx.ctx(&aal1).await;
    let e = fx.auth.unenroll_factor(&aal1, &factor.id).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("insufficient_aal", 422));
    let e = fx.auth.enroll_factor(&aal1, EnrollFactor::totp(Some("second"))).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("insufficient_aal", 403));

    // At aal2 it works, and the sessions raised with the factor fall back to aal1.
    assert_eq!(fx.auth.unenroll_factor(&aal2, &factor.id).await.unwrap(), factor.id);
    let after = fx.auth.refresh(&session.refresh_token).await.unwrap();
    let claims = fx.ctx(&after).await.claims().clone();
    assert_eq!(claims["aal"], "aal1");
    assert_eq!(
        claims["amr"],
        serde_json::json!([{ "method": "password", "timestamp": claims["amr"][0]["timestamp"] }]),
        "no totp left"
    );
    assert!(fx.auth.get_user(&aal2).await.unwrap().factors.is_empty());
    fx.cleanup().await;
}

async fn factor_limits(engine: Engine) {
    let mut config = autoconfirm();
    config.mfa.max_enrolled_factors = 2;
    let fx = Fixture::new(engine, config).await;
    let ada = signed_up(&fx, "ada@example.com").await;
    let ctx = fx.ctx(&ada).await;
    enrolled(&fx, &ctx, Some("a")).await;
    enrolled(&fx, &ctx, Some("b")).await;
    let e = fx.auth.enroll_factor(&ctx, EnrollFactor::totp(Some("c"))).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("too_many_enrolled_mfa_factors", 422));
    fx.cleanup().await;
}

async fn verification_is_throttled(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let ada = signed_up(&fx, "ada@example.com").await;
    let ctx = fx.ctx(&ada).await;
    let factor = enrolled(&fx, &ctx, None).await;
    let wrong = wrong_code(&factor);
    for _ in 0..5 {
        // A fresh challenge each time: the limit is the factor's, not the challenge's.
        let challenge = fx.auth.challenge_factor(&ctx, &factor.id, "").await.unwrap();
        let e = fx.auth.verify_factor(&ctx, &factor.id, &challenge.id, &wrong, "").await.unwrap_err();
        assert_eq!(e.code(), "mfa_verification_failed");
    }
    let challenge = fx.auth.challenge_factor(&ctx, &factor.id, "").await.unwrap();
    let e = fx.auth.verify_factor(&ctx, &factor.id, &challenge.id, &code(&factor, 0), "").await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("over_request_rate_limit", 429), "even the right code, for now");
    // A minute later (the window moved back in the table) the right code works.
    let table = fx.table("auth_mfa_factors").await;
    let sql = format!("update {table} set attempts_window_start = attempts_window_start - 120");
    assert_eq!(fx.exec(sql, vec![]).await, 1);
    fx.auth.verify_factor(&ctx, &factor.id, &challenge.id, &code(&factor, 0), "").await.unwrap();
    fx.cleanup().await;
}

async fn recovery_codes(engine: Engine) {
    let fx = Fixture::new(engine, autoconfirm()).await;
    let ada = signed_up(&fx, "ada@example.com").await;
    let ctx = fx.ctx(&ada).await;
    let e = fx.auth.generate_recovery_codes(&ctx, false).await.unwrap_err();
    assert_eq!(e.code(), "insufficient_aal");
    let factor = enrolled(&fx, &ctx, None).await;
    let aal2 = fx.ctx(&verify(&fx, &ctx, &factor, 0).await).await;
    assert_eq!(fx.auth.recovery_codes_status(&aal2).await.unwrap_err().code(), "mfa_factor_not_found");

    let codes = fx.auth.generate_recovery_codes(&aal2, false).await.unwrap();
    assert_eq!(codes.codes.len(), 10);
    assert!(!format!("{codes:?}").contains(&codes.codes[0]));
    let dump = fx.dump("auth_mfa_recovery_codes").await.join(" ");
    assert!(codes.codes.iter().all(|c| !dump.contains(c.as_str()) && !dump.contains(&c.replace('-', ""))));
    let e = fx.auth.generate_recovery_codes(&aal2, false).await.unwrap_err();
    assert_eq!(e.code(), "mfa_verified_factor_exists");
    let status = fx.auth.recovery_codes_status(&aal2).await.unwrap();
    assert_eq!((status.total, status.remaining), (10, 10));

    // A new sign-in (aal1) reaches aal2 with a code typed loosely; the code works once.
    let login = fx.auth.password_grant("ada@example.com", PASSWORD).await.unwrap();
    let aal1 = fx.ctx(&login).await;
    let typed = format!(" {} ", codes.codes[0].to_lowercase().replace('-', " "));
    let session = fx.auth.verify_recovery_code(&aal1, &typed).await.unwrap();
    let claims = fx.ctx(&session).await.claims().clone();
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["amr"][1]["method"], "mfa/recovery_code");
    let again = fx.auth.password_grant("ada@example.com", PASSWORD).await.unwrap();
    let again = fx.ctx(&again).await;
    let e = fx.auth.verify_recovery_code(&again, &codes.codes[0]).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("mfa_verification_failed", 422));
    assert_eq!(
        fx.auth.verify_recovery_code(&again, "nope").await.unwrap_err().code(),
        "mfa_verification_failed"
    );
    let status = fx.auth.recovery_codes_status(&again).await.unwrap();
    assert_eq!((status.total, status.remaining), (10, 9));

    // Regenerating voids the old set.
    let aal2 = fx.ctx(&session).await;
    let fresh = fx.auth.generate_recovery_codes(&aal2, true).await.unwrap();
    let e = fx.auth.verify_recovery_code(&again, &codes.codes[1]).await.unwrap_err();
    assert_eq!(e.code(), "mfa_verification_failed");

    // Codes cannot be the only second factor; deleted, the factor can go.
    let e = fx.auth.unenroll_factor(&aal2, &factor.id).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("mfa_recovery_codes_sole_factor", 422));
    fx.auth.delete_recovery_codes(&aal2).await.unwrap();
    assert_eq!(fx.auth.delete_recovery_codes(&aal2).await.unwrap_err().code(), "mfa_factor_not_found");
    fx.auth.unenroll_factor(&aal2, &factor.id).await.unwrap();
    let e = fx.auth.verify_recovery_code(&again, &fresh.codes[0]).await.unwrap_err();
    assert_eq!(e.code(), "mfa_verification_failed");
    fx.cleanup().await;
}

async fn http_routes(engine: Engine) {
    use bytes::Bytes;
    use easbase_auth::{Auth, AuthService};
    use serde_json::{Value, json};
    let fx = Fixture::new(engine, autoconfirm()).await;
    let svc =
        AuthService::new(fx.platform.clone(), std::sync::Arc::new(Auth::new(autoconfirm(), None).unwrap()));
    let call = |method: &str, uri: String, bearer: Option<String>, body: Value| {
        let mut req = http::Request::builder().method(method).uri(uri).header("apikey", &fx.publishable);
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let body = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
        let svc = svc.clone();
        let req = req.body(body).unwrap();
        async move {
            let res = svc.handle(req).await;
            let status = res.status().as_u16();
            let body: Value = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
            (status, body)
        }
    };
    let ada = signed_up(&fx, "ada@example.com").await;
    let token = Some(ada.access_token.clone());

    let (status, body) = call("POST", "/factors".into(), None, json!({ "factor_type": "totp" })).await;
    assert_eq!((status, body["error_code"].as_str()), (401, Some("no_authorization")));
    let (status, enrolled) = call(
        "POST",
        "/factors".into(),
        token.clone(),
        json!({ "factor_type": "totp", "friendly_name": "x" }),
    )
    .await;
    assert_eq!(status, 200, "{enrolled}");
    let mut keys: Vec<&str> = enrolled.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["friendly_name", "id", "totp", "type"]);
    let id = enrolled["id"].as_str().unwrap().to_owned();
    let secret = enrolled["totp"]["secret"].as_str().unwrap().to_owned();

    let (status, challenge) =
        call("POST", format!("/factors/{id}/challenge"), token.clone(), Value::Null).await;
    assert_eq!(status, 200, "{challenge}");
    assert_eq!(challenge["type"], "totp");
    assert!(challenge["expires_at"].is_i64());
    let (status, body) =
        call("POST", format!("/factors/{id}/verify"), token.clone(), json!({ "code": "123456" })).await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("validation_failed")));
    let verify = json!({ "challenge_id": challenge["id"], "code": code_for(&secret, 0) });
    let (status, session) = call("POST", format!("/factors/{id}/verify"), token.clone(), verify).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["token_type"], "bearer");
    assert_eq!(session["user"]["factors"][0]["status"], "verified");
    let aal2 = Some(session["access_token"].as_str().unwrap().to_owned());

    let (status, body) = call("GET", "/factors/recovery-codes".into(), aal2.clone(), Value::Null).await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("mfa_factor_not_found")));
    let (status, codes) = call("POST", "/factors/recovery-codes".into(), aal2.clone(), Value::Null).await;
    assert_eq!(status, 200, "{codes}");
    assert_eq!(codes["codes"].as_array().unwrap().len(), 10);
    let login = fx.auth.password_grant("ada@example.com", PASSWORD).await.unwrap();
    let aal1 = Some(login.access_token.clone());
    let (status, body) = call("DELETE", format!("/factors/{id}"), aal1.clone(), Value::Null).await;
    assert_eq!((status, body["error_code"].as_str()), (422, Some("insufficient_aal")));
    let (status, raised) =
        call("POST", "/factors/recovery-codes/verify".into(), aal1, json!({ "code": codes["codes"][0] }))
            .await;
    assert_eq!(status, 200, "{raised}");
    let (status, counts) = call("GET", "/factors/recovery-codes".into(), aal2.clone(), Value::Null).await;
    assert_eq!((status, counts["total"].as_i64(), counts["remaining"].as_i64()), (200, Some(10), Some(9)));

    // The admin routes (a service-role token): list and delete a user's factors.
    let service = service_token(&fx).await;
    let admin = |method: &str, uri: String| {
        let req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("apikey", &fx.publishable)
            .header("authorization", format!("Bearer {service}"))
            .body(Bytes::new())
            .unwrap();
        let svc = svc.clone();
        async move {
            let res = svc.handle(req).await;
            (res.status().as_u16(), serde_json::from_slice::<Value>(res.body()).unwrap_or(Value::Null))
        }
    };
    let user_id = ada.user.id.clone();
    let (status, listed) = admin("GET", format!("/admin/users/{user_id}/factors")).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"], "verified");
    let (status, body) = admin("GET", format!("/admin/users/{}/factors", uuid::Uuid::new_v4())).await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("user_not_found")));
    let (status, body) =
        call("GET", format!("/admin/users/{user_id}/factors"), aal2.clone(), Value::Null).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (403, Some("not_admin")),
        "a user's token is not enough"
    );

    let (status, body) = call("GET", "/factors/a/b/c".into(), aal2.clone(), Value::Null).await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("not_found")));
    let (status, body) = call("PUT", "/factors".into(), aal2.clone(), Value::Null).await;
    assert_eq!((status, body["error_code"].as_str()), (405, Some("method_not_allowed")));
    let (status, body) =
        call("DELETE", format!("/factors/{}", uuid::Uuid::new_v4()), aal2, Value::Null).await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("mfa_factor_not_found")));
    let (status, deleted) = admin("DELETE", format!("/admin/users/{user_id}/factors/{id}")).await;
    assert_eq!((status, deleted["id"].as_str()), (200, Some(id.as_str())));
    let (status, body) = admin("DELETE", format!("/admin/users/{user_id}/factors/{id}")).await;
    assert_eq!((status, body["error_code"].as_str()), (404, Some("mfa_factor_not_found")));
    assert_eq!(admin("GET", format!("/admin/users/{user_id}/factors")).await.1, serde_json::json!([]));
    fx.cleanup().await;
}

on_both_engines!(
    enroll_challenge_verify,
    refusals,
    factor_limits,
    verification_is_throttled,
    recovery_codes,
    http_routes
);
