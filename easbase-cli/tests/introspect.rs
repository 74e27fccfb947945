//! `easbase serve --introspect SCHEMA` run as a process on PostgreSQL: a schema made by
//! hand (a table, row-level security, a role with its own grants) is served as PostgREST
//! serves it — its policies decide what the publishable key and a user's token see — and
//! a restart reuses the project. Deleting the project leaves the schema alone.

mod common;

use common::{block_on, easbase_in, serve};
use easbase_cli::client::Client;
use serde_json::json;

fn pg_url() -> String {
    std::env::var("EASBASE_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn sql(url: &str, script: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} ({e}); EASBASE_PG_URL overrides it"));
    tokio::spawn(connection);
    client.batch_execute(script).await.unwrap_or_else(|e| panic!("{e}: {script}"));
}

/// The app schema, the platform schema and the roles of one test, removed when dropped.
struct Fixture {
    url: String,
    tag: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn app(&self) -> String {
        format!("app_{}", self.tag)
    }
    fn platform(&self) -> String {
        format!("cli_{}", self.tag)
    }
    fn role(&self, which: &str) -> String {
        format!("r_{which}_{}", self.tag)
    }
    fn args(&self) -> Vec<String> {
        [
            "--database-url",
            &self.url,
            "--platform-schema",
            &self.platform(),
            "--introspect",
            &self.app(),
            "--anon-role",
            &self.role("anon"),
            "--authenticated-role",
            &self.role("auth"),
            "--service-role",
            &self.role("service"),
            "--state-dir",
            self.dir.path().to_str().unwrap(),
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let mut script = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE; DROP SCHEMA IF EXISTS {} CASCADE;",
            self.app(),
            self.platform()
        );
        for role in ["anon", "auth", "service"] {
            let r = self.role(role);
            script.push_str(&format!(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{r}') THEN \
                 EXECUTE 'DROP OWNED BY {r}'; EXECUTE 'DROP ROLE {r}'; END IF; END $$;"
            ));
        }
        let url = self.url.clone();
        block_on(async move { sql(&url, &script).await });
    }
}

