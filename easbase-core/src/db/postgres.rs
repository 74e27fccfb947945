//! The PostgreSQL engine: a deadpool-postgres pool of tokio-postgres connections that
//! sends a scoped transaction in one pipelined write. See [`PgDb`] for how it works.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::BytesMut;
use deadpool_postgres::{
    ClientWrapper, Manager, ManagerConfig, Object, ObjectId, Pool, RecyclingMethod, Runtime,
};
use easbase_schema::Dialect;
use easbase_schema::ddl::quote_ident;
use sea_query::{OptionEnum, Value};
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use tokio_postgres::{NoTls, Statement};
use tracing::Instrument;

use super::trace::{self, Backend};
use super::{Cell, Row, Scope, Stmt, StmtResult};
use crate::calendar::civil_from_days;
use crate::error::{Error, Result};

/// How to reach PostgreSQL.
///
/// ```
/// use easbase_core::db::PgConfig;
/// let config = PgConfig::new("postgres://app@db.internal/app").pool_size(32);
/// assert_eq!(config.pool_size, 32);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// A libpq connection string, as a URL (`postgres://user@host/db`) or key-value pairs
    /// (`host=127.0.0.1 user=postgres dbname=postgres`). No TLS: a host that needs TLS
    /// builds its own pool and hands it to [`crate::db::Db::from_pg_pool`].
    pub url: String,
    /// Connections in the pool (default 16).
    pub pool_size: usize,
    /// Prepared statements kept per connection before the cache is cleared (default 512).
    pub statement_cache_capacity: usize,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PgConfig")
            .field("pool_size", &self.pool_size)
            .field("statement_cache_capacity", &self.statement_cache_capacity)
            .finish_non_exhaustive()
    }
}

impl PgConfig {
    /// A configuration with the default pool size.
    pub fn new(url: impl Into<String>) -> PgConfig {
        PgConfig { url: url.into(), pool_size: 16, statement_cache_capacity: DEFAULT_CACHE_CAPACITY }
    }

    /// Sets the pool size.
    pub fn pool_size(mut self, size: usize) -> PgConfig {
        self.pool_size = size;
        self
    }
}

const DEFAULT_CACHE_CAPACITY: usize = 512;

/// A PostgreSQL database behind a connection pool (deadpool-postgres over tokio-postgres).
/// Cheap to clone.
///
/// [`PgDb::transaction`] works in two steps on one pooled connection:
///
/// 1. **Prepare** the statements through the connection's statement cache. Once a
///    statement has been seen on a connection this costs nothing; new ones are prepared
///    together (one round trip), before anything is executed.
/// 2. **Pipeline** `BEGIN [READ ONLY]; SET LOCAL ROLE …`, one
///    `select set_config($1, $2, true), …` for the scope's settings, the statements and
///    `COMMIT`: every request is written before the first answer is read, so the whole
///    transaction is one round trip. If a statement fails, PostgreSQL refuses the rest and
///    the pipelined `COMMIT` ends the transaction as a rollback; the first real error is
///    returned with its SQLSTATE. A transaction with a [`Guard`](super::Guard) leaves
///    `COMMIT` out of the pipeline and sends `COMMIT` or `ROLLBACK` once the guards have
///    been checked (two round trips).
///
/// **Plain reads** ([`Stmt::plain_read`]: one generated read in a read-only scope, with a
/// role) take a shorter way, on a second pool used for nothing else (pools built by
/// [`PgDb::connect`] or [`PgDb::from_pools`]; a host's single pool never does this). Its
/// connections keep a *session*: the role, the scope's settings and
/// `default_transaction_read_only = on`, set with `set_config(…, false)`. The engine
/// remembers what each connection's session holds; a read whose role and settings are
/// exactly that runs alone — one statement, one round trip, in an implicit read-only
/// transaction, as cheap as a plain select without row security. Otherwise the session is
/// set first in the same pipeline (after `RESET ALL` when the setting names differ or the
/// session is unknown: a new connection, or one whose last read failed), and the read is
/// parsed after it, as the request's role. Every read therefore runs with exactly its own
/// role and settings, never a previous request's; row-level security applies as in a
/// transaction; writes are refused (`25006`). Only plain reads may run there: their SQL
/// calls no user-defined function that could change the session behind the engine's back.
///
/// `SET LOCAL` and `set_config(…, true)` last until the end of the transaction, so a
/// connection of the main pool goes back to it with no role and no setting. A connection whose
/// transaction did not end cleanly (a cancelled future, a broken connection) is
/// discarded, never returned.
///
/// ## Speed (measured)
/// On the development machine (2 cores, PostgreSQL 15 on loopback, one connection,
/// `benches/benches/db.rs`), the request transaction — role, claims, a point select by
/// key under RLS, commit — takes ≈ 83 µs through this engine, against ≈ 251 µs for the
/// same four requests awaited one after another (3.0×) and ≈ 61 µs for a plain prepared
/// select with no transaction at all.
///
/// Prepared, cached statements were chosen over unnamed ones (`query_typed`, parsed and
/// planned with every execution): the same pipelined transaction with `query_typed`
/// took ≈ 145 µs. Unnamed statements also make tokio-postgres look up unknown result
/// types (enums) in the middle of a pipeline, which can stall it. The cache is cleared
/// when it grows past [`PgConfig::statement_cache_capacity`], and a statement whose cached
/// plan went stale after a schema change (`0A000`, `26000`) is re-prepared and the
/// transaction retried once (nothing of the failed attempt was committed).
///
/// ## Values and types
/// Strings are bound as text of type `unknown`, so PostgreSQL reads them as whatever the
/// column is — `uuid`, `timestamptz`, `numeric`, `jsonb`, an enum — as PostgREST does.
/// Integers, floats, booleans and bytes are bound in binary with their own type (`int8`
/// for `BigInt`, …). Result columns of these types are read into [`Cell`]s: `bool`,
/// `int2/4/8`, `oid`, `float4/8`, `text`, `varchar`, `char`, `name`, enums, domains of
/// these, `numeric` (as exact text), `uuid`, `json`/`jsonb` (text), `date`, `time`,
/// `timestamp`, `timestamptz` (ISO 8601, UTC) and `bytea`. Any other type (arrays,
/// intervals, network types, …) is refused *before* the transaction runs, with an error
/// naming the column and its type: cast such columns to text in the query (`col::text`)
/// or build JSON in the database (`to_json`, `json_agg`).
///
/// ```no_run
/// use easbase_core::db::{Db, PgConfig, Scope, Stmt};
/// use easbase_core::schema::Ident;
///
/// # async fn demo() -> easbase_core::Result<()> {
/// let db = Db::connect_postgres(PgConfig::new("host=127.0.0.1 user=postgres dbname=postgres")).await?;
/// let scope = Scope {
///     role: Some(Ident::new("authenticated").unwrap()),
///     settings: vec![("request.jwt.claims".into(), r#"{"sub":"u1"}"#.into())],
///     read_only: true,
/// };
/// let rows = db
///     .transaction(&scope, vec![Stmt::raw("select current_user::text as who")])
///     .await?;
/// assert_eq!(rows[0].rows[0].text("who")?, "authenticated");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgDb {
    inner: Arc<PgInner>,
}

