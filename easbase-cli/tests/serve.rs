//! `easbase serve` run as a process: the JSON line, REST and auth over HTTP, reuse across
//! restarts (same project, same keys), migrations (destructive ones opt-in), lost keys.

mod common;

use common::{PgPlatform, block_on, easbase_in, serve, serve_env, todos_schema, write};
use std::path::Path;

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

    // A lost keys file: refused (exit 1, the ways out named), nothing rotated, and a schema
    // change not applied (checked below: v3 is still up to date).
    std::fs::remove_file(&keys_file).unwrap();
    let v4 = write(d, "todos4.json", &todos_schema(r#", { "name": "note", "type": "text" }"#));
    let (code, stderr) =
        serve(d, &["--database-url", &db, "--schema", &v4, "--project", "todos"]).err().expect("refused");
    assert_eq!(code, Some(1), "{stderr}");
    for needle in
        ["keys file", "is missing", "EASBASE_PUBLISHABLE_KEY", "EASBASE_SECRET_KEY", "--reissue-keys"]
    {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    assert!(!keys_file.exists());

    // The keys given in the environment: verified, served as they are, nothing written.
    let env = [("EASBASE_PUBLISHABLE_KEY", pk.as_str()), ("EASBASE_SECRET_KEY", sk.as_str())];
    let server =
        serve_env(d, &["--database-url", &db, "--schema", &v3], &env).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((server.field("publishable_key"), server.field("secret_key")), (pk.as_str(), sk.as_str()));
    assert!(
        server.stderr.contains("keys given") && server.stderr.contains("up to date"),
        "{}",
        server.stderr
    );
    assert_eq!(status(&server, &pk), 200);
    drop(server);
    assert!(!keys_file.exists());

    // --reissue-keys --grace 0: a new pair, saved; the old keys stop working at once.
    let server = serve(d, &["--database-url", &db, "--schema", &v3, "--reissue-keys", "--grace", "0"])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("project_id"), project_id);
    let new_pk = reissued(&server, (&pk, &sk), "stop working now");
    assert_eq!(status(&server, &pk), 401);
    assert_eq!(status(&server, &sk), 401);
    assert_eq!(status(&server, &new_pk), 200);
    drop(server);
    assert!(keys_file.exists());
    // The old keys, given: refused, named.
    let env = [("EASBASE_PUBLISHABLE_KEY", pk.as_str()), ("EASBASE_SECRET_KEY", sk.as_str())];
    let (code, stderr) =
        serve_env(d, &["--database-url", &db, "--schema", &v3], &env).err().expect("refused");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("publishable key") && stderr.contains("not a key of project"), "{stderr}");
    // The keys file still serves.
    let server = serve(d, &["--database-url", &db, "--schema", &v3]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("publishable_key"), new_pk);
}

/// Checks that `server` serves a pair other than `old` and said `said` on stderr; returns
/// its publishable key.
fn reissued(server: &common::Server, old: (&str, &str), said: &str) -> String {
    assert_ne!(server.field("publishable_key"), old.0);
    assert_ne!(server.field("secret_key"), old.1);
    assert!(server.stderr.contains(said), "{said}: {}", server.stderr);
    server.field("publishable_key").to_owned()
}

/// The status of `GET /rest/v1/todos` with `key` as the API key.
fn status(server: &common::Server, key: &str) -> u16 {
    block_on(async {
        Client::new(server.url()).get("/rest/v1/todos").apikey(key).send().await.unwrap().status
    })
}

