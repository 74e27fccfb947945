//! Email and SMS flows through `AuthService`, on SQLite, PostgreSQL and MariaDB/MySQL: sign-up
//! confirmation, magic links and email codes, recovery, resend, PKCE, phone codes, the
//! admin routes and the rate limits, with the in-memory mailer and SMS sender, and the
//! abuse cases (used, expired, wrong and guessed tokens, other projects' keys, unknown
//! accounts answered like known ones).

mod common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use common::{Engine as Db, Fixture, config, urlencode};
use easbase_auth::mail::{
    EmailKind, EmailMessage, EmailTemplate, EmailTemplates, MailSettings, MemoryMailer,
};
use easbase_auth::{Auth, AuthConfig, AuthService, AuthServiceConfig, Limit, MemorySms, RateLimits};
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";

struct Api {
    fx: Fixture,
    svc: AuthService,
    mail: MemoryMailer,
    sms: MemorySms,
}

struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn location(&self) -> String {
        self.headers.get("location").unwrap().to_str().unwrap().to_owned()
    }
}

fn test_config() -> AuthConfig {
    AuthConfig { phone_enabled: true, rate_limits: RateLimits::none(), ..config() }
}

impl Api {
    async fn new(engine: Db, auth_config: AuthConfig) -> Api {
        let fx = Fixture::new(engine, auth_config.clone()).await;
        let mail = MemoryMailer::default();
        let sms = MemorySms::default();
        let svc = AuthService::with_config(
            fx.platform.clone(),
            Arc::new(Auth::new(auth_config, None).unwrap()),
            AuthServiceConfig {
                redirect_urls: vec!["https://mobile.test/**".into()],
                mail: Some(MailSettings::new(Arc::new(mail.clone()), "Auth <auth@app.test>")),
                sms: Some(easbase_auth::SmsSettings::new(Arc::new(sms.clone()))),
                client_ip_header: Some("x-forwarded-for".into()),
                ..AuthServiceConfig::default()
            },
        );
        Api { fx, svc, mail, sms }
    }

    async fn send(&self, req: Request<Bytes>) -> Res {
        let (parts, body) = self.svc.handle(req).await.into_parts();
        Res { status: parts.status, headers: parts.headers, body }
    }

    async fn call(&self, method: Method, uri: &str, key: &str, bearer: Option<&str>, body: &str) -> Res {
        let mut req = Request::builder().method(method).uri(uri).header("apikey", key);
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        self.send(req.body(Bytes::from(body.to_owned())).unwrap()).await
    }

    async fn post(&self, uri: &str, body: Value) -> Res {
        self.call(Method::POST, uri, &self.fx.publishable, None, &body.to_string()).await
    }

    async fn admin(&self, method: Method, uri: &str, body: Value) -> Res {
        let secret = self.fx.secret.clone();
        self.call(method, uri, &secret, Some(&secret), &body.to_string()).await
    }

    async fn exchange(&self, code: String, verifier: String) -> Res {
        self.post("/token?grant_type=pkce", json!({ "auth_code": code, "code_verifier": verifier })).await
    }

    fn one_mail(&self) -> EmailMessage {
        let mut sent = self.mail.take();
        assert_eq!(sent.len(), 1, "{sent:?}");
        sent.remove(0)
    }

    async fn cleanup(self) {
        self.fx.cleanup().await;
    }
}

fn assert_error(res: &Res, status: u16, code: &str) {
    let body = res.json();
    assert_eq!(res.status, status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert!(body["msg"].is_string(), "{body}");
}

/// The verification link in a message's text.
fn link_of(mail: &EmailMessage) -> String {
    let link = mail.text.split_whitespace().find(|w| w.contains("/auth/v1/verify?"));
    link.expect("a link").to_owned()
}

/// The code in a message's text.
fn code_of(mail: &EmailMessage) -> String {
    let start = mail.text.find("code: ").expect("a code") + 6;
    mail.text[start..start + 6].to_owned()
}

fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%2D", "-").replace("%5F", "_").replace("%2E", "."))
    })
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Opens an emailed link as a browser does: the page, then its form.
async fn open_link(api: &Api, link: &str) -> Res {
    let path = &link[link.find("/auth/v1").unwrap() + "/auth/v1".len()..];
    let page = api.send(Request::get(path).body(Bytes::new()).unwrap()).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let mut form = Vec::new();
    for input in html.split("<input ").skip(1) {
        let attr = |a: &str| {
            let start = input.find(&format!("{a}=\"")).unwrap() + a.len() + 2;
            input[start..start + input[start..].find('"').unwrap()].replace("&amp;", "&")
        };
        form.push(format!("{}={}", attr("name"), urlencode(&attr("value"))));
    }
    let req = Request::post("/verify")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(form.join("&")))
        .unwrap();
    api.send(req).await
}

