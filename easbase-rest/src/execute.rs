//! Stage 4 of the pipeline: a [`SqlPlan`] → [`DbResult`], run in one transaction through
//! core's [`ProjectDb`] under the request's [`Scope`](easbase_core::db::Scope) (on
//! PostgreSQL: `SET LOCAL ROLE`, claims and project id, pipelined with the statements).
//! Errors are mapped once, by [`RestError::from_core`].

use easbase_core::context::RequestContext;
use easbase_core::db::StmtResult;
use easbase_core::project::ProjectDb;
use easbase_schema::Role;

use crate::error::RestError;
use crate::sql::SqlPlan;

/// What the database answered.
#[derive(Debug, Clone)]
pub struct DbResult {
    /// The main statement's result (its rows, or its affected count).
    pub main: StmtResult,
    /// The exact count, when asked for.
    pub count: Option<u64>,
}

/// Runs `plan` for `ctx` in `pdb`.
///
/// # Errors
/// The database's error mapped by [`RestError::from_core`].
pub async fn execute(pdb: &ProjectDb, ctx: &RequestContext, plan: SqlPlan) -> Result<DbResult, RestError> {
    let authenticated = ctx.role() == Role::Authenticated;
    let map = |e: easbase_core::Error| {
        // A singular write that changed other than one row rolled itself back.
        if let easbase_core::Error::Database { message, .. } = &e
            && let Some(rows) = crate::sql::not_singular_rows(message)
        {
            return RestError::NotSingular { rows };
        }
        RestError::from_core(&e, authenticated)
    };
    let scope = pdb.scope(ctx, plan.read_only).map_err(map)?;
    let mut results = pdb.db().transaction(&scope, plan.statements).await.map_err(map)?;
    let count = plan
        .count
        .and_then(|i| results.get(i))
        .and_then(|r| r.rows.first())
        .and_then(|row| row.cells.first())
        .and_then(|c| c.as_i64())
        .map(|n| u64::try_from(n).unwrap_or(0));
    if plan.main >= results.len() {
        return Err(RestError::Internal);
    }
    let main = results.swap_remove(plan.main);
    Ok(DbResult { main, count })
}
