//! The quickstart run as a process, as the README tells a person to run it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_example-quickstart");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run the quickstart");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_journey_runs_to_the_end_and_exits_0() {
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for needle in [
        "signed up founder@shop.example (platform account ",
        "\"My E-commerce Backend\" is ready",
        "orders     id, customer_id, product_id, quantity, status",
        "select when customer_id = auth.uid",
        "email + password on",
        "orders     GET|POST /rest/v1/orders  GET|PATCH|DELETE /rest/v1/orders/{id}",
        "publishable key  eb_pk_",
        "secret key       eb_sk_",
        "✓ GET /rest/v1/orders as Bob → 200 no rows",
        "✓ PATCH /rest/v1/orders?id=eq.1 as Bob changes nothing → 200 no rows",
        "✓ POST /rest/v1/orders in Alice's name as Bob is refused → 403",
        "✓ GET /rest/v1/orders/1?select=quantity,status as Alice → 200 {\"quantity\":3,\"status\":\"paid\"}",
        "✓ GET /rest/v1/orders/1?select=quantity,status as Bob → 404 PGRST116",
        "checks passed",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    // The secret key is shown in full once only.
    let secret = stdout.lines().find_map(|l| l.trim().strip_prefix("secret key")).unwrap().trim();
    assert!(secret.starts_with("eb_sk_") && secret.len() > 30, "{secret}");
    assert_eq!(stdout.matches(secret).count(), 1, "{stdout}");
    assert!(!stdout.contains("--sql") || stdout.contains("run with --sql"), "no SQL without --sql");
    assert!(!stdout.contains("CREATE TABLE"), "{stdout}");
}

#[test]
fn sql_flag_prints_the_generated_sql() {
    let (code, stdout, stderr) = run(&["--sql"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("-- sqlite") && stdout.contains("-- postgres"), "{stdout}");
    assert!(stdout.contains(r#"CREATE TABLE "orders""#), "{stdout}");
    assert!(stdout.contains("ENABLE ROW LEVEL SECURITY") && stdout.contains("CREATE POLICY"), "{stdout}");
}

#[test]
fn bad_arguments_exit_2_with_the_usage() {
    let (code, _, stderr) = run(&["--nope"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown argument `--nope`") && stderr.contains("usage:"), "{stderr}");
    let (code, _, stderr) = run(&["--listen", "not-an-address"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("--serve"), "{stdout}");
}

/// Kills the child when dropped, whatever happens in the test.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_flag_keeps_serving_with_a_curl_line() {
    let child = Command::new(BIN)
        .args(["--serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the quickstart");
    let mut child = Killed(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut curl = None;
    let started = Instant::now();
    // Kept open until the end: the quickstart still prints after the curl line.
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("curl '") {
            curl = Some(rest.to_owned());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no curl line");
    }
    let curl = curl.expect("a curl line before the output ends");
    // curl 'http://127.0.0.1:PORT/rest/v1/products?select=name,price' -H 'apikey: eb_pk_…'
    let (url, rest) = curl.split_once('\'').unwrap();
    let key = rest.split("apikey: ").nth(1).unwrap().trim_end_matches('\'');
    let (base, path) = url.split_at(url.find("/rest/v1").unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let res = runtime
        .block_on(easbase_cli::client::Client::new(base).get(path).apikey(key).send())
        .expect("the server still answers");
    assert_eq!(res.status, 200);
    let body = res.json().unwrap();
    assert_eq!(body.as_array().map(Vec::len), Some(3), "{body}");
    assert_eq!(body[0]["name"], "Mechanical keyboard");
    assert!(child.0.try_wait().unwrap().is_none(), "still running");
    drop(child);
    drop(lines);
}

#[test]
fn a_failure_exits_1_with_the_reason() {
    // The address is taken: the host cannot start, and the journey says so.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, stderr) = run(&["--listen", &addr]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("quickstart failed") && stderr.contains(&addr), "{stderr}");
}