struct PgInner {
    pool: Pool,
    /// The connections of plain reads' sessions (only for pools built here; see
    /// [`PgDb`]). Nothing else ever runs on them.
    read_pool: Option<Pool>,
    /// What each read-pool connection's session holds, as this engine last set it;
    /// absent: unknown (a new connection, or one whose last request failed).
    sessions: Mutex<HashMap<ObjectId, Arc<Session>>>,
    statement_cache_capacity: usize,
    /// The configuration the pool was built from (`None` for a host's pool).
    config: Option<PgConfig>,
}

/// The role and settings a read-pool session holds (set with `set_config(…, false)`,
/// together with `default_transaction_read_only`).
#[derive(Debug, PartialEq, Eq)]
struct Session {
    role: String,
    settings: Vec<(String, String)>,
}

/// The session a plain read needs, borrowed from its scope: a [`Session`] is made of it
/// only when a connection's session must change, so a read for the user a connection
/// already serves copies nothing (not the claims either).
#[derive(Debug, Clone, Copy)]
struct Wanted<'a> {
    role: &'a str,
    settings: &'a [(String, String)],
}

impl Session {
    fn holds(&self, wanted: Wanted<'_>) -> bool {
        self.role == wanted.role && self.settings == wanted.settings
    }
}

impl Wanted<'_> {
    fn to_session(self) -> Session {
        Session { role: self.role.to_owned(), settings: self.settings.to_vec() }
    }
}

impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb").field("pool", &self.inner.pool.status()).finish()
    }
}

impl PgDb {
    /// Builds a pool from `config` and checks that one connection can be made.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL, [`Error::Unavailable`] when the server cannot
    /// be reached.
    pub async fn connect(config: PgConfig) -> Result<PgDb> {
        let pg = tokio_postgres::Config::from_str(&config.url)
            .map_err(|e| Error::Config(format!("PostgreSQL connection string: {e}")))?;
        let build = |pg: tokio_postgres::Config| {
            let manager =
                Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
            Pool::builder(manager)
                .max_size(config.pool_size.max(1))
                .runtime(Runtime::Tokio1)
                .build()
                .map_err(|e| Error::Config(format!("PostgreSQL pool: {e}")))
        };
        let pool = build(pg.clone())?;
        // Connections are made on first use: a handle that serves no plain read opens none.
        let read_pool = build(pg)?;
        let db = PgDb {
            inner: Arc::new(PgInner {
                pool,
                read_pool: Some(read_pool),
                sessions: Mutex::default(),
                statement_cache_capacity: config.statement_cache_capacity,
                config: Some(config),
            }),
        };
        drop(db.checkout().await?);
        Ok(db)
    }

    /// Wraps a pool the host already owns (its own TLS, sizes and hooks). Connections
    /// must not be left inside a transaction by other users of the pool.
    pub fn from_pool(pool: Pool) -> PgDb {
        PgDb {
            inner: Arc::new(PgInner {
                pool,
                read_pool: None,
                sessions: Mutex::default(),
                statement_cache_capacity: DEFAULT_CACHE_CAPACITY,
                config: None,
            }),
        }
    }

