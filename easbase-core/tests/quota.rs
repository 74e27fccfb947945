//! Quotas: request-rate counters in memory, in the platform database (SQLite in memory,
//! PostgreSQL) and in Redis (feature `redis`) — limits enforced with the typed error, new
//! windows reset, two limiters (two processes) share a count, concurrent increments are
//! exact, projects are kept apart — plus local batching, row and storage limits, and
//! `Platform::plan_of`.
#![cfg(feature = "sqlite")]

#[cfg(feature = "mysql")]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use easbase_core::Error;
use easbase_core::context::ProjectId;
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::project::{CreateProject, Plan, Platform, PlatformConfig};
use easbase_core::quota::{
    Batching, CounterStore, DbCounters, MemoryCounters, QuotaModule, RateLimiter, check_rows, check_storage,
};
use easbase_core::usage::PlatformTables;

/// A counter store on one backend, and a second handle on the same counters (another
/// connection where the backend has one: what a second process would hold).
struct Env {
    first: Arc<dyn CounterStore>,
    second: Arc<dyn CounterStore>,
    /// PostgreSQL: the random schema to drop at the end.
    drop_schema: Option<(Db, String)>,
    /// MariaDB: the random database to drop at the end.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    drop_database: Option<String>,
}

impl Env {
    fn memory() -> Env {
        let store: Arc<dyn CounterStore> = Arc::new(MemoryCounters::default());
        Env { first: Arc::clone(&store), second: store, drop_schema: None, drop_database: None }
    }

    async fn sqlite() -> Env {
        let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
        let platform =
            Platform::open(db, PlatformConfig::new("http://api.test"), vec![Arc::new(QuotaModule)])
                .await
                .unwrap();
        let store: Arc<dyn CounterStore> = Arc::new(DbCounters::new(PlatformTables::of(&platform)));
        Env { first: Arc::clone(&store), second: store, drop_schema: None, drop_database: None }
    }

    #[cfg(feature = "postgres")]
    async fn postgres() -> Env {
        use easbase_core::db::PgConfig;
        let url = std::env::var("EASBASE_PG_URL")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
        let connect = || async {
            Db::connect_postgres(PgConfig::new(url.clone())).await.unwrap_or_else(|e| {
                panic!(
                    "cannot reach PostgreSQL at {url} ({e}); start it: \
                     pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start \
                     (or set EASBASE_PG_URL)"
                )
            })
        };
        let schema = format!("t_quota_{}", uuid::Uuid::new_v4().simple());
        let ident = easbase_core::schema::Ident::new(schema.clone()).unwrap();
        let mut config = PlatformConfig::new("http://api.test");
        config.platform_schema = ident.clone();
        let db = connect().await;
        let platform = Platform::open(db.clone(), config, vec![Arc::new(QuotaModule)]).await.unwrap();
        let first = Arc::new(DbCounters::new(PlatformTables::of(&platform)));
        // A second pool, as another process would have.
        let second = Arc::new(DbCounters::new(PlatformTables::new(connect().await, Some(ident))));
        Env { first, second, drop_schema: Some((db, schema)), drop_database: None }
    }

    #[cfg(feature = "mysql")]
    async fn mysql() -> Env {
        let (db, name) = common::mysql_database(4).await;
        let platform =
            Platform::open(db, PlatformConfig::new("http://api.test"), vec![Arc::new(QuotaModule)])
                .await
                .unwrap();
        let first = Arc::new(DbCounters::new(PlatformTables::of(&platform)));
        // A second pool, as another process would have.
        let url = format!("{}/{name}", common::mysql_url().trim_end_matches('/'));
        let other = Db::connect_mysql(easbase_core::db::MyConfig::new(url)).await.unwrap();
        let second = Arc::new(DbCounters::new(PlatformTables::new(other, None)));
        Env { first, second, drop_schema: None, drop_database: Some(name) }
    }

    #[cfg(feature = "redis")]
    async fn redis() -> Env {
        use easbase_core::quota::RedisCounters;
        let url = std::env::var("EASBASE_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
        // A fresh prefix per test keeps tests apart; the keys expire by themselves.
        let prefix = format!("easbase-test:{}:", uuid::Uuid::new_v4().simple());
        let connect = || async {
            RedisCounters::connect(&url, prefix.clone()).await.unwrap_or_else(|e| {
                panic!(
                    "cannot reach Redis at {url} ({e}); start it: \
                     redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no \
                     (or set EASBASE_REDIS_URL)"
                )
            })
        };
        Env {
            first: Arc::new(connect().await),
            second: Arc::new(connect().await),
            drop_schema: None,
            drop_database: None,
        }
    }

    async fn cleanup(self) {
        if let Some((db, schema)) = self.drop_schema {
            db.execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
        }
        #[cfg(feature = "mysql")]
        if let Some(name) = self.drop_database {
            common::drop_mysql_database(&name, &[]).await;
        }
    }
}

/// Runs each scenario on every store.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::memory();
                    super::$name(&env).await;
                    env.cleanup().await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::sqlite().await;
                    super::$name(&env).await;
                    env.cleanup().await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::postgres().await;
                    super::$name(&env).await;
                    env.cleanup().await;
                }
            )*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::mysql().await;
                    super::$name(&env).await;
                    env.cleanup().await;
                }
            )*
        }
        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::redis().await;
                    super::$name(&env).await;
                    env.cleanup().await;
                }
            )*
        }
    };
}

