//! Plans' requests per minute through `AuthService::handle`: easbase-core admits every
//! request when it resolves the credentials, and auth answers the one over the limit as
//! GoTrue does, 429 `over_request_rate_limit`, with a `Retry-After` header.

use std::sync::Arc;

use bytes::Bytes;
use easbase_auth::{Auth, AuthConfig, AuthModule, AuthService, PasswordHashConfig};
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::project::{CreateProject, Plan, Platform, PlatformConfig};
use http::{Request, StatusCode};
use serde_json::Value;

const LIMIT: u64 = 4;

#[tokio::test]
async fn a_plan_of_n_requests_gives_n_answers_then_429() {
    let config = AuthConfig {
        password_hash: PasswordHashConfig::insecure_fast_for_tests(),
        ..AuthConfig::new("http://app.test")
    };
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform_config = PlatformConfig {
        plans: vec![Plan { requests_per_minute: Some(LIMIT), ..Plan::unlimited("small") }],
        ..PlatformConfig::new("http://api.test")
    };
    let platform = Platform::open(db, platform_config, vec![Arc::new(AuthModule::default())]).await.unwrap();
    let created = platform.create_project("owner", "Limited", CreateProject::default()).await.unwrap();
    let key = created.keys.unwrap().publishable.secret;
    let svc = AuthService::new(platform, Arc::new(Auth::new(config, None).unwrap()));
    let settings = |apikey: &str| {
        Request::builder().uri("/settings").header("apikey", apikey).body(Bytes::new()).unwrap()
    };

    // Stay in one minute's window.
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    if secs % 60 > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - secs % 60)).await;
    }
    for i in 0..LIMIT {
        let res = svc.handle(settings(&key)).await;
        assert_eq!(res.status(), StatusCode::OK, "request {i}: {:?}", res.body());
        assert!(res.headers().get("retry-after").is_none());
    }
    let res = svc.handle(settings(&key)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["error_code"], "over_request_rate_limit", "{body}");
    assert_eq!(body["code"], 429, "{body}");

    // A wrong key is refused as such (401), not counted or rate limited.
    let res = svc.handle(settings("eb_pk_not-a-key")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
