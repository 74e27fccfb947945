//! Request logs per project, with bounded retention, for a dashboard.
//!
//! The HTTP layer builds a [`RequestLog`] per request (usually with
//! [`RequestLog::from_context`]) and hands it to a [`LogSink`]. The default sink,
//! [`BatchingLogSink`], keeps entries in memory and a background task writes them to the
//! `request_logs` platform table ([`LogsModule`]) in one transaction per flush, as a few
//! multi-row inserts of fixed sizes (128, 32, 8 and 1 rows) whose SQL is built once, so
//! the engines reuse their prepared statements; every [`LogConfig::prune_every`] flushes
//! it applies the [`Retention`] bound (see [`Retention`] for how, with one index).
//! [`query`] reads them back newest first, with filters and keyset pagination.
//!
//! On the request path, [`crate::project::Platform::record_request`] hands the sink the
//! request's [`RequestOutcome`] ([`LogSink::record_outcome`]): the batching sink builds
//! the stored entry from it in one pass, and takes no lock but its buffer's.
//!
//! **No secrets in logs.** A path's query string is reduced to its parameter *names*
//! ([`sanitize_path`]), so `?apikey=…&token=…` is stored as `?apikey&token`; no header,
//! key, token or claim other than the user id (`sub`) is ever stored. [`request_span`]
//! gives the matching `tracing` span.
//!
//! ```
//! use std::sync::Arc;
//! use easbase_core::context::ProjectId;
//! use easbase_core::db::{Db, SqliteConfig};
//! use easbase_core::logs::{self, BatchingLogSink, LogConfig, LogQuery, LogSink, LogsModule, RequestLog};
//! use easbase_core::project::{Platform, PlatformConfig};
//! use easbase_core::usage::PlatformTables;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> easbase_core::Result<()> {
//! let db = Db::open_sqlite(SqliteConfig::in_memory())?;
//! let platform = Platform::open(db, PlatformConfig::new("http://localhost"), vec![Arc::new(LogsModule)]).await?;
//! let tables = PlatformTables::of(&platform);
//! let sink = BatchingLogSink::start(tables.clone(), LogConfig::default())?;
//!
//! let project = ProjectId::new("acme")?;
//! let mut log = RequestLog::new(&project, "req-1", "GET", "/rest/v1/todos?select=id&apikey=eb_pk_secret", 200);
//! log.duration_ms = 3;
//! sink.record(log);
//! sink.flush().await?;
//!
//! let page = logs::query(&tables, &project, &LogQuery { status_min: Some(200), ..LogQuery::default() }).await?;
//! assert_eq!(page.entries.len(), 1);
//! assert_eq!(page.entries[0].log.path, "/rest/v1/todos?select&apikey");
//! assert!(page.next.is_none());
//! sink.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use easbase_schema::{Dialect, Role, Schema};
use sea_query::{Alias, Cond, Expr, ExprTrait, Func, Order, Query};
use tokio::sync::Notify;

pub use crate::usage::{FlushStats, PlatformTables, TaskProbe};

use crate::context::{ProjectId, RequestContext, role_claim};
use crate::db::{Row, Scope, Stmt};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::usage::{Batch, Counters, RequestOutcome, Worker, clean, method_label};

/// The name of the request log table in the platform database.
pub const LOGS_TABLE: &str = "request_logs";

/// The longest stored path (longer ones are cut).
pub const MAX_PATH_CHARS: usize = 1024;
/// The most entries one [`query`] returns.
pub const MAX_LIMIT: u32 = 1000;

/// Rows per insert statement, largest first: a flush of `n` entries is written in
/// statements of these fixed sizes (greedily; 10 bound values a row, far below every
/// engine's limit), so there are only four SQL texts per dialect. They are built once
/// when the sink starts; SQLite's statement cache, PostgreSQL's prepared statements and
/// sqlx's statement cache reuse them instead of parsing a new text of up to 10,000
/// placeholders at every flush.
const ROWS_PER_STATEMENT: [usize; 4] = [128, 32, 8, 1];
const MAX_REQUEST_ID_CHARS: usize = 128;
const MAX_USER_ID_CHARS: usize = 200;
const MAX_ERROR_CODE_CHARS: usize = 64;
const MAX_METHOD_CHARS: usize = 16;
const MAX_PARAM_NAME_CHARS: usize = 64;

// ---- the entry ------------------------------------------------------------------------------

