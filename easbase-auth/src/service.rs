//! The HTTP surface: [`AuthService`], GoTrue's (Supabase Auth's) routes over the flows,
//! for a host to mount at `/auth/v1` so `@supabase/auth-js` works unchanged. Like
//! easbase-rest's `RestService` it has a neutral `async fn handle(http::Request<Bytes>)`
//! and a `tower_service::Service` with `Error = Infallible` (every failure is a response).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use easbase_core::context::{ProjectId, RequestContext};
use easbase_core::project::Platform;
use easbase_core::usage::{RequestOutcome, UsageEvent};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use tracing::Instrument;

use crate::auth::Auth;
use crate::limits::ClientIp;
use crate::mail::MailSettings;
use crate::model::OneTimeToken;
use crate::routes::{self, ApiError, Call, RouteResult};
use crate::sms::SmsSettings;
use easbase_core::quota::{CounterStore, MemoryCounters};

/// Where the one-time tokens of sign-up confirmation, recovery and email change go (the
/// mailer of a later step implements it). `redirect_to` is already allow-listed.
///
/// Implementations must not log the token.
pub trait TokenOutbox: Send + Sync {
    /// Delivers `token` for `project`.
    fn deliver(&self, project: &ProjectId, token: OneTimeToken, redirect_to: Option<String>);
}

/// What `GET /verify` does (see [`AuthService`], "Email links").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyGetMode {
    /// Answer a page whose button posts the token: prefetching scanners do not burn it.
    #[default]
    ConfirmPage,
    /// Consume the token on GET and redirect at once (GoTrue's behavior).
    Redirect,
}

/// What a host configures.
#[derive(Clone)]
pub struct AuthServiceConfig {
    /// The largest request body read (default 64 KiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// URLs besides the site URL's origin that `redirect_to` may name: exact URLs, or
    /// prefixes ending in `*` (`https://app.example/**`).
    pub redirect_urls: Vec<String>,
    /// What `GET /verify` does.
    pub verify_get: VerifyGetMode,
    /// Also given every one-time token, after the mailer or SMS sender (for hosts that
    /// deliver tokens their own way, and tests).
    pub outbox: Option<Arc<dyn TokenOutbox>>,
    /// The mailer, sender and templates of emails (`None`: no email is sent; tokens
    /// only reach the [`outbox`](AuthServiceConfig::outbox)).
    pub mail: Option<MailSettings>,
    /// The SMS sender (`None`: phone sign-up and sign-in are refused with
    /// `phone_provider_disabled`).
    pub sms: Option<SmsSettings>,
    /// Where rate-limit counters are kept ([`AuthConfig::rate_limits`](crate::AuthConfig::rate_limits));
    /// default: this process's memory. Give every process of a platform the same store
    /// (easbase-core's `DbCounters` or `RedisCounters`) to share the counts.
    pub counters: Arc<dyn CounterStore>,
    /// A request header holding the client's IP (`x-forwarded-for`: its first entry),
    /// for per-IP limits. Set it only behind a proxy that overwrites the header; without
    /// it, the IP comes from a [`ClientIp`](crate::ClientIp) request extension, if any.
    pub client_ip_header: Option<String>,
    /// Send emails and SMS from a spawned task instead of before answering (default
    /// `false`). On, `/recover`, `/otp` and `/resend` take about as long for unknown
    /// accounts as for known ones, but a failed send is only logged (the caller gets
    /// `200` and no message).
    pub send_in_background: bool,
    /// Projects whose rate limits this process overrides (over their stored settings and
    /// [`AuthConfig::rate_limits`](crate::AuthConfig::rate_limits)).
    pub project_rate_limits: crate::limits::ProjectRateLimits,
    /// Where this service is reachable from a browser (GoTrue's `API_EXTERNAL_URL`,
    /// e.g. `https://api.example.com/auth/v1`), for the links in emails. `None`: the
    /// project's `api_url` followed by `/auth/v1`.
    pub external_url: Option<String>,
    /// OAuth / OIDC providers for `/authorize` and `/callback` (`None`: every provider
    /// is refused with `provider_disabled`).
    pub oauth: Option<Arc<crate::oauth::OAuthSettings>>,
    /// Where the host mounts the service (default `/auth/v1`): the prefix of the routes
    /// and paths recorded in usage counters and request logs.
    pub mount_path: String,
}

