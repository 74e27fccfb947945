//! `easbase project …` and `easbase schema apply` run as processes on a SQLite platform.

mod common;

use common::{easbase_in, todos_schema, write};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn create_list_keys_rotate_revoke_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite://{}", d.join("platform.db").display());
    let schema = write(d, "todos.json", &todos_schema(""));

    let (code, stdout, stderr) =
        easbase_in(d, &["project", "create", "Shop", "--schema", &schema, "--database-url", &db, "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let created = json(&stdout);
    assert_eq!(created["name"], "Shop");
    assert_eq!(created["status"], "ready");
    assert!(created["publishable_key"].as_str().unwrap().starts_with("eb_pk_"));
    assert!(created["secret_key"].as_str().unwrap().starts_with("eb_sk_"));
    let id = created["id"].as_str().unwrap().to_owned();
    let slug = created["slug"].as_str().unwrap().to_owned();

    // Text output shows the keys once with a warning.
    let (code, stdout, _) = easbase_in(d, &["project", "create", "Blog", "--database-url", &db]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("secret key       eb_sk_") && stdout.contains("shown once"), "{stdout}");

    let (code, stdout, _) = easbase_in(d, &["project", "list", "--database-url", &db]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(&slug) && stdout.contains("Blog"), "{stdout}");
    let (_, stdout, _) =
        easbase_in(d, &["project", "list", "--database-url", &db, "--json", "--owner", "nobody"]);
    assert_eq!(json(&stdout), serde_json::json!([]));

    // Keys: listed by id and state, never their secrets.
    let (code, stdout, _) = easbase_in(d, &["project", "keys", &slug, "--database-url", &db, "--json"]);
    assert_eq!(code, Some(0));
    let keys = json(&stdout);
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");
    assert!(!stdout.contains("eb_sk_"), "{stdout}");
    let publishable = keys.as_array().unwrap().iter().find(|k| k["kind"] == "publishable").unwrap();
    let key_id = publishable["id"].as_str().unwrap().to_owned();
    assert_eq!(publishable["state"], "live");

    let (code, stdout, stderr) = easbase_in(
        d,
        &["project", "keys", &id, "--rotate", &key_id, "--grace", "60", "--database-url", &db, "--json"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(json(&stdout)["key"].as_str().unwrap().starts_with("eb_pk_"));
    let (_, stdout, _) = easbase_in(d, &["project", "keys", &id, "--database-url", &db, "--json"]);
    let keys = json(&stdout);
    assert_eq!(keys.as_array().unwrap().len(), 3);
    let old = keys.as_array().unwrap().iter().find(|k| k["id"] == key_id.as_str()).unwrap();
    assert!(old["expires_at"].is_u64(), "the rotated key expires after its grace: {old}");

    let (code, _, _) = easbase_in(d, &["project", "keys", &id, "--revoke", &key_id, "--database-url", &db]);
    assert_eq!(code, Some(0));
    let (_, stdout, _) = easbase_in(d, &["project", "keys", &id, "--database-url", &db]);
    assert!(stdout.lines().any(|l| l.starts_with(&key_id) && l.contains("revoked")), "{stdout}");

    // Refusals: an unknown key, an unknown project, a wrong confirmation → 1.
    let (code, _, stderr) =
        easbase_in(d, &["project", "keys", &id, "--revoke", "nope", "--database-url", &db]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, stderr) = easbase_in(d, &["project", "keys", "no-such-project", "--database-url", &db]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no project `no-such-project`"), "{stderr}");
    let (code, _, stderr) =
        easbase_in(d, &["project", "delete", &id, "--confirm", "wrong", "--database-url", &db]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&slug), "{stderr}");
    let (code, _, stderr) =
        easbase_in(d, &["project", "delete", &id, "--confirm", &slug, "--database-url", &db]);
    assert_eq!(code, Some(0), "{stderr}");
    let (_, stdout, _) = easbase_in(d, &["project", "list", "--database-url", &db, "--json"]);
    assert_eq!(json(&stdout).as_array().unwrap().len(), 1);

    // An empty name is refused; a missing value is a usage error.
    let (code, _, stderr) = easbase_in(d, &["project", "create", " ", "--database-url", &db]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, _) = easbase_in(d, &["project", "keys", &id, "--rotate"]);
    assert_eq!(code, Some(2));
}

#[test]
fn schema_apply_migrates_with_progress_and_guards_destructive_steps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite://{}", d.join("platform.db").display());
    let v1 = write(d, "v1.json", &todos_schema(""));
    let v2 = write(d, "v2.json", &todos_schema(r#", { "name": "due", "type": "date" }"#));
    let (_, stdout, _) =
        easbase_in(d, &["project", "create", "Todos", "--schema", &v1, "--database-url", &db, "--json"]);
    let id = json(&stdout)["id"].as_str().unwrap().to_owned();

    let (code, stdout, _) = easbase_in(d, &["schema", "apply", &v1, "--project", &id, "--database-url", &db]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("no changes"), "{stdout}");

    let (code, stdout, _) =
        easbase_in(d, &["schema", "apply", &v2, "--project", &id, "--database-url", &db, "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("due"), "{stdout}");

    let (code, stdout, stderr) = easbase_in(
        d,
        &[
            "schema",
            "apply",
            &v2,
            "--project",
            &id,
            "--database-url",
            &db,
            "--migration-version",
            "2",
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("migrating to version 2: 1 step(s)…")
            && stderr.contains("migrated: 1 step(s) applied"),
        "{stderr}"
    );
    let report = json(&stdout);
    assert_eq!(report["applied"], true);
    assert_eq!(report["version"], "2");

    let (code, _, stderr) = easbase_in(d, &["schema", "apply", &v1, "--project", &id, "--database-url", &db]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("! drop column") || stderr.contains("destructive"), "{stderr}");
    let (code, _, stderr) = easbase_in(
        d,
        &["schema", "apply", &v1, "--project", &id, "--database-url", &db, "--allow-destructive"],
    );
    assert_eq!(code, Some(0), "{stderr}");

    let (code, _, stderr) =
        easbase_in(d, &["schema", "apply", &v1, "--project", "nope", "--database-url", &db]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no project `nope`"), "{stderr}");
}

#[test]
fn new_commands_have_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["project", "--help"][..],
        &["project", "create", "--help"],
        &["project", "list", "--help"],
        &["project", "keys", "--help"],
        &["project", "delete", "--help"],
        &["schema", "apply", "--help"],
        &["serve", "--help"],
    ] {
        let (code, stdout, _) = easbase_in(dir.path(), args);
        assert_eq!(code, Some(0), "{args:?}");
        assert!(stdout.contains("Usage"), "{args:?}: {stdout}");
    }
}
