//! Micro-benchmarks of the database handle (`easbase_core::db`), each against a peer
//! measured in the same run. Run with `cargo bench -p easbase-benches --bench db`.
//!
//! - `sqlite_point_select`: a point select by primary key (10,000 rows, file database in
//!   WAL mode) through `Db::transaction` with a read-only scope — one task, and 16 tasks
//!   on a 2-worker runtime (time per select, i.e. inverse throughput) — against rusqlite
//!   called directly on one connection.
//! - `pg_scoped_select` (skipped with a note when PostgreSQL at `EASBASE_PG_URL` cannot be
//!   reached): the request transaction — `BEGIN; SET LOCAL ROLE`, the claims by
//!   `set_config`, a point select, `COMMIT` — through `Db::transaction` (pipelined, cached
//!   prepared statements); the same four requests pipelined with unnamed statements
//!   (`query_typed`); the same four awaited one after another; and a plain prepared select
//!   without a transaction.
//! - `mysql_point_select` (skipped with a note when MariaDB/MySQL at `EASBASE_MYSQL_URL`
//!   cannot be reached): a point select by key through `Db::query` and through
//!   `Db::transaction` with a read-only scope, against sqlx called directly on the same
//!   one-connection pool.
//!
//! ## Measured
//! On the development machine (2 cores, PostgreSQL 15 on loopback; criterion medians):
//!
//! | benchmark | time | ratio |
//! |---|---|---|
//! | `sqlite_point_select/rusqlite_direct` | 1.96 µs | 1 |
//! | `sqlite_point_select/db_read_only_scope` (one task) | 16.9 µs | 8.6× |
//! | `sqlite_point_select/db_read_only_scope_16_tasks` (per select) | 6.96 µs | 3.5× (≈ 144k selects/s) |
//! | `pg_scoped_select/db_transaction_pipelined` | 83.4 µs | 1 |
//! | `pg_scoped_select/query_typed_pipelined` | 144.9 µs | 1.74× |
//! | `pg_scoped_select/sequential_four_round_trips` | 251.3 µs | 3.0× |
//! | `pg_scoped_select/plain_select_prepared` (no transaction) | 60.6 µs | 0.73× |
//! | `pg_scoped_select/db_unscoped_select` (`BEGIN`, select, `COMMIT`) | 62.1 µs | 0.74× |
//!
//! MariaDB 10.11 on loopback, measured later in one run of all three groups while other
//! builds kept the machine busy (load average ≈ 5 on 2 cores, so every number is noisy;
//! in that run PostgreSQL's pipelined transaction took ≈ 85 µs and its plain prepared
//! select ≈ 27 µs, SQLite's read-only scope ≈ 16 µs):
//!
//! | benchmark | time | ratio |
//! |---|---|---|
//! | `mysql_point_select/sqlx_direct` | 43.1 µs | 1 |
//! | `mysql_point_select/db_query` | 53.6 µs | 1.24× |
//! | `mysql_point_select/db_read_only_scope` | 45.4 µs | 1.05× |
//!
//! Two runs before it gave 44.6–50.8 µs for sqlx and 43.8–70.1 µs for `db_query`. A
//! read-only scope with one plain `SELECT` runs without `START TRANSACTION … COMMIT`
//! (one round trip): with the transaction it took ≈ 85–103 µs, 2× sqlx.
//!
//! SQLite's cost over a direct call is the hand-off to a worker thread and back (the
//! worker spins briefly for its next job; the caller's runtime must still be woken).
//! Under concurrency the threads stay busy and the gap narrows.

use std::future::{Future, poll_fn};
use std::hint::black_box;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use easbase_core::db::{Db, MyConfig, PgConfig, Scope, SqliteConfig, Stmt};
use easbase_core::schema::Ident;
use sea_query::Values;
use tokio_postgres::types::Type;

const ROWS: i64 = 10_000;

