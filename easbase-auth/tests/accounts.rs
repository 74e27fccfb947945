//! Account life-cycle cases across flows: an anonymous user linked to an email address by
//! confirmation (no longer anonymous, also in the next token), the admin API showing MFA
//! factors, the OAuth routes counted per client IP, and reauthentication before a
//! password change (`GET /reauthenticate`, `nonce`). SQLite and PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Engine, Fixture, NoHttp, config};
use easbase_auth::oauth::{OAuthSettings, ProviderConfig};
use easbase_auth::{
    Auth, AuthConfig, AuthService, AuthServiceConfig, ClientIp, EnrollFactor, Limit, OneTimeToken, OtpSecret,
    RateLimits, TokenKind, TokenOutbox, UserUpdate, VerifyType,
};
use http::Request;

async fn anonymous_user_links_an_email_by_confirmation(engine: Engine) {
    // Confirmation required (no auto-confirmation), anonymous sign-ins on.
    let fx = Fixture::new(engine, AuthConfig { anonymous_enabled: true, ..config() }).await;
    let session = fx.auth.sign_in_anonymously(None).await.unwrap();
    let ctx = fx.ctx(&session).await;
    assert_eq!(ctx.claims()["is_anonymous"], true);

    let mut update = UserUpdate::new();
    update.email = Some("Anon@Example.com".into());
    let out = fx.auth.update_user(&ctx, update).await.unwrap();
    assert!(out.user.is_anonymous, "still anonymous until the address is confirmed");
    assert_eq!(out.user.email, "");
    let token = out.email_change.expect("a confirmation token");
    assert_eq!(token.email, "anon@example.com");

    let confirmed = fx.auth.confirm_email_change(&token.token).await.unwrap();
    assert!(!confirmed.user.is_anonymous);
    assert_eq!(confirmed.user.email, "anon@example.com");
    assert_eq!(confirmed.user.id, session.user.id, "the same user");
    let next = fx.ctx(&confirmed).await;
    assert_eq!(next.claims()["is_anonymous"], false, "the next token says so");
    assert_eq!(next.claims()["email"], "anon@example.com");
    // The old anonymous session's refresh gives a token that is no longer anonymous.
    let refreshed = fx.auth.refresh(&session.refresh_token).await.unwrap();
    assert_eq!(fx.ctx(&refreshed).await.claims()["is_anonymous"], false);
    // The token cannot be used twice.
    assert!(fx.auth.confirm_email_change(&token.token).await.is_err());
    fx.cleanup().await;
}

async fn admin_users_show_factors(engine: Engine) {
    let fx = Fixture::new(engine, AuthConfig { autoconfirm: true, ..config() }).await;
    fx.auth.signup("mfa@example.com", "correct horse battery", None).await.unwrap();
    fx.auth.signup("plain@example.com", "correct horse battery", None).await.unwrap();
    let session = fx.auth.password_grant("mfa@example.com", "correct horse battery").await.unwrap();
    let ctx = fx.ctx(&session).await;
    let enrolled = fx.auth.enroll_factor(&ctx, EnrollFactor::totp(Some("phone app"))).await.unwrap();

    let user = fx.auth.admin_get_user(&session.user.id).await.unwrap();
    assert_eq!(user.factors.len(), 1);
    assert_eq!(user.factors[0].id, enrolled.id);
    let json = serde_json::to_value(&user).unwrap();
    assert_eq!(json["factors"][0]["friendly_name"], "phone app");
    assert_eq!(json["factors"][0]["status"], "unverified");

    let (users, total) = fx.auth.admin_list_users(1, 50).await.unwrap();
    assert_eq!(total, 2);
    let factors: Vec<(String, usize)> = users.iter().map(|u| (u.email.clone(), u.factors.len())).collect();
    assert!(factors.contains(&("mfa@example.com".into(), 1)), "{factors:?}");
    assert!(factors.contains(&("plain@example.com".into(), 0)), "{factors:?}");
    fx.cleanup().await;
}

async fn oauth_routes_are_limited_per_ip(engine: Engine) {
    let limits = RateLimits { per_ip: Some(Limit::new(2, Duration::from_secs(300))), ..RateLimits::none() };
    let auth_config = AuthConfig { rate_limits: limits, ..config() };
    let fx = Fixture::new(engine, auth_config.clone()).await;
    let settings = OAuthSettings::new(Arc::new(NoHttp)).with_provider(ProviderConfig::github("id", "secret"));
    let svc = AuthService::with_config(
        fx.platform.clone(),
        Arc::new(Auth::new(auth_config, None).unwrap()),
        AuthServiceConfig { oauth: Some(Arc::new(settings)), ..AuthServiceConfig::default() },
    );
    let get = |uri: &str, ip: [u8; 4]| {
        let mut req = Request::get(uri).header("apikey", &fx.publishable).body(Bytes::new()).unwrap();
        req.extensions_mut().insert(ClientIp(ip.into()));
        svc.handle(req)
    };
    for _ in 0..2 {
        assert_eq!(get("/authorize?provider=github", [10, 0, 0, 1]).await.status(), 302);
    }
    let over = get("/authorize?provider=github", [10, 0, 0, 1]).await;
    assert_eq!(over.status(), 429);
    let body: serde_json::Value = serde_json::from_slice(over.body()).unwrap();
    assert_eq!(body["error_code"], "over_request_rate_limit");
    assert_eq!(get("/authorize?provider=github", [10, 0, 0, 2]).await.status(), 302, "another IP");
    // /callback counts on its own: a bad state is refused (400) until the limit, then 429.
    let state = format!("{}.x", fx.project.as_str());
    let callback = format!("/callback?code=c&state={state}");
    for _ in 0..2 {
        assert_eq!(get(&callback, [10, 0, 0, 3]).await.status(), 400);
    }
    assert_eq!(get(&callback, [10, 0, 0, 3]).await.status(), 429);
    fx.cleanup().await;
}

