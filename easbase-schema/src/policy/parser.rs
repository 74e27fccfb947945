//! A recursive-descent parser for policy expressions.
//!
//! Recursion only happens through `!`/`not` and parentheses, and each level is counted:
//! past [`MAX_DEPTH`] the parser stops with an error instead of growing the stack.

use super::ast::{AuthRef, CmpOp, Expr, Literal, Operand};
use super::lexer::{Tok, Token, lex};
use super::{MAX_DEPTH, MAX_LEN, ParseError};

/// Words with a meaning of their own; none of them can name a column.
const KEYWORDS: &[&str] =
    &["and", "or", "not", "is", "null", "true", "false", "in", "like", "ilike", "between", "auth"];

/// Whether `word` is a keyword (case-insensitive).
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Parses policy source into an [`Expr`]. See [`super::parse`].
pub(crate) fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_LEN {
        return Err(ParseError::new(
            src,
            MAX_LEN,
            format!("policy is too long ({} bytes; at most {MAX_LEN})", src.len()),
        ));
    }
    let tokens = lex(src)?;
    let mut p = Parser { src, tokens, at: 0 };
    if p.peek() == &Tok::Eof {
        return Err(p.error_here("empty policy: expected a condition such as `true` or `owner_id = auth.uid`".to_owned()));
    }
    let expr = p.or(0)?;
    match p.peek() {
        Tok::Eof => Ok(expr),
        Tok::RParen => Err(p.error_here("unmatched `)`".to_owned())),
        other => {
            let msg = format!("expected `and`, `or` or the end of the policy, found {}", other.describe());
            Err(p.error_here(msg))
        }
    }
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    at: usize,
}

