//! DDL: snapshots per dialect, determinism, and every snapshot executed on the real engine
//! and read back from its catalog.

mod common;

use easbase_schema::ddl::{self, DdlOptions, StatementKind};
use easbase_schema::{Dialect, Schema, ValidSchema};
use expect_test::expect_file;

fn shop() -> ValidSchema {
    let schema = Schema::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shop.json")).unwrap();
    schema.validate().unwrap_or_else(|e| panic!("{e}"))
}

fn sql(valid: &ValidSchema, dialect: Dialect, options: &DdlOptions) -> String {
    ddl::generate(valid, dialect, options).unwrap_or_else(|e| panic!("{e}")).to_sql()
}

#[test]
fn snapshots_per_dialect() {
    let valid = shop();
    let o = DdlOptions::default();
    expect_file!["snapshots/shop.postgres.sql"].assert_eq(&sql(&valid, Dialect::Postgres, &o));
    expect_file!["snapshots/shop.sqlite.sql"].assert_eq(&sql(&valid, Dialect::Sqlite, &o));
    expect_file!["snapshots/shop.mysql.sql"].assert_eq(&sql(&valid, Dialect::Mysql, &o));
}

#[test]
fn ddl_is_deterministic() {
    for d in Dialect::ALL {
        let a = sql(&shop(), d, &DdlOptions::default());
        let b = sql(&shop(), d, &DdlOptions::default());
        assert_eq!(a, b, "{d}");
    }
}

#[test]
fn tables_come_after_the_tables_they_reference() {
    let valid = shop();
    let names: Vec<&str> = valid.tables().iter().map(|t| t.name.as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("customers") < pos("orders"));
    assert!(pos("orders") < pos("order_items"));
    assert!(pos("products") < pos("order_items"));
}

#[test]
fn foreign_key_cycles_are_added_after_the_tables() {
    let schema = Schema::from_json(
        r#"{ "tables": [
        { "name": "a", "columns": [ { "name": "id", "type": "integer", "primary": true },
                                      { "name": "b_id", "type": "integer", "references": "b.id" } ] },
        { "name": "b", "columns": [ { "name": "id", "type": "integer", "primary": true },
                                      { "name": "a_id", "type": "integer", "references": "a.id" } ] } ] }"#,
    )
    .unwrap();
    let valid = schema.validate().unwrap();
    let ddl = ddl::generate(&valid, Dialect::Postgres, &DdlOptions::default()).unwrap();
    let kinds: Vec<StatementKind> = ddl.statements.iter().map(|s| s.kind).collect();
    assert_eq!(kinds.iter().filter(|k| **k == StatementKind::AddForeignKey).count(), 1);
    let sqlite = ddl::generate(&valid, Dialect::Sqlite, &DdlOptions::default()).unwrap();
    assert!(sqlite.statements.iter().all(|s| s.kind != StatementKind::AddForeignKey));
}

#[test]
fn arrays_and_partial_indexes_are_refused_where_the_dialect_lacks_them() {
    let schema = Schema::from_json(
        r#"{ "tables": [ { "name": "t", "columns": [
            { "name": "id", "type": "integer", "primary": true },
            { "name": "tags", "type": "text[]" },
            { "name": "body", "type": "text" } ],
          "indexes": [ { "columns": ["id"], "where": "id > 3" }, { "columns": ["body"] } ] } ] }"#,
    )
    .unwrap();
    let valid = schema.validate().unwrap();
    assert!(ddl::generate(&valid, Dialect::Postgres, &DdlOptions::default()).is_ok());
    let sqlite = ddl::generate(&valid, Dialect::Sqlite, &DdlOptions::default()).unwrap_err();
    assert!(sqlite.contains("tables[0].columns[1].type", easbase_schema::ErrorKind::UnsupportedByDialect));
    let mysql = ddl::generate(&valid, Dialect::Mysql, &DdlOptions::default()).unwrap_err();
    assert!(mysql.contains("tables[0].indexes[0].where", easbase_schema::ErrorKind::UnsupportedByDialect));
    assert!(mysql.contains("tables[0].columns[2].type", easbase_schema::ErrorKind::UnsupportedByDialect));
}