/// One request, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    /// The project.
    pub project: ProjectId,
    /// The request id ([`RequestContext::request_id`]).
    pub request_id: String,
    /// When the request arrived, Unix milliseconds.
    pub at: i64,
    /// The HTTP method (upper case).
    pub method: String,
    /// The path; a query string keeps only its parameter names ([`sanitize_path`] is
    /// applied when the entry is recorded).
    pub path: String,
    /// The response status.
    pub status: u16,
    /// How long the request took.
    pub duration_ms: u64,
    /// The role it acted as.
    pub role: Option<Role>,
    /// The user id (`sub` claim) of a signed-in user.
    pub user_id: Option<String>,
    /// The error code ([`Error::code`]) of a failed request.
    pub error_code: Option<String>,
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl RequestLog {
    /// An entry for a request that arrives now, without role, user or error.
    pub fn new(project: &ProjectId, request_id: &str, method: &str, path: &str, status: u16) -> RequestLog {
        RequestLog {
            project: project.clone(),
            request_id: request_id.to_owned(),
            at: now_ms(),
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            duration_ms: 0,
            role: None,
            user_id: None,
            error_code: None,
        }
    }

    /// An entry for a request of `ctx` that started at `started` (Unix ms) and took
    /// `duration`: project, request id, role and user id come from the context (no claims
    /// and no keys).
    pub fn from_context(
        ctx: &RequestContext,
        method: &str,
        path: &str,
        status: u16,
        started: i64,
        duration: Duration,
    ) -> RequestLog {
        RequestLog {
            project: ctx.project().clone(),
            request_id: ctx.request_id().to_owned(),
            at: started,
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            role: Some(ctx.role()),
            user_id: ctx.uid().map(str::to_owned),
            error_code: None,
        }
    }

    /// The same entry with an error code.
    #[must_use]
    pub fn with_error(mut self, error: &Error) -> RequestLog {
        self.error_code = Some(error.code().to_owned());
        self
    }

    /// The entry of `outcome` as stored, in one pass: what
    /// `outcome.log().sanitized()` gives, without sanitizing the path twice or copying
    /// fields before cutting them.
    pub(crate) fn from_outcome(outcome: &RequestOutcome<'_>) -> RequestLog {
        let ctx = outcome.ctx;
        let mut path = sanitize_path(outcome.path);
        // `sanitize_path` is its own fixed point unless its result was cut to the bound
        // or holds a `scheme://` that removed control characters brought together: in
        // those rare cases sanitize again, as the stored entry always was.
        if path.len() >= MAX_PATH_CHARS || path.contains("://") {
            path = sanitize_path(&path);
        }
        RequestLog {
            project: ctx.project().clone(),
            request_id: clean(ctx.request_id(), MAX_REQUEST_ID_CHARS),
            at: outcome.started_ms,
            // A label is an upper-case standard method or `OTHER`: already normalized.
            method: method_label(outcome.method).to_owned(),
            path,
            status: outcome.status,
            duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
            role: Some(ctx.role()),
            user_id: ctx.uid().map(|u| clean(u, MAX_USER_ID_CHARS)),
            error_code: outcome.error_code.map(|c| clean(c, MAX_ERROR_CODE_CHARS)),
        }
    }

    /// The entry as stored: path sanitized, fields cut to their column sizes.
    fn sanitized(mut self) -> RequestLog {
        self.path = sanitize_path(&self.path);
        self.method = normalize_method(&self.method);
        self.request_id = clean(&self.request_id, MAX_REQUEST_ID_CHARS);
        self.user_id = self.user_id.map(|u| clean(&u, MAX_USER_ID_CHARS));
        self.error_code = self.error_code.map(|c| clean(&c, MAX_ERROR_CODE_CHARS));
        self
    }
}

fn normalize_method(method: &str) -> String {
    let m = method.trim();
    if m.is_empty() || m.len() > MAX_METHOD_CHARS || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
        return "OTHER".into();
    }
    m.to_ascii_uppercase()
}

/// A raw path's path and query: the fragment and `scheme://authority` (which may carry
/// `user:password@`) dropped.
fn path_and_query(raw: &str) -> (&str, Option<&str>) {
    let raw = raw.split('#').next().unwrap_or_default();
    let raw = match raw.find("://") {
        Some(i) if raw[..i].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) => {
            let rest = &raw[i + 3..];
            match rest.find(['/', '?']) {
                Some(j) => &rest[j..],
                None => "/",
            }
        }
        _ => raw,
    };
    match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    }
}

/// A path as logged: scheme, host and fragment dropped, the query string reduced to
/// the names of its parameters (values — keys, tokens, filters — are never kept; a name
/// that does not look like one is dropped too), control characters removed, cut to
/// [`MAX_PATH_CHARS`].
///
/// ```
/// use easbase_core::logs::sanitize_path;
/// assert_eq!(sanitize_path("/rest/v1/todos?select=*&apikey=secret&token=x"), "/rest/v1/todos?select&apikey&token");
/// assert_eq!(sanitize_path("https://user:pw@host/auth/v1/verify?token=abc#frag"), "/auth/v1/verify?token");
/// assert_eq!(sanitize_path("/a?eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"), "/a");
/// ```
pub fn sanitize_path(raw: &str) -> String {
    let (path, query) = path_and_query(raw);
    // Built in one string: the cleaned path, then `?name&name…`, then cut to the bound
    // (the names are ASCII without control characters, so only the cut applies to them).
    let mut out = String::with_capacity((path.len() + query.map_or(0, str::len) + 1).min(MAX_PATH_CHARS + 1));
    if path.len() <= MAX_PATH_CHARS && path.bytes().all(|b| b.is_ascii() && !b.is_ascii_control()) {
        out.push_str(path);
    } else {
        out.extend(path.chars().filter(|c| !c.is_control()).take(MAX_PATH_CHARS));
    }
    if let Some(query) = query {
        let mut separator = '?';
        for pair in query.split('&') {
            let name = pair.split('=').next().unwrap_or_default();
            let keep = !name.is_empty()
                && name.len() <= MAX_PARAM_NAME_CHARS
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'[' | b']'));
            if keep {
                out.push(separator);
                out.push_str(name);
                separator = '&';
            }
        }
    }
    if out.len() > MAX_PATH_CHARS
        && let Some((cut, _)) = out.char_indices().nth(MAX_PATH_CHARS)
    {
        out.truncate(cut);
    }
    out
}

/// [`sanitize_path`] as it was written first (names collected and joined, cleaned twice):
/// the reference the one-string version is tested against.
#[cfg(test)]
fn sanitize_path_reference(raw: &str) -> String {
    let (path, query) = path_and_query(raw);
    let mut out = clean(path, MAX_PATH_CHARS);
    if let Some(query) = query {
        let names: Vec<&str> = query
            .split('&')
            .map(|pair| pair.split('=').next().unwrap_or_default())
            .filter(|name| {
                !name.is_empty()
                    && name.len() <= MAX_PARAM_NAME_CHARS
                    && !name.contains('.')
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'[' | b']'))
            })
            .collect();
        if !names.is_empty() {
            out.push('?');
            out.push_str(&names.join("&"));
        }
    }
    clean(&out, MAX_PATH_CHARS)
}

