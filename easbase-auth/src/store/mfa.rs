//! `auth_mfa_factors`, `auth_mfa_challenges` and `auth_mfa_recovery_codes`.

use easbase_core::db::{Row, Stmt};
use sea_query::{Alias, Expr, ExprTrait, Order, Query};

use super::sessions::SESSIONS;
use super::{Store, int, json_value, opt_int, opt_text, text};
use crate::error::Result;
use crate::model::AmrEntry;

pub(crate) const FACTORS: &str = "auth_mfa_factors";
pub(crate) const CHALLENGES: &str = "auth_mfa_challenges";
pub(crate) const RECOVERY_CODES: &str = "auth_mfa_recovery_codes";

const FACTOR_COLUMNS: [&str; 10] = [
    "id",
    "user_id",
    "friendly_name",
    "factor_type",
    "status",
    "secret",
    "last_used_step",
    "last_challenged_at",
    "created_at",
    "updated_at",
];

/// A row of `auth_mfa_factors`. No `Debug`: it holds the sealed secret.
#[derive(Clone)]
pub(crate) struct FactorRecord {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) friendly_name: Option<String>,
    pub(crate) factor_type: String,
    pub(crate) status: String,
    pub(crate) secret: String,
    pub(crate) last_used_step: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl FactorRecord {
    fn from_row(row: &Row) -> Result<FactorRecord> {
        Ok(FactorRecord {
            id: text(row, "id")?,
            user_id: text(row, "user_id")?,
            friendly_name: opt_text(row, "friendly_name")?,
            factor_type: text(row, "factor_type")?,
            status: text(row, "status")?,
            secret: text(row, "secret")?,
            last_used_step: opt_int(row, "last_used_step")?,
            created_at: int(row, "created_at")?,
            updated_at: int(row, "updated_at")?,
        })
    }

    pub(crate) fn is_verified(&self) -> bool {
        self.status == "verified"
    }
}

/// A row of `auth_mfa_challenges`.
#[derive(Debug, Clone)]
pub(crate) struct ChallengeRecord {
    pub(crate) factor_id: String,
    pub(crate) ip_address: String,
    pub(crate) created_at: i64,
    pub(crate) verified_at: Option<i64>,
}

fn id_eq(id: &str) -> Expr {
    Expr::col(Alias::new("id")).eq(id)
}

