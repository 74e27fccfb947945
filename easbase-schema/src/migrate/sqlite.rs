//! [`Executor`] for `rusqlite::Connection` (synchronous calls, run on the calling task).

use super::apply::{Executor, HistoryRow, db_error};
use crate::Dialect;
use crate::error::Error;

fn run(conn: &rusqlite::Connection, statements: &[String]) -> Result<(), Error> {
    for s in statements {
        conn.execute_batch(s).map_err(|e| db_error(e, Some(s)))?;
    }
    Ok(())
}

/// Foreign key violations left after the statements, as a message.
fn foreign_key_violations(conn: &rusqlite::Connection) -> Result<Option<String>, Error> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").map_err(|e| db_error(e, None))?;
    let mut rows = stmt.query([]).map_err(|e| db_error(e, None))?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().map_err(|e| db_error(e, None))? {
        let table: String = row.get(0).unwrap_or_default();
        let rowid: Option<i64> = row.get(1).unwrap_or_default();
        let parent: String = row.get(2).unwrap_or_default();
        found
            .push(format!("`{table}` row {} references a missing `{parent}` row", rowid.unwrap_or_default()));
        if found.len() >= 5 {
            break;
        }
    }
    Ok((!found.is_empty()).then(|| found.join("; ")))
}

/// SQLite: the plan runs in one `BEGIN IMMEDIATE` transaction with foreign keys off (so
/// tables can be rebuilt), and commits only if `PRAGMA foreign_key_check` finds nothing.
/// The foreign key setting is restored afterwards.
#[async_trait::async_trait]
impl Executor for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, statements: &[String]) -> Result<(), Error> {
        run(self, statements)
    }

    async fn run_in_transaction(&mut self, statements: &[String]) -> Result<(), Error> {
        let fk_on: i64 = self
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .map_err(|e| db_error(e, Some("PRAGMA foreign_keys")))?;
        self.execute_batch("PRAGMA foreign_keys = OFF").map_err(|e| db_error(e, None))?;
        let result = (|| {
            self.execute_batch("BEGIN IMMEDIATE").map_err(|e| db_error(e, Some("BEGIN IMMEDIATE")))?;
            let outcome = run(self, statements).and_then(|()| match foreign_key_violations(self)? {
                Some(v) => Err(Error::Database(format!("foreign keys broken by the migration: {v}"))),
                None => Ok(()),
            });
            match outcome {
                Ok(()) => self.execute_batch("COMMIT").map_err(|e| db_error(e, Some("COMMIT"))),
                Err(e) => {
                    let _ = self.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })();
        let restore = if fk_on != 0 { "PRAGMA foreign_keys = ON" } else { "PRAGMA foreign_keys = OFF" };
        let restored = self.execute_batch(restore).map_err(|e| db_error(e, Some(restore)));
        result.and(restored)
    }

    async fn query_history(&mut self, select: &str) -> Result<Vec<HistoryRow>, Error> {
        let mut stmt = self.prepare(select).map_err(|e| db_error(e, Some(select)))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(HistoryRow {
                    version: r.get(0)?,
                    checksum: r.get(1)?,
                    schema_json: r.get(2)?,
                    applied_at: r.get(3)?,
                })
            })
            .map_err(|e| db_error(e, Some(select)))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| db_error(e, Some(select)))
    }
}
