//! Introspection: PostgreSQL schemas read back into descriptions. The shop fixture makes a
//! round trip (description → DDL → database → description), and a schema written in plain
//! SQL reads back into the description expected of it.

mod common;

use easbase_schema::ddl;
use easbase_schema::introspect::{Introspection, introspect_postgres};
use easbase_schema::{Dialect, ErrorKind, Schema, ValidSchema};
use expect_test::expect;

fn shop() -> Schema {
    Schema::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shop.json")).unwrap()
}

async fn run_ddl(pg: &common::PgScratch, valid: &ValidSchema) {
    let ddl = ddl::generate(valid, Dialect::Postgres, &pg.ddl_options()).unwrap_or_else(|e| panic!("{e}"));
    for s in &ddl.statements {
        pg.client.batch_execute(&s.sql).await.unwrap_or_else(|e| panic!("{e:?}\n{}", s.sql));
    }
}

async fn introspect(pg: &common::PgScratch) -> Introspection {
    introspect_postgres(&pg.client, &pg.schema).await.unwrap_or_else(|e| panic!("{e}"))
}

/// What a round trip must keep, one line per fact: enums, and per table its comment,
/// columns (name, type, nullability, default, comment), keys, foreign keys with actions
/// and declared indexes. Policies and checks are left out (they are SQL in the database
/// and are not read back); policy indexes are listed on their own.
fn summary(valid: &ValidSchema) -> Vec<String> {
    let mut out = Vec::new();
    let mut enums: Vec<_> = valid.enums().iter().collect();
    enums.sort_by(|a, b| a.name.cmp(&b.name));
    for e in enums {
        out.push(format!("enum {} {:?} comment={:?}", e.name, e.values, e.comment));
    }
    let mut tables: Vec<_> = valid.tables().iter().collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    for t in tables {
        out.push(format!("table {} comment={:?} timestamps={}", t.name, t.comment, t.timestamps));
        for c in &t.columns {
            out.push(format!(
                "  column {} {} nullable={} default={} auto_update={} comment={:?}",
                c.name,
                c.ty,
                c.nullable,
                serde_json::to_string(&c.default).unwrap(),
                c.auto_update,
                c.comment
            ));
        }
        out.push(format!("  primary key {:?}", t.primary_key.iter().map(|c| c.as_str()).collect::<Vec<_>>()));
        let mut lines = Vec::new();
        for u in &t.uniques {
            lines.push(format!(
                "  unique {} {:?}",
                u.name,
                u.columns.iter().map(|c| c.as_str()).collect::<Vec<_>>()
            ));
        }
        for f in &t.foreign_keys {
            lines.push(format!(
                "  foreign key {} {:?} -> {} {:?} on delete {:?} on update {:?}",
                f.name,
                f.columns.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                f.table,
                f.referenced.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                f.on_delete,
                f.on_update
            ));
        }
        for i in &t.indexes {
            let kind = if i.for_policy || i.name.as_str().ends_with("_policy_idx") {
                "policy index"
            } else {
                "index"
            };
            lines.push(format!(
                "  {kind} {} {:?} unique={} partial={}",
                i.name,
                i.columns.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                i.unique,
                i.predicate.is_some()
            ));
        }
        lines.sort();
        out.extend(lines);
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn the_shop_makes_a_round_trip() {
    let pg = common::PgScratch::new().await;
    let original = shop().validate().unwrap_or_else(|e| panic!("{e}"));
    run_ddl(&pg, &original).await;

    let found = introspect(&pg).await;
    let valid = found.schema.validate().unwrap_or_else(|e| panic!("{e}\n{}", found.schema.to_json()));
    assert_eq!(summary(&valid), summary(&original), "\n{}", found.schema.to_json());
    assert!(valid.tables().iter().all(|t| t.policies.is_empty() && t.checks.is_empty()));

    // The comparison is strict: one wrong type, default or action shows.
    let mut changed = shop();
    changed.tables[2].columns[7].ty = "real".parse().unwrap(); // products.weight: double
    assert_ne!(summary(&changed.validate().unwrap()), summary(&original));
    let mut changed = shop();
    changed.tables[0].columns[0].references.as_mut().unwrap().on_delete = Default::default();
    assert_ne!(summary(&changed.validate().unwrap()), summary(&original));

    expect![[r#"
        table `customers`: 5 row policies are left out: SQL cannot be turned back into the policy language
        table `events`: 1 row policy is left out: SQL cannot be turned back into the policy language
        table `order_items`: check constraint `order_items_quantity_check` (CHECK ((quantity > 0))) is SQL and is not translated to the policy language
        table `order_items`: 2 row policies are left out: SQL cannot be turned back into the policy language
        table `orders`: check constraint `orders_note_check` (CHECK ((note <> ''::text))) is SQL and is not translated to the policy language
        table `orders`: 3 row policies are left out: SQL cannot be turned back into the policy language
        table `products`: check constraint `products_check1` (CHECK ((price >= (0)::numeric))) is SQL and is not translated to the policy language
        table `products`: check constraint `products_stock_check` (CHECK ((stock >= 0))) is SQL and is not translated to the policy language
        table `products`: 3 row policies are left out: SQL cannot be turned back into the policy language"#]]
    .assert_eq(&found.warnings.join("\n"));

    // A fixed point: the description read back, created again and read again, is the same.
    let again = common::PgScratch::new().await;
    run_ddl(&again, &valid).await;
    let second = introspect(&again).await;
    assert_eq!(second.schema, found.schema);
    again.drop().await;
    pg.drop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_schema_written_in_sql_reads_back() {
    let pg = common::PgScratch::new().await;
    let s = &pg.schema;
    pg.client
        .batch_execute(&format!(
            r#"
            CREATE TYPE {s}.mood AS ENUM ('sad', 'ok', 'happy');
            COMMENT ON TYPE {s}.mood IS 'How it feels';
            CREATE TABLE {s}.authors (
              id serial PRIMARY KEY,
              name text NOT NULL,
              email varchar(320) NOT NULL UNIQUE,
              tags text[] NOT NULL DEFAULT '{{}}',
              mood {s}.mood DEFAULT 'ok',
              score numeric(5,1) DEFAULT -1.5,
              lucky double precision DEFAULT random(),
              lang char(2),
              joined timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
            );
            COMMENT ON TABLE {s}.authors IS 'Who writes';
            COMMENT ON COLUMN {s}.authors.lucky IS 'A random number';
            CREATE TABLE {s}.books (
              author_id bigint NOT NULL REFERENCES {s}.authors (id) ON DELETE CASCADE,
              seq integer NOT NULL,
              title varchar(200) NOT NULL,
              price numeric,
              published boolean NOT NULL DEFAULT false,
              PRIMARY KEY (author_id, seq),
              UNIQUE (author_id, title)
            );
            CREATE INDEX books_title_idx ON {s}.books (title);
            CREATE TABLE {s}.reviews (
              id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
              author_id bigint,
              book_seq integer,
              stars smallint NOT NULL DEFAULT 5 CHECK (stars BETWEEN 1 AND 5),
              body jsonb DEFAULT '{{"text": ""}}',
              scores integer[] DEFAULT '{{1,2}}',
              CONSTRAINT reviews_book FOREIGN KEY (author_id, book_seq) REFERENCES {s}.books (author_id, seq)
                ON UPDATE CASCADE ON DELETE SET NULL
            );
            CREATE UNIQUE INDEX reviews_one_per_book ON {s}.reviews (author_id, book_seq, stars);
            CREATE INDEX reviews_good ON {s}.reviews (stars) WHERE stars > 3;
            CREATE VIEW {s}.titles AS SELECT title FROM {s}.books;
            CREATE TABLE {s}._easbase_migrations (version integer PRIMARY KEY);
            "#
        ))
        .await
        .unwrap();

    let found = introspect(&pg).await;
    expect![[r#"
        {
          "enums": [
            {
              "name": "mood",
              "values": [
                "sad",
                "ok",
                "happy"
              ],
              "comment": "How it feels"
            }
          ],
          "tables": [
            {
              "name": "authors",
              "columns": [
                {
                  "name": "id",
                  "type": "identity",
                  "primary": true
                },
                {
                  "name": "name",
                  "type": "text",
                  "required": true
                },
                {
                  "name": "email",
                  "type": "varchar(320)",
                  "required": true,
                  "unique": true
                },
                {
                  "name": "tags",
                  "type": "text[]",
                  "required": true,
                  "default": []
                },
                {
                  "name": "mood",
                  "type": "mood",
                  "default": "ok"
                },
                {
                  "name": "score",
                  "type": "decimal(5,1)",
                  "default": -1.5
                },
                {
                  "name": "lucky",
                  "type": "double",
                  "comment": "A random number"
                },
                {
                  "name": "lang",
                  "type": "character(2)"
                },
                {
                  "name": "joined",
                  "type": "timestamptz",
                  "required": true,
                  "default": "now()"
                }
              ],
              "comment": "Who writes"
            },
            {
              "name": "books",
              "columns": [
                {
                  "name": "author_id",
                  "type": "bigint",
                  "references": {
                    "table": "authors",
                    "column": "id",
                    "on_delete": "cascade",
                    "on_update": "no_action"
                  }
                },
                {
                  "name": "seq",
                  "type": "integer"
                },
                {
                  "name": "title",
                  "type": "varchar(200)",
                  "required": true
                },
                {
                  "name": "price",
                  "type": "decimal"
                },
                {
                  "name": "published",
                  "type": "boolean",
                  "required": true,
                  "default": false
                }
              ],
              "primary_key": [
                "author_id",
                "seq"
              ],
              "unique": [
                [
                  "author_id",
                  "title"
                ]
              ],
              "indexes": [
                {
                  "name": "books_title_idx",
                  "columns": [
                    "title"
                  ]
                }
              ]
            },
            {
              "name": "reviews",
              "columns": [
                {
                  "name": "id",
                  "type": "uuid",
                  "primary": true,
                  "default": "gen_random_uuid()"
                },
                {
                  "name": "author_id",
                  "type": "bigint"
                },
                {
                  "name": "book_seq",
                  "type": "integer"
                },
                {
                  "name": "stars",
                  "type": "smallint",
                  "required": true,
                  "default": 5
                },
                {
                  "name": "body",
                  "type": "jsonb",
                  "default": {
                    "text": ""
                  }
                },
                {
                  "name": "scores",
                  "type": "integer[]",
                  "default": [
                    1,
                    2
                  ]
                }
              ],
              "foreign_keys": [
                {
                  "name": "reviews_book",
                  "columns": [
                    "author_id",
                    "book_seq"
                  ],
                  "references": "books",
                  "referenced_columns": [
                    "author_id",
                    "seq"
                  ],
                  "on_delete": "set_null",
                  "on_update": "cascade"
                }
              ],
              "indexes": [
                {
                  "name": "reviews_one_per_book",
                  "columns": [
                    "author_id",
                    "book_seq",
                    "stars"
                  ],
                  "unique": true
                }
              ]
            }
          ]
        }"#]]
    .assert_eq(&found.schema.to_json());
    expect![[r#"
        table `authors`: column `id`: integer serial is read as `identity` (a bigint)
        table `authors`: column `lucky`: default `random()` is not read back
        table `reviews`: check constraint `reviews_stars_check` (CHECK (((stars >= 1) AND (stars <= 5)))) is SQL and is not translated to the policy language
        table `reviews`: index `reviews_good` is partial (its predicate is SQL) and is left out: CREATE INDEX reviews_good ON <schema>.reviews USING btree (stars) WHERE (stars > 3)
        view `titles` is not part of the description"#]]
    .assert_eq(&found.warnings.join("\n").replace(s.as_str(), "<schema>"));

    // Validation reports what EasBase cannot describe: here only the `character(2)` type.
    let errors = found.schema.validate().unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    assert!(errors.contains("tables[0].columns[7].type", ErrorKind::UnknownType), "{errors}");
    pg.drop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_empty_schema_has_no_tables_and_a_missing_one_is_an_error() {
    let pg = common::PgScratch::new().await;
    let found = introspect(&pg).await;
    assert_eq!(found.schema, Schema::default());
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);

    let missing = format!("{}_missing", pg.schema);
    let err = introspect_postgres(&pg.client, &missing).await.unwrap_err();
    assert_eq!(err.code(), "database");
    assert_eq!(
        err.to_string(),
        format!("database error: there is no schema named `{missing}` in the database")
    );
    pg.drop().await;
}
