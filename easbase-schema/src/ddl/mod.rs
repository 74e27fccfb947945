//! DDL generation: a [`ValidSchema`] becomes the statements that create it on one
//! [`Dialect`], built through sea-query, deterministic (the same schema gives
//! byte-identical SQL) and in dependency order.
//!
//! On PostgreSQL the output also holds row-level security: `ENABLE` and `FORCE ROW LEVEL
//! SECURITY`, one `CREATE POLICY` per rule (every `auth.*` read wrapped in `(select …)`),
//! a policy giving the service role everything, and the grants of the three request roles.
//! On SQLite and MySQL the same policies are enforced by the REST layer, which compiles
//! them into each statement ([`crate::policy::to_sea_query`]).
//!
//! ```
//! use easbase_schema::{Dialect, Schema, ddl::{self, DdlOptions}};
//!
//! let schema = Schema::from_json(r#"{ "tables": [ { "name": "products", "columns": [
//!     { "name": "id", "type": "uuid", "primary": true },
//!     { "name": "name", "type": "text", "required": true },
//!     { "name": "price", "type": "decimal" } ] } ] }"#).unwrap();
//! let valid = schema.validate().unwrap();
//! let sql = ddl::generate(&valid, Dialect::Sqlite, &DdlOptions::default()).unwrap().to_sql();
//! assert!(sql.starts_with(r#"CREATE TABLE "products" ("#));
//! ```

mod quote;
mod rls;
mod table;
mod types;

use crate::Dialect;
use crate::error::ValidationErrors;
use crate::name::Ident;
use crate::valid::{TableDef, ValidSchema};

pub use quote::{quote_ident, sql_literal};
pub use table::index_statement;

/// How to generate: the PostgreSQL schema to create the tables in and the names of the
/// request roles policies and grants name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdlOptions {
    /// The PostgreSQL schema (namespace) that holds the tables; `None` means unqualified
    /// names (the connection's `search_path`). Ignored on SQLite and MySQL.
    pub schema: Option<Ident>,
    /// The database roles of the request roles (PostgreSQL).
    pub roles: RoleNames,
    /// Emit row-level security, policies and grants (PostgreSQL).
    pub security: bool,
}

impl Default for DdlOptions {
    fn default() -> Self {
        DdlOptions { schema: None, roles: RoleNames::default(), security: true }
    }
}

/// The PostgreSQL roles that the `anon`, `authenticated` and `service` request roles run as.
/// Defaults are Supabase's names (`anon`, `authenticated`, `service_role`); a
/// multi-tenant host gives each project its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleNames {
    /// The role of requests with the publishable key and no user.
    pub anon: Ident,
    /// The role of requests with a user's token.
    pub authenticated: Ident,
    /// The role of requests with the secret key.
    pub service: Ident,
}

impl Default for RoleNames {
    fn default() -> Self {
        let role = |n: &str| Ident::new(n).unwrap_or_else(|_| unreachable!("valid role name"));
        RoleNames { anon: role("anon"), authenticated: role("authenticated"), service: role("service_role") }
    }
}

impl RoleNames {
    /// The database role of a request role.
    pub fn get(&self, role: crate::Role) -> &Ident {
        match role {
            crate::Role::Anon => &self.anon,
            crate::Role::Authenticated => &self.authenticated,
            crate::Role::Service => &self.service,
        }
    }
}

/// What a statement does, so callers can pick or count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatementKind {
    /// `CREATE TYPE … AS ENUM`.
    CreateEnum,
    /// `CREATE TABLE`.
    CreateTable,
    /// `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY` for keys in a cycle.
    AddForeignKey,
    /// `CREATE INDEX`.
    CreateIndex,
    /// `COMMENT ON`.
    Comment,
    /// A function or trigger keeping `updated_at`.
    Trigger,
    /// `ALTER TABLE … ENABLE / FORCE ROW LEVEL SECURITY`.
    EnableRls,
    /// `CREATE POLICY`.
    CreatePolicy,
    /// `GRANT`.
    Grant,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// What it does.
    pub kind: StatementKind,
    /// The table it belongs to, if any.
    pub table: Option<String>,
    /// The SQL, without a trailing `;`.
    pub sql: String,
}

