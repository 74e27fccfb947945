//! The example run as a process: on SQLite, and on PostgreSQL with the `postgres` feature.

use std::process::Command;

fn run(database_url: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_example-multi-tenant"));
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let out = cmd.output().expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "acme's secret key reads acme's 2 documents and nothing else",
        "acme's user token is refused by globex (401",
        "after the grace period the old key is refused (401)",
        "globex's revoked publishable key is refused at once",
        "no project is left",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    stdout
}

#[test]
fn tenants_stay_apart_on_sqlite() {
    let stdout = run(None);
    assert!(stdout.contains("its own file"), "{stdout}");
}

#[cfg(feature = "postgres")]
#[test]
fn tenants_stay_apart_on_postgres() {
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let stdout = run(Some(&url));
    assert!(stdout.contains("of the platform database") && stdout.contains("database p_"), "{stdout}");
}
