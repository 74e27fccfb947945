//! SQLite / MySQL policy enforcement: the conditions of a table's policies for the
//! request's role, bound to its [`AuthContext`], and the guard of written rows.
//!
//! Written rows are found again through a temporary table of rowids on the writer's
//! connection (`temp._eb_written`): a temporary `AFTER INSERT` trigger on the table records
//! each inserted rowid (whatever its key: an explicit key below the largest one too), an
//! update records the rowids it will change; the guard counts written rows that fail the
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

    /// What records every row the insert adds in `temp._eb_written`: a temporary
    /// trigger (created once per writer connection) that fires only while
    /// `temp._eb_recording` holds a row, which this insert sets.
    pub(super) fn record_inserts(&self) -> Vec<Stmt> {
        // The table name is a validated identifier (ASCII letters, digits, `_`).
        let t = self.table.name.as_str();
        vec![
            Stmt::raw(r#"CREATE TEMP TABLE IF NOT EXISTS "_eb_recording" ("on" integer)"#),
            Stmt::raw(format!(
                r#"CREATE TEMP TRIGGER IF NOT EXISTS "_eb_ins_{t}" AFTER INSERT ON "{t}" WHEN EXISTS (SELECT 1 FROM "_eb_recording") BEGIN INSERT INTO "_eb_written" ("k") VALUES (new.rowid); END"#
            )),
            Stmt::raw(r#"INSERT INTO "temp"."_eb_recording" ("on") VALUES (1)"#),
        ]
    }

    /// Stops recording inserted rows (after the insert).
    pub(super) fn stop_recording(&self) -> Stmt {
        Stmt::raw(r#"DELETE FROM "temp"."_eb_recording""#)
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

/// SQLite: what records the rows an insert, upsert or update writes, in the order it
/// writes them, in `temp._eb_answer`: temporary `AFTER INSERT` and `AFTER UPDATE` triggers
/// (created once per writer connection) that fire only while `temp._eb_answering` holds
/// a row, which this sets. The answer is then selected by those rowids (a write whose
/// answer drops rows, which `RETURNING` cannot).
pub(super) fn record_answer(table: &TableDef) -> Vec<Stmt> {
    // The table name is a validated identifier (ASCII letters, digits, `_`).
    let t = table.name.as_str();
    vec![
        Stmt::raw(r#"CREATE TEMP TABLE IF NOT EXISTS "_eb_answer" ("k" integer)"#),
        Stmt::raw(r#"DELETE FROM "temp"."_eb_answer""#),
        Stmt::raw(r#"CREATE TEMP TABLE IF NOT EXISTS "_eb_answering" ("on" integer)"#),
        Stmt::raw(format!(
            r#"CREATE TEMP TRIGGER IF NOT EXISTS "_eb_ains_{t}" AFTER INSERT ON "{t}" WHEN EXISTS (SELECT 1 FROM "_eb_answering") BEGIN INSERT INTO "_eb_answer" ("k") VALUES (new.rowid); END"#
        )),
        Stmt::raw(format!(
            r#"CREATE TEMP TRIGGER IF NOT EXISTS "_eb_aupd_{t}" AFTER UPDATE ON "{t}" WHEN EXISTS (SELECT 1 FROM "_eb_answering") BEGIN INSERT INTO "_eb_answer" ("k") VALUES (new.rowid); END"#
        )),
        Stmt::raw(r#"INSERT INTO "temp"."_eb_answering" ("on") VALUES (1)"#),
    ]
}

/// Stops recording the answer's rows (after the write).
pub(super) fn stop_answer() -> Stmt {
    Stmt::raw(r#"DELETE FROM "temp"."_eb_answering""#)
}

/// The rowids `record_answer` recorded, and the order they were written in.
pub(super) fn answer_rows(table: &TableDef) -> (Expr, Expr) {
    let t = table.name.as_str();
    (
        Expr::cust(format!(r#""{t}"."rowid" IN (SELECT "k" FROM "temp"."_eb_answer")"#)),
        Expr::cust(format!(
            r#"(SELECT min("a"."rowid") FROM "temp"."_eb_answer" AS "a" WHERE "a"."k" = "{t}"."rowid")"#
        )),
    )
}
