//! Introspection: a live PostgreSQL schema read back into a [`Schema`] description, so
//! that an existing database can be served by EasBase and diffed against a description
//! (feature `postgres`).
//!
//! ## A tour
//!
//! ```no_run
//! # async fn tour() -> Result<(), Box<dyn std::error::Error>> {
//! use easbase_schema::introspect::introspect_postgres;
//!
//! let (client, connection) =
//!     tokio_postgres::connect("host=127.0.0.1 user=postgres", tokio_postgres::NoTls).await?;
//! tokio::spawn(connection);
//!
//! // Read the namespace `app` back into a description …
//! let found = introspect_postgres(&client, "app").await?;
//! for warning in &found.warnings {
//!     eprintln!("not read back: {warning}");
//! }
//! // … which is an ordinary description: validate it, print it, diff it.
//! let valid = found.schema.validate()?;
//! println!("{}", serde_json::to_string_pretty(&found.schema)?);
//! # let _ = valid;
//! # Ok(())
//! # }
//! ```
//!
//! ## What is read back
//!
//! | catalog | description |
//! |---|---|
//! | ordinary and partitioned tables (sorted by name; `_easbase*` tables skipped) | [`Table`]s |
//! | columns, in their order; `NOT NULL` | [`Column`]s; `required` |
//! | types (the inverse of the DDL's type table: `numeric(p,s)` → `decimal(p,s)`, `bytea` → `bytes`, `_int4` → `integer[]`, an enum of the schema → its name) | [`ColumnType`]; any other type becomes [`ColumnType::Named`] with PostgreSQL's name, which validation reports |
//! | `bigint GENERATED … AS IDENTITY` and `serial`-like columns that are the whole primary key | `identity` |
//! | defaults: `now()` / `CURRENT_TIMESTAMP` …, `gen_random_uuid()`, EasBase's `auth.uid` expression, constants (`'x'::text`, `'pending'::app.status`, `-1`, `'{a,b}'::text[]`, JSON) | [`DefaultValue`] |
//! | primary key, unique constraints | `primary` / `primary_key`, `unique` (column) / `unique` (table) |
//! | foreign keys with their actions | `references` (one column) / `foreign_keys` (composite, or a name of their own) |
//! | indexes no constraint owns (plain column lists, btree) | `indexes`, with their names |
//! | enums (values in sort order), comments on tables, columns and enums | `enums`, `comment` |
//! | `created_at` + `updated_at` (`timestamptz NOT NULL DEFAULT now()`) with an `easbase_set_updated_at` trigger | `timestamps: true` (the two columns left out of `columns`) |
//!
//! ## What is not, and is listed in [`Introspection::warnings`] instead
//!
//! - **Row policies**: they are SQL, and SQL cannot be turned back into the policy
//!   language, so [`Table::policies`] stays empty. A table that has policies gets a warning.
//! - **Check constraints**, for the same reason ([`Table::checks`] stays empty); each one is
//!   listed with its SQL.
//! - Defaults EasBase does not know (e.g. `random()`), partial, expression, `INCLUDE` and
//!   non-btree indexes, exclusion constraints, foreign keys to other schemas, generated
//!   columns (read as plain columns), triggers other than EasBase's `updated_at` one,
//!   views, partitions, dropped precision of `time(p)` / `timestamp(p)`, and identity or
//!   serial columns that are not a table's whole primary key (read as their base type).
//!
//! Indexes named `…_policy_idx` (the ones EasBase adds for columns its policies filter on)
//! are read back as ordinary declared indexes: the policies that produced them cannot be
//! read back, and keeping them describes the database as it is. A description that adds
//! the policies again does not get a second index, because validation adds a policy index
//! only when no declared index already leads with the column.
//!
//! Constraint names are not part of the description where EasBase generates them
//! (`{table}_pkey`, `{table}_{columns}_key`, `{table}_{columns}_fkey`, the same names
//! PostgreSQL gives by default); a foreign key with another name goes to `foreign_keys`
//! with its name, and a primary key or unique constraint with another name gets a warning.
//!
//! All catalog queries take the schema's name as a bound parameter; no SQL text is built
//! from it.

