//! Per-project auth settings and templates (`easbase_auth::settings`): two projects served
//! by one `AuthService` behave by their own settings; provisioning is idempotent; client
//! secrets are sealed; bad settings are refused naming the field. SQLite and PostgreSQL.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::NoHttp;
use common::{Engine, Fixture, config};
use easbase_auth::oauth::OAuthSettings;
use easbase_auth::settings::{
    OAuthClient, ProjectSettings, Provisioned, RateLimitSettings, SocialProvider, Template,
};
use easbase_auth::{Auth, AuthError, AuthService, AuthServiceConfig, OneTimeToken, TokenOutbox};
use easbase_core::context::ProjectId;
use easbase_core::db::{Cell, Stmt};
use easbase_core::project::CreateProject;
use http::{Method, Request};
use serde_json::{Value, json};

#[derive(Default)]
struct Outbox(Mutex<Vec<(ProjectId, Option<String>)>>);

impl TokenOutbox for Outbox {
    fn deliver(&self, project: &ProjectId, _token: OneTimeToken, redirect_to: Option<String>) {
        self.0.lock().unwrap().push((project.clone(), redirect_to));
    }
}

struct Two {
    fx: Fixture,
    b: ProjectId,
    b_key: String,
    auth: Arc<Auth>,
    svc: AuthService,
    outbox: Arc<Outbox>,
}

impl Two {
    async fn new(engine: Engine) -> Two {
        let fx = Fixture::new(engine, config()).await;
        let created = fx.platform.create_project("owner", "Second", CreateProject::default()).await.unwrap();
        let auth = Arc::new(Auth::new(config(), None).unwrap());
        let outbox = Arc::new(Outbox::default());
        let svc = AuthService::with_config(
            fx.platform.clone(),
            auth.clone(),
            AuthServiceConfig {
                redirect_urls: vec!["https://mobile.test/callback".into()],
                outbox: Some(outbox.clone()),
                oauth: Some(Arc::new(OAuthSettings::new(Arc::new(NoHttp)))),
                ..AuthServiceConfig::default()
            },
        );
        let b_key = created.keys.unwrap().publishable.secret;
        Two { fx, b: created.project.id, b_key, auth, svc, outbox }
    }

    fn key(&self, project: &ProjectId) -> &str {
        if *project == self.fx.project { &self.fx.publishable } else { &self.b_key }
    }

