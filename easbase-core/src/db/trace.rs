//! `tracing` spans of the engines: one `db.transaction` span per transaction and one
//! `db.statement` span per statement, at `DEBUG` level.
//!
//! Fields: `db.system` (`sqlite`, `postgresql`, `mysql`), `statements`, `read_only`,
//! `guarded` (transaction); `db.operation` (the statement's first keyword: `select`,
//! `insert`, …), `db.table` (the first table it names, when that is cheap to see) and
//! `rows` (returned or changed) per statement. Never the SQL text (a script may hold
//! literals), never bound values, keys, tokens, claims or settings: a span can only
//! carry what is built here.

use tracing::Span;
use tracing::field::Empty;

use super::{Scope, Stmt};

/// Which engine a span is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    Mysql,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres => "postgresql",
            #[cfg(feature = "mysql")]
            Backend::Mysql => "mysql",
        }
    }
}

/// The span of one transaction.
pub(crate) fn transaction_span(backend: Backend, scope: &Scope, statements: &[Stmt]) -> Span {
    tracing::debug_span!(
        "db.transaction",
        db.system = backend.name(),
        statements = statements.len(),
        read_only = scope.read_only,
        guarded = statements.iter().any(|s| s.guard.is_some()),
    )
}

/// The span of a script (DDL and other fixed text).
pub(crate) fn script_span(backend: Backend, statements: &[String]) -> Span {
    tracing::debug_span!("db.script", db.system = backend.name(), statements = statements.len())
}

/// The span of one statement; its `rows` are recorded with [`record_rows`].
pub(crate) fn statement_span(backend: Backend, sql: &str) -> Span {
    let span = tracing::debug_span!(
        "db.statement",
        db.system = backend.name(),
        db.operation = Empty,
        db.table = Empty,
        rows = Empty,
    );
    if !span.is_disabled() {
        let (operation, table) = describe(sql);
        span.record("db.operation", operation);
        if let Some(table) = table {
            span.record("db.table", table);
        }
    }
    span
}

/// Records how many rows a statement returned or changed.
pub(crate) fn record_rows(span: &Span, rows: u64) {
    span.record("rows", rows);
}

/// The statement's kind and the first table it names: the word after `INTO` (insert),
/// `UPDATE`, or the first `FROM` (select, delete). Only a bare or quoted identifier
/// (optionally schema-qualified) is reported: never a literal.
fn describe(sql: &str) -> (&'static str, Option<String>) {
    let mut words = sql.split_ascii_whitespace();
    let first = words.next().unwrap_or_default().trim_start_matches('(');
    let operation = match first.to_ascii_lowercase().as_str() {
        "select" => "select",
        "insert" => "insert",
        "update" => "update",
        "delete" => "delete",
        "with" => "with",
        "replace" => "replace",
        "create" => "create",
        "alter" => "alter",
        "drop" => "drop",
        "begin" | "start" | "commit" | "rollback" => "transaction",
        "pragma" | "set" | "show" => "setting",
        _ => "other",
    };
    let after = match operation {
        "insert" | "replace" => "into",
        "update" => return (operation, words.next().and_then(identifier)),
        "select" | "delete" | "with" => "from",
        _ => return (operation, None),
    };
    let mut words = sql.split_ascii_whitespace().skip(1);
    let table = words.by_ref().find(|w| w.eq_ignore_ascii_case(after)).and_then(|_| words.next());
    (operation, table.and_then(identifier))
}

/// Whether `sql` is one plain `SELECT` that cannot write or lock: it starts with `select`
/// and has no `;`, `INTO` or `UPDATE` word anywhere (a false alarm only costs the caller
/// a read-only transaction).
#[cfg(feature = "mysql")]
pub(crate) fn is_plain_select(sql: &str) -> bool {
    let lower = sql.trim_start().to_ascii_lowercase();
    lower.starts_with("select")
        && !lower.contains(';')
        && !lower
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|w| w == "into" || w == "update")
}

/// `"s"."t"`, `` `t` ``, `t(` → `s.t`, `t`, `t`; `None` for anything else (a subquery, a
/// literal, a placeholder).
fn identifier(word: &str) -> Option<String> {
    let word = word.split('(').next().unwrap_or_default().trim_end_matches([',', ';']);
    let name: String = word.chars().filter(|c| !matches!(c, '"' | '`')).collect();
    let valid = !name.is_empty()
        && name.len() <= 130
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn statements_are_described_without_literals() {
        assert_eq!(
            describe(r#"SELECT "a" FROM "s"."items" WHERE "id" = $1"#),
            ("select", Some("s.items".into()))
        );
        assert_eq!(describe("INSERT INTO `todos` (`title`) VALUES (?)"), ("insert", Some("todos".into())));
        assert_eq!(describe("update notes set body = 'secret'"), ("update", Some("notes".into())));
        assert_eq!(describe("DELETE FROM t WHERE x = 'y'"), ("delete", Some("t".into())));
        assert_eq!(describe("select 'x' from (select 1) s"), ("select", None));
        assert_eq!(describe("select set_config($1, $2, true)"), ("select", None));
        assert_eq!(describe("create table t (id int)"), ("create", None));
        assert_eq!(describe(""), ("other", None));
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn plain_selects_are_told_apart() {
        use super::is_plain_select;
        assert!(is_plain_select("SELECT `a` FROM `t` WHERE `id` = ?"));
        assert!(is_plain_select("  select count(*) from t"));
        assert!(!is_plain_select("select * from t for update"));
        assert!(!is_plain_select("select 1 into @x"));
        assert!(!is_plain_select("select 1; delete from t"));
        assert!(!is_plain_select("insert into t select 1"));
        assert!(!is_plain_select("with x as (select 1) select * from x"));
    }
}
