//! The MySQL / MariaDB engine: an sqlx MySQL pool, statements bound by sea-query-sqlx.
//! See [`MyDb`] for how it works.

use std::future::poll_fn;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_query_sqlx::SqlxValues;
use sqlx::mysql::{
    MySql, MySqlConnectOptions, MySqlDatabaseError, MySqlPoolOptions, MySqlRow, MySqlValueRef,
};
use sqlx::{AssertSqlSafe, Column as _, Connection as _, Either, Executor as _, Row as _, TypeInfo as _};
use sqlx::{Decode, MySqlConnection, MySqlPool, Type, ValueRef as _};
use tracing::Instrument;

use super::trace::{self, Backend};
use super::{Cell, Row, Scope, Stmt, StmtResult};
use crate::error::{Error, Result};

/// How to reach MySQL or MariaDB.
///
/// ```
/// use easbase_core::db::MyConfig;
/// let config = MyConfig::new("mysql://app@db.internal/app").pool_size(32);
/// assert_eq!(config.pool_size, 32);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct MyConfig {
    /// A URL `mysql://user:password@host:port/database`. No TLS: a host that needs TLS
    /// builds its own pool and hands it to [`crate::db::Db::from_mysql_pool`].
    pub url: String,
    /// Connections in the pool (default 16).
    pub pool_size: u32,
    /// How long to wait for a free connection before failing (default 30 s).
    pub acquire_timeout: Duration,
}

impl std::fmt::Debug for MyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("MyConfig")
            .field("pool_size", &self.pool_size)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

impl MyConfig {
    /// A configuration with the default pool size.
    pub fn new(url: impl Into<String>) -> MyConfig {
        MyConfig { url: url.into(), pool_size: 16, acquire_timeout: Duration::from_secs(30) }
    }

    /// Sets the pool size.
    pub fn pool_size(mut self, size: u32) -> MyConfig {
        self.pool_size = size;
        self
    }

    /// Parses the URL without echoing it (it may hold a password).
    pub(crate) fn options(&self) -> Result<MySqlConnectOptions> {
        MySqlConnectOptions::from_str(&self.url)
            .map_err(|_| Error::Config("the database URL is not a valid MySQL URL".into()))
    }
}

/// Maps a MySQL / MariaDB error number to the PostgreSQL SQLSTATE of the same class (the
/// one place this mapping lives). MySQL's own SQLSTATEs are too coarse (`23000` for every
/// integrity violation, `HY000` for many others), so the engine maps the error *number*.
///
/// | MySQL / MariaDB error | SQLSTATE |
/// |---|---|
/// | 1062 duplicate entry, 1586 | `23505` unique violation |
/// | 1451, 1452, 1216, 1217 foreign key | `23503` foreign-key violation |
/// | 1048 column cannot be null, 1364 no default value | `23502` not-null violation |
/// | 3819 (MySQL), 4025 (MariaDB) check constraint | `23514` check violation |
/// | 1366, 1292, 1265, 1411, 3140, 4038 incorrect value | `22P02` invalid text representation |
/// | 1264, 1690 out of range | `22003` numeric value out of range |
/// | 1406 data too long | `22001` string data right truncation |
/// | 1365 division by zero | `22012` division by zero |
/// | 1792 in a read-only transaction | `25006` read-only transaction |
/// | 1146 unknown table | `42P01` undefined table |
/// | 1054 unknown column | `42703` undefined column |
/// | 1064 syntax error | `42601` syntax error |
/// | 1044, 1045, 1142, 1143 access denied | `42501` insufficient privilege |
/// | 1050 table exists | `42P07` duplicate table |
/// | 1007 database exists | `42P04` duplicate database |
/// | 1049 unknown database | `3D000` invalid catalog name |
/// | 1213 deadlock | `40P01` deadlock detected |
/// | 1205 lock wait timeout | `55P03` lock not available |
/// | 1210 wrong arguments to a prepared statement | `08P01` protocol violation |
///
/// ```
/// use easbase_core::db::mysql_sqlstate;
/// assert_eq!(mysql_sqlstate(1062), Some("23505"));
/// assert_eq!(mysql_sqlstate(1), None);
/// ```
pub fn mysql_sqlstate(number: u16) -> Option<&'static str> {
    Some(match number {
        1062 | 1586 => "23505",
        1451 | 1452 | 1216 | 1217 => "23503",
        1048 | 1364 => "23502",
        3819 | 4025 => "23514",
        1366 | 1292 | 1265 | 1411 | 3140 | 4038 => "22P02",
        1264 | 1690 => "22003",
        1406 => "22001",
        1365 => "22012",
        1792 => "25006",
        1146 => "42P01",
        1054 => "42703",
        1064 => "42601",
        1044 | 1045 | 1142 | 1143 => "42501",
        1050 => "42P07",
        1007 => "42P04",
        1049 => "3D000",
        1213 => "40P01",
        1205 => "55P03",
        1210 => "08P01",
        _ => return None,
    })
}