// ---- executed on the real engines ---------------------------------------------------

/// The first column of a catalog query over the scratch schema `$1`, as strings.
async fn strings(c: &tokio_postgres::Client, sql: &str, schema: &str) -> Vec<String> {
    c.query(sql, &[&schema]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn postgres_runs_the_ddl_and_the_catalog_matches() {
    let pg = common::PgScratch::new().await;
    let valid = shop();
    let ddl = ddl::generate(&valid, Dialect::Postgres, &pg.ddl_options()).unwrap();
    for s in &ddl.statements {
        pg.client.batch_execute(&s.sql).await.unwrap_or_else(|e| panic!("{e:?}\n{}", s.sql));
    }
    let c = &pg.client;
    let s = pg.schema.as_str();
    let tables: Vec<String> =
        strings(c, "select tablename::text from pg_tables where schemaname = $1 order by 1", s).await;
    assert_eq!(tables, ["customers", "events", "order_items", "orders", "products"]);

    // RLS enabled and forced on every table.
    let rls = c
        .query(
            "select c.relname::text, c.relrowsecurity, c.relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind = 'r' order by 1",
            &[&s],
        )
        .await
        .unwrap();
    for r in &rls {
        let (name, on, forced): (String, bool, bool) = (r.get(0), r.get(1), r.get(2));
        assert!(on && forced, "{name}: rls={on} forced={forced}");
    }

    // Policies, with their roles and the (select …) wrapping of auth reads.
    let policies = c
        .query(
            "select tablename::text, policyname::text, cmd::text, roles::text[], coalesce(qual, ''), coalesce(with_check, '') from pg_policies where schemaname = $1 order by 1, 2",
            &[&s],
        )
        .await
        .unwrap();
    let names: Vec<String> = policies
        .iter()
        .map(|r| format!("{}.{}:{}", r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2)))
        .collect();
    assert_eq!(
        names,
        [
            "customers.customers_delete:DELETE",
            "customers.customers_insert:INSERT",
            "customers.customers_select:SELECT",
            "customers.customers_service:ALL",
            "customers.customers_update:UPDATE",
            "events.events_service:ALL",
            "order_items.order_items_select:SELECT",
            "order_items.order_items_service:ALL",
            "orders.orders_select:SELECT",
            "orders.orders_service:ALL",
            "orders.orders_update:UPDATE",
            "products.products_public:SELECT",
            "products.products_service:ALL",
            "products.products_staff:SELECT",
        ]
    );
    let select = policies.iter().find(|r| r.get::<_, String>(1) == "customers_select").unwrap();
    let roles: Vec<String> = select.get(3);
    assert_eq!(roles, [pg.anon.clone(), pg.authenticated.clone()]);
    let qual: String = select.get(4);
    assert!(qual.contains("SELECT") && qual.contains("request.jwt.claims"), "{qual}");

    // Constraints: primary keys, uniques, foreign keys, checks.
    let constraints: Vec<String> = strings(c, "select con.conname::text || ':' || con.contype::text from pg_constraint con join pg_namespace n on n.oid = con.connamespace where n.nspname = $1 and con.contype in ('p','u','f','c') order by 1", s).await;
    for expected in [
        "customers_email_key:u",
        "customers_pkey:p",
        "order_items_order_id_fkey:f",
        "order_items_pkey:p",
        "order_items_product_id_fkey:f",
        "order_items_quantity_check:c",
        "orders_customer_id_fkey:f",
        "orders_note_check:c",
        "products_check1:c",
        "products_sku_key:u",
        "products_stock_check:c",
    ] {
        assert!(constraints.contains(&expected.to_owned()), "missing {expected} in {constraints:?}");
    }

    // Indexes: declared, partial, and one per policy column.
    let indexes: Vec<String> =
        strings(c, "select indexname::text from pg_indexes where schemaname = $1 order by 1", s).await;
    for expected in [
        "customers_user_id_policy_idx",
        "customers_org_id_policy_idx",
        "products_live_sku_idx",
        "products_published_price_idx",
        "orders_customer_id_placed_at_idx",
        "orders_status_policy_idx",
    ] {
        assert!(indexes.contains(&expected.to_owned()), "missing {expected} in {indexes:?}");
    }

    // Enum, comments, identity, updated_at trigger, grants.
    let labels: Vec<String> = strings(c, "select e.enumlabel::text from pg_enum e join pg_type t on t.oid = e.enumtypid join pg_namespace n on n.oid = t.typnamespace where n.nspname = $1 and t.typname = 'order_status' order by e.enumsortorder", s).await;
    assert_eq!(labels, ["pending", "paid", "shipped", "it's cancelled"]);
    let comment: Option<String> = c
        .query_one(&format!("select obj_description('{s}.customers'::regclass, 'pg_class')"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(comment.as_deref(), Some("People who buy"));
    let identity: String = c
        .query_one(
            "select is_identity::text from information_schema.columns where table_schema = $1 and table_name = 'events' and column_name = 'id'",
            &[&s],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(identity, "YES");
    let grants: i64 = c
        .query_one(
            "select count(*) from information_schema.role_table_grants where table_schema = $1 and grantee = $2 and privilege_type in ('SELECT','INSERT','UPDATE','DELETE')",
            &[&s, &pg.anon],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(grants, 5 * 4);

    // Defaults and the updated_at trigger work (as the table owner, which RLS forces too:
    // run as the service role).
    c.batch_execute(&format!(
        "BEGIN; SET LOCAL ROLE {svc}; \
         INSERT INTO {s}.customers (email) VALUES ('a@example.com'); \
         UPDATE {s}.customers SET created_at = created_at - interval '1 hour', updated_at = updated_at - interval '1 hour'; \
         UPDATE {s}.customers SET vip = true; COMMIT;",
        svc = pg.service
    ))
    .await
    .unwrap();
    let row = c
        .query_one(&format!("select vip, updated_at > created_at, profile->>'lang' from {s}.customers"), &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert!(row.get::<_, bool>(1), "updated_at moved on update");
    assert_eq!(row.get::<_, String>(2), "en");

    // Checks reject bad rows.
    let err = c
        .batch_execute(&format!(
            "BEGIN; SET LOCAL ROLE {svc}; INSERT INTO {s}.products (sku, name, price) VALUES ('x', 'n', -1); COMMIT;",
            svc = pg.service
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("check") || format!("{err:?}").contains("23514"), "{err:?}");
    c.batch_execute("ROLLBACK").await.ok();
    pg.drop().await;
}

#[test]
fn sqlite_runs_the_ddl_and_the_catalog_matches() {
    let valid = shop();
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn.execute_batch(&sql(&valid, Dialect::Sqlite, &DdlOptions::default())).unwrap();
    let names = |kind: &str| -> Vec<String> {
        let mut st = conn
            .prepare("select name from sqlite_master where type = ?1 and name not like 'sqlite_%' order by 1")
            .unwrap();
        st.query_map([kind], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(names("table"), ["customers", "events", "order_items", "orders", "products"]);
    let indexes = names("index");
    for expected in
        ["customers_user_id_policy_idx", "products_live_sku_idx", "orders_customer_id_placed_at_idx"]
    {
        assert!(indexes.contains(&expected.to_owned()), "missing {expected} in {indexes:?}");
    }
    assert_eq!(names("trigger"), ["customers_updated_at"]);

    // Foreign keys as declared.
    let fks: Vec<(String, String)> = conn
        .prepare("select \"table\", on_delete from pragma_foreign_key_list('order_items') order by 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(fks, [("orders".into(), "CASCADE".into()), ("products".into(), "NO ACTION".into())]);

    // Defaults: uuid v4, booleans, json, timestamps; identity; the updated_at trigger.
    conn.execute("insert into customers (email) values ('a@example.com')", []).unwrap();
    let (id, vip, profile, created): (String, bool, String, String) = conn
        .query_row("select id, vip, profile, created_at from customers", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "{id}");
    assert!(!vip);
    assert_eq!(profile, r#"{"lang":"en"}"#);
    assert!(created.ends_with('Z'));
    conn.execute("update customers set updated_at = '2000-01-01T00:00:00.000Z'", []).unwrap();
    conn.execute("update customers set vip = 1", []).unwrap();
    let updated: String = conn.query_row("select updated_at from customers", [], |r| r.get(0)).unwrap();
    assert!(updated.as_str() > "2001", "{updated}");
    conn.execute("insert into events (kind) values ('a'), ('b')", []).unwrap();
    let max: i64 = conn.query_row("select max(id) from events", [], |r| r.get(0)).unwrap();
    assert_eq!(max, 2);

    // Checks and the enum check reject bad rows; foreign keys are enforced.
    assert!(conn.execute("insert into products (sku, name, price) values ('x', 'n', -1)", []).is_err());
    assert!(
        conn.execute(&format!("insert into orders (customer_id, status) values ('{id}', 'lost')"), [])
            .is_err()
    );
    conn.execute(&format!("insert into orders (customer_id, status) values ('{id}', 'it''s cancelled')"), [])
        .unwrap();
    assert!(
        conn.execute("insert into orders (customer_id) values ('00000000-0000-4000-8000-000000000000')", [])
            .is_err()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn mariadb_runs_the_ddl_and_the_catalog_matches() {
    use sqlx::Row;
    let mut my = common::MyScratch::new().await;
    let valid = shop();
    let ddl = ddl::generate(&valid, Dialect::Mysql, &DdlOptions::default()).unwrap();
    for s in &ddl.statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s.sql.clone()))
            .execute(&mut my.conn)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", s.sql));
    }
    let db = my.database.clone();
    let rows =
        sqlx::query("select table_name from information_schema.tables where table_schema = ? order by 1")
            .bind(&db)
            .fetch_all(&mut my.conn)
            .await
            .unwrap();
    let mut tables: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    tables.sort();
    assert_eq!(tables, ["customers", "events", "order_items", "orders", "products"]);
    let rows = sqlx::query(
        "select constraint_name, constraint_type from information_schema.table_constraints where table_schema = ? order by 1",
    )
    .bind(&db)
    .fetch_all(&mut my.conn)
    .await
    .unwrap();
    let constraints: Vec<String> =
        rows.iter().map(|r| format!("{}:{}", r.get::<String, _>(0), r.get::<String, _>(1))).collect();
    for expected in [
        "customers_email_key:UNIQUE",
        "order_items_order_id_fkey:FOREIGN KEY",
        "orders_customer_id_fkey:FOREIGN KEY",
        "products_stock_check:CHECK",
        "order_items_quantity_check:CHECK",
    ] {
        assert!(constraints.contains(&expected.to_owned()), "missing {expected} in {constraints:?}");
    }
    let rows = sqlx::query(
        "select distinct index_name from information_schema.statistics where table_schema = ? order by 1",
    )
    .bind(&db)
    .fetch_all(&mut my.conn)
    .await
    .unwrap();
    let indexes: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    for expected in
        ["products_published_price_idx", "orders_customer_id_placed_at_idx", "customers_user_id_policy_idx"]
    {
        assert!(indexes.contains(&expected.to_owned()), "missing {expected} in {indexes:?}");
    }

    // Defaults and ON UPDATE.
    sqlx::raw_sql("insert into customers (email) values ('a@example.com')")
        .execute(&mut my.conn)
        .await
        .unwrap();
    let row = sqlx::query("select id, vip, json_value(profile, '$.lang') from customers")
        .fetch_one(&mut my.conn)
        .await
        .unwrap();
    let id: String = row.get(0);
    assert_eq!(id.len(), 36);
    assert!(!row.get::<bool, _>(1));
    assert_eq!(row.get::<String, _>(2), "en");
    // Checks and enums reject bad rows.
    assert!(
        sqlx::raw_sql("insert into products (sku, name, price) values ('x', 'n', -1)")
            .execute(&mut my.conn)
            .await
            .is_err()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "insert into orders (customer_id, status) values ('{id}', 'it''s cancelled')"
    )))
    .execute(&mut my.conn)
    .await
    .unwrap();
    my.drop().await;
}
