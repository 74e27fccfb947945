//! SQLite / MySQL policy enforcement: the conditions of a table's policies for the
//! request's role, bound to its [`AuthContext`], and the guard of written rows.
//!
//! Written rows are found again through a temporary table of rowids on the writer's
//! connection (`temp._eb_written`): an insert records the largest rowid before it, an
//! update the rowids it will change; the guard counts written rows that fail the
//! operation's `check` (NULL fails, as in PostgreSQL) and must find none.

use easbase_core::db::{BuildStmt, Guard, Stmt};
use easbase_schema::policy::{AuthContext, AuthMode};
use easbase_schema::{Dialect, Operation, PolicyPart, Role, TableDef};
use sea_query::{Alias, Expr, ExprTrait, Func, Query, TableRef};

/// The temp table of written rowids.
pub(super) fn written() -> (Alias, Alias) {
    (Alias::new("temp"), Alias::new("_eb_written"))
}

/// The temp table of the rowids an upsert finds in conflict (and will update).
pub(super) fn conflicts() -> (Alias, Alias) {
    (Alias::new("temp"), Alias::new("_eb_conflicts"))
}

pub(super) fn rowid() -> Expr {
    Expr::col(Alias::new("rowid"))
}

/// The request's view of one table's policies on an engine without RLS.
pub(super) struct Policies<'a> {
    pub(super) table: &'a TableDef,
    pub(super) role: Role,
    pub(super) auth: &'a AuthContext,
    pub(super) dialect: Dialect,
}

impl Policies<'_> {
    /// The condition for `op` and `part`; `None` for the service role.
    pub(super) fn condition(&self, op: Operation, part: PolicyPart) -> Option<Expr> {
        self.table.policy_condition(op, self.role, part, self.dialect, AuthMode::Bound(self.auth), None)
    }

    /// Whether policies apply at all (every role but the service role).
    pub(super) fn enforced(&self) -> bool {
        self.role != Role::Service
    }

    /// The statements that reset the temp table of written rowids.
    pub(super) fn reset_written(&self) -> Vec<Stmt> {
        let (schema, table) = written();
        vec![
            Stmt::raw(r#"CREATE TEMP TABLE IF NOT EXISTS "_eb_written" ("k" integer)"#),
            Query::delete().from_table((schema, table)).to_owned().build_for(self.dialect),
        ]
    }

    /// The statements that reset the temp table of conflicting rowids.
    pub(super) fn reset_conflicts(&self) -> Vec<Stmt> {
        let (schema, table) = conflicts();
        vec![
            Stmt::raw(r#"CREATE TEMP TABLE IF NOT EXISTS "_eb_conflicts" ("k" integer)"#),
            Query::delete().from_table((schema, table)).to_owned().build_for(self.dialect),
        ]
    }

    /// The guard run before an upsert: every existing row it will update must pass the
    /// update's and the select's `using`, as PostgreSQL requires of `ON CONFLICT DO UPDATE`.
    pub(super) fn upsert_using_guard(&self, table_ref: TableRef, rows: Expr) -> Option<Stmt> {
        let update = self.condition(Operation::Update, PolicyPart::Using)?;
        let select = self.condition(Operation::Select, PolicyPart::Using)?;
        let fails = Expr::expr(Func::coalesce([update.and(select), Expr::val(false)])).not();
        let q = Query::select()
            .expr(Expr::cust("count(*)"))
            .from(table_ref)
            .and_where(rows)
            .and_where(fails)
            .to_owned();
        let message = format!(
            "new row violates row-level security policy (USING expression) for table \"{}\"",
            self.table.name.as_str()
        );
        Some(q.build_for(self.dialect).with_guard(Guard::NoRows(message)))
    }

    /// The guard of written rows: `select count(*) from t where <written> and not
    /// coalesce(check, false)`.
    pub(super) fn guard(&self, op: Operation, table_ref: TableRef, written_rows: Expr) -> Option<Stmt> {
        let check = self.condition(op, PolicyPart::Check)?;
        let fails = Expr::expr(Func::coalesce([check, Expr::val(false)])).not();
        let q = Query::select()
            .expr(Expr::cust("count(*)"))
            .from(table_ref)
            .and_where(written_rows)
            .and_where(fails)
            .to_owned();
        let message =
            format!("new row violates row-level security policy for table \"{}\"", self.table.name.as_str());
        Some(q.build_for(self.dialect).with_guard(Guard::NoRows(message)))
    }
}
