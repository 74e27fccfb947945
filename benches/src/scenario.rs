//! The scenarios: what is measured against what, and the runs (warm-up, then the median
//! of several runs).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use easbase_cli::client::Client;
use serde_json::json;
use tokio::runtime::Runtime;

use crate::error::{Error, Result};
use crate::fixture::{Backend, CATEGORIES, Fixture, PASSWORD, ROWS};
use crate::load::{self, PathPattern, RunConfig, Sample, Workload};
use crate::report::{Row, Stats};
use crate::servers;
use crate::wrk;

/// One scenario of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SQLite: GET one row by key, EasBase vs a bare route answering the same bytes.
    SqliteGet,
    /// SQLite: a filtered, ordered page of 20, vs the bare route.
    SqlitePage,
    /// SQLite: a one-row insert, vs the bare route.
    SqliteInsert,
    /// PostgreSQL: GET one row by key under RLS, vs sqlx (plain, and PostgREST's way).
    PgGet,
    /// PostgreSQL: the page of 20, the same comparison.
    PgPage,
    /// PostgreSQL: the insert, the same comparison.
    PgInsert,
    /// SQLite: p99 of reads during concurrent password logins vs reads alone.
    Auth,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 7] = [
        Scenario::SqliteGet,
        Scenario::SqlitePage,
        Scenario::SqliteInsert,
        Scenario::PgGet,
        Scenario::PgPage,
        Scenario::PgInsert,
        Scenario::Auth,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::SqliteGet => "sqlite-get",
            Scenario::SqlitePage => "sqlite-page",
            Scenario::SqliteInsert => "sqlite-insert",
            Scenario::PgGet => "pg-get",
            Scenario::PgPage => "pg-page",
            Scenario::PgInsert => "pg-insert",
            Scenario::Auth => "auth",
        }
    }

    /// The scenario named `name`.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the known scenarios.
    pub fn parse(name: &str) -> Result<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| {
            let known: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
            Error::Usage(format!("unknown scenario `{name}` (known: {})", known.join(", ")))
        })
    }

    fn on_postgres(self) -> bool {
        matches!(self, Scenario::PgGet | Scenario::PgPage | Scenario::PgInsert)
    }
}

/// Which load generator sends the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// The harness's own (hyper, closed loop, exact percentiles).
    Rust,
    /// `wrk` (must be on `PATH`), with as many threads as client threads.
    Wrk,
}

/// How the scenarios run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Open connections of the load.
    pub connections: usize,
    /// Each measured run.
    pub duration: Duration,
    /// The unmeasured run before them.
    pub warmup: Duration,
    /// Measured runs per server (the median is reported).
    pub runs: usize,
    /// Worker threads of the load generator's runtime.
    pub client_threads: usize,
    /// Worker threads of the servers' runtime.
    pub server_threads: usize,
    /// Connections in each PostgreSQL pool (EasBase's and sqlx's).
    pub pg_pool_size: u32,
    /// PostgreSQL's URL.
    pub pg_url: String,
    /// Concurrent password logins in the auth scenario (one connection each).
    pub logins: usize,
    /// The load generator.
    pub generator: Generator,
    /// Measure EasBase only, no reference (to profile it: `perf record` sees nothing else).
    pub easbase_only: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            connections: 32,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            runs: 3,
            client_threads: 2,
            server_threads: 2,
            pg_pool_size: 16,
            pg_url: std::env::var("EASBASE_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
            logins: 4,
            generator: Generator::Rust,
            easbase_only: false,
        }
    }
}

/// Runs `scenarios` with `settings` and returns the table's rows. `progress` is told
/// each row as it is measured.
///
/// # Errors
/// [`Error::Setup`] when a fixture cannot be made (PostgreSQL unreachable, …),
/// [`Error::Load`] when no request can be sent.
pub fn run(settings: &Settings, scenarios: &[Scenario], progress: &mut dyn FnMut(&Row)) -> Result<Vec<Row>> {
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.client_threads.max(1))
        .thread_name("bench-load")
        .enable_all()
        .build()
        .map_err(|e| Error::setup("load runtime", e))?;
    let bench = Bench { settings, client };
    let mut rows = Vec::new();
    let mut emit = |row: Row, rows: &mut Vec<Row>| {
        progress(&row);
        rows.push(row);
    };

    let sqlite: Vec<_> = scenarios.iter().copied().filter(|s| !s.on_postgres()).collect();
    if !sqlite.is_empty() {
        let logins = if sqlite.contains(&Scenario::Auth) { settings.logins } else { 0 };
        let fixture = Fixture::start(Backend::Sqlite, settings.server_threads, logins)?;
        let result =
            sqlite.iter().try_for_each(|s| bench.scenario(*s, &fixture, &mut |row| emit(row, &mut rows)));
        let teardown = fixture.teardown();
        result?;
        teardown?;
    }
    let pg: Vec<_> = scenarios.iter().copied().filter(|s| s.on_postgres()).collect();
    if !pg.is_empty() {
        let fixture = Fixture::start(Backend::Postgres(settings.pg_url.clone()), settings.server_threads, 0)?;
        let result =
            pg.iter().try_for_each(|s| bench.scenario(*s, &fixture, &mut |row| emit(row, &mut rows)));
        let teardown = fixture.teardown();
        result?;
        teardown?;
    }
    Ok(rows)
}

