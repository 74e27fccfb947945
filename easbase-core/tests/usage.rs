//! Usage metering on SQLite (in memory) and PostgreSQL: exact totals under concurrency
//! with few insert statements, series per minute / hour / day, projects kept apart,
//! bounded memory, failed flushes retried, and the flush task ending with its sink.
#![cfg(feature = "sqlite")]

#[cfg(feature = "mysql")]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use easbase_core::Error;
use easbase_core::context::ProjectId;
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::logs::LogsModule;
use easbase_core::module::Module;
use easbase_core::project::{Platform, PlatformConfig};
use easbase_core::usage::{
    self, BatchingSink, Metric, PlatformTables, Step, UsageConfig, UsageEvent, UsageModule, UsageSink,
};

fn modules() -> Vec<Arc<dyn Module>> {
    vec![Arc::new(UsageModule), Arc::new(LogsModule)]
}

/// A platform database with the usage table, on one engine.
struct Env {
    tables: PlatformTables,
    /// PostgreSQL: the random schema to drop at the end.
    drop_schema: Option<String>,
    /// MariaDB: the random database to drop at the end.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    drop_database: Option<String>,
}

impl Env {
    async fn sqlite() -> Env {
        let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
        let platform = Platform::open(db, PlatformConfig::new("http://api.test"), modules()).await.unwrap();
        Env { tables: PlatformTables::of(&platform), drop_schema: None, drop_database: None }
    }

    #[cfg(feature = "postgres")]
    async fn postgres() -> Env {
        use easbase_core::db::PgConfig;
        let url = std::env::var("EASBASE_PG_URL")
            .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
        let db = Db::connect_postgres(PgConfig::new(url.clone())).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at {url} ({e}); start it: \
                 pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start \
                 (or set EASBASE_PG_URL)"
            )
        });
        let schema = format!("t_usage_{}", uuid::Uuid::new_v4().simple());
        let mut config = PlatformConfig::new("http://api.test");
        config.platform_schema = easbase_core::schema::Ident::new(schema.clone()).unwrap();
        let platform = Platform::open(db, config, modules()).await.unwrap();
        Env { tables: PlatformTables::of(&platform), drop_schema: Some(schema), drop_database: None }
    }

    #[cfg(feature = "mysql")]
    async fn mysql() -> Env {
        let (db, name) = common::mysql_database(4).await;
        let platform = Platform::open(db, PlatformConfig::new("http://api.test"), modules()).await.unwrap();
        Env { tables: PlatformTables::of(&platform), drop_schema: None, drop_database: Some(name) }
    }

    async fn cleanup(self) {
        if let Some(schema) = self.drop_schema {
            self.tables.db().execute_script(&[format!("DROP SCHEMA {schema} CASCADE")]).await.unwrap();
        }
        #[cfg(feature = "mysql")]
        if let Some(name) = self.drop_database {
            common::drop_mysql_database(&name, &[]).await;
        }
    }
}

/// Runs each scenario on SQLite, PostgreSQL and MariaDB.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let env = super::Env::sqlite().await;
                    super::$name(&env.tables).await;
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
                    super::$name(&env.tables).await;
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
                    super::$name(&env.tables).await;
                    env.cleanup().await;
                }
            )*
        }
    };
}

on_every_engine!(
    concurrent_events_add_up_exactly_with_few_statements,
    series_by_minute_hour_and_day,
    distinct_keys_trigger_an_early_flush,
    dropping_the_sink_flushes_and_ends_its_task,
    odd_input_is_stored_safely,
);

fn project(name: &str) -> ProjectId {
    ProjectId::new(name).unwrap()
}

/// A time at the start of a UTC day, so minutes, hours and days line up.
const DAY0: i64 = 1_700_000_000 - 1_700_000_000 % 86_400;

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

type Totals = BTreeMap<(Metric, String), i64>;

async fn totals_of(tables: &PlatformTables, p: &ProjectId) -> Totals {
    usage::totals(tables, p, DAY0 - 86_400, DAY0 + 3 * 86_400)
        .await
        .unwrap()
        .into_iter()
        .map(|(m, l, v)| ((m, l), v))
        .collect()
}