impl Store {
    pub(crate) fn insert_factor(&self, f: &FactorRecord) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(FACTORS))
            .columns(FACTOR_COLUMNS.map(Alias::new))
            .values_panic([
                f.id.clone().into(),
                f.user_id.clone().into(),
                f.friendly_name.clone().into(),
                f.factor_type.clone().into(),
                f.status.clone().into(),
                f.secret.clone().into(),
                f.last_used_step.into(),
                None::<i64>.into(),
                f.created_at.into(),
                f.updated_at.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    /// A user's factors, oldest first.
    pub(crate) async fn factors(&self, user_id: &str) -> Result<Vec<FactorRecord>> {
        let q = Query::select()
            .columns(FACTOR_COLUMNS.map(Alias::new))
            .from(self.table(FACTORS))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .order_by(Alias::new("created_at"), Order::Asc)
            .order_by(Alias::new("id"), Order::Asc)
            .to_owned();
        self.rows(self.stmt(&q)).await?.iter().map(FactorRecord::from_row).collect()
    }

    /// The factor `id` of `user_id` (another user's factor is not found).
    pub(crate) async fn factor(&self, user_id: &str, id: &str) -> Result<Option<FactorRecord>> {
        let q = Query::select()
            .columns(FACTOR_COLUMNS.map(Alias::new))
            .from(self.table(FACTORS))
            .and_where(id_eq(id))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .to_owned();
        self.rows(self.stmt(&q)).await?.first().map(FactorRecord::from_row).transpose()
    }

    pub(crate) fn delete_factor(&self, id: &str) -> Stmt {
        self.stmt(&Query::delete().from_table(self.table(FACTORS)).and_where(id_eq(id)).to_owned())
    }

    /// Deletes a user's unverified factors of a type (after one of that type was verified).
    pub(crate) fn delete_unverified_factors(&self, user_id: &str, factor_type: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(FACTORS))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .and_where(Expr::col(Alias::new("factor_type")).eq(factor_type))
            .and_where(Expr::col(Alias::new("status")).eq("unverified"))
            .to_owned();
        self.stmt(&q)
    }

    /// Records the time step of an accepted code, and marks the factor verified. Affects
    /// no row when the step (or a later one) was already used, so of two concurrent
    /// verifications with one code, one wins.
    pub(crate) fn use_factor_step(&self, id: &str, step: i64, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(FACTORS))
            .values([
                (Alias::new("last_used_step"), step.into()),
                (Alias::new("attempts"), 0i32.into()),
                (Alias::new("status"), "verified".into()),
                (Alias::new("updated_at"), now.into()),
            ])
            .and_where(id_eq(id))
            .and_where(
                Expr::col(Alias::new("last_used_step"))
                    .is_null()
                    .or(Expr::col(Alias::new("last_used_step")).lt(step)),
            )
            .to_owned();
        self.stmt(&q)
    }

    /// Counts a verification attempt of factor `id`: the first statement starts a new
    /// one-minute window when the last one ended; the second counts the attempt and
    /// affects no row when `max` were already made in the window.
    pub(crate) fn count_factor_attempt(&self, id: &str, max: u32, now: i64) -> [Stmt; 2] {
        let reset = Query::update()
            .table(self.table(FACTORS))
            .values([
                (Alias::new("attempts"), 0i32.into()),
                (Alias::new("attempts_window_start"), now.into()),
            ])
            .and_where(id_eq(id))
            .and_where(
                Expr::col(Alias::new("attempts_window_start"))
                    .is_null()
                    .or(Expr::col(Alias::new("attempts_window_start")).lte(now - 60)),
            )
            .to_owned();
        let count = Query::update()
            .table(self.table(FACTORS))
            .value(Alias::new("attempts"), Expr::col(Alias::new("attempts")).add(1))
            .and_where(id_eq(id))
            .and_where(Expr::col(Alias::new("attempts")).lt(i64::from(max)))
            .to_owned();
        [self.stmt(&reset), self.stmt(&count)]
    }

    pub(crate) fn touch_factor_challenged(&self, id: &str, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(FACTORS))
            .values([(Alias::new("last_challenged_at"), now.into())])
            .and_where(id_eq(id))
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) fn insert_challenge(&self, id: &str, factor_id: &str, ip: &str, now: i64) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(CHALLENGES))
            .columns(["id", "factor_id", "ip_address", "created_at"].map(Alias::new))
            .values_panic([id.into(), factor_id.into(), ip.into(), now.into()])
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) async fn challenge(&self, id: &str) -> Result<Option<ChallengeRecord>> {
        let q = Query::select()
            .columns(["factor_id", "ip_address", "created_at", "verified_at"].map(Alias::new))
            .from(self.table(CHALLENGES))
            .and_where(id_eq(id))
            .to_owned();
        let rows = self.rows(self.stmt(&q)).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(ChallengeRecord {
            factor_id: text(row, "factor_id")?,
            ip_address: text(row, "ip_address")?,
            created_at: int(row, "created_at")?,
            verified_at: opt_int(row, "verified_at")?,
        }))
    }

    pub(crate) fn delete_challenge(&self, id: &str) -> Stmt {
        self.stmt(&Query::delete().from_table(self.table(CHALLENGES)).and_where(id_eq(id)).to_owned())
    }

    /// Marks a challenge verified (affects no row if it already was).
    pub(crate) fn verify_challenge(&self, id: &str, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(CHALLENGES))
            .values([(Alias::new("verified_at"), now.into())])
            .and_where(id_eq(id))
            .and_where(Expr::col(Alias::new("verified_at")).is_null())
            .to_owned();
        self.stmt(&q)
    }

    /// Raises a session to `aal2` with `factor_id` and its new `amr`.
    pub(crate) fn raise_session(&self, id: &str, factor_id: Option<&str>, amr: &str, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(SESSIONS))
            .values([
                (Alias::new("aal"), "aal2".into()),
                (Alias::new("factor_id"), factor_id.map(str::to_owned).into()),
                (Alias::new("amr"), amr.into()),
                (Alias::new("updated_at"), now.into()),
            ])
            .and_where(id_eq(id))
            .to_owned();
        self.stmt(&q)
    }

    /// Deletes a user's sessions still at `aal1` (GoTrue does once a factor is verified).
    pub(crate) fn delete_aal1_sessions(&self, user_id: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(SESSIONS))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .and_where(Expr::col(Alias::new("aal")).eq("aal1"))
            .to_owned();
        self.stmt(&q)
    }

    /// Statements lowering the sessions raised with a factor to `aal1`, without the
    /// factor's method in their `amr` (the factor is being removed), as GoTrue does.
    pub(crate) async fn downgrade_sessions_of_factor(
        &self,
        factor_id: &str,
        method: &str,
        now: i64,
    ) -> Result<Vec<Stmt>> {
        let q = Query::select()
            .columns(["id", "amr"].map(Alias::new))
            .from(self.table(SESSIONS))
            .and_where(Expr::col(Alias::new("factor_id")).eq(factor_id))
            .to_owned();
        let mut stmts = Vec::new();
        for row in self.rows(self.stmt(&q)).await? {
            let mut amr: Vec<AmrEntry> = serde_json::from_value(json_value(&row, "amr")?).unwrap_or_default();
            amr.retain(|a| a.method != method);
            let amr = serde_json::to_string(&amr).unwrap_or_else(|_| "[]".into());
            let q = Query::update()
                .table(self.table(SESSIONS))
                .values([
                    (Alias::new("aal"), "aal1".into()),
                    (Alias::new("factor_id"), None::<String>.into()),
                    (Alias::new("amr"), amr.into()),
                    (Alias::new("updated_at"), now.into()),
                ])
                .and_where(id_eq(&text(&row, "id")?))
                .and_where(Expr::col(Alias::new("factor_id")).eq(factor_id))
                .to_owned();
            stmts.push(self.stmt(&q));
        }
        Ok(stmts)
    }

    /// Revokes a session's live refresh tokens (a new one replaces them).
    pub(crate) fn revoke_session_refresh_tokens(&self, session_id: &str, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(super::sessions::REFRESH_TOKENS))
            .values([(Alias::new("revoked"), true.into()), (Alias::new("updated_at"), now.into())])
            .and_where(Expr::col(Alias::new("session_id")).eq(session_id))
            .and_where(Expr::col(Alias::new("revoked")).eq(false))
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) fn delete_recovery_codes(&self, user_id: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(RECOVERY_CODES))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) fn insert_recovery_code(&self, user_id: &str, hash: &str, now: i64) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(RECOVERY_CODES))
            .columns(["user_id", "code_hash", "created_at"].map(Alias::new))
            .values_panic([user_id.into(), hash.into(), now.into()])
            .to_owned();
        self.stmt(&q)
    }

    /// `(total, remaining)` of a user's recovery codes.
    pub(crate) async fn recovery_code_counts(&self, user_id: &str) -> Result<(i64, i64)> {
        let q = Query::select()
            .columns(["used_at"].map(Alias::new))
            .from(self.table(RECOVERY_CODES))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .to_owned();
        let rows = self.rows(self.stmt(&q)).await?;
        let mut remaining = 0;
        for row in &rows {
            if opt_int(row, "used_at")?.is_none() {
                remaining += 1;
            }
        }
        Ok((rows.len() as i64, remaining))
    }

    /// Marks the unused code with this hash of `user_id` used; affects one row when it was
    /// valid (of two concurrent uses, one wins).
    pub(crate) fn use_recovery_code(&self, user_id: &str, hash: &str, now: i64) -> Stmt {
        let q = Query::update()
            .table(self.table(RECOVERY_CODES))
            .values([(Alias::new("used_at"), now.into())])
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .and_where(Expr::col(Alias::new("code_hash")).eq(hash))
            .and_where(Expr::col(Alias::new("used_at")).is_null())
            .to_owned();
        self.stmt(&q)
    }
}
