//! # easbase-core (not built yet)
//!
//! The runtime foundation every other EasBase crate will use: the platform handle over the
//! host's database, projects and API keys, the request context (project, role, claims), the
//! scoped database session through which every request reaches data, usage and request-log
//! sinks, and the `Module` trait through which auth, REST and storage add their tables to
//! every project. It will know nothing of HTTP.
//!
//! **Status:** nothing is implemented here yet; the design is in `ARCHITECTURE.md` and
//! `DESIGN.md`. What exists today is the schema compiler, [`easbase_schema`], re-exported
//! as [`schema`].

#![forbid(unsafe_code)]

pub use easbase_schema as schema;
