//! Migrations: plans from one schema version to the next, and (behind the backend
//! features) applying them to a live database with a recorded history.
//!
//! ## A tour
//!
//! [`plan`] compares two validated schemas and lists the [`Step`]s that turn a database
//! holding the first into one holding the second, each with its SQL for one [`Dialect`].
//! Steps that lose data (dropping a table or a column, narrowing a type, removing an enum
//! value) are marked [`Step::destructive`]; renames are declared in the new schema with
//! `renamed_from`, so they keep their rows.
//!
//! ```
//! use easbase_schema::{Dialect, Schema, ddl::DdlOptions, migrate::{self, StepKind}};
//!
//! let v1 = Schema::from_json(r#"{ "tables": [ { "name": "products", "columns": [
//!     { "name": "id", "type": "uuid", "primary": true },
//!     { "name": "title", "type": "varchar(80)", "required": true },
//!     { "name": "notes", "type": "text" } ] } ] }"#)?.validate()?;
//! let v2 = Schema::from_json(r#"{ "tables": [ { "name": "products", "columns": [
//!     { "name": "id", "type": "uuid", "primary": true },
//!     { "name": "name", "renamed_from": "title", "type": "text", "required": true },
//!     { "name": "price", "type": "decimal(10,2)", "required": true, "default": 0 } ] } ] }"#)?.validate()?;
//!
//! let plan = migrate::plan(&v1, &v2, Dialect::Postgres, &DdlOptions::default())?;
//! let kinds: Vec<StepKind> = plan.steps.iter().map(|s| s.kind).collect();
//! assert_eq!(
//!     kinds,
//!     [
//!         StepKind::ReplacePolicies, // dropped: they may read the columns that change
//!         StepKind::RenameColumn,
//!         StepKind::AddColumn,
//!         StepKind::AlterColumn,
//!         StepKind::ReplacePolicies, // created again
//!         StepKind::DropColumn,
//!     ]
//! );
//! // Widening varchar(80) to text keeps every value; dropping `notes` does not.
//! assert_eq!(plan.destructive_steps().count(), 1);
//! assert!(plan.to_string().contains("! drop column `notes` from `products`"));
//! assert!(plan.to_sql().contains(r#"ALTER TABLE "products" RENAME COLUMN "title" TO "name""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Order of steps
//!
//! Plans are deterministic (the same inputs give a byte-identical plan) and ordered so that
//! each step finds what it needs: enums are created (or get new values) first; then the
//! policies, foreign keys, constraints and indexes that would block a change are dropped;
//! tables and columns are renamed; new tables are created (referenced tables first);
//! columns are added and altered (SQLite tables that cannot be altered in place are
//! rebuilt); constraints, indexes and policies are (re)created; and columns, tables (in
//! reverse dependency order) and enums are dropped last.
//!
//! ## Per dialect
//!
//! - **PostgreSQL**: `ALTER TABLE … ALTER COLUMN … TYPE … USING`, `SET / DROP NOT NULL`,
//!   `SET / DROP DEFAULT`; enums get `ADD VALUE`, or are recreated when values go away;
//!   a table's policies are dropped and recreated when they (or the columns they read)
//!   change; new tables get row-level security, policies and grants.
//! - **SQLite**: adds, renames and drops columns in place where SQLite allows it; any other
//!   change to a table rebuilds it (`_easbase_new_<table>` created, rows copied, the old
//!   table dropped, the new one renamed, indexes and triggers recreated). The SQLite
//!   executor runs a plan with foreign keys off and checks them (`PRAGMA foreign_key_check`)
//!   before it commits.
//! - **MySQL / MariaDB**: `MODIFY COLUMN`, `RENAME TABLE`, `RENAME COLUMN`. MySQL commits
//!   every DDL statement on its own, so a plan there is not atomic.
//!
//! ## Applying
//!
//! With a backend feature (`postgres`, `sqlite`, `mysql`), `apply` records every applied
//! version in a `_easbase_migrations` table and plans from the last one, over an
//! `Executor` implemented for `tokio_postgres::Client`, `rusqlite::Connection` and
//! `sqlx::MySqlConnection`:
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn demo(schema: &easbase_schema::Schema) -> Result<(), easbase_schema::Error> {
//! use easbase_schema::migrate::{self, ApplyOptions};
//!
//! let mut db = rusqlite::Connection::open("app.db").map_err(|e| easbase_schema::Error::Database(e.to_string()))?;
//! let report = migrate::apply(&mut db, "2024-06-01", schema, &ApplyOptions::default()).await?;
//! println!("{}", report.plan); // the steps run, or "no changes"
//! # Ok(())
//! # }
//! ```
//!
//! | situation | result |
//! |---|---|
//! | version already applied with the same schema | nothing done, `already_applied` |
//! | version applied with another schema, or a history row edited | `Error::Drift` |
//! | destructive steps without `allow_destructive` | `Error::Destructive`, nothing done |
//! | the database refuses a statement | `Error::Database`, rolled back (not on MySQL) |

#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod apply;
#[cfg(feature = "mysql")]
mod mysql;
mod plan;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;

#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub use apply::{
    ApplyOptions, ApplyReport, Executor, HISTORY_TABLE, HistoryRow, apply, checksum, history_statements,
};
pub use plan::plan;

