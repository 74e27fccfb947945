//! The policy language: small, safe boolean expressions over one row and the request's
//! authentication, never raw SQL.
//!
//! ```text
//! owner_id = auth.uid
//! published = true || owner_id = auth.uid
//! org_id = auth.claims.org_id && auth.role = 'authenticated'
//! status in ('a', 'b') and deleted_at is null
//! ```
//!
//! A policy goes through three steps:
//!
//! 1. [`parse`] turns source into an [`Expr`] (syntax only; errors carry a position).
//! 2. [`check`] validates it against a table's columns (unknown columns, types that
//!    cannot be compared, `auth.*` where it is not allowed) and returns every problem.
//! 3. [`to_sea_query`] / [`to_sea_query_for`] compile it to a `sea_query` condition, and
//!    [`to_sql`] renders that condition as SQL text for DDL (`CREATE POLICY`, `CHECK`).
//!
//! On PostgreSQL ([`AuthMode::Postgres`]) every `auth.*` read becomes a sub-select of the
//! transaction-local setting [`CLAIMS_SETTING`], e.g. `auth.role` becomes
//! `(select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))`,
//! which PostgreSQL evaluates once per statement. `auth.uid` reads the plain-text setting
//! [`CLAIM_SUB_SETTING`] first and the claims' `sub` only when it is unset (parsing the
//! claims costs more than the rest of a point read). On SQLite and MySQL
//! ([`AuthMode::Bound`]) the REST layer enforces policies itself, and `auth.*` reads become
//! bound values taken from an [`AuthContext`].
//!
//! ## Grammar
//!
//! ```text
//! or        := and (('||' | 'or') and)*
//! and       := not (('&&' | 'and') not)*
//! not       := ('!' | 'not') not | predicate
//! predicate := operand [ cmpop operand
//!                      | 'is' ['not'] ('null' | 'true' | 'false')
//!                      | ['not'] 'in' '(' literal {',' literal} ')'
//!                      | ['not'] ('like' | 'ilike') string
//!                      | ['not'] 'between' operand 'and' operand ]
//! cmpop     := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>='
//! operand   := literal | column | auth-ref | '(' or ')'
//! literal   := string | number | 'true' | 'false' | 'null'
//! auth-ref  := 'auth.uid' | 'auth.role' | 'auth.email' | 'auth.claims' ('.' ident)+
//! ```
//!
//! Keywords are case-insensitive and cannot name columns. Strings are single-quoted
//! (`''` is a quote). Columns and claim keys are `[A-Za-z_][A-Za-z0-9_]*`. A policy is at
//! most [`MAX_LEN`] bytes and [`MAX_DEPTH`] levels of `!` and parentheses deep.
//!
//! ## Example
//!
//! ```
//! use easbase_schema::policy::{self, AuthMode};
//! use easbase_schema::{ColumnType, Dialect};
//!
//! let columns = vec![
//!     ("owner_id".to_string(), ColumnType::Uuid),
//!     ("published".to_string(), ColumnType::Boolean),
//! ];
//! let expr = policy::parse("published || owner_id = auth.uid")?;
//! assert!(policy::check(&expr, &columns, true).is_empty());
//! assert_eq!(
//!     policy::to_sql(&expr, &columns, Dialect::Postgres, AuthMode::Postgres),
//!     "\"published\" = TRUE OR \"owner_id\" = (select (coalesce(\
//!      nullif(current_setting('request.jwt.claim.sub', true), ''), \
//!      nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid)",
//! );
//! # Ok::<(), policy::ParseError>(())
//! ```

mod ast;
mod check;
mod compile;
mod lexer;
mod parser;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ColumnType;

pub use ast::{AuthRef, CmpOp, Expr, Literal, Operand};
pub use check::{Problem, check, referenced_columns, uses_auth};
pub(crate) use compile::pg_uid_read;
pub use compile::{to_sea_query, to_sea_query_for, to_sql};

/// The longest policy source accepted, in bytes.
pub const MAX_LEN: usize = 4096;

/// The deepest nesting of `!`/`not` and parentheses accepted.
pub const MAX_DEPTH: usize = 64;

/// The PostgreSQL setting that holds the request's JWT claims as JSON text, set per
/// transaction (`set_config('request.jwt.claims', $1, true)`) before a request's queries.
pub const CLAIMS_SETTING: &str = "request.jwt.claims";

/// The PostgreSQL setting that holds the request's user id (the claims' `sub`, when it is
/// a string) as plain text, set beside [`CLAIMS_SETTING`]; `''` when there is none.
///
/// `auth.uid` reads it first and falls back to the claims' `sub` when it is unset or
/// `''` — what Supabase's `auth.uid()` does with the same setting (PostgREST's name
/// before version 10). Reading it costs nothing, while parsing a token's claims as
/// `jsonb` (≈ 450 bytes) is most of a point read's execution under RLS (≈ 7 of 12 µs on
/// the development machine). Code that sets [`CLAIMS_SETTING`] itself and leaves this
/// one unset loses nothing but that speed; code that changes the claims' `sub` in the
/// middle of a transaction (a database function) must change or clear this setting too.
pub const CLAIM_SUB_SETTING: &str = "request.jwt.claim.sub";