    /// Wraps two pools to the same database: `pool` for everything, `read_pool` for plain
    /// reads' sessions (see [`PgDb`]). Nothing but this handle may use `read_pool`: its
    /// connections keep a request's role and settings between requests.
    pub fn from_pools(pool: Pool, read_pool: Pool) -> PgDb {
        PgDb {
            inner: Arc::new(PgInner {
                pool,
                read_pool: Some(read_pool),
                sessions: Mutex::default(),
                statement_cache_capacity: DEFAULT_CACHE_CAPACITY,
                config: None,
            }),
        }
    }

    /// The configuration this handle was built from by [`PgDb::connect`] (`None` for a
    /// pool handed in by the host). The projects module reads its URL to reach the same
    /// server for dedicated databases and for its `LISTEN` connection.
    pub fn config(&self) -> Option<&PgConfig> {
        self.inner.config.as_ref()
    }

    /// The pool under this handle (plain reads' sessions have a pool of their own,
    /// closed by [`PgDb::close`] too).
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Closes the pools: connections are closed as they come back.
    pub fn close(&self) {
        self.inner.pool.close();
        if let Some(read_pool) = &self.inner.read_pool {
            read_pool.close();
        }
    }

    async fn checkout(&self) -> Result<Lease> {
        let client = self.inner.pool.get().await.map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(Lease { client: Some(client), clean: false })
    }

    /// Runs `statements` in one pipelined transaction scoped by `scope` (see the module
    /// documentation and [`crate::db::Db::transaction`]).
    ///
    /// # Errors
    /// [`Error::Database`] with the SQLSTATE of the first failing statement (the
    /// transaction is rolled back), `42501` for a guard that does not hold,
    /// [`Error::Unavailable`] when no connection can be had.
    pub async fn transaction(&self, scope: &Scope, statements: Vec<Stmt>) -> Result<Vec<StmtResult>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let span = trace::transaction_span(Backend::Postgres, scope, &statements);
        if let (Some(read_pool), Some(role), [statement]) =
            (&self.inner.read_pool, &scope.role, statements.as_slice())
            && scope.read_only
            && statement.plain_read
            && statement.guard.is_none()
        {
            let wanted = Wanted { role: role.as_str(), settings: &scope.settings };
            return self.run_plain_read(read_pool, wanted, statement).instrument(span).await;
        }
        self.run_scoped(scope, &statements).instrument(span).await
    }

    /// A plain read on a read-pool session: the session's role, settings and
    /// `default_transaction_read_only` are set (at session level, one pipelined
    /// statement) only when they differ from what it holds, so a connection serving the
    /// same user again runs the read alone, in one round trip and one implicit read-only
    /// transaction.
    async fn run_plain_read(
        &self,
        pool: &Pool,
        session: Wanted<'_>,
        statement: &Stmt,
    ) -> Result<Vec<StmtResult>> {
        let mut retried = false;
        loop {
            let client = pool.get().await.map_err(|e| Error::Unavailable(e.to_string()))?;
            let id = Object::id(&client);
            let mut lease = Lease { client: Some(client), clean: false };
            // Taken out while the request runs: a failure leaves it unknown.
            let known = self.take_session(id);
            let client = lease.client()?;
            let outcome = run_plain_read(client, known.as_deref(), session, statement).await;
            let retry = self.tend_cache(client, outcome.as_ref().err()) && !retried;
            match outcome {
                Ok(result) => {
                    lease.clean = true;
                    let kept = match known {
                        Some(known) if known.holds(session) => known,
                        _ => Arc::new(session.to_session()),
                    };
                    self.remember_session(id, kept);
                    return Ok(vec![result]);
                }
                Err(failure) => {
                    // Idle again (outside any transaction) but in an unknown session state.
                    lease.clean = failure.clean;
                    if retry {
                        retried = true;
                        continue;
                    }
                    return Err(failure.error);
                }
            }
        }
    }

    /// Keeps a connection's statement cache in bounds after an attempt, and clears it when
    /// the attempt failed on a stale cached plan; `true` when the attempt may be retried
    /// (a stale plan on a connection left clean: nothing of it was committed).
    fn tend_cache(&self, client: &ClientWrapper, failure: Option<&Failure>) -> bool {
        let cache = &client.statement_cache;
        match failure {
            None => {
                if cache.size() > self.inner.statement_cache_capacity {
                    cache.clear();
                }
                false
            }
            Some(failure) => {
                let stale = failure.clean && is_stale_statement(&failure.error);
                if stale {
                    cache.clear();
                }
                stale
            }
        }
    }

    fn take_session(&self, id: ObjectId) -> Option<Arc<Session>> {
        self.inner.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id)
    }

    fn remember_session(&self, id: ObjectId, session: Arc<Session>) {
        let mut sessions = self.inner.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Connections the pool dropped leave entries behind: past a bound, forget them
        // all (an unknown session is reset and set again, never trusted).
        let bound = self.inner.read_pool.as_ref().map_or(0, |p| p.status().max_size) * 4 + 16;
        if sessions.len() >= bound {
            sessions.clear();
        }
        sessions.insert(id, session);
    }

    async fn run_scoped(&self, scope: &Scope, statements: &[Stmt]) -> Result<Vec<StmtResult>> {
        let mut retried = false;
        loop {
            let mut lease = self.checkout().await?;
            let client = lease.client()?;
            let outcome = run_transaction(client, scope, statements).await;
            let retry = self.tend_cache(client, outcome.as_ref().err()) && !retried;
            lease.clean = outcome.as_ref().map_or_else(|failure| failure.clean, |_| true);
            match outcome {
                Ok(results) => return Ok(results),
                Err(_) if retry => retried = true,
                Err(failure) => return Err(failure.error),
            }
        }
    }

    /// Runs a script (fixed text) as one transaction: `BEGIN; …; COMMIT` in one simple
    /// query. Statements that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`)
    /// fail.
    ///
    /// # Errors
    /// [`Error::Database`] from the first statement that fails; nothing is applied.
    pub async fn execute_script(&self, statements: &[String]) -> Result<()> {
        let span = trace::script_span(Backend::Postgres, statements);
        self.run_script(statements).instrument(span).await
    }

    async fn run_script(&self, statements: &[String]) -> Result<()> {
        let mut lease = self.checkout().await?;
        let client = lease.client()?;
        // Newlines around each `;` so a trailing `--` comment cannot swallow it.
        let mut sql = String::from("BEGIN;\n");
        for statement in statements {
            sql.push_str(statement);
            sql.push_str("\n;\n");
        }
        sql.push_str("COMMIT");
        match client.batch_execute(&sql).await {
            Ok(()) => {
                lease.clean = true;
                Ok(())
            }
            Err(e) => {
                // The failed transaction is still open (and aborted): end it.
                lease.clean = e.as_db_error().is_some() && client.batch_execute("ROLLBACK").await.is_ok();
                Err(map_err(&e))
            }
        }
    }
}

