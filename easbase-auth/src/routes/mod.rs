//! The GoTrue-compatible routes of [`AuthService`](crate::AuthService), one file per
//! route group, each a thin mapping of a request onto a flow of [`ProjectAuth`]:
//!
//! | file | routes |
//! |---|---|
//! | `signup.rs` | `POST /signup` (email or phone + password, or anonymous without either) |
//! | `token.rs` | `POST /token?grant_type=password\|refresh_token\|pkce` |
//! | `logout.rs` | `POST /logout?scope=global\|local\|others` |
//! | `user.rs` | `GET /user`, `PUT /user` |
//! | `recover.rs` | `POST /recover` |
//! | `verify.rs` | `POST /verify` (JSON: link token or code → session), `GET /verify` (link → page → redirect with tokens or a PKCE code) |
//! | `otp.rs` | `POST /otp` (magic link, email or SMS code), `POST /resend` |
//! | `admin.rs` | `/admin/users` (list, create, get, update, delete), `/admin/generate_link`, with the secret key |
//! | `delivery.rs` | sending tokens: the link, the templates, the mailer / SMS sender, the per-recipient limits |
//! | `settings.rs` | `GET /settings`, `GET /health` |
//! | `factors.rs` | `POST /factors`, `POST /factors/{id}/challenge`, `POST /factors/{id}/verify`, `DELETE /factors/{id}`, `/factors/recovery-codes…` (MFA) |
//! | `jwks.rs` | `GET /.well-known/jwks.json` |
//! | `oauth.rs` | `GET /authorize`, `GET /callback`, `GET /user/identities/authorize` (OAuth / OIDC providers, identity linking) |
//!
//! This module holds what they share: the request as the routes see it, error bodies in
//! GoTrue's two shapes, query and form decoding, and the redirect allow-list.

pub(crate) mod admin;
pub(crate) mod delivery;
pub(crate) mod factors;
pub(crate) mod jwks;
pub(crate) mod logout;
pub(crate) mod oauth;
pub(crate) mod otp;
pub(crate) mod recover;
pub(crate) mod settings;
pub(crate) mod signup;
pub(crate) mod token;
pub(crate) mod user;
pub(crate) mod verify;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::ProjectAuth;
use crate::error::AuthError;
use crate::service::AuthServiceConfig;
use easbase_core::context::RequestContext;
use easbase_core::schema::Role;

/// The request header auth-js sends to ask for GoTrue's 2024-01-01 error shape.
pub(crate) const API_VERSION_HEADER: &str = "x-supabase-api-version";

/// What a route gets: the project's auth handle, the resolved context, the request.
pub(crate) struct Call<'a> {
    pub(crate) platform: &'a easbase_core::project::Platform,
    /// The client's IP, when the host tells it (for rate limits).
    pub(crate) ip: Option<std::net::IpAddr>,
    pub(crate) auth: ProjectAuth,
    pub(crate) ctx: RequestContext,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a Bytes,
    pub(crate) config: &'a AuthServiceConfig,
}

impl Call<'_> {
    /// The first value of query parameter `name`.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        query_value(&self.query, name)
    }

    /// The allow-listed `redirect_to` query parameter, or the site URL.
    pub(crate) fn redirect_to(&self) -> Option<String> {
        Some(self.allowed_redirect(self.query("redirect_to")))
    }

    /// `redirect_to` if the project's allow-list (its settings' list, else the
    /// service's) or the site URL's origin allows it, else the site URL.
    pub(crate) fn allowed_redirect(&self, redirect_to: Option<&str>) -> String {
        let list = self.auth.redirect_urls().unwrap_or(&self.config.redirect_urls);
        allowed_redirect(&self.auth.config().site_url, list, redirect_to)
    }

    /// The body as JSON of type `T` (GoTrue's `bad_json` when it is not).
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(self.body).map_err(|e| {
            ApiError::http(
                400,
                "bad_json",
                format!("Could not parse request body as JSON: {}", e.classify_msg()),
            )
        })
    }

    /// The user's context: a user's access token is required (GoTrue's 401
    /// `no_authorization` without one).
    pub(crate) fn user_ctx(&self) -> Result<&RequestContext, ApiError> {
        if self.ctx.role() != Role::Authenticated || self.ctx.uid().is_none() {
            return Err(ApiError::http(401, "no_authorization", "This endpoint requires a Bearer token"));
        }
        Ok(&self.ctx)
    }
}

/// A serde_json error's category, without echoing the input (which may hold a password).
trait ClassifyMsg {
    fn classify_msg(&self) -> String;
}

impl ClassifyMsg for serde_json::Error {
    fn classify_msg(&self) -> String {
        use serde_json::error::Category;
        match self.classify() {
            Category::Io => "could not read the body".into(),
            Category::Syntax => format!("invalid JSON at line {} column {}", self.line(), self.column()),
            Category::Eof => "unexpected end of input".into(),
            // Type errors name the field and the expected type, never the value.
            Category::Data => self.to_string(),
        }
    }
}

