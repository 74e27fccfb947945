//! Compiles a policy [`Expr`] to a `sea_query` condition and renders it as SQL text.
//!
//! Column names reach SQL only through `sea_query` identifiers (quoted per dialect) and
//! literals only as `sea_query` values (bound when a request runs, inlined and escaped by
//! `sea_query` when DDL text is rendered). The only text written here is fixed by this
//! module, plus claim keys and enum type names that are checked to be identifiers first.

use sea_query::extension::postgres::PgBinOper;
use sea_query::extension::sqlite::SqliteBinOper;
use sea_query::{
    Alias, BinOper, Expr as SExpr, ExprTrait, Func, MysqlQueryBuilder, PostgresQueryBuilder, QueryBuilder,
    SqliteQueryBuilder, Value,
};
use serde_json::Value as Json;

use super::ast::{AuthRef, CmpOp, Expr, Literal, Operand};
use super::check::is_uuid;
use super::lexer::is_identifier;
use super::{AuthContext, AuthMode, CLAIM_SUB_SETTING, CLAIMS_SETTING, Columns};
use crate::{ColumnType, Dialect};

/// Compiles `expr` to a `sea_query` condition.
///
/// `table` qualifies every column (`"t"."owner_id"`), for queries where the table has an
/// alias. With [`AuthMode::Postgres`] the result is meant for PostgreSQL; with
/// [`AuthMode::Bound`] it is portable across SQLite and MySQL, except that `like` is then
/// case-sensitive or not as the engine's default is: prefer [`to_sea_query_for`], which
/// knows the dialect and makes `like` case-sensitive everywhere.
///
/// Never panics; an expression that [`check`](super::check) rejects still compiles, to
/// SQL that may fail or match nothing, so check first.
///
/// ```
/// use easbase_schema::ColumnType;
/// use easbase_schema::policy::{self, AuthContext, AuthMode};
/// use sea_query::{MysqlQueryBuilder, Query};
///
/// let columns = [("org_id".to_string(), ColumnType::BigInt)];
/// let expr = policy::parse("org_id = auth.claims.org_id").unwrap();
/// let auth = AuthContext { claims: serde_json::json!({ "org_id": "42" }).into(), ..Default::default() };
/// let cond = policy::to_sea_query(&expr, &columns, None, AuthMode::Bound(&auth));
/// let (sql, values) = Query::select().column("id").from("items").and_where(cond).build(MysqlQueryBuilder);
/// assert_eq!(sql, "SELECT `id` FROM `items` WHERE `org_id` = ?");
/// assert_eq!(values.0, [sea_query::Value::BigInt(Some(42))]);
/// ```
pub fn to_sea_query(expr: &Expr, columns: &dyn Columns, table: Option<&str>, mode: AuthMode<'_>) -> SExpr {
    let dialect = match mode {
        AuthMode::Postgres => Some(Dialect::Postgres),
        AuthMode::Bound(_) => None,
    };
    Compiler { columns, table, dialect, mode }.expr(expr)
}

/// Compiles `expr` to a `sea_query` condition for one dialect.
///
/// Like [`to_sea_query`], but `like` / `ilike` use each engine's own case-sensitive and
/// case-insensitive forms: `LIKE` / `ILIKE` on PostgreSQL, `GLOB` / `LOWER(…) LIKE
/// LOWER(…)` on SQLite, `LIKE CONVERT(… USING utf8mb4) COLLATE utf8mb4_bin` / `LOWER(…) LIKE LOWER(…)` on MySQL.
///
/// ```
/// use easbase_schema::policy::{self, AuthContext, AuthMode};
/// use easbase_schema::{ColumnType, Dialect};
/// use sea_query::{Query, SqliteQueryBuilder};
///
/// let columns = [("owner_id".to_string(), ColumnType::Uuid)];
/// let expr = policy::parse("owner_id = auth.uid").unwrap();
/// let auth = AuthContext { uid: Some("0b6e…".into()), role: "authenticated".into(), ..Default::default() };
/// let cond = policy::to_sea_query_for(&expr, &columns, Some("t"), Dialect::Sqlite, AuthMode::Bound(&auth));
/// let (sql, values) = Query::select().column("id").from("items").and_where(cond).build(SqliteQueryBuilder);
/// assert_eq!(sql, r#"SELECT "id" FROM "items" WHERE "t"."owner_id" = ?"#);
/// assert_eq!(values.0.len(), 1);
/// ```
pub fn to_sea_query_for(
    expr: &Expr,
    columns: &dyn Columns,
    table: Option<&str>,
    dialect: Dialect,
    mode: AuthMode<'_>,
) -> SExpr {
    Compiler { columns, table, dialect: Some(dialect), mode }.expr(expr)
}

