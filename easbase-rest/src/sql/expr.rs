//! Expressions per dialect: JSON paths, casts, regular expressions, containment and
//! full-text search. Keys, patterns and values are always bound; the only text spliced
//! into SQL is ours (operators, type names from [`Cast`], array indexes that are `i64`s).
//!
//! What SQLite or MySQL/MariaDB cannot answer as PostgreSQL does is refused with 400
//! `EB203` naming the feature and the engine, never answered differently.

use easbase_schema::{ColumnType, Dialect};
use sea_query::Expr;

use crate::error::RestError;
use crate::plan::{Cast, CmpOp, Containment, Value};
use crate::request::{FtsOperator, JsonArrow, JsonOperand, JsonStep};

/// A custom expression from a template with `$1`, `$2`, … (each may appear more than
/// once): numbered placeholders on PostgreSQL; on SQLite, whose builder numbers nothing,
/// one `?` per occurrence with the expressions repeated in order.
pub(super) fn tmpl(dialect: Dialect, template: &str, args: &[Expr]) -> Expr {
    if dialect == Dialect::Postgres {
        return Expr::cust_with_exprs(template.to_owned(), args.iter().cloned());
    }
    let mut sql = String::with_capacity(template.len());
    let mut ordered = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        sql.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
        match after[..digits].parse::<usize>().ok().and_then(|n| args.get(n.wrapping_sub(1))) {
            Some(e) => {
                sql.push('?');
                ordered.push(e.clone());
            }
            None => sql.push_str(&rest[at..at + 1 + digits]),
        }
        rest = &after[digits..];
    }
    sql.push_str(rest);
    Expr::cust_with_exprs(sql, ordered)
}

/// The engine's name in `EB203` messages.
pub(super) fn engine_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "PostgreSQL",
        Dialect::Sqlite => "SQLite",
        Dialect::Mysql => "MySQL/MariaDB",
    }
}

/// 400 `EB203`: `what` cannot be answered as PostgreSQL does on `dialect`'s engine.
pub(super) fn not_on(dialect: Dialect, what: impl Into<String>) -> RestError {
    RestError::NotOnEngine { what: what.into(), engine: engine_name(dialect) }
}

/// `base` followed by a JSON path, on a column of type `ty`. PostgreSQL: `->` / `->>`
/// step by step (json columns read as jsonb). SQLite and MySQL: one JSON path string;
/// `->>` gives text as PostgreSQL does (`true`, not `1`; JSON null is SQL NULL), compared
/// case-sensitively on MySQL (`utf8mb4_bin`, as the project's columns).
pub(super) fn json_path(
    dialect: Dialect,
    base: Expr,
    ty: &ColumnType,
    path: &[JsonStep],
    for_order: bool,
) -> Result<Expr, RestError> {
    let Some(last) = path.last() else { return Ok(base) };
    if dialect == Dialect::Postgres {
        let mut e = if *ty == ColumnType::Json { tmpl(dialect, "CAST($1 AS jsonb)", &[base]) } else { base };
        for step in path {
            let op = if step.arrow == JsonArrow::Json { "->" } else { "->>" };
            let operand = match &step.operand {
                JsonOperand::Key(k) => Expr::val(k.clone()),
                JsonOperand::Index(i) => Expr::cust(i.to_string()),
            };
            e = tmpl(dialect, &format!("($1 {op} $2)"), &[e, operand]);
        }
        return Ok(e);
    }
    let mut p = String::from("$");
    // MySQL reads `$[0]` of a non-array as the value itself: PostgreSQL's NULL is asked
    // for by checking that each indexed value is an array.
    let mut arrays = Vec::new();
    for step in path {
        if matches!(step.operand, JsonOperand::Index(_)) {
            arrays.push(p.clone());
        }
        match &step.operand {
            JsonOperand::Key(k) if k.contains(['"', '\\']) => {
                return Err(not_on(dialect, "a JSON key with '\"' or '\\'"));
            }
            JsonOperand::Key(k) => {
                p.push_str(".\"");
                p.push_str(k);
                p.push('"');
            }
            JsonOperand::Index(i) if *i >= 0 || dialect == Dialect::Mysql => p.push_str(&format!("[{i}]")),
            JsonOperand::Index(i) => p.push_str(&format!("[#{i}]")),
        }
    }
    if dialect == Dialect::Mysql {
        let value = match last.arrow {
            JsonArrow::Json => "JSON_EXTRACT($1, $2)",
            JsonArrow::Text => {
                "(CASE JSON_TYPE(JSON_EXTRACT($1, $2)) WHEN 'NULL' THEN NULL \
                 ELSE JSON_UNQUOTE(JSON_EXTRACT($1, $2)) END COLLATE utf8mb4_bin)"
            }
        };
        let mut args = vec![base, Expr::val(p)];
        if arrays.is_empty() {
            return Ok(tmpl(dialect, value, &args));
        }
        let checks: Vec<String> =
            (0..arrays.len()).map(|n| format!("JSON_TYPE(JSON_EXTRACT($1, ${})) = 'ARRAY'", n + 3)).collect();
        args.extend(arrays.into_iter().map(Expr::val));
        return Ok(tmpl(dialect, &format!("(CASE WHEN {} THEN {value} END)", checks.join(" AND ")), &args));
    }
    Ok(match last.arrow {
        // Ordering by a JSON value: by its SQL value (numbers as numbers), as jsonb orders
        // values of one type.
        JsonArrow::Json if for_order => tmpl(dialect, "json_extract($1, $2)", &[base, Expr::val(p)]),
        JsonArrow::Json => tmpl(dialect, "($1 -> $2)", &[base, Expr::val(p)]),
        JsonArrow::Text => tmpl(
            dialect,
            "(CASE json_type($1, $2) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL \
             ELSE CAST(json_extract($1, $2) AS TEXT) END)",
            &[base, Expr::val(p)],
        ),
    })
}

