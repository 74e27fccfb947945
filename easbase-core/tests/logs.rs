//! Request logs on SQLite (in memory) and PostgreSQL: written in batches, filtered,
//! paginated newest first without duplicates or gaps, pruned to the retention bound,
//! stored without secrets, and the flush task ending with its sink.
#![cfg(feature = "sqlite")]

#[cfg(feature = "mysql")]
mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use easbase_core::context::{ProjectId, RequestContext};
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::logs::{
    self, BatchingLogSink, LogConfig, LogCursor, LogQuery, LogSink, LogsModule, PlatformTables, RequestLog,
    Retention, StoredLog,
};
use easbase_core::module::Module;
use easbase_core::project::{Platform, PlatformConfig};
use easbase_core::schema::Role;
use easbase_core::usage::UsageModule;

fn modules() -> Vec<Arc<dyn Module>> {
    vec![Arc::new(UsageModule), Arc::new(LogsModule)]
}

/// A platform database with the log table, on one engine.
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
        let schema = format!("t_logs_{}", uuid::Uuid::new_v4().simple());
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
    filters_select_the_right_entries,
    pages_are_newest_first_without_duplicates_or_gaps,
    retention_keeps_the_newest_rows_per_project,
    retention_by_age_and_from_the_task,
    the_task_cuts_a_project_back_once_it_wrote_a_tenth_of_its_bound,
    the_age_sweep_reaches_projects_not_written_lately,
    the_row_bound_cuts_between_entries_of_one_millisecond,
    secrets_never_reach_the_table,
    dropping_the_sink_flushes_and_ends_its_task,
);

fn project(name: &str) -> ProjectId {
    ProjectId::new(name).unwrap()
}

