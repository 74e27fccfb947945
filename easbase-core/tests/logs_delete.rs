//! A deleted project's request logs still pending in the platform's log sink are dropped,
//! and late ones are refused, so nothing of it is written back after its rows are gone.

use std::sync::Arc;
use std::time::Duration;

use easbase_core::context::RequestContext;
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::logs::{self, LogConfig, LogQuery, LogsModule, RequestLog};
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Role;
use easbase_core::usage::{PlatformTables, RequestOutcome, UsageConfig};

#[tokio::test]
async fn pending_logs_of_a_deleted_project_are_dropped() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform =
        Platform::open(db, PlatformConfig::new("http://api.test"), vec![Arc::new(LogsModule)]).await.unwrap();
    let hour = Duration::from_secs(3600);
    assert!(!platform.is_metering());
    let started = platform
        .start_metering(UsageConfig::default(), LogConfig { flush_every: hour, ..LogConfig::default() })
        .unwrap();
    assert_eq!(started, (false, true));
    assert!(platform.is_metering());
    let gone = platform.create_project("owner", "Gone", CreateProject::default()).await.unwrap().project;
    let kept = platform.create_project("owner", "Kept", CreateProject::default()).await.unwrap().project;
    let sink = platform.log_sink().unwrap();
    for project in [&gone.id, &kept.id] {
        sink.record(RequestLog::new(project, "r1", "GET", "/rest/v1/items", 200));
    }
    platform.delete_project(&gone.id, &gone.slug).await.unwrap();
    sink.record(RequestLog::new(&gone.id, "late", "GET", "/rest/v1/items", 200));
    // The same through the platform, as the HTTP layers record a request.
    for project in [&gone.id, &kept.id] {
        let ctx = RequestContext::new(project.clone(), Role::Anon, Default::default(), Some("r2"));
        platform.record_request(&RequestOutcome {
            ctx: &ctx,
            method: "GET",
            route: "/rest/v1/items",
            path: "/rest/v1/items?select=id&apikey=secret",
            status: 200,
            started_ms: logs::now_ms(),
            duration: Duration::from_millis(1),
            error_code: None,
        });
    }
    platform.flush_metering().await.unwrap();
    let tables = PlatformTables::of(&platform);
    assert!(logs::query(&tables, &gone.id, &LogQuery::default()).await.unwrap().entries.is_empty());
    let kept_logs = logs::query(&tables, &kept.id, &LogQuery::default()).await.unwrap().entries;
    assert_eq!(kept_logs.len(), 2);
    assert_eq!(
        kept_logs.iter().find(|l| l.log.request_id == "r2").unwrap().log.path,
        "/rest/v1/items?select&apikey"
    );
    platform.clear_metering();
    assert!(!platform.is_metering());
}
