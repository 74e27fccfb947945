//! # easbase-core: the runtime foundation
//!
//! Projects (tenants) with API keys, the request context, and the scoped database
//! session through which every request reaches data. Other crates (REST, auth, storage)
//! build on it; it knows nothing of HTTP.
//!
//! **Status:** the database handle ([`db`]), API keys ([`keys`]), the request context with
//! JWT verification ([`context`]), the project lifecycle ([`project`]), usage metering
//! ([`usage`]) and request logs ([`logs`]) work on SQLite, PostgreSQL (shared and
//! dedicated isolation; caches invalidated across processes by `LISTEN/NOTIFY`) and
//! MySQL / MariaDB (feature `mysql`: a database per project; caches invalidated across
//! processes through a polled events table). Every engine emits `tracing` spans per
//! transaction and statement (kind, table, rows; never values or claims).
//! A project may also serve an existing PostgreSQL schema with its own row-level security
//! ([`project::AdoptSchema`], as PostgREST does). Idempotent creation holds across
//! processes (a unique `(owner, idempotency_key)` and a provisioning claim in the platform
//! table). Usage sinks attached to the platform drop a deleted project's counters.
//! The HTTP layers record every request of a resolved project through the platform's
//! sinks ([`Platform::start_metering`](project::Platform::start_metering) starts the
//! batching ones; [`Platform::record_request`](project::Platform::record_request) takes a
//! [`usage::RequestOutcome`]): one non-blocking `record` per sink, no row per request.
//! Plans and quotas ([`quota`]): every request that
//! [`Platform::resolve`](project::Platform::resolve) resolves is admitted against its
//! project's plan (requests per minute, on counters in memory, the platform database or
//! Redis, shared by every process), refused with [`Error::RateLimited`] (code
//! `rate_limited`, with the seconds to wait: REST answers 429 `EB103`, auth 429
//! `over_request_rate_limit`, both with `Retry-After`); rows and storage bytes are pure
//! checks ([`quota::check_rows`], [`quota::check_storage`]) for the layers that write.
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | the embedded SQLite engine (rusqlite, bundled) |
//! | `postgres` | no | the PostgreSQL engine (tokio-postgres pool, pipelined transactions) |
//! | `mysql` | no | the MySQL / MariaDB engine (sqlx pool, statements bound by sea-query-sqlx) |
//! | `sea-orm` | no | `Db::from_sea_orm`: the MySQL pool under a host's sea-orm connection (sea-orm 2.0, Rust 1.94+) |
//! | `redis` | no | `quota::RedisCounters`: request counters shared through Redis |

#![forbid(unsafe_code)]

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("easbase-core needs at least one backend feature: `sqlite`, `postgres` or `mysql`");

pub mod calendar;
pub mod context;
pub mod db;
pub mod error;
pub mod keys;
pub mod logs;
pub mod module;
pub mod project;
pub mod quota;
pub mod usage;

pub use easbase_schema as schema;
pub use error::{Error, Result};
