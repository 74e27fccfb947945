//! The syntax tree of a policy expression.
//!
//! Every name in the tree has been validated by the parser: column names and claim keys
//! match `[A-Za-z_][A-Za-z0-9_]*` and are not keywords. The tree is at most
//! [`MAX_DEPTH`](super::MAX_DEPTH) levels deep, so walking it recursively is safe.
//!
//! [`Display`](fmt::Display) prints the canonical source form, which parses back to an
//! equal tree.

use std::fmt;

/// A policy expression: a condition over one row, evaluated for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `a || b || …` (`or`), two or more terms.
    Or(Vec<Expr>),
    /// `a && b && …` (`and`), two or more terms.
    And(Vec<Expr>),
    /// `!a` (`not a`).
    Not(Box<Expr>),
    /// `left op right`.
    Compare {
        /// The left operand.
        left: Operand,
        /// The comparison operator.
        op: CmpOp,
        /// The right operand.
        right: Operand,
    },
    /// `operand is null` / `operand is not null`.
    IsNull {
        /// The operand tested.
        operand: Operand,
        /// `is not null`.
        negated: bool,
    },
    /// `operand is true|false` / `operand is not true|false` (never unknown).
    IsBool {
        /// The operand tested.
        operand: Operand,
        /// `true` or `false`.
        value: bool,
        /// `is not`.
        negated: bool,
    },
    /// `operand in ('a', 'b')` / `operand not in (…)`.
    In {
        /// The operand tested.
        operand: Operand,
        /// The values, at least one.
        list: Vec<Literal>,
        /// `not in`.
        negated: bool,
    },
    /// `operand like 'pattern'` (`ilike`: case-insensitive; `not like`).
    ///
    /// In the pattern `%` matches any text, `_` one character, and `\` escapes the
    /// character after it.
    Like {
        /// The operand tested.
        operand: Operand,
        /// The pattern.
        pattern: String,
        /// `ilike`.
        case_insensitive: bool,
        /// `not like`.
        negated: bool,
    },
    /// `operand between low and high` (both ends included; `not between`).
    Between {
        /// The operand tested.
        operand: Operand,
        /// The lower bound.
        low: Operand,
        /// The upper bound.
        high: Operand,
        /// `not between`.
        negated: bool,
    },
    /// An operand used as a condition on its own: a boolean column (`active`), `true`,
    /// `false`, or an auth reference read as a boolean.
    Operand(Operand),
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A constant.
    Literal(Literal),
    /// A column of the table the policy belongs to.
    Column(String),
    /// A value of the request's authentication (`auth.uid`, `auth.claims.org_id`, …).
    Auth(AuthRef),
    /// A parenthesised condition used as a boolean value: `(a = 1) = true`.
    Nested(Box<Expr>),
}

/// A constant in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `'text'` (`''` inside is one quote).
    String(String),
    /// An integer that fits in 64 bits, e.g. `-3`.
    Integer(i64),
    /// Any other number, as written: `19.99`, `-0.5`, `123456789012345678901234`.
    Decimal(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A value of the request's authentication.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthRef {
    /// `auth.uid`: the user id (the token's `sub` claim), null for anonymous requests.
    Uid,
    /// `auth.role`: the database role of the request (`anon`, `authenticated`, …).
    Role,
    /// `auth.email`: the user's email, null when absent.
    Email,
    /// `auth.claims.a.b`: the claim at that path of the token (non-empty path of
    /// identifiers), null when absent.
    Claims(Vec<String>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=` (also `==`).
    Eq,
    /// `!=` (also `<>`).
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// The operator as written in canonical source.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether the operator orders values (`<`, `<=`, `>`, `>=`).
    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AuthRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthRef::Uid => f.write_str("auth.uid"),
            AuthRef::Role => f.write_str("auth.role"),
            AuthRef::Email => f.write_str("auth.email"),
            AuthRef::Claims(path) => {
                f.write_str("auth.claims")?;
                for key in path {
                    write!(f, ".{key}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::Decimal(d) => f.write_str(d),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Literal(l) => l.fmt(f),
            Operand::Column(c) => f.write_str(c),
            Operand::Auth(a) => a.fmt(f),
            Operand::Nested(e) => write!(f, "({e})"),
        }
    }
}

impl Expr {
    /// Whether the expression reads a claim of the token (`auth.claims.…`), beyond the
    /// user id, role and email. Such a policy's condition depends on the whole token,
    /// not only on who the user is (easbase-rest keys its statement templates by user).
    ///
    /// ```
    /// use easbase_schema::policy::parse;
    /// assert!(parse("tenant_id = auth.claims.tenant").unwrap().reads_claims());
    /// assert!(!parse("owner_id = auth.uid or auth.role = 'service_role'").unwrap().reads_claims());
    /// ```
    pub fn reads_claims(&self) -> bool {
        match self {
            Expr::Or(items) | Expr::And(items) => items.iter().any(Expr::reads_claims),
            Expr::Not(inner) => inner.reads_claims(),
            Expr::Compare { left, right, .. } => left.reads_claims() || right.reads_claims(),
            Expr::IsNull { operand, .. }
            | Expr::IsBool { operand, .. }
            | Expr::In { operand, .. }
            | Expr::Like { operand, .. }
            | Expr::Operand(operand) => operand.reads_claims(),
            Expr::Between { operand, low, high, .. } => {
                operand.reads_claims() || low.reads_claims() || high.reads_claims()
            }
        }
    }
}

impl Operand {
    fn reads_claims(&self) -> bool {
        match self {
            Operand::Literal(_) | Operand::Column(_) => false,
            Operand::Auth(a) => matches!(a, AuthRef::Claims(_)),
            Operand::Nested(e) => e.reads_claims(),
        }
    }
}

impl fmt::Display for Expr {
    /// The canonical source: keyword operators, one space around them, parentheses only
    /// where needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |n: bool| if n { "not " } else { "" };
        match self {
            Expr::Or(terms) => {
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    // `and` binds tighter than `or`, so only a nested `or` needs parentheses
                    // (the parser flattens it, but a hand-built tree may nest it).
                    if matches!(t, Expr::Or(_)) {
                        write!(f, "({t})")?;
                    } else {
                        t.fmt(f)?;
                    }
                }
                Ok(())
            }
            Expr::And(terms) => {
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    if matches!(t, Expr::Or(_) | Expr::And(_)) {
                        write!(f, "({t})")?;
                    } else {
                        t.fmt(f)?;
                    }
                }
                Ok(())
            }
            Expr::Not(inner) => match **inner {
                Expr::Or(_) | Expr::And(_) => write!(f, "not ({inner})"),
                _ => write!(f, "not {inner}"),
            },
            Expr::Compare { left, op, right } => write!(f, "{left} {op} {right}"),
            Expr::IsNull { operand, negated } => write!(f, "{operand} is {}null", not(*negated)),
            Expr::IsBool { operand, value, negated } => {
                write!(f, "{operand} is {}{value}", not(*negated))
            }
            Expr::In { operand, list, negated } => {
                write!(f, "{operand} {}in (", not(*negated))?;
                for (i, l) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    l.fmt(f)?;
                }
                f.write_str(")")
            }
            Expr::Like { operand, pattern, case_insensitive, negated } => {
                let op = if *case_insensitive { "ilike" } else { "like" };
                let pattern = Literal::String(pattern.clone());
                write!(f, "{operand} {}{op} {pattern}", not(*negated))
            }
            Expr::Between { operand, low, high, negated } => {
                write!(f, "{operand} {}between {low} and {high}", not(*negated))
            }
            Expr::Operand(o) => o.fmt(f),
        }
    }
}
