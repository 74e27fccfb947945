//! Usage metering and request logs through `AuthService::handle`, on SQLite, PostgreSQL
//! and MariaDB/MySQL: after sign-up, sign-ins (one failed), a refresh, a recovery, a verify link
//! and a logout, the usage counters show the requests by route and status and the auth
//! events by kind, the logs answer filtered queries with role and user, and nothing
//! stored holds a password, key, token or code.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use easbase_auth::{Auth, AuthConfig, AuthModule, AuthService, PasswordHashConfig};
use easbase_core::db::{Db, SqliteConfig, Stmt};
use easbase_core::logs::{self, LogConfig, LogQuery, LogsModule};
use easbase_core::module::Module;
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Role;
use easbase_core::usage::{self, Metric, PlatformTables, UsageConfig, UsageModule};
use http::{Method, Request};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";
const WRONG_PASSWORD: &str = "wrong horse battery staple";
const LINK_TOKEN: &str = "pretend-link-token-0123456789";

fn modules() -> Vec<Arc<dyn Module>> {
    vec![Arc::new(AuthModule::default()), Arc::new(UsageModule), Arc::new(LogsModule)]
}

async fn suite(platform: Platform, pg_schema: Option<String>) {
    let hour = Duration::from_secs(3600);
    platform
        .start_metering(
            UsageConfig { flush_every: hour, ..UsageConfig::default() },
            LogConfig { flush_every: hour, ..LogConfig::default() },
        )
        .unwrap();
    let created = platform.create_project("owner", "Auth metered", CreateProject::default()).await.unwrap();
    let other = platform.create_project("owner", "Other", CreateProject::default()).await.unwrap();
    let project = created.project.id.clone();
    let key = created.keys.unwrap().publishable.secret;
    let config = AuthConfig {
        autoconfirm: true,
        password_hash: PasswordHashConfig::insecure_fast_for_tests(),
        ..AuthConfig::new("http://app.test")
    };
    let svc = AuthService::new(platform.clone(), Arc::new(Auth::new(config, None).unwrap()));
    let send = |method: Method, uri: String, bearer: Option<String>, body: String| {
        let svc = svc.clone();
        let key = key.clone();
        async move {
            let mut req = Request::builder().method(method).uri(uri).header("apikey", key);
            if let Some(token) = bearer {
                req = req.header("authorization", format!("Bearer {token}"));
            }
            let req = req.header("content-type", "application/json").body(Bytes::from(body)).unwrap();
            let res = svc.handle(req).await;
            let body: Value = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
            (res.status().as_u16(), body)
        }
    };
    let before = logs::now_ms();
    let credentials = format!(r#"{{"email":"ada@example.com","password":"{PASSWORD}"}}"#);
    let signup = send(Method::POST, "/signup".into(), None, credentials.clone()).await;
    assert_eq!(signup.0, 200, "{signup:?}");
    let login = send(Method::POST, "/token?grant_type=password".into(), None, credentials).await;
    assert_eq!(login.0, 200, "{login:?}");
    let wrong = format!(r#"{{"email":"ada@example.com","password":"{WRONG_PASSWORD}"}}"#);
    assert_eq!(send(Method::POST, "/token?grant_type=password".into(), None, wrong).await.0, 400);
    let refresh_token = login.1["refresh_token"].as_str().unwrap().to_owned();
    let refresh = send(
        Method::POST,
        "/token?grant_type=refresh_token".into(),
        None,
        format!(r#"{{"refresh_token":"{refresh_token}"}}"#),
    )
    .await;
    assert_eq!(refresh.0, 200, "{refresh:?}");
    let access = refresh.1["access_token"].as_str().unwrap().to_owned();
    let user_id = refresh.1["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(send(Method::GET, "/user".into(), Some(access.clone()), String::new()).await.0, 200);
    let recover = send(Method::POST, "/recover".into(), None, r#"{"email":"ada@example.com"}"#.into()).await;
    assert_eq!(recover.0, 200, "{recover:?}");
    // An email link's query carries a token and the key: only the names are kept.
    let link = format!("/verify?token={LINK_TOKEN}&type=signup&apikey={key}");
    assert_eq!(send(Method::GET, link, None, String::new()).await.0, 200);
    assert_eq!(send(Method::POST, "/logout".into(), Some(access.clone()), String::new()).await.0, 204);
    // No project: not metered, no panic.
    let nobody =
        Request::post("/token?grant_type=password").header("apikey", "eb_pk_nope").body(Bytes::new());
    assert_eq!(svc.handle(nobody.unwrap()).await.status(), 401);

    platform.flush_metering().await.unwrap();
    let tables = PlatformTables::of(&platform);
    let (from, to) = (before / 1000 - 120, before / 1000 + 120);
    let totals = usage::totals(&tables, &project, from, to).await.unwrap();
    let count = |metric: Metric, label: &str| -> i64 {
        totals.iter().filter(|(m, l, _)| *m == metric && l == label).map(|(_, _, v)| v).sum()
    };
    for (label, n) in [
        ("POST /auth/v1/signup 200", 1),
        ("POST /auth/v1/token 200", 2),
        ("POST /auth/v1/token 400", 1),
        ("GET /auth/v1/user 200", 1),
        ("POST /auth/v1/recover 200", 1),
        ("GET /auth/v1/verify 200", 1),
        ("POST /auth/v1/logout 204", 1),
    ] {
        assert_eq!(count(Metric::Requests, label), n, "{label}: {totals:?}");
    }
    for (kind, n) in [
        ("sign_up", 1),
        ("sign_in_password", 1),
        ("sign_in_failed", 1),
        ("token_refresh", 1),
        ("recovery_requested", 1),
        ("logout", 1),
    ] {
        assert_eq!(count(Metric::AuthEvents, kind), n, "{kind}: {totals:?}");
    }
    assert_eq!(totals.iter().filter(|(m, _, _)| *m == Metric::AuthEvents).count(), 6, "{totals:?}");
    assert!(usage::totals(&tables, &other.project.id, from, to).await.unwrap().is_empty());

    let query = |filter: LogQuery| {
        let tables = tables.clone();
        let project = project.clone();
        async move { logs::query(&tables, &project, &filter).await.unwrap().entries }
    };
    assert_eq!(query(LogQuery::default()).await.len(), 8);
    let failed = query(LogQuery { status_min: Some(400), ..LogQuery::default() }).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].log.error_code.as_deref(), Some("invalid_credentials"));
    assert_eq!(failed[0].log.path, "/auth/v1/token?grant_type");
    let user = query(LogQuery { path_prefix: Some("/auth/v1/user".into()), ..LogQuery::default() }).await;
    assert_eq!(user.len(), 1);
    assert_eq!(
        (user[0].log.role, user[0].log.user_id.as_deref()),
        (Some(Role::Authenticated), Some(&*user_id))
    );
    let verify = query(LogQuery { path_prefix: Some("/auth/v1/verify".into()), ..LogQuery::default() }).await;
    assert_eq!(verify[0].log.path, "/auth/v1/verify?token&type&apikey");

    let qualified = |t: &str| match &pg_schema {
        Some(s) => format!("{s}.{t}"),
        None => t.to_owned(),
    };
    let mut stored = String::new();
    for table in [usage::USAGE_TABLE, logs::LOGS_TABLE] {
        let rows = platform.db().query(Stmt::raw(format!("select * from {}", qualified(table)))).await;
        stored.push_str(&format!("{:?}", rows.unwrap()));
    }
    for secret in
        [PASSWORD, WRONG_PASSWORD, LINK_TOKEN, key.as_str(), access.as_str(), refresh_token.as_str()]
    {
        assert!(!stored.contains(secret), "a secret was stored: {secret}");
    }
    platform.clear_metering();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_auth_requests_are_metered_and_logged() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), modules()).await.unwrap();
    suite(platform, None).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_auth_requests_are_metered_and_logged() {
    use easbase_core::db::PgConfig;
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let db = Db::connect_postgres(PgConfig::new(url))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (or EASBASE_PG_URL)");
    let schema = format!("t_authmeter_{}", uuid::Uuid::new_v4().simple());
    let mut config = PlatformConfig::new("http://api.test");
    config.platform_schema = easbase_core::schema::Ident::new(schema.clone()).unwrap();
    config.listen = false;
    let platform = Platform::open(db, config, modules()).await.unwrap();
    let outcome = tokio::spawn(suite(platform.clone(), Some(schema.clone()))).await;
    for p in platform.projects(None).await.unwrap() {
        platform.delete_project(&p.id, &p.slug).await.unwrap();
    }
    platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_auth_requests_are_metered_and_logged() {
    use easbase_core::db::MyConfig;
    let server_url =
        std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let server = Db::connect_mysql(MyConfig::new(server_url.clone()).pool_size(1))
        .await
        .expect("MariaDB/MySQL at 127.0.0.1:3306 (or EASBASE_MYSQL_URL)");
    let name = format!("t_authmeter_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    server.execute_script(&[format!("create database {name}")]).await.unwrap();
    let url = format!("{}/{name}", server_url.trim_end_matches('/'));
    let db = Db::connect_mysql(MyConfig::new(url).pool_size(4)).await.unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), modules()).await.unwrap();
    let outcome = tokio::spawn(suite(platform.clone(), None)).await;
    for p in platform.projects(None).await.unwrap() {
        platform.delete_project(&p.id, &p.slug).await.unwrap();
    }
    server.execute_script(&[format!("drop database {name}")]).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
