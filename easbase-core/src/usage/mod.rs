//! Usage metering per project: requests, rows read and written, auth events, storage bytes.
//!
//! The request path calls [`UsageSink::record`] (or, for a finished request through
//! [`Platform::record_request`], [`UsageSink::record_request`], which finds an existing
//! counter without building its label), which only updates an in-memory counter.
//! The default sink, [`BatchingSink`], aggregates counters per (project, minute, metric,
//! label) and a background task writes them to the `usage_counters` platform table every
//! [`UsageConfig::flush_every`], or sooner when [`UsageConfig::max_keys`] distinct counters
//! are pending — in one multi-row insert-or-add statement
//! (`INSERT … ON CONFLICT (…) DO UPDATE SET value = usage_counters.value + excluded.value`,
//! the same on PostgreSQL and SQLite). So the hot path writes no row per request.
//!
//! The table comes from [`UsageModule`] (give it to [`Platform::open`]); a dashboard reads
//! it with [`series`] and [`totals`]. Attach the sink to the platform
//! ([`Platform::attach_usage_sink`]) so that deleting a project (here or in another
//! process) drops the counters the sink still holds for it, rather than writing them back
//! after the project's rows are gone.
//!
//! ```
//! use std::sync::Arc;
//! use easbase_core::context::ProjectId;
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::project::{Platform, PlatformConfig};
//! use easbase_core::usage::{self, BatchingSink, Metric, PlatformTables, Step, UsageConfig, UsageEvent, UsageModule, UsageSink};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> easbase_core::Result<()> {
//! let db = Db::open_sqlite(SqliteConfig::in_memory())?;
//! let platform = Platform::open(db, PlatformConfig::new("http://localhost"), vec![Arc::new(UsageModule)]).await?;
//! let tables = PlatformTables::of(&platform);
//! let sink = BatchingSink::start(tables.clone(), UsageConfig::default())?;
//!
//! let project = ProjectId::new("acme")?;
//! let now = 1_700_000_000; // Unix seconds
//! for _ in 0..3 {
//!     sink.record(UsageEvent::request(&project, "/rest/v1/{table}", "GET", 200).at(now));
//! }
//! sink.record(UsageEvent::rows_read(&project, "todos", 25).at(now));
//! sink.flush().await?; // the background task does this every few seconds
//!
//! let totals = usage::totals(&tables, &project, now - 60, now + 60).await?;
//! assert!(totals.contains(&(Metric::Requests, "GET /rest/v1/{table} 200".to_owned(), 3)));
//! assert!(totals.contains(&(Metric::RowsRead, "todos".to_owned(), 25)));
//! let per_hour = usage::series(&tables, &project, Metric::Requests, now - 3600, now + 3600, Step::Hour).await?;
//! assert_eq!(per_hour, vec![(now - now % 3600, 3)]);
//! sink.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod batch;
mod meter;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use easbase_schema::{Dialect, Ident, Schema};
use sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Order, Query, TableRef};
use tokio::sync::Notify;

pub use batch::TaskProbe;
pub(crate) use batch::{Batch, Counters, Worker};
pub use meter::RequestOutcome;
pub(crate) use meter::method_label;

use crate::context::ProjectId;
use crate::db::{BuildStmt, Db, Scope, Stmt};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::project::Platform;

/// The name of the usage table in the platform database.
pub const USAGE_TABLE: &str = "usage_counters";

/// The longest label kept (longer ones are cut, at a character boundary).
pub const MAX_LABEL_CHARS: usize = 200;

/// Rows per insert statement: 5 bound values each, far below every engine's limit.
const ROWS_PER_STATEMENT: usize = 2000;

// ---- where the platform tables are ----------------------------------------------------------

/// Where the platform tables live: the platform database and, on PostgreSQL, the schema
/// holding them ([`crate::project::PlatformConfig::platform_schema`]). Cheap to clone.
///
/// ```
/// use easbase_core::db::{Db, SqliteConfig};
/// use easbase_core::usage::PlatformTables;
/// let tables = PlatformTables::new(Db::open_sqlite(SqliteConfig::in_memory())?, None);
/// assert_eq!(tables.db().dialect(), easbase_core::schema::Dialect::Sqlite);
/// # Ok::<(), easbase_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PlatformTables {
    db: Db,
    schema: Option<Ident>,
}

impl PlatformTables {
    /// The platform tables on `db`, in `pg_schema` on PostgreSQL (ignored on SQLite).
    pub fn new(db: Db, pg_schema: Option<Ident>) -> PlatformTables {
        PlatformTables { db, schema: pg_schema }
    }

    /// The platform tables of a [`Platform`].
    pub fn of(platform: &Platform) -> PlatformTables {
        PlatformTables::new(platform.db().clone(), Some(platform.config().platform_schema.clone()))
    }

