//! The rows a host function answers, shaped like a table's: filters (three-valued, as
//! SQL: a comparison with null is unknown), `order=` (nulls last ascending, first
//! descending), the window, and `select=`. Values are compared by the JSON type of the
//! row's value: numbers as numbers, strings as text (byte order), booleans, JSON values.

use std::cmp::Ordering;

use serde_json::{Map, Value as Json};

use crate::error::RestError;
use crate::plan::{MAX_PATTERN_BYTES, not_supported};
use crate::request::{
    ApiRequest, Direction, IsValue, LogicOperator, LogicTree, Nulls, OpExpr, Operation, Operator, Quantifier,
    SelectItem,
};

/// The shaped rows and how many matched before the window.
pub(crate) struct Shaped {
    pub(crate) rows: Vec<Json>,
    pub(crate) total: u64,
}

/// Applies the request's filters, order, window and `select=` to `rows` of `function`.
pub(crate) fn shape_rows(
    req: &ApiRequest,
    function: &str,
    rows: Vec<Map<String, Json>>,
    max_rows: Option<u64>,
) -> Result<Shaped, RestError> {
    let keys: std::collections::BTreeSet<&str> =
        rows.iter().flat_map(|r| r.keys().map(String::as_str)).collect();
    let known = |key: &str| keys.is_empty() || keys.contains(key);
    let unknown = |key: &str| RestError::UnknownColumn { table: function.to_owned(), column: key.to_owned() };
    let plain = |f: &crate::request::Field| -> Result<(), RestError> {
        if !f.json_path.is_empty() {
            return Err(not_supported("JSON paths on a function's rows"));
        }
        if known(&f.name) { Ok(()) } else { Err(unknown(&f.name)) }
    };
    // Check every name and operator before evaluating anything.
    let mut tests: Vec<Node<'_>> = Vec::new();
    for f in &req.query.filters {
        if !f.path.is_empty() {
            return Err(RestError::NotEmbedded { name: f.path[0].clone() });
        }
        plain(&f.field)?;
        tests.push(Node::Leaf(&f.field.name, &f.expr));
    }
    for l in &req.query.logic {
        if !l.path.is_empty() {
            return Err(RestError::NotEmbedded { name: l.path[0].clone() });
        }
        tests.push(node(&l.tree, &plain)?);
    }
    let mut order = Vec::new();
    for o in &req.query.order {
        if !o.path.is_empty() {
            return Err(RestError::NotEmbedded { name: o.path[0].clone() });
        }
        for t in &o.terms {
            if t.relation.is_some() {
                return Err(not_supported("related orders on a function's rows"));
            }
            plain(&t.field)?;
            let desc = t.direction == Some(Direction::Desc);
            let nulls_first = t.nulls.map_or(desc, |n| n == Nulls::First);
            order.push((t.field.name.as_str(), desc, nulls_first));
        }
    }
    let mut keep = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut ok = true;
        for t in &tests {
            if eval(t, row)? != Some(true) {
                ok = false;
                break;
            }
        }
        if ok {
            keep.push(row);
        }
    }
    keep.sort_by(|a, b| {
        for (key, desc, nulls_first) in &order {
            let (x, y) = (a.get(*key).unwrap_or(&Json::Null), b.get(*key).unwrap_or(&Json::Null));
            let o = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if *nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if *nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, false) => {
                    let o = compare(x, y);
                    if *desc { o.reverse() } else { o }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let total = keep.len() as u64;
    let limit = match (req.range.limit, max_rows) {
        (Some(l), Some(m)) => Some(l.min(m)),
        (l, m) => l.or(m),
    };
    let window: Vec<&Map<String, Json>> = keep
        .into_iter()
        .skip(usize::try_from(req.range.offset).unwrap_or(usize::MAX))
        .take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)))
        .collect();
    let mut out = Vec::with_capacity(window.len());
    for row in window {
        out.push(Json::Object(select(&req.query.select, row.clone(), &plain)?));
    }
    Ok(Shaped { rows: out, total })
}

