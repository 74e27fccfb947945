//! Property test: any query string, `Prefer` / `Accept` / `Range` header and body on real
//! tables (SQLite: a table, a child table for embeds, a host function for `/rpc`) gets an
//! answer below 500 — an error being PostgREST's JSON body — and never a panic (invariant
//! 4 of DESIGN.md). The same requests also run against MariaDB (feature `mysql`).

use std::sync::OnceLock;

use bytes::Bytes;
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Schema;
use easbase_rest::{RestConfig, RestService};
use proptest::prelude::*;

struct Fixture {
    rt: tokio::runtime::Runtime,
    svc: RestService,
    key: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (svc, key) = rt.block_on(async {
            let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
            let platform = Platform::open(db, PlatformConfig::new("http://t"), Vec::new()).await.unwrap();
            service(platform).await
        });
        Fixture { rt, svc, key }
    })
}

/// The fuzzed project on `platform`: its tables, seed rows and the service.
async fn service(platform: Platform) -> (RestService, String) {
    {
        {
            let schema = Schema::from_json(
                r#"{ "tables": [ { "name": "t", "columns": [
                    { "name": "id", "type": "integer", "primary": true },
                    { "name": "name", "type": "text" },
                    { "name": "ok", "type": "boolean" },
                    { "name": "n", "type": "decimal" },
                    { "name": "doc", "type": "jsonb" },
                    { "name": "u", "type": "uuid" } ],
                  "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "id > 0" } ] } },
                  { "name": "c", "columns": [
                    { "name": "id", "type": "integer", "primary": true },
                    { "name": "t_id", "type": "integer", "references": "t.id" },
                    { "name": "doc", "type": "json" } ],
                  "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "id > 0" } ] } } ] }"#,
            )
            .unwrap();
            let created = platform
                .create_project("o", "Fuzz", CreateProject { schema: Some(schema), ..Default::default() })
                .await
                .unwrap();
            let key = created.keys.unwrap().secret.secret;
            let svc = RestService::new(platform.clone(), RestConfig::default());
            let seed = |path: &str, body: &str| {
                http::Request::post(path).header("apikey", &key).body(Bytes::from(body.to_owned())).unwrap()
            };
            svc.handle(seed(
                "/t",
                r#"[{"id": 1, "name": "a", "ok": true, "n": 1.5, "doc": {"a": [1]}},
                {"id": 2, "name": "b", "ok": null, "n": null, "doc": null}]"#,
            ))
            .await;
            svc.handle(seed(
                "/c",
                r#"[{"id": 1, "t_id": 1, "doc": [1, "x"]}, {"id": 2, "t_id": null, "doc": null}]"#,
            ))
            .await;
            let mut config = RestConfig { max_rows: Some(50), ..RestConfig::default() };
            config.functions.register("f", |call| async move {
                let mut row = serde_json::Map::new();
                row.insert("id".into(), serde_json::json!(1));
                row.insert("args".into(), serde_json::Value::Object(call.args));
                Ok(easbase_rest::rpc::RpcOutput::Rows(vec![row]))
            });
            (RestService::new(platform, config), key)
        }
    }
}

/// Sends one request; its status, and whether an error's body has PostgREST's shape.
fn send(method: &str, path: &str, query: &str, headers: &[(String, String)], body: &str) -> (u16, bool) {
    send_to(fixture(), method, path, query, headers, body)
}

fn send_to(
    f: &Fixture,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, bool) {
    let mut b =
        http::Request::builder().method(method).uri(format!("{path}?{query}")).header("apikey", &f.key);
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let Ok(req) = b.body(Bytes::from(body.to_owned())) else {
        return (400, true); // not a request a client could send
    };
    let res = f.rt.block_on(f.svc.handle(req));
    let status = res.status().as_u16();
    let shaped = status < 400
        || method == "HEAD"
        || serde_json::from_slice::<serde_json::Value>(res.body())
            .is_ok_and(|v| v["code"].is_string() && v["message"].is_string());
    (status, shaped)
}

fn status_of(method: &str, query: &str, body: &str) -> u16 {
    send(method, "/t", query, &[], body).0
}