/// A pooled connection that is discarded instead of returned unless `clean` is set.
struct Lease {
    client: Option<Object>,
    clean: bool,
}

impl Lease {
    fn client(&self) -> Result<&Object> {
        self.client.as_ref().ok_or_else(|| Error::Unavailable("no connection".into()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.clean
            && let Some(client) = self.client.take()
        {
            drop(Object::take(client));
        }
    }
}

/// A failed attempt, and whether the connection is known to be idle outside a transaction.
struct Failure {
    error: Error,
    clean: bool,
}

impl Failure {
    fn before_begin(error: Error) -> Failure {
        Failure { error, clean: true }
    }
}

fn is_stale_statement(error: &Error) -> bool {
    match error {
        Error::Database { sqlstate: Some(code), message } => {
            code == "26000"
                || (code == "0A000" && message.contains("cached plan must not change result type"))
        }
        _ => false,
    }
}

/// What one request of the pipeline gives: rows and affected count for a statement, `None`
/// for `BEGIN`/`COMMIT`.
type Output = std::result::Result<Option<(Vec<tokio_postgres::Row>, u64)>, tokio_postgres::Error>;
type Request<'a> = Pin<Box<dyn Future<Output = Output> + Send + 'a>>;

async fn run_transaction(
    client: &ClientWrapper,
    scope: &Scope,
    statements: &[Stmt],
) -> std::result::Result<Vec<StmtResult>, Failure> {
    // ---- 1. prepare (cached), and check every value and result type ----------------
    let settings_sql = settings_sql(scope.settings.len());
    let mut prepares: Vec<Pin<Box<dyn Future<Output = _> + Send + '_>>> = Vec::new();
    for statement in statements {
        let types = param_types(statement)?;
        prepares.push(Box::pin(async move { client.prepare_typed_cached(&statement.sql, &types).await }));
    }
    if let Some(sql) = &settings_sql {
        prepares.push(Box::pin(async move {
            let types = vec![Type::TEXT; scope.settings.len() * 2];
            client.prepare_typed_cached(sql, &types).await
        }));
    }
    let mut prepared = Vec::with_capacity(prepares.len());
    for result in join_all(prepares).await {
        prepared.push(result.map_err(|e| Failure { clean: e.as_db_error().is_some(), error: map_err(&e) })?);
    }
    let settings_statement = if settings_sql.is_some() { prepared.pop() } else { None };
    for (statement, st) in statements.iter().zip(&prepared) {
        check_statement(statement, st).map_err(Failure::before_begin)?;
    }

    // ---- 2. the pipeline ---------------------------------------------------------------
    let mut begin = String::from(if scope.read_only { "BEGIN READ ONLY" } else { "BEGIN" });
    if let Some(role) = &scope.role {
        begin.push_str("; SET LOCAL ROLE ");
        begin.push_str(&quote_ident(Dialect::Postgres, role.as_str()));
    }
    let guarded = statements.iter().any(|s| s.guard.is_some());
    let send_failed = AtomicBool::new(false);
    let setting_params: Vec<&(dyn ToSql + Sync)> = scope
        .settings
        .iter()
        .flat_map(|(name, value)| [name as &(dyn ToSql + Sync), value as &(dyn ToSql + Sync)])
        .collect();

    let params: Vec<Vec<PgParam<'_>>> =
        statements.iter().map(|s| s.values.0.iter().map(PgParam).collect()).collect();
    let mut requests: Vec<Request<'_>> = Vec::with_capacity(statements.len() + 3);
    requests.push(Box::pin(async { client.batch_execute(&begin).await.map(|()| None) }));
    if let Some(st) = &settings_statement {
        let params = &setting_params;
        let failed = &send_failed;
        requests.push(Box::pin(async move { query(client, st, params, failed).await }));
    }
    let spans: Vec<tracing::Span> =
        statements.iter().map(|s| trace::statement_span(Backend::Postgres, &s.sql)).collect();
    for ((st, params), span) in prepared.iter().zip(&params).zip(&spans) {
        let failed = &send_failed;
        requests.push(Box::pin(
            async move {
                let params: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                query(client, st, &params, failed).await
            }
            .instrument(span.clone()),
        ));
    }
    if !guarded {
        let failed = &send_failed;
        requests.push(Box::pin(async move {
            // Polled after every statement has been written: if one could not be encoded
            // (so was never sent), the transaction must not commit without it.
            let end = if failed.load(Ordering::Acquire) { "ROLLBACK" } else { "COMMIT" };
            client.batch_execute(end).await.map(|()| None)
        }));
    }
    let mut outputs = join_all(requests).await;
    if !guarded {
        let commit = outputs.pop();
        if send_failed.load(Ordering::Acquire) && first_error(&outputs).is_none() {
            return Err(Failure {
                error: Error::Database { sqlstate: None, message: "a statement could not be sent".into() },
                clean: matches!(commit, Some(Ok(_))),
            });
        }
        if let Some(output) = commit {
            outputs.push(output);
        }
    }

    if let Some(e) = first_error(&outputs) {
        let mut clean = e.as_db_error().is_some();
        let error = map_err(e);
        if guarded {
            clean = clean && client.batch_execute("ROLLBACK").await.is_ok();
        }
        return Err(Failure { error, clean });
    }

    // ---- 3. results and guards ---------------------------------------------------------
    let skip = 1 + usize::from(settings_statement.is_some());
    let mut results = Vec::with_capacity(statements.len());
    for ((statement, st), output) in statements.iter().zip(&prepared).zip(outputs.into_iter().skip(skip)) {
        let (rows, affected) = match output {
            Ok(out) => out.unwrap_or_default(),
            Err(e) => return Err(Failure { clean: false, error: map_err(&e) }),
        };
        let result = convert(st, rows, affected).map_err(|error| Failure { error, clean: !guarded })?;
        if let Some(span) = spans.get(results.len()) {
            trace::record_rows(span, result.affected);
        }
        if let Some(guard) = &statement.guard
            && let Err(error) = guard.check(&result)
        {
            let clean = client.batch_execute("ROLLBACK").await.is_ok();
            return Err(Failure { error, clean });
        }
        results.push(result);
    }
    if guarded && let Err(e) = client.batch_execute("COMMIT").await {
        return Err(Failure { clean: e.as_db_error().is_some(), error: map_err(&e) });
    }
    Ok(results)
}

/// The types `statement`'s values are prepared with ([`param_type`]); `22023` for a kind
/// of value PostgreSQL is not sent.
fn param_types(statement: &Stmt) -> std::result::Result<Vec<Type>, Failure> {
    statement
        .values
        .0
        .iter()
        .map(|value| {
            param_type(value).ok_or_else(|| {
                Failure::before_begin(Error::Database {
                    sqlstate: Some("22023".into()),
                    message: "a bound value of this kind is not supported on PostgreSQL".into(),
                })
            })
        })
        .collect()
}

/// [`PgDb::run_plain_read`] on one connection whose session holds `known` (`None`:
/// unknown). A session holding other setting names (or unknown) is first `RESET ALL`;
/// then role, settings and `default_transaction_read_only = on` are set unless the
/// session already holds exactly them; then the read. The read is prepared only after
/// the session is set (parsing checks the schema's privileges as the current role), and
/// when its statement is cached everything is written before the first answer is read.
async fn run_plain_read(
    client: &ClientWrapper,
    known: Option<&Session>,
    session: Wanted<'_>,
    statement: &Stmt,
) -> std::result::Result<StmtResult, Failure> {
    let types = param_types(statement)?;
    let same = known.is_some_and(|k| k.holds(session));
    let same_names = known.is_some_and(|k| {
        k.settings.len() == session.settings.len()
            && k.settings.iter().zip(session.settings).all(|((a, _), (b, _))| a == b)
    });
    let prepare_failure =
        |e: tokio_postgres::Error| Failure { clean: e.as_db_error().is_some(), error: map_err(&e) };
    let set_st = if same {
        None
    } else {
        let set_types = vec![Type::TEXT; 1 + session.settings.len() * 2];
        let sql = session_sql(session.settings.len());
        Some(client.prepare_typed_cached(&sql, &set_types).await.map_err(prepare_failure)?)
    };

    let send_failed = AtomicBool::new(false);
    let mut set_params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if set_st.is_some() {
        set_params.reserve(1 + session.settings.len() * 2);
        set_params.push(&session.role);
        for (name, value) in session.settings {
            set_params.push(name);
            set_params.push(value);
        }
    }
    let params: Vec<PgParam<'_>> = statement.values.0.iter().map(PgParam).collect();
    // The read's prepared statement, and a statement that must not run (its values or
    // result types do not fit), as the read's request finds them.
    let prepared: Mutex<Option<Statement>> = Mutex::new(None);
    let unfit: Mutex<Option<Error>> = Mutex::new(None);
    let mut requests: Vec<Request<'_>> = Vec::with_capacity(3);
    if !same && !same_names {
        requests.push(Box::pin(async { client.batch_execute("RESET ALL").await.map(|()| None) }));
    }
    if let Some(set_st) = &set_st {
        let (params, failed) = (&set_params, &send_failed);
        requests.push(Box::pin(async move { query(client, set_st, params, failed).await }));
    }
    let span = trace::statement_span(Backend::Postgres, &statement.sql);
    {
        let (types, params, failed, prepared, unfit) = (&types, &params, &send_failed, &prepared, &unfit);
        requests.push(Box::pin(
            async move {
                // Polled after the session's requests were written: a statement not yet
                // cached is parsed after the session is set.
                let st = client.prepare_typed_cached(&statement.sql, types).await?;
                if let Err(e) = check_statement(statement, &st) {
                    *unfit.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                    return Ok(None);
                }
                let params: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                let out = query(client, &st, &params, failed).await;
                *prepared.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(st);
                out
            }
            .instrument(span.clone()),
        ));
    }
    let mut outputs = join_all(requests).await;
    if let Some(e) = first_error(&outputs) {
        return Err(Failure { clean: e.as_db_error().is_some(), error: map_err(e) });
    }
    if let Some(error) = unfit.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(Failure { error, clean: true });
    }
    if send_failed.load(Ordering::Acquire) {
        return Err(Failure {
            error: Error::Database { sqlstate: None, message: "a statement could not be sent".into() },
            clean: true,
        });
    }
    let st = prepared.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (Some(st), Some(Ok(out))) = (st, outputs.pop()) else {
        return Err(Failure { clean: false, error: no_answer() });
    };
    let (rows, affected) = out.unwrap_or_default();
    let result = convert(&st, rows, affected).map_err(|error| Failure { error, clean: true })?;
    trace::record_rows(&span, result.affected);
    Ok(result)
}

fn no_answer() -> Error {
    Error::Database { sqlstate: None, message: "the read got no answer".into() }
}

/// `select set_config('role', $1, false), set_config('default_transaction_read_only',
/// 'on', false), set_config($2, $3, false), …` for `n` settings.
fn session_sql(n: usize) -> String {
    let mut sql = String::from(
        "select set_config('role', $1, false), set_config('default_transaction_read_only', 'on', false)",
    );
    for i in 0..n {
        let _ = write!(sql, ", set_config(${}, ${}, false)", 2 * i + 2, 2 * i + 3);
    }
    sql
}

/// One statement of the pipeline. Its request is written on the first poll.
async fn query(
    client: &ClientWrapper,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    send_failed: &AtomicBool,
) -> Output {
    let result = if statement.columns().is_empty() {
        client.execute(statement, params).await.map(|n| Some((Vec::new(), n)))
    } else {
        client.query(statement, params).await.map(|rows| {
            let n = rows.len() as u64;
            Some((rows, n))
        })
    };
    if let Err(e) = &result
        && e.as_db_error().is_none()
    {
        send_failed.store(true, Ordering::Release);
    }
    result
}

/// `select set_config($1, $2, true), …` for `n` settings.
fn settings_sql(n: usize) -> Option<String> {
    if n == 0 {
        return None;
    }
    let mut sql = String::from("select ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "set_config(${}, ${}, true)", 2 * i + 1, 2 * i + 2);
    }
    Some(sql)
}

/// The values fit the statement and every result column can be read.
fn check_statement(statement: &Stmt, prepared: &Statement) -> Result<()> {
    if prepared.params().len() != statement.values.0.len() {
        return Err(Error::Database {
            sqlstate: Some("08P01".into()),
            message: format!(
                "the statement has {} parameters but {} values were bound",
                prepared.params().len(),
                statement.values.0.len()
            ),
        });
    }
    for column in prepared.columns() {
        if !readable(column.type_()) {
            return Err(Error::Database {
                sqlstate: Some("0A000".into()),
                message: format!(
                    "column `{}` has type `{}`, which cannot be read into a cell; cast it to text \
                     in the query",
                    column.name(),
                    column.type_().name()
                ),
            });
        }
    }
    Ok(())
}

/// The first error in pipeline order, preferring a real one over the `25P02` ("current
/// transaction is aborted") errors that follow it.
fn first_error(outputs: &[Output]) -> Option<&tokio_postgres::Error> {
    let mut errors = outputs.iter().filter_map(|o| o.as_ref().err());
    let first = errors.next()?;
    let aborted = |e: &tokio_postgres::Error| e.code().is_some_and(|c| c.code() == "25P02");
    if aborted(first) {
        return Some(errors.find(|e| !aborted(e)).unwrap_or(first));
    }
    Some(first)
}

/// Polls every future, in order, until all are done. Polling in order matters: each
/// request is written to the connection on its first poll, so they go out in order.
async fn join_all<'a, T>(mut futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>) -> Vec<T> {
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// A tokio-postgres error as [`Error`]: the server's SQLSTATE and message (never the
/// `DETAIL`, which may quote values), or [`Error::Unavailable`] for a lost connection.
fn map_err(error: &tokio_postgres::Error) -> Error {
    if let Some(db) = error.as_db_error() {
        return Error::Database {
            sqlstate: Some(db.code().code().to_owned()),
            message: db.message().to_owned(),
        };
    }
    if error.is_closed() {
        return Error::Unavailable(format!("PostgreSQL connection closed: {error}"));
    }
    match error.source() {
        Some(source) if source.is::<std::io::Error>() => {
            Error::Unavailable(format!("PostgreSQL connection: {source}"))
        }
        _ => Error::Database { sqlstate: None, message: error.to_string() },
    }
}

// ---- binding ----------------------------------------------------------------------------

/// The type a value is declared with when its statement is prepared; `None` for kinds
/// this engine does not bind.
fn param_type(value: &Value) -> Option<Type> {
    #[allow(unreachable_patterns)] // more variants exist with sea-query features
    Some(match value {
        Value::Bool(_) => Type::BOOL,
        Value::TinyInt(_) | Value::SmallInt(_) | Value::TinyUnsigned(_) => Type::INT2,
        Value::Int(_) | Value::SmallUnsigned(_) => Type::INT4,
        Value::BigInt(_) | Value::Unsigned(_) => Type::INT8,
        Value::BigUnsigned(_) => Type::NUMERIC,
        Value::Float(_) => Type::FLOAT4,
        Value::Double(_) => Type::FLOAT8,
        Value::String(_) | Value::Enum(_) | Value::Char(_) => Type::UNKNOWN,
        Value::Bytes(_) => Type::BYTEA,
        _ => return None,
    })
}

/// A sea-query value bound to a statement prepared with [`param_type`]: text values in
/// text format (PostgreSQL parses them as the column's type), the rest in binary.
#[derive(Debug)]
struct PgParam<'a>(&'a Value);

