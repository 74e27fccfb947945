//! The table: one [`Row`] per server and scenario, printed as markdown.

use std::fmt::Write as _;

use crate::load::Sample;

/// What one server measured: throughput, latency percentiles and failures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Successful requests per second.
    pub rps: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests (wrong status, broken connection).
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// CPU microseconds the servers' threads spent per successful request (0 when not
    /// measured: `--wrk`, or no `/proc`).
    pub server_cpu_us: f64,
}

impl From<&Sample> for Stats {
    fn from(s: &Sample) -> Stats {
        Stats {
            rps: s.rps(),
            p50_ms: s.percentile_ms(0.50),
            p99_ms: s.percentile_ms(0.99),
            ok: s.ok,
            errors: s.errors,
            first_error: s.first_error.clone(),
            server_cpu_us: 0.0,
        }
    }
}

impl Stats {
    /// The median of each figure over `runs` (each figure on its own); counts are summed.
    pub fn median(runs: &[Stats]) -> Stats {
        let median = |f: fn(&Stats) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => 0.0,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        Stats {
            rps: median(|s| s.rps),
            p50_ms: median(|s| s.p50_ms),
            p99_ms: median(|s| s.p99_ms),
            ok: runs.iter().map(|s| s.ok).sum(),
            errors: runs.iter().map(|s| s.errors).sum(),
            first_error: runs.iter().find_map(|s| s.first_error.clone()),
            server_cpu_us: median(|s| s.server_cpu_us),
        }
    }
}

/// How a row compares with its reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// The row's figure divided by the reference's.
    pub value: f64,
    /// What it is relative to (`bare`, `sqlx plain`, …) and which figure.
    pub of: String,
    /// The target (at least this much for throughput), when the issue sets one.
    pub target: Option<f64>,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The scenario.
    pub scenario: String,
    /// The server.
    pub server: String,
    /// What it measured.
    pub stats: Stats,
    /// The comparison with its reference, if it has one.
    pub ratio: Option<Ratio>,
}

impl Row {
    /// A row without a comparison.
    pub fn new(scenario: &str, server: &str, stats: Stats) -> Row {
        Row { scenario: scenario.to_owned(), server: server.to_owned(), stats, ratio: None }
    }

    /// Compares throughput with `reference`'s.
    pub fn ratio_to(mut self, reference: &Stats, of: &str, target: Option<f64>) -> Row {
        let value = if reference.rps > 0.0 { self.stats.rps / reference.rps } else { 0.0 };
        self.ratio = Some(Ratio { value, of: format!("req/s ÷ {of}"), target });
        self
    }

    /// Compares the 99th percentile with `reference`'s.
    pub fn p99_ratio_to(mut self, reference: &Stats, of: &str) -> Row {
        let value = if reference.p99_ms > 0.0 { self.stats.p99_ms / reference.p99_ms } else { 0.0 };
        self.ratio = Some(Ratio { value, of: format!("p99 ÷ {of}"), target: None });
        self
    }

    /// The row on one line, with the first failure if any (the harness's progress).
    pub fn line(&self) -> String {
        let s = &self.stats;
        let failure = s.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default();
        format!(
            "{} | {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{failure}",
            self.scenario, self.server, s.rps, s.p50_ms, s.p99_ms, s.errors
        )
    }

    /// Whether a target is set and missed.
    pub fn missed_target(&self) -> Option<(f64, f64)> {
        let ratio = self.ratio.as_ref()?;
        let target = ratio.target?;
        (ratio.value < target).then_some((ratio.value, target))
    }
}

/// The rows as a markdown table (scenario, server, req/s, p50, p99, errors, ratio,
/// target).
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | server | req/s | p50 ms | p99 ms | server CPU µs/req | errors | ratio | target |\n|---|---|---:|---:|---:|---:|---:|---|---|\n",
    );
    for row in rows {
        let (ratio, target) = match &row.ratio {
            Some(r) => (
                format!("{:.2}× ({})", r.value, r.of),
                r.target.map_or(String::new(), |t| {
                    format!("≥ {t}× {}", if r.value >= t { "met" } else { "**missed**" })
                }),
            ),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} |",
            row.scenario,
            row.server,
            row.stats.rps,
            row.stats.p50_ms,
            row.stats.p99_ms,
            if row.stats.server_cpu_us > 0.0 {
                format!("{:.1}", row.stats.server_cpu_us)
            } else {
                String::new()
            },
            row.stats.errors,
            ratio,
            target
        );
    }
    out
}

/// What machine this is: CPU model, cores, kernel (from `/proc` and `uname`, when present).
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rps: f64, p99_ms: f64) -> Stats {
        Stats { rps, p99_ms, ..Stats::default() }
    }

    #[test]
    fn median_of_each_figure() {
        let m = Stats::median(&[stats(3.0, 9.0), stats(1.0, 1.0), stats(2.0, 5.0)]);
        assert_eq!((m.rps, m.p99_ms), (2.0, 5.0));
        assert_eq!(Stats::median(&[stats(1.0, 0.0), stats(2.0, 0.0)]).rps, 1.5);
    }

    #[test]
    fn ratios_and_targets() {
        let row = Row::new("s", "x", stats(50.0, 2.0)).ratio_to(&stats(100.0, 1.0), "bare", Some(0.6));
        assert_eq!(row.missed_target(), Some((0.5, 0.6)));
        let table = markdown(&[row]);
        assert!(table.contains("| 0.50× (req/s ÷ bare) | ≥ 0.6× **missed** |"), "{table}");
        let row = Row::new("s", "x", stats(70.0, 4.0)).ratio_to(&stats(100.0, 1.0), "bare", Some(0.6));
        assert_eq!(row.missed_target(), None);
        let row = Row::new("s", "x", stats(70.0, 4.0)).p99_ratio_to(&stats(100.0, 1.0), "alone");
        assert_eq!(row.ratio.map(|r| r.value), Some(4.0));
    }
}
