//! OAuth / OIDC sign-in end to end against a fake provider the test starts on
//! 127.0.0.1 (authorize, token, userinfo and GitHub's emails endpoints), through
//! `AuthService` and the default `HyperClient`, on SQLite, PostgreSQL and MariaDB/MySQL
//! (`cargo test -p easbase-auth --all-features --test oauth`).

#![cfg(feature = "http-client")]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use common::{Engine as Db, Fixture, autoconfirm, urlencode};
use easbase_auth::oauth::{HttpClient, HyperClient, OAuthSettings, ProviderConfig};
use easbase_auth::{Auth, AuthService, AuthServiceConfig};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";
const CALLBACK: &str = "http://api.test/auth/v1/callback";

/// What the fake provider knows.
#[derive(Default)]
struct FakeState {
    /// The profile the next sign-in returns (`/userinfo` or GitHub's `/user`).
    profile: Value,
    /// GitHub's `/user/emails` answer.
    emails: Value,
    /// Codes issued: code → (PKCE challenge, redirect URI, profile).
    codes: HashMap<String, (String, String, Value)>,
    /// Access tokens issued: token → profile.
    tokens: HashMap<String, Value>,
    counter: u32,
}

struct FakeProvider {
    base: String,
    state: Arc<Mutex<FakeState>>,
}

fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    let q = q.split('#').next().unwrap_or("");
    form(q)
}

fn form(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn fragment(url: &str) -> HashMap<String, String> {
    form(url.split_once('#').map_or("", |(_, f)| f))
}

impl FakeProvider {
    async fn start() -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let state = shared.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
                    let (status, headers, body) = handle(&state, &head, &body);
                    let response = format!(
                        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        FakeProvider { base, state }
    }

    fn set_profile(&self, profile: Value) {
        self.state.lock().unwrap().profile = profile;
    }

    fn oidc(&self) -> ProviderConfig {
        let b = &self.base;
        ProviderConfig::oidc(
            "keycloak",
            b.clone(),
            [&format!("{b}/authorize"), &format!("{b}/token"), &format!("{b}/userinfo")],
            "client-1",
            "secret-1",
        )
    }

    fn github(&self) -> ProviderConfig {
        let b = &self.base;
        let mut github = ProviderConfig::github("client-1", "secret-1");
        github.authorize_url = format!("{b}/authorize");
        github.token_url = format!("{b}/token");
        github.userinfo_url = format!("{b}/userinfo");
        github.emails_url = Some(format!("{b}/user/emails"));
        github
    }
}

fn json_reply(status: &str, body: Value) -> (String, String, String) {
    (status.into(), "Content-Type: application/json\r\n".into(), body.to_string())
}

fn handle(state: &Mutex<FakeState>, head: &str, body: &str) -> (String, String, String) {
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let bearer = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("authorization: Bearer ").or_else(|| l.strip_prefix("Authorization: Bearer "))
        })
        .map(|t| t.trim().to_owned());
    let mut s = state.lock().unwrap();
    match (method, path) {
        ("GET", "/authorize") => {
            let q = query(target);
            assert_eq!(q["client_id"], "client-1");
            assert_eq!(q["response_type"], "code");
            assert_eq!(q["code_challenge_method"], "S256");
            s.counter += 1;
            let code = format!("code-{}", s.counter);
            let profile = s.profile.clone();
            s.codes.insert(code.clone(), (q["code_challenge"].clone(), q["redirect_uri"].clone(), profile));
            let location = format!("{}?code={code}&state={}", q["redirect_uri"], urlencode(&q["state"]));
            ("302 Found".into(), format!("Location: {location}\r\n"), String::new())
        }
        ("POST", "/token") => {
            let f = form(body);
            if f.get("client_secret").map(String::as_str) != Some("secret-1") {
                return json_reply("401 Unauthorized", json!({ "error": "invalid_client" }));
            }
            let Some((challenge, redirect_uri, profile)) = s.codes.remove(&f["code"]) else {
                return json_reply("400 Bad Request", json!({ "error": "invalid_grant" }));
            };
            let verifier_challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(f["code_verifier"].as_bytes()));
            if verifier_challenge != challenge || f["redirect_uri"] != redirect_uri {
                return json_reply("400 Bad Request", json!({ "error": "invalid_grant" }));
            }
            let token = format!("at-{}", s.counter);
            s.tokens.insert(token.clone(), profile);
            json_reply(
                "200 OK",
                json!({ "access_token": token, "token_type": "bearer", "refresh_token": "rt-1" }),
            )
        }
        ("GET", "/.well-known/openid-configuration") => {
            // The issuer is always the 127.0.0.1 address, however the host was named.
            let host = head.lines().find_map(|l| l.strip_prefix("host: ")).unwrap_or("").trim();
            let base = format!("http://{}", host.replace("localhost", "127.0.0.1"));
            json_reply(
                "200 OK",
                json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/authorize"),
                    "token_endpoint": format!("{base}/token"),
                    "userinfo_endpoint": format!("{base}/userinfo"),
                }),
            )
        }
        ("GET", "/userinfo") => match bearer.and_then(|t| s.tokens.get(&t).cloned()) {
            Some(profile) => json_reply("200 OK", profile),
            None => json_reply("401 Unauthorized", json!({ "error": "invalid_token" })),
        },
        ("GET", "/user/emails") if bearer.is_some_and(|t| s.tokens.contains_key(&t)) => {
            json_reply("200 OK", s.emails.clone())
        }
        _ => json_reply("404 Not Found", json!({})),
    }
}

