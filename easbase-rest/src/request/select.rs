//! `select=` → a forest of [`SelectItem`]s (PostgREST's `pFieldForest`).

use crate::error::RestError;
use crate::request::limits::exceeded;
use crate::request::syntax::{Cursor, HARD_MAX_DEPTH};
use crate::request::types::{Aggregate, Field, JoinType, SelectItem};

/// Parses a `select=` value. `max_depth` bounds embedding (the root is depth 0).
pub(crate) fn parse_select(src: &str, max_depth: usize) -> Result<Vec<SelectItem>, RestError> {
    let mut c = Cursor::new(src, "select parameter");
    let max_depth = max_depth.min(HARD_MAX_DEPTH);
    let items = forest(&mut c, 0, max_depth)?;
    c.ws();
    c.expect_end("\",\" or end of input")?;
    Ok(items)
}

fn forest(c: &mut Cursor<'_>, depth: usize, max_depth: usize) -> Result<Vec<SelectItem>, RestError> {
    let mut items = Vec::new();
    c.ws();
    if c.at_end() || c.peek() == Some(')') {
        return Ok(items);
    }
    loop {
        items.push(item(c, depth, max_depth)?);
        c.ws();
        if !c.eat(',') {
            return Ok(items);
        }
        c.ws();
    }
}

fn children(c: &mut Cursor<'_>, depth: usize, max_depth: usize) -> Result<Vec<SelectItem>, RestError> {
    if depth + 1 > max_depth {
        return Err(exceeded("max_embed_depth", format!("Embedding {} levels deep", depth + 1), max_depth));
    }
    if !c.eat('(') {
        return Err(c.fail("\"(\""));
    }
    let kids = forest(c, depth + 1, max_depth)?;
    c.ws();
    if !c.eat(')') {
        return Err(c.fail("\",\" or \")\""));
    }
    Ok(kids)
}

fn item(c: &mut Cursor<'_>, depth: usize, max_depth: usize) -> Result<SelectItem, RestError> {
    c.ws();
    if c.eat_str("...") {
        let name = c.field_name()?;
        let (hint, join) = embed_params(c)?;
        if c.peek() != Some('(') {
            return Err(c.fail("\"!\" or \"(\""));
        }
        let children = children(c, depth, max_depth)?;
        return Ok(SelectItem::Spread { name, hint, join, children });
    }
    if let Some(rel) = try_relation(c) {
        let (name, alias, hint, join) = rel;
        let children = children(c, depth, max_depth)?;
        return Ok(SelectItem::Relation { name, alias, hint, join, children });
    }
    field_item(c)
}

type RelationHead = (String, Option<String>, Option<String>, Option<JoinType>);

/// `alias:name!hint!inner` followed by `(`; backtracks (returns `None`) otherwise.
fn try_relation(c: &mut Cursor<'_>) -> Option<RelationHead> {
    // Not a name at all (`*`, `(`): no relation, and no error built to be dropped.
    if !starts_name(c) {
        return None;
    }
    let start = c.pos();
    let attempt = (|| {
        let alias = alias(c);
        let name = c.field_name().ok()?;
        if name == "count" {
            return None;
        }
        let (hint, join) = embed_params(c).ok()?;
        (c.peek() == Some('(')).then_some((name, alias, hint, join))
    })();
    if attempt.is_none() {
        c.set_pos(start);
    }
    attempt
}

/// Whether a field name (quoted or not) starts here.
fn starts_name(c: &Cursor<'_>) -> bool {
    c.peek().is_some_and(|ch| ch == '"' || super::syntax::is_ident_char(ch))
}

/// `alias:` (a field name and one colon not followed by another); backtracks if absent.
fn alias(c: &mut Cursor<'_>) -> Option<String> {
    // Not a field name at all (`*`, `...`, `(`): no alias, and no error built to be dropped.
    if !starts_name(c) {
        return None;
    }
    let start = c.pos();
    if let Ok(name) = c.field_name()
        && c.eat(':')
        && c.peek() != Some(':')
    {
        return Some(name);
    }
    c.set_pos(start);
    None
}

/// Up to two of `!hint`, `!inner`, `!left`.
fn embed_params(c: &mut Cursor<'_>) -> Result<(Option<String>, Option<JoinType>), RestError> {
    let mut hint = None;
    let mut join = None;
    for _ in 0..2 {
        if !c.eat('!') {
            break;
        }
        let word = c.field_name()?;
        match word.as_str() {
            "inner" if join.is_none() => join = Some(JoinType::Inner),
            "left" if join.is_none() => join = Some(JoinType::Left),
            _ if hint.is_none() => hint = Some(word),
            _ => return Err(c.fail("\"(\"")),
        }
    }
    Ok((hint, join))
}

fn field_item(c: &mut Cursor<'_>) -> Result<SelectItem, RestError> {
    if c.eat('*') {
        end(c)?;
        return Ok(SelectItem::Star);
    }
    let alias = alias(c);
    let start = c.pos();
    if c.eat_str("count()") {
        let aggregate_cast = cast_opt(c)?;
        if end(c).is_ok() {
            return Ok(SelectItem::Field {
                field: Field { name: "*".to_owned(), json_path: Vec::new() },
                alias,
                cast: None,
                aggregate: Some(Aggregate::Count),
                aggregate_cast,
            });
        }
        c.set_pos(start);
    }
    let field = c.field()?;
    let cast = cast_opt(c)?;
    let aggregate = aggregate(c)?;
    let aggregate_cast = if aggregate.is_some() { cast_opt(c)? } else { None };
    end(c)?;
    Ok(SelectItem::Field { field, alias, cast, aggregate, aggregate_cast })
}

fn cast_opt(c: &mut Cursor<'_>) -> Result<Option<String>, RestError> {
    if c.eat_str("::") { c.identifier().map(Some) } else { Ok(None) }
}

fn aggregate(c: &mut Cursor<'_>) -> Result<Option<Aggregate>, RestError> {
    let start = c.pos();
    if !c.eat('.') {
        return Ok(None);
    }
    let word = c.take_while(|ch| ch.is_ascii_alphabetic());
    let agg = match word {
        "sum" => Aggregate::Sum,
        "avg" => Aggregate::Avg,
        "count" => Aggregate::Count,
        "max" => Aggregate::Max,
        "min" => Aggregate::Min,
        _ => return Err(c.fail_word(start + 1, word, "aggregate (sum, avg, count, max, min)")),
    };
    if !c.eat_str("()") {
        return Err(c.fail("\"()\""));
    }
    Ok(Some(agg))
}

/// After an item: optional spaces, then `,`, `)` or the end.
fn end(c: &mut Cursor<'_>) -> Result<(), RestError> {
    c.ws();
    match c.peek() {
        None | Some(',' | ')') => Ok(()),
        Some(_) => Err(c.fail("\"->\", \"::\", \".\", \"(\", \",\", \")\" or end of input")),
    }
}
