//! `auth_one_time_tokens`: confirmation, magic-link, invite, recovery, email-change and
//! phone tokens. The link token is kept as its SHA-256, the short code as an HMAC keyed
//! by the project secret ([`crate::secret::code_hash`]). A token is consumed atomically
//! ([`Store::take_rows`]: `DELETE … RETURNING`, or `SELECT … FOR UPDATE` and `DELETE` on
//! MySQL), so each works once; failed code attempts are counted per row.

use easbase_core::db::{Row, Stmt};
use sea_query::{Alias, Condition, Expr, ExprTrait, Query};

use super::{Store, int, opt_text, text};
use crate::error::Result;
use crate::model::TokenKind;

pub(crate) const ONE_TIME_TOKENS: &str = "auth_one_time_tokens";

const COLUMNS: [&str; 8] =
    ["id", "user_id", "kind", "relates_to", "created_at", "attempts", "code_hash", "flow_state_id"];

/// A row of `auth_one_time_tokens` (without its link hash).
#[derive(Debug, Clone)]
pub(crate) struct OttRecord {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) kind: TokenKind,
    pub(crate) relates_to: String,
    pub(crate) created_at: i64,
    pub(crate) attempts: i64,
    pub(crate) code_hash: Option<String>,
    pub(crate) flow_state_id: Option<String>,
}

impl OttRecord {
    fn from_row(row: &Row) -> Result<Option<OttRecord>> {
        let kind = text(row, "kind")?;
        let Some(kind) = TokenKind::ALL.into_iter().find(|k| k.as_str() == kind) else { return Ok(None) };
        Ok(Some(OttRecord {
            id: text(row, "id")?,
            user_id: text(row, "user_id")?,
            kind,
            relates_to: text(row, "relates_to")?,
            created_at: int(row, "created_at")?,
            attempts: int(row, "attempts")?,
            code_hash: opt_text(row, "code_hash")?,
            flow_state_id: opt_text(row, "flow_state_id")?,
        }))
    }
}

/// A new token's row.
pub(crate) struct NewOtt<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) kind: TokenKind,
    pub(crate) hash: &'a str,
    pub(crate) code_hash: Option<&'a str>,
    pub(crate) relates_to: &'a str,
    pub(crate) flow_state_id: Option<&'a str>,
    pub(crate) now: i64,
}

fn kinds_in(kinds: &[TokenKind]) -> Expr {
    Expr::col(Alias::new("kind")).is_in(kinds.iter().map(|k| k.as_str()))
}

impl Store {
    pub(crate) fn insert_one_time_token(&self, t: &NewOtt<'_>) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(ONE_TIME_TOKENS))
            .columns(
                [
                    "id",
                    "user_id",
                    "kind",
                    "token_hash",
                    "relates_to",
                    "created_at",
                    "attempts",
                    "code_hash",
                    "flow_state_id",
                ]
                .map(Alias::new),
            )
            .values_panic([
                uuid::Uuid::new_v4().to_string().into(),
                t.user_id.into(),
                t.kind.as_str().into(),
                t.hash.into(),
                t.relates_to.into(),
                t.now.into(),
                0i32.into(),
                t.code_hash.map(str::to_owned).into(),
                t.flow_state_id.map(str::to_owned).into(),
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

    /// Deletes tokens created before `before` (Unix seconds).
    pub(crate) fn delete_one_time_tokens_before(&self, before: i64) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(ONE_TIME_TOKENS))
            .and_where(Expr::col(Alias::new("created_at")).lt(before))
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes the token with this link hash and one of `kinds` and returns it: of two
    /// concurrent calls, one gets it.
    pub(crate) async fn consume_one_time_token(
        &self,
        hash: &str,
        kinds: &[TokenKind],
    ) -> Result<Option<OttRecord>> {
        let cond = Condition::all().add(Expr::col(Alias::new("token_hash")).eq(hash)).add(kinds_in(kinds));
        let rows = self.take_rows(ONE_TIME_TOKENS, cond, &COLUMNS).await?;
        Ok(match rows.first() {
            Some(row) => OttRecord::from_row(row)?,
            None => None,
        })
    }

    /// The live tokens of `kinds` sent to `relates_to` (an address or a phone number).
    pub(crate) async fn tokens_for(&self, relates_to: &str, kinds: &[TokenKind]) -> Result<Vec<OttRecord>> {
        let q = Query::select()
            .columns(COLUMNS.map(Alias::new))
            .from(self.table(ONE_TIME_TOKENS))
            .and_where(Expr::col(Alias::new("relates_to")).eq(relates_to))
            .and_where(kinds_in(kinds))
            .to_owned();
        let mut out = Vec::new();
        for row in self.rows(self.stmt(&q)).await? {
            out.extend(OttRecord::from_row(&row)?);
        }
        Ok(out)
    }

    /// Consumes the token `id` if it has had fewer than `max_attempts` failed attempts.
    pub(crate) async fn consume_token_by_id(&self, id: &str, max_attempts: i64) -> Result<bool> {
        let cond = Condition::all()
            .add(Expr::col(Alias::new("id")).eq(id))
            .add(Expr::col(Alias::new("attempts")).lt(max_attempts));
        Ok(!self.take_rows(ONE_TIME_TOKENS, cond, &["id"]).await?.is_empty())
    }

    /// Counts a failed code attempt against every live token of `kinds` sent to
    /// `relates_to`, and deletes those that reached `max_attempts`.
    pub(crate) async fn fail_code_attempt(
        &self,
        relates_to: &str,
        kinds: &[TokenKind],
        max_attempts: i64,
    ) -> Result<()> {
        let bump = Query::update()
            .table(self.table(ONE_TIME_TOKENS))
            .value(Alias::new("attempts"), Expr::col(Alias::new("attempts")).add(1))
            .and_where(Expr::col(Alias::new("relates_to")).eq(relates_to))
            .and_where(kinds_in(kinds))
            .to_owned();
        let purge = Query::delete()
            .from_table(self.table(ONE_TIME_TOKENS))
            .and_where(Expr::col(Alias::new("relates_to")).eq(relates_to))
            .and_where(kinds_in(kinds))
            .and_where(Expr::col(Alias::new("attempts")).gte(max_attempts))
            .to_owned();
        self.run(vec![self.stmt(&bump), self.stmt(&purge)]).await?;
        Ok(())
    }
}