async fn signup_confirmation_by_link_code_and_hash(engine: Db) {
    let api = Api::new(engine, test_config()).await;
    let res = api
        .post(
            "/signup?redirect_to=https://mobile.test/welcome",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert!(res.json()["confirmation_sent_at"].is_string());
    let mail = api.one_mail();
    assert_eq!(
        (mail.kind, mail.to.as_str(), mail.subject.as_str()),
        (EmailKind::Confirmation, "ada@example.com", "Confirm Your Email")
    );
    assert_eq!(mail.from, "Auth <auth@app.test>");
    let link = link_of(&mail);
    assert!(link.starts_with(&format!("{}/auth/v1/verify?token=", api.fx.api_url)), "{link}");
    assert_eq!(param(&link, "type").as_deref(), Some("signup"));
    assert!(link.contains("redirect_to=https%3A%2F%2Fmobile.test%2Fwelcome"), "{link}");
    assert!(mail.html.contains(&link.replace('&', "&amp;")), "{}", mail.html);
    // The GET does not consume; the page's form does, and redirects with the session.
    let res = open_link(&api, &link).await;
    assert_eq!(res.status, 303);
    let location = res.location();
    assert!(location.starts_with("https://mobile.test/welcome#access_token="), "{location}");
    assert!(location.contains("&type=signup"), "{location}");
    // Used: the same link again fails, and the code of the same message too.
    let again = open_link(&api, &link).await;
    assert!(again.location().contains("error_code=otp_expired"), "{}", again.location());
    let code = code_of(&mail);
    let res =
        api.post("/verify", json!({ "type": "signup", "email": "ada@example.com", "token": code })).await;
    assert_error(&res, 403, "otp_expired");

    // A second user confirms with the code; a third with the token hash.
    api.post("/signup", json!({ "email": "bob@example.com", "password": PASSWORD })).await;
    let mail = api.one_mail();
    let res = api
        .post("/verify", json!({ "type": "email", "email": "BOB@example.com", "token": code_of(&mail) }))
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["user"]["email"], "bob@example.com");
    assert!(res.json()["user"]["email_confirmed_at"].is_string());
    api.post("/signup", json!({ "email": "cy@example.com", "password": PASSWORD })).await;
    let mail = api.one_mail();
    let hash = param(&link_of(&mail), "token").unwrap();
    let res = api.post("/verify", json!({ "type": "signup", "token_hash": hash })).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = api
        .post("/token?grant_type=password", json!({ "email": "cy@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(res.status, 200);
    api.cleanup().await;
}

async fn wrong_codes_void_the_token(engine: Db) {
    let api = Api::new(engine, test_config()).await;
    // Another project's key does not reach this project's tokens (nor spend them).
    api.post("/signup", json!({ "email": "zed@example.com", "password": PASSWORD })).await;
    let hash = param(&link_of(&api.one_mail()), "token").unwrap();
    let other = api.fx.platform.create_project("owner", "Other", Default::default()).await.unwrap();
    let other_key = other.keys.unwrap().publishable.secret;
    let body = json!({ "type": "signup", "token_hash": hash }).to_string();
    assert_error(&api.call(Method::POST, "/verify", &other_key, None, &body).await, 403, "otp_expired");
    assert_eq!(api.post("/verify", json!({ "type": "signup", "token_hash": hash })).await.status, 200);

    api.post("/signup", json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    let code = code_of(&api.one_mail());
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let res = api
            .post("/verify", json!({ "type": "signup", "email": "ada@example.com", "token": wrong }))
            .await;
        assert_error(&res, 403, "otp_expired");
    }
    // The attempts are used up: the right code no longer works.
    let res =
        api.post("/verify", json!({ "type": "signup", "email": "ada@example.com", "token": code })).await;
    assert_error(&res, 403, "otp_expired");
    // Malformed bodies and types.
    let res = api.post("/verify", json!({ "type": "bogus", "token_hash": "x" })).await;
    assert_error(&res, 400, "validation_failed");
    let res = api.post("/verify", json!({ "type": "signup" })).await;
    assert_error(&res, 400, "validation_failed");
    let res = api.call(Method::POST, "/verify", &api.fx.publishable, None, "{\"type\":").await;
    assert_error(&res, 400, "bad_json");
    let res = api.post("/verify", json!({ "type": "signup", "token_hash": "x".repeat(5000) })).await;
    assert_error(&res, 403, "otp_expired");
    api.cleanup().await;
}

async fn expired_tokens_are_refused(engine: Db) {
    let api = Api::new(engine, test_config()).await;
    let table = api.fx.table("auth_one_time_tokens").await;
    for email in ["ada@example.com", "bob@example.com"] {
        api.post("/signup", json!({ "email": email, "password": PASSWORD })).await;
    }
    let mut mails = api.mail.take();
    let (ada, bob) = (mails.remove(0), mails.remove(0));
    let old = format!("update {table} set created_at = created_at - 7200");
    api.fx.exec(old.clone(), vec![]).await;
    // An expired link or code fails (and is spent).
    let hash = param(&link_of(&ada), "token").unwrap();
    assert_error(
        &api.post("/verify", json!({ "type": "signup", "token_hash": hash })).await,
        403,
        "otp_expired",
    );
    let code = json!({ "type": "signup", "email": "bob@example.com", "token": code_of(&bob) });
    assert_error(&api.post("/verify", code).await, 403, "otp_expired");
    // Purging drops expired rows and nothing live.
    api.post("/resend", json!({ "type": "signup", "email": "ada@example.com" })).await;
    api.post("/resend", json!({ "type": "signup", "email": "bob@example.com" })).await;
    let mut mails = api.mail.take();
    let (ada, bob) = (mails.remove(0), mails.remove(0));
    api.fx.exec(format!("{old} where relates_to = 'ada@example.com'"), vec![]).await;
    assert_eq!(api.fx.auth.purge_expired().await.unwrap(), 1);
    assert_eq!(api.fx.auth.purge_expired().await.unwrap(), 0);
    let code = json!({ "type": "signup", "email": "ada@example.com", "token": code_of(&ada) });
    assert_error(&api.post("/verify", code).await, 403, "otp_expired");
    let code = json!({ "type": "signup", "email": "bob@example.com", "token": code_of(&bob) });
    assert_eq!(api.post("/verify", code).await.status, 200);
    api.cleanup().await;
}

async fn magic_link_and_email_otp(engine: Db) {
    let api = Api::new(engine, AuthConfig { autoconfirm: true, ..test_config() }).await;
    let res = api.post("/signup", json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    assert_eq!(res.status, 200);
    assert!(api.mail.take().is_empty(), "autoconfirm sends nothing");

    // Known and unknown addresses get the same answer; only the known one a message.
    let known = api.post("/otp", json!({ "email": "ada@example.com", "create_user": false })).await;
    let unknown = api.post("/otp", json!({ "email": "nobody@example.com", "create_user": false })).await;
    assert_eq!((known.status, unknown.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(known.body, unknown.body);
    let mail = api.one_mail();
    assert_eq!((mail.kind, mail.subject.as_str()), (EmailKind::MagicLink, "Your Magic Link"));
    // The code signs in (amr otp); then the link of the same message is spent.
    let res = api
        .post("/verify", json!({ "type": "email", "email": "ada@example.com", "token": code_of(&mail) }))
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = api
        .post(
            "/verify",
            json!({ "type": "magiclink", "token_hash": param(&link_of(&mail), "token").unwrap() }),
        )
        .await;
    assert_error(&res, 403, "otp_expired");

    // A new address with create_user: a user is made and confirmed by the link.
    let res = api.post("/otp", json!({ "email": "new@example.com", "data": { "plan": "pro" } })).await;
    assert_eq!(res.status, 200);
    let mail = api.one_mail();
    assert_eq!(mail.kind, EmailKind::Confirmation);
    let res = open_link(&api, &link_of(&mail)).await;
    assert!(res.location().starts_with("http://app.test#access_token="), "{}", res.location());
    let res = api.admin(Method::GET, "/admin/users", json!(null)).await;
    let users = res.json()["users"].as_array().unwrap().clone();
    let new = users.iter().find(|u| u["email"] == "new@example.com").unwrap();
    assert_eq!(new["user_metadata"], json!({ "plan": "pro" }));
    assert!(new["email_confirmed_at"].is_string());

    // Refusals: no address, a malformed one, a bad PKCE challenge.
    assert_error(&api.post("/otp", json!({})).await, 400, "validation_failed");
    assert_error(&api.post("/otp", json!({ "email": "not an address" })).await, 400, "validation_failed");
    let res = api
        .post(
            "/otp",
            json!({ "email": "ada@example.com", "code_challenge": "short", "code_challenge_method": "s256" }),
        )
        .await;
    assert_error(&res, 400, "validation_failed");
    assert!(api.mail.take().is_empty());
    api.cleanup().await;
}

async fn pkce_flow(engine: Db) {
    let api = Api::new(engine, test_config()).await;
    let verifier = "v".repeat(20) + "erifier-with-enough-entropy-0123456789";
    let body = json!({
        "email": "ada@example.com", "password": PASSWORD,
        "code_challenge": challenge(&verifier), "code_challenge_method": "s256",
    });
    assert_eq!(api.post("/signup?redirect_to=https://mobile.test/cb", body).await.status, 200);
    let res = open_link(&api, &link_of(&api.one_mail())).await;
    assert_eq!(res.status, 303);
    let location = res.location();
    assert!(location.starts_with("https://mobile.test/cb?code="), "{location}");
    let code = param(&location, "code").unwrap();

    assert_error(&api.exchange(code.clone(), "wrong-verifier".into()).await, 400, "bad_code_verifier");
    assert_error(&api.exchange(code.clone(), String::new()).await, 400, "validation_failed");
    let res = api.exchange(code.clone(), verifier.clone()).await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["user"]["email"], "ada@example.com");
    assert!(res.json()["user"]["email_confirmed_at"].is_string());
    // The code works once.
    assert_error(&api.exchange(code, verifier.clone()).await, 404, "flow_state_not_found");
    assert_error(&api.exchange("made-up".into(), verifier.clone()).await, 404, "flow_state_not_found");

    // Recovery in a PKCE flow (plain), exchanged too late.
    let res = api.post("/recover", json!({ "email": "ada@example.com", "code_challenge": verifier, "code_challenge_method": "plain" })).await;
    assert_eq!(res.status, 200);
    let res = open_link(&api, &link_of(&api.one_mail())).await;
    let code = param(&res.location(), "code").unwrap();
    let table = api.fx.table("auth_flow_state").await;
    api.fx.exec(format!("update {table} set auth_code_issued_at = auth_code_issued_at - 600"), vec![]).await;
    assert_error(&api.exchange(code, verifier.clone()).await, 422, "flow_state_expired");

    // POST /verify of a PKCE token gives the session at once.
    api.post("/otp", json!({ "email": "ada@example.com", "code_challenge": challenge(&verifier), "code_challenge_method": "S256" })).await;
    let mail = api.one_mail();
    let res = api
        .post(
            "/verify",
            json!({ "type": "magiclink", "token_hash": param(&link_of(&mail), "token").unwrap() }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    // Only a method with a challenge, or the reverse, is refused.
    let res =
        api.post("/recover", json!({ "email": "ada@example.com", "code_challenge_method": "s256" })).await;
    assert_error(&res, 400, "validation_failed");
    api.cleanup().await;
}

async fn recovery_and_resend(engine: Db) {
    let api = Api::new(engine, test_config()).await;
    api.post("/signup", json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    let first = api.one_mail();
    // Resend: a new confirmation replaces the old one.
    let res = api.post("/resend", json!({ "type": "signup", "email": "ada@example.com" })).await;
    assert_eq!(res.status, 200);
    let second = api.one_mail();
    assert_eq!(second.kind, EmailKind::Confirmation);
    let res = api
        .post("/verify", json!({ "type": "signup", "email": "ada@example.com", "token": code_of(&first) }))
        .await;
    assert_error(&res, 403, "otp_expired");
    let res = api
        .post("/verify", json!({ "type": "signup", "email": "ada@example.com", "token": code_of(&second) }))
        .await;
    assert_eq!(res.status, 200);
    // Nothing pending now: same answer, nothing sent; unknown types refused.
    assert_eq!(
        api.post("/resend", json!({ "type": "signup", "email": "ada@example.com" })).await.status,
        200
    );
    assert_eq!(
        api.post("/resend", json!({ "type": "signup", "email": "nobody@example.com" })).await.status,
        200
    );
    assert!(api.mail.take().is_empty());
    assert_error(
        &api.post("/resend", json!({ "type": "magic", "email": "ada@example.com" })).await,
        400,
        "validation_failed",
    );

    // Recovery: known and unknown alike.
    let known = api.post("/recover", json!({ "email": "ada@example.com" })).await;
    let unknown = api.post("/recover", json!({ "email": "nobody@example.com" })).await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let mail = api.one_mail();
    assert_eq!((mail.kind, mail.subject.as_str()), (EmailKind::Recovery, "Reset Your Password"));
    let res = api
        .post("/verify", json!({ "type": "recovery", "email": "ada@example.com", "token": code_of(&mail) }))
        .await;
    assert_eq!(res.status, 200);
    api.cleanup().await;
}

async fn per_project_templates(engine: Db) {
    let api = Api::new(engine, test_config()).await;
    let mut templates =
        EmailTemplates { sender: Some("Shop <hi@shop.test>".into()), ..EmailTemplates::default() };
    templates.magic_link = EmailTemplate {
        subject: "Sign in to {{ .SiteURL }}".into(),
        html: "<p>{{ .Token }} for {{ .Email }}</p>".into(),
        text: "Code {{ .Token }}, link {{ .ConfirmationURL }}".into(),
    };
    if let Some(mail) = &api.svc.config().mail {
        mail.templates.set(api.fx.project.clone(), templates);
    }
    api.fx
        .auth
        .admin_create_user({
            let mut a = easbase_auth::flows::admin::AdminUserAttributes::new();
            a.email = Some("ada@example.com".into());
            a.email_confirm = Some(true);
            a
        })
        .await
        .unwrap();
    api.post("/otp", json!({ "email": "ada@example.com" })).await;
    let mail = api.one_mail();
    assert_eq!(mail.subject, "Sign in to http://app.test");
    assert_eq!(mail.from, "Shop <hi@shop.test>");
    let code = &mail.text[5..11];
    assert_eq!(mail.html, format!("<p>{code} for ada@example.com</p>"));
    api.cleanup().await;
}

async fn phone_codes(engine: Db) {
    let off = Api::new(engine, AuthConfig { phone_enabled: false, ..test_config() }).await;
    assert_error(&off.post("/otp", json!({ "phone": "+15551234567" })).await, 422, "phone_provider_disabled");
    off.cleanup().await;

    let api = Api::new(engine, test_config()).await;
    let settings = api.call(Method::GET, "/settings", &api.fx.publishable, None, "").await.json();
    assert_eq!(settings["external"]["phone"], true);
    assert_error(&api.post("/otp", json!({ "phone": "+0123" })).await, 400, "validation_failed");
    let res = api.post("/otp", json!({ "phone": "+1 555 123 4567", "data": { "a": 1 } })).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let sms = api.sms.take();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].to, "+15551234567");
    assert_eq!(sms[0].body, format!("Your code is {}", sms[0].code));
    let res = api.post("/verify", json!({ "type": "sms", "phone": "+15551234567", "token": "12" })).await;
    assert_error(&res, 403, "otp_expired");
    let res =
        api.post("/verify", json!({ "type": "sms", "phone": "15551234567", "token": sms[0].code })).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let user = &res.json()["user"];
    assert_eq!(user["phone"], "15551234567");
    assert!(user["phone_confirmed_at"].is_string());
    assert_eq!(user["identities"][0]["provider"], "phone");

    // Sign-up with phone and password, confirmed by SMS; then password login.
    let res = api.post("/signup", json!({ "phone": "+447700900123", "password": PASSWORD })).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let code = api.sms.take().remove(0).code;
    let res = api.post("/verify", json!({ "type": "sms", "phone": "+447700900123", "token": code })).await;
    assert_eq!(res.status, 200);
    // Signing up again with the confirmed number: a look-alike, no code, nothing leaked.
    let again =
        api.post("/signup", json!({ "phone": "+15551234567", "password": PASSWORD, "data": {} })).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["user_metadata"], json!({}), "not the registered user's {{a: 1}}");
    assert_eq!(again.json()["identities"], json!([]));
    assert!(again.json()["phone_confirmed_at"].is_null());
    assert!(api.sms.take().is_empty());
    let login = json!({ "phone": "+44 7700 900123", "password": PASSWORD });
    assert_eq!(api.post("/token?grant_type=password", login).await.status, 200);
    let wrong = json!({ "phone": "+447700900123", "password": "wrong password" });
    assert_error(&api.post("/token?grant_type=password", wrong).await, 400, "invalid_credentials");
    api.post("/signup", json!({ "phone": "+15550009999", "password": PASSWORD })).await;
    let pending = json!({ "phone": "+15550009999", "password": PASSWORD });
    assert_error(&api.post("/token?grant_type=password", pending).await, 400, "phone_not_confirmed");
    // A signed-in user changes their number: a code to the new one confirms it.
    let login = json!({ "phone": "+447700900123", "password": PASSWORD });
    let access = api.post("/token?grant_type=password", login).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let pk = api.fx.publishable.clone();
    let taken = json!({ "phone": "+15551234567" }).to_string();
    assert_error(&api.call(Method::PUT, "/user", &pk, Some(&access), &taken).await, 422, "phone_exists");
    let change = json!({ "phone": "+447700900999" }).to_string();
    let res = api.call(Method::PUT, "/user", &pk, Some(&access), &change).await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["phone"], "447700900123", "unchanged until confirmed");
    let sms = api.sms.take().pop().unwrap();
    assert_eq!(sms.to, "+447700900999");
    let wrong_type = json!({ "type": "sms", "phone": "+447700900999", "token": sms.code });
    assert_error(&api.post("/verify", wrong_type).await, 403, "otp_expired");
    let confirm = json!({ "type": "phone_change", "phone": "+447700900999", "token": sms.code });
    let res = api.post("/verify", confirm).await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["user"]["phone"], "447700900999");
    let login = json!({ "phone": "+447700900999", "password": PASSWORD });
    assert_eq!(api.post("/token?grant_type=password", login).await.status, 200);
    // The email code of one type does not pass for another.
    let res = api.post("/verify", json!({ "type": "signup", "email": "x@example.com", "token": code })).await;
    assert_error(&res, 403, "otp_expired");
    api.cleanup().await;
}

async fn admin_routes(engine: Db) {
    let api = Api::new(engine, test_config()).await;
    // Refusals: no bearer, the publishable key, a user's token, another project's key.
    let res = api.call(Method::GET, "/admin/users", &api.fx.publishable, None, "").await;
    assert_error(&res, 401, "no_authorization");
    let pk = api.fx.publishable.clone();
    let res = api.call(Method::GET, "/admin/users", &pk, Some(&pk), "").await;
    assert_error(&res, 403, "not_admin");

    let res = api
        .admin(
            Method::POST,
            "/admin/users",
            json!({
                "email": "Ada@Example.com", "password": PASSWORD, "email_confirm": true,
                "user_metadata": { "name": "Ada" }, "app_metadata": { "plan": "pro" },
            }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let ada = res.json();
    let id = ada["id"].as_str().unwrap().to_owned();
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["app_metadata"]["plan"], "pro");
    assert_eq!(ada["app_metadata"]["provider"], "email");
    assert!(ada["email_confirmed_at"].is_string());
    let login = api
        .post("/token?grant_type=password", json!({ "email": "ada@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(login.status, 200);
    let access = login.json()["access_token"].as_str().unwrap().to_owned();
    let res = api.call(Method::GET, "/admin/users", &pk, Some(&access), "").await;
    assert_error(&res, 403, "not_admin");
    let res = api.admin(Method::POST, "/admin/users", json!({ "email": "ada@example.com" })).await;
    assert_error(&res, 422, "email_exists");
    let res = api.admin(Method::POST, "/admin/users", json!({ "password": PASSWORD })).await;
    assert_error(&res, 400, "validation_failed");
    let res =
        api.admin(Method::POST, "/admin/users", json!({ "email": "w@example.com", "password": "1" })).await;
    assert_error(&res, 422, "weak_password");

    for i in 0..3 {
        let res = api
            .admin(
                Method::POST,
                "/admin/users",
                json!({ "email": format!("u{i}@example.com"), "phone": format!("+1555000000{i}") }),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.json());
    }
    let res = api.admin(Method::GET, "/admin/users?page=2&per_page=2", json!(null)).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["x-total-count"], "4");
    assert_eq!(res.headers["link"], "</admin/users?page=2&per_page=2>; rel=\"last\"");
    assert_eq!(res.json()["aud"], "authenticated");
    assert_eq!(res.json()["users"].as_array().unwrap().len(), 2);
    let res = api.admin(Method::GET, "/admin/users?page=1&per_page=3", json!(null)).await;
    assert_eq!(
        res.headers["link"],
        "</admin/users?page=2&per_page=3>; rel=\"next\", </admin/users?page=2&per_page=3>; rel=\"last\""
    );
    assert_error(&api.admin(Method::GET, "/admin/users?page=x", json!(null)).await, 400, "validation_failed");

    let res = api.admin(Method::GET, &format!("/admin/users/{id}"), json!(null)).await;
    assert_eq!(res.json()["email"], "ada@example.com");
    let res = api
        .admin(
            Method::PUT,
            &format!("/admin/users/{id}"),
            json!({ "user_metadata": { "name": null, "age": 36 }, "ban_duration": "24h" }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["user_metadata"], json!({ "age": 36 }));
    assert!(res.json()["banned_until"].is_string());
    let login = api
        .post("/token?grant_type=password", json!({ "email": "ada@example.com", "password": PASSWORD }))
        .await;
    assert_error(&login, 400, "user_banned");
    let res =
        api.admin(Method::PUT, &format!("/admin/users/{id}"), json!({ "ban_duration": "forever" })).await;
    assert_error(&res, 400, "validation_failed");
    let res = api
        .admin(
            Method::PUT,
            &format!("/admin/users/{id}"),
            json!({ "ban_duration": "none", "password": "a new password" }),
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(res.json()["banned_until"].is_null());
    let login = api
        .post(
            "/token?grant_type=password",
            json!({ "email": "ada@example.com", "password": "a new password" }),
        )
        .await;
    assert_eq!(login.status, 200);

    // generate_link: nothing is sent; the hashed token and the code verify.
    let res = api
        .admin(
            Method::POST,
            "/admin/generate_link",
            json!({ "type": "magiclink", "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let link = res.json();
    assert_eq!(link["verification_type"], "magiclink");
    assert_eq!(link["email"], "ada@example.com");
    assert!(link["action_link"].as_str().unwrap().contains("/auth/v1/verify?token="));
    assert!(
        !link["action_link"].as_str().unwrap().contains(&api.fx.secret),
        "never the secret key in a link"
    );
    assert!(api.mail.take().is_empty());
    let res = api.post("/verify", json!({ "type": "magiclink", "token_hash": link["hashed_token"] })).await;
    assert_eq!(res.status, 200);
    let res = api
        .admin(
            Method::POST,
            "/admin/generate_link",
            json!({ "type": "recovery", "email": "nobody@example.com" }),
        )
        .await;
    assert_error(&res, 404, "user_not_found");
    let res = api
        .admin(
            Method::POST,
            "/admin/generate_link",
            json!({ "type": "invite", "email": "guest@example.com" }),
        )
        .await;
    assert_eq!(res.status, 200);
    let res = api
        .post(
            "/verify",
            json!({ "type": "invite", "email": "guest@example.com", "token": res.json()["email_otp"] }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = api
        .admin(
            Method::POST,
            "/admin/generate_link",
            json!({ "type": "signup", "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(&res, 422, "email_exists");

    // Invitations are mailed (admin only) and accepted with the code.
    let invite = json!({ "email": "inv@example.com", "data": { "team": "a" } });
    let res = api.call(Method::POST, "/invite", &pk, None, &invite.to_string()).await;
    assert_error(&res, 401, "no_authorization");
    let res = api.admin(Method::POST, "/invite?redirect_to=https://mobile.test/join", invite).await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["user_metadata"]["team"], "a");
    let mail = api.one_mail();
    assert_eq!((mail.kind, mail.subject.as_str()), (EmailKind::Invite, "You have been invited"));
    assert!(link_of(&mail).contains("redirect_to=https%3A%2F%2Fmobile.test%2Fjoin"));
    let accept = json!({ "type": "invite", "email": "inv@example.com", "token": code_of(&mail) });
    assert_eq!(api.post("/verify", accept).await.status, 200);
    let again = json!({ "email": "inv@example.com" });
    assert_error(&api.admin(Method::POST, "/invite", again).await, 422, "email_exists");

    // Another project's secret key does not reach this project's users.
    let other = api.fx.platform.create_project("owner", "Other", Default::default()).await.unwrap();
    let other_secret = other.keys.unwrap().secret.secret;
    let res =
        api.call(Method::GET, &format!("/admin/users/{id}"), &other_secret, Some(&other_secret), "").await;
    assert_error(&res, 404, "user_not_found");
    let res = api
        .call(Method::DELETE, &format!("/admin/users/{id}"), &other_secret, Some(&other_secret), "{}")
        .await;
    assert_error(&res, 404, "user_not_found");

    // Soft delete: gone from the API, the address free again; hard delete too.
    let res =
        api.admin(Method::DELETE, &format!("/admin/users/{id}"), json!({ "should_soft_delete": true })).await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_error(
        &api.admin(Method::GET, &format!("/admin/users/{id}"), json!(null)).await,
        404,
        "user_not_found",
    );
    let login = api
        .post(
            "/token?grant_type=password",
            json!({ "email": "ada@example.com", "password": "a new password" }),
        )
        .await;
    assert_error(&login, 400, "invalid_credentials");
    let res = api.admin(Method::GET, "/admin/users", json!(null)).await;
    assert_eq!(res.headers["x-total-count"], "5");
    let victim = res.json()["users"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(api.admin(Method::DELETE, &format!("/admin/users/{victim}"), json!(null)).await.status, 200);
    assert_error(
        &api.admin(Method::DELETE, &format!("/admin/users/{victim}"), json!(null)).await,
        404,
        "user_not_found",
    );
    assert_error(
        &api.admin(Method::GET, "/admin/users/not-a-uuid", json!(null)).await,
        404,
        "user_not_found",
    );
    assert_error(&api.admin(Method::PATCH, "/admin/users", json!(null)).await, 405, "method_not_allowed");
    assert_error(&api.admin(Method::GET, "/admin/nothing", json!(null)).await, 404, "not_found");
    api.cleanup().await;
}

async fn rate_limits(engine: Db) {
    let limits = RateLimits {
        per_ip: Some(Limit::new(3, std::time::Duration::from_secs(300))),
        emails: Some(Limit::new(5, std::time::Duration::from_secs(3600))),
        sms: None,
        per_recipient_interval: Some(std::time::Duration::from_secs(60)),
        failed_logins: Some(Limit::new(5, std::time::Duration::from_secs(300))),
    };
    let api = Api::new(engine, AuthConfig { rate_limits: limits, ..test_config() }).await;
    api.fx
        .auth
        .admin_create_user({
            let mut a = easbase_auth::flows::admin::AdminUserAttributes::new();
            a.email = Some("ada@example.com".into());
            a.email_confirm = Some(true);
            a
        })
        .await
        .unwrap();
    // A refused sign-up (weak password) does not count against the recipient's limit.
    let weak = api.post("/signup", json!({ "email": "eve@example.com", "password": "1" })).await;
    assert_error(&weak, 422, "weak_password");
    let res = api.post("/signup", json!({ "email": "eve@example.com", "password": PASSWORD })).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = api.post("/signup", json!({ "email": "eve@example.com", "password": PASSWORD })).await;
    assert_error(&res, 429, "over_email_send_rate_limit");
    assert_eq!(api.one_mail().to, "eve@example.com");
    // One message per recipient per interval, known and unknown alike.
    for email in ["ada@example.com", "nobody@example.com"] {
        assert_eq!(api.post("/recover", json!({ "email": email })).await.status, 200);
        let res = api.post("/recover", json!({ "email": email })).await;
        assert_error(&res, 429, "over_email_send_rate_limit");
        assert!(res.json()["msg"].as_str().unwrap().starts_with("For security purposes"));
    }
    assert_eq!(api.mail.take().len(), 1);
    // The project's email budget (3 counted so far; refused ones are not counted).
    for i in 0..2 {
        assert_eq!(api.post("/otp", json!({ "email": format!("n{i}@example.com") })).await.status, 200);
    }
    assert_error(
        &api.post("/otp", json!({ "email": "n9@example.com" })).await,
        429,
        "over_email_send_rate_limit",
    );

    // Per IP and route, from the trusted header.
    let login = |ip: &str, email: &str, password: &str| {
        Request::post("/token?grant_type=password")
            .header("apikey", &api.fx.publishable)
            .header("x-forwarded-for", format!("{ip}, 10.0.0.1"))
            .body(Bytes::from(json!({ "email": email, "password": password }).to_string()))
            .unwrap()
    };
    let from = |ip: &str| login(ip, "ada@example.com", "wrong");
    for _ in 0..3 {
        assert_eq!(api.send(from("203.0.113.7")).await.status, 400);
    }
    assert_error(&api.send(from("203.0.113.7")).await, 429, "over_request_rate_limit");
    assert_eq!(api.send(from("203.0.113.8")).await.status, 400);
    // Per account: failures from any IP (4 so far; the refused one did not count).
    assert_eq!(api.send(from("203.0.113.9")).await.status, 400);
    assert_error(&api.send(from("203.0.113.10")).await, 429, "over_request_rate_limit");
    assert_error(
        &api.send(login("203.0.113.11", "ADA@example.com", PASSWORD)).await,
        429,
        "over_request_rate_limit",
    );
    // Unknown accounts alike; other accounts are not affected.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"] {
        assert_eq!(api.send(login(ip, "nobody@example.com", "x")).await.status, 400);
    }
    assert_error(
        &api.send(login("198.51.100.6", "nobody@example.com", "x")).await,
        429,
        "over_request_rate_limit",
    );
    assert_eq!(api.send(login("198.51.100.7", "bob@example.com", "x")).await.status, 400);
    // A project's own limits replace the defaults.
    api.svc.config().project_rate_limits.set(api.fx.project.clone(), RateLimits::none());
    assert_eq!(api.send(from("203.0.113.7")).await.status, 400);
    assert_eq!(api.post("/recover", json!({ "email": "ada@example.com" })).await.status, 200);
    api.cleanup().await;
}

/// Of four concurrent verifications of one code, one link or one PKCE auth code, exactly
/// one succeeds and the others are refused (the consume is atomic on every engine; on
/// MySQL there is no `DELETE … RETURNING`).
async fn concurrent_verifications_consume_once(engine: Db) {
    async fn four(api: &Api, uri: &str, body: Value) -> Vec<Res> {
        let (a, b, c, d) = tokio::join!(
            api.post(uri, body.clone()),
            api.post(uri, body.clone()),
            api.post(uri, body.clone()),
            api.post(uri, body.clone()),
        );
        vec![a, b, c, d]
    }
    fn one_wins(results: &[Res], status: u16, code: &str) {
        let wins = results.iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(wins, 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in results.iter().filter(|r| r.status != StatusCode::OK) {
            assert_error(r, status, code);
        }
    }
    let api = Api::new(engine, test_config()).await;

    // The emailed code of a sign-up.
    api.post("/signup", json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    let code = code_of(&api.one_mail());
    let body = json!({ "type": "signup", "email": "ada@example.com", "token": code });
    one_wins(&four(&api, "/verify", body.clone()).await, 403, "otp_expired");
    assert_error(&api.post("/verify", body).await, 403, "otp_expired");

    // A magic link's token.
    assert_eq!(api.post("/otp", json!({ "email": "ada@example.com" })).await.status, 200);
    let hash = param(&link_of(&api.one_mail()), "token").unwrap();
    let body = json!({ "type": "magiclink", "token_hash": hash });
    one_wins(&four(&api, "/verify", body.clone()).await, 403, "otp_expired");
    assert_error(&api.post("/verify", body).await, 403, "otp_expired");

    // A PKCE auth code.
    let verifier = "v".repeat(20) + "erifier-with-enough-entropy-0123456789";
    let body = json!({
        "email": "ada@example.com", "code_challenge": challenge(&verifier), "code_challenge_method": "s256",
    });
    assert_eq!(api.post("/otp", body).await.status, 200);
    let res = open_link(&api, &link_of(&api.one_mail())).await;
    let code = param(&res.location(), "code").expect("a PKCE code");
    let body = json!({ "auth_code": code, "code_verifier": verifier });
    one_wins(&four(&api, "/token?grant_type=pkce", body.clone()).await, 404, "flow_state_not_found");
    assert_error(&api.post("/token?grant_type=pkce", body).await, 404, "flow_state_not_found");
    api.cleanup().await;
}

on_both_engines!(
    signup_confirmation_by_link_code_and_hash,
    wrong_codes_void_the_token,
    expired_tokens_are_refused,
    magic_link_and_email_otp,
    pkce_flow,
    recovery_and_resend,
    per_project_templates,
    phone_codes,
    admin_routes,
    rate_limits,
    concurrent_verifications_consume_once,
);
