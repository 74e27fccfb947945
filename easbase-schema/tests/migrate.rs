//! Migration plans (snapshots per dialect) and `apply` on real PostgreSQL, SQLite and
//! MariaDB: rows survive, destructive plans need an opt-in, history catches drift.

mod common;

use easbase_schema::migrate::{self, StepKind};
use easbase_schema::{Dialect, Schema, ValidSchema, ddl::DdlOptions};
use expect_test::{Expect, expect};

fn schema(json: &str) -> Schema {
    Schema::from_json(json).unwrap()
}

fn valid(json: &str) -> ValidSchema {
    schema(json).validate().unwrap()
}

fn plan(old: &str, new: &str, dialect: Dialect) -> migrate::Plan {
    migrate::plan(&valid(old), &valid(new), dialect, &DdlOptions::default()).unwrap()
}

fn check(old: &str, new: &str, dialect: Dialect, expect: Expect) {
    let p = plan(old, new, dialect);
    expect.assert_eq(&format!("{p}\n{}", p.to_sql()));
}

const V1: &str = r#"{ "enums": [ { "name": "status", "values": ["draft", "published"] } ],
  "tables": [
  { "name": "customers", "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "email", "type": "varchar(100)", "required": true, "unique": true } ] },
  { "name": "products", "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "title", "type": "varchar(80)", "required": true },
      { "name": "qty", "type": "integer" },
      { "name": "owner_id", "type": "uuid" },
      { "name": "status", "type": "status", "required": true, "default": "draft" } ],
    "policies": { "select": "status = 'published'" } } ] }"#;

/// Add a column with a default, rename a column, widen types, add an enum value, an
/// index and a foreign key, change a policy.
const V2: &str = r#"{ "enums": [ { "name": "status", "values": ["draft", "published", "archived"] } ],
  "tables": [
  { "name": "customers", "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "email", "type": "varchar(100)", "required": true, "unique": true } ] },
  { "name": "products", "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "name", "renamed_from": "title", "type": "varchar(200)", "required": true },
      { "name": "qty", "type": "bigint" },
      { "name": "owner_id", "type": "uuid", "references": "customers.id" },
      { "name": "status", "type": "status", "required": true, "default": "draft" },
      { "name": "price", "type": "decimal(10,2)", "required": true, "default": 0 } ],
    "indexes": [ { "columns": ["name"] } ],
    "policies": { "select": "status in ('published', 'archived') || owner_id = auth.uid" } } ] }"#;

/// V2 without `qty` (destructive).
const V3: &str = r#"{ "enums": [ { "name": "status", "values": ["draft", "published", "archived"] } ],
  "tables": [
  { "name": "customers", "columns": [
      { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
      { "name": "email", "type": "varchar(100)", "required": true, "unique": true } ] },
  { "name": "products", "columns": [
      { "name": "id", "type": "identity", "primary": true },
      { "name": "name", "type": "varchar(200)", "required": true },
      { "name": "owner_id", "type": "uuid", "references": "customers.id" },
      { "name": "status", "type": "status", "required": true, "default": "draft" },
      { "name": "price", "type": "decimal(10,2)", "required": true, "default": 0 } ],
    "indexes": [ { "columns": ["name"] } ],
    "policies": { "select": "status in ('published', 'archived') || owner_id = auth.uid" } } ] }"#;

// ----- plans ------------------------------------------------------------------------------

#[test]
fn same_schema_gives_an_empty_plan_and_plans_are_deterministic() {
    for d in Dialect::ALL {
        assert!(plan(V1, V1, d).is_empty(), "{d}");
        assert_eq!(plan(V1, V1, d).to_string(), "no changes\n");
        assert_eq!(plan(V1, V2, d), plan(V1, V2, d), "{d}");
        assert_eq!(plan(V1, V2, d).to_sql(), plan(V1, V2, d).to_sql(), "{d}");
    }
}

#[test]
fn dropping_a_column_is_the_one_destructive_step() {
    for d in Dialect::ALL {
        let p = plan(V2, V3, d);
        let destructive: Vec<&str> = p.destructive_steps().map(|s| s.description.as_str()).collect();
        // SQLite too drops it in place: no key, index or check uses it.
        assert_eq!(destructive, ["drop column `qty` from `products`"], "{d}\n{p}");
    }
}

