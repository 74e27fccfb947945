//! [`ValidSchema`]: a schema that passed validation, resolved into the form the DDL
//! generator, the migration planner and the REST layer read (names validated, policies
//! and checks parsed, generated names filled in, tables in dependency order).

use crate::model::{ColumnType, DefaultValue, FkAction, Operation, Role, Schema};
use crate::name::{ColumnName, Ident, TableName};
use crate::policy;

/// A validated schema. Only [`Schema::validate`](crate::Schema::validate) makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSchema {
    pub(crate) source: Schema,
    pub(crate) enums: Vec<EnumDef>,
    pub(crate) tables: Vec<TableDef>,
}

impl ValidSchema {
    /// The description it was made from.
    pub fn source(&self) -> &Schema {
        &self.source
    }

    /// The enums.
    pub fn enums(&self) -> &[EnumDef] {
        &self.enums
    }

    /// The tables, referenced tables before the tables that refer to them.
    pub fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.name.as_str() == name)
    }

    /// An enum by name.
    pub fn enum_def(&self, name: &str) -> Option<&EnumDef> {
        self.enums.iter().find(|e| e.name.as_str() == name)
    }
}

/// A validated enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumDef {
    /// Its name.
    pub name: Ident,
    /// Its values, in order.
    pub values: Vec<String>,
    /// Its comment.
    pub comment: Option<String>,
}

/// A validated table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// Its name.
    pub name: TableName,
    /// Its previous name, for a rename.
    pub renamed_from: Option<TableName>,
    /// Its columns, `created_at` / `updated_at` included when `timestamps` is on.
    pub columns: Vec<ColumnDef>,
    /// Its primary key.
    pub primary_key: Vec<ColumnName>,
    /// Its unique constraints (single-column ones included).
    pub uniques: Vec<UniqueDef>,
    /// Its foreign keys (single-column `references` included).
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Its indexes: declared ones, then one per column a policy filters on that no key
    /// or index already leads with.
    pub indexes: Vec<IndexDef>,
    /// Its check constraints (column checks included).
    pub checks: Vec<CheckDef>,
    /// Its row policies.
    pub policies: Vec<PolicyDef>,
    /// Whether `updated_at` is maintained by the database.
    pub timestamps: bool,
    /// Its comment.
    pub comment: Option<String>,
}

impl TableDef {
    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name.as_str() == name)
    }

    /// The policies of one operation that apply to `role`.
    pub fn policies_for(&self, op: Operation, role: Role) -> impl Iterator<Item = &PolicyDef> {
        self.policies.iter().filter(move |p| p.operation == op && p.roles.contains(&role))
    }

    /// Whether a policy for `op` and `role` reads a token claim beyond the user id, role
    /// and email ([`policy::Expr::reads_claims`]).
    pub fn policies_read_claims(&self, op: Operation, role: Role) -> bool {
        self.policies_for(op, role)
            .any(|p| [&p.using, &p.check].into_iter().flatten().any(policy::Expr::reads_claims))
    }
}

impl policy::Columns for TableDef {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        self.column(name).map(|c| &c.ty)
    }
}

/// A validated column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Its name.
    pub name: ColumnName,
    /// Its previous name, for a rename.
    pub renamed_from: Option<ColumnName>,
    /// Its type (a [`ColumnType::Named`] here is always an enum of the schema).
    pub ty: ColumnType,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Its default.
    pub default: Option<DefaultValue>,
    /// Whether the database sets it on every update (`updated_at`).
    pub auto_update: bool,
    /// Its comment.
    pub comment: Option<String>,
}

/// A unique constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueDef {
    /// The constraint's name.
    pub name: Ident,
    /// Its columns.
    pub columns: Vec<ColumnName>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyDef {
    /// The constraint's name.
    pub name: Ident,
    /// The referring columns.
    pub columns: Vec<ColumnName>,
    /// The referenced table.
    pub table: TableName,
    /// The referenced columns.
    pub referenced: Vec<ColumnName>,
    /// On delete.
    pub on_delete: FkAction,
    /// On update.
    pub on_update: FkAction,
}