/// `CAST(e AS type)`. SQLite and MySQL cast silently where PostgreSQL fails or format
/// differently, so there only casts that give PostgreSQL's answer are made: widening
/// integers, anything textual or integral to text, booleans to text, and a type to itself.
pub(super) fn cast(
    dialect: Dialect,
    e: Expr,
    from: Option<&ColumnType>,
    to: Cast,
) -> Result<Expr, RestError> {
    if dialect == Dialect::Postgres {
        return Ok(tmpl(dialect, &format!("CAST($1 AS {})", to.pg_name()), &[e]));
    }
    let width = |t: &ColumnType| match t {
        ColumnType::SmallInt => Some(1),
        ColumnType::Integer => Some(2),
        ColumnType::BigInt | ColumnType::Identity => Some(3),
        _ => None,
    };
    let refuse = || {
        not_on(
            dialect,
            format!(
                "casting {} to {}",
                from.map_or("this value".to_owned(), |t| t.to_string()),
                to.pg_name()
            ),
        )
    };
    let Some(from) = from else { return Err(refuse()) };
    Ok(match (to, from) {
        (Cast::Text, ColumnType::Boolean) => {
            tmpl(dialect, "(CASE WHEN $1 IS NULL THEN NULL WHEN $1 THEN 'true' ELSE 'false' END)", &[e])
        }
        (Cast::Text, f) if width(f).is_some() && dialect == Dialect::Mysql => {
            tmpl(dialect, "CAST($1 AS CHAR)", &[e])
        }
        (Cast::Text, f) if width(f).is_some() => tmpl(dialect, "CAST($1 AS TEXT)", &[e]),
        (Cast::Text, f) if f.is_textual() => e,
        (Cast::SmallInt | Cast::Integer | Cast::BigInt, f) => match (width(f), width(&to.column_type())) {
            (Some(a), Some(b)) if a <= b => e,
            _ => return Err(refuse()),
        },
        (Cast::Numeric, ColumnType::Decimal(_))
        | (Cast::Real, ColumnType::Real)
        | (Cast::Double, ColumnType::Double)
        | (Cast::Boolean, ColumnType::Boolean)
        | (Cast::Json | Cast::Jsonb, ColumnType::Json | ColumnType::Jsonb) => e,
        _ => return Err(refuse()),
    })
}

