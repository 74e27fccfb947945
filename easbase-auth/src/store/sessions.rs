//! `auth_sessions` and `auth_refresh_tokens`.

use easbase_core::db::{Row, Stmt};
use sea_query::{Alias, Expr, ExprTrait, Query};

use super::{Store, boolean, int, json_value, opt_int, text};
use crate::error::Result;
use crate::model::AmrEntry;

pub(crate) const SESSIONS: &str = "auth_sessions";
pub(crate) const REFRESH_TOKENS: &str = "auth_refresh_tokens";

/// A row of `auth_sessions`.
#[derive(Debug, Clone)]
pub(crate) struct SessionRecord {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) aal: String,
    pub(crate) amr: Vec<AmrEntry>,
    pub(crate) not_after: Option<i64>,
}

/// A row of `auth_refresh_tokens` (its hash is what was looked up).
#[derive(Debug, Clone)]
pub(crate) struct RefreshRecord {
    pub(crate) id: i64,
    pub(crate) session_id: String,
    pub(crate) revoked: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl Store {
    pub(crate) fn insert_session(&self, s: &SessionRecord, now: i64) -> Stmt {
        let amr = serde_json::to_string(&s.amr).unwrap_or_else(|_| "[]".into());
        let q = Query::insert()
            .into_table(self.table(SESSIONS))
            .columns(["id", "user_id", "aal", "amr", "created_at", "updated_at", "not_after"].map(Alias::new))
            .values_panic([
                s.id.clone().into(),
                s.user_id.clone().into(),
                s.aal.clone().into(),
                amr.into(),
                now.into(),
                now.into(),
                s.not_after.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) async fn session(&self, id: &str) -> Result<Option<SessionRecord>> {
        let q = Query::select()
            .columns(["id", "user_id", "aal", "amr", "not_after"].map(Alias::new))
            .from(self.table(SESSIONS))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        let rows = self.rows(self.stmt(&q)).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(SessionRecord {
            id: text(row, "id")?,
            user_id: text(row, "user_id")?,
            aal: text(row, "aal")?,
            amr: serde_json::from_value(json_value(row, "amr")?).unwrap_or_default(),
            not_after: opt_int(row, "not_after")?,
        }))
    }

    /// Marks a session refreshed.
    pub(crate) fn touch_session(&self, id: &str, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(SESSIONS))
            .values([(Alias::new("refreshed_at"), now.into()), (Alias::new("updated_at"), now.into())])
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes one session (its refresh tokens go with it).
    pub(crate) fn delete_session(&self, id: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(SESSIONS))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes a user's sessions, but `keep`.
    pub(crate) fn delete_sessions_of(&self, user_id: &str, keep: Option<&str>) -> Stmt {
        let mut q = Query::delete();
        q.from_table(self.table(SESSIONS)).and_where(Expr::col(Alias::new("user_id")).eq(user_id));
        if let Some(keep) = keep {
            q.and_where(Expr::col(Alias::new("id")).ne(keep));
        }
        self.stmt(&q)
    }

    pub(crate) fn insert_refresh_token(
        &self,
        hash: &str,
        session_id: &str,
        parent: Option<&str>,
        now: i64,
    ) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(REFRESH_TOKENS))
            .columns(
                ["token_hash", "session_id", "parent", "revoked", "created_at", "updated_at"].map(Alias::new),
            )
            .values_panic([
                hash.into(),
                session_id.into(),
                parent.map(str::to_owned).into(),
                false.into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRecord>> {
        let q = Query::select()
            .columns(["id", "session_id", "revoked", "created_at", "updated_at"].map(Alias::new))
            .from(self.table(REFRESH_TOKENS))
            .and_where(Expr::col(Alias::new("token_hash")).eq(hash))
            .to_owned();
        let rows = self.rows(self.stmt(&q)).await?;
        rows.first().map(refresh_row).transpose()
    }

    /// Revokes one live refresh token (affects no row when it was already revoked).
    pub(crate) fn revoke_refresh_token(&self, id: i64, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(REFRESH_TOKENS))
            .values([(Alias::new("revoked"), true.into()), (Alias::new("updated_at"), now.into())])
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .and_where(Expr::col(Alias::new("revoked")).eq(false))
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) fn delete_refresh_token(&self, hash: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(REFRESH_TOKENS))
            .and_where(Expr::col(Alias::new("token_hash")).eq(hash))
            .to_owned();
        self.stmt(&q)
    }
}

fn refresh_row(row: &Row) -> Result<RefreshRecord> {
    Ok(RefreshRecord {
        id: int(row, "id")?,
        session_id: text(row, "session_id")?,
        revoked: boolean(row, "revoked")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}