    /// The platform database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A platform table, schema-qualified on PostgreSQL.
    pub(crate) fn table(&self, name: &str) -> TableRef {
        use sea_query::IntoTableRef;
        match (&self.schema, self.db.dialect()) {
            (Some(s), Dialect::Postgres) => (Alias::new(s.as_str()), Alias::new(name)).into_table_ref(),
            _ => Alias::new(name).into_table_ref(),
        }
    }

    pub(crate) fn stmt(&self, q: &impl BuildStmt) -> Stmt {
        q.build_for(self.db.dialect())
    }

    /// In an insert-or-update, `table.column` plus the value the insert proposed:
    /// `excluded.column` (PostgreSQL, SQLite) or `VALUES(column)` (MySQL).
    pub(crate) fn add_proposed(&self, table: &str, column: &str) -> Expr {
        let current = Expr::col((Alias::new(table), Alias::new(column)));
        match self.db.dialect() {
            Dialect::Mysql => current.add(Expr::cust(format!(
                "VALUES({})",
                easbase_schema::ddl::quote_ident(Dialect::Mysql, column)
            ))),
            _ => current.add(Expr::col((Alias::new("excluded"), Alias::new(column)))),
        }
    }

    /// `CAST(expr AS <64-bit integer>)`: `bigint`, or `signed` on MySQL.
    pub(crate) fn cast_i64(&self, expr: Expr) -> Expr {
        let ty = if self.db.dialect() == Dialect::Mysql { "signed" } else { "bigint" };
        expr.cast_as(Alias::new(ty))
    }
}

// ---- stats ----------------------------------------------------------------------------------

/// What a batching sink has done since it started ([`BatchingSink::stats`],
/// [`crate::logs::BatchingLogSink::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushStats {
    /// Events (or log entries) accepted by `record`.
    pub recorded: u64,
    /// Events refused because too many were pending (the database was too slow or down).
    pub dropped: u64,
    /// Flushes that wrote something (one transaction each).
    pub flushes: u64,
    /// Insert statements executed by those flushes. The usage sink writes up to 2,000
    /// counters per statement; the log sink writes entries in statements of fixed sizes
    /// (128, 32, 8 and 1 rows, the largest that fits first: 250 entries take 9), whose
    /// SQL is built once and reused by the engines' statement caches.
    pub statements: u64,
    /// Rows those statements carried (aggregated counters, or log entries).
    pub rows: u64,
    /// Flushes that failed (their entries were kept for the next flush).
    pub failures: u64,
    /// Retention passes run (log sink).
    pub prunes: u64,
    /// Rows deleted by retention (log sink).
    pub pruned_rows: u64,
    /// Entries waiting for the next flush.
    pub pending: u64,
}

// ---- events ---------------------------------------------------------------------------------

/// What is metered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Metric {
    /// API requests; label `"{METHOD} {route} {status}"`.
    Requests,
    /// Rows returned to callers; label: the table.
    RowsRead,
    /// Rows inserted, updated or deleted; label: the table.
    RowsWritten,
    /// Auth events; label: the kind (`sign_up`, `sign_in`, `token_refresh`, …).
    AuthEvents,
    /// Change of stored bytes (negative when objects are deleted); label: the bucket.
    StorageBytes,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 5] =
        [Metric::Requests, Metric::RowsRead, Metric::RowsWritten, Metric::AuthEvents, Metric::StorageBytes];

    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::RowsRead => "rows_read",
            Metric::RowsWritten => "rows_written",
            Metric::AuthEvents => "auth_events",
            Metric::StorageBytes => "storage_bytes",
        }
    }

    /// The metric of a stored name.
    ///
    /// ```
    /// use easbase_core::usage::Metric;
    /// assert_eq!(Metric::from_name("rows_read"), Some(Metric::RowsRead));
    /// assert_eq!(Metric::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metered event: `value` is added to the counter of (project, minute of `at`,
/// metric, label).
///
/// Labels should have few distinct values (a route template such as
/// `/rest/v1/{table}`, not a path with ids): every distinct label is a row per minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    /// The project.
    pub project: ProjectId,
    /// When, in Unix seconds (times before 1970 count as 0).
    pub at: i64,
    /// What.
    pub metric: Metric,
    /// Which (cut to [`MAX_LABEL_CHARS`], control characters dropped).
    pub label: String,
    /// How much (1 for a request; a byte delta for storage).
    pub value: i64,
}

