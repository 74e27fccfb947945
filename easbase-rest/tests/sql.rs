//! The statements per dialect, as snapshots (they also run on the real engines in
//! `tests/rest.rs`).

use std::sync::Arc;

use easbase_core::schema::policy::AuthContext;
use easbase_core::schema::{Dialect, Ident, Role, Schema};
use easbase_rest::plan::{PlanConfig, action_plan};
use easbase_rest::request::{RequestLimits, api_request};
use easbase_rest::schema_cache::SchemaSnapshot;
use easbase_rest::sql::{SqlTarget, build};
use expect_test::{Expect, expect};

fn snapshot() -> Arc<SchemaSnapshot> {
    let schema = Schema::from_json(
        r#"{ "tables": [
          { "name": "authors", "columns": [ { "name": "id", "type": "integer", "primary": true }, { "name": "name", "type": "text" } ],
            "policies": { "select": [ { "roles": ["anon", "authenticated"], "using": "id > 0" } ] } },
          { "name": "notes", "columns": [
            { "name": "author_id", "type": "integer", "references": "authors.id" },
            { "name": "id", "type": "identity", "primary": true },
            { "name": "owner_id", "type": "uuid", "default": "auth.uid" },
            { "name": "title", "type": "text", "required": true },
            { "name": "published", "type": "boolean", "required": true, "default": false } ],
          "policies": {
            "select": [ { "roles": ["anon", "authenticated"], "using": "published = true" },
                        { "roles": ["authenticated"], "using": "owner_id = auth.uid" } ],
            "insert": "owner_id = auth.uid",
            "update": "owner_id = auth.uid",
            "delete": "owner_id = auth.uid" } } ] }"#,
    )
    .unwrap()
    .validate()
    .unwrap();
    Arc::new(SchemaSnapshot::new(Arc::new(schema), 1, Arc::from(Vec::new())))
}

fn check(method: &str, uri: &str, prefer: Option<&str>, body: &str, dialect: Dialect, expect: Expect) {
    let (path, query) = uri.split_once('?').map_or((uri, None), |(p, q)| (p, Some(q)));
    let mut headers = http::HeaderMap::new();
    if let Some(p) = prefer {
        headers.insert("prefer", p.parse().unwrap());
    }
    let method: http::Method = method.parse().unwrap();
    let req =
        api_request(&method, path, query, &headers, body.as_bytes(), &RequestLimits::default()).unwrap();
    let plan = action_plan(&req, &snapshot(), &PlanConfig::default()).unwrap();
    let auth = AuthContext {
        uid: Some("a0000000-0000-4000-8000-00000000000a".into()),
        role: "authenticated".into(),
        ..Default::default()
    };
    let schema = Ident::new("p_demo").unwrap();
    let target = SqlTarget { dialect, pg_schema: Some(&schema), role: Role::Authenticated, auth: &auth };
    let sql = build(&plan, &target).unwrap();
    let text: Vec<String> = sql
        .statements
        .iter()
        .map(|s| format!("{}{}", s.sql, if s.guard.is_some() { "  -- guard" } else { "" }))
        .collect();
    expect.assert_eq(&text.join("\n"));
}