/// Auto-confirmation and anonymous sign-ins.
fn config() -> easbase_auth::AuthConfig {
    easbase_auth::AuthConfig { anonymous_enabled: true, ..autoconfirm() }
}

struct Api {
    fx: Fixture,
    svc: AuthService,
    provider: FakeProvider,
    http: HyperClient,
}

impl Api {
    async fn new(engine: Db) -> Api {
        let provider = FakeProvider::start().await;
        let fx = Fixture::new(engine, config()).await;
        let mut settings = OAuthSettings::new(Arc::new(HyperClient::new()))
            .with_provider(provider.oidc())
            .with_provider(provider.github());
        settings.callback_url = Some(CALLBACK.into());
        settings.default_project = Some(fx.project.clone());
        let svc = AuthService::with_config(
            fx.platform.clone(),
            Arc::new(Auth::new(config(), None).unwrap()),
            AuthServiceConfig {
                redirect_urls: vec!["http://mobile.test/cb".into()],
                oauth: Some(Arc::new(settings)),
                ..AuthServiceConfig::default()
            },
        );
        Api { fx, svc, provider, http: HyperClient::new() }
    }

    async fn get(&self, uri: &str, apikey: bool) -> Response<Bytes> {
        let mut req = Request::builder().method(Method::GET).uri(uri);
        if apikey {
            req = req.header("apikey", &self.fx.publishable);
        }
        self.svc.handle(req.body(Bytes::new()).unwrap()).await
    }

    async fn post(&self, uri: &str, body: Value) -> Response<Bytes> {
        let req = Request::post(uri)
            .header("apikey", &self.fx.publishable)
            .body(Bytes::from(body.to_string()))
            .unwrap();
        self.svc.handle(req).await
    }

