//! # easbase-schema: the schema compiler
//!
//! A schema description (JSON, TOML or Rust values) becomes validated DDL for PostgreSQL,
//! SQLite and MySQL/MariaDB, row-level-security policies compiled from one small policy
//! language, and migration plans from one version of a schema to the next. Pure: no
//! async, no I/O, no HTTP — except the optional executors behind the backend features.
//!
//! ## A tour
//!
//! ```
//! use easbase_schema::{Dialect, Schema, ddl::{self, DdlOptions}};
//!
//! // 1. Describe (or load with Schema::from_path("schema.toml")).
//! let schema = Schema::from_json(r#"{ "tables": [ {
//!     "name": "posts",
//!     "columns": [
//!       { "name": "id", "type": "uuid", "primary": true, "default": "gen_random_uuid()" },
//!       { "name": "owner_id", "type": "uuid", "required": true, "default": "auth.uid" },
//!       { "name": "title", "type": "varchar(200)", "required": true, "check": "title != ''" },
//!       { "name": "published", "type": "boolean", "required": true, "default": false }
//!     ],
//!     "timestamps": true,
//!     "policies": {
//!       "select": "published = true || owner_id = auth.uid",
//!       "insert": "owner_id = auth.uid",
//!       "update": "owner_id = auth.uid",
//!       "delete": "false"
//!     } } ] }"#)?;
//!
//! // 2. Validate: every broken rule is reported with its path.
//! let valid = schema.validate()?;
//!
//! // 3. Generate DDL per dialect (PostgreSQL gets RLS, policies and grants).
//! let pg = ddl::generate(&valid, Dialect::Postgres, &DdlOptions::default())?.to_sql();
//! assert!(pg.contains("FORCE ROW LEVEL SECURITY"));
//! assert!(pg.contains("(select"));
//!
//! // 4. The same policy, as a condition SQLite/MySQL requests add to their statements.
//! let table = valid.table("posts").unwrap();
//! let select = &table.policies[0];
//! assert!(select.using.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Migrations: [`migrate::plan`] compares two versions and lists steps, destructive ones
//! marked; see the [`migrate`] module.
//!
//! ## Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `postgres` | apply migrations on and introspect PostgreSQL (tokio-postgres) |
//! | `sqlite` | apply migrations on SQLite (rusqlite, bundled) |
//! | `mysql` | apply migrations on MySQL / MariaDB (sqlx) |
//!
//! ## Invariants
//! - No SQL text is built from caller input: identifiers are validated names
//!   ([`TableName`], [`ColumnName`]) quoted by sea-query; values are literals escaped by
//!   sea-query (DDL) or bound parameters (requests).
//! - Generated DDL is deterministic: the same schema gives byte-identical SQL.
//! - No input panics: malformed descriptions and policies are errors with paths.

#![forbid(unsafe_code)]

pub mod builder;
pub mod ddl;
mod dialect;
pub mod error;
mod format;
#[cfg(feature = "postgres")]
pub mod introspect;
pub mod migrate;
pub mod model;
pub mod name;
pub mod policy;
mod valid;
pub mod validate;

pub use builder::{ColumnBuilder, SchemaBuilder, TableBuilder};
pub use dialect::{Dialect, UnknownDialect};
pub use error::{Error, ErrorKind, ValidationError, ValidationErrors};
pub use format::{Format, json_schema};
pub use model::{
    Check, Column, ColumnType, DefaultValue, EnumType, FkAction, ForeignKey, Index, Operation, Policies,
    PolicyRule, PolicyRules, Reference, Role, Schema, Table,
};
pub use name::{ColumnName, Ident, TableName};
pub use valid::{
    CheckDef, ColumnDef, EnumDef, ForeignKeyDef, IndexDef, PolicyDef, PolicyPart, TableDef, UniqueDef,
    ValidSchema,
};

impl Schema {
    /// Validates the description (rules that hold for every dialect).
    ///
    /// # Errors
    /// Every broken rule, with its path ([`ValidationErrors`]).
    ///
    /// ```
    /// let schema = easbase_schema::Schema::from_json(r#"{ "tables": [
    ///   { "name": "t", "columns": [ { "name": "id", "type": "nope", "primary": true } ] } ] }"#).unwrap();
    /// let errors = schema.validate().unwrap_err();
    /// assert!(errors.contains("tables[0].columns[0].type", easbase_schema::ErrorKind::UnknownType));
    /// ```
    pub fn validate(&self) -> Result<ValidSchema, ValidationErrors> {
        validate::validate(self)
    }

    /// Validates the description for one dialect too.
    ///
    /// # Errors
    /// Every broken rule, with its path ([`ValidationErrors`]).
    pub fn validate_for(&self, dialect: Dialect) -> Result<ValidSchema, ValidationErrors> {
        let valid = validate::validate(self)?;
        validate::check_dialect(&valid, dialect)?;
        Ok(valid)
    }
}
