//! easbase-schema's migration [`Executor`] over core's [`Db`], so platform and project
//! schemas are applied through the same handle that serves requests.

use async_trait::async_trait;
use easbase_schema::Dialect;
use easbase_schema::migrate::{Executor, HistoryRow};

use crate::db::{Cell, Db, Stmt};

/// Runs migrations on a [`Db`].
pub(crate) struct DbExecutor<'a>(pub(crate) &'a Db);

fn schema_error(e: crate::Error) -> easbase_schema::Error {
    easbase_schema::Error::Database(e.to_string())
}

fn text(cell: Option<&Cell>) -> String {
    match cell {
        Some(Cell::Text(s)) => s.clone(),
        Some(Cell::Int(i)) => i.to_string(),
        Some(Cell::Float(f)) => f.to_string(),
        _ => String::new(),
    }
}

#[async_trait]
impl Executor for DbExecutor<'_> {
    fn dialect(&self) -> Dialect {
        self.0.dialect()
    }

    async fn execute(&mut self, statements: &[String]) -> Result<(), easbase_schema::Error> {
        for s in statements {
            self.0.execute_script(std::slice::from_ref(s)).await.map_err(schema_error)?;
        }
        Ok(())
    }

    async fn run_in_transaction(&mut self, statements: &[String]) -> Result<(), easbase_schema::Error> {
        if self.0.dialect() == Dialect::Sqlite {
            // A table rebuild drops and renames a referenced table: check foreign keys at
            // commit, when the rebuilt table is in place (the flag resets at commit).
            let mut script = Vec::with_capacity(statements.len() + 1);
            script.push("PRAGMA defer_foreign_keys = ON".to_owned());
            script.extend_from_slice(statements);
            return self.0.execute_script(&script).await.map_err(schema_error);
        }
        self.0.execute_script(statements).await.map_err(schema_error)
    }

    async fn query_history(&mut self, select: &str) -> Result<Vec<HistoryRow>, easbase_schema::Error> {
        let rows = self.0.query(Stmt::raw(select)).await.map_err(schema_error)?;
        Ok(rows
            .iter()
            .map(|r| HistoryRow {
                version: text(r.cells.first()),
                checksum: text(r.cells.get(1)),
                schema_json: text(r.cells.get(2)),
                applied_at: text(r.cells.get(3)),
            })
            .collect())
    }
}