/// The current time in Unix seconds.
fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl UsageEvent {
    /// An event now.
    pub fn new(project: &ProjectId, metric: Metric, label: impl Into<String>, value: i64) -> UsageEvent {
        UsageEvent { project: project.clone(), at: now_secs(), metric, label: label.into(), value }
    }

    /// One API request: label `"{METHOD} {route} {status}"`. `route` should be the
    /// route's template, not the path.
    ///
    /// ```
    /// use easbase_core::context::ProjectId;
    /// use easbase_core::usage::UsageEvent;
    /// let e = UsageEvent::request(&ProjectId::new("acme")?, "/rest/v1/{table}", "get", 404);
    /// assert_eq!(e.label, "GET /rest/v1/{table} 404");
    /// # Ok::<(), easbase_core::Error>(())
    /// ```
    pub fn request(project: &ProjectId, route: &str, method: &str, status: u16) -> UsageEvent {
        let label = format!("{} {route} {status}", method.to_ascii_uppercase());
        UsageEvent::new(project, Metric::Requests, label, 1)
    }

    /// `rows` rows returned from `table`.
    pub fn rows_read(project: &ProjectId, table: &str, rows: u64) -> UsageEvent {
        UsageEvent::new(project, Metric::RowsRead, table, saturating_i64(rows))
    }

    /// `rows` rows inserted, updated or deleted in `table`.
    pub fn rows_written(project: &ProjectId, table: &str, rows: u64) -> UsageEvent {
        UsageEvent::new(project, Metric::RowsWritten, table, saturating_i64(rows))
    }

    /// One auth event of `kind` (`sign_up`, `sign_in`, `token_refresh`, `otp_sent`, …).
    pub fn auth(project: &ProjectId, kind: &str) -> UsageEvent {
        UsageEvent::new(project, Metric::AuthEvents, kind, 1)
    }

    /// Stored bytes in `bucket` changed by `delta` (negative for deletions).
    pub fn storage_bytes(project: &ProjectId, bucket: &str, delta: i64) -> UsageEvent {
        UsageEvent::new(project, Metric::StorageBytes, bucket, delta)
    }

    /// The same event at another time (Unix seconds).
    #[must_use]
    pub fn at(mut self, unix_secs: i64) -> UsageEvent {
        self.at = unix_secs;
        self
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Cuts `s` to `max` characters and drops control characters.
pub(crate) fn clean(s: &str, max: usize) -> String {
    if is_clean(s, max) {
        return s.to_owned();
    }
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// [`clean`] of an owned string: the same string when nothing is to be cut or dropped.
fn clean_owned(s: String, max: usize) -> String {
    if is_clean(&s, max) { s } else { clean(&s, max) }
}

/// The common case, checked a byte at a time: short ASCII without control characters.
fn is_clean(s: &str, max: usize) -> bool {
    s.len() <= max && s.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
}

// ---- the sink trait -------------------------------------------------------------------------

/// Where usage events go. Pluggable: the default is [`BatchingSink`]; a host may send
/// events to its own metrics system instead.
///
/// ```
/// use std::sync::atomic::{AtomicI64, Ordering};
/// use easbase_core::usage::{UsageEvent, UsageSink};
///
/// /// Counts requests in a single number.
/// #[derive(Default)]
/// struct Counter(AtomicI64);
///
/// #[async_trait::async_trait]
/// impl UsageSink for Counter {
///     fn record(&self, event: UsageEvent) {
///         self.0.fetch_add(event.value, Ordering::Relaxed);
///     }
/// }
/// ```
#[async_trait]
pub trait UsageSink: Send + Sync {
    /// Takes one event. Called on the request path: must be cheap and must not wait on
    /// I/O (no `.await`, no blocking call).
    fn record(&self, event: UsageEvent);

    /// Takes one finished request ([`Platform::record_request`] calls it). The default
    /// records [`RequestOutcome::usage_event`]; a sink may count it more cheaply, as
    /// [`BatchingSink`] does (no label is built when its counter already exists). The same
    /// rules as [`UsageSink::record`] apply.
    fn record_request(&self, outcome: &RequestOutcome<'_>) {
        self.record(outcome.usage_event());
    }

    /// Writes what is pending now (tests, graceful stop). The default does nothing.
    ///
    /// # Errors
    /// The sink's storage errors ([`Error::Database`], [`Error::Unavailable`]).
    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Drops what is pending for `project`, which was deleted, and whatever is recorded
    /// for it from now on, so a flush never writes counters of a deleted project back.
    /// [`Platform::delete_project`] calls it on the sinks attached with
    /// [`Platform::attach_usage_sink`] (in every process on the platform database, through
    /// its cross-process events). The default does nothing.
    fn forget_project(&self, project: &ProjectId) {
        let _ = project;
    }
}

/// How many deleted projects a [`BatchingSink`] remembers, to drop their late events.
const FORGOTTEN_PROJECTS: usize = 1024;

// ---- the batching sink ----------------------------------------------------------------------

/// How a [`BatchingSink`] batches.
#[derive(Debug, Clone)]
pub struct UsageConfig {
    /// How often pending counters are written (default 10 s; at least 10 ms).
    pub flush_every: Duration,
    /// Flush early once this many distinct counters are pending (default 1,000).
    pub max_keys: usize,
    /// Refuse new counters (counting them as dropped) once this many are pending, when
    /// the database cannot keep up (default 100,000). Existing counters still add up.
    pub max_pending_keys: usize,
}

impl Default for UsageConfig {
    fn default() -> UsageConfig {
        UsageConfig { flush_every: Duration::from_secs(10), max_keys: 1000, max_pending_keys: 100_000 }
    }
}

/// A pending counter's key.
#[derive(Debug, Clone)]
struct Key {
    project: ProjectId,
    bucket: i64,
    metric: Metric,
    label: String,
}

/// A counter's key as the pending map hashes and compares it: owned ([`Key`]) or borrowed
/// from a request ([`RequestKey`], whose label is still in pieces). Both go through the
/// same hashing calls ([`LabelWords`]), so a request finds its counter without building
/// its label; only a new counter gets an owned [`Key`].
trait KeyView {
    fn project(&self) -> &str;
    fn bucket(&self) -> i64;
    fn metric(&self) -> Metric;
    /// The label's pieces, in order: their concatenation is the label.
    fn label_pieces(&self) -> [&str; 5];
}

impl KeyView for Key {
    fn project(&self) -> &str {
        self.project.as_str()
    }
    fn bucket(&self) -> i64 {
        self.bucket
    }
    fn metric(&self) -> Metric {
        self.metric
    }
    fn label_pieces(&self) -> [&str; 5] {
        [&self.label, "", "", "", ""]
    }
}

/// Feeds bytes to a hasher eight at a time, whatever pieces they come in, so that a key
/// hashes the same with its label whole or in pieces (a `Hasher` need not be streaming).
struct LabelWords<'h, H: Hasher> {
    hasher: &'h mut H,
    word: u64,
    filled: u32,
    len: usize,
}

impl<H: Hasher> LabelWords<'_, H> {
    fn push(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        // Complete a partial word, then whole words straight from the input, then the tail.
        while self.filled != 0
            && let Some((&b, rest)) = bytes.split_first()
        {
            self.byte(b);
            bytes = rest;
        }
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            self.hasher.write_u64(u64::from_le_bytes(le));
        }
        for &b in words.remainder() {
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        self.word |= u64::from(b) << (8 * self.filled);
        self.filled += 1;
        if self.filled == 8 {
            self.hasher.write_u64(self.word);
            self.word = 0;
            self.filled = 0;
        }
    }

    fn finish(self) {
        self.hasher.write_u64(self.word);
        self.hasher.write_usize(self.len);
    }
}

impl Hash for dyn KeyView + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.project().hash(state);
        state.write_i64(self.bucket());
        state.write_u8(self.metric() as u8);
        let mut words = LabelWords { hasher: state, word: 0, filled: 0, len: 0 };
        for piece in self.label_pieces() {
            words.push(piece.as_bytes());
        }
        words.finish();
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.bucket() == other.bucket()
            && self.metric() == other.metric()
            && self.project() == other.project()
            && pieces_eq(&self.label_pieces(), &other.label_pieces())
    }
}