#[test]
fn serve_refuses_wrong_given_keys_naming_which() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = write(d, "todos.json", &todos_schema(""));
    let db = format!("sqlite://{}", d.join("easbase.db").display());
    let args = ["--database-url", db.as_str(), "--schema", schema.as_str()];
    let server = serve(d, &args).unwrap_or_else(|e| panic!("{e:?}"));
    let (pk, sk) = (server.field("publishable_key").to_owned(), server.field("secret_key").to_owned());
    drop(server);
    // Another project's keys (same kinds, well formed): the secret key is named.
    let other = serve(d, &["--database-url", &db, "--schema", &schema, "--project", "other"])
        .unwrap_or_else(|e| panic!("{e:?}"));
    let other_sk = other.field("secret_key").to_owned();
    drop(other);
    let run = |env: &[(&str, &str)], extra: &[&str]| {
        let mut all = args.to_vec();
        all.extend(extra);
        serve_env(d, &all, env).err().expect("refused")
    };
    let (code, stderr) = run(&[("EASBASE_PUBLISHABLE_KEY", &pk), ("EASBASE_SECRET_KEY", &other_sk)], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("secret key (--secret-key or EASBASE_SECRET_KEY) is not a key of project"),
        "{stderr}"
    );
    // Swapped: the publishable one is named, as a secret key.
    let (code, stderr) = run(&[("EASBASE_PUBLISHABLE_KEY", &sk), ("EASBASE_SECRET_KEY", &pk)], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("publishable key (--publishable-key or EASBASE_PUBLISHABLE_KEY) is a secret key"),
        "{stderr}"
    );
    // Not a key at all, by flag.
    let (code, stderr) = run(&[], &["--publishable-key", "hello", "--secret-key", &sk]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("publishable key") && stderr.contains("not an EasBase API key"), "{stderr}");
    // One of the two, or given keys with --reissue-keys, or --grace alone: the command line (2).
    let (code, stderr) = run(&[("EASBASE_SECRET_KEY", &sk)], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no publishable key"), "{stderr}");
    let (code, stderr) =
        run(&[("EASBASE_PUBLISHABLE_KEY", &pk), ("EASBASE_SECRET_KEY", &sk)], &["--reissue-keys"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--reissue-keys"), "{stderr}");
    let (code, stderr) = run(&[], &["--grace", "5"]);
    assert_eq!(code, Some(2), "{stderr}");
    // The right keys, by flag, still serve: nothing above changed them.
    let mut all = args.to_vec();
    all.extend(["--publishable-key", pk.as_str(), "--secret-key", sk.as_str()]);
    let server = serve(d, &all).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("secret_key"), sk);
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
        easbase_in(d, &["serve", "--schema", &good, "--database-url", "redis://x:secret@h/db"]);
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
fn a_second_postgres_server_elsewhere_never_breaks_the_keys_in_use() {
    let pg = PgPlatform::new();
    let d = pg.dir.path();
    let schema = write(d, "todos.json", &todos_schema(""));
    let (here, there) = (d.join("here"), d.join("there"));
    let (here, there) = (here.to_str().unwrap(), there.to_str().unwrap());
    let first = serve(d, &pg.args(&["--schema", &schema, "--state-dir", here])).unwrap_or_else(|e| {
        panic!(
            "easbase serve on {} failed (is PostgreSQL running? EASBASE_PG_URL overrides it): {e:?}",
            pg.url
        )
    });
    let (pk, sk) = (first.field("publishable_key").to_owned(), first.field("secret_key").to_owned());
    let elsewhere = pg.args(&["--schema", &schema, "--state-dir", there]);

    // Another state dir, no keys: refused; the first server's keys still work.
    let (code, stderr) = serve(d, &elsewhere).err().expect("refused");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is missing") && stderr.contains("--reissue-keys"), "{stderr}");
    assert_eq!(status(&first, &pk), 200);
    assert_eq!(status(&first, &sk), 200);

    // With the keys in the environment: the same keys, served there too.
    let env = [("EASBASE_PUBLISHABLE_KEY", pk.as_str()), ("EASBASE_SECRET_KEY", sk.as_str())];
    let second = serve_env(d, &elsewhere, &env).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((second.field("publishable_key"), second.field("secret_key")), (pk.as_str(), sk.as_str()));
    assert_eq!(status(&second, &pk), 200);
    drop(second);

    // A wrong given key: refused, named.
    let env = [("EASBASE_PUBLISHABLE_KEY", pk.as_str()), ("EASBASE_SECRET_KEY", "eb_sk_nope")];
    let (code, stderr) = serve_env(d, &elsewhere, &env).err().expect("refused");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("secret key (--secret-key or EASBASE_SECRET_KEY)"), "{stderr}");

    // --reissue-keys with a grace: new keys there, and the old ones keep working meanwhile
    // (a generous grace, so a slow machine cannot make this flaky).
    let mut reissue = elsewhere.clone();
    reissue.extend(["--reissue-keys", "--grace", "30"]);
    let second = serve(d, &reissue).unwrap_or_else(|e| panic!("{e:?}"));
    let new_pk = reissued(&second, (&pk, &sk), "keep working for 30 s");
    assert_eq!(status(&second, &pk), 200);
    assert_eq!(status(&first, &sk), 200);
    assert_eq!(status(&first, &new_pk), 200);
    let project_id = second.field("project_id").to_owned();
    assert!(Path::new(there).join(format!("{project_id}.keys.json")).exists());
    drop((first, second));
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

/// `serve` and `project` on a MariaDB/MySQL platform (`EASBASE_MYSQL_URL`, default
/// `mysql://root@127.0.0.1:3306`): a random platform database, dropped at the end with
/// the projects' own databases.
#[cfg(feature = "mysql")]
#[test]
fn serve_on_mysql_reuses_its_project_and_refuses_without_keys() {
    use easbase_core::db::{Db, MyConfig};

    let server_url =
        std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let name = format!("cli_{}", uuid::Uuid::new_v4().simple());
    let admin = |script: Vec<String>| {
        let url = server_url.clone();
        block_on(async move {
            let db = Db::connect_mysql(MyConfig::new(url.clone()).pool_size(1)).await.unwrap_or_else(|e| {
                panic!("cannot reach MariaDB/MySQL at {url} ({e}); EASBASE_MYSQL_URL overrides it")
            });
            db.execute_script(&script).await.unwrap();
        })
    };
    admin(vec![format!("create database {name}")]);
    /// Drops the platform database and its projects' databases, even after a failed assertion.
    struct Cleanup<F: Fn(Vec<String>)>(F, String, std::cell::RefCell<Vec<String>>);
    impl<F: Fn(Vec<String>)> Drop for Cleanup<F> {
        fn drop(&mut self) {
            let mut script: Vec<String> = (self.2.borrow().iter())
                .map(|id| format!("drop database if exists p_{}", id.replace('-', "_")))
                .collect();
            script.push(format!("drop database if exists {}", self.1));
            (self.0)(script);
        }
    }
    let cleanup = Cleanup(admin, name.clone(), Default::default());
    let db = format!("{}/{name}", server_url.trim_end_matches('/'));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = write(d, "todos.json", &todos_schema(""));
    let here = d.join("here");
    let args =
        ["--database-url", db.as_str(), "--schema", schema.as_str(), "--state-dir", here.to_str().unwrap()];
    let server = serve(d, &args).unwrap_or_else(|e| panic!("{e:?}"));
    let id = server.field("project_id").to_owned();
    cleanup.2.borrow_mut().push(id.clone());
    let pk = server.field("publishable_key").to_owned();
    block_on(async {
        let client = Client::new(server.url());
        let body = json!({ "email": "my@example.com", "password": "correct horse battery" });
        let res = client.post("/auth/v1/signup").apikey(&pk).json(&body).send().await.unwrap();
        assert_eq!(res.status, 200, "{:?}", res.json());
        let token = res.json().unwrap()["access_token"].as_str().unwrap().to_owned();
        let res = client
            .post("/rest/v1/todos")
            .apikey(&pk)
            .bearer(&token)
            .json(&json!({ "title": "on mariadb" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status, 201, "{:?}", res.json());
        let res = client.get("/rest/v1/todos?select=title").apikey(&pk).bearer(&token).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([{ "title": "on mariadb" }]));
        // The policies hide the row from anonymous requests.
        let res = client.get("/rest/v1/todos").apikey(&pk).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([]));
    });
    drop(server);
    // A restart: the same project and keys.
    let server = serve(d, &args).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((server.field("project_id"), server.field("publishable_key")), (id.as_str(), pk.as_str()));
    drop(server);
    // Another state dir: refused, as on PostgreSQL.
    let there = d.join("there");
    let elsewhere =
        ["--database-url", db.as_str(), "--schema", schema.as_str(), "--state-dir", there.to_str().unwrap()];
    let (code, stderr) = serve(d, &elsewhere).err().expect("refused");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--reissue-keys"), "{stderr}");
    // `project list` reads the same platform.
    let (code, stdout, stderr) = easbase_in(d, &["project", "list", "--json", "--database-url", &db]);
    assert_eq!(code, Some(0), "{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    drop(cleanup);
}