/// A fixed time (Unix ms) well inside the default 7-day retention window.
fn base() -> i64 {
    logs::now_ms() - 3_600_000
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn all(tables: &PlatformTables, p: &ProjectId, filter: LogQuery) -> Vec<StoredLog> {
    let mut out = Vec::new();
    let mut filter = LogQuery { limit: logs::MAX_LIMIT, ..filter };
    loop {
        let page = logs::query(tables, p, &filter).await.unwrap();
        out.extend(page.entries);
        match page.next {
            Some(c) => filter.before = Some(c),
            None => return out,
        }
    }
}

fn sink(tables: &PlatformTables, config: LogConfig) -> BatchingLogSink {
    BatchingLogSink::start(tables.clone(), config).unwrap()
}

/// A deterministic mix of entries: `n` per project, 1 s apart.
fn mix(p: &ProjectId, n: usize, t0: i64) -> Vec<RequestLog> {
    (0..n)
        .map(|i| {
            let method = ["GET", "POST", "PATCH", "DELETE"][i % 4];
            let path =
                ["/rest/v1/todos", "/rest/v1/notes?select=id", "/auth/v1/token", "/REST/v1/todos"][i / 4 % 4];
            let status = [200, 201, 404, 500, 401][i % 5];
            let mut log = RequestLog::new(p, &format!("req-{i}"), method, path, status);
            log.at = t0 + i as i64 * 1000;
            log.duration_ms = i as u64;
            log
        })
        .collect()
}

async fn filters_select_the_right_entries(tables: &PlatformTables) {
    let s = sink(tables, LogConfig::default());
    let (a, b) = (project("logs-a"), project("logs-b"));
    let t0 = base();
    let entries_a = mix(&a, 200, t0);
    for log in entries_a.iter().cloned().chain(mix(&b, 50, t0)) {
        s.record(log);
    }
    s.flush().await.unwrap();
    let stats = s.stats();
    // 250 entries in fixed-size statements: 128 + 3 × 32 + 3 × 8 + 2 × 1.
    assert_eq!((stats.recorded, stats.rows, stats.statements, stats.flushes), (250, 250, 9, 1));

    // Every filter agrees with the same filter applied in memory.
    let check = |filter: LogQuery, keep: Box<dyn Fn(&RequestLog) -> bool>| {
        let want: Vec<(String, i64)> =
            entries_a.iter().rev().filter(|l| keep(l)).map(|l| (l.request_id.clone(), l.at)).collect();
        let tables = tables.clone();
        let a = a.clone();
        async move {
            let got: Vec<(String, i64)> = all(&tables, &a, filter.clone())
                .await
                .into_iter()
                .map(|s| (s.log.request_id, s.log.at))
                .collect();
            assert_eq!(got, want, "{filter:?}");
            got.len()
        }
    };
    assert_eq!(check(LogQuery::default(), Box::new(|_| true)).await, 200);
    let errors =
        check(LogQuery { status_min: Some(400), ..LogQuery::default() }, Box::new(|l| l.status >= 400));
    assert_eq!(errors.await, 120);
    check(
        LogQuery { status_min: Some(200), status_max: Some(299), ..LogQuery::default() },
        Box::new(|l| (200..=299).contains(&l.status)),
    )
    .await;
    check(LogQuery { method: Some("post".into()), ..LogQuery::default() }, Box::new(|l| l.method == "POST"))
        .await;
    let rest = check(
        LogQuery { path_prefix: Some("/rest/".into()), ..LogQuery::default() },
        Box::new(|l| l.path.starts_with("/rest/")),
    );
    assert_eq!(rest.await, 104, "the prefix is case-sensitive: /REST/ is not /rest/");
    // A prefix with LIKE wildcards matches literally.
    check(LogQuery { path_prefix: Some("/rest/v1/%".into()), ..LogQuery::default() }, Box::new(|_| false))
        .await;
    check(
        LogQuery { path_prefix: Some("/rest/v1/notes?select".into()), ..LogQuery::default() },
        Box::new(|l| l.path.starts_with("/rest/v1/notes?select")),
    )
    .await;
    let window = (t0 + 10_000, t0 + 20_000);
    let in_window = check(
        LogQuery { from: Some(window.0), to: Some(window.1), ..LogQuery::default() },
        Box::new(move |l| l.at >= window.0 && l.at < window.1),
    );
    assert_eq!(in_window.await, 10);
    check(
        LogQuery { request_id: Some("req-7".into()), ..LogQuery::default() },
        Box::new(|l| l.request_id == "req-7"),
    )
    .await;
    check(
        LogQuery {
            status_min: Some(400),
            method: Some("GET".into()),
            path_prefix: Some("/rest".into()),
            from: Some(t0 + 50_000),
            ..LogQuery::default()
        },
        Box::new(move |l| {
            l.status >= 400 && l.method == "GET" && l.path.starts_with("/rest") && l.at >= t0 + 50_000
        }),
    )
    .await;

    // Project B sees only its own.
    let b_entries = all(tables, &b, LogQuery::default()).await;
    assert_eq!(b_entries.len(), 50);
    assert!(b_entries.iter().all(|s| s.log.project == b));
    // The stored entry round-trips.
    let first =
        &all(tables, &a, LogQuery { request_id: Some("req-199".into()), ..LogQuery::default() }).await[0];
    let mut want = entries_a[199].clone();
    want.path = logs::sanitize_path(&want.path);
    assert_eq!((first.log.path.as_str(), &first.log), ("/rest/v1/notes?select", &want));
    s.shutdown().await.unwrap();
}

async fn pages_are_newest_first_without_duplicates_or_gaps(tables: &PlatformTables) {
    let s = sink(tables, LogConfig::default());
    let p = project("pages");
    let t0 = base();
    // Three entries share each millisecond: the id breaks the ties.
    for i in 0..250 {
        let mut log = RequestLog::new(&p, &format!("r{i}"), "GET", "/x", 200);
        log.at = t0 + (i / 3) * 1000;
        s.record(log);
    }
    s.flush().await.unwrap();

    let mut seen = Vec::new();
    let mut filter = LogQuery { limit: 40, ..LogQuery::default() };
    let mut pages = 0;
    loop {
        let page = logs::query(tables, &p, &filter).await.unwrap();
        pages += 1;
        assert!(page.entries.len() <= 40);
        seen.extend(page.entries.iter().map(StoredLog::cursor));
        if pages == 2 {
            // New entries arriving between pages do not shift the next pages.
            for i in 0..5 {
                let mut log = RequestLog::new(&p, &format!("late{i}"), "GET", "/x", 200);
                log.at = t0 + 1_000_000;
                s.record(log);
            }
            s.flush().await.unwrap();
        }
        match page.next {
            Some(next) => filter.before = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 7);
    assert_eq!(seen.len(), 250, "no gaps");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250, "no duplicates");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "strictly newest first");
    // A cursor survives being written in a URL.
    let text = seen[10].to_string();
    assert_eq!(text.parse::<LogCursor>().unwrap(), seen[10]);
    assert!("nonsense".parse::<LogCursor>().is_err());
    // The limit is clamped, never an error.
    let page = logs::query(tables, &p, &LogQuery { limit: 0, ..LogQuery::default() }).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    let page = logs::query(tables, &p, &LogQuery { limit: u32::MAX, ..LogQuery::default() }).await.unwrap();
    assert_eq!((page.entries.len(), page.next), (255, None));
    s.shutdown().await.unwrap();
}