/// An index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    /// Its name.
    pub name: Ident,
    /// Its columns.
    pub columns: Vec<ColumnName>,
    /// Unique or not.
    pub unique: bool,
    /// The predicate of a partial index.
    pub predicate: Option<policy::Expr>,
    /// Added by EasBase because a policy filters on the column.
    pub for_policy: bool,
}

/// A check constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDef {
    /// The constraint's name.
    pub name: Ident,
    /// The parsed expression.
    pub expr: policy::Expr,
}

/// A row policy: for one operation and some roles, which rows pass (`using`) and what
/// written rows must satisfy (`check`).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDef {
    /// The policy's name.
    pub name: Ident,
    /// The operation.
    pub operation: Operation,
    /// The roles (never `service`, which bypasses policies).
    pub roles: Vec<Role>,
    /// Which existing rows pass (select, update, delete).
    pub using: Option<policy::Expr>,
    /// What written rows must satisfy (insert, update).
    pub check: Option<policy::Expr>,
}

/// Which half of a policy a condition is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyPart {
    /// `using`: which existing rows a statement may see or touch.
    Using,
    /// `check`: what a written row must satisfy (falls back to `using`, as PostgreSQL does).
    Check,
}

impl TableDef {
    /// The condition a SQLite / MySQL statement adds to enforce this table's policies for
    /// one operation and request role: the rules that apply, joined with `OR` (permissive
    /// policies); `FALSE` when none applies; `None` for the service role, which bypasses
    /// policies. `table` qualifies the columns (an alias in the statement).
    ///
    /// ```
    /// use easbase_schema::{Dialect, Operation, PolicyPart, Role, Schema};
    /// use easbase_schema::policy::{AuthContext, AuthMode};
    /// use sea_query::{Query, SqliteQueryBuilder};
    ///
    /// let schema = Schema::from_json(r#"{ "tables": [ { "name": "notes", "columns": [
    ///     { "name": "id", "type": "integer", "primary": true },
    ///     { "name": "owner_id", "type": "uuid", "required": true } ],
    ///     "policies": { "select": "owner_id = auth.uid" } } ] }"#).unwrap().validate().unwrap();
    /// let notes = schema.table("notes").unwrap();
    /// let auth = AuthContext { uid: Some("9b2f0f5e-0000-4000-8000-000000000000".into()), role: "authenticated".into(), ..Default::default() };
    /// let cond = notes
    ///     .policy_condition(Operation::Select, Role::Authenticated, PolicyPart::Using, Dialect::Sqlite, AuthMode::Bound(&auth), None)
    ///     .unwrap();
    /// let (sql, values) = Query::select().column("id").from("notes").and_where(cond).build(SqliteQueryBuilder);
    /// assert_eq!(sql, r#"SELECT "id" FROM "notes" WHERE "owner_id" = ?"#);
    /// assert_eq!(values.0.len(), 1);
    /// ```
    pub fn policy_condition(
        &self,
        op: Operation,
        role: Role,
        part: PolicyPart,
        dialect: crate::Dialect,
        auth: policy::AuthMode<'_>,
        table: Option<&str>,
    ) -> Option<sea_query::Expr> {
        use sea_query::ExprTrait;
        if role == Role::Service {
            return None;
        }
        let mut out: Option<sea_query::Expr> = None;
        for p in self.policies_for(op, role) {
            let expr = match part {
                PolicyPart::Using => p.using.as_ref(),
                PolicyPart::Check => p.check.as_ref().or(p.using.as_ref()),
            };
            let Some(expr) = expr else { continue };
            let cond = policy::to_sea_query_for(expr, self, table, dialect, auth);
            out = Some(match out {
                None => cond,
                Some(prev) => prev.or(cond),
            });
        }
        Some(out.unwrap_or_else(|| sea_query::Expr::cust("1 = 0")))
    }
}