fn select(
    items: &[SelectItem],
    row: Map<String, Json>,
    plain: &dyn Fn(&crate::request::Field) -> Result<(), RestError>,
) -> Result<Map<String, Json>, RestError> {
    if matches!(items, [SelectItem::Star]) {
        return Ok(row);
    }
    let mut out = Map::new();
    for item in items {
        match item {
            SelectItem::Star => out.extend(row.clone()),
            SelectItem::Field { field, alias, cast: None, aggregate: None, aggregate_cast: None } => {
                plain(field)?;
                let v = row.get(&field.name).cloned().unwrap_or(Json::Null);
                out.insert(alias.clone().unwrap_or_else(|| field.name.clone()), v);
            }
            SelectItem::Field { .. } => {
                return Err(not_supported("casts and aggregates on a function's rows"));
            }
            SelectItem::Relation { .. } | SelectItem::Spread { .. } => {
                return Err(not_supported("embedding in a function's rows"));
            }
        }
    }
    Ok(out)
}

enum Node<'r> {
    Leaf(&'r str, &'r OpExpr),
    Tree { negated: bool, op: LogicOperator, children: Vec<Node<'r>> },
}

fn node<'r>(
    t: &'r LogicTree,
    plain: &dyn Fn(&crate::request::Field) -> Result<(), RestError>,
) -> Result<Node<'r>, RestError> {
    Ok(match t {
        LogicTree::Condition { field, expr } => {
            plain(field)?;
            Node::Leaf(&field.name, expr)
        }
        LogicTree::Expr { negated, op, children } => Node::Tree {
            negated: *negated,
            op: *op,
            children: children.iter().map(|c| node(c, plain)).collect::<Result<_, _>>()?,
        },
    })
}

fn not3(v: Option<bool>) -> Option<bool> {
    v.map(|b| !b)
}

fn eval(n: &Node<'_>, row: &Map<String, Json>) -> Result<Option<bool>, RestError> {
    match n {
        Node::Leaf(key, expr) => {
            let v = row.get(*key).unwrap_or(&Json::Null);
            let r = operation(v, &expr.operation)?;
            Ok(if expr.negated { not3(r) } else { r })
        }
        Node::Tree { negated, op, children } => {
            let mut acc = Some(*op == LogicOperator::And);
            for c in children {
                let r = eval(c, row)?;
                acc = match (op, acc, r) {
                    (LogicOperator::And, Some(false), _) | (LogicOperator::And, _, Some(false)) => {
                        Some(false)
                    }
                    (LogicOperator::And, Some(true), Some(true)) => Some(true),
                    (LogicOperator::And, _, _) => None,
                    (LogicOperator::Or, Some(true), _) | (LogicOperator::Or, _, Some(true)) => Some(true),
                    (LogicOperator::Or, Some(false), Some(false)) => Some(false),
                    (LogicOperator::Or, _, _) => None,
                };
            }
            Ok(if *negated { not3(acc) } else { acc })
        }
    }
}

fn operation(v: &Json, op: &Operation) -> Result<Option<bool>, RestError> {
    Ok(match op {
        Operation::Op { op, quantifier: None, value } => binary(v, *op, Some(value))?,
        Operation::Op { op, quantifier: Some(q), value } => {
            let elements = crate::request::parse_array_literal(value)
                .map_err(|_| RestError::InvalidValue { ty: "array".to_owned(), value: value.clone() })?;
            let mut acc = Some(*q == Quantifier::All);
            for e in &elements {
                let r = binary(v, *op, e.as_deref())?;
                acc = match (q, acc, r) {
                    (Quantifier::Any, Some(true), _) | (Quantifier::Any, _, Some(true)) => Some(true),
                    (Quantifier::Any, Some(false), Some(false)) => Some(false),
                    (Quantifier::All, Some(false), _) | (Quantifier::All, _, Some(false)) => Some(false),
                    (Quantifier::All, Some(true), Some(true)) => Some(true),
                    _ => None,
                };
            }
            acc
        }
        Operation::In(values) => {
            let mut acc = Some(false);
            for t in values {
                match cmp_text(v, t)? {
                    Some(Ordering::Equal) => return Ok(Some(true)),
                    None => acc = None,
                    Some(_) => {}
                }
            }
            acc
        }
        Operation::Is(is) => Some(match is {
            IsValue::Null | IsValue::Unknown => v.is_null(),
            IsValue::NotNull => !v.is_null(),
            IsValue::True => *v == Json::Bool(true),
            IsValue::False => *v == Json::Bool(false),
        }),
        Operation::IsDistinct(t) => {
            Some(!v.is_null() && cmp_text(v, t)? != Some(Ordering::Equal) || v.is_null())
        }
        Operation::Fts { .. } => return Err(not_supported("full-text search on a function's rows")),
    })
}

