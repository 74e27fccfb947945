//! One policy test table — users, rows, and what each user may see, insert, update and
//! delete — run against PostgreSQL row-level security and against the compiled conditions
//! on SQLite and MariaDB. All three must give identical outcomes.

mod common;

use easbase_schema::policy::{AuthContext, AuthMode};
use easbase_schema::{Dialect, Operation, PolicyPart, Role, Schema, TableDef, ValidSchema, ddl};
use sea_query::{Alias, Expr, ExprTrait, MysqlQueryBuilder, Query, SqliteQueryBuilder};

const A: &str = "a0000000-0000-4000-8000-00000000000a";
const B: &str = "b0000000-0000-4000-8000-00000000000b";
const C: &str = "c0000000-0000-4000-8000-00000000000c";

fn schema() -> ValidSchema {
    Schema::from_json(
        r#"{ "tables": [ { "name": "docs", "columns": [
            { "name": "id", "type": "integer", "primary": true },
            { "name": "owner_id", "type": "uuid" },
            { "name": "org_id", "type": "varchar(40)" },
            { "name": "published", "type": "boolean", "required": true, "default": false },
            { "name": "status", "type": "varchar(20)", "required": true },
            { "name": "level", "type": "integer" },
            { "name": "title", "type": "varchar(100)" } ],
          "policies": {
            "select": [
              { "roles": ["anon", "authenticated"], "using": "published = true" },
              { "roles": ["authenticated"], "using": "owner_id = auth.uid || (org_id = auth.claims.org_id && auth.role = 'authenticated') || level <= auth.claims.level" }
            ],
            "insert": "owner_id = auth.uid && status in ('draft', 'live')",
            "update": [ { "roles": ["authenticated"], "using": "owner_id = auth.uid", "check": "status in ('draft', 'live') && (title is null || title not like '%spam%')" } ],
            "delete": "owner_id = auth.uid && status = 'draft'"
          } } ] }"#,
    )
    .unwrap()
    .validate()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// (id, owner, org, published, status, level)
type Row = (i32, Option<&'static str>, Option<&'static str>, bool, &'static str, Option<i32>);

const ROWS: &[Row] = &[
    (1, Some(A), Some("o1"), true, "draft", None),
    (2, Some(A), Some("o1"), false, "live", None),
    (3, Some(B), Some("o2"), false, "draft", None),
    (4, None, Some("o1"), false, "draft", None),
    (5, Some(B), None, false, "live", Some(5)),
];

struct User {
    name: &'static str,
    role: Role,
    auth: AuthContext,
}

fn users() -> Vec<User> {
    let user = |name, uid: Option<&str>, role: Role, claims: serde_json::Value| User {
        name,
        role,
        auth: AuthContext {
            uid: uid.map(str::to_owned),
            role: role.as_str().to_owned(),
            email: None,
            claims: {
                let mut c = claims;
                c["role"] = role.as_str().into();
                if let Some(u) = uid {
                    c["sub"] = u.into();
                }
                c.into()
            },
        },
    };
    vec![
        user("anon", None, Role::Anon, serde_json::json!({})),
        user("A", Some(A), Role::Authenticated, serde_json::json!({ "org_id": "o1" })),
        user("B", Some(B), Role::Authenticated, serde_json::json!({ "org_id": "o2", "level": 9 })),
        user("C", Some(C), Role::Authenticated, serde_json::json!({ "level": 1 })),
    ]
}

/// What one user may do: visible ids, and per candidate write whether it is allowed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    visible: Vec<i32>,
    /// Insert a row owned by A / by the user, status draft / 'bogus'.
    inserts: Vec<bool>,
    /// Per row: update status to 'live' allowed (row touched, check passes).
    updates: Vec<bool>,
    /// Per row: update title to 'spam!' (check fails → refused).
    bad_updates: Vec<bool>,
    /// Per row: deleted.
    deletes: Vec<bool>,
}

/// The expected table, written by hand from the policies above.
fn expected(user: &str) -> Outcome {
    let f = false;
    let t = true;
    match user {
        "anon" => Outcome {
            visible: vec![1],
            inserts: vec![f, f, f],
            updates: vec![f; 5],
            bad_updates: vec![f; 5],
            deletes: vec![f; 5],
        },
        "A" => Outcome {
            visible: vec![1, 2, 4],
            inserts: vec![t, t, f],
            updates: vec![t, t, f, f, f],
            bad_updates: vec![f; 5],
            deletes: vec![t, f, f, f, f],
        },
        "B" => Outcome {
            visible: vec![1, 3, 5],
            inserts: vec![f, t, f],
            updates: vec![f, f, t, f, t],
            bad_updates: vec![f; 5],
            deletes: vec![f, f, t, f, f],
        },
        "C" => Outcome {
            visible: vec![1],
            inserts: vec![f, t, f],
            updates: vec![f; 5],
            bad_updates: vec![f; 5],
            deletes: vec![f; 5],
        },
        _ => unreachable!(),
    }
}

