//! The servers EasBase is compared with, each an axum router served on the fixture's
//! server runtime:
//!
//! - [`bare`]: a route answering fixed bytes (the HTTP ceiling: no database, no work);
//! - [`pg_reference`]: hand-written handlers over an sqlx PostgreSQL pool, with the
//!   JSON built by the database — `/plain/…` a plain statement as the superuser (no RLS),
//!   `/tx/…` the way PostgREST runs a request (`BEGIN`; `set_config` of the role and the
//!   claims; the statement under RLS; `COMMIT`), one round trip each.

use std::net::SocketAddr;
use std::sync::Arc;

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