/// Whether two lists of pieces have the same concatenation (compared slice by slice).
fn pieces_eq(a: &[&str], b: &[&str]) -> bool {
    let (mut a, mut b) = (a.iter().map(|p| p.as_bytes()), b.iter().map(|p| p.as_bytes()));
    let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
    loop {
        while x.is_empty() {
            match a.next() {
                Some(p) => x = p,
                None => break,
            }
        }
        while y.is_empty() {
            match b.next() {
                Some(p) => y = p,
                None => break,
            }
        }
        if x.is_empty() || y.is_empty() {
            return x.is_empty() && y.is_empty();
        }
        let n = x.len().min(y.len());
        if x[..n] != y[..n] {
            return false;
        }
        x = &x[n..];
        y = &y[n..];
    }
}

impl Eq for dyn KeyView + '_ {}

impl<'a> Borrow<dyn KeyView + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn KeyView).hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        (self as &dyn KeyView) == (other as &dyn KeyView)
    }
}

impl Eq for Key {}

/// The key of a request's counter, label `"{METHOD} {route} {status}"` in pieces.
struct RequestKey<'a> {
    project: &'a ProjectId,
    bucket: i64,
    method: &'static str,
    route: &'a str,
    status: [u8; 5],
    status_len: usize,
}

impl<'a> RequestKey<'a> {
    /// The key of `outcome`'s counter, when its label needs no cleaning (else `None`:
    /// the event goes the general way).
    fn of(outcome: &RequestOutcome<'a>) -> Option<RequestKey<'a>> {
        let method = method_label(outcome.method);
        let mut status = [0u8; 5];
        let mut n = outcome.status;
        let mut status_len = 0;
        loop {
            status[status_len] = b'0' + (n % 10) as u8;
            status_len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        status[..status_len].reverse();
        let route = outcome.route;
        let len = method.len() + 1 + route.len() + 1 + status_len;
        let clean = len <= MAX_LABEL_CHARS && route.bytes().all(|b| b.is_ascii() && !b.is_ascii_control());
        clean.then(|| RequestKey {
            project: outcome.ctx.project(),
            bucket: Ord::max(outcome.started_ms.div_euclid(1000), 0) / 60,
            method,
            route,
            status,
            status_len,
        })
    }

    fn to_key(&self) -> Key {
        Key {
            project: self.project.clone(),
            bucket: self.bucket,
            metric: Metric::Requests,
            label: self.label_pieces().concat(),
        }
    }
}

impl KeyView for RequestKey<'_> {
    fn project(&self) -> &str {
        self.project.as_str()
    }
    fn bucket(&self) -> i64 {
        self.bucket
    }
    fn metric(&self) -> Metric {
        Metric::Requests
    }
    fn label_pieces(&self) -> [&str; 5] {
        // ASCII digits: always valid UTF-8.
        let status = std::str::from_utf8(&self.status[..self.status_len]).unwrap_or_default();
        [self.method, " ", self.route, " ", status]
    }
}

struct UsageState {
    tables: PlatformTables,
    config: UsageConfig,
    pending: Mutex<HashMap<Key, i64>>,
    wake: Notify,
    flushing: tokio::sync::Mutex<()>,
    counters: Counters,
    /// Projects deleted lately (bounded, oldest first): their events are dropped.
    forgotten: Mutex<std::collections::VecDeque<ProjectId>>,
    /// Whether `forgotten` ever held a project: until then `record` takes no lock for it.
    any_forgotten: AtomicBool,
}

/// The default [`UsageSink`]: counters aggregated in memory and written by a background
/// task in one multi-row insert-or-add per flush. See the [module docs](self).
///
/// Dropping the sink stops its task after one last flush; [`BatchingSink::shutdown`]
/// does the same and waits for it.
pub struct BatchingSink {
    state: Arc<UsageState>,
    worker: Worker,
}

impl std::fmt::Debug for BatchingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingSink").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl BatchingSink {
    /// Starts a sink writing to `tables` (which must hold [`UsageModule`]'s table), with
    /// its background task on the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] outside a tokio runtime, or when `max_keys` is 0.
    pub fn start(tables: PlatformTables, config: UsageConfig) -> Result<BatchingSink> {
        if config.max_keys == 0 {
            return Err(Error::Config("usage: max_keys must be at least 1".into()));
        }
        let every = config.flush_every;
        let state = Arc::new(UsageState {
            tables,
            config,
            pending: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            flushing: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            forgotten: Mutex::new(std::collections::VecDeque::new()),
            any_forgotten: AtomicBool::new(false),
        });
        let worker = Worker::spawn(Arc::clone(&state), every)?;
        Ok(BatchingSink { state, worker })
    }