on_every_store!(
    limit_is_enforced_with_the_typed_error_and_a_new_window_resets,
    two_limiters_on_one_store_share_the_count,
    concurrent_increments_are_exact,
    projects_do_not_mix,
    unlimited_plans_always_pass,
    batching_stays_within_its_documented_bound,
    batching_without_delay_is_exact,
);

fn project(name: &str) -> ProjectId {
    ProjectId::new(name).unwrap()
}

fn rpm(limit: u64) -> Plan {
    Plan { requests_per_minute: Some(limit), ..Plan::unlimited("limited") }
}

/// The start of a minute, so `T0 + 59` is the same window.
const T0: u64 = 1_700_000_000 - 1_700_000_000 % 60;

fn assert_rpm_exceeded(result: easbase_core::Result<()>, limit: u64) {
    match result {
        Err(Error::RateLimited { limit: l, retry_after_secs }) => {
            assert_eq!(l, limit);
            assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
        }
        other => panic!("expected RateLimited (limit {limit}), got {other:?}"),
    }
}

async fn limit_is_enforced_with_the_typed_error_and_a_new_window_resets(env: &Env) {
    let limiter = RateLimiter::new(Arc::clone(&env.first));
    let p = project("acme");
    let plan = rpm(5);
    for i in 0..5 {
        limiter.check_request_at(&p, &plan, T0 + i).await.unwrap();
    }
    let err = limiter.check_request_at(&p, &plan, T0 + 59).await.unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    assert_eq!(err.to_string(), "rate limit exceeded: 5 requests per minute; retry after 1 s");
    // Retry-After: the seconds left in the window.
    assert_eq!(err.retry_after_secs(), Some(1));
    let err = limiter.check_request_at(&p, &plan, T0 + 30).await.unwrap_err();
    assert_eq!(err.retry_after_secs(), Some(30));
    assert_rpm_exceeded(Err(err), 5);
    // The next minute starts afresh, with the full limit.
    for _ in 0..5 {
        limiter.check_request_at(&p, &plan, T0 + 60).await.unwrap();
    }
    assert_rpm_exceeded(limiter.check_request_at(&p, &plan, T0 + 119).await, 5);
}

async fn two_limiters_on_one_store_share_the_count(env: &Env) {
    let a = RateLimiter::new(Arc::clone(&env.first));
    let b = RateLimiter::new(Arc::clone(&env.second));
    let p = project("shared");
    let plan = rpm(6);
    for _ in 0..3 {
        a.check_request_at(&p, &plan, T0).await.unwrap();
        b.check_request_at(&p, &plan, T0).await.unwrap();
    }
    assert_rpm_exceeded(a.check_request_at(&p, &plan, T0).await, 6);
    assert_rpm_exceeded(b.check_request_at(&p, &plan, T0).await, 6);
}

