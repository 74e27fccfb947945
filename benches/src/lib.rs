//! Benchmarks of EasBase.
//!
//! - `benches/db.rs`, `benches/projects.rs`: criterion micro-benchmarks of the database
//!   handle and of project creation (`cargo bench -p easbase-benches --bench db`).
//! - This library and its `load` binary: the end-to-end HTTP load harness. It measures
//!   EasBase's whole stack (REST and auth mounted in axum as `easbase serve` mounts them)
//!   against reference servers **in the same run** and reports ratios, never asserting
//!   them (`README.md` holds the measured numbers and how to reproduce them):
//!
//! ```text
//! cargo run -p easbase-benches --release --bin load -- [SCENARIO…] [--duration 5] [--runs 3] [--out FILE]
//! ```
//!
//! | module | holds |
//! |---|---|
//! | [`fixture`] | the EasBase host on a server runtime of its own, its project, 10,000 rows and users |
//! | [`servers`] | the references: a bare axum route; axum + sqlx on PostgreSQL, plain and PostgREST's transaction |
//! | [`load`] | the closed-loop generator (hyper over loopback, exact percentiles) |
//! | [`wrk`] | the same workloads through `wrk`, when installed (`--wrk`) |
//! | [`scenario`] | what is compared with what; warm-up and medians of runs |
//! | [`cpu`] | the servers' CPU time per request (from `/proc`), steadier than req/s on a shared machine |
//! | [`report`] | the table (req/s, p50, p99, ratio to the reference, target) as markdown |
//!
//! The servers run on one runtime and the load generator on another, so they share the
//! machine's cores as a server and its clients on one host would.

pub mod cpu;
pub mod error;
pub mod fixture;
pub mod load;
pub mod report;
pub mod scenario;
pub mod servers;
pub mod wrk;

pub use error::{Error, Result};
