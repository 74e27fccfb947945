//! Stage 1 of the pipeline: an HTTP request → [`ApiRequest`], the client's *intent*.
//!
//! This stage knows the PostgREST URL dialect and nothing else: no schema, no SQL, no
//! database. Names of tables, columns, functions and schemas stay raw strings; the plan
//! stage checks them. Everything malformed is refused here with PostgREST's error codes
//! (`PGRST1xx`), and every [`RequestLimits`] bound is enforced while parsing, so no input
//! can panic or exhaust the stack.
//!
//! Files: `query_params.rs` (the query string), `select.rs`, `filter.rs`, `order.rs`
//! (its grammars, over `syntax.rs`), `range.rs`, `preferences.rs`, `media_type.rs`,
//! `payload.rs` (the body), `pg_array.rs`, `limits.rs`, `types.rs` (the vocabulary).

mod filter;
mod limits;
mod media_type;
mod order;
mod payload;
mod pg_array;
mod preferences;
mod query_params;
mod range;
mod select;
mod syntax;
mod types;

use http::{HeaderMap, Method};

pub use self::limits::RequestLimits;
pub(crate) use self::limits::exceeded;
pub use self::media_type::{ContentType, MediaType};
pub use self::payload::Payload;
pub use self::pg_array::parse_array_literal;
pub use self::preferences::{Count, Handling, Missing, Preferences, Representation, Resolution, Transaction};
pub use self::query_params::QueryParams;
pub use self::types::*;

use crate::error::RestError;

/// What the client wants to do, from the method and the kind of path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// GET (`headers_only: false`) or HEAD (`true`) on a relation or the root.
    Read {
        /// HEAD: answer with headers (counts, ranges) and no body.
        headers_only: bool,
    },
    /// POST on a relation: insert (an upsert with `Prefer: resolution=…`).
    Create,
    /// PATCH: update the rows the filters select.
    Update,
    /// PUT: insert or replace one row, identified by `eq` filters on its key.
    Upsert,
    /// DELETE: delete the rows the filters select.
    Delete,
    /// A function call on `/rpc/{function}`.
    Call {
        /// GET/HEAD (arguments in the query string; the function must not write) vs POST.
        read_only: bool,
        /// HEAD.
        headers_only: bool,
    },
    /// OPTIONS: which methods the resource allows.
    Info,
}

/// The resource a request is about, from its path (after the mount point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/`: the schema itself (its OpenAPI description).
    Root,
    /// `/{relation}` or the convenience route `/{relation}/{key}`.
    Relation {
        /// The table or view name, percent-decoded.
        name: String,
        /// `/{relation}/{key}`: the row whose primary key equals `key`.
        key: Option<ByKey>,
    },
    /// `/rpc/{function}`.
    Function {
        /// The function name, percent-decoded.
        name: String,
    },
}

/// The `{key}` of `/{relation}/{key}`: a filter on the primary key, whose column(s) the
/// plan stage resolves from the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByKey(pub String);

/// The client's intent: what [`api_request`] makes of one HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// What to do.
    pub action: Action,
    /// To what.
    pub target: Target,
    /// `Accept-Profile` (GET, HEAD, OPTIONS) or `Content-Profile` (POST, PUT, PATCH,
    /// DELETE): the schema the client picked, if it picked one.
    pub profile: Option<String>,
    /// The parsed query string.
    pub query: QueryParams,
    /// The root's window: `limit`/`offset` intersected with the `Range` header (GET).
    pub range: Range,
    /// The `Prefer` headers.
    pub preferences: Preferences,
    /// The negotiated response media type.
    pub accept: MediaType,
    /// The body's media type (JSON when absent; meaningful only with a payload).
    pub content_type: ContentType,
    /// The parsed body, for POST, PUT, PATCH and RPC POST; `None` otherwise.
    pub payload: Option<Payload>,
    /// The columns a write uses: `columns=` if given, else the body's keys (sorted).
    pub columns: Vec<String>,
}

