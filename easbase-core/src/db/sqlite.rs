//! The SQLite engine: rusqlite (bundled SQLite) on one writer thread and a few reader
//! threads. See [`SqliteDb`] for how it works.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sea_query_rusqlite::RusqliteValue;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::trace::{self, Backend};
use super::{Cell, Row, Scope, Stmt, StmtResult};
use crate::error::{Error, Result};

/// SQLite's extended result code for a write refused by a read-only scope
/// (`SQLITE_READONLY`).
const SQLITE_READONLY: i32 = 8;
/// `SQLITE_BUSY` (any extended code) and `SQLITE_INTERRUPT`: an inline read that met a
/// lock or ran past its budget is handed to a reader thread instead.
const SQLITE_BUSY: i32 = 5;
const SQLITE_INTERRUPT: i32 = 9;

/// How to open a SQLite database.
///
/// ```
/// use easbase_core::db::SqliteConfig;
/// let config = SqliteConfig::file("/tmp/app.db").readers(4);
/// assert_eq!(config.readers, 4);
/// assert_eq!(SqliteConfig::in_memory().readers, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// The database file (created if missing); `None` for a private in-memory database.
    pub path: Option<PathBuf>,
    /// Reader threads for read-only scopes (default 2). An in-memory database has no
    /// readers (each connection would see its own database): its reads run on the writer.
    pub readers: usize,
    /// How long a connection waits for a lock held by another process before failing with
    /// `SQLITE_BUSY` (default 5 s).
    pub busy_timeout: Duration,
    /// Prepared statements kept per connection (default 256).
    pub statement_cache_capacity: usize,
    /// Read-only connections a caller may run a read on *in its own thread*, without the
    /// hand-off to a reader thread (default 4; 0 turns inline reads off). See
    /// [`SqliteDb`].
    pub inline_readers: usize,
    /// How long an inline read may run before it is interrupted and handed to a reader
    /// thread instead (default 500 µs): the most a read blocks its caller's thread.
    pub inline_budget: Duration,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            path: None,
            readers: 2,
            busy_timeout: Duration::from_secs(5),
            statement_cache_capacity: 256,
            inline_readers: 4,
            inline_budget: Duration::from_micros(500),
        }
    }
}

impl SqliteConfig {
    /// A private in-memory database (no reader threads, no inline reads).
    pub fn in_memory() -> SqliteConfig {
        SqliteConfig { readers: 0, inline_readers: 0, ..SqliteConfig::default() }
    }

    /// A database file with the default two readers.
    pub fn file(path: impl Into<PathBuf>) -> SqliteConfig {
        SqliteConfig { path: Some(path.into()), ..SqliteConfig::default() }
    }

    /// Sets the number of reader threads.
    pub fn readers(mut self, readers: usize) -> SqliteConfig {
        self.readers = readers;
        self
    }

    /// Sets the busy timeout.
    pub fn busy_timeout(mut self, timeout: Duration) -> SqliteConfig {
        self.busy_timeout = timeout;
        self
    }

    /// Sets the inline read connections and their budget (0 connections: every read goes
    /// to a reader thread).
    pub fn inline_reads(mut self, connections: usize, budget: Duration) -> SqliteConfig {
        self.inline_readers = connections;
        self.inline_budget = budget;
        self
    }
}

