//! # easbase-rest (not built yet)
//!
//! The CRUD engine speaking PostgREST's URL dialect, so `@supabase/postgrest-js` works
//! unchanged: a request pipeline of one stage per module (request → plan → sql → execute
//! → respond), checked against the project's schema before any SQL is built. On SQLite
//! and MySQL it adds each table's policies to the statement, compiled by
//! [`easbase_schema::policy::to_sea_query`].
//!
//! **Status:** nothing is implemented here yet; see `ARCHITECTURE.md`.

#![forbid(unsafe_code)]

pub use easbase_schema as schema;
