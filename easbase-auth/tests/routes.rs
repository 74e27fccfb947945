//! The GoTrue routes of `AuthService`, in process through `handle` (and the tower
//! `Service`), on SQLite and PostgreSQL (`cargo test -p easbase-auth --all-features`).

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{Engine, Fixture, autoconfirm, config};
use easbase_auth::{
    Auth, AuthConfig, AuthService, AuthServiceConfig, OneTimeToken, TokenKind, TokenOutbox, VerifyGetMode,
};
use easbase_core::context::ProjectId;
use easbase_core::project::CreateProject;
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

#[derive(Default)]
struct Outbox(Mutex<Vec<(OneTimeToken, Option<String>)>>);

impl TokenOutbox for Outbox {
    fn deliver(&self, _project: &ProjectId, token: OneTimeToken, redirect_to: Option<String>) {
        self.0.lock().unwrap().push((token, redirect_to));
    }
}

impl Outbox {
    fn take(&self) -> Vec<(OneTimeToken, Option<String>)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Api {
    fx: Fixture,
    svc: AuthService,
    outbox: Arc<Outbox>,
}

struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body));
        })
    }

    fn location(&self) -> &str {
        self.headers.get("location").unwrap().to_str().unwrap()
    }
}

impl Api {
    async fn new(engine: Engine, auth_config: AuthConfig) -> Api {
        Api::with(engine, auth_config, VerifyGetMode::ConfirmPage).await
    }

    async fn with(engine: Engine, auth_config: AuthConfig, verify_get: VerifyGetMode) -> Api {
        let fx = Fixture::new(engine, auth_config.clone()).await;
        let outbox = Arc::new(Outbox::default());
        let svc = AuthService::with_config(
            fx.platform.clone(),
            Arc::new(Auth::new(auth_config, None).unwrap()),
            AuthServiceConfig {
                redirect_urls: vec!["https://mobile.test/callback".into()],
                verify_get,
                outbox: Some(outbox.clone()),
                ..AuthServiceConfig::default()
            },
        );
        Api { fx, svc, outbox }
    }

    /// A request with the project's key and, when given, a user's bearer token.
    async fn call(&self, method: Method, uri: &str, bearer: Option<&str>, body: &str) -> Res {
        let mut req = Request::builder().method(method).uri(uri).header("apikey", &self.fx.publishable);
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        self.send(req.body(Bytes::from(body.to_owned())).unwrap()).await
    }

    async fn send(&self, req: Request<Bytes>) -> Res {
        let (parts, body) = self.svc.handle(req).await.into_parts();
        Res { status: parts.status, headers: parts.headers, body }
    }

    async fn post(&self, uri: &str, body: Value) -> Res {
        self.call(Method::POST, uri, None, &body.to_string()).await
    }

    async fn sign_up(&self, email: &str) -> Value {
        let res = self.post("/signup", json!({ "email": email, "password": PASSWORD, "data": {} })).await;
        assert_eq!(res.status, 200, "{}", res.json());
        res.json()
    }

    async fn cleanup(self) {
        self.fx.cleanup().await;
    }
}

