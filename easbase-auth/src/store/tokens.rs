//! `auth_one_time_tokens`: confirmation, recovery and email-change tokens, as SHA-256
//! hashes, consumed atomically (`DELETE … RETURNING`), so each works once.

use easbase_core::db::Stmt;
use sea_query::{Alias, Expr, ExprTrait, Query};

use super::{Store, int, text};
use crate::error::Result;
use crate::model::TokenKind;

pub(crate) const ONE_TIME_TOKENS: &str = "auth_one_time_tokens";

/// A consumed one-time token.
#[derive(Debug, Clone)]
pub(crate) struct OttRecord {
    pub(crate) user_id: String,
    pub(crate) relates_to: String,
    pub(crate) created_at: i64,
}

impl Store {
    pub(crate) fn insert_one_time_token(
        &self,
        user_id: &str,
        kind: TokenKind,
        hash: &str,
        relates_to: &str,
        now: i64,
    ) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(ONE_TIME_TOKENS))
            .columns(
                ["id", "user_id", "kind", "token_hash", "relates_to", "created_at", "attempts"]
                    .map(Alias::new),
            )
            .values_panic([
                uuid::Uuid::new_v4().to_string().into(),
                user_id.into(),
                kind.as_str().into(),
                hash.into(),
                relates_to.into(),
                now.into(),
                0i32.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes a user's tokens of one kind (a new one replaces them).
    pub(crate) fn delete_one_time_tokens(&self, user_id: &str, kind: TokenKind) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(ONE_TIME_TOKENS))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .and_where(Expr::col(Alias::new("kind")).eq(kind.as_str()))
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes the token with this hash and kind and returns it: of two concurrent calls,
    /// one gets it.
    pub(crate) async fn consume_one_time_token(
        &self,
        hash: &str,
        kind: TokenKind,
    ) -> Result<Option<OttRecord>> {
        let q = Query::delete()
            .from_table(self.table(ONE_TIME_TOKENS))
            .and_where(Expr::col(Alias::new("token_hash")).eq(hash))
            .and_where(Expr::col(Alias::new("kind")).eq(kind.as_str()))
            .returning(Query::returning().columns(["user_id", "relates_to", "created_at"].map(Alias::new)))
            .to_owned();
        let rows = self.rows(self.stmt(&q)).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(OttRecord {
            user_id: text(row, "user_id")?,
            relates_to: text(row, "relates_to")?,
            created_at: int(row, "created_at")?,
        }))
    }
}
