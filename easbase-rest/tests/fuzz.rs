//! Property test: any query string on a real table (SQLite) gets an answer below 500, and
//! never a panic (invariant 4 of DESIGN.md).

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
            let schema = Schema::from_json(
                r#"{ "tables": [ { "name": "t", "columns": [
                    { "name": "id", "type": "integer", "primary": true },
                    { "name": "name", "type": "text" },
                    { "name": "ok", "type": "boolean" },
                    { "name": "n", "type": "decimal" },
                    { "name": "doc", "type": "jsonb" },
                    { "name": "u", "type": "uuid" } ],
                  "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "id > 0" } ] } } ] }"#,
            )
            .unwrap();
            let created = platform
                .create_project("o", "Fuzz", CreateProject { schema: Some(schema), ..Default::default() })
                .await
                .unwrap();
            let key = created.keys.unwrap().publishable.secret;
            (RestService::new(platform, RestConfig::default()), key)
        });
        Fixture { rt, svc, key }
    })
}

fn status_of(method: &str, query: &str, body: &str) -> u16 {
    let f = fixture();
    let Ok(req) = http::Request::builder()
        .method(method)
        .uri(format!("/t?{query}"))
        .header("apikey", &f.key)
        .body(Bytes::from(body.to_owned()))
    else {
        return 400; // not a URI a client could send
    };
    f.rt.block_on(f.svc.handle(req)).status().as_u16()
}

fn words() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id".to_owned()),
        Just("name".to_owned()),
        Just("ok".to_owned()),
        Just("n".to_owned()),
        Just("doc".to_owned()),
        Just("u".to_owned()),
        Just("select".to_owned()),
        Just("order".to_owned()),
        Just("limit".to_owned()),
        Just("offset".to_owned()),
        Just("or".to_owned()),
        Just("and".to_owned()),
        Just("not".to_owned()),
        Just("eq".to_owned()),
        Just("in".to_owned()),
        Just("is".to_owned()),
        Just("like".to_owned()),
        Just("ilike".to_owned()),
        Just("gt".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        "[a-z0-9*%(),.:!\\-]{0,6}".prop_map(|s| s),
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
    fn no_patch_or_delete_gets_a_500(q in query(), body in "[{}\\[\\]\":,a-z0-9 ]{0,24}") {
        for m in ["PATCH", "DELETE", "POST"] {
            let s = status_of(m, &q, &body);
            prop_assert!(s < 500, "{m} /t?{q} {body} → {s}");
        }
    }
}
