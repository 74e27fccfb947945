//! The query string → [`QueryParams`] (PostgREST's `QueryParams.parse`).
//!
//! Each `key=value` pair is percent-decoded (`+` is a space, as browsers and
//! postgrest-js's `URLSearchParams` encode it) and sorted by its key:
//! `select`, `columns`, `on_conflict` (the first of each wins); keys whose last
//! dot-separated part is `order`, `limit`, `offset`, `and` or `or` (possibly under an
//! embedded path: `cities.order`); everything else is a filter, except that on an RPC
//! GET/HEAD a parameter whose value has no operator is a function argument. Pairs without
//! `=` are ignored, as PostgREST does.

use std::borrow::Cow;

use crate::error::RestError;
use crate::request::filter::{
    FilterBudget, looks_like_op_expr, parse_filter_value, parse_logic_key, parse_logic_value, parse_tree_path,
};
use crate::request::limits::RequestLimits;
use crate::request::order::parse_order;
use crate::request::range::{parse_limit, parse_offset};
use crate::request::select::parse_select;
use crate::request::syntax::{Cursor, parse_columns};
use crate::request::types::{EmbedPath, EmbeddedRange, Filter, Logic, Order, Range, SelectItem};

/// Everything the query string asks for, parsed but not checked against any schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParams {
    /// `select=`; `[Star]` when absent, empty for `select=` with no value.
    pub select: Vec<SelectItem>,
    /// Filters, root and embedded, in query-string order.
    pub filters: Vec<Filter>,
    /// `or=`/`and=` trees, root and embedded.
    pub logic: Vec<Logic>,
    /// `order=` per level.
    pub order: Vec<Order>,
    /// `rel.limit=` / `rel.offset=` per embedded resource (the root's window is
    /// [`ApiRequest::range`](crate::request::ApiRequest::range)).
    pub embedded_ranges: Vec<EmbeddedRange>,
    /// `columns=`: the body keys to use for an insert, update or call.
    pub columns: Option<Vec<String>>,
    /// `on_conflict=`: the unique columns of an upsert.
    pub on_conflict: Option<Vec<String>>,
    /// Function arguments of an RPC GET/HEAD (`/rpc/f?a=1&a=2`), in order, repeats kept.
    pub args: Vec<(String, String)>,
}

/// The parsed query string plus the root's raw `limit`/`offset`.
pub(crate) struct Parsed {
    pub(crate) params: QueryParams,
    pub(crate) root_limit: Option<u64>,
    pub(crate) root_offset: Option<u64>,
}

/// Percent-decodes one key or value (`+` → space), requiring UTF-8. Borrows when there
/// is nothing to decode (the common case: `select=*`, `id=eq.5`).
pub(crate) fn decode_component(raw: &str) -> Result<Cow<'_, str>, String> {
    if !raw.bytes().any(|b| b == b'+' || b == b'%') {
        return Ok(Cow::Borrowed(raw));
    }
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| Cow::Owned(s.into_owned()))
        .map_err(|_| format!("{raw:?} is not UTF-8 once percent-decoded"))
}

fn last_word(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

fn path_of(key: &str, what: &'static str) -> Result<EmbedPath, RestError> {
    // Everything before the last dot: `cities.streets.limit` → [cities, streets].
    let Some((prefix, _)) = key.rsplit_once('.') else { return Ok(Vec::new()) };
    let mut c = Cursor::new(prefix, what);
    let mut names = vec![c.field_name()?];
    while c.eat('.') {
        names.push(c.field_name()?);
    }
    c.expect_end("\".\" or end of input")?;
    Ok(names)
}

pub(crate) fn parse(query: &str, is_rpc_read: bool, limits: &RequestLimits) -> Result<Parsed, RestError> {
    let mut select = None;
    let mut columns = None;
    let mut on_conflict = None;
    let mut filters = Vec::new();
    let mut logic = Vec::new();
    let mut order = Vec::new();
    let mut args = Vec::new();
    let mut limits_by_path: Vec<(EmbedPath, Option<u64>, Option<u64>)> = Vec::new();
    let mut budget = FilterBudget::new(limits.max_filters);

    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let Some((raw_key, raw_value)) = pair.split_once('=') else { continue };
        let key = decode_component(raw_key).map_err(|d| undecodable("query parameter", d))?;
        let value = decode_component(raw_value).map_err(|d| undecodable("query parameter", d))?;
        match &*key {
            "select" => {
                if select.is_none() {
                    select = Some(parse_select(&value, limits.max_embed_depth)?);
                }
                continue;
            }
            "columns" => {
                if columns.is_none() {
                    columns = Some(parse_columns(&value, "columns parameter")?);
                }
                continue;
            }
            "on_conflict" => {
                if on_conflict.is_none() {
                    on_conflict = Some(parse_columns(&value, "on_conflict parameter")?);
                }
                continue;
            }
            _ => {}
        }
        match last_word(&key) {
            "order" => {
                let path = path_of(&key, "tree path")?;
                order.push(Order { path, terms: parse_order(&value)? });
            }
            "limit" | "offset" => {
                let is_limit = last_word(&key) == "limit";
                let path = path_of(&key, "tree path")?;
                let n = if is_limit { parse_limit(&key, &value)? } else { parse_offset(&key, &value)? };
                // The last value wins, as in PostgREST.
                match limits_by_path.iter_mut().find(|(p, _, _)| *p == path) {
                    Some(slot) if is_limit => slot.1 = Some(n),
                    Some(slot) => slot.2 = Some(n),
                    None if is_limit => limits_by_path.push((path, Some(n), None)),
                    None => limits_by_path.push((path, None, Some(n))),
                }
            }
            "and" | "or" => {
                let (path, negated, op) = parse_logic_key(&key)?;
                let tree = parse_logic_value(&value, negated, op, limits, &mut budget)?;
                logic.push(Logic { path, tree });
            }
            _ => {
                if is_rpc_read && !looks_like_op_expr(&value) {
                    args.push((key.into_owned(), value.into_owned()));
                    continue;
                }
                budget.take()?;
                let (path, field) = parse_tree_path(&key)?;
                let expr = parse_filter_value(&value, limits)?;
                filters.push(Filter { path, field, expr });
            }
        }
    }

    let mut root_limit = None;
    let mut root_offset = None;
    let mut embedded_ranges = Vec::new();
    for (path, limit, offset) in limits_by_path {
        if path.is_empty() {
            root_limit = limit;
            root_offset = offset;
        } else {
            embedded_ranges.push(EmbeddedRange { path, range: Range { offset: offset.unwrap_or(0), limit } });
        }
    }

    Ok(Parsed {
        params: QueryParams {
            select: select.unwrap_or_else(|| vec![SelectItem::Star]),
            filters,
            logic,
            order,
            embedded_ranges,
            columns,
            on_conflict,
            args,
        },
        root_limit,
        root_offset,
    })
}

fn undecodable(what: &str, details: String) -> RestError {
    RestError::QueryParam { message: format!("\"failed to parse {what}\""), details }
}