use crate::Dialect;

/// What a [`Step`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepKind {
    /// Statements a schema needs once (PostgreSQL: schema grants, the `updated_at`
    /// trigger function); idempotent.
    Setup,
    /// `CREATE TYPE … AS ENUM` (PostgreSQL).
    CreateEnum,
    /// Values added to an enum, or the enum recreated without some (PostgreSQL).
    AlterEnum,
    /// `DROP TYPE` (PostgreSQL).
    DropEnum,
    /// A new table, with its indexes, triggers and (PostgreSQL) security.
    CreateTable,
    /// `DROP TABLE` (destructive).
    DropTable,
    /// A table renamed (`renamed_from`).
    RenameTable,
    /// A column added.
    AddColumn,
    /// A column dropped (destructive).
    DropColumn,
    /// A column renamed (`renamed_from`).
    RenameColumn,
    /// A column's type, nullability or default changed (destructive when the type narrows).
    AlterColumn,
    /// `CREATE INDEX`.
    CreateIndex,
    /// `DROP INDEX`.
    DropIndex,
    /// A primary key, unique, foreign key or check constraint added.
    AddConstraint,
    /// A primary key, unique, foreign key or check constraint dropped.
    DropConstraint,
    /// A table's row policies dropped or recreated (PostgreSQL).
    ReplacePolicies,
    /// The trigger that maintains `updated_at` created, renamed or dropped.
    Trigger,
    /// A table or column comment changed.
    Comment,
    /// A SQLite table rebuilt: created anew, rows copied, old one dropped and replaced.
    RebuildTable,
}

/// One step of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it does.
    pub kind: StepKind,
    /// The table it changes (its new name), if any.
    pub table: Option<String>,
    /// What it does, for a person: "add column `price` to `products`".
    pub description: String,
    /// Whether it can lose data (dropping a table or column, narrowing a type).
    pub destructive: bool,
    /// Its statements, in order, without a trailing `;`.
    pub sql: Vec<String>,
}

/// The steps from one version of a schema to the next, for one dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The dialect the SQL is for.
    pub dialect: Dialect,
    /// The steps, in the order to run them.
    pub steps: Vec<Step>,
}

impl Plan {
    /// No step at all: the schemas are equivalent on this dialect.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps that can lose data.
    pub fn destructive_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.destructive)
    }

    /// Every statement of every step, in order.
    pub fn statements(&self) -> Vec<String> {
        self.steps.iter().flat_map(|s| s.sql.iter().cloned()).collect()
    }

    /// The whole script: each step as a `--` comment line followed by its statements,
    /// each ending with `;`. On SQLite a script with a [`StepKind::RebuildTable`] step must
    /// run with `PRAGMA foreign_keys = OFF` (and be checked with `PRAGMA
    /// foreign_key_check`), as the SQLite executor does.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            out.push_str("-- ");
            if step.destructive {
                out.push_str("(destructive) ");
            }
            out.push_str(&step.description.replace(['\n', '\r'], " "));
            out.push('\n');
            for sql in &step.sql {
                out.push_str(sql);
                out.push_str(";\n");
            }
            out.push('\n');
        }
        out
    }
}

/// One line per step, destructive ones marked with `!`:
///
/// ```text
/// - add column `price` to `products`
/// ! drop column `notes` from `products`
/// ```
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("no changes\n");
        }
        for step in &self.steps {
            let mark = if step.destructive { '!' } else { '-' };
            writeln!(f, "{mark} {}", step.description)?;
        }
        Ok(())
    }
}
