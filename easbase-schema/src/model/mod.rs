//! The schema description: what a user writes in JSON or TOML, or builds in Rust.
//!
//! These types mirror the file format one to one and hold names as plain strings, so a
//! file with many mistakes still deserializes and [`Schema::validate`](crate::Schema::validate)
//! can report every mistake with its path. Nothing here has been checked; a
//! [`ValidSchema`](crate::ValidSchema) has.

pub mod types;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use types::ColumnType;

/// A whole schema: the enums and tables of one project.
///
/// ```
/// let schema: easbase_schema::Schema = serde_json::from_str(r#"{ "tables": [
///   { "name": "products", "columns": [
///     { "name": "id", "type": "uuid", "primary": true },
///     { "name": "name", "type": "text", "required": true },
///     { "name": "price", "type": "decimal" } ] } ] }"#).unwrap();
/// assert_eq!(schema.tables[0].columns.len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// JSON Schema reference for editors; ignored by EasBase.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<String>,
    /// Enumerated types, usable as a column's `type` by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
    /// The tables, in any order (DDL is emitted in dependency order).
    #[serde(default)]
    pub tables: Vec<Table>,
}

/// An enumerated type: a closed set of text values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnumType {
    /// The type's name, used as a column's `type`.
    pub name: String,
    /// The allowed values, in order.
    pub values: Vec<String>,
    /// A comment stored in the database where the dialect can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The table's name.
    pub name: String,
    /// The name this table had in the previous version of the schema: the migration
    /// planner renames it instead of dropping one table and creating another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// A composite primary key (column names). Use a column's `primary` for a single one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// Composite unique constraints, each a list of column names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<Vec<String>>,
    /// Composite foreign keys. Use a column's `references` for a single-column one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// Secondary indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// Check constraints in the policy language, without `auth.*`, e.g. `price >= 0`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// Adds `created_at` and `updated_at` (`timestamptz`, set by the database; `updated_at`
    /// maintained on every update).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timestamps: bool,
    /// Row policies per operation.
    #[serde(default, skip_serializing_if = "Policies::is_empty")]
    pub policies: Policies,
    /// A comment stored in the database where the dialect can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// The name this column had in the previous version of the schema (for renames).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The column's type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether this column is the table's (single-column) primary key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary: bool,
    /// `NOT NULL`. Primary key columns are always required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// A unique constraint on this column alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// The value a row gets when an insert leaves this column out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultValue>,
    /// A single-column foreign key: `"customers.id"`, or an object with actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<Reference>,
    /// A check constraint on this column in the policy language, e.g. `price >= 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// A comment stored in the database where the dialect can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A column default: a literal, or one of the functions `now()`, `gen_random_uuid()` and
/// `auth.uid` (the requesting user's id).
///
/// In a file, a string equal to one of those function names means the function; any other
/// JSON value is a literal. Write `{ "literal": "now()" }` for the text itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "DefaultRepr", into = "DefaultRepr")]
pub enum DefaultValue {
    /// A literal value (number, string, boolean, null, or JSON for json columns).
    Literal(serde_json::Value),
    /// The current time.
    Now,
    /// A random UUID.
    GenRandomUuid,
    /// The id of the user making the request (`auth.uid`).
    AuthUid,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum DefaultRepr {
    Explicit { literal: serde_json::Value },
    Value(serde_json::Value),
}

impl From<DefaultRepr> for DefaultValue {
    fn from(repr: DefaultRepr) -> Self {
        match repr {
            DefaultRepr::Explicit { literal } => DefaultValue::Literal(literal),
            DefaultRepr::Value(serde_json::Value::String(s)) => match s.as_str() {
                "now()" => DefaultValue::Now,
                "gen_random_uuid()" => DefaultValue::GenRandomUuid,
                "auth.uid" | "auth.uid()" => DefaultValue::AuthUid,
                _ => DefaultValue::Literal(serde_json::Value::String(s)),
            },
            DefaultRepr::Value(v) => DefaultValue::Literal(v),
        }
    }
}

impl From<DefaultValue> for DefaultRepr {
    fn from(value: DefaultValue) -> Self {
        let fun = |s: &str| DefaultRepr::Value(serde_json::Value::String(s.to_owned()));
        match value {
            DefaultValue::Now => fun("now()"),
            DefaultValue::GenRandomUuid => fun("gen_random_uuid()"),
            DefaultValue::AuthUid => fun("auth.uid"),
            DefaultValue::Literal(serde_json::Value::String(s))
                if matches!(s.as_str(), "now()" | "gen_random_uuid()" | "auth.uid" | "auth.uid()") =>
            {
                DefaultRepr::Explicit { literal: serde_json::Value::String(s) }
            }
            DefaultValue::Literal(v) => DefaultRepr::Value(v),
        }
    }
}

/// What a foreign key does when the referenced row is deleted or its key updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    /// Refuse the change while rows refer to it (checked at the end of the statement).
    #[default]
    NoAction,
    /// Refuse the change while rows refer to it (checked at once).
    Restrict,
    /// Delete / update the referring rows too.
    Cascade,
    /// Set the referring columns to NULL.
    SetNull,
    /// Set the referring columns to their defaults.
    SetDefault,
}

