//! Rate limits of the routes that send messages or check secrets, counted in
//! easbase-core's [`CounterStore`] (memory, the platform database or Redis: the host
//! picks, so several processes share the counts) in fixed windows:
//!
//! - per client IP and route (`/signup`, `/otp`, `/recover`, `/resend`, `/verify`,
//!   `/token?grant_type=password|pkce`, `/authorize`, `/user/identities/authorize`,
//!   `/callback`, `/factors/{id}/verify`): [`RateLimits::per_ip`], answered with 429
//!   `over_request_rate_limit`;
//! - per recipient (an address or phone number, and the kind of message): one message
//!   per [`RateLimits::per_recipient_interval`], 429 `over_email_send_rate_limit` /
//!   `over_sms_send_rate_limit` ("For security purposes, you can only request this after
//!   N seconds.");
//! - per project: [`RateLimits::emails`] and [`RateLimits::sms`] messages per window
//!   (GoTrue's `RATE_LIMIT_EMAIL_SENT`);
//! - per account: [`RateLimits::failed_logins`] failed password sign-ins per window.
//!
//! Recipient limits are counted before the account is looked up, so known and unknown
//! addresses are limited alike. Counter keys hold a SHA-256 of the recipient, never the
//! address itself.

use std::net::IpAddr;
use std::time::Duration;

use easbase_core::context::ProjectId;
use easbase_core::quota::CounterStore;

use crate::error::{AuthError, Result};
use crate::secret::token_hash;
use crate::time::now;

/// At most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Events allowed per window.
    pub max: u64,
    /// The window (fixed, aligned to the Unix epoch; at least one second).
    pub window: Duration,
}

impl Limit {
    /// `max` events per `window`.
    pub fn new(max: u64, window: Duration) -> Limit {
        Limit { max, window }
    }
}

/// A project's rate limits (`None`: no limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per client IP and route (default 30 per 5 minutes, GoTrue's
    /// `RATE_LIMIT_VERIFY`). Only when the service knows the client's IP
    /// ([`ClientIp`], or [`AuthServiceConfig::client_ip_header`](crate::AuthServiceConfig::client_ip_header)).
    pub per_ip: Option<Limit>,
    /// Emails sent per project (default 30 per hour, GoTrue's `RATE_LIMIT_EMAIL_SENT`).
    pub emails: Option<Limit>,
    /// SMS sent per project (default 30 per hour, GoTrue's `RATE_LIMIT_SMS_SENT`).
    pub sms: Option<Limit>,
    /// The shortest interval between two messages of one kind to one recipient (default
    /// 60 s, GoTrue's `SMTP_MAX_FREQUENCY`).
    pub per_recipient_interval: Option<Duration>,
    /// Failed password sign-ins per account (address or phone number) and window,
    /// from any IP, before further attempts get 429 until the window ends (default 10
    /// per 5 minutes). Only failures count, and only within the window: a throttle, not a
    /// lockout.
    pub failed_logins: Option<Limit>,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits {
            per_ip: Some(Limit::new(30, Duration::from_secs(300))),
            emails: Some(Limit::new(30, Duration::from_secs(3600))),
            sms: Some(Limit::new(30, Duration::from_secs(3600))),
            per_recipient_interval: Some(Duration::from_secs(60)),
            failed_logins: Some(Limit::new(10, Duration::from_secs(300))),
        }
    }
}

impl RateLimits {
    /// No limits at all.
    pub fn none() -> RateLimits {
        RateLimits {
            per_ip: None,
            emails: None,
            sms: None,
            per_recipient_interval: None,
            failed_logins: None,
        }
    }
}

/// The client's IP address, for per-IP limits: a host puts it in the request's
/// extensions (from the connection, or from a proxy header it trusts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The channel of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Email,
    Sms,
}

impl Channel {
    fn error(self, message: String) -> AuthError {
        match self {
            Channel::Email => AuthError::OverEmailSendRateLimit(message),
            Channel::Sms => AuthError::OverSmsSendRateLimit(message),
        }
    }
}

/// Counts one event of `key` in `limit`'s current window; `Err(seconds left)` when over.
async fn hit(counters: &dyn CounterStore, key: &str, limit: Limit) -> Result<std::result::Result<(), u64>> {
    let window = limit.window.as_secs().max(1);
    let now = u64::try_from(now()).unwrap_or(0);
    let count = counters.incr(key, now / window, 1, window.saturating_mul(2)).await?;
    Ok(if count > limit.max { Err(window - now % window) } else { Ok(()) })
}

/// The throttle of failed password sign-ins of one account ([`RateLimits::failed_logins`]).
pub(crate) struct FailedLogins<'a> {
    counters: &'a dyn CounterStore,
    limit: Limit,
    key: String,
}