async fn concurrent_increments_are_exact(env: &Env) {
    const TASKS: u64 = 50;
    const EACH: u64 = 4;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        // Half the tasks on each handle: two processes hammering one counter.
        let store = Arc::clone(if t % 2 == 0 { &env.first } else { &env.second });
        handles.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..EACH {
                seen.push(store.incr("raw-race", T0 / 60, 1, 120).await.unwrap());
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all.sort_unstable();
    // Every increment saw a distinct count: none was lost or applied twice.
    assert_eq!(all, (1..=TASKS * EACH).collect::<Vec<_>>());
    assert_eq!(env.first.incr("raw-race", T0 / 60, 0, 120).await.unwrap(), TASKS * EACH);

    // And through limiters: 50 concurrent requests against a limit of 30 admit exactly 30.
    let limiter = Arc::new(RateLimiter::new(Arc::clone(&env.first)));
    let p = project("race");
    let admitted = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..50 {
        let (limiter, p, admitted) = (Arc::clone(&limiter), p.clone(), Arc::clone(&admitted));
        handles.push(tokio::spawn(async move {
            match limiter.check_request_at(&p, &rpm(30), T0).await {
                Ok(()) => {
                    admitted.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => assert_rpm_exceeded(Err(e), 30),
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(admitted.load(Ordering::Relaxed), 30);
}

async fn projects_do_not_mix(env: &Env) {
    let limiter = RateLimiter::new(Arc::clone(&env.first));
    let (a, b) = (project("alpha"), project("beta"));
    let plan = rpm(2);
    limiter.check_request_at(&a, &plan, T0).await.unwrap();
    limiter.check_request_at(&a, &plan, T0).await.unwrap();
    assert_rpm_exceeded(limiter.check_request_at(&a, &plan, T0).await, 2);
    // Beta is untouched by alpha's requests, and a larger plan is its own limit.
    for _ in 0..4 {
        limiter.check_request_at(&b, &rpm(4), T0).await.unwrap();
    }
    assert_rpm_exceeded(limiter.check_request_at(&b, &rpm(4), T0).await, 4);
}

async fn unlimited_plans_always_pass(env: &Env) {
    let limiter = RateLimiter::new(Arc::clone(&env.first));
    let p = project("free");
    for _ in 0..500 {
        limiter.check_request_at(&p, &Plan::unlimited("free"), T0).await.unwrap();
    }
    // Nothing was counted for it.
    assert_eq!(env.first.incr("rpm:free", T0 / 60, 0, 120).await.unwrap(), 0);
}

/// Two batching limiters (two processes) on one store: the total admitted is at least the
/// limit and at most the limit plus `processes × sync_every`, with far fewer store calls.
async fn batching_stays_within_its_documented_bound(env: &Env) {
    const SYNC_EVERY: u64 = 10;
    const LIMIT: u64 = 100;
    let calls = Arc::new(AtomicU64::new(0));
    let counting = |store: &Arc<dyn CounterStore>| -> Arc<dyn CounterStore> {
        Arc::new(Counting { inner: Arc::clone(store), calls: Arc::clone(&calls) })
    };
    // A long delay: syncs happen by count, so the test does not depend on timing.
    let batching = Batching { sync_every: SYNC_EVERY, max_delay: Duration::from_secs(3600) };
    let a = RateLimiter::with_batching(counting(&env.first), batching);
    let b = RateLimiter::with_batching(counting(&env.second), batching);
    let p = project("batched");
    let plan = rpm(LIMIT);
    let mut admitted = 0;
    for i in 0..400 {
        let limiter = if i % 3 == 0 { &a } else { &b };
        match limiter.check_request_at(&p, &plan, T0).await {
            Ok(()) => admitted += 1,
            Err(e) => assert_rpm_exceeded(Err(e), LIMIT),
        }
    }
    assert!((LIMIT..=LIMIT + 2 * SYNC_EVERY).contains(&admitted), "admitted {admitted}");
    let calls = calls.load(Ordering::Relaxed);
    assert!(calls <= admitted / SYNC_EVERY + 4, "{calls} store calls for {admitted} requests");
    // Both limiters refuse once the shared count is over.
    assert!(a.check_request_at(&p, &plan, T0).await.is_err());
    assert!(b.check_request_at(&p, &plan, T0).await.is_err());
    // A new minute: admitted again.
    a.check_request_at(&p, &plan, T0 + 60).await.unwrap();
}

/// `max_delay = 0` syncs on every request: as exact as the unbatched limiter, even with
/// 50 concurrent requests over two processes.
async fn batching_without_delay_is_exact(env: &Env) {
    let batching = Batching { sync_every: 1000, max_delay: Duration::ZERO };
    let limiters = [Arc::clone(&env.first), Arc::clone(&env.second)]
        .map(|s| Arc::new(RateLimiter::with_batching(s, batching)));
    let p = project("exact");
    let admitted = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for i in 0..50 {
        let (limiter, p, admitted) = (Arc::clone(&limiters[i % 2]), p.clone(), Arc::clone(&admitted));
        handles.push(tokio::spawn(async move {
            match limiter.check_request_at(&p, &rpm(20), T0).await {
                Ok(()) => {
                    admitted.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => assert_rpm_exceeded(Err(e), 20),
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(admitted.load(Ordering::Relaxed), 20);
}

/// A store that counts the calls made to it.
struct Counting {
    inner: Arc<dyn CounterStore>,
    calls: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl CounterStore for Counting {
    async fn incr(&self, key: &str, window: u64, by: u64, ttl_secs: u64) -> easbase_core::Result<u64> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.incr(key, window, by, ttl_secs).await
    }
}

/// A store that is down.
struct Down;

#[async_trait::async_trait]
impl CounterStore for Down {
    async fn incr(&self, _: &str, _: u64, _: u64, _: u64) -> easbase_core::Result<u64> {
        Err(Error::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn a_store_error_is_reported_not_taken_for_a_quota() {
    let p = project("acme");
    for limiter in
        [RateLimiter::new(Arc::new(Down)), RateLimiter::with_batching(Arc::new(Down), Batching::default())]
    {
        // The first request of a minute syncs at once, so the error shows.
        let err = limiter.check_request_at(&p, &rpm(10), T0).await.unwrap_err();
        assert_eq!(err.code(), "unavailable");
        // Unlimited plans never reach the store.
        limiter.check_request_at(&p, &Plan::unlimited("free"), T0).await.unwrap();
    }
}

// ---- store-specific behaviour --------------------------------------------------------------

#[tokio::test]
async fn memory_counters_stay_bounded() {
    let store = MemoryCounters::with_capacity(10);
    for window in 0..5 {
        for k in 0..20 {
            store.incr(&format!("k{k}"), window, 1, 120).await.unwrap();
        }
    }
    assert!(store.len() <= 10, "{} counters held", store.len());
    // The newest window is the one kept, and still counts.
    assert_eq!(store.incr("k19", 4, 1, 120).await.unwrap(), 2);
}

#[tokio::test]
async fn memory_counters_forget_expired_windows() {
    let store = MemoryCounters::with_capacity(2);
    store.incr("a", 1, 5, 0).await.unwrap();
    // A counter with a zero TTL has expired: it starts again.
    assert_eq!(store.incr("a", 1, 1, 120).await.unwrap(), 1);
}

#[tokio::test]
async fn db_counters_clean_up_old_windows_and_refuse_long_keys() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), vec![Arc::new(QuotaModule)])
        .await
        .unwrap();
    let store = DbCounters::new(PlatformTables::of(&platform));
    store.incr("a", 100, 1, 120).await.unwrap();
    store.incr("b", 100, 1, 120).await.unwrap();
    store.incr("a", 101, 1, 120).await.unwrap();
    // Window 200: the first increment deletes windows older than its TTL (2 minutes).
    store.incr("a", 200, 1, 120).await.unwrap();
    assert_eq!(store.cleanup(200).await.unwrap(), 0, "old windows were already removed");
    assert_eq!(store.cleanup(201).await.unwrap(), 1);

    let long = "k".repeat(201);
    assert_eq!(store.incr(&long, 1, 1, 60).await.unwrap_err().code(), "config");
}

// ---- plans, rows and storage ---------------------------------------------------------------

#[tokio::test]
async fn plan_of_returns_the_projects_plan() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let mut config = PlatformConfig::new("http://api.test");
    let pro = Plan {
        requests_per_minute: Some(600),
        max_rows: Some(10_000),
        storage_bytes: Some(1 << 30),
        name: "pro".into(),
    };
    config.plans = vec![Plan::unlimited("free"), pro.clone()];
    let platform = Platform::open(db, config, vec![Arc::new(QuotaModule)]).await.unwrap();
    let free = platform.create_project("owner-1", "Free one", CreateProject::default()).await.unwrap();
    let paid = platform
        .create_project(
            "owner-1",
            "Paid one",
            CreateProject { plan: Some("pro".into()), ..CreateProject::default() },
        )
        .await
        .unwrap();
    assert_eq!(platform.plan_of(&free.project.id).await.unwrap(), Plan::unlimited("free"));
    assert_eq!(platform.plan_of(&paid.project.id).await.unwrap(), pro);
    let missing = platform.plan_of(&project("nope")).await.unwrap_err();
    assert_eq!(missing.code(), "project_not_found");
}

#[test]
fn row_and_storage_limits() {
    let plan = Plan { max_rows: Some(100), storage_bytes: Some(1000), ..Plan::unlimited("small") };
    check_rows(0, 100, &plan).unwrap();
    check_rows(99, 1, &plan).unwrap();
    match check_rows(99, 2, &plan) {
        Err(Error::QuotaExceeded { what, limit }) => assert_eq!((what.as_str(), limit), ("rows", 100)),
        other => panic!("{other:?}"),
    }
    // Already over (the plan was lowered): refused whatever is added.
    check_rows(150, 0, &plan).unwrap_err();
    check_storage(1000, 0, &plan).unwrap();
    match check_storage(u64::MAX, u64::MAX, &plan) {
        Err(Error::QuotaExceeded { what, limit }) => {
            assert_eq!((what.as_str(), limit), ("storage bytes", 1000))
        }
        other => panic!("{other:?}"),
    }
    let free = Plan::unlimited("free");
    check_rows(u64::MAX, u64::MAX, &free).unwrap();
    check_storage(u64::MAX, u64::MAX, &free).unwrap();
}
