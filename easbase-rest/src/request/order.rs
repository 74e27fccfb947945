//! `order=a.desc.nullslast,b,rel(col).asc` → [`OrderTerm`]s (PostgREST's `pOrder`).

use crate::error::RestError;
use crate::request::syntax::Cursor;
use crate::request::types::{Direction, Nulls, OrderTerm};

pub(crate) fn parse_order(src: &str) -> Result<Vec<OrderTerm>, RestError> {
    let mut c = Cursor::new(src, "order");
    let mut terms = Vec::new();
    loop {
        terms.push(term(&mut c)?);
        if !c.eat(',') {
            break;
        }
    }
    c.expect_end("\",\" or end of input")?;
    Ok(terms)
}

fn term(c: &mut Cursor<'_>) -> Result<OrderTerm, RestError> {
    c.ws();
    // `relation(column)`: a field name directly followed by `(`.
    let start = c.pos();
    let mut relation = None;
    if let Ok(name) = c.field_name() {
        if c.eat('(') {
            relation = Some(name);
        } else {
            c.set_pos(start);
        }
    } else {
        c.set_pos(start);
    }
    let field = c.field()?;
    if relation.is_some() && !c.eat(')') {
        return Err(c.fail("\")\""));
    }
    let mut direction = None;
    let mut nulls = None;
    if c.peek() == Some('.') {
        let at = c.pos() + 1;
        c.bump();
        let word = c.take_while(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        match word {
            "asc" => direction = Some(Direction::Asc),
            "desc" => direction = Some(Direction::Desc),
            "nullsfirst" => nulls = Some(Nulls::First),
            "nullslast" => nulls = Some(Nulls::Last),
            _ => return Err(c.fail_word(at, word, "\"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"")),
        }
        if direction.is_some() && c.peek() == Some('.') {
            let at = c.pos() + 1;
            c.bump();
            let word = c.take_while(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            match word {
                "nullsfirst" => nulls = Some(Nulls::First),
                "nullslast" => nulls = Some(Nulls::Last),
                _ => return Err(c.fail_word(at, word, "\"nullsfirst\" or \"nullslast\"")),
            }
        }
    }
    c.ws();
    match c.peek() {
        None | Some(',') => Ok(OrderTerm { relation, field, direction, nulls }),
        Some(_) => Err(c.fail("delimiter (.), \",\" or end of input")),
    }
}
