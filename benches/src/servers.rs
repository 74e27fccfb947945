//! The servers EasBase is compared with, each an axum router served on the fixture's
//! server runtime:
//!
//! - [`bare`]: a route answering fixed bytes (the HTTP ceiling: no database, no work);
//! - [`sqlite_reference`]: hand-written handlers over rusqlite on the project's own SQLite
//!   file, with the JSON built by SQLite — what a minimal service on the same data costs,
//!   with no key, token, plan, policy, log or usage counter;
//! - [`pg_reference`]: hand-written handlers over an sqlx PostgreSQL pool, with the
//!   JSON built by the database — `/plain/…` a plain statement as the superuser (no RLS),
//!   `/tx/…` the way PostgREST runs a request (`BEGIN`; `set_config` of the role and the
//!   claims; the statement under RLS; `COMMIT`), one round trip each.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::fixture::{PgNames, User};

/// A router served on a listener of the current runtime until [`Served::stop`].
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Served {
    /// Stops accepting, lets open connections finish their request, and waits.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        // Keep-alive connections of a finished run are already closed by the generator.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
    }
}

/// Serves `router` on `listener` in a task of the current runtime.
///
/// # Errors
/// [`Error::Setup`] when the listener has no address.
pub fn serve(listener: TcpListener, router: Router) -> Result<Served> {
    let addr = listener.local_addr().map_err(|e| Error::setup("listener", e))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Served { addr, stop, task })
}

/// Binds 127.0.0.1 on a free port and serves `router` there.
///
/// # Errors
/// [`Error::Setup`] when no port can be bound.
pub async fn serve_local(router: Router) -> Result<Served> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| Error::setup("bind 127.0.0.1:0", e))?;
    serve(listener, router)
}

/// A router answering every `GET` with `body` (as JSON) and every `POST` with an empty
/// 201 after reading the request's body: what any server must at least do.
pub fn bare(body: Bytes) -> Router {
    Router::new().fallback(move |method: axum::http::Method, request_body: Bytes| {
        let body = body.clone();
        async move {
            if method == axum::http::Method::POST {
                drop(request_body);
                StatusCode::CREATED.into_response()
            } else {
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }
        }
    })
}

/// The SQL of the SQLite reference: JSON arrays built by SQLite, byte for byte what
/// EasBase answers on SQLite (keys in alphabetical order; the harness checks the bytes).
const SQLITE_BY_ID: &str = "select json_group_array(json_object('category', category, 'id', id, \
     'name', name, 'owner_id', owner_id, 'price', price)) from items where id = ?";
const SQLITE_PAGE: &str = "select json_group_array(json_object('category', category, 'id', id, \
     'name', name, 'owner_id', owner_id, 'price', price)) \
     from (select * from items where category = ? order by id desc limit 20)";

#[derive(Debug)]
struct SqliteState {
    path: PathBuf,
    /// The one write connection (SQLite has one writer), used in `spawn_blocking`.
    writer: Mutex<rusqlite::Connection>,
    owner: String,
}

thread_local! {
    /// Each runtime thread's read-only connection, opened on its first read (by file).
    static SQLITE_READER: RefCell<Option<(PathBuf, rusqlite::Connection)>> = const { RefCell::new(None) };
}

/// The hand-written SQLite reference on the project's file `path`: `GET /items/{id}`,
/// `GET /page/{category}` and `POST /notes`, the reads on the runtime thread itself with a
/// read-only connection per thread (as EasBase's inline reads), the insert on one write
/// connection in `spawn_blocking`. The bodies are EasBase's bytes, built by SQLite.
///
/// # Errors
/// [`Error::Setup`] when the file cannot be opened.
pub fn sqlite_reference(path: PathBuf, owner: &User) -> Result<Router> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let writer = rusqlite::Connection::open_with_flags(&path, flags)
        .map_err(|e| Error::setup(&format!("open {}", path.display()), e))?;
    writer.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| Error::setup("busy timeout", e))?;
    // As EasBase's writer (the file is already in WAL mode): no fsync at each commit.
    writer.pragma_update(None, "synchronous", "NORMAL").map_err(|e| Error::setup("synchronous", e))?;
    let state = Arc::new(SqliteState { path, writer: Mutex::new(writer), owner: owner.id.clone() });
    Ok(Router::new()
        .route("/items/{id}", get(sqlite_by_id))
        .route("/page/{category}", get(sqlite_page))
        .route("/notes", post(sqlite_insert))
        .with_state(state))
}

