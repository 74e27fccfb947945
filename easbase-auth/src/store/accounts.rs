//! `auth_users` queries of the phone flows and the admin routes: lookup by phone,
//! pages of users, deletion.

use easbase_core::db::Stmt;
use sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};

use super::Store;
use super::int;
use super::sessions::SESSIONS;
use super::tokens::ONE_TIME_TOKENS;
use super::users::{IDENTITIES, USERS, UserRecord};
use crate::error::Result;

impl Store {
    /// The live user with this (normalized) phone number.
    pub(crate) async fn user_by_phone(&self, phone: &str) -> Result<Option<UserRecord>> {
        let mut q = self.select_users();
        q.and_where(Expr::col(Alias::new("phone")).eq(phone));
        self.one_user(q).await
    }

    /// Whether any user row has this phone number.
    pub(crate) async fn phone_taken(&self, phone: &str) -> Result<bool> {
        let q = Query::select()
            .column(Alias::new("id"))
            .from(self.table(USERS))
            .and_where(Expr::col(Alias::new("phone")).eq(phone))
            .to_owned();
        Ok(!self.rows(self.stmt(&q)).await?.is_empty())
    }

    /// A page of live users, oldest first, and how many live users there are.
    pub(crate) async fn users_page(&self, offset: u64, limit: u64) -> Result<(Vec<UserRecord>, u64)> {
        let mut q = self.select_users();
        q.order_by(Alias::new("created_at"), Order::Asc)
            .order_by(Alias::new("id"), Order::Asc)
            .limit(limit)
            .offset(offset);
        let count = Query::select()
            .expr_as(Func::count(Expr::col(Alias::new("id"))), Alias::new("n"))
            .from(self.table(USERS))
            .and_where(Expr::col(Alias::new("deleted_at")).is_null())
            .to_owned();
        let mut results = self.run(vec![self.stmt(&q), self.stmt(&count)]).await?.into_iter();
        let users = results.next().map(|r| r.rows).unwrap_or_default();
        let total = match results.next().and_then(|r| r.rows.into_iter().next()) {
            Some(row) => int(&row, "n")?,
            None => 0,
        };
        let users = users.iter().map(UserRecord::from_row).collect::<Result<Vec<_>>>()?;
        Ok((users, u64::try_from(total).unwrap_or(0)))
    }

    /// Deletes a user (identities, sessions, tokens and flows go with it by cascade).
    pub(crate) fn delete_user(&self, id: &str) -> Stmt {
        let q = Query::delete()
            .from_table(self.table(USERS))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        self.stmt(&q)
    }

    /// Soft-deletes a user as GoTrue does: the row stays (marked `deleted_at`, its
    /// address, phone, password and metadata cleared) so its id is still known, while
    /// its identities, sessions and one-time tokens are removed.
    pub(crate) fn soft_delete_user(&self, id: &str, now: i64) -> Vec<Stmt> {
        let user = Query::update()
            .table(self.table(USERS))
            .values([
                (Alias::new("email"), Expr::val(None::<String>)),
                (Alias::new("phone"), Expr::val(None::<String>)),
                (Alias::new("email_change"), Expr::val(None::<String>)),
                (Alias::new("encrypted_password"), Expr::val(None::<String>)),
                (Alias::new("raw_user_meta_data"), Expr::val("{}")),
                (Alias::new("raw_app_meta_data"), Expr::val("{}")),
                (Alias::new("deleted_at"), Expr::val(now)),
                (Alias::new("updated_at"), Expr::val(now)),
            ])
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        let mut stmts = vec![self.stmt(&user)];
        for table in [IDENTITIES, SESSIONS, ONE_TIME_TOKENS] {
            let q = Query::delete()
                .from_table(self.table(table))
                .and_where(Expr::col(Alias::new("user_id")).eq(id))
                .to_owned();
            stmts.push(self.stmt(&q));
        }
        stmts
    }
}