/// The inserts tried: (owner, status).
fn insert_cases(user: &User) -> Vec<(Option<String>, &'static str)> {
    vec![(Some(A.to_owned()), "draft"), (user.auth.uid.clone(), "live"), (user.auth.uid.clone(), "bogus")]
}

// ---- SQLite and MariaDB: the compiled conditions -----------------------------------------

fn cond(t: &TableDef, op: Operation, part: PolicyPart, d: Dialect, u: &User) -> Expr {
    t.policy_condition(op, u.role, part, d, AuthMode::Bound(&u.auth), None).unwrap()
}

/// Statements as the REST layer builds them: reads add the select policy; writes add the
/// operation's `using` (and select's, as PostgreSQL applies it when a statement filters);
/// written rows are re-read under `check` and refused (rolled back) if any fails.
fn emulated_statements(t: &TableDef, d: Dialect, u: &User) -> Vec<Step> {
    let docs = || Alias::new("docs");
    let build = |q: &dyn Fn() -> (String, sea_query::Values)| q();
    let mut steps = Vec::new();
    let sel = cond(t, Operation::Select, PolicyPart::Using, d, u);
    steps.push(Step::Visible(build(&|| {
        let mut q = Query::select();
        q.column(Alias::new("id"))
            .from(docs())
            .and_where(sel.clone())
            .order_by(Alias::new("id"), sea_query::Order::Asc);
        build_for(d, &q)
    })));
    for (i, (owner, status)) in insert_cases(u).into_iter().enumerate() {
        let id = 100 + i as i32;
        let mut ins = Query::insert();
        ins.into_table(docs())
            .columns([Alias::new("id"), Alias::new("owner_id"), Alias::new("status")])
            .values_panic([id.into(), owner.into(), status.into()]);
        let check = cond(t, Operation::Insert, PolicyPart::Check, d, u);
        let mut verify = Query::select();
        verify
            .expr(Expr::cust("count(*)"))
            .from(docs())
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .and_where(fails(check));
        steps.push(Step::Write { write: build_insert(d, &ins), verify: build_for(d, &verify), kind: 0 });
    }
    for (kind, set_status, set_title) in [(1, "live", None), (2, "live", Some("spam!"))] {
        for row in 1..=5 {
            let mut up = Query::update();
            up.table(docs()).value(Alias::new("status"), set_status);
            if let Some(title) = set_title {
                up.value(Alias::new("title"), title);
            }
            up.and_where(Expr::col(Alias::new("id")).eq(row))
                .and_where(cond(t, Operation::Update, PolicyPart::Using, d, u))
                .and_where(sel.clone());
            let mut verify = Query::select();
            verify
                .expr(Expr::cust("count(*)"))
                .from(docs())
                .and_where(Expr::col(Alias::new("id")).eq(row))
                .and_where(fails(cond(t, Operation::Update, PolicyPart::Check, d, u)));
            steps.push(Step::Write { write: build_update(d, &up), verify: build_for(d, &verify), kind });
        }
    }
    for row in 1..=5 {
        let mut del = Query::delete();
        del.from_table(docs())
            .and_where(Expr::col(Alias::new("id")).eq(row))
            .and_where(cond(t, Operation::Delete, PolicyPart::Using, d, u))
            .and_where(sel.clone());
        steps.push(Step::Write {
            write: build_delete(d, &del),
            verify: (String::new(), sea_query::Values(vec![])),
            kind: 3,
        });
    }
    steps
}

/// A written row fails its check unless the check is TRUE (NULL fails, as in PostgreSQL).
fn fails(check: Expr) -> Expr {
    Expr::expr(sea_query::Func::coalesce([check, Expr::val(false)])).not()
}

enum Step {
    Visible((String, sea_query::Values)),
    /// kind: 0 insert, 1 update, 2 bad update, 3 delete.
    Write {
        write: (String, sea_query::Values),
        verify: (String, sea_query::Values),
        kind: u8,
    },
}