/// Maps a SQLite extended result code to the PostgreSQL SQLSTATE of the same class, for
/// the codes an API reports distinctly (the one place this mapping lives).
///
/// | SQLite | SQLSTATE |
/// |---|---|
/// | `SQLITE_CONSTRAINT_UNIQUE` (2067), `_PRIMARYKEY` (1555) | `23505` unique violation |
/// | `SQLITE_CONSTRAINT_FOREIGNKEY` (787) | `23503` foreign-key violation |
/// | `SQLITE_CONSTRAINT_CHECK` (275) | `23514` check violation |
/// | `SQLITE_CONSTRAINT_NOTNULL` (1299) | `23502` not-null violation |
/// | other `SQLITE_CONSTRAINT_*` (19) | `23000` integrity constraint violation |
/// | `SQLITE_READONLY*` (8) | `25006` read-only transaction |
/// | `SQLITE_BUSY*` (5), `SQLITE_LOCKED*` (6) | `55P03` lock not available |
/// | `SQLITE_TOOBIG` (18) | `54000` program limit exceeded |
/// | `SQLITE_MISMATCH` (20) | `42804` datatype mismatch |
/// | `SQLITE_RANGE` (25) | `08P01` wrong number of parameters |
/// | `SQLITE_FULL` (13) | `53100` disk full |
///
/// Syntax errors and unknown tables or columns are plain `SQLITE_ERROR` (1) in SQLite and
/// have no distinct class.
///
/// ```
/// use easbase_core::db::sqlite_sqlstate;
/// assert_eq!(sqlite_sqlstate(2067), Some("23505"));
/// assert_eq!(sqlite_sqlstate(1), None);
/// ```
pub fn sqlite_sqlstate(extended_code: i32) -> Option<&'static str> {
    Some(match extended_code {
        2067 | 1555 => "23505",
        787 => "23503",
        275 => "23514",
        1299 => "23502",
        code => match code & 0xff {
            19 => "23000",
            8 => "25006",
            5 | 6 => "55P03",
            18 => "54000",
            20 => "42804",
            25 => "08P01",
            13 => "53100",
            _ => return None,
        },
    })
}

/// A SQLite database served by rusqlite (bundled SQLite) on one writer thread and a few
/// reader threads. Cheap to clone; the threads exit (and the connections close) when the
/// last clone is dropped — after finishing the jobs already queued, so that drop may wait
/// for them.
///
/// Writes (and every scope that is not [`Scope::read_only`]) are sent over a channel to
/// the single writer thread, in `BEGIN IMMEDIATE` transactions, and the answer comes back
/// on a tokio oneshot. A read-only scope first tries an **inline read**: if one of the
/// [`SqliteConfig::inline_readers`] read-only connections is idle, the read runs right
/// there on the caller's thread under a budget ([`SqliteConfig::inline_budget`], 500 µs
/// by default, enforced by SQLite's progress handler; no busy wait). A read that runs past
/// it, or meets a lock, is interrupted (a read has nothing to undo) and sent to a reader
/// thread like any other: so a read never blocks its caller's thread for longer than the
/// budget, and the point reads and pages an API serves cost no hand-off at all — on a
/// 2-core virtual machine the two futex wake-ups of a hand-off cost more CPU than the
/// select. Otherwise read-only scopes go to the first idle reader thread (else the least
/// busy one), whose connection is opened read-only. An idle worker blocks on its
/// channel and is woken by the next job, so idle threads take no CPU from the server's
/// own (an earlier version spun with `sched_yield` between jobs, which on a 2-core
/// machine cost the HTTP stack more than it saved). The database runs in WAL mode with
/// `synchronous=NORMAL` and `foreign_keys=ON`, and each connection keeps a cache of
/// prepared statements.
///
/// Measured on the development machine (2 cores, `benches/benches/db.rs`): a point select
/// by key through [`Db::transaction`](crate::db::Db::transaction) with a read-only scope
/// takes ≈ 17 µs from one task (rusqlite called directly: ≈ 2 µs; the difference is the
/// hand-off between threads), and ≈ 7 µs per select with 16 tasks at once (≈ 145,000
/// selects/s). Those figures were taken when idle workers still spun; a worker that
/// sleeps now adds a futex wake-up to a lone request's hand-off, and gives the CPU it
/// used to burn back to the server under load (see `benches/README.md`).
///
/// Errors carry SQLite's *extended* result code as their `sqlstate` text (`"2067"` for a
/// unique violation); [`sqlite_sqlstate`] maps the common ones to PostgreSQL's SQLSTATE
/// classes, and [`crate::db::portable_sqlstate`] does it for any [`Error`].
///
/// ```
/// use easbase_core::db::{Db, Scope, SqliteConfig, Stmt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> easbase_core::Result<()> {
/// let db = Db::open_sqlite(SqliteConfig::in_memory())?;
/// db.execute_script(&["create table notes (id integer primary key, body text)".into()]).await?;
/// let insert = Stmt::new(
///     "insert into notes (body) values (?) returning id",
///     sea_query::Values(vec!["hi".into()]),
/// );
/// let results = db.transaction(&Scope::default(), vec![insert]).await?;
/// assert_eq!(results[0].rows[0].int("id")?, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.inner.path)
            .field("readers", &self.inner.readers.len())
            .finish()
    }
}

