//! Cross-process cache invalidation: several host processes serve one platform database,
//! each with its own key cache and open-project cache. A change another process must see
//! at once — a key revoked or rotated, a project paused, resumed or deleted, a schema
//! applied — is announced with PostgreSQL `NOTIFY` **in the same transaction as the
//! change** (`select pg_notify($1, $2)`), so it is sent if and only if the change commits,
//! and only after it is visible.
//!
//! Each process listens on one dedicated connection outside the pool ([`spawn`]), and
//! applies what it hears ([`PlatformEvent`]) to its caches. When that connection drops, it
//! reconnects with a backoff (100 ms doubling to 10 s) and, once listening again, clears
//! its caches, since events may have been missed meanwhile. A heartbeat (`select 1` every
//! 30 s) notices a connection that died silently.
//!
//! The channel is `<platform schema>_events` (`easbase_events` by default; a hash when
//! that name would pass PostgreSQL's 63 bytes), so two platforms on one server do not
//! hear each other. The payload is JSON: `{"kind":"key_revoked","project":"<id>",
//! "key_id":"<id>","origin":"<process>"}`; it carries no secret (a key id is public).
//!
//! MySQL / MariaDB has no `NOTIFY`: the same events are rows of a platform table, written
//! in the change's transaction and polled by every process (`poll.rs`).
//!
//! SQLite is one process's database: there is nothing to invalidate across processes and
//! nothing is sent. A host whose connections cannot `LISTEN` (a transaction-mode pooler)
//! can carry the events another way and hand them to
//! [`Platform::apply_event`](super::Platform::apply_event).

use serde::{Deserialize, Serialize};

/// What changed (the `kind` of a [`PlatformEvent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A key was revoked: forget it.
    KeyRevoked,
    /// A key was rotated (it now expires): forget it.
    KeyRotated,
    /// A project was paused: forget its keys.
    ProjectPaused,
    /// A project was resumed: forget its keys.
    ProjectResumed,
    /// A project is being deleted or was deleted: forget its keys and its handle (a
    /// dedicated project's pool closes).
    ProjectDeleted,
    /// A new schema version was applied: reload the project's schema.
    SchemaApplied,
}

/// A change announced to the other processes of a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformEvent {
    /// What changed.
    pub kind: EventKind,
    /// The project.
    pub project: String,
    /// The key, for key events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The platform instance that sent it (it ignores its own events: it already applied
    /// them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// The channel name for a platform schema.
pub(super) fn channel(platform_schema: &str) -> String {
    let name = format!("{platform_schema}_events");
    if name.len() <= 63 {
        return name;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(platform_schema.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("easbase_events_{hex}")
}

#[cfg(feature = "postgres")]
pub(super) use listener::spawn;

#[cfg(feature = "postgres")]
mod listener {
    use std::future::poll_fn;
    use std::sync::Weak;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use easbase_schema::Dialect;
    use easbase_schema::ddl::quote_ident;
    use tokio::sync::mpsc;
    use tokio_postgres::{AsyncMessage, NoTls};

    use super::PlatformEvent;
    use crate::project::Inner;

    const BACKOFF_START: Duration = Duration::from_millis(100);
    const BACKOFF_MAX: Duration = Duration::from_secs(10);
    const HEARTBEAT: Duration = Duration::from_secs(30);
    const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Aborts a task when dropped.
    struct AbortOnDrop(tokio::task::JoinHandle<()>);

    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }

    /// Starts the listener of `inner`'s platform. The task holds only a weak reference:
    /// it ends when the platform is dropped (which also aborts it).
    pub(in crate::project) fn spawn(
        inner: Weak<Inner>,
        config: tokio_postgres::Config,
        channel: String,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run(inner, config, channel))
    }

    async fn run(inner: Weak<Inner>, config: tokio_postgres::Config, channel: String) {
        let mut backoff = BACKOFF_START;
        loop {
            match listen(&config, &channel).await {
                Ok((client, mut payloads, _driver)) => {
                    backoff = BACKOFF_START;
                    {
                        let Some(platform) = inner.upgrade() else { return };
                        // Whatever happened while nobody listened is unknown: start over.
                        platform.clear_caches();
                        platform.events.listening.store(true, Ordering::SeqCst);
                    }
                    tracing::debug!(channel = %channel, "listening for platform events");
                    let mut heartbeat = tokio::time::interval(HEARTBEAT);
                    heartbeat.tick().await;
                    loop {
                        tokio::select! {
                            payload = payloads.recv() => {
                                let Some(payload) = payload else { break };
                                let Some(platform) = inner.upgrade() else { return };
                                match serde_json::from_str::<PlatformEvent>(&payload) {
                                    Ok(event) => platform.apply_event_inner(&event, true),
                                    Err(_) => {
                                        tracing::warn!(channel = %channel, "unreadable platform event; clearing caches");
                                        platform.clear_caches();
                                    }
                                }
                            }
                            _ = heartbeat.tick() => {
                                let alive = tokio::time::timeout(HEARTBEAT_TIMEOUT, client.simple_query("select 1")).await;
                                if !matches!(alive, Ok(Ok(_))) {
                                    break;
                                }
                            }
                        }
                    }
                    if let Some(platform) = inner.upgrade() {
                        platform.events.listening.store(false, Ordering::SeqCst);
                    }
                    tracing::warn!(channel = %channel, "platform event connection lost; reconnecting");
                }
                Err(e) => {
                    // The error names the failure, never the connection string.
                    tracing::warn!(channel = %channel, error = %e, "cannot listen for platform events; retrying");
                }
            }
            if inner.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    type Listening = (tokio_postgres::Client, mpsc::UnboundedReceiver<String>, AbortOnDrop);

    /// Connects, drives the connection on its own task (forwarding notifications), and
    /// issues `LISTEN`.
    async fn listen(
        config: &tokio_postgres::Config,
        channel: &str,
    ) -> Result<Listening, tokio_postgres::Error> {
        let (client, mut connection) = config.connect(NoTls).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let driver = AbortOnDrop(tokio::spawn(async move {
            while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
        // The channel is derived from a validated identifier; quoted all the same.
        client.batch_execute(&format!("LISTEN {}", quote_ident(Dialect::Postgres, channel))).await?;
        Ok((client, rx, driver))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_fit_postgres_identifiers() {
        assert_eq!(channel("easbase"), "easbase_events");
        let long = channel(&"x".repeat(63));
        assert!(long.starts_with("easbase_events_") && long.len() <= 63, "{long}");
        assert_ne!(long, channel(&"y".repeat(63)));
    }

    #[test]
    fn payloads_round_trip() {
        let event = PlatformEvent {
            kind: EventKind::KeyRevoked,
            project: "p1".into(),
            key_id: Some("k1".into()),
            origin: None,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, r#"{"kind":"key_revoked","project":"p1","key_id":"k1"}"#);
        assert_eq!(serde_json::from_str::<PlatformEvent>(&json).unwrap(), event);
    }
}