/// `e ~ pattern` / `e ~* pattern`; on SQLite `e REGEXP pattern` (easbase-core registers
/// `regexp` with the `regex` crate; `(?i)` makes it case-insensitive), on MySQL/MariaDB
/// its own (PCRE) `REGEXP` with `(?i)` or `(?-i)` leading, whatever the collation; the
/// pattern compiled here first so a bad one is a 400 `2201B` as on PostgreSQL.
pub(super) fn regex(
    dialect: Dialect,
    e: Expr,
    pattern: &str,
    case_insensitive: bool,
) -> Result<Expr, RestError> {
    if dialect == Dialect::Postgres {
        let op = if case_insensitive { "~*" } else { "~" };
        return Ok(tmpl(dialect, &format!("($1 {op} $2)"), &[e, Expr::val(pattern.to_owned())]));
    }
    let pattern = match (case_insensitive, dialect) {
        (true, _) => format!("(?i){pattern}"),
        (false, Dialect::Mysql) => format!("(?-i){pattern}"),
        (false, _) => pattern.to_owned(),
    };
    if let Err(err) = regex::RegexBuilder::new(&pattern).size_limit(1 << 20).build() {
        return Err(RestError::Database {
            status: http::StatusCode::BAD_REQUEST,
            code: "2201B".to_owned(),
            message: format!("invalid regular expression: {}", err.to_string().lines().last().unwrap_or("")),
        });
    }
    Ok(tmpl(dialect, "($1 REGEXP $2)", &[e, Expr::val(pattern)]))
}

/// `cs`, `cd`, `ov`: PostgreSQL only (jsonb containment, array operators).
pub(super) fn containment(
    dialect: Dialect,
    e: Expr,
    json: bool,
    op: Containment,
    value: &Value,
) -> Result<Expr, RestError> {
    if dialect != Dialect::Postgres {
        let word = match op {
            Containment::Contains => "cs",
            Containment::ContainedIn => "cd",
            Containment::Overlaps => "ov",
        };
        return Err(not_on(dialect, format!("the operator {word} (JSON containment)")));
    }
    let text = match value {
        Value::Json(s) | Value::Text(s) => s.clone(),
        _ => return Err(RestError::Internal),
    };
    let sym = op.symbol();
    Ok(if json {
        tmpl(dialect, &format!("(CAST($1 AS jsonb) {sym} CAST($2 AS jsonb))"), &[e, Expr::val(text)])
    } else {
        tmpl(dialect, &format!("($1 {sym} $2)"), &[e, Expr::val(text)])
    })
}

/// `fts`, `plfts`, `phfts`, `wfts` as PostgREST builds them:
/// `to_tsvector([config,] e) @@ to_tsquery([config,] query)`.
pub(super) fn fts(
    dialect: Dialect,
    e: Expr,
    op: FtsOperator,
    language: Option<&str>,
    query: &str,
) -> Result<Expr, RestError> {
    let word = match op {
        FtsOperator::Fts => "fts",
        FtsOperator::Plain => "plfts",
        FtsOperator::Phrase => "phfts",
        FtsOperator::Websearch => "wfts",
    };
    if dialect != Dialect::Postgres {
        return Err(not_on(dialect, format!("full-text search ({word})")));
    }
    let func = match op {
        FtsOperator::Fts => "to_tsquery",
        FtsOperator::Plain => "plainto_tsquery",
        FtsOperator::Phrase => "phraseto_tsquery",
        FtsOperator::Websearch => "websearch_to_tsquery",
    };
    Ok(match language {
        Some(lang) => tmpl(
            dialect,
            &format!("(to_tsvector(CAST($1 AS regconfig), $2) @@ {func}(CAST($1 AS regconfig), $3))"),
            &[Expr::val(lang.to_owned()), e, Expr::val(query.to_owned())],
        ),
        None => tmpl(dialect, &format!("(to_tsvector($1) @@ {func}($2))"), &[e, Expr::val(query.to_owned())]),
    })
}

