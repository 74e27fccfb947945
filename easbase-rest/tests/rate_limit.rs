//! Plans' requests per minute through `RestService::handle`: easbase-core admits every
//! request when it resolves the credentials, and REST answers the one over the limit with
//! 429 `EB103` and a `Retry-After` header.

use bytes::Bytes;
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::project::{CreateProject, Plan, Platform, PlatformConfig};
use easbase_core::schema::Schema;
use easbase_rest::{RestConfig, RestService};
use http::{Request, StatusCode};
use serde_json::Value;

const LIMIT: u64 = 3;

#[tokio::test]
async fn a_plan_of_n_requests_gives_n_answers_then_429() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let config = PlatformConfig {
        plans: vec![
            Plan::unlimited("free"),
            Plan { requests_per_minute: Some(LIMIT), ..Plan::unlimited("small") },
        ],
        ..PlatformConfig::new("http://api.test")
    };
    let platform = Platform::open(db, config, Vec::new()).await.unwrap();
    let schema = Schema::from_json(
        r#"{ "tables": [ { "name": "items", "columns": [
            { "name": "id", "type": "integer", "primary": true } ],
          "policies": { "select": [ { "roles": ["anon"], "using": "true" } ] } } ] }"#,
    )
    .unwrap();
    let create = |plan: &str| CreateProject {
        schema: Some(schema.clone()),
        plan: Some(plan.into()),
        ..CreateProject::default()
    };
    let small = platform.create_project("owner", "Small", create("small")).await.unwrap();
    let free = platform.create_project("owner", "Free", create("free")).await.unwrap();
    let svc = RestService::new(platform, RestConfig::default());
    let get =
        |apikey: &str| Request::builder().uri("/items").header("apikey", apikey).body(Bytes::new()).unwrap();
    let small_key = small.keys.unwrap().publishable.secret;
    let free_key = free.keys.unwrap().publishable.secret;

    // Stay in one minute's window.
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    if secs % 60 > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - secs % 60)).await;
    }
    for i in 0..LIMIT {
        let res = svc.handle(get(&small_key)).await;
        assert_eq!(res.status(), StatusCode::OK, "request {i}: {:?}", res.body());
    }
    let res = svc.handle(get(&small_key)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["code"], "EB103", "{body}");
    assert_eq!(body["hint"], format!("Retry after {retry} seconds."), "{body}");
    assert!(body["message"].as_str().unwrap().contains("3 requests per minute"), "{body}");

    // Another project, on an unlimited plan, is not affected.
    for _ in 0..10 {
        assert_eq!(svc.handle(get(&free_key)).await.status(), StatusCode::OK);
    }
}
