//! What a validated schema asks of one engine that the engine cannot give.

use crate::Dialect;
use crate::error::{ErrorKind, ValidationErrors};
use crate::model::ColumnType;
use crate::valid::{TableDef, ValidSchema};

/// Checks that `dialect` can represent `schema`: arrays only on PostgreSQL, no partial
/// indexes on MySQL, no index or key over unbounded text on MySQL.
///
/// # Errors
/// Every problem, each with its path and the dialect.
pub fn check_dialect(schema: &ValidSchema, dialect: Dialect) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    for table in schema.tables() {
        let ti = schema.source().tables.iter().position(|t| t.name == table.name.as_str()).unwrap_or(0);
        let path = format!("tables[{ti}]");
        for col in &table.columns {
            let cpath =
                column_path(schema, ti, col.name.as_str()).unwrap_or_else(|| format!("{path}.timestamps"));
            if let ColumnType::Array(_) = col.ty
                && dialect != Dialect::Postgres
            {
                errors.push_for(
                    dialect,
                    format!("{cpath}.type"),
                    ErrorKind::UnsupportedByDialect,
                    format!("{} has no array type for column `{}` ({}); use json", dialect, col.name, col.ty),
                );
            }
        }
        if dialect == Dialect::Mysql {
            mysql_keys(schema, ti, table, &mut errors);
        }
    }
    errors.into_result(())
}

fn column_path(schema: &ValidSchema, ti: usize, column: &str) -> Option<String> {
    let ci = schema.source().tables.get(ti)?.columns.iter().position(|c| c.name == column)?;
    Some(format!("tables[{ti}].columns[{ci}]"))
}

/// MySQL indexes only bounded columns: text, json and bytes cannot be in a key.
fn mysql_keys(schema: &ValidSchema, ti: usize, table: &TableDef, errors: &mut ValidationErrors) {
    let path = format!("tables[{ti}]");
    let unbounded = |name: &str| {
        table.column(name).is_some_and(|c| {
            matches!(c.ty, ColumnType::Text | ColumnType::Json | ColumnType::Jsonb | ColumnType::Bytes)
        })
    };
    let mut report = |what: &str, col: &str| {
        let cpath = column_path(schema, ti, col).unwrap_or_else(|| path.clone());
        errors.push_for(
            crate::Dialect::Mysql,
            format!("{cpath}.type"),
            ErrorKind::UnsupportedByDialect,
            format!(
                "MySQL cannot use unbounded column `{}.{col}` in {what}; give it a varchar(n) type",
                table.name
            ),
        );
    };
    for c in &table.primary_key {
        if unbounded(c.as_str()) {
            report("a primary key", c.as_str());
        }
    }
    for u in &table.uniques {
        for c in u.columns.iter().filter(|c| unbounded(c.as_str())) {
            report("a unique constraint", c.as_str());
        }
    }
    for fk in &table.foreign_keys {
        for c in fk.columns.iter().filter(|c| unbounded(c.as_str())) {
            report("a foreign key", c.as_str());
        }
    }
    let mut partial = Vec::new();
    for (ii, index) in table.indexes.iter().enumerate() {
        if index.for_policy {
            continue; // policy indexes are skipped on MySQL for such columns
        }
        for c in index.columns.iter().filter(|c| unbounded(c.as_str())) {
            report("an index", c.as_str());
        }
        if index.predicate.is_some() {
            partial.push((ii, index.name.to_string()));
        }
    }
    for (ii, name) in partial {
        errors.push_for(
            crate::Dialect::Mysql,
            format!("{path}.indexes[{ii}].where"),
            ErrorKind::UnsupportedByDialect,
            format!("MySQL has no partial indexes (index `{name}`)"),
        );
    }
}