impl Default for AuthServiceConfig {
    fn default() -> AuthServiceConfig {
        AuthServiceConfig {
            max_body_bytes: 64 * 1024,
            redirect_urls: Vec::new(),
            verify_get: VerifyGetMode::default(),
            outbox: None,
            mail: None,
            sms: None,
            counters: Arc::new(MemoryCounters::default()),
            client_ip_header: None,
            send_in_background: false,
            project_rate_limits: crate::limits::ProjectRateLimits::default(),
            external_url: None,
            oauth: None,
            mount_path: "/auth/v1".to_owned(),
        }
    }
}

impl fmt::Debug for AuthServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServiceConfig")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("redirect_urls", &self.redirect_urls)
            .field("verify_get", &self.verify_get)
            .field("outbox", &self.outbox.is_some())
            .field("mail", &self.mail)
            .field("sms", &self.sms)
            .field("client_ip_header", &self.client_ip_header)
            .field("external_url", &self.external_url)
            .field("oauth", &self.oauth)
            .field("mount_path", &self.mount_path)
            .finish_non_exhaustive()
    }
}

/// The auth routes of a platform's projects (GoTrue's, for a host to mount at
/// `/auth/v1`). Cheap to clone.
///
/// | route | body / query | answer |
/// |---|---|---|
/// | `POST /signup` | `{email \| phone, password, data?, code_challenge?, code_challenge_method?}`; `{data?}` alone: anonymous | session, or the user when a confirmation is needed |
/// | `POST /token?grant_type=password` | `{email, password}` | session |
/// | `POST /token?grant_type=pkce` | `{auth_code, code_verifier}` | session |
/// | `POST /token?grant_type=refresh_token` | `{refresh_token}` | session |
/// | `POST /logout?scope=global\|local\|others` | — | 204 |
/// | `GET /user`, `PUT /user` | `{email?, password?, data?, nonce?}` | the user |
/// | `GET /reauthenticate` | — (the user's token) | `{}`; a code by email or SMS, the `nonce` of a password change |
/// | `POST /recover` | `{email, code_challenge?, code_challenge_method?}` | `{}` (known and unknown addresses alike) |
/// | `POST /otp` | `{email \| phone, create_user?, data?, code_challenge?, code_challenge_method?}` | `{}` (known and unknown alike) |
/// | `POST /resend` | `{type: signup \| email_change \| sms, email \| phone}` | `{}` |
/// | `POST /verify` | `{type, token_hash}` or `{type, token, email \| phone}` | session |
/// | `GET /verify` | `?token=…&type=…&redirect_to=…` | see "Email links" |
/// | `GET /settings`, `GET /health` | — | GoTrue's settings, a health body |
/// | `/admin/users…`, `POST /admin/generate_link`, `POST /invite` | secret key only | see `routes/admin.rs` |
///
/// ```
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use easbase_auth::{Auth, AuthConfig, AuthModule, AuthService, PasswordHashConfig};
/// use easbase_core::db::{Db, SqliteConfig};
/// use easbase_core::project::{CreateProject, Platform, PlatformConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = Db::open_sqlite(SqliteConfig::in_memory())?;
/// let platform =
///     Platform::open(db, PlatformConfig::new("http://localhost:8080"), vec![Arc::new(AuthModule::default())]).await?;
/// let key = platform.create_project("owner-1", "Shop", CreateProject::default()).await?.keys.unwrap().publishable.secret;
/// let config = AuthConfig {
///     autoconfirm: true,
///     password_hash: PasswordHashConfig::insecure_fast_for_tests(),
///     ..AuthConfig::new("http://localhost:3000")
/// };
/// let service = AuthService::new(platform, Arc::new(Auth::new(config, None)?));
///
/// let signup = http::Request::post("/signup")
///     .header("apikey", &key)
///     .body(Bytes::from(r#"{"email": "ada@example.com", "password": "correct horse battery"}"#))?;
/// let res = service.handle(signup).await;
/// assert_eq!(res.status(), 200);
/// let session: serde_json::Value = serde_json::from_slice(res.body())?;
/// assert_eq!(session["token_type"], "bearer");
/// # Ok(())
/// # }
/// ```
///
/// ## Credentials
///
/// Every route needs the project's API key (`apikey` header, or the key as the bearer
/// token): it names the project, through [`Platform::resolve`]. The user routes
/// (`GET`/`PUT /user`, `/logout`) also take the user's access token as
/// `Authorization: Bearer <jwt>`; the other routes ignore a bearer token when an
/// `apikey` header is present (auth-js may still send an expired one). Credential
/// failures are 401 (`no_api_key`, `invalid_api_key`, `bad_jwt`); a user route called
/// without a user token is 401 `no_authorization`, as in GoTrue. Because the link in an
/// email cannot carry headers, `GET /verify` (and the form its page posts) also take the
/// publishable key as an `apikey` query parameter (or form field).
///
/// ## Errors
///
/// GoTrue's bodies: `{"code": 400, "error_code": "invalid_credentials", "msg": "…"}`, or
/// `{"code": "invalid_credentials", "message": "…"}` when the request carries
/// `X-Supabase-Api-Version: 2024-01-01` or later (auth-js does; the header is echoed),
/// plus `weak_password.reasons` for `weak_password`. An unknown `grant_type` gets the
/// OAuth shape `{"error", "error_description"}`. Statuses and codes are
/// [`AuthError::status`](crate::AuthError::status) / [`AuthError::code`](crate::AuthError::code).
///
/// ## Email links
///
/// One-time tokens (confirmation, magic link, invite, recovery, email change) are mailed
/// through [`AuthServiceConfig::mail`] with the project's templates: a link
/// `{api}/auth/v1/verify?token=…&type=…&redirect_to=…&apikey=…` (the publishable key the
/// request came with; never the secret key) and a short code for `verifyOtp`. Phone codes
/// go through [`AuthServiceConfig::sms`]. Every token then also reaches the host's
/// [`TokenOutbox`], if set, with the allow-listed `redirect_to`.
///
/// `GET /verify` does **not** consume the token by default
/// ([`VerifyGetMode::ConfirmPage`]): it answers a small HTML page whose button posts the
/// same parameters back (`POST /verify` with a form body), and only that POST consumes
/// the token and answers `303 See Other` to the redirect with the session in the URL
/// fragment (`#access_token=…&refresh_token=…&type=signup`, GoTrue's implicit flow). So
/// an email scanner that prefetches links does not burn them. [`VerifyGetMode::Redirect`]
/// consumes on GET and redirects at once, exactly as GoTrue does, for hosts that accept
/// that risk. A token sent with a PKCE challenge redirects with `?code=…` instead, for
/// `POST /token?grant_type=pkce`.
///
/// ## Rate limits
///
/// `/signup`, `/otp`, `/recover`, `/resend`, `POST /verify`, `/token` (password and
/// PKCE grants), `/authorize`, `/user/identities/authorize` and `/callback` count
/// requests per client IP ([`AuthServiceConfig::client_ip_header`] or
/// a [`ClientIp`] extension); messages are limited per recipient and per project (see
/// [`RateLimits`](crate::RateLimits)), and failed password sign-ins per account, in
/// [`AuthServiceConfig::counters`].
///
/// ## Usage and logs
///
/// Every request whose project is known is recorded through the platform's sinks
/// ([`Platform::record_request`]): a usage counter `"{METHOD} {mount_path}{route}
/// {status}"` (the route without ids: `/token`, `/admin/users`, `/factors`), an auth event
/// of the flow it ran (`sign_up`, `sign_in_password`, `sign_in_pkce`, `sign_in_failed`,
/// `token_refresh`, `logout`, `user_updated`, `reauthentication_requested`,
/// `recovery_requested`, `otp_requested`, `resend_requested`, `verify`, `oauth_callback`,
/// `mfa_enroll`, `mfa_challenge`, `mfa_verify`, `mfa_unenroll`; see [`auth_event`]), and
/// a request log whose path keeps only the names of query parameters — never a key,
/// token, code or password, nor any header or body.
#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

