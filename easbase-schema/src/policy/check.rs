//! Semantic checks of a policy against the columns of its table.

use super::Columns;
use super::ast::{CmpOp, Expr, Literal, Operand};
use crate::ColumnType;

/// A semantic problem of a policy: what is wrong and, when one is concerned, the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, for people.
    pub message: String,
    /// The column concerned, if any.
    pub column: Option<String>,
}

/// Checks `expr` against a table's `columns` and returns every problem (empty: fine).
///
/// Reports unknown columns, `auth.*` references when `allow_auth` is false (a `CHECK`
/// constraint sees only the row), comparisons whose types cannot match (a boolean column
/// with a string, a number with a text column, `in` on a boolean, `like` on a number, `=
/// null`), and operands used as conditions that are not boolean. Each problem is reported
/// once.
///
/// ```
/// use easbase_schema::ColumnType;
/// use easbase_schema::policy::{check, parse};
///
/// let columns = [("published".to_string(), ColumnType::Boolean)];
/// let problems = check(&parse("published = 'yes' or owner = auth.uid").unwrap(), &columns, false);
/// let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
/// assert_eq!(messages, [
///     "`published` is a boolean column and cannot be compared with a string",
///     "unknown column `owner`",
///     "`auth.uid` cannot be used here: a check constraint sees only the row",
/// ]);
/// ```
pub fn check(expr: &Expr, columns: &dyn Columns, allow_auth: bool) -> Vec<Problem> {
    let mut checker = Checker { columns, allow_auth, problems: Vec::new() };
    checker.expr(expr);
    checker.problems
}

/// The columns `expr` reads, each once, in the order they first appear.
///
/// ```
/// use easbase_schema::policy::{parse, referenced_columns};
///
/// let expr = parse("owner_id = auth.uid or (published and owner_id is null)").unwrap();
/// assert_eq!(referenced_columns(&expr), ["owner_id", "published"]);
/// ```
pub fn referenced_columns(expr: &Expr) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    visit_operands(expr, &mut |o| {
        if let Operand::Column(c) = o {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
    });
    out
}

/// Whether `expr` reads anything of the request's authentication (`auth.*`).
///
/// ```
/// use easbase_schema::policy::{parse, uses_auth};
///
/// assert!(uses_auth(&parse("true or auth.role = 'admin'").unwrap()));
/// assert!(!uses_auth(&parse("price >= 0").unwrap()));
/// ```
pub fn uses_auth(expr: &Expr) -> bool {
    let mut found = false;
    visit_operands(expr, &mut |o| found |= matches!(o, Operand::Auth(_)));
    found
}

/// Calls `f` on every operand of `expr`, left to right (nested conditions included).
fn visit_operands(expr: &Expr, f: &mut dyn FnMut(&Operand)) {
    let operand = |o: &Operand, f: &mut dyn FnMut(&Operand)| {
        f(o);
        if let Operand::Nested(e) = o {
            visit_operands(e, f);
        }
    };
    match expr {
        Expr::Or(terms) | Expr::And(terms) => terms.iter().for_each(|t| visit_operands(t, f)),
        Expr::Not(e) => visit_operands(e, f),
        Expr::Compare { left, right, .. } => {
            operand(left, f);
            operand(right, f);
        }
        Expr::IsNull { operand: o, .. }
        | Expr::IsBool { operand: o, .. }
        | Expr::In { operand: o, .. }
        | Expr::Like { operand: o, .. }
        | Expr::Operand(o) => operand(o, f),
        Expr::Between { operand: o, low, high, .. } => {
            operand(o, f);
            operand(low, f);
            operand(high, f);
        }
    }
}

/// What the checker knows about an operand's type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    /// A column of a known type.
    Column(String, Family, String),
    /// A literal.
    Lit(LitTy, Literal),
    /// An `auth.*` reference: text that is cast to whatever it is compared with.
    Auth,
    /// A condition in parentheses.
    Condition,
    /// Unknown (an unknown column, already reported).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LitTy {
    String,
    Number,
    Bool,
    Null,
}

/// Kinds of column types that compare with each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Family {
    Text,
    Uuid,
    Number,
    Bool,
    Date,
    Time,
    Timestamp,
    Enum(String),
    /// json, jsonb, bytes and arrays: not comparable in a policy.
    Opaque,
}

impl Family {
    pub(crate) fn of(t: &ColumnType) -> Family {
        match t {
            ColumnType::Text | ColumnType::Varchar(_) => Family::Text,
            ColumnType::Uuid => Family::Uuid,
            ColumnType::SmallInt
            | ColumnType::Integer
            | ColumnType::BigInt
            | ColumnType::Identity
            | ColumnType::Decimal(_)
            | ColumnType::Real
            | ColumnType::Double => Family::Number,
            ColumnType::Boolean => Family::Bool,
            ColumnType::Date => Family::Date,
            ColumnType::Time => Family::Time,
            ColumnType::Timestamp | ColumnType::Timestamptz => Family::Timestamp,
            ColumnType::Named(n) => Family::Enum(n.clone()),
            ColumnType::Json | ColumnType::Jsonb | ColumnType::Bytes | ColumnType::Array(_) => {
                Family::Opaque
            }
        }
    }

