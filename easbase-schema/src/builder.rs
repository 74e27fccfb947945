//! A builder API for Rust callers: the same description as a file, without the file.
//!
//! ```
//! use easbase_schema::{Schema, TableBuilder, ColumnType, DefaultValue};
//!
//! let schema = Schema::builder()
//!     .table(
//!         TableBuilder::new("posts")
//!             .column("id", ColumnType::Uuid, |c| c.primary().default(DefaultValue::GenRandomUuid))
//!             .column("owner_id", ColumnType::Uuid, |c| c.required().default(DefaultValue::AuthUid))
//!             .column("title", ColumnType::Varchar(200), |c| c.required())
//!             .column("published", ColumnType::Boolean, |c| c.required().default_literal(false))
//!             .timestamps()
//!             .policy_select("published = true || owner_id = auth.uid")
//!             .policy_insert("owner_id = auth.uid"),
//!     )
//!     .build();
//! assert!(schema.validate().is_ok());
//! ```

use crate::model::{
    Check, Column, ColumnType, DefaultValue, EnumType, Index, Operation, Policies, PolicyRules, Reference,
    Schema, Table,
};

/// Builds a [`Schema`]; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl Schema {
    /// Starts a [`SchemaBuilder`].
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder::default()
    }
}

impl SchemaBuilder {
    /// Adds a table.
    pub fn table(mut self, table: TableBuilder) -> Self {
        self.schema.tables.push(table.table);
        self
    }

    /// Adds an enum.
    pub fn enum_type(mut self, name: &str, values: &[&str]) -> Self {
        self.schema.enums.push(EnumType {
            name: name.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            comment: None,
        });
        self
    }

    /// The description (validate it with [`Schema::validate`]).
    pub fn build(self) -> Schema {
        self.schema
    }
}

/// Builds a [`Table`].
#[derive(Debug, Clone)]
pub struct TableBuilder {
    table: Table,
}

impl TableBuilder {
    /// A table with no columns yet.
    pub fn new(name: &str) -> Self {
        TableBuilder {
            table: Table {
                name: name.to_owned(),
                renamed_from: None,
                columns: Vec::new(),
                primary_key: Vec::new(),
                unique: Vec::new(),
                foreign_keys: Vec::new(),
                indexes: Vec::new(),
                checks: Vec::new(),
                timestamps: false,
                policies: Policies::default(),
                comment: None,
            },
        }
    }

    /// Adds a column, configured by `f`.
    pub fn column(
        mut self,
        name: &str,
        ty: ColumnType,
        f: impl FnOnce(ColumnBuilder) -> ColumnBuilder,
    ) -> Self {
        let col = f(ColumnBuilder(Column {
            name: name.to_owned(),
            renamed_from: None,
            ty,
            primary: false,
            required: false,
            unique: false,
            default: None,
            references: None,
            check: None,
            comment: None,
        }));
        self.table.columns.push(col.0);
        self
    }

    /// A composite primary key.
    pub fn primary_key(mut self, columns: &[&str]) -> Self {
        self.table.primary_key = columns.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// A composite unique constraint.
    pub fn unique(mut self, columns: &[&str]) -> Self {
        self.table.unique.push(columns.iter().map(|c| (*c).to_owned()).collect());
        self
    }

    /// An index (`unique` or not).
    pub fn index(mut self, columns: &[&str], unique: bool) -> Self {
        self.table.indexes.push(Index {
            name: None,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            unique,
            predicate: None,
        });
        self
    }

    /// A check constraint in the policy language.
    pub fn check(mut self, expr: &str) -> Self {
        self.table.checks.push(Check { name: None, expr: expr.to_owned() });
        self
    }

    /// Adds `created_at` / `updated_at`.
    pub fn timestamps(mut self) -> Self {
        self.table.timestamps = true;
        self
    }

    /// A comment.
    pub fn comment(mut self, comment: &str) -> Self {
        self.table.comment = Some(comment.to_owned());
        self
    }

    /// The short-form policy of an operation.
    pub fn policy(mut self, op: Operation, expr: &str) -> Self {
        self.table.policies.set(op, PolicyRules::Expr(expr.to_owned()));
        self
    }

    /// The select policy.
    pub fn policy_select(self, expr: &str) -> Self {
        self.policy(Operation::Select, expr)
    }

    /// The insert policy.
    pub fn policy_insert(self, expr: &str) -> Self {
        self.policy(Operation::Insert, expr)
    }

    /// The update policy.
    pub fn policy_update(self, expr: &str) -> Self {
        self.policy(Operation::Update, expr)
    }

    /// The delete policy.
    pub fn policy_delete(self, expr: &str) -> Self {
        self.policy(Operation::Delete, expr)
    }

    /// The table.
    pub fn build(self) -> Table {
        self.table
    }
}

/// Configures a [`Column`] inside [`TableBuilder::column`].
#[derive(Debug, Clone)]
pub struct ColumnBuilder(Column);

impl ColumnBuilder {
    /// The primary key.
    pub fn primary(mut self) -> Self {
        self.0.primary = true;
        self
    }

    /// `NOT NULL`.
    pub fn required(mut self) -> Self {
        self.0.required = true;
        self
    }

    /// Unique.
    pub fn unique(mut self) -> Self {
        self.0.unique = true;
        self
    }

    /// A default.
    pub fn default(mut self, default: DefaultValue) -> Self {
        self.0.default = Some(default);
        self
    }

    /// A literal default.
    pub fn default_literal(self, value: impl Into<serde_json::Value>) -> Self {
        self.default(DefaultValue::Literal(value.into()))
    }

    /// A foreign key: `"customers.id"` or `"customers"` (its primary key).
    pub fn references(mut self, target: &str) -> Self {
        let (table, column) = match target.split_once('.') {
            Some((t, c)) => (t.to_owned(), Some(c.to_owned())),
            None => (target.to_owned(), None),
        };
        self.0.references =
            Some(Reference { table, column, on_delete: Default::default(), on_update: Default::default() });
        self
    }

    /// A foreign key with actions.
    pub fn references_with(mut self, reference: Reference) -> Self {
        self.0.references = Some(reference);
        self
    }

    /// A check constraint.
    pub fn check(mut self, expr: &str) -> Self {
        self.0.check = Some(expr.to_owned());
        self
    }

    /// A comment.
    pub fn comment(mut self, comment: &str) -> Self {
        self.0.comment = Some(comment.to_owned());
        self
    }
}