/// A MySQL or MariaDB database behind an sqlx pool. Cheap to clone.
///
/// [`MyDb::transaction`] checks out one connection and runs the statements as prepared
/// statements (sqlx keeps them cached per connection), values bound by sea-query-sqlx:
///
/// - a single statement without a guard runs on its own (MySQL makes each statement
///   atomic and reads it from one snapshot): one round trip. In a read-only scope only a
///   plain `SELECT` does (no `FOR UPDATE`, no `INTO`, no `;`), which cannot write;
///   anything else gets a read-only transaction, where MySQL refuses writes (`25006`);
/// - anything else runs in `START TRANSACTION` (`… READ ONLY` for a read-only scope),
///   the statements, then `COMMIT`; a failed statement or a [`Guard`](super::Guard) that
///   does not hold rolls it back. A cancelled call (a dropped future) leaves the
///   rollback queued on the connection, so no transaction reaches the next user.
///
/// A transaction that InnoDB rolls back as a deadlock victim (error 1213) is run again,
/// up to three times.
///
/// Measured (`benches/benches/db.rs`, MariaDB 10.11 on loopback, one connection, a busy
/// 2-core machine): a point select by key through [`Db::transaction`](super::Db::transaction)
/// with a read-only scope takes ≈ 45 µs, as sqlx called directly (≈ 43 µs); wrapped in
/// `START TRANSACTION READ ONLY … COMMIT` it took twice that, hence the plain-`SELECT`
/// path above.
///
/// MySQL has no roles per request and no row-level security: the scope's role and
/// settings are ignored, and the caller compiles the policies into its statements (as
/// on SQLite) and guards its writes.
///
/// DDL commits by itself in MySQL: [`MyDb::execute_script`] runs a script in one
/// transaction, but only its data changes are undone when a later statement fails.
///
/// ## Values and cells
/// Strings are bound as strings and MySQL converts them to the column's type (dates,
/// decimals, JSON). Result columns are read into [`Cell`]s: integers (`BOOLEAN`, i.e.
/// `tinyint(1)`, as [`Cell::Bool`]; a `bigint unsigned` beyond `i64` as text), `float`
/// and `double` as [`Cell::Float`], `decimal` as exact text, `date`, `time`,
/// `datetime` and `timestamp` as ISO-8601 text (`2024-02-29T13:14:15.5`; sessions run in
/// UTC), `json`, `enum`, `set` and character strings as text, binary strings and blobs
/// as bytes. Other types (`geometry`) are refused with an error naming the column.
///
/// Errors carry the PostgreSQL SQLSTATE of MySQL's error number where [`mysql_sqlstate`]
/// knows one, MySQL's own SQLSTATE otherwise; the message names the error number.
///
/// ```no_run
/// use easbase_core::db::{Db, Guard, MyConfig, Scope, Stmt, portable_sqlstate};
///
/// # async fn demo() -> easbase_core::Result<()> {
/// let db = Db::connect_mysql(MyConfig::new("mysql://root@127.0.0.1:3306/app")).await?;
/// // A write and the policy check compiled for it, in one transaction: the insert is
/// // undone when the check finds a row the caller may not write.
/// let insert = Stmt::new(
///     "insert into notes (owner, body) values (?, ?)",
///     sea_query::Values(vec!["alice".into(), "hi".into()]),
/// );
/// let check = Stmt::new(
///     "select count(*) from notes where owner <> ?",
///     sea_query::Values(vec!["alice".into()]),
/// )
/// .with_guard(Guard::NoRows("new row violates row-level security policy".into()));
/// match db.transaction(&Scope::default(), vec![insert, check]).await {
///     Err(e) if portable_sqlstate(&e) == Some("42501") => println!("refused"),
///     other => println!("{other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MyDb {
    inner: Arc<MyInner>,
}

