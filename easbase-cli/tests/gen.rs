//! `easbase gen types|sdk|openapi|endpoints`, run as a process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use easbase_codegen::openapi::{self, OpenApiOptions};
use easbase_codegen::{Options, endpoints, sdk, typescript};

fn easbase(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_easbase")).args(args).output().expect("run easbase")
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

const SHOP: &str = r#"{
  "enums": [ { "name": "order_status", "values": ["pending", "paid"] } ],
  "tables": [
    { "name": "customers", "columns": [
        { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
        { "name": "email", "type": "varchar(320)", "required": true, "unique": true } ] },
    { "name": "orders", "columns": [
        { "name": "id", "type": "identity", "primary": true },
        { "name": "customer_id", "type": "uuid", "required": true, "references": "customers.id" },
        { "name": "status", "type": "order_status", "required": true, "default": "pending" } ],
      "policies": { "select": "true" } } ] }"#;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn valid() -> easbase_schema::ValidSchema {
    easbase_schema::Schema::from_json(SHOP).unwrap().validate().unwrap()
}

#[test]
fn types_and_sdk_print_what_the_library_generates() {
    let d = dir();
    let schema = write(d.path(), "shop.json", SHOP);
    let out = easbase(&["gen", "types", schema.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, typescript::database_types(&valid(), &Options::default()));

    let out = easbase(&["gen", "sdk", schema.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(text(&out).0, sdk::typescript(&valid(), &Options::default()));
}

#[test]
fn toml_schemas_give_the_same_output() {
    let d = dir();
    let json = write(d.path(), "shop.json", SHOP);
    let toml =
        write(d.path(), "shop.toml", &easbase_schema::Schema::from_json(SHOP).unwrap().to_toml().unwrap());
    let a = easbase(&["gen", "types", json.to_str().unwrap()]);
    let b = easbase(&["gen", "types", toml.to_str().unwrap()]);
    assert!(b.status.success(), "{}", text(&b).1);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn options_reach_the_generators() {
    let d = dir();
    let schema = write(d.path(), "shop.json", SHOP);
    let out = easbase(&["gen", "types", "--postgrest-version", "13", schema.to_str().unwrap()]);
    assert!(text(&out).0.contains("PostgrestVersion: \"13\""));
    let out = easbase(&["gen", "sdk", "--package", "./sdk.js", schema.to_str().unwrap()]);
    assert!(text(&out).0.contains(r#"from "./sdk.js""#));

    let out = easbase(&[
        "gen",
        "openapi",
        "--title",
        "Shop",
        "--api-version",
        "3.0.1",
        "--server-url",
        "https://api.example.com/rest/v1",
        "--description",
        "The shop",
        schema.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let mut options = OpenApiOptions::new("Shop", "3.0.1");
    options.server_url = "https://api.example.com/rest/v1".into();
    options.description = Some("The shop".into());
    assert_eq!(stdout, openapi::to_json(&openapi::document(&valid(), &options)));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["info"]["version"], "3.0.1");
}

#[test]
fn endpoints_as_text_and_json() {
    let d = dir();
    let schema = write(d.path(), "shop.json", SHOP);
    let out = easbase(&["gen", "endpoints", schema.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(stdout, endpoints::to_text(&endpoints::listing(&valid(), "/rest/v1")));
    assert!(
        stdout.starts_with("list: GET /rest/v1/customers\ncreate: POST /rest/v1/customers\n"),
        "{stdout}"
    );

    let out = easbase(&["gen", "endpoints", "--json", "--base-path", "/api/v1", schema.to_str().unwrap()]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 10);
    assert_eq!(
        rows[7],
        serde_json::json!({ "table": "orders", "action": "read", "method": "GET", "path": "/api/v1/orders/{id}" })
    );
}

#[test]
fn out_writes_the_file_and_nothing_to_stdout() {
    let d = dir();
    let schema = write(d.path(), "shop.json", SHOP);
    let target = d.path().join("database.types.ts");
    let out = easbase(&["gen", "types", "--out", target.to_str().unwrap(), schema.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("wrote"), "{stderr}");
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(written, typescript::database_types(&valid(), &Options::default()));
    // Regenerating replaces the file with the same bytes and leaves no temporary file.
    let again = easbase(&["gen", "types", "-o", target.to_str().unwrap(), schema.to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), written);
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn an_invalid_schema_prints_every_error_with_its_path_and_exits_1() {
    let d = dir();
    let schema = write(
        d.path(),
        "bad.json",
        r#"{ "tables": [ { "name": "t", "columns": [ { "name": "id", "type": "nope", "primary": true },
           { "name": "select", "type": "text", "references": "missing.id" } ] } ] }"#,
    );
    let target = d.path().join("out.ts");
    for kind in ["types", "sdk", "openapi", "endpoints"] {
        let out = easbase(&["gen", kind, "--out", target.to_str().unwrap(), schema.to_str().unwrap()]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{kind}: {stderr}");
        assert_eq!(stdout, "");
        for needle in
            ["tables[0].columns[0].type", "tables[0].columns[1].name", "tables[0].columns[1].references"]
        {
            assert!(stderr.contains(needle), "{kind}: missing {needle} in {stderr}");
        }
        assert!(!target.exists(), "{kind} wrote a file for an invalid schema");
    }
}

#[test]
fn unreadable_input_exits_2_and_unwritable_output_exits_1() {
    let d = dir();
    let missing = d.path().join("missing.json");
    let out = easbase(&["gen", "types", missing.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.json"), "{stderr}");

    let broken = write(d.path(), "broken.json", "{ not json");
    assert_eq!(easbase(&["gen", "sdk", broken.to_str().unwrap()]).status.code(), Some(2));

    let schema = write(d.path(), "shop.json", SHOP);
    let nowhere = d.path().join("no/such/dir/types.ts");
    let out = easbase(&["gen", "types", "--out", nowhere.to_str().unwrap(), schema.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write") && stderr.contains("types.ts"), "{stderr}");
}

#[test]
fn bad_command_lines_exit_2_with_help() {
    let out = easbase(&["gen", "types"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("SCHEMA_FILE"), "{}", text(&out).1);
    let out = easbase(&["gen", "python", "x.json"]);
    assert_eq!(out.status.code(), Some(2));
    let out = easbase(&["gen", "--help"]);
    assert!(out.status.success());
    for kind in ["types", "sdk", "openapi", "endpoints"] {
        assert!(text(&out).0.contains(kind), "{}", text(&out).0);
    }
}
