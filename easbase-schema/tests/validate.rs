//! Validation: every rule a user can break, with its path and kind; all errors reported at
//! once; no input panics.

use easbase_schema::{Dialect, ErrorKind as K, Schema};
use proptest::prelude::*;

/// Validates `json` and returns `(path, kind)` of every error.
fn errors(json: &str) -> Vec<(String, K)> {
    let schema = Schema::from_json(json).unwrap_or_else(|e| panic!("{e}\n{json}"));
    match schema.validate() {
        Ok(valid) => {
            let mut out = Vec::new();
            for d in Dialect::ALL {
                if let Err(e) = easbase_schema::validate::check_dialect(&valid, d) {
                    out.extend(e.iter().map(|e| (e.path.clone(), e.kind)));
                }
            }
            out
        }
        Err(e) => e.iter().map(|e| (e.path.clone(), e.kind)).collect(),
    }
}

/// One table named `t` with an `id` primary key and the given extra columns / fields.
fn table(extra_columns: &str, extra_fields: &str) -> String {
    let cols = if extra_columns.is_empty() { String::new() } else { format!(", {extra_columns}") };
    let fields = if extra_fields.is_empty() { String::new() } else { format!(", {extra_fields}") };
    format!(
        r#"{{ "tables": [ {{ "name": "t", "columns": [ {{ "name": "id", "type": "integer", "primary": true }}{cols} ]{fields} }} ] }}"#
    )
}

fn assert_error(json: &str, path: &str, kind: K) {
    let errs = errors(json);
    assert!(
        errs.iter().any(|(p, k)| p == path && *k == kind),
        "expected {kind:?} at {path}, got {errs:?}\n{json}"
    );
}

#[test]
fn the_seed_products_table_is_valid() {
    let json = r#"{ "tables": [ { "name": "products", "columns": [ { "name": "id", "type": "uuid", "primary": true },
      { "name": "name", "type": "text", "required": true }, { "name": "price", "type": "decimal" } ] } ] }"#;
    assert_eq!(errors(json), []);
}

