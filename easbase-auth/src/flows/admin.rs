//! User administration with the secret key (GoTrue's `/admin/users…` and
//! `/admin/generate_link`, auth-js' `auth.admin`): list, create, get, update, delete
//! (hard, or soft as GoTrue's `should_soft_delete`), and links generated without
//! sending them. The routes refuse anything but the service role; these methods trust
//! their caller.

use serde_json::{Map, Value};

use super::pkce::PkceChallenge;
use super::signup::{app_metadata, issue_with_flow};
use super::{check_password, normalize_email, one_time};
use crate::auth::ProjectAuth;
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, OneTimeToken, TokenKind, User};
use crate::sms::normalize_phone;
use crate::store::is_unique_violation;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::now;

/// What an administrator sets on a user (`POST /admin/users`, `PUT /admin/users/{id}`);
/// `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AdminUserAttributes {
    /// The email address.
    pub email: Option<String>,
    /// The phone number (E.164).
    pub phone: Option<String>,
    /// The password (checked against the rules).
    pub password: Option<String>,
    /// Mark the email address confirmed.
    pub email_confirm: Option<bool>,
    /// Mark the phone number confirmed.
    pub phone_confirm: Option<bool>,
    /// Keys merged into `user_metadata` (`null` removes one).
    pub user_metadata: Option<Map<String, Value>>,
    /// Keys merged into `app_metadata` (`null` removes one).
    pub app_metadata: Option<Map<String, Value>>,
    /// `none` to lift a ban, or a duration (`24h`, `1h30m`, `90s`) to ban for.
    pub ban_duration: Option<String>,
}

impl AdminUserAttributes {
    /// No changes.
    pub fn new() -> AdminUserAttributes {
        AdminUserAttributes::default()
    }
}

/// What `POST /admin/generate_link` makes (its `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkType {
    /// A sign-up confirmation (creates the user with the given password).
    Signup,
    /// An invitation (creates the user without a password).
    Invite,
    /// A magic link for an existing user.
    MagicLink,
    /// A recovery link for an existing user.
    Recovery,
    /// An email change to `new_email` (`email_change_current` / `email_change_new`).
    EmailChange,
}

impl LinkType {
    /// The type named `name`, as auth-js sends it.
    pub fn parse(name: &str) -> Option<LinkType> {
        Some(match name {
            "signup" => LinkType::Signup,
            "invite" => LinkType::Invite,
            "magiclink" => LinkType::MagicLink,
            "recovery" => LinkType::Recovery,
            "email_change_current" | "email_change_new" => LinkType::EmailChange,
            _ => return None,
        })
    }
}

/// A Go duration as GoTrue's `ban_duration` takes it: `876000h`, `1h30m`, `90s`, `500ms`.
fn parse_duration(text: &str) -> Result<i64> {
    let bad = || AuthError::ValidationFailed("invalid format for ban duration".into());
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e15 {
        return Err(bad());
    }
    Ok(total.ceil() as i64)
}

fn merge(target: &mut Map<String, Value>, changes: Map<String, Value>) {
    for (k, v) in changes {
        if v.is_null() {
            target.remove(&k);
        } else {
            target.insert(k, v);
        }
    }
}

fn add_provider(app_meta: &mut Map<String, Value>, provider: &str) {
    if app_meta.get("provider").and_then(Value::as_str).is_none() {
        app_meta.insert("provider".into(), provider.into());
    }
    let list = app_meta.entry("providers").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = list
        && !list.iter().any(|p| p == provider)
    {
        list.push(provider.into());
    }
}

impl ProjectAuth {
    async fn admin_user_record(&self, id: &str) -> Result<UserRecord> {
        let id = uuid::Uuid::parse_str(id).map_err(|_| AuthError::UserNotFound)?.to_string();
        self.store.user_by_id(&id).await?.ok_or(AuthError::UserNotFound)
    }

    /// The user object as GoTrue's admin API shows it: identities and MFA factors.
    async fn shown(&self, user: &UserRecord) -> Result<User> {
        let mut out = user.to_user(&self.store.identities(&user.id).await?);
        out.factors = super::mfa::user_factors(self, &user.id).await?;
        Ok(out)
    }