/// Parses policy source into an [`Expr`].
///
/// ```
/// use easbase_schema::policy::{self, AuthRef, CmpOp, Expr, Operand};
///
/// assert_eq!(
///     policy::parse("owner_id = auth.uid").unwrap(),
///     Expr::Compare {
///         left: Operand::Column("owner_id".into()),
///         op: CmpOp::Eq,
///         right: Operand::Auth(AuthRef::Uid),
///     }
/// );
/// let err = policy::parse("owner_id = = 1").unwrap_err();
/// assert_eq!(err.position, 11);
/// assert_eq!(err.to_string(), "at column 12: expected a column, a value or `(`, found `=`");
/// ```
///
/// # Errors
///
/// A [`ParseError`] at the first problem: an unknown character, an unterminated string,
/// a misplaced token, a policy longer than [`MAX_LEN`] or nested deeper than [`MAX_DEPTH`].
/// Never panics, whatever the input.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    parser::parse(src)
}

impl std::str::FromStr for Expr {
    type Err = ParseError;

    /// Same as [`parse`].
    fn from_str(src: &str) -> Result<Self, Self::Err> {
        parse(src)
    }
}

/// Why policy source could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: {message}")]
pub struct ParseError {
    /// Byte offset into the source where the problem starts.
    pub position: usize,
    /// The same place as a 1-based column counted in characters (for people).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    fn new(src: &str, position: usize, message: String) -> Self {
        let position = position.min(src.len());
        let column = src.get(..position).map_or(position, |s| s.chars().count()) + 1;
        ParseError { position, column, message }
    }
}

/// The columns of the table a policy belongs to, for [`check`] and compilation.
///
/// Implemented for vectors, arrays and slices of `(name, type)` pairs and for maps from
/// name to type.
pub trait Columns {
    /// The type of the column `name`, or `None` when the table has no such column.
    fn column_type(&self, name: &str) -> Option<&ColumnType>;

    /// The values of the enum type `type_name` (a [`ColumnType::Named`]), when known, so
    /// that [`check`] reports a string no value of the enum matches (PostgreSQL would
    /// reject the policy). The default knows no enum.
    fn enum_values(&self, type_name: &str) -> Option<Vec<String>> {
        let _ = type_name;
        None
    }
}

impl<S: AsRef<str>> Columns for [(S, ColumnType)] {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        self.iter().find(|(n, _)| n.as_ref() == name).map(|(_, t)| t)
    }
}

impl<S: AsRef<str>, const N: usize> Columns for [(S, ColumnType); N] {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        self.as_slice().column_type(name)
    }
}

impl<S: AsRef<str>> Columns for Vec<(S, ColumnType)> {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        self.as_slice().column_type(name)
    }
}

impl<S: std::hash::Hash + Eq + std::borrow::Borrow<str>> Columns for HashMap<S, ColumnType> {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        self.get(name)
    }
}

impl<S: Ord + std::borrow::Borrow<str>> Columns for BTreeMap<S, ColumnType> {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        self.get(name)
    }
}

impl<T: Columns + ?Sized> Columns for &T {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        (**self).column_type(name)
    }

    fn enum_values(&self, type_name: &str) -> Option<Vec<String>> {
        (**self).enum_values(type_name)
    }
}

/// How `auth.*` references are compiled.
#[derive(Debug, Clone, Copy)]
pub enum AuthMode<'a> {
    /// PostgreSQL row-level security: each reference becomes a sub-select reading the
    /// transaction-local setting [`CLAIMS_SETTING`], cast to the type it is compared with.
    Postgres,
    /// SQLite / MySQL, where the REST layer enforces policies: each reference becomes a
    /// bound value taken from the request's [`AuthContext`].
    Bound(&'a AuthContext),
}

/// The authentication of one request, as [`AuthMode::Bound`] reads it.
///
/// `auth.uid` is `uid`, `auth.role` is `role`, `auth.email` is `email`, and
/// `auth.claims.a.b` is the value at `a.b` in `claims` (null when absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthContext {
    /// The user id (the token's `sub`), `None` for anonymous requests.
    pub uid: Option<String>,
    /// The role of the request (`anon`, `authenticated`, `service_role`, …).
    pub role: String,
    /// The user's email, if known.
    pub email: Option<String>,
    /// All claims of the token (a JSON object; `Null` when there is no token), shared
    /// with the request's context rather than copied.
    pub claims: std::sync::Arc<serde_json::Value>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