struct Inner {
    path: Option<PathBuf>,
    writer: Worker,
    readers: Vec<Worker>,
    /// The inline read connections, each behind its own lock (see [`SqliteDb`] and
    /// [`SqliteDb::with_inline`]).
    inline: Box<[Mutex<InlineConn>]>,
    inline_budget: Duration,
}

/// A read-only connection used on the caller's thread, interrupted by its progress
/// handler once the clock passes `deadline` (nanoseconds since `epoch`).
struct InlineConn {
    conn: Connection,
    epoch: Instant,
    deadline: Arc<AtomicU64>,
}

/// How an inline read ended.
enum Inline {
    Done(Result<Vec<StmtResult>>),
    /// Past its budget or blocked by a lock: run it on a reader thread instead.
    Handoff,
}

impl InlineConn {
    fn open(config: &SqliteConfig) -> Result<InlineConn> {
        let conn = open_connection(config, false)?;
        // Never wait for a lock on the caller's thread: a reader thread will.
        conn.busy_timeout(Duration::ZERO).map_err(map_err)?;
        let epoch = Instant::now();
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let handler_deadline = Arc::clone(&deadline);
        conn.progress_handler(
            1000,
            Some(move || nanos_since(epoch) > handler_deadline.load(Ordering::Relaxed)),
        )
        .map_err(map_err)?;
        Ok(InlineConn { conn, epoch, deadline })
    }

    /// Runs a read-only transaction here, within `budget`.
    fn run(&self, statements: &[Stmt], budget: Duration) -> Inline {
        let until =
            nanos_since(self.epoch).saturating_add(u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX));
        self.deadline.store(until, Ordering::Relaxed);
        let result = run_transaction(&self.conn, true, false, statements);
        self.deadline.store(u64::MAX, Ordering::Relaxed);
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        match result {
            Err(Error::Database { sqlstate: Some(code), .. })
                if code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_INTERRUPT)) =>
            {
                Inline::Handoff
            }
            other => Inline::Done(other),
        }
    }
}