/// A route's failure, rendered as GoTrue renders it.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A flow's error: status and code from [`AuthError::status`] / [`AuthError::code`].
    Auth(AuthError),
    /// An HTTP-level error (no route, bad JSON, body too large, missing credentials).
    Http { status: u16, code: &'static str, msg: String },
    /// GoTrue's OAuth-shaped error of `/token` (`{error, error_description}`, 400).
    OAuth { error: &'static str, description: String },
    /// The project's plan allows no more requests this minute (easbase-core's
    /// `Error::RateLimited`): 429 `over_request_rate_limit` with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        ApiError::Auth(e)
    }
}

impl ApiError {
    pub(crate) fn http(status: u16, code: &'static str, msg: impl Into<String>) -> ApiError {
        ApiError::Http { status, code, msg: msg.into() }
    }

    /// A failure of easbase-core's credential resolution: every one a 401 at this
    /// gateway stage (as the REST engine answers), with GoTrue's codes where it has one.
    pub(crate) fn from_resolve(e: easbase_core::Error) -> ApiError {
        use easbase_core::Error as E;
        match e {
            E::MissingCredentials | E::MissingApiKey => {
                ApiError::http(401, "no_api_key", "No API key found in request")
            }
            E::InvalidApiKey => ApiError::http(401, "invalid_api_key", "Invalid API key"),
            E::InvalidToken(detail) => ApiError::http(401, "bad_jwt", format!("invalid JWT: {detail}")),
            E::ExpiredToken => ApiError::http(401, "bad_jwt", "invalid JWT: token is expired"),
            E::TokenNotYetValid => ApiError::http(401, "bad_jwt", "invalid JWT: token is not valid yet"),
            E::ProjectPaused => ApiError::http(503, "project_paused", "The project is paused"),
            E::RateLimited { retry_after_secs, .. } => ApiError::RateLimited { retry_after_secs },
            other => ApiError::Auth(AuthError::Core(other)),
        }
    }

    fn status(&self) -> u16 {
        match self {
            ApiError::Auth(e) => e.status(),
            ApiError::Http { status, .. } => *status,
            ApiError::OAuth { .. } => 400,
            ApiError::RateLimited { .. } => AuthError::OverRequestRateLimit.status(),
        }
    }

    /// The response: `{code, error_code, msg}` (GoTrue's initial API version) or, when the
    /// request asked for API version 2024-01-01 or later, `{code, message}` with the
    /// version echoed, as GoTrue does. auth-js reads either.
    pub(crate) fn into_response(self, request_headers: &HeaderMap) -> Response<Bytes> {
        let status = self.status();
        if status >= 500 {
            // Messages never carry secrets (AuthError's contract); log the cause.
            tracing::error!(status, error = %self.message(), "auth request failed");
        }
        let versioned = api_version_2024(request_headers);
        let (code, msg, extra) = match &self {
            ApiError::OAuth { error, description } => {
                let body = json!({ "error": error, "error_description": description });
                return json_response(status, &body);
            }
            ApiError::Auth(e) => {
                let extra = match e {
                    AuthError::WeakPassword { reasons, .. } => Some(json!({ "reasons": reasons })),
                    _ => None,
                };
                let msg = match e {
                    AuthError::Core(_) | AuthError::Internal(_) | AuthError::Hook(_) => {
                        "Unexpected failure, please check server logs for more information".to_owned()
                    }
                    e => e.to_string(),
                };
                (e.code(), msg, extra)
            }
            ApiError::Http { code, msg, .. } => (*code, msg.clone(), None),
            ApiError::RateLimited { .. } => {
                let e = AuthError::OverRequestRateLimit;
                (e.code(), e.to_string(), None)
            }
        };
        let mut body = if versioned {
            json!({ "code": code, "message": msg })
        } else {
            json!({ "code": status, "error_code": code, "msg": msg })
        };
        if let (Some(extra), Some(obj)) = (extra, body.as_object_mut()) {
            obj.insert("weak_password".into(), extra);
        }
        let mut res = json_response(status, &body);
        if let ApiError::RateLimited { retry_after_secs } = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if versioned {
            res.headers_mut().insert(API_VERSION_HEADER, HeaderValue::from_static("2024-01-01"));
        }
        res
    }

    /// The machine-readable code (what request logs record).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(e) => e.code(),
            ApiError::Http { code, .. } => code,
            ApiError::OAuth { error, .. } => error,
            ApiError::RateLimited { .. } => AuthError::OverRequestRateLimit.code(),
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Auth(e) => e.to_string(),
            ApiError::Http { msg, .. } => msg.clone(),
            ApiError::OAuth { description, .. } => description.clone(),
            ApiError::RateLimited { .. } => AuthError::OverRequestRateLimit.to_string(),
        }
    }
}

/// Whether the request asked for GoTrue's API version 2024-01-01 or later.
fn api_version_2024(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(API_VERSION_HEADER).and_then(|v| v.to_str().ok()) else { return false };
    let v = v.trim();
    let well_formed = v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    well_formed && v >= "2024-01-01"
}

/// A JSON response.
pub(crate) fn json_response(status: u16, body: &impl Serialize) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = Response::new(Bytes::from(bytes));
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Token responses must not be cached by intermediaries.
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// An empty response with `status`.
pub(crate) fn empty_response(status: u16) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    res
}

