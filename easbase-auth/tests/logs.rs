//! No secrets in logs: every event (all levels, every field, from every crate) emitted
//! while the flows run is captured by a subscriber installed for the whole process, and
//! none may contain a password, an access or refresh token, a one-time link token or
//! code, or a reauthentication code — including when a mailer fails and when codes and
//! tokens are wrong. SQLite and PostgreSQL.

mod common;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use common::{Engine, Fixture, config};
use easbase_auth::mail::{EmailMessage, MailSettings, Mailer};
use easbase_auth::{
    AuthConfig, AuthService, AuthServiceConfig, OtpSecret, RateLimits, UserUpdate, VerifyType,
};
use http::Request;
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event and span field as text.
#[derive(Default)]
struct Capture(Mutex<String>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

struct Collector(Arc<Capture>);

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut out = self.0.0.lock().unwrap();
        span.record(&mut Text(&mut out));
        out.push('\n');
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut out = self.0.0.lock().unwrap();
        values.record(&mut Text(&mut out));
        out.push('\n');
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut out = self.0.0.lock().unwrap();
        let _ = write!(out, "{} {}:", event.metadata().level(), event.metadata().target());
        event.record(&mut Text(&mut out));
        out.push('\n');
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The process-wide capture (nextest runs each test in its own process; under `cargo
/// test` the tests share it, which only adds text to search).
fn capture() -> Arc<Capture> {
    static CAPTURE: OnceLock<Arc<Capture>> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Arc::new(Capture::default());
            tracing::subscriber::set_global_default(Collector(capture.clone())).unwrap();
            capture
        })
        .clone()
}

/// A mailer that keeps each message's link token and code, then fails (naming the
/// subject only).
#[derive(Default)]
struct Failing(Mutex<Vec<String>>);

#[async_trait]
impl Mailer for Failing {
    async fn send(&self, message: EmailMessage) -> Result<(), easbase_auth::mail::MailError> {
        let text = &message.text;
        let mut secrets = self.0.lock().unwrap();
        if let Some((_, rest)) = text.split_once("token=") {
            secrets.push(rest.split('&').next().unwrap().to_owned());
        }
        if let Some((_, rest)) = text.split_once("code: ") {
            secrets.push(rest.chars().take_while(char::is_ascii_digit).collect());
        }
        Err(easbase_auth::mail::MailError(format!("relay refused {:?}", message.subject)))
    }
}

async fn no_secret_is_logged(engine: Engine) {
    let capture = capture();
    let auth_config =
        AuthConfig { secure_password_change: true, rate_limits: RateLimits::none(), ..config() };
    let fx = Fixture::new(engine, auth_config.clone()).await;
    let mailer = Arc::new(Failing::default());
    let svc = AuthService::with_config(
        fx.platform.clone(),
        Arc::new(easbase_auth::Auth::new(auth_config, None).unwrap()),
        AuthServiceConfig {
            mail: Some(MailSettings::new(mailer.clone(), "auth@app.test")),
            ..AuthServiceConfig::default()
        },
    );
    let post = |uri: &str, body: Value, bearer: Option<&str>| {
        let mut req = Request::post(uri).header("apikey", &fx.publishable);
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        svc.handle(req.body(Bytes::from(body.to_string())).unwrap())
    };
    let password = "Secret-Password-1234";
    let mut secrets = vec![password.to_owned(), "Wrong-Password-5678".to_owned()];

    // Sign-up (the confirmation mail fails: logged, not answered), confirmation by code.
    assert_eq!(
        post("/signup", json!({"email": "log@example.com", "password": password}), None).await.status(),
        200
    );
    let sent = mailer.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "the confirmation's link token and code: {sent:?}");
    secrets.extend(sent.iter().cloned());
    let confirmation_token = sent[0].clone();
    let bad =
        post("/verify", json!({"type": "signup", "email": "log@example.com", "token": "999999"}), None).await;
    assert_eq!(bad.status(), 403);
    let ok = post("/verify", json!({"type": "signup", "token_hash": confirmation_token}), None).await;
    assert_eq!(ok.status(), 200);

    // Password grants (a wrong one too), refresh, reuse after rotation.
    let res =
        post("/token?grant_type=password", json!({"email": "log@example.com", "password": secrets[1]}), None)
            .await;
    assert_eq!(res.status(), 400);
    let res =
        post("/token?grant_type=password", json!({"email": "log@example.com", "password": password}), None)
            .await;
    let session: Value = serde_json::from_slice(res.body()).unwrap();
    let (access, refresh) = (
        session["access_token"].as_str().unwrap().to_owned(),
        session["refresh_token"].as_str().unwrap().to_owned(),
    );
    let res = post("/token?grant_type=refresh_token", json!({"refresh_token": refresh}), None).await;
    let next: Value = serde_json::from_slice(res.body()).unwrap();
    secrets.extend([access.clone(), refresh.clone(), next["access_token"].as_str().unwrap().to_owned()]);
    secrets.push(next["refresh_token"].as_str().unwrap().to_owned());
    let bogus = post(
        "/token?grant_type=refresh_token",
        json!({"refresh_token": "not-a-real-refresh-token-xyz"}),
        None,
    );
    assert_eq!(bogus.await.status(), 400);
    secrets.push("not-a-real-refresh-token-xyz".into());

    // Recovery and magic link with a failing mailer; a reauthentication code.
    assert_eq!(post("/recover", json!({"email": "log@example.com"}), None).await.status(), 200);
    assert_eq!(post("/otp", json!({"email": "log@example.com"}), None).await.status(), 200);
    let ctx = fx.ctx(&fx.auth.password_grant("log@example.com", password).await.unwrap()).await;
    let reauth = fx.auth.reauthenticate(&ctx).await.unwrap();
    secrets.extend([reauth.token.clone(), reauth.code.clone()]);
    secrets.extend(mailer.0.lock().unwrap().iter().cloned());
    assert!(secrets.len() > 14, "the recovery and magic-link secrets were captured");
    let _ = fx
        .auth
        .verify_otp(VerifyType::Email, OtpSecret::Code { recipient: "log@example.com", code: "000000" })
        .await;
    let mut update = UserUpdate::new();
    update.password = Some("Another-Password-9012".into());
    update.nonce = Some(reauth.code.clone());
    fx.auth.update_user(&ctx, update).await.unwrap();
    secrets.push("Another-Password-9012".into());

    let logs = capture.0.lock().unwrap().clone();
    assert!(logs.contains("relay refused"), "the failed sends were logged: {logs}");
    for secret in &secrets {
        assert!(!appears(&logs, secret), "a secret ({} chars) is in the logs:\n{logs}", secret.len());
    }
    fx.cleanup().await;
}

/// Whether `secret` occurs in `logs`; a numeric code only as a whole number (not inside
/// a longer one, such as a timestamp).
fn appears(logs: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return logs.contains(secret);
    }
    logs.match_indices(secret).any(|(i, _)| {
        let before = logs[..i].bytes().next_back();
        let after = logs[i + secret.len()..].bytes().next();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

on_both_engines!(no_secret_is_logged);