type SqliteShared = State<Arc<SqliteState>>;

/// Runs `sql` with one bound integer on this thread's read-only connection.
fn sqlite_read(s: &SqliteState, sql: &str, value: i64) -> rusqlite::Result<String> {
    SQLITE_READER.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|(path, _)| *path != s.path) {
            let flags =
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            *cell = Some((s.path.clone(), rusqlite::Connection::open_with_flags(&s.path, flags)?));
        }
        let Some((_, conn)) = cell.as_ref() else { return Err(rusqlite::Error::InvalidQuery) };
        conn.prepare_cached(sql)?.query_row([value], |row| row.get(0))
    })
}

fn sqlite_answer(result: rusqlite::Result<String>) -> Response {
    match result {
        Ok(body) => json(body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn sqlite_by_id(State(s): SqliteShared, Path(id): Path<i64>) -> Response {
    sqlite_answer(sqlite_read(&s, SQLITE_BY_ID, id))
}

async fn sqlite_page(State(s): SqliteShared, Path(category): Path<i64>) -> Response {
    sqlite_answer(sqlite_read(&s, SQLITE_PAGE, category))
}

async fn sqlite_insert(State(s): SqliteShared, body: Bytes) -> Response {
    let Some(text) = note_body(&body) else { return StatusCode::BAD_REQUEST.into_response() };
    let inserted = tokio::task::spawn_blocking(move || {
        let conn = s.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        conn.prepare_cached("insert into notes (owner_id, body) values (?, ?)")?.execute((&s.owner, text))
    })
    .await;
    match inserted {
        Ok(Ok(_)) => StatusCode::CREATED.into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(panicked) => (StatusCode::INTERNAL_SERVER_ERROR, panicked.to_string()).into_response(),
    }
}

/// The SQL of the reference handlers, made once from the project's schema name.
#[derive(Debug)]
struct Statements {
    by_id: Arc<str>,
    page: Arc<str>,
    insert_plain: Arc<str>,
    insert_tx: Arc<str>,
}

/// A statement of [`Statements`] for sqlx (made of our text and a quoted identifier).
fn sql(text: &Arc<str>) -> sqlx::AssertSqlSafe<Arc<str>> {
    sqlx::AssertSqlSafe(text.clone())
}

#[derive(Debug)]
struct PgState {
    pool: PgPool,
    sql: Statements,
    role: String,
    claims: String,
    owner: String,
}

type Shared = State<Arc<PgState>>;

/// Quotes a PostgreSQL identifier.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Opens an sqlx pool of `pool_size` connections to `names.url`.
///
/// # Errors
/// [`Error::Setup`] when PostgreSQL cannot be reached.
pub async fn pg_pool(url: &str, pool_size: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(pool_size)
        .min_connections(pool_size)
        .connect(url)
        .await
        .map_err(|e| Error::setup("sqlx connect", e))
}

/// The hand-written reference: `GET /plain/items/{id}`, `GET /plain/page/{category}`,
/// `POST /plain/notes` without RLS, and the same under `/tx/` in PostgREST's transaction
/// as `owner`. Bodies are JSON arrays built by the database, as EasBase answers.
///
/// # Errors
/// [`Error::Setup`] when PostgreSQL cannot be reached.
pub async fn pg_reference(names: &PgNames, owner: &User, pool_size: u32) -> Result<Router> {
    let schema = quote(&names.schema);
    let array = |inner: &str| format!("select coalesce(json_agg(t), '[]')::text from ({inner}) t");
    let sql = Statements {
        by_id: array(&format!(
            "select id, owner_id, name, category, price from {schema}.items where id = $1"
        ))
        .into(),
        page: array(&format!(
            "select id, owner_id, name, category, price from {schema}.items \
             where category = $1 order by id desc limit 20"
        ))
        .into(),
        insert_plain: format!("insert into {schema}.notes (owner_id, body) values ($1::uuid, $2)").into(),
        insert_tx: format!("insert into {schema}.notes (body) values ($1)").into(),
    };
    let claims = serde_json::json!({ "sub": owner.id, "role": "authenticated", "aud": "authenticated" });
    let state = Arc::new(PgState {
        pool: pg_pool(&names.url, pool_size).await?,
        sql,
        role: names.authenticated_role.clone(),
        claims: claims.to_string(),
        owner: owner.id.clone(),
    });
    Ok(Router::new()
        .route("/plain/items/{id}", get(plain_by_id))
        .route("/plain/page/{category}", get(plain_page))
        .route("/plain/notes", post(plain_insert))
        .route("/tx/items/{id}", get(tx_by_id))
        .route("/tx/page/{category}", get(tx_page))
        .route("/tx/notes", post(tx_insert))
        .with_state(state))
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn failed(e: sqlx::Error) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

async fn plain_by_id(State(s): Shared, Path(id): Path<i64>) -> Response {
    match sqlx::query_scalar::<_, String>(sql(&s.sql.by_id)).bind(id).fetch_one(&s.pool).await {
        Ok(body) => json(body),
        Err(e) => failed(e),
    }
}

async fn plain_page(State(s): Shared, Path(category): Path<i32>) -> Response {
    match sqlx::query_scalar::<_, String>(sql(&s.sql.page)).bind(category).fetch_one(&s.pool).await {
        Ok(body) => json(body),
        Err(e) => failed(e),
    }
}

/// The `body` field of a posted note.
fn note_body(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut note)) => match note.remove("body") {
            Some(serde_json::Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

async fn plain_insert(State(s): Shared, body: Bytes) -> Response {
    let Some(text) = note_body(&body) else { return StatusCode::BAD_REQUEST.into_response() };
    match sqlx::query(sql(&s.sql.insert_plain)).bind(&s.owner).bind(text).execute(&s.pool).await {
        Ok(_) => StatusCode::CREATED.into_response(),
        Err(e) => failed(e),
    }
}

/// Runs `statement` with one bound value in PostgREST's transaction: `BEGIN`, role and
/// claims by `set_config(…, true)`, the statement, `COMMIT`.
async fn in_transaction<T>(
    s: &PgState,
    run: impl AsyncFnOnce(&mut sqlx::PgConnection) -> sqlx::Result<T>,
) -> sqlx::Result<T> {
    let mut tx = s.pool.begin().await?;
    sqlx::query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)")
        .bind(&s.role)
        .bind(&s.claims)
        .execute(&mut *tx)
        .await?;
    let value = run(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}

async fn tx_by_id(State(s): Shared, Path(id): Path<i64>) -> Response {
    let result = in_transaction(&s, async |c| {
        sqlx::query_scalar::<_, String>(sql(&s.sql.by_id)).bind(id).fetch_one(c).await
    })
    .await;
    result.map_or_else(failed, json)
}

async fn tx_page(State(s): Shared, Path(category): Path<i32>) -> Response {
    let result = in_transaction(&s, async |c| {
        sqlx::query_scalar::<_, String>(sql(&s.sql.page)).bind(category).fetch_one(c).await
    })
    .await;
    result.map_or_else(failed, json)
}

async fn tx_insert(State(s): Shared, body: Bytes) -> Response {
    let Some(text) = note_body(&body) else { return StatusCode::BAD_REQUEST.into_response() };
    let result =
        in_transaction(&s, async |c| sqlx::query(sql(&s.sql.insert_tx)).bind(text).execute(c).await).await;
    match result {
        Ok(_) => StatusCode::CREATED.into_response(),
        Err(e) => failed(e),
    }
}

/// Drops the platform schema `schema` (and everything in it) at `url`.
///
/// # Errors
/// [`Error::Setup`] when PostgreSQL cannot be reached or refuses.
pub async fn drop_pg_schema(url: &str, schema: &str) -> Result<()> {
    let pool =
        PgPoolOptions::new().max_connections(1).connect(url).await.map_err(|e| Error::setup("sqlx", e))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop schema if exists {} cascade", quote(schema))))
        .execute(&pool)
        .await
        .map_err(|e| Error::setup("drop the platform schema", e))?;
    pool.close().await;
    Ok(())
}