/// The result of a route.
pub(crate) type RouteResult = Result<Response<Bytes>, ApiError>;

// ---- query strings and forms ----------------------------------------------------------

/// Decodes `application/x-www-form-urlencoded` text (a query string or a form body).
/// Malformed escapes are kept literally; invalid UTF-8 is replaced.
pub(crate) fn parse_form(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Whether the request body is a form (`application/x-www-form-urlencoded`).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// The first value of `name` in decoded pairs.
pub(crate) fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for an HTML attribute or element.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ---- redirects ----------------------------------------------------------------------

/// `scheme://authority` of an absolute http(s) URL, lower-cased; `None` for anything
/// else (relative URLs, other schemes, user info — `https://app@evil.example` —, control
/// characters or backslashes, which browsers treat unpredictably).
fn origin(url: &str) -> Option<String> {
    if url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Where a verification link may send the browser: `redirect_to` when it has the site
/// URL's origin or matches an entry of the allow-list (exactly, or by prefix for an
/// entry ending in `*` — `https://app.example/**` — whose origin it shares); otherwise
/// the site URL. Any fragment of the target is dropped (the tokens go there).
pub(crate) fn allowed_redirect(site_url: &str, allow_list: &[String], redirect_to: Option<&str>) -> String {
    let strip = |u: &str| u.split('#').next().unwrap_or("").to_owned();
    let Some(target) = redirect_to.map(str::trim).filter(|t| !t.is_empty()) else {
        return strip(site_url);
    };
    let Some(target_origin) = origin(target) else { return strip(site_url) };
    let allowed = origin(site_url).as_deref() == Some(target_origin.as_str())
        || allow_list.iter().any(|entry| match entry.strip_suffix('*') {
            Some(prefix) => {
                let prefix = prefix.trim_end_matches('*');
                origin(prefix).as_deref() == Some(target_origin.as_str()) && target.starts_with(prefix)
            }
            None => entry == target,
        });
    if allowed { strip(target) } else { strip(site_url) }
}

/// A `303 See Other` to `location`.
pub(crate) fn redirect(location: &str) -> Response<Bytes> {
    let mut res = empty_response(303);
    match HeaderValue::from_str(location) {
        Ok(v) => {
            res.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *res.status_mut() = StatusCode::BAD_REQUEST,
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let pairs = parse_form("a=1&b=x%20y+z&c=%zz&d&e=%E2%9C%93&f=%4");
        assert_eq!(query_value(&pairs, "a"), Some("1"));
        assert_eq!(query_value(&pairs, "b"), Some("x y z"));
        assert_eq!(query_value(&pairs, "c"), Some("%zz"));
        assert_eq!(query_value(&pairs, "d"), Some(""));
        assert_eq!(query_value(&pairs, "e"), Some("✓"));
        assert_eq!(query_value(&pairs, "f"), Some("%4"));
        assert_eq!(percent_encode("a b/✓"), "a%20b%2F%E2%9C%93");
    }

    #[test]
    fn redirects_are_allow_listed() {
        let site = "http://app.test";
        let list = vec!["https://other.test/cb".to_owned(), "https://wild.test/app/**".to_owned()];
        let go = |t: &str| allowed_redirect(site, &list, Some(t));
        assert_eq!(go("http://app.test/welcome?x=1#frag"), "http://app.test/welcome?x=1");
        assert_eq!(go("HTTP://APP.TEST/x"), "HTTP://APP.TEST/x");
        assert_eq!(go("https://other.test/cb"), "https://other.test/cb");
        assert_eq!(go("https://other.test/cb2"), site);
        assert_eq!(go("https://wild.test/app/deep/x"), "https://wild.test/app/deep/x");
        assert_eq!(go("https://wild.test/other"), site);
        assert_eq!(go("http://app.test@evil.test/"), site);
        assert_eq!(go("http://app.test.evil.test/"), site);
        assert_eq!(go("//evil.test"), site);
        assert_eq!(go("javascript:alert(1)"), site);
        assert_eq!(go("http://app.test\\@evil.test"), site);
        assert_eq!(allowed_redirect(site, &list, None), site);
    }

    #[test]
    fn api_versions() {
        let mut h = HeaderMap::new();
        assert!(!api_version_2024(&h));
        h.insert(API_VERSION_HEADER, HeaderValue::from_static("2024-01-01"));
        assert!(api_version_2024(&h));
        h.insert(API_VERSION_HEADER, HeaderValue::from_static("2023-12-31"));
        assert!(!api_version_2024(&h));
        h.insert(API_VERSION_HEADER, HeaderValue::from_static("banana"));
        assert!(!api_version_2024(&h));
    }
}

/// The body of `POST /signup` and `PUT /user`: GoTrue takes the same fields for both.
#[derive(Deserialize)]
pub(crate) struct UserBody {
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) phone: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default)]
    pub(crate) data: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) nonce: Option<String>,
    #[serde(default)]
    pub(crate) code_challenge: Option<String>,
    #[serde(default)]
    pub(crate) code_challenge_method: Option<String>,
}