/// Renders `expr` as SQL text for `dialect`, values inlined and escaped by `sea_query`:
/// the text of a PostgreSQL `CREATE POLICY … USING (…)` or of a `CHECK (…)` constraint.
///
/// Use [`AuthMode::Postgres`] for PostgreSQL policies; `auth.*` cannot appear in a
/// `CHECK` constraint (see [`check`](super::check) with `allow_auth = false`).
///
/// ```
/// use easbase_schema::policy::{self, AuthMode};
/// use easbase_schema::{ColumnType, Dialect};
///
/// let columns = [("status".to_string(), ColumnType::Text)];
/// let expr = policy::parse("status in ('draft', 'it''s')").unwrap();
/// assert_eq!(
///     policy::to_sql(&expr, &columns, Dialect::Mysql, AuthMode::Postgres),
///     "`status` IN ('draft', 'it\\'s')"
/// );
/// ```
pub fn to_sql(expr: &Expr, columns: &dyn Columns, dialect: Dialect, mode: AuthMode<'_>) -> String {
    let e = to_sea_query_for(expr, columns, None, dialect, mode);
    let mut sql = String::new();
    match dialect {
        Dialect::Postgres => PostgresQueryBuilder.prepare_expr(&e, &mut sql),
        Dialect::Sqlite => SqliteQueryBuilder.prepare_expr(&e, &mut sql),
        Dialect::Mysql => MysqlQueryBuilder.prepare_expr(&e, &mut sql),
    }
    sql
}

/// The type an `auth.*` value is read as: the type of what it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Text,
    Uuid,
    Integer,
    Numeric,
    Real,
    Double,
    Boolean,
    Date,
    Time,
    Timestamp,
    Timestamptz,
}

impl Target {
    fn of_column(t: &ColumnType) -> Target {
        match t {
            ColumnType::Uuid => Target::Uuid,
            ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt | ColumnType::Identity => {
                Target::Integer
            }
            ColumnType::Decimal(_) => Target::Numeric,
            ColumnType::Real => Target::Real,
            ColumnType::Double => Target::Double,
            ColumnType::Boolean => Target::Boolean,
            ColumnType::Date => Target::Date,
            ColumnType::Time => Target::Time,
            ColumnType::Timestamp => Target::Timestamp,
            ColumnType::Timestamptz => Target::Timestamptz,
            // An enum: its type name may need a schema to resolve, so the column is read
            // as text instead (see `Compiler::side`).
            ColumnType::Named(_)
            | ColumnType::Text
            | ColumnType::Varchar(_)
            | ColumnType::Json
            | ColumnType::Jsonb
            | ColumnType::Bytes
            | ColumnType::Array(_) => Target::Text,
        }
    }

    /// The PostgreSQL cast that reads text as this type (empty for text).
    fn pg_cast(&self) -> String {
        match self {
            Target::Text => String::new(),
            Target::Uuid => "::uuid".to_owned(),
            Target::Integer => "::bigint".to_owned(),
            Target::Numeric => "::numeric".to_owned(),
            Target::Real => "::real".to_owned(),
            Target::Double => "::double precision".to_owned(),
            Target::Boolean => "::boolean".to_owned(),
            Target::Date => "::date".to_owned(),
            Target::Time => "::time".to_owned(),
            Target::Timestamp => "::timestamp".to_owned(),
            Target::Timestamptz => "::timestamptz".to_owned(),
        }
    }
}

struct Compiler<'a> {
    columns: &'a dyn Columns,
    table: Option<&'a str>,
    /// `None`: portable between SQLite and MySQL.
    dialect: Option<Dialect>,
    mode: AuthMode<'a>,
}

fn fold(terms: &[Expr], c: &Compiler<'_>, join: fn(SExpr, SExpr) -> SExpr) -> SExpr {
    // Balanced, so that a long chain does not become a deep tree.
    match terms {
        [] => SExpr::Constant(true.into()),
        [one] => c.expr(one),
        _ => {
            let (l, r) = terms.split_at(terms.len() / 2);
            join(fold(l, c, join), fold(r, c, join))
        }
    }
}