    /// A page of live users (`page` from 1, `per_page` per page), oldest first, and
    /// how many there are (`GET /admin/users`).
    ///
    /// # Errors
    /// The database's.
    pub async fn admin_list_users(&self, page: u64, per_page: u64) -> Result<(Vec<User>, u64)> {
        let per_page = per_page.clamp(1, 1000);
        let offset = page.max(1).saturating_sub(1).saturating_mul(per_page);
        let (records, total) = self.store.users_page(offset, per_page).await?;
        let mut users = Vec::with_capacity(records.len());
        for record in &records {
            users.push(self.shown(record).await?);
        }
        Ok((users, total))
    }

    /// The user `id` (`GET /admin/users/{id}`).
    ///
    /// # Errors
    /// [`UserNotFound`](AuthError::UserNotFound).
    pub async fn admin_get_user(&self, id: &str) -> Result<User> {
        let user = self.admin_user_record(id).await?;
        self.shown(&user).await
    }

    /// Creates a user (`POST /admin/users`): an email address or a phone number is
    /// needed; `email_confirm` / `phone_confirm` confirm them at once.
    ///
    /// # Errors
    /// [`ValidationFailed`](AuthError::ValidationFailed), [`EmailExists`](AuthError::EmailExists),
    /// [`PhoneExists`](AuthError::PhoneExists), [`WeakPassword`](AuthError::WeakPassword).
    pub async fn admin_create_user(&self, attrs: AdminUserAttributes) -> Result<User> {
        let email = attrs.email.as_deref().filter(|e| !e.is_empty()).map(normalize_email).transpose()?;
        let phone = attrs.phone.as_deref().filter(|p| !p.is_empty()).map(normalize_phone).transpose()?;
        if email.is_none() && phone.is_none() {
            return Err(AuthError::ValidationFailed(
                "Creating a user requires an email or a phone number".into(),
            ));
        }
        if let Some(email) = &email
            && self.store.email_taken(email).await?
        {
            return Err(AuthError::EmailExists);
        }
        if let Some(phone) = &phone
            && self.store.phone_taken(phone).await?
        {
            return Err(AuthError::PhoneExists);
        }
        let now = now();
        let id = uuid::Uuid::new_v4().to_string();
        let mut user = UserRecord::new(id.clone(), now);
        if let Some(password) = attrs.password.as_deref().filter(|p| !p.is_empty()) {
            check_password(&self.config().password, password)?;
            user.encrypted_password = Some(self.hasher().hash(password).await?);
        }
        user.app_meta = app_metadata(if email.is_some() { "email" } else { "phone" });
        if let (Some(_), Some(_)) = (&email, &phone) {
            add_provider(&mut user.app_meta, "phone");
        }
        merge(&mut user.app_meta, attrs.app_metadata.unwrap_or_default());
        user.user_meta = attrs.user_metadata.unwrap_or_default();
        user.user_meta.retain(|_, v| !v.is_null());
        let email_confirmed = attrs.email_confirm == Some(true);
        let phone_confirmed = attrs.phone_confirm == Some(true);
        let mut identities = Vec::new();
        if let Some(email) = &email {
            user.email = Some(email.clone());
            user.email_confirmed_at = email_confirmed.then_some(now);
            identities.push(IdentityRecord::email(&id, email, email_confirmed, now));
        }
        if let Some(phone) = &phone {
            user.phone = Some(phone.clone());
            user.phone_confirmed_at = phone_confirmed.then_some(now);
            identities.push(super::otp::phone_identity(&id, phone, phone_confirmed, now));
        }
        if let Some(ban) = attrs.ban_duration.as_deref().filter(|b| *b != "none") {
            user.banned_until = Some(now.saturating_add(parse_duration(ban)?));
        }
        let mut stmts = vec![self.store.insert_user(&user)];
        stmts.extend(identities.iter().map(|i| self.store.insert_identity(i)));
        match self.store.run(stmts).await {
            Err(e) if is_unique_violation(&e) => return Err(AuthError::EmailExists),
            other => other?,
        };
        Ok(user.to_user(&identities))
    }

