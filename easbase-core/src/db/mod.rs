//! The database handle: one engine per backend, each chosen for speed (DESIGN.md,
//! "Backends and the hot path").
//!
//! - SQLite (feature `sqlite`, the embedded default): rusqlite on one writer thread and a
//!   few reader threads ([`SqliteConfig`]).
//! - PostgreSQL (feature `postgres`): a tokio-postgres pool that sends a scoped
//!   transaction — role, settings, statements, commit — in one pipelined write.
//! - MySQL / MariaDB (feature `mysql`): an sqlx pool ([`MyConfig`], or the host's pool, or
//!   with feature `sea-orm` the pool under the host's sea-orm `DatabaseConnection`).
//!
//! Statements are built by sea-query for [`Db::dialect`] and carried as a [`Stmt`] (SQL
//! text + bound values). Results come back as [`Row`]s of [`Cell`]s.
//!
//! How each engine works, and what it measured: [`SqliteDb`], [`PgDb`], `MyDb`. Errors
//! carry the engine's code; [`portable_sqlstate`] gives PostgreSQL's SQLSTATE for any.
//! Each transaction and statement runs in a `DEBUG` `tracing` span (`db.transaction`,
//! `db.statement`: backend, statement kind, table, rows; never the SQL text, bound
//! values or the scope's settings).
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use easbase_core::db::{Db, Scope, SqliteConfig, Stmt};
//! use sea_query::{Alias, Expr, ExprTrait, Query};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let db = Db::open_sqlite(SqliteConfig::in_memory())?;
//! db.execute_script(&["create table todos (id integer primary key, title text not null)".into()]).await?;
//! let insert = Query::insert()
//!     .into_table(Alias::new("todos"))
//!     .columns([Alias::new("title")])
//!     .values_panic(["write docs".into()])
//!     .to_owned();
//! db.execute(db.stmt(&insert)).await?;
//! let select = Query::select()
//!     .column(Alias::new("title"))
//!     .from(Alias::new("todos"))
//!     .and_where(Expr::col(Alias::new("id")).eq(1))
//!     .to_owned();
//! let read_only = Scope { read_only: true, ..Scope::default() };
//! let results = db.transaction(&read_only, vec![db.stmt(&select)]).await?;
//! assert_eq!(results[0].rows[0].text("title")?, "write docs");
//! # Ok::<(), easbase_core::Error>(())
//! # }).unwrap();
//! # }
//! ```

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod trace;

use std::sync::Arc;

use easbase_schema::Dialect;
use sea_query::{
    DeleteStatement, InsertStatement, MysqlQueryBuilder, PostgresQueryBuilder, SelectStatement,
    SqliteQueryBuilder, UpdateStatement, Values,
};

use crate::error::{Error, Result};

#[cfg(feature = "mysql")]
pub use mysql::{MyConfig, MyDb, mysql_sqlstate};
#[cfg(feature = "postgres")]
pub use postgres::{PgConfig, PgDb};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConfig, SqliteDb, sqlite_sqlstate};

/// A database handle. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
#[non_exhaustive]
pub enum Db {
    /// SQLite through rusqlite.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteDb),
    /// PostgreSQL through a tokio-postgres pool.
    #[cfg(feature = "postgres")]
    Postgres(PgDb),
    /// MySQL or MariaDB through an sqlx pool.
    #[cfg(feature = "mysql")]
    Mysql(MyDb),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({})", self.dialect())
    }
}

/// One statement: SQL for the handle's dialect and its bound values.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// The SQL, with placeholders (`$1` on PostgreSQL, `?` elsewhere).
    pub sql: String,
    /// The bound values.
    pub values: Values,
    /// A guard evaluated inside the transaction (see [`Guard`]).
    pub guard: Option<Guard>,
    /// A plain read: tables and columns only, no user-defined code (no function of the
    /// database's owner runs, not even in a policy). On PostgreSQL a read-only scope with
    /// one plain read may run on a session that keeps the request's role and settings
    /// (see [`PgDb`]). Set it with [`Stmt::plain_read`].
    pub plain_read: bool,
}