impl Compiler<'_> {
    fn expr(&self, e: &Expr) -> SExpr {
        match e {
            Expr::Or(terms) if terms.is_empty() => SExpr::Constant(false.into()),
            Expr::Or(terms) => fold(terms, self, |a, b| a.or(b)),
            Expr::And(terms) => fold(terms, self, |a, b| a.and(b)),
            Expr::Not(inner) => self.expr(inner).not(),
            Expr::Compare { left, op, right } => {
                let (l, r) = (self.side(left, right), self.side(right, left));
                let op = match op {
                    CmpOp::Eq => BinOper::Equal,
                    CmpOp::Ne => BinOper::NotEqual,
                    CmpOp::Lt => BinOper::SmallerThan,
                    CmpOp::Le => BinOper::SmallerThanOrEqual,
                    CmpOp::Gt => BinOper::GreaterThan,
                    CmpOp::Ge => BinOper::GreaterThanOrEqual,
                };
                l.binary(op, r)
            }
            Expr::IsNull { operand, negated } => {
                let o = self.operand(operand, &Target::Text);
                if *negated { o.is_not_null() } else { o.is_null() }
            }
            Expr::IsBool { operand, value, negated } => {
                let o = self.operand(operand, &Target::Boolean);
                // `IS` takes the keyword, never a bound value (MySQL and PostgreSQL
                // accept only `IS TRUE` / `IS FALSE`).
                let v = SExpr::Constant((*value).into());
                if *negated { o.is_not(v) } else { o.is(v) }
            }
            Expr::In { operand, list, negated } => {
                let target = list.iter().find(|l| **l != Literal::Null).map_or(Target::Text, literal_target);
                let o = self.operand(operand, &target);
                let values = list.iter().map(literal_value);
                if *negated { o.is_not_in(values) } else { o.is_in(values) }
            }
            Expr::Like { operand, pattern, case_insensitive, negated } => {
                let o = self.operand(operand, &Target::Text);
                self.like(o, pattern, *case_insensitive, *negated)
            }
            Expr::Between { operand, low, high, negated } => {
                let bound = if matches!(low, Operand::Auth(_)) { high } else { low };
                let o = self.side(operand, bound);
                let (lo, hi) = (self.side(low, operand), self.side(high, operand));
                if *negated { o.not_between(lo, hi) } else { o.between(lo, hi) }
            }
            Expr::Operand(Operand::Literal(Literal::Bool(b))) => SExpr::Constant((*b).into()),
            Expr::Operand(Operand::Nested(inner)) => self.expr(inner),
            Expr::Operand(o) => {
                // `col = TRUE` rather than a bare `col`: valid on every engine, and MySQL and
                // SQLite can use an index for it.
                self.operand(o, &Target::Boolean).eq(SExpr::Constant(true.into()))
            }
        }
    }

    /// `o`, compiled to be compared with `other`.
    fn side(&self, o: &Operand, other: &Operand) -> SExpr {
        match (o, other, self.mode) {
            // PostgreSQL has no `enum = text` operator, and naming the enum type for a cast
            // of the `auth.*` side would depend on the search path: compare as text.
            (Operand::Column(c), Operand::Auth(_), AuthMode::Postgres)
                if matches!(self.columns.column_type(c), Some(ColumnType::Named(_))) =>
            {
                self.operand(o, &Target::Text).cast_as(Alias::new("text"))
            }
            _ => self.operand(o, &self.target_against(other)),
        }
    }

    /// The target an `auth.*` value takes when compared with `other`.
    fn target_against(&self, other: &Operand) -> Target {
        match other {
            Operand::Column(c) => self.columns.column_type(c).map_or(Target::Text, Target::of_column),
            Operand::Literal(l) => literal_target(l),
            Operand::Auth(_) => Target::Text,
            Operand::Nested(_) => Target::Boolean,
        }
    }

    fn operand(&self, o: &Operand, target: &Target) -> SExpr {
        match o {
            Operand::Literal(l) => literal_value(l),
            Operand::Column(c) => match self.table {
                Some(t) => SExpr::col((Alias::new(t), Alias::new(c.as_str()))),
                None => SExpr::col(Alias::new(c.as_str())),
            },
            Operand::Auth(a) => match self.mode {
                AuthMode::Postgres => pg_auth(a, target),
                AuthMode::Bound(ctx) => SExpr::val(bound_auth(ctx, a, target)),
            },
            Operand::Nested(e) => self.expr(e),
        }
    }

    fn like(&self, o: SExpr, pattern: &str, case_insensitive: bool, negated: bool) -> SExpr {
        let value = || SExpr::val(pattern.to_owned());
        let escape =
            |p: SExpr| SExpr::Binary(Box::new(p), BinOper::Escape, Box::new(SExpr::Constant('\\'.into())));
        let pick = |a: BinOper, b: BinOper| if negated { b } else { a };
        let (like, not_like) = (BinOper::Like, BinOper::NotLike);
        match (self.dialect, case_insensitive) {
            // PostgreSQL and MySQL escape with `\` by default.
            (Some(Dialect::Postgres), false) => o.binary(pick(like, not_like), value()),
            (Some(Dialect::Postgres), true) => {
                o.binary(pick(PgBinOper::ILike.into(), PgBinOper::NotILike.into()), value())
            }
            (Some(Dialect::Mysql), false) => o.binary(
                pick(like, not_like),
                SExpr::cust_with_exprs("CONVERT(? USING utf8mb4) COLLATE utf8mb4_bin", [value()]),
            ),
            (Some(Dialect::Sqlite), false) => {
                let glob = o.binary(SqliteBinOper::Glob, SExpr::val(like_to_glob(pattern)));
                if negated { glob.not() } else { glob }
            }
            (None, false) => o.binary(pick(like, not_like), escape(value())),
            (_, true) => SExpr::from(Func::lower(parenthesize_custom(o)))
                .binary(pick(like, not_like), escape(Func::lower(value()).into())),
        }
    }
}

/// A custom expression wrapped in parentheses, for places where `sea_query` does not add
/// them (function arguments).
fn parenthesize_custom(e: SExpr) -> SExpr {
    match e {
        SExpr::Custom(s) => SExpr::cust(format!("({s})")),
        other => other,
    }
}

fn literal_target(l: &Literal) -> Target {
    match l {
        Literal::Integer(_) | Literal::Decimal(_) => Target::Numeric,
        Literal::Bool(_) => Target::Boolean,
        Literal::String(_) | Literal::Null => Target::Text,
    }
}

fn literal_value(l: &Literal) -> SExpr {
    SExpr::val(match l {
        Literal::String(s) => Value::from(s.clone()),
        Literal::Integer(i) => Value::from(*i),
        // The lexer only produces digits with an optional sign and fraction, so parsing
        // fails only for a hand-built tree; that becomes NULL.
        Literal::Decimal(d) => Value::Double(d.parse::<f64>().ok().filter(|f| f.is_finite())),
        Literal::Bool(b) => Value::from(*b),
        Literal::Null => Value::String(None),
    })
}

