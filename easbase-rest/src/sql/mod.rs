//! Stage 3 of the pipeline: an [`ActionPlan`](crate::plan::ActionPlan) → [`SqlPlan`], the
//! statements of one transaction with bound values, built by sea-query for the project's
//! dialect.
//!
//! Identifiers come only from the validated plan; values are always bound. On PostgreSQL
//! table references are qualified with the project's schema and row-level security does
//! the filtering (the transaction runs under the request's role and claims). On SQLite and
//! MySQL/MariaDB the table's policies are compiled into the statements (`policy.rs`):
//! `using` into the WHERE clause, `check` into a guard that re-reads the written rows and
//! rolls the transaction back with `42501` if any fails.
//!
//! Files: `builder.rs` (statements per plan), `cache.rs` (statement templates per read
//! shape: a repeated read binds new values into the SQL built the first time), `builder/mysql.rs` (MySQL's embeds in
//! `JSON_ARRAYAGG` and its writes, which have no `RETURNING`: written rows are found again
//! by primary key through temporary tables), `expr.rs` (expressions per dialect),
//! `policy.rs` (policy conditions and write guards).

mod builder;
mod cache;
mod expr;
mod policy;

pub use builder::{SqlPlan, SqlTarget, build};
pub(crate) use builder::{max_affected_rows, not_singular_rows};
pub(crate) use cache::Templates;
pub use cache::{MAX_TEMPLATES, TemplateStats};
