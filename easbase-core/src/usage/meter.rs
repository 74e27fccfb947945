//! What the HTTP layers report once per request: [`RequestOutcome`], recorded through
//! [`Platform::record_request`](crate::project::Platform::record_request) into the
//! platform's usage and log sinks (one `record` call each, no I/O).

use std::time::Duration;

use crate::context::RequestContext;
use crate::logs::RequestLog;
use crate::usage::UsageEvent;

/// One finished request of a resolved project, as an HTTP layer reports it.
///
/// `route` is the route's template (`/rest/v1/todos`, `/auth/v1/token`): few distinct
/// values, since each is a usage counter per minute; never a path with ids or a name the
/// client chose that does not exist. `path` is the request's path and query as received;
/// only the names of its query parameters are kept
/// ([`sanitize_path`](crate::logs::sanitize_path)), never their values (keys, tokens,
/// codes), and no header or body is ever read.
#[derive(Debug, Clone, Copy)]
pub struct RequestOutcome<'a> {
    /// The request's context (project, role, user id, request id).
    pub ctx: &'a RequestContext,
    /// The HTTP method.
    pub method: &'a str,
    /// The route template (the usage label's middle part).
    pub route: &'a str,
    /// The path with its query string, as received (sanitized before it is kept).
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// When the request arrived, Unix milliseconds ([`crate::logs::now_ms`]).
    pub started_ms: i64,
    /// How long it took.
    pub duration: Duration,
    /// The error code of a failed request (`PGRST205`, `invalid_credentials`, …).
    pub error_code: Option<&'a str>,
}

/// The methods kept as they are in usage labels; any other is `OTHER` (a client must not
/// be able to mint labels).
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// `method` upper-cased when it is a standard one, else `OTHER`.
pub(crate) fn method_label(method: &str) -> &'static str {
    METHODS.into_iter().find(|m| m.eq_ignore_ascii_case(method)).unwrap_or("OTHER")
}

impl RequestOutcome<'_> {
    /// The usage event: one request, label `"{METHOD} {route} {status}"`.
    pub fn usage_event(&self) -> UsageEvent {
        UsageEvent::request(self.ctx.project(), self.route, method_label(self.method), self.status)
            .at(self.started_ms.div_euclid(1000))
    }

    /// The request log entry (path sanitized; role, user id and request id from the
    /// context; no claims, keys or tokens).
    pub fn log(&self) -> RequestLog {
        let mut log = RequestLog::from_context(
            self.ctx,
            method_label(self.method),
            &crate::logs::sanitize_path(self.path),
            self.status,
            self.started_ms,
            self.duration,
        );
        log.error_code = self.error_code.map(str::to_owned);
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ProjectId;
    use easbase_schema::Role;

    #[test]
    fn outcomes_become_bounded_labels_and_clean_logs() {
        let ctx = RequestContext::new(ProjectId::new("acme").unwrap(), Role::Anon, Default::default(), None);
        let outcome = RequestOutcome {
            ctx: &ctx,
            method: "brew",
            route: "/rest/v1/todos",
            path: "/rest/v1/todos?apikey=eb_pk_x&select=id",
            status: 200,
            started_ms: 61_500,
            duration: Duration::from_millis(3),
            error_code: None,
        };
        let e = outcome.usage_event();
        assert_eq!((e.label.as_str(), e.at), ("OTHER /rest/v1/todos 200", 61));
        let log = RequestOutcome { method: "patch", ..outcome }.log();
        assert_eq!((log.method.as_str(), log.path.as_str()), ("PATCH", "/rest/v1/todos?apikey&select"));
        assert_eq!(log.request_id, ctx.request_id());
    }
}