/// This thread's first inline slot: threads are numbered in the order they first read
/// inline (in any database), so the threads of a runtime get consecutive slots.
fn home_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    HOME.with(|home| *home)
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// One thread, the channel to it and how many jobs it has queued or running.
struct Worker {
    sender: Option<mpsc::Sender<Job>>,
    load: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

enum Work {
    Transaction { read_only: bool, statements: Vec<Stmt> },
    Script(Vec<String>),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Vec<StmtResult>>>,
    /// The caller's span: the worker runs the job inside it.
    span: tracing::Span,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing a channel ends its thread's loop once its queue is drained; joining
        // makes sure the connections are closed when the last handle is gone. One at a
        // time, readers first: SQLite 3.51.1 (bundled by rusqlite 0.38) can deadlock when
        // two connections to one WAL file close at once (its unix VFS takes two mutexes
        // in opposite orders; fixed in 3.51.2), and the writer, closed last, checkpoints.
        for worker in self.readers.iter_mut().chain(std::iter::once(&mut self.writer)) {
            worker.sender = None;
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl SqliteDb {
    /// Opens (or creates) the database and starts its threads.
    ///
    /// # Errors
    /// [`Error::Database`] when the file cannot be opened or configured,
    /// [`Error::Unavailable`] when a thread cannot be started.
    pub fn open(config: SqliteConfig) -> Result<SqliteDb> {
        let readers = if config.path.is_some() { config.readers } else { 0 };
        let writer_conn = open_connection(&config, true)?;
        let writer = Worker::spawn("easbase-sqlite-writer".into(), writer_conn, true)?;
        let mut reader_workers = Vec::with_capacity(readers);
        for i in 0..readers {
            let conn = open_connection(&config, false)?;
            reader_workers.push(Worker::spawn(format!("easbase-sqlite-reader-{i}"), conn, false)?);
        }
        // Inline reads need connections of their own to the same file (an in-memory
        // database has only the writer's).
        let inline_count = if config.path.is_some() { config.inline_readers } else { 0 };
        let mut inline = Vec::with_capacity(inline_count);
        for _ in 0..inline_count {
            inline.push(Mutex::new(InlineConn::open(&config)?));
        }
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                path: config.path,
                writer,
                readers: reader_workers,
                inline: inline.into_boxed_slice(),
                inline_budget: config.inline_budget,
            }),
        })
    }

    /// Runs `statements` in one transaction (see [`crate::db::Db::transaction`]).
    ///
    /// A read-only scope runs on a reader thread (or on the writer for an in-memory
    /// database) and fails with code `8` (`SQLITE_READONLY`) on any statement that would
    /// write. A single statement without a guard runs without `BEGIN`/`COMMIT` (SQLite makes
    /// every statement atomic), saving two steps on the hot path.
    ///
    /// # Errors
    /// [`Error::Database`] with SQLite's extended code (the transaction is rolled back),
    /// [`Error::Unavailable`] when the worker threads are gone.
    pub async fn transaction(&self, scope: &Scope, statements: Vec<Stmt>) -> Result<Vec<StmtResult>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let span = trace::transaction_span(Backend::Sqlite, scope, &statements);
        if scope.read_only {
            let budget = self.inner.inline_budget;
            // A panic unwinds through the connection's lock guard: the lock stays poisoned,
            // so a connection that panicked is never picked again.
            let outcome = span.in_scope(|| {
                catch_unwind(AssertUnwindSafe(|| self.with_inline(|conn| conn.run(&statements, budget))))
            });
            match outcome {
                Ok(Some(Inline::Done(result))) => return result,
                Ok(Some(Inline::Handoff) | None) => {}
                Err(_) => {
                    return Err(Error::Database {
                        sqlstate: None,
                        message: "the SQLite engine panicked".into(),
                    });
                }
            }
        }
        let worker = if scope.read_only { self.reader() } else { &self.inner.writer };
        worker.run(Work::Transaction { read_only: scope.read_only, statements }).instrument(span).await
    }

    /// Runs `f` on an idle inline read connection, if there is one (never waits).
    ///
    /// Each thread starts looking at a slot of its own ([`home_slot`]), so that under
    /// load every runtime thread keeps using the same connection: its page cache,
    /// prepared statements and buffers stay in that core's caches. (A shared stack of
    /// idle connections handed them from one thread to the other at almost every read,
    /// and two threads reading at once cost almost twice the CPU per read of one.)
    fn with_inline<T>(&self, f: impl FnOnce(&InlineConn) -> T) -> Option<T> {
        let slots = &self.inner.inline;
        if slots.is_empty() {
            return None;
        }
        let home = home_slot() % slots.len();
        let (head, tail) = slots.split_at(home);
        tail.iter().chain(head).find_map(|slot| slot.try_lock().ok()).map(|conn| f(&conn))
    }

    /// Runs a script in one `BEGIN IMMEDIATE` transaction on the writer; each string may hold
    /// several statements. (Pragmas such as `foreign_keys` have no effect inside a
    /// transaction.)
    ///
    /// # Errors
    /// [`Error::Database`] from the first statement that fails; nothing is applied.
    pub async fn execute_script(&self, statements: &[String]) -> Result<()> {
        let span = trace::script_span(Backend::Sqlite, statements);
        self.inner.writer.run(Work::Script(statements.to_vec())).instrument(span).await.map(|_| ())
    }

    /// The first idle reader, or the least busy one; the writer when there is none.
    /// Preferring the first idle reader keeps the same (cache-warm) thread in use at low load.
    fn reader(&self) -> &Worker {
        let readers = &self.inner.readers;
        let mut best = &self.inner.writer;
        let mut best_load = usize::MAX;
        for reader in readers {
            let load = reader.load.load(Ordering::Relaxed);
            if load < best_load {
                best = reader;
                best_load = load;
                if load == 0 {
                    break;
                }
            }
        }
        best
    }
}