#[test]
fn serve_introspect_serves_an_existing_schema_with_its_own_row_level_security() {
    let fx = Fixture {
        url: pg_url(),
        tag: uuid::Uuid::new_v4().simple().to_string(),
        dir: tempfile::tempdir().unwrap(),
    };
    let (app, anon) = (fx.app(), fx.role("anon"));
    // By hand, as for PostgREST: an anon role that may only read, a table, its policies.
    block_on(sql(
        &fx.url,
        &format!(
            "CREATE ROLE {anon} NOLOGIN;
             CREATE SCHEMA {app};
             CREATE TABLE {app}.notes (id int PRIMARY KEY, owner_id uuid, body text NOT NULL,
                                       published boolean NOT NULL DEFAULT false);
             ALTER TABLE {app}.notes ENABLE ROW LEVEL SECURITY;
             CREATE POLICY published ON {app}.notes FOR SELECT USING (published);
             CREATE POLICY own ON {app}.notes FOR SELECT
               USING (owner_id = (current_setting('request.jwt.claims', true)::json->>'sub')::uuid);
             GRANT SELECT ON {app}.notes TO {anon};
             INSERT INTO {app}.notes VALUES (1, NULL, 'hello world', true), (2, NULL, 'draft', false);"
        ),
    ));
    let args = fx.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let d = fx.dir.path();
    let server = serve(d, &args).unwrap_or_else(|e| panic!("easbase serve --introspect failed: {e:?}"));
    for field in ["url", "publishable_key", "secret_key", "jwt_secret", "project_id"] {
        assert!(server.ready[field].as_str().is_some_and(|s| !s.is_empty()), "{field}: {}", server.ready);
    }
    let (pk, sk) = (server.field("publishable_key").to_owned(), server.field("secret_key").to_owned());
    let project_id = server.field("project_id").to_owned();
    let url = server.url().to_owned();
    block_on(async {
        let client = Client::new(&url);
        // The publishable key: what the table's policies show anonymous requests.
        let res = client.get("/rest/v1/notes?select=id,body").apikey(&pk).send().await.unwrap();
        assert_eq!(res.status, 200, "{:?}", res.json());
        assert_eq!(res.json().unwrap(), json!([{ "id": 1, "body": "hello world" }]));
        // The anon role keeps its own grants: it may not write.
        let res =
            client.post("/rest/v1/notes").apikey(&pk).json(&json!({ "id": 9, "body": "x" })).send().await;
        let res = res.unwrap();
        assert!(matches!(res.status, 401 | 403), "{} {:?}", res.status, res.json());

        // A user (auth's tables live beside the schema's): the policy shows their own row.
        let body = json!({ "email": "ada@example.com", "password": "correct horse battery" });
        let res = client.post("/auth/v1/signup").apikey(&pk).json(&body).send().await.unwrap();
        assert_eq!(res.status, 200, "{:?}", res.json());
        let session = res.json().unwrap();
        let token = session["access_token"].as_str().unwrap().to_owned();
        let uid = session["user"]["id"].as_str().unwrap().to_owned();
        sql(&fx.url, &format!("INSERT INTO {app}.notes VALUES (3, '{uid}', 'mine', false)")).await;
        let res = client.get("/rest/v1/notes?select=id&order=id").apikey(&pk).bearer(&token).send().await;
        assert_eq!(res.unwrap().json().unwrap(), json!([{ "id": 1 }, { "id": 3 }]));
        let res = client.get("/rest/v1/notes?select=id&order=id").apikey(&pk).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([{ "id": 1 }]));
        // The secret key's role bypasses row-level security, as Supabase's service_role.
        let res = client.get("/rest/v1/notes?select=id&order=id").apikey(&sk).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([{ "id": 1 }, { "id": 2 }, { "id": 3 }]));
        // A table the schema does not have.
        let res = client.get("/rest/v1/missing").apikey(&pk).send().await.unwrap();
        assert_eq!(res.status, 404, "{:?}", res.json());
    });
    drop(server);

    // A table added by hand is served after a restart, by the same project and keys.
    block_on(sql(
        &fx.url,
        &format!(
            "CREATE TABLE {app}.tags (id int PRIMARY KEY, label text);
             GRANT SELECT ON {app}.tags TO {anon}; INSERT INTO {app}.tags VALUES (1, 'rust');"
        ),
    ));
    let server = serve(d, &args).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(server.field("project_id"), project_id);
    assert_eq!(server.field("publishable_key"), pk);
    assert!(server.stderr.contains("reusing project"), "{}", server.stderr);
    block_on(async {
        let res = Client::new(server.url()).get("/rest/v1/tags").apikey(&pk).send().await.unwrap();
        assert_eq!(res.json().unwrap(), json!([{ "id": 1, "label": "rust" }]));
    });
    drop(server);

    // Deleting the project keeps the schema and its rows.
    let platform = fx.platform();
    let (code, stdout, stderr) = easbase_in(
        d,
        &["project", "list", "--json", "--database-url", &fx.url, "--platform-schema", &platform],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let slug = list[0]["slug"].as_str().unwrap().to_owned();
    let (code, _, stderr) = easbase_in(
        d,
        &[
            "project",
            "delete",
            &project_id,
            "--confirm",
            &slug,
            "--database-url",
            &fx.url,
            "--platform-schema",
            &platform,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    block_on(sql(&fx.url, &format!("DO $$ BEGIN PERFORM 1 FROM {app}.notes WHERE id = 3; END $$")));
}

#[test]
fn introspect_needs_postgres_and_excludes_schema() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = serve(d, &["--database-url", "sqlite::memory:", "--introspect", "app"]).err().unwrap();
    assert_ne!(err.0, Some(0));
    assert!(err.1.contains("--introspect serves a PostgreSQL schema"), "{}", err.1);
    let err = serve(d, &["--database-url", "sqlite::memory:", "--introspect", "app", "--schema", "x.json"])
        .err()
        .unwrap();
    assert!(err.1.contains("cannot be used with"), "{}", err.1);
    let err = serve(d, &["--database-url", "sqlite::memory:"]).err().unwrap();
    assert!(err.1.contains("--schema"), "{}", err.1);
    let err = serve(d, &["--database-url", "sqlite::memory:", "--schema", "x.json", "--anon-role", "a"])
        .err()
        .unwrap();
    assert!(err.1.contains("--introspect"), "{}", err.1);
}