    /// `/authorize` then the provider: the callback URL the browser is sent to.
    async fn to_callback(&self, authorize: &str) -> String {
        let res = self.get(authorize, false).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{}", String::from_utf8_lossy(res.body()));
        let provider_url = location(&res);
        assert!(provider_url.starts_with(&self.provider.base), "{provider_url}");
        let res = self.http.send(Request::get(provider_url).body(Bytes::new()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let back = location(&res);
        assert!(back.starts_with(CALLBACK), "{back}");
        back.trim_start_matches("http://api.test/auth/v1").to_owned()
    }

    /// A whole implicit sign-in with `profile`: the final redirect.
    async fn sign_in(&self, provider: &str, profile: Value) -> String {
        self.provider.set_profile(profile);
        let callback = self
            .to_callback(&format!(
                "/authorize?provider={provider}&redirect_to=http%3A%2F%2Fapp.test%2Fwelcome"
            ))
            .await;
        let res = self.get(&callback, false).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{}", String::from_utf8_lossy(res.body()));
        location(&res)
    }

    async fn user_of(&self, redirect: &str) -> Value {
        let f = fragment(redirect);
        let req = Request::get("/user")
            .header("apikey", &self.fx.publishable)
            .header("authorization", format!("Bearer {}", f["access_token"]))
            .body(Bytes::new())
            .unwrap();
        let res = self.svc.handle(req).await;
        assert_eq!(res.status(), 200);
        serde_json::from_slice(res.body()).unwrap()
    }
}

fn location(res: &Response<Bytes>) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn body(res: &Response<Bytes>) -> Value {
    serde_json::from_slice(res.body()).unwrap()
}

fn oidc_profile(sub: &str, email: &str, verified: bool) -> Value {
    json!({ "sub": sub, "email": email, "email_verified": verified, "name": "Ada L", "picture": "http://img.test/a.png" })
}

async fn implicit_sign_in_and_linking(engine: Db) {
    let api = Api::new(engine).await;

    // A new user from a verified address.
    let redirect = api.sign_in("keycloak", oidc_profile("kc-1", "Ada@Example.com", true)).await;
    assert!(redirect.starts_with("http://app.test/welcome#"), "{redirect}");
    let f = fragment(&redirect);
    assert_eq!(f["token_type"], "bearer");
    assert_eq!(f["provider_token"], "at-1");
    assert!(f.contains_key("refresh_token") && f.contains_key("expires_at") && f.contains_key("expires_in"));
    let user = api.user_of(&redirect).await;
    assert_eq!(user["email"], "ada@example.com");
    assert!(user["email_confirmed_at"].is_string());
    assert_eq!(user["app_metadata"], json!({ "provider": "keycloak", "providers": ["keycloak"] }));
    assert_eq!(user["user_metadata"]["name"], "Ada L");
    assert_eq!(user["identities"][0]["provider"], "keycloak");
    assert_eq!(user["identities"][0]["id"], "kc-1");
    let bearer = format!("Bearer {}", f["access_token"]);
    let ctx = api.fx.platform.resolve(Some(&api.fx.publishable), Some(&bearer), None).await.unwrap();
    assert_eq!(ctx.claims()["amr"][0]["method"], "oauth");

    // The same account signs in to the same user.
    let again = api.sign_in("keycloak", oidc_profile("kc-1", "ada@example.com", true)).await;
    assert_eq!(api.user_of(&again).await["id"], user["id"]);

    // A password user is linked by a provider-verified address (GitHub: the verified
    // primary address from /user/emails).
    api.fx.auth.signup("grace@example.com", PASSWORD, None).await.unwrap();
    api.provider.state.lock().unwrap().emails = json!([
        { "email": "old@example.com", "primary": false, "verified": true },
        { "email": "grace@example.com", "primary": true, "verified": true },
    ]);
    let redirect = api
        .sign_in(
            "github",
            json!({ "id": 4242, "login": "grace", "email": null, "avatar_url": "http://img.test/g.png" }),
        )
        .await;
    let linked = api.user_of(&redirect).await;
    let grace = api.fx.auth.password_grant("grace@example.com", PASSWORD).await.unwrap();
    assert_eq!(linked["id"], grace.user.id.as_str());
    let providers: Vec<&str> =
        linked["identities"].as_array().unwrap().iter().map(|i| i["provider"].as_str().unwrap()).collect();
    assert_eq!(providers, ["email", "github"]);
    assert_eq!(linked["app_metadata"]["providers"], json!(["email", "github"]));
    assert_eq!(linked["identities"][1]["identity_data"]["preferred_username"], "grace");
    api.fx.cleanup().await;
}

async fn unverified_email_does_not_link(engine: Db) {
    let api = Api::new(engine).await;
    let bob = match api.fx.auth.signup("bob@example.com", PASSWORD, None).await.unwrap() {
        easbase_auth::SignupOutcome::Session(s) => s,
        other => panic!("{other:?}"),
    };
    let redirect = api.sign_in("keycloak", oidc_profile("kc-evil", "bob@example.com", false)).await;
    let user = api.user_of(&redirect).await;
    assert_ne!(user["id"], bob.user.id.as_str(), "not linked to bob");
    assert_eq!(user["email"], "", "an unverified address is not given to the new user");
    assert_eq!(user["identities"][0]["identity_data"]["email"], "bob@example.com");
    assert_eq!(user["identities"][0]["identity_data"]["email_verified"], false);
    // Bob still has only his email identity.
    let bob_now = api.fx.auth.password_grant("bob@example.com", PASSWORD).await.unwrap();
    assert_eq!(bob_now.user.identities.len(), 1);
    // GitHub without a verified address: no link either.
    api.provider.state.lock().unwrap().emails =
        json!([{ "email": "bob@example.com", "primary": true, "verified": false }]);
    let redirect =
        api.sign_in("github", json!({ "id": 7, "login": "notbob", "email": "bob@example.com" })).await;
    assert_ne!(api.user_of(&redirect).await["id"], bob.user.id.as_str());
    api.fx.cleanup().await;
}

async fn bad_states_and_provider_errors(engine: Db) {
    let api = Api::new(engine).await;
    api.provider.set_profile(oidc_profile("kc-1", "ada@example.com", true));

    // A wrong state: malformed, another project's shape, unknown.
    for state in ["garbage", "no-such-project.abc", &format!("{}.forged", api.fx.project)] {
        let res = api.get(&format!("/callback?code=x&state={}", urlencode(state)), false).await;
        assert_eq!(res.status(), 400, "{state}");
        assert_eq!(body(&res)["error_code"], "bad_oauth_state");
    }
    let res = api.get("/callback?code=x", false).await;
    assert_eq!(body(&res)["error_code"], "bad_oauth_state");

    // A replayed state: the second use is refused.
    let callback = api.to_callback("/authorize?provider=keycloak").await;
    let first = api.get(&callback, false).await;
    assert_eq!(first.status(), StatusCode::FOUND);
    assert!(location(&first).starts_with("http://app.test#access_token="), "the site URL by default");
    let replay = api.get(&callback, false).await;
    assert_eq!(
        (replay.status().as_u16(), body(&replay)["error_code"].clone()),
        (400, json!("bad_oauth_state"))
    );

    // An expired state.
    let callback = api.to_callback("/authorize?provider=keycloak").await;
    let table = api.fx.table("auth_oauth_states").await;
    api.fx.exec(format!("update {table} set created_at = created_at - 3600"), vec![]).await;
    assert_eq!(body(&api.get(&callback, false).await)["error_code"], "bad_oauth_state");

    // The provider refuses the code (a replayed or forged code): back to the app with the error.
    let callback =
        api.to_callback("/authorize?provider=keycloak&redirect_to=http%3A%2F%2Fmobile.test%2Fcb").await;
    let q = query(&callback);
    let forged = format!("/callback?code=not-issued&state={}", urlencode(&q["state"]));
    let res = api.get(&forged, false).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert!(to.starts_with("http://mobile.test/cb?error=server_error&error_code=unexpected_failure"), "{to}");
    assert!(fragment(&to)["error_description"].contains("invalid_grant"), "{to}");

    // The provider's own error (the user said no).
    let callback = api.to_callback("/authorize?provider=keycloak").await;
    let q = query(&callback);
    let denied = format!(
        "/callback?error=access_denied&error_description=The+user+said+no&state={}",
        urlencode(&q["state"])
    );
    let to = location(&api.get(&denied, false).await);
    let f = fragment(&to);
    assert_eq!((f["error"].as_str(), f["error_code"].as_str()), ("access_denied", "bad_oauth_callback"));
    assert_eq!(f["error_description"], "The user said no");

    // Unknown or unconfigured providers, a redirect off the allow-list, no key.
    let res = api.get("/authorize?provider=facebook", false).await;
    assert_eq!((res.status().as_u16(), body(&res)["error_code"].clone()), (400, json!("provider_disabled")));
    let res = api.get("/authorize", false).await;
    assert_eq!(body(&res)["error_code"], "validation_failed");
    let callback =
        api.to_callback("/authorize?provider=keycloak&redirect_to=http%3A%2F%2Fevil.test%2F").await;
    assert!(
        location(&api.get(&callback, false).await).starts_with("http://app.test#"),
        "off-list: the site URL"
    );
    let res = api.get("/authorize?provider=keycloak&skip_http_redirect=true", true).await;
    assert_eq!(res.status(), 200);
    assert!(body(&res)["url"].as_str().unwrap().starts_with(&api.provider.base));
    let settings = api.get("/settings", true).await;
    assert_eq!(body(&settings)["external"]["github"], true);
    assert_eq!(body(&settings)["external"]["google"], false);
    assert_eq!(body(&settings)["external"]["keycloak"], true);

    let keyless = AuthService::with_config(
        api.fx.platform.clone(),
        Arc::new(Auth::new(autoconfirm(), None).unwrap()),
        AuthServiceConfig {
            oauth: Some(Arc::new(
                OAuthSettings::new(Arc::new(HyperClient::new())).with_provider(api.provider.oidc()),
            )),
            ..AuthServiceConfig::default()
        },
    );
    let res = keyless.handle(Request::get("/authorize?provider=keycloak").body(Bytes::new()).unwrap()).await;
    assert_eq!(res.status(), 401, "no key and no default project");
    api.fx.cleanup().await;
}

async fn pkce_flow(engine: Db) {
    let api = Api::new(engine).await;
    api.provider.set_profile(oidc_profile("kc-9", "pk@example.com", true));
    let verifier = "a-client-code-verifier-of-enough-length-0123456789";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let callback = api
        .to_callback(&format!(
            "/authorize?provider=keycloak&redirect_to=http%3A%2F%2Fapp.test%2Fdone&code_challenge={challenge}&code_challenge_method=s256"
        ))
        .await;
    let to = location(&api.get(&callback, false).await);
    assert!(to.starts_with("http://app.test/done?code="), "{to}");
    let code = query(&to)["code"].clone();
    let res = api
        .post(
            "/token?grant_type=pkce",
            json!({ "auth_code": code, "code_verifier": "wrong-verifier-wrong-verifier-wrong-verifier" }),
        )
        .await;
    assert_eq!(res.status(), 400, "{}", String::from_utf8_lossy(res.body()));
    let res =
        api.post("/token?grant_type=pkce", json!({ "auth_code": code, "code_verifier": verifier })).await;
    assert_eq!(res.status(), 200, "{}", String::from_utf8_lossy(res.body()));
    let session = body(&res);
    assert_eq!(session["user"]["email"], "pk@example.com");
    assert_eq!(session["user"]["identities"][0]["provider"], "keycloak");
    let res =
        api.post("/token?grant_type=pkce", json!({ "auth_code": code, "code_verifier": verifier })).await;
    assert_eq!(res.status(), 404, "the code works once");
    // A bad challenge is refused at /authorize.
    let res =
        api.get("/authorize?provider=keycloak&code_challenge=short&code_challenge_method=s256", false).await;
    assert_eq!(body(&res)["error_code"], "validation_failed");
    api.fx.cleanup().await;
}

async fn link_identity(engine: Db) {
    let api = Api::new(engine).await;
    let anon = body(&api.post("/signup", json!({})).await);
    assert_eq!(anon["user"]["is_anonymous"], true, "{anon}");
    let anon_token = anon["access_token"].as_str().unwrap().to_owned();
    let link = |token: Option<String>| {
        let uri = "/user/identities/authorize?provider=keycloak&skip_http_redirect=true&redirect_to=http%3A%2F%2Fapp.test%2Flinked";
        let mut req = Request::get(uri).header("apikey", &api.fx.publishable);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        api.svc.handle(req.body(Bytes::new()).unwrap())
    };
    assert_eq!(link(None).await.status(), 401, "linking needs the user's token");

    // The anonymous user gets the identity, the verified address, and stops being anonymous.
    api.provider.set_profile(oidc_profile("kc-link", "Linked@Example.com", true));
    let res = link(Some(anon_token.clone())).await;
    assert_eq!(res.status(), 200, "{}", String::from_utf8_lossy(res.body()));
    let url = body(&res)["url"].as_str().unwrap().to_owned();
    let res = api.http.send(Request::get(url).body(Bytes::new()).unwrap()).await.unwrap();
    let callback = location(&res).trim_start_matches("http://api.test/auth/v1").to_owned();
    let to = location(&api.get(&callback, false).await);
    assert!(to.starts_with("http://app.test/linked#access_token="), "{to}");
    let user = api.user_of(&to).await;
    assert_eq!(user["id"], anon["user"]["id"]);
    assert_eq!(user["is_anonymous"], false);
    assert_eq!(user["email"], "linked@example.com");
    assert_eq!(user["identities"][0]["provider"], "keycloak");
    assert_eq!(user["app_metadata"]["provider"], "keycloak");

    // An account that belongs to another user is not moved.
    let other = body(&api.post("/signup", json!({})).await);
    let res = link(Some(other["access_token"].as_str().unwrap().to_owned())).await;
    let url = body(&res)["url"].as_str().unwrap().to_owned();
    let res = api.http.send(Request::get(url).body(Bytes::new()).unwrap()).await.unwrap();
    let callback = location(&res).trim_start_matches("http://api.test/auth/v1").to_owned();
    let to = location(&api.get(&callback, false).await);
    assert_eq!(fragment(&to)["error_code"], "identity_already_exists", "{to}");
    api.fx.cleanup().await;
}

#[tokio::test]
async fn oidc_discovery() {
    let provider = FakeProvider::start().await;
    let http = HyperClient::new();
    let found =
        ProviderConfig::discover(&http, "kc", &format!("{}/", provider.base), "c", "s").await.unwrap();
    assert_eq!(found.authorize_url, format!("{}/authorize", provider.base));
    assert_eq!(found.token_url, format!("{}/token", provider.base));
    assert_eq!(found.userinfo_url, format!("{}/userinfo", provider.base));
    assert_eq!(found.issuer, provider.base);
    // Another issuer's document, or none, is refused.
    let other = provider.base.replace("127.0.0.1", "localhost");
    let e = ProviderConfig::discover(&http, "kc", &other, "c", "s").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error from the external provider: the discovery document names another issuer"
    );
    let e = ProviderConfig::discover(&http, "kc", &format!("{}/nope", provider.base), "c", "s")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("answered 404"), "{e}");
}