fn open_connection(config: &SqliteConfig, writer: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    flags |= if writer {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    };
    let conn = match &config.path {
        Some(path) => Connection::open_with_flags(path, flags),
        None => Connection::open_in_memory_with_flags(flags),
    }
    .map_err(map_err)?;
    conn.busy_timeout(config.busy_timeout).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(config.statement_cache_capacity);
    if writer {
        // `journal_mode` answers with the mode now in force ("memory" for in-memory).
        let _mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(map_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(map_err)?;
        // The writer's page cache: 16 MB (SQLite's default is 2 MB). Every write goes
        // through it (request logs, usage counters and their indexes too); readers keep
        // the default, as there are several per database.
        conn.pragma_update(None, "cache_size", -16_000).map_err(map_err)?;
    }
    // Temporary tables (the written-rows bookkeeping of policy guards) in memory.
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(map_err)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(map_err)?;
    // The query planner's stability guarantee: a plan never depends on bound values.
    // Without it SQLite (3.47+) reads a bound `LIMIT ?` while planning and re-prepares the
    // statement every time the value is bound again — more than half of a page read's
    // CPU went to re-preparing an already cached statement.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(map_err)?;
    register_regexp(&conn).map_err(map_err)?;
    Ok(conn)
}

/// Longest pattern `REGEXP` compiles, in bytes (callers should bound theirs lower).
const MAX_REGEXP_PATTERN: usize = 4096;

/// `x REGEXP pattern` (SQLite calls `regexp(pattern, x)`), with the `regex` crate's
/// syntax (`(?i)` for case-insensitive). Patterns are bounded in size and in compiled
/// size; each statement compiles its pattern once. NULL on either side is NULL.
fn register_regexp(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            if matches!(ctx.get_raw(0), ValueRef::Null) || matches!(ctx.get_raw(1), ValueRef::Null) {
                return Ok(None);
            }
            let re = ctx.get_or_create_aux(0, |pattern| -> std::result::Result<regex::Regex, BoxError> {
                let pattern = pattern.as_str()?;
                if pattern.len() > MAX_REGEXP_PATTERN {
                    return Err("invalid regular expression: the pattern is too long".into());
                }
                regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("invalid regular expression: {e}").into())
            })?;
            let text = match ctx.get_raw(1) {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Integer(i) => i.to_string(),
                ValueRef::Real(f) => f.to_string(),
                ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                ValueRef::Null => return Ok(None),
            };
            Ok(Some(re.is_match(&text)))
        },
    )
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl Worker {
    fn spawn(name: String, conn: Connection, writer: bool) -> Result<Worker> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let load = Arc::new(AtomicUsize::new(0));
        let thread_load = Arc::clone(&load);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || worker_loop(conn, receiver, &thread_load, writer))
            .map_err(|e| Error::Unavailable(format!("cannot start a SQLite thread: {e}")))?;
        Ok(Worker { sender: Some(sender), load, thread: Some(thread) })
    }

    async fn run(&self, work: Work) -> Result<Vec<StmtResult>> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.as_ref().ok_or_else(gone)?;
        self.load.fetch_add(1, Ordering::Relaxed);
        if sender.send(Job { work, reply, span: tracing::Span::current() }).is_err() {
            self.load.fetch_sub(1, Ordering::Relaxed);
            return Err(gone());
        }
        answer.await.map_err(|_| gone())?
    }
}

fn gone() -> Error {
    Error::Unavailable("the SQLite worker thread has stopped".into())
}