/// One request of a hand-written pipeline.
type Request<'a> = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + 'a>>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn next_id(n: u64) -> i64 {
    (n % ROWS as u64) as i64 + 1
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let rt = runtime();
    let db = Db::open_sqlite(SqliteConfig::file(&path)).unwrap();
    rt.block_on(
        db.execute_script(&[
            "create table items (id integer primary key, name text not null, price real not null)".into(),
            "with recursive n(i) as (select 1 union all select i + 1 from n where i < 10000) \
         insert into items select i, 'item ' || i, i * 0.5 from n"
                .into(),
        ]),
    )
    .unwrap();
    let sql = "select id, name, price from items where id = ?";
    let mut group = c.benchmark_group("sqlite_point_select");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut n = 0u64;
    group.bench_function("rusqlite_direct", |b| {
        b.iter(|| {
            n += 1;
            let mut statement = conn.prepare_cached(sql).unwrap();
            let row: (i64, String, f64) =
                statement.query_row([next_id(n)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
            black_box(row)
        })
    });

    let scope = Scope { read_only: true, ..Scope::default() };
    group.bench_function("db_read_only_scope", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    let select = Stmt::new(sql, Values(vec![next_id(n).into()]));
                    black_box(db.transaction(&scope, vec![select]).await.unwrap());
                }
                start.elapsed()
            })
        })
    });

    let mt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    const TASKS: u64 = 16;
    group.bench_function("db_read_only_scope_16_tasks", |b| {
        b.iter_custom(|iters| {
            let per_task = iters.div_ceil(TASKS);
            mt.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|t| {
                        let db = db.clone();
                        tokio::spawn(async move {
                            let scope = Scope { read_only: true, ..Scope::default() };
                            for n in 0..per_task {
                                let select = Stmt::new(sql, Values(vec![next_id(t * 7919 + n).into()]));
                                black_box(db.transaction(&scope, vec![select]).await.unwrap());
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                start.elapsed().mul_f64(iters as f64 / (per_task * TASKS) as f64)
            })
        })
    });
    group.finish();
}

/// Polls the futures in order until all are done (each request is written on its first
/// poll, so they go out in order).
async fn join_in_order<'a, T>(mut futures: Vec<Pin<Box<dyn Future<Output = T> + 'a>>>) -> Vec<T> {
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

fn postgres(c: &mut Criterion) {
    let rt = runtime();
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    // One connection, so the engine and the hand-written peers run on equal terms.
    let db = match rt.block_on(Db::connect_postgres(PgConfig::new(url.clone()).pool_size(1))) {
        Ok(db) => db,
        Err(e) => {
            eprintln!(
                "note: PostgreSQL at `{url}` is unreachable ({e}); skipping the pg_scoped_select group"
            );
            return;
        }
    };
    let pool = match &db {
        Db::Postgres(pg) => pg.pool().clone(),
        _ => unreachable!("connect_postgres gives a PostgreSQL handle"),
    };
    let schema = format!("bench_{}", std::process::id());
    let role = format!("{schema}_user");
    rt.block_on(db.execute_script(&[
        format!("create schema {schema}"),
        format!("create role {role} nologin"),
        format!("grant usage on schema {schema} to {role}"),
        format!("create table {schema}.items (id bigint primary key, name text not null, owner text not null)"),
        format!(
            "insert into {schema}.items select i, 'item ' || i, 'user-' || (i % 10) from generate_series(1, {ROWS}) i"
        ),
        format!("alter table {schema}.items enable row level security"),
        format!("grant select on {schema}.items to {role}"),
        format!(
            "create policy by_owner on {schema}.items for select to {role} using \
             (owner = (select current_setting('request.jwt.claims', true)::json->>'sub'))"
        ),
        format!("analyze {schema}.items"),
    ]))
    .unwrap();

    let select = format!("select id, name from {schema}.items where id = $1");
    let claims = r#"{"sub":"user-3","role":"authenticated"}"#.to_owned();
    let begin = format!("BEGIN READ ONLY; SET LOCAL ROLE \"{role}\"");
    let scope = Scope {
        role: Some(Ident::new(role.clone()).unwrap()),
        settings: vec![("request.jwt.claims".into(), claims.clone())],
        read_only: true,
    };

    let mut group = c.benchmark_group("pg_scoped_select");
    group.bench_function("db_transaction_pipelined", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    let statement = Stmt::new(select.clone(), Values(vec![next_id(n).into()]));
                    black_box(db.transaction(&scope, vec![statement]).await.unwrap());
                }
                start.elapsed()
            })
        })
    });

    group.bench_function("query_typed_pipelined", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let client = pool.get().await.unwrap();
                let start = Instant::now();
                for n in 0..iters {
                    let id = next_id(n);
                    let name = "request.jwt.claims";
                    let requests: Vec<Request<'_>> = vec![
                        Box::pin(client.batch_execute(&begin)),
                        Box::pin(async {
                            client
                                .query_typed(
                                    "select set_config($1, $2, true)",
                                    &[(&name, Type::TEXT), (&claims, Type::TEXT)],
                                )
                                .await
                                .map(drop)
                        }),
                        Box::pin(async {
                            black_box(client.query_typed(&select, &[(&id, Type::INT8)]).await?);
                            Ok(())
                        }),
                        Box::pin(client.batch_execute("COMMIT")),
                    ];
                    for result in join_in_order(requests).await {
                        result.unwrap();
                    }
                }
                start.elapsed()
            })
        })
    });

    group.bench_function("sequential_four_round_trips", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let client = pool.get().await.unwrap();
                let set_claims = client.prepare_cached("select set_config($1, $2, true)").await.unwrap();
                let select = client.prepare_typed_cached(&select, &[Type::INT8]).await.unwrap();
                let start = Instant::now();
                for n in 0..iters {
                    client.batch_execute(&begin).await.unwrap();
                    client.query(&set_claims, &[&"request.jwt.claims", &claims]).await.unwrap();
                    black_box(client.query(&select, &[&next_id(n)]).await.unwrap());
                    client.batch_execute("COMMIT").await.unwrap();
                }
                start.elapsed()
            })
        })
    });

    group.bench_function("plain_select_prepared", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let client = pool.get().await.unwrap();
                let select = client.prepare_typed_cached(&select, &[Type::INT8]).await.unwrap();
                let start = Instant::now();
                for n in 0..iters {
                    black_box(client.query(&select, &[&next_id(n)]).await.unwrap());
                }
                start.elapsed()
            })
        })
    });

    group.bench_function("db_unscoped_select", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    let statement = Stmt::new(select.clone(), Values(vec![next_id(n).into()]));
                    black_box(db.query(statement).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();

    rt.block_on(db.execute_script(&[format!("drop schema {schema} cascade"), format!("drop role {role}")]))
        .unwrap();
}

/// GET one of 10,000 rows by key on MariaDB / MySQL at `EASBASE_MYSQL_URL`: through the
/// engine (one statement: autocommit; a read-only scope: `START TRANSACTION READ ONLY`,
/// select, `COMMIT`) against sqlx called directly on the same pool.
fn mysql(c: &mut Criterion) {
    let rt = runtime();
    let url = std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let server = match rt.block_on(Db::connect_mysql(MyConfig::new(url.clone()).pool_size(1))) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("note: MySQL at `{url}` is unreachable ({e}); skipping the mysql_point_select group");
            return;
        }
    };
    let database = format!("bench_{}", std::process::id());
    rt.block_on(server.execute_script(&[format!("create database {database}")])).unwrap();
    let db_url = format!("{}/{database}", url.trim_end_matches('/'));
    // One connection, so the engine and sqlx run on equal terms.
    let db = rt.block_on(Db::connect_mysql(MyConfig::new(db_url).pool_size(1))).unwrap();
    let pool = match &db {
        Db::Mysql(my) => my.pool().clone(),
        _ => unreachable!("connect_mysql gives a MySQL handle"),
    };
    rt.block_on(
        db.execute_script(&[
            "create table items (id bigint primary key, name varchar(100) not null, price double not null)"
                .into(),
            // Recursive CTEs stop at 1,000 rows by default on MySQL and MariaDB: digits instead.
            "insert into items with d(i) as (select 0 union all select 1 union all select 2 union all \
         select 3 union all select 4 union all select 5 union all select 6 union all select 7 union all \
         select 8 union all select 9), n(i) as (select a.i + 10 * b.i + 100 * c.i + 1000 * e.i + 1 \
         from d a, d b, d c, d e) select i, concat('item ', i), i * 0.5 from n"
                .into(),
        ]),
    )
    .unwrap();
    let sql = "select id, name, price from items where id = ?";
    let mut group = c.benchmark_group("mysql_point_select");

    group.bench_function("sqlx_direct", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    let row = sqlx::query(sql).bind(next_id(n)).fetch_one(&pool).await.unwrap();
                    black_box(row);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("db_query", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    let select = Stmt::new(sql, Values(vec![next_id(n).into()]));
                    black_box(db.query(select).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    let scope = Scope { read_only: true, ..Scope::default() };
    group.bench_function("db_read_only_scope", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    let select = Stmt::new(sql, Values(vec![next_id(n).into()]));
                    black_box(db.transaction(&scope, vec![select]).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    drop(db);
    rt.block_on(server.execute_script(&[format!("drop database {database}")])).unwrap();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = sqlite, postgres, mysql
}
criterion_main!(benches);
