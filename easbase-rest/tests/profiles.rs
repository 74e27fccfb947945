//! Several exposed schemas, chosen with `Accept-Profile` / `Content-Profile` as PostgREST
//! does (supabase-js `db.schema` / `.schema('analytics')`): one suite in process through
//! `RestService::handle`, on SQLite, PostgreSQL (`EASBASE_PG_URL`) and MariaDB
//! (`EASBASE_MYSQL_URL`), which must give the same answers.

use bytes::Bytes;
use easbase_core::db::Db;
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Schema;
use easbase_rest::rpc::{Functions, RpcOutput};
use easbase_rest::{RestConfig, RestService};
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};

const A: &str = "a0000000-0000-4000-8000-00000000000a";
const B: &str = "b0000000-0000-4000-8000-00000000000b";

const OWNER_POLICIES: &str = r#"{ "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid",
    "update": "owner_id = auth.uid", "delete": "owner_id = auth.uid" }"#;

fn public_schema() -> Schema {
    Schema::from_json(&format!(
        r#"{{ "tables": [
          {{ "name": "notes", "columns": [
              {{ "name": "id", "type": "integer", "primary": true }},
              {{ "name": "owner_id", "type": "uuid", "default": "auth.uid" }},
              {{ "name": "title", "type": "text", "required": true }} ],
            "policies": {OWNER_POLICIES} }},
          {{ "name": "secrets", "columns": [ {{ "name": "id", "type": "integer", "primary": true }} ] }}
        ] }}"#
    ))
    .unwrap()
}

/// The named schema `analytics`: a `notes` table of its own (another column), a table
/// `public` lacks, and a `secrets` table the host hides only in `public`.
fn analytics_schema() -> Schema {
    Schema::from_json(&format!(
        r#"{{ "tables": [
          {{ "name": "notes", "columns": [
              {{ "name": "id", "type": "integer", "primary": true }},
              {{ "name": "owner_id", "type": "uuid", "default": "auth.uid" }},
              {{ "name": "title", "type": "text", "required": true }},
              {{ "name": "score", "type": "integer" }} ],
            "policies": {OWNER_POLICIES} }},
          {{ "name": "comments", "columns": [
              {{ "name": "id", "type": "integer", "primary": true }},
              {{ "name": "note_id", "type": "integer", "required": true, "references": "notes.id" }},
              {{ "name": "body", "type": "text" }} ],
            "policies": {{ "select": "true" }} }},
          {{ "name": "secrets", "columns": [ {{ "name": "id", "type": "integer", "primary": true }} ],
            "policies": {{ "select": "true" }} }}
        ] }}"#
    ))
    .unwrap()
}

fn config() -> RestConfig {
    let mut functions = Functions::default();
    functions.register("echo", |call| async move { Ok(RpcOutput::Object(call.args)) });
    RestConfig { hidden_tables: vec!["secrets".into()], functions, ..RestConfig::default() }
}

#[derive(Clone, Copy)]
enum Who {
    Anon,
    Service,
    User(&'static str),
}

struct Env {
    svc: RestService,
    platform: Platform,
    project: easbase_core::context::ProjectId,
    publishable: String,
    secret: String,
    jwt_secret: String,
    pg: bool,
}

struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Res {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn titles(&self) -> Vec<String> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {}", self.body))
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Env {
    async fn new(platform: Platform) -> Env {
        let pg = platform.db().dialect() == easbase_core::schema::Dialect::Postgres;
        let created = platform
            .create_project(
                "owner",
                "Shop",
                CreateProject { schema: Some(public_schema()), ..Default::default() },
            )
            .await
            .unwrap();
        let keys = created.keys.clone().unwrap();
        let jwt_secret = platform.jwt_secret(&created.project.id).await.unwrap();
        Env {
            svc: RestService::new(platform.clone(), config()),
            platform,
            project: created.project.id,
            publishable: keys.publishable.secret,
            secret: keys.secret.secret,
            jwt_secret,
            pg,
        }
    }

    fn token(&self, sub: &str) -> String {
        let claims =
            json!({ "sub": sub, "role": "authenticated", "aud": "authenticated", "exp": 4_000_000_000u64 });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.jwt_secret.as_bytes()),
        )
        .unwrap()
    }