fn words() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "name",
            "ok",
            "n",
            "doc",
            "u",
            "c",
            "t",
            "t_id",
            "select",
            "order",
            "limit",
            "offset",
            "or",
            "and",
            "not",
            "eq",
            "neq",
            "in",
            "is",
            "isdistinct",
            "like",
            "ilike",
            "match",
            "imatch",
            "gt",
            "lte",
            "cs",
            "cd",
            "ov",
            "sl",
            "adj",
            "fts",
            "plfts",
            "phfts",
            "wfts",
            "null",
            "true",
            "any",
            "all",
            "asc",
            "desc",
            "nullsfirst",
            "columns",
            "on_conflict",
        ])
        .prop_map(str::to_owned),
        prop::sample::select(vec![
            "doc->a",
            "doc->>a",
            "doc->0",
            "doc->>-1",
            "id::text",
            "n::text",
            "ok::text",
            "name::integer",
            "c(*)",
            "c(id,doc->>0)",
            "t(name)",
            "...t(name)",
            "...c(id)",
            "c!inner(id)",
            "c!t_id(id)",
            "t(c(t(id)))",
            "c(t(*,c(id)))",
            "count()",
            "n.sum()",
            "c(name)",
            "{a,b}",
            "(1,2)",
            "(english)",
            "\"x,y\"",
            "c.id",
            "c.t.name",
            "t(name).desc",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9*%(),.:!>\\-]{0,6}".prop_map(|s| s),
    ]
}
fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::collection::vec(words(), 1..4), prop::collection::vec(words(), 0..5)), 0..4)
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{}={}", k.join("."), v.join(".")))
                .collect::<Vec<_>>()
                .join("&")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_query_string_gets_a_500(q in query()) {
        let s = status_of("GET", &q, "");
        prop_assert!(s < 500, "GET /t?{q} → {s}");
    }

    #[test]
    fn no_headers_or_path_gets_a_500(
        q in query(),
        path in prop::sample::select(vec!["/t", "/c", "/t/1", "/rpc/f", "/rpc/nope", "/", "/t/x", "/c/1/2"]),
        method in prop::sample::select(vec!["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]),
        prefer in prop::collection::vec(prop::sample::select(vec![
            "count=exact", "count=planned", "count=estimated", "return=representation", "return=minimal",
            "return=headers-only", "handling=strict", "handling=lenient", "max-affected=1", "max-affected=x",
            "params=single-object", "resolution=merge-duplicates", "resolution=ignore-duplicates",
            "missing=default", "tx=rollback", "nonsense",
        ]), 0..4),
        accept in prop::sample::select(vec![
            "", "application/json", "application/vnd.pgrst.object+json", "text/csv",
            "application/vnd.pgrst.object+json;nulls=stripped", "image/png", "*/*",
        ]),
        range in prop::sample::select(vec!["", "0-1", "1-0", "5-", "x", "0-9999999999999999999999"]),
        body in "[{}\\[\\]\":,a-z0-9 ]{0,24}",
    ) {
        let mut headers = Vec::new();
        if !prefer.is_empty() {
            headers.push(("prefer".to_owned(), prefer.join(", ")));
        }
        if !accept.is_empty() {
            headers.push(("accept".to_owned(), accept.to_owned()));
        }
        if !range.is_empty() {
            headers.push(("range".to_owned(), range.to_owned()));
        }
        let (s, shaped) = send(method, path, &q, &headers, &body);
        prop_assert!(s < 500, "{method} {path}?{q} {headers:?} {body} → {s}");
        prop_assert!(shaped, "{method} {path}?{q} {headers:?}: an error body not in PostgREST's shape");
    }

    #[test]
    fn no_patch_or_delete_gets_a_500(q in query(), body in "[{}\\[\\]\":,a-z0-9 ]{0,24}") {
        for m in ["PATCH", "DELETE", "POST"] {
            let s = status_of(m, &q, &body);
            prop_assert!(s < 500, "{m} /t?{q} {body} → {s}");
        }
    }
}

/// The same requests against MariaDB / MySQL (`EASBASE_MYSQL_URL`, default
/// `mysql://root@127.0.0.1:3306`) on a database of its own, dropped at the end.
#[cfg(feature = "mysql")]
#[test]
fn mysql_no_request_gets_a_500() {
    use easbase_core::db::MyConfig;
    use proptest::test_runner::{Config, TestRunner};
    let url = std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let name = format!("t_fuzz_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(async {
        let server = Db::connect_mysql(MyConfig::new(url.clone()).pool_size(1))
            .await
            .unwrap_or_else(|e| panic!("cannot reach MariaDB/MySQL at {url} ({e}); set EASBASE_MYSQL_URL"));
        server.execute_script(&[format!("create database {name}")]).await.unwrap();
        server
    });
    let db_url = format!("{}/{name}", url.trim_end_matches('/'));
    let (platform, svc, key) = rt.block_on(async {
        let db = Db::connect_mysql(MyConfig::new(db_url).pool_size(2)).await.unwrap();
        let platform = Platform::open(db, PlatformConfig::new("http://t"), Vec::new()).await.unwrap();
        let (svc, key) = service(platform.clone()).await;
        (platform, svc, key)
    });
    let f = Fixture { rt, svc, key };
    let methods = vec!["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT"];
    let paths = vec!["/t", "/c", "/t/1", "/"];
    let mut runner = TestRunner::new(Config { cases: 192, ..Config::default() });
    let outcome = runner.run(
        &(query(), prop::sample::select(paths), prop::sample::select(methods), "[{}\\[\\]\":,a-z0-9 ]{0,24}"),
        |(q, path, method, body)| {
            let (s, shaped) = send_to(&f, method, path, &q, &[], &body);
            prop_assert!(s < 500, "{method} {path}?{q} {body} → {s}");
            prop_assert!(shaped, "{method} {path}?{q}: an error body not in PostgREST's shape");
            Ok(())
        },
    );
    f.rt.block_on(async {
        for p in platform.projects(None).await.unwrap() {
            platform.delete_project(&p.id, &p.slug).await.unwrap();
        }
        server.execute_script(&[format!("drop database {name}")]).await.unwrap();
    });
    outcome.unwrap();
}