struct Bench<'a> {
    settings: &'a Settings,
    client: Runtime,
}

/// What is sent to EasBase in each kind of scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get,
    Page,
    Insert,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Get => "GET one row by key",
            Kind::Page => "GET a filtered, ordered page of 20",
            Kind::Insert => "POST one row",
        }
    }

    /// EasBase's request.
    fn easbase(self, fixture: &Fixture) -> Result<Workload> {
        let workload = match self {
            Kind::Get => Workload::get(PathPattern::cycling("/rest/v1/items?select=*&id=eq.", ROWS, "")),
            Kind::Page => Workload::get(PathPattern::cycling(
                "/rest/v1/items?select=*&category=eq.",
                CATEGORIES,
                "&order=id.desc&limit=20",
            )),
            Kind::Insert => Workload::post_json("/rest/v1/notes", &json!({ "body": "a note" }), 201),
        };
        let [apikey, authorization] = fixture.owner_headers();
        workload.header(apikey.0, &apikey.1)?.header(authorization.0, &authorization.1)
    }

    /// The hand-written rusqlite handler's request.
    fn reference_sqlite(self) -> Workload {
        match self {
            Kind::Get => Workload::get(PathPattern::cycling("/items/", ROWS, "")),
            Kind::Page => Workload::get(PathPattern::cycling("/page/", CATEGORIES, "")),
            Kind::Insert => Workload::post_json("/notes", &json!({ "body": "a note" }), 201),
        }
    }

    /// The hand-written sqlx handler's request (`plain` or `tx`).
    fn reference(self, route: &str) -> Workload {
        match self {
            Kind::Get => Workload::get(PathPattern::cycling(format!("/{route}/items/"), ROWS, "")),
            Kind::Page => Workload::get(PathPattern::cycling(format!("/{route}/page/"), CATEGORIES, "")),
            Kind::Insert => {
                Workload::post_json(&format!("/{route}/notes"), &json!({ "body": "a note" }), 201)
            }
        }
    }
}

