//! The database handle on the real engines: SQLite (in-process, file and in-memory),
//! PostgreSQL at `EASBASE_PG_URL` (default `host=127.0.0.1 user=postgres dbname=postgres`)
//! and MariaDB / MySQL at `EASBASE_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`).
//! Each PostgreSQL test works in its own random schema with its own roles, each MariaDB
//! test in its own random database, and drops them.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]

mod common;

use std::sync::Arc;
use std::time::Duration;

use easbase_core::Error;
use easbase_core::db::{
    Cell, Db, Guard, MyConfig, PgConfig, Scope, SqliteConfig, Stmt, mysql_sqlstate, portable_sqlstate,
    sqlite_sqlstate,
};
use easbase_core::schema::{Dialect, Ident};
use sea_query::{Alias, Expr, ExprTrait, Query, TableRef, Value, Values};

// ---- helpers ----------------------------------------------------------------------------

fn random_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap_or_default())
}

fn pg_url() -> String {
    std::env::var("EASBASE_PG_URL").unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into())
}

async fn pg_db(pool_size: usize) -> Db {
    let url = pg_url();
    Db::connect_postgres(PgConfig::new(url.clone()).pool_size(pool_size)).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at `{url}` ({e}).\nStart it: pg_ctlcluster --skip-systemctl-redirect \
             $(ls /etc/postgresql) main start\nor point EASBASE_PG_URL at a server."
        )
    })
}

async fn mysql_database(pool_size: u32) -> (Db, String) {
    common::mysql_database(pool_size).await
}

async fn drop_mysql_database(_db: &Db, name: &str) {
    common::drop_mysql_database(name, &[]).await;
}

/// A database to test on, with the schema its tables live in (PostgreSQL) and roles, or
/// its own database (MariaDB).
struct Env {
    db: Db,
    schema: Option<String>,
    roles: Vec<String>,
    database: Option<String>,
}

impl Env {
    fn sqlite() -> Env {
        Env {
            db: Db::open_sqlite(SqliteConfig::in_memory()).unwrap(),
            schema: None,
            roles: vec![],
            database: None,
        }
    }

    /// A fresh PostgreSQL schema and two roles, `<schema>_anon` and `<schema>_user`, with
    /// usage on it.
    async fn postgres(pool_size: usize) -> Env {
        let db = pg_db(pool_size).await;
        let schema = random_name("t");
        let roles = vec![format!("{schema}_anon"), format!("{schema}_user")];
        let mut script = vec![format!("create schema {schema}")];
        for role in &roles {
            script.push(format!("create role {role} nologin"));
            script.push(format!("grant usage on schema {schema} to {role}"));
        }
        db.execute_script(&script).await.unwrap();
        Env { db, schema: Some(schema), roles, database: None }
    }

    async fn mysql(pool_size: u32) -> Env {
        let (db, name) = mysql_database(pool_size).await;
        Env { db, schema: None, roles: vec![], database: Some(name) }
    }

    fn is_mysql(&self) -> bool {
        self.db.dialect() == Dialect::Mysql
    }

    /// `$1`, `$2` … placeholders as the engine writes them (`?` on MySQL).
    fn sql(&self, sql: &str) -> String {
        if !self.is_mysql() {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    }

    fn table(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{name}"),
            None => name.to_owned(),
        }
    }

    fn table_ref(&self, name: &str) -> TableRef {
        match &self.schema {
            Some(schema) => (Alias::new(schema), Alias::new(name)).into(),
            None => Alias::new(name).into(),
        }
    }

    fn role(&self, i: usize) -> Ident {
        Ident::new(self.roles[i].clone()).unwrap()
    }

    fn is_pg(&self) -> bool {
        self.db.dialect() == Dialect::Postgres
    }

    async fn script(&self, statements: &[&str]) {
        let script: Vec<String> = statements.iter().map(|s| s.replace("{t}", &self.table(""))).collect();
        self.db.execute_script(&script).await.unwrap();
    }

    async fn count(&self, table: &str) -> i64 {
        let rows = self.db.query(Stmt::raw(format!("select count(*) as n from {}", self.table(table)))).await;
        rows.unwrap()[0].int("n").unwrap()
    }

    async fn drop(self) {
        if let Some(name) = &self.database {
            drop_mysql_database(&self.db, name).await;
        }
        if let Some(schema) = &self.schema {
            let mut script = vec![format!("drop schema {schema} cascade")];
            script.extend(self.roles.iter().map(|r| format!("drop role {r}")));
            self.db.execute_script(&script).await.unwrap();
        }
    }
}

fn values(v: Vec<Value>) -> Values {
    Values(v)
}

fn sqlstate(error: &Error) -> &str {
    error.sqlstate().unwrap_or_else(|| panic!("no sqlstate in {error:?}"))
}

/// Runs a test on SQLite, PostgreSQL and MariaDB.
async fn every_engine(test: impl AsyncFn(&Env)) {
    let sqlite = Env::sqlite();
    test(&sqlite).await;
    let pg = Env::postgres(2).await;
    test(&pg).await;
    pg.drop().await;
    let mysql = Env::mysql(2).await;
    test(&mysql).await;
    mysql.drop().await;
}

/// `items`: (id integer primary key, name text unique not null, price real/float8/double,
/// qty smallint, big bigint, flag boolean, data blob/bytea/longblob).
async fn create_items(env: &Env) {
    let (name, real, blob) = match env.db.dialect() {
        Dialect::Postgres => ("text", "float8", "bytea"),
        Dialect::Mysql => ("varchar(100)", "double", "longblob"),
        _ => ("text", "real", "blob"),
    };
    env.script(&[&format!(
        "create table {{t}}items (id integer primary key, name {name} unique not null, price {real}, \
         qty smallint, big bigint, flag boolean, data {blob}, check (price >= 0))"
    )])
    .await;
}