/// `x <op> value` with jsonb's semantics, for `x` a `->` value (JSON text on SQLite, JSON
/// on MySQL/MariaDB; SQL NULL when the path is missing) and `value` JSON text: values of
/// different kinds order as null < string < number < boolean < array < object; within a
/// kind numbers compare as numbers, strings as text (byte order, as under `C.UTF-8` and
/// `utf8mb4_bin`), `false` < `true`.
///
/// `Ok(None)`: `eq` / `neq` with an array or object, left to the caller's comparison of
/// JSON texts. Ordering by an array or object (jsonb compares them by size first, then
/// element by element) is refused with `EB203`, as are numbers past MySQL's `DECIMAL`.
pub(super) fn json_compare(
    dialect: Dialect,
    x: Expr,
    op: CmpOp,
    value: &str,
) -> Result<Option<Expr>, RestError> {
    use serde_json::Value as Json;
    let v: Json = serde_json::from_str(value)
        .map_err(|_| RestError::InvalidValue { ty: "jsonb".to_owned(), value: value.to_owned() })?;
    let (sym, word) = match op {
        CmpOp::Eq => ("=", "eq"),
        CmpOp::Neq => ("<>", "neq"),
        CmpOp::Gt => (">", "gt"),
        CmpOp::Gte => (">=", "gte"),
        CmpOp::Lt => ("<", "lt"),
        CmpOp::Lte => ("<=", "lte"),
    };
    let my = dialect == Dialect::Mysql;
    let kind = if my {
        "(CASE JSON_TYPE($1) WHEN 'NULL' THEN 0 WHEN 'STRING' THEN 1 WHEN 'INTEGER' THEN 2 \
         WHEN 'UNSIGNED INTEGER' THEN 2 WHEN 'DOUBLE' THEN 2 WHEN 'DECIMAL' THEN 2 WHEN 'BOOLEAN' THEN 3 \
         WHEN 'ARRAY' THEN 4 WHEN 'OBJECT' THEN 5 END)"
    } else {
        "(CASE json_type($1) WHEN 'null' THEN 0 WHEN 'text' THEN 1 WHEN 'integer' THEN 2 \
         WHEN 'real' THEN 2 WHEN 'true' THEN 3 WHEN 'false' THEN 3 WHEN 'array' THEN 4 \
         WHEN 'object' THEN 5 END)"
    };
    let (rank, same, bound) = match &v {
        Json::Null => (0, None, None),
        Json::String(s) => (
            1,
            Some(if my { "(JSON_UNQUOTE($1) COLLATE utf8mb4_bin)" } else { "json_extract($1, '$')" }),
            Some(Expr::val(s.clone())),
        ),
        Json::Number(n) => {
            let bound = if my {
                if n.as_f64().is_none_or(|f| f.abs() >= 1e35) {
                    return Err(not_on(dialect, format!("comparing a JSON value (->) with the number {n}")));
                }
                tmpl(dialect, "CAST($1 AS DECIMAL(65,30))", &[Expr::val(n.to_string())])
            } else if let Some(i) = n.as_i64() {
                Expr::val(i)
            } else {
                Expr::val(n.as_f64().unwrap_or(f64::NAN))
            };
            (
                2,
                Some(if my { "CAST(JSON_UNQUOTE($1) AS DECIMAL(65,30))" } else { "json_extract($1, '$')" }),
                Some(bound),
            )
        }
        Json::Bool(b) => (
            3,
            Some(if my {
                "(CASE JSON_UNQUOTE($1) WHEN 'true' THEN 1 ELSE 0 END)"
            } else {
                "(CASE json_type($1) WHEN 'true' THEN 1 ELSE 0 END)"
            }),
            Some(Expr::val(i64::from(*b))),
        ),
        Json::Array(_) | Json::Object(_) => {
            if matches!(op, CmpOp::Eq | CmpOp::Neq) {
                return Ok(None);
            }
            return Err(not_on(
                dialect,
                format!("the operator {word} on a JSON value (->) and an array or object"),
            ));
        }
    };
    Ok(Some(match (same, bound) {
        (Some(same), Some(bound)) => tmpl(
            dialect,
            &format!("(CASE WHEN {kind} = {rank} THEN {same} {sym} $2 ELSE {kind} {sym} {rank} END)"),
            &[x, bound],
        ),
        _ => tmpl(dialect, &format!("({kind} {sym} {rank})"), &[x]),
    }))
}
