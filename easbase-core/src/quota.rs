//! Plans and quotas: requests per minute counted in a shared store, and row and storage
//! limits checked by pure helpers.
//!
//! - [`RateLimiter::check_request`] counts a project's requests in fixed one-minute
//!   windows in a [`CounterStore`] and refuses the request that goes over its
//!   [`Plan::requests_per_minute`] with [`Error::RateLimited`] (code `rate_limited`,
//!   with the seconds until the window ends, for `Retry-After`). The store is shared by
//!   every process that serves the platform: [`DbCounters`] (a table of the platform
//!   database, from [`QuotaModule`]), `RedisCounters` (feature `redis`), or
//!   [`MemoryCounters`] for a single process.
//! - The request path calls it for every request:
//!   [`Platform::resolve`](crate::project::Platform::resolve) admits each resolved request
//!   through the platform's limiter ([`PlatformConfig::rate_limiter`](crate::project::PlatformConfig::rate_limiter);
//!   see [`Platform::admit`](crate::project::Platform::admit)), so every HTTP layer built
//!   on it (REST, auth) is limited without doing anything. A paused project or a bad key
//!   is refused before anything is counted.
//! - [`check_rows`] and [`check_storage`] are pure: the REST and storage layers pass the
//!   current size and what a request adds.
//! - [`Platform::plan_of`](crate::project::Platform::plan_of) gives a project's [`Plan`].
//!
//! Fixed windows allow up to twice the limit across a window boundary (the end of one
//! minute and the start of the next); that is the usual trade-off for one counter per
//! project and minute.
//!
//! ```
//! use std::sync::Arc;
//! use easbase_core::Error;
//! use easbase_core::context::ProjectId;
//! use easbase_core::project::Plan;
//! use easbase_core::quota::{MemoryCounters, RateLimiter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> easbase_core::Result<()> {
//! let limiter = RateLimiter::new(Arc::new(MemoryCounters::default()));
//! let plan = Plan { requests_per_minute: Some(2), ..Plan::unlimited("tiny") };
//! let project = ProjectId::new("acme")?;
//! let now = 1_700_000_000; // Unix seconds: 20 s into a minute
//! limiter.check_request_at(&project, &plan, now).await?;
//! limiter.check_request_at(&project, &plan, now).await?;
//! let refused = limiter.check_request_at(&project, &plan, now).await.unwrap_err();
//! assert!(matches!(refused, Error::RateLimited { limit: 2, retry_after_secs: 40 }));
//! // The next minute starts afresh.
//! limiter.check_request_at(&project, &plan, now + 60).await?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use easbase_schema::Schema;
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use crate::context::ProjectId;
use crate::error::{Error, Result};
use crate::module::Module;
use crate::project::Plan;
use crate::usage::PlatformTables;

/// The name of the requests-per-minute limit (in messages and docs; [`RateLimiter`]
/// refuses with [`Error::RateLimited`]).
pub const REQUESTS_PER_MINUTE: &str = "requests per minute";
/// What [`check_rows`] reports.
pub const ROWS: &str = "rows";
/// What [`check_storage`] reports.
pub const STORAGE_BYTES: &str = "storage bytes";

/// The name of the counters table in the platform database.
pub const COUNTERS_TABLE: &str = "quota_counters";

/// The longest counter key [`DbCounters`] stores.
pub const MAX_KEY_LEN: usize = 200;

/// How long a rate counter is kept: its minute and the next, so a late request of the
/// previous minute still finds it.
const RATE_TTL_SECS: u64 = 120;

/// The current time in Unix seconds.
fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

// ---- row and storage limits -----------------------------------------------------------------

/// Whether `adding` rows fit the plan's [`Plan::max_rows`] next to `current_rows`.
///
/// ```
/// use easbase_core::{Error, project::Plan, quota::check_rows};
/// let plan = Plan { max_rows: Some(10), ..Plan::unlimited("small") };
/// assert!(check_rows(8, 2, &plan).is_ok());
/// let err = check_rows(8, 3, &plan).unwrap_err();
/// assert!(matches!(err, Error::QuotaExceeded { ref what, limit: 10 } if what == "rows"));
/// assert!(check_rows(u64::MAX, 1, &Plan::unlimited("free")).is_ok());
/// ```
///
/// # Errors
/// [`Error::QuotaExceeded`] (`what = "rows"`) when the total would exceed the limit.
pub fn check_rows(current_rows: u64, adding: u64, plan: &Plan) -> Result<()> {
    check_total(ROWS, current_rows, adding, plan.max_rows)
}

