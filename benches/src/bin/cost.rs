//! `cost`: the CPU one REST request costs, without HTTP.
//!
//! ```text
//! cargo run -p easbase-benches --release --bin cost -- [sqlite|postgres] [--requests N] [--tasks T] [--only get|page|post] [--router]
//! ```
//!
//! Starts the load harness's fixture (the same project, rows and owner), then calls
//! [`RestService::handle`] directly — no sockets, no hyper — `N` times for each request
//! kind (GET by key, a page of 20, an insert), from `T` tasks at once on the fixture's
//! two-thread runtime, and prints the process's CPU time (user + system, every thread:
//! the runtime's and the database engine's) and the wall time per request. CPU per
//! request is steadier than throughput on a shared machine, so it is what to compare
//! between two builds; the load harness (`load`) gives the ratios the targets are set in.

use std::time::Instant;

use bytes::Bytes;
use easbase_benches::fixture::{Backend, Fixture, ROWS};
use easbase_rest::{RestConfig, RestService};
use http::Request;

fn main() {
    if let Err(e) = run() {
        eprintln!("cost: {e}");
        std::process::exit(1);
    }
}

/// The process's CPU time so far (user + system of every thread), in clock ticks
/// (`/proc/self/stat` fields 14 and 15).
fn cpu_ticks() -> Result<u64, String> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("/proc/self/stat: {e}"))?;
    // The command name (field 2) may hold spaces: count fields after its closing `)`.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field =
        |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or("unexpected /proc/self/stat");
    // `rest` starts at field 3: utime is field 14, stime field 15.
    Ok(field(11)? + field(12)?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// One request: to the service directly, or (`router`) through the axum router under
/// `/rest/v1`.
async fn call(
    service: &RestService,
    app: &axum::Router,
    router: bool,
    request: Request<Bytes>,
) -> http::Response<Bytes> {
    use http_body_util::BodyExt;
    use tower_service::Service;
    if !router {
        return service.handle(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let uri = format!("/rest/v1{}", parts.uri);
    parts.uri = uri.parse().unwrap_or_default();
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    let Ok(response) = app.clone().call(request).await;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    http::Response::from_parts(parts, body)
}

fn run() -> Result<(), String> {
    let mut backend = Backend::Sqlite;
    let mut requests: u64 = 20_000;
    let mut tasks: u64 = 16;
    let mut only: Option<String> = None;
    let mut router = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "sqlite" => backend = Backend::Sqlite,
            "postgres" => {
                backend = Backend::Postgres(
                    std::env::var("EASBASE_PG_URL")
                        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
                );
            }
            "--requests" => requests = args.next().and_then(|v| v.parse().ok()).ok_or("--requests N")?,
            "--tasks" => tasks = args.next().and_then(|v| v.parse().ok()).ok_or("--tasks T")?,
            "--only" => only = Some(args.next().ok_or("--only get|page|post")?),
            "--router" => router = true,
            other => {
                return Err(format!(
                    "unknown argument `{other}` (sqlite|postgres, --requests N, --tasks T, --only get|page|post, --router)"
                ));
            }
        }
    }
    let fixture = Fixture::start(backend, 2, 0).map_err(|e| e.to_string())?;
    let result = measure(&fixture, requests, tasks.max(1), only.as_deref(), router);
    fixture.teardown().map_err(|e| e.to_string())?;
    result
}

fn measure(
    fixture: &Fixture,
    requests: u64,
    tasks: u64,
    only: Option<&str>,
    router: bool,
) -> Result<(), String> {
    let config = RestConfig {
        hidden_tables: easbase_auth::AuthModule::TABLES.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    };
    let service = RestService::new(fixture.platform.clone(), config);
    // `--router`: the same requests through the host's whole axum router (CORS, nesting,
    // the bounded body read), as `easbase serve` mounts REST.
    let app = fixture.runtime.block_on(async {
        easbase_cli::host::Services::new(&fixture.platform, easbase_benches::fixture::auth_config())
            .map(easbase_cli::host::router)
            .map_err(|e| e.to_string())
    })?;
    let [(_, apikey), (_, bearer)] = fixture.owner_headers();
    let kinds: [(&str, &str, &str); 3] =
        [("GET by key", "GET", "get"), ("GET page of 20", "GET", "page"), ("POST one row", "POST", "post")];
    println!("| request | tasks | CPU µs per request | wall µs per request |");
    println!("|---|---:|---:|---:|");
    for (label, method, key) in kinds {
        if only.is_some_and(|o| o != key) {
            continue;
        }
        let make = |i: u64| -> Result<Request<Bytes>, String> {
            let (uri, body) = match label {
                "GET by key" => (format!("/items?select=*&id=eq.{}", i % ROWS + 1), Bytes::new()),
                "GET page of 20" => (
                    format!("/items?select=*&category=eq.{}&order=id.desc&limit=20", i % 10 + 1),
                    Bytes::new(),
                ),
                _ => ("/notes".to_owned(), Bytes::from(format!(r#"{{"body":"note {i}"}}"#))),
            };
            Request::builder()
                .method(method)
                .uri(uri)
                .header("apikey", &apikey)
                .header("authorization", &bearer)
                .header("content-type", "application/json")
                .header("prefer", "return=minimal")
                .body(body)
                .map_err(|e| e.to_string())
        };
        // Warm-up: statement caches, token cache, schema snapshot.
        for i in 0..200 {
            let res = fixture.runtime.block_on(call(&service, &app, router, make(i)?));
            if !res.status().is_success() {
                return Err(format!("{label}: status {} {:?}", res.status(), res.body()));
            }
        }
        let per_task = requests / tasks;
        let mut batches = Vec::new();
        for t in 0..tasks {
            let mut batch = Vec::with_capacity(per_task as usize);
            for i in 0..per_task {
                batch.push(make(t * per_task + i)?);
            }
            batches.push(batch);
        }
        let cpu_before = cpu_ticks()?;
        let started = Instant::now();
        let failures = fixture.runtime.block_on(async {
            let mut handles = Vec::new();
            for batch in batches {
                let (service, app) = (service.clone(), app.clone());
                handles.push(tokio::spawn(async move {
                    let mut failures = 0u64;
                    for request in batch {
                        if !call(&service, &app, router, request).await.status().is_success() {
                            failures += 1;
                        }
                    }
                    failures
                }));
            }
            let mut failures = 0;
            for h in handles {
                failures += h.await.unwrap_or(u64::MAX / 2);
            }
            failures
        });
        let wall = started.elapsed();
        let cpu = (cpu_ticks()? - cpu_before) as f64 / TICKS_PER_SEC;
        let done = (per_task * tasks) as f64;
        if failures > 0 {
            return Err(format!("{label}: {failures} requests failed"));
        }
        println!(
            "| {label} ({}) | {tasks} | {:.1} | {:.1} |",
            fixture.backend.name(),
            cpu * 1e6 / done,
            wall.as_secs_f64() * 1e6 / done
        );
    }
    Ok(())
}