// ---- both engines -------------------------------------------------------------------------

#[tokio::test]
async fn crud_with_every_kind_of_value() {
    every_engine(async |env: &Env| {
        create_items(env).await;
        let insert = Query::insert()
            .into_table(env.table_ref("items"))
            .columns(["id", "name", "price", "qty", "big", "flag", "data"].map(Alias::new))
            .values_panic([
                1.into(),
                "apple".into(),
                1.5f64.into(),
                3i16.into(),
                (1i64 << 40).into(),
                true.into(),
                vec![0u8, 159, 255].into(),
            ])
            .values_panic([
                2.into(),
                "pear".into(),
                Value::Double(None).into(),
                Value::SmallInt(None).into(),
                Value::BigInt(None).into(),
                false.into(),
                Value::Bytes(None).into(),
            ])
            .returning(Query::returning().columns(["id", "name"].map(Alias::new)))
            .to_owned();
        let results = env.db.transaction(&Scope::default(), vec![env.db.stmt(&insert)]).await.unwrap();
        assert_eq!(results[0].affected, 2);
        if env.is_mysql() {
            // sea-query writes no RETURNING for MySQL.
            assert!(results[0].rows.is_empty());
        } else {
            assert_eq!(results[0].rows.len(), 2);
            assert_eq!(results[0].rows[1].text("name").unwrap(), "pear");
            assert_eq!(results[0].rows[0].int("id").unwrap(), 1);
        }

        let select = Query::select()
            .columns(["id", "name", "price", "qty", "big", "flag", "data"].map(Alias::new))
            .from(env.table_ref("items"))
            .and_where(Expr::col(Alias::new("name")).eq("apple"))
            .to_owned();
        let rows = env.db.query(env.db.stmt(&select)).await.unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.get("price"), Some(&Cell::Float(1.5)));
        assert_eq!(row.int("qty").unwrap(), 3);
        assert_eq!(row.int("big").unwrap(), 1 << 40);
        // SQLite has no boolean type: 1/0; `int` reads both.
        assert_eq!(row.int("flag").unwrap(), 1);
        if !env.is_mysql() {
            assert_eq!(row.get("name"), Some(&Cell::Text("apple".into())));
        } else {
            // MySQL's boolean is tinyint(1), read as a boolean.
            assert_eq!(row.get("flag"), Some(&Cell::Bool(true)));
        }
        assert_eq!(row.get("data"), Some(&Cell::Bytes(vec![0, 159, 255])));

        let select_null = Query::select()
            .columns(["price", "qty", "data"].map(Alias::new))
            .from(env.table_ref("items"))
            .and_where(Expr::col(Alias::new("id")).eq(2))
            .to_owned();
        let rows = env.db.query(env.db.stmt(&select_null)).await.unwrap();
        assert!(rows[0].cells.iter().all(Cell::is_null), "{:?}", rows[0]);

        let update = Query::update()
            .table(env.table_ref("items"))
            .value(Alias::new("qty"), 7)
            .and_where(Expr::col(Alias::new("id")).gte(1))
            .to_owned();
        assert_eq!(env.db.execute(env.db.stmt(&update)).await.unwrap(), 2);
        // Matched rows, not changed ones (MySQL counts changed rows unless asked).
        assert_eq!(env.db.execute(env.db.stmt(&update)).await.unwrap(), 2);
        let delete = Query::delete()
            .from_table(env.table_ref("items"))
            .and_where(Expr::col(Alias::new("name")).eq("nothing"))
            .to_owned();
        assert_eq!(env.db.execute(env.db.stmt(&delete)).await.unwrap(), 0);
        // DDL after DML reports nothing changed.
        let ddl = Stmt::raw(format!("create index items_qty on {}(qty)", env.table("items")));
        assert_eq!(env.db.transaction(&Scope::default(), vec![ddl]).await.unwrap()[0].affected, 0);
    })
    .await;
}

#[tokio::test]
async fn a_failing_statement_rolls_back_the_whole_transaction() {
    every_engine(async |env: &Env| {
        create_items(env).await;
        let insert = |id: i32, name: &str| {
            let sql = env.sql(&format!("insert into {} (id, name) values ($1, $2)", env.table("items")));
            Stmt::new(sql, values(vec![id.into(), name.into()]))
        };
        env.db.execute(insert(1, "a")).await.unwrap();
        let err = env
            .db
            .transaction(&Scope::default(), vec![insert(2, "b"), insert(3, "a"), insert(4, "c")])
            .await
            .unwrap_err();
        // Unique violation: 23505 on PostgreSQL, SQLITE_CONSTRAINT_UNIQUE mapped to it.
        assert_eq!(portable_sqlstate(&err), Some("23505"), "{err:?}");
        if env.is_pg() {
            assert_eq!(sqlstate(&err), "23505");
        } else if env.is_mysql() {
            // MySQL's error number, mapped by the engine; the message never quotes the value.
            assert_eq!(sqlstate(&err), "23505");
            assert_eq!(mysql_sqlstate(1062), Some("23505"));
            assert!(
                err.to_string().contains("MySQL error 1062") && !err.to_string().contains("'a'"),
                "{err}"
            );
        } else {
            assert_eq!(sqlstate(&err), "2067");
            assert_eq!(sqlite_sqlstate(2067), Some("23505"));
        }
        assert_eq!(env.count("items").await, 1);

        // A check violation, a bad statement and too few values are errors too.
        let check = Stmt::new(
            env.sql(&format!("insert into {} (id, name, price) values ($1, $2, $3)", env.table("items"))),
            values(vec![9.into(), "x".into(), (-1.0f64).into()]),
        );
        let err = env.db.execute(check).await.unwrap_err();
        assert_eq!(portable_sqlstate(&err), Some("23514"), "{err:?}");
        let err = env.db.execute(Stmt::raw("selec nonsense from nowhere")).await.unwrap_err();
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        let err = env.db.execute(insert(5, "e").clone().tap_values(1)).await.unwrap_err();
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        assert_eq!(env.count("items").await, 1);
        // The engine is still healthy.
        env.db.execute(insert(6, "f")).await.unwrap();
        assert_eq!(env.count("items").await, 2);
    })
    .await;
}