fn build_for(d: Dialect, q: &sea_query::SelectStatement) -> (String, sea_query::Values) {
    if d == Dialect::Sqlite { q.build(SqliteQueryBuilder) } else { q.build(MysqlQueryBuilder) }
}
fn build_insert(d: Dialect, q: &sea_query::InsertStatement) -> (String, sea_query::Values) {
    if d == Dialect::Sqlite { q.build(SqliteQueryBuilder) } else { q.build(MysqlQueryBuilder) }
}
fn build_update(d: Dialect, q: &sea_query::UpdateStatement) -> (String, sea_query::Values) {
    if d == Dialect::Sqlite { q.build(SqliteQueryBuilder) } else { q.build(MysqlQueryBuilder) }
}
fn build_delete(d: Dialect, q: &sea_query::DeleteStatement) -> (String, sea_query::Values) {
    if d == Dialect::Sqlite { q.build(SqliteQueryBuilder) } else { q.build(MysqlQueryBuilder) }
}

fn seed_sql(d: Dialect) -> String {
    let mut q = Query::insert();
    q.into_table(Alias::new("docs"))
        .columns(["id", "owner_id", "org_id", "published", "status", "level"].map(Alias::new));
    for (id, owner, org, published, status, level) in ROWS {
        q.values_panic([
            (*id).into(),
            owner.map(str::to_owned).into(),
            org.map(str::to_owned).into(),
            (*published).into(),
            (*status).into(),
            (*level).into(),
        ]);
    }
    if d == Dialect::Sqlite { q.to_string(SqliteQueryBuilder) } else { q.to_string(MysqlQueryBuilder) }
}

fn outcome_from(results: Vec<(u8, bool)>, visible: Vec<i32>) -> Outcome {
    let pick = |k: u8| results.iter().filter(|(kind, _)| *kind == k).map(|(_, ok)| *ok).collect();
    Outcome { visible, inserts: pick(0), updates: pick(1), bad_updates: pick(2), deletes: pick(3) }
}

#[test]
fn sqlite_compiled_policies_match_the_table() {
    use sea_query_rusqlite::{RusqliteValue, RusqliteValues};
    let rv = |v: sea_query::Values| RusqliteValues(v.into_iter().map(RusqliteValue).collect());
    let valid = schema();
    let t = valid.table("docs").unwrap();
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(&ddl::generate(&valid, Dialect::Sqlite, &Default::default()).unwrap().to_sql())
        .unwrap();
    conn.execute_batch(&seed_sql(Dialect::Sqlite)).unwrap();
    for u in users() {
        let mut visible = Vec::new();
        let mut results = Vec::new();
        for step in emulated_statements(t, Dialect::Sqlite, &u) {
            match step {
                Step::Visible((sql, values)) => {
                    let mut st = conn.prepare(&sql).unwrap();
                    visible = st
                        .query_map(&*rv(values).as_params(), |r| r.get(0))
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                }
                Step::Write { write: (sql, values), verify: (vsql, vvalues), kind } => {
                    let tx = conn.transaction().unwrap();
                    let n = tx.execute(&sql, &*rv(values).as_params()).unwrap_or(0);
                    let failing: i64 = if n > 0 && !vsql.is_empty() {
                        tx.query_row(&vsql, &*rv(vvalues).as_params(), |r| r.get(0)).unwrap()
                    } else {
                        0
                    };
                    results.push((kind, n > 0 && failing == 0));
                    tx.rollback().unwrap();
                }
            }
        }
        assert_eq!(outcome_from(results, visible), expected(u.name), "sqlite, user {}", u.name);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn mariadb_compiled_policies_match_the_table() {
    use sea_query_sqlx::SqlxValues;
    use sqlx::{Connection, Row};
    let valid = schema();
    let t = valid.table("docs").unwrap();
    let mut my = common::MyScratch::new().await;
    for s in ddl::generate(&valid, Dialect::Mysql, &Default::default()).unwrap().statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s.sql)).execute(&mut my.conn).await.unwrap();
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(seed_sql(Dialect::Mysql))).execute(&mut my.conn).await.unwrap();
    for u in users() {
        let mut visible = Vec::new();
        let mut results = Vec::new();
        for step in emulated_statements(t, Dialect::Mysql, &u) {
            match step {
                Step::Visible((sql, values)) => {
                    let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values))
                        .fetch_all(&mut my.conn)
                        .await
                        .unwrap();
                    visible = rows.iter().map(|r| r.get::<i32, _>(0)).collect();
                }
                Step::Write { write: (sql, values), verify: (vsql, vvalues), kind } => {
                    let mut tx = my.conn.begin().await.unwrap();
                    let n = match sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values))
                        .execute(&mut *tx)
                        .await
                    {
                        Ok(r) => r.rows_affected(),
                        Err(_) => 0,
                    };
                    let failing: i64 = if n > 0 && !vsql.is_empty() {
                        sqlx::query_with(sqlx::AssertSqlSafe(vsql), SqlxValues(vvalues))
                            .fetch_one(&mut *tx)
                            .await
                            .unwrap()
                            .get(0)
                    } else {
                        0
                    };
                    results.push((kind, n > 0 && failing == 0));
                    tx.rollback().await.unwrap();
                }
            }
        }
        assert_eq!(outcome_from(results, visible), expected(u.name), "mariadb, user {}", u.name);
    }
    my.drop().await;
}