#[test]
fn plan_from_empty_creates_enums_then_tables_in_dependency_order() {
    let p = plan(r#"{ "tables": [] }"#, V2, Dialect::Postgres);
    let kinds: Vec<_> = p.steps.iter().map(|s| (s.kind, s.table.clone())).collect();
    assert_eq!(
        kinds,
        [
            (StepKind::CreateEnum, None),
            (StepKind::CreateTable, Some("customers".into())),
            (StepKind::CreateTable, Some("products".into())),
        ]
    );
    assert!(p.to_sql().contains("CREATE POLICY \"products_select\""));
    assert!(p.to_sql().contains("GRANT SELECT, INSERT, UPDATE, DELETE ON \"products\""));
}

#[test]
fn plan_v1_v2_postgres() {
    check(
        V1,
        V2,
        Dialect::Postgres,
        expect![[r#"
            - add value(s) 'archived' to enum `status`
            - drop the policies of `products` (recreated below)
            - rename column `title` to `name` in `products`
            - add column `price` to `products`
            - alter column `name` of `products`: type varchar(80) → varchar(200)
            - alter column `qty` of `products`: type integer → bigint
            - add foreign key `products_owner_id_fkey` to `products`
            - create index `products_name_idx` on `products`
            - create index `products_owner_id_policy_idx` on `products`
            - create the policies of `products`

            -- add value(s) 'archived' to enum `status`
            ALTER TYPE "status" ADD VALUE IF NOT EXISTS 'archived' AFTER 'published';

            -- drop the policies of `products` (recreated below)
            DROP POLICY IF EXISTS "products_select" ON "products";
            DROP POLICY IF EXISTS "products_service" ON "products";

            -- rename column `title` to `name` in `products`
            ALTER TABLE "products" RENAME COLUMN "title" TO "name";

            -- add column `price` to `products`
            ALTER TABLE "products" ADD COLUMN "price" numeric(10,2) NOT NULL DEFAULT 0;

            -- alter column `name` of `products`: type varchar(80) → varchar(200)
            ALTER TABLE "products" ALTER COLUMN "name" TYPE varchar(200) USING "name"::varchar(200);

            -- alter column `qty` of `products`: type integer → bigint
            ALTER TABLE "products" ALTER COLUMN "qty" TYPE bigint USING "qty"::bigint;

            -- add foreign key `products_owner_id_fkey` to `products`
            ALTER TABLE "products" ADD CONSTRAINT "products_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "customers" ("id");

            -- create index `products_name_idx` on `products`
            CREATE INDEX "products_name_idx" ON "products" ("name");

            -- create index `products_owner_id_policy_idx` on `products`
            CREATE INDEX "products_owner_id_policy_idx" ON "products" ("owner_id");

            -- create the policies of `products`
            CREATE POLICY "products_select" ON "products" AS PERMISSIVE FOR SELECT TO "anon", "authenticated" USING ("status" IN ('published', 'archived') OR "owner_id" = (select (coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid));
            CREATE POLICY "products_service" ON "products" AS PERMISSIVE FOR ALL TO "service_role" USING (true) WITH CHECK (true);

        "#]],
    );
}

#[test]
fn plan_v1_v2_sqlite_rebuilds() {
    check(
        V1,
        V2,
        Dialect::Sqlite,
        expect![[r#"
        - rebuild table `products`: rename column `title` to `name`, column `name` type varchar(80) → varchar(200), column `qty` type integer → bigint, column `status` values of enum `status`, add column `price`, constraints

        -- rebuild table `products`: rename column `title` to `name`, column `name` type varchar(80) → varchar(200), column `qty` type integer → bigint, column `status` values of enum `status`, add column `price`, constraints
        CREATE TABLE "_easbase_new_products" ( "id" integer PRIMARY KEY AUTOINCREMENT, "name" varchar(200) NOT NULL, "qty" integer, "owner_id" text, "status" text NOT NULL DEFAULT 'draft' CHECK ("status" IN ('draft', 'published', 'archived')), "price" numeric NOT NULL DEFAULT 0, FOREIGN KEY ("owner_id") REFERENCES "customers" ("id") );
        INSERT INTO "_easbase_new_products" ("id", "name", "qty", "owner_id", "status") SELECT "id", "title", "qty", "owner_id", "status" FROM "products";
        DROP TABLE "products";
        ALTER TABLE "_easbase_new_products" RENAME TO "products";
        CREATE INDEX "products_name_idx" ON "products" ("name");
        CREATE INDEX "products_status_policy_idx" ON "products" ("status");
        CREATE INDEX "products_owner_id_policy_idx" ON "products" ("owner_id");

    "#]],
    );
}

#[test]
fn plan_v1_v2_mysql() {
    check(
        V1,
        V2,
        Dialect::Mysql,
        expect![[r#"
        - rename column `title` to `name` in `products`
        - add column `price` to `products`
        - alter column `name` of `products`: type varchar(80) → varchar(200)
        - alter column `qty` of `products`: type integer → bigint
        - alter column `status` of `products`: values of enum `status`
        - add foreign key `products_owner_id_fkey` to `products`
        - create index `products_name_idx` on `products`
        - create index `products_owner_id_policy_idx` on `products`

        -- rename column `title` to `name` in `products`
        ALTER TABLE `products` RENAME COLUMN `title` TO `name`;

        -- add column `price` to `products`
        ALTER TABLE `products` ADD COLUMN `price` decimal(10,2) NOT NULL DEFAULT 0;

        -- alter column `name` of `products`: type varchar(80) → varchar(200)
        ALTER TABLE `products` MODIFY COLUMN `name` varchar(200) NOT NULL;

        -- alter column `qty` of `products`: type integer → bigint
        ALTER TABLE `products` MODIFY COLUMN `qty` bigint;

        -- alter column `status` of `products`: values of enum `status`
        ALTER TABLE `products` MODIFY COLUMN `status` enum('draft', 'published', 'archived') NOT NULL DEFAULT 'draft';

        -- add foreign key `products_owner_id_fkey` to `products`
        ALTER TABLE `products` ADD CONSTRAINT `products_owner_id_fkey` FOREIGN KEY (`owner_id`) REFERENCES `customers` (`id`);

        -- create index `products_name_idx` on `products`
        CREATE INDEX `products_name_idx` ON `products` (`name`);

        -- create index `products_owner_id_policy_idx` on `products`
        CREATE INDEX `products_owner_id_policy_idx` ON `products` (`owner_id`);

    "#]],
    );
}

const R1: &str = r#"{ "tables": [
  { "name": "clients", "columns": [
      { "name": "id", "type": "bigint", "primary": true },
      { "name": "name", "type": "text" },
      { "name": "fax", "type": "text" } ] },
  { "name": "orders", "columns": [
      { "name": "id", "type": "bigint", "primary": true },
      { "name": "client_id", "type": "bigint", "references": "clients.id" } ] },
  { "name": "legacy", "columns": [ { "name": "id", "type": "bigint", "primary": true } ] } ] }"#;

/// Rename a table referenced by a foreign key, add a nullable column, rename and drop
/// columns, drop a table.
const R2: &str = r#"{ "tables": [
  { "name": "customers", "renamed_from": "clients", "columns": [
      { "name": "id", "type": "bigint", "primary": true },
      { "name": "full_name", "renamed_from": "name", "type": "text" },
      { "name": "phone", "type": "varchar(30)" } ],
    "indexes": [ { "columns": ["phone"] } ] },
  { "name": "orders", "columns": [
      { "name": "id", "type": "bigint", "primary": true },
      { "name": "client_id", "type": "bigint", "references": "customers.id" } ] } ] }"#;

#[test]
fn plan_renames_and_drops_postgres() {
    check(
        R1,
        R2,
        Dialect::Postgres,
        expect![[r#"
        - drop the policies of `clients` (recreated below)
        - rename table `clients` to `customers`
        - rename column `name` to `full_name` in `customers`
        - add column `phone` to `customers`
        - create index `customers_phone_idx` on `customers`
        - create the policies of `customers`
        ! drop column `fax` from `customers`
        ! drop table `legacy`

        -- drop the policies of `clients` (recreated below)
        DROP POLICY IF EXISTS "clients_service" ON "clients";

        -- rename table `clients` to `customers`
        ALTER TABLE "clients" RENAME TO "customers";

        -- rename column `name` to `full_name` in `customers`
        ALTER TABLE "customers" RENAME COLUMN "name" TO "full_name";

        -- add column `phone` to `customers`
        ALTER TABLE "customers" ADD COLUMN "phone" varchar(30);

        -- create index `customers_phone_idx` on `customers`
        CREATE INDEX "customers_phone_idx" ON "customers" ("phone");

        -- create the policies of `customers`
        CREATE POLICY "customers_service" ON "customers" AS PERMISSIVE FOR ALL TO "service_role" USING (true) WITH CHECK (true);

        -- (destructive) drop column `fax` from `customers`
        ALTER TABLE "customers" DROP COLUMN "fax";

        -- (destructive) drop table `legacy`
        DROP TABLE "legacy";

    "#]],
    );
}

#[test]
fn plan_renames_and_drops_sqlite_in_place() {
    // Every change here SQLite can make in place: no rebuild.
    check(
        R1,
        R2,
        Dialect::Sqlite,
        expect![[r#"
        - rename table `clients` to `customers`
        - rename column `name` to `full_name` in `customers`
        - add column `phone` to `customers`
        - create index `customers_phone_idx` on `customers`
        ! drop column `fax` from `customers`
        ! drop table `legacy`

        -- rename table `clients` to `customers`
        ALTER TABLE "clients" RENAME TO "customers";

        -- rename column `name` to `full_name` in `customers`
        ALTER TABLE "customers" RENAME COLUMN "name" TO "full_name";

        -- add column `phone` to `customers`
        ALTER TABLE "customers" ADD COLUMN "phone" varchar(30);

        -- create index `customers_phone_idx` on `customers`
        CREATE INDEX "customers_phone_idx" ON "customers" ("phone");

        -- (destructive) drop column `fax` from `customers`
        ALTER TABLE "customers" DROP COLUMN "fax";

        -- (destructive) drop table `legacy`
        DROP TABLE "legacy";

    "#]],
    );
}

#[test]
fn plan_renames_and_drops_mysql() {
    check(
        R1,
        R2,
        Dialect::Mysql,
        expect![[r#"
        - rename table `clients` to `customers`
        - rename column `name` to `full_name` in `customers`
        - add column `phone` to `customers`
        - create index `customers_phone_idx` on `customers`
        ! drop column `fax` from `customers`
        ! drop table `legacy`

        -- rename table `clients` to `customers`
        RENAME TABLE `clients` TO `customers`;

        -- rename column `name` to `full_name` in `customers`
        ALTER TABLE `customers` RENAME COLUMN `name` TO `full_name`;

        -- add column `phone` to `customers`
        ALTER TABLE `customers` ADD COLUMN `phone` varchar(30);

        -- create index `customers_phone_idx` on `customers`
        CREATE INDEX `customers_phone_idx` ON `customers` (`phone`);

        -- (destructive) drop column `fax` from `customers`
        ALTER TABLE `customers` DROP COLUMN `fax`;

        -- (destructive) drop table `legacy`
        DROP TABLE `legacy`;

    "#]],
    );
}

#[test]
fn narrowing_and_removed_enum_values_are_destructive() {
    let old = r#"{ "enums": [ { "name": "s", "values": ["a", "b", "c"] } ], "tables": [
      { "name": "t", "columns": [
        { "name": "id", "type": "bigint", "primary": true },
        { "name": "code", "type": "varchar(20)" },
        { "name": "n", "type": "bigint" },
        { "name": "s", "type": "s", "default": "a" } ] } ] }"#;
    let new = r#"{ "enums": [ { "name": "s", "values": ["a", "c"] } ], "tables": [
      { "name": "t", "columns": [
        { "name": "id", "type": "bigint", "primary": true },
        { "name": "code", "type": "varchar(5)", "required": true, "default": "x" },
        { "name": "n", "type": "integer" },
        { "name": "s", "type": "s", "default": "a" } ] } ] }"#;
    check(
        old,
        new,
        Dialect::Postgres,
        expect![[r#"
        - drop the policies of `t` (recreated below)
        ! recreate enum `s` without value(s) 'b'
        ! alter column `code` of `t`: type varchar(20) → varchar(5), set not null, set default
        ! alter column `n` of `t`: type bigint → integer
        - create the policies of `t`
        - drop the previous version of enum `s`

        -- drop the policies of `t` (recreated below)
        DROP POLICY IF EXISTS "t_service" ON "t";

        -- (destructive) recreate enum `s` without value(s) 'b'
        ALTER TYPE "s" RENAME TO "_easbase_old_s";
        CREATE TYPE "s" AS ENUM ('a', 'c');
        ALTER TABLE "t" ALTER COLUMN "s" DROP DEFAULT;
        ALTER TABLE "t" ALTER COLUMN "s" TYPE "s" USING "s"::text::"s";
        ALTER TABLE "t" ALTER COLUMN "s" SET DEFAULT 'a'::"s";

        -- (destructive) alter column `code` of `t`: type varchar(20) → varchar(5), set not null, set default
        ALTER TABLE "t" ALTER COLUMN "code" TYPE varchar(5) USING "code"::varchar(5);
        ALTER TABLE "t" ALTER COLUMN "code" SET DEFAULT 'x';
        UPDATE "t" SET "code" = 'x' WHERE "code" IS NULL;
        ALTER TABLE "t" ALTER COLUMN "code" SET NOT NULL;

        -- (destructive) alter column `n` of `t`: type bigint → integer
        ALTER TABLE "t" ALTER COLUMN "n" TYPE integer USING "n"::integer;

        -- create the policies of `t`
        CREATE POLICY "t_service" ON "t" AS PERMISSIVE FOR ALL TO "service_role" USING (true) WITH CHECK (true);

        -- drop the previous version of enum `s`
        DROP TYPE "_easbase_old_s";

    "#]],
    );
    for d in Dialect::ALL {
        let p = plan(old, new, d);
        assert!(p.destructive_steps().count() >= 1, "{d}\n{p}");
    }
}

#[test]
fn sqlite_rebuild_keeps_references_and_fills_required_columns() {
    let old = r#"{ "tables": [
      { "name": "items", "columns": [
        { "name": "id", "type": "bigint", "primary": true },
        { "name": "qty", "type": "integer" },
        { "name": "label", "type": "text" } ], "timestamps": true } ] }"#;
    let new = r#"{ "tables": [
      { "name": "items", "columns": [
        { "name": "id", "type": "bigint", "primary": true },
        { "name": "qty", "type": "integer", "required": true, "default": 1 },
        { "name": "label", "type": "varchar(40)" } ], "timestamps": true } ] }"#;
    check(
        old,
        new,
        Dialect::Sqlite,
        expect![[r#"
        ! rebuild table `items`: column `qty` set not null, column `qty` default, column `label` type text → varchar(40)

        -- (destructive) rebuild table `items`: column `qty` set not null, column `qty` default, column `label` type text → varchar(40)
        CREATE TABLE "_easbase_new_items" ( "id" integer NOT NULL, "qty" integer NOT NULL DEFAULT 1, "label" varchar(40), "created_at" text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), "updated_at" text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), CONSTRAINT "items_pkey" PRIMARY KEY ("id") );
        INSERT INTO "_easbase_new_items" ("id", "qty", "label", "created_at", "updated_at") SELECT "id", coalesce("qty", 1), "label", "created_at", "updated_at" FROM "items";
        DROP TABLE "items";
        ALTER TABLE "_easbase_new_items" RENAME TO "items";
        CREATE TRIGGER "items_updated_at" AFTER UPDATE ON "items" FOR EACH ROW WHEN NEW."updated_at" IS OLD."updated_at" BEGIN UPDATE "items" SET "updated_at" = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE rowid = NEW.rowid; END;

    "#]],
    );
}

/// `apply` on the real engines (needs the three backend features).
#[cfg(all(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod apply {
    use super::*;
    use easbase_schema::Error;
    use easbase_schema::migrate::ApplyOptions;

    // ----- apply: PostgreSQL -------------------------------------------------------------------

    fn opts(ddl: DdlOptions, allow_destructive: bool) -> ApplyOptions {
        ApplyOptions { ddl, allow_destructive }
    }

    async fn pg_column_count(client: &tokio_postgres::Client, schema: &str, column: &str) -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'products' AND column_name = $2",
                &[&schema, &column],
            )
            .await
            .unwrap()
            .get(0)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn apply_postgres() {
        let mut pg = common::PgScratch::new().await;
        let s = pg.schema.clone();
        let o = opts(pg.ddl_options(), false);

        let r = migrate::apply(&mut pg.client, "1", &schema(V1), &o).await.unwrap();
        assert!(!r.already_applied && r.previous_version.is_none());
        pg.client
            .batch_execute(&format!(
                "INSERT INTO {s}.customers (id, email) VALUES ('00000000-0000-4000-8000-000000000001', 'a@example.com');
                 INSERT INTO {s}.products (title, qty, owner_id, status) VALUES
                   ('apple', 3, '00000000-0000-4000-8000-000000000001', 'published'), ('pear', NULL, NULL, 'draft');"
            ))
            .await
            .unwrap();

        let r = migrate::apply(&mut pg.client, "2", &schema(V2), &o).await.unwrap();
        assert_eq!(r.previous_version.as_deref(), Some("1"));
        assert!(!r.plan.is_empty());
        let rows = pg
            .client
            .query(&format!("SELECT name, qty, price::text, status::text FROM {s}.products ORDER BY id"), &[])
            .await
            .unwrap();
        let got: Vec<(String, Option<i64>, String, String)> =
            rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
        assert_eq!(
            got,
            [
                ("apple".into(), Some(3), "0.00".into(), "published".into()),
                ("pear".into(), None, "0.00".into(), "draft".into())
            ]
        );
        // The new enum value, the foreign key and the new policy are in place.
        pg.client
            .batch_execute(&format!("UPDATE {s}.products SET status = 'archived' WHERE name = 'pear'"))
            .await
            .unwrap();
        let fk = pg
            .client
            .batch_execute(&format!(
                "INSERT INTO {s}.products (name, owner_id) VALUES ('x', '00000000-0000-4000-8000-0000000000ff')"
            ))
            .await;
        assert!(fk.is_err(), "the foreign key must refuse an unknown owner");
        let qual: String = pg
            .client
            .query_one(
                "SELECT qual FROM pg_policies WHERE schemaname = $1 AND policyname = 'products_select'",
                &[&s],
            )
            .await
            .unwrap()
            .get(0);
        assert!(qual.contains("owner_id"), "{qual}");
        let idx: i64 = pg
            .client
            .query_one(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'products_name_idx'",
                &[&s],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(idx, 1);

        // Applying the same version again does nothing.
        let r = migrate::apply(&mut pg.client, "2", &schema(V2), &o).await.unwrap();
        assert!(r.already_applied && r.plan.is_empty());

        // A destructive plan is refused and changes nothing.
        let err = migrate::apply(&mut pg.client, "3", &schema(V3), &o).await.unwrap_err();
        assert!(matches!(err, Error::Destructive { count: 1, .. }), "{err}");
        assert!(err.to_string().contains("drop column `qty`"), "{err}");
        assert_eq!(pg_column_count(&pg.client, &s, "qty").await, 1);
        let versions: i64 = pg
            .client
            .query_one(&format!("SELECT count(*) FROM {s}._easbase_migrations"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(versions, 2);
        // With the opt-in it runs.
        let allow = opts(pg.ddl_options(), true);
        migrate::apply(&mut pg.client, "3", &schema(V3), &allow).await.unwrap();
        assert_eq!(pg_column_count(&pg.client, &s, "qty").await, 0);
        let n: i64 =
            pg.client.query_one(&format!("SELECT count(*) FROM {s}.products"), &[]).await.unwrap().get(0);
        assert_eq!(n, 2);

        // The same version with another schema, and a tampered history row: drift.
        let err = migrate::apply(&mut pg.client, "3", &schema(V2), &o).await.unwrap_err();
        assert!(matches!(err, Error::Drift(_)), "{err}");
        pg.client
            .batch_execute(&format!(
                "UPDATE {s}._easbase_migrations SET schema_json = schema_json || ' ' WHERE version = '1'"
            ))
            .await
            .unwrap();
        let err = migrate::apply(&mut pg.client, "4", &schema(V3), &o).await.unwrap_err();
        assert!(matches!(err, Error::Drift(_)), "{err}");

        pg.drop().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn apply_postgres_failure_rolls_back() {
        let mut pg = common::PgScratch::new().await;
        let s = pg.schema.clone();
        let o = opts(pg.ddl_options(), false);
        migrate::apply(&mut pg.client, "1", &schema(V1), &o).await.unwrap();
        // A check that existing rows break: nothing of v2 may remain.
        let bad = V2.replace(
            r#""name": "qty", "type": "bigint""#,
            r#""name": "qty", "type": "bigint", "check": "qty > 100""#,
        );
        pg.client
            .batch_execute(&format!("INSERT INTO {s}.products (title, qty) VALUES ('a', 1)"))
            .await
            .unwrap();
        let err = migrate::apply(&mut pg.client, "2", &schema(&bad), &o).await.unwrap_err();
        assert!(matches!(err, Error::Database(_)), "{err}");
        let title = pg_column_count(&pg.client, &s, "title").await;
        assert_eq!(title, 1, "the rename must have been rolled back");
        let versions: i64 = pg
            .client
            .query_one(&format!("SELECT count(*) FROM {s}._easbase_migrations"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(versions, 1);
        pg.drop().await;
    }

    // ----- apply: SQLite -----------------------------------------------------------------------

    fn sqlite() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        conn
    }

    #[tokio::test(flavor = "current_thread")]
    async fn apply_sqlite() {
        let mut db = sqlite();
        let o = ApplyOptions::default();
        migrate::apply(&mut db, "1", &schema(V1), &o).await.unwrap();
        db.execute_batch(
            "INSERT INTO customers (id, email) VALUES ('c1', 'a@example.com');
             INSERT INTO products (title, qty, owner_id, status) VALUES ('apple', 3, 'c1', 'published'), ('pear', NULL, NULL, 'draft');",
        )
        .unwrap();
        let r = migrate::apply(&mut db, "2", &schema(V2), &o).await.unwrap();
        assert!(r.plan.steps.iter().any(|s| s.kind == StepKind::RebuildTable));
        let mut stmt = db.prepare("SELECT id, name, qty, price, status FROM products ORDER BY id").unwrap();
        let got: Vec<(i64, String, Option<i64>, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        drop(stmt);
        assert_eq!(
            got,
            [
                (1, "apple".into(), Some(3), 0, "published".into()),
                (2, "pear".into(), None, 0, "draft".into())
            ]
        );
        let fk_on: i64 = db.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert_eq!(fk_on, 1, "the foreign key setting is restored");
        // The rebuilt table has the new constraints: enum value, foreign key, index.
        db.execute_batch("UPDATE products SET status = 'archived' WHERE id = 2").unwrap();
        assert!(db.execute_batch("INSERT INTO products (name, owner_id) VALUES ('x', 'nobody')").is_err());
        let idx: i64 = db
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'products_name_idx'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(idx, 1);

        assert!(migrate::apply(&mut db, "2", &schema(V2), &o).await.unwrap().already_applied);
        let err = migrate::apply(&mut db, "3", &schema(V3), &o).await.unwrap_err();
        assert!(matches!(err, Error::Destructive { .. }), "{err}");
        let qty: i64 = db
            .query_row("SELECT count(*) FROM pragma_table_info('products') WHERE name = 'qty'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(qty, 1);
        migrate::apply(&mut db, "3", &schema(V3), &opts(DdlOptions::default(), true)).await.unwrap();
        let qty: i64 = db
            .query_row("SELECT count(*) FROM pragma_table_info('products') WHERE name = 'qty'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(qty, 0);
        let n: i64 = db.query_row("SELECT count(*) FROM products", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);

        db.execute_batch("UPDATE _easbase_migrations SET checksum = 'x' WHERE version = '2'").unwrap();
        let err = migrate::apply(&mut db, "4", &schema(V3), &o).await.unwrap_err();
        assert!(matches!(err, Error::Drift(_)), "{err}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn apply_sqlite_rebuild_keeps_every_row_and_child_rows() {
        let v1 = r#"{ "tables": [
          { "name": "items", "columns": [
            { "name": "id", "type": "bigint", "primary": true },
            { "name": "qty", "type": "integer" },
            { "name": "label", "type": "text" } ], "timestamps": true },
          { "name": "parts", "columns": [
            { "name": "id", "type": "bigint", "primary": true },
            { "name": "item_id", "type": "bigint", "required": true,
              "references": { "table": "items", "column": "id", "on_delete": "cascade" } } ] } ] }"#;
        let v2 = r#"{ "tables": [
          { "name": "items", "columns": [
            { "name": "id", "type": "bigint", "primary": true },
            { "name": "qty", "type": "integer", "required": true, "default": 1 },
            { "name": "label", "type": "varchar(40)" } ], "timestamps": true },
          { "name": "parts", "columns": [
            { "name": "id", "type": "bigint", "primary": true },
            { "name": "item_id", "type": "bigint", "required": true,
              "references": { "table": "items", "column": "id", "on_delete": "cascade" } } ] } ] }"#;
        let path = std::env::temp_dir().join(format!("{}.sqlite", common::random_name("migrate")));
        let mut db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        let o = ApplyOptions::default();
        migrate::apply(&mut db, "1", &schema(v1), &o).await.unwrap();
        db.execute_batch(
            "INSERT INTO items (id, qty, label) VALUES (1, NULL, 'a'), (2, 5, NULL), (3, NULL, 'c');
             INSERT INTO parts (id, item_id) VALUES (10, 1), (11, 1), (12, 3);",
        )
        .unwrap();
        // text → varchar(40) narrows the type: destructive, refused without the opt-in.
        let err = migrate::apply(&mut db, "2", &schema(v2), &o).await.unwrap_err();
        assert!(matches!(err, Error::Destructive { .. }), "{err}");
        let r = migrate::apply(&mut db, "2", &schema(v2), &opts(DdlOptions::default(), true)).await.unwrap();
        assert_eq!(r.plan.steps.iter().map(|s| s.kind).collect::<Vec<_>>(), [StepKind::RebuildTable]);
        let items: Vec<(i64, i64, Option<String>)> = db
            .prepare("SELECT id, qty, label FROM items ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(items, [(1, 1, Some("a".into())), (2, 5, None), (3, 1, Some("c".into()))]);
        let parts: i64 = db.query_row("SELECT count(*) FROM parts", [], |r| r.get(0)).unwrap();
        assert_eq!(parts, 3, "dropping the old table must not cascade to child rows");
        // The updated_at trigger came back, and qty is now required.
        let triggers: i64 = db
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'items'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 1);
        assert!(db.execute_batch("INSERT INTO items (id, qty) VALUES (4, NULL)").is_err());
        // Cascades still work on the rebuilt parent.
        db.execute_batch("DELETE FROM items WHERE id = 1").unwrap();
        let parts: i64 = db.query_row("SELECT count(*) FROM parts", [], |r| r.get(0)).unwrap();
        assert_eq!(parts, 1);
        drop(db);
        let _ = std::fs::remove_file(&path);
    }

    // ----- apply: MariaDB ----------------------------------------------------------------------

    #[tokio::test(flavor = "current_thread")]
    async fn apply_mysql() {
        let mut my = common::MyScratch::new().await;
        let o = ApplyOptions::default();
        migrate::apply(&mut my.conn, "1", &schema(V1), &o).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO customers (id, email) VALUES ('00000000-0000-4000-8000-000000000001', 'a@example.com');
             INSERT INTO products (title, qty, owner_id, status) VALUES
               ('apple', 3, '00000000-0000-4000-8000-000000000001', 'published'), ('pear', NULL, NULL, 'draft');",
        )
        .execute(&mut my.conn)
        .await
        .unwrap();
        migrate::apply(&mut my.conn, "2", &schema(V2), &o).await.unwrap();
        let got: Vec<(i64, String, Option<i64>, String, String)> = sqlx::query_as(
            "SELECT id, name, qty, CAST(price AS CHAR), CAST(status AS CHAR) FROM products ORDER BY id",
        )
        .fetch_all(&mut my.conn)
        .await
        .unwrap();
        assert_eq!(
            got,
            [
                (1, "apple".into(), Some(3), "0.00".into(), "published".into()),
                (2, "pear".into(), None, "0.00".into(), "draft".into())
            ]
        );
        sqlx::raw_sql("UPDATE products SET status = 'archived' WHERE id = 2")
            .execute(&mut my.conn)
            .await
            .unwrap();
        let fk = sqlx::raw_sql(
            "INSERT INTO products (name, owner_id) VALUES ('x', '00000000-0000-4000-8000-0000000000ff')",
        )
        .execute(&mut my.conn)
        .await;
        assert!(fk.is_err(), "the foreign key must refuse an unknown owner");

        assert!(migrate::apply(&mut my.conn, "2", &schema(V2), &o).await.unwrap().already_applied);
        let err = migrate::apply(&mut my.conn, "3", &schema(V3), &o).await.unwrap_err();
        assert!(matches!(err, Error::Destructive { .. }), "{err}");
        let (qty,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = database() AND table_name = 'products' AND column_name = 'qty'",
        )
        .fetch_one(&mut my.conn)
        .await
        .unwrap();
        assert_eq!(qty, 1);
        migrate::apply(&mut my.conn, "3", &schema(V3), &opts(DdlOptions::default(), true)).await.unwrap();
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM products").fetch_one(&mut my.conn).await.unwrap();
        assert_eq!(n, 2);

        sqlx::raw_sql(
            "UPDATE _easbase_migrations SET schema_json = CONCAT(schema_json, ' ') WHERE version = '1'",
        )
        .execute(&mut my.conn)
        .await
        .unwrap();
        let err = migrate::apply(&mut my.conn, "4", &schema(V3), &o).await.unwrap_err();
        assert!(matches!(err, Error::Drift(_)), "{err}");
        my.drop().await;
    }

    // ----- every engine: a series of versions ------------------------------------------------

    /// Constraints on and off, timestamps on, comments, a table rename under a foreign key,
    /// dropped columns and tables, enum values removed.
    const SERIES: &[&str] = &[
        R1,
        R2,
        r#"{ "enums": [ { "name": "tier", "values": ["free", "pro", "team"] } ], "tables": [
          { "name": "customers", "comment": "people", "columns": [
              { "name": "id", "type": "bigint", "primary": true },
              { "name": "full_name", "type": "varchar(100)", "comment": "shown" },
              { "name": "phone", "type": "varchar(30)", "unique": true },
              { "name": "tier", "type": "tier", "required": true, "default": "free" } ],
            "checks": [ "full_name != ''" ], "timestamps": true,
            "policies": { "select": "true" } },
          { "name": "orders", "columns": [
              { "name": "id", "type": "bigint", "primary": true },
              { "name": "client_id", "type": "bigint" },
              { "name": "total", "type": "decimal(12,2)", "required": true, "default": 0, "check": "total >= 0" } ] } ] }"#,
        r#"{ "enums": [ { "name": "tier", "values": ["free", "team"] } ], "tables": [
          { "name": "customers", "columns": [
              { "name": "id", "type": "bigint", "primary": true },
              { "name": "full_name", "type": "text" },
              { "name": "phone", "type": "varchar(30)" },
              { "name": "tier", "type": "tier", "required": true, "default": "team" } ],
            "policies": { "select": "tier = 'team'" } },
          { "name": "orders", "columns": [
              { "name": "id", "type": "bigint", "primary": true },
              { "name": "client_id", "type": "bigint", "references": { "table": "customers", "on_delete": "cascade" } },
              { "name": "total", "type": "decimal(14,2)", "required": true, "default": 0 } ] } ] }"#,
    ];

    /// Applies every version of [`SERIES`] (destructive steps allowed), inserting a row into
    /// each table after each version, and returns the row counts of the last version.
    async fn run_series<E: migrate::Executor + ?Sized>(
        exec: &mut E,
        ddl: DdlOptions,
        insert: impl Fn(usize) -> Vec<String>,
    ) {
        let o = opts(ddl, true);
        for (i, v) in SERIES.iter().enumerate() {
            let r = migrate::apply(exec, &format!("{i}"), &schema(v), &o)
                .await
                .unwrap_or_else(|e| panic!("version {i} on {}: {e}", exec.dialect()));
            assert!(!r.already_applied);
            exec.execute(&insert(i))
                .await
                .unwrap_or_else(|e| panic!("rows of version {i} on {}: {e}", exec.dialect()));
        }
        let again =
            migrate::apply(exec, &format!("{}", SERIES.len() - 1), &schema(SERIES[SERIES.len() - 1]), &o)
                .await
                .unwrap();
        assert!(again.already_applied);
    }

    fn series_rows(qualify: &str, i: usize) -> Vec<String> {
        let t = |name: &str| format!("{qualify}{name}");
        match i {
            0 => vec![
                format!("INSERT INTO {} (id, name, fax) VALUES (1, 'Ann', 'f')", t("clients")),
                format!("INSERT INTO {} (id, client_id) VALUES (1, 1)", t("orders")),
            ],
            1 => vec![
                format!("INSERT INTO {} (id, full_name, phone) VALUES (2, 'Bob', '555')", t("customers")),
                format!("INSERT INTO {} (id, client_id) VALUES (2, 2)", t("orders")),
            ],
            2 => vec![
                format!(
                    "INSERT INTO {} (id, full_name, phone, tier) VALUES (3, 'Cy', '556', 'team')",
                    t("customers")
                ),
                format!("INSERT INTO {} (id, client_id, total) VALUES (3, 3, 5)", t("orders")),
            ],
            _ => vec![format!("INSERT INTO {} (id, client_id) VALUES (4, 3)", t("orders"))],
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn series_postgres() {
        let mut pg = common::PgScratch::new().await;
        let s = pg.schema.clone();
        let ddl = pg.ddl_options();
        run_series(&mut pg.client, ddl, |i| series_rows(&format!("{s}."), i)).await;
        let n: i64 =
            pg.client.query_one(&format!("SELECT count(*) FROM {s}.orders"), &[]).await.unwrap().get(0);
        assert_eq!(n, 4);
        let names: Vec<String> = pg
            .client
            .query(&format!("SELECT full_name FROM {s}.customers ORDER BY id"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(names, ["Ann", "Bob", "Cy"]);
        pg.drop().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn series_sqlite() {
        let mut db = sqlite();
        run_series(&mut db, DdlOptions::default(), |i| series_rows("", i)).await;
        let n: i64 = db.query_row("SELECT count(*) FROM orders", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 4);
        let names: Vec<String> = db
            .prepare("SELECT full_name FROM customers ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names, ["Ann", "Bob", "Cy"]);
        let fk_violations: i64 =
            db.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(fk_violations, 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn series_mysql() {
        let mut my = common::MyScratch::new().await;
        run_series(&mut my.conn, DdlOptions::default(), |i| series_rows("", i)).await;
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM orders").fetch_one(&mut my.conn).await.unwrap();
        assert_eq!(n, 4);
        let names: Vec<(String,)> = sqlx::query_as("SELECT full_name FROM customers ORDER BY id")
            .fetch_all(&mut my.conn)
            .await
            .unwrap();
        assert_eq!(names, [("Ann".to_owned(),), ("Bob".to_owned(),), ("Cy".to_owned(),)]);
        my.drop().await;
    }
}
