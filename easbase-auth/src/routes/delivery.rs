//! Sending one-time tokens: the verification link, the project's template, the mailer
//! or SMS sender, then the host's [`TokenOutbox`](crate::TokenOutbox). A failed send is
//! logged without the message's secrets. The routes that must answer alike for known and
//! unknown accounts (`/signup`, `/recover`, `/otp`, `/resend`) send with
//! [`Call::send_email_hidden`] / [`Call::send_sms_hidden`]: a failure is only logged and
//! the answer is the same `200` an unknown address gets (GoTrue answers 500, which tells
//! that the address is registered). The routes of a signed-in user or the service role
//! (email change, invite) answer 500 `unexpected_failure`. With
//! [`AuthServiceConfig::send_in_background`](crate::AuthServiceConfig::send_in_background)
//! the answer does not wait for the mailer either, so its time does not tell them apart.

use easbase_core::schema::Role;

use super::{ApiError, Call, percent_encode, query_value};
use crate::error::AuthError;
use crate::limits::{self, Channel};
use crate::mail::{EmailKind, EmailMessage, TemplateData};
use crate::model::{OneTimeToken, TokenKind};
use crate::sms::SmsMessage;

impl Call<'_> {
    /// Refuses a message over the per-recipient or project limits; call it before a
    /// flow issues the token (which replaces the recipient's earlier one).
    pub(crate) async fn check_send(
        &self,
        channel: Channel,
        kind: &str,
        recipient: &str,
    ) -> Result<(), ApiError> {
        let project = self.auth.project();
        let limits = self.config.project_rate_limits.get(project, &self.auth.config().rate_limits);
        limits::check_send(&*self.config.counters, &limits, project, channel, kind, recipient).await?;
        Ok(())
    }

    /// A password grant, refused while `account` (a normalized address or number) has
    /// had too many failed attempts ([`RateLimits::failed_logins`](crate::RateLimits::failed_logins));
    /// a failure counts against it. Unknown accounts are counted like known ones.
    pub(crate) async fn password_grant_throttled(
        &self,
        login: crate::flows::password::Login<'_>,
        account: Option<&str>,
        password: &str,
    ) -> Result<crate::model::Session, ApiError> {
        let project = self.auth.project();
        let limits = self.config.project_rate_limits.get(project, &self.auth.config().rate_limits);
        let throttle =
            account.and_then(|a| limits::FailedLogins::new(&*self.config.counters, &limits, project, a));
        if let Some(throttle) = &throttle {
            throttle.check().await?;
        }
        let outcome = crate::flows::password::password_grant_for(&self.auth, login, password).await;
        if let (Err(AuthError::InvalidCredentials), Some(throttle)) = (&outcome, &throttle) {
            throttle.record().await?;
        }
        Ok(outcome?)
    }

    /// The publishable key this request came with (for links: an email link cannot carry
    /// headers); never the secret key.
    fn link_apikey(&self) -> Option<String> {
        if self.ctx.role() != Role::Anon {
            return None;
        }
        let header = self.headers.get("apikey").and_then(|v| v.to_str().ok());
        header.or_else(|| query_value(&self.query, "apikey")).map(str::to_owned)
    }

    /// The verification link of `token`: `{external url}/verify?token=…&type=…&redirect_to=…&apikey=…`.
    pub(crate) async fn verify_link(
        &self,
        token: &OneTimeToken,
        redirect_to: Option<&str>,
    ) -> Result<String, ApiError> {
        let base = match &self.config.external_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let project = self.platform.project(self.auth.project()).await.map_err(AuthError::from)?;
                format!("{}/auth/v1", project.api_url.trim_end_matches('/'))
            }
        };
        let mut link =
            format!("{base}/verify?token={}&type={}", percent_encode(&token.token), verify_type(token.kind),);
        if let Some(to) = redirect_to {
            link.push_str(&format!("&redirect_to={}", percent_encode(to)));
        }
        if let Some(key) = self.link_apikey() {
            link.push_str(&format!("&apikey={}", percent_encode(&key)));
        }
        Ok(link)
    }

    /// Mails `token` (if a mailer is set) and hands it to the outbox (if set).
    pub(crate) async fn send_email(
        &self,
        token: OneTimeToken,
        redirect_to: Option<String>,
    ) -> Result<(), ApiError> {
        if let (Some(mail), Some(kind)) = (&self.config.mail, email_kind(token.kind)) {
            let project = self.auth.project();
            let templates = mail.templates.get(project);
            let data = TemplateData {
                confirmation_url: self.verify_link(&token, redirect_to.as_deref()).await?,
                token: token.code.clone(),
                token_hash: token.token.clone(),
                site_url: self.auth.config().site_url.clone(),
                email: token.email.clone(),
                new_email: if kind == EmailKind::EmailChange { token.email.clone() } else { String::new() },
                redirect_to: redirect_to.clone().unwrap_or_default(),
            };
            let (subject, html, text) = templates.get(kind).render(&data);
            let message = EmailMessage {
                project: project.clone(),
                kind,
                from: templates.sender.clone().unwrap_or_else(|| mail.from.clone()),
                to: token.email.clone(),
                subject,
                text,
                html,
            };
            if self.config.send_in_background {
                let mailer = mail.mailer.clone();
                tokio::spawn(async move {
                    if let Err(e) = mailer.send(message).await {
                        tracing::error!(error = %e, kind = kind.verify_type(), "sending an auth email failed");
                    }
                });
            } else if let Err(e) = mail.mailer.send(message).await {
                tracing::error!(error = %e, kind = kind.verify_type(), "sending an auth email failed");
                return Err(AuthError::Internal(format!("Error sending {} email", kind.verify_type())).into());
            }
        }
        if let Some(outbox) = &self.config.outbox {
            outbox.deliver(self.auth.project(), token, redirect_to);
        }
        Ok(())
    }

    /// [`Call::send_email`] for a route that answers alike for known and unknown
    /// accounts: a failure is logged, not answered.
    pub(crate) async fn send_email_hidden(&self, token: OneTimeToken, redirect_to: Option<String>) {
        if let Err(e) = self.send_email(token, redirect_to).await {
            tracing::warn!(error = ?e, "an auth email was not sent; answering as for an unknown account");
        }
    }

    /// [`Call::send_sms`] for a route that answers alike for known and unknown accounts.
    pub(crate) async fn send_sms_hidden(&self, token: OneTimeToken) {
        if let Err(e) = self.send_sms(token).await {
            tracing::warn!(error = ?e, "an auth SMS was not sent; answering as for an unknown account");
        }
    }

    /// Sends `token`'s code by SMS.
    pub(crate) async fn send_sms(&self, token: OneTimeToken) -> Result<(), ApiError> {
        let Some(sms) = &self.config.sms else { return Err(AuthError::PhoneProviderDisabled.into()) };
        let message = SmsMessage {
            project: self.auth.project().clone(),
            to: format!("+{}", token.email),
            body: sms.render(&token.code),
            code: token.code.clone(),
        };
        if self.config.send_in_background {
            let sender = sms.sender.clone();
            tokio::spawn(async move {
                if let Err(e) = sender.send(message).await {
                    tracing::error!(error = %e, "sending an auth SMS failed");
                }
            });
        } else if let Err(e) = sms.sender.send(message).await {
            tracing::error!(error = %e, "sending an auth SMS failed");
            return Err(AuthError::Internal("Error sending SMS".into()).into());
        }
        if let Some(outbox) = &self.config.outbox {
            outbox.deliver(self.auth.project(), token, None);
        }
        Ok(())
    }

    /// Phone flows need phone sign-in on and an SMS sender.
    pub(crate) fn require_sms(&self) -> Result<(), ApiError> {
        if self.config.sms.is_none() || !self.auth.config().phone_enabled {
            return Err(AuthError::PhoneProviderDisabled.into());
        }
        Ok(())
    }
}

/// The email a token of `kind` goes out as (`None`: an SMS).
fn email_kind(kind: TokenKind) -> Option<EmailKind> {
    Some(match kind {
        TokenKind::Confirmation => EmailKind::Confirmation,
        TokenKind::Recovery => EmailKind::Recovery,
        TokenKind::EmailChange => EmailKind::EmailChange,
        TokenKind::MagicLink => EmailKind::MagicLink,
        TokenKind::Invite => EmailKind::Invite,
        TokenKind::Reauthentication => EmailKind::Reauthentication,
        _ => return None,
    })
}

/// The `type` of `kind`'s verification (for links and admin answers).
pub(crate) fn verify_type(kind: TokenKind) -> &'static str {
    email_kind(kind).map_or("sms", EmailKind::verify_type)
}
