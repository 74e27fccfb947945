//! Several `easbase serve` processes on one PostgreSQL platform database, changed by a
//! third `easbase` process: key rotation and revocation, schema changes and pausing reach
//! every server without a restart (core's `LISTEN/NOTIFY` invalidation, issue #3).
//!
//! Each change is followed by polling both servers until they agree with it, with a
//! deadline ([`WITHIN`]) far below the key cache's 60 s time to live: a server that missed
//! the notification would keep answering from its cache and fail the test.

mod common;

use std::time::{Duration, Instant};

use common::{PgPlatform, Server, serve, todos_schema, write};
use easbase_cli::client::Client;
use serde_json::{Value, json};

/// How long a change may take to reach every server.
const WITHIN: Duration = Duration::from_secs(10);

/// `GET {server}{path}` with `key` as the API key: (status, body).
async fn get(server: &Server, path: &str, key: &str) -> (u16, Value) {
    let res = Client::new(server.url()).get(path).apikey(key).send().await.unwrap();
    (res.status, res.json().unwrap_or(Value::Null))
}

/// Polls `GET path` on every server until each answers `status` (and, when given, the
/// error `code`); panics with the last answers after [`WITHIN`].
async fn until_all(servers: &[&Server], path: &str, key: &str, status: u16, code: Option<&str>, what: &str) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let mut answers = Vec::new();
        for server in servers {
            answers.push(get(server, path, key).await);
        }
        let agree = answers
            .iter()
            .all(|(s, body)| *s == status && code.is_none_or(|c| body["code"].as_str() == Some(c)));
        if agree {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not every server answers {status} {code:?}: {answers:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn json_out(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The id of the project's live key of `kind`.
fn live_key(pg: &PgPlatform, project: &str, kind: &str) -> String {
    let (code, stdout, stderr) = pg.easbase(&["project", "keys", project, "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let keys = json_out(&stdout);
    let key = keys.as_array().unwrap().iter().find(|k| k["kind"] == kind && k["state"] == "live");
    key.unwrap_or_else(|| panic!("no live {kind} key: {keys}"))["id"].as_str().unwrap().to_owned()
}

#[test]
fn two_serve_processes_follow_changes_made_by_a_third() {
    let pg = PgPlatform::new();
    let d = pg.dir.path();
    let v1 = write(d, "todos.json", &todos_schema(""));
    let state = d.join("state");
    let state = state.to_str().unwrap();
    let serve_args = pg.args(&["--schema", &v1, "--project", "shop", "--state-dir", state]);

    // Two servers of one project: the second finds the first's project (idempotency key
    // `serve:shop`) and its keys (the shared state dir), and rotates nothing.
    let a = serve(d, &serve_args).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(a.stderr.contains("created project `shop`"), "{}", a.stderr);
    let b = serve(d, &serve_args).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(b.stderr.contains("reusing project") && b.stderr.contains("up to date"), "{}", b.stderr);
    assert_ne!(a.url(), b.url());
    let project = a.field("project_id").to_owned();
    for field in ["project_id", "publishable_key", "secret_key", "jwt_secret"] {
        assert_eq!(a.field(field), b.field(field), "{field}");
    }
    let (pk, sk) = (a.field("publishable_key").to_owned(), a.field("secret_key").to_owned());
    let servers = [&a, &b];

    common::block_on(async {
        // Both serve the project, and now hold its keys in their caches.
        for server in servers {
            assert_eq!(get(server, "/rest/v1/todos", &pk).await, (200, json!([])));
            assert_eq!(get(server, "/rest/v1/todos", &sk).await, (200, json!([])));
        }

        // Rotated without grace by a third process: the old key is refused by both, the
        // new one accepted.
        let pk_id = live_key(&pg, &project, "publishable");
        let (code, stdout, stderr) =
            pg.easbase(&["project", "keys", &project, "--rotate", &pk_id, "--grace", "0", "--json"]);
        assert_eq!(code, Some(0), "{stderr}");
        let new_pk = json_out(&stdout)["key"].as_str().unwrap().to_owned();
        assert!(new_pk.starts_with("eb_pk_") && new_pk != pk, "{stdout}");
        until_all(&servers, "/rest/v1/todos", &pk, 401, None, "the rotated key").await;
        for server in servers {
            assert_eq!(get(server, "/rest/v1/todos", &new_pk).await, (200, json!([])));
        }

        // Revoked: refused by both.
        let sk_id = live_key(&pg, &project, "secret");
        let (code, _, stderr) = pg.easbase(&["project", "keys", &project, "--revoke", &sk_id]);
        assert_eq!(code, Some(0), "{stderr}");
        until_all(&servers, "/rest/v1/todos", &sk, 401, None, "the revoked key").await;
        // The other key is untouched.
        until_all(&servers, "/rest/v1/todos", &new_pk, 200, None, "the live key").await;

        // A new column applied by a third process: served by both without a restart.
        let done = "/rest/v1/todos?select=title,done";
        for server in servers {
            let (status, body) = get(server, done, &new_pk).await;
            assert_eq!((status, body["code"].as_str()), (400, Some("42703")), "{body}");
        }
        let v2 = write(
            d,
            "todos-v2.json",
            &todos_schema(r#", { "name": "done", "type": "boolean", "required": true, "default": false }"#),
        );
        let (code, stdout, stderr) = pg.easbase(&["schema", "apply", &v2, "--project", &project, "--json"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(json_out(&stdout)["applied"], true, "{stdout}");
        until_all(&servers, done, &new_pk, 200, None, "the new column").await;

        // Paused by a third process: both refuse its keys (503 EB302), and serve again
        // once it is resumed.
        let (code, stdout, stderr) = pg.easbase(&["project", "pause", &project, "--json"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(json_out(&stdout)["status"], "paused", "{stdout}");
        until_all(&servers, done, &new_pk, 503, Some("EB302"), "the paused project").await;
        let (code, _, stderr) = pg.easbase(&["project", "pause", &project]);
        assert_eq!(code, Some(1), "pausing twice is refused: {stderr}");
        assert!(stderr.contains("cannot pause") && stderr.contains("paused"), "{stderr}");
        let (code, stdout, stderr) = pg.easbase(&["project", "resume", &project]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains("resumed project shop") && stdout.contains("ready"), "{stdout}");
        until_all(&servers, done, &new_pk, 200, None, "the resumed project").await;
        let (code, _, stderr) = pg.easbase(&["project", "resume", &project]);
        assert_eq!(code, Some(1), "resuming a ready project is refused: {stderr}");
        assert!(stderr.contains("cannot resume"), "{stderr}");
        let (code, _, stderr) = pg.easbase(&["project", "pause", "no-such-project"]);
        assert_eq!(code, Some(1));
        assert!(stderr.contains("no project `no-such-project`"), "{stderr}");
    });
    // The servers stop before the platform is removed.
    drop((a, b));
}