/// The `tracing` span of one request: `project`, `request_id` and `role` — no claims, no
/// keys. The HTTP layers enter it around the request's work, so every event and
/// statement span inside carries them.
///
/// ```
/// use easbase_core::context::{ProjectId, RequestContext};
/// use easbase_core::logs::request_span;
/// use easbase_core::schema::Role;
/// let ctx = RequestContext::new(ProjectId::new("acme")?, Role::Anon, Default::default(), Some("req-1"));
/// let span = request_span(&ctx);
/// let _entered = span.enter();
/// # Ok::<(), easbase_core::Error>(())
/// ```
pub fn request_span(ctx: &RequestContext) -> tracing::Span {
    tracing::info_span!(
        "request",
        project = %ctx.project(),
        request_id = %ctx.request_id(),
        role = role_claim(ctx.role()),
    )
}

/// The span of one HTTP request of `service` (`"rest"`, `"auth"`, …), opened before its
/// credentials are known: `project`, `role` and `request_id` are filled in by
/// [`record_context`] once they are, `status` when the answer is ready. It holds no path,
/// query, header or body, so no key, token or password can reach a trace.
///
/// ```
/// use easbase_core::context::{ProjectId, RequestContext};
/// use easbase_core::logs::{http_request_span, record_context};
/// use easbase_core::schema::Role;
///
/// let span = http_request_span("rest", "GET");
/// let ctx = RequestContext::new(ProjectId::new("acme")?, Role::Anon, Default::default(), Some("req-1"));
/// record_context(&span, &ctx);
/// span.record("status", 200u16);
/// # Ok::<(), easbase_core::Error>(())
/// ```
pub fn http_request_span(service: &'static str, method: &str) -> tracing::Span {
    tracing::info_span!(
        "request",
        service,
        method,
        project = tracing::field::Empty,
        role = tracing::field::Empty,
        request_id = tracing::field::Empty,
        status = tracing::field::Empty,
    )
}

/// Records the resolved request context on a span from [`http_request_span`].
pub fn record_context(span: &tracing::Span, ctx: &RequestContext) {
    span.record("project", ctx.project().as_str());
    span.record("role", role_claim(ctx.role()));
    span.record("request_id", ctx.request_id());
}

fn role_from_claim(s: &str) -> Option<Role> {
    [Role::Anon, Role::Authenticated, Role::Service].into_iter().find(|r| role_claim(*r) == s)
}

// ---- the sink trait -------------------------------------------------------------------------

/// Where request logs go. Pluggable: the default is [`BatchingLogSink`].
///
/// ```
/// use std::sync::Mutex;
/// use easbase_core::logs::{LogSink, RequestLog};
///
/// /// Keeps the last entry (tests).
/// #[derive(Default)]
/// struct Last(Mutex<Option<RequestLog>>);
///
/// #[async_trait::async_trait]
/// impl LogSink for Last {
///     fn record(&self, log: RequestLog) {
///         *self.0.lock().unwrap() = Some(log);
///     }
/// }
/// ```
#[async_trait]
pub trait LogSink: Send + Sync {
    /// Takes one entry. Called on the request path: must be cheap and must not wait on
    /// I/O (no `.await`, no blocking call).
    fn record(&self, log: RequestLog);

    /// Takes the entry of one finished request
    /// ([`Platform::record_request`](crate::project::Platform::record_request) calls it).
    /// The default records [`RequestOutcome::log`]; a sink may build its entry more
    /// cheaply, as [`BatchingLogSink`] does. The same rules as [`LogSink::record`] apply.
    fn record_outcome(&self, outcome: &RequestOutcome<'_>) {
        self.record(outcome.log());
    }

    /// Writes what is pending now (tests, graceful stop). The default does nothing.
    ///
    /// # Errors
    /// The sink's storage errors ([`Error::Database`], [`Error::Unavailable`]).
    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Drops what is pending for `project`, which was deleted, and whatever is recorded
    /// for it from now on. [`crate::project::Platform::delete_project`] calls it on the
    /// sink set with [`crate::project::Platform::set_log_sink`] (in every process, through
    /// its cross-process events). The default does nothing.
    fn forget_project(&self, project: &ProjectId) {
        let _ = project;
    }
}

/// How many deleted projects a [`BatchingLogSink`] remembers, to drop their late entries.
const FORGOTTEN_PROJECTS: usize = 1024;

// ---- retention and the batching sink --------------------------------------------------------

/// How long logs are kept. Both bounds apply when both are set.
///
/// The table has one index, `(project_id, at)`, which the dashboard's queries need
/// anyway; retention works with it alone, because every index is paid for on each
/// insert and on each delete — and once a busy project reaches its row bound, every
/// entry written is matched by one deleted.
///
/// - **Row bound**: a project is cut back to its [`max_rows_per_project`] newest entries
///   once it has written a tenth of that bound since it was last cut back (so a busy
///   project briefly holds up to 10 % more, and the scan that finds the cut runs once
///   per tenth of the bound, not at every prune).
/// - **Age bound**: the background task sweeps every project that has entries (one index
///   seek per project) at its first prune, then whenever [`max_age`] ÷ 10 or an hour,
///   whichever is shorter, has passed since the last sweep: an entry may outlive
///   [`max_age`] by that much.
///
/// [`BatchingLogSink::prune`] applies both bounds at once, without either slack.
///
/// [`max_rows_per_project`]: Retention::max_rows_per_project
/// [`max_age`]: Retention::max_age
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many newest entries per project (default 100,000).
    pub max_rows_per_project: Option<u64>,
    /// Keep entries at most this old (default 7 days).
    pub max_age: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { max_rows_per_project: Some(100_000), max_age: Some(Duration::from_secs(7 * 24 * 3600)) }
    }
}