struct Inner {
    platform: Platform,
    auth: Arc<Auth>,
    config: AuthServiceConfig,
}

impl fmt::Debug for AuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("auth", &self.inner.auth)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Which credentials a route needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The API key only (a bearer token is ignored when an `apikey` header is present).
    Key,
    /// The API key, also from the `apikey` query parameter (email links).
    KeyOrQuery,
    /// The API key and the user's token.
    User,
    /// The secret key (or a service-role token): the admin routes.
    Admin,
    /// What a browser navigation reaches (no headers): the API key if any (header or
    /// `apikey` query), else the project named by the OAuth `state` (`/callback`) or the
    /// OAuth settings' default project (`/authorize`).
    Browser,
}

/// The routes.
#[derive(Clone, Copy)]
enum Route {
    Signup,
    Token,
    Logout,
    GetUser,
    UpdateUser,
    Reauthenticate,
    Recover,
    VerifyGet,
    VerifyPost,
    Settings,
    Health,
    Otp,
    Resend,
    Admin,
    Factors,
    Jwks,
    Authorize,
    Callback,
    LinkIdentity,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl AuthService {
    /// A service over `platform`'s projects with the default [`AuthServiceConfig`].
    pub fn new(platform: Platform, auth: Arc<Auth>) -> AuthService {
        AuthService::with_config(platform, auth, AuthServiceConfig::default())
    }

    /// A service with `config`.
    pub fn with_config(platform: Platform, auth: Arc<Auth>, config: AuthServiceConfig) -> AuthService {
        AuthService { inner: Arc::new(Inner { platform, auth, config }) }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthServiceConfig {
        &self.inner.config
    }

    /// Answers one request. The URI's path is the part after the mount point (`/token`,
    /// `/user`). Never fails: errors are GoTrue-shaped responses. A body longer than
    /// [`AuthServiceConfig::max_body_bytes`] is refused with 413.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let span = easbase_core::logs::http_request_span("auth", request.method().as_str());
        let res = self.handle_metered(request).instrument(span.clone()).await;
        span.record("status", res.status().as_u16());
        res
    }

    /// [`AuthService::handle`] inside its request span: the answer, metered when the
    /// platform meters.
    async fn handle_metered(&self, request: Request<Bytes>) -> Response<Bytes> {
        let (parts, body) = request.into_parts();
        let platform = &self.inner.platform;
        if !platform.is_metering() {
            return match self.try_handle(&parts, &body, &mut None).await {
                Ok(res) => res,
                Err(e) => e.into_response(&parts.headers),
            };
        }
        let started = Instant::now();
        let started_ms = easbase_core::logs::now_ms();
        let mut ctx = None;
        let (res, error_code) = match self.try_handle(&parts, &body, &mut ctx).await {
            Ok(res) => (res, None),
            Err(e) => {
                let code = e.code();
                (e.into_response(&parts.headers), Some(code))
            }
        };
        let Some(ctx) = &ctx else { return res };
        let mount = self.inner.config.mount_path.trim_end_matches('/');
        let path = parts.uri.path();
        let route = format!("{mount}{}", route_label(path));
        let full_path = match parts.uri.query() {
            Some(q) => format!("{mount}{path}?{q}"),
            None => format!("{mount}{path}"),
        };
        let status = res.status().as_u16();
        platform.record_request(&RequestOutcome {
            ctx,
            method: parts.method.as_str(),
            route: &route,
            path: &full_path,
            status,
            started_ms,
            duration: started.elapsed(),
            error_code,
        });
        let grant_type = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("grant_type="))
                .map(|v| v.split('&').next().unwrap_or(v))
        });
        if let Some(kind) = auth_event(&parts.method, path, grant_type, status) {
            platform.record_usage(UsageEvent::auth(ctx.project(), kind).at(started_ms.div_euclid(1000)));
        }
        res
    }

    async fn try_handle(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        resolved: &mut Option<RequestContext>,
    ) -> RouteResult {
        let path = parts.uri.path();
        let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        let method = &parts.method;
        let (access, route) = match (path, method) {
            ("/signup", &Method::POST) => (Access::Key, Route::Signup),
            ("/token", &Method::POST) => (Access::Key, Route::Token),
            ("/logout", &Method::POST) => (Access::User, Route::Logout),
            ("/user", &Method::GET) => (Access::User, Route::GetUser),
            ("/user", &Method::PUT) => (Access::User, Route::UpdateUser),
            ("/reauthenticate", &Method::GET) => (Access::User, Route::Reauthenticate),
            ("/recover", &Method::POST) => (Access::Key, Route::Recover),
            ("/verify", &Method::GET) => (Access::KeyOrQuery, Route::VerifyGet),
            ("/verify", &Method::POST) => (Access::KeyOrQuery, Route::VerifyPost),
            ("/settings", &Method::GET) => (Access::Key, Route::Settings),
            ("/otp", &Method::POST) => (Access::Key, Route::Otp),
            ("/resend", &Method::POST) => (Access::Key, Route::Resend),
            (p, _) if p == "/admin" || p.starts_with("/admin/") || p == "/invite" => {
                (Access::Admin, Route::Admin)
            }
            (p, _) if routes::factors::is_factors_path(p) => (Access::User, Route::Factors),
            ("/.well-known/jwks.json", &Method::GET) => (Access::KeyOrQuery, Route::Jwks),
            ("/authorize", &Method::GET) => (Access::Browser, Route::Authorize),
            ("/user/identities/authorize", &Method::GET) => (Access::User, Route::LinkIdentity),
            ("/callback", &Method::GET) => (Access::Browser, Route::Callback),
            ("/health", &Method::GET) => (Access::Key, Route::Health),
            (
                "/signup" | "/token" | "/logout" | "/user" | "/reauthenticate" | "/recover" | "/verify"
                | "/settings" | "/health" | "/otp" | "/resend" | "/authorize" | "/callback",
                _,
            ) => {
                return Err(ApiError::http(405, "method_not_allowed", "Method Not Allowed"));
            }
            _ => return Err(ApiError::http(404, "not_found", "Not Found")),
        };
        let config = &self.inner.config;
        if body.len() > config.max_body_bytes {
            return Err(too_large(body.len(), config.max_body_bytes));
        }
        let query = routes::parse_form(parts.uri.query().unwrap_or(""));
        let headers = &parts.headers;
        let apikey = header(headers, "apikey");
        let authorization = header(headers, "authorization");
        // The `apikey` of an email link's query, or of the form its page posts.
        let form = match access {
            Access::KeyOrQuery if apikey.is_none() && routes::is_form(headers) => {
                routes::parse_form(&String::from_utf8_lossy(body))
            }
            _ => Vec::new(),
        };
        let (apikey, authorization) = match access {
            Access::User | Access::Admin => (apikey, authorization),
            Access::Key | Access::KeyOrQuery if apikey.is_some() => (apikey, None),
            Access::KeyOrQuery => {
                match routes::query_value(&query, "apikey").or_else(|| routes::query_value(&form, "apikey")) {
                    Some(key) => (Some(key), None),
                    None => (None, authorization),
                }
            }
            Access::Key => (None, authorization),
            Access::Browser => (apikey.or_else(|| routes::query_value(&query, "apikey")), None),
        };
        let platform = &self.inner.platform;
        let ctx = match route {
            Route::Callback => routes::oauth::keyless_context(platform, config, &query, true).await?,
            Route::Authorize if apikey.is_none() => {
                routes::oauth::keyless_context(platform, config, &query, false).await?
            }
            _ => platform
                .resolver()
                .resolve_headers(apikey, authorization, header(headers, "x-request-id"))
                .await
                .map_err(ApiError::from_resolve)?,
        };
        easbase_core::logs::record_context(&tracing::Span::current(), &ctx);
        // Known project from here on: metered, also when its plan's limit refuses it.
        if platform.is_metering() {
            *resolved = Some(ctx.clone());
        }
        let keyless =
            matches!(route, Route::Callback) || (matches!(route, Route::Authorize) && apikey.is_none());
        if !keyless {
            platform.admit(ctx.project()).await.map_err(ApiError::from_resolve)?;
        }
        let auth = self.inner.auth.project(platform, ctx.project()).await?;
        let ip = self.client_ip(parts);
        let limited = match route {
            Route::Signup => Some("signup"),
            Route::Otp => Some("otp"),
            Route::Recover => Some("recover"),
            Route::Resend => Some("resend"),
            Route::VerifyPost => Some("verify"),
            Route::Factors if path.ends_with("/verify") => Some("mfa_verify"),
            Route::Authorize | Route::LinkIdentity => Some("authorize"),
            Route::Callback => Some("callback"),
            Route::Token if routes::query_value(&query, "grant_type") != Some("refresh_token") => {
                Some("token")
            }
            _ => None,
        };
        if let Some(name) = limited {
            let limits = config.project_rate_limits.get(ctx.project(), &auth.config().rate_limits);
            crate::limits::check_ip(&*config.counters, &limits, ctx.project(), name, ip).await?;
        }
        let call = Call { platform, ip, auth, ctx, query, headers, body, config };
        match route {
            Route::Signup => routes::signup::signup(&call).await,
            Route::Token => routes::token::token(&call).await,
            Route::Logout => routes::logout::logout(&call).await,
            Route::GetUser => routes::user::get_user(&call).await,
            Route::UpdateUser => routes::user::update_user(&call).await,
            Route::Reauthenticate => routes::user::reauthenticate(&call).await,
            Route::Recover => routes::recover::recover(&call).await,
            Route::VerifyGet => routes::verify::verify_get(&call).await,
            Route::VerifyPost => routes::verify::verify_post(&call).await,
            Route::Settings => routes::settings::settings(&call),
            Route::Health => routes::settings::health(&call),
            Route::Otp => routes::otp::otp(&call).await,
            Route::Resend => routes::otp::resend(&call).await,
            Route::Admin => routes::admin::admin(&call, path, method).await,
            Route::Factors => routes::factors::factors(&call, path, method).await,
            Route::Jwks => routes::jwks::jwks(&call).await,
            Route::Authorize => routes::oauth::authorize(&call).await,
            Route::Callback => routes::oauth::callback(&call).await,
            Route::LinkIdentity => routes::oauth::link_identity(&call).await,
        }
    }
}

