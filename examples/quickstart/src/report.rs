//! What the journey prints, and [`Failure`]: an expectation that did not hold (the
//! example then exits 1).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use easbase_cli::client::Response;

/// Why the journey stopped.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Failure {
        Failure(s.to_owned())
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure(s)
    }
}

macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Failure {
                Failure(e.to_string())
            }
        }
    )*};
}
failure_from!(
    easbase_cli::Error,
    easbase_core::Error,
    easbase_schema::Error,
    easbase_schema::ValidationErrors
);

/// How many expectations held so far.
static CHECKS: AtomicU32 = AtomicU32::new(0);

/// How many expectations ([`expect`], [`expect_status`]) held.
pub(crate) fn checks() -> u32 {
    CHECKS.load(Ordering::Relaxed)
}

/// A numbered step's heading.
pub(crate) fn step(n: u32, title: &str) {
    println!("\n{n}. {title}");
}

/// A line under a step (an empty one for an empty text).
pub(crate) fn line(text: impl fmt::Display) {
    let text = text.to_string();
    if text.is_empty() { println!() } else { println!("   {text}") }
}

/// `eb_sk_<id>_<secret>` → `eb_sk_<id>_••••••••`: the key's public id stays readable.
pub(crate) fn mask(key: &str) -> String {
    match key.rfind('_') {
        Some(i) if i + 1 < key.len() => format!("{}••••••••", &key[..=i]),
        _ => "••••••••".to_owned(),
    }
}

/// A body shortened to one line of at most `max` characters.
pub(crate) fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// What a person wants to see of an answer: rows without their timestamps and with
/// user ids shortened, a session's user, an error's code and message.
pub(crate) fn summary(body: &serde_json::Value) -> String {
    use serde_json::Value;
    fn compact(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "created_at" | "updated_at"))
                    .map(|(k, v)| (k.clone(), compact(v)))
                    .collect(),
            ),
            Value::String(s) if s.len() == 36 && s.matches('-').count() == 4 => {
                Value::String(format!("{}…", &s[..8]))
            }
            other => other.clone(),
        }
    }
    match body {
        Value::Array(rows) if rows.is_empty() => "no rows".to_owned(),
        Value::Array(rows) => {
            let shown: Vec<String> = rows.iter().map(|r| compact(r).to_string()).collect();
            short(&format!("{} row(s) {}", rows.len(), shown.join(" ")), 110)
        }
        Value::Object(map) if map.contains_key("access_token") => format!(
            "session for {} (access token {}…, expires in {} s)",
            body["user"]["email"].as_str().unwrap_or("?"),
            body["access_token"].as_str().map_or("", |t| &t[..t.len().min(12)]),
            body["expires_in"]
        ),
        Value::Object(map)
            if map.contains_key("code") && (map.contains_key("message") || map.contains_key("msg")) =>
        {
            let code = map.get("error_code").unwrap_or(&map["code"]);
            let message = map.get("message").or_else(|| map.get("msg")).unwrap_or(&Value::Null);
            short(
                &format!(
                    "{} {}",
                    code.as_str().map_or_else(|| code.to_string(), str::to_owned),
                    message.as_str().unwrap_or("")
                ),
                110,
            )
        }
        other => short(&other.to_string(), 110),
    }
}

/// Checks one HTTP answer: prints `✓ what → status summary` when `status` is among
/// `expected`, else stops the journey with the whole answer.
pub(crate) fn expect_status(
    what: &str,
    res: &Response,
    expected: &[u16],
) -> Result<serde_json::Value, Failure> {
    let body = res.expect(expected).map_err(|e| Failure(format!("{what}: {e}")))?;
    CHECKS.fetch_add(1, Ordering::Relaxed);
    println!("   ✓ {what} → {} {}", res.status, summary(&body));
    Ok(body)
}

/// Stops the journey unless `holds`.
pub(crate) fn expect(holds: bool, what: impl fmt::Display) -> Result<(), Failure> {
    if !holds {
        return Err(Failure(format!("expectation failed: {what}")));
    }
    CHECKS.fetch_add(1, Ordering::Relaxed);
    Ok(())
}
