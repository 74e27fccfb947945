//! The server run as a process: `--throwaway` leaves nothing behind once it is stopped with
//! SIGTERM (as tests/js/server.mjs stops it) on PostgreSQL (`postgres` feature) and
//! MariaDB/MySQL (`mysql` feature), and its arguments are checked.
//!
//! PostgreSQL at `EASBASE_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! MariaDB at `EASBASE_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_example-axum-server");

#[test]
fn help_names_throwaway_and_a_sqlite_file_is_refused() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--throwaway") && help.contains("easbase_js_"), "{help}");

    let dir = std::env::temp_dir().join(format!("easbase-axum-throwaway-{}", std::process::id()));
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--throwaway"])
        .env("DATABASE_URL", format!("sqlite://{}/platform.db", dir.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--throwaway") && stderr.contains("SQLite file"), "{stderr}");
    assert!(!dir.exists(), "nothing was created");

    let out = Command::new(BIN).args(["--throwaway", "--nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument `--nope`"));
}

/// A `--throwaway` server on a database server, stopped with SIGTERM.
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::BIN;

    /// Kills the child when dropped, whatever happens in the test.
    struct Killed(Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    pub(crate) struct Server {
        child: Killed,
        /// The throw-away schema or database (`easbase_js_…`), as the server names it.
        pub(crate) platform: String,
        /// `p_<project id>`: the project's schema or database, and its roles' prefix.
        pub(crate) project: String,
        url: String,
        publishable_key: String,
    }

    impl Server {
        /// Starts the server on `database_url` and waits for its ready line.
        pub(crate) fn start(database_url: &str) -> Server {
            let mut child = Killed(
                Command::new(BIN)
                    .args(["--listen", "127.0.0.1:0", "--throwaway"])
                    .env("DATABASE_URL", database_url)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
            // stderr: the platform's name first, then the clean-up's report.
            let (lines_tx, lines) = mpsc::channel::<String>();
            let stderr = child.0.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("server: {line}");
                    let _ = lines_tx.send(line);
                }
            });
            let mut ready = String::new();
            BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut ready).unwrap();
            let ready: serde_json::Value = serde_json::from_str(&ready)
                .unwrap_or_else(|e| panic!("not the ready line ({e}): {ready:?}"));
            let named = lines.recv_timeout(Duration::from_secs(5)).unwrap();
            let platform = named
                .split_whitespace()
                .find(|w| w.starts_with("easbase_js_"))
                .unwrap_or_else(|| panic!("no platform named in {named:?}"))
                .to_owned();
            Server {
                child,
                platform,
                project: format!("p_{}", ready["project_id"].as_str().unwrap().replace('-', "_")),
                url: ready["url"].as_str().unwrap().to_owned(),
                publishable_key: ready["publishable_key"].as_str().unwrap().to_owned(),
            }
        }

        /// `GET path` with the publishable key (plain HTTP/1.1); the status code.
        pub(crate) fn get(&self, path: &str) -> u16 {
            let addr = self.url.strip_prefix("http://").unwrap();
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            let key = &self.publishable_key;
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nhost: {addr}\r\napikey: {key}\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("not HTTP: {answer}"))
        }

        /// Sends SIGTERM and waits for the exit.
        pub(crate) async fn terminate(mut self) -> ExitStatus {
            let pid = self.child.0.id().to_string();
            assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Some(status) = self.child.0.try_wait().unwrap() {
                    return status;
                }
                assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::server::Server;

    /// `(schemas among `schemas`, roles starting with `role_prefix`)`.
    async fn count(client: &tokio_postgres::Client, schemas: &[&str], role_prefix: &str) -> (i64, i64) {
        let names: Vec<String> = schemas.iter().map(|s| (*s).to_owned()).collect();
        let sql = "select (select count(*) from pg_namespace where nspname = any($1)), \
                   (select count(*) from pg_roles where starts_with(rolname, $2))";
        let row = client.query_one(sql, &[&names, &role_prefix.to_owned()]).await.unwrap();
        (row.get(0), row.get(1))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn throwaway_leaves_nothing_in_postgres_after_sigterm() {
        let url = std::env::var("EASBASE_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {url} (EASBASE_PG_URL) is not reachable: {e}; start it (user postgres, trust)")
        });
        tokio::spawn(connection);

        let server = Server::start(&url);
        let (platform, project) = (server.platform.clone(), server.project.clone());
        let roles = format!("{project}_");
        // Served from PostgreSQL: the platform schema, the project's schema and roles exist.
        assert_eq!(count(&client, &[&platform, &project], &roles).await, (2, 3));
        assert_eq!(server.get("/rest/v1/todos?select=*"), 200);

        let status = server.terminate().await;
        assert!(status.success(), "{status}");
        assert_eq!(
            count(&client, &[&platform, &project], &roles).await,
            (0, 0),
            "schemas or roles were left"
        );
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use easbase_core::db::{Db, MyConfig, Stmt};

    use super::server::Server;

    /// How many of the databases `names` exist (generated names only: hex and `_`).
    async fn count(server: &Db, names: &[&str]) -> i64 {
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')));
        let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
        let sql =
            format!("select count(*) as n from information_schema.schemata where schema_name in ({list})");
        server.query(Stmt::raw(sql)).await.unwrap()[0].int("n").unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn throwaway_leaves_nothing_in_mariadb_after_sigterm() {
        let url = std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
        let db = Db::connect_mysql(MyConfig::new(url.clone()).pool_size(1)).await.unwrap_or_else(|e| {
            panic!("MariaDB/MySQL at {url} (EASBASE_MYSQL_URL) is not reachable: {e}; start it (root, no password)")
        });

        let server = Server::start(&url);
        let (platform, project) = (server.platform.clone(), server.project.clone());
        // Served from MariaDB: the platform's database and the project's exist.
        assert_eq!(count(&db, &[&platform, &project]).await, 2);
        assert_eq!(server.get("/rest/v1/todos?select=*"), 200);

        let status = server.terminate().await;
        assert!(status.success(), "{status}");
        assert_eq!(count(&db, &[&platform, &project]).await, 0, "databases were left");
    }
}