/// Whether `adding` bytes fit the plan's [`Plan::storage_bytes`] next to `current_bytes`.
///
/// ```
/// use easbase_core::{Error, project::Plan, quota::check_storage};
/// let plan = Plan { storage_bytes: Some(1024), ..Plan::unlimited("small") };
/// assert!(check_storage(1000, 24, &plan).is_ok());
/// assert!(matches!(check_storage(1000, 25, &plan), Err(Error::QuotaExceeded { limit: 1024, .. })));
/// ```
///
/// # Errors
/// [`Error::QuotaExceeded`] (`what = "storage bytes"`) when the total would exceed the
/// limit.
pub fn check_storage(current_bytes: u64, adding: u64, plan: &Plan) -> Result<()> {
    check_total(STORAGE_BYTES, current_bytes, adding, plan.storage_bytes)
}

fn check_total(what: &str, current: u64, adding: u64, limit: Option<u64>) -> Result<()> {
    match limit {
        Some(limit) if current.saturating_add(adding) > limit => {
            Err(Error::QuotaExceeded { what: what.to_owned(), limit })
        }
        _ => Ok(()),
    }
}

// ---- counter stores -------------------------------------------------------------------------

/// Fixed-window counters shared by the processes of a platform.
///
/// A counter is named by `(key, window)`; `window` is a number the caller picks (the
/// [`RateLimiter`] uses the Unix minute). A counter may be forgotten `ttl_secs` after it
/// was created.
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Adds `by` to the counter `(key, window)` (creating it at 0) and returns its new
    /// value, atomically: concurrent calls from any process never lose an increment.
    ///
    /// # Errors
    /// The store's errors ([`Error::Database`], [`Error::Unavailable`]);
    /// [`Error::Config`] for a key longer than the store allows.
    async fn incr(&self, key: &str, window: u64, by: u64, ttl_secs: u64) -> Result<u64>;
}

/// Counters in this process's memory: for a single process, and for tests.
///
/// Bounded: once [`MemoryCounters::with_capacity`] counters exist, expired ones are
/// dropped, then the oldest windows.
#[derive(Debug)]
pub struct MemoryCounters {
    capacity: usize,
    map: Mutex<HashMap<(String, u64), MemoryCounter>>,
}

#[derive(Debug, Clone, Copy)]
struct MemoryCounter {
    count: u64,
    expires: Instant,
}

impl Default for MemoryCounters {
    fn default() -> MemoryCounters {
        MemoryCounters::with_capacity(100_000)
    }
}

impl MemoryCounters {
    /// Keeps at most `capacity` counters (at least 1); the default is 100,000.
    pub fn with_capacity(capacity: usize) -> MemoryCounters {
        MemoryCounters { capacity: capacity.max(1), map: Mutex::new(HashMap::new()) }
    }

    /// How many counters are held now.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl CounterStore for MemoryCounters {
    async fn incr(&self, key: &str, window: u64, by: u64, ttl_secs: u64) -> Result<u64> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let id = (key.to_owned(), window);
        if let Some(counter) = map.get_mut(&id)
            && counter.expires > now
        {
            counter.count = counter.count.saturating_add(by);
            return Ok(counter.count);
        }
        if map.len() >= self.capacity {
            map.retain(|_, c| c.expires > now);
        }
        while map.len() >= self.capacity {
            // Still full: the oldest window goes.
            let Some(oldest) = map.keys().map(|(_, w)| *w).min() else { break };
            map.retain(|(_, w), _| *w != oldest);
        }
        let expires =
            now.checked_add(Duration::from_secs(ttl_secs)).unwrap_or(now + Duration::from_secs(86_400));
        map.insert(id, MemoryCounter { count: by, expires });
        Ok(by)
    }
}

/// Adds the `quota_counters` table to the platform database, for [`DbCounters`]:
/// `(counter_key varchar(200), time_window bigint, count bigint)`, keyed by
/// `(counter_key, time_window)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuotaModule;

const QUOTA_SCHEMA: &str = r#"{ "tables": [
  { "name": "quota_counters", "comment": "EasBase quota counters per key and window",
    "columns": [
      { "name": "counter_key", "type": "varchar(200)", "required": true },
      { "name": "time_window", "type": "bigint", "required": true },
      { "name": "count", "type": "bigint", "required": true, "default": 0 }
    ],
    "primary_key": ["counter_key", "time_window"] }
] }"#;