/// The statements that create a schema on one dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ddl {
    /// The dialect.
    pub dialect: Dialect,
    /// The statements, in the order to run them.
    pub statements: Vec<Statement>,
}

impl Ddl {
    /// The whole script: statements separated by `;` and a blank line.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        for s in &self.statements {
            out.push_str(&s.sql);
            out.push_str(";\n\n");
        }
        out
    }

    /// The statements' SQL, one string each.
    pub fn sql_statements(&self) -> Vec<String> {
        self.statements.iter().map(|s| s.sql.clone()).collect()
    }
}

/// Generates the DDL of `schema` for `dialect`.
///
/// # Errors
/// What `dialect` cannot represent ([`crate::validate::check_dialect`]).
pub fn generate(
    schema: &ValidSchema,
    dialect: Dialect,
    options: &DdlOptions,
) -> Result<Ddl, ValidationErrors> {
    crate::validate::check_dialect(schema, dialect)?;
    let g = Gen { schema, dialect, options };
    let mut statements = Vec::new();
    for e in schema.enums() {
        statements.extend(g.enum_statements(e));
    }
    let mut created: Vec<&str> = Vec::new();
    let mut deferred = Vec::new();
    if dialect == Dialect::Postgres && schema.tables().iter().any(|t| t.timestamps) {
        statements.push(g.updated_at_function());
    }
    for t in schema.tables() {
        created.push(t.name.as_str());
        let (create, later) = g.create_table(t, &created);
        statements.extend(create);
        deferred.extend(later);
    }
    statements.extend(deferred);
    if dialect == Dialect::Postgres && options.security {
        statements.extend(g.schema_grants());
        for t in schema.tables() {
            statements.extend(g.security(t));
        }
    }
    Ok(Ddl { dialect, statements })
}

/// Everything that creates one table on `dialect` (table, indexes, triggers, comments,
/// and on PostgreSQL its security), for migrations that add a table. Foreign keys are
/// inline.
pub fn table_statements(
    schema: &ValidSchema,
    table: &TableDef,
    dialect: Dialect,
    options: &DdlOptions,
) -> Vec<Statement> {
    let g = Gen { schema, dialect, options };
    let all: Vec<&str> = schema.tables().iter().map(|t| t.name.as_str()).collect();
    let (mut out, later) = g.create_table(table, &all);
    out.extend(later);
    if dialect == Dialect::Postgres && options.security {
        out.extend(g.security(table));
    }
    out
}

/// The row-level-security statements of one table (PostgreSQL; empty elsewhere).
pub fn security_statements(
    schema: &ValidSchema,
    table: &TableDef,
    dialect: Dialect,
    options: &DdlOptions,
) -> Vec<Statement> {
    let g = Gen { schema, dialect, options };
    if dialect == Dialect::Postgres && options.security { g.security(table) } else { Vec::new() }
}

/// The generator's context.
pub(crate) struct Gen<'a> {
    pub(crate) schema: &'a ValidSchema,
    pub(crate) dialect: Dialect,
    pub(crate) options: &'a DdlOptions,
}

impl Gen<'_> {
    fn stmt(&self, kind: StatementKind, table: Option<&str>, sql: String) -> Statement {
        Statement { kind, table: table.map(str::to_owned), sql }
    }

    /// A quoted, schema-qualified (PostgreSQL) name.
    pub(crate) fn qualified(&self, name: &str) -> String {
        match (&self.options.schema, self.dialect) {
            (Some(s), Dialect::Postgres) => format!("{}.{}", self.quote(s.as_str()), self.quote(name)),
            _ => self.quote(name),
        }
    }

    pub(crate) fn quote(&self, name: &str) -> String {
        quote_ident(self.dialect, name)
    }

    /// The sea-query table reference (schema-qualified on PostgreSQL).
    pub(crate) fn table_ref(&self, name: &str) -> sea_query::TableRef {
        use sea_query::{Alias, IntoTableRef};
        match (&self.options.schema, self.dialect) {
            (Some(s), Dialect::Postgres) => (Alias::new(s.as_str()), Alias::new(name)).into_table_ref(),
            _ => Alias::new(name).into_table_ref(),
        }
    }
}
