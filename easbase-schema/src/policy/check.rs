//! Semantic checks of a policy against the columns of its table.

use super::Columns;
use super::ast::{AuthRef, CmpOp, Expr, Literal, Operand};
use super::lexer::is_identifier;
use super::parser::is_keyword;
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
        if let Operand::Column(c) = o
            && !out.contains(c)
        {
            out.push(c.clone());
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
            ColumnType::Json | ColumnType::Jsonb | ColumnType::Bytes | ColumnType::Array(_) => Family::Opaque,
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
                    let message = if *negated {
                        "`null` in a `not in` list makes it never true: test `is not null` separately"
                    } else {
                        "`null` in an `in` list never matches: test `is null` separately"
                    };
                    self.report(message.to_owned(), column_of(&t));
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
                    Ty::Lit(..) | Ty::Condition => self.report(format!("`{kw}` needs text"), None),
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
            Operand::Column(c) if !is_identifier(c) || is_keyword(c) => {
                // Only a hand-built tree gets here; the parser accepts identifiers only.
                self.report(format!("invalid column name `{c}`"), Some(c));
                Ty::Unknown
            }
            Operand::Column(c) => match self.columns.column_type(c) {
                Some(t) => Ty::Column(c.clone(), Family::of(t), t.to_string()),
                None => {
                    self.report(format!("unknown column `{c}`"), Some(c));
                    Ty::Unknown
                }
            },
            Operand::Auth(a) => {
                if let AuthRef::Claims(path) = a {
                    if path.is_empty() {
                        self.report("`auth.claims` needs a claim name".to_owned(), None);
                    }
                    for key in path.iter().filter(|k| !is_identifier(k)) {
                        self.report(format!("invalid claim name `{key}` in `{a}`"), None);
                    }
                }
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
                self.report(format!("{kw} is never true: write `{is}` instead"), column_of(other));
            }
            (Column(c, Family::Opaque, ty), _) | (_, Column(c, Family::Opaque, ty)) => self.report(
                format!(
                    "`{c}` is {} {ty} column, which a policy cannot compare (only `is null` works)",
                    article(ty)
                ),
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
                        format!(
                            "`{c}` is {} {ty} column and cannot be compared with {}",
                            article(ty),
                            lt.name()
                        ),
                        Some(c),
                    );
                } else if let (Family::Uuid, Literal::String(s)) = (f, lit) {
                    if !is_uuid(s) {
                        self.report(format!("`{c}` is a uuid column, and {lit} is not a uuid"), Some(c));
                    }
                } else if let (Family::Enum(e), Literal::String(s)) = (f, lit)
                    && let Some(values) = self.columns.enum_values(e)
                    && !values.contains(s)
                {
                    let quoted: Vec<String> =
                        values.iter().map(|v| Literal::String(v.clone()).to_string()).collect();
                    self.report(
                        format!("{lit} is not a value of `{c}` (enum {e}: {})", quoted.join(", ")),
                        Some(c),
                    );
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

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::policy::parse;

    fn columns() -> Vec<(String, ColumnType)> {
        [
            ("owner_id", "uuid"),
            ("published", "boolean"),
            ("org_id", "bigint"),
            ("status", "text"),
            ("name", "varchar(80)"),
            ("price", "decimal(10,2)"),
            ("deleted_at", "timestamptz"),
            ("due", "date"),
            ("kind", "order_status"),
            ("other_kind", "color"),
            ("data", "jsonb"),
            ("tags", "text[]"),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_owned(), t.parse().unwrap()))
        .collect()
    }

    /// Lists the problems of `src` for a policy (`auth.*` allowed) and for a CHECK
    /// constraint (not allowed).
    fn check_problems(src: &str, expect: Expect) {
        let expr = parse(src).unwrap();
        let cols = columns();
        let mut out = String::new();
        for (allow_auth, label) in [(true, "policy"), (false, "check")] {
            for p in check(&expr, &cols, allow_auth) {
                let column = p.column.as_deref().unwrap_or("-");
                out.push_str(&format!("{label} [{column}] {}\n", p.message));
            }
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn fine_policies_have_no_problems() {
        let cols = columns();
        for src in [
            "owner_id = auth.uid",
            "published = true || owner_id = auth.uid",
            "org_id = auth.claims.org_id && auth.role = 'authenticated'",
            "status in ('a','b')",
            "deleted_at is null and due < deleted_at and due >= '2024-01-01'",
            "false",
            "price >= 0 and price between 1 and 9.99",
            "not (org_id = 1 or org_id != 2)",
            "name like 'a%' and status ilike 'A%' and auth.email like '%@x.org'",
            "auth.claims.app_metadata.tier = 'pro'",
            "published",
            "!published and (org_id = 1) = published",
            "auth.claims.is_admin and auth.claims.is_admin is true",
            "kind = 'paid' and kind in ('a', 'b') and kind = auth.claims.kind",
            "owner_id = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
            "data is not null and tags is null",
        ] {
            let problems = check(&parse(src).unwrap(), &cols, true);
            assert!(problems.is_empty(), "{src}: {problems:?}");
        }
    }

    #[test]
    fn unknown_columns_are_named_once() {
        check_problems(
            "owner = auth.uid or owner is null or Status = 'a'",
            expect![[r#"
                policy [owner] unknown column `owner`
                policy [Status] unknown column `Status`
                check [owner] unknown column `owner`
                check [-] `auth.uid` cannot be used here: a check constraint sees only the row
                check [Status] unknown column `Status`
            "#]],
        );
    }

    #[test]
    fn auth_in_a_check_constraint() {
        check_problems(
            "auth.role = 'admin' or org_id = auth.claims.org.id",
            expect![[r#"
                check [-] `auth.role` cannot be used here: a check constraint sees only the row
                check [-] `auth.claims.org.id` cannot be used here: a check constraint sees only the row
            "#]],
        );
    }

    #[test]
    fn type_mismatches() {
        check_problems(
            "published = 'yes' or org_id = 'x' or status = 1 or price = true or published > false",
            expect![[r#"
                policy [published] `published` is a boolean column and cannot be compared with a string
                policy [org_id] `org_id` is a bigint column and cannot be compared with a string
                policy [status] `status` is a text column and cannot be compared with a number
                policy [price] `price` is a decimal(10,2) column and cannot be compared with a boolean
                policy [published] `published` is a boolean column: compare it with `=` or `!=`
                check [published] `published` is a boolean column and cannot be compared with a string
                check [org_id] `org_id` is a bigint column and cannot be compared with a string
                check [status] `status` is a text column and cannot be compared with a number
                check [price] `price` is a decimal(10,2) column and cannot be compared with a boolean
                check [published] `published` is a boolean column: compare it with `=` or `!=`
            "#]],
        );
        check_problems(
            "owner_id = status or kind = other_kind or data = data or 1 = 'a' or owner_id = 'nope'",
            expect![[r#"
                policy [owner_id] `owner_id` (uuid) and `status` (text) have types that cannot be compared
                policy [kind] `kind` (order_status) and `other_kind` (color) have types that cannot be compared
                policy [data] `data` is a jsonb column, which a policy cannot compare (only `is null` works)
                policy [-] a number cannot be compared with a string
                policy [owner_id] `owner_id` is a uuid column, and 'nope' is not a uuid
                check [owner_id] `owner_id` (uuid) and `status` (text) have types that cannot be compared
                check [kind] `kind` (order_status) and `other_kind` (color) have types that cannot be compared
                check [data] `data` is a jsonb column, which a policy cannot compare (only `is null` works)
                check [-] a number cannot be compared with a string
                check [owner_id] `owner_id` is a uuid column, and 'nope' is not a uuid
            "#]],
        );
    }

    #[test]
    fn null_comparisons_suggest_is_null() {
        check_problems(
            "deleted_at = null or null != status or org_id > null",
            expect![[r#"
                policy [deleted_at] `= null` is never true: write `is null` instead
                policy [status] `!= null` is never true: write `is not null` instead
                policy [org_id] a comparison with `null` is never true: write `is null` instead
                check [deleted_at] `= null` is never true: write `is null` instead
                check [status] `!= null` is never true: write `is not null` instead
                check [org_id] a comparison with `null` is never true: write `is null` instead
            "#]],
        );
    }

    #[test]
    fn in_like_is_and_bare_operands() {
        check_problems(
            "published in (true) or status in ('a', 1, null) or org_id like '1%' or kind ilike 'a' \
             or status is true or status or 'x' or null or name like 'a\\'",
            expect![[r#"
                policy [published] `in` on the boolean column `published`: compare it with `=` instead
                policy [status] `null` in an `in` list never matches: test `is null` separately
                policy [status] `status` is a text column and cannot be compared with a number
                policy [status] the `in` list mixes a string and a number
                policy [org_id] `like` needs a text column; `org_id` is a bigint
                policy [kind] `ilike` needs a text column; `kind` is an order_status
                policy [status] `status` is a text column, not a boolean, so it cannot be `is true` (compare it with a value, e.g. `status = …`)
                policy [status] `status` is a text column, not a boolean, so it cannot be a condition (compare it with a value, e.g. `status = …`)
                policy [-] a string cannot be a condition
                policy [-] `null` cannot be a condition (it is never true)
                policy [name] the `like` pattern ends with `\`, which escapes nothing (write `\\` for a backslash)
                check [published] `in` on the boolean column `published`: compare it with `=` instead
                check [status] `null` in an `in` list never matches: test `is null` separately
                check [status] `status` is a text column and cannot be compared with a number
                check [status] the `in` list mixes a string and a number
                check [org_id] `like` needs a text column; `org_id` is a bigint
                check [kind] `ilike` needs a text column; `kind` is an order_status
                check [status] `status` is a text column, not a boolean, so it cannot be `is true` (compare it with a value, e.g. `status = …`)
                check [status] `status` is a text column, not a boolean, so it cannot be a condition (compare it with a value, e.g. `status = …`)
                check [-] a string cannot be a condition
                check [-] `null` cannot be a condition (it is never true)
                check [name] the `like` pattern ends with `\`, which escapes nothing (write `\\` for a backslash)
            "#]],
        );
    }

    #[test]
    fn enum_literals_are_values_of_the_enum() {
        struct WithEnums(Vec<(String, ColumnType)>);
        impl Columns for WithEnums {
            fn column_type(&self, name: &str) -> Option<&ColumnType> {
                self.0.column_type(name)
            }
            fn enum_values(&self, type_name: &str) -> Option<Vec<String>> {
                (type_name == "order_status").then(|| vec!["paid".to_owned(), "open".to_owned()])
            }
        }
        let cols = WithEnums(columns());
        let expr = parse("kind = 'paid' or kind in ('open', 'shipped') or 'x' = kind or other_kind = 'red'")
            .unwrap();
        let messages: Vec<String> = check(&expr, &cols, true).into_iter().map(|p| p.message).collect();
        assert_eq!(
            messages,
            [
                "'shipped' is not a value of `kind` (enum order_status: 'paid', 'open')",
                "'x' is not a value of `kind` (enum order_status: 'paid', 'open')",
            ]
        );
    }

    #[test]
    fn hand_built_trees_with_bad_names_are_reported() {
        let expr = Expr::Compare {
            left: Operand::Column("a\"; drop table t; --".into()),
            op: CmpOp::Eq,
            right: Operand::Auth(super::super::AuthRef::Claims(vec!["x' or '1".into()])),
        };
        let messages: Vec<String> = check(&expr, &columns(), true).into_iter().map(|p| p.message).collect();
        assert_eq!(
            messages,
            [
                "invalid column name `a\"; drop table t; --`",
                "invalid claim name `x' or '1` in `auth.claims.x' or '1`",
            ]
        );
    }

    #[test]
    fn referenced_columns_in_first_seen_order() {
        let expr = parse(
            "(b = auth.uid or a in (1)) and not c like 'x' and (d = 1) = e and a between f and g and b is null",
        )
        .unwrap();
        assert_eq!(referenced_columns(&expr), ["b", "a", "c", "d", "e", "f", "g"]);
        assert!(referenced_columns(&parse("auth.role = 'x' or true").unwrap()).is_empty());
        assert!(uses_auth(&parse("(a = 1) = (auth.claims.x = 2)").unwrap()));
        assert!(!uses_auth(&parse("a = 'auth.uid'").unwrap()));
    }
}