impl<'a> FailedLogins<'a> {
    /// The throttle of `account` (a normalized address or number); `None` when off.
    pub(crate) fn new(
        counters: &'a dyn CounterStore,
        limits: &RateLimits,
        project: &ProjectId,
        account: &str,
    ) -> Option<FailedLogins<'a>> {
        let key = format!("auth:{}:failed-login:{}", project.as_str(), token_hash(account));
        limits.failed_logins.map(|limit| FailedLogins { counters, limit, key })
    }

    /// Adds `add` failures and returns the window's count.
    async fn count(&self, add: u64) -> Result<u64> {
        let window = self.limit.window.as_secs().max(1);
        let now = u64::try_from(now()).unwrap_or(0);
        Ok(self.counters.incr(&self.key, now / window, add, window.saturating_mul(2)).await?)
    }

    /// Refuses a sign-in while the account is over the limit (adds nothing).
    pub(crate) async fn check(&self) -> Result<()> {
        if self.count(0).await? >= self.limit.max { Err(AuthError::OverRequestRateLimit) } else { Ok(()) }
    }

    /// Counts a failed sign-in.
    pub(crate) async fn record(&self) -> Result<()> {
        self.count(1).await.map(|_| ())
    }
}

/// Refuses a request of `route` from `ip` over [`RateLimits::per_ip`].
pub(crate) async fn check_ip(
    counters: &dyn CounterStore,
    limits: &RateLimits,
    project: &ProjectId,
    route: &str,
    ip: Option<IpAddr>,
) -> Result<()> {
    let (Some(limit), Some(ip)) = (limits.per_ip, ip) else { return Ok(()) };
    let key = format!("auth:{}:ip:{route}:{ip}", project.as_str());
    match hit(counters, &key, limit).await? {
        Ok(()) => Ok(()),
        Err(_) => Err(AuthError::OverRequestRateLimit),
    }
}

/// Refuses a message of `kind` to `recipient` over the per-recipient interval, or over
/// the project's budget for `channel`.
pub(crate) async fn check_send(
    counters: &dyn CounterStore,
    limits: &RateLimits,
    project: &ProjectId,
    channel: Channel,
    kind: &str,
    recipient: &str,
) -> Result<()> {
    if let Some(interval) = limits.per_recipient_interval {
        let key = format!("auth:{}:to:{kind}:{}", project.as_str(), token_hash(recipient));
        if let Err(left) = hit(counters, &key, Limit::new(1, interval)).await? {
            return Err(channel
                .error(format!("For security purposes, you can only request this after {left} seconds.")));
        }
    }
    let (budget, name) = match channel {
        Channel::Email => (limits.emails, "email"),
        Channel::Sms => (limits.sms, "sms"),
    };
    if let Some(limit) = budget {
        let key = format!("auth:{}:sent:{name}", project.as_str());
        if hit(counters, &key, limit).await?.is_err() {
            return Err(channel.error(match channel {
                Channel::Email => "Email rate limit exceeded".into(),
                Channel::Sms => "SMS rate limit exceeded".into(),
            }));
        }
    }
    Ok(())
}

/// In-process per-project overrides of the rate limits (a project on a bigger plan, a
/// project under attack), set by the host's code; they win over the project's stored
/// settings ([`ProjectSettings::rate_limits`](crate::settings::ProjectSettings::rate_limits)),
/// which win over [`AuthConfig::rate_limits`](crate::AuthConfig::rate_limits). Cheap to
/// clone (shared).
///
/// ```
/// use easbase_auth::{RateLimits, ProjectRateLimits};
/// use easbase_core::context::ProjectId;
/// let overrides = ProjectRateLimits::default();
/// let project = ProjectId::new("p1").unwrap();
/// overrides.set(project.clone(), RateLimits::none());
/// assert_eq!(overrides.get(&project, &RateLimits::default()), RateLimits::none());
/// overrides.reset(&project);
/// assert_eq!(overrides.get(&project, &RateLimits::default()), RateLimits::default());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ProjectRateLimits {
    projects: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<ProjectId, RateLimits>>>,
}

impl ProjectRateLimits {
    /// Sets `project`'s limits.
    pub fn set(&self, project: ProjectId, limits: RateLimits) {
        self.projects.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(project, limits);
    }

    /// Returns `project` to the default limits.
    pub fn reset(&self, project: &ProjectId) {
        self.projects.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(project);
    }

    /// `project`'s limits, or `default`.
    pub fn get(&self, project: &ProjectId, default: &RateLimits) -> RateLimits {
        let projects = self.projects.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        projects.get(project).unwrap_or(default).clone()
    }
}
