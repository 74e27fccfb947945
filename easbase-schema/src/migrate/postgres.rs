//! [`Executor`] for `tokio_postgres::Client`.

use tokio_postgres::SimpleQueryMessage;

use super::apply::{Executor, HistoryRow, db_error};
use crate::Dialect;
use crate::error::Error;

fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                m.push_str(": ");
                m.push_str(detail);
            }
            m
        }
        None => e.to_string(),
    }
}

/// PostgreSQL: DDL is transactional, so a plan and its history row commit together.
#[async_trait::async_trait]
impl Executor for tokio_postgres::Client {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&mut self, statements: &[String]) -> Result<(), Error> {
        for s in statements {
            self.batch_execute(s).await.map_err(|e| db_error(pg_message(&e), Some(s)))?;
        }
        Ok(())
    }

    async fn run_in_transaction(&mut self, statements: &[String]) -> Result<(), Error> {
        let tx = self.transaction().await.map_err(|e| db_error(pg_message(&e), None))?;
        for s in statements {
            // Dropping `tx` on error rolls it back.
            tx.batch_execute(s).await.map_err(|e| db_error(pg_message(&e), Some(s)))?;
        }
        tx.commit().await.map_err(|e| db_error(pg_message(&e), Some("COMMIT")))
    }

    async fn query_history(&mut self, select: &str) -> Result<Vec<HistoryRow>, Error> {
        let messages = self.simple_query(select).await.map_err(|e| db_error(pg_message(&e), Some(select)))?;
        let mut rows = Vec::new();
        for m in messages {
            if let SimpleQueryMessage::Row(r) = m {
                let text = |i: usize| r.try_get(i).ok().flatten().unwrap_or_default().to_owned();
                rows.push(HistoryRow {
                    version: text(0),
                    checksum: text(1),
                    schema_json: text(2),
                    applied_at: text(3),
                });
            }
        }
        Ok(rows)
    }
}