#[async_trait]
impl Module for QuotaModule {
    fn name(&self) -> &'static str {
        "quota"
    }

    fn platform_schema(&self) -> Schema {
        Schema::from_json(QUOTA_SCHEMA).unwrap_or_default()
    }
}

/// Counters in the platform database ([`QuotaModule`]'s table), shared by every process
/// on it: one `INSERT … ON CONFLICT (counter_key, time_window) DO UPDATE SET count =
/// quota_counters.count + excluded.count RETURNING count` per increment (PostgreSQL, and
/// SQLite from 3.35; on MySQL `ON DUPLICATE KEY UPDATE` and a read of the row in the same
/// transaction).
///
/// Every request of a project updates the same row, so on PostgreSQL a busy project's
/// requests queue on that row's lock; [`RateLimiter::with_batching`] cuts that to one
/// update per batch.
///
/// Windows are taken to be minutes: at most once per window, an increment also deletes the
/// counters whose window is older than its `ttl_secs` (in whole minutes, at least one).
#[derive(Debug)]
pub struct DbCounters {
    tables: PlatformTables,
    /// The last window a cleanup ran for.
    cleaned: AtomicU64,
}

impl DbCounters {
    /// Counters in `tables`, which must hold [`QuotaModule`]'s table.
    pub fn new(tables: PlatformTables) -> DbCounters {
        DbCounters { tables, cleaned: AtomicU64::new(0) }
    }

    /// Deletes the counters of windows before `window`; returns how many went.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Unavailable`].
    pub async fn cleanup(&self, before_window: u64) -> Result<u64> {
        self.tables.db().execute(self.delete_before(before_window)).await
    }