struct MyInner {
    pool: MySqlPool,
    /// The configuration the pool was built from (`None` for a host's pool).
    config: Option<MyConfig>,
}

impl std::fmt::Debug for MyDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyDb")
            .field("size", &self.inner.pool.size())
            .field("idle", &self.inner.pool.num_idle())
            .finish()
    }
}

impl MyDb {
    /// Builds a pool from `config` and checks that one connection can be made.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL, [`Error::Unavailable`] when the server cannot
    /// be reached, [`Error::Database`] when it refuses the login or the database.
    pub async fn connect(config: MyConfig) -> Result<MyDb> {
        let options = config.options()?;
        let pool = pool_options(config.pool_size, config.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| map_err(&e))?;
        Ok(MyDb { inner: Arc::new(MyInner { pool, config: Some(config) }) })
    }

    /// A pool to the database `database` on the same server as this one, with the same
    /// credentials (no connection is made until the first use).
    pub(crate) fn sibling(&self, database: &str, pool_size: u32) -> MyDb {
        let options = (*self.inner.pool.connect_options()).clone().database(database);
        let timeout = self.inner.config.as_ref().map_or(Duration::from_secs(30), |c| c.acquire_timeout);
        let pool = pool_options(pool_size, timeout).connect_lazy_with(options);
        MyDb { inner: Arc::new(MyInner { pool, config: None }) }
    }

    /// A pool to `database` on the server of `url` (no connection is made until the
    /// first use).
    pub(crate) fn lazy(url: &str, database: Option<&str>, pool_size: u32) -> Result<MyDb> {
        let mut options = MyConfig::new(url).options()?;
        if let Some(database) = database {
            options = options.database(database);
        }
        let pool = pool_options(pool_size, Duration::from_secs(30)).connect_lazy_with(options);
        Ok(MyDb { inner: Arc::new(MyInner { pool, config: None }) })
    }

    /// Wraps a pool the host already owns (its own TLS, sizes and hooks). Its sessions
    /// should run with `time_zone = '+00:00'` (sqlx's default) for `timestamp` columns
    /// to read as UTC.
    pub fn from_pool(pool: MySqlPool) -> MyDb {
        MyDb { inner: Arc::new(MyInner { pool, config: None }) }
    }

    /// The configuration this handle was built from by [`MyDb::connect`] (`None`
    /// otherwise).
    pub fn config(&self) -> Option<&MyConfig> {
        self.inner.config.as_ref()
    }

    /// The pool under this handle.
    pub fn pool(&self) -> &MySqlPool {
        &self.inner.pool
    }

    /// The name of the database this handle's connections use, if the options name one.
    pub fn database(&self) -> Option<String> {
        self.inner.pool.connect_options().get_database().map(str::to_owned)
    }