impl ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        fn text(s: Option<&str>, out: &mut BytesMut) -> IsNull {
            match s {
                Some(s) => {
                    out.extend_from_slice(s.as_bytes());
                    IsNull::No
                }
                None => IsNull::Yes,
            }
        }
        #[allow(unreachable_patterns)] // more variants exist with sea-query features
        Ok(match self.0 {
            Value::Bool(v) => return v.to_sql(ty, out),
            Value::TinyInt(v) => return v.map(i16::from).to_sql(ty, out),
            Value::SmallInt(v) => return v.to_sql(ty, out),
            Value::TinyUnsigned(v) => return v.map(i16::from).to_sql(ty, out),
            Value::Int(v) => return v.to_sql(ty, out),
            Value::SmallUnsigned(v) => return v.map(i32::from).to_sql(ty, out),
            Value::BigInt(v) => return v.to_sql(ty, out),
            Value::Unsigned(v) => return v.map(i64::from).to_sql(ty, out),
            Value::BigUnsigned(v) => text(v.map(|n| n.to_string()).as_deref(), out),
            Value::Float(v) => return v.to_sql(ty, out),
            Value::Double(v) => return v.to_sql(ty, out),
            Value::String(v) => text(v.as_deref(), out),
            Value::Enum(OptionEnum::Some(e)) => text(Some(&e.value), out),
            Value::Enum(OptionEnum::None(_)) => IsNull::Yes,
            Value::Char(v) => text(v.map(String::from).as_deref(), out),
            Value::Bytes(v) => return v.as_deref().to_sql(ty, out),
            _ => return Err("a bound value of this kind is not supported on PostgreSQL".into()),
        })
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        match self.0 {
            Value::BigUnsigned(_) | Value::String(_) | Value::Enum(_) | Value::Char(_) => Format::Text,
            _ => Format::Binary,
        }
    }

    to_sql_checked!();
}

