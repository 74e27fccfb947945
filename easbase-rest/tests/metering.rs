//! Usage metering and request logs through `RestService::handle`, on SQLite and
//! PostgreSQL: after a series of requests and a flush, the usage counters show them per
//! project by route and status with the rows read and written, the request logs answer
//! filtered queries, nothing stored holds a key or a query value, and a request is
//! metered to its own project only (never to another, never without a project).

use std::time::Duration;

use bytes::Bytes;
use easbase_core::db::{Db, SqliteConfig, Stmt};
use easbase_core::logs::{self, LogConfig, LogQuery, LogsModule};
use easbase_core::module::Module;
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::{Role, Schema};
use easbase_core::usage::{self, Metric, PlatformTables, Step, UsageConfig, UsageModule};
use easbase_rest::{RestConfig, RestService};
use http::{Method, Request};
use std::sync::Arc;

const SCHEMA: &str = r#"{ "tables": [ { "name": "items", "columns": [
    { "name": "id", "type": "integer", "primary": true },
    { "name": "name", "type": "text" } ],
  "policies": {
    "select": [ { "roles": ["anon"], "using": "true" } ],
    "insert": [ { "roles": ["anon"], "check": "true" } ],
    "update": [ { "roles": ["anon"], "using": "true", "check": "true" } ],
    "delete": [ { "roles": ["anon"], "using": "true" } ] } } ] }"#;

/// A secret-looking value sent in query strings: it must never be stored.
const QUERY_SECRET: &str = "s3cr3t-query-value";

fn modules() -> Vec<Arc<dyn Module>> {
    vec![Arc::new(UsageModule), Arc::new(LogsModule)]
}

fn manual_flush() -> (UsageConfig, LogConfig) {
    let hour = Duration::from_secs(3600);
    (
        UsageConfig { flush_every: hour, ..UsageConfig::default() },
        LogConfig { flush_every: hour, ..LogConfig::default() },
    )
}

fn request(method: Method, uri: &str, key: &str, body: &str) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("apikey", key)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn count(totals: &[(Metric, String, i64)], metric: Metric, label: &str) -> i64 {
    totals.iter().filter(|(m, l, _)| *m == metric && l == label).map(|(_, _, v)| v).sum()
}