fn worker_loop(conn: Connection, jobs: mpsc::Receiver<Job>, load: &AtomicUsize, writer: bool) {
    // An idle worker sleeps in `recv` (a futex wait) and costs no CPU; the sender wakes it.
    while let Ok(Job { work, reply, span }) = jobs.recv() {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            span.in_scope(|| match work {
                Work::Transaction { read_only, statements } => {
                    run_transaction(&conn, read_only, writer, &statements)
                }
                Work::Script(statements) => run_script(&conn, &statements).map(|()| Vec::new()),
            })
        }));
        let result = outcome.unwrap_or_else(|_| {
            Err(Error::Database { sqlstate: None, message: "the SQLite engine panicked".into() })
        });
        // Whatever happened, never leave a transaction open for the next job.
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        load.fetch_sub(1, Ordering::Relaxed);
        // The caller may have gone away (a dropped future): that is not an error here.
        let _ = reply.send(result);
    }
}

fn run_transaction(
    conn: &Connection,
    read_only: bool,
    writer: bool,
    statements: &[Stmt],
) -> Result<Vec<StmtResult>> {
    let explicit = statements.len() > 1 || statements.iter().any(|s| s.guard.is_some());
    if explicit {
        let begin = if writer && !read_only { "BEGIN IMMEDIATE" } else { "BEGIN" };
        conn.execute_batch(begin).map_err(map_err)?;
    }
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        let result = run_statement(conn, statement, read_only)?;
        if let Some(guard) = &statement.guard {
            guard.check(&result)?;
        }
        results.push(result);
    }
    if explicit {
        conn.execute_batch("COMMIT").map_err(map_err)?;
    }
    Ok(results)
}

fn run_statement(conn: &Connection, statement: &Stmt, read_only: bool) -> Result<StmtResult> {
    let span = trace::statement_span(Backend::Sqlite, &statement.sql);
    let result = span.in_scope(|| execute_statement(conn, statement, read_only))?;
    trace::record_rows(&span, result.affected);
    Ok(result)
}

fn execute_statement(conn: &Connection, statement: &Stmt, read_only: bool) -> Result<StmtResult> {
    let mut prepared = conn.prepare_cached(&statement.sql).map_err(map_err)?;
    let is_read = prepared.readonly();
    if read_only && !is_read {
        return Err(Error::Database {
            sqlstate: Some(SQLITE_READONLY.to_string()),
            message: "cannot write in a read-only transaction".into(),
        });
    }
    let expected = prepared.parameter_count();
    if expected != statement.values.0.len() {
        return Err(Error::Database {
            sqlstate: Some("25".into()),
            message: format!(
                "the statement has {expected} parameters but {} values were bound",
                statement.values.0.len()
            ),
        });
    }
    for (i, value) in statement.values.0.iter().enumerate() {
        prepared.raw_bind_parameter(i + 1, BindRef(value)).map_err(map_err)?;
    }
    let columns = column_names(&prepared);
    let width = columns.len();
    let total_before = conn.total_changes();
    let mut rows = Vec::new();
    {
        let mut raw = prepared.raw_query();
        while let Some(row) = raw.next().map_err(map_err)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(cell(row.get_ref(i).map_err(map_err)?));
            }
            rows.push(Row { columns: Arc::clone(&columns), cells });
        }
    }
    let affected = if is_read {
        rows.len() as u64
    } else if conn.total_changes() == total_before {
        // DDL, or DML that matched nothing: `changes()` would still report an older statement.
        0
    } else {
        conn.changes()
    };
    Ok(StmtResult { rows, affected })
}

/// A bound value by reference: text and bytes are handed to SQLite without a copy of the
/// value; the types sea-query-rusqlite converts otherwise (dates, JSON, decimals, …) go
/// through it, as before.
struct BindRef<'a>(&'a sea_query::Value);