/// The route of `path` as metered: the path without ids (`/admin/users/{id}` →
/// `/admin/users`, `/factors/{id}/verify` → `/factors`); only known routes reach here.
fn route_label(path: &str) -> &'static str {
    const ROUTES: [&str; 18] = [
        "/signup",
        "/token",
        "/logout",
        "/user/identities/authorize",
        "/user",
        "/reauthenticate",
        "/recover",
        "/verify",
        "/settings",
        "/health",
        "/otp",
        "/resend",
        "/invite",
        "/admin/users",
        "/admin/generate_link",
        "/factors",
        "/.well-known/jwks.json",
        "/authorize",
    ];
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    if path == "/callback" {
        return "/callback";
    }
    ROUTES
        .into_iter()
        .find(|r| path == *r || path.strip_prefix(r).is_some_and(|rest| rest.starts_with('/')))
        .unwrap_or("/admin")
}

/// The auth event a finished request counts as (the usage label of
/// [`Metric::AuthEvents`](easbase_core::usage::Metric::AuthEvents)), from its method,
/// path (after the mount point), `grant_type` and status: flows that succeeded (status
/// below 400), and failed password sign-ins (`sign_in_failed`, any 4xx but 429). Routes
/// that answer alike for known and unknown accounts (`/recover`, `/otp`, `/resend`) count
/// as requested, not as sent.
///
/// ```
/// use easbase_auth::auth_event;
/// use http::Method;
/// assert_eq!(auth_event(&Method::POST, "/token", Some("refresh_token"), 200), Some("token_refresh"));
/// assert_eq!(auth_event(&Method::POST, "/token", Some("password"), 400), Some("sign_in_failed"));
/// assert_eq!(auth_event(&Method::POST, "/signup", None, 422), None);
/// assert_eq!(auth_event(&Method::GET, "/user", None, 200), None);
/// ```
pub fn auth_event(
    method: &Method,
    path: &str,
    grant_type: Option<&str>,
    status: u16,
) -> Option<&'static str> {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    if status >= 400 {
        let failed_sign_in = *method == Method::POST
            && path == "/token"
            && grant_type == Some("password")
            && status < 500
            && status != 429;
        return failed_sign_in.then_some("sign_in_failed");
    }
    let factors = path.strip_prefix("/factors");
    Some(match (method, path) {
        (&Method::POST, "/signup") => "sign_up",
        (&Method::POST, "/token") => match grant_type? {
            "password" => "sign_in_password",
            "pkce" => "sign_in_pkce",
            "refresh_token" => "token_refresh",
            _ => return None,
        },
        (&Method::POST, "/logout") => "logout",
        (&Method::PUT, "/user") => "user_updated",
        (&Method::GET, "/reauthenticate") => "reauthentication_requested",
        (&Method::POST, "/recover") => "recovery_requested",
        (&Method::POST, "/otp") => "otp_requested",
        (&Method::POST, "/resend") => "resend_requested",
        // A GET only consumes the token when it redirects (VerifyGetMode::Redirect).
        (&Method::POST, "/verify") => "verify",
        (&Method::GET, "/verify") if status == 303 => "verify",
        (&Method::GET, "/callback") => "oauth_callback",
        (&Method::POST, _) if factors == Some("") => "mfa_enroll",
        (&Method::POST, p) if factors.is_some() && p.ends_with("/challenge") => "mfa_challenge",
        (&Method::POST, p) if factors.is_some() && p.ends_with("/verify") => "mfa_verify",
        (&Method::DELETE, _) if factors.is_some_and(|f| f.len() > 1 && !f[1..].contains('/')) => {
            "mfa_unenroll"
        }
        _ => return None,
    })
}

