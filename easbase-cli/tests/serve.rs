//! `easbase serve` run as a process: the JSON line, REST and auth over HTTP, reuse across
//! restarts (same project, same keys), migrations (destructive ones opt-in), lost keys.

mod common;

use common::{PgPlatform, block_on, easbase_in, serve, todos_schema, write};
use easbase_cli::client::Client;
use serde_json::json;

#[test]
fn serve_creates_serves_reuses_and_migrates_a_sqlite_project() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = write(d, "todos.json", &todos_schema(""));
    let db = format!("sqlite://{}", d.join("data/easbase.db").display());

    // First start: a new project, its keys saved beside the database.
    let server = serve(d, &["--database-url", &db, "--schema", &v1]).unwrap_or_else(|e| panic!("{e:?}"));
    for field in ["url", "publishable_key", "secret_key", "jwt_secret", "project_id"] {
        assert!(server.ready[field].as_str().is_some_and(|s| !s.is_empty()), "{field}: {}", server.ready);
    }
    assert!(server.field("publishable_key").starts_with("eb_pk_"));
    assert!(server.field("secret_key").starts_with("eb_sk_"));
    assert!(server.stderr.contains("created project `todos`"), "{}", server.stderr);
    let project_id = server.field("project_id").to_owned();
    let keys_file = d.join("data").join(format!("{project_id}.keys.json"));
    assert!(keys_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&keys_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (pk, sk) = (server.field("publishable_key").to_owned(), server.field("secret_key").to_owned());
    let token = block_on(async {
        let client = Client::new(server.url());
        let body = json!({ "email": "ada@example.com", "password": "correct horse battery" });
        let res = client.post("/auth/v1/signup").apikey(&pk).json(&body).send().await.unwrap();
        assert_eq!(res.status, 200, "{:?}", res.json());
        let token = res.json().unwrap()["access_token"].as_str().unwrap().to_owned();
        let res = client
            .post("/rest/v1/todos")
            .apikey(&pk)
            .bearer(&token)
            .prefer("return=representation")
            .json(&json!({ "title": "ship it" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status, 201, "{:?}", res.json());
        // Without a user, the policies hide the row.
        let res = client.get("/rest/v1/todos").apikey(&pk).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([]));
        // The auth tables are never served over REST.
        let res = client.get("/rest/v1/auth_users").apikey(&sk).send().await.unwrap();
        assert_eq!(res.status, 404, "{:?}", res.json());
        token
    });
    drop(server);

    // Restart: the same project and keys, nothing rotated, the row still there.
    let server = serve(d, &["--database-url", &db, "--schema", &v1]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("project_id"), project_id);
    assert_eq!(server.field("publishable_key"), pk);
    assert_eq!(server.field("secret_key"), sk);
    assert!(
        server.stderr.contains("reusing project") && server.stderr.contains("up to date"),
        "{}",
        server.stderr
    );
    block_on(async {
        let res = Client::new(server.url())
            .get("/rest/v1/todos?select=title")
            .apikey(&pk)
            .bearer(&token)
            .send()
            .await;
        assert_eq!(res.unwrap().json().unwrap(), json!([{ "title": "ship it" }]));
    });
    drop(server);

    // A new column: migrated on start.
    let v2 = write(
        d,
        "todos.json",
        &todos_schema(r#", { "name": "done", "type": "boolean", "required": true, "default": false }"#),
    );
    let server = serve(d, &["--database-url", &db, "--schema", &v2]).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(server.stderr.contains("migrating to version"), "{}", server.stderr);
    assert_eq!(server.field("secret_key"), sk);
    block_on(async {
        let res = Client::new(server.url())
            .get("/rest/v1/todos?select=title,done")
            .apikey(&pk)
            .bearer(&token)
            .send()
            .await;
        assert_eq!(res.unwrap().json().unwrap(), json!([{ "title": "ship it", "done": false }]));
    });
    drop(server);

    // Dropping it loses data: refused (exit 1, the step named) unless opted in.
    let v3 = write(d, "todos.json", &todos_schema(""));
    let (code, stderr) = serve(d, &["--database-url", &db, "--schema", &v3]).err().expect("refused");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("destructive") && stderr.contains("done") && stderr.contains("--allow-destructive"),
        "{stderr}"
    );
    let server = serve(d, &["--database-url", &db, "--schema", &v3, "--allow-destructive"])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("project_id"), project_id);
    drop(server);

    // A lost keys file: a fresh pair is issued and the old keys stop working.
    std::fs::remove_file(&keys_file).unwrap();
    let server = serve(d, &["--database-url", &db, "--schema", &v3]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("project_id"), project_id);
    assert_ne!(server.field("publishable_key"), pk);
    assert!(server.stderr.contains("issuing a new key pair"), "{}", server.stderr);
    block_on(async {
        let client = Client::new(server.url());
        let old = client.get("/rest/v1/todos").apikey(&pk).send().await.unwrap();
        assert_eq!(old.status, 401, "{:?}", old.json());
        let new = client.get("/rest/v1/todos").apikey(server.field("publishable_key")).send().await.unwrap();
        assert_eq!(new.status, 200);
    });
    assert!(keys_file.exists());
}

