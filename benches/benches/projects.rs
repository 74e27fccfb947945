//! Scale of `Shared` projects on one PostgreSQL: creates many projects (1,000 by default),
//! each with a small two-table schema with row policies, and measures the time per
//! project and the catalog it costs; then deletes them and measures that too. A plain
//! program (`harness = false`) that prints a table:
//!
//! ```text
//! cargo bench -p easbase-benches --bench projects            # 1,000 projects
//! EASBASE_BENCH_PROJECTS=200 cargo bench -p easbase-benches --bench projects
//! ```
//!
//! PostgreSQL is reached at `EASBASE_PG_URL` (default `host=127.0.0.1 user=postgres
//! dbname=postgres`); without it the run is skipped with a note. Everything it makes lives
//! in a randomly named platform schema and the projects' own schemas and roles, all
//! dropped at the end. Catalog counts are of the current database (`pg_class`,
//! `pg_attribute`, `pg_policy`, `pg_namespace`) and of the cluster (`pg_roles`);
//! `pg_database_size` is the database's size on disk (it does not shrink after the
//! deletions until a `VACUUM FULL`). The measured numbers are in `ARCHITECTURE.md`
//! ("Measured").

use std::time::{Duration, Instant};

use easbase_core::db::{Db, PgConfig, Stmt};
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::{Ident, Schema};

/// A to-do app: lists and their items, each row visible to its owner only.
const TODOS: &str = r#"{ "tables": [
  { "name": "lists",
    "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "owner_id", "type": "uuid", "required": true, "default": "auth.uid" },
      { "name": "title", "type": "text", "required": true }
    ],
    "timestamps": true,
    "policies": { "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid",
                  "update": "owner_id = auth.uid", "delete": "owner_id = auth.uid" } },
  { "name": "todos",
    "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "list_id", "type": "uuid", "required": true,
        "references": { "table": "lists", "column": "id", "on_delete": "cascade" } },
      { "name": "owner_id", "type": "uuid", "required": true, "default": "auth.uid" },
      { "name": "title", "type": "text", "required": true },
      { "name": "done", "type": "boolean", "required": true, "default": false }
    ],
    "policies": { "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid",
                  "update": "owner_id = auth.uid", "delete": "owner_id = auth.uid" } }
] }"#;

/// What the catalogs hold at one moment.
#[derive(Debug, Clone, Copy)]
struct Catalog {
    database_bytes: i64,
    pg_class: i64,
    pg_attribute: i64,
    pg_policy: i64,
    pg_namespace: i64,
    pg_roles: i64,
}

async fn catalog(db: &Db) -> Catalog {
    let rows = db
        .query(Stmt::raw(
            "select pg_database_size(current_database())::bigint as database_bytes, \
             (select count(*) from pg_class)::bigint as pg_class, \
             (select count(*) from pg_attribute)::bigint as pg_attribute, \
             (select count(*) from pg_policy)::bigint as pg_policy, \
             (select count(*) from pg_namespace)::bigint as pg_namespace, \
             (select count(*) from pg_roles)::bigint as pg_roles",
        ))
        .await
        .unwrap();
    let r = &rows[0];
    Catalog {
        database_bytes: r.int("database_bytes").unwrap(),
        pg_class: r.int("pg_class").unwrap(),
        pg_attribute: r.int("pg_attribute").unwrap(),
        pg_policy: r.int("pg_policy").unwrap(),
        pg_namespace: r.int("pg_namespace").unwrap(),
        pg_roles: r.int("pg_roles").unwrap(),
    }
}

/// Mean, p50 and p95 of durations, in milliseconds.
fn stats(times: &mut [Duration]) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64;
    let at = |q: f64| ms(times[((times.len() as f64 - 1.0) * q).round() as usize]);
    (mean, at(0.50), at(0.95))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep it short.
    let testing = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("EASBASE_BENCH_PROJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if testing { 5 } else { 1000 });
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(url, n));
}