impl AuthService {
    /// The client's IP: from the configured header, else from a [`ClientIp`] extension.
    fn client_ip(&self, parts: &http::request::Parts) -> Option<std::net::IpAddr> {
        if let Some(name) = &self.inner.config.client_ip_header {
            let first = header(&parts.headers, name).and_then(|v| v.split(',').next()).map(str::trim);
            if let Some(ip) = first.and_then(|v| v.parse().ok()) {
                return Some(ip);
            }
        }
        parts.extensions.get::<ClientIp>().map(|c| c.0)
    }
}

fn too_large(size: usize, limit: usize) -> ApiError {
    ApiError::http(
        413,
        "request_too_large",
        format!("The request body ({size} bytes) is larger than the limit of {limit} bytes"),
    )
}

impl<B> tower_service::Service<Request<B>> for AuthService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let limit = this.inner.config.max_body_bytes;
            let (parts, body) = request.into_parts();
            // A bounded read: at most `max_body_bytes` (+1 to tell "too large") are buffered.
            let res = match Limited::new(body, limit).collect().await {
                Ok(collected) => this.handle(Request::from_parts(parts, collected.to_bytes())).await,
                Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                    let size = header(&parts.headers, "content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(limit.saturating_add(1));
                    too_large(size, limit).into_response(&parts.headers)
                }
                Err(_) => ApiError::http(400, "bad_json", "The request body could not be read")
                    .into_response(&parts.headers),
            };
            Ok(res.map(Full::new))
        })
    }
}