#[test]
fn each_rule_has_a_named_error_at_its_path() {
    let cases: Vec<(String, &str, K)> = vec![
        // identifiers
        (table(r#"{ "name": "1abc", "type": "text" }"#, ""), "tables[0].columns[1].name", K::InvalidIdentifier),
        (table(r#"{ "name": "a-b", "type": "text" }"#, ""), "tables[0].columns[1].name", K::InvalidIdentifier),
        (table(r#"{ "name": "a\"; drop table x; --", "type": "text" }"#, ""), "tables[0].columns[1].name", K::InvalidIdentifier),
        (table(&format!(r#"{{ "name": "{}", "type": "text" }}"#, "a".repeat(64)), ""), "tables[0].columns[1].name", K::IdentifierTooLong),
        (table(r#"{ "name": "select", "type": "text" }"#, ""), "tables[0].columns[1].name", K::ReservedWord),
        (table(r#"{ "name": "Order", "type": "text" }"#, ""), "tables[0].columns[1].name", K::ReservedWord),
        (r#"{ "tables": [ { "name": "user", "columns": [ { "name": "id", "type": "integer", "primary": true } ] } ] }"#.into(), "tables[0].name", K::ReservedWord),
        (r#"{ "tables": [ { "name": "_easbase_x", "columns": [ { "name": "id", "type": "integer", "primary": true } ] } ] }"#.into(), "tables[0].name", K::ReservedWord),
        // duplicates
        (r#"{ "tables": [ { "name": "a", "columns": [ { "name": "id", "type": "integer", "primary": true } ] },
                           { "name": "A", "columns": [ { "name": "id", "type": "integer", "primary": true } ] } ] }"#.into(), "tables[1].name", K::DuplicateTable),
        (table(r#"{ "name": "x", "type": "text" }, { "name": "x", "type": "text" }"#, ""), "tables[0].columns[2].name", K::DuplicateColumn),
        (table(r#"{ "name": "x", "type": "text" }"#, r#""indexes": [ { "name": "i", "columns": ["id"] }, { "name": "i", "columns": ["x"] } ]"#), "tables[0].indexes", K::DuplicateIndex),
        (r#"{ "enums": [ { "name": "e", "values": ["a", "a"] } ], "tables": [] }"#.into(), "enums[0].values[1]", K::DuplicateEnum),
        (r#"{ "enums": [ { "name": "text", "values": ["a"] } ], "tables": [] }"#.into(), "enums[0].name", K::DuplicateEnum),
        // primary keys
        (r#"{ "tables": [ { "name": "t", "columns": [ { "name": "x", "type": "text" } ] } ] }"#.into(), "tables[0].columns", K::MissingPrimaryKey),
        (table(r#"{ "name": "x", "type": "integer", "primary": true }"#, ""), "tables[0].columns[1].primary", K::DoubledPrimaryKey),
        (table(r#"{ "name": "x", "type": "integer" }"#, r#""primary_key": ["id", "x"]"#), "tables[0].columns[0].primary", K::DoubledPrimaryKey),
        (r#"{ "tables": [ { "name": "t", "columns": [ { "name": "x", "type": "text" } ], "primary_key": ["y"] } ] }"#.into(), "tables[0].primary_key[0]", K::UnknownColumn),
        // types
        (table(r#"{ "name": "x", "type": "varchar(abc)" }"#, ""), "tables[0].columns[1].type", K::UnknownType),
        (table(r#"{ "name": "x", "type": "money" }"#, ""), "tables[0].columns[1].type", K::UnknownType),
        (table(r#"{ "name": "x", "type": "decimal(3,5)" }"#, ""), "tables[0].columns[1].type", K::UnknownType),
        (table(r#"{ "name": "x", "type": "integer[][]" }"#, ""), "tables[0].columns[1].type", K::UnknownType),
        (table(r#"{ "name": "x", "type": "identity" }"#, ""), "tables[0].columns[1].type", K::Invalid),
        // dialects
        (table(r#"{ "name": "x", "type": "text[]" }"#, ""), "tables[0].columns[1].type", K::UnsupportedByDialect),
        (table(r#"{ "name": "x", "type": "text", "unique": true }"#, ""), "tables[0].columns[1].type", K::UnsupportedByDialect),
        (table(r#"{ "name": "x", "type": "integer" }"#, r#""indexes": [ { "columns": ["x"], "where": "x > 1" } ]"#), "tables[0].indexes[0].where", K::UnsupportedByDialect),
        // foreign keys
        (table(r#"{ "name": "x", "type": "integer", "references": "nope.id" }"#, ""), "tables[0].columns[1].references", K::UnknownTable),
        (table(r#"{ "name": "x", "type": "integer", "references": "t.nope" }"#, ""), "tables[0].columns[1].references", K::UnknownColumn),
        (table(r#"{ "name": "x", "type": "text", "references": "t.id" }"#, ""), "tables[0].columns[1].references", K::ForeignKeyTypeMismatch),
        (table(r#"{ "name": "x", "type": "integer" }, { "name": "y", "type": "integer", "references": "t.x" }"#, ""), "tables[0].columns[2].references", K::ForeignKeyTarget),
        (table(r#"{ "name": "x", "type": "integer", "required": true, "references": { "table": "t", "on_delete": "set_null" } }"#, ""), "tables[0].columns[1].references", K::Invalid),
        (table(r#"{ "name": "x", "type": "integer" }"#, r#""foreign_keys": [ { "columns": ["x", "id"], "references": "t" } ]"#), "tables[0].foreign_keys[0]", K::ForeignKeyTarget),
        // defaults
        (table(r#"{ "name": "x", "type": "integer", "default": "abc" }"#, ""), "tables[0].columns[1].default", K::InvalidDefault),
        (table(r#"{ "name": "x", "type": "smallint", "default": 70000 }"#, ""), "tables[0].columns[1].default", K::InvalidDefault),
        (table(r#"{ "name": "x", "type": "boolean", "default": 1 }"#, ""), "tables[0].columns[1].default", K::InvalidDefault),
        (table(r#"{ "name": "x", "type": "uuid", "default": "not-a-uuid" }"#, ""), "tables[0].columns[1].default", K::InvalidDefault),
        (table(r#"{ "name": "x", "type": "varchar(2)", "default": "abc" }"#, ""), "tables[0].columns[1].default", K::InvalidDefault),
        (table(r#"{ "name": "x", "type": "integer", "default": "now()" }"#, ""), "tables[0].columns[1].default", K::InvalidDefault),
        (table(r#"{ "name": "x", "type": "date", "default": "2024-13-40" }"#, ""), "tables[0].columns[1].default", K::InvalidDefault),
        (r#"{ "enums": [ { "name": "e", "values": ["a"] } ], "tables": [ { "name": "t", "columns": [
            { "name": "id", "type": "integer", "primary": true }, { "name": "x", "type": "e", "default": "b" } ] } ] }"#.into(),
            "tables[0].columns[1].default", K::InvalidDefault),
        // policies and checks
        (table("", r#""policies": { "select": "owner = = 1" }"#), "tables[0].policies.select", K::PolicySyntax),
        (table("", r#""policies": { "select": "owner_id = auth.uid" }"#), "tables[0].policies.select", K::UnknownColumn),
        (table(r#"{ "name": "x", "type": "integer", "check": "x > auth.uid" }"#, ""), "tables[0].columns[1].check", K::PolicyInvalid),
        (table("", r#""checks": ["nope > 1"]"#), "tables[0].checks[0].expr", K::UnknownColumn),
        (table("", r#""policies": { "insert": [ { "using": "id = 1" } ] }"#), "tables[0].policies.insert[0].using", K::PolicyInvalid),
        (table("", r#""policies": { "select": [ { "roles": ["service"], "using": "true" } ] }"#), "tables[0].policies.select[0].roles", K::PolicyInvalid),
        (table("", r#""indexes": [ { "columns": ["id"], "where": "nope = 1" } ]"#), "tables[0].indexes[0].where", K::UnknownColumn),
        (r#"{ "enums": [ { "name": "e", "values": ["a"] } ], "tables": [ { "name": "t", "columns": [
            { "name": "id", "type": "integer", "primary": true }, { "name": "x", "type": "e" } ],
            "policies": { "select": "x = 'zz'" } } ] }"#.into(), "tables[0].policies.select", K::PolicyInvalid),
        // structure
        (r#"{ "tables": [ { "name": "t", "columns": [] } ] }"#.into(), "tables[0].columns", K::Invalid),
        (table(r#"{ "name": "created_at", "type": "timestamptz" }"#, r#""timestamps": true"#), "tables[0].timestamps", K::DuplicateColumn),
    ];
    for (json, path, kind) in &cases {
        assert_error(json, path, *kind);
    }
}

#[test]
fn all_errors_are_reported_not_only_the_first() {
    let json = r#"{ "tables": [
      { "name": "a", "columns": [ { "name": "id", "type": "nope" } ] },
      { "name": "b", "columns": [ { "name": "id", "type": "integer", "primary": true },
                                   { "name": "select", "type": "text" },
                                   { "name": "c", "type": "integer", "references": "zzz.id", "default": "x" } ],
        "policies": { "select": "c == ", "delete": "q = 1" } } ] }"#;
    let errs = Schema::from_json(json).unwrap().validate().unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    for p in [
        "tables[0].columns[0].type",
        "tables[0].columns",
        "tables[1].columns[1].name",
        "tables[1].columns[2].default",
        "tables[1].policies.select",
        "tables[1].policies.delete",
        "tables[1].columns[2].references",
    ] {
        assert!(paths.contains(&p), "missing {p} in {paths:?}");
    }
    // Messages are sentences a person understands.
    let text = errs.to_string();
    assert!(text.contains("unknown type `nope`"), "{text}");
    assert!(text.contains("references unknown table `zzz`"), "{text}");
}

#[test]
fn policy_syntax_errors_carry_the_position() {
    let errs = Schema::from_json(&table("", r#""policies": { "select": "id = = 1" }"#))
        .unwrap()
        .validate()
        .unwrap_err();
    let msg = &errs.iter().next().unwrap().message;
    assert!(msg.contains("column 6"), "{msg}");
}

#[test]
fn toml_and_json_describe_the_same_schema() {
    let json = Schema::from_json(
        r#"{ "tables": [ { "name": "products", "columns": [ { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
        { "name": "name", "type": "text", "required": true }, { "name": "price", "type": "decimal(10,2)", "default": 0 } ],
        "policies": { "select": "true" } } ] }"#,
    )
    .unwrap();
    let toml = Schema::from_toml(
        r#"
[[tables]]
name = "products"
policies = { select = "true" }
columns = [
  { name = "id", type = "uuid", primary = true, default = "gen_random_uuid()" },
  { name = "name", type = "text", required = true },
  { name = "price", type = "decimal(10,2)", default = 0 },
]
"#,
    )
    .unwrap();
    assert_eq!(json, toml);
    // And they round-trip through their own serializers.
    assert_eq!(Schema::from_json(&json.to_json()).unwrap(), json);
    assert_eq!(Schema::from_toml(&toml.to_toml().unwrap()).unwrap(), toml);
}

#[test]
fn unknown_fields_are_refused_with_their_name() {
    let err = Schema::from_json(r#"{ "tables": [ { "name": "t", "colums": [] } ] }"#).unwrap_err();
    assert!(err.to_string().contains("colums"), "{err}");
}

#[test]
fn the_committed_json_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.json");
    let fresh = easbase_schema::json_schema();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "easbase-schema/schema.json is stale: run `UPDATE_EXPECT=1 cargo test -p easbase-schema --test validate`"
    );
}

#[test]
fn the_json_schema_accepts_the_fixture_shape() {
    let schema: serde_json::Value = serde_json::from_str(&easbase_schema::json_schema()).unwrap();
    let props = &schema["properties"];
    assert!(props.get("tables").is_some() && props.get("enums").is_some(), "{schema}");
    let text = schema.to_string();
    for needle in ["primary_key", "renamed_from", "policies", "timestamps", "ColumnType"] {
        assert!(text.contains(needle), "{needle}");
    }
}

// ---- no input panics -------------------------------------------------------------------

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id".to_owned()),
        Just("t".to_owned()),
        Just("select".to_owned()),
        Just("".to_owned()),
        "[a-z_]{1,8}",
        ".{0,70}",
    ]
}

fn arb_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("uuid".to_owned()),
        Just("integer".to_owned()),
        Just("identity".to_owned()),
        Just("text[]".to_owned()),
        Just("decimal(10,2)".to_owned()),
        Just("e".to_owned()),
        ".{0,20}",
    ]
}

fn arb_json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("now()")),
        Just(serde_json::Value::from("auth.uid")),
    ]
}

fn arb_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id = auth.uid".to_owned()),
        Just("x in ('a', 1)".to_owned()),
        "(id|x|auth\\.uid|auth\\.claims\\.a|=|!=|<|and|or|not|\\(|\\)|'s'|1|true|null|is| ){0,12}",
        ".{0,30}",
    ]
}

prop_compose! {
    fn arb_column()(name in arb_name(), ty in arb_type(), primary in any::<bool>(), required in any::<bool>(),
                    unique in any::<bool>(), default in proptest::option::of(arb_json_value()),
                    references in proptest::option::of(arb_name()), check in proptest::option::of(arb_expr()))
                    -> serde_json::Value {
        let mut c = serde_json::json!({ "name": name, "type": ty, "primary": primary, "required": required, "unique": unique });
        if let Some(d) = default { c["default"] = d; }
        if let Some(r) = references { c["references"] = serde_json::Value::from(r); }
        if let Some(k) = check { c["check"] = serde_json::Value::from(k); }
        c
    }
}

prop_compose! {
    fn arb_table()(name in arb_name(), columns in proptest::collection::vec(arb_column(), 0..5),
                   select in proptest::option::of(arb_expr()), update in proptest::option::of(arb_expr()),
                   index in proptest::option::of(proptest::collection::vec(arb_name(), 0..3)),
                   pk in proptest::collection::vec(arb_name(), 0..2), timestamps in any::<bool>())
                   -> serde_json::Value {
        let mut t = serde_json::json!({ "name": name, "columns": columns, "timestamps": timestamps, "primary_key": pk });
        if let Some(s) = select { t["policies"]["select"] = s.into(); }
        if let Some(u) = update { t["policies"]["update"] = u.into(); }
        if let Some(i) = index { t["indexes"] = serde_json::json!([{ "columns": i, "where": "id > 1" }]); }
        t
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Arbitrary descriptions validate or fail with errors, and valid ones generate DDL for
    /// every dialect (or dialect errors), without panicking.
    #[test]
    fn arbitrary_descriptions_never_panic(tables in proptest::collection::vec(arb_table(), 0..4)) {
        let json = serde_json::json!({ "enums": [ { "name": "e", "values": ["a", "b"] } ], "tables": tables }).to_string();
        if let Ok(schema) = Schema::from_json(&json) {
            match schema.validate() {
                Ok(valid) => {
                    for d in Dialect::ALL {
                        let _ = easbase_schema::ddl::generate(&valid, d, &Default::default());
                    }
                }
                Err(errors) => prop_assert!(!errors.is_empty()),
            }
        }
    }

    /// Arbitrary text as a schema file is an error, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = Schema::from_json(&text);
        let _ = Schema::from_toml(&text);
    }
}
