//! Every generator on arbitrary valid schemas: no panic, the same bytes twice, balanced
//! TypeScript, and an OpenAPI document that survives printing and parsing.

use easbase_codegen::openapi::{self, OpenApiOptions};
use easbase_codegen::{Options, endpoints, sdk, typescript};
use easbase_schema::Schema;
use proptest::prelude::*;
use serde_json::{Value, json};

const TYPES: [&str; 21] = [
    "uuid",
    "text",
    "varchar(12)",
    "smallint",
    "integer",
    "bigint",
    "decimal",
    "decimal(8,3)",
    "real",
    "double",
    "boolean",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "json",
    "jsonb",
    "bytes",
    "text[]",
    "mood",
    "mood[]",
];

const WORDS: [&str; 8] = ["name", "_hidden", "Price", "x1", "customer", "a_b", "aB", "__proto__"];

#[derive(Debug, Clone)]
struct ColumnSpec {
    word: usize,
    ty: usize,
    required: bool,
    comment: bool,
}

#[derive(Debug, Clone)]
struct TableSpec {
    word: usize,
    identity: bool,
    composite: bool,
    refers: bool,
    timestamps: bool,
    columns: Vec<ColumnSpec>,
}

fn column() -> impl Strategy<Value = ColumnSpec> {
    (0..WORDS.len(), 0..TYPES.len(), any::<bool>(), any::<bool>())
        .prop_map(|(word, ty, required, comment)| ColumnSpec { word, ty, required, comment })
}

fn table() -> impl Strategy<Value = TableSpec> {
    (
        0..WORDS.len(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(column(), 0..6),
    )
        .prop_map(|(word, identity, composite, refers, timestamps, columns)| TableSpec {
            word,
            identity,
            composite,
            refers,
            timestamps,
            columns,
        })
}

/// A schema description from the specs: unique names by position, a primary key (an
/// identity, a uuid, or two columns), and optionally a foreign key to the previous table.
fn describe(tables: &[TableSpec]) -> Value {
    let mut out = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let mut columns = Vec::new();
        if t.composite {
            columns.push(json!({ "name": "k1", "type": "integer" }));
            columns.push(json!({ "name": "k2", "type": "text" }));
        } else {
            let ty = if t.identity { "identity" } else { "uuid" };
            columns.push(json!({ "name": "id", "type": ty, "primary": true }));
        }
        if t.refers && ti > 0 && !tables[ti - 1].composite {
            let ty = if tables[ti - 1].identity { "bigint" } else { "uuid" };
            columns.push(json!({ "name": "parent_id", "type": ty, "references": format!("t{}_{}", ti - 1, WORDS[tables[ti - 1].word]) }));
        }
        for (ci, c) in t.columns.iter().enumerate() {
            let mut col = json!({ "name": format!("c{ci}_{}", WORDS[c.word]), "type": TYPES[c.ty], "required": c.required });
            if c.comment {
                col["comment"] = json!("a */ comment\nwith \"two\" lines");
            }
            columns.push(col);
        }
        let mut table = json!({ "name": format!("t{ti}_{}", WORDS[t.word]), "columns": columns, "timestamps": t.timestamps });
        if t.composite {
            table["primary_key"] = json!(["k1", "k2"]);
        }
        out.push(table);
    }
    json!({ "enums": [ { "name": "mood", "values": ["happy", "it's \"sad\"", "😀"] } ], "tables": out })
}

/// `{` and `}` balance outside string literals and comments.
fn balanced(ts: &str) -> bool {
    let mut depth = 0i64;
    for line in ts.lines() {
        let code = line.trim_start();
        if code.starts_with("//") || code.starts_with("/*") || code.starts_with('*') {
            continue;
        }
        let mut in_string = false;
        let mut escaped = false;
        for ch in code.chars() {
            match (in_string, escaped, ch) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (_, false, '"') => in_string = !in_string,
                (false, _, '{') => depth += 1,
                (false, _, '}') => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                return false;
            }
        }
    }
    depth == 0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generators_are_total_and_deterministic(tables in prop::collection::vec(table(), 0..5)) {
        let text = describe(&tables).to_string();
        let schema = Schema::from_json(&text).unwrap();
        let valid = match schema.validate() {
            Ok(v) => v,
            Err(errors) => panic!("the generator made an invalid schema: {errors}\n{text}"),
        };
        let o = Options::default();
        let types = typescript::database_types(&valid, &o);
        prop_assert_eq!(&types, &typescript::database_types(&valid, &o));
        prop_assert!(balanced(&types), "unbalanced:\n{}", types);
        let module = sdk::typescript(&valid, &o);
        prop_assert_eq!(&module, &sdk::typescript(&valid, &o));
        prop_assert!(balanced(&module), "unbalanced:\n{}", module);
        for t in valid.tables() {
            let key = format!("\n      {}: {{\n        Row: {{\n", t.name.as_str());
            prop_assert!(types.contains(&key), "no {}", t.name.as_str());
        }

        let doc = openapi::document(&valid, &OpenApiOptions::default());
        let printed = openapi::to_json(&doc);
        prop_assert_eq!(&printed, &openapi::to_json(&openapi::document(&valid, &OpenApiOptions::default())));
        let parsed: Value = serde_json::from_str(&printed).unwrap();
        prop_assert_eq!(&parsed, &doc);
        prop_assert_eq!(doc["paths"].as_object().unwrap().len(),
            valid.tables().iter().map(|t| if t.primary_key.len() == 1 { 2 } else { 1 }).sum::<usize>());

        let list = endpoints::listing(&valid, "/rest/v1");
        prop_assert_eq!(list.len(), 5 * valid.tables().len());
    }
}