/// A LIKE pattern (`%`, `_`, `\` escapes) as an SQLite GLOB pattern (`*`, `?`, `[…]`).
fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let literal = match c {
            '%' => {
                out.push('*');
                continue;
            }
            '_' => {
                out.push('?');
                continue;
            }
            '\\' => chars.next().unwrap_or('\\'),
            c => c,
        };
        match literal {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// PostgreSQL text reading the request's claims (set with `set_config(…, true)`) and
/// applying the JSON operator `read` (`->> 'sub'`). `nullif` matters: a custom setting reset
/// at the end of a transaction reads as `''`, which `::jsonb` would refuse. Also the
/// `auth.uid` column default (without the sub-select a default cannot have).
pub(crate) fn pg_claims_read(read: &str) -> String {
    format!("nullif(current_setting('{CLAIMS_SETTING}', true), '')::jsonb {read}")
}

/// PostgreSQL text of the request's user id: the plain-text setting [`CLAIM_SUB_SETTING`]
/// first (nothing to parse), the claims' `sub` when it is unset or `''`. `auth.uid` in
/// policies and the `auth.uid` column default.
pub(crate) fn pg_uid_read() -> String {
    format!(
        "coalesce(nullif(current_setting('{CLAIM_SUB_SETTING}', true), ''), {})",
        pg_claims_read("->> 'sub'")
    )
}

/// `auth.*` on PostgreSQL: a sub-select of the claims setting, cast inside the select.
fn pg_auth(a: &AuthRef, target: &Target) -> SExpr {
    let read = match a {
        AuthRef::Uid => pg_uid_read(),
        AuthRef::Role => pg_claims_read("->> 'role'"),
        AuthRef::Email => pg_claims_read("->> 'email'"),
        AuthRef::Claims(path) if path.is_empty() || !path.iter().all(|k| is_identifier(k)) => {
            // Only a hand-built tree gets here (`check` reports it): read nothing.
            return SExpr::cust(format!("select NULL{}", target.pg_cast()));
        }
        AuthRef::Claims(path) if path.len() == 1 => pg_claims_read(&format!("->> '{}'", path[0])),
        AuthRef::Claims(path) => {
            // Each key double-quoted, so that `null` is a key, not a NULL element.
            let keys: Vec<String> = path.iter().map(|k| format!("\"{k}\"")).collect();
            pg_claims_read(&format!("#>> '{{{}}}'", keys.join(",")))
        }
    };
    let cast = target.pg_cast();
    // No outer parentheses: `sea_query` puts a custom expression in parentheses wherever
    // it is an operand, which is the only place the compiler puts it (see `like`).
    if cast.is_empty() {
        SExpr::cust(format!("select ({read})"))
    } else {
        SExpr::cust(format!("select ({read}){cast}"))
    }
}

/// `auth.*` in bound mode: the value from the request, converted as PostgreSQL's cast of
/// the claim's text would be (NULL where that cast would fail).
fn bound_auth(ctx: &AuthContext, a: &AuthRef, target: &Target) -> Value {
    let owned;
    let json: Option<&Json> = match a {
        AuthRef::Uid => {
            owned = ctx.uid.clone().map(Json::String);
            owned.as_ref()
        }
        AuthRef::Role => {
            owned = Some(Json::String(ctx.role.clone()));
            owned.as_ref()
        }
        AuthRef::Email => {
            owned = ctx.email.clone().map(Json::String);
            owned.as_ref()
        }
        AuthRef::Claims(path) => {
            let mut cur: Option<&serde_json::Value> = Some(&ctx.claims);
            for key in path {
                cur = cur.and_then(|v| v.get(key.as_str()));
            }
            if path.is_empty() { None } else { cur }
        }
    };
    coerce(json.filter(|v| !v.is_null()), target)
}

/// The text PostgreSQL's `->>` gives for a JSON value.
fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn coerce(v: Option<&Json>, target: &Target) -> Value {
    match target {
        Target::Text | Target::Date | Target::Time | Target::Timestamp | Target::Timestamptz => {
            Value::String(v.map(json_text))
        }
        Target::Uuid => Value::String(v.map(|v| {
            let s = json_text(v);
            if is_uuid(&s) { s.to_ascii_lowercase() } else { s }
        })),
        Target::Integer => Value::BigInt(v.and_then(|v| match v {
            Json::Number(n) => n.as_i64(),
            Json::String(s) => s.trim().parse().ok(),
            _ => None,
        })),
        Target::Numeric | Target::Real | Target::Double => {
            let (int, float) = match v {
                Some(Json::Number(n)) => (n.as_i64(), n.as_f64()),
                Some(Json::String(s)) => {
                    let s = s.trim();
                    (s.parse().ok(), s.parse::<f64>().ok().filter(|f| f.is_finite()))
                }
                _ => (None, None),
            };
            match (int, float) {
                (Some(i), _) => Value::BigInt(Some(i)),
                (None, f) => Value::Double(f),
            }
        }
        Target::Boolean => Value::Bool(v.and_then(|v| match v {
            Json::Bool(b) => Some(*b),
            Json::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Json::String(s) => pg_bool(s),
            _ => None,
        })),
    }
}

/// PostgreSQL's boolean input: `t`, `true`, `yes`, `on`, `1` (any unique prefix of the
/// words, any case, surrounding spaces ignored) and their opposites.
fn pg_bool(s: &str) -> Option<bool> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() {
        return None;
    }
    let prefix_of = |word: &str| word.starts_with(s.as_str());
    match s.as_str() {
        "1" => Some(true),
        "0" => Some(false),
        "o" => None, // ambiguous between `on` and `off`
        _ if prefix_of("true") || prefix_of("yes") || s == "on" => Some(true),
        _ if prefix_of("false") || prefix_of("no") || s == "off" || s == "of" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use sea_query::{Query, SqliteQueryBuilder};
    use serde_json::json;

    use super::*;
    use crate::policy::parse;

    fn columns() -> Vec<(&'static str, ColumnType)> {
        vec![
            ("owner_id", ColumnType::Uuid),
            ("published", ColumnType::Boolean),
            ("org_id", ColumnType::BigInt),
            ("status", ColumnType::Text),
            ("deleted_at", ColumnType::Timestamptz),
            ("price", ColumnType::Decimal(Some((10, 2)))),
            ("a", ColumnType::Integer),
            ("b", ColumnType::Integer),
            ("name", ColumnType::Varchar(80)),
            ("score", ColumnType::SmallInt),
            ("active", ColumnType::Boolean),
            ("archived", ColumnType::Boolean),
            ("kind", ColumnType::Named("order_status".into())),
            ("ratio", ColumnType::Double),
        ]
    }

    fn auth() -> AuthContext {
        AuthContext {
            uid: Some("0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B".into()),
            role: "authenticated".into(),
            email: None,
            claims: json!({
                "sub": "0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B",
                "org_id": "42",
                "admin": "yes",
                "level": 3.5,
                "app_metadata": { "tier": "pro", "null": 7 },
            })
            .into(),
        }
    }

    /// Renders `src` for every dialect: PostgreSQL policies, and SQLite / MySQL with the
    /// request's values bound (inlined here to be readable).
    fn check(src: &str, expect: Expect) {
        let expr = parse(src).unwrap();
        let cols = columns();
        let ctx = auth();
        let out = format!(
            "pg:     {}\nsqlite: {}\nmysql:  {}\n",
            to_sql(&expr, &cols, Dialect::Postgres, AuthMode::Postgres),
            to_sql(&expr, &cols, Dialect::Sqlite, AuthMode::Bound(&ctx)),
            to_sql(&expr, &cols, Dialect::Mysql, AuthMode::Bound(&ctx)),
        );
        expect.assert_eq(&out);
    }

    /// Policies and the number of rows of `ROWS` each lets through for `auth()`, as
    /// PostgreSQL counts them (checked by hand against PostgreSQL and MariaDB too).
    const COUNTS: &[(&str, i64)] = &[
        ("owner_id = auth.uid", 1),
        ("published = true || owner_id = auth.uid", 1),
        ("org_id = auth.claims.org_id && auth.role = 'authenticated'", 1),
        ("status in ('a','b')", 1),
        ("status not in ('a', 'it''s')", 0),
        ("deleted_at is null", 2),
        ("auth.uid is not null", 3),
        ("false", 0),
        ("true", 3),
        ("price >= 0 and price < 19.99 and a > -3", 1),
        ("not (a = 1 or b != 2)", 0),
        (r"name like 'a%\_x*[?\\'", 1),
        ("name like 'Al%'", 1),
        ("name not like 'al%'", 2),
        ("name ilike '%LIC%'", 1),
        ("name not ilike 'x_'", 2),
        ("auth.claims.app_metadata.tier = 'pro' and auth.claims.app_metadata.null = 7", 3),
        ("score between 1 and 10 and not (ratio not between 0.5 and auth.claims.level)", 1),
        ("active", 1),
        ("!archived && NOT active", 0),
        ("published is true or archived is not false", 3),
        ("auth.claims.admin", 3),
        ("auth.role in ('admin', 'authenticated')", 3),
        ("auth.claims.level > 3 and auth.claims.org_id = org_id", 1),
        ("auth.email = name or auth.claims.nope.deeper = status", 0),
        ("auth.claims.sub = auth.uid", 3),
        ("(a = 1) = published", 2),
    ];

    const ROWS: &str = r"
        CREATE TABLE t (owner_id text, published boolean, org_id bigint, status text,
            deleted_at text, price numeric(10,2), a integer, b integer, name varchar(80),
            score smallint, active boolean, archived boolean, kind text, ratio double);
        INSERT INTO t VALUES
            ('0b6e8e8a-8c7f-4f7a-9b55-2c3d4e5f6a7b', TRUE, 42, 'a', NULL, 5, 1, 2, 'Alice', 5, TRUE, FALSE, NULL, 1.0),
            ('11111111-8c7f-4f7a-9b55-2c3d4e5f6a7b', FALSE, 7, 'it''s', '2025-01-01 00:00:00', 25, 3, 4, 'a%_x*[?\', 50, FALSE, TRUE, NULL, 4.0),
            (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    ";

    fn sqlite_value(v: &Value) -> rusqlite::types::Value {
        use rusqlite::types::Value as V;
        match v {
            Value::Bool(b) => b.map_or(V::Null, |b| V::Integer(b.into())),
            Value::BigInt(i) => i.map_or(V::Null, V::Integer),
            Value::Double(f) => f.map_or(V::Null, V::Real),
            Value::String(s) => s.clone().map_or(V::Null, V::Text),
            other => panic!("unexpected value {other:?}"),
        }
    }

    /// Every case runs on SQLite twice, values inlined and values bound, and lets the same
    /// rows through as on PostgreSQL.
    #[test]
    fn sqlite_runs_every_case() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(ROWS).unwrap();
        let cols = columns();
        let ctx = auth();
        for &(src, expected) in COUNTS {
            let expr = parse(src).unwrap();
            assert_eq!(crate::policy::check(&expr, &cols, true), [], "{src}");
            let inline = to_sql(&expr, &cols, Dialect::Sqlite, AuthMode::Bound(&ctx));
            let count: i64 = db
                .query_row(&format!("SELECT COUNT(*) FROM t WHERE {inline}"), [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{src}: {inline}: {e}"));
            assert_eq!(count, expected, "{src}: {inline}");

            let cond = to_sea_query_for(&expr, &cols, Some("t"), Dialect::Sqlite, AuthMode::Bound(&ctx));
            let (sql, values) = Query::select()
                .expr(SExpr::cust("COUNT(*)"))
                .from("t")
                .and_where(cond)
                .build(SqliteQueryBuilder);
            let params: Vec<_> = values.0.iter().map(sqlite_value).collect();
            let count: i64 = db
                .query_row(&sql, rusqlite::params_from_iter(params), |r| r.get(0))
                .unwrap_or_else(|e| panic!("{src}: {sql}: {e}"));
            assert_eq!(count, expected, "{src}: {sql} (bound)");
        }
    }

    #[test]
    fn anonymous_requests_see_nothing_owned() {
        let anon = AuthContext { role: "anon".into(), ..AuthContext::default() };
        let expr = parse("owner_id = auth.uid or auth.claims.org_id = org_id").unwrap();
        let sql = to_sql(&expr, &columns(), Dialect::Sqlite, AuthMode::Bound(&anon));
        assert_eq!(sql, r#""owner_id" = NULL OR NULL = "org_id""#);
    }

    #[test]
    fn bound_values_follow_postgres_casts() {
        let t = |v: Json, target: Target| coerce(Some(&v), &target);
        assert_eq!(t(json!("42"), Target::Integer), Value::BigInt(Some(42)));
        assert_eq!(t(json!(" 42 "), Target::Integer), Value::BigInt(Some(42)));
        assert_eq!(t(json!("4.2"), Target::Integer), Value::BigInt(None));
        assert_eq!(t(json!(4.5), Target::Numeric), Value::Double(Some(4.5)));
        assert_eq!(t(json!("7"), Target::Double), Value::BigInt(Some(7)));
        assert_eq!(t(json!("nan"), Target::Numeric), Value::Double(None));
        assert_eq!(t(json!(true), Target::Text), Value::String(Some("true".into())));
        assert_eq!(t(json!({"a": 1}), Target::Text), Value::String(Some(r#"{"a":1}"#.into())));
        assert_eq!(
            t(json!("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), Target::Uuid),
            Value::String(Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()))
        );
        for (s, b) in [
            ("t", Some(true)),
            ("YES", Some(true)),
            (" on", Some(true)),
            ("1", Some(true)),
            ("f", Some(false)),
            ("no", Some(false)),
            ("off", Some(false)),
            ("0", Some(false)),
            ("o", None),
            ("", None),
            ("maybe", None),
        ] {
            assert_eq!(t(json!(s), Target::Boolean), Value::Bool(b), "{s}");
        }
        assert_eq!(t(json!(1), Target::Boolean), Value::Bool(Some(true)));
        assert_eq!(coerce(None, &Target::Integer), Value::BigInt(None));
    }

    #[test]
    fn the_longest_and_deepest_policies_compile() {
        let cols = columns();
        let ctx = auth();
        let long = vec!["a = 1"; 4096 / 10].join(" or ");
        let deep = "not (".repeat(31) + "a = auth.uid" + &")".repeat(31);
        let bangs = "!".repeat(63) + "active";
        for src in [long, deep, bangs] {
            let expr = parse(&src).unwrap();
            for d in Dialect::ALL {
                assert!(!to_sql(&expr, &cols, d, AuthMode::Postgres).is_empty());
                assert!(!to_sql(&expr, &cols, d, AuthMode::Bound(&ctx)).is_empty());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever parses checks and compiles for every dialect and mode, without panics.
        #[test]
        fn any_tree_compiles(e in crate::policy::parser::tests::arb_expr()) {
            let cols = columns();
            let ctx = auth();
            let _ = crate::policy::check(&e, &cols, false);
            for d in Dialect::ALL {
                for mode in [AuthMode::Postgres, AuthMode::Bound(&ctx)] {
                    let _ = to_sql(&e, &cols, d, mode);
                    let _ = to_sea_query(&e, &cols, Some("t"), mode);
                }
            }
        }
    }

    #[test]
    fn glob_translation() {
        assert_eq!(like_to_glob(r"a%b_c\\%\_*?[]\"), r"a*b?c\*_[*][?][[]]\");
    }

    #[test]
    fn hand_built_claim_keys_never_reach_sql() {
        let expr = Expr::Compare {
            left: Operand::Auth(AuthRef::Claims(vec!["x') or true --".into()])),
            op: CmpOp::Eq,
            right: Operand::Literal(Literal::Integer(1)),
        };
        assert_eq!(
            to_sql(&expr, &columns(), Dialect::Postgres, AuthMode::Postgres),
            "(select NULL::numeric) = 1"
        );
    }

    #[test]
    fn owner() {
        check(
            r#"owner_id = auth.uid"#,
            expect![[r#"
                pg:     "owner_id" = (select (coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid)
                sqlite: "owner_id" = '0b6e8e8a-8c7f-4f7a-9b55-2c3d4e5f6a7b'
                mysql:  `owner_id` = '0b6e8e8a-8c7f-4f7a-9b55-2c3d4e5f6a7b'
            "#]],
        );
    }

    #[test]
    fn published_or_owner() {
        check(
            r#"published = true || owner_id = auth.uid"#,
            expect![[r#"
                pg:     "published" = TRUE OR "owner_id" = (select (coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid)
                sqlite: "published" = TRUE OR "owner_id" = '0b6e8e8a-8c7f-4f7a-9b55-2c3d4e5f6a7b'
                mysql:  `published` = TRUE OR `owner_id` = '0b6e8e8a-8c7f-4f7a-9b55-2c3d4e5f6a7b'
            "#]],
        );
    }

    #[test]
    fn org_and_role() {
        check(
            r#"org_id = auth.claims.org_id && auth.role = 'authenticated'"#,
            expect![[r#"
            pg:     "org_id" = (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'org_id')::bigint) AND (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')) = 'authenticated'
            sqlite: "org_id" = 42 AND 'authenticated' = 'authenticated'
            mysql:  `org_id` = 42 AND 'authenticated' = 'authenticated'
        "#]],
        );
    }

    #[test]
    fn in_list() {
        check(
            r#"status in ('a','b')"#,
            expect![[r#"
            pg:     "status" IN ('a', 'b')
            sqlite: "status" IN ('a', 'b')
            mysql:  `status` IN ('a', 'b')
        "#]],
        );
    }

    #[test]
    fn not_in_list() {
        check(
            r#"status not in ('a', 'it''s')"#,
            expect![[r#"
            pg:     "status" NOT IN ('a', E'it\'s')
            sqlite: "status" NOT IN ('a', 'it''s')
            mysql:  `status` NOT IN ('a', 'it\'s')
        "#]],
        );
    }

    #[test]
    fn is_null() {
        check(
            r#"deleted_at is null"#,
            expect![[r#"
            pg:     "deleted_at" IS NULL
            sqlite: "deleted_at" IS NULL
            mysql:  `deleted_at` IS NULL
        "#]],
        );
    }

    #[test]
    fn is_not_null_auth() {
        check(
            r#"auth.uid is not null"#,
            expect![[r#"
                pg:     (select (coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))) IS NOT NULL
                sqlite: '0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B' IS NOT NULL
                mysql:  '0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B' IS NOT NULL
            "#]],
        );
    }

    #[test]
    fn constant_false() {
        check(
            r#"false"#,
            expect![[r#"
            pg:     FALSE
            sqlite: FALSE
            mysql:  FALSE
        "#]],
        );
    }

    #[test]
    fn constant_true() {
        check(
            r#"TRUE"#,
            expect![[r#"
            pg:     TRUE
            sqlite: TRUE
            mysql:  TRUE
        "#]],
        );
    }

    #[test]
    fn number_cmp() {
        check(
            r#"price >= 0 and price < 19.99 and a > -3"#,
            expect![[r#"
            pg:     "price" >= 0 AND ("price" < 19.99 AND "a" > -3)
            sqlite: "price" >= 0 AND ("price" < 19.99 AND "a" > -3)
            mysql:  `price` >= 0 AND (`price` < 19.99 AND `a` > -3)
        "#]],
        );
    }

    #[test]
    fn not_group() {
        check(
            r#"not (a = 1 or b != 2)"#,
            expect![[r#"
            pg:     NOT ("a" = 1 OR "b" <> 2)
            sqlite: NOT ("a" = 1 OR "b" <> 2)
            mysql:  NOT (`a` = 1 OR `b` <> 2)
        "#]],
        );
    }

    #[test]
    fn precedence() {
        check(
            r#"(a = 1 or b = 2) and (a = 3 or not b <> 4)"#,
            expect![[r#"
            pg:     ("a" = 1 OR "b" = 2) AND ("a" = 3 OR (NOT "b" <> 4))
            sqlite: ("a" = 1 OR "b" = 2) AND ("a" = 3 OR (NOT "b" <> 4))
            mysql:  (`a` = 1 OR `b` = 2) AND (`a` = 3 OR (NOT `b` <> 4))
        "#]],
        );
    }

    #[test]
    fn like() {
        check(
            r#"name like 'a%\_x*[?\\'"#,
            expect![[r#"
            pg:     "name" LIKE E'a%\\_x*[?\\\\'
            sqlite: "name" GLOB 'a*_x[*][[][?]\'
            mysql:  `name` LIKE (CONVERT('a%\\_x*[?\\\\' USING utf8mb4) COLLATE utf8mb4_bin)
        "#]],
        );
    }

    #[test]
    fn not_like() {
        check(
            r#"name not like 'a%'"#,
            expect![[r#"
            pg:     "name" NOT LIKE 'a%'
            sqlite: NOT ("name" GLOB 'a*')
            mysql:  `name` NOT LIKE (CONVERT('a%' USING utf8mb4) COLLATE utf8mb4_bin)
        "#]],
        );
    }

    #[test]
    fn ilike() {
        check(
            r#"name ilike '%Smith%'"#,
            expect![[r#"
            pg:     "name" ILIKE '%Smith%'
            sqlite: LOWER("name") LIKE LOWER('%Smith%') ESCAPE '\'
            mysql:  LOWER(`name`) LIKE LOWER('%Smith%') ESCAPE '\\'
        "#]],
        );
    }

    #[test]
    fn not_ilike() {
        check(
            r#"name not ilike 'x_'"#,
            expect![[r#"
            pg:     "name" NOT ILIKE 'x_'
            sqlite: LOWER("name") NOT LIKE LOWER('x_') ESCAPE '\'
            mysql:  LOWER(`name`) NOT LIKE LOWER('x_') ESCAPE '\\'
        "#]],
        );
    }

    #[test]
    fn nested_claims() {
        check(
            r#"auth.claims.app_metadata.tier = 'pro' and auth.claims.app_metadata.null = 7"#,
            expect![[r#"
            pg:     (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb #>> '{"app_metadata","tier"}')) = 'pro' AND (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb #>> '{"app_metadata","null"}')::numeric) = 7
            sqlite: 'pro' = 'pro' AND 7 = 7
            mysql:  'pro' = 'pro' AND 7 = 7
        "#]],
        );
    }

    #[test]
    fn between() {
        check(
            r#"score between 1 and 10 and not (ratio not between 0.5 and auth.claims.level)"#,
            expect![[r#"
            pg:     ("score" BETWEEN 1 AND 10) AND (NOT ("ratio" NOT BETWEEN 0.5 AND (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'level')::double precision)))
            sqlite: ("score" BETWEEN 1 AND 10) AND (NOT ("ratio" NOT BETWEEN 0.5 AND 3.5))
            mysql:  (`score` BETWEEN 1 AND 10) AND (NOT (`ratio` NOT BETWEEN 0.5 AND 3.5))
        "#]],
        );
    }

    #[test]
    fn bare_bool() {
        check(
            r#"active"#,
            expect![[r#"
            pg:     "active" = TRUE
            sqlite: "active" = TRUE
            mysql:  `active` = TRUE
        "#]],
        );
    }

    #[test]
    fn negated_bool() {
        check(
            r#"!archived && NOT active"#,
            expect![[r#"
            pg:     (NOT "archived" = TRUE) AND (NOT "active" = TRUE)
            sqlite: (NOT "archived" = TRUE) AND (NOT "active" = TRUE)
            mysql:  (NOT `archived` = TRUE) AND (NOT `active` = TRUE)
        "#]],
        );
    }

    #[test]
    fn is_true() {
        check(
            r#"published is true or archived is not false"#,
            expect![[r#"
            pg:     "published" IS TRUE OR "archived" IS NOT FALSE
            sqlite: "published" IS TRUE OR "archived" IS NOT FALSE
            mysql:  `published` IS TRUE OR `archived` IS NOT FALSE
        "#]],
        );
    }

    #[test]
    fn auth_bool() {
        check(
            r#"auth.claims.admin"#,
            expect![[r#"
            pg:     (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'admin')::boolean) = TRUE
            sqlite: TRUE = TRUE
            mysql:  TRUE = TRUE
        "#]],
        );
    }

    #[test]
    fn auth_in() {
        check(
            r#"auth.role in ('admin', 'owner')"#,
            expect![[r#"
            pg:     (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')) IN ('admin', 'owner')
            sqlite: 'authenticated' IN ('admin', 'owner')
            mysql:  'authenticated' IN ('admin', 'owner')
        "#]],
        );
    }

    #[test]
    fn auth_number() {
        check(
            r#"auth.claims.level > 3 and auth.claims.org_id = org_id"#,
            expect![[r#"
            pg:     (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'level')::numeric) > 3 AND (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'org_id')::bigint) = "org_id"
            sqlite: 3.5 > 3 AND 42 = "org_id"
            mysql:  3.5 > 3 AND 42 = `org_id`
        "#]],
        );
    }

    #[test]
    fn missing_values() {
        check(
            r#"auth.email = name or auth.claims.nope.deeper = status"#,
            expect![[r#"
            pg:     (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')) = "name" OR (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb #>> '{"nope","deeper"}')) = "status"
            sqlite: NULL = "name" OR NULL = "status"
            mysql:  NULL = `name` OR NULL = `status`
        "#]],
        );
    }

    #[test]
    fn enum_column() {
        check(
            r#"kind = auth.claims.kind or kind in ('paid')"#,
            expect![[r#"
            pg:     CAST("kind" AS text) = (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'kind')) OR "kind" IN ('paid')
            sqlite: "kind" = NULL OR "kind" IN ('paid')
            mysql:  `kind` = NULL OR `kind` IN ('paid')
        "#]],
        );
    }

    #[test]
    fn auth_vs_auth() {
        check(
            r#"auth.claims.sub = auth.uid"#,
            expect![[r#"
                pg:     (select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')) = (select (coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')))
                sqlite: '0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B' = '0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B'
                mysql:  '0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B' = '0B6E8E8A-8C7F-4F7A-9B55-2C3D4E5F6A7B'
            "#]],
        );
    }

    #[test]
    fn nested_compare() {
        check(
            r#"(a = 1) = published"#,
            expect![[r#"
            pg:     ("a" = 1) = "published"
            sqlite: ("a" = 1) = "published"
            mysql:  (`a` = 1) = `published`
        "#]],
        );
    }

    #[test]
    fn long_chain_is_balanced() {
        check(
            r#"a = 1 or a = 2 or a = 3 or a = 4 or a = 5"#,
            expect![[r#"
            pg:     "a" = 1 OR "a" = 2 OR ("a" = 3 OR ("a" = 4 OR "a" = 5))
            sqlite: "a" = 1 OR "a" = 2 OR ("a" = 3 OR ("a" = 4 OR "a" = 5))
            mysql:  `a` = 1 OR `a` = 2 OR (`a` = 3 OR (`a` = 4 OR `a` = 5))
        "#]],
        );
    }
}
