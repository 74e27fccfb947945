//! `auth_users` and `auth_identities`.

use easbase_core::db::{Row, Stmt};
use sea_query::{Alias, Expr, ExprTrait, Order, Query};
use serde_json::{Map, Value, json};

use super::{Store, boolean, int, json_object, opt_int, opt_text, text};
use crate::error::Result;
use crate::model::{Identity, User};
use crate::time::rfc3339;

pub(crate) const USERS: &str = "auth_users";
pub(crate) const IDENTITIES: &str = "auth_identities";

const USER_COLUMNS: [&str; 17] = [
    "id",
    "email",
    "phone",
    "encrypted_password",
    "email_confirmed_at",
    "phone_confirmed_at",
    "confirmation_sent_at",
    "recovery_sent_at",
    "email_change",
    "last_sign_in_at",
    "raw_app_meta_data",
    "raw_user_meta_data",
    "is_anonymous",
    "banned_until",
    "created_at",
    "updated_at",
    "deleted_at",
];

pub(crate) const IDENTITY_COLUMNS: [&str; 9] = [
    "id",
    "provider",
    "provider_id",
    "user_id",
    "identity_data",
    "email",
    "last_sign_in_at",
    "created_at",
    "updated_at",
];

/// A row of `auth_users`. No `Debug`: it holds the password hash.
#[derive(Clone)]
pub(crate) struct UserRecord {
    pub(crate) id: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) encrypted_password: Option<String>,
    pub(crate) email_confirmed_at: Option<i64>,
    pub(crate) phone_confirmed_at: Option<i64>,
    pub(crate) confirmation_sent_at: Option<i64>,
    pub(crate) recovery_sent_at: Option<i64>,
    pub(crate) email_change: Option<String>,
    pub(crate) last_sign_in_at: Option<i64>,
    pub(crate) app_meta: Map<String, Value>,
    pub(crate) user_meta: Map<String, Value>,
    pub(crate) is_anonymous: bool,
    pub(crate) banned_until: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl UserRecord {
    /// A new user's row.
    pub(crate) fn new(id: String, now: i64) -> UserRecord {
        UserRecord {
            id,
            email: None,
            phone: None,
            encrypted_password: None,
            email_confirmed_at: None,
            phone_confirmed_at: None,
            confirmation_sent_at: None,
            recovery_sent_at: None,
            email_change: None,
            last_sign_in_at: None,
            app_meta: Map::new(),
            user_meta: Map::new(),
            is_anonymous: false,
            banned_until: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub(crate) fn from_row(row: &Row) -> Result<UserRecord> {
        Ok(UserRecord {
            id: text(row, "id")?,
            email: opt_text(row, "email")?,
            phone: opt_text(row, "phone")?,
            encrypted_password: opt_text(row, "encrypted_password")?,
            email_confirmed_at: opt_int(row, "email_confirmed_at")?,
            phone_confirmed_at: opt_int(row, "phone_confirmed_at")?,
            confirmation_sent_at: opt_int(row, "confirmation_sent_at")?,
            recovery_sent_at: opt_int(row, "recovery_sent_at")?,
            email_change: opt_text(row, "email_change")?,
            last_sign_in_at: opt_int(row, "last_sign_in_at")?,
            app_meta: json_object(row, "raw_app_meta_data")?,
            user_meta: json_object(row, "raw_user_meta_data")?,
            is_anonymous: boolean(row, "is_anonymous")?,
            banned_until: opt_int(row, "banned_until")?,
            created_at: int(row, "created_at")?,
            updated_at: int(row, "updated_at")?,
        })
    }

    pub(crate) fn is_banned(&self, now: i64) -> bool {
        self.banned_until.is_some_and(|t| t > now)
    }

    /// The user as GoTrue shows it.
    pub(crate) fn to_user(&self, identities: &[IdentityRecord]) -> User {
        let confirmed = match (self.email_confirmed_at, self.phone_confirmed_at) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
        User {
            id: self.id.clone(),
            aud: "authenticated".into(),
            role: "authenticated".into(),
            email: self.email.clone().unwrap_or_default(),
            email_confirmed_at: self.email_confirmed_at.map(rfc3339),
            phone: self.phone.clone().unwrap_or_default(),
            phone_confirmed_at: self.phone_confirmed_at.map(rfc3339),
            confirmation_sent_at: self.confirmation_sent_at.map(rfc3339),
            confirmed_at: confirmed.map(rfc3339),
            recovery_sent_at: self.recovery_sent_at.map(rfc3339),
            new_email: self.email_change.clone(),
            last_sign_in_at: self.last_sign_in_at.map(rfc3339),
            app_metadata: self.app_meta.clone(),
            user_metadata: self.user_meta.clone(),
            identities: identities.iter().map(IdentityRecord::to_identity).collect(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            banned_until: self.banned_until.map(rfc3339),
            is_anonymous: self.is_anonymous,
            factors: Vec::new(),
        }
    }
}

/// A row of `auth_identities`.
#[derive(Debug, Clone)]
pub(crate) struct IdentityRecord {
    pub(crate) id: String,
    pub(crate) provider: String,
    pub(crate) provider_id: String,
    pub(crate) user_id: String,
    pub(crate) identity_data: Map<String, Value>,
    pub(crate) email: Option<String>,
    pub(crate) last_sign_in_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl IdentityRecord {
    /// The `email` identity of a user.
    pub(crate) fn email(user_id: &str, email: &str, verified: bool, now: i64) -> IdentityRecord {
        let data =
            json!({ "sub": user_id, "email": email, "email_verified": verified, "phone_verified": false });
        IdentityRecord {
            id: uuid::Uuid::new_v4().to_string(),
            provider: "email".into(),
            provider_id: user_id.to_owned(),
            user_id: user_id.to_owned(),
            identity_data: data.as_object().cloned().unwrap_or_default(),
            email: Some(email.to_owned()),
            last_sign_in_at: Some(now),
            created_at: now,
            updated_at: now,
        }
    }

    pub(crate) fn from_row(row: &Row) -> Result<IdentityRecord> {
        Ok(IdentityRecord {
            id: text(row, "id")?,
            provider: text(row, "provider")?,
            provider_id: text(row, "provider_id")?,
            user_id: text(row, "user_id")?,
            identity_data: json_object(row, "identity_data")?,
            email: opt_text(row, "email")?,
            last_sign_in_at: opt_int(row, "last_sign_in_at")?,
            created_at: int(row, "created_at")?,
            updated_at: int(row, "updated_at")?,
        })
    }

    fn to_identity(&self) -> Identity {
        Identity {
            identity_id: self.id.clone(),
            id: self.provider_id.clone(),
            user_id: self.user_id.clone(),
            identity_data: self.identity_data.clone(),
            provider: self.provider.clone(),
            last_sign_in_at: self.last_sign_in_at.map(rfc3339),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            email: self.email.clone(),
        }
    }
}

/// A column change of a user row.
pub(crate) enum Set {
    Text(&'static str, Option<String>),
    Int(&'static str, Option<i64>),
    Bool(&'static str, bool),
    Json(&'static str, Value),
}

impl Set {
    fn pair(self) -> (Alias, Expr) {
        match self {
            Set::Text(c, v) => (Alias::new(c), Expr::val(v)),
            Set::Int(c, v) => (Alias::new(c), Expr::val(v)),
            Set::Bool(c, v) => (Alias::new(c), Expr::val(v)),
            Set::Json(c, v) => (Alias::new(c), Expr::val(v.to_string())),
        }
    }
}

impl Store {
    pub(crate) fn select_users(&self) -> sea_query::SelectStatement {
        let mut q = Query::select();
        q.columns(USER_COLUMNS.map(Alias::new))
            .from(self.table(USERS))
            .and_where(Expr::col(Alias::new("deleted_at")).is_null());
        q
    }

    pub(crate) async fn one_user(&self, q: sea_query::SelectStatement) -> Result<Option<UserRecord>> {
        self.rows(self.stmt(&q)).await?.first().map(UserRecord::from_row).transpose()
    }

    /// The live user with this (normalized) email address.
    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let mut q = self.select_users();
        q.and_where(Expr::col(Alias::new("email")).eq(email));
        self.one_user(q).await
    }

    /// The live user with this id.
    pub(crate) async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>> {
        let mut q = self.select_users();
        q.and_where(Expr::col(Alias::new("id")).eq(id));
        self.one_user(q).await
    }

    /// Whether any user row (live or deleted) has this email address.
    pub(crate) async fn email_taken(&self, email: &str) -> Result<bool> {
        let q = Query::select()
            .column(Alias::new("id"))
            .from(self.table(USERS))
            .and_where(Expr::col(Alias::new("email")).eq(email))
            .to_owned();
        Ok(!self.rows(self.stmt(&q)).await?.is_empty())
    }

    /// A user's identities, oldest first.
    pub(crate) async fn identities(&self, user_id: &str) -> Result<Vec<IdentityRecord>> {
        let q = Query::select()
            .columns(IDENTITY_COLUMNS.map(Alias::new))
            .from(self.table(IDENTITIES))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .order_by(Alias::new("created_at"), Order::Asc)
            .order_by(Alias::new("provider"), Order::Asc)
            .to_owned();
        self.rows(self.stmt(&q)).await?.iter().map(IdentityRecord::from_row).collect()
    }

    pub(crate) fn insert_user(&self, u: &UserRecord) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(USERS))
            .columns(USER_COLUMNS[..16].iter().copied().map(Alias::new))
            .values_panic([
                u.id.clone().into(),
                u.email.clone().into(),
                u.phone.clone().into(),
                u.encrypted_password.clone().into(),
                u.email_confirmed_at.into(),
                u.phone_confirmed_at.into(),
                u.confirmation_sent_at.into(),
                u.recovery_sent_at.into(),
                u.email_change.clone().into(),
                u.last_sign_in_at.into(),
                Value::Object(u.app_meta.clone()).to_string().into(),
                Value::Object(u.user_meta.clone()).to_string().into(),
                u.is_anonymous.into(),
                u.banned_until.into(),
                u.created_at.into(),
                u.updated_at.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    pub(crate) fn insert_identity(&self, i: &IdentityRecord) -> Stmt {
        let q = Query::insert()
            .into_table(self.table(IDENTITIES))
            .columns(IDENTITY_COLUMNS.map(Alias::new))
            .values_panic([
                i.id.clone().into(),
                i.provider.clone().into(),
                i.provider_id.clone().into(),
                i.user_id.clone().into(),
                Value::Object(i.identity_data.clone()).to_string().into(),
                i.email.clone().into(),
                i.last_sign_in_at.into(),
                i.created_at.into(),
                i.updated_at.into(),
            ])
            .to_owned();
        self.stmt(&q)
    }

    /// Changes columns of a user (and `updated_at`).
    pub(crate) fn update_user(&self, id: &str, now: i64, sets: Vec<Set>) -> Stmt {
        let mut values: Vec<(Alias, Expr)> = sets.into_iter().map(Set::pair).collect();
        values.push((Alias::new("updated_at"), Expr::val(now)));
        let q = Query::update()
            .table(self.table(USERS))
            .values(values)
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        self.stmt(&q)
    }

    /// Replaces the data of a user's identity of `provider`.
    pub(crate) fn update_identity(
        &self,
        user_id: &str,
        provider: &str,
        data: &Map<String, Value>,
        email: Option<&str>,
        now: i64,
    ) -> Stmt {
        let q = Query::update()
            .table(self.table(IDENTITIES))
            .values([
                (Alias::new("identity_data"), Expr::val(Value::Object(data.clone()).to_string())),
                (Alias::new("email"), Expr::val(email.map(str::to_owned))),
                (Alias::new("updated_at"), Expr::val(now)),
            ])
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .and_where(Expr::col(Alias::new("provider")).eq(provider))
            .to_owned();
        self.stmt(&q)
    }
}