async fn retention_keeps_the_newest_rows_per_project(tables: &PlatformTables) {
    let retention = Retention { max_rows_per_project: Some(50), max_age: None };
    let config = LogConfig { retention, prune_every: 0, ..LogConfig::default() };
    let s = sink(tables, config);
    let (a, b) = (project("keep-a"), project("keep-b"));
    let t0 = base();
    let entries_a = mix(&a, 120, t0);
    for log in entries_a.iter().cloned().chain(mix(&b, 30, t0)) {
        s.record(log);
    }
    s.flush().await.unwrap();
    assert_eq!(s.prune().await.unwrap(), 70);
    let kept = ids(tables, &a).await;
    let newest: Vec<String> = entries_a.iter().rev().take(50).map(|l| l.request_id.clone()).collect();
    assert_eq!(kept, newest);
    assert_eq!(all(tables, &b, LogQuery::default()).await.len(), 30);
    // Nothing written since: nothing to do.
    assert_eq!(s.prune().await.unwrap(), 0);
    let stats = s.stats();
    assert_eq!((stats.prunes, stats.pruned_rows), (2, 70));
    s.shutdown().await.unwrap();
}

async fn retention_by_age_and_from_the_task(tables: &PlatformTables) {
    let retention = Retention { max_rows_per_project: Some(40), max_age: Some(Duration::from_secs(3600)) };
    let config = task_config(retention, 2);
    let s = sink(tables, config);
    let p = project("aged");
    let now = logs::now_ms();
    for i in 0..10 {
        let mut old = RequestLog::new(&p, &format!("old{i}"), "GET", "/x", 200);
        old.at = now - 2 * 3_600_000;
        s.record(old);
    }
    for i in 0..100 {
        let mut log = RequestLog::new(&p, &format!("new{i}"), "GET", "/x", 200);
        log.at = now - 60_000 + i;
        s.record(log);
    }
    // The task flushes on its own and prunes every second flush.
    wait_until("a prune from the task", || s.stats().prunes >= 1).await;
    let kept = all(tables, &p, LogQuery::default()).await;
    assert_eq!(kept.len(), 40);
    assert!(kept.iter().all(|s| s.log.request_id.starts_with("new")));
    assert_eq!(kept[0].log.request_id, "new99");
    s.shutdown().await.unwrap();
}

async fn count(tables: &PlatformTables, p: &ProjectId) -> usize {
    all(tables, p, LogQuery::default()).await.len()
}

/// The request ids of `p`'s entries, newest first.
async fn ids(tables: &PlatformTables, p: &ProjectId) -> Vec<String> {
    all(tables, p, LogQuery::default()).await.into_iter().map(|e| e.log.request_id).collect()
}