    /// Whether a string literal can stand for a value of this family.
    fn takes_string(&self) -> bool {
        !matches!(self, Family::Number | Family::Bool | Family::Opaque)
    }

    fn comparable_with(&self, other: &Family) -> bool {
        match (self, other) {
            (Family::Opaque, _) | (_, Family::Opaque) => false,
            (Family::Date, Family::Timestamp) | (Family::Timestamp, Family::Date) => true,
            (a, b) => a == b,
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

impl LitTy {
    fn name(self) -> &'static str {
        match self {
            LitTy::String => "a string",
            LitTy::Number => "a number",
            LitTy::Bool => "a boolean",
            LitTy::Null => "null",
        }
    }

    fn of(l: &Literal) -> LitTy {
        match l {
            Literal::String(_) => LitTy::String,
            Literal::Integer(_) | Literal::Decimal(_) => LitTy::Number,
            Literal::Bool(_) => LitTy::Bool,
            Literal::Null => LitTy::Null,
        }
    }
}

struct Checker<'a> {
    columns: &'a dyn Columns,
    allow_auth: bool,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, message: String, column: Option<&str>) {
        let p = Problem { message, column: column.map(str::to_owned) };
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Or(terms) | Expr::And(terms) => terms.iter().for_each(|t| self.expr(t)),
            Expr::Not(inner) => self.expr(inner),
            Expr::Compare { left, op, right } => {
                let (l, r) = (self.operand(left), self.operand(right));
                self.compare(&l, *op, &r);
            }
            Expr::IsNull { operand, .. } => {
                self.operand(operand);
            }
            Expr::IsBool { operand, value, .. } => {
                let t = self.operand(operand);
                self.expect_bool(&t, &format!("`is {value}`"));
            }
            Expr::In { operand, list, negated } => {
                let t = self.operand(operand);
                let kw = if *negated { "not in" } else { "in" };
                match &t {
                    Ty::Column(c, Family::Bool, _) => self.report(
                        format!("`{kw}` on the boolean column `{c}`: compare it with `=` instead"),
                        Some(c),
                    ),
                    Ty::Condition | Ty::Lit(LitTy::Bool, _) => {
                        self.report(format!("`{kw}` on a boolean: use `=` instead"), None)
                    }
                    _ => {}
                }
                if list.contains(&Literal::Null) {
                    self.report(
                        format!("`null` in an `{kw}` list never matches: use `is null` instead"),
                        column_of(&t),
                    );
                }
                let mut seen = Vec::new();
                for l in list {
                    let lt = LitTy::of(l);
                    if lt != LitTy::Null {
                        if !seen.contains(&lt) {
                            seen.push(lt);
                        }
                        self.compare(&t, CmpOp::Eq, &Ty::Lit(lt, l.clone()));
                    }
                }
                if seen.len() > 1 {
                    self.report(
                        format!("the `{kw}` list mixes {} and {}", seen[0].name(), seen[1].name()),
                        column_of(&t),
                    );
                }
            }
            Expr::Like { operand, pattern, case_insensitive, .. } => {
                let t = self.operand(operand);
                let kw = if *case_insensitive { "ilike" } else { "like" };
                match &t {
                    Ty::Column(_, Family::Text, _) | Ty::Auth | Ty::Unknown => {}
                    Ty::Lit(LitTy::String, _) => {}
                    Ty::Column(c, _, ty) => self.report(
                        format!("`{kw}` needs a text column; `{c}` is {} {ty}", article(ty)),
                        Some(c),
                    ),
                    Ty::Lit(..) | Ty::Condition => {
                        self.report(format!("`{kw}` needs text"), None)
                    }
                }
                if pattern.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
                    self.report(
                        format!("the `{kw}` pattern ends with `\\`, which escapes nothing (write `\\\\` for a backslash)"),
                        column_of(&t),
                    );
                }
            }
            Expr::Between { operand, low, high, .. } => {
                let t = self.operand(operand);
                let (lo, hi) = (self.operand(low), self.operand(high));
                self.compare(&t, CmpOp::Ge, &lo);
                self.compare(&t, CmpOp::Le, &hi);
            }
            Expr::Operand(o) => {
                let t = self.operand(o);
                self.expect_bool(&t, "a condition");
            }
        }
    }

    /// The type of an operand; reports unknown columns and forbidden auth refs, and checks
    /// nested conditions.
    fn operand(&mut self, o: &Operand) -> Ty {
        match o {
            Operand::Literal(l) => Ty::Lit(LitTy::of(l), l.clone()),
            Operand::Column(c) => match self.columns.column_type(c) {
                Some(t) => Ty::Column(c.clone(), Family::of(t), t.to_string()),
                None => {
                    self.report(format!("unknown column `{c}`"), Some(c));
                    Ty::Unknown
                }
            },
            Operand::Auth(a) => {
                if !self.allow_auth {
                    self.report(
                        format!("`{a}` cannot be used here: a check constraint sees only the row"),
                        None,
                    );
                }
                Ty::Auth
            }
            Operand::Nested(e) => {
                self.expr(e);
                Ty::Condition
            }
        }
    }

    fn expect_bool(&mut self, t: &Ty, what: &str) {
        match t {
            Ty::Column(_, Family::Bool, _)
            | Ty::Lit(LitTy::Bool, _)
            | Ty::Auth
            | Ty::Condition
            | Ty::Unknown => {}
            Ty::Column(c, _, ty) => self.report(
                format!(
                    "`{c}` is {} {ty} column, not a boolean, so it cannot be {what} (compare it with a value, e.g. `{c} = …`)",
                    article(ty)
                ),
                Some(c),
            ),
            Ty::Lit(LitTy::Null, _) => self.report(
                format!("`null` cannot be {what} (it is never true)"),
                None,
            ),
            Ty::Lit(l, _) => self.report(format!("{} cannot be {what}", l.name()), None),
        }
    }

    /// Checks `l op r`.
    fn compare(&mut self, l: &Ty, op: CmpOp, r: &Ty) {
        use Ty::{Auth, Column, Condition, Lit, Unknown};
        match (l, r) {
            (Unknown, _) | (_, Unknown) => {}
            (Lit(LitTy::Null, _), other) | (other, Lit(LitTy::Null, _)) => {
                let (is, kw) = match op {
                    CmpOp::Eq => ("is null", "`= null`"),
                    CmpOp::Ne => ("is not null", "`!= null`"),
                    _ => ("is null", "a comparison with `null`"),
                };
                self.report(
                    format!("{kw} is never true: write `{is}` instead"),
                    column_of(other),
                );
            }
            (Column(c, Family::Opaque, ty), _) | (_, Column(c, Family::Opaque, ty)) => self
                .report(
                    format!("`{c}` is {} {ty} column, which a policy cannot compare (only `is null` works)", article(ty)),
                    Some(c),
                ),
            (Auth, _) | (_, Auth) => {}
            (Column(c, f, ty), Lit(lt, lit)) | (Lit(lt, lit), Column(c, f, ty)) => {
                let ok = match lt {
                    LitTy::String => f.takes_string(),
                    LitTy::Number => *f == Family::Number,
                    LitTy::Bool => *f == Family::Bool,
                    LitTy::Null => true,
                };
                if !ok {
                    self.report(
                        format!("`{c}` is {} {ty} column and cannot be compared with {}", article(ty), lt.name()),
                        Some(c),
                    );
                } else if let (Family::Uuid, Literal::String(s)) = (f, lit) {
                    if !is_uuid(s) {
                        self.report(format!("`{c}` is a uuid column, and {lit} is not a uuid"), Some(c));
                    }
                }
                if op.is_ordering() && *f == Family::Bool {
                    self.report(format!("`{c}` is a boolean column: compare it with `=` or `!=`"), Some(c));
                }
            }
            (Column(a, fa, ta), Column(b, fb, tb)) => {
                if !fa.comparable_with(fb) {
                    self.report(
                        format!("`{a}` ({ta}) and `{b}` ({tb}) have types that cannot be compared"),
                        Some(a),
                    );
                }
            }
            (Lit(a, _), Lit(b, _)) => {
                if a != b {
                    self.report(format!("{} cannot be compared with {}", a.name(), b.name()), None);
                }
            }
            (Condition, Condition)
            | (Condition, Lit(LitTy::Bool, _))
            | (Lit(LitTy::Bool, _), Condition)
            | (Condition, Column(_, Family::Bool, _))
            | (Column(_, Family::Bool, _), Condition) => {}
            (Condition, Column(c, _, ty)) | (Column(c, _, ty), Condition) => self.report(
                format!("`{c}` is {} {ty} column and cannot be compared with a condition", article(ty)),
                Some(c),
            ),
            (Condition, Lit(lt, _)) | (Lit(lt, _), Condition) => {
                self.report(format!("a condition cannot be compared with {}", lt.name()), None)
            }
        }
    }

}

/// Whether `s` is a UUID in the usual hyphenated form (any case).
pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn column_of(t: &Ty) -> Option<&str> {
    match t {
        Ty::Column(c, _, _) => Some(c),
        _ => None,
    }
}