impl ToSql for BindRef<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use sea_query::Value as V;
        let null = ToSqlOutput::Owned(rusqlite::types::Value::Null);
        Ok(match self.0 {
            V::Bool(Some(v)) => ToSqlOutput::from(*v),
            V::TinyInt(Some(v)) => ToSqlOutput::from(*v),
            V::SmallInt(Some(v)) => ToSqlOutput::from(*v),
            V::Int(Some(v)) => ToSqlOutput::from(*v),
            V::BigInt(Some(v)) => ToSqlOutput::from(*v),
            V::TinyUnsigned(Some(v)) => ToSqlOutput::from(*v),
            V::SmallUnsigned(Some(v)) => ToSqlOutput::from(*v),
            V::Unsigned(Some(v)) => ToSqlOutput::from(*v),
            V::Float(Some(v)) => ToSqlOutput::from(*v),
            V::Double(Some(v)) => ToSqlOutput::from(*v),
            V::String(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            V::Bytes(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            V::Bool(None)
            | V::TinyInt(None)
            | V::SmallInt(None)
            | V::Int(None)
            | V::BigInt(None)
            | V::TinyUnsigned(None)
            | V::SmallUnsigned(None)
            | V::Unsigned(None)
            | V::Float(None)
            | V::Double(None)
            | V::String(None)
            | V::Bytes(None) => null,
            // `BigUnsigned` (which may not fit), and every other type: as before.
            other => match RusqliteValue(other.clone()).to_sql()? {
                ToSqlOutput::Borrowed(v) => ToSqlOutput::Owned(v.into()),
                ToSqlOutput::Owned(v) => ToSqlOutput::Owned(v),
                // sea-query-rusqlite only makes the two above.
                _ => {
                    return Err(rusqlite::Error::ToSqlConversionFailure("unsupported bound value".into()));
                }
            },
        })
    }
}

/// How many distinct result shapes each thread keeps column names for.
const COLUMN_SHAPES: usize = 32;

thread_local! {
    /// Column names of recent results (most recent first): rows of a statement share one
    /// `Arc` taken from here when the names are the same, instead of new strings per call.
    static COLUMNS: std::cell::RefCell<Vec<Arc<[String]>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The statement's result column names, shared with earlier results of the same names
/// (compared name by name, so a reused list is always exactly the statement's).
fn column_names(prepared: &rusqlite::Statement<'_>) -> Arc<[String]> {
    let count = prepared.column_count();
    let same = |names: &Arc<[String]>| {
        names.len() == count
            && names.iter().enumerate().all(|(i, n)| prepared.column_name(i).is_ok_and(|c| c == n))
    };
    COLUMNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(i) = cache.iter().position(same) {
            let names = Arc::clone(&cache[i]);
            if i > 0 {
                cache[..=i].rotate_right(1);
            }
            return names;
        }
        let names: Arc<[String]> = prepared.column_names().into_iter().map(str::to_owned).collect();
        if cache.len() >= COLUMN_SHAPES {
            cache.pop();
        }
        cache.insert(0, Arc::clone(&names));
        names
    })
}

fn run_script(conn: &Connection, statements: &[String]) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
    for sql in statements {
        conn.execute_batch(sql).map_err(map_err)?;
    }
    conn.execute_batch("COMMIT").map_err(map_err)
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Float(f),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
    }
}