/// How a [`BatchingLogSink`] batches and prunes.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// How often pending entries are written (default 2 s; at least 10 ms).
    pub flush_every: Duration,
    /// Flush early once this many entries are pending (default 500).
    pub max_batch: usize,
    /// Drop new entries (counting them) once this many are pending, when the database
    /// cannot keep up (default 50,000).
    pub max_pending: usize,
    /// The retention bound.
    pub retention: Retention,
    /// Apply the retention bound after every this many flushes of the background task
    /// (default 10; 0 means never from the task — call [`BatchingLogSink::prune`]).
    pub prune_every: u32,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            flush_every: Duration::from_secs(2),
            max_batch: 500,
            max_pending: 50_000,
            retention: Retention::default(),
            prune_every: 10,
        }
    }
}

struct LogState {
    tables: PlatformTables,
    config: LogConfig,
    pending: Mutex<Vec<RequestLog>>,
    /// Entries written per project since its row bound was last applied (only those
    /// projects' row counts can have grown).
    touched: Mutex<HashMap<ProjectId, u64>>,
    /// When the age bound was last applied to every project.
    last_sweep: Mutex<Option<Instant>>,
    flushes_since_prune: Mutex<u32>,
    wake: Notify,
    flushing: tokio::sync::Mutex<()>,
    counters: Counters,
    /// Projects deleted lately (bounded, oldest first): their entries are dropped.
    forgotten: Mutex<std::collections::VecDeque<ProjectId>>,
    /// Whether `forgotten` ever held a project: until then `record` takes no lock for it.
    any_forgotten: AtomicBool,
    /// The insert statements' SQL, one per size of [`ROWS_PER_STATEMENT`].
    insert_sql: [String; ROWS_PER_STATEMENT.len()],
}

/// The default [`LogSink`]: entries kept in memory and written by a background task in
/// one transaction of fixed-size multi-row inserts per flush, pruned to the [`Retention`] bound every
/// [`LogConfig::prune_every`] flushes. See the [module docs](self).
///
/// Dropping the sink stops its task after one last flush; [`BatchingLogSink::shutdown`]
/// does the same and waits for it.
pub struct BatchingLogSink {
    state: Arc<LogState>,
    worker: Worker,
}

impl std::fmt::Debug for BatchingLogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingLogSink").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl BatchingLogSink {
    /// Starts a sink writing to `tables` (which must hold [`LogsModule`]'s table), with its
    /// background task on the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] outside a tokio runtime, or when `max_batch` is 0.
    pub fn start(tables: PlatformTables, config: LogConfig) -> Result<BatchingLogSink> {
        if config.max_batch == 0 {
            return Err(Error::Config("logs: max_batch must be at least 1".into()));
        }
        let every = config.flush_every;
        let insert_sql = ROWS_PER_STATEMENT.map(|rows| insert_sql(&tables, rows));
        let state = Arc::new(LogState {
            insert_sql,
            tables,
            config,
            pending: Mutex::new(Vec::new()),
            touched: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(None),
            flushes_since_prune: Mutex::new(0),
            wake: Notify::new(),
            flushing: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            forgotten: Mutex::new(std::collections::VecDeque::new()),
            any_forgotten: AtomicBool::new(false),
        });
        let worker = Worker::spawn(Arc::clone(&state), every)?;
        Ok(BatchingLogSink { state, worker })
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

    /// Applies the retention bound now, without the background task's slack (see
    /// [`Retention`]): deletes every project's entries older than [`Retention::max_age`],
    /// and, for every project written since its row bound was last applied, all but its
    /// [`Retention::max_rows_per_project`] newest entries. Returns how many rows were
    /// deleted.
    ///
    /// # Errors
    /// [`Error::Database`], [`Error::Unavailable`] (the projects not yet pruned are kept
    /// for the next time).
    pub async fn prune(&self) -> Result<u64> {
        self.state.prune().await
    }

    /// Stops the background task, then writes what is pending. Entries recorded afterwards
    /// are only written by an explicit [`LogSink::flush`].
    ///
    /// # Errors
    /// As [`LogSink::flush`]; the entries that could not be written stay pending.
    pub async fn shutdown(&self) -> Result<()> {
        self.worker.stop().await;
        self.state.flush().await
    }
}

#[async_trait]
impl LogSink for BatchingLogSink {
    fn record(&self, log: RequestLog) {
        if !self.state.is_forgotten(&log.project) {
            self.state.push(log.sanitized());
        }
    }

    fn record_outcome(&self, outcome: &RequestOutcome<'_>) {
        if !self.state.is_forgotten(outcome.ctx.project()) {
            self.state.push(RequestLog::from_outcome(outcome));
        }
    }

    async fn flush(&self) -> Result<()> {
        self.state.flush().await
    }

    fn forget_project(&self, project: &ProjectId) {
        {
            let mut forgotten = self.state.forgotten.lock().unwrap_or_else(PoisonError::into_inner);
            self.state.any_forgotten.store(true, Ordering::Release);
            if !forgotten.contains(project) {
                if forgotten.len() >= FORGOTTEN_PROJECTS {
                    forgotten.pop_front();
                }
                forgotten.push_back(project.clone());
            }
        }
        self.state.pending.lock().unwrap_or_else(PoisonError::into_inner).retain(|l| &l.project != project);
    }
}

const LOG_COLUMNS: [&str; 10] = [
    "project_id",
    "request_id",
    "at",
    "method",
    "path",
    "status",
    "duration_ms",
    "role",
    "user_id",
    "error_code",
];

impl LogState {
    /// Whether `project` was deleted lately (no lock until a project ever was).
    fn is_forgotten(&self, project: &ProjectId) -> bool {
        self.any_forgotten.load(Ordering::Acquire)
            && self.forgotten.lock().unwrap_or_else(PoisonError::into_inner).contains(project)
    }

