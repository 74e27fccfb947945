//! Passwordless sign-in and re-sending (GoTrue's `POST /otp` and `POST /resend`), and
//! phone sign-up.
//!
//! - Email: a known, confirmed address gets a magic link (with a code); a known,
//!   unconfirmed one a new confirmation; an unknown one, with `create_user` and sign-ups
//!   on, a new user (no password) and a confirmation. Otherwise nothing is sent — and the
//!   route answers the same `{}` in every case, so the answer does not tell whether the
//!   address is registered (GoTrue answers `otp_disabled` there; EasBase does not leak).
//! - Phone: the same with SMS codes, when [`AuthConfig::phone_enabled`](crate::AuthConfig::phone_enabled).
//! - Resend: a new confirmation (`signup`), email-change (`email_change`) or phone
//!   (`sms`) token for a user that has one pending; nothing otherwise, same answer.

use serde_json::{Map, Value, json};

use super::pkce::PkceChallenge;
use super::signup::{app_metadata, issue_with_flow};
use super::{check_password, normalize_email, one_time, start_session};
use crate::auth::{ProjectAuth, SignupOutcome};
use crate::error::{AuthError, Result};
use crate::model::{AuthMethod, OneTimeToken, TokenKind};
use crate::sms::normalize_phone;
use crate::store::is_unique_violation;
use crate::store::users::{IdentityRecord, Set, UserRecord};
use crate::time::now;

/// What `POST /resend` re-sends (its `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResendType {
    /// The sign-up confirmation of an unconfirmed address.
    Signup,
    /// The confirmation of a pending email change (sent to the new address).
    EmailChange,
    /// The SMS code of an unconfirmed phone number.
    Sms,
}

impl ResendType {
    /// The type named `name` (`signup`, `email_change`, `sms`).
    pub fn parse(name: &str) -> Option<ResendType> {
        Some(match name {
            "signup" => ResendType::Signup,
            "email_change" => ResendType::EmailChange,
            "sms" => ResendType::Sms,
            _ => return None,
        })
    }
}

/// The `phone` identity of a user.
pub(crate) fn phone_identity(user_id: &str, phone: &str, verified: bool, now: i64) -> IdentityRecord {
    let data = json!({ "sub": user_id, "phone": phone, "phone_verified": verified, "email_verified": false });
    IdentityRecord {
        id: uuid::Uuid::new_v4().to_string(),
        provider: "phone".into(),
        provider_id: user_id.to_owned(),
        user_id: user_id.to_owned(),
        identity_data: data.as_object().cloned().unwrap_or_default(),
        email: None,
        last_sign_in_at: Some(now),
        created_at: now,
        updated_at: now,
    }
}

fn check_phone_enabled(auth: &ProjectAuth) -> Result<()> {
    if auth.config().phone_enabled { Ok(()) } else { Err(AuthError::PhoneProviderDisabled) }
}

