//! Filters (`col=op.value`), their keys (`rel.col->a`), and logic trees
//! (`or=(a.eq.1,and(b.gt.2,c.is.null))`): PostgREST's `pOpExpr`, `pTreePath`, `pLogicTree`.

use crate::error::RestError;
use crate::request::limits::{RequestLimits, exceeded};
use crate::request::pg_array::parse_array_literal;
use crate::request::syntax::{Cursor, HARD_MAX_DEPTH};
use crate::request::types::{
    EmbedPath, Field, FtsOperator, IsValue, LogicOperator, LogicTree, OpExpr, Operation, Operator, Quantifier,
};

const EXPECT_OPERATOR: &str = "\"not\" or operator (eq, gt, ...)";

/// Counts filters across the whole request against `max_filters`.
pub(crate) struct FilterBudget {
    used: usize,
    max: usize,
}

impl FilterBudget {
    pub(crate) fn new(max: usize) -> Self {
        FilterBudget { used: 0, max }
    }

    pub(crate) fn take(&mut self) -> Result<(), RestError> {
        self.used += 1;
        if self.used > self.max {
            return Err(exceeded("max_filters", format!("{} or more filters", self.used), self.max));
        }
        Ok(())
    }
}

/// A filter key: `col`, `rel.col`, `rel.sub.col->a->>b` (PostgREST's `pTreePath`).
pub(crate) fn parse_tree_path(key: &str) -> Result<(EmbedPath, Field), RestError> {
    let mut c = Cursor::new(key, "tree path");
    let mut names = vec![c.field_name()?];
    while c.eat('.') {
        names.push(c.field_name()?);
    }
    let json_path = c.json_path()?;
    c.expect_end("\".\", \"->\" or end of input")?;
    let name = names.pop().unwrap_or_default();
    Ok((names, Field { name, json_path }))
}

/// Whether a value starts like an operator expression (`not.`, `eq.`, `fts(`, …). An RPC
/// GET treats a parameter whose value does not as a function argument.
pub(crate) fn looks_like_op_expr(value: &str) -> bool {
    if value.starts_with("not.") {
        return true;
    }
    let word_len = value.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(value.len());
    let (word, rest) = value.split_at(word_len);
    let known = Operator::from_word(word).is_some()
        || fts_operator(word).is_some()
        || matches!(word, "in" | "is" | "isdistinct");
    known && (rest.starts_with('.') || rest.starts_with('('))
}