#[test]
fn serve_refuses_bad_input_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(d, "good.json", &todos_schema(""));
    let bad = write(
        d,
        "bad.json",
        r#"{ "tables": [ { "name": "t", "columns": [ { "name": "id", "type": "nope" } ] } ] }"#,
    );
    // An invalid schema: 1, with the path of the error.
    let (code, stderr) = serve(d, &["--database-url", "sqlite::memory:", "--schema", &bad]).err().unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("tables[0].columns[0].type"), "{stderr}");
    // A missing file, an unknown URL scheme, a bad address: 2.
    let (code, _, stderr) = easbase_in(d, &["serve", "--schema", "missing.json"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("missing.json"), "{stderr}");
    let (code, _, stderr) =
        easbase_in(d, &["serve", "--schema", &good, "--database-url", "mysql://x:secret@h/db"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unsupported database URL") && !stderr.contains("secret"), "{stderr}");
    let (code, _, stderr) = easbase_in(d, &["serve", "--schema", &good, "--listen", "nowhere"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, _) = easbase_in(d, &["serve"]);
    assert_eq!(code, Some(2), "--schema is required");
}

#[test]
fn serve_without_a_url_uses_the_embedded_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = write(d, "shop.json", &todos_schema(""));
    let server = serve(d, &["--schema", &schema, "--project", "my shop"]).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(server.stderr.contains("created project `my shop`"), "{}", server.stderr);
    assert!(d.join(".easbase/easbase.db").exists());
    let id = server.field("project_id").to_owned();
    assert!(d.join(format!(".easbase/{id}.keys.json")).exists());
    drop(server);
    let (code, stdout, stderr) = easbase_in(d, &["project", "list", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["name"], "my shop");
}

#[test]
fn serve_on_postgres_reuses_its_project_and_cleans_up() {
    let pg = PgPlatform::new();
    let d = pg.dir.path();
    let schema = write(d, "todos.json", &todos_schema(""));
    let args = pg.args(&["--schema", schema.as_str(), "--state-dir", d.to_str().unwrap()]);
    let server = serve(d, &args).unwrap_or_else(|e| {
        panic!(
            "easbase serve on {} failed (is PostgreSQL running? EASBASE_PG_URL overrides it): {e:?}",
            pg.url
        )
    });
    let (pk, id) = (server.field("publishable_key").to_owned(), server.field("project_id").to_owned());
    block_on(async {
        let client = Client::new(server.url());
        let body = json!({ "email": "pg@example.com", "password": "correct horse battery" });
        let res = client.post("/auth/v1/signup").apikey(&pk).json(&body).send().await.unwrap();
        let token = res.json().unwrap()["access_token"].as_str().unwrap().to_owned();
        let res = client
            .post("/rest/v1/todos")
            .apikey(&pk)
            .bearer(&token)
            .json(&json!({ "title": "on postgres" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status, 201, "{:?}", res.json());
        let res = client.get("/rest/v1/todos?select=title").apikey(&pk).bearer(&token).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([{ "title": "on postgres" }]));
        // Row-level security: another user sees nothing.
        let other = json!({ "email": "other@example.com", "password": "correct horse battery" });
        let res = client.post("/auth/v1/signup").apikey(&pk).json(&other).send().await.unwrap();
        let token = res.json().unwrap()["access_token"].as_str().unwrap().to_owned();
        let res = client.get("/rest/v1/todos").apikey(&pk).bearer(&token).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([]));
    });
    drop(server);
    let server = serve(d, &args).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("project_id"), id);
    assert_eq!(server.field("publishable_key"), pk);
    drop(server);
    drop(pg);
}

#[test]
fn serve_in_memory_keeps_no_keys_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = write(d, "todos.json", &todos_schema(""));
    let server = serve(d, &["--database-url", "sqlite::memory:", "--schema", &schema])
        .unwrap_or_else(|e| panic!("{e:?}"));
    let status = block_on(async {
        Client::new(server.url())
            .get("/rest/v1/todos")
            .apikey(server.field("secret_key"))
            .send()
            .await
            .unwrap()
            .status
    });
    assert_eq!(status, 200);
    assert!(!server.stderr.contains("keys saved"), "{}", server.stderr);
    drop(server);
    let entries: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["todos.json"], "nothing but the schema file");
}
