//! The load harness: `cargo run -p easbase-benches --release --bin load -- --help`.

use std::process::ExitCode;
use std::time::Duration;

use easbase_benches::report::{self, Row};
use easbase_benches::scenario::{self, Generator, Scenario, Settings};
use easbase_benches::{Error, Result, wrk};

const USAGE: &str = "usage: load [SCENARIO…] [OPTIONS]

Measures EasBase's HTTP stack against reference servers in the same run and prints a
markdown table (req/s, p50, p99, ratio to the reference). Scenarios (default: all):

  sqlite-get     GET one row by key: EasBase on SQLite vs a bare axum route (same bytes)
  sqlite-page    a filtered, ordered page of 20, same comparison
  sqlite-insert  POST one row, same comparison
  pg-get         GET one row by key under RLS vs axum + sqlx (plain; PostgREST's transaction)
  pg-page        the page of 20 on PostgreSQL, same comparison
  pg-insert      the insert on PostgreSQL, same comparison
  auth           p99 of reads during concurrent password logins vs reads alone (SQLite)

Options:
  --duration SECS        each measured run (default 5; fractions allowed)
  --warmup SECS          the unmeasured run first (default 1)
  --runs N               measured runs per server, the median is reported (default 3)
  --connections N        open connections (default 32)
  --client-threads N     load generator threads (default 2)
  --server-threads N     server runtime threads (default 2)
  --pg-pool N            PostgreSQL pool size, EasBase's and sqlx's (default 16)
  --pg-url URL           PostgreSQL (default $EASBASE_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --logins N             concurrent logins in `auth` (default 4)
  --wrk                  send the load with wrk instead of the built-in generator
  --easbase-only         measure EasBase alone, no reference (to profile it)
  --out FILE             also write the table (with the machine and settings) to FILE";

fn seconds(name: &str, v: &str) -> Result<Duration> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| Error::Usage(format!("{name} {v}: expected seconds")))
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T> {
    v.parse().map_err(|_| Error::Usage(format!("{name} {v}: expected a number")))
}

fn args() -> Result<(Settings, Vec<Scenario>, Option<String>)> {
    let mut settings = Settings::default();
    let mut scenarios = Vec::new();
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| Error::Usage(format!("{name} needs a value")));
        match arg.as_str() {
            "--duration" => settings.duration = seconds("--duration", &value("--duration")?)?,
            "--warmup" => settings.warmup = seconds("--warmup", &value("--warmup")?)?,
            "--runs" => settings.runs = number("--runs", &value("--runs")?)?,
            "--connections" => settings.connections = number("--connections", &value("--connections")?)?,
            "--client-threads" => {
                settings.client_threads = number("--client-threads", &value("--client-threads")?)?
            }
            "--server-threads" => {
                settings.server_threads = number("--server-threads", &value("--server-threads")?)?
            }
            "--pg-pool" => settings.pg_pool_size = number("--pg-pool", &value("--pg-pool")?)?,
            "--pg-url" => settings.pg_url = value("--pg-url")?,
            "--logins" => settings.logins = number("--logins", &value("--logins")?)?,
            "--wrk" => settings.generator = Generator::Wrk,
            "--easbase-only" => settings.easbase_only = true,
            "--out" => out = Some(value("--out")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other if other.starts_with('-') => return Err(Error::Usage(format!("unknown option `{other}`"))),
            name => scenarios.push(Scenario::parse(name)?),
        }
    }
    if settings.runs == 0 || settings.connections == 0 {
        return Err(Error::Usage("--runs and --connections must be at least 1".into()));
    }
    if settings.generator == Generator::Wrk && !wrk::available() {
        return Err(Error::Usage("--wrk: wrk is not installed (apt-get install wrk)".into()));
    }
    if scenarios.is_empty() {
        scenarios = Scenario::ALL.to_vec();
    }
    Ok((settings, scenarios, out))
}

fn header(settings: &Settings) -> String {
    let generator = match settings.generator {
        Generator::Rust => "the harness's hyper client".to_owned(),
        Generator::Wrk => "wrk".to_owned(),
    };
    format!(
        "Machine: {}. Load: {generator}, {} connections, {} client threads; servers: {} threads; \
         {} runs of {:?} after a {:?} warm-up, medians.\n",
        report::machine(),
        settings.connections,
        settings.client_threads,
        settings.server_threads,
        settings.runs,
        settings.duration,
        settings.warmup
    )
}

fn main() -> ExitCode {
    let (settings, scenarios, out) = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    eprintln!("{}", header(&settings));
    let mut progress = |row: &Row| eprintln!("{}", row.line());
    let rows = match scenario::run(&settings, &scenarios, &mut progress) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let table = report::markdown(&rows);
    println!("{table}");
    for row in &rows {
        if let Some((value, target)) = row.missed_target() {
            println!("missed: {} / {}: {value:.2}× < {target}×", row.scenario, row.server);
        }
    }
    if let Some(path) = out {
        let text = format!("{}\n{table}", header(&settings));
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("{}", Error::Io { path, source: e });
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