#[test]
fn read_with_filters_order_and_count() {
    let uri = "/notes?select=id,title&or=(title.ilike.*a*,id.in.(1,2))&published=is.true&order=id.desc&limit=10&offset=5";
    check(
        "GET",
        uri,
        Some("count=exact"),
        "",
        Dialect::Postgres,
        expect![[r#"
        SELECT "id", "title" FROM "p_demo"."notes" WHERE "published" IS TRUE AND (("title" ILIKE $1) OR "id" IN ($2, $3)) ORDER BY "id" DESC NULLS FIRST LIMIT $4 OFFSET $5
        SELECT count(*) FROM "p_demo"."notes" WHERE "published" IS TRUE AND (("title" ILIKE $1) OR "id" IN ($2, $3))"#]],
    );
    check(
        "GET",
        uri,
        Some("count=exact"),
        "",
        Dialect::Sqlite,
        expect![[r#"
        SELECT "id", "title" FROM "notes" WHERE "published" IS TRUE AND ("title" LIKE ? OR "id" IN (?, ?)) AND ("published" = ? OR "owner_id" = ?) ORDER BY "id" DESC NULLS FIRST LIMIT ? OFFSET ?
        SELECT count(*) FROM "notes" WHERE "published" IS TRUE AND ("title" LIKE ? OR "id" IN (?, ?)) AND ("published" = ? OR "owner_id" = ?)"#]],
    );
}

#[test]
fn insert_fills_uid_and_guards_on_sqlite() {
    let body = r#"{"title": "hello"}"#;
    check(
        "POST",
        "/notes",
        Some("return=representation"),
        body,
        Dialect::Postgres,
        expect![[
            r#"INSERT INTO "p_demo"."notes" ("title") VALUES ($1) RETURNING "author_id", "id", "owner_id", "title", "published""#
        ]],
    );
    check(
        "POST",
        "/notes",
        Some("return=representation"),
        body,
        Dialect::Sqlite,
        expect![[r#"
            CREATE TEMP TABLE IF NOT EXISTS "_eb_written" ("k" integer)
            DELETE FROM "temp"."_eb_written"
            CREATE TEMP TABLE IF NOT EXISTS "_eb_recording" ("on" integer)
            CREATE TEMP TRIGGER IF NOT EXISTS "_eb_ins_notes" AFTER INSERT ON "notes" WHEN EXISTS (SELECT 1 FROM "_eb_recording") BEGIN INSERT INTO "_eb_written" ("k") VALUES (new.rowid); END
            INSERT INTO "temp"."_eb_recording" ("on") VALUES (1)
            INSERT INTO "notes" ("title", "owner_id") VALUES (?, ?) RETURNING "author_id", "id", "owner_id", "title", "published"
            DELETE FROM "temp"."_eb_recording"
            SELECT count(*) FROM "notes" WHERE "rowid" IN (SELECT "k" FROM "temp"."_eb_written") AND (NOT COALESCE("owner_id" = ?, ?))  -- guard"#]],
    );
}

#[test]
fn update_and_delete() {
    let body = r#"{"title": "x"}"#;
    check(
        "PATCH",
        "/notes?id=eq.3",
        None,
        body,
        Dialect::Postgres,
        expect![[r#"
        UPDATE "p_demo"."notes" SET "title" = $1 WHERE "id" = $2"#]],
    );
    check(
        "PATCH",
        "/notes?id=eq.3",
        None,
        body,
        Dialect::Sqlite,
        expect![[r#"
        CREATE TEMP TABLE IF NOT EXISTS "_eb_written" ("k" integer)
        DELETE FROM "temp"."_eb_written"
        INSERT INTO "temp"."_eb_written" ("k") SELECT "rowid" FROM "notes" WHERE "id" = ? AND "owner_id" = ? AND ("published" = ? OR "owner_id" = ?)
        UPDATE "notes" SET "title" = ? WHERE "rowid" IN (SELECT "k" FROM "temp"."_eb_written")
        SELECT count(*) FROM "notes" WHERE "rowid" IN (SELECT "k" FROM "temp"."_eb_written") AND (NOT COALESCE("owner_id" = ?, ?))  -- guard"#]],
    );
    check(
        "DELETE",
        "/notes/3",
        None,
        "",
        Dialect::Sqlite,
        expect![[r#"
            DELETE FROM "notes" WHERE "id" = ? AND "owner_id" = ? AND ("published" = ? OR "owner_id" = ?)
            SELECT changes() = 0  -- guard
            SELECT changes() > 1  -- guard"#]],
    );
}

#[test]
fn embedding_both_directions() {
    let uri = "/notes?select=id,writer:authors(name)";
    check(
        "GET",
        uri,
        None,
        "",
        Dialect::Postgres,
        expect![[
            r#"SELECT "id", (SELECT json_build_array("_eb_c0"."name") FROM "p_demo"."authors" AS "_eb_c0" WHERE "_eb_c0"."id" = "p_demo"."notes"."author_id" LIMIT $1) AS "_eb_embed_0" FROM "p_demo"."notes""#
        ]],
    );
    check(
        "GET",
        uri,
        None,
        "",
        Dialect::Sqlite,
        expect![[
            r#"SELECT "id", (SELECT json_array("_eb_c0"."name") FROM "authors" AS "_eb_c0" WHERE "_eb_c0"."id" = "notes"."author_id" AND "_eb_c0"."id" > ? LIMIT ?) AS "_eb_embed_0" FROM "notes" WHERE "published" = ? OR "owner_id" = ?"#
        ]],
    );
    let uri = "/authors?select=name,notes!inner(id,title)";
    check(
        "GET",
        uri,
        None,
        "",
        Dialect::Postgres,
        expect![[
            r#"SELECT "name", (SELECT coalesce(json_agg("r"), '[]') FROM (SELECT json_build_array("_eb_c0"."id", "_eb_c0"."title") AS "r" FROM "p_demo"."notes" AS "_eb_c0" WHERE "_eb_c0"."author_id" = "p_demo"."authors"."id" ORDER BY "_eb_c0"."id" ASC) AS "_eb_s0") AS "_eb_embed_0" FROM "p_demo"."authors" WHERE EXISTS(SELECT 1 FROM "p_demo"."notes" AS "_eb_c0" WHERE "_eb_c0"."author_id" = "p_demo"."authors"."id")"#
        ]],
    );
    check(
        "GET",
        uri,
        None,
        "",
        Dialect::Sqlite,
        expect![[
            r#"SELECT "name", (SELECT json_group_array(json("r")) FROM (SELECT json_array("_eb_c0"."id", "_eb_c0"."title") AS "r" FROM "notes" AS "_eb_c0" WHERE "_eb_c0"."author_id" = "authors"."id" AND ("_eb_c0"."published" = ? OR "_eb_c0"."owner_id" = ?) ORDER BY "_eb_c0"."id" ASC) AS "_eb_s0") AS "_eb_embed_0" FROM "authors" WHERE "id" > ? AND (SELECT 1 FROM "notes" AS "_eb_c0" WHERE "_eb_c0"."author_id" = "authors"."id" AND ("_eb_c0"."published" = ? OR "_eb_c0"."owner_id" = ?) LIMIT ?) IS NOT NULL"#
        ]],
    );
}

#[test]
fn singular_writes_roll_back_unless_one_row() {
    let check_accept = |dialect, expect: Expect| {
        let mut headers = http::HeaderMap::new();
        headers.insert("accept", "application/vnd.pgrst.object+json".parse().unwrap());
        let req = api_request(
            &http::Method::DELETE,
            "/notes",
            Some("id=gt.3"),
            &headers,
            b"",
            &RequestLimits::default(),
        )
        .unwrap();
        let plan = action_plan(&req, &snapshot(), &PlanConfig::default()).unwrap();
        let auth = AuthContext { role: "service_role".into(), ..Default::default() };
        let schema = Ident::new("p_demo").unwrap();
        let target = SqlTarget { dialect, pg_schema: Some(&schema), role: Role::Service, auth: &auth };
        let sql = build(&plan, &target).unwrap();
        let text: Vec<String> = sql.statements.iter().map(|s| s.sql.clone()).collect();
        expect.assert_eq(&text.join("\n"));
    };
    check_accept(
        Dialect::Postgres,
        expect![[
            r#"WITH "_eb_w" AS (DELETE FROM "p_demo"."notes" WHERE "id" > $1 RETURNING true AS "_eb_keep") , "_eb_n" AS (SELECT count(*) AS "c", count(*) FILTER (WHERE "_eb_keep") AS "k" FROM "_eb_w") SELECT "_eb_w".* FROM "_eb_n" LEFT JOIN "_eb_w" ON true WHERE CASE WHEN "_eb_n"."k" <> 1 THEN CAST('EB_NOT_SINGULAR ' || "_eb_n"."k" AS integer) = 0 ELSE coalesce("_eb_w"."_eb_keep", false) END"#
        ]],
    );
    check_accept(
        Dialect::Sqlite,
        expect![[r#"
        DELETE FROM "notes" WHERE "id" > ?
        SELECT changes() = 0
        SELECT changes() > 1"#]],
    );
}

#[test]
fn nested_embeds_and_write_answers_are_one_statement() {
    // Two levels, a spread and a related order: still one SELECT (no query per row).
    check(
        "GET",
        "/notes?select=id,writer:authors(name,notes(id))&order=writer(name).desc",
        None,
        "",
        Dialect::Postgres,
        expect![[
            r#"SELECT "id", (SELECT json_build_array("_eb_c0"."name", (SELECT coalesce(json_agg("r"), '[]') FROM (SELECT json_build_array("_eb_c1"."id") AS "r" FROM "p_demo"."notes" AS "_eb_c1" WHERE "_eb_c1"."author_id" = "_eb_c0"."id" ORDER BY "_eb_c1"."id" ASC) AS "_eb_s1")) FROM "p_demo"."authors" AS "_eb_c0" WHERE "_eb_c0"."id" = "p_demo"."notes"."author_id" LIMIT $1) AS "_eb_embed_0" FROM "p_demo"."notes" ORDER BY (SELECT "_eb_c0"."name" FROM "p_demo"."authors" AS "_eb_c0" WHERE "_eb_c0"."id" = "p_demo"."notes"."author_id" LIMIT $2) DESC NULLS FIRST"#
        ]],
    );
    // A write's answer with an embed: the embed is a subquery of RETURNING.
    check(
        "PATCH",
        "/notes?id=eq.3&select=id,...authors(name)",
        Some("return=representation"),
        r#"{"title": "x"}"#,
        Dialect::Sqlite,
        expect![[r#"
            CREATE TEMP TABLE IF NOT EXISTS "_eb_written" ("k" integer)
            DELETE FROM "temp"."_eb_written"
            INSERT INTO "temp"."_eb_written" ("k") SELECT "rowid" FROM "notes" WHERE "id" = ? AND "owner_id" = ? AND ("published" = ? OR "owner_id" = ?)
            UPDATE "notes" SET "title" = ? WHERE "rowid" IN (SELECT "k" FROM "temp"."_eb_written") RETURNING "id", (SELECT json_array("_eb_c0"."name") FROM "authors" AS "_eb_c0" WHERE "_eb_c0"."id" = "notes"."author_id" AND "_eb_c0"."id" > ? LIMIT ?)
            SELECT count(*) FROM "notes" WHERE "rowid" IN (SELECT "k" FROM "temp"."_eb_written") AND (NOT COALESCE("owner_id" = ?, ?))  -- guard"#]],
    );
}
