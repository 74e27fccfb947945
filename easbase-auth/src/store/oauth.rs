//! `auth_oauth_states`, and identities by provider account.

use easbase_core::db::Stmt;
use sea_query::{Alias, Condition, Expr, ExprTrait, Query};

use super::users::{IDENTITIES, IDENTITY_COLUMNS, IdentityRecord};
use super::{Store, int, opt_text, text};
use crate::error::Result;

pub(crate) const OAUTH_STATES: &str = "auth_oauth_states";

/// A consumed OAuth state.
#[derive(Debug, Clone)]
pub(crate) struct OAuthStateRecord {
    pub(crate) provider: String,
    pub(crate) redirect_to: String,
    pub(crate) flow_state_id: Option<String>,
    /// The signed-in user an identity is being linked to (`/user/identities/authorize`).
    pub(crate) link_user_id: Option<String>,
    pub(crate) created_at: i64,
}

impl Store {
    pub(crate) fn insert_oauth_state(&self, hash: &str, state: &OAuthStateRecord) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(OAUTH_STATES))
            .columns(
                [
                    "id",
                    "state_hash",
                    "provider",
                    "redirect_to",
                    "flow_state_id",
                    "link_user_id",
                    "created_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                uuid::Uuid::new_v4().to_string().into(),
                hash.into(),
                state.provider.clone().into(),
                state.redirect_to.clone().into(),
                state.flow_state_id.clone().into(),
                state.link_user_id.clone().into(),
                state.created_at.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes the state with this hash and returns it: it works once.
    pub(crate) async fn consume_oauth_state(&self, hash: &str) -> Result<Option<OAuthStateRecord>> {
        let cond = Condition::all().add(Expr::col(Alias::new("state_hash")).eq(hash));
        let columns = ["provider", "redirect_to", "flow_state_id", "link_user_id", "created_at"];
        let rows = self.take_rows(OAUTH_STATES, cond, &columns).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(OAuthStateRecord {
            provider: text(row, "provider")?,
            redirect_to: text(row, "redirect_to")?,
            flow_state_id: opt_text(row, "flow_state_id")?,
            link_user_id: opt_text(row, "link_user_id")?,
            created_at: int(row, "created_at")?,
        }))
    }

    /// Deletes states older than `before` (run when new ones are made).
    pub(crate) fn delete_old_oauth_states(&self, before: i64) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(OAUTH_STATES))
            .and_where(Expr::col(Alias::new("created_at")).lt(before))
            .to_owned();
        self.stmt(&q)
    }

    /// The identity of a provider account.
    pub(crate) async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<IdentityRecord>> {
        let q = Query::select()
            .columns(IDENTITY_COLUMNS.map(Alias::new))
            .from(self.table(IDENTITIES))
            .and_where(Expr::col(Alias::new("provider")).eq(provider))
            .and_where(Expr::col(Alias::new("provider_id")).eq(provider_id))
            .to_owned();
        self.rows(self.stmt(&q)).await?.first().map(IdentityRecord::from_row).transpose()
    }
}