impl ProjectAuth {
    /// Starts a passwordless email sign-in (`POST /otp` with `email`): the token to mail
    /// (a magic link, or a confirmation for an unconfirmed or new user), or `None` when
    /// nothing is to be sent. See the module docs of `flows/otp.rs`.
    ///
    /// # Errors
    /// [`ValidationFailed`](AuthError::ValidationFailed) (a malformed address),
    /// [`EmailProviderDisabled`](AuthError::EmailProviderDisabled).
    pub async fn send_email_otp(
        &self,
        email: &str,
        create_user: bool,
        data: Option<Map<String, Value>>,
        pkce: Option<&PkceChallenge>,
    ) -> Result<Option<OneTimeToken>> {
        if !self.config().email_enabled {
            return Err(AuthError::EmailProviderDisabled);
        }
        let email = normalize_email(email)?;
        let now = now();
        let store = &self.store;
        if let Some(user) = store.user_by_email(&email).await? {
            let (kind, method, column) = if user.email_confirmed_at.is_some() {
                (TokenKind::MagicLink, AuthMethod::MagicLink, "recovery_sent_at")
            } else {
                (TokenKind::Confirmation, AuthMethod::EmailSignup, "confirmation_sent_at")
            };
            let (mut stmts, token) =
                issue_with_flow(self, &user.id, kind, &email, "email", method, pkce, now);
            stmts.push(store.update_user(&user.id, now, vec![Set::Int(column, Some(now))]));
            store.run(stmts).await?;
            return Ok(Some(token));
        }
        if !create_user || !self.config().signup_enabled {
            return Ok(None);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut user = UserRecord::new(id.clone(), now);
        user.email = Some(email.clone());
        user.app_meta = app_metadata("email");
        user.user_meta = data.unwrap_or_default();
        user.confirmation_sent_at = Some(now);
        let identity = IdentityRecord::email(&id, &email, false, now);
        let mut stmts = vec![store.insert_user(&user), store.insert_identity(&identity)];
        let (more, token) = issue_with_flow(
            self,
            &id,
            TokenKind::Confirmation,
            &email,
            "email",
            AuthMethod::EmailSignup,
            pkce,
            now,
        );
        stmts.extend(more);
        match store.run(stmts).await {
            Ok(_) => Ok(Some(token)),
            // A concurrent sign-up created the address: nothing more to send.
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts a phone sign-in (`POST /otp` with `phone`): the SMS code to send (for a
    /// known number, or a new user with `create_user`), or `None`.
    ///
    /// # Errors
    /// [`PhoneProviderDisabled`](AuthError::PhoneProviderDisabled),
    /// [`ValidationFailed`](AuthError::ValidationFailed) (not E.164).
    pub async fn send_phone_otp(
        &self,
        phone: &str,
        create_user: bool,
        data: Option<Map<String, Value>>,
    ) -> Result<Option<OneTimeToken>> {
        check_phone_enabled(self)?;
        let phone = normalize_phone(phone)?;
        let now = now();
        let store = &self.store;
        let user_id = match store.user_by_phone(&phone).await? {
            Some(user) => user.id,
            None if create_user && self.config().signup_enabled => {
                let id = uuid::Uuid::new_v4().to_string();
                let mut user = UserRecord::new(id.clone(), now);
                user.phone = Some(phone.clone());
                user.app_meta = app_metadata("phone");
                user.user_meta = data.unwrap_or_default();
                user.confirmation_sent_at = Some(now);
                let identity = phone_identity(&id, &phone, false, now);
                match store.run(vec![store.insert_user(&user), store.insert_identity(&identity)]).await {
                    Ok(_) => id,
                    Err(e) if is_unique_violation(&e) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            None => return Ok(None),
        };
        let (stmts, token) = one_time::issue(self, &user_id, TokenKind::Phone, &phone, None, now);
        store.run(stmts).await?;
        Ok(Some(token))
    }

    /// Signs up with a phone number and password (`POST /signup` with `phone`): a
    /// session with auto-confirmation, else the user and the SMS code to send. A number
    /// already registered gets the same answer as a new one (with a new code only while
    /// unconfirmed), or `user_already_exists` with auto-confirmation, as for email.
    ///
    /// # Errors
    /// [`PhoneProviderDisabled`](AuthError::PhoneProviderDisabled),
    /// [`SignupDisabled`](AuthError::SignupDisabled), [`ValidationFailed`](AuthError::ValidationFailed),
    /// [`WeakPassword`](AuthError::WeakPassword), [`UserAlreadyExists`](AuthError::UserAlreadyExists).
    pub async fn signup_phone(
        &self,
        phone: &str,
        password: &str,
        data: Option<Map<String, Value>>,
    ) -> Result<SignupOutcome> {
        check_phone_enabled(self)?;
        if !self.config().signup_enabled {
            return Err(AuthError::SignupDisabled);
        }
        let phone = normalize_phone(phone)?;
        check_password(&self.config().password, password)?;
        let hash = self.hasher().hash(password).await?;
        let now = now();
        let store = &self.store;
        if let Some(existing) = store.user_by_phone(&phone).await? {
            if self.config().autoconfirm {
                return Err(AuthError::UserAlreadyExists);
            }
            if existing.phone_confirmed_at.is_some() {
                // A look-alike: nothing of the registered user shows.
                let shown = super::signup::look_alike("", &phone, data.unwrap_or_default());
                return Ok(SignupOutcome::ConfirmationRequired { user: Box::new(shown), confirmation: None });
            }
            let shown = existing.to_user(&store.identities(&existing.id).await?);
            let (stmts, token) = one_time::issue(self, &existing.id, TokenKind::Phone, &phone, None, now);
            store.run(stmts).await?;
            return Ok(SignupOutcome::ConfirmationRequired {
                user: Box::new(shown),
                confirmation: Some(token),
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut user = UserRecord::new(id.clone(), now);
        user.phone = Some(phone.clone());
        user.encrypted_password = Some(hash);
        user.app_meta = app_metadata("phone");
        user.user_meta = data.unwrap_or_default();
        let confirmed = self.config().autoconfirm;
        if confirmed {
            user.phone_confirmed_at = Some(now);
        } else {
            user.confirmation_sent_at = Some(now);
        }
        let identity = phone_identity(&id, &phone, confirmed, now);
        let mut stmts = vec![store.insert_user(&user), store.insert_identity(&identity)];
        let identities = [identity];
        let outcome = if confirmed {
            start_session(self, &mut user, &identities, AuthMethod::Password, stmts)
                .await
                .map(|s| SignupOutcome::Session(Box::new(s)))
        } else {
            let (more, token) = one_time::issue(self, &id, TokenKind::Phone, &phone, None, now);
            stmts.extend(more);
            store.run(stmts).await.map(|_| SignupOutcome::ConfirmationRequired {
                user: Box::new(user.to_user(&identities)),
                confirmation: Some(token),
            })
        };
        match outcome {
            Err(e) if is_unique_violation(&e) => Err(AuthError::UserAlreadyExists),
            other => other,
        }
    }

    /// Issues again the pending token of `kind` for `recipient` (an address, or a phone
    /// number for [`ResendType::Sms`]) (`POST /resend`); `None` when nothing is pending.
    ///
    /// # Errors
    /// [`ValidationFailed`](AuthError::ValidationFailed) (a malformed address or number),
    /// [`PhoneProviderDisabled`](AuthError::PhoneProviderDisabled).
    pub async fn resend(
        &self,
        kind: ResendType,
        recipient: &str,
        pkce: Option<&PkceChallenge>,
    ) -> Result<Option<OneTimeToken>> {
        let now = now();
        let store = &self.store;
        let (stmts, token) = match kind {
            ResendType::Signup => {
                let email = normalize_email(recipient)?;
                match store.user_by_email(&email).await? {
                    Some(user) if user.email_confirmed_at.is_none() => {
                        let (mut stmts, token) =
                            super::signup::confirmation_token(self, &user.id, &email, pkce, now);
                        stmts.push(store.update_user(
                            &user.id,
                            now,
                            vec![Set::Int("confirmation_sent_at", Some(now))],
                        ));
                        (stmts, token)
                    }
                    _ => return Ok(None),
                }
            }
            ResendType::EmailChange => {
                let email = normalize_email(recipient)?;
                match store.user_by_email(&email).await? {
                    Some(user) => match user.email_change.clone() {
                        Some(new_email) => {
                            one_time::issue(self, &user.id, TokenKind::EmailChange, &new_email, None, now)
                        }
                        None => return Ok(None),
                    },
                    None => return Ok(None),
                }
            }
            ResendType::Sms => {
                check_phone_enabled(self)?;
                let phone = normalize_phone(recipient)?;
                match store.user_by_phone(&phone).await? {
                    Some(user) if user.phone_confirmed_at.is_none() => {
                        one_time::issue(self, &user.id, TokenKind::Phone, &phone, None, now)
                    }
                    _ => return Ok(None),
                }
            }
        };
        store.run(stmts).await?;
        Ok(Some(token))
    }
}

/// Statements that give `user` the confirmed phone number `phone` (and a verified
/// `phone` identity).
pub(crate) fn set_phone_stmts(
    auth: &ProjectAuth,
    user: &mut UserRecord,
    identities: &mut Vec<IdentityRecord>,
    phone: &str,
    now: i64,
) -> Vec<easbase_core::db::Stmt> {
    let store = &auth.store;
    user.phone = Some(phone.to_owned());
    user.phone_confirmed_at = Some(now);
    let providers = user.app_meta.entry("providers").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = providers
        && !list.iter().any(|p| p == "phone")
    {
        list.push("phone".into());
    }
    let mut stmts = vec![store.update_user(
        &user.id,
        now,
        vec![
            Set::Text("phone", Some(phone.to_owned())),
            Set::Int("phone_confirmed_at", Some(now)),
            Set::Json("raw_app_meta_data", Value::Object(user.app_meta.clone())),
        ],
    )];
    match identities.iter_mut().find(|i| i.provider == "phone") {
        Some(identity) => {
            identity.identity_data.insert("phone".into(), phone.into());
            identity.identity_data.insert("phone_verified".into(), true.into());
            identity.updated_at = now;
            stmts.push(store.update_identity(&user.id, "phone", &identity.identity_data, None, now));
        }
        None => {
            let identity = phone_identity(&user.id, phone, true, now);
            stmts.push(store.insert_identity(&identity));
            identities.push(identity);
        }
    }
    stmts
}

impl ProjectAuth {
    /// Changes the phone number of `ctx`'s user (`PUT /user` with `phone`): at once with
    /// auto-confirmation (`None`), else the SMS code that confirms the new number
    /// (`POST /verify` with `type: phone_change`).
    ///
    /// # Errors
    /// [`PhoneProviderDisabled`](AuthError::PhoneProviderDisabled),
    /// [`ValidationFailed`](AuthError::ValidationFailed), [`PhoneExists`](AuthError::PhoneExists),
    /// and those of [`ProjectAuth::get_user`].
    pub async fn change_phone(
        &self,
        ctx: &easbase_core::context::RequestContext,
        phone: &str,
    ) -> Result<(crate::model::User, Option<OneTimeToken>)> {
        check_phone_enabled(self)?;
        let phone = normalize_phone(phone)?;
        let (mut user, _) = super::user::current(self, ctx).await?;
        let store = &self.store;
        let mut identities = store.identities(&user.id).await?;
        if user.phone.as_deref() == Some(phone.as_str()) {
            return Ok((user.to_user(&identities), None));
        }
        if store.phone_taken(&phone).await? {
            return Err(AuthError::PhoneExists);
        }
        let now = now();
        let (stmts, token) = if self.config().autoconfirm {
            (set_phone_stmts(self, &mut user, &mut identities, &phone, now), None)
        } else {
            let (stmts, token) = one_time::issue(self, &user.id, TokenKind::PhoneChange, &phone, None, now);
            (stmts, Some(token))
        };
        match store.run(stmts).await {
            Err(e) if is_unique_violation(&e) => return Err(AuthError::PhoneExists),
            other => other?,
        };
        Ok((user.to_user(&identities), token))
    }
}
