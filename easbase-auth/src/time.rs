//! Time as the auth tables keep it: Unix seconds (`bigint`, portable across SQLite,
//! PostgreSQL and MySQL), shown to clients as RFC 3339 text as GoTrue does.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time in Unix seconds.
pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Unix seconds as RFC 3339 in UTC (`2024-05-01T12:00:00Z`).
///
/// ```
/// assert_eq!(easbase_auth::rfc3339(0), "1970-01-01T00:00:00Z");
/// assert_eq!(easbase_auth::rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
/// ```
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = easbase_core::calendar::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