    /// Runs `statements` in one transaction (see the type's documentation and
    /// [`crate::db::Db::transaction`]).
    ///
    /// # Errors
    /// [`Error::Database`] with the SQLSTATE of the first failing statement (the
    /// transaction is rolled back), `42501` for a guard that does not hold,
    /// [`Error::Unavailable`] when no connection can be had.
    pub async fn transaction(&self, scope: &Scope, statements: Vec<Stmt>) -> Result<Vec<StmtResult>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let span = trace::transaction_span(Backend::Mysql, scope, &statements);
        async {
            let mut attempt = 0;
            loop {
                match self.run_transaction(scope, &statements).await {
                    // InnoDB picked this transaction as a deadlock victim and rolled it
                    // back whole (concurrent upserts of one key can do that): run it again.
                    Err(e) if e.sqlstate() == Some("40P01") && attempt < DEADLOCK_RETRIES => {
                        attempt += 1;
                        tracing::debug!(attempt, "deadlock; retrying the transaction");
                        tokio::time::sleep(Duration::from_millis(2 * u64::from(attempt))).await;
                    }
                    outcome => return outcome,
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn run_transaction(&self, scope: &Scope, statements: &[Stmt]) -> Result<Vec<StmtResult>> {
        let mut conn = self.inner.pool.acquire().await.map_err(|e| map_err(&e))?;
        let single = statements.len() == 1 && statements[0].guard.is_none();
        if single && (!scope.read_only || trace::is_plain_select(&statements[0].sql)) {
            return Ok(vec![run_statement(&mut conn, &statements[0]).await?]);
        }
        let begin = if scope.read_only { "START TRANSACTION READ ONLY" } else { "START TRANSACTION" };
        // Dropped before COMMIT (an error, a guard, a cancelled future): rolled back.
        let mut tx = conn.begin_with(begin).await.map_err(|e| map_err(&e))?;
        let mut results = Vec::with_capacity(statements.len());
        for statement in statements {
            let result = run_statement(&mut tx, statement).await?;
            if let Some(guard) = &statement.guard {
                guard.check(&result)?;
            }
            results.push(result);
        }
        tx.commit().await.map_err(|e| map_err(&e))?;
        Ok(results)
    }

    /// Runs a script (fixed text; each string may hold several statements) in one
    /// transaction. DDL commits by itself in MySQL, so only data changes are undone when
    /// a later statement fails.
    ///
    /// # Errors
    /// [`Error::Database`] from the first statement that fails.
    pub async fn execute_script(&self, statements: &[String]) -> Result<()> {
        let span = trace::script_span(Backend::Mysql, statements);
        async {
            let mut conn = self.inner.pool.acquire().await.map_err(|e| map_err(&e))?;
            let mut tx = conn.begin().await.map_err(|e| map_err(&e))?;
            for sql in statements {
                sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(&mut *tx).await.map_err(|e| map_err(&e))?;
            }
            tx.commit().await.map_err(|e| map_err(&e))
        }
        .instrument(span)
        .await
    }
}

/// How many times a transaction chosen as a deadlock victim is run again.
const DEADLOCK_RETRIES: u32 = 3;

fn pool_options(size: u32, acquire_timeout: Duration) -> MySqlPoolOptions {
    // No ping before each checkout: a broken connection fails its statement and is
    // dropped by sqlx, and the caller sees `Unavailable`.
    MySqlPoolOptions::new()
        .max_connections(size.max(1))
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
}

/// Runs one prepared statement and reads its rows and affected count.
async fn run_statement(conn: &mut MySqlConnection, statement: &Stmt) -> Result<StmtResult> {
    let span = trace::statement_span(Backend::Mysql, &statement.sql);
    let result = fetch(conn, statement).instrument(span.clone()).await?;
    trace::record_rows(&span, result.affected);
    Ok(result)
}

async fn fetch(conn: &mut MySqlConnection, statement: &Stmt) -> Result<StmtResult> {
    let query = sqlx::query_with::<MySql, _>(
        AssertSqlSafe(statement.sql.clone()),
        SqlxValues(statement.values.clone()),
    );
    let mut stream = conn.fetch_many(query);
    let mut rows = Vec::new();
    let mut affected = 0u64;
    let mut columns: Option<Arc<[String]>> = None;
    while let Some(step) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        match step.map_err(|e| map_err(&e))? {
            Either::Left(done) => affected += done.rows_affected(),
            Either::Right(row) => {
                let names = columns
                    .get_or_insert_with(|| row.columns().iter().map(|c| c.name().to_owned()).collect());
                rows.push(convert(&row, names)?);
            }
        }
    }
    if columns.is_some() {
        affected = rows.len() as u64;
    }
    Ok(StmtResult { rows, affected })
}

fn convert(row: &MySqlRow, columns: &Arc<[String]>) -> Result<Row> {
    let mut cells = Vec::with_capacity(columns.len());
    for (i, name) in columns.iter().enumerate() {
        let value = row.try_get_raw(i).map_err(|e| map_err(&e))?;
        let cell = decode(value).map_err(|e| Error::Database {
            sqlstate: Some("0A000".into()),
            message: format!("cannot read column `{name}`: {e}"),
        })?;
        cells.push(cell);
    }
    Ok(Row { columns: Arc::clone(columns), cells })
}

type DecodeResult = std::result::Result<Cell, sqlx::error::BoxDynError>;

fn decode(value: MySqlValueRef<'_>) -> DecodeResult {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let info = value.type_info().into_owned();
    let text = |value: MySqlValueRef<'_>| -> DecodeResult {
        Ok(Cell::Text(<&str as Decode<MySql>>::decode(value)?.to_owned()))
    };
    Ok(match info.name() {
        "BOOLEAN" => Cell::Bool(<bool as Decode<MySql>>::decode(value)?),
        "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" | "YEAR" | "TINYINT UNSIGNED"
        | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => {
            Cell::Int(<i64 as Decode<MySql>>::decode(value)?)
        }
        "BIGINT UNSIGNED" | "BIT" => {
            let n = <u64 as Decode<MySql>>::decode(value)?;
            i64::try_from(n).map_or_else(|_| Cell::Text(n.to_string()), Cell::Int)
        }
        // Through its shortest text so 0.1 stored as float reads as 0.1.
        "FLOAT" => Cell::Float(<f32 as Decode<MySql>>::decode(value)?.to_string().parse()?),
        "DOUBLE" => Cell::Float(<f64 as Decode<MySql>>::decode(value)?),
        "DECIMAL" | "JSON" | "ENUM" | "SET" | "NULL" => return text(value),
        "DATE" => Cell::Text(datetime_text(value, true)?),
        "DATETIME" | "TIMESTAMP" => Cell::Text(datetime_text(value, false)?),
        "TIME" => Cell::Text(time_text(value)?),
        "GEOMETRY" => {
            return Err("type `GEOMETRY` cannot be read into a cell; convert it in the query".into());
        }
        // Character and binary strings: text unless the collation is `binary`.
        _ if <str as Type<MySql>>::compatible(&info) => return text(value),
        _ => Cell::Bytes(<&[u8] as Decode<MySql>>::decode(value)?.to_vec()),
    })
}

/// Whether a temporal value came as text (`raw_sql`) rather than in the binary protocol
/// of prepared statements, where it starts with a length byte (0, 4, 7, 8, 11 or 12).
fn is_text_format(raw: &[u8]) -> bool {
    raw.first().is_some_and(|b| b.is_ascii_digit() || *b == b'-')
}

/// A `date`, `datetime` or `timestamp` as ISO 8601 (`T` between date and time, fraction
/// without trailing zeros).
fn datetime_text(
    value: MySqlValueRef<'_>,
    date_only: bool,
) -> std::result::Result<String, sqlx::error::BoxDynError> {
    let raw = <&[u8] as Decode<MySql>>::decode(value)?;
    if is_text_format(raw) {
        let s = std::str::from_utf8(raw)?;
        return Ok(match s.split_once(' ') {
            Some((date, time)) => format!("{date}T{}", trim_fraction(time)),
            None => s.to_owned(),
        });
    }
    let (len, body) = raw.split_first().ok_or("empty date")?;
    let b = |i: usize| body.get(i).copied().unwrap_or(0);
    let year = u16::from_le_bytes([b(0), b(1)]);
    let date = format!("{year:04}-{:02}-{:02}", b(2), b(3));
    if date_only {
        return Ok(date);
    }
    let micros = if *len > 7 { u32::from_le_bytes([b(7), b(8), b(9), b(10)]) } else { 0 };
    Ok(format!("{date}T{}", hms(b(4).into(), b(5), b(6), micros)))
}

/// A `time` (which may be negative or beyond 24 hours) as `[-]HH:MM:SS[.ffffff]`.
fn time_text(value: MySqlValueRef<'_>) -> std::result::Result<String, sqlx::error::BoxDynError> {
    let raw = <&[u8] as Decode<MySql>>::decode(value)?;
    if is_text_format(raw) {
        return Ok(trim_fraction(std::str::from_utf8(raw)?));
    }
    let (len, body) = raw.split_first().ok_or("empty time")?;
    if *len == 0 {
        return Ok("00:00:00".into());
    }
    let b = |i: usize| body.get(i).copied().unwrap_or(0);
    let negative = b(0) == 1;
    let days = u32::from_le_bytes([b(1), b(2), b(3), b(4)]);
    let micros = if *len > 8 { u32::from_le_bytes([b(8), b(9), b(10), b(11)]) } else { 0 };
    let time = hms(days * 24 + u32::from(b(5)), b(6), b(7), micros);
    Ok(if negative { format!("-{time}") } else { time })
}

fn hms(hours: u32, minutes: u8, seconds: u8, micros: u32) -> String {
    let mut s = format!("{hours:02}:{minutes:02}:{seconds:02}");
    if micros != 0 {
        let digits = format!("{micros:06}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
    s
}

/// `12:00:00.500000` → `12:00:00.5`; `12:00:00.000000` → `12:00:00`.
fn trim_fraction(time: &str) -> String {
    match time.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") }
        }
        None => time.to_owned(),
    }
}

/// An sqlx error as [`Error`]: the mapped SQLSTATE and the server's message with its
/// error number (never a bound value: MySQL's messages may quote the offending value of
/// a duplicate key, so that message is replaced), or [`Error::Unavailable`].
pub(crate) fn map_err(error: &sqlx::Error) -> Error {
    match error {
        sqlx::Error::Database(db) => {
            let Some(my) = db.try_downcast_ref::<MySqlDatabaseError>() else {
                return Error::Database {
                    sqlstate: db.code().map(|c| c.into_owned()),
                    message: db.message().into(),
                };
            };
            let number = my.number();
            let sqlstate = mysql_sqlstate(number).map(str::to_owned).or_else(|| my.code().map(str::to_owned));
            let message = match number {
                // "Duplicate entry 'alice@example.com' for key 'email'": the value is data.
                1062 | 1586 => "duplicate key value violates a unique constraint".to_owned(),
                // "Incorrect integer value: 'abc' for column …": the same.
                1366 | 1292 | 1265 | 1411 => "invalid input value for a column's type".to_owned(),
                _ => my.message().to_owned(),
            };
            Error::Database { sqlstate, message: format!("{message} (MySQL error {number})") }
        }
        sqlx::Error::Io(e) => Error::Unavailable(format!("MySQL connection: {e}")),
        sqlx::Error::PoolTimedOut => Error::Unavailable("no MySQL connection available in time".into()),
        sqlx::Error::PoolClosed => Error::Unavailable("the MySQL pool is closed".into()),
        sqlx::Error::WorkerCrashed => Error::Unavailable("the MySQL connection worker stopped".into()),
        sqlx::Error::Tls(e) => Error::Unavailable(format!("MySQL TLS: {e}")),
        sqlx::Error::Configuration(_) => Error::Config("invalid MySQL connection options".into()),
        other => Error::Database { sqlstate: None, message: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted() {
        assert_eq!(hms(1, 2, 3, 500_000), "01:02:03.5");
        assert_eq!(hms(838, 59, 59, 0), "838:59:59");
        assert_eq!(trim_fraction("12:00:00.000000"), "12:00:00");
        assert_eq!(trim_fraction("12:00:00.250000"), "12:00:00.25");
    }

    #[test]
    fn codes_are_mapped() {
        assert_eq!(mysql_sqlstate(1452), Some("23503"));
        assert_eq!(mysql_sqlstate(4025), Some("23514"));
        assert_eq!(mysql_sqlstate(1048), Some("23502"));
        assert_eq!(mysql_sqlstate(1366), Some("22P02"));
        assert_eq!(mysql_sqlstate(9999), None);
    }
}