    /// What the sink has done so far.
    pub fn stats(&self) -> FlushStats {
        let pending = self.state.pending.lock().unwrap_or_else(PoisonError::into_inner).len();
        self.state.counters.snapshot(pending as u64)
    }

    /// A probe telling whether the sink's task still runs (it does not keep it alive).
    pub fn probe(&self) -> TaskProbe {
        let weak: std::sync::Weak<dyn std::any::Any + Send + Sync> = Arc::downgrade(&self.state) as _;
        TaskProbe(weak)
    }

    /// Stops the background task, then writes what is pending. Events recorded afterwards
    /// are only written by an explicit [`UsageSink::flush`].
    ///
    /// # Errors
    /// As [`UsageSink::flush`]; the counters that could not be written stay pending.
    pub async fn shutdown(&self) -> Result<()> {
        self.worker.stop().await;
        self.state.flush().await
    }
}

#[async_trait]
impl UsageSink for BatchingSink {
    fn record(&self, event: UsageEvent) {
        self.state.record(event);
    }

    fn record_request(&self, outcome: &RequestOutcome<'_>) {
        match RequestKey::of(outcome) {
            Some(key) => self.state.record_request(&key),
            None => self.state.record(outcome.usage_event()),
        }
    }

    async fn flush(&self) -> Result<()> {
        self.state.flush().await
    }

    fn forget_project(&self, project: &ProjectId) {
        self.state.forget_project(project);
    }
}

impl UsageState {
    fn is_forgotten(&self, project: &ProjectId) -> bool {
        self.any_forgotten.load(Ordering::Acquire)
            && self.forgotten.lock().unwrap_or_else(PoisonError::into_inner).contains(project)
    }