/// Parses one HTTP request into an [`ApiRequest`].
///
/// `path` is the part after the mount point (`/products`, `/products/42`, `/rpc/f`),
/// `query` the raw query string without `?`, `body` the whole body (hosts should bound
/// the read by `limits.max_body_bytes` too).
///
/// # Errors
/// A [`RestError`] with PostgREST's status and code for every malformed part:
/// PGRST100 (query string), PGRST101/PGRST117 (method), PGRST102 (body), PGRST103 (range),
/// PGRST107 (Accept), PGRST114 (limit on PUT), PGRST122 (strict preferences), PGRST125
/// (path), EB100–EB102 (limits and headers).
///
/// ```
/// use easbase_rest::request::{api_request, Action, RequestLimits, Target};
/// let req = api_request(
///     &http::Method::GET,
///     "/countries",
///     Some("select=id,name,cities(id,name)&id=eq.1&order=name.desc&offset=0&limit=10"),
///     &http::HeaderMap::new(),
///     b"",
///     &RequestLimits::default(),
/// )?;
/// assert_eq!(req.action, Action::Read { headers_only: false });
/// assert_eq!(req.target, Target::Relation { name: "countries".into(), key: None });
/// assert_eq!(req.query.filters.len(), 1);
/// assert_eq!(req.range.limit, Some(10));
/// # Ok::<(), easbase_rest::RestError>(())
/// ```
pub fn api_request(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    limits: &RequestLimits,
) -> Result<ApiRequest, RestError> {
    let query = query.unwrap_or("");
    if query.len() > limits.max_query_len {
        return Err(exceeded(
            "max_query_len",
            format!("A query string of {} bytes", query.len()),
            limits.max_query_len,
        ));
    }
    let target = target(path)?;
    let action = action(method, &target)?;
    let is_write = matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    let profile_header =
        http::HeaderName::from_static(if is_write { "content-profile" } else { "accept-profile" });
    let profile = match headers.get(profile_header) {
        None => None,
        Some(v) => Some(
            std::str::from_utf8(v.as_bytes())
                .map_err(|_| RestError::InvalidHeader {
                    name: if is_write { "Content-Profile" } else { "Accept-Profile" },
                    details: "it is not UTF-8".to_owned(),
                })?
                .trim()
                .to_owned(),
        ),
    };
    let preferences = Preferences::from_headers(headers)?;
    let accept = media_type::negotiate(headers.get(http::header::ACCEPT))?;

    let is_rpc_read = matches!(action, Action::Call { read_only: true, .. });
    let parsed = query_params::parse(query, is_rpc_read, limits)?;

    let header_range = if *method == Method::GET {
        headers.get(http::header::RANGE).and_then(|v| v.to_str().ok()).and_then(range::parse_range_header)
    } else {
        None
    };
    let range = range::top_level(header_range, parsed.root_limit, parsed.root_offset)?;
    if action == Action::Upsert && range != Range::ALL {
        return Err(RestError::PutLimitNotAllowed);
    }
    let query = parsed.params;

    let wants_body = matches!(
        action,
        Action::Create | Action::Update | Action::Upsert | Action::Call { read_only: false, .. }
    );
    let (content_type, payload) = if wants_body {
        if body.len() > limits.max_body_bytes {
            return Err(RestError::BodyTooLarge { size: body.len(), limit: limits.max_body_bytes });
        }
        let ct = media_type::content_type(headers.get(http::header::CONTENT_TYPE))?;
        let is_call = matches!(action, Action::Call { .. });
        let payload = payload::parse(body, &ct, is_call, query.columns.is_some())?;
        (ct, Some(payload))
    } else {
        (ContentType::Json, None)
    };
    let columns = match (&query.columns, &payload) {
        (Some(cols), _) => cols.clone(),
        (None, Some(p)) => p.keys(),
        (None, None) => Vec::new(),
    };

    Ok(ApiRequest {
        action,
        target,
        profile,
        query,
        range,
        preferences,
        accept,
        content_type,
        payload,
        columns,
    })
}

fn target(path: &str) -> Result<Target, RestError> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Ok(Target::Root);
    }
    let segments = trimmed
        .split('/')
        .map(|s| {
            let decoded = percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map_err(|_| RestError::InvalidResourcePath)?;
            if decoded.is_empty() { Err(RestError::InvalidResourcePath) } else { Ok(decoded.into_owned()) }
        })
        .collect::<Result<Vec<_>, _>>()?;
    match segments.as_slice() {
        [name] => Ok(Target::Relation { name: name.clone(), key: None }),
        [rpc, name] if rpc == "rpc" => Ok(Target::Function { name: name.clone() }),
        [name, key] => Ok(Target::Relation { name: name.clone(), key: Some(ByKey(key.clone())) }),
        _ => Err(RestError::InvalidResourcePath),
    }
}

fn action(method: &Method, target: &Target) -> Result<Action, RestError> {
    let unsupported =
        |details: Option<String>| RestError::UnsupportedMethod { method: method.to_string(), details };
    match target {
        Target::Function { .. } => match *method {
            Method::HEAD => Ok(Action::Call { read_only: true, headers_only: true }),
            Method::GET => Ok(Action::Call { read_only: true, headers_only: false }),
            Method::POST => Ok(Action::Call { read_only: false, headers_only: false }),
            Method::OPTIONS => Ok(Action::Info),
            _ => Err(RestError::InvalidRpcMethod { method: method.to_string() }),
        },
        Target::Root => match *method {
            Method::HEAD => Ok(Action::Read { headers_only: true }),
            Method::GET => Ok(Action::Read { headers_only: false }),
            Method::OPTIONS => Ok(Action::Info),
            _ => Err(unsupported(None)),
        },
        Target::Relation { key, .. } => match *method {
            Method::HEAD => Ok(Action::Read { headers_only: true }),
            Method::GET => Ok(Action::Read { headers_only: false }),
            Method::POST if key.is_some() => Err(unsupported(Some(
                "POST creates rows on /{table}, not on a row's route /{table}/{key}".to_owned(),
            ))),
            Method::POST => Ok(Action::Create),
            Method::PUT => Ok(Action::Upsert),
            Method::PATCH => Ok(Action::Update),
            Method::DELETE => Ok(Action::Delete),
            Method::OPTIONS => Ok(Action::Info),
            _ => Err(unsupported(None)),
        },
    }
}
