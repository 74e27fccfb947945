//! The same workloads sent by `wrk` (when it is installed: `apt-get install wrk`), for a
//! second opinion from a load generator written in C. A Lua script sets the method,
//! headers and body and cycles the path's number as the harness's generator does.

use std::net::SocketAddr;
use std::process::Command;

use crate::error::{Error, Result};
use crate::load::{RunConfig, Workload};
use crate::report::Stats;

/// Whether `wrk` can be run.
pub fn available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// A Lua long string holding `s`.
fn lua_string(s: &str) -> String {
    let mut level = 1;
    while s.contains(&format!("]{}]", "=".repeat(level))) {
        level += 1;
    }
    let eq = "=".repeat(level);
    format!("[{eq}[{s}]{eq}]")
}

/// The Lua script of `workload`.
pub fn script(workload: &Workload) -> Result<String> {
    let mut lua = format!("wrk.method = {}\n", lua_string(workload.method.as_str()));
    if !workload.body.is_empty() {
        let body = std::str::from_utf8(&workload.body).map_err(|e| Error::setup("wrk body", e))?;
        lua += &format!("wrk.body = {}\n", lua_string(body));
    }
    for (name, value) in &workload.headers {
        let value = value.to_str().map_err(|e| Error::setup("wrk header", e))?;
        lua += &format!("wrk.headers[ {} ] = {}\n", lua_string(name.as_str()), lua_string(value));
    }
    let path = &workload.path;
    match &path.cycle {
        None => {
            lua += &format!("request = function() return wrk.format(nil, {}) end\n", lua_string(&path.prefix))
        }
        Some((modulo, suffix)) => {
            lua += &format!(
                "local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, {} .. tostring(n % {modulo} + 1) .. {})\nend\n",
                lua_string(&path.prefix),
                lua_string(suffix)
            );
        }
    }
    Ok(lua)
}

/// Runs `wrk` with `threads` threads against `addr` and reads its summary.
///
/// # Errors
/// [`Error::Load`] when wrk is missing, fails, or prints what is not understood.
pub fn run(addr: SocketAddr, workload: &Workload, config: RunConfig, threads: usize) -> Result<Stats> {
    let dir = tempfile::tempdir().map_err(|e| Error::Load(format!("temporary folder: {e}")))?;
    let script_path = dir.path().join("workload.lua");
    std::fs::write(&script_path, script(workload)?).map_err(|e| Error::Load(format!("wrk script: {e}")))?;
    let duration_ms = config.duration.as_millis().max(1000);
    let output = Command::new("wrk")
        .arg(format!("-t{}", threads.max(1)))
        .arg(format!("-c{}", config.connections.max(threads.max(1))))
        .arg(format!("-d{}s", duration_ms.div_ceil(1000)))
        .arg("--latency")
        .arg("-s")
        .arg(&script_path)
        .arg(format!("http://{addr}"))
        .output()
        .map_err(|e| Error::Load(format!("cannot run wrk (apt-get install wrk): {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    // wrk runs on with its default request when the script fails: treat that as failure.
    if !output.status.success() || !errors.trim().is_empty() {
        return Err(Error::Load(format!("wrk failed: {text}{errors}")));
    }
    parse(&text)
}

/// Reads wrk's `--latency` summary.
///
/// # Errors
/// [`Error::Load`] when a figure is missing.
pub fn parse(text: &str) -> Result<Stats> {
    let missing = |what: &str| Error::Load(format!("wrk printed no {what}:\n{text}"));
    let field = |prefix: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|rest| rest.trim().to_owned()))
    };
    let rps: f64 =
        field("Requests/sec:").and_then(|v| v.parse().ok()).ok_or_else(|| missing("Requests/sec"))?;
    let p50 = field("50%").and_then(|v| duration_ms(&v)).ok_or_else(|| missing("50% latency"))?;
    let p99 = field("99%").and_then(|v| duration_ms(&v)).ok_or_else(|| missing("99% latency"))?;
    let total: u64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").and_then(|(n, _)| n.trim().parse().ok()))
        .ok_or_else(|| missing("request count"))?;
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let socket_errors: u64 = field("Socket errors:")
        .map(|v| v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    let errors = non_2xx + socket_errors;
    let ok = total.saturating_sub(non_2xx);
    let rps = if total > 0 { rps * ok as f64 / total as f64 } else { 0.0 };
    Ok(Stats {
        rps,
        p50_ms: p50,
        p99_ms: p99,
        ok,
        errors,
        first_error: (errors > 0)
            .then(|| format!("wrk: {non_2xx} non-2xx answers, {socket_errors} socket errors")),
        server_cpu_us: 0.0,
    })
}

/// `312.00us`, `1.20ms`, `2.00s` in milliseconds.
fn duration_ms(v: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (v.strip_suffix('s')?, 1000.0)
    };
    number.trim().parse::<f64>().ok().map(|n| n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::PathPattern;

    const OUTPUT: &str = "Running 5s test @ http://127.0.0.1:4000
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   420.11us  210.00us   9.10ms   90.00%
  Latency Distribution
     50%  312.00us
     75%  500.00us
     90%  700.00us
     99%    1.20ms
  100000 requests in 5.00s, 12.34MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 10
Requests/sec:  20000.00
Transfer/sec:      2.47MB
";

    #[test]
    fn reads_the_summary() {
        let stats = parse(OUTPUT).unwrap();
        assert_eq!((stats.p50_ms, stats.p99_ms), (0.312, 1.2));
        assert_eq!((stats.ok, stats.errors), (99_990, 13));
        assert!((stats.rps - 19_998.0).abs() < 0.01, "{}", stats.rps);
        assert!(parse("Requests/sec: 1").is_err());
    }

    #[test]
    fn scripts_cycle_the_path() {
        let w =
            Workload::get(PathPattern::cycling("/items?id=eq.", 10, "&x=]]")).header("apikey", "k").unwrap();
        let lua = script(&w).unwrap();
        assert!(lua.contains("wrk.headers[ [=[apikey]=] ] = [=[k]=]"), "{lua}");
        assert!(lua.contains("[=[/items?id=eq.]=] .. tostring(n % 10 + 1) .. [=[&x=]]]=]"), "{lua}");
    }
}
