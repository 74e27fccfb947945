//! The auth tables: statements over one project's [`ProjectDb`], run as the project's
//! service role (the only role with a policy on them). Secrets reach these tables only
//! as hashes: refresh tokens and one-time tokens as SHA-256, passwords as Argon2id.
//!
//! Each table has a file: [`users`] (users and identities), [`sessions`] (sessions and
//! refresh tokens), [`tokens`] (one-time tokens: link hashes, code HMACs, attempts),
//! [`flow_state`] (PKCE flows); [`accounts`] holds the user queries of the phone and
//! admin flows (by phone, pages, deletion).

pub(crate) mod accounts;
pub(crate) mod flow_state;
pub(crate) mod mfa;
pub(crate) mod oauth;
pub(crate) mod sessions;
pub(crate) mod tokens;
pub(crate) mod users;

use easbase_core::db::{Cell, Row, Scope, Stmt, StmtResult, portable_sqlstate};
use easbase_core::project::{PROJECT_SETTING, ProjectDb};
use easbase_core::schema::Dialect;
use sea_query::{Alias, Condition, IntoTableRef, LockType, Query, TableRef};
use serde_json::{Map, Value};

use crate::error::{AuthError, Result};

/// The auth tables of one project.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pdb: ProjectDb,
}

impl Store {
    pub(crate) fn new(pdb: ProjectDb) -> Store {
        Store { pdb }
    }

    pub(crate) fn project_db(&self) -> &ProjectDb {
        &self.pdb
    }

    /// A table of the project, schema-qualified on PostgreSQL.
    pub(crate) fn table(&self, name: &'static str) -> TableRef {
        match (self.pdb.pg_schema(), self.pdb.dialect()) {
            (Some(s), Dialect::Postgres) => (Alias::new(s.as_str()), Alias::new(name)).into_table_ref(),
            _ => Alias::new(name).into_table_ref(),
        }
    }

    pub(crate) fn stmt(&self, q: &impl easbase_core::db::BuildStmt) -> Stmt {
        self.pdb.db().stmt(q)
    }

    /// The service role of the project (PostgreSQL: `SET LOCAL ROLE`, a role that owns
    /// nothing and passes the tables' service policy); ignored on SQLite.
    fn scope(&self) -> Scope {
        Scope {
            role: Some(self.pdb.roles().service.clone()),
            settings: vec![(PROJECT_SETTING.to_owned(), self.pdb.project().as_str().to_owned())],
            read_only: false,
        }
    }

    /// Runs statements in one transaction.
    pub(crate) async fn run(&self, stmts: Vec<Stmt>) -> Result<Vec<StmtResult>> {
        Ok(self.pdb.db().transaction(&self.scope(), stmts).await?)
    }

    /// The rows of one statement.
    pub(crate) async fn rows(&self, stmt: Stmt) -> Result<Vec<Row>> {
        Ok(self.run(vec![stmt]).await?.pop().map(|r| r.rows).unwrap_or_default())
    }

    /// Deletes the rows of `table` that match `cond` and returns their `columns` as they
    /// were: of concurrent calls, only the one that deleted a row gets it (the consume-once
    /// of tokens, states and flows).
    ///
    /// PostgreSQL and SQLite: one `DELETE … RETURNING`. MySQL 8 has no `RETURNING` (and
    /// sea-query's MySQL builder drops it silently), so there one transaction runs
    /// `SELECT … FOR UPDATE` (which locks the rows: a concurrent taker waits, then finds
    /// them gone) and the `DELETE`; the rows count as taken only when the `DELETE`
    /// removed them.
    pub(crate) async fn take_rows(
        &self,
        table: &'static str,
        cond: Condition,
        columns: &[&'static str],
    ) -> Result<Vec<Row>> {
        let columns = columns.iter().map(|c| Alias::new(*c));
        let mut delete = Query::delete().from_table(self.table(table)).cond_where(cond.clone()).to_owned();
        if self.pdb.dialect() != Dialect::Mysql {
            delete.returning(Query::returning().columns(columns));
            return self.rows(self.stmt(&delete)).await;
        }
        let select = Query::select()
            .columns(columns)
            .from(self.table(table))
            .cond_where(cond)
            .lock(LockType::Update)
            .to_owned();
        let mut results = self.run(vec![self.stmt(&select), self.stmt(&delete)]).await?.into_iter();
        let (Some(selected), Some(deleted)) = (results.next(), results.next()) else {
            return Err(AuthError::Internal("a statement of the transaction gave no result".into()));
        };
        Ok(if deleted.affected == 0 { Vec::new() } else { selected.rows })
    }
}

/// Whether `e` is a unique violation (SQLSTATE 23505 on any engine).
pub(crate) fn is_unique_violation(e: &AuthError) -> bool {
    matches!(e, AuthError::Core(c) if portable_sqlstate(c) == Some("23505"))
}

/// Whether `e` is a foreign-key violation (SQLSTATE 23503 on any engine).
pub(crate) fn is_fk_violation(e: &AuthError) -> bool {
    matches!(e, AuthError::Core(c) if portable_sqlstate(c) == Some("23503"))
}

// ---- reading cells ----------------------------------------------------------------------

fn corrupt(column: &str) -> AuthError {
    AuthError::Internal(format!("unexpected value in auth column `{column}`"))
}

pub(crate) fn text(row: &Row, column: &str) -> Result<String> {
    row.text(column).map_err(|_| corrupt(column))
}

pub(crate) fn opt_text(row: &Row, column: &str) -> Result<Option<String>> {
    row.opt_text(column).map_err(|_| corrupt(column))
}

pub(crate) fn int(row: &Row, column: &str) -> Result<i64> {
    row.int(column).map_err(|_| corrupt(column))
}

pub(crate) fn opt_int(row: &Row, column: &str) -> Result<Option<i64>> {
    match row.get(column) {
        Some(Cell::Null) => Ok(None),
        Some(c) => c.as_i64().map(Some).ok_or_else(|| corrupt(column)),
        None => Err(corrupt(column)),
    }
}

pub(crate) fn boolean(row: &Row, column: &str) -> Result<bool> {
    match row.get(column) {
        Some(Cell::Bool(b)) => Ok(*b),
        Some(Cell::Int(i)) => Ok(*i != 0),
        _ => Err(corrupt(column)),
    }
}

pub(crate) fn json_object(row: &Row, column: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(&text(row, column)?) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        _ => Err(corrupt(column)),
    }
}

pub(crate) fn json_value(row: &Row, column: &str) -> Result<Value> {
    serde_json::from_str(&text(row, column)?).map_err(|_| corrupt(column))
}