    fn forget_project(&self, project: &ProjectId) {
        {
            let mut forgotten = self.forgotten.lock().unwrap_or_else(PoisonError::into_inner);
            self.any_forgotten.store(true, Ordering::Release);
            if !forgotten.contains(project) {
                if forgotten.len() >= FORGOTTEN_PROJECTS {
                    forgotten.pop_front();
                }
                forgotten.push_back(project.clone());
            }
        }
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).retain(|k, _| &k.project != project);
    }

    fn record(&self, event: UsageEvent) {
        if event.value == 0 || self.is_forgotten(&event.project) {
            return;
        }
        let key = Key {
            project: event.project,
            bucket: Ord::max(event.at, 0) / 60,
            metric: event.metric,
            label: clean_owned(event.label, MAX_LABEL_CHARS),
        };
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(v) = pending.get_mut(&key) {
                *v = v.saturating_add(event.value);
            } else if pending.len() >= self.config.max_pending_keys {
                drop(pending);
                Counters::add(&self.counters.dropped, 1);
                return;
            } else {
                pending.insert(key, event.value);
            }
            pending.len() >= self.config.max_keys
        };
        Counters::add(&self.counters.recorded, 1);
        if full {
            self.wake.notify_one();
        }
    }

    /// One request (value 1), as [`UsageState::record`] of its event would count it.
    fn record_request(&self, key: &RequestKey<'_>) {
        if self.is_forgotten(key.project) {
            return;
        }
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(v) = pending.get_mut(key as &dyn KeyView) {
                *v = v.saturating_add(1);
            } else if pending.len() >= self.config.max_pending_keys {
                drop(pending);
                Counters::add(&self.counters.dropped, 1);
                return;
            } else {
                pending.insert(key.to_key(), 1);
            }
            pending.len() >= self.config.max_keys
        };
        Counters::add(&self.counters.recorded, 1);
        if full {
            self.wake.notify_one();
        }
    }

    /// Puts counters that could not be written back, within the pending bound.
    fn restore(&self, mut rows: Vec<(Key, i64)>) {
        rows.retain(|(k, _)| !self.is_forgotten(&k.project));
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let mut lost = 0;
        for (key, value) in rows {
            if let Some(v) = pending.get_mut(&key) {
                *v = v.saturating_add(value);
            } else if pending.len() < self.config.max_pending_keys {
                pending.insert(key, value);
            } else {
                lost += 1;
            }
        }
        drop(pending);
        Counters::add(&self.counters.dropped, lost);
    }

    fn upsert(&self, rows: &[(Key, i64)]) -> Stmt {
        let tables = &self.tables;
        let mut q = Query::insert();
        q.into_table(tables.table(USAGE_TABLE))
            .columns(["project_id", "bucket", "metric", "label", "value"].map(Alias::new));
        for (key, value) in rows {
            q.values_panic([
                key.project.as_str().into(),
                key.bucket.into(),
                key.metric.as_str().into(),
                key.label.as_str().into(),
                (*value).into(),
            ]);
        }
        q.on_conflict(
            OnConflict::columns(["project_id", "bucket", "metric", "label"].map(Alias::new))
                .value(Alias::new("value"), tables.add_proposed(USAGE_TABLE, "value"))
                .to_owned(),
        );
        tables.stmt(&q)
    }

    async fn flush(&self) -> Result<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if batch.is_empty() {
            return Ok(());
        }
        self.write(batch.into_iter().collect()).await
    }

    /// Writes counters in one transaction (one statement up to 2,000 counters); on
    /// failure they go back to the pending map.
    #[tracing::instrument(name = "usage.flush", level = "debug", skip_all, fields(counters = rows.len()))]
    async fn write(&self, mut rows: Vec<(Key, i64)>) -> Result<()> {
        rows.retain(|(k, _)| !self.is_forgotten(&k.project));
        if rows.is_empty() {
            return Ok(());
        }
        let statements: Vec<Stmt> = rows.chunks(ROWS_PER_STATEMENT).map(|c| self.upsert(c)).collect();
        let n = statements.len() as u64;
        match self.tables.db.transaction(&Scope::default(), statements).await {
            Ok(_) => {
                // A project deleted while this batch was being written: remove what was
                // just written back for it (its own deletion may have run before).
                let late: std::collections::BTreeSet<&str> = rows
                    .iter()
                    .filter(|(k, _)| self.is_forgotten(&k.project))
                    .map(|(k, _)| k.project.as_str())
                    .collect();
                if !late.is_empty() {
                    let q = Query::delete()
                        .from_table(self.tables.table(USAGE_TABLE))
                        .and_where(Expr::col(Alias::new("project_id")).is_in(late))
                        .to_owned();
                    self.tables.db.execute(self.tables.stmt(&q)).await?;
                }
                Counters::add(&self.counters.flushes, 1);
                Counters::add(&self.counters.statements, n);
                Counters::add(&self.counters.rows, rows.len() as u64);
                Ok(())
            }
            Err(e) => {
                Counters::add(&self.counters.failures, 1);
                tracing::warn!(code = e.code(), error = %e, "usage flush failed; counters kept for the next one");
                self.restore(rows);
                Err(e)
            }
        }
    }
}

#[async_trait]
impl Batch for UsageState {
    fn wake(&self) -> &Notify {
        &self.wake
    }

    async fn flush(&self) -> Result<()> {
        UsageState::flush(self).await
    }
}

// ---- the module -----------------------------------------------------------------------------

/// The platform table of usage counters: give it to [`Platform::open`].
///
/// `usage_counters (project_id, bucket, metric, label, value)`, primary key
/// `(project_id, bucket, metric, label)`; `bucket` is the Unix minute (`bigint`).
/// (`usage` itself is a reserved word in MySQL, hence the name.)
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageModule;