async fn concurrent_events_add_up_exactly_with_few_statements(tables: &PlatformTables) {
    // A short period so background flushes run while the tasks record.
    let config = UsageConfig { flush_every: Duration::from_millis(20), ..UsageConfig::default() };
    let sink = Arc::new(BatchingSink::start(tables.clone(), config).unwrap());
    let (a, b) = (project("proj-a"), project("proj-b"));
    const TASKS: usize = 50;
    const PER_TASK: usize = 200;

    /// The events task `t` records, in order (also used to compute the expectation).
    fn events(t: usize, a: &ProjectId, b: &ProjectId) -> Vec<UsageEvent> {
        let p = if t.is_multiple_of(2) { a } else { b };
        (0..PER_TASK)
            .map(|i| {
                let at = DAY0 + ((t * PER_TASK + i) % 300) as i64; // five minutes
                match i % 5 {
                    0 => UsageEvent::request(p, "/rest/v1/{table}", "GET", 200),
                    1 => UsageEvent::request(p, "/rest/v1/{table}", "POST", [201, 400][t % 2]),
                    2 => UsageEvent::rows_read(p, "todos", (i % 7 + 1) as u64),
                    3 => UsageEvent::auth(p, ["sign_in", "token_refresh"][i % 2]),
                    _ => UsageEvent::storage_bytes(p, "avatars", if i % 2 == 0 { 1000 } else { -300 }),
                }
                .at(at)
            })
            .collect()
    }

    let started = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|t| {
            let (sink, a, b) = (Arc::clone(&sink), a.clone(), b.clone());
            tokio::spawn(async move {
                for (i, e) in events(t, &a, &b).into_iter().enumerate() {
                    sink.record(e);
                    if i.is_multiple_of(10) {
                        // Spread recording over some flush periods, so background
                        // flushes interleave with it.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let record_time = started.elapsed();
    sink.flush().await.unwrap();

    let mut expected: BTreeMap<ProjectId, Totals> = BTreeMap::new();
    for t in 0..TASKS {
        for e in events(t, &a, &b) {
            *expected
                .entry(e.project.clone())
                .or_default()
                .entry((e.metric, e.label.clone()))
                .or_default() += e.value;
        }
    }
    assert_eq!(totals_of(tables, &a).await, expected[&a]);
    assert_eq!(totals_of(tables, &b).await, expected[&b]);

    let stats = sink.stats();
    assert_eq!(stats.recorded, (TASKS * PER_TASK) as u64);
    assert_eq!((stats.dropped, stats.failures, stats.pending), (0, 0, 0));
    // Each flush is one statement (far fewer than 2,000 distinct counters per flush), and
    // there are few flushes: the hot path wrote no row per event.
    assert_eq!(stats.statements, stats.flushes);
    assert!(stats.statements >= 1 && stats.statements <= 100, "{stats:?}");
    eprintln!(
        "usage[{}]: {} events from {TASKS} tasks in {record_time:?} ({:.0}/s), {} insert statements, {} rows",
        tables.db().dialect(),
        stats.recorded,
        stats.recorded as f64 / record_time.as_secs_f64(),
        stats.statements,
        stats.rows,
    );
    sink.shutdown().await.unwrap();
}

async fn series_by_minute_hour_and_day(tables: &PlatformTables) {
    let sink = BatchingSink::start(tables.clone(), UsageConfig::default()).unwrap();
    let (a, b) = (project("series-a"), project("series-b"));
    let req = |p: &ProjectId, at: i64| UsageEvent::request(p, "/x", "GET", 200).at(at);
    for (at, n) in [(DAY0 + 30, 2), (DAY0 + 90, 3), (DAY0 + 3600 + 5, 4), (DAY0 + 86_400 + 10, 5)] {
        for _ in 0..n {
            sink.record(req(&a, at));
        }
    }
    // Noise: another metric of the same project, and the same metric of another project.
    sink.record(UsageEvent::rows_read(&a, "t", 1000).at(DAY0 + 30));
    sink.record(req(&b, DAY0 + 30));
    sink.flush().await.unwrap();

    let range = (DAY0, DAY0 + 2 * 86_400);
    let series = |p: ProjectId, m: Metric, from: i64, to: i64, step: Step| {
        let tables = tables.clone();
        async move { usage::series(&tables, &p, m, from, to, step).await.unwrap() }
    };
    assert_eq!(
        series(a.clone(), Metric::Requests, range.0, range.1, Step::Minute).await,
        vec![(DAY0, 2), (DAY0 + 60, 3), (DAY0 + 3600, 4), (DAY0 + 86_400, 5)]
    );
    assert_eq!(
        series(a.clone(), Metric::Requests, range.0, range.1, Step::Hour).await,
        vec![(DAY0, 5), (DAY0 + 3600, 4), (DAY0 + 86_400, 5)]
    );
    assert_eq!(
        series(a.clone(), Metric::Requests, range.0, range.1, Step::Day).await,
        vec![(DAY0, 9), (DAY0 + 86_400, 5)]
    );
    // Minutes starting in [from, to) only.
    assert_eq!(
        series(a.clone(), Metric::Requests, DAY0 + 1, DAY0 + 3600, Step::Minute).await,
        vec![(DAY0 + 60, 3)]
    );
    assert_eq!(series(a.clone(), Metric::RowsRead, range.0, range.1, Step::Day).await, vec![(DAY0, 1000)]);
    assert_eq!(series(b.clone(), Metric::Requests, range.0, range.1, Step::Day).await, vec![(DAY0, 1)]);
    assert_eq!(series(project("nobody"), Metric::Requests, range.0, range.1, Step::Day).await, vec![]);
    // Empty and reversed ranges.
    assert_eq!(series(a.clone(), Metric::Requests, DAY0 + 10, DAY0 + 10, Step::Minute).await, vec![]);
    assert_eq!(series(a.clone(), Metric::Requests, range.1, range.0, Step::Minute).await, vec![]);

    // Totals over a part of the range.
    let t = usage::totals(tables, &a, DAY0, DAY0 + 3600).await.unwrap();
    assert_eq!(
        t,
        vec![(Metric::Requests, "GET /x 200".to_owned(), 5), (Metric::RowsRead, "t".to_owned(), 1000)]
    );
    // A second flush adds to the stored counters (insert-or-add).
    sink.record(req(&a, DAY0 + 30));
    sink.flush().await.unwrap();
    assert_eq!(series(a.clone(), Metric::Requests, DAY0, DAY0 + 60, Step::Minute).await, vec![(DAY0, 3)]);
    sink.shutdown().await.unwrap();
}

async fn distinct_keys_trigger_an_early_flush(tables: &PlatformTables) {
    let config =
        UsageConfig { flush_every: Duration::from_secs(3600), max_keys: 100, ..UsageConfig::default() };
    let sink = BatchingSink::start(tables.clone(), config).unwrap();
    let p = project("many-keys");
    for i in 0..150 {
        sink.record(UsageEvent::auth(&p, &format!("kind_{i}")).at(DAY0));
    }
    // No explicit flush and an hour-long timer: only the key bound can trigger this.
    wait_until("an early flush", || sink.stats().flushes >= 1).await;
    sink.flush().await.unwrap();
    let totals = totals_of(tables, &p).await;
    assert_eq!(totals.len(), 150);
    assert!(totals.values().all(|v| *v == 1));
    sink.shutdown().await.unwrap();
}

async fn dropping_the_sink_flushes_and_ends_its_task(tables: &PlatformTables) {
    let config = UsageConfig { flush_every: Duration::from_secs(3600), ..UsageConfig::default() };
    let sink = BatchingSink::start(tables.clone(), config).unwrap();
    let probe = sink.probe();
    let p = project("dropped");
    for _ in 0..10 {
        sink.record(UsageEvent::request(&p, "/r", "GET", 200).at(DAY0));
    }
    assert!(probe.is_running());
    drop(sink);
    wait_until("the task to end", || !probe.is_running()).await;
    // Its last act was to write what was pending.
    assert_eq!(totals_of(tables, &p).await.get(&(Metric::Requests, "GET /r 200".into())), Some(&10));
}

async fn odd_input_is_stored_safely(tables: &PlatformTables) {
    let sink = BatchingSink::start(tables.clone(), UsageConfig::default()).unwrap();
    let p = project("odd");
    let long = format!("{}\n\u{0}'; drop table x; --", "é".repeat(500));
    sink.record(UsageEvent::new(&p, Metric::StorageBytes, long.clone(), -5).at(DAY0));
    sink.record(UsageEvent::new(&p, Metric::StorageBytes, long, -5).at(DAY0 + 1));
    sink.record(UsageEvent::rows_written(&p, "t", 0).at(DAY0)); // nothing to count
    sink.record(UsageEvent::rows_written(&p, "t", u64::MAX).at(DAY0)); // saturates
    sink.record(UsageEvent::request(&p, "", "", 0).at(-1_000)); // before 1970: minute 0
    sink.flush().await.unwrap();
    let totals = totals_of(tables, &p).await;
    let label = "é".repeat(usage::MAX_LABEL_CHARS);
    assert_eq!(totals.get(&(Metric::StorageBytes, label)), Some(&-10));
    assert_eq!(totals.get(&(Metric::RowsWritten, "t".into())), Some(&i64::MAX));
    let at_zero = usage::totals(tables, &p, 0, 60).await.unwrap();
    assert_eq!(at_zero, vec![(Metric::Requests, "  0".to_owned(), 1)]);
    sink.shutdown().await.unwrap();
}

// ---- SQLite only ------------------------------------------------------------------------------

#[tokio::test]
async fn a_failed_flush_keeps_its_counters_and_pending_memory_is_bounded() {
    // A database without the usage table: flushes fail until the platform creates it.
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let tables = PlatformTables::new(db.clone(), None);
    let config = UsageConfig { flush_every: Duration::from_secs(3600), max_keys: 1000, max_pending_keys: 10 };
    let sink = BatchingSink::start(tables.clone(), config).unwrap();
    let p = project("retry");
    for i in 0..20 {
        sink.record(UsageEvent::auth(&p, &format!("k{i}")).at(DAY0));
    }
    sink.record(UsageEvent::auth(&p, "k0").at(DAY0)); // an existing counter still adds up
    let stats = sink.stats();
    assert_eq!((stats.recorded, stats.dropped, stats.pending), (11, 10, 10));

    let err = sink.flush().await.unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert_eq!((sink.stats().failures, sink.stats().pending), (1, 10));

    Platform::open(db, PlatformConfig::new("http://api.test"), modules()).await.unwrap();
    sink.flush().await.unwrap();
    let totals = totals_of(&tables, &p).await;
    assert_eq!(totals.len(), 10);
    assert_eq!(totals[&(Metric::AuthEvents, "k0".into())], 2);
    assert_eq!(sink.stats().pending, 0);
}

#[tokio::test]
async fn a_database_that_is_down_is_not_hammered() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap(); // no usage table
    let config =
        UsageConfig { flush_every: Duration::from_secs(3600), max_keys: 1, ..UsageConfig::default() };
    let sink = BatchingSink::start(PlatformTables::new(db, None), config).unwrap();
    let p = project("down");
    sink.record(UsageEvent::auth(&p, "first").at(DAY0));
    wait_until("the first failed flush", || sink.stats().failures == 1).await;
    // The buffer stays over `max_keys`, but after a failure the task waits for its timer.
    for i in 0..50 {
        sink.record(UsageEvent::auth(&p, &format!("k{i}")).at(DAY0));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stats = sink.stats();
    assert_eq!((stats.failures, stats.pending), (1, 51));
}

#[test]
fn starting_outside_a_runtime_is_an_error_not_a_panic() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let err = BatchingSink::start(PlatformTables::new(db, None), UsageConfig::default()).unwrap_err();
    assert_eq!(err.code(), "config");
}

#[tokio::test]
async fn zero_bounds_are_refused() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let config = UsageConfig { max_keys: 0, ..UsageConfig::default() };
    assert!(BatchingSink::start(PlatformTables::new(db, None), config).is_err());
}