    /// Keeps an entry already in its stored form, within the pending bound.
    fn push(&self, log: RequestLog) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.len() >= self.config.max_pending {
                drop(pending);
                Counters::add(&self.counters.dropped, 1);
                return;
            }
            pending.push(log);
            pending.len() >= self.config.max_batch
        };
        Counters::add(&self.counters.recorded, 1);
        if full {
            self.wake.notify_one();
        }
    }

    /// The insert of `rows` (whose length is one of [`ROWS_PER_STATEMENT`]), with the SQL
    /// built when the sink started and the values bound in the same order and types.
    fn insert(&self, sql: &str, rows: &[RequestLog]) -> Stmt {
        let mut values = Vec::with_capacity(rows.len() * LOG_COLUMNS.len());
        for log in rows {
            values.extend(row_values(log));
        }
        Stmt::new(sql, sea_query::Values(values))
    }

    /// The statements writing `batch`, in order: greedily the largest fixed size that fits.
    fn inserts(&self, batch: &[RequestLog]) -> Vec<Stmt> {
        let mut statements = Vec::new();
        let mut rest = batch;
        for (size, sql) in ROWS_PER_STATEMENT.iter().zip(&self.insert_sql) {
            while rest.len() >= *size {
                let (chunk, tail) = rest.split_at(*size);
                statements.push(self.insert(sql, chunk));
                rest = tail;
            }
        }
        statements
    }

    async fn flush(&self) -> Result<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if batch.is_empty() {
            return Ok(());
        }
        self.write(batch).await
    }

    /// Writes entries in one transaction (statements of the fixed sizes of
    /// [`ROWS_PER_STATEMENT`]); on failure they go back in front of the pending ones,
    /// within the bound.
    #[tracing::instrument(name = "logs.flush", level = "debug", skip_all, fields(entries = batch.len()))]
    async fn write(&self, batch: Vec<RequestLog>) -> Result<()> {
        let statements = self.inserts(&batch);
        let n = statements.len() as u64;
        match self.tables.db().transaction(&Scope::default(), statements).await {
            Ok(_) => {
                Counters::add(&self.counters.flushes, 1);
                Counters::add(&self.counters.statements, n);
                Counters::add(&self.counters.rows, batch.len() as u64);
                let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
                for log in batch {
                    *touched.entry(log.project).or_default() += 1;
                }
                Ok(())
            }
            Err(e) => {
                Counters::add(&self.counters.failures, 1);
                tracing::warn!(code = e.code(), error = %e, "log flush failed; entries kept for the next one");
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                let room = self.config.max_pending.saturating_sub(pending.len());
                let lost = batch.len().saturating_sub(room);
                // Older entries go back in front of those recorded meanwhile.
                let kept: Vec<RequestLog> = batch.into_iter().skip(lost).collect();
                pending.splice(0..0, kept);
                drop(pending);
                Counters::add(&self.counters.dropped, lost as u64);
                Err(e)
            }
        }
    }

    /// Both bounds, now, without slack ([`BatchingLogSink::prune`]).
    async fn prune(&self) -> Result<u64> {
        let projects: Vec<(ProjectId, u64)> =
            self.touched.lock().unwrap_or_else(PoisonError::into_inner).drain().collect();
        self.prune_projects(projects, true).await
    }

    /// The background task's prune: the row bound for the projects that wrote a tenth of
    /// it since it was last applied, and the age sweep when it is due (see [`Retention`]).
    async fn prune_due(&self) -> Result<u64> {
        let retention = &self.config.retention;
        let projects: Vec<(ProjectId, u64)> = match retention.max_rows_per_project {
            Some(max) => {
                let slack = std::cmp::max(max / 10, 1);
                let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
                touched.extract_if(|_, n| *n >= slack).collect()
            }
            None => Vec::new(),
        };
        let sweep = retention.max_age.is_some_and(|age| {
            let every = (age / 10).min(Duration::from_secs(3600));
            self.last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none_or(|at| at.elapsed() >= every)
        });
        self.prune_projects(projects, sweep).await
    }

    /// Applies the row bound to `projects` (with the entries each wrote since it was last
    /// applied), and, with `sweep`, the age bound to every project. On failure the
    /// projects not done are kept for the next prune (and the sweep stays due).
    #[tracing::instrument(name = "logs.prune", level = "debug", skip_all, fields(projects = projects.len(), sweep))]
    async fn prune_projects(&self, projects: Vec<(ProjectId, u64)>, sweep: bool) -> Result<u64> {
        let retention = &self.config.retention;
        let tables = &self.tables;
        let keep = |from: usize| {
            let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
            for (project, n) in &projects[from..] {
                *touched.entry(project.clone()).or_default() += n;
            }
        };
        let mut deleted = 0;
        if sweep && let Some(age) = retention.max_age {
            let cutoff = now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
            match sweep_age(tables, cutoff).await {
                Ok(n) => {
                    deleted += n;
                    *self.last_sweep.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                }
                Err(e) => {
                    keep(0);
                    return Err(e);
                }
            }
        }
        if let Some(max) = retention.max_rows_per_project {
            for (i, (project, _)) in projects.iter().enumerate() {
                match prune_project(tables, project, max).await {
                    Ok(n) => deleted += n,
                    Err(e) => {
                        keep(i);
                        return Err(e);
                    }
                }
            }
        }
        Counters::add(&self.counters.prunes, 1);
        Counters::add(&self.counters.pruned_rows, deleted);
        tracing::debug!(deleted, "log retention applied");
        Ok(deleted)
    }
}

#[async_trait]
impl Batch for LogState {
    fn wake(&self) -> &Notify {
        &self.wake
    }

    async fn flush(&self) -> Result<()> {
        LogState::flush(self).await
    }

    async fn after_flush(&self) {
        if self.config.prune_every == 0 {
            return;
        }
        let due = {
            let mut n = self.flushes_since_prune.lock().unwrap_or_else(PoisonError::into_inner);
            *n += 1;
            if *n >= self.config.prune_every {
                *n = 0;
                true
            } else {
                false
            }
        };
        if due && let Err(e) = self.prune_due().await {
            tracing::warn!(code = e.code(), error = %e, "log retention failed; retried at the next prune");
        }
    }
}

