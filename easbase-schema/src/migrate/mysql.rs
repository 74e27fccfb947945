//! [`Executor`] for `sqlx::MySqlConnection` (MySQL 8, MariaDB 10.6+).

use sqlx::AssertSqlSafe;

use super::apply::{Executor, HistoryRow, db_error};
use crate::Dialect;
use crate::error::Error;

/// MySQL / MariaDB: every DDL statement commits on its own, so a plan runs statement by
/// statement, the history row last; a failure leaves the earlier statements applied and
/// no history row (fix the database or the schema, then apply again).
#[async_trait::async_trait]
impl Executor for sqlx::MySqlConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    async fn execute(&mut self, statements: &[String]) -> Result<(), Error> {
        for s in statements {
            // The statements are built from validated names and escaped literals.
            sqlx::raw_sql(AssertSqlSafe(s.clone()))
                .execute(&mut *self)
                .await
                .map_err(|e| db_error(e, Some(s)))?;
        }
        Ok(())
    }

    async fn run_in_transaction(&mut self, statements: &[String]) -> Result<(), Error> {
        self.execute(statements).await
    }

    async fn query_history(&mut self, select: &str) -> Result<Vec<HistoryRow>, Error> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(AssertSqlSafe(select.to_owned()))
            .fetch_all(&mut *self)
            .await
            .map_err(|e| db_error(e, Some(select)))?;
        Ok(rows
            .into_iter()
            .map(|(version, checksum, schema_json, applied_at)| HistoryRow {
                version,
                checksum,
                schema_json,
                applied_at,
            })
            .collect())
    }
}