    /// Changes a user (`PUT /admin/users/{id}`). A new email address or phone number is
    /// set at once (an administrator's change needs no confirmation); a new password
    /// signs the user out everywhere.
    ///
    /// # Errors
    /// [`UserNotFound`](AuthError::UserNotFound), and those of [`ProjectAuth::admin_create_user`].
    pub async fn admin_update_user(&self, id: &str, attrs: AdminUserAttributes) -> Result<User> {
        let mut user = self.admin_user_record(id).await?;
        let mut identities = self.store.identities(&user.id).await?;
        let now = now();
        let store = &self.store;
        let mut stmts = Vec::new();
        if let Some(email) = attrs.email.as_deref().filter(|e| !e.is_empty()) {
            let email = normalize_email(email)?;
            if user.email.as_deref() != Some(email.as_str()) {
                if store.email_taken(&email).await? {
                    return Err(AuthError::EmailExists);
                }
                stmts.extend(super::user::set_email_stmts(self, &mut user, &mut identities, &email, now));
            }
        }
        if attrs.email_confirm == Some(true) && user.email.is_some() && user.email_confirmed_at.is_none() {
            user.email_confirmed_at = Some(now);
            stmts.push(store.update_user(&user.id, now, vec![Set::Int("email_confirmed_at", Some(now))]));
        }
        if let Some(phone) = attrs.phone.as_deref().filter(|p| !p.is_empty()) {
            let phone = normalize_phone(phone)?;
            if user.phone.as_deref() != Some(phone.as_str()) {
                if store.phone_taken(&phone).await? {
                    return Err(AuthError::PhoneExists);
                }
                user.phone = Some(phone.clone());
                user.phone_confirmed_at = None;
                stmts.push(store.update_user(
                    &user.id,
                    now,
                    vec![Set::Text("phone", Some(phone.clone())), Set::Int("phone_confirmed_at", None)],
                ));
                if !identities.iter().any(|i| i.provider == "phone") {
                    let identity = super::otp::phone_identity(&user.id, &phone, false, now);
                    stmts.push(store.insert_identity(&identity));
                    identities.push(identity);
                    add_provider(&mut user.app_meta, "phone");
                }
            }
        }
        if attrs.phone_confirm == Some(true) && user.phone.is_some() && user.phone_confirmed_at.is_none() {
            user.phone_confirmed_at = Some(now);
            stmts.push(store.update_user(&user.id, now, vec![Set::Int("phone_confirmed_at", Some(now))]));
        }
        if let Some(password) = attrs.password.as_deref().filter(|p| !p.is_empty()) {
            check_password(&self.config().password, password)?;
            let hash = self.hasher().hash(password).await?;
            user.encrypted_password = Some(hash.clone());
            stmts.push(store.update_user(&user.id, now, vec![Set::Text("encrypted_password", Some(hash))]));
            stmts.push(store.delete_sessions_of(&user.id, None));
        }
        if let Some(data) = attrs.user_metadata {
            merge(&mut user.user_meta, data);
            stmts.push(store.update_user(
                &user.id,
                now,
                vec![Set::Json("raw_user_meta_data", Value::Object(user.user_meta.clone()))],
            ));
        }
        if let Some(data) = attrs.app_metadata {
            merge(&mut user.app_meta, data);
        }
        stmts.push(store.update_user(
            &user.id,
            now,
            vec![Set::Json("raw_app_meta_data", Value::Object(user.app_meta.clone()))],
        ));
        if let Some(ban) = attrs.ban_duration.as_deref() {
            user.banned_until =
                if ban == "none" { None } else { Some(now.saturating_add(parse_duration(ban)?)) };
            stmts.push(store.update_user(&user.id, now, vec![Set::Int("banned_until", user.banned_until)]));
        }
        match store.run(stmts).await {
            Err(e) if is_unique_violation(&e) => return Err(AuthError::EmailExists),
            other => other?,
        };
        user.updated_at = now;
        let mut out = user.to_user(&identities);
        out.factors = super::mfa::user_factors(self, &user.id).await?;
        Ok(out)
    }

    /// Deletes a user (`DELETE /admin/users/{id}`): with `soft`, as GoTrue's
    /// `should_soft_delete` (the row stays, anonymized, so the id is not reused).
    ///
    /// # Errors
    /// [`UserNotFound`](AuthError::UserNotFound).
    pub async fn admin_delete_user(&self, id: &str, soft: bool) -> Result<()> {
        let user = self.admin_user_record(id).await?;
        let stmts = if soft {
            self.store.soft_delete_user(&user.id, now())
        } else {
            vec![self.store.delete_user(&user.id)]
        };
        self.store.run(stmts).await?;
        Ok(())
    }