async fn run(url: String, n: usize) {
    let db = match Db::connect_postgres(PgConfig::new(url).pool_size(4)).await {
        Ok(db) => db,
        Err(e) => {
            println!("projects: skipped, PostgreSQL at EASBASE_PG_URL cannot be reached ({e})");
            return;
        }
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let platform_schema = format!("bench_platform_{:x}_{}", nanos, std::process::id());
    let mut config = PlatformConfig::new("http://bench.test");
    config.platform_schema = Ident::new(platform_schema.clone()).unwrap();
    config.listen = false;
    let platform = Platform::open(db.clone(), config, Vec::new()).await.unwrap();
    let schema = Schema::from_json(TODOS).unwrap();

    let before = catalog(&db).await;
    let mut create_times = Vec::with_capacity(n);
    let mut projects = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let created = platform
            .create_project(
                &format!("owner-{}", i % 50),
                &format!("Todo app {i}"),
                CreateProject { schema: Some(schema.clone()), ..Default::default() },
            )
            .await
            .unwrap();
        create_times.push(t.elapsed());
        projects.push(created.project);
        if (i + 1) % 100 == 0 {
            eprintln!("  created {} projects ({:.1} s)", i + 1, started.elapsed().as_secs_f64());
        }
    }
    let create_total = started.elapsed();
    let after = catalog(&db).await;

    // Listing stays cheap with n projects in place.
    let t = Instant::now();
    let listed = platform.projects(None).await.unwrap();
    let list_time = t.elapsed();
    assert_eq!(listed.len(), n);

    let mut delete_times = Vec::with_capacity(n);
    let started = Instant::now();
    for p in &projects {
        let t = Instant::now();
        platform.delete_project(&p.id, &p.slug).await.unwrap();
        delete_times.push(t.elapsed());
    }
    let delete_total = started.elapsed();
    let cleaned = catalog(&db).await;
    db.execute_script(&[format!("DROP SCHEMA {platform_schema} CASCADE")]).await.unwrap();

    let (c_mean, c_p50, c_p95) = stats(&mut create_times);
    let (d_mean, d_p50, d_p95) = stats(&mut delete_times);
    let per = |a: i64, b: i64| (b - a) as f64 / n as f64;
    println!();
    println!("{n} shared projects, each 2 tables with 4 policies per table, on one PostgreSQL");
    println!();
    println!("| step | total | mean | p50 | p95 |");
    println!("|---|---|---|---|---|");
    println!(
        "| create (schema, 3 roles, tables, policies, keys) | {:.1} s | {c_mean:.1} ms | {c_p50:.1} ms | {c_p95:.1} ms |",
        create_total.as_secs_f64()
    );
    println!(
        "| delete (drop schema and roles, rows) | {:.1} s | {d_mean:.1} ms | {d_p50:.1} ms | {d_p95:.1} ms |",
        delete_total.as_secs_f64()
    );
    println!("| list all {n} projects | {:.1} ms | | | |", list_time.as_secs_f64() * 1e3);
    println!();
    println!("| catalog | before | after {n} | per project | after deleting |");
    println!("|---|---|---|---|---|");
    let rows: [(&str, i64, i64, i64); 6] = [
        ("pg_database_size (bytes)", before.database_bytes, after.database_bytes, cleaned.database_bytes),
        ("pg_class rows", before.pg_class, after.pg_class, cleaned.pg_class),
        ("pg_attribute rows", before.pg_attribute, after.pg_attribute, cleaned.pg_attribute),
        ("pg_policy rows", before.pg_policy, after.pg_policy, cleaned.pg_policy),
        ("pg_namespace rows", before.pg_namespace, after.pg_namespace, cleaned.pg_namespace),
        ("pg_roles rows (cluster)", before.pg_roles, after.pg_roles, cleaned.pg_roles),
    ];
    for (name, b, a, c) in rows {
        println!("| {name} | {b} | {a} | {:.1} | {c} |", per(b, a));
    }
}
