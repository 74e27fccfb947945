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
        return Err(p.error_here(
            "empty policy: expected a condition such as `true` or `owner_id = auth.uid`".to_owned(),
        ));
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
                None => {
                    return Err(self.expected("a value (a string, a number, `true`, `false` or `null`)"));
                }
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
            Tok::Ident(w) if is_keyword(&w) => {
                Err(self.error_here(format!("expected a column, a value or `(`, found the keyword `{w}`")))
            }
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

#[cfg(test)]
pub(super) mod tests {
    use expect_test::{Expect, expect};
    use proptest::prelude::*;

    use super::*;

    /// Parses `src` and shows the canonical form (or the error, with its byte position).
    fn check(src: &str, expect: Expect) {
        let actual = match parse(src) {
            Ok(e) => {
                let printed = e.to_string();
                assert_eq!(parse(&printed).as_ref(), Ok(&e), "canonical form `{printed}` reparses");
                printed
            }
            Err(e) => format!("error at byte {}: {e}", e.position),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn examples_parse() {
        for src in [
            "owner_id = auth.uid",
            "published = true || owner_id = auth.uid",
            "org_id = auth.claims.org_id && auth.role = 'authenticated'",
            "status in ('a','b')",
            "deleted_at is null",
            "false",
            "true",
            "price >= 0",
            "not (a = 1 or b != 2)",
            "name like 'a%'",
            "auth.claims.app_metadata.tier = 'pro'",
            "auth.uid is not null",
            "score between 1 and 10",
            "active",
            "!archived",
        ] {
            assert!(parse(src).is_ok(), "{src}: {:?}", parse(src));
        }
    }

    #[test]
    fn tree_of_a_typical_policy() {
        assert_eq!(
            parse("published = TRUE OR owner_id == auth.uid").unwrap(),
            Expr::Or(vec![
                Expr::Compare {
                    left: Operand::Column("published".into()),
                    op: CmpOp::Eq,
                    right: Operand::Literal(Literal::Bool(true)),
                },
                Expr::Compare {
                    left: Operand::Column("owner_id".into()),
                    op: CmpOp::Eq,
                    right: Operand::Auth(AuthRef::Uid),
                },
            ])
        );
        assert_eq!(parse("(((active)))").unwrap(), Expr::Operand(Operand::Column("active".into())));
    }

    #[test]
    fn precedence_and_canonical_form() {
        check("a = 1 || b = 2 && c = 3", expect!["a = 1 or b = 2 and c = 3"]);
        check("(a = 1 || b = 2) && c = 3", expect!["(a = 1 or b = 2) and c = 3"]);
        check("!a && !(b || c)", expect!["not a and not (b or c)"]);
        check("NOT NOT a", expect!["not not a"]);
        check("a <> 1 and b == 2", expect!["a != 1 and b = 2"]);
        check("x Is Not NULL and y IS FALSE", expect!["x is not null and y is false"]);
        check(
            "s NOT IN ('a', 'b''c', -1, 2.50, TRUE, null)",
            expect!["s not in ('a', 'b''c', -1, 2.50, true, null)"],
        );
        check("n not ilike '%x%' and m LIKE 'y'", expect!["n not ilike '%x%' and m like 'y'"]);
        check("n between -1 and auth.claims.max", expect!["n between -1 and auth.claims.max"]);
        check("n not between a and b and c", expect!["n not between a and b and c"]);
        check("AUTH.UID = Auth.Claims.Sub", expect!["auth.uid = auth.claims.Sub"]);
        check("(a = 1) = (b = 2)", expect!["(a = 1) = (b = 2)"]);
        check("  a\n=\t'x'  ", expect!["a = 'x'"]);
    }

    #[test]
    fn errors_name_the_place() {
        check(
            "owner_id = = 1",
            expect!["error at byte 11: at column 12: expected a column, a value or `(`, found `=`"],
        );
        check(
            "name = 'abc",
            expect!["error at byte 7: at column 8: unterminated string (missing closing `'`)"],
        );
        check("a = $1", expect!["error at byte 4: at column 5: unexpected character `$`"]);
        check("'é' = $", expect!["error at byte 7: at column 7: unexpected character `$`"]);
        check(
            "",
            expect![
                "error at byte 0: at column 1: empty policy: expected a condition such as `true` or `owner_id = auth.uid`"
            ],
        );
        check(
            "   ",
            expect![
                "error at byte 3: at column 4: empty policy: expected a condition such as `true` or `owner_id = auth.uid`"
            ],
        );
        check("a = 1)", expect!["error at byte 5: at column 6: unmatched `)`"]);
        check("(a = 1", expect!["error at byte 6: at column 7: expected `)`, found the end of the policy"]);
        check(
            "a = 1 b = 2",
            expect!["error at byte 6: at column 7: expected `and`, `or` or the end of the policy, found `b`"],
        );
        check(
            "a = 1 and",
            expect![
                "error at byte 9: at column 10: expected a column, a value or `(`, found the end of the policy"
            ],
        );
        check(
            "in = 1",
            expect![
                "error at byte 0: at column 1: expected a column, a value or `(`, found the keyword `in`"
            ],
        );
        check(
            "a is 1",
            expect![
                "error at byte 5: at column 6: expected `null`, `true` or `false` after `is`, found a number"
            ],
        );
        check("a in 'x'", expect!["error at byte 5: at column 6: expected `(` after `in`, found a string"]);
        check(
            "a in ()",
            expect![
                "error at byte 6: at column 7: expected a value (a string, a number, `true`, `false` or `null`), found `)`"
            ],
        );
        check(
            "a in (b)",
            expect![
                "error at byte 6: at column 7: expected a value (a string, a number, `true`, `false` or `null`), found `b`"
            ],
        );
        check(
            "a in ('x' 'y')",
            expect!["error at byte 10: at column 11: expected `,` or `)`, found a string"],
        );
        check(
            "a like b",
            expect!["error at byte 7: at column 8: expected a string pattern after `like`, found `b`"],
        );
        check(
            "a between 1 or 2",
            expect![
                "error at byte 12: at column 13: expected `and` between the bounds of `between`, found `or`"
            ],
        );
        check(
            "a not = 1",
            expect![
                "error at byte 2: at column 3: expected `in`, `like`, `ilike` or `between` after `not` (write `not x` before the condition it negates)"
            ],
        );
        check(
            "auth = 1",
            expect![
                "error at byte 5: at column 6: expected `.` after `auth` (`uid`, `role`, `email` or `claims.<key>` after `auth.`), found `=`"
            ],
        );
        check(
            "auth.password = 1",
            expect![
                "error at byte 5: at column 6: expected `uid`, `role`, `email` or `claims.<key>` after `auth.`, found `password`"
            ],
        );
        check(
            "auth.claims = 1",
            expect![
                "error at byte 12: at column 13: expected `.` and a claim name after `auth.claims`, found `=`"
            ],
        );
        check(
            "auth.claims.1 = 1",
            expect![
                "error at byte 12: at column 13: expected a claim name (letters, digits and `_`), found a number"
            ],
        );
        check(
            "auth.claims.a. = 1",
            expect![
                "error at byte 15: at column 16: expected a claim name (letters, digits and `_`), found `=`"
            ],
        );
        check("auth.uid.x = 1", expect!["error at byte 8: at column 9: `auth.uid` has no fields"]);
        check(
            "t.a = 1",
            expect![
                "error at byte 1: at column 2: unexpected `.` after `t`: columns are named without a table, and only `auth.` has fields"
            ],
        );
        check("a = 1; drop table t", expect!["error at byte 5: at column 6: unexpected character `;`"]);
        check(
            "a = \"x\"",
            expect![
                "error at byte 4: at column 5: unexpected `\"`: strings use single quotes ('text'), and column names are written without quotes"
            ],
        );
    }

    #[test]
    fn limits_are_errors_not_crashes() {
        let deep = "(".repeat(100_000);
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.position, MAX_LEN);
        assert!(e.message.contains("too long"), "{e}");

        let bangs = "!".repeat(100_000) + "a";
        assert!(parse(&bangs).unwrap_err().message.contains("too long"));

        // Within the length limit, the depth limit answers.
        let deep = "(".repeat(1000) + "a" + &")".repeat(1000);
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e}");
        assert_eq!(e.position, MAX_DEPTH);
        let bangs = "!".repeat(2000) + "a";
        assert!(parse(&bangs).unwrap_err().message.contains("nested too deeply"));
        let mixed = "not (".repeat(500) + "a" + &")".repeat(500);
        assert!(parse(&mixed).unwrap_err().message.contains("nested too deeply"));

        // Just under the limits is fine.
        let ok = "(".repeat(MAX_DEPTH - 1) + "a" + &")".repeat(MAX_DEPTH - 1);
        assert!(parse(&ok).is_ok());
        let ok = "!".repeat(MAX_DEPTH) + "a";
        assert!(parse(&ok).is_ok());
        let long = vec!["a = 1"; MAX_LEN / 10].join(" or ");
        assert!(long.len() <= MAX_LEN);
        assert!(parse(&long).is_ok());
    }