#[derive(Default)]
struct Outbox(std::sync::Mutex<Vec<OneTimeToken>>);

impl TokenOutbox for Outbox {
    fn deliver(&self, _project: &easbase_core::context::ProjectId, token: OneTimeToken, _to: Option<String>) {
        self.0.lock().unwrap().push(token);
    }
}

async fn secure_password_change_needs_a_nonce(engine: Engine) {
    let auth_config = AuthConfig {
        autoconfirm: true,
        secure_password_change: true,
        rate_limits: RateLimits::none(),
        ..config()
    };
    let fx = Fixture::new(engine, auth_config.clone()).await;
    fx.auth.signup("sec@example.com", "first password", None).await.unwrap();
    let session = fx.auth.password_grant("sec@example.com", "first password").await.unwrap();
    let ctx = fx.ctx(&session).await;
    let change = |password: &str, nonce: Option<&str>| {
        let mut update = UserUpdate::new();
        update.password = Some(password.into());
        update.nonce = nonce.map(str::to_owned);
        update
    };
    // A recent sign-in needs no nonce.
    fx.auth.update_user(&ctx, change("second password", None)).await.unwrap();

    // The session signed in two days ago: a nonce is needed.
    let old =
        serde_json::json!([{ "method": "password", "timestamp": easbase_now() - 2 * 86_400 }]).to_string();
    let sql = format!(
        "update {} set amr = {} where id = {}",
        fx.table("auth_sessions").await,
        fx.placeholder(1),
        fx.placeholder(2)
    );
    assert_eq!(
        fx.exec(sql, vec![old.into(), ctx.claims()["session_id"].as_str().unwrap().to_owned().into()]).await,
        1
    );
    let e = fx.auth.update_user(&ctx, change("third password", None)).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("reauthentication_needed", 400));
    let e = fx.auth.update_user(&ctx, change("third password", Some("000000"))).await.unwrap_err();
    assert_eq!((e.code(), e.status()), ("reauthentication_not_valid", 422));

    // GET /reauthenticate sends a code; it is the nonce, once.
    let outbox = Arc::new(Outbox::default());
    let svc = AuthService::with_config(
        fx.platform.clone(),
        Arc::new(Auth::new(auth_config, None).unwrap()),
        AuthServiceConfig { outbox: Some(outbox.clone()), ..AuthServiceConfig::default() },
    );
    let req = Request::get("/reauthenticate")
        .header("apikey", &fx.publishable)
        .header("authorization", format!("Bearer {}", session.access_token))
        .body(Bytes::new())
        .unwrap();
    let res = svc.handle(req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.body().as_ref(), b"{}");
    let token = outbox.0.lock().unwrap().pop().expect("a code was sent");
    assert_eq!((token.kind, token.email.as_str()), (TokenKind::Reauthentication, "sec@example.com"));
    // The code is not a sign-in token.
    assert!(
        fx.auth
            .verify_otp(
                VerifyType::Email,
                OtpSecret::Code { recipient: "sec@example.com", code: &token.code }
            )
            .await
            .is_err()
    );
    let res = svc
        .handle(
            Request::put("/user")
                .header("apikey", &fx.publishable)
                .header("authorization", format!("Bearer {}", session.access_token))
                .body(Bytes::from(
                    serde_json::json!({ "password": "third password", "nonce": token.code }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", String::from_utf8_lossy(res.body()));
    let e = fx.auth.update_user(&ctx, change("fourth password", Some(&token.code))).await.unwrap_err();
    assert_eq!(e.code(), "reauthentication_not_valid", "single use");
    fx.auth.password_grant("sec@example.com", "third password").await.unwrap();

    // Without the route's user token: 401.
    let res = svc
        .handle(Request::get("/reauthenticate").header("apikey", &fx.publishable).body(Bytes::new()).unwrap())
        .await;
    assert_eq!(res.status(), 401);
    fx.cleanup().await;
}

fn easbase_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

on_both_engines!(
    anonymous_user_links_an_email_by_confirmation,
    admin_users_show_factors,
    oauth_routes_are_limited_per_ip,
    secure_password_change_needs_a_nonce,
);