trait TapValues {
    fn tap_values(self, keep: usize) -> Self;
}

impl TapValues for Stmt {
    fn tap_values(mut self, keep: usize) -> Stmt {
        self.values.0.truncate(keep);
        self
    }
}

#[tokio::test]
async fn a_guard_that_fails_rolls_back_with_42501() {
    every_engine(async |env: &Env| {
        create_items(env).await;
        let items = env.table("items");
        let insert = Stmt::new(
            env.sql(&format!("insert into {items} (id, name, qty) values ($1, $2, $3)")),
            values(vec![1.into(), "a".into(), 5i16.into()]),
        );
        // The check: no row may have qty > 3 (a policy's WITH CHECK compiled to a count).
        let guard = |message: &str| {
            Stmt::raw(format!("select count(*) from {items} where qty > 3"))
                .with_guard(Guard::NoRows(message.into()))
        };
        let err = env
            .db
            .transaction(&Scope::default(), vec![insert.clone(), guard("new row violates policy")])
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "42501");
        assert!(err.to_string().contains("new row violates policy"));
        assert_eq!(env.count("items").await, 0);

        // A guard that holds lets the transaction commit.
        let ok = Stmt::new(
            env.sql(&format!("insert into {items} (id, name, qty) values ($1, $2, $3)")),
            values(vec![2.into(), "b".into(), 1i16.into()]),
        );
        let results = env.db.transaction(&Scope::default(), vec![ok, guard("unused")]).await.unwrap();
        assert_eq!(results[1].rows[0].cells[0], Cell::Int(0));
        assert_eq!(env.count("items").await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_read_only_scope_refuses_writes() {
    every_engine(async |env: &Env| {
        create_items(env).await;
        let read_only = Scope { read_only: true, ..Scope::default() };
        let insert = Stmt::new(
            env.sql(&format!("insert into {} (id, name) values ($1, $2)", env.table("items"))),
            values(vec![1.into(), "a".into()]),
        );
        let err = env.db.transaction(&read_only, vec![insert.clone()]).await.unwrap_err();
        assert_eq!(portable_sqlstate(&err), Some("25006"), "{err:?}");
        let select = Stmt::raw(format!("select count(*) as n from {}", env.table("items")));
        let err = env.db.transaction(&read_only, vec![select.clone(), insert]).await.unwrap_err();
        assert_eq!(portable_sqlstate(&err), Some("25006"), "{err:?}");
        let rows = env.db.transaction(&read_only, vec![select]).await.unwrap();
        assert_eq!(rows[0].rows[0].int("n").unwrap(), 0);
        assert_eq!(rows[0].affected, 1);
    })
    .await;
}

#[tokio::test]
async fn a_failing_script_applies_nothing() {
    every_engine(async |env: &Env| {
        let err = env
            .db
            .execute_script(&[
                format!("create table {}a (id integer primary key)", env.table("")),
                "create tabel oops".into(),
            ])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        let probe = Stmt::raw(format!("select count(*) from {}a", env.table("")));
        if env.is_mysql() {
            // MySQL commits DDL by itself: the table stays.
            assert!(env.db.query(probe).await.is_ok(), "DDL commits on MySQL");
        } else {
            assert!(env.db.query(probe).await.is_err(), "table a must not exist");
            // And the engine goes on.
            env.script(&["create table {t}a (id integer primary key)"]).await;
        }
        assert_eq!(env.count("a").await, 0);
        // Data changes of a failing script are undone on every engine.
        let err = env
            .db
            .execute_script(&[format!("insert into {}a values (1)", env.table("")), "selec oops".into()])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        assert_eq!(env.count("a").await, 0);
    })
    .await;
}

// ---- SQLite ---------------------------------------------------------------------------------

async fn hammer(db: Db) {
    db.execute_script(&["create table hits (id integer primary key, task integer not null)".into()])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for task in 0..200i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            if task % 2 == 0 {
                let insert =
                    Stmt::new("insert into hits (task) values (?) returning id", values(vec![task.into()]));
                let rows = db.query(insert).await.unwrap();
                assert!(rows[0].int("id").unwrap() > 0);
            } else {
                let scope = Scope { read_only: true, ..Scope::default() };
                let select = Stmt::raw("select count(*) as n from hits");
                let results = db.transaction(&scope, vec![select.clone(), select]).await.unwrap();
                // One snapshot: both reads agree.
                assert_eq!(results[0].rows, results[1].rows);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = db.query(Stmt::raw("select count(*) as n from hits")).await.unwrap();
    assert_eq!(rows[0].int("n").unwrap(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_serves_many_concurrent_readers_and_writers_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = Db::open_sqlite(SqliteConfig::file(&path).readers(3)).unwrap();
    hammer(db.clone()).await;
    // Read-your-writes from a reader right after a write on the writer.
    for i in 0..20i64 {
        db.execute(Stmt::new("insert into hits (task) values (?)", values(vec![i.into()]))).await.unwrap();
        let scope = Scope { read_only: true, ..Scope::default() };
        let results =
            db.transaction(&scope, vec![Stmt::raw("select count(*) as n from hits")]).await.unwrap();
        assert_eq!(results[0].rows[0].int("n").unwrap(), 101 + i);
    }
    drop(db);
    // The threads are gone and the file is closed: it reopens with the data.
    let db = Db::open_sqlite(SqliteConfig::file(&path)).unwrap();
    let rows = db.query(Stmt::raw("select count(*) as n, max(task) as m from hits")).await.unwrap();
    assert_eq!(rows[0].int("n").unwrap(), 120);
    let mode = db.query(Stmt::raw("pragma journal_mode")).await.unwrap();
    assert_eq!(mode[0].cells[0], Cell::Text("wal".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_inline_reads_hand_long_reads_to_a_reader_thread() {
    let dir = tempfile::tempdir().unwrap();
    // A budget so small that the long read below cannot finish inline.
    let config = SqliteConfig::file(dir.path().join("app.db")).inline_reads(2, Duration::from_micros(50));
    let db = Db::open_sqlite(config).unwrap();
    db.execute_script(&["create table t (id integer primary key, v text)".into()]).await.unwrap();
    db.execute(Stmt::raw("insert into t (v) values ('a'), ('b')")).await.unwrap();
    let read = Scope { read_only: true, ..Scope::default() };
    // Short reads (inline) see the committed writes, statement after statement.
    for i in 0..50i64 {
        db.execute(Stmt::new("insert into t (v) values (?)", values(vec![format!("x{i}").into()])))
            .await
            .unwrap();
        let r = db.transaction(&read, vec![Stmt::raw("select count(*) as n from t")]).await.unwrap();
        assert_eq!(r[0].rows[0].int("n").unwrap(), 3 + i);
    }
    // A read far past the budget is interrupted and answered by a reader thread: same answer.
    let long = Stmt::raw(
        "with recursive c(x) as (select 1 union all select x + 1 from c where x < 300000) \
         select count(*) as n, sum(x) as s from c",
    );
    let r = db.transaction(&read, vec![long]).await.unwrap();
    assert_eq!(r[0].rows[0].int("n").unwrap(), 300_000);
    assert_eq!(r[0].rows[0].int("s").unwrap(), 300_000 * 300_001 / 2);
    // Several statements in one read transaction, inline.
    let r = db
        .transaction(
            &read,
            vec![Stmt::raw("select count(*) as n from t"), Stmt::raw("select max(id) as m from t")],
        )
        .await
        .unwrap();
    assert_eq!(r[0].rows[0].int("n").unwrap(), 52);
    assert_eq!(r[1].rows[0].int("m").unwrap(), 52);
    // A read-only scope still refuses writes, and an error is an error (not a hand-off).
    let err = db.transaction(&read, vec![Stmt::raw("delete from t")]).await.unwrap_err();
    assert_eq!(portable_sqlstate(&err), Some("25006"));
    let err = db.transaction(&read, vec![Stmt::raw("select * from missing")]).await.unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    let r = db.transaction(&read, vec![Stmt::raw("select count(*) as n from t")]).await.unwrap();
    assert_eq!(r[0].rows[0].int("n").unwrap(), 52);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_serves_many_concurrent_tasks_in_memory() {
    hammer(Db::open_sqlite(SqliteConfig::in_memory()).unwrap()).await;
}

#[tokio::test]
async fn sqlite_enforces_foreign_keys_and_maps_codes() {
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    db.execute_script(&[
        "create table parent (id integer primary key)".into(),
        "create table child (id integer primary key, parent_id integer not null references parent(id))"
            .into(),
    ])
    .await
    .unwrap();
    let err = db.execute(Stmt::raw("insert into child (id, parent_id) values (1, 42)")).await.unwrap_err();
    assert_eq!(sqlstate(&err), "787");
    assert_eq!(portable_sqlstate(&err), Some("23503"));
    let err = db.execute(Stmt::raw("insert into child (id) values (1)")).await.unwrap_err();
    assert_eq!(portable_sqlstate(&err), Some("23502"));
    // Text, integer and real cells; an empty transaction is a no-op.
    let rows = db.query(Stmt::raw("select 'é' as t, 2 as i, 0.5 as f, null as n")).await.unwrap();
    assert_eq!(rows[0].cells, vec![Cell::Text("é".into()), Cell::Int(2), Cell::Float(0.5), Cell::Null]);
    assert!(db.transaction(&Scope::default(), vec![]).await.unwrap().is_empty());
}

#[test]
fn sqlite_open_errors_are_errors() {
    let err = Db::open_sqlite(SqliteConfig::file("/nonexistent-dir/for/sure/x.db")).unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
}

// ---- PostgreSQL -------------------------------------------------------------------------

#[tokio::test]
async fn pg_scope_role_and_claims_are_visible_inside_and_gone_after() {
    // One connection, so every transaction below reuses it.
    let env = Env::postgres(1).await;
    let claims = r#"{"sub":"user-1","role":"authenticated"}"#;
    let probe = || {
        Stmt::raw(
            "select current_user::text as who, current_setting('request.jwt.claims', true) as claims, \
             current_setting('easbase.project_id', true) as project",
        )
    };
    let scoped = Scope {
        role: Some(env.role(1)),
        settings: vec![
            ("request.jwt.claims".into(), claims.into()),
            ("easbase.project_id".into(), "p1".into()),
        ],
        read_only: true,
    };
    let other = Scope { role: Some(env.role(0)), settings: vec![], read_only: false };
    for _ in 0..3 {
        let inside = env.db.transaction(&scoped, vec![probe()]).await.unwrap();
        let row = &inside[0].rows[0];
        assert_eq!(row.text("who").unwrap(), env.roles[1]);
        assert_eq!(row.text("claims").unwrap(), claims);
        assert_eq!(row.text("project").unwrap(), "p1");

        let next = env.db.transaction(&other, vec![probe()]).await.unwrap();
        let row = &next[0].rows[0];
        assert_eq!(row.text("who").unwrap(), env.roles[0]);
        // An unset custom setting reads as NULL or '' once it has been set on a session.
        assert!(row.opt_text("claims").unwrap().unwrap_or_default().is_empty(), "{row:?}");
        assert!(row.opt_text("project").unwrap().unwrap_or_default().is_empty(), "{row:?}");

        let plain = env.db.query(probe()).await.unwrap();
        assert_eq!(plain[0].text("who").unwrap(), "postgres");
    }
    // Also after a failed scoped transaction.
    let failing = env.db.transaction(&scoped, vec![probe(), Stmt::raw("select 1/0")]).await.unwrap_err();
    assert_eq!(sqlstate(&failing), "22012");
    let plain = env.db.query(probe()).await.unwrap();
    assert_eq!(plain[0].text("who").unwrap(), "postgres");
    assert!(plain[0].opt_text("claims").unwrap().unwrap_or_default().is_empty());
    env.drop().await;
}

#[tokio::test]
async fn pg_plain_reads_keep_a_session_that_always_matches_the_request() {
    // One connection in each pool, so every plain read below reuses one session.
    let env = Env::postgres(1).await;
    let probe = || {
        Stmt::raw(
            "select current_user::text as who, current_setting('request.jwt.claims', true) as claims, \
             current_setting('easbase.project_id', true) as project, \
             current_setting('transaction_read_only') as ro",
        )
        .plain_read()
    };
    let scope = |role: usize, claims: Option<&str>, project: Option<&str>| Scope {
        role: Some(env.role(role)),
        settings: claims
            .map(|c| ("request.jwt.claims".to_owned(), c.to_owned()))
            .into_iter()
            .chain(project.map(|p| ("easbase.project_id".to_owned(), p.to_owned())))
            .collect(),
        read_only: true,
    };
    let read = async |scope: &Scope| {
        let r = env.db.transaction(scope, vec![probe()]).await.unwrap();
        let row = &r[0].rows[0];
        let text = |c: &str| row.opt_text(c).unwrap().unwrap_or_default().to_owned();
        (text("who"), text("claims"), text("project"), text("ro"))
    };
    let (a, b) = (r#"{"sub":"a"}"#, r#"{"sub":"b"}"#);
    for _ in 0..2 {
        // The same session again (nothing set), another user, another role, back.
        for (role, claims) in [(1, a), (1, a), (1, b), (0, b), (1, a)] {
            let got = read(&scope(role, Some(claims), Some("p1"))).await;
            assert_eq!(got, (env.roles[role].clone(), claims.to_owned(), "p1".to_owned(), "on".to_owned()));
        }
        // Other setting names: what the session held before is gone.
        let got = read(&scope(1, None, Some("p2"))).await;
        assert_eq!(got, (env.roles[1].clone(), String::new(), "p2".to_owned(), "on".to_owned()));
        let got = read(&scope(0, Some(b), None)).await;
        assert_eq!(got, (env.roles[0].clone(), b.to_owned(), String::new(), "on".to_owned()));
    }
    // A statement new to the connection is parsed as the request's role, not the role
    // the session held before (which may not even see the schema).
    let schema = env.schema.as_deref().unwrap();
    env.db
        .execute_script(&[
            format!("create schema {schema}_only0"),
            format!("grant usage on schema {schema}_only0 to {}", env.roles[0]),
            format!("create table {schema}_only0.t (id int)"),
            format!("grant select on {schema}_only0.t to {}", env.roles[0]),
        ])
        .await
        .unwrap();
    assert_eq!(read(&scope(1, Some(a), Some("p1"))).await.0, env.roles[1]);
    let only0 = Stmt::raw(format!("select count(*)::int8 as n from {schema}_only0.t")).plain_read();
    let r = env.db.transaction(&scope(0, Some(b), Some("p1")), vec![only0.clone()]).await.unwrap();
    assert_eq!(r[0].rows[0].int("n").unwrap(), 0);
    let err = env.db.transaction(&scope(1, Some(a), Some("p1")), vec![only0]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    env.db.execute_script(&[format!("drop schema {schema}_only0 cascade")]).await.unwrap();
    // A failing read leaves the session unknown: the next read sets everything again.
    let failing = Stmt::raw("select 1/0 as x").plain_read();
    let err = env.db.transaction(&scope(1, Some(a), Some("p1")), vec![failing]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "22012");
    assert_eq!(read(&scope(1, Some(a), Some("p1"))).await.1, a);
    // A plain read runs in a read-only transaction: a write is refused.
    let write =
        Stmt::raw(format!("create table {}.nope (id int)", env.schema.as_deref().unwrap())).plain_read();
    let err = env.db.transaction(&scope(1, Some(a), Some("p1")), vec![write]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "25006");
    // Everything else runs on other connections, which hold no request's session.
    let plain = env
        .db
        .query(Stmt::raw(
            "select current_user::text as who, current_setting('request.jwt.claims', true) as c",
        ))
        .await
        .unwrap();
    assert_eq!(plain[0].text("who").unwrap(), "postgres");
    assert!(plain[0].opt_text("c").unwrap().unwrap_or_default().is_empty());
    let scoped = Scope { role: Some(env.role(0)), settings: vec![], read_only: false };
    let r = env.db.transaction(&scoped, vec![probe()]).await.unwrap();
    assert_eq!(r[0].rows[0].text("who").unwrap(), env.roles[0]);
    assert!(r[0].rows[0].opt_text("claims").unwrap().unwrap_or_default().is_empty());
    assert_eq!(r[0].rows[0].text("ro").unwrap(), "off");
    env.drop().await;
}

#[tokio::test]
async fn pg_row_level_security_applies_under_the_scope_role() {
    let env = Env::postgres(2).await;
    let (anon, user) = (&env.roles[0], &env.roles[1]);
    env.script(&[
        "create table {t}notes (id integer primary key, owner text not null, body text)",
        "alter table {t}notes enable row level security",
        "alter table {t}notes force row level security",
        &format!("grant select, insert on {{t}}notes to {user}"),
        &format!(
            "create policy owner_reads on {{t}}notes for select to {user} using \
             (owner = (select current_setting('request.jwt.claims', true)::json->>'sub'))"
        ),
        &format!(
            "create policy owner_writes on {{t}}notes for insert to {user} with check \
             (owner = (select current_setting('request.jwt.claims', true)::json->>'sub'))"
        ),
        "insert into {t}notes values (1, 'alice', 'a1'), (2, 'alice', 'a2'), (3, 'bob', 'b1')",
    ])
    .await;
    let notes = env.table("notes");
    let as_user = |sub: &str| Scope {
        role: Some(env.role(1)),
        settings: vec![("request.jwt.claims".into(), format!(r#"{{"sub":"{sub}"}}"#))],
        read_only: false,
    };
    let select = || Stmt::raw(format!("select id from {notes} order by id"));
    let ids = |rows: &[easbase_core::db::Row]| rows.iter().map(|r| r.int("id").unwrap()).collect::<Vec<_>>();

    let alice = env.db.transaction(&as_user("alice"), vec![select()]).await.unwrap();
    assert_eq!(ids(&alice[0].rows), vec![1, 2]);
    let bob = env.db.transaction(&as_user("bob"), vec![select()]).await.unwrap();
    assert_eq!(ids(&bob[0].rows), vec![3]);
    // The pool user (owner, superuser here) sees everything outside a scope.
    assert_eq!(ids(&env.db.query(select()).await.unwrap()), vec![1, 2, 3]);

    // Inserting a row for someone else breaks the policy: 42501, nothing written.
    let insert = Stmt::new(
        format!("insert into {notes} (id, owner) values ($1, $2)"),
        values(vec![4.into(), "bob".into()]),
    );
    let err = env.db.transaction(&as_user("alice"), vec![insert]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    // anon has no grant at all.
    let anon_scope = Scope { role: Some(env.role(0)), ..Scope::default() };
    let err = env.db.transaction(&anon_scope, vec![select()]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{anon} must not read");
    assert_eq!(env.count("notes").await, 3);
    env.drop().await;
}

#[tokio::test]
async fn pg_reads_common_types_and_binds_text_to_any_column_type() {
    let env = Env::postgres(2).await;
    env.script(&[
        "create type {t}mood as enum ('sad', 'happy')",
        "create domain {t}positive as integer check (value > 0)",
        "create table {t}things (id uuid primary key, at timestamptz not null, day date, amount numeric(12, 4), \
         doc jsonb, mood {t}mood, n {t}positive, tiny real, span interval)",
    ])
    .await;
    let things = env.table("things");
    let id = "6f1c1b2e-8f0a-4c61-9d3b-4a9f5c2e7d10";
    let insert = Stmt::new(
        format!(
            "insert into {things} (id, at, day, amount, doc, mood, n, tiny) values ($1, $2, $3, $4, $5, $6, $7, $8) \
             returning id, at, day, amount, doc, mood, n, tiny"
        ),
        values(vec![
            id.into(),
            "2024-02-29 13:14:15.5+02".into(),
            "2024-01-31".into(),
            "-1234.5".into(),
            r#"{"a": [1, 2]}"#.into(),
            "happy".into(),
            7i64.into(),
            0.1f32.into(),
        ]),
    );
    let results = env.db.transaction(&Scope::default(), vec![insert]).await.unwrap();
    let row = &results[0].rows[0];
    assert_eq!(row.text("id").unwrap(), id);
    assert_eq!(row.text("at").unwrap(), "2024-02-29T11:14:15.5+00:00");
    assert_eq!(row.text("day").unwrap(), "2024-01-31");
    assert_eq!(row.text("amount").unwrap(), "-1234.5000");
    assert_eq!(row.text("doc").unwrap(), r#"{"a": [1, 2]}"#);
    assert_eq!(row.text("mood").unwrap(), "happy");
    assert_eq!(row.int("n").unwrap(), 7);
    assert_eq!(row.get("tiny"), Some(&Cell::Float(0.1)));

    // Filtering a uuid column by a bound string.
    let select = Stmt::new(format!("select mood from {things} where id = $1"), values(vec![id.into()]));
    assert_eq!(env.db.query(select).await.unwrap().len(), 1);

    // An unreadable type is refused before anything runs, naming the column and type.
    let update = Stmt::raw(format!("update {things} set span = '1 day' returning span"));
    let err = env.db.execute(update).await.unwrap_err();
    assert!(err.to_string().contains("`span`") && err.to_string().contains("interval"), "{err}");
    let span = env.db.query(Stmt::raw(format!("select span::text as s from {things}"))).await.unwrap();
    assert!(span[0].get("s").unwrap().is_null(), "the update must not have run");
    env.drop().await;
}

#[tokio::test]
async fn pg_cached_statements_survive_schema_changes() {
    let env = Env::postgres(1).await;
    env.script(&["create table {t}s (id integer primary key)", "insert into {t}s values (1)"]).await;
    let select = || Stmt::raw(format!("select * from {}", env.table("s")));
    assert_eq!(env.db.query(select()).await.unwrap()[0].cells.len(), 1);
    env.script(&["alter table {t}s add column label text default 'x'"]).await;
    let rows = env.db.query(select()).await.unwrap();
    assert_eq!(rows[0].cells, vec![Cell::Int(1), Cell::Text("x".into())]);
    env.drop().await;
}

#[tokio::test]
async fn pg_a_cancelled_transaction_leaves_no_scope_behind() {
    let env = Env::postgres(1).await;
    let scope = Scope {
        role: Some(env.role(1)),
        settings: vec![("request.jwt.claims".into(), "{}".into())],
        read_only: false,
    };
    // A guarded transaction keeps COMMIT out of the pipeline; cancel it mid-way.
    let slow = Stmt::raw("select count(*) from pg_sleep(0.3)").with_guard(Guard::NoRows("x".into()));
    let cancelled =
        tokio::time::timeout(Duration::from_millis(50), env.db.transaction(&scope, vec![slow])).await;
    assert!(cancelled.is_err(), "the transaction should still have been running");
    let rows = env.db.query(Stmt::raw("select current_user::text as who")).await.unwrap();
    assert_eq!(rows[0].text("who").unwrap(), "postgres");
    env.drop().await;
}

#[tokio::test]
async fn pg_pipelines_from_many_tasks() {
    let env = Env::postgres(4).await;
    env.script(&["create table {t}c (id integer primary key, v integer not null)"]).await;
    let env = Arc::new(env);
    let mut tasks = Vec::new();
    for i in 0..100i32 {
        let env = Arc::clone(&env);
        tasks.push(tokio::spawn(async move {
            let scope =
                Scope { role: None, settings: vec![("app.i".into(), i.to_string())], read_only: false };
            let insert = Stmt::new(
                format!("insert into {} values ($1, current_setting('app.i')::int)", env.table("c")),
                values(vec![i.into()]),
            );
            env.db.transaction(&scope, vec![insert]).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = env.db.query(Stmt::raw(format!("select count(*) as n from {} where id = v", env.table("c"))));
    assert_eq!(rows.await.unwrap()[0].int("n").unwrap(), 100);
    Arc::into_inner(env).unwrap().drop().await;
}

// ---- MariaDB / MySQL ------------------------------------------------------------------

#[tokio::test]
async fn mysql_reads_every_column_type_the_schema_uses() {
    let env = Env::mysql(2).await;
    env.script(&[
        "create table things (id char(36) primary key, at datetime(6) not null, day date, t time(6), \
         amount decimal(12,4), doc json, mood enum('sad','happy'), tiny float, d double, ok boolean, \
         n int, s smallint, b bigint, u bigint unsigned, body longtext, label varchar(40), raw longblob, \
         y year, g point)",
    ])
    .await;
    let id = "6f1c1b2e-8f0a-4c61-9d3b-4a9f5c2e7d10";
    let insert = Stmt::new(
        "insert into things (id, at, day, t, amount, doc, mood, tiny, d, ok, n, s, b, u, body, label, raw, y) \
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        values(vec![
            id.into(),
            "2024-02-29 13:14:15.5".into(),
            "2024-01-31".into(),
            "-01:02:03.25".into(),
            "-1234.5".into(),
            r#"{"a": [1, 2]}"#.into(),
            "happy".into(),
            0.1f32.into(),
            2.5f64.into(),
            false.into(),
            (-7i32).into(),
            3i16.into(),
            (-(1i64 << 40)).into(),
            u64::MAX.into(),
            "é long text".into(),
            "label".into(),
            vec![0u8, 200, 255].into(),
            2024i32.into(),
        ]),
    );
    assert_eq!(env.db.execute(insert).await.unwrap(), 1);
    let columns = "id, at, day, t, amount, doc, mood, tiny, d, ok, n, s, b, u, body, label, raw, y, g";
    let expect = |row: &easbase_core::db::Row| {
        assert_eq!(row.text("id").unwrap(), id);
        assert_eq!(row.text("at").unwrap(), "2024-02-29T13:14:15.5");
        assert_eq!(row.text("day").unwrap(), "2024-01-31");
        assert_eq!(row.text("t").unwrap(), "-01:02:03.25");
        assert_eq!(row.text("amount").unwrap(), "-1234.5000");
        assert_eq!(row.text("mood").unwrap(), "happy");
        assert_eq!(row.get("tiny"), Some(&Cell::Float(0.1)));
        assert_eq!(row.get("d"), Some(&Cell::Float(2.5)));
        assert_eq!(row.get("ok"), Some(&Cell::Bool(false)));
        assert_eq!(row.get("n"), Some(&Cell::Int(-7)));
        assert_eq!(row.get("s"), Some(&Cell::Int(3)));
        assert_eq!(row.get("b"), Some(&Cell::Int(-(1 << 40))));
        assert_eq!(row.text("u").unwrap(), u64::MAX.to_string());
        assert_eq!(row.text("body").unwrap(), "é long text");
        assert_eq!(row.text("label").unwrap(), "label");
        assert_eq!(row.get("raw"), Some(&Cell::Bytes(vec![0, 200, 255])));
        assert_eq!(row.int("y").unwrap(), 2024);
        assert!(row.get("g").unwrap().is_null());
        let doc: serde_json::Value = serde_json::from_str(&row.text("doc").unwrap()).unwrap();
        assert_eq!(doc, serde_json::json!({"a": [1, 2]}));
    };
    // Prepared (binary protocol) …
    let select = Stmt::new(format!("select {columns} from things where id = ?"), values(vec![id.into()]));
    expect(&env.db.query(select).await.unwrap()[0]);
    // … and a script-free raw statement with no values read the same.
    let rows = env.db.query(Stmt::raw(format!("select {columns} from things"))).await.unwrap();
    expect(&rows[0]);

    // A geometry is refused with the column's name.
    env.db.execute(Stmt::raw("update things set g = point(1, 2)")).await.unwrap();
    let err = env.db.query(Stmt::raw("select g from things")).await.unwrap_err();
    assert!(err.to_string().contains("`g`") && err.to_string().contains("GEOMETRY"), "{err}");
    env.drop().await;
}

#[tokio::test]
async fn mysql_maps_error_numbers_to_sqlstates_without_quoting_values() {
    let env = Env::mysql(2).await;
    env.script(&[
        "create table parent (id int primary key)",
        "create table child (id int primary key, parent_id int not null references parent(id), \
         n int, check (n > 0))",
    ])
    .await;
    let insert = |id: i32, parent: Value, n: Value| {
        Stmt::new("insert into child (id, parent_id, n) values (?, ?, ?)", values(vec![id.into(), parent, n]))
    };
    let cases = [
        (insert(1, 42.into(), 1.into()), "23503"),
        (insert(1, Value::Int(None), 1.into()), "23502"),
        (insert(1, 42.into(), (-1).into()), "23514"),
        (insert(1, 42.into(), "not-a-number-4411".into()), "22P02"),
        (Stmt::raw("select * from nowhere"), "42P01"),
        (Stmt::raw("select nope from parent"), "42703"),
        (Stmt::raw("selec 1"), "42601"),
    ];
    for (statement, expected) in cases {
        let err = env.db.execute(statement).await.unwrap_err();
        assert_eq!(portable_sqlstate(&err), Some(expected), "{err}");
        assert!(!err.to_string().contains("4411"), "no value in {err}");
    }
    // Too few values for the placeholders.
    let err = env.db.execute(Stmt::new("select ? + ?", values(vec![1.into()]))).await.unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    env.drop().await;
}

#[tokio::test]
async fn mysql_a_cancelled_transaction_leaves_nothing_behind() {
    // One connection, so the next transaction reuses the cancelled one's.
    let env = Env::mysql(1).await;
    env.script(&["create table c (id int primary key)"]).await;
    let insert = Stmt::raw("insert into c values (1)");
    let slow = Stmt::raw("select sleep(0.3)").with_guard(Guard::NoRows("x".into()));
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        env.db.transaction(&Scope::default(), vec![insert, slow]),
    )
    .await;
    assert!(cancelled.is_err(), "the transaction should still have been running");
    let rows =
        env.db.query(Stmt::raw("select @@in_transaction as t, (select count(*) from c) as n")).await.unwrap();
    assert_eq!((rows[0].int("t").unwrap(), rows[0].int("n").unwrap()), (0, 0));
    env.drop().await;
}

#[tokio::test]
async fn mysql_from_a_host_pool() {
    let (db, name) = mysql_database(1).await;
    let pool = match &db {
        Db::Mysql(my) => my.pool().clone(),
        _ => unreachable!("connect_mysql gives a MySQL handle"),
    };
    let hosted = Db::from_mysql_pool(pool);
    let rows = hosted.query(Stmt::raw("select database() as d")).await.unwrap();
    assert_eq!(rows[0].text("d").unwrap(), name);
    // A malformed URL is a configuration error that does not echo it.
    let err = Db::connect_mysql(MyConfig::new("mysql://u:hunter2@[bad")).await.unwrap_err();
    assert!(matches!(err, Error::Config(_)) && !err.to_string().contains("hunter2"), "{err:?}");
    drop_mysql_database(&db, &name).await;
}

#[cfg(feature = "sea-orm")]
#[tokio::test]
async fn mysql_from_a_sea_orm_connection() {
    let (db, name) = mysql_database(1).await;
    let url = format!("{}/{name}", common::mysql_url().trim_end_matches('/'));
    let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
    let hosted = Db::from_sea_orm(&conn).unwrap();
    hosted.execute_script(&["create table t (id int primary key)".into()]).await.unwrap();
    hosted.execute(Stmt::new("insert into t values (?)", values(vec![5.into()]))).await.unwrap();
    // sea-orm sees the row through the same pool.
    use sea_orm::ConnectionTrait;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            "select count(*) as n from t",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    // A disconnected handle is refused, not a panic.
    let err = Db::from_sea_orm(&sea_orm::DatabaseConnection::default()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    drop_mysql_database(&db, &name).await;
}

#[test]
fn transactions_are_send() {
    fn send<T: Send>(_: &T) {}
    let db = Db::open_sqlite(SqliteConfig::in_memory()).unwrap();
    let scope = Scope::default();
    let future = db.transaction(&scope, vec![]);
    send(&future);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pg = pg_db(1).await;
        let future = pg.transaction(&scope, vec![]);
        send(&future);
        future.await.unwrap();
        let (my, name) = mysql_database(1).await;
        let future = my.transaction(&scope, vec![Stmt::raw("select 1")]);
        send(&future);
        future.await.unwrap();
        drop_mysql_database(&my, &name).await;
    });
}