/// A top-level filter value: `eq.5`, `not.in.(1,2)`, `fts(english).cat` (the whole value).
pub(crate) fn parse_filter_value(value: &str, limits: &RequestLimits) -> Result<OpExpr, RestError> {
    let mut c = Cursor::new(value, "filter");
    let expr = op_expr(&mut c, ValueStyle::TopLevel, limits)?;
    c.expect_end("end of input")?;
    Ok(expr)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueStyle {
    /// The rest of the value, verbatim (quotes are data).
    TopLevel,
    /// Inside a logic tree: `"quoted"`, `{pg,array}`, or up to `,` / `)`.
    Logic,
}

fn fts_operator(word: &str) -> Option<FtsOperator> {
    Some(match word {
        "fts" => FtsOperator::Fts,
        "plfts" => FtsOperator::Plain,
        "phfts" => FtsOperator::Phrase,
        "wfts" => FtsOperator::Websearch,
        _ => return None,
    })
}

fn op_expr(c: &mut Cursor<'_>, style: ValueStyle, limits: &RequestLimits) -> Result<OpExpr, RestError> {
    let negated = c.eat_str("not.");
    let word_start = c.pos();
    let word = c.take_while(|ch| ch.is_ascii_alphabetic() || ch == '_');
    let operation = match word {
        "in" => {
            delimiter(c)?;
            let values = list(c, limits)?;
            Operation::In(values)
        }
        "is" => {
            delimiter(c)?;
            let at = c.pos();
            let v = c.take_while(|ch| ch.is_ascii_alphabetic() || ch == '_');
            let is = match v.to_ascii_lowercase().as_str() {
                "null" => IsValue::Null,
                "not_null" => IsValue::NotNull,
                "true" => IsValue::True,
                "false" => IsValue::False,
                "unknown" => IsValue::Unknown,
                _ => {
                    return Err(c.fail_word(
                        at,
                        v,
                        "null or trilean value (null, not_null, true, false, unknown)",
                    ));
                }
            };
            Operation::Is(is)
        }
        "isdistinct" => {
            delimiter(c)?;
            Operation::IsDistinct(single_value(c, style)?)
        }
        w if fts_operator(w).is_some() => {
            let op = fts_operator(w).unwrap_or(FtsOperator::Fts);
            let language = if c.eat('(') {
                let lang = c.identifier()?;
                if !c.eat(')') {
                    return Err(c.fail("\")\""));
                }
                Some(lang)
            } else {
                None
            };
            delimiter(c)?;
            Operation::Fts { op, language, value: single_value(c, style)? }
        }
        w => {
            let Some(op) = Operator::from_word(w) else {
                return Err(if w.is_empty() {
                    c.fail(EXPECT_OPERATOR)
                } else {
                    c.fail_word(word_start, w, EXPECT_OPERATOR)
                });
            };
            let quantifier = if op.quantifiable() && c.peek() == Some('(') {
                let at = c.pos();
                if c.eat_str("(any)") {
                    Some(Quantifier::Any)
                } else if c.eat_str("(all)") {
                    Some(Quantifier::All)
                } else {
                    return Err(c.fail_at(at, "\"(any)\" or \"(all)\""));
                }
            } else {
                None
            };
            delimiter(c)?;
            let at = c.pos();
            let value = single_value(c, style)?;
            if quantifier.is_some() {
                match parse_array_literal(&value) {
                    Ok(elements) if elements.len() > limits.max_in_values => {
                        return Err(exceeded(
                            "max_in_values",
                            format!("An array of {} values", elements.len()),
                            limits.max_in_values,
                        ));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        return Err(
                            c.fail_at(at, &format!("an array literal like {{a,b}} after (any)/(all) ({e})"))
                        );
                    }
                }
            }
            Operation::Op { op, quantifier, value }
        }
    };
    Ok(OpExpr { negated, operation })
}

fn delimiter(c: &mut Cursor<'_>) -> Result<(), RestError> {
    if c.eat('.') { Ok(()) } else { Err(c.fail("delimiter (.)")) }
}

fn single_value(c: &mut Cursor<'_>, style: ValueStyle) -> Result<String, RestError> {
    match style {
        ValueStyle::TopLevel => Ok(c.take_rest().to_owned()),
        ValueStyle::Logic => {
            let start = c.pos();
            if c.peek() == Some('"') {
                if let Ok(v) = c.quoted()
                    && matches!(c.peek(), None | Some(',' | ')'))
                {
                    return Ok(v);
                }
                c.set_pos(start);
            }
            if c.peek() == Some('{') {
                let inner = c.rest().get(1..).unwrap_or("");
                if let Some(close) = inner.find(['{', '}'])
                    && inner.get(close..).is_some_and(|r| r.starts_with('}'))
                {
                    let lit = c.rest().get(..close + 2).unwrap_or("").to_owned();
                    c.set_pos(start + close + 2);
                    return Ok(lit);
                }
            }
            Ok(c.take_until(&[',', ')']).to_owned())
        }
    }
}

/// `(a,"b,c",d)`: quoted elements (with `\` escapes) or raw text up to `,` / `)`.
fn list(c: &mut Cursor<'_>, limits: &RequestLimits) -> Result<Vec<String>, RestError> {
    c.ws();
    if !c.eat('(') {
        return Err(c.fail("\"(\""));
    }
    c.ws();
    let mut values = Vec::new();
    if c.eat(')') {
        // `in.()`: the empty list (matches nothing).
        c.ws();
        return Ok(values);
    }
    loop {
        let start = c.pos();
        let mut element = None;
        if c.peek() == Some('"') {
            if let Ok(v) = c.quoted()
                && matches!(c.peek(), Some(',' | ')'))
            {
                element = Some(v);
            } else {
                c.set_pos(start);
            }
        }
        let element = match element {
            Some(v) => v,
            None => c.take_until(&[',', ')']).to_owned(),
        };
        values.push(element);
        if values.len() > limits.max_in_values {
            return Err(exceeded(
                "max_in_values",
                format!("A list of {} or more values", values.len()),
                limits.max_in_values,
            ));
        }
        if c.eat(',') {
            continue;
        }
        c.ws();
        if c.eat(')') {
            c.ws();
            return Ok(values);
        }
        return Err(c.fail("\",\" or \")\""));
    }
}

/// A logic-tree key: `or`, `not.and`, `cities.or`, `cities.not.or`: (path, negated, op).
pub(crate) fn parse_logic_key(key: &str) -> Result<(EmbedPath, bool, LogicOperator), RestError> {
    let mut c = Cursor::new(key, "logic path");
    let mut names = vec![c.field_name()?];
    while c.eat('.') {
        names.push(c.field_name()?);
    }
    c.expect_end("\".\" or end of input")?;
    let op = match names.pop().as_deref() {
        Some("and") => LogicOperator::And,
        Some("or") => LogicOperator::Or,
        _ => return Err(c.fail_at(0, "logic operator (and, or)")),
    };
    let negated = names.iter().any(|n| n == "not");
    names.retain(|n| n != "not");
    Ok((names, negated, op))
}

/// A logic-tree value: `(a.eq.1,and(b.gt.2,c.is.null))`.
pub(crate) fn parse_logic_value(
    value: &str,
    negated: bool,
    op: LogicOperator,
    limits: &RequestLimits,
    budget: &mut FilterBudget,
) -> Result<LogicTree, RestError> {
    let mut c = Cursor::new(value, "logic tree");
    let max_depth = limits.max_logic_depth.min(HARD_MAX_DEPTH);
    let tree = operands(&mut c, negated, op, 1, max_depth, limits, budget)?;
    c.expect_end("end of input")?;
    Ok(tree)
}

fn operands(
    c: &mut Cursor<'_>,
    negated: bool,
    op: LogicOperator,
    depth: usize,
    max_depth: usize,
    limits: &RequestLimits,
    budget: &mut FilterBudget,
) -> Result<LogicTree, RestError> {
    if depth > max_depth {
        return Err(exceeded("max_logic_depth", format!("Nesting and/or {depth} levels deep"), max_depth));
    }
    c.ws();
    if !c.eat('(') {
        return Err(c.fail("\"(\""));
    }
    let mut children = Vec::new();
    loop {
        c.ws();
        children.push(operand(c, depth, max_depth, limits, budget)?);
        c.ws();
        if c.eat(',') {
            continue;
        }
        if c.eat(')') {
            c.ws();
            return Ok(LogicTree::Expr { negated, op, children });
        }
        return Err(c.fail("\",\" or \")\""));
    }
}

fn operand(
    c: &mut Cursor<'_>,
    depth: usize,
    max_depth: usize,
    limits: &RequestLimits,
    budget: &mut FilterBudget,
) -> Result<LogicTree, RestError> {
    // `[not.]and(` / `[not.]or(` opens a sub-tree; anything else is a condition.
    let rest = c.rest();
    let (neg, after_not) = match rest.strip_prefix("not.") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let sub = if after_not.starts_with("and(") {
        Some((LogicOperator::And, 3))
    } else if after_not.starts_with("or(") {
        Some((LogicOperator::Or, 2))
    } else {
        None
    };
    if let Some((op, len)) = sub {
        c.set_pos(c.pos() + if neg { 4 } else { 0 } + len);
        return operands(c, neg, op, depth + 1, max_depth, limits, budget);
    }
    if c.peek().is_none() || c.peek() == Some(')') {
        return Err(
            c.fail("field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)")
        );
    }
    budget.take()?;
    let field = c.field()?;
    delimiter(c)?;
    let expr = op_expr(c, ValueStyle::Logic, limits)?;
    Ok(LogicTree::Condition { field, expr })
}
