//! `auth_flow_state`: PKCE flows (GoTrue's `flow_state`). The auth code handed to the
//! client is kept as its SHA-256 only; a flow is deleted when its code is exchanged.

use easbase_core::db::{Row, Stmt};
use sea_query::{Alias, Condition, Expr, ExprTrait, Query};

use super::{Store, int, opt_int, opt_text, text};
use crate::error::Result;

pub(crate) const FLOW_STATE: &str = "auth_flow_state";

const COLUMNS: [&str; 12] = [
    "id",
    "user_id",
    "auth_code_hash",
    "code_challenge",
    "code_challenge_method",
    "provider_type",
    "authentication_method",
    "provider_access_token",
    "provider_refresh_token",
    "auth_code_issued_at",
    "created_at",
    "updated_at",
];

/// A row of `auth_flow_state`.
#[derive(Debug, Clone)]
pub(crate) struct FlowStateRecord {
    pub(crate) id: String,
    pub(crate) user_id: Option<String>,
    pub(crate) code_challenge: String,
    /// `s256` or `plain`.
    pub(crate) code_challenge_method: String,
    /// `email`, `phone`, or an OAuth provider's name.
    pub(crate) provider_type: String,
    /// [`AuthMethod::as_str`](crate::AuthMethod::as_str) of the sign-in it completes.
    pub(crate) authentication_method: String,
    pub(crate) provider_access_token: Option<String>,
    pub(crate) provider_refresh_token: Option<String>,
    pub(crate) auth_code_issued_at: Option<i64>,
    pub(crate) created_at: i64,
}

impl FlowStateRecord {
    fn from_row(row: &Row) -> Result<FlowStateRecord> {
        Ok(FlowStateRecord {
            id: text(row, "id")?,
            user_id: opt_text(row, "user_id")?,
            code_challenge: text(row, "code_challenge")?,
            code_challenge_method: text(row, "code_challenge_method")?,
            provider_type: text(row, "provider_type")?,
            authentication_method: text(row, "authentication_method")?,
            provider_access_token: opt_text(row, "provider_access_token")?,
            provider_refresh_token: opt_text(row, "provider_refresh_token")?,
            auth_code_issued_at: opt_int(row, "auth_code_issued_at")?,
            created_at: int(row, "created_at")?,
        })
    }
}

impl Store {
    pub(crate) fn insert_flow_state(&self, f: &FlowStateRecord) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(FLOW_STATE))
            .columns(COLUMNS.map(Alias::new))
            .values_panic([
                f.id.clone().into(),
                f.user_id.clone().into(),
                None::<String>.into(),
                f.code_challenge.clone().into(),
                f.code_challenge_method.clone().into(),
                f.provider_type.clone().into(),
                f.authentication_method.clone().into(),
                f.provider_access_token.clone().into(),
                f.provider_refresh_token.clone().into(),
                f.auth_code_issued_at.into(),
                f.created_at.into(),
                f.created_at.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) async fn flow_state(&self, id: &str) -> Result<Option<FlowStateRecord>> {
        self.one_flow_state(Expr::col(Alias::new("id")).eq(id)).await
    }

    pub(crate) async fn flow_state_by_code(&self, code_hash: &str) -> Result<Option<FlowStateRecord>> {
        self.one_flow_state(Expr::col(Alias::new("auth_code_hash")).eq(code_hash)).await
    }

    async fn one_flow_state(&self, cond: Expr) -> Result<Option<FlowStateRecord>> {
        let q = Query::select()
            .columns(COLUMNS.map(Alias::new))
            .from(self.table(FLOW_STATE))
            .and_where(cond)
            .to_owned();
        self.rows(self.stmt(&q)).await?.first().map(FlowStateRecord::from_row).transpose()
    }

    /// Gives the flow its user and the hash of its auth code (and the provider's tokens).
    pub(crate) fn grant_flow_state(
        &self,
        id: &str,
        user_id: &str,
        code_hash: &str,
        provider_tokens: Option<(&str, Option<&str>)>,
        now: i64,
    ) -> Stmt {
        let mut q = Query::update();
        q.table(self.table(FLOW_STATE))
            .values([
                (Alias::new("user_id"), Expr::val(user_id)),
                (Alias::new("auth_code_hash"), Expr::val(code_hash)),
                (Alias::new("auth_code_issued_at"), Expr::val(now)),
                (Alias::new("updated_at"), Expr::val(now)),
            ])
            .and_where(Expr::col(Alias::new("id")).eq(id));
        if let Some((access, refresh)) = provider_tokens {
            q.values([
                (Alias::new("provider_access_token"), Expr::val(access)),
                (Alias::new("provider_refresh_token"), Expr::val(refresh.map(str::to_owned))),
            ]);
        }
        self.stmt(&q)
    }

    /// Deletes the flow with this auth code; true for the one caller that deleted it.
    pub(crate) async fn take_flow_state(&self, id: &str, code_hash: &str) -> Result<bool> {
        let cond = Condition::all()
            .add(Expr::col(Alias::new("id")).eq(id))
            .add(Expr::col(Alias::new("auth_code_hash")).eq(code_hash));
        Ok(!self.take_rows(FLOW_STATE, cond, &["id"]).await?.is_empty())
    }

    /// Deletes `user_id`'s flows of `method` that have no auth code yet (a new flow of the
    /// same kind supersedes them).
    pub(crate) fn delete_pending_flow_states(&self, user_id: &str, method: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(FLOW_STATE))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .and_where(Expr::col(Alias::new("authentication_method")).eq(method))
            .and_where(Expr::col(Alias::new("auth_code_hash")).is_null())
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes flows created before `before` (Unix seconds).
    pub(crate) fn delete_flow_states_before(&self, before: i64) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(FLOW_STATE))
            .and_where(Expr::col(Alias::new("created_at")).lt(before))
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) fn delete_flow_state(&self, id: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(FLOW_STATE))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        self.stmt(&q)
    }
}