/// What must hold after a statement for the transaction to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The statement must return no row, or a first cell of 0 (a `count(*)` of rows that
    /// break a policy check). Otherwise the transaction is rolled back and the call fails
    /// with [`Error::Database`] of SQLSTATE `42501` and this message, as PostgreSQL does
    /// for a row that breaks a row-level-security policy.
    NoRows(String),
}

impl Guard {
    /// Whether `result` satisfies the guard; the 42501 error when it does not.
    pub(crate) fn check(&self, result: &StmtResult) -> Result<()> {
        match self {
            Guard::NoRows(message) => {
                let holds = match result.rows.first().and_then(|row| row.cells.first()) {
                    None => true,
                    Some(Cell::Int(0) | Cell::Bool(false)) => true,
                    Some(Cell::Float(f)) => *f == 0.0,
                    Some(Cell::Text(t)) => t == "0",
                    Some(_) => false,
                };
                if holds {
                    Ok(())
                } else {
                    Err(Error::Database { sqlstate: Some("42501".into()), message: message.clone() })
                }
            }
        }
    }
}

impl Stmt {
    /// Raw SQL without values (fixed text only — never caller input).
    pub fn raw(sql: impl Into<String>) -> Stmt {
        Stmt { sql: sql.into(), values: Values(Vec::new()), guard: None, plain_read: false }
    }

    /// SQL with values.
    pub fn new(sql: impl Into<String>, values: Values) -> Stmt {
        Stmt { sql: sql.into(), values, guard: None, plain_read: false }
    }

    /// Adds a guard.
    pub fn with_guard(mut self, guard: Guard) -> Stmt {
        self.guard = Some(guard);
        self
    }

    /// Marks a plain read (see [`Stmt::plain_read`](Stmt#structfield.plain_read)): only
    /// for generated reads of tables whose policies call no user code.
    pub fn plain_read(mut self) -> Stmt {
        self.plain_read = true;
        self
    }
}

/// Builds sea-query statements for one dialect.
pub trait BuildStmt {
    /// The statement's SQL and values for `dialect`.
    fn build_for(&self, dialect: Dialect) -> Stmt;
}

macro_rules! build_stmt {
    ($($t:ty),*) => {$(
        impl BuildStmt for $t {
            fn build_for(&self, dialect: Dialect) -> Stmt {
                let (sql, values) = match dialect {
                    Dialect::Postgres => self.build(PostgresQueryBuilder),
                    Dialect::Sqlite => self.build(SqliteQueryBuilder),
                    Dialect::Mysql => self.build(MysqlQueryBuilder),
                };
                Stmt::new(sql, values)
            }
        }
    )*};
}
build_stmt!(SelectStatement, InsertStatement, UpdateStatement, DeleteStatement);

/// How a transaction is scoped to a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// PostgreSQL: `SET LOCAL ROLE` to this role (a validated identifier) for the
    /// transaction. Ignored elsewhere.
    pub role: Option<easbase_schema::Ident>,
    /// PostgreSQL: `set_config(name, value, true)` for each pair (values are bound), e.g.
    /// `request.jwt.claims` and `easbase.project_id`. Ignored elsewhere.
    pub settings: Vec<(String, String)>,
    /// Read-only transaction (SQLite: may run on a reader thread; PostgreSQL:
    /// `BEGIN READ ONLY`).
    pub read_only: bool,
}

/// The outcome of one statement of a transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StmtResult {
    /// The rows it returned (empty for statements without `RETURNING`).
    pub rows: Vec<Row>,
    /// How many rows it changed.
    pub affected: u64,
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text (also decimals, uuids, dates and JSON on engines that return them as text).
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Cell {
    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer (or a bool, as 0/1).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }
}

/// A result row: column names (shared by the rows of one result) and cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Column names.
    pub columns: Arc<[String]>,
    /// Cells, one per column.
    pub cells: Vec<Cell>,
}

impl Row {
    /// The cell of a column by name.
    pub fn get(&self, column: &str) -> Option<&Cell> {
        self.columns.iter().position(|c| c == column).and_then(|i| self.cells.get(i))
    }

    /// A text column.
    ///
    /// # Errors
    /// [`Error::Database`] when the column is missing or not text.
    pub fn text(&self, column: &str) -> Result<String> {
        self.get(column).and_then(Cell::as_str).map(str::to_owned).ok_or_else(|| missing(column, "text"))
    }