    async fn send(&self, who: Who, method: Method, uri: &str, body: &str, headers: &[(&str, &str)]) -> Res {
        let mut b = Request::builder().method(method).uri(format!("http://h{uri}"));
        match who {
            Who::Anon => b = b.header("apikey", &self.publishable),
            Who::Service => b = b.header("apikey", &self.secret),
            Who::User(uid) => {
                b = b
                    .header("apikey", &self.publishable)
                    .header("authorization", format!("Bearer {}", self.token(uid)))
            }
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let res = self.svc.handle(b.body(Bytes::from(body.to_owned())).unwrap()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Res { status, headers, body }
    }

    async fn get(&self, who: Who, uri: &str, profile: Option<&str>) -> Res {
        let headers: Vec<(&str, &str)> = profile.map(|p| ("accept-profile", p)).into_iter().collect();
        self.send(who, Method::GET, uri, "", &headers).await
    }
}

const REPR: (&str, &str) = ("prefer", "return=representation");
const ANALYTICS: (&str, &str) = ("content-profile", "analytics");

async fn profiles(env: &Env) {
    let r = env.get(Who::Service, "/notes", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-profile"), None, "one schema: no Content-Profile, as PostgREST");
    let r = env.get(Who::Anon, "/notes", Some("analytics")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST106"));
    assert_eq!(r.body["message"], "The schema must be one of the following: public");

    env.platform
        .apply_schema_named(&env.project, "analytics", "1", &analytics_schema(), false)
        .await
        .unwrap();

    // The same table name in both profiles holds different rows.
    let public_rows = format!(
        r#"[{{"id": 1, "owner_id": "{A}", "title": "p-a"}}, {{"id": 2, "owner_id": "{B}", "title": "p-b"}}]"#
    );
    let r = env.send(Who::Service, Method::POST, "/notes", &public_rows, &[REPR]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.header("content-profile"), Some("public"), "several schemas: the answer names its profile");
    let analytics_rows = format!(
        r#"[{{"id": 1, "owner_id": "{A}", "title": "a-a", "score": 5}}, {{"id": 2, "owner_id": "{B}", "title": "a-b", "score": 7}}]"#
    );
    let r = env.send(Who::Service, Method::POST, "/notes", &analytics_rows, &[REPR, ANALYTICS]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.header("content-profile"), Some("analytics"));
    assert_eq!(r.titles(), ["a-a", "a-b"]);

    // Reads: each profile's rows, under its policies (owners see their own rows).
    let r = env.get(Who::User(A), "/notes?select=id,title&order=id", None).await;
    assert_eq!(r.body, json!([{"id": 1, "title": "p-a"}]));
    let r = env.get(Who::User(A), "/notes?select=id,title,score&order=id", Some("analytics")).await;
    assert_eq!((r.status, r.header("content-profile")), (StatusCode::OK, Some("analytics")), "{}", r.body);
    assert_eq!(r.body, json!([{"id": 1, "title": "a-a", "score": 5}]));
    assert_eq!(env.get(Who::User(B), "/notes?order=id", Some("analytics")).await.titles(), ["a-b"]);
    assert_eq!(env.get(Who::Anon, "/notes", Some("analytics")).await.body, json!([]));
    let r = env.get(Who::Service, "/notes?select=title&order=id", Some("public")).await;
    assert_eq!(
        (r.titles(), r.header("content-profile")),
        (vec!["p-a".to_owned(), "p-b".to_owned()], Some("public"))
    );
    // Columns are the profile's: `score` exists in analytics only.
    let r = env.get(Who::Service, "/notes?select=score", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "42703"));

    // Writes as a user: the default owner is the caller; policies hold.
    let r = env
        .send(Who::User(A), Method::POST, "/notes", r#"{"id": 3, "title": "a-new"}"#, &[REPR, ANALYTICS])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body[0]["owner_id"], A);
    let r = env
        .send(
            Who::User(A),
            Method::POST,
            "/notes",
            &format!(r#"{{"id": 4, "owner_id": "{B}", "title": "x"}}"#),
            &[ANALYTICS],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r =
        env.send(Who::User(A), Method::PATCH, "/notes?id=eq.3", r#"{"score": 9}"#, &[REPR, ANALYTICS]).await;
    assert_eq!((r.status, r.body[0]["score"].clone()), (StatusCode::OK, json!(9)), "{}", r.body);
    let r =
        env.send(Who::User(A), Method::PATCH, "/notes?id=eq.2", r#"{"score": 0}"#, &[REPR, ANALYTICS]).await;
    assert_eq!(r.body, json!([]), "B's row is not A's to change");
    let r = env.send(Who::User(A), Method::DELETE, "/notes?id=in.(2,3)", "", &[REPR, ANALYTICS]).await;
    assert_eq!((r.status, r.titles()), (StatusCode::OK, vec!["a-new".to_owned()]));
    // Nothing of it reached `public`.
    let r = env.get(Who::Service, "/notes?select=id&order=id", None).await;
    assert_eq!(r.body, json!([{"id": 1}, {"id": 2}]));
    let r = env.get(Who::Service, "/notes?select=id,score&order=id", Some("analytics")).await;
    assert_eq!(r.body, json!([{"id": 1, "score": 5}, {"id": 2, "score": 7}]));
    // `Accept-Profile` does not choose where a write goes (`Content-Profile` does).
    let r = env
        .send(
            Who::Service,
            Method::PATCH,
            "/notes?id=eq.1",
            r#"{"title": "p-a2"}"#,
            &[("accept-profile", "analytics")],
        )
        .await;
    assert_eq!((r.status, r.header("content-profile")), (StatusCode::NO_CONTENT, Some("public")));
    assert_eq!(env.get(Who::Service, "/notes?id=eq.1", None).await.titles(), ["p-a2"]);

    // Embeds stay in one profile; tables are the profile's.
    let r = env
        .send(
            Who::Service,
            Method::POST,
            "/comments",
            r#"{"id": 1, "note_id": 1, "body": "hi"}"#,
            &[ANALYTICS],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = env.get(Who::Service, "/notes?select=id,comments(body)&id=eq.1", Some("analytics")).await;
    assert_eq!(r.body, json!([{"id": 1, "comments": [{"body": "hi"}]}]), "{}", r.body);
    let r = env.get(Who::Service, "/comments", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST205"));
    // The host's hidden tables are hidden in `public` only.
    assert_eq!(env.get(Who::Service, "/secrets", None).await.status, StatusCode::NOT_FOUND);
    let r = env.get(Who::Service, "/secrets", Some("analytics")).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])));

    // Unknown profiles: 406 PGRST106 naming the exposed ones, for reads, writes and /rpc.
    let want = json!({
        "code": "PGRST106",
        "message": "The schema must be one of the following: public, analytics",
        "details": null,
        "hint": null,
    });
    let r = env.get(Who::Anon, "/notes", Some("nope")).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::NOT_ACCEPTABLE, want.clone()));
    let r = env
        .send(
            Who::Service,
            Method::POST,
            "/notes",
            r#"{"id": 9, "title": "t"}"#,
            &[("content-profile", "nope")],
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::NOT_ACCEPTABLE, want.clone()));
    for (method, uri) in [(Method::POST, "/rpc/echo"), (Method::GET, "/rpc/echo?x=1")] {
        let header = if method == Method::GET { "accept-profile" } else { "content-profile" };
        let r = env.send(Who::Anon, method.clone(), uri, "{}", &[(header, "nope")]).await;
        assert_eq!((r.status, r.body.clone()), (StatusCode::NOT_ACCEPTABLE, want.clone()), "{method} {uri}");
    }
    let r = env.get(Who::Anon, "/", Some("nope")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_ACCEPTABLE, "PGRST106"));
    // Host functions answer in every profile.
    let r = env.send(Who::Anon, Method::POST, "/rpc/echo", r#"{"x": 1}"#, &[ANALYTICS]).await;
    assert_eq!(
        (r.status, r.body.clone(), r.header("content-profile")),
        (StatusCode::OK, json!({"x": 1}), Some("analytics"))
    );

    // OpenAPI: the chosen profile's tables.
    let paths = |r: &Res| -> Vec<String> { r.body["paths"].as_object().unwrap().keys().cloned().collect() };
    let r = env.get(Who::Anon, "/", Some("analytics")).await;
    assert_eq!((r.status, r.header("content-profile")), (StatusCode::OK, Some("analytics")), "{}", r.body);
    let analytics_paths = paths(&r);
    for path in ["/notes", "/comments", "/secrets"] {
        assert!(analytics_paths.iter().any(|p| p == path), "{path}: {analytics_paths:?}");
    }
    assert!(r.body["components"]["schemas"]["notes"]["properties"]["score"].is_object(), "{}", r.body);
    let public_paths = paths(&env.get(Who::Anon, "/", None).await);
    assert!(public_paths.iter().any(|p| p == "/notes"));
    assert!(!public_paths.iter().any(|p| p == "/comments" || p == "/secrets"), "{public_paths:?}");

    // Dropped: the profile is no longer accepted.
    env.platform.drop_schema_named(&env.project, "analytics").await.unwrap();
    let r = env.get(Who::Service, "/notes", Some("analytics")).await;
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (StatusCode::NOT_ACCEPTABLE, json!("The schema must be one of the following: public"))
    );
    assert_eq!(env.get(Who::Service, "/notes", None).await.header("content-profile"), None);
}

/// PostgreSQL: database functions are looked up in the profile's schema.
#[cfg(feature = "postgres")]
async fn pg_functions(env: &Env) {
    env.platform
        .apply_schema_named(&env.project, "analytics", "1", &analytics_schema(), false)
        .await
        .unwrap();
    let pdb = env.platform.project_db_named(&env.project, "analytics").await.unwrap();
    let schema = pdb.pg_schema().unwrap().as_str().to_owned();
    pdb.db()
        .execute_script(&[format!(
            "create function {schema}.answer(n integer) returns integer language sql as 'select n + 41'"
        )])
        .await
        .unwrap();
    let r = env.send(Who::Anon, Method::POST, "/rpc/answer", r#"{"n": 1}"#, &[ANALYTICS]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!(42)), "{}", r.body);
    let r = env.send(Who::Anon, Method::POST, "/rpc/answer", r#"{"n": 1}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PGRST202"), "not in public");
    let r = env.send(Who::Anon, Method::GET, "/rpc/answer?n=2", "", &[("accept-profile", "analytics")]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!(43)), "{}", r.body);
}

async fn cleanup(env: &Env) {
    for p in env.platform.projects(None).await.unwrap() {
        env.platform.delete_project(&p.id, &p.slug).await.unwrap();
    }
}

#[tokio::test]
async fn sqlite_profiles() {
    let db = Db::open_sqlite(easbase_core::db::SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
    let env = Env::new(platform).await;
    assert!(!env.pg);
    profiles(&env).await;
    cleanup(&env).await;
}

/// The row quota counts the rows of every profile.
#[tokio::test]
async fn sqlite_row_quota_counts_every_profile() {
    let db = Db::open_sqlite(easbase_core::db::SqliteConfig::in_memory()).unwrap();
    let mut platform_config = PlatformConfig::new("http://api.test");
    platform_config.plans = vec![easbase_core::project::Plan {
        max_rows: Some(3),
        ..easbase_core::project::Plan::unlimited("small")
    }];
    let platform = Platform::open(db, platform_config, Vec::new()).await.unwrap();
    let env = Env::new(platform.clone()).await;
    platform.apply_schema_named(&env.project, "analytics", "1", &analytics_schema(), false).await.unwrap();
    let rows = format!(
        r#"[{{"id": 1, "owner_id": "{A}", "title": "a"}}, {{"id": 2, "owner_id": "{A}", "title": "b"}}]"#
    );
    let r = env.send(Who::Service, Method::POST, "/notes", &rows, &[ANALYTICS]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A fresh service counts again: 2 rows in analytics + 1 new in public fits, 1 more does not.
    let fresh = Env { svc: RestService::new(platform.clone(), config()), ..env };
    let r = fresh.send(Who::Service, Method::POST, "/notes", r#"{"id": 1, "title": "p"}"#, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let fresh = Env { svc: RestService::new(platform.clone(), config()), ..fresh };
    let r = fresh.send(Who::Service, Method::POST, "/notes", r#"{"id": 2, "title": "q"}"#, &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "EB104"), "{}", r.body);
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    fn pg_url() -> String {
        std::env::var("EASBASE_PG_URL")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
    }

    async fn run<F, Fut>(f: F)
    where
        F: FnOnce(&'static Env) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        use easbase_core::db::PgConfig;
        let db = Db::connect_postgres(PgConfig::new(pg_url())).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at {} ({e}); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or set EASBASE_PG_URL",
                pg_url()
            )
        });
        let schema = format!("t_prof_{}", uuid::Uuid::new_v4().simple());
        let mut config = PlatformConfig::new("http://api.test");
        config.platform_schema = easbase_core::schema::Ident::new(schema.clone()).unwrap();
        let platform = Platform::open(db, config, Vec::new()).await.unwrap();
        let env: &'static Env = Box::leak(Box::new(Env::new(platform.clone()).await));
        assert!(env.pg);
        let outcome = tokio::spawn(f(env)).await;
        // Clean up even when the suite failed, then report the failure.
        cleanup(env).await;
        platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_profiles() {
        run(profiles).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn postgres_functions_of_a_profile() {
        run(pg_functions).await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use easbase_core::db::MyConfig;

    fn mysql_url() -> String {
        std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
    }

    async fn server() -> Db {
        Db::connect_mysql(MyConfig::new(mysql_url()).pool_size(1)).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach MariaDB/MySQL at {} ({e}); start it: start-stop-daemon --start --oknodo \
                 --background --exec /usr/sbin/mariadbd, or set EASBASE_MYSQL_URL",
                mysql_url()
            )
        })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn mysql_profiles() {
        let name = format!("t_prof_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        server().await.execute_script(&[format!("create database {name}")]).await.unwrap();
        let url = format!("{}/{name}", mysql_url().trim_end_matches('/'));
        let db = Db::connect_mysql(MyConfig::new(url).pool_size(4)).await.unwrap();
        let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
        let env: &'static Env = Box::leak(Box::new(Env::new(platform).await));
        let outcome = tokio::spawn(profiles(env)).await;
        cleanup(env).await;
        server().await.execute_script(&[format!("drop database {name}")]).await.unwrap();
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