fn binary(v: &Json, op: Operator, value: Option<&str>) -> Result<Option<bool>, RestError> {
    let Some(t) = value else { return Ok(None) };
    let cmp = || cmp_text(v, t);
    Ok(match op {
        Operator::Eq => cmp()?.map(|o| o == Ordering::Equal),
        Operator::Neq => cmp()?.map(|o| o != Ordering::Equal),
        Operator::Gt => cmp()?.map(|o| o == Ordering::Greater),
        Operator::Gte => cmp()?.map(|o| o != Ordering::Less),
        Operator::Lt => cmp()?.map(|o| o == Ordering::Less),
        Operator::Lte => cmp()?.map(|o| o != Ordering::Greater),
        Operator::Like | Operator::ILike | Operator::Match | Operator::IMatch => {
            let Json::String(s) = v else {
                return if v.is_null() {
                    Ok(None)
                } else {
                    Err(not_supported("pattern operators on non-text values"))
                };
            };
            let pattern = match op {
                Operator::Like | Operator::ILike => like_regex(t),
                _ => t.to_owned(),
            };
            if pattern.len() > MAX_PATTERN_BYTES * 4 || t.len() > MAX_PATTERN_BYTES {
                return Err(crate::request::exceeded("max_pattern_bytes", "A pattern", MAX_PATTERN_BYTES));
            }
            let re = regex::RegexBuilder::new(&pattern)
                .case_insensitive(matches!(op, Operator::ILike | Operator::IMatch))
                .size_limit(1 << 20)
                .build()
                .map_err(|e| RestError::Database {
                    status: http::StatusCode::BAD_REQUEST,
                    code: "2201B".to_owned(),
                    message: format!(
                        "invalid regular expression: {}",
                        e.to_string().lines().last().unwrap_or("")
                    ),
                })?;
            Some(re.is_match(s))
        }
        other => return Err(not_supported(format!("the operator {} on a function's rows", other.as_str()))),
    })
}

/// A LIKE pattern (`*` or `%` any run, `_` one char) as an anchored regular expression.
fn like_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' | '%' => out.push_str("(?s:.*)"),
            '_' => out.push_str("(?s:.)"),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// `v` compared with query-string text `t`, read as `v`'s JSON type; `None` for null.
fn cmp_text(v: &Json, t: &str) -> Result<Option<Ordering>, RestError> {
    let invalid = |ty: &str| RestError::InvalidValue { ty: ty.to_owned(), value: t.to_owned() };
    Ok(match v {
        Json::Null => None,
        Json::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let y: f64 = t.trim().parse().map_err(|_| invalid("numeric"))?;
            x.partial_cmp(&y)
        }
        Json::String(s) => Some(s.as_str().cmp(t)),
        Json::Bool(b) => {
            let y = match t.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "y" | "yes" | "on" | "1" => true,
                "f" | "false" | "n" | "no" | "off" | "0" => false,
                _ => return Err(invalid("boolean")),
            };
            Some(b.cmp(&y))
        }
        Json::Array(_) | Json::Object(_) => {
            let y: Json = serde_json::from_str(t).map_err(|_| invalid("json"))?;
            Some(if *v == y { Ordering::Equal } else { compare(v, &y) })
        }
    })
}

/// Two non-null JSON values in a total order: by type, then by value.
fn compare(x: &Json, y: &Json) -> Ordering {
    let rank = |v: &Json| match v {
        Json::Null => 0,
        Json::Bool(_) => 1,
        Json::Number(_) => 2,
        Json::String(_) => 3,
        Json::Array(_) => 4,
        Json::Object(_) => 5,
    };
    match (x, y) {
        (Json::Bool(a), Json::Bool(b)) => a.cmp(b),
        (Json::Number(a), Json::Number(b)) => a
            .as_f64()
            .unwrap_or(f64::NAN)
            .partial_cmp(&b.as_f64().unwrap_or(f64::NAN))
            .unwrap_or(Ordering::Equal),
        (Json::String(a), Json::String(b)) => a.cmp(b),
        _ if rank(x) != rank(y) => rank(x).cmp(&rank(y)),
        _ => x.to_string().cmp(&y.to_string()),
    }
}