    fn delete_before(&self, before_window: u64) -> crate::db::Stmt {
        let q = Query::delete()
            .from_table(self.tables.table(COUNTERS_TABLE))
            .and_where(Expr::col(Alias::new("time_window")).lt(to_i64(before_window)))
            .to_owned();
        self.tables.stmt(&q)
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl CounterStore for DbCounters {
    async fn incr(&self, key: &str, window: u64, by: u64, ttl_secs: u64) -> Result<u64> {
        if key.chars().count() > MAX_KEY_LEN {
            return Err(Error::Config(format!("quota: a counter key has at most {MAX_KEY_LEN} characters")));
        }
        let mut q = Query::insert();
        q.into_table(self.tables.table(COUNTERS_TABLE))
            .columns(["counter_key", "time_window", "count"].map(Alias::new))
            .values_panic([key.into(), to_i64(window).into(), to_i64(by).into()])
            .on_conflict(
                OnConflict::columns(["counter_key", "time_window"].map(Alias::new))
                    .value(Alias::new("count"), self.tables.add_proposed(COUNTERS_TABLE, "count"))
                    .to_owned(),
            )
            .returning_col(Alias::new("count"));
        let upsert = self.tables.stmt(&q);
        // MySQL has no RETURNING here: read the row back in the same transaction (the
        // upsert holds its lock until the commit).
        let read_back = (self.tables.db().dialect() == easbase_schema::Dialect::Mysql).then(|| {
            let q = Query::select()
                .column(Alias::new("count"))
                .from(self.tables.table(COUNTERS_TABLE))
                .and_where(Expr::col(Alias::new("counter_key")).eq(key))
                .and_where(Expr::col(Alias::new("time_window")).eq(to_i64(window)))
                .to_owned();
            self.tables.stmt(&q)
        });
        let mut statements = Vec::with_capacity(2);
        // One cleanup per window per process, in the same transaction (no extra round
        // trip on PostgreSQL, where the transaction is one pipelined write).
        if self.cleaned.fetch_max(window, Ordering::Relaxed) < window {
            let keep = std::cmp::max(ttl_secs.div_ceil(60), 1);
            statements.push(self.delete_before(window.saturating_sub(keep)));
        }
        statements.push(upsert);
        statements.extend(read_back);
        let mut results = self.tables.db().transaction(&crate::db::Scope::default(), statements).await?;
        let result = results.pop().unwrap_or_default();
        let count = result.rows.first().map(|r| r.int("count")).transpose()?.ok_or_else(|| {
            Error::Database { sqlstate: None, message: "quota: the upsert returned no count".into() }
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[cfg(feature = "redis")]
pub use redis_store::RedisCounters;

#[cfg(feature = "redis")]
mod redis_store {
    use async_trait::async_trait;

    use super::CounterStore;
    use crate::error::{Error, Result};

    /// Counters in Redis (feature `redis`): `INCRBY` then `EXPIRE` in one `MULTI`/`EXEC`
    /// per increment, on one multiplexed connection. Keys are
    /// `{prefix}{key}:{window}`.
    #[derive(Clone)]
    pub struct RedisCounters {
        conn: redis::aio::MultiplexedConnection,
        prefix: String,
    }

    impl std::fmt::Debug for RedisCounters {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("RedisCounters").field("prefix", &self.prefix).finish_non_exhaustive()
        }
    }

    fn unavailable(e: &redis::RedisError) -> Error {
        Error::Unavailable(format!("redis: {e}"))
    }

    impl RedisCounters {
        /// Connects to `url` (`redis://host:port/db`); keys start with `prefix`
        /// (`easbase:quota:` for example).
        ///
        /// # Errors
        /// [`Error::Config`] for a malformed URL, [`Error::Unavailable`] when Redis cannot
        /// be reached.
        pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<RedisCounters> {
            let client = redis::Client::open(url).map_err(|e| Error::Config(format!("redis URL: {e}")))?;
            let conn = client.get_multiplexed_async_connection().await.map_err(|e| unavailable(&e))?;
            Ok(RedisCounters::from_connection(conn, prefix))
        }

        /// Uses a connection the host already has.
        pub fn from_connection(
            conn: redis::aio::MultiplexedConnection,
            prefix: impl Into<String>,
        ) -> RedisCounters {
            RedisCounters { conn, prefix: prefix.into() }
        }
    }

    #[async_trait]
    impl CounterStore for RedisCounters {
        async fn incr(&self, key: &str, window: u64, by: u64, ttl_secs: u64) -> Result<u64> {
            let name = format!("{}{key}:{window}", self.prefix);
            let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
            let mut conn = self.conn.clone();
            let (count,): (u64,) = redis::pipe()
                .atomic()
                .incr(&name, by)
                .expire(&name, ttl)
                .ignore()
                .query_async(&mut conn)
                .await
                .map_err(|e| unavailable(&e))?;
            Ok(count)
        }
    }
}

// ---- the rate limiter -----------------------------------------------------------------------

/// Local pre-aggregation for a [`RateLimiter`] ([`RateLimiter::with_batching`]).
///
/// Each process counts a project's requests locally and adds them to the shared store
/// every `sync_every` requests, or on the first request after `max_delay`, and on its
/// first request of each minute (to learn the other processes' count). Between syncs a process decides from the shared count it last saw plus
/// its own pending requests, so it does not see other processes' latest requests: with
/// `P` processes, a project may get up to about `P × sync_every` requests over its limit
/// per minute. `sync_every = 1` is exact (a store call per request).
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Sync after this many requests of a project (at least 1; default 20).
    pub sync_every: u64,
    /// Sync on the first request this long after the last sync (default 1 s).
    pub max_delay: Duration,
}

impl Default for Batching {
    fn default() -> Batching {
        Batching { sync_every: 20, max_delay: Duration::from_secs(1) }
    }
}

/// One project's local state in batching mode.
#[derive(Debug)]
struct Local {
    window: u64,
    /// The shared count last returned by the store.
    shared: u64,
    /// Requests admitted here and not yet added to the store.
    pending: u64,
    last_sync: Instant,
}

/// Projects kept in the local table before old windows are swept.
const LOCAL_SWEEP_AT: usize = 10_000;

/// Counts requests per project and minute in a [`CounterStore`] and refuses those over
/// the plan's [`Plan::requests_per_minute`]. Cheap to share (`Arc`); any number of
/// limiters (in one process or many) on one store share the counts.
pub struct RateLimiter {
    store: Arc<dyn CounterStore>,
    batching: Option<Batching>,
    local: Mutex<HashMap<ProjectId, Local>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("batching", &self.batching).finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter that adds every request to `store` (exact, one store call per request
    /// of a limited plan).
    pub fn new(store: Arc<dyn CounterStore>) -> RateLimiter {
        RateLimiter { store, batching: None, local: Mutex::new(HashMap::new()) }
    }

    /// A limiter that pre-aggregates requests locally; see [`Batching`] for the accuracy
    /// it trades for fewer store calls.
    pub fn with_batching(store: Arc<dyn CounterStore>, batching: Batching) -> RateLimiter {
        let batching = Batching { sync_every: std::cmp::max(batching.sync_every, 1), ..batching };
        RateLimiter { store, batching: Some(batching), local: Mutex::new(HashMap::new()) }
    }

    /// Counts one request of `project` now and refuses it when over the plan's limit.
    /// A plan without [`Plan::requests_per_minute`] costs nothing.
    ///
    /// # Errors
    /// [`Error::RateLimited`] (the plan's limit, the seconds left in the minute); the
    /// store's errors.
    pub async fn check_request(&self, project: &ProjectId, plan: &Plan) -> Result<()> {
        self.check_request_at(project, plan, now_secs()).await
    }

    /// [`RateLimiter::check_request`] at `unix_secs` (tests, replays).
    ///
    /// # Errors
    /// As [`RateLimiter::check_request`].
    pub async fn check_request_at(&self, project: &ProjectId, plan: &Plan, unix_secs: u64) -> Result<()> {
        let Some(limit) = plan.requests_per_minute else { return Ok(()) };
        let window = unix_secs / 60;
        let count = match self.batching {
            None => self.store.incr(&key_of(project), window, 1, RATE_TTL_SECS).await?,
            Some(batching) => match self.local_check(project, window, limit, batching) {
                LocalDecision::Admit => return Ok(()),
                LocalDecision::Refuse => return Err(exceeded(limit, unix_secs)),
                LocalDecision::Sync(pending) => self.sync(project, window, pending).await?,
            },
        };
        if count > limit { Err(exceeded(limit, unix_secs)) } else { Ok(()) }
    }

    /// The local decision in batching mode (no `.await` under the lock).
    fn local_check(&self, project: &ProjectId, window: u64, limit: u64, batching: Batching) -> LocalDecision {
        let now = Instant::now();
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if local.len() >= LOCAL_SWEEP_AT && !local.contains_key(project) {
            local.retain(|_, l| l.window >= window);
        }
        let entry = match local.get_mut(project) {
            Some(entry) if entry.window == window => entry,
            _ => {
                // A project not seen yet, or a new minute (what was pending for the old
                // one no longer matters here): sync at once to learn the shared count.
                local.insert(project.clone(), Local { window, shared: 0, pending: 0, last_sync: now });
                return LocalDecision::Sync(1);
            }
        };
        if entry.shared.saturating_add(entry.pending) >= limit {
            return LocalDecision::Refuse;
        }
        entry.pending += 1;
        if entry.pending >= batching.sync_every || now.duration_since(entry.last_sync) >= batching.max_delay {
            let pending = std::mem::take(&mut entry.pending);
            entry.last_sync = now;
            LocalDecision::Sync(pending)
        } else {
            LocalDecision::Admit
        }
    }

    /// Adds `pending` requests to the store and records the shared count it returns.
    async fn sync(&self, project: &ProjectId, window: u64, pending: u64) -> Result<u64> {
        match self.store.incr(&key_of(project), window, pending, RATE_TTL_SECS).await {
            Ok(count) => {
                let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(entry) = local.get_mut(project)
                    && entry.window == window
                {
                    entry.shared = std::cmp::max(entry.shared, count);
                }
                // This request is the last of those just added.
                Ok(count)
            }
            Err(e) => {
                // Keep them for the next sync.
                let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(entry) = local.get_mut(project)
                    && entry.window == window
                {
                    entry.pending = entry.pending.saturating_add(pending);
                }
                Err(e)
            }
        }
    }
}

enum LocalDecision {
    Admit,
    Refuse,
    /// Add this many requests to the store, then decide from the shared count.
    Sync(u64),
}

/// The counter keys a project's limits use in a [`CounterStore`] (removed with the
/// project).
pub(crate) fn keys_of(project: &ProjectId) -> Vec<String> {
    vec![key_of(project)]
}

fn key_of(project: &ProjectId) -> String {
    format!("rpm:{}", project.as_str())
}

/// The refusal of a request over `limit` at `unix_secs`: retry when its minute ends.
fn exceeded(limit: u64, unix_secs: u64) -> Error {
    Error::RateLimited { limit, retry_after_secs: 60 - unix_secs % 60 }
}