// ---- PostgreSQL: real row-level security -------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn postgres_rls_matches_the_table() {
    let valid = schema();
    let pg = common::PgScratch::new().await;
    let options = pg.ddl_options();
    for s in ddl::generate(&valid, Dialect::Postgres, &options).unwrap().statements {
        pg.client.batch_execute(&s.sql).await.unwrap_or_else(|e| panic!("{e:?}\n{}", s.sql));
    }
    let s = &pg.schema;
    pg.client.batch_execute(&format!("SET search_path TO {s}; {}", seed_sql_pg())).await.unwrap();
    let role_of = |r: Role| match r {
        Role::Anon => pg.anon.clone(),
        Role::Authenticated => pg.authenticated.clone(),
        Role::Service => pg.service.clone(),
    };
    // Each user twice: with the claims alone (a host's own transaction; `auth.uid` reads
    // the claims' `sub`), and with the user id beside them as easbase-core's scopes set it
    // (`auth.uid` reads `request.jwt.claim.sub`). Both must give the table's outcome.
    for (u, with_sub) in [false, true].into_iter().flat_map(|w| users().into_iter().map(move |u| (u, w))) {
        let begin = format!("BEGIN; SET LOCAL search_path TO {s}; SET LOCAL ROLE {};", role_of(u.role));
        let claims = u.auth.claims.to_string();
        let sub = if with_sub { u.auth.uid.clone().unwrap_or_default() } else { String::new() };
        let set = "select set_config('request.jwt.claims', $1, true), \
                   set_config('request.jwt.claim.sub', $2, true)";
        let run = |sql: String| {
            let begin = begin.clone();
            let (claims, sub) = (claims.clone(), sub.clone());
            let client = &pg.client;
            async move {
                client.batch_execute(&begin).await.unwrap();
                client.execute(set, &[&claims, &sub]).await.unwrap();
                let r = client.execute(&sql, &[]).await;
                client.batch_execute("ROLLBACK").await.unwrap();
                r
            }
        };
        pg.client.batch_execute(&begin).await.unwrap();
        pg.client.execute(set, &[&claims, &sub]).await.unwrap();
        let visible: Vec<i32> = pg
            .client
            .query("select id from docs order by id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        pg.client.batch_execute("ROLLBACK").await.unwrap();
        let mut results = Vec::new();
        for (i, (owner, status)) in insert_cases(&u).into_iter().enumerate() {
            let owner = owner.map_or("NULL".to_owned(), |o| format!("'{o}'"));
            let r = run(format!(
                "insert into docs (id, owner_id, status) values ({}, {owner}, '{status}')",
                100 + i
            ))
            .await;
            results.push((0, r.is_ok_and(|n| n == 1)));
        }
        for (kind, set) in [(1, "status = 'live'"), (2, "status = 'live', title = 'spam!'")] {
            for row in 1..=5 {
                let r = run(format!("update docs set {set} where id = {row}")).await;
                results.push((kind, r.is_ok_and(|n| n == 1)));
            }
        }
        for row in 1..=5 {
            let r = run(format!("delete from docs where id = {row}")).await;
            results.push((3, r.is_ok_and(|n| n == 1)));
        }
        assert_eq!(
            outcome_from(results, visible),
            expected(u.name),
            "postgres, user {}, user id setting {with_sub}",
            u.name
        );
    }
    pg.drop().await;
}

fn seed_sql_pg() -> String {
    let mut q = Query::insert();
    q.into_table(Alias::new("docs"))
        .columns(["id", "owner_id", "org_id", "published", "status", "level"].map(Alias::new));
    for (id, owner, org, published, status, level) in ROWS {
        let owner: sea_query::Expr = match owner {
            Some(o) => Expr::cust(format!("'{o}'::uuid")),
            None => Expr::cust("NULL"),
        };
        q.values_panic([
            (*id).into(),
            owner,
            org.map(str::to_owned).into(),
            (*published).into(),
            (*status).into(),
            (*level).into(),
        ]);
    }
    q.to_string(sea_query::PostgresQueryBuilder)
}
