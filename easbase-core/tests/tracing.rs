//! The engines' `tracing` spans, captured by a tiny subscriber: each transaction and
//! statement has a span with the backend, the statement's kind, its table and its row
//! count, and nothing secret (bound values, API keys, JWT secrets, claims, settings)
//! reaches a span or an event — on SQLite, PostgreSQL and MariaDB, and through the whole
//! project flow (create, resolve a key, a scoped request).
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use easbase_core::db::{Db, PgConfig, Scope, SqliteConfig, Stmt};
use easbase_core::project::{CreateProject, Platform, PlatformConfig};
use easbase_core::schema::Schema;
use sea_query::Values;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every span (name and fields), every later `record` and every event, as text.
#[derive(Default)]
struct Capture {
    lines: Mutex<Vec<String>>,
    next: AtomicU64,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Capture {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn clear(&self) {
        self.lines.lock().unwrap().clear();
    }
}

impl Subscriber for &'static Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields(format!("span#{id} {}", span.metadata().name()));
        span.record(&mut fields);
        self.push(fields.0);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields(format!("record#{}", span.into_u64()));
        values.record(&mut fields);
        self.push(fields.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(format!("event {}", event.metadata().target()));
        event.record(&mut fields);
        self.push(fields.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The process-wide capture (set once: SQLite's worker threads must see it too).
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::default());
        tracing::subscriber::set_global_default(capture).unwrap();
        capture
    })
}

const SECRET_VALUE: &str = "bound-secret-4f9a1c";
const CLAIMS: &str = r#"{"sub":"claimed-user-77e2","role":"authenticated"}"#;

fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "`{secret}` reached a span or an event:\n{text}");
    }
}

/// Runs an insert and a select with secret values in a scope with claims, and checks the
/// spans.
async fn check_engine(db: &Db, table: &str, system: &str) {
    let c = capture();
    c.clear();
    let p = |n: usize| {
        if db.dialect() == easbase_core::schema::Dialect::Mysql { "?".to_owned() } else { format!("${n}") }
    };
    let scope =
        Scope { role: None, settings: vec![("request.jwt.claims".into(), CLAIMS.into())], read_only: false };
    let insert = Stmt::new(
        format!("insert into {table} (id, note) values ({}, {})", p(1), p(2)),
        Values(vec![1.into(), SECRET_VALUE.into()]),
    );
    let select = Stmt::new(
        format!("select note from {table} where note = {}", p(1)),
        Values(vec![SECRET_VALUE.into()]),
    );
    let results = db.transaction(&scope, vec![insert, select]).await.unwrap();
    assert_eq!(results[1].rows[0].text("note").unwrap(), SECRET_VALUE, "the values did reach the database");
    let text = c.text();
    assert!(text.contains(&format!("db.transaction db.system=\"{system}\" statements=2")), "{text}");
    assert!(text.contains("db.operation=\"insert\"") && text.contains("db.operation=\"select\""), "{text}");
    let bare = table.rsplit('.').next().unwrap();
    assert!(
        text.contains(&format!("db.table=\"{bare}\"")) || text.contains(&format!("db.table=\"{table}\"")),
        "{text}"
    );
    assert!(text.contains("rows=1"), "{text}");
    assert_no_secret(&text, &[SECRET_VALUE, "claimed-user-77e2", "request.jwt.claims"]);
}

/// One test (the subscriber is process-wide, so the parts must not run at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_carry_shape_and_counts_never_secrets() {
    engines_spans_carry_shape_and_counts_never_values().await;
    the_project_flow_leaks_no_key_secret_or_claim().await;
}

async fn engines_spans_carry_shape_and_counts_never_values() {
    // SQLite.
    let sqlite = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    sqlite.execute_script(&["create table notes (id integer primary key, note text)".into()]).await.unwrap();
    check_engine(&sqlite, "notes", "sqlite").await;

    // PostgreSQL, in a schema of its own.
    let url = std::env::var("EASBASE_PG_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let pg = Db::connect_postgres(PgConfig::new(url)).await.expect("PostgreSQL at EASBASE_PG_URL");
    let schema = format!("t_trace_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    pg.execute_script(&[
        format!("create schema {schema}"),
        format!("create table {schema}.notes (id int primary key, note text)"),
    ])
    .await
    .unwrap();
    check_engine(&pg, &format!("{schema}.notes"), "postgresql").await;
    pg.execute_script(&[format!("drop schema {schema} cascade")]).await.unwrap();

    // MariaDB, in a database of its own.
    let (my, name) = common::mysql_database(1).await;
    my.execute_script(&["create table notes (id int primary key, note text)".into()]).await.unwrap();
    check_engine(&my, "notes", "mysql").await;
    common::drop_mysql_database(&name, &[]).await;
}

async fn the_project_flow_leaks_no_key_secret_or_claim() {
    let c = capture();
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let platform = Platform::open(db, PlatformConfig::new("http://api.test"), Vec::new()).await.unwrap();
    let schema = Schema::from_json(
        r#"{ "tables": [ { "name": "todos", "columns": [
            { "name": "id", "type": "integer", "primary": true },
            { "name": "title", "type": "text" } ] } ] }"#,
    )
    .unwrap();
    c.clear();
    let created = platform
        .create_project("owner", "Traced", CreateProject { schema: Some(schema), ..Default::default() })
        .await
        .unwrap();
    let keys = created.keys.unwrap();
    let ctx = platform.resolve(Some(&keys.secret.secret), None, None).await.unwrap();
    // The HTTP layers' request span: opened before the credentials are known, then the
    // resolved context and the status are recorded on it.
    let span = easbase_core::logs::http_request_span("rest", "POST");
    easbase_core::logs::record_context(&span, &ctx);
    span.record("status", 201u16);
    let pdb = platform.project_db(&created.project.id).await.unwrap();
    let scope = pdb.scope(&ctx, false).unwrap();
    let insert =
        Stmt::new("insert into todos (id, title) values (?, ?)", Values(vec![1.into(), SECRET_VALUE.into()]));
    pdb.db().transaction(&scope, vec![insert]).await.unwrap();
    let jwt_secret = platform.jwt_secret(&created.project.id).await.unwrap();
    let text = c.text();
    assert!(text.contains("db.statement") && text.contains("db.table=\"todos\""), "{text}");
    assert!(text.contains("request service=\"rest\" method=\"POST\""), "{text}");
    let project = format!("project={:?}", created.project.id.as_str());
    assert!(
        text.contains(&project) && text.contains("role=\"service_role\"") && text.contains("status=201"),
        "{text}"
    );
    // The secret parts of both keys (the part after the public id), the JWT secret, the
    // bound value and the request's claims.
    let secret_part = |key: &str| key.rsplit('_').next().unwrap().to_owned();
    let secrets = [secret_part(&keys.secret.secret), secret_part(&keys.publishable.secret), jwt_secret];
    let mut all: Vec<&str> = secrets.iter().map(String::as_str).collect();
    all.extend([SECRET_VALUE, ctx.claims_json()]);
    assert_no_secret(&text, &all);
}
