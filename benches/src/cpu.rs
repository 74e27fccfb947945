//! CPU time of this process's threads, read from `/proc` (Linux): what the servers spent,
//! apart from the load generator's threads (named `bench-load`).
//!
//! Throughput on a machine shared with other work moves with that work; the CPU time a
//! server spends per request moves much less, so the table reports both. PostgreSQL's own
//! processes are not counted (they serve EasBase and its references alike).

/// Clock ticks per second of `/proc/*/stat` (`getconf CLK_TCK`: 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

/// User + system clock ticks of every thread of this process except the load
/// generator's; `None` where `/proc` cannot be read (not Linux).
pub fn server_ticks() -> Option<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(entry) = entry else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((name, ticks)) = parse_stat(&stat) else { continue };
        if !name.starts_with("bench-load") {
            total += ticks;
        }
    }
    Some(total)
}

/// A thread's name and its user + system ticks from its `stat` line.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, so utime (14) and stime (15) are 11, 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// CPU microseconds per request for `ticks` spent on `requests`.
pub fn micros_per_request(ticks: u64, requests: u64) -> f64 {
    if requests == 0 { 0.0 } else { ticks as f64 / TICKS_PER_SEC * 1e6 / requests as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_spaces_in_the_name() {
        let line = "42 (bench load 1) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some(("bench load 1", 280)));
        assert_eq!(micros_per_request(100, 1_000_000), 1.0);
        assert_eq!(micros_per_request(5, 0), 0.0);
    }
}