/// Deletes every project's entries older than `cutoff` (Unix ms), one project at a time
/// through the `(project_id, at)` index: the next project is found by a seek past the
/// previous one (a loose index scan, which every engine runs as one index lookup).
async fn sweep_age(tables: &PlatformTables, cutoff: i64) -> Result<u64> {
    let mut deleted = 0;
    let mut after: Option<String> = None;
    loop {
        let mut q = Query::select();
        q.column(Alias::new("project_id")).from(tables.table(LOGS_TABLE));
        if let Some(previous) = &after {
            q.and_where(Expr::col(Alias::new("project_id")).gt(previous.as_str()));
        }
        q.order_by(Alias::new("project_id"), Order::Asc).limit(1);
        let rows = tables.db().query(tables.stmt(&q)).await?;
        let Some(row) = rows.first() else { return Ok(deleted) };
        let project = row.text("project_id")?;
        let mut q = Query::delete();
        q.from_table(tables.table(LOGS_TABLE))
            .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
            .and_where(Expr::col(Alias::new("at")).lt(cutoff));
        deleted += tables.db().execute(tables.stmt(&q)).await?;
        after = Some(project);
    }
}

/// Deletes all but the `keep` newest entries of `project`: finds the newest entry past
/// the bound, then deletes it and everything older (two statements, one transaction each).
async fn prune_project(tables: &PlatformTables, project: &ProjectId, keep: u64) -> Result<u64> {
    let mut q = Query::select();
    q.columns([Alias::new("at"), Alias::new("id")])
        .from(tables.table(LOGS_TABLE))
        .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
        .order_by(Alias::new("at"), Order::Desc)
        .order_by(Alias::new("id"), Order::Desc)
        .limit(1)
        .offset(keep);
    let rows = tables.db().query(tables.stmt(&q)).await?;
    let Some(row) = rows.first() else { return Ok(0) };
    let cursor = cursor_of(row)?;
    // `at <= cut` bounds the index range to the rows deleted: with only the `OR` below,
    // the engines scanned every entry of the project and tested each.
    let mut q = Query::delete();
    q.from_table(tables.table(LOGS_TABLE))
        .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()))
        .and_where(Expr::col(Alias::new("at")).lte(cursor.at))
        .cond_where(
            Cond::any()
                .add(Expr::col(Alias::new("at")).lt(cursor.at))
                .add(Expr::col(Alias::new("id")).lte(cursor.id)),
        );
    tables.db().execute(tables.stmt(&q)).await
}

/// The bound values of one entry, in the order of [`LOG_COLUMNS`].
fn row_values(log: &RequestLog) -> [sea_query::Value; LOG_COLUMNS.len()] {
    [
        log.project.as_str().into(),
        log.request_id.as_str().into(),
        log.at.into(),
        log.method.as_str().into(),
        log.path.as_str().into(),
        i32::from(log.status).into(),
        i64::try_from(log.duration_ms).unwrap_or(i64::MAX).into(),
        log.role.map(role_claim).into(),
        log.user_id.as_deref().into(),
        log.error_code.as_deref().into(),
    ]
}

/// The SQL of an insert of `rows` entries into the log table of `tables` (built by
/// sea-query once, with placeholder values of the types [`row_values`] binds).
fn insert_sql(tables: &PlatformTables, rows: usize) -> String {
    let none: Option<&str> = None;
    let mut q = Query::insert();
    q.into_table(tables.table(LOGS_TABLE)).columns(LOG_COLUMNS.map(Alias::new));
    for _ in 0..rows {
        q.values_panic([
            "".into(),
            "".into(),
            0i64.into(),
            "".into(),
            "".into(),
            0i32.into(),
            0i64.into(),
            none.into(),
            none.into(),
            none.into(),
        ]);
    }
    tables.stmt(&q).sql
}

// ---- the module -----------------------------------------------------------------------------

/// The platform table of request logs: give it to [`crate::project::Platform::open`].
///
/// `request_logs (id, project_id, request_id, at, method, path, status, duration_ms,
/// role, user_id, error_code)`, indexed by `(project_id, at)` only (dashboard queries
/// and retention, see [`Retention`]); `at` is Unix milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogsModule;

const LOGS_SCHEMA: &str = r#"{ "tables": [
  { "name": "request_logs", "comment": "EasBase request logs (no secrets: paths keep parameter names only)",
    "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "project_id", "type": "varchar(40)", "required": true },
      { "name": "request_id", "type": "varchar(128)", "required": true },
      { "name": "at", "type": "bigint", "required": true },
      { "name": "method", "type": "varchar(16)", "required": true },
      { "name": "path", "type": "varchar(1024)", "required": true },
      { "name": "status", "type": "integer", "required": true },
      { "name": "duration_ms", "type": "bigint", "required": true },
      { "name": "role", "type": "varchar(20)" },
      { "name": "user_id", "type": "varchar(200)" },
      { "name": "error_code", "type": "varchar(64)" }
    ],
    "indexes": [ { "columns": ["project_id", "at"] } ] }
] }"#;

#[async_trait]
impl Module for LogsModule {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn platform_schema(&self) -> Schema {
        Schema::from_json(LOGS_SCHEMA).unwrap_or_default()
    }
}

// ---- queries --------------------------------------------------------------------------------

/// Where a page of [`query`] ends: pass it as [`LogQuery::before`] for the next page.
/// As text (for a URL): `"{at}.{id}"`.
///
/// ```
/// use easbase_core::logs::LogCursor;
/// let c: LogCursor = "1700000000123.42".parse().unwrap();
/// assert_eq!((c.at, c.id), (1_700_000_000_123, 42));
/// assert_eq!(c.to_string(), "1700000000123.42");
/// assert!("x.1".parse::<LogCursor>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogCursor {
    /// The entry's time (Unix ms).
    pub at: i64,
    /// The entry's id.
    pub id: i64,
}