    async fn call(
        &self,
        project: &ProjectId,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (u16, Value, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("apikey", self.key(project))
            .header("content-type", "application/json")
            .body(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default())
            .unwrap();
        let res = self.svc.handle(req).await;
        let location =
            res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        let json = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
        (res.status().as_u16(), json, location)
    }

    async fn set(&self, project: &ProjectId, settings: ProjectSettings) {
        self.auth.update_project_settings(&self.fx.platform, project, settings).await.unwrap();
    }
}

const PASSWORD: &str = "correct horse battery";

async fn two_projects_behave_by_their_settings(engine: Engine) {
    let t = Two::new(engine).await;
    let (a, b) = (t.fx.project.clone(), t.b.clone());
    // No rate limits in either (a `RateLimitSettings` with every limit off).
    let unlimited = Some(RateLimitSettings::default());
    t.set(
        &a,
        ProjectSettings {
            redirect_urls: Some(vec!["https://a.test/welcome".into()]),
            rate_limits: unlimited.clone(),
            ..Default::default()
        },
    )
    .await;
    t.set(
        &b,
        ProjectSettings {
            site_url: Some("https://b.test".into()),
            autoconfirm: Some(true),
            password_min_length: Some(10),
            password_required_characters: Some(vec!["0123456789".into()]),
            access_token_lifetime_secs: Some(120),
            rate_limits: unlimited,
            ..Default::default()
        },
    )
    .await;

    // A: confirmation needed (the process default); B: auto-confirmed, with its lifetime.
    let (status, body, _) =
        t.call(&a, Method::POST, "/signup", Some(json!({"email": "ada@a.test", "password": PASSWORD}))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("access_token").is_none() && body["email"] == "ada@a.test", "{body}");
    let (status, body, _) = t
        .call(&b, Method::POST, "/signup", Some(json!({"email": "bo@b.test", "password": "longpassword1"})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 120, "{body}");
    assert!(body["access_token"].is_string());

    // B's password rules; A still takes a short password without a digit.
    let (status, body, _) =
        t.call(&b, Method::POST, "/signup", Some(json!({"email": "cy@b.test", "password": "short1"}))).await;
    assert_eq!((status, body["error_code"].as_str()), (422, Some("weak_password")), "{body}");
    let (status, body, _) = t
        .call(&b, Method::POST, "/signup", Some(json!({"email": "cy@b.test", "password": "no digits here"})))
        .await;
    assert_eq!((status, body["error_code"].as_str()), (422, Some("weak_password")), "{body}");
    let (status, _, _) =
        t.call(&a, Method::POST, "/signup", Some(json!({"email": "cy@a.test", "password": "abcdef"}))).await;
    assert_eq!(status, 200);

    // Redirect allow-lists: A's own list replaces the service's; B keeps the service's.
    t.outbox.0.lock().unwrap().clear();
    for (project, target) in [
        (&a, "https://a.test/welcome"),
        (&a, "https://mobile.test/callback"),
        (&b, "https://a.test/welcome"),
        (&b, "https://mobile.test/callback"),
    ] {
        let email = if *project == a { "ada@a.test" } else { "bo@b.test" };
        let uri = format!("/recover?redirect_to={}", common::urlencode(target));
        let (status, _, _) = t.call(project, Method::POST, &uri, Some(json!({"email": email}))).await;
        assert_eq!(status, 200);
    }
    let sent: Vec<(ProjectId, Option<String>)> = std::mem::take(&mut *t.outbox.0.lock().unwrap());
    let redirects: Vec<Option<&str>> = sent.iter().map(|(_, r)| r.as_deref()).collect();
    assert_eq!(
        redirects,
        [
            Some("https://a.test/welcome"),
            Some("http://app.test"), // not in A's list: A's site URL (the process default)
            Some("https://b.test"),  // not in the service's list: B's site URL
            Some("https://mobile.test/callback"),
        ]
    );

    // B limits messages per recipient; A does not.
    let b_settings = t.auth.project_settings(&t.fx.platform, &b).await.unwrap();
    let limited = RateLimitSettings { per_recipient_interval_secs: Some(60), ..Default::default() };
    t.set(&b, ProjectSettings { rate_limits: Some(limited), ..b_settings }).await;
    for _ in 0..2 {
        let (status, _, _) = t.call(&a, Method::POST, "/recover", Some(json!({"email": "ada@a.test"}))).await;
        assert_eq!(status, 200);
    }
    let (status, _, _) = t.call(&b, Method::POST, "/recover", Some(json!({"email": "bo@b.test"}))).await;
    assert_eq!(status, 200);
    let (status, body, _) = t.call(&b, Method::POST, "/recover", Some(json!({"email": "bo@b.test"}))).await;
    assert_eq!((status, body["error_code"].as_str()), (429, Some("over_email_send_rate_limit")), "{body}");

    // Signup off in A takes effect at once in this process (the cache is cleared).
    let a_settings = t.auth.project_settings(&t.fx.platform, &a).await.unwrap();
    t.set(&a, ProjectSettings { signup_enabled: Some(false), ..a_settings }).await;
    let (status, body, _) =
        t.call(&a, Method::POST, "/signup", Some(json!({"email": "dee@a.test", "password": PASSWORD}))).await;
    assert_eq!((status, body["error_code"].as_str()), (422, Some("signup_disabled")), "{body}");
    let (status, _, _) = t
        .call(&b, Method::POST, "/signup", Some(json!({"email": "dee@b.test", "password": "longpassword1"})))
        .await;
    assert_eq!(status, 200);
    // …and sign-in still works there.
    let (status, body, _) = t
        .call(
            &a,
            Method::POST,
            "/token?grant_type=password",
            Some(json!({"email": "cy@a.test", "password": "abcdef"})),
        )
        .await;
    assert_eq!(status, 400, "not confirmed yet: {body}");
    assert_eq!(body["error_code"], "email_not_confirmed");

    // /settings reports each project's effective settings.
    let (_, sa, _) = t.call(&a, Method::GET, "/settings", None).await;
    let (_, sb, _) = t.call(&b, Method::GET, "/settings", None).await;
    assert_eq!(
        (sa["disable_signup"].as_bool(), sa["mailer_autoconfirm"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        (sb["disable_signup"].as_bool(), sb["mailer_autoconfirm"].as_bool()),
        (Some(false), Some(true))
    );
    t.fx.cleanup().await;
}

async fn templates_are_idempotent_and_add_up(engine: Engine) {
    let t = Two::new(engine).await;
    let (a, b) = (t.fx.project.clone(), t.b.clone());
    let platform = &t.fx.platform;
    let provision = |p: ProjectId, template: Template| {
        let auth = t.auth.clone();
        async move { auth.provision(platform, &p, template).await.unwrap() }
    };

    // A picks phone-otp only: email sign-up is then off there, not in B.
    assert_eq!(provision(a.clone(), Template::PhoneOtp).await, Provisioned::Applied);
    assert_eq!(provision(a.clone(), Template::PhoneOtp).await, Provisioned::Unchanged);
    let settings = t.auth.project_settings(platform, &a).await.unwrap();
    assert_eq!((settings.email_enabled, settings.phone_enabled), (Some(false), Some(true)));
    let (status, body, _) =
        t.call(&a, Method::POST, "/signup", Some(json!({"email": "x@a.test", "password": PASSWORD}))).await;
    assert_eq!((status, body["error_code"].as_str()), (422, Some("email_provider_disabled")), "{body}");
    let (_, sa, _) = t.call(&a, Method::GET, "/settings", None).await;
    assert_eq!(sa["external"]["email"], false);

    // A second template adds to the first.
    assert_eq!(provision(a.clone(), Template::EmailPassword).await, Provisioned::Applied);
    assert_eq!(provision(a.clone(), Template::MagicLink).await, Provisioned::Applied);
    assert_eq!(provision(a.clone(), Template::EmailPassword).await, Provisioned::Unchanged);
    let settings = t.auth.project_settings(platform, &a).await.unwrap();
    assert_eq!((settings.email_enabled, settings.phone_enabled), (Some(true), Some(true)));
    assert_eq!(settings.templates.iter().collect::<Vec<_>>(), ["email-password", "magic-link", "phone-otp"]);
    let (status, _, _) =
        t.call(&a, Method::POST, "/signup", Some(json!({"email": "x@a.test", "password": PASSWORD}))).await;
    assert_eq!(status, 200);

    // social-oauth: B gets its own Google and GitHub clients; the secrets are sealed.
    let social = |secret: &str| Template::SocialOAuth {
        google: Some(OAuthClient::new("b-google-id", secret)),
        github: Some(OAuthClient::new("b-github-id", "gh-secret-value")),
    };
    assert_eq!(provision(b.clone(), social("g-secret-value")).await, Provisioned::Applied);
    assert_eq!(provision(b.clone(), social("g-secret-value")).await, Provisioned::Unchanged);
    assert_eq!(provision(b.clone(), social("g-secret-rotated")).await, Provisioned::Applied);
    let settings = t.auth.project_settings(platform, &b).await.unwrap();
    let google = &settings.providers[&SocialProvider::Google];
    assert_eq!((google.client_id.as_str(), google.client_secret.as_deref()), ("b-google-id", None));
    assert!(!format!("{settings:?}").contains("secret-"), "secrets are not shown");
    assert!(!serde_json::to_string(&settings).unwrap().contains("secret-"));
    let table = match platform.db().dialect() {
        easbase_core::schema::Dialect::Postgres => {
            format!("\"{}\".auth_project_settings", platform.config().platform_schema.as_str())
        }
        _ => "auth_project_settings".into(),
    };
    let rows = platform.db().query(Stmt::raw(format!("select * from {table}"))).await.unwrap();
    let raw: String = rows
        .iter()
        .flat_map(|r| r.cells.iter())
        .map(|c| if let Cell::Text(t) = c { t.clone() } else { String::new() })
        .collect();
    assert!(raw.contains("b-google-id") && !raw.contains("secret-value") && !raw.contains("secret-rotated"));

    // /settings lists B's providers (not A's); /authorize sends B's client id to Google.
    let (_, sb, _) = t.call(&b, Method::GET, "/settings", None).await;
    let (_, sa, _) = t.call(&a, Method::GET, "/settings", None).await;
    assert_eq!(
        (sb["external"]["google"].as_bool(), sb["external"]["github"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        (sa["external"]["google"].as_bool(), sa["external"]["github"].as_bool()),
        (Some(false), Some(false))
    );
    let (status, _, location) = t.call(&b, Method::GET, "/authorize?provider=google", None).await;
    assert_eq!(status, 302);
    assert!(location.starts_with("https://accounts.google.com/"), "{location}");
    assert!(location.contains("client_id=b-google-id"), "{location}");
    let (status, body, _) = t.call(&a, Method::GET, "/authorize?provider=google", None).await;
    assert_eq!((status, body["error_code"].as_str()), (400, Some("provider_disabled")), "{body}");

    // A disabled provider is off; writing settings back without secrets keeps them.
    let mut off = t.auth.project_settings(platform, &b).await.unwrap();
    off.providers.get_mut(&SocialProvider::Github).unwrap().enabled = false;
    t.set(&b, off).await;
    let (_, sb, _) = t.call(&b, Method::GET, "/settings", None).await;
    assert_eq!(
        (sb["external"]["google"].as_bool(), sb["external"]["github"].as_bool()),
        (Some(true), Some(false))
    );
    let (status, _, _) = t.call(&b, Method::GET, "/authorize?provider=google", None).await;
    assert_eq!(status, 302, "the Google secret was kept");

    // Refusals.
    let empty = Template::SocialOAuth { google: None, github: None };
    let e = t.auth.provision(platform, &b, empty).await.unwrap_err();
    assert!(matches!(e, AuthError::ValidationFailed(ref m) if m.contains("social-oauth")), "{e}");
    let blank = Template::SocialOAuth { google: Some(OAuthClient::new("id", "")), github: None };
    let e = t.auth.provision(platform, &b, blank).await.unwrap_err();
    assert!(
        matches!(e, AuthError::ValidationFailed(ref m) if m.contains("providers.google.client_secret")),
        "{e}"
    );
    let unknown = ProjectId::new("p_doesnotexist").unwrap();
    assert!(t.auth.provision(platform, &unknown, Template::PhoneOtp).await.is_err());
    t.fx.cleanup().await;
}

async fn bad_settings_are_refused(engine: Engine) {
    let t = Two::new(engine).await;
    let a = t.fx.project.clone();
    let cases: Vec<(ProjectSettings, &str)> = vec![
        (ProjectSettings { site_url: Some("ftp://x".into()), ..Default::default() }, "site_url"),
        (ProjectSettings { site_url: Some("https://".into()), ..Default::default() }, "site_url"),
        (
            ProjectSettings { redirect_urls: Some(vec!["not a url".into()]), ..Default::default() },
            "redirect_urls",
        ),
        (ProjectSettings { password_min_length: Some(3), ..Default::default() }, "password_min_length"),
        (
            ProjectSettings { access_token_lifetime_secs: Some(5), ..Default::default() },
            "access_token_lifetime_secs",
        ),
        (ProjectSettings { otp_lifetime_secs: Some(10 * 86_400), ..Default::default() }, "otp_lifetime_secs"),
        (
            ProjectSettings { password_required_characters: Some(vec![String::new()]), ..Default::default() },
            "password_required_characters",
        ),
        (
            ProjectSettings { templates: ["sso".to_owned()].into_iter().collect(), ..Default::default() },
            "templates",
        ),
    ];
    for (settings, field) in cases {
        let e = t.auth.update_project_settings(&t.fx.platform, &a, settings).await.unwrap_err();
        assert!(matches!(e, AuthError::ValidationFailed(ref m) if m.contains(field)), "{field}: {e}");
    }
    // A new provider needs its secret.
    let mut settings = ProjectSettings::default();
    settings
        .providers
        .insert(SocialProvider::Github, serde_json::from_value(json!({"client_id": "gh"})).unwrap());
    let e = t.auth.update_project_settings(&t.fx.platform, &a, settings).await.unwrap_err();
    assert!(matches!(e, AuthError::ValidationFailed(ref m) if m.contains("client_secret")), "{e}");
    // Unknown JSON fields are refused, not ignored.
    assert!(
        serde_json::from_value::<ProjectSettings>(json!({"autoconfirm": true, "autoconfrim": true})).is_err()
    );
    // Nothing was stored.
    assert_eq!(t.auth.project_settings(&t.fx.platform, &a).await.unwrap(), ProjectSettings::default());
    t.fx.cleanup().await;
}

async fn other_auth_values_see_changes_after_their_ttl(engine: Engine) {
    let t = Two::new(engine).await;
    let a = t.fx.project.clone();
    let uncached = Auth::new(
        easbase_auth::AuthConfig { settings_cache_ttl: std::time::Duration::ZERO, ..config() },
        None,
    )
    .unwrap();
    assert!(!uncached.project(&t.fx.platform, &a).await.unwrap().effective_config().autoconfirm);
    // Another `Auth` (as another process would) changes the settings.
    t.set(&a, ProjectSettings { autoconfirm: Some(true), ..Default::default() }).await;
    assert!(uncached.project(&t.fx.platform, &a).await.unwrap().effective_config().autoconfirm);
    // The process default still applies to the other project.
    assert!(!uncached.project(&t.fx.platform, &t.b).await.unwrap().effective_config().autoconfirm);
    t.fx.cleanup().await;
}

async fn concurrent_writers_do_not_lose_changes(engine: Engine) {
    let t = Two::new(engine).await;
    let a = t.fx.project.clone();
    let platform = &t.fx.platform;
    let templates = [Template::EmailPassword, Template::MagicLink, Template::PhoneOtp];
    let runs = templates.iter().map(|template| {
        let (auth, a, template, platform) = (t.auth.clone(), a.clone(), template.clone(), platform.clone());
        async move { auth.provision(&platform, &a, template).await }
    });
    for outcome in futures_join(runs).await {
        assert_eq!(outcome.unwrap(), Provisioned::Applied);
    }
    let settings = t.auth.project_settings(platform, &a).await.unwrap();
    assert_eq!(settings.templates.len(), 3, "{settings:?}");
    assert_eq!((settings.email_enabled, settings.phone_enabled), (Some(true), Some(true)));
    t.fx.cleanup().await;
}

/// Runs futures concurrently on the runtime and collects their outputs in order.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

on_both_engines!(
    concurrent_writers_do_not_lose_changes,
    two_projects_behave_by_their_settings,
    templates_are_idempotent_and_add_up,
    bad_settings_are_refused,
    other_auth_values_see_changes_after_their_ttl,
);