/// A sink whose task flushes every 20 ms and prunes every `prune_every` flushes.
fn task_config(retention: Retention, prune_every: u32) -> LogConfig {
    LogConfig { retention, prune_every, flush_every: Duration::from_millis(20), ..LogConfig::default() }
}

async fn the_task_cuts_a_project_back_once_it_wrote_a_tenth_of_its_bound(tables: &PlatformTables) {
    let retention = Retention { max_rows_per_project: Some(100), max_age: None };
    let config = task_config(retention, 1);
    let s = sink(tables, config);
    let p = project("tenth");
    let entries = mix(&p, 115, base());
    let mut entries = entries.into_iter();
    // 105 entries: a tenth of the bound (10) written, so the task cuts back to 100.
    for log in entries.by_ref().take(105) {
        s.record(log);
    }
    wait_until("the first cut", || s.stats().pruned_rows == 5).await;
    assert_eq!(count(tables, &p).await, 100);
    // 5 more: under a tenth since the cut, so the task leaves them (the bound's slack).
    for log in entries.by_ref().take(5) {
        s.record(log);
    }
    wait_until("the 5 entries written", || s.stats().rows == 110).await;
    let prunes = s.stats().prunes;
    wait_until("two more prunes from the task", || s.stats().prunes >= prunes + 2).await;
    assert_eq!((count(tables, &p).await, s.stats().pruned_rows), (105, 5));
    // 5 more make 10 since the cut: back to the 100 newest.
    for log in entries {
        s.record(log);
    }
    wait_until("the second cut", || s.stats().pruned_rows == 15).await;
    let kept = ids(tables, &p).await;
    let newest: Vec<String> = (15..115).rev().map(|i| format!("req-{i}")).collect();
    assert_eq!(kept, newest);
    s.shutdown().await.unwrap();
}

async fn the_age_sweep_reaches_projects_not_written_lately(tables: &PlatformTables) {
    // Written by an earlier sink without an age bound (an earlier run of the host).
    let (idle, other) = (project("idle"), project("other"));
    let now = logs::now_ms();
    let before = sink(
        tables,
        LogConfig {
            retention: Retention { max_rows_per_project: None, max_age: None },
            ..LogConfig::default()
        },
    );
    for (i, p) in [&idle, &other, &idle, &other, &idle].into_iter().enumerate() {
        let mut old = RequestLog::new(p, &format!("old{i}"), "GET", "/x", 200);
        old.at = now - 3 * 3_600_000;
        before.record(old);
    }
    let mut fresh = RequestLog::new(&idle, "fresh", "GET", "/x", 200);
    fresh.at = now - 1000;
    before.record(fresh);
    before.shutdown().await.unwrap();
    drop(before);
    // A new sink: nothing written yet, so no project is "touched"; its task's first prune
    // still sweeps every project for the age bound.
    let retention = Retention { max_rows_per_project: Some(1000), max_age: Some(Duration::from_secs(3600)) };
    let config = task_config(retention, 1);
    let s = sink(tables, config);
    wait_until("the age sweep", || s.stats().pruned_rows == 5).await;
    let kept = ids(tables, &idle).await;
    assert_eq!(kept, ["fresh"]);
    assert_eq!(count(tables, &other).await, 0);
    s.shutdown().await.unwrap();
}

async fn the_row_bound_cuts_between_entries_of_one_millisecond(tables: &PlatformTables) {
    let retention = Retention { max_rows_per_project: Some(10), max_age: None };
    let s = sink(tables, LogConfig { retention, prune_every: 0, ..LogConfig::default() });
    let p = project("same-ms");
    let at = base();
    // Older entries, then 30 of one millisecond: the cut falls among those (by id).
    for (i, log) in mix(&p, 5, at - 10_000).into_iter().enumerate() {
        s.record(RequestLog { request_id: format!("older-{i}"), ..log });
    }
    for i in 0..30 {
        let mut log = RequestLog::new(&p, &format!("tie-{i}"), "GET", "/x", 200);
        log.at = at;
        s.record(log);
    }
    s.flush().await.unwrap();
    assert_eq!(s.prune().await.unwrap(), 25);
    let kept = ids(tables, &p).await;
    let newest: Vec<String> = (20..30).rev().map(|i| format!("tie-{i}")).collect();
    assert_eq!(kept, newest);
    s.shutdown().await.unwrap();
}