/// Four concurrent callbacks with one state (a replayed redirect): exactly one signs in,
/// the others are refused as a used state (on MySQL too, which has no `DELETE … RETURNING`).
async fn concurrent_callbacks_take_the_state_once(engine: Db) {
    let api = Api::new(engine).await;
    api.provider.set_profile(oidc_profile("kc-1", "ada@example.com", true));
    let callback =
        api.to_callback("/authorize?provider=keycloak&redirect_to=http%3A%2F%2Fapp.test%2Fwelcome").await;
    let (a, b, c, d) = tokio::join!(
        api.get(&callback, false),
        api.get(&callback, false),
        api.get(&callback, false),
        api.get(&callback, false),
    );
    let results = [a, b, c, d];
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::FOUND).count(), 1, "{statuses:?}");
    for res in results.iter().filter(|r| r.status() != StatusCode::FOUND) {
        assert_eq!(res.status(), 400);
        assert_eq!(body(res)["error_code"], "bad_oauth_state");
    }
    let winner = results.iter().find(|r| r.status() == StatusCode::FOUND).map(location).unwrap();
    assert!(winner.starts_with("http://app.test/welcome#access_token="), "{winner}");
    api.fx.cleanup().await;
}

on_both_engines!(
    link_identity,
    implicit_sign_in_and_linking,
    unverified_email_does_not_link,
    bad_states_and_provider_errors,
    pkce_flow,
    concurrent_callbacks_take_the_state_once,
);