    /// A nullable text column.
    ///
    /// # Errors
    /// [`Error::Database`] when the column is missing or neither text nor NULL.
    pub fn opt_text(&self, column: &str) -> Result<Option<String>> {
        match self.get(column) {
            Some(Cell::Null) => Ok(None),
            Some(Cell::Text(s)) => Ok(Some(s.clone())),
            _ => Err(missing(column, "text or null")),
        }
    }

    /// An integer column.
    ///
    /// # Errors
    /// [`Error::Database`] when the column is missing or not an integer.
    pub fn int(&self, column: &str) -> Result<i64> {
        self.get(column).and_then(Cell::as_i64).ok_or_else(|| missing(column, "integer"))
    }
}

fn missing(column: &str, what: &str) -> Error {
    Error::Database { sqlstate: None, message: format!("column `{column}` is missing or not {what}") }
}

/// The PostgreSQL SQLSTATE of a database error on any engine: PostgreSQL's own code, a
/// SQLite extended result code mapped by [`sqlite_sqlstate`] (`"2067"` becomes
/// `"23505"`), or the SQLSTATE the MySQL engine already mapped from the error number
/// (`mysql_sqlstate`). `None` for other errors and for engine codes without a class.
///
/// ```
/// use easbase_core::{Error, db::portable_sqlstate};
/// let sqlite = Error::Database { sqlstate: Some("2067".into()), message: "UNIQUE constraint failed".into() };
/// let postgres = Error::Database { sqlstate: Some("23505".into()), message: "duplicate key".into() };
/// assert_eq!(portable_sqlstate(&sqlite), Some("23505"));
/// assert_eq!(portable_sqlstate(&postgres), Some("23505"));
/// ```
pub fn portable_sqlstate(error: &Error) -> Option<&str> {
    let code = error.sqlstate()?;
    // SQLSTATEs are five characters; SQLite's extended codes are at most four digits.
    if code.len() == 5 {
        return Some(code);
    }
    #[cfg(feature = "sqlite")]
    if let Ok(extended) = code.parse::<i32>() {
        return sqlite_sqlstate(extended);
    }
    None
}

#[cfg(feature = "sqlite")]
impl Db {
    /// Opens a SQLite database on its own writer and reader threads (see [`SqliteConfig`]).
    ///
    /// ```
    /// use easbase_core::db::{Db, SqliteConfig};
    /// let db = Db::open_sqlite(SqliteConfig::in_memory())?;
    /// assert_eq!(db.dialect(), easbase_core::schema::Dialect::Sqlite);
    /// # Ok::<(), easbase_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Database`] when the file cannot be opened or configured.
    pub fn open_sqlite(config: SqliteConfig) -> Result<Db> {
        Ok(Db::Sqlite(SqliteDb::open(config)?))
    }
}

#[cfg(feature = "postgres")]
impl Db {
    /// Connects to PostgreSQL through a new pool (see [`PgConfig`]) and checks that one
    /// connection can be made.
    ///
    /// ```no_run
    /// use easbase_core::db::{Db, PgConfig};
    /// # async fn demo() -> easbase_core::Result<()> {
    /// let db = Db::connect_postgres(PgConfig::new("postgres://postgres@127.0.0.1/postgres")).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL, [`Error::Unavailable`] when the server cannot
    /// be reached.
    pub async fn connect_postgres(config: PgConfig) -> Result<Db> {
        Ok(Db::Postgres(PgDb::connect(config).await?))
    }

    /// Uses a pool the host already owns (its own TLS, sizes and hooks).
    pub fn from_pg_pool(pool: deadpool_postgres::Pool) -> Db {
        Db::Postgres(PgDb::from_pool(pool))
    }
}

#[cfg(feature = "mysql")]
impl Db {
    /// Connects to MySQL or MariaDB through a new sqlx pool (see [`MyConfig`]) and checks
    /// that one connection can be made.
    ///
    /// ```no_run
    /// use easbase_core::db::{Db, MyConfig};
    /// # async fn demo() -> easbase_core::Result<()> {
    /// let db = Db::connect_mysql(MyConfig::new("mysql://root@127.0.0.1:3306/app")).await?;
    /// assert_eq!(db.dialect(), easbase_core::schema::Dialect::Mysql);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL, [`Error::Unavailable`] when the server cannot
    /// be reached, [`Error::Database`] when it refuses the login or the database.
    pub async fn connect_mysql(config: MyConfig) -> Result<Db> {
        Ok(Db::Mysql(MyDb::connect(config).await?))
    }

