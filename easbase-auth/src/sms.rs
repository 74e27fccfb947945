//! Phone delivery: the [`SmsSender`] trait a host implements over its SMS provider,
//! [`MemorySms`] for tests, and phone-number validation (GoTrue's: E.164 digits,
//! stored without the `+`).

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use easbase_core::context::ProjectId;

use crate::error::{AuthError, Result};

/// A text message to send. `Debug` hides the body (it holds the code).
#[derive(Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// The project it is sent for.
    pub project: ProjectId,
    /// The recipient in E.164 form with the `+` (`+15551234567`).
    pub to: String,
    /// The text, from [`SmsSettings::template`].
    pub body: String,
    /// The code itself, for senders that fill in a provider's own template.
    pub code: String,
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("project", &self.project)
            .field("to", &self.to)
            .field("body", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Sends text messages. `send` returns the provider's message id (auth-js shows it as
/// `messageId`).
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends one message.
    ///
    /// # Errors
    /// A description of the failure (never the body).
    async fn send(&self, message: SmsMessage) -> std::result::Result<String, String>;
}

/// Keeps messages in memory: for tests and development.
#[derive(Debug, Default, Clone)]
pub struct MemorySms {
    sent: Arc<Mutex<Vec<SmsMessage>>>,
}

impl MemorySms {
    /// Takes the messages sent so far, oldest first.
    pub fn take(&self) -> Vec<SmsMessage> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl SmsSender for MemorySms {
    async fn send(&self, message: SmsMessage) -> std::result::Result<String, String> {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        sent.push(message);
        Ok(format!("memory-{}", sent.len()))
    }
}

/// What the auth service needs to send codes by SMS.
#[derive(Clone)]
pub struct SmsSettings {
    /// Where messages go.
    pub sender: Arc<dyn SmsSender>,
    /// The text; `{{ .Code }}` is replaced by the code (GoTrue's `SMS_TEMPLATE`; default
    /// `Your code is {{ .Code }}`).
    pub template: String,
}

impl SmsSettings {
    /// Settings with GoTrue's default template.
    pub fn new(sender: Arc<dyn SmsSender>) -> SmsSettings {
        SmsSettings { sender, template: "Your code is {{ .Code }}".into() }
    }

    /// The text for `code`.
    pub(crate) fn render(&self, code: &str) -> String {
        self.template.replace("{{ .Code }}", code).replace("{{.Code}}", code)
    }
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings").field("template", &self.template).finish_non_exhaustive()
    }
}

/// Normalizes a phone number as GoTrue does: spaces, dashes, dots, parentheses and a
/// leading `+` are dropped; what is left must be E.164 digits (`[1-9][0-9]{1,14}`). The
/// result is stored without the `+`.
///
/// ```
/// # use easbase_auth::normalize_phone;
/// assert_eq!(normalize_phone("+1 (555) 123-4567").unwrap(), "15551234567");
/// assert!(normalize_phone("0555").is_err());
/// assert!(normalize_phone("+1234567890123456").is_err());
/// assert!(normalize_phone("12ab").is_err());
/// ```
///
/// # Errors
/// [`AuthError::ValidationFailed`] for anything else.
pub fn normalize_phone(phone: &str) -> Result<String> {
    let trimmed = phone.trim();
    let digits: String = trimmed
        .strip_prefix('+')
        .unwrap_or(trimmed)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let valid = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(digits)
    } else {
        Err(AuthError::ValidationFailed("Invalid phone number format (E.164 required)".into()))
    }
}