impl std::fmt::Display for LogCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at, self.id)
    }
}

/// A malformed [`LogCursor`] text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed log cursor: expected `<at>.<id>`")]
pub struct ParseCursorError;

impl std::str::FromStr for LogCursor {
    type Err = ParseCursorError;

    fn from_str(s: &str) -> std::result::Result<LogCursor, ParseCursorError> {
        let (at, id) = s.split_once('.').ok_or(ParseCursorError)?;
        Ok(LogCursor {
            at: at.parse().map_err(|_| ParseCursorError)?,
            id: id.parse().map_err(|_| ParseCursorError)?,
        })
    }
}

/// Filters of [`query`]; all optional, combined with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Entries at or after this time (Unix ms).
    pub from: Option<i64>,
    /// Entries before this time (Unix ms).
    pub to: Option<i64>,
    /// Status at least (e.g. 400 for errors).
    pub status_min: Option<u16>,
    /// Status at most.
    pub status_max: Option<u16>,
    /// This method (case-insensitive).
    pub method: Option<String>,
    /// Paths starting with this (case-sensitive, compared with the stored path).
    pub path_prefix: Option<String>,
    /// This request id.
    pub request_id: Option<String>,
    /// Entries older than this cursor (the previous page's [`LogPage::next`]).
    pub before: Option<LogCursor>,
    /// At most this many entries (default 100; clamped to 1..=[`MAX_LIMIT`]).
    pub limit: u32,
}

