//! [`SmtpMailer`]: a [`Mailer`] over SMTP with lettre. Plain SMTP (a local relay, a
//! development catcher) is always there; implicit TLS and STARTTLS need the
//! `smtp-rustls` feature (rustls with the webpki roots), so hosts that relay locally
//! compile no TLS stack.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{EmailMessage, MailError, Mailer};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// Plain text: only for a relay on the same host or a trusted network.
    #[default]
    None,
    /// Plain text upgraded with `STARTTLS`, which the server must offer (usually port 587).
    #[cfg(feature = "smtp-rustls")]
    StartTls,
    /// TLS from the first byte (usually port 465).
    #[cfg(feature = "smtp-rustls")]
    Tls,
}

/// Where and how to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpConfig {
    /// The server's host name (also the TLS server name).
    pub host: String,
    /// The server's port (25, 587, 465, or a local catcher's).
    pub port: u16,
    /// Plain, STARTTLS or TLS.
    pub security: SmtpSecurity,
    /// User name and password for `AUTH`, if the server wants them.
    pub credentials: Option<(String, String)>,
    /// The longest wait for the server per command (default 10 s).
    pub timeout: Duration,
}

impl SmtpConfig {
    /// Plain SMTP to `host:port`, no authentication.
    pub fn plain(host: impl Into<String>, port: u16) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port,
            security: SmtpSecurity::None,
            credentials: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends each message over a new SMTP connection (multipart: text and HTML).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    config: SmtpConfig,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("config", &self.config).finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `config`.
    ///
    /// # Errors
    /// [`MailError`] when the TLS parameters cannot be built.
    pub fn new(config: SmtpConfig) -> Result<SmtpMailer, MailError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            .port(config.port)
            .timeout(Some(config.timeout));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        #[cfg(feature = "smtp-rustls")]
        {
            use lettre::transport::smtp::client::{Tls, TlsParameters};
            let params = || {
                TlsParameters::new(config.host.clone()).map_err(|e| MailError(format!("TLS parameters: {e}")))
            };
            builder = match config.security {
                SmtpSecurity::None => builder,
                SmtpSecurity::StartTls => builder.tls(Tls::Required(params()?)),
                SmtpSecurity::Tls => builder.tls(Tls::Wrapper(params()?)),
            };
        }
        Ok(SmtpMailer { transport: builder.build(), config })
    }
}

fn mailbox(what: &str, address: &str) -> Result<Mailbox, MailError> {
    address.parse().map_err(|e| MailError(format!("invalid {what} address: {e}")))
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: EmailMessage) -> Result<(), MailError> {
        let email = Message::builder()
            .from(mailbox("sender", &message.from)?)
            .to(mailbox("recipient", &message.to)?)
            .subject(message.subject)
            .multipart(MultiPart::alternative_plain_html(message.text, message.html))
            .map_err(|e| MailError(format!("cannot build the message: {e}")))?;
        self.transport.send(email).await.map(|_| ()).map_err(|e| {
            MailError(format!("SMTP delivery to {}:{} failed: {e}", self.config.host, self.config.port))
        })
    }
}