fn assert_error(res: &Res, status: u16, code: &str) {
    let body = res.json();
    assert_eq!(res.status, status, "{body}");
    assert_eq!(body["code"], status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert!(body["msg"].is_string(), "{body}");
}

async fn session_lifecycle(engine: Engine) {
    let api = Api::new(engine, autoconfirm()).await;
    let signup = api
        .post(
            "/signup",
            json!({ "email": "Ada@Example.com", "password": PASSWORD, "data": { "name": "Ada" } }),
        )
        .await;
    assert_eq!(signup.status, 200);
    assert_eq!(signup.headers["content-type"], "application/json");
    let signup = signup.json();
    assert_eq!(signup["token_type"], "bearer");
    assert_eq!(signup["user"]["email"], "ada@example.com");

    let login = api
        .post("/token?grant_type=password", json!({ "email": "ada@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(login.status, 200);
    let login = login.json();
    let access = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(login["user"]["user_metadata"], json!({ "name": "Ada" }));

    let me = api.call(Method::GET, "/user", Some(&access), "").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["email"], "ada@example.com");
    assert_eq!(me.json()["id"], login["user"]["id"]);

    let updated = api
        .call(Method::PUT, "/user", Some(&access), &json!({ "data": { "theme": "dark" } }).to_string())
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json()["user_metadata"], json!({ "name": "Ada", "theme": "dark" }));

    let refreshed =
        api.post("/token?grant_type=refresh_token", json!({ "refresh_token": login["refresh_token"] })).await;
    assert_eq!(refreshed.status, 200);
    let refreshed = refreshed.json();
    assert_ne!(refreshed["refresh_token"], login["refresh_token"]);
    assert_eq!(refreshed["user"]["user_metadata"]["theme"], "dark");
    let access2 = refreshed["access_token"].as_str().unwrap().to_owned();

    let bad_scope = api.call(Method::POST, "/logout?scope=everything", Some(&access2), "").await;
    assert_error(&bad_scope, 400, "validation_failed");
    let out = api.call(Method::POST, "/logout?scope=local", Some(&access2), "").await;
    assert_eq!(out.status, 204);
    assert!(out.body.is_empty());

    let again = api
        .post("/token?grant_type=refresh_token", json!({ "refresh_token": refreshed["refresh_token"] }))
        .await;
    assert_error(&again, 400, "refresh_token_not_found");
    // The signed-out session's access token no longer reads the user.
    let gone = api.call(Method::GET, "/user", Some(&access2), "").await;
    assert_error(&gone, 403, "session_not_found");
    // The sign-up's session is another one, still alive until a global logout.
    let first = signup["access_token"].as_str().unwrap();
    assert_eq!(api.call(Method::GET, "/user", Some(first), "").await.status, 200);
    assert_eq!(api.call(Method::POST, "/logout", Some(first), "").await.status, 204);
    assert_error(&api.call(Method::GET, "/user", Some(first), "").await, 403, "session_not_found");
    api.cleanup().await;
}

async fn anonymous_sign_in(engine: Engine) {
    let api = Api::new(engine, AuthConfig { anonymous_enabled: true, ..autoconfirm() }).await;
    // What supabase-js' signInAnonymously posts.
    let res = api.post("/signup", json!({ "data": { "nick": "anon" }, "gotrue_meta_security": {} })).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let body = res.json();
    assert_eq!(body["user"]["is_anonymous"], true);
    assert_eq!(body["user"]["email"], "");
    assert_eq!(body["user"]["user_metadata"], json!({ "nick": "anon" }));
    let me = api.call(Method::GET, "/user", body["access_token"].as_str(), "").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["is_anonymous"], true);
    // `{}` signs in anonymously too.
    assert_eq!(api.post("/signup", json!({})).await.status, 200);
    api.cleanup().await;

    let api = Api::new(engine, autoconfirm()).await;
    assert_error(&api.post("/signup", json!({})).await, 422, "anonymous_provider_disabled");
    api.cleanup().await;
}

async fn credential_errors(engine: Engine) {
    let api = Api::new(engine, autoconfirm()).await;
    api.sign_up("ada@example.com").await;
    let wrong = api
        .post(
            "/token?grant_type=password",
            json!({ "email": "ada@example.com", "password": "wrong password" }),
        )
        .await;
    assert_error(&wrong, 400, "invalid_credentials");
    assert_eq!(wrong.json()["msg"], "Invalid login credentials");
    let unknown = api
        .post("/token?grant_type=password", json!({ "email": "nobody@example.com", "password": PASSWORD }))
        .await;
    assert_eq!((unknown.status, unknown.body.clone()), (wrong.status, wrong.body.clone()));

    // auth-js asks for the 2024-01-01 error shape and gets it, with the version echoed.
    let req = Request::post("/token?grant_type=password")
        .header("apikey", &api.fx.publishable)
        .header("x-supabase-api-version", "2024-01-01")
        .body(Bytes::from(json!({ "email": "ada@example.com", "password": "nope!!" }).to_string()))
        .unwrap();
    let versioned = api.send(req).await;
    assert_eq!(versioned.status, 400);
    assert_eq!(versioned.headers["x-supabase-api-version"], "2024-01-01");
    assert_eq!(
        versioned.json(),
        json!({ "code": "invalid_credentials", "message": "Invalid login credentials" })
    );

    // A weak password carries GoTrue's reasons.
    let weak = api.post("/signup", json!({ "email": "bob@example.com", "password": "abc" })).await;
    assert_error(&weak, 422, "weak_password");
    assert_eq!(weak.json()["weak_password"]["reasons"], json!(["length"]));

    // An existing address with auto-confirmation.
    let dup = api.post("/signup", json!({ "email": "ada@example.com", "password": PASSWORD })).await;
    assert_error(&dup, 422, "user_already_exists");

    // No API key at all; a token without the key.
    let session = api
        .post("/token?grant_type=password", json!({ "email": "ada@example.com", "password": PASSWORD }))
        .await
        .json();
    let access = session["access_token"].as_str().unwrap();
    let no_key = api.send(Request::get("/user").body(Bytes::new()).unwrap()).await;
    assert_error(&no_key, 401, "no_api_key");
    let token_only = api
        .send(
            Request::get("/user")
                .header("authorization", format!("Bearer {access}"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_error(&token_only, 401, "no_api_key");
    let junk_key =
        api.send(Request::get("/settings").header("apikey", "eb_junk").body(Bytes::new()).unwrap()).await;
    assert_eq!(junk_key.status, 401);

    // Another project's key with this project's token.
    let other =
        api.fx.platform.create_project("owner", "Other Project", CreateProject::default()).await.unwrap();
    let other_key = other.keys.unwrap().publishable.secret;
    let cross = api
        .send(
            Request::get("/user")
                .header("apikey", &other_key)
                .header("authorization", format!("Bearer {access}"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_error(&cross, 401, "bad_jwt");

    // The key alone is not a user.
    assert_error(&api.call(Method::GET, "/user", None, "").await, 401, "no_authorization");
    assert_error(&api.call(Method::POST, "/logout", None, "").await, 401, "no_authorization");
    // The key as the bearer token names the project for the public routes.
    let bearer_key = api
        .send(
            Request::get("/settings")
                .header("authorization", format!("Bearer {}", api.fx.publishable))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(bearer_key.status, 200);
    // A stale user token next to the key does not break a public route.
    let stale = api
        .send(
            Request::post("/token?grant_type=password")
                .header("apikey", &api.fx.publishable)
                .header("authorization", "Bearer a.b.c")
                .body(Bytes::from(json!({ "email": "ada@example.com", "password": PASSWORD }).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(stale.status, 200);
    api.cleanup().await;
}

async fn request_errors(engine: Engine) {
    let api = Api::new(engine, autoconfirm()).await;
    let bad = api.call(Method::POST, "/signup", None, "{\"email\": \"a@b.co\", \"password\": ").await;
    assert_error(&bad, 400, "bad_json");
    assert!(!bad.json()["msg"].as_str().unwrap().contains("a@b.co"));
    let wrong_type = api.call(Method::POST, "/token?grant_type=password", None, "[1, 2]").await;
    assert_error(&wrong_type, 400, "bad_json");

    let huge = format!("{{\"email\": \"a@b.co\", \"password\": \"{}\"}}", "x".repeat(70 * 1024));
    assert_error(&api.call(Method::POST, "/signup", None, &huge).await, 413, "request_too_large");
    // Through the tower Service, the read itself is bounded.
    let mut svc = api.svc.clone();
    let req = Request::post("/signup")
        .header("apikey", &api.fx.publishable)
        .body(http_body_util::Full::new(Bytes::from(huge)))
        .unwrap();
    let res = tower_service::Service::call(&mut svc, req).await.unwrap();
    assert_eq!(res.status(), 413);
    let req = Request::get("/health")
        .header("apikey", &api.fx.publishable)
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(tower_service::Service::call(&mut svc, req).await.unwrap().status(), 200);

    assert_error(&api.call(Method::GET, "/nope", None, "").await, 404, "not_found");
    assert_error(&api.call(Method::GET, "/signup", None, "").await, 405, "method_not_allowed");
    let grant = api.post("/token?grant_type=magic", json!({})).await;
    assert_eq!(grant.status, 400);
    assert_eq!(grant.json()["error"], "unsupported_grant_type");
    assert!(grant.json()["error_description"].is_string());
    assert_error(&api.post("/token?grant_type=refresh_token", json!({})).await, 400, "validation_failed");
    let phone = api.post("/signup", json!({ "phone": "+15555550100", "password": PASSWORD })).await;
    assert_error(&phone, 422, "phone_provider_disabled");

    let settings = api.call(Method::GET, "/settings", None, "").await.json();
    assert_eq!(settings["external"]["email"], true);
    assert_eq!(settings["external"]["google"], false);
    assert_eq!(settings["external"]["anonymous_users"], false);
    assert_eq!(settings["disable_signup"], false);
    assert_eq!(settings["mailer_autoconfirm"], true);
    assert_eq!(api.call(Method::GET, "/health/", None, "").await.status, 200);
    api.cleanup().await;
}

async fn recover_is_uniform(engine: Engine) {
    let api = Api::new(engine, autoconfirm()).await;
    api.sign_up("ada@example.com").await;
    let known = api
        .post("/recover?redirect_to=http%3A%2F%2Fapp.test%2Freset", json!({ "email": "ada@example.com" }))
        .await;
    let unknown = api.post("/recover", json!({ "email": "nobody@example.com" })).await;
    assert_eq!(known.status, 200);
    assert_eq!((known.status, known.body.clone()), (unknown.status, unknown.body.clone()));
    assert_eq!(known.json(), json!({}));
    let mut sent = api.outbox.take();
    assert_eq!(sent.len(), 1, "only the known address gets a token");
    let (token, redirect) = sent.pop().unwrap();
    assert_eq!(token.kind, TokenKind::Recovery);
    assert_eq!(redirect.as_deref(), Some("http://app.test/reset"));

    let wrong = api.post("/verify", json!({ "type": "recovery", "token_hash": "not-a-token" })).await;
    assert_error(&wrong, 403, "otp_expired");
    let verified = api.post("/verify", json!({ "type": "recovery", "token_hash": token.token })).await;
    assert_eq!(verified.status, 200);
    let access = verified.json()["access_token"].as_str().unwrap().to_owned();
    let changed = api
        .call(Method::PUT, "/user", Some(&access), &json!({ "password": "a new long password" }).to_string())
        .await;
    assert_eq!(changed.status, 200);
    let login = api
        .post(
            "/token?grant_type=password",
            json!({ "email": "ada@example.com", "password": "a new long password" }),
        )
        .await;
    assert_eq!(login.status, 200);
    // Used once: the same token is refused.
    let reused = api.post("/verify", json!({ "type": "recovery", "token_hash": token.token })).await;
    assert_error(&reused, 403, "otp_expired");
    api.cleanup().await;
}

fn fragment(location: &str) -> Vec<(String, String)> {
    let (_, fragment) = location.split_once('#').unwrap();
    fragment
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn verify_links(engine: Engine) {
    // The default: GET shows a page; only its POST consumes the token.
    let api = Api::new(engine, config()).await;
    let user = api.sign_up("ada@example.com").await;
    assert!(user.get("access_token").is_none(), "a confirmation is needed: the user object");
    assert_eq!(user["email"], "ada@example.com");
    let (token, _) = api.outbox.take().pop().unwrap();
    assert_eq!(token.kind, TokenKind::Confirmation);
    let unconfirmed = api
        .post("/token?grant_type=password", json!({ "email": "ada@example.com", "password": PASSWORD }))
        .await;
    assert_error(&unconfirmed, 400, "email_not_confirmed");

    // The email link: no headers, the publishable key in the query.
    let query = format!(
        "token={}&type=signup&redirect_to=https%3A%2F%2Fmobile.test%2Fcallback&apikey={}",
        token.token, api.fx.publishable
    );
    let page = api.send(Request::get(format!("/verify?{query}")).body(Bytes::new()).unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(html.contains("method=\"post\"") && html.contains(&token.token));
    // Showing the page twice (a scanner, then the user) burns nothing.
    assert_eq!(
        api.send(Request::get(format!("/verify?{query}")).body(Bytes::new()).unwrap()).await.status,
        200
    );
    let posted = api
        .send(
            Request::post("/verify")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Bytes::from(query.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(posted.status, 303);
    let location = posted.location();
    assert!(location.starts_with("https://mobile.test/callback#access_token="), "{location}");
    let frag = fragment(location);
    assert_eq!(get(&frag, "type"), Some("signup"));
    assert_eq!(get(&frag, "token_type"), Some("bearer"));
    assert!(get(&frag, "refresh_token").is_some_and(|t| !t.is_empty()));
    let me = api.call(Method::GET, "/user", get(&frag, "access_token"), "").await;
    assert!(me.json()["email_confirmed_at"].is_string());
    // The token is spent.
    let again = api
        .send(
            Request::post("/verify")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Bytes::from(query))
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, 303);
    let frag = fragment(again.location());
    assert_eq!(get(&frag, "error"), Some("access_denied"));
    assert_eq!(get(&frag, "error_code"), Some("otp_expired"));
    api.cleanup().await;

    // GoTrue's behavior, opted into: GET consumes and redirects; a foreign redirect_to
    // falls back to the site URL.
    let api = Api::with(engine, config(), VerifyGetMode::Redirect).await;
    api.sign_up("bob@example.com").await;
    let (token, _) = api.outbox.take().pop().unwrap();
    let foreign =
        format!("/verify?token={}&type=signup&redirect_to=https%3A%2F%2Fevil.test%2Fsteal", token.token);
    let res = api.call(Method::GET, &foreign, None, "").await;
    assert_eq!(res.status, 303);
    assert!(res.location().starts_with("http://app.test#access_token="), "{}", res.location());
    api.sign_up("carol@example.com").await;
    let (token, _) = api.outbox.take().pop().unwrap();
    let allowed =
        format!("/verify?token={}&type=signup&redirect_to=http%3A%2F%2Fapp.test%2Fwelcome", token.token);
    let res = api.call(Method::GET, &allowed, None, "").await;
    assert!(res.location().starts_with("http://app.test/welcome#access_token="), "{}", res.location());
    let res = api.call(Method::GET, &allowed, None, "").await;
    assert!(res.location().starts_with("http://app.test/welcome#error=access_denied"), "{}", res.location());
    api.cleanup().await;
}

on_both_engines!(
    session_lifecycle,
    anonymous_sign_in,
    credential_errors,
    request_errors,
    recover_is_uniform,
    verify_links,
);

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Caller input never panics a route nor makes it answer 5xx (DESIGN.md invariant 4).
        #[test]
        fn arbitrary_requests_are_answered(
            route in prop::sample::select(vec![
                "/signup", "/token?grant_type=password", "/token?grant_type=refresh_token", "/logout",
                "/user", "/recover", "/verify", "/settings", "/health", "/zz",
            ]),
            get in any::<bool>(),
            query in "[a-z_=&%0-9]{0,30}",
            body in prop_oneof![
                any::<Vec<u8>>(),
                Just(b"{}".to_vec()),
                "\\{\"(email|password|refresh_token|type|token|data)\": (\"[^\"]{0,20}\"|null|1|\\{\\}|\\[\\])\\}"
                    .prop_map(String::into_bytes),
            ],
            bearer in prop::option::of("[A-Za-z0-9._-]{0,60}"),
        ) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async {
                let api = Api::new(Engine::Sqlite, AuthConfig { anonymous_enabled: true, ..autoconfirm() }).await;
                let sep = if route.contains('?') { '&' } else { '?' };
                let method = if get { Method::GET } else if route == "/user" { Method::PUT } else { Method::POST };
                let mut req = Request::builder()
                    .method(method)
                    .uri(format!("{route}{sep}{query}"))
                    .header("apikey", &api.fx.publishable);
                if let Some(token) = &bearer {
                    req = req.header("authorization", format!("Bearer {token}"));
                }
                let res = api.send(req.body(Bytes::from(body)).unwrap()).await;
                assert!(res.status.as_u16() < 500, "{} {}", res.status, String::from_utf8_lossy(&res.body));
                api.cleanup().await;
            });
        }
    }
}