async fn suite(platform: Platform, pg_schema: Option<&str>) {
    let (usage_config, log_config) = manual_flush();
    assert_eq!(platform.start_metering(usage_config, log_config).unwrap(), (true, true));
    let schema = Schema::from_json(SCHEMA).unwrap();
    let create = || CreateProject { schema: Some(schema.clone()), ..CreateProject::default() };
    let a = platform.create_project("owner", "Metered A", create()).await.unwrap();
    let b = platform.create_project("owner", "Metered B", create()).await.unwrap();
    let (a_keys, b_keys) = (a.keys.unwrap(), b.keys.unwrap());
    let (a_key, b_key) = (a_keys.publishable.secret.clone(), b_keys.publishable.secret.clone());
    let svc = RestService::new(platform.clone(), RestConfig::default());
    let send = |req: Request<Bytes>| {
        let svc = svc.clone();
        async move {
            let res = svc.handle(req).await;
            (res.status().as_u16(), String::from_utf8_lossy(res.body()).into_owned())
        }
    };
    let before = logs::now_ms();

    // Project A: writes, reads, a row route, refusals.
    let created = send(request(Method::POST, "/items", &a_key, r#"[{"id":1},{"id":2},{"id":3}]"#)).await;
    assert_eq!(created.0, 201, "{created:?}");
    for _ in 0..2 {
        let read = send(request(Method::GET, "/items?select=id,name&order=id", &a_key, "")).await;
        assert_eq!(read.0, 200, "{read:?}");
    }
    assert_eq!(send(request(Method::GET, "/items/3", &a_key, "")).await.0, 200);
    assert_eq!(send(request(Method::PATCH, "/items?id=eq.1", &a_key, r#"{"name":"one"}"#)).await.0, 204);
    assert_eq!(send(request(Method::DELETE, "/items?id=eq.2", &a_key, "")).await.0, 204);
    let missing =
        send(request(Method::GET, &format!("/no_such_table?token=eq.{QUERY_SECRET}"), &a_key, "")).await;
    assert_eq!(missing.0, 404, "{missing:?}");
    let bad = send(request(Method::GET, &format!("/items?apikey={QUERY_SECRET}&id=zz.1"), &a_key, "")).await;
    assert_eq!(bad.0, 400, "{bad:?}");
    // The secret key acts as the service role.
    let service = send(request(Method::GET, "/items?select=id", &a_keys.secret.secret, "")).await;
    assert_eq!(service.0, 200, "{service:?}");

    // Project B: one read of its own (empty) table.
    let b_read = send(request(Method::GET, "/items", &b_key, "")).await;
    assert_eq!(b_read.0, 200, "{b_read:?}");
    // No project: an unknown key is not metered anywhere (and does not panic).
    assert_eq!(send(request(Method::GET, "/items", "eb_pk_notakey", "")).await.0, 401);
    assert_eq!(send(Request::get("/items").body(Bytes::new()).unwrap()).await.0, 401);

    platform.flush_metering().await.unwrap();
    let tables = PlatformTables::of(&platform);
    let now = before / 1000;
    let (from, to) = (now - 120, now + 120);

    let a_totals = usage::totals(&tables, &a.project.id, from, to).await.unwrap();
    let requests = |label: &str| count(&a_totals, Metric::Requests, label);
    assert_eq!(requests("POST /rest/v1/items 201"), 1, "{a_totals:?}");
    assert_eq!(requests("GET /rest/v1/items 200"), 3, "{a_totals:?}");
    assert_eq!(requests("GET /rest/v1/items/{key} 200"), 1, "{a_totals:?}");
    assert_eq!(requests("PATCH /rest/v1/items 204"), 1, "{a_totals:?}");
    assert_eq!(requests("DELETE /rest/v1/items 204"), 1, "{a_totals:?}");
    // An unknown table is counted under the template, not under the name the client chose.
    assert_eq!(requests("GET /rest/v1/{table} 404"), 1, "{a_totals:?}");
    assert_eq!(count(&a_totals, Metric::Requests, "GET /rest/v1/no_such_table 404"), 0);
    assert_eq!(requests("GET /rest/v1/{table} 400"), 1, "{a_totals:?}");
    // 3 + 3 rows read by the anon reads, 1 by the row route, 2 by the service read (1 is gone).
    assert_eq!(count(&a_totals, Metric::RowsRead, "items"), 9, "{a_totals:?}");
    // 3 inserted, 1 updated, 1 deleted.
    assert_eq!(count(&a_totals, Metric::RowsWritten, "items"), 5, "{a_totals:?}");
    let series = usage::series(&tables, &a.project.id, Metric::Requests, from, to, Step::Hour).await.unwrap();
    assert_eq!(series.iter().map(|(_, v)| v).sum::<i64>(), 9, "{series:?}");

    // Project B sees its own request only.
    let b_totals = usage::totals(&tables, &b.project.id, from, to).await.unwrap();
    assert_eq!(b_totals, vec![(Metric::Requests, "GET /rest/v1/items 200".to_owned(), 1)]);

    // Logs: filters, roles, error codes.
    let query = |filter: LogQuery| {
        let tables = tables.clone();
        let id = a.project.id.clone();
        async move { logs::query(&tables, &id, &filter).await.unwrap().entries }
    };
    let all = query(LogQuery::default()).await;
    assert_eq!(all.len(), 9, "{all:?}");
    assert!(all.iter().all(|e| e.log.project == a.project.id && e.log.at >= before - 1000));
    assert_eq!(all.iter().filter(|e| e.log.role == Some(Role::Service)).count(), 1);
    let errors = query(LogQuery { status_min: Some(400), ..LogQuery::default() }).await;
    let mut codes: Vec<_> = errors.iter().map(|e| e.log.error_code.clone().unwrap_or_default()).collect();
    codes.sort();
    assert_eq!(codes, ["PGRST100", "PGRST205"], "{errors:?}");
    let missing_log = errors.iter().find(|e| e.log.status == 404).unwrap();
    assert_eq!(missing_log.log.path, "/rest/v1/no_such_table?token");
    let deletes = query(LogQuery { method: Some("delete".into()), ..LogQuery::default() }).await;
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].log.path, "/rest/v1/items?id");
    let by_path =
        query(LogQuery { path_prefix: Some("/rest/v1/items/".into()), ..LogQuery::default() }).await;
    assert_eq!(by_path.len(), 1);
    let by_id =
        query(LogQuery { request_id: Some(deletes[0].log.request_id.clone()), ..LogQuery::default() }).await;
    assert_eq!(by_id.len(), 1);
    let b_logs = logs::query(&tables, &b.project.id, &LogQuery::default()).await.unwrap().entries;
    assert_eq!(b_logs.len(), 1);

    // Nothing stored holds a key or a query value.
    let qualified = |t: &str| match pg_schema {
        Some(s) => format!("{s}.{t}"),
        None => t.to_owned(),
    };
    let mut stored = String::new();
    for table in [usage::USAGE_TABLE, logs::LOGS_TABLE] {
        let rows = platform
            .db()
            .query(Stmt::new(format!("select * from {}", qualified(table)), sea_query::Values(Vec::new())))
            .await;
        stored.push_str(&format!("{:?}", rows.unwrap()));
    }
    for secret in [a_key.as_str(), a_keys.secret.secret.as_str(), b_key.as_str(), QUERY_SECRET] {
        assert!(!stored.contains(secret), "a secret was stored: {secret}");
    }
    platform.clear_metering();
}

#[tokio::test]
async fn sqlite_requests_are_metered_and_logged() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), modules()).await.unwrap();
    suite(platform, None).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn postgres_requests_are_metered_and_logged() {
    use easbase_core::db::PgConfig;
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let db = Db::connect_postgres(PgConfig::new(url))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (or EASBASE_PG_URL)");
    let schema = format!("t_meter_{}", uuid::Uuid::new_v4().simple());
    let mut config = PlatformConfig::new("http://api.test");
    config.platform_schema = easbase_core::schema::Ident::new(schema.clone()).unwrap();
    config.listen = false;
    let platform = Platform::open(db, config, modules()).await.unwrap();
    let outcome =
        tokio::spawn(suite(platform.clone(), Some(Box::leak(schema.clone().into_boxed_str())))).await;
    for p in platform.projects(None).await.unwrap() {
        platform.delete_project(&p.id, &p.slug).await.unwrap();
    }
    platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The plan's `max_rows` on creates: refused with 403 `EB104` past the limit, deletes
/// make room again, a project on an unlimited plan is not limited.
async fn row_quota(platform: Platform) {
    let schema = Schema::from_json(SCHEMA).unwrap();
    let create = |plan: &str| CreateProject {
        schema: Some(schema.clone()),
        plan: Some(plan.into()),
        ..CreateProject::default()
    };
    let small = platform.create_project("owner", "Small", create("small")).await.unwrap();
    let free = platform.create_project("owner", "Free", create("free")).await.unwrap();
    let (small_key, free_key) =
        (small.keys.unwrap().publishable.secret, free.keys.unwrap().publishable.secret);
    let svc = RestService::new(platform.clone(), RestConfig::default());
    let post = |key: &str, ids: std::ops::Range<u32>| {
        let body = serde_json::to_string(&ids.map(|id| serde_json::json!({ "id": id })).collect::<Vec<_>>());
        request(Method::POST, "/items", key, &body.unwrap())
    };
    assert_eq!(svc.handle(post(&small_key, 0..3)).await.status(), 201);
    let refused = svc.handle(post(&small_key, 3..6)).await;
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = serde_json::from_slice(refused.body()).unwrap();
    assert_eq!(body["code"], "EB104", "{body}");
    assert_eq!(body["message"], "Row limit exceeded: the project's plan allows 5 rows", "{body}");
    assert_eq!(body["details"], "The project holds 3 rows and the request adds 3", "{body}");
    // Nothing of the refused request was written.
    let read = svc.handle(request(Method::GET, "/items", &small_key, "")).await;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(read.body()).unwrap().as_array().unwrap().len(),
        3
    );
    // Up to the limit exactly, then one more is refused.
    assert_eq!(svc.handle(post(&small_key, 3..5)).await.status(), 201);
    assert_eq!(svc.handle(post(&small_key, 5..6)).await.status(), 403);
    // An upsert counts its rows as added, even one that would only update.
    let mut upsert = request(Method::POST, "/items", &small_key, r#"[{"id":4}]"#);
    upsert.headers_mut().insert("prefer", "resolution=merge-duplicates".parse().unwrap());
    assert_eq!(svc.handle(upsert).await.status(), 403);
    // Deleting makes room.
    assert_eq!(svc.handle(request(Method::DELETE, "/items?id=lt.2", &small_key, "")).await.status(), 204);
    assert_eq!(svc.handle(post(&small_key, 5..7)).await.status(), 201);
    assert_eq!(svc.handle(post(&small_key, 7..8)).await.status(), 403);
    // A fresh service counts the rows again (5) and still refuses.
    let fresh = RestService::new(platform.clone(), RestConfig::default());
    assert_eq!(fresh.handle(post(&small_key, 7..8)).await.status(), 403);
    // The unlimited project is not limited.
    assert_eq!(svc.handle(post(&free_key, 0..20)).await.status(), 201);
}

fn plans() -> Vec<easbase_core::project::Plan> {
    use easbase_core::project::Plan;
    vec![Plan::unlimited("free"), Plan { max_rows: Some(5), ..Plan::unlimited("small") }]
}

#[tokio::test]
async fn sqlite_row_quota() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let config = PlatformConfig { plans: plans(), ..PlatformConfig::new("http://api.test") };
    row_quota(Platform::open(db, config, Vec::new()).await.unwrap()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn postgres_row_quota() {
    use easbase_core::db::PgConfig;
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let db = Db::connect_postgres(PgConfig::new(url))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (or EASBASE_PG_URL)");
    let schema = format!("t_rowq_{}", uuid::Uuid::new_v4().simple());
    let mut config = PlatformConfig { plans: plans(), ..PlatformConfig::new("http://api.test") };
    config.platform_schema = easbase_core::schema::Ident::new(schema.clone()).unwrap();
    config.listen = false;
    let platform = Platform::open(db, config, Vec::new()).await.unwrap();
    let outcome = tokio::spawn(row_quota(platform.clone())).await;
    for p in platform.projects(None).await.unwrap() {
        platform.delete_project(&p.id, &p.slug).await.unwrap();
    }
    platform.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