    /// Makes a link of `kind` for `email` without sending it (`POST
    /// /admin/generate_link`): the user (created for `signup` and `invite`) and the token.
    ///
    /// # Errors
    /// [`UserNotFound`](AuthError::UserNotFound) (magic link, recovery and email change of
    /// an unknown address), [`EmailExists`](AuthError::EmailExists) (sign-up or invite of
    /// a confirmed address, email change to a taken one),
    /// [`ValidationFailed`](AuthError::ValidationFailed), [`WeakPassword`](AuthError::WeakPassword).
    pub async fn admin_generate_link(
        &self,
        kind: LinkType,
        email: &str,
        password: Option<&str>,
        data: Option<Map<String, Value>>,
        new_email: Option<&str>,
        pkce: Option<&PkceChallenge>,
    ) -> Result<(User, OneTimeToken)> {
        let email = normalize_email(email)?;
        let existing = self.store.user_by_email(&email).await?;
        let now = now();
        let store = &self.store;
        let (mut user, mut stmts, token) = match kind {
            LinkType::Signup | LinkType::Invite => {
                if existing.as_ref().is_some_and(|u| u.email_confirmed_at.is_some()) {
                    return Err(AuthError::EmailExists);
                }
                let password = match (kind, password.filter(|p| !p.is_empty())) {
                    (LinkType::Signup, None) => {
                        return Err(AuthError::ValidationFailed("Signup requires a valid password".into()));
                    }
                    (_, Some(p)) => {
                        check_password(&self.config().password, p)?;
                        Some(self.hasher().hash(p).await?)
                    }
                    (_, None) => None,
                };
                let (token_kind, method) = if kind == LinkType::Signup {
                    (TokenKind::Confirmation, AuthMethod::EmailSignup)
                } else {
                    (TokenKind::Invite, AuthMethod::Invite)
                };
                let mut stmts = Vec::new();
                let user = match existing {
                    Some(user) => user,
                    None => {
                        let id = uuid::Uuid::new_v4().to_string();
                        let mut user = UserRecord::new(id.clone(), now);
                        user.email = Some(email.clone());
                        user.encrypted_password = password;
                        user.app_meta = app_metadata("email");
                        user.user_meta = data.unwrap_or_default();
                        user.confirmation_sent_at = Some(now);
                        stmts.push(store.insert_user(&user));
                        stmts.push(store.insert_identity(&IdentityRecord::email(&id, &email, false, now)));
                        user
                    }
                };
                let (more, token) =
                    issue_with_flow(self, &user.id, token_kind, &email, "email", method, pkce, now);
                stmts.extend(more);
                (user, stmts, token)
            }
            LinkType::MagicLink | LinkType::Recovery => {
                let user = existing.ok_or(AuthError::UserNotFound)?;
                let (token_kind, method) = if kind == LinkType::Recovery {
                    (TokenKind::Recovery, AuthMethod::Recovery)
                } else {
                    (TokenKind::MagicLink, AuthMethod::MagicLink)
                };
                let (stmts, token) =
                    issue_with_flow(self, &user.id, token_kind, &email, "email", method, pkce, now);
                (user, stmts, token)
            }
            LinkType::EmailChange => {
                let mut user = existing.ok_or(AuthError::UserNotFound)?;
                let new_email = normalize_email(new_email.unwrap_or(""))?;
                if store.email_taken(&new_email).await? {
                    return Err(AuthError::EmailExists);
                }
                user.email_change = Some(new_email.clone());
                let (mut stmts, token) =
                    one_time::issue(self, &user.id, TokenKind::EmailChange, &new_email, None, now);
                stmts.push(store.update_user(
                    &user.id,
                    now,
                    vec![Set::Text("email_change", Some(new_email))],
                ));
                (user, stmts, token)
            }
        };
        if matches!(kind, LinkType::Signup | LinkType::Invite) {
            user.confirmation_sent_at = Some(now);
            stmts.push(store.update_user(&user.id, now, vec![Set::Int("confirmation_sent_at", Some(now))]));
        }
        match store.run(stmts).await {
            Err(e) if is_unique_violation(&e) => return Err(AuthError::EmailExists),
            other => other?,
        };
        let user = self.shown(&user).await?;
        Ok((user, token))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("876000h").unwrap(), 876_000 * 3600);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("1.5h").unwrap(), 5400);
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("h").is_err());
    }
}
