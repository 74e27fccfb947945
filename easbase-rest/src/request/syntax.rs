//! The shared lexical layer of the query-string grammar: a cursor over one parameter
//! value, field names, quoted values, JSON paths, and PostgREST-shaped parse errors.
//!
//! Every parser here is a hand-written recursive descent over `&str` that never indexes
//! out of bounds (it only slices at positions it found with `find`/`char_indices`) and
//! checks nesting depth *before* recursing, so no input can panic or exhaust the stack.

use crate::error::RestError;
use crate::request::types::{Field, JsonArrow, JsonOperand, JsonStep};

/// Nesting never goes deeper than this, whatever `RequestLimits` says, so a careless
/// configuration cannot let a query string exhaust the stack.
pub(crate) const HARD_MAX_DEPTH: usize = 64;

/// A cursor over one query-string value (or key), for one kind of parse (`what`).
pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// `what` names the parameter kind in errors: `filter`, `select parameter`, …
    pub(crate) fn new(src: &'a str, what: &'static str) -> Self {
        Cursor { src, pos: 0, what }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn starts_with(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }

    /// Skips spaces and tabs (PostgREST's `lexeme`).
    pub(crate) fn ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    /// Consumes everything up to (not including) the first char of `stops`, or the end.
    pub(crate) fn take_until(&mut self, stops: &[char]) -> &'a str {
        let rest = self.rest();
        let n = rest.find(|c| stops.contains(&c)).unwrap_or(rest.len());
        self.pos += n;
        rest.get(..n).unwrap_or("")
    }

    /// Consumes the rest of the input.
    pub(crate) fn take_rest(&mut self) -> &'a str {
        let rest = self.rest();
        self.pos = self.src.len();
        rest
    }

    /// A PGRST100 error at the current position.
    pub(crate) fn fail(&self, expecting: &str) -> RestError {
        self.fail_at(self.pos, expecting)
    }

    /// A PGRST100 error at `pos`, in PostgREST's shape:
    /// message `"failed to parse filter (bar)" (line 1, column 1)`,
    /// details `unexpected "b" expecting "not" or operator (eq, gt, ...)`.
    pub(crate) fn fail_at(&self, pos: usize, expecting: &str) -> RestError {
        let before = self.src.get(..pos).unwrap_or(self.src);
        let column = before.chars().count() + 1;
        let unexpected = match self.src.get(pos..).and_then(|r| r.chars().next()) {
            Some(c) => format!("unexpected {:?}", c.to_string()),
            None => "unexpected end of input".to_owned(),
        };
        RestError::QueryParam {
            message: format!("\"failed to parse {} ({})\" (line 1, column {column})", self.what, self.src),
            details: format!("{unexpected} expecting {expecting}"),
        }
    }

    /// A PGRST100 error naming a whole word that is wrong (e.g. an unknown operator).
    pub(crate) fn fail_word(&self, pos: usize, word: &str, expecting: &str) -> RestError {
        match self.fail_at(pos, expecting) {
            RestError::QueryParam { message, .. } => RestError::QueryParam {
                message,
                details: format!("unexpected {word:?} expecting {expecting}"),
            },
            other => other,
        }
    }

    /// Requires the end of input.
    pub(crate) fn expect_end(&self, expecting: &str) -> Result<(), RestError> {
        if self.at_end() { Ok(()) } else { Err(self.fail(expecting)) }
    }

    /// `"…"` with backslash escapes; the cursor is on the opening quote.
    pub(crate) fn quoted(&mut self) -> Result<String, RestError> {
        if !self.eat('"') {
            return Err(self.fail("\"\\\"\""));
        }
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => return Err(self.fail("escaped character")),
                },
                Some(c) => out.push(c),
                None => return Err(self.fail("closing quote \"\\\"\"")),
            }
        }
    }

    /// A field name: `"quoted"` or identifiers (`[letters digits _ $ space]`) joined by
    /// dashes that do not start an arrow; surrounding spaces are trimmed.
    pub(crate) fn field_name(&mut self) -> Result<String, RestError> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let first = self.take_while(is_ident_char);
        if first.is_empty() {
            return Err(self.fail("field name (* or [a..z0..9_$])"));
        }
        if !self.starts_with("-") || self.starts_with("->") {
            return Ok(first.trim().to_owned());
        }
        self.pos += 1;
        let mut parts: Vec<&str> = vec![first.trim()];
        loop {
            let part = self.take_while(is_ident_char);
            if part.is_empty() {
                return Err(self.fail("field name (* or [a..z0..9_$])"));
            }
            parts.push(part.trim());
            if self.starts_with("-") && !self.starts_with("->") {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(parts.join("-"))
    }

    /// A plain identifier (casts, fts languages): `[letters digits _ $ space]+`, trimmed.
    pub(crate) fn identifier(&mut self) -> Result<String, RestError> {
        let s = self.take_while(is_ident_char).trim();
        if s.is_empty() { Err(self.fail("letter or digit")) } else { Ok(s.to_owned()) }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let n = rest.find(|c| !f(c)).unwrap_or(rest.len());
        self.pos += n;
        rest.get(..n).unwrap_or("")
    }

    /// `->key`, `->>0`, … (possibly none).
    pub(crate) fn json_path(&mut self) -> Result<Vec<JsonStep>, RestError> {
        let mut steps = Vec::new();
        loop {
            let arrow = if self.eat_str("->>") {
                JsonArrow::Text
            } else if self.eat_str("->") {
                JsonArrow::Json
            } else {
                return Ok(steps);
            };
            let operand = self.json_operand()?;
            steps.push(JsonStep { arrow, operand });
        }
    }

    fn json_operand(&mut self) -> Result<JsonOperand, RestError> {
        // An index: optional '-', digits, then an arrow, a cast, '.', ',', ')' or the end.
        let start = self.pos;
        let neg = self.eat('-');
        let digits = self.take_while(|c| c.is_ascii_digit());
        if !digits.is_empty() {
            let r = self.rest();
            let ends = r.is_empty()
                || r.starts_with("->")
                || r.starts_with("::")
                || r.starts_with('.')
                || r.starts_with(',')
                || r.starts_with(')');
            if ends {
                let text = self.src.get(start..self.pos).unwrap_or("");
                return match text.parse::<i64>() {
                    Ok(i) => Ok(JsonOperand::Index(i)),
                    Err(_) => Err(self.fail_at(start, "a JSON array index that fits in 64 bits")),
                };
            }
        } else if neg {
            return Err(self.fail("digit"));
        }
        self.set_pos(start);
        if self.peek() == Some('"') {
            return self.quoted().map(JsonOperand::Key);
        }
        let mut parts: Vec<&str> = Vec::new();
        loop {
            let part = self.take_while(|c| !"(-:.,>)".contains(c));
            if part.is_empty() {
                return Err(self.fail("JSON key (any character except .,>:() )"));
            }
            parts.push(part.trim());
            if self.starts_with("-") && !self.starts_with("->") {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(JsonOperand::Key(parts.join("-")))
    }

    /// A field with its JSON path, surrounded by optional spaces (PostgREST's `pField`).
    pub(crate) fn field(&mut self) -> Result<Field, RestError> {
        self.ws();
        let name = self.field_name()?;
        let json_path = self.json_path()?;
        self.ws();
        Ok(Field { name, json_path })
    }
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == ' '
}

/// `a, "b c", d` (PostgREST's `pColumns`): used by `columns=` and `on_conflict=`.
pub(crate) fn parse_columns(src: &str, what: &'static str) -> Result<Vec<String>, RestError> {
    let mut c = Cursor::new(src, what);
    let mut cols = Vec::new();
    loop {
        c.ws();
        cols.push(c.field_name()?);
        c.ws();
        if !c.eat(',') {
            break;
        }
    }
    c.expect_end("\",\" or end of input")?;
    Ok(cols)
}