    /// Uses an sqlx MySQL pool the host already owns (its own TLS, sizes and hooks).
    pub fn from_mysql_pool(pool: sqlx::MySqlPool) -> Db {
        Db::Mysql(MyDb::from_pool(pool))
    }
}

#[cfg(feature = "sea-orm")]
impl Db {
    /// Uses the MySQL pool under a host's sea-orm `DatabaseConnection` (sea-orm keeps
    /// working on the same pool). Statements go to sqlx directly, without sea-orm's layer.
    ///
    /// # Errors
    /// [`Error::Config`] when the connection is not a MySQL one (PostgreSQL and SQLite
    /// hosts hand in a URL, a pool or a file instead).
    pub fn from_sea_orm(conn: &sea_orm::DatabaseConnection) -> Result<Db> {
        // Matched on the variant (not `get_database_backend`, which panics on a
        // disconnected handle, and a mock may claim to be MySQL without a pool).
        match &conn.inner {
            sea_orm::DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                Ok(Db::from_mysql_pool(conn.get_mysql_connection_pool().clone()))
            }
            #[allow(unreachable_patterns)] // with only sea-orm's MySQL feature on
            _ => Err(Error::Config(
                "Db::from_sea_orm takes a sea-orm connection to MySQL; hand in the URL or the pool of \
                 other databases instead"
                    .into(),
            )),
        }
    }
}

impl Db {
    /// The dialect statements for this handle are built in.
    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            Db::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Db::Mysql(_) => Dialect::Mysql,
        }
    }

    /// Builds a sea-query statement for this handle's dialect.
    pub fn stmt(&self, statement: &impl BuildStmt) -> Stmt {
        statement.build_for(self.dialect())
    }

    /// Runs a script (DDL, fixed text) in one transaction where the engine allows it.
    ///
    /// # Errors
    /// [`Error::Database`] from the first statement that fails; nothing is applied.
    pub async fn execute_script(&self, statements: &[String]) -> Result<()> {
        match self {
            #[cfg(feature = "sqlite")]
            Db::Sqlite(db) => db.execute_script(statements).await,
            #[cfg(feature = "postgres")]
            Db::Postgres(db) => db.execute_script(statements).await,
            #[cfg(feature = "mysql")]
            Db::Mysql(db) => db.execute_script(statements).await,
        }
    }

    /// Runs statements in one transaction scoped by `scope`, and commits if all succeed
    /// and every [`Guard`] holds. On PostgreSQL the whole transaction is one pipelined
    /// write.
    ///
    /// # Errors
    /// [`Error::Database`] (the transaction is rolled back), [`Error::Unavailable`].
    pub async fn transaction(&self, scope: &Scope, statements: Vec<Stmt>) -> Result<Vec<StmtResult>> {
        match self {
            #[cfg(feature = "sqlite")]
            Db::Sqlite(db) => db.transaction(scope, statements).await,
            #[cfg(feature = "postgres")]
            Db::Postgres(db) => db.transaction(scope, statements).await,
            #[cfg(feature = "mysql")]
            Db::Mysql(db) => db.transaction(scope, statements).await,
        }
    }

    /// Runs one statement in its own transaction without a scope (platform queries) and
    /// returns its rows.
    ///
    /// # Errors
    /// As [`Db::transaction`].
    pub async fn query(&self, statement: Stmt) -> Result<Vec<Row>> {
        let mut results = self.transaction(&Scope::default(), vec![statement]).await?;
        Ok(results.pop().map(|r| r.rows).unwrap_or_default())
    }

    /// Runs one statement in its own transaction without a scope and returns how many rows
    /// it changed.
    ///
    /// # Errors
    /// As [`Db::transaction`].
    pub async fn execute(&self, statement: Stmt) -> Result<u64> {
        let mut results = self.transaction(&Scope::default(), vec![statement]).await?;
        Ok(results.pop().map(|r| r.affected).unwrap_or_default())
    }
}