impl Default for LogQuery {
    fn default() -> LogQuery {
        LogQuery {
            from: None,
            to: None,
            status_min: None,
            status_max: None,
            method: None,
            path_prefix: None,
            request_id: None,
            before: None,
            limit: 100,
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLog {
    /// Its id (increasing with insertion within one database).
    pub id: i64,
    /// The entry.
    pub log: RequestLog,
}

impl StoredLog {
    /// The cursor that pages past this entry.
    pub fn cursor(&self) -> LogCursor {
        LogCursor { at: self.log.at, id: self.id }
    }
}

/// One page of [`query`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    /// Newest first.
    pub entries: Vec<StoredLog>,
    /// The cursor of the next (older) page, when there are more entries.
    pub next: Option<LogCursor>,
}

fn corrupt(what: &str) -> Error {
    Error::Database { sqlstate: None, message: format!("the request log table holds an unreadable {what}") }
}

fn cursor_of(row: &Row) -> Result<LogCursor> {
    Ok(LogCursor {
        at: row.int("at").map_err(|_| corrupt("time"))?,
        id: row.int("id").map_err(|_| corrupt("id"))?,
    })
}

/// The request logs of `project` matching `filter`, newest first (by time, then id), one
/// page at a time: keyset pagination, so no entry is skipped or repeated while new ones
/// arrive.
///
/// # Errors
/// [`Error::Database`], [`Error::Unavailable`].
pub async fn query(tables: &PlatformTables, project: &ProjectId, filter: &LogQuery) -> Result<LogPage> {
    let limit = filter.limit.clamp(1, MAX_LIMIT);
    let mut q = Query::select();
    q.columns(["id"].into_iter().chain(LOG_COLUMNS).map(Alias::new))
        .from(tables.table(LOGS_TABLE))
        .and_where(Expr::col(Alias::new("project_id")).eq(project.as_str()));
    let col = |c: &str| Expr::col(Alias::new(c));
    if let Some(from) = filter.from {
        q.and_where(col("at").gte(from));
    }
    if let Some(to) = filter.to {
        q.and_where(col("at").lt(to));
    }
    if let Some(s) = filter.status_min {
        q.and_where(col("status").gte(i32::from(s)));
    }
    if let Some(s) = filter.status_max {
        q.and_where(col("status").lte(i32::from(s)));
    }
    if let Some(m) = &filter.method {
        q.and_where(col("method").eq(normalize_method(m)));
    }
    if let Some(prefix) = &filter.path_prefix
        && !prefix.is_empty()
    {
        // `substr(path, 1, n) = prefix`: exact and case-sensitive on every engine (LIKE
        // is case-insensitive on SQLite and needs escaping).
        let prefix: String = prefix.chars().take(MAX_PATH_CHARS).collect();
        let n = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        let head = Expr::expr(Func::cust(Alias::new("substr")).arg(col("path")).arg(1i32).arg(n));
        // MySQL compares by the column's collation, often case-insensitive: compare bytes.
        let head =
            if tables.db().dialect() == Dialect::Mysql { head.cast_as(Alias::new("binary")) } else { head };
        q.and_where(head.eq(prefix));
    }
    if let Some(id) = &filter.request_id {
        q.and_where(col("request_id").eq(id.as_str()));
    }
    if let Some(c) = filter.before {
        q.cond_where(
            Cond::any()
                .add(col("at").lt(c.at))
                .add(Cond::all().add(col("at").eq(c.at)).add(col("id").lt(c.id))),
        );
    }
    q.order_by(Alias::new("at"), Order::Desc)
        .order_by(Alias::new("id"), Order::Desc)
        .limit(u64::from(limit) + 1);
    let rows = tables.db().query(tables.stmt(&q)).await?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        entries.push(stored_log(row)?);
    }
    let next = if rows.len() > limit as usize { entries.last().map(StoredLog::cursor) } else { None };
    Ok(LogPage { entries, next })
}

fn stored_log(row: &Row) -> Result<StoredLog> {
    let status = row.int("status").map_err(|_| corrupt("status"))?;
    let duration = row.int("duration_ms").map_err(|_| corrupt("duration"))?;
    Ok(StoredLog {
        id: row.int("id").map_err(|_| corrupt("id"))?,
        log: RequestLog {
            project: ProjectId::new(row.text("project_id")?).map_err(|_| corrupt("project id"))?,
            request_id: row.text("request_id")?,
            at: row.int("at").map_err(|_| corrupt("time"))?,
            method: row.text("method")?,
            path: row.text("path")?,
            status: u16::try_from(status).map_err(|_| corrupt("status"))?,
            duration_ms: u64::try_from(duration).unwrap_or(0),
            role: row.opt_text("role")?.as_deref().and_then(role_from_claim),
            user_id: row.opt_text("user_id")?,
            error_code: row.opt_text("error_code")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_never_reach_the_path() {
        for (raw, want) in [
            ("/rest/v1/todos?select=*&apikey=secret&token=x", "/rest/v1/todos?select&apikey&token"),
            ("/a?authorization=Bearer%20xyz", "/a?authorization"),
            ("/a?", "/a"),
            ("/a?=v&&x", "/a?x"),
            ("/a?id=eq.5&order=id.desc", "/a?id&order"),
            ("http://h", "/"),
            ("/\u{0}a\nb", "/ab"),
        ] {
            assert_eq!(sanitize_path(raw), want, "{raw}");
        }
        assert!(sanitize_path(&format!("/{}", "x".repeat(5000))).chars().count() <= MAX_PATH_CHARS);
    }

    #[test]
    fn sanitize_path_agrees_with_its_reference() {
        let long = "x".repeat(MAX_PATH_CHARS - 3);
        let mut cases: Vec<String> = [
            "/rest/v1/todos?select=*&apikey=secret&token=x",
            "/a?authorization=Bearer%20xyz",
            "/a?",
            "/a?=v&&x",
            "/a?id=eq.5&order=id.desc&a.b=1&c=d=e&[x]=1&é=2",
            "http://h",
            "https://user:pw@host/auth/v1/verify?token=abc#frag",
            "ab\u{0}c://host/x?y=1",
            "/\u{0}a\nb",
            "",
            "?",
            "?a",
            "/a/b#?x=1",
        ]
        .map(str::to_owned)
        .to_vec();
        cases.push(format!("/{long}?abc=1&de=2"));
        cases.push(format!("/{long}a?b=1"));
        cases.push(format!("/{long}é?b=1&cc"));
        cases.push(format!("/{}", "é".repeat(3000)));
        cases.push(format!("/{}\u{1}?{}", "é".repeat(1023), "n".repeat(64)));
        cases.push(format!("/a?{}", "n".repeat(65)));
        cases.push(format!("/a?{}", ["abc"; 400].join("&")));
        for raw in &cases {
            assert_eq!(sanitize_path(raw), sanitize_path_reference(raw), "{raw:?}");
        }
    }

    #[test]
    fn methods_are_normalized() {
        assert_eq!(normalize_method("get"), "GET");
        assert_eq!(normalize_method("G E T"), "OTHER");
        assert_eq!(normalize_method(""), "OTHER");
    }

    #[test]
    fn the_module_schema_parses() {
        assert_eq!(LogsModule.platform_schema().tables.len(), 1);
    }

    #[test]
    fn entries_of_outcomes_are_built_clean_in_one_pass() {
        let long = "x".repeat(MAX_PATH_CHARS - 3);
        let paths = [
            "/rest/v1/todos?select=*&apikey=secret&token=x".to_owned(),
            "/a?".to_owned(),
            "https://user:pw@host/auth/v1/verify?token=abc#frag".to_owned(),
            "ab\u{0}c://host/x?y=1".to_owned(),
            "/a/http://x/b".to_owned(),
            format!("/{long}?abc=1&de=2"),
            format!("/{long}a?b=1"),
            format!("/{long}?a&b"),
            format!("/{}", "é".repeat(3000)),
            "/\u{0}a\nb".to_owned(),
            String::new(),
        ];
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), format!("user\u{7}{}", "u".repeat(300)).into());
        let project = ProjectId::new("acme").unwrap();
        let contexts = [
            RequestContext::new(project.clone(), Role::Anon, Default::default(), Some("req-1")),
            RequestContext::new(project, Role::Authenticated, claims, None),
        ];
        for ctx in &contexts {
            for path in &paths {
                for (method, error_code) in
                    [("get", None), ("brew", Some("PGRST\u{1}205")), ("PATCH", Some(""))]
                {
                    let outcome = RequestOutcome {
                        ctx,
                        method,
                        route: "/rest/v1/todos",
                        path,
                        status: 200,
                        started_ms: 1_700_000_000_123,
                        duration: Duration::from_micros(2500),
                        error_code,
                    };
                    assert_eq!(RequestLog::from_outcome(&outcome), outcome.log().sanitized(), "{path:?}");
                }
            }
        }
    }

    #[tokio::test]
    async fn batches_are_written_in_fixed_size_statements_in_order() {
        let db = crate::db::Db::open_sqlite(crate::db::SqliteConfig::in_memory()).unwrap();
        let sink = BatchingLogSink::start(PlatformTables::new(db, None), LogConfig::default()).unwrap();
        let project = ProjectId::new("p").unwrap();
        let batch: Vec<RequestLog> =
            (0..301).map(|i| RequestLog::new(&project, &format!("r{i}"), "GET", "/", 200)).collect();
        let statements = sink.state.inserts(&batch);
        let sizes: Vec<usize> = statements.iter().map(|s| s.values.0.len() / LOG_COLUMNS.len()).collect();
        assert_eq!(sizes, [128, 128, 32, 8, 1, 1, 1, 1, 1]);
        let mut values = statements.iter().flat_map(|s| s.values.0.iter());
        for log in &batch {
            let row: Vec<&sea_query::Value> = values.by_ref().take(LOG_COLUMNS.len()).collect();
            assert_eq!(row, row_values(log).iter().collect::<Vec<_>>());
        }
        for (statement, size) in statements.iter().zip(&sizes) {
            assert_eq!(statement.sql.matches('?').count(), size * LOG_COLUMNS.len());
        }
        assert!(sink.state.inserts(&[]).is_empty());
        sink.shutdown().await.unwrap();
    }
}