async fn secrets_never_reach_the_table(tables: &PlatformTables) {
    let s = sink(tables, LogConfig::default());
    let p = project("secrets");
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), "user-42".into());
    claims.insert("email".into(), "a@b.c".into());
    let ctx = RequestContext::new(p.clone(), Role::Authenticated, claims, Some("req-s1"));
    let started = logs::now_ms();
    let log = RequestLog::from_context(
        &ctx,
        "get",
        "https://admin:hunter2@api.test/rest/v1/todos?apikey=eb_sk_secret&token=x&select=id#access_token=tok",
        403,
        started,
        Duration::from_millis(12),
    )
    .with_error(&easbase_core::Error::InvalidApiKey);
    s.record(log);
    let mut bare = RequestLog::new(&p, "req-s2", "POST", "/auth/v1/token?eyJhbGciOiJIUzI1NiJ9.e30.sig", 200);
    bare.user_id = Some("\u{0}bad\nuser".into());
    s.record(bare);
    s.flush().await.unwrap();

    let rows = all(tables, &p, LogQuery::default()).await;
    let dump = format!("{rows:?}");
    for secret in ["eb_sk_secret", "hunter2", "admin", "access_token", "=tok", "eyJ", "a@b.c", "=x"] {
        assert!(!dump.contains(secret), "{secret} leaked: {dump}");
    }
    let stored = rows.iter().find(|s| s.log.request_id == "req-s1").unwrap();
    assert_eq!(stored.log.path, "/rest/v1/todos?apikey&token&select");
    assert_eq!(stored.log.method, "GET");
    assert_eq!(stored.log.role, Some(Role::Authenticated));
    assert_eq!(stored.log.user_id.as_deref(), Some("user-42"));
    assert_eq!(stored.log.error_code.as_deref(), Some("invalid_api_key"));
    assert_eq!((stored.log.status, stored.log.duration_ms, stored.log.at), (403, 12, started));
    let bare = rows.iter().find(|s| s.log.request_id == "req-s2").unwrap();
    assert_eq!(bare.log.path, "/auth/v1/token");
    assert_eq!(bare.log.user_id.as_deref(), Some("baduser"));
    s.shutdown().await.unwrap();
}

async fn dropping_the_sink_flushes_and_ends_its_task(tables: &PlatformTables) {
    let config = LogConfig { flush_every: Duration::from_secs(3600), ..LogConfig::default() };
    let s = sink(tables, config);
    let probe = s.probe();
    let p = project("dropped");
    for i in 0..10 {
        s.record(RequestLog::new(&p, &format!("d{i}"), "GET", "/x", 200));
    }
    drop(s);
    wait_until("the task to end", || !probe.is_running()).await;
    assert_eq!(all(tables, &p, LogQuery::default()).await.len(), 10);
}

// ---- SQLite only ------------------------------------------------------------------------------

#[tokio::test]
async fn a_full_batch_flushes_early_and_pending_memory_is_bounded() {
    let env = Env::sqlite().await;
    let config = LogConfig { flush_every: Duration::from_secs(3600), max_batch: 100, ..LogConfig::default() };
    let s = sink(&env.tables, config);
    let p = project("batch");
    for i in 0..100 {
        s.record(RequestLog::new(&p, &format!("b{i}"), "GET", "/x", 200));
    }
    wait_until("an early flush", || s.stats().flushes == 1).await;
    assert_eq!(s.stats().rows, 100);

    // No table: flushes fail, entries are kept up to the bound, the rest counted as dropped.
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let config = LogConfig { flush_every: Duration::from_secs(3600), max_pending: 5, ..LogConfig::default() };
    let s = BatchingLogSink::start(PlatformTables::new(db, None), config).unwrap();
    for i in 0..8 {
        s.record(RequestLog::new(&p, &format!("x{i}"), "GET", "/x", 200));
    }
    assert!(s.flush().await.is_err());
    let stats = s.stats();
    assert_eq!((stats.recorded, stats.dropped, stats.pending, stats.failures), (5, 3, 5, 1));
}