mod catalog;
mod defaults;
mod types;

use std::collections::HashMap;

use tokio_postgres::Client;

use crate::Error;
use crate::model::{
    Column, ColumnType, DefaultValue, EnumType, FkAction, ForeignKey, Index, Reference, Schema, Table,
};
use catalog::{Catalog, RawColumn, RawConstraint};

/// A schema read back from a database, and what could not be read back.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Introspection {
    /// The description: enums and tables sorted by name, no policies, no checks.
    pub schema: Schema,
    /// One sentence per thing in the database the description leaves out or changes
    /// (policies, checks, unknown defaults, …), in a stable order.
    pub warnings: Vec<String>,
}

/// Reads the PostgreSQL schema (namespace) `schema` back into a [`Schema`] description.
///
/// See the [module documentation](self) for what is read back and what becomes a
/// warning. A schema without tables gives an empty description.
///
/// # Errors
/// [`Error::Database`] when a catalog query fails, or when there is no schema named
/// `schema` in the database (a missing schema is an error, not an empty description,
/// so that a misspelt name is not mistaken for an empty project).
pub async fn introspect_postgres(client: &Client, schema: &str) -> Result<Introspection, Error> {
    let catalog = catalog::read(client, schema)
        .await?
        .ok_or_else(|| Error::Database(format!("there is no schema named `{schema}` in the database")))?;
    Ok(build(&catalog, schema))
}

fn build(catalog: &Catalog, schema: &str) -> Introspection {
    let mut warnings = Vec::new();
    let mut enums: Vec<EnumType> = catalog
        .enums
        .iter()
        .map(|e| EnumType { name: e.name.clone(), values: e.values.clone(), comment: e.comment.clone() })
        .collect();
    enums.sort_by(|a, b| a.name.cmp(&b.name));

    let mut columns: HashMap<&str, Vec<&RawColumn>> = HashMap::new();
    for c in &catalog.columns {
        columns.entry(c.table.as_str()).or_default().push(c);
    }
    let mut constraints: HashMap<&str, Vec<&RawConstraint>> = HashMap::new();
    for c in &catalog.constraints {
        constraints.entry(c.table.as_str()).or_default().push(c);
    }

    let mut relations: Vec<_> = catalog.relations.iter().collect();
    relations.sort_by(|a, b| a.name.cmp(&b.name));
    let mut tables = Vec::new();
    for rel in relations {
        let what = match rel.kind.as_str() {
            "r" | "p" if rel.name.to_ascii_lowercase().starts_with("_easbase") => continue,
            "r" | "p" if rel.is_partition => "partition",
            "r" | "p" => {
                let cols = columns.get(rel.name.as_str()).map(Vec::as_slice).unwrap_or_default();
                let cons = constraints.get(rel.name.as_str()).map(Vec::as_slice).unwrap_or_default();
                tables.push(table(catalog, rel, cols, cons, schema, &mut warnings));
                continue;
            }
            "v" => "view",
            "m" => "materialized view",
            _ => "foreign table",
        };
        warnings.push(format!("{what} `{}` is not part of the description", rel.name));
    }
    Introspection { schema: Schema { json_schema: None, enums, tables }, warnings }
}

fn fk_action(code: &str) -> FkAction {
    match code {
        "r" => FkAction::Restrict,
        "c" => FkAction::Cascade,
        "n" => FkAction::SetNull,
        "d" => FkAction::SetDefault,
        _ => FkAction::NoAction,
    }
}

