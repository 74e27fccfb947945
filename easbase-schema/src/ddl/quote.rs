//! Quoting for the few statements sea-query does not build (policies, comments, triggers,
//! grants). Identifiers here are always validated names; quoting is defence in depth.

use sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, QueryBuilder, SqliteQueryBuilder, Value};

use crate::Dialect;

/// Quotes an identifier for `dialect` (`"name"`, or `` `name` `` on MySQL), doubling any
/// quote character inside.
///
/// ```
/// use easbase_schema::{Dialect, ddl::quote_ident};
/// assert_eq!(quote_ident(Dialect::Postgres, "products"), r#""products""#);
/// assert_eq!(quote_ident(Dialect::Mysql, "products"), "`products`");
/// ```
pub fn quote_ident(dialect: Dialect, name: &str) -> String {
    let q = if dialect == Dialect::Mysql { '`' } else { '"' };
    let mut out = String::with_capacity(name.len() + 2);
    out.push(q);
    for c in name.chars() {
        if c == q {
            out.push(q);
        }
        out.push(c);
    }
    out.push(q);
    out
}

/// A literal for `dialect`, escaped by sea-query.
///
/// ```
/// use easbase_schema::{Dialect, ddl::sql_literal};
/// assert_eq!(sql_literal(Dialect::Sqlite, "it's".into()), "'it''s'");
/// assert_eq!(sql_literal(Dialect::Postgres, "it's".into()), r"E'it\'s'");
/// ```
pub fn sql_literal(dialect: Dialect, value: Value) -> String {
    match dialect {
        Dialect::Postgres => PostgresQueryBuilder.value_to_string(&value),
        Dialect::Sqlite => SqliteQueryBuilder.value_to_string(&value),
        Dialect::Mysql => MysqlQueryBuilder.value_to_string(&value),
    }
}