    /// A source fragment of the grammar, for generating token soup.
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "b",
            "owner_id",
            "auth",
            "auth.uid",
            "auth.claims.x.y",
            ".",
            "uid",
            "claims",
            "=",
            "==",
            "!=",
            "<>",
            "<",
            "<=",
            ">",
            ">=",
            "!",
            "&&",
            "||",
            "and",
            "or",
            "not",
            "is",
            "null",
            "true",
            "false",
            "in",
            "like",
            "ilike",
            "between",
            "(",
            ")",
            ",",
            "'s'",
            "'",
            "''",
            "1",
            "-2",
            "3.5",
            "-",
            "é",
            " ",
            "\n",
            "$",
            "\"",
            "&",
            "|",
            ";",
            "\\",
        ])
    }

    fn arb_literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            "[a-z' %_é]{0,6}".prop_map(Literal::String),
            any::<i64>().prop_map(Literal::Integer),
            (0u32..1000, 0u32..100).prop_map(|(a, b)| Literal::Decimal(format!("{a}.{b}"))),
            any::<bool>().prop_map(Literal::Bool),
            Just(Literal::Null),
        ]
    }

    fn arb_operand() -> impl Strategy<Value = Operand> {
        prop_oneof![
            arb_literal().prop_map(Operand::Literal),
            "[a-z_][a-z0-9_]{0,4}".prop_filter("not a keyword", |s| !is_keyword(s)).prop_map(Operand::Column),
            prop_oneof![
                Just(AuthRef::Uid),
                Just(AuthRef::Role),
                Just(AuthRef::Email),
                prop::collection::vec("[a-zA-Z_][a-zA-Z0-9_]{0,4}", 1..3).prop_map(AuthRef::Claims),
            ]
            .prop_map(Operand::Auth),
        ]
    }

    /// Trees in the parser's normal form (flattened `and`/`or`, no redundant nesting).
    pub(in crate::policy) fn arb_expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            (arb_operand(), any::<u8>(), arb_operand()).prop_map(|(left, op, right)| {
                let ops = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];
                Expr::Compare { left, op: ops[op as usize % 6], right }
            }),
            (arb_operand(), any::<bool>()).prop_map(|(operand, negated)| Expr::IsNull { operand, negated }),
            (arb_operand(), any::<bool>(), any::<bool>())
                .prop_map(|(operand, value, negated)| { Expr::IsBool { operand, value, negated } }),
            (arb_operand(), prop::collection::vec(arb_literal(), 1..4), any::<bool>())
                .prop_map(|(operand, list, negated)| Expr::In { operand, list, negated }),
            (arb_operand(), "[a-z%_\\\\']{0,5}", any::<bool>(), any::<bool>()).prop_map(
                |(operand, pattern, case_insensitive, negated)| Expr::Like {
                    operand,
                    pattern,
                    case_insensitive,
                    negated
                }
            ),
            (arb_operand(), arb_operand(), arb_operand(), any::<bool>())
                .prop_map(|(operand, low, high, negated)| Expr::Between { operand, low, high, negated }),
            arb_operand().prop_map(Expr::Operand),
        ];
        leaf.prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(|v| {
                    Expr::Or(
                        v.into_iter()
                            .flat_map(|e| match e {
                                Expr::Or(t) => t,
                                e => vec![e],
                            })
                            .collect(),
                    )
                }),
                prop::collection::vec(inner.clone(), 2..4).prop_map(|v| {
                    Expr::And(
                        v.into_iter()
                            .flat_map(|e| match e {
                                Expr::And(t) => t,
                                e => vec![e],
                            })
                            .collect(),
                    )
                }),
                inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
                (inner.clone(), any::<bool>()).prop_map(|(e, b)| Expr::Compare {
                    left: match e {
                        Expr::Operand(o) => o,
                        e => Operand::Nested(Box::new(e)),
                    },
                    op: CmpOp::Eq,
                    right: Operand::Literal(Literal::Bool(b)),
                }),
            ]
        })
    }

    proptest! {
        // No regression files: the source tree is not the place for them.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_any_string(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_token_soup(parts in prop::collection::vec(fragment(), 0..60)) {
            let src = parts.join(" ");
            let _ = parse(&src);
            let _ = parse(&parts.concat());
        }

        #[test]
        fn errors_point_inside_the_source(s in "\\PC{0,100}") {
            if let Err(e) = parse(&s) {
                prop_assert!(e.position <= s.len());
                prop_assert!(s.is_char_boundary(e.position));
                prop_assert_eq!(e.column, s[..e.position].chars().count() + 1);
            }
        }

        #[test]
        fn printed_trees_parse_back(e in arb_expr()) {
            let printed = e.to_string();
            prop_assert_eq!(parse(&printed), Ok(e), "{}", printed);
        }
    }
}