const USAGE_SCHEMA: &str = r#"{ "tables": [
  { "name": "usage_counters", "comment": "EasBase usage counters per project and minute",
    "columns": [
      { "name": "project_id", "type": "varchar(40)", "required": true },
      { "name": "bucket", "type": "bigint", "required": true },
      { "name": "metric", "type": "varchar(40)", "required": true },
      { "name": "label", "type": "varchar(200)", "required": true },
      { "name": "value", "type": "bigint", "required": true, "default": 0 }
    ],
    "primary_key": ["project_id", "bucket", "metric", "label"] }
] }"#;

#[async_trait]
impl Module for UsageModule {
    fn name(&self) -> &'static str {
        "usage"
    }

    fn platform_schema(&self) -> Schema {
        Schema::from_json(USAGE_SCHEMA).unwrap_or_default()
    }
}

// ---- queries --------------------------------------------------------------------------------

/// The width of a [`series`] period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// One minute.
    Minute,
    /// One hour (UTC).
    Hour,
    /// One day (UTC).
    Day,
}

impl Step {
    /// Minutes per step.
    pub fn minutes(self) -> i64 {
        match self {
            Step::Minute => 1,
            Step::Hour => 60,
            Step::Day => 1440,
        }
    }
}

/// `ceil(a / b)` for `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// The minute buckets whose start lies in `[from, to)` (Unix seconds).
fn bucket_range(from: i64, to: i64) -> (i64, i64) {
    (ceil_div(from, 60), ceil_div(to, 60))
}

fn sum_value(tables: &PlatformTables) -> Expr {
    tables.cast_i64(Expr::expr(Func::sum(Expr::col(Alias::new("value")))))
}

fn corrupt(what: &str) -> Error {
    Error::Database { sqlstate: None, message: format!("the usage table holds an unreadable {what}") }
}

/// The values of `metric` for `project`, summed over labels per `step`: `(start of the
/// period in Unix seconds, value)`, oldest first. Counted are the minutes starting in
/// `[from, to)` (Unix seconds); periods without events are left out (they are zero).
///
/// # Errors
/// [`Error::Database`], [`Error::Unavailable`].
pub async fn series(
    tables: &PlatformTables,
    project: &ProjectId,
    metric: Metric,
    from: i64,
    to: i64,
    step: Step,
) -> Result<Vec<(i64, i64)>> {
    let (lo, hi) = bucket_range(from, to);
    if lo >= hi {
        return Ok(Vec::new());
    }
    // The step is one of three fixed numbers, written into the SQL so that the grouped
    // expression is the same text in SELECT, GROUP BY and ORDER BY.
    let width = Expr::cust(step.minutes().to_string());
    let period = match tables.db.dialect() {
        // `/` divides exactly in MySQL; `DIV` truncates as `/` does on integers elsewhere.
        Dialect::Mysql => Expr::cust(format!("(`bucket` DIV {0}) * {0}", step.minutes())),
        _ => Expr::col(Alias::new("bucket")).div(width.clone()).mul(width),
    };
    let mut q = Query::select();
    q.expr_as(period.clone(), Alias::new("period"))
        .expr_as(sum_value(tables), Alias::new("total"))
        .from(tables.table(USAGE_TABLE))
        .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
        .and_where(Expr::col(Alias::new("metric")).eq(metric.as_str()))
        .and_where(Expr::col(Alias::new("bucket")).gte(lo))
        .and_where(Expr::col(Alias::new("bucket")).lt(hi))
        .add_group_by([period.clone()])
        .order_by_expr(period, Order::Asc);
    let rows = tables.db.query(tables.stmt(&q)).await?;
    rows.iter()
        .map(|r| {
            let minute = r.int("period").map_err(|_| corrupt("period"))?;
            Ok((minute.saturating_mul(60), r.int("total").map_err(|_| corrupt("value"))?))
        })
        .collect()
}

