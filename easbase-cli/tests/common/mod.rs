//! Running `easbase` as a process: one-shot commands and `serve` with its JSON line.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_easbase");

/// Runs `easbase args…` in `dir` and returns (exit code, stdout, stderr).
pub fn easbase_in(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(BIN).args(args).current_dir(dir).output().expect("run easbase");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `easbase serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// The JSON line.
    pub ready: serde_json::Value,
    /// What it printed on stderr before it was ready.
    pub stderr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The `url` field.
    pub fn url(&self) -> &str {
        self.ready["url"].as_str().unwrap()
    }

    /// A field of the JSON line.
    pub fn field(&self, name: &str) -> &str {
        self.ready[name].as_str().unwrap_or_else(|| panic!("no {name} in {}", self.ready))
    }
}

/// Starts `easbase serve args… --listen 127.0.0.1:0` in `dir` and waits for its JSON line;
/// `Err((code, stderr))` when it exits first.
pub fn serve(dir: &Path, args: &[&str]) -> Result<Server, (Option<i32>, String)> {
    serve_env(dir, args, &[])
}

/// [`serve`] with these environment variables (and no `EASBASE_*_KEY` from the caller's).
pub fn serve_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Server, (Option<i32>, String)> {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("EASBASE_PUBLISHABLE_KEY")
        .env_remove("EASBASE_SECRET_KEY")
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start easbase serve");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let err_tx = tx.clone();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(Event::Line(first));
        for _ in lines {} // keep the pipe open
    });
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
            let _ = err_tx.send(Event::Stderr(line));
        }
        let _ = err_tx.send(Event::Closed(text));
    });
    let mut stderr_text = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)).expect("easbase serve answered nothing in 120 s") {
            Event::Line(Some(line)) => {
                let ready = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                // Collect what stderr said up to now.
                while let Ok(Event::Stderr(l)) = rx.recv_timeout(Duration::from_millis(200)) {
                    stderr_text.push_str(&l);
                    stderr_text.push('\n');
                }
                return Ok(Server { child, ready, stderr: stderr_text });
            }
            Event::Line(None) | Event::Closed(_) => {
                let status = child.wait().expect("wait");
                while let Ok(event) = rx.recv_timeout(Duration::from_secs(5)) {
                    if let Event::Stderr(l) = event {
                        stderr_text.push_str(&l);
                        stderr_text.push('\n');
                    }
                }
                return Err((status.code(), stderr_text));
            }
            Event::Stderr(l) => {
                stderr_text.push_str(&l);
                stderr_text.push('\n');
            }
        }
    }
}

enum Event {
    Line(Option<String>),
    Stderr(String),
    Closed(String),
}

/// Runs `f` on a fresh current-thread runtime.
pub fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// A schema file in `dir`.
pub fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A todos table with `columns` (JSON) and owner policies.
pub fn todos_schema(extra_columns: &str) -> String {
    format!(
        r#"{{ "tables": [ {{ "name": "todos", "columns": [
            {{ "name": "id", "type": "identity", "primary": true }},
            {{ "name": "owner_id", "type": "uuid", "required": true, "default": "auth.uid" }},
            {{ "name": "title", "type": "text", "required": true }}{extra_columns} ],
          "policies": {{ "select": "owner_id = auth.uid", "insert": "owner_id = auth.uid",
                         "update": "owner_id = auth.uid", "delete": "owner_id = auth.uid" }} }} ] }}"#
    )
}

/// The PostgreSQL server of the test suite (`EASBASE_PG_URL`, else the local one).
pub fn pg_url() -> String {
    std::env::var("EASBASE_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A PostgreSQL platform of its own: a random platform schema, removed when dropped, even
/// after a failed assertion: every project (its schema and roles, through
/// `easbase project delete`), then the platform tables. Drop the servers using it first.
pub struct PgPlatform {
    /// The database URL.
    pub url: String,
    /// The platform schema (`--platform-schema`).
    pub schema: String,
    /// The working directory of the commands.
    pub dir: tempfile::TempDir,
}

impl PgPlatform {
    /// A fresh platform schema on [`pg_url`].
    pub fn new() -> PgPlatform {
        PgPlatform {
            url: pg_url(),
            schema: format!("cli_{}", uuid::Uuid::new_v4().simple()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `args` followed by `--database-url … --platform-schema …`.
    pub fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        all.extend(["--database-url", &self.url, "--platform-schema", &self.schema]);
        all
    }

    /// Runs `easbase args… --database-url … --platform-schema …` in [`PgPlatform::dir`].
    pub fn easbase(&self, args: &[&str]) -> (Option<i32>, String, String) {
        easbase_in(self.dir.path(), &self.args(args))
    }
}

impl Drop for PgPlatform {
    fn drop(&mut self) {
        let (_, stdout, _) = self.easbase(&["project", "list", "--json"]);
        if let Ok(serde_json::Value::Array(projects)) = serde_json::from_str(&stdout) {
            for p in projects {
                let (id, slug) = (p["id"].as_str().unwrap_or(""), p["slug"].as_str().unwrap_or(""));
                let (code, _, stderr) = self.easbase(&["project", "delete", id, "--confirm", slug]);
                assert!(code == Some(0) || std::thread::panicking(), "{stderr}");
            }
        }
        let (url, schema) = (self.url.clone(), self.schema.clone());
        block_on(async move {
            if let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                tokio::spawn(connection);
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
            }
        });
    }
}
