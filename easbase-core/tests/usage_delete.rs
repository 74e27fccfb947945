//! A deleted project's usage counters are not written back: the sinks attached to the
//! platform (`Platform::attach_usage_sink`) drop what they hold for it when it is deleted
//! — through the same handle (SQLite, PostgreSQL) or by another process on the platform
//! database (PostgreSQL, heard through `LISTEN/NOTIFY`) — and ignore its late events.
#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use easbase_core::context::{ProjectId, RequestContext};
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::module::Module;
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Role;
use easbase_core::usage::{
    self, BatchingSink, PlatformTables, RequestOutcome, UsageConfig, UsageEvent, UsageModule, UsageSink,
};

const NOW: i64 = 1_700_000_000;

fn modules() -> Vec<Arc<dyn Module>> {
    vec![Arc::new(UsageModule)]
}

/// A sink that only flushes when asked, attached to `platform`.
fn sink(platform: &Platform) -> Arc<BatchingSink> {
    let config = UsageConfig { flush_every: Duration::from_secs(3600), ..UsageConfig::default() };
    let sink = Arc::new(BatchingSink::start(PlatformTables::of(platform), config).unwrap());
    let dyn_sink: Arc<dyn UsageSink> = sink.clone();
    platform.attach_usage_sink(&dyn_sink);
    sink
}

async fn requests(tables: &PlatformTables, p: &ProjectId) -> i64 {
    usage::totals(tables, p, NOW - 3600, NOW + 3600).await.unwrap().iter().map(|(_, _, v)| v).sum()
}

/// `n` requests, alternately as events and as request outcomes (the way
/// `Platform::record_request` hands them over): both count into the same counter.
fn record(sink: &BatchingSink, p: &ProjectId, n: usize) {
    let ctx = RequestContext::new(p.clone(), Role::Anon, Default::default(), None);
    for i in 0..n {
        if i % 2 == 0 {
            sink.record(UsageEvent::request(p, "/rest/v1/{table}", "GET", 200).at(NOW));
        } else {
            sink.record_request(&RequestOutcome {
                ctx: &ctx,
                method: "get",
                route: "/rest/v1/{table}",
                path: "/rest/v1/items",
                status: 200,
                started_ms: NOW * 1000,
                duration: Duration::ZERO,
                error_code: None,
            });
        }
    }
}

/// Records for a project to be deleted and one to keep, deletes the first through
/// `deleter`, then flushes `sink`: only the kept project's counters are written.
async fn deleted_projects_counters_are_dropped(deleter: &Platform, sink: &BatchingSink, wait: bool) {
    let gone = deleter.create_project("owner", "Gone", CreateProject::default()).await.unwrap().project;
    let kept = deleter.create_project("owner", "Kept", CreateProject::default()).await.unwrap().project;
    record(sink, &gone.id, 5);
    record(sink, &kept.id, 3);
    deleter.delete_project(&gone.id, &gone.slug).await.unwrap();
    if wait {
        // Another process: the deletion reaches it through its listener.
        let start = Instant::now();
        while sink.stats().pending > 1 {
            assert!(start.elapsed() < Duration::from_secs(5), "the deletion did not reach the other sink");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // A request that was in flight when it was deleted.
    record(sink, &gone.id, 1);
    sink.flush().await.unwrap();
    let tables = PlatformTables::of(deleter);
    assert_eq!(requests(&tables, &gone.id).await, 0, "a deleted project's counters were written back");
    assert_eq!(requests(&tables, &kept.id).await, 3);
    deleter.delete_project(&kept.id, &kept.slug).await.unwrap();
}

#[tokio::test]
async fn sqlite() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), modules()).await.unwrap();
    let sink = sink(&platform);
    deleted_projects_counters_are_dropped(&platform, &sink, false).await;
    // A dropped sink is detached, and deleting still works.
    drop(sink);
    let p = platform.create_project("owner", "After", CreateProject::default()).await.unwrap().project;
    platform.delete_project(&p.id, &p.slug).await.unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_across_processes() {
    use easbase_core::db::PgConfig;
    use easbase_core::schema::Ident;

    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let schema = format!("t_usedel_{}", uuid::Uuid::new_v4().simple());
    let mut handles = Vec::new();
    for _ in 0..2 {
        let db = Db::connect_postgres(PgConfig::new(url.clone()).pool_size(2))
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} ({e})"));
        let config = PlatformConfig {
            platform_schema: Ident::new(schema.clone()).unwrap(),
            ..PlatformConfig::new("http://api.test")
        };
        handles.push(Platform::open(db, config, modules()).await.unwrap());
    }
    let (a, b) = (&handles[0], &handles[1]);
    let start = Instant::now();
    while !(a.is_listening() && b.is_listening()) {
        assert!(start.elapsed() < Duration::from_secs(5), "the listeners did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The same handle.
    let sink_a = sink(a);
    deleted_projects_counters_are_dropped(a, &sink_a, false).await;
    // Another process's sink: `a` deletes, `b`'s sink holds the counters.
    let sink_b = sink(b);
    deleted_projects_counters_are_dropped(a, &sink_b, true).await;
    a.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
}
