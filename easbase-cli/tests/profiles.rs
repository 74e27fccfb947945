//! `easbase serve --profile NAME=FILE`: a named schema served beside the project's own,
//! chosen with `Accept-Profile` / `Content-Profile`, migrated on each start.

mod common;

use std::io::{Read, Write};

use common::{easbase_in, serve, todos_schema, write};

const EVENTS: &str = r#"{ "tables": [ { "name": "events", "columns": [
    { "name": "id", "type": "integer", "primary": true },
    { "name": "kind", "type": "text", "required": true } ],
  "policies": { "select": "true" } } ] }"#;

/// One HTTP/1.1 request over a fresh connection: (status line, whole answer).
fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (String, String) {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request
        .push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    (answer.lines().next().unwrap_or("").to_owned(), answer)
}

#[test]
fn serve_exposes_named_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let todos = write(d, "todos.json", &todos_schema(""));
    let events = write(d, "events.json", EVENTS);
    let db = format!("sqlite://{}", d.join("data/easbase.db").display());
    let profile = format!("analytics={events}");
    let args = ["--database-url", &db, "--schema", &todos, "--profile", &profile];
    let server = serve(d, &args).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(server.stderr.contains("profile `analytics` migrated"), "{}", server.stderr);
    let sk = server.field("secret_key").to_owned();
    let url = server.url().to_owned();
    let (status, answer) = http(
        &url,
        "POST",
        "/rest/v1/events",
        &[("apikey", &sk), ("Content-Profile", "analytics")],
        r#"{"id": 1, "kind": "click"}"#,
    );
    assert!(status.contains(" 201 "), "{answer}");
    let (status, answer) = http(
        &url,
        "GET",
        "/rest/v1/events?select=kind",
        &[("apikey", &sk), ("Accept-Profile", "analytics")],
        "",
    );
    assert!(status.contains(" 200 "), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("content-profile: analytics"), "{answer}");
    assert!(answer.ends_with(r#"[{"kind":"click"}]"#), "{answer}");
    // `public` has no such table; an unknown profile is refused.
    let (status, _) = http(&url, "GET", "/rest/v1/events", &[("apikey", &sk)], "");
    assert!(status.contains(" 404 "), "{status}");
    let (status, answer) =
        http(&url, "GET", "/rest/v1/todos", &[("apikey", &sk), ("Accept-Profile", "nope")], "");
    assert!(status.contains(" 406 "), "{answer}");
    assert!(answer.contains("The schema must be one of the following: public, analytics"), "{answer}");
    drop(server);

    // A restart with the same files changes nothing and keeps the rows.
    let server = serve(d, &args).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!server.stderr.contains("migrated"), "{}", server.stderr);
    let (_, answer) = http(
        server.url(),
        "GET",
        "/rest/v1/events?select=kind",
        &[("apikey", &sk), ("Accept-Profile", "analytics")],
        "",
    );
    assert!(answer.ends_with(r#"[{"kind":"click"}]"#), "{answer}");
    drop(server);

    // A malformed --profile is a usage error (exit 2); a bad name is refused (exit 1).
    let (code, _, err) =
        easbase_in(d, &["serve", "--database-url", &db, "--schema", &todos, "--profile", "x"]);
    assert_eq!(code, Some(2), "{err}");
    let bad = format!("Bad={events}");
    let (code, _, err) = easbase_in(
        d,
        &["serve", "--database-url", &db, "--schema", &todos, "--profile", &bad, "--listen", "127.0.0.1:0"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("Bad"), "{err}");
}