impl Bench<'_> {
    fn scenario(&self, scenario: Scenario, fixture: &Fixture, emit: &mut dyn FnMut(Row)) -> Result<()> {
        match scenario {
            Scenario::SqliteGet => self.against_bare(Kind::Get, fixture, emit),
            Scenario::SqlitePage => self.against_bare(Kind::Page, fixture, emit),
            Scenario::SqliteInsert => self.against_bare(Kind::Insert, fixture, emit),
            Scenario::PgGet => self.against_sqlx(Kind::Get, fixture, emit),
            Scenario::PgPage => self.against_sqlx(Kind::Page, fixture, emit),
            Scenario::PgInsert => self.against_sqlx(Kind::Insert, fixture, emit),
            Scenario::Auth => self.auth(fixture, emit),
        }
    }

    /// EasBase vs a bare route answering what EasBase answers (its body for the first
    /// row or page).
    fn against_bare(&self, kind: Kind, fixture: &Fixture, emit: &mut dyn FnMut(Row)) -> Result<()> {
        let workload = kind.easbase(fixture)?;
        if self.settings.easbase_only {
            return self.easbase_alone(kind, fixture, &workload, emit);
        }
        let body = self.sample_body(fixture.easbase.addr, &workload)?;
        let bare = fixture.runtime.block_on(servers::serve_local(servers::bare(body.clone())))?;
        let bare_workload = Workload { headers: Vec::new(), ..workload.clone() };
        let reference = self.measure(bare.addr, &bare_workload)?;
        fixture.runtime.block_on(bare.stop());
        // For context: a hand-written handler on the same file (a peer, not the target's
        // reference).
        let file = fixture.sqlite_file.clone().ok_or_else(|| Error::Setup("no SQLite file".into()))?;
        let router = servers::sqlite_reference(file, &fixture.owner)?;
        let hand = fixture.runtime.block_on(servers::serve_local(router))?;
        let hand_workload = kind.reference_sqlite();
        let hand_stats = self.sample_body(hand.addr, &hand_workload).and_then(|hand_body| {
            if hand_body != body {
                return Err(Error::Setup(format!(
                    "the hand-written handler answers other bytes than EasBase: {} vs {}",
                    String::from_utf8_lossy(&hand_body),
                    String::from_utf8_lossy(&body)
                )));
            }
            self.measure(hand.addr, &hand_workload)
        });
        fixture.runtime.block_on(hand.stop());
        let hand_stats = hand_stats?;
        let easbase = self.measure(fixture.easbase.addr, &workload)?;
        let scenario = format!("{} ({})", kind.label(), fixture.backend.name());
        emit(Row::new(&scenario, "bare axum route, same bytes (ceiling)", reference.clone()));
        emit(
            Row::new(&scenario, "axum + rusqlite, hand-written (no key, token, policy or log)", hand_stats)
                .ratio_to(&reference, "bare", None),
        );
        let target = (kind == Kind::Get).then_some(0.6);
        emit(
            Row::new(&scenario, "EasBase (apikey, JWT, plan, policy, JSON)", easbase)
                .ratio_to(&reference, "bare", target),
        );
        Ok(())
    }

    /// `--easbase-only`: EasBase's row without a reference.
    fn easbase_alone(
        &self,
        kind: Kind,
        fixture: &Fixture,
        workload: &Workload,
        emit: &mut dyn FnMut(Row),
    ) -> Result<()> {
        let stats = self.measure(fixture.easbase.addr, workload)?;
        let scenario = format!("{} ({})", kind.label(), fixture.backend.name());
        emit(Row::new(&scenario, "EasBase", stats));
        Ok(())
    }

    /// EasBase under RLS vs sqlx's plain statement, with PostgREST's transaction for context.
    fn against_sqlx(&self, kind: Kind, fixture: &Fixture, emit: &mut dyn FnMut(Row)) -> Result<()> {
        if self.settings.easbase_only {
            return self.easbase_alone(kind, fixture, &kind.easbase(fixture)?, emit);
        }
        let names = fixture.pg.as_ref().ok_or_else(|| Error::Setup("no PostgreSQL fixture".into()))?;
        let router = fixture.runtime.block_on(servers::pg_reference(
            names,
            &fixture.owner,
            self.settings.pg_pool_size,
        ))?;
        let served = fixture.runtime.block_on(servers::serve_local(router))?;
        let measured = (|| {
            let plain = self.measure(served.addr, &kind.reference("plain"))?;
            let tx = self.measure(served.addr, &kind.reference("tx"))?;
            Ok::<_, Error>((plain, tx))
        })();
        fixture.runtime.block_on(served.stop());
        let (plain, tx) = measured?;
        let easbase = self.measure(fixture.easbase.addr, &kind.easbase(fixture)?)?;
        let scenario = format!("{} (postgres)", kind.label());
        emit(Row::new(&scenario, "axum + sqlx, plain statement, no RLS", plain.clone()));
        emit(
            Row::new(&scenario, "axum + sqlx, PostgREST's transaction (BEGIN; set_config; …; COMMIT)", tx)
                .ratio_to(&plain, "sqlx plain", None),
        );
        let target = (kind == Kind::Get).then_some(0.8);
        emit(Row::new(&scenario, "EasBase (RLS, role + claims, user JWT)", easbase).ratio_to(
            &plain,
            "sqlx plain",
            target,
        ));
        Ok(())
    }

    /// Reads alone, then the same reads while password logins run on the same server.
    fn auth(&self, fixture: &Fixture, emit: &mut dyn FnMut(Row)) -> Result<()> {
        let reads = Kind::Get.easbase(fixture)?;
        let logins: Vec<Workload> = fixture
            .login_users
            .iter()
            .map(|u| {
                Workload::post_json(
                    "/auth/v1/token?grant_type=password",
                    &json!({ "email": u.email, "password": PASSWORD }),
                    200,
                )
                .header("apikey", &fixture.publishable_key)
            })
            .collect::<Result<_>>()?;
        if logins.is_empty() {
            return Err(Error::Usage("the auth scenario needs at least one login (--logins)".into()));
        }
        let alone = self.measure(fixture.easbase.addr, &reads)?;
        let addr = fixture.easbase.addr;
        let config = self.run_config(self.settings.duration);
        let mut during = Vec::new();
        let mut login_samples = Vec::new();
        self.client.block_on(async {
            // Warm-up with both.
            let warm = self.run_config(self.settings.warmup);
            let _ = tokio::join!(load::run(addr, &reads, warm), run_each(addr, &logins, warm));
            for _ in 0..self.settings.runs.max(1) {
                let (r, l) = tokio::join!(load::run(addr, &reads, config), run_each(addr, &logins, config));
                during.push(Stats::from(&r?));
                login_samples.push(Stats::from(&l?));
            }
            Ok::<_, Error>(())
        })?;
        let during = Stats::median(&during);
        let logins_stats = Stats::median(&login_samples);
        let scenario = format!("reads during password logins (sqlite, {} logins at a time)", logins.len());
        emit(Row::new(&scenario, "reads alone", alone.clone()));
        emit(Row::new(&scenario, "reads while logins run", during).p99_ratio_to(&alone, "reads alone"));
        emit(Row::new(&scenario, "the logins (Argon2id, OWASP cost)", logins_stats));
        Ok(())
    }

    fn run_config(&self, duration: Duration) -> RunConfig {
        RunConfig { connections: self.settings.connections, duration }
    }

    /// Warm-up, then the median of the runs.
    fn measure(&self, addr: SocketAddr, workload: &Workload) -> Result<Stats> {
        let mut runs = Vec::new();
        match self.settings.generator {
            Generator::Rust => self.client.block_on(async {
                if !self.settings.warmup.is_zero() {
                    load::run(addr, workload, self.run_config(self.settings.warmup)).await?;
                }
                for _ in 0..self.settings.runs.max(1) {
                    let before = crate::cpu::server_ticks();
                    let sample = load::run(addr, workload, self.run_config(self.settings.duration)).await?;
                    let mut stats = Stats::from(&sample);
                    if let (Some(before), Some(after)) = (before, crate::cpu::server_ticks()) {
                        stats.server_cpu_us =
                            crate::cpu::micros_per_request(after.saturating_sub(before), sample.ok);
                    }
                    runs.push(stats);
                }
                Ok::<_, Error>(())
            })?,
            Generator::Wrk => {
                if !self.settings.warmup.is_zero() {
                    wrk::run(
                        addr,
                        workload,
                        self.run_config(self.settings.warmup),
                        self.settings.client_threads,
                    )?;
                }
                for _ in 0..self.settings.runs.max(1) {
                    let config = self.run_config(self.settings.duration);
                    let before = crate::cpu::server_ticks();
                    let mut stats = wrk::run(addr, workload, config, self.settings.client_threads)?;
                    if let (Some(before), Some(after)) = (before, crate::cpu::server_ticks()) {
                        stats.server_cpu_us =
                            crate::cpu::micros_per_request(after.saturating_sub(before), stats.ok);
                    }
                    runs.push(stats);
                }
            }
        }
        Ok(Stats::median(&runs))
    }

    /// EasBase's answer to the first request of `workload` (what the bare route answers).
    fn sample_body(&self, addr: SocketAddr, workload: &Workload) -> Result<Bytes> {
        if workload.method == http::Method::POST {
            return Ok(Bytes::new());
        }
        let client = Client::new(format!("http://{addr}"));
        let mut call = client.get(workload.path.at(0));
        for (name, value) in &workload.headers {
            let value = value.to_str().map_err(|e| Error::setup("header", e))?;
            call = call.header(name.clone(), value);
        }
        let response = self.client.block_on(call.send()).map_err(|e| Error::setup("first request", e))?;
        if response.status != workload.expect {
            return Err(Error::Setup(format!(
                "the first request answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            )));
        }
        Ok(response.body)
    }
}

/// Runs each workload over one connection at once; the samples merged.
async fn run_each(addr: SocketAddr, workloads: &[Workload], config: RunConfig) -> Result<Sample> {
    let one = RunConfig { connections: 1, ..config };
    let runs = workloads.iter().map(|w| {
        let w = w.clone();
        async move { load::run(addr, &w, one).await }
    });
    let mut merged = Sample::default();
    for sample in futures_join_all(runs).await {
        let sample = sample?;
        merged.ok += sample.ok;
        merged.errors += sample.errors;
        merged.first_error = merged.first_error.or(sample.first_error);
        merged.elapsed = merged.elapsed.max(sample.elapsed);
        merged.latencies_us.extend(sample.latencies_us);
    }
    merged.latencies_us.sort_unstable();
    Ok(merged)
}

/// Awaits all `futures` concurrently (spawned on the current runtime).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        if let Ok(value) = handle.await {
            out.push(value);
        }
    }
    out
}