/// A single-column foreign key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "ReferenceRepr", into = "ReferenceRepr")]
pub struct Reference {
    /// The referenced table.
    pub table: String,
    /// The referenced column (its primary key when the file names only a table).
    pub column: Option<String>,
    /// The action when the referenced row is deleted.
    pub on_delete: FkAction,
    /// The action when the referenced key is updated.
    pub on_update: FkAction,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum ReferenceRepr {
    /// `"table.column"` or `"table"`.
    Short(String),
    /// The long form with actions.
    Long {
        table: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        column: Option<String>,
        #[serde(default)]
        on_delete: FkAction,
        #[serde(default)]
        on_update: FkAction,
    },
}

impl From<ReferenceRepr> for Reference {
    fn from(repr: ReferenceRepr) -> Self {
        match repr {
            ReferenceRepr::Short(s) => {
                let (table, column) = match s.split_once('.') {
                    Some((t, c)) => (t.to_owned(), Some(c.to_owned())),
                    None => (s, None),
                };
                Reference { table, column, on_delete: FkAction::NoAction, on_update: FkAction::NoAction }
            }
            ReferenceRepr::Long { table, column, on_delete, on_update } => {
                Reference { table, column, on_delete, on_update }
            }
        }
    }
}

impl From<Reference> for ReferenceRepr {
    fn from(r: Reference) -> Self {
        if r.on_delete == FkAction::NoAction && r.on_update == FkAction::NoAction {
            match r.column {
                Some(c) => ReferenceRepr::Short(format!("{}.{c}", r.table)),
                None => ReferenceRepr::Short(r.table),
            }
        } else {
            ReferenceRepr::Long {
                table: r.table,
                column: r.column,
                on_delete: r.on_delete,
                on_update: r.on_update,
            }
        }
    }
}

/// A (possibly composite) foreign key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    /// The constraint's name (generated when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The referring columns of this table.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns (the referenced table's primary key when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_columns: Vec<String>,
    /// The action when the referenced row is deleted.
    #[serde(default)]
    pub on_delete: FkAction,
    /// The action when the referenced key is updated.
    #[serde(default)]
    pub on_update: FkAction,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// The index's name (generated from the table and columns when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The indexed columns, in order.
    pub columns: Vec<String>,
    /// A unique index.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// A partial index: only rows matching this policy-language expression (not on MySQL).
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
}

/// A check constraint: an expression, or a named one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "CheckRepr", into = "CheckRepr")]
pub struct Check {
    /// The constraint's name (generated when absent).
    pub name: Option<String>,
    /// The expression in the policy language, without `auth.*`.
    pub expr: String,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum CheckRepr {
    Short(String),
    Long {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        expr: String,
    },
}

impl From<CheckRepr> for Check {
    fn from(repr: CheckRepr) -> Self {
        match repr {
            CheckRepr::Short(expr) => Check { name: None, expr },
            CheckRepr::Long { name, expr } => Check { name, expr },
        }
    }
}

impl From<Check> for CheckRepr {
    fn from(c: Check) -> Self {
        match c.name {
            None => CheckRepr::Short(c.expr),
            name => CheckRepr::Long { name, expr: c.expr },
        }
    }
}

/// The operation a policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Reading rows.
    Select,
    /// Adding rows.
    Insert,
    /// Changing rows.
    Update,
    /// Removing rows.
    Delete,
}

impl Operation {
    /// All operations, in a fixed order.
    pub const ALL: [Operation; 4] =
        [Operation::Select, Operation::Insert, Operation::Update, Operation::Delete];

    /// Lower-case name (`select`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Select => "select",
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// The role a request runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A request with the publishable key and no signed-in user.
    Anon,
    /// A request with a signed-in user's token.
    Authenticated,
    /// A request with the secret key: bypasses row policies (never project isolation).
    Service,
}

impl Role {
    /// The roles row policies apply to (the service role bypasses them).
    pub const REQUEST: [Role; 2] = [Role::Anon, Role::Authenticated];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anon => "anon",
            Role::Authenticated => "authenticated",
            Role::Service => "service",
        }
    }
}

/// Row policies of a table, per operation. An operation without a policy is refused to
/// `anon` and `authenticated` (and allowed to `service`).
///
/// Short form: `{ "select": "published = true || owner_id = auth.uid" }`. Long form: a
/// list of rules per operation, each with roles and separate `using` / `check`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Which rows can be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<PolicyRules>,
    /// Which rows can be added (`check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insert: Option<PolicyRules>,
    /// Which rows can be changed (`using`) and what they may become (`check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<PolicyRules>,
    /// Which rows can be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<PolicyRules>,
}

impl Policies {
    /// No policy at all.
    pub fn is_empty(&self) -> bool {
        self.select.is_none() && self.insert.is_none() && self.update.is_none() && self.delete.is_none()
    }

    /// The rules of one operation.
    pub fn get(&self, op: Operation) -> Option<&PolicyRules> {
        match op {
            Operation::Select => self.select.as_ref(),
            Operation::Insert => self.insert.as_ref(),
            Operation::Update => self.update.as_ref(),
            Operation::Delete => self.delete.as_ref(),
        }
    }

    /// Sets the rules of one operation.
    pub fn set(&mut self, op: Operation, rules: PolicyRules) {
        let slot = match op {
            Operation::Select => &mut self.select,
            Operation::Insert => &mut self.insert,
            Operation::Update => &mut self.update,
            Operation::Delete => &mut self.delete,
        };
        *slot = Some(rules);
    }
}

/// The rules of one operation: one expression for `anon` and `authenticated`, or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PolicyRules {
    /// One expression, applying to `anon` and `authenticated`.
    Expr(String),
    /// Several rules (any rule that allows a row allows it).
    Rules(Vec<PolicyRule>),
}

/// One rule of the long form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// The policy's name (generated when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The roles it applies to (`anon` and `authenticated` when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Which existing rows it lets through (select, update, delete).
    #[serde(rename = "using", default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    /// What new or changed rows must satisfy (insert, update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}