/// The totals of every metric and label for `project` over the minutes starting in
/// `[from, to)` (Unix seconds), ordered by metric and label. Metrics this version does not
/// know (written by a newer one) are left out.
///
/// # Errors
/// [`Error::Database`], [`Error::Unavailable`].
pub async fn totals(
    tables: &PlatformTables,
    project: &ProjectId,
    from: i64,
    to: i64,
) -> Result<Vec<(Metric, String, i64)>> {
    let (lo, hi) = bucket_range(from, to);
    if lo >= hi {
        return Ok(Vec::new());
    }
    let mut q = Query::select();
    q.column(Alias::new("metric"))
        .column(Alias::new("label"))
        .expr_as(sum_value(tables), Alias::new("total"))
        .from(tables.table(USAGE_TABLE))
        .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
        .and_where(Expr::col(Alias::new("bucket")).gte(lo))
        .and_where(Expr::col(Alias::new("bucket")).lt(hi))
        .group_by_columns([Alias::new("metric"), Alias::new("label")])
        .order_by(Alias::new("metric"), Order::Asc)
        .order_by(Alias::new("label"), Order::Asc);
    let rows = tables.db.query(tables.stmt(&q)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let Some(metric) = Metric::from_name(&r.text("metric")?) else { continue };
        out.push((metric, r.text("label")?, r.int("total").map_err(|_| corrupt("value"))?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_minutes_starting_in_the_range() {
        assert_eq!(bucket_range(0, 60), (0, 1));
        assert_eq!(bucket_range(1, 60), (1, 1));
        assert_eq!(bucket_range(59, 121), (1, 3));
        assert_eq!(bucket_range(-61, 0), (-1, 0));
    }

    #[test]
    fn labels_are_cleaned() {
        assert_eq!(clean("a\nb\u{7}c", 10), "abc");
        assert_eq!(clean(&"é".repeat(300), MAX_LABEL_CHARS).chars().count(), MAX_LABEL_CHARS);
    }

    #[test]
    fn the_module_schema_parses() {
        assert_eq!(UsageModule.platform_schema().tables.len(), 1);
    }

    #[test]
    fn pieces_compare_by_their_concatenation() {
        let cases: [(&[&str], &[&str], bool); 8] = [
            (&["GET /a 200"], &["GET", " ", "/a", " ", "200"], true),
            (&["GET /a 200"], &["GET", " ", "/a", " ", "201"], false),
            (&["GET /a 20"], &["GET", " ", "/a", " ", "200"], false),
            (&["GET /a 200", ""], &["GET", " ", "/a", " ", "20"], false),
            (&["", ""], &[""], true),
            (&["a"], &[""], false),
            (&["", "ab", "", "c"], &["a", "bc"], true),
            (&["abc"], &["ab", "d"], false),
        ];
        for (a, b, want) in cases {
            assert_eq!(pieces_eq(a, b), want, "{a:?} {b:?}");
            assert_eq!(pieces_eq(b, a), want, "{b:?} {a:?}");
        }
    }

    #[test]
    fn labels_hash_the_same_whole_or_in_pieces() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let label = "GET /rest/v1/some_longer_table_name/{id} 200";
        let whole = state.hash_one(Key {
            project: ProjectId::new("p").unwrap(),
            bucket: 1,
            metric: Metric::Requests,
            label: label.into(),
        });
        for i in 0..=label.len() {
            for j in i..=label.len() {
                let mut hasher = state.build_hasher();
                "p".hash(&mut hasher);
                hasher.write_i64(1);
                hasher.write_u8(Metric::Requests as u8);
                let mut words = LabelWords { hasher: &mut hasher, word: 0, filled: 0, len: 0 };
                for piece in [&label[..i], &label[i..j], &label[j..]] {
                    words.push(piece.as_bytes());
                }
                words.finish();
                assert_eq!(hasher.finish(), whole, "{i} {j}");
            }
        }
    }

    #[tokio::test]
    async fn requests_find_their_counter_without_a_label() {
        use crate::context::RequestContext;
        let db = Db::open_sqlite(crate::db::SqliteConfig::in_memory()).unwrap();
        let sink = BatchingSink::start(PlatformTables::new(db, None), UsageConfig::default()).unwrap();
        let ctx = RequestContext::new(
            ProjectId::new("acme").unwrap(),
            easbase_schema::Role::Anon,
            Default::default(),
            None,
        );
        let long = "r".repeat(MAX_LABEL_CHARS);
        let routes = ["/rest/v1/{table}", "", "/ü", "/a\nb", long.as_str(), &long[..MAX_LABEL_CHARS - 12]];
        let mut want = 0;
        for route in routes {
            for (method, status) in [("get", 200), ("PoSt", 0), ("brew", 65535), ("DELETE", 404)] {
                let outcome = RequestOutcome {
                    ctx: &ctx,
                    method,
                    route,
                    path: "/",
                    status,
                    started_ms: 61_999,
                    duration: std::time::Duration::ZERO,
                    error_code: None,
                };
                let event = outcome.usage_event();
                if let Some(key) = RequestKey::of(&outcome) {
                    let owned = Key {
                        project: event.project.clone(),
                        bucket: event.at / 60,
                        metric: Metric::Requests,
                        label: event.label.clone(),
                    };
                    assert_eq!(key.to_key().label, owned.label);
                    assert!((&key as &dyn KeyView) == (&owned as &dyn KeyView));
                    let state = std::collections::hash_map::RandomState::new();
                    use std::hash::BuildHasher;
                    assert_eq!(state.hash_one(&key as &dyn KeyView), state.hash_one(&owned));
                }
                // Both ways count into the same counter.
                sink.record_request(&outcome);
                sink.record(event);
                want += 1;
                let pending = sink.state.pending.lock().unwrap();
                assert_eq!(pending.len(), want, "{method} {route:?} {status}");
                assert!(pending.values().all(|v| *v == 2));
            }
        }
        assert_eq!(sink.stats().recorded, 2 * want as u64);
        sink.state.pending.lock().unwrap().clear(); // there is no table to flush to
        sink.shutdown().await.unwrap();
    }
}