fn table(
    catalog: &Catalog,
    rel: &catalog::RawRelation,
    raw_columns: &[&RawColumn],
    constraints: &[&RawConstraint],
    schema: &str,
    warnings: &mut Vec<String>,
) -> Table {
    let tname = rel.name.as_str();
    let mut warn = |message: String| warnings.push(format!("table `{tname}`: {message}"));

    let pk_constraint = constraints.iter().find(|c| c.kind == "p");
    let pk: Vec<String> = pk_constraint.map(|c| c.columns.clone()).unwrap_or_default();
    if let Some(c) = pk_constraint
        && c.name != format!("{tname}_pkey")
    {
        warn(format!("primary key constraint `{}` will be known as `{tname}_pkey`", c.name));
    }

    // Columns.
    let mut columns = Vec::new();
    for raw in raw_columns {
        let (ty, note) = match &raw.element {
            Some((name, kind, type_schema, formatted)) => {
                let element =
                    types::PgType { name, kind, schema: type_schema, typmod: raw.typmod, formatted };
                let (inner, note) = types::column_type(&element, schema);
                (ColumnType::Array(Box::new(inner)), note)
            }
            None => types::column_type(
                &types::PgType {
                    name: &raw.type_name,
                    kind: &raw.type_kind,
                    schema: &raw.type_schema,
                    typmod: raw.typmod,
                    formatted: &raw.type_formatted,
                },
                schema,
            ),
        };
        if let Some(note) = note {
            warn(format!("column `{}`: {note}", raw.name));
        }
        let primary = pk.len() == 1 && pk[0] == raw.name;
        let mut column = Column {
            name: raw.name.clone(),
            renamed_from: None,
            ty,
            primary,
            required: raw.not_null && !pk.contains(&raw.name),
            unique: false,
            default: None,
            references: None,
            check: None,
            comment: raw.comment.clone(),
        };
        let serial = raw.owns_sequence && raw.default.as_deref().is_some_and(|d| d.starts_with("nextval("));
        let sequence = !raw.identity.is_empty() || serial;
        if raw.generated == "s" {
            warn(format!(
                "column `{}` is generated ({}); it is read as a plain column",
                raw.name,
                raw.default.as_deref().unwrap_or_default()
            ));
        } else if sequence {
            let how = if serial { "serial" } else { "identity" };
            if primary && column.ty.is_integer() {
                if column.ty != ColumnType::BigInt {
                    warn(format!(
                        "column `{}`: {} {how} is read as `identity` (a bigint)",
                        raw.name, column.ty
                    ));
                }
                if raw.identity == "a" {
                    warn(format!(
                        "column `{}`: GENERATED ALWAYS is read as `identity` (GENERATED BY DEFAULT)",
                        raw.name
                    ));
                }
                column.ty = ColumnType::Identity;
            } else {
                warn(format!(
                    "column `{}`: an {how} column that is not the whole primary key is read as {}, without its sequence",
                    raw.name, column.ty
                ));
            }
        } else if let Some(expr) = &raw.default {
            match defaults::read_default(expr, &column.ty) {
                defaults::Default::Value(v) => column.default = Some(v),
                defaults::Default::Null => {}
                defaults::Default::Unknown => {
                    warn(format!("column `{}`: default `{expr}` is not read back", raw.name));
                }
            }
        }
        columns.push(column);
    }

    // Unique constraints, foreign keys, checks.
    let mut unique = Vec::new();
    let mut foreign_keys = Vec::new();
    for con in constraints {
        let cols = &con.columns;
        match con.kind.as_str() {
            "u" => {
                let default_name = format!("{tname}_{}_key", cols.join("_"));
                if con.name != default_name {
                    warn(format!("unique constraint `{}` will be known as `{default_name}`", con.name));
                }
                let single = match cols.as_slice() {
                    [c] => columns.iter_mut().find(|col| &col.name == c && !col.primary && !col.unique),
                    _ => None,
                };
                match single {
                    Some(col) => col.unique = true,
                    None => unique.push(cols.clone()),
                }
            }
            "f" => {
                let (Some(ref_table), Some(ref_schema)) = (&con.ref_table, &con.ref_schema) else { continue };
                if ref_schema != schema {
                    warn(format!(
                        "foreign key `{}` references `{ref_schema}.{ref_table}` in another schema; it is left out",
                        con.name
                    ));
                    continue;
                }
                if con.match_type == "f" {
                    warn(format!("foreign key `{}`: MATCH FULL is read as MATCH SIMPLE", con.name));
                }
                if con.deferrable {
                    warn(format!("foreign key `{}`: DEFERRABLE is not kept", con.name));
                }
                let (on_delete, on_update) = (fk_action(&con.on_delete), fk_action(&con.on_update));
                let default_name = format!("{tname}_{}_fkey", cols.join("_"));
                let single = match (cols.as_slice(), con.ref_columns.as_slice()) {
                    ([c], [r]) if con.name == default_name => columns
                        .iter_mut()
                        .find(|col| &col.name == c && col.references.is_none())
                        .map(|col| (col, r)),
                    _ => None,
                };
                match single {
                    Some((col, r)) => {
                        col.references = Some(Reference {
                            table: ref_table.clone(),
                            column: Some(r.clone()),
                            on_delete,
                            on_update,
                        });
                    }
                    None => foreign_keys.push(ForeignKey {
                        name: (con.name != default_name).then(|| con.name.clone()),
                        columns: cols.clone(),
                        references: ref_table.clone(),
                        referenced_columns: con.ref_columns.clone(),
                        on_delete,
                        on_update,
                    }),
                }
            }
            "c" => warn(format!(
                "check constraint `{}` ({}) is SQL and is not translated to the policy language",
                con.name, con.definition
            )),
            "x" => warn(format!("exclusion constraint `{}` ({}) is left out", con.name, con.definition)),
            _ => {}
        }
    }
    let primary_key = if pk.len() > 1 { pk } else { Vec::new() };

    // Indexes no constraint owns.
    let mut indexes = Vec::new();
    for idx in catalog.indexes.iter().filter(|i| i.table == tname) {
        let why = if idx.partial {
            Some("is partial (its predicate is SQL)")
        } else if idx.has_expressions || idx.columns.iter().any(String::is_empty) {
            Some("indexes expressions")
        } else if idx.has_include {
            Some("has INCLUDE columns")
        } else if idx.method != "btree" {
            Some("is not a btree index")
        } else {
            None
        };
        if let Some(why) = why {
            warn(format!("index `{}` {why} and is left out: {}", idx.name, idx.definition));
            continue;
        }
        if idx.has_options {
            warn(format!("index `{}`: column options (DESC, NULLS FIRST) are not kept", idx.name));
        }
        indexes.push(Index {
            name: Some(idx.name.clone()),
            columns: idx.columns.clone(),
            unique: idx.unique,
            predicate: None,
        });
    }

    // `timestamps: true`: created_at and updated_at as EasBase makes them, with its trigger.
    let mut timestamps = false;
    for trigger in catalog.triggers.iter().filter(|t| t.table == tname) {
        if trigger.function == "easbase_set_updated_at" && !timestamps {
            let fits = |name: &str| {
                columns.iter().any(|c| {
                    c.name == name
                        && c.ty == ColumnType::Timestamptz
                        && c.required
                        && c.default == Some(DefaultValue::Now)
                        && c.comment.is_none()
                        && !c.unique
                        && !c.primary
                        && c.references.is_none()
                })
            };
            if fits("created_at") && fits("updated_at") {
                columns.retain(|c| c.name != "created_at" && c.name != "updated_at");
                timestamps = true;
                continue;
            }
        }
        warn(format!("trigger `{}` (function `{}`) is left out", trigger.name, trigger.function));
    }

    if rel.policies > 0 {
        warn(format!(
            "{} row polic{} left out: SQL cannot be turned back into the policy language",
            rel.policies,
            if rel.policies == 1 { "y is" } else { "ies are" }
        ));
    }

    Table {
        name: tname.to_owned(),
        renamed_from: None,
        columns,
        primary_key,
        unique,
        foreign_keys,
        indexes,
        checks: Vec::new(),
        timestamps,
        policies: Default::default(),
        comment: rel.comment.clone(),
    }
}
