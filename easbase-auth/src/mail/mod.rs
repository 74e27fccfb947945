//! Email delivery: the [`Mailer`] trait a host implements (or takes [`SmtpMailer`] for
//! an SMTP relay, [`MemoryMailer`] for tests), the per-project [`EmailTemplates`] that
//! turn a one-time token into a message, and [`MailSettings`], what
//! [`AuthServiceConfig`](crate::AuthServiceConfig) holds to send them.
//!
//! A message carries a secret (the link and the code): implementations must not log its
//! bodies. [`EmailMessage`]'s `Debug` hides them.

mod smtp;
mod templates;

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use easbase_core::context::ProjectId;

pub use smtp::{SmtpConfig, SmtpMailer, SmtpSecurity};
pub use templates::{EmailKind, EmailTemplate, EmailTemplates, TemplateData, TemplateStore};

/// A rendered email, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailMessage {
    /// The project it is sent for.
    pub project: ProjectId,
    /// What it is for.
    pub kind: EmailKind,
    /// The sender (`Name <address>` or an address).
    pub from: String,
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl std::fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailMessage")
            .field("project", &self.project)
            .field("kind", &self.kind)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &"[redacted]")
            .field("html", &"[redacted]")
            .finish()
    }
}

/// Why a message could not be sent. The text names the cause (a refused address, an
/// unreachable server), never the message's bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Sends email. Implemented by [`SmtpMailer`] and [`MemoryMailer`]; a host may
/// implement it over its provider's HTTP API. `send` is awaited by the route that
/// issued the token, so a failure answers the request with a 500 (as GoTrue does) and
/// the user can ask again.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message.
    ///
    /// # Errors
    /// [`MailError`] when the message was not accepted for delivery.
    async fn send(&self, message: EmailMessage) -> Result<(), MailError>;
}

/// Keeps messages in memory: for tests and development.
///
/// ```
/// use easbase_auth::mail::{EmailKind, EmailMessage, Mailer, MemoryMailer};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mailer = MemoryMailer::default();
/// let message = EmailMessage {
///     project: easbase_core::context::ProjectId::new("p1").unwrap(),
///     kind: EmailKind::MagicLink,
///     from: "no-reply@example.com".into(),
///     to: "ada@example.com".into(),
///     subject: "Your Magic Link".into(),
///     text: "…".into(),
///     html: "…".into(),
/// };
/// mailer.send(message).await.unwrap();
/// assert_eq!(mailer.take()[0].to, "ada@example.com");
/// assert!(mailer.take().is_empty());
/// # }
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<EmailMessage>>>,
}

impl MemoryMailer {
    /// The messages sent so far, oldest first (they stay).
    pub fn messages(&self) -> Vec<EmailMessage> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes the messages sent so far, oldest first.
    pub fn take(&self) -> Vec<EmailMessage> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, message: EmailMessage) -> Result<(), MailError> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).push(message);
        Ok(())
    }
}

/// What the auth service needs to send email: the mailer, the default sender and the
/// templates of each project.
#[derive(Clone)]
pub struct MailSettings {
    /// Where messages go.
    pub mailer: Arc<dyn Mailer>,
    /// The sender of every message (`Name <address>`), unless a project's templates set
    /// their own ([`EmailTemplates::sender`]).
    pub from: String,
    /// The templates of each project (GoTrue's defaults unless set).
    pub templates: TemplateStore,
}

impl MailSettings {
    /// Settings with GoTrue's default templates.
    pub fn new(mailer: Arc<dyn Mailer>, from: impl Into<String>) -> MailSettings {
        MailSettings { mailer, from: from.into(), templates: TemplateStore::default() }
    }
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings").field("from", &self.from).finish_non_exhaustive()
    }
}
