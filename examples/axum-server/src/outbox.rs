//! `--mail-dir DIR`: a mailer and an SMS sender that write each message as a JSON file
//! (`DIR/000001-email.json`: `{kind, to, subject, text, html}`;
//! `DIR/000002-sms.json`: `{to, body}`), so a test can read what a user would receive.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use easbase_auth::mail::{EmailMessage, MailError, Mailer};
use easbase_auth::{SmsMessage, SmsSender};

/// Writes messages into a directory.
pub(crate) struct DirOutbox {
    dir: PathBuf,
    seq: AtomicU64,
}

impl DirOutbox {
    pub(crate) fn new(dir: PathBuf) -> std::io::Result<DirOutbox> {
        std::fs::create_dir_all(&dir)?;
        Ok(DirOutbox { dir, seq: AtomicU64::new(0) })
    }

    /// Writes `value` atomically (a temporary file renamed), so a reader never sees half.
    fn write(&self, what: &str, value: &serde_json::Value) -> std::io::Result<String> {
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let name = format!("{n:06}-{what}.json");
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, value.to_string())?;
        std::fs::rename(&tmp, self.dir.join(&name))?;
        Ok(name)
    }
}

#[async_trait]
impl Mailer for DirOutbox {
    async fn send(&self, m: EmailMessage) -> Result<(), MailError> {
        let value = serde_json::json!({
            "kind": m.kind.verify_type(), "to": m.to, "from": m.from,
            "subject": m.subject, "text": m.text, "html": m.html,
        });
        self.write("email", &value)
            .map(|_| ())
            .map_err(|e| MailError(format!("cannot write the message: {e}")))
    }
}

#[async_trait]
impl SmsSender for DirOutbox {
    async fn send(&self, m: SmsMessage) -> Result<String, String> {
        let value = serde_json::json!({ "to": m.to, "body": m.body });
        self.write("sms", &value).map_err(|e| format!("cannot write the message: {e}"))
    }
}