impl Parser<'_> {
    fn token(&self) -> &Token {
        // `lex` always ends with `Eof` and `bump` never moves past it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &Tok {
        &self.token().tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = (self.at + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if tok != Tok::Eof {
            self.at += 1;
        }
        tok
    }

    fn error_here(&self, message: String) -> ParseError {
        ParseError::new(self.src, self.token().pos, message)
    }

    fn expected(&self, what: &str) -> ParseError {
        self.error_here(format!("expected {what}, found {}", self.peek().describe()))
    }

    fn at_keyword(&self, kw: &str) -> bool {
        self.keyword_at(0, kw)
    }

    fn keyword_at(&self, ahead: usize, kw: &str) -> bool {
        matches!(self.peek_at(ahead), Tok::Ident(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let found = self.at_keyword(kw);
        if found {
            self.bump();
        }
        found
    }

    fn enter(&self, depth: usize) -> Result<usize, ParseError> {
        if depth >= MAX_DEPTH {
            Err(self.error_here(format!("policy is nested too deeply (more than {MAX_DEPTH} levels)")))
        } else {
            Ok(depth + 1)
        }
    }

    /// or := and (('||' | 'or') and)*
    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and(depth)?];
        while self.peek() == &Tok::OrOr || self.at_keyword("or") {
            self.bump();
            terms.push(self.and(depth)?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::Or(terms) })
    }

    /// and := not (('&&' | 'and') not)*
    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut terms = vec![self.not(depth)?];
        while self.peek() == &Tok::AndAnd || self.at_keyword("and") {
            self.bump();
            terms.push(self.not(depth)?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::And(terms) })
    }

    /// not := ('!' | 'not') not | predicate
    fn not(&mut self, depth: usize) -> Result<Expr, ParseError> {
        // Iterate over the prefix so that a long run of `!` costs no stack before the
        // depth check refuses it.
        let mut count = 0;
        let mut depth = depth;
        while self.peek() == &Tok::Bang || self.at_keyword("not") {
            depth = self.enter(depth)?;
            self.bump();
            count += 1;
        }
        let mut expr = self.predicate(depth)?;
        for _ in 0..count {
            expr = Expr::Not(Box::new(expr));
        }
        Ok(expr)
    }

    /// predicate := operand [ cmpop operand | 'is' ['not'] ('null'|'true'|'false')
    ///            | ['not'] 'in' '(' literal {',' literal} ')'
    ///            | ['not'] ('like'|'ilike') string
    ///            | ['not'] 'between' operand 'and' operand ]
    fn predicate(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let left = self.operand(depth)?;
        if let Some(op) = self.cmp_op() {
            self.bump();
            let right = self.operand(depth)?;
            return Ok(Expr::Compare { left, op, right });
        }
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            let expr = if self.eat_keyword("null") {
                Expr::IsNull { operand: left, negated }
            } else if self.eat_keyword("true") {
                Expr::IsBool { operand: left, value: true, negated }
            } else if self.eat_keyword("false") {
                Expr::IsBool { operand: left, value: false, negated }
            } else {
                return Err(self.expected("`null`, `true` or `false` after `is`"));
            };
            return Ok(expr);
        }
        let negated = self.at_keyword("not")
            && ["in", "like", "ilike", "between"].iter().any(|kw| self.keyword_at(1, kw));
        if negated {
            self.bump();
        }
        if self.eat_keyword("in") {
            return self.in_list(left, negated);
        }
        for (kw, case_insensitive) in [("like", false), ("ilike", true)] {
            if self.eat_keyword(kw) {
                let pattern = match self.peek() {
                    Tok::Str(s) => s.clone(),
                    _ => return Err(self.expected(&format!("a string pattern after `{kw}`"))),
                };
                self.bump();
                return Ok(Expr::Like { operand: left, pattern, case_insensitive, negated });
            }
        }
        if self.eat_keyword("between") {
            let low = self.operand(depth)?;
            if !self.eat_keyword("and") {
                return Err(self.expected("`and` between the bounds of `between`"));
            }
            let high = self.operand(depth)?;
            return Ok(Expr::Between { operand: left, low, high, negated });
        }
        if self.at_keyword("not") {
            return Err(self.error_here(
                "expected `in`, `like`, `ilike` or `between` after `not` (write `not x` before the condition it negates)".to_owned(),
            ));
        }
        Ok(match left {
            Operand::Nested(inner) => *inner,
            other => Expr::Operand(other),
        })
    }

    fn cmp_op(&self) -> Option<CmpOp> {
        Some(match self.peek() {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            _ => return None,
        })
    }

    /// '(' literal {',' literal} ')', after `in`.
    fn in_list(&mut self, operand: Operand, negated: bool) -> Result<Expr, ParseError> {
        if self.peek() != &Tok::LParen {
            return Err(self.expected("`(` after `in`"));
        }
        self.bump();
        let mut list = Vec::new();
        loop {
            match self.literal() {
                Some(l) => list.push(l),
                None => return Err(self.expected("a value (a string, a number, `true`, `false` or `null`)")),
            }
            match self.peek() {
                Tok::Comma => {}
                Tok::RParen => {
                    self.bump();
                    break;
                }
                _ => return Err(self.expected("`,` or `)`")),
            }
            self.bump();
        }
        Ok(Expr::In { operand, list, negated })
    }

    /// A literal at the current token, consumed; `None` (nothing consumed) otherwise.
    fn literal(&mut self) -> Option<Literal> {
        let lit = match self.peek() {
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Int(i) => Literal::Integer(*i),
            Tok::Decimal(d) => Literal::Decimal(d.clone()),
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Ident(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            _ => return None,
        };
        self.bump();
        Some(lit)
    }

    /// operand := literal | column | auth-ref | '(' expr ')'
    fn operand(&mut self, depth: usize) -> Result<Operand, ParseError> {
        if let Some(l) = self.literal() {
            return Ok(Operand::Literal(l));
        }
        match self.peek().clone() {
            Tok::LParen => {
                let depth = self.enter(depth)?;
                self.bump();
                let inner = self.or(depth)?;
                if self.peek() != &Tok::RParen {
                    return Err(self.expected("`)`"));
                }
                self.bump();
                Ok(match inner {
                    Expr::Operand(o) => o,
                    e => Operand::Nested(Box::new(e)),
                })
            }
            Tok::Ident(w) if w.eq_ignore_ascii_case("auth") => self.auth_ref(),
            Tok::Ident(w) if is_keyword(&w) => Err(self.error_here(format!(
                "expected a column, a value or `(`, found the keyword `{w}`"
            ))),
            Tok::Ident(w) => {
                self.bump();
                if self.peek() == &Tok::Dot {
                    return Err(self.error_here(format!(
                        "unexpected `.` after `{w}`: columns are named without a table, and only `auth.` has fields"
                    )));
                }
                Ok(Operand::Column(w))
            }
            _ => Err(self.expected("a column, a value or `(`")),
        }
    }

    /// auth-ref := 'auth' '.' ('uid' | 'role' | 'email' | 'claims' ('.' ident)+)
    fn auth_ref(&mut self) -> Result<Operand, ParseError> {
        const EXPECTED: &str = "`uid`, `role`, `email` or `claims.<key>` after `auth.`";
        self.bump();
        if self.peek() != &Tok::Dot {
            return Err(self.expected(&format!("`.` after `auth` ({EXPECTED})")));
        }
        self.bump();
        let field = match self.peek() {
            Tok::Ident(w) => w.to_ascii_lowercase(),
            _ => return Err(self.expected(EXPECTED)),
        };
        let auth = match field.as_str() {
            "uid" => AuthRef::Uid,
            "role" => AuthRef::Role,
            "email" => AuthRef::Email,
            "claims" => {
                self.bump();
                let mut path = Vec::new();
                while self.peek() == &Tok::Dot {
                    self.bump();
                    match self.peek() {
                        Tok::Ident(key) => path.push(key.clone()),
                        _ => return Err(self.expected("a claim name (letters, digits and `_`)")),
                    }
                    self.bump();
                }
                if path.is_empty() {
                    return Err(self.expected("`.` and a claim name after `auth.claims`"));
                }
                return Ok(Operand::Auth(AuthRef::Claims(path)));
            }
            _ => return Err(self.expected(EXPECTED)),
        };
        self.bump();
        if self.peek() == &Tok::Dot {
            return Err(self.error_here(format!("`{auth}` has no fields")));
        }
        Ok(Operand::Auth(auth))
    }
}
