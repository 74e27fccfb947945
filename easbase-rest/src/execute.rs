//! Stage 4 of the pipeline: a [`SqlPlan`] → [`DbResult`], run in one transaction through
//! core's [`ProjectDb`] under the request's [`Scope`](easbase_core::db::Scope) (on
//! PostgreSQL: `SET LOCAL ROLE`, claims and project id, pipelined with the statements).
//! Errors are mapped once, by [`RestError::from_core`].

use easbase_core::context::RequestContext;
use easbase_core::db::StmtResult;
use easbase_core::project::ProjectDb;
use easbase_schema::Role;

use crate::error::RestError;
use crate::request::Count;
use crate::sql::SqlPlan;

/// What the database answered.
#[derive(Debug, Clone)]
pub struct DbResult {
    /// The main statement's result (its rows, or its affected count).
    pub main: StmtResult,
    /// The count, when asked for.
    pub count: Option<u64>,
    /// How it was counted (`count=exact|planned|estimated`; exact on SQLite).
    pub count_kind: Option<Count>,
}

/// Runs `plan` for `ctx` in `pdb`.
///
/// # Errors
/// The database's error mapped by [`RestError::from_core`].
pub async fn execute(
    pdb: &ProjectDb,
    ctx: &RequestContext,
    plan: SqlPlan,
    plan_max: Option<u64>,
) -> Result<DbResult, RestError> {
    let authenticated = ctx.role() == Role::Authenticated;
    let map = |e: easbase_core::Error| {
        // A singular write that changed other than one row rolled itself back.
        if let easbase_core::Error::Database { message, .. } = &e
            && let Some(rows) = crate::sql::not_singular_rows(message)
        {
            return RestError::NotSingular { rows };
        }
        if let easbase_core::Error::Database { message, .. } = &e
            && let Some(rows) = crate::sql::max_affected_rows(message)
        {
            return RestError::MaxAffected { rows, max: plan_max.unwrap_or(0) };
        }
        RestError::from_core(&e, authenticated)
    };
    let scope = pdb.scope(ctx, plan.read_only).map_err(map)?;
    let mut statements = plan.statements;
    // Generated reads of tables call no user code unless the policies are the database
    // owner's own (an adopted schema): those may run on a kept session (PostgreSQL).
    if plan.read_only && !pdb.is_adopted() {
        statements = statements.into_iter().map(easbase_core::db::Stmt::plain_read).collect();
    }
    let mut results = pdb.db().transaction(&scope, statements).await.map_err(map)?;
    let exact = plan
        .count
        .and_then(|i| results.get(i))
        .and_then(|r| r.rows.first())
        .and_then(|row| row.cells.first())
        .and_then(|c| c.as_i64())
        .map(|n| u64::try_from(n).unwrap_or(0));
    let planned = plan.planned.and_then(|i| results.get(i)).and_then(|r| r.rows.first()).and_then(plan_rows);
    let count = match (plan.count_kind, exact, plan.count_cap) {
        // Estimated: exact up to the cap, the planner's estimate past it.
        (Some(Count::Estimated), Some(n), Some(cap)) if n > cap => planned.or(Some(n)),
        (Some(Count::Planned), _, _) => planned,
        (_, n, _) => n,
    };
    if plan.main >= results.len() || plan.more.iter().any(|&i| i >= results.len()) {
        return Err(RestError::Internal);
    }
    let mut more = Vec::with_capacity(plan.more.len());
    for &i in &plan.more {
        more.push(std::mem::take(&mut results[i]));
    }
    let mut main = results.swap_remove(plan.main);
    for r in more {
        main.rows.extend(r.rows);
        main.affected += r.affected;
    }
    Ok(DbResult { main, count, count_kind: plan.count_kind })
}

/// The top plan node's row estimate from `EXPLAIN (FORMAT JSON)`: `[{"Plan": {"Plan
/// Rows": n, …}}]`.
fn plan_rows(row: &easbase_core::db::Row) -> Option<u64> {
    let text = row.cells.first()?.as_str()?;
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get(0)?.get("Plan")?.get("Plan Rows")?.as_f64().map(|n| n.max(0.0) as u64)
}