// ---- reading ----------------------------------------------------------------------------

/// Whether [`decode`] reads this type.
fn readable(ty: &Type) -> bool {
    match *ty {
        Type::BOOL
        | Type::INT2
        | Type::INT4
        | Type::INT8
        | Type::OID
        | Type::FLOAT4
        | Type::FLOAT8
        | Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::CHAR
        | Type::UNKNOWN
        | Type::JSON
        | Type::JSONB
        | Type::UUID
        | Type::NUMERIC
        | Type::DATE
        | Type::TIME
        | Type::TIMESTAMP
        | Type::TIMESTAMPTZ
        | Type::BYTEA
        | Type::VOID => true,
        _ => match ty.kind() {
            Kind::Enum(_) => true,
            Kind::Domain(base) => readable(base),
            _ => false,
        },
    }
}

/// Rows as cells; `affected` from the command tag.
fn convert(statement: &Statement, rows: Vec<tokio_postgres::Row>, affected: u64) -> Result<StmtResult> {
    let columns: Arc<[String]> = statement.columns().iter().map(|c| c.name().to_owned()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let cell: PgCell = row.try_get(i).map_err(|e| Error::Database {
                sqlstate: None,
                message: format!("cannot read column `{}`: {e}", columns[i]),
            })?;
            cells.push(cell.0);
        }
        out.push(Row { columns: Arc::clone(&columns), cells });
    }
    Ok(StmtResult { rows: out, affected })
}

