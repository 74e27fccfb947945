//! Plans' requests per minute enforced on the request path: `Platform::resolve` admits
//! each resolved request against the project's plan. A plan of N requests gives N
//! contexts then `Error::RateLimited` (with the seconds to wait); other projects and
//! unlimited plans are untouched; a paused project and a bad key are refused before
//! anything is counted; two platform handles on one PostgreSQL database sharing the
//! database counters share the count.
#![cfg(feature = "sqlite")]

use std::sync::Arc;

use easbase_core::Error;
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::project::{CreateProject, CreatedProject, Plan, Platform, PlatformConfig};

fn plans(limit: u64) -> Vec<Plan> {
    vec![Plan::unlimited("free"), Plan { requests_per_minute: Some(limit), ..Plan::unlimited("limited") }]
}

fn limited() -> CreateProject {
    CreateProject { plan: Some("limited".into()), ..CreateProject::default() }
}

fn publishable(created: &CreatedProject) -> String {
    created.keys.as_ref().unwrap().publishable.secret.clone()
}

fn assert_limited(result: easbase_core::Result<easbase_core::context::RequestContext>, limit: u64) {
    match result {
        Err(e @ Error::RateLimited { .. }) => {
            assert_eq!(e.code(), "rate_limited");
            let Error::RateLimited { limit: l, retry_after_secs } = e else { unreachable!() };
            assert_eq!(l, limit);
            assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
        }
        other => panic!("expected RateLimited (limit {limit}), got {other:?}"),
    }
}

/// Waits, past second 50 of a minute, for the next one, so the requests of a test fall
/// in one window.
async fn in_one_window() {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    if secs % 60 > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - secs % 60)).await;
    }
}

async fn sqlite_platform(limit: u64) -> Platform {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let config = PlatformConfig { plans: plans(limit), ..PlatformConfig::new("http://api.test") };
    Platform::open(db, config, Vec::new()).await.unwrap()
}

#[tokio::test]
async fn a_plan_of_n_requests_gives_n_contexts_then_rate_limited() {
    let platform = sqlite_platform(5).await;
    assert!(platform.rate_limiter().is_some());
    let a = platform.create_project("owner", "Limited A", limited()).await.unwrap();
    let b = platform.create_project("owner", "Limited B", limited()).await.unwrap();
    let free = platform.create_project("owner", "Free", CreateProject::default()).await.unwrap();
    in_one_window().await;
    let key = publishable(&a);
    for _ in 0..5 {
        platform.resolve(Some(&key), None, None).await.unwrap();
    }
    assert_limited(platform.resolve(Some(&key), None, None).await, 5);
    // The secret key and a token of that project count against the same project.
    let secret = a.keys.as_ref().unwrap().secret.secret.clone();
    assert_limited(platform.resolve(Some(&secret), None, None).await, 5);
    // Another project of the same plan has its own count; an unlimited plan none.
    for _ in 0..5 {
        platform.resolve(Some(&publishable(&b)), None, None).await.unwrap();
    }
    for _ in 0..50 {
        platform.resolve(Some(&publishable(&free)), None, None).await.unwrap();
    }
    // `admit` is the same count, for hosts that resolve credentials themselves.
    assert!(matches!(platform.admit(&a.project.id).await, Err(Error::RateLimited { limit: 5, .. })));
}

#[tokio::test]
async fn paused_projects_and_bad_keys_are_refused_before_counting() {
    let platform = sqlite_platform(3).await;
    let created = platform.create_project("owner", "Paused", limited()).await.unwrap();
    let key = publishable(&created);
    in_one_window().await;
    platform.pause_project(&created.project.id).await.unwrap();
    for _ in 0..10 {
        assert!(matches!(platform.resolve(Some(&key), None, None).await, Err(Error::ProjectPaused)));
    }
    // A wrong secret of a real key id: refused, not counted.
    let mut wrong = key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    for _ in 0..10 {
        assert!(matches!(platform.resolve(Some(&wrong), None, None).await, Err(Error::InvalidApiKey)));
    }
    platform.resume_project(&created.project.id).await.unwrap();
    // The full limit is still there.
    for _ in 0..3 {
        platform.resolve(Some(&key), None, None).await.unwrap();
    }
    assert_limited(platform.resolve(Some(&key), None, None).await, 3);
}

#[tokio::test]
async fn without_limited_plans_nothing_is_counted() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
    assert!(platform.rate_limiter().is_none());
    let created = platform.create_project("owner", "Free", CreateProject::default()).await.unwrap();
    for _ in 0..100 {
        platform.resolve(Some(&publishable(&created)), None, None).await.unwrap();
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_platforms_on_one_postgres_database_share_the_count() {
    use easbase_core::db::PgConfig;
    use easbase_core::quota::{DbCounters, QuotaModule, RateLimiter};
    use easbase_core::schema::Ident;
    use easbase_core::usage::PlatformTables;

    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let schema = format!("t_rl_{}", uuid::Uuid::new_v4().simple());
    // Two "processes": each its own pool, its own platform handle, its own limiter on the
    // database counters (exact: a store call per request).
    let mut handles = Vec::new();
    for _ in 0..2 {
        let db = Db::connect_postgres(PgConfig::new(url.clone()).pool_size(2))
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} ({e})"));
        let tables = PlatformTables::new(db.clone(), Some(Ident::new(schema.clone()).unwrap()));
        let limiter = Arc::new(RateLimiter::new(Arc::new(DbCounters::new(tables))));
        let config = PlatformConfig {
            plans: plans(6),
            platform_schema: Ident::new(schema.clone()).unwrap(),
            rate_limiter: Some(limiter),
            listen: false,
            ..PlatformConfig::new("http://api.test")
        };
        handles.push(Platform::open(db, config, vec![Arc::new(QuotaModule)]).await.unwrap());
    }
    let (a, b) = (&handles[0], &handles[1]);
    let created = a.create_project("owner", "Shared count", limited()).await.unwrap();
    let key = publishable(&created);
    in_one_window().await;
    for _ in 0..3 {
        a.resolve(Some(&key), None, None).await.unwrap();
        b.resolve(Some(&key), None, None).await.unwrap();
    }
    assert_limited(a.resolve(Some(&key), None, None).await, 6);
    assert_limited(b.resolve(Some(&key), None, None).await, 6);

    a.delete_project(&created.project.id, &created.project.slug).await.unwrap();
    a.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
}

#[tokio::test]
async fn the_default_limiter_with_the_quota_module_uses_the_database_counters() {
    use easbase_core::quota::{CounterStore, DbCounters, QuotaModule};
    use easbase_core::usage::PlatformTables;

    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let config = PlatformConfig { plans: plans(100), ..PlatformConfig::new("http://api.test") };
    let platform = Platform::open(db, config, vec![Arc::new(QuotaModule)]).await.unwrap();
    let created = platform.create_project("owner", "Counted", limited()).await.unwrap();
    in_one_window().await;
    platform.resolve(Some(&publishable(&created)), None, None).await.unwrap();
    // The first request of a minute is written through at once (batching syncs then).
    let counters = DbCounters::new(PlatformTables::of(&platform));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let key = format!("rpm:{}", created.project.id.as_str());
    assert_eq!(counters.incr(&key, now / 60, 0, 120).await.unwrap(), 1);
}
