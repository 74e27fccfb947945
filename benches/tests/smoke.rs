//! The load harness end to end with tiny runs: every scenario's servers start, answer
//! every request with the expected status, and are cleaned up. Durations are never
//! asserted (CI must not run the long load: `cargo run -p easbase-benches --release --bin
//! load` does). Needs PostgreSQL at `EASBASE_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

use std::time::Duration;

use easbase_benches::scenario::{self, Scenario, Settings};

#[test]
fn every_scenario_answers() {
    let settings = Settings {
        connections: 2,
        duration: Duration::from_millis(200),
        warmup: Duration::ZERO,
        runs: 1,
        client_threads: 1,
        server_threads: 1,
        pg_pool_size: 2,
        logins: 1,
        ..Settings::default()
    };
    let mut seen = Vec::new();
    let rows = scenario::run(&settings, &Scenario::ALL, &mut |row| seen.push(row.server.clone()))
        .unwrap_or_else(|e| panic!("{e} (is PostgreSQL running at {}?)", settings.pg_url));
    // 3 SQLite scenarios × (bare, rusqlite by hand, EasBase), 3 PostgreSQL × (plain,
    // transaction, EasBase), auth × (reads alone, reads during logins, logins).
    assert_eq!(rows.len(), 3 * 3 + 3 * 3 + 3, "{rows:#?}");
    assert_eq!(seen.len(), rows.len());
    for row in &rows {
        assert!(row.stats.ok > 0, "no successful request: {row:#?}");
        assert_eq!(row.stats.errors, 0, "failed requests: {row:#?}");
    }
    let compared = rows.iter().filter(|r| r.ratio.is_some()).count();
    assert_eq!(compared, 3 * 2 + 3 * 2 + 1, "{rows:#?}");
}