struct PgCell(Cell);

impl<'a> FromSql<'a> for PgCell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        decode(ty, raw).map(PgCell)
    }

    fn from_sql_null(_ty: &Type) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(PgCell(Cell::Null))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

type DecodeResult = std::result::Result<Cell, Box<dyn StdError + Sync + Send>>;

fn decode(ty: &Type, raw: &[u8]) -> DecodeResult {
    fn text(raw: &[u8]) -> DecodeResult {
        Ok(Cell::Text(std::str::from_utf8(raw)?.to_owned()))
    }
    Ok(match *ty {
        Type::BOOL => Cell::Bool(bool::from_sql(ty, raw)?),
        Type::INT2 => Cell::Int(i16::from_sql(ty, raw)?.into()),
        Type::INT4 => Cell::Int(i32::from_sql(ty, raw)?.into()),
        Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
        Type::OID => Cell::Int(u32::from_sql(ty, raw)?.into()),
        // Through its shortest text so 0.1::float4 reads as 0.1, not 0.10000000149.
        Type::FLOAT4 => Cell::Float(f32::from_sql(ty, raw)?.to_string().parse()?),
        Type::FLOAT8 => Cell::Float(f64::from_sql(ty, raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR | Type::UNKNOWN | Type::JSON => {
            return text(raw);
        }
        Type::JSONB => match raw.split_first() {
            Some((1, json)) => return text(json),
            _ => return Err("unsupported jsonb version".into()),
        },
        Type::UUID => Cell::Text(uuid::Uuid::from_slice(raw)?.hyphenated().to_string()),
        Type::NUMERIC => Cell::Text(numeric_text(raw).ok_or("malformed numeric")?),
        Type::DATE => Cell::Text(date_text(i32::from_be_bytes(raw.try_into()?))),
        Type::TIME => Cell::Text(time_text(i64::from_be_bytes(raw.try_into()?))),
        Type::TIMESTAMP => Cell::Text(timestamp_text(i64::from_be_bytes(raw.try_into()?), false)),
        Type::TIMESTAMPTZ => Cell::Text(timestamp_text(i64::from_be_bytes(raw.try_into()?), true)),
        Type::BYTEA => Cell::Bytes(raw.to_vec()),
        Type::VOID => Cell::Null,
        _ => match ty.kind() {
            Kind::Enum(_) => return text(raw),
            Kind::Domain(base) => return decode(base, raw),
            _ => return Err(format!("type `{}` cannot be read into a cell", ty.name()).into()),
        },
    })
}

/// The text of a binary `numeric`: digits in base 10000 with a weight, sign and scale.
fn numeric_text(raw: &[u8]) -> Option<String> {
    let word = |i: usize| raw.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = usize::from(word(3)?);
    let digits: Vec<u16> = (0..ndigits).map(|i| word(4 + i)).collect::<Option<_>>()?;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => return None,
    }
    let digit = |k: i64| usize::try_from(k).ok().and_then(|k| digits.get(k).copied()).unwrap_or(0);
    let mut s = String::with_capacity(16);
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for k in 0..=weight {
            let _ = if k == 0 { write!(s, "{}", digit(k)) } else { write!(s, "{:04}", digit(k)) };
        }
    }
    if dscale > 0 {
        s.push('.');
        let start = s.len();
        let mut k = weight + 1;
        while s.len() - start < dscale {
            let _ = write!(s, "{:04}", digit(k));
            k += 1;
        }
        s.truncate(start + dscale);
    }
    Some(s)
}