/// A `tracing` subscriber that keeps the fields of the spans it sees.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl tracing::field::Visit for Capture {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.lock().unwrap().push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut self.clone());
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut self.clone());
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn request_spans_carry_no_secrets() {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), "user-1".into());
    claims.insert("email".into(), "x@y.z".into());
    let ctx = RequestContext::new(project("acme"), Role::Authenticated, claims, Some("req-9"));
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let _span = logs::request_span(&ctx);
    });
    let mut fields = capture.0.lock().unwrap().clone();
    fields.sort();
    assert_eq!(
        fields,
        [("project", "acme"), ("request_id", "req-9"), ("role", "\"authenticated\"")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[tokio::test]
async fn flush_spans_carry_counts_only() {
    let env = Env::sqlite().await;
    let s = sink(&env.tables, LogConfig::default());
    let capture = Capture::default();
    let p = project("spans");
    s.record(RequestLog::new(&p, "r1", "GET", "/x?apikey=eb_sk_zzz", 200));
    let _guard = tracing::subscriber::set_default(capture.clone());
    s.flush().await.unwrap();
    let fields = capture.0.lock().unwrap().clone();
    assert!(fields.contains(&("entries".to_owned(), "1".to_owned())), "{fields:?}");
    assert!(!format!("{fields:?}").contains("eb_sk_zzz"));
}

/// The log table as it was before it lost its `(at)` index (the same module name).
struct LogsWithAtIndex;

impl Module for LogsWithAtIndex {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn platform_schema(&self) -> easbase_core::schema::Schema {
        let mut schema = LogsModule.platform_schema();
        let mut json = serde_json::to_value(&schema).unwrap();
        json["tables"][0]["indexes"].as_array_mut().unwrap().push(serde_json::json!({ "columns": ["at"] }));
        schema = serde_json::from_value(json).unwrap();
        schema
    }
}

/// A platform opened by an earlier version (two indexes on the log table) opens with the
/// current one: the `(at)` index is dropped, the entries stay.
#[tokio::test]
async fn a_platform_of_the_earlier_log_table_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let open = |modules: Vec<Arc<dyn Module>>| {
        let path = dir.path().join("platform.db");
        async move {
            let db = Db::open_sqlite(SqliteConfig::file(path)).unwrap();
            Platform::open(db, PlatformConfig::new("http://api.test"), modules).await.unwrap()
        }
    };
    let indexes = |platform: &Platform| {
        let db = platform.db().clone();
        async move {
            let rows = db
                .query(easbase_core::db::Stmt::new(
                    "select name from sqlite_master where type = 'index' and tbl_name = 'request_logs' \
                     and sql is not null order by name",
                    sea_query::Values(Vec::new()),
                ))
                .await
                .unwrap();
            rows.iter().map(|r| r.text("name").unwrap()).collect::<Vec<_>>()
        }
    };
    let before = open(vec![Arc::new(UsageModule), Arc::new(LogsWithAtIndex)]).await;
    assert_eq!(indexes(&before).await.len(), 2);
    let s = sink(&PlatformTables::of(&before), LogConfig::default());
    let p = project("upgraded");
    s.record(RequestLog::new(&p, "kept", "GET", "/x", 200));
    s.shutdown().await.unwrap();
    drop((s, before));
    let after = open(modules()).await;
    assert_eq!(indexes(&after).await.len(), 1);
    assert_eq!(ids(&PlatformTables::of(&after), &p).await, ["kept"]);
}
