//! The `easbase` binary, run as a process.

use std::path::PathBuf;
use std::process::{Command, Output};

fn easbase(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_easbase")).args(args).output().expect("run easbase")
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Writes `content` to a fresh temporary file named `name`.
fn file(name: &str, content: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("easbase-cli-{}-{}", std::process::id(), name.replace('.', "-")));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

const PRODUCTS: &str = r#"{ "tables": [ { "name": "products", "columns": [
  { "name": "id", "type": "uuid", "primary": true },
  { "name": "name", "type": "text", "required": true },
  { "name": "price", "type": "decimal" } ] } ] }"#;

#[test]
fn check_accepts_a_valid_file() {
    let path = file("products.json", PRODUCTS);
    let out = easbase(&["schema", "check", path.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok (1 table(s))"), "{stdout}");
}

#[test]
fn check_reports_every_error_with_its_path_and_fails() {
    let path = file(
        "bad.json",
        r#"{ "tables": [ { "name": "t", "columns": [ { "name": "id", "type": "nope", "primary": true },
           { "name": "select", "type": "text", "references": "missing.id" } ] } ] }"#,
    );
    let out = easbase(&["schema", "check", path.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for needle in
        ["tables[0].columns[0].type", "tables[0].columns[1].name", "tables[0].columns[1].references"]
    {
        assert!(stderr.contains(needle), "missing {needle} in {stderr}");
    }
    let out = easbase(&["schema", "check", "--json", path.to_str().unwrap()]);
    let errors: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(errors.as_array().unwrap().len() >= 3, "{errors}");
    assert_eq!(errors[0]["kind"], "unknown_type");
}

#[test]
fn check_reports_dialect_limits() {
    let path = file(
        "arrays.toml",
        "[[tables]]\nname = \"t\"\ncolumns = [ { name = \"id\", type = \"integer\", primary = true }, { name = \"tags\", type = \"text[]\" } ]\n",
    );
    let out = easbase(&["schema", "check", path.to_str().unwrap(), "--dialect", "postgres"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = easbase(&["schema", "check", path.to_str().unwrap(), "--dialect", "sqlite"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("[sqlite]"), "{:?}", text(&out));
}

#[test]
fn sql_prints_ddl_per_dialect() {
    let path = file("products2.json", PRODUCTS);
    let p = path.to_str().unwrap();
    let (pg, _) = text(&easbase(&["schema", "sql", "--dialect", "postgres", p]));
    assert!(pg.contains(r#"CREATE TABLE "products""#) && pg.contains("FORCE ROW LEVEL SECURITY"), "{pg}");
    let (sqlite, _) = text(&easbase(&["schema", "sql", "--dialect", "sqlite", p]));
    assert!(sqlite.contains(r#"CREATE TABLE "products""#) && !sqlite.contains("POLICY"), "{sqlite}");
    let (mysql, _) = text(&easbase(&["schema", "sql", "-d", "mysql", p]));
    assert!(mysql.contains("CREATE TABLE `products`"), "{mysql}");
    let (scoped, _) = text(&easbase(&["schema", "sql", "--dialect", "postgres", "--pg-schema", "shop", p]));
    assert!(scoped.contains(r#""shop"."products""#), "{scoped}");
}

#[test]
fn plan_marks_destructive_steps() {
    let old = file("old.json", PRODUCTS);
    let new = file(
        "new.json",
        r#"{ "tables": [ { "name": "products", "columns": [
  { "name": "id", "type": "uuid", "primary": true },
  { "name": "title", "renamed_from": "name", "type": "text", "required": true },
  { "name": "stock", "type": "integer", "required": true, "default": 0 } ] } ] }"#,
    );
    let out =
        easbase(&["schema", "plan", "--dialect", "postgres", old.to_str().unwrap(), new.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("price"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with('!') && l.contains("price")),
        "drop of price is marked: {stdout}"
    );
    let same = easbase(&["schema", "plan", "-d", "sqlite", old.to_str().unwrap(), old.to_str().unwrap()]);
    assert_eq!(text(&same).0.trim(), "no changes");
}

#[test]
fn unreadable_files_and_bad_arguments_exit_2() {
    let out = easbase(&["schema", "check", "/nonexistent/schema.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("/nonexistent/schema.json"));
    let path = file("schema.yaml", "tables: []");
    assert_eq!(easbase(&["schema", "check", path.to_str().unwrap()]).status.code(), Some(2));
    let malformed = file("malformed.json", "{ \"tables\": [ }");
    let out = easbase(&["schema", "check", malformed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("line 1"), "{:?}", text(&out));
    assert_eq!(easbase(&["schema", "sql", "--dialect", "oracle", "x.json"]).status.code(), Some(2));
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["schema", "--help"],
        &["schema", "check", "--help"],
        &["schema", "sql", "--help"],
        &["schema", "plan", "--help"],
        &["schema", "json-schema", "--help"],
    ] {
        let out = easbase(args);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out).0.contains("Usage"), "{args:?}");
    }
}

#[test]
fn json_schema_matches_the_committed_file() {
    let out = easbase(&["schema", "json-schema"]);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../easbase-schema/schema.json"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}