/// Microseconds in a day.
const DAY_US: i64 = 86_400_000_000;
/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

fn date_text(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        days => {
            let (y, m, d) = civil_from_days(i64::from(days) + PG_EPOCH_DAYS);
            format!("{y:04}-{m:02}-{d:02}")
        }
    }
}

fn time_text(micros: i64) -> String {
    let (secs, frac) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let digits = format!("{frac:06}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
    s
}

/// ISO 8601; `+00:00` for `timestamptz` (tokio-postgres reads it in UTC).
fn timestamp_text(micros: i64, tz: bool) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        micros => {
            let (y, m, d) = civil_from_days(micros.div_euclid(DAY_US) + PG_EPOCH_DAYS);
            let mut s = format!("{y:04}-{m:02}-{d:02}T{}", time_text(micros.rem_euclid(DAY_US)));
            if tz {
                s.push_str("+00:00");
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(date_text(0), "2000-01-01");
        assert_eq!(date_text(-1), "1999-12-31");
        assert_eq!(date_text(366 + 31 + 27), "2001-02-28");
        assert_eq!(timestamp_text(0, true), "2000-01-01T00:00:00+00:00");
        assert_eq!(timestamp_text(-1, false), "1999-12-31T23:59:59.999999");
        assert_eq!(timestamp_text(DAY_US + 3_723_500_000, true), "2000-01-02T01:02:03.5+00:00");
        assert_eq!(time_text(45_296_000_001), "12:34:56.000001");
    }

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Option<String> {
        let mut raw = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        numeric_text(&raw)
    }

    #[test]
    fn numerics() {
        assert_eq!(numeric(0, 0, 0, 0, &[]).as_deref(), Some("0"));
        assert_eq!(numeric(2, 0, 0, 4, &[123, 4500]).as_deref(), Some("123.4500"));
        assert_eq!(numeric(1, -1, 0x4000, 4, &[1]).as_deref(), Some("-0.0001"));
        assert_eq!(numeric(1, -2, 0, 8, &[1]).as_deref(), Some("0.00000001"));
        assert_eq!(numeric(1, 5, 0, 0, &[1]).as_deref(), Some("100000000000000000000"));
        assert_eq!(numeric(2, 1, 0, 2, &[1, 2345]).as_deref(), Some("12345.00"));
        assert_eq!(numeric(0, 0, 0xC000, 0, &[]).as_deref(), Some("NaN"));
        assert_eq!(numeric_text(&[0, 3]), None);
        assert_eq!(numeric(5, 0, 0, 0, &[1]), None);
    }
}