/// A rusqlite error as [`Error::Database`] with the extended result code as `sqlstate`.
fn map_err(error: rusqlite::Error) -> Error {
    match error {
        rusqlite::Error::SqliteFailure(e, message) => Error::Database {
            sqlstate: Some(e.extended_code.to_string()),
            message: message.unwrap_or_else(|| e.to_string()),
        },
        rusqlite::Error::InvalidParameterCount(given, expected) => Error::Database {
            sqlstate: Some("25".into()),
            message: format!("the statement has {expected} parameters but {given} values were bound"),
        },
        // Not bound values: rusqlite's conversion errors name types, never the value.
        other => Error::Database { sqlstate: None, message: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::Value as V;

    fn owned(output: ToSqlOutput<'_>) -> rusqlite::types::Value {
        match output {
            ToSqlOutput::Borrowed(v) => v.into(),
            ToSqlOutput::Owned(v) => v,
            _ => panic!("unexpected output"),
        }
    }

    #[test]
    fn values_bound_by_reference_bind_as_before() {
        let values = [
            V::Bool(Some(true)),
            V::Bool(None),
            V::TinyInt(Some(-3)),
            V::SmallInt(Some(300)),
            V::Int(Some(-70_000)),
            V::Int(None),
            V::BigInt(Some(i64::MIN)),
            V::TinyUnsigned(Some(255)),
            V::SmallUnsigned(Some(65_535)),
            V::Unsigned(Some(u32::MAX)),
            V::BigUnsigned(Some(7)),
            V::BigUnsigned(None),
            V::Float(Some(1.5)),
            V::Double(Some(-2.25)),
            V::String(Some("héllo".into())),
            V::String(None),
            V::Char(Some('x')),
            V::Bytes(Some(vec![0, 1, 255])),
            V::Bytes(None),
        ];
        for value in values {
            let want = owned(RusqliteValue(value.clone()).to_sql().unwrap());
            assert_eq!(owned(BindRef(&value).to_sql().unwrap()), want, "{value:?}");
        }
        let too_big = V::BigUnsigned(Some(u64::MAX));
        assert!(BindRef(&too_big).to_sql().is_err() && RusqliteValue(too_big).to_sql().is_err());
    }

    #[test]
    fn column_names_are_shared_only_when_equal() {
        let conn = Connection::open_in_memory().unwrap();
        let names = |sql: &str| column_names(&conn.prepare(sql).unwrap());
        let a = names("select 1 as a, 2 as b");
        let b = names("select 1 as a, 2 as c");
        let a2 = names("select 3 as a, 4 as b");
        assert_eq!(&*a, ["a", "b"]);
        assert_eq!(&*b, ["a", "c"]);
        assert!(Arc::ptr_eq(&a, &a2));
        assert_eq!(&*names("select 1 as a"), ["a"]);
        assert_eq!(&*names("select 1 as a, 2 as b, 3 as d"), ["a", "b", "d"]);
        for i in 0..2 * COLUMN_SHAPES {
            assert_eq!(&*names(&format!("select 1 as c{i}")), [format!("c{i}")]);
        }
        assert!(COLUMNS.with(|c| c.borrow().len()) <= COLUMN_SHAPES);
    }

    fn inline_db(dir: &tempfile::TempDir) -> SqliteDb {
        let config = SqliteConfig::file(dir.path().join("app.db")).inline_reads(4, Duration::from_millis(5));
        SqliteDb::open(config).unwrap()
    }

    /// Which inline connection `with_inline` lends this thread (by address).
    fn lent(db: &SqliteDb) -> usize {
        db.with_inline(|conn| std::ptr::from_ref(conn) as usize).unwrap()
    }

    #[test]
    fn each_thread_keeps_reading_on_its_own_inline_connection() {
        let dir = tempfile::tempdir().unwrap();
        let db = inline_db(&dir);
        let mine = lent(&db);
        assert!((0..10).all(|_| lent(&db) == mine));
        let theirs =
            std::thread::scope(|s| s.spawn(|| (0..10).map(|_| lent(&db)).collect::<Vec<_>>()).join());
        let theirs = theirs.unwrap();
        assert!(theirs.iter().all(|c| *c == theirs[0]) && theirs[0] != mine, "{mine} {theirs:?}");
        // The home connection busy (held by a read on this thread): another one is lent.
        let nested = db.with_inline(|_| lent(&db)).unwrap();
        assert_ne!(nested, mine);
    }

    #[test]
    fn an_inline_connection_that_panicked_is_not_lent_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = inline_db(&dir);
        let home = lent(&db);
        let panicked = catch_unwind(AssertUnwindSafe(|| db.with_inline(|_| panic!("boom"))));
        assert!(panicked.is_err());
        let lent_now: Vec<usize> = (0..10).map(|_| lent(&db)).collect();
        assert!(lent_now.iter().all(|c| *c != home && *c == lent_now[0]), "{home} {lent_now:?}");
    }
}
