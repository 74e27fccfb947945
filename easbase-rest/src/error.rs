//! `RestError`: every way a REST request can fail, grouped by the pipeline stage that
//! raises it, each with an HTTP status and a stable code.
//!
//! Codes follow PostgREST where PostgREST has one (`PGRST1xx` for the request stage), so a
//! client written against PostgREST (`@supabase/postgrest-js` shows `error.code`) sees the
//! same values. Conditions PostgREST has no code for get an EasBase code with the `EB`
//! prefix and the same hundreds per stage (`EB1xx` = request), so they can never collide
//! with a PGRST code PostgREST adds later. A code, once published, is never reused for
//! another meaning; retired codes stay in [`RestError::code`] as comments.
//!
//! Every error renders to PostgREST's body shape with [`RestError::to_body`]:
//! `{"code": …, "message": …, "details": …, "hint": …}` (absent parts are `null`).

use http::StatusCode;
use serde_json::{Value, json};

/// Why a `Range` header or `limit`/`offset` selection cannot be satisfied
/// (PostgREST's `RangeError`; all are `416 PGRST103`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeError {
    /// `limit` below zero.
    NegativeLimit,
    /// `Range: 10-5`: the lower bound is above the upper bound.
    LowerGtUpper,
    /// The `Range` header and `limit`/`offset` select no row in common
    /// (e.g. `Range: 0-1` with `offset=5`).
    Disjoint,
    /// With `Prefer: count=exact`, the offset is past the last row.
    OutOfBounds {
        /// The requested offset.
        offset: u64,
        /// How many rows there are.
        total: u64,
    },
}

/// A failed REST request: one enum for the whole crate, grouped by pipeline stage.
///
/// Only the request stage (`request/`) exists so far; the plan, SQL, execution and
/// response stages add their variants here as they are built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    // ---- request stage (`request/` → `ApiRequest`) -------------------------------------
    /// A query parameter does not parse (PGRST100). `message` names the parameter kind and
    /// its value with the position, as PostgREST does:
    /// `"failed to parse filter (bar)" (line 1, column 1)`; `details` says what was found
    /// and what was expected.
    #[error("{message}")]
    QueryParam {
        /// `"failed to parse <what> (<input>)" (line 1, column <n>)`.
        message: String,
        /// `unexpected "x" expecting …`.
        details: String,
    },
    /// A method other than GET, HEAD, POST or OPTIONS on `/rpc/{function}` (PGRST101).
    #[error("Cannot use the {method} method on RPC")]
    InvalidRpcMethod {
        /// The HTTP method used.
        method: String,
    },
    /// The body cannot be read as the content type says (PGRST102).
    #[error("{message}")]
    InvalidBody {
        /// PostgREST's sentence (`Empty or invalid json`, `All object keys must match`, …).
        message: String,
        /// The parser's own message (e.g. serde_json's, with line and column), if any.
        details: Option<String>,
    },
    /// The requested range cannot be satisfied (PGRST103, 416).
    #[error("Requested range not satisfiable")]
    InvalidRange(RangeError),
    /// No media type of the `Accept` header can be produced (PGRST107, 406).
    #[error("None of these media types are available: {}", .accepted.join(", "))]
    MediaType {
        /// The media types the client listed, in its order.
        accepted: Vec<String>,
    },
    /// `limit`/`offset` on a PUT (PGRST114).
    #[error("limit/offset querystring parameters are not allowed for PUT")]
    PutLimitNotAllowed,
    /// An HTTP method the resource does not support (PGRST117, 405).
    #[error("Unsupported HTTP method: {method}")]
    UnsupportedMethod {
        /// The HTTP method used.
        method: String,
        /// Why, when the method exists elsewhere (e.g. POST on a row route).
        details: Option<String>,
    },
    /// `Prefer: handling=strict` with preferences EasBase does not know (PGRST122).
    #[error("Invalid preferences given with handling=strict")]
    InvalidPreferences {
        /// The unknown preferences, as sent.
        invalid: Vec<String>,
    },
    /// A path that is neither `/`, `/{relation}`, `/{relation}/{key}` nor
    /// `/rpc/{function}` (PGRST125, 404).
    #[error("Invalid path specified in request URL")]
    InvalidResourcePath,
    /// A configured [`RequestLimits`](crate::request::RequestLimits) bound was exceeded
    /// (EB100, 400). The message names the limit.
    #[error("{message}")]
    LimitExceeded {
        /// The field of `RequestLimits` that was exceeded, e.g. `max_filters`.
        limit: &'static str,
        /// A sentence naming what was too large and the limit.
        message: String,
    },
    /// The body is larger than `RequestLimits::max_body_bytes` (EB101, 413).
    #[error("Request body of {size} bytes is larger than the limit max_body_bytes ({limit})")]
    BodyTooLarge {
        /// The body's size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A request header that cannot be read (not visible ASCII / UTF-8) (EB102, 400).
    #[error("The {name} header is not valid")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// What is wrong with it.
        details: String,
    },
    /// The project's plan allows no more requests this minute (EB103, 429, with a
    /// `Retry-After` header): easbase-core's `Error::RateLimited`. PostgREST has no code
    /// for it (it leaves rate limits to a proxy).
    #[error("Rate limit exceeded: the project's plan allows {limit} requests per minute")]
    RateLimited {
        /// The plan's requests per minute.
        limit: u64,
        /// Seconds until requests are admitted again (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// A create (POST, PUT) would take the project past its plan's `max_rows` (EB104, 403:
    /// the request is understood but the plan does not allow it; retrying does not help
    /// until rows are deleted or the plan changes). easbase-core's
    /// `Error::QuotaExceeded` for rows.
    #[error("Row limit exceeded: the project's plan allows {limit} rows")]
    RowQuotaExceeded {
        /// The plan's `max_rows`.
        limit: u64,
        /// The rows the project holds (as last counted, plus this process's writes since).
        rows: u64,
        /// The rows the request would add.
        adding: u64,
    },

    // ---- plan stage (`plan/` → `ActionPlan`) -------------------------------------------
    /// The table does not exist or is hidden from REST (PGRST205, 404).
    #[error("Could not find the table 'public.{table}' in the schema cache")]
    TableNotFound {
        /// The name as requested.
        table: String,
    },
    /// `Accept-Profile` / `Content-Profile` names a schema that is not exposed (PGRST106,
    /// 406). A project exposes `public` and its named schemas; the message lists them as
    /// PostgREST does (`The schema must be one of the following: public, analytics`).
    #[error("The schema must be one of the following: {}", exposed.join(", "))]
    UnacceptableSchema {
        /// The schema asked for.
        schema: String,
        /// The schemas the project exposes, `public` first.
        exposed: Vec<String>,
    },
    /// No foreign key relates the two tables (PGRST200, 400).
    #[error("Could not find a relationship between '{parent}' and '{child}' in the schema cache")]
    NoRelationship {
        /// The table of the request.
        parent: String,
        /// The embedded name.
        child: String,
    },
    /// A filter, order or limit names an embedded resource the `select=` does not have
    /// (PGRST108, 400).
    #[error("'{name}' is not an embedded resource in this request")]
    NotEmbedded {
        /// The name used in the parameter.
        name: String,
    },
    /// More than one foreign key relates the two tables; `!hint` picks one (PGRST201, 300).
    #[error("Could not embed because more than one relationship was found for '{parent}' and '{child}'")]
    AmbiguousRelationship {
        /// The table of the request.
        parent: String,
        /// The embedded name.
        child: String,
    },
    /// `/rpc/{name}` names no registered function (PGRST202, 404).
    #[error("Could not find the function public.{name}({args}) in the schema cache")]
    FunctionNotFound {
        /// The function's name.
        name: String,
        /// The argument names given, comma-separated.
        args: String,
    },
    /// More than one database function of that name takes the given arguments
    /// (PGRST203, 300).
    #[error("Could not choose the best candidate function between the overloads of public.{name}")]
    AmbiguousFunction {
        /// The function's name.
        name: String,
    },
    /// A host function failed with its own status and code (see [`crate::rpc::RpcError`]).
    #[error("{message}")]
    Function {
        /// The status the function chose.
        status: StatusCode,
        /// Its code.
        code: String,
        /// Its message.
        message: String,
        /// Its details.
        details: Option<String>,
        /// Its hint.
        hint: Option<String>,
    },
    /// A filter on an embedded resource itself other than `is.null` / `not.is.null`
    /// (PGRST120, 400).
    #[error("Bad operator on the embedded resource")]
    EmbedFilter,
    /// `order=rel(col)` where `rel` is not a to-one embed of the same level (PGRST118, 400).
    #[error("A related order on '{child}' is not possible")]
    RelatedOrderNotToOne {
        /// The table ordered.
        parent: String,
        /// The embed named in `order=`.
        child: String,
    },
    /// `...rel(…)` on a to-many relationship (PGRST119, 400).
    #[error("A spread operation on '{child}' is not possible")]
    SpreadNotToOne {
        /// The parent table.
        parent: String,
        /// The spread relation.
        child: String,
    },
    /// `::type` naming a type that is not a cast target (EB202, 400).
    #[error("Casting to '{target}' is not supported")]
    InvalidCast {
        /// The type as written.
        target: String,
    },
    /// Something this engine cannot answer faithfully (EB203, 400): refused rather than
    /// answered differently from PostgreSQL.
    #[error("{what} is not supported on {engine}")]
    NotOnEngine {
        /// What was asked for.
        what: String,
        /// The engine (`SQLite`).
        engine: &'static str,
    },
    /// A column the request names does not exist (PostgreSQL's `42703`, 400).
    #[error("column {table}.{column} does not exist")]
    UnknownColumn {
        /// The table.
        table: String,
        /// The column as requested.
        column: String,
    },
    /// A value cannot be read as its column's type (PostgreSQL's `22P02`, 400).
    #[error("invalid input syntax for type {ty}: \"{value}\"")]
    InvalidValue {
        /// The column's type.
        ty: String,
        /// The value as sent.
        value: String,
    },
    /// A feature of the dialect EasBase does not implement yet (EB200, 400).
    #[error("{what} is not supported yet")]
    NotSupported {
        /// What was asked for.
        what: String,
    },
    /// `/{table}/{key}` on a table without a single-column primary key (EB201, 404).
    #[error("The table '{table}' has no single-column primary key to address rows by")]
    NoSingleKey {
        /// The table.
        table: String,
    },
    /// PUT whose filters are not exactly `eq` on every primary-key column (PGRST105, 405).
    #[error("Filters must include all and only primary key columns with 'eq' operators")]
    InvalidPutFilters,
    /// PUT whose body's key differs from the URL's (PGRST115, 400).
    #[error("Payload values do not match URL in primary key column(s)")]
    PutKeyMismatch,
    /// PATCH or DELETE without any filter, refused unless the host allows it (`21000`, 400,
    /// as pg-safeupdate answers on Supabase).
    #[error("{verb} requires a WHERE clause")]
    UnfilteredWrite {
        /// `UPDATE` or `DELETE`.
        verb: &'static str,
    },

    // ---- execution stage (`execute` → `DbResult`) ---------------------------------------
    /// The database refused the statement; mapped once by
    /// [`RestError::from_core`] (SQLSTATE → status, as PostgREST's `pgErrorStatus`).
    #[error("{message}")]
    Database {
        /// The HTTP status.
        status: StatusCode,
        /// The SQLSTATE (PostgreSQL's, also for SQLite's mapped codes).
        code: String,
        /// The database's message (generic for unexpected errors: nothing internal leaks).
        message: String,
    },
    /// The database cannot be reached (PGRST001, 503).
    #[error("Could not connect with the database")]
    Unavailable,
    /// No API key or token (PGRST302-like `EB300`, 401).
    #[error("No API key found in request")]
    MissingCredentials,
    /// The API key is unknown, malformed or revoked (EB301, 401).
    #[error("Invalid API key")]
    InvalidApiKey,
    /// The project is paused (EB302, 503: the service exists but does not serve now).
    #[error("The project is paused")]
    ProjectPaused,
    /// The JWT cannot be used (PGRST301, 401). The detail never contains the token.
    #[error("{0}")]
    InvalidJwt(String),
    /// The JWT has expired (PGRST303, 401).
    #[error("JWT expired")]
    ExpiredJwt,
    /// An unexpected failure; the details stay in the server (EB500, 500).
    #[error("Internal server error")]
    Internal,

    /// A write changed more rows than `Prefer: max-affected` allows with
    /// `handling=strict`; it was rolled back (PGRST124, 400).
    #[error("Query result exceeds max-affected preference constraint")]
    MaxAffected {
        /// How many rows it would have changed (`None`: more than the bound, count unknown).
        rows: Option<u64>,
        /// The bound.
        max: u64,
    },

    // ---- response stage (`respond/` → `http::Response`) ---------------------------------
    /// `Accept: application/vnd.pgrst.object+json` but not exactly one row (PGRST116, 406).
    #[error("JSON object requested, multiple (or no) rows returned")]
    NotSingular {
        /// How many rows the result has (`None`: more than one, count unknown).
        rows: Option<usize>,
    },
    /// The row route `/{table}/{key}` names no row the request may see (404, `PGRST116`
    /// with the details "The result contains 0 rows", as a single-object read of no row).
    #[error("JSON object requested, multiple (or no) rows returned")]
    RowNotFound,
}

impl RestError {
    /// The HTTP status of this error.
    ///
    /// ```
    /// use easbase_rest::RestError;
    /// assert_eq!(RestError::InvalidResourcePath.status(), http::StatusCode::NOT_FOUND);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    /// The stable error code: PostgREST's `PGRSTxxx` where it has one, else `EBxxx`.
    ///
    /// ```
    /// use easbase_rest::RestError;
    /// assert_eq!(RestError::PutLimitNotAllowed.code(), "PGRST114");
    /// ```
    pub fn code(&self) -> &str {
        self.status_and_code().1
    }

    /// The code table: one match, one arm per variant.
    fn status_and_code(&self) -> (StatusCode, &str) {
        match self {
            // PGRST0xx: connection to the database (not used by EasBase's request stage).
            // PGRST1xx: the request (PostgREST's ApiRequestError), same numbers and statuses.
            Self::QueryParam { .. } => (StatusCode::BAD_REQUEST, "PGRST100"),
            Self::InvalidRpcMethod { .. } => (StatusCode::METHOD_NOT_ALLOWED, "PGRST101"),
            Self::InvalidBody { .. } => (StatusCode::BAD_REQUEST, "PGRST102"),
            Self::InvalidRange(_) => (StatusCode::RANGE_NOT_SATISFIABLE, "PGRST103"),
            // PGRST104: retired by PostgREST (ParseRequestError), never reused.
            // PGRST105 (InvalidFilters, PUT): raised by the plan stage.
            Self::MediaType { .. } => (StatusCode::NOT_ACCEPTABLE, "PGRST107"),
            // PGRST108 (NotEmbedded): plan stage. PGRST109, PGRST110, PGRST113: retired.
            // PGRST111, PGRST112 (response GUCs): response stage.
            Self::PutLimitNotAllowed => (StatusCode::BAD_REQUEST, "PGRST114"),
            // PGRST115 (PUT key mismatch), PGRST116 (singular result): plan/response stages.
            Self::UnsupportedMethod { .. } => (StatusCode::METHOD_NOT_ALLOWED, "PGRST117"),
            // PGRST118, PGRST120, PGRST121, PGRST123, PGRST124: plan/response stages.
            Self::InvalidPreferences { .. } => (StatusCode::BAD_REQUEST, "PGRST122"),
            Self::InvalidResourcePath => (StatusCode::NOT_FOUND, "PGRST125"),
            // PGRST126 (OpenAPI disabled), PGRST127, PGRST128: later stages.
            // PGRST2xx: schema cache (plan stage). PGRST3xx: JWT (easbase-core).
            // EB1xx: EasBase's own request-stage codes, for what PostgREST has no code for.
            Self::LimitExceeded { .. } => (StatusCode::BAD_REQUEST, "EB100"),
            Self::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "EB101"),
            Self::InvalidHeader { .. } => (StatusCode::BAD_REQUEST, "EB102"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "EB103"),
            Self::RowQuotaExceeded { .. } => (StatusCode::FORBIDDEN, "EB104"),
            // PGRST2xx: schema cache (plan stage); PostgreSQL's own codes where PostgREST
            // passes the database's error through; EB2xx: EasBase's plan-stage codes.
            Self::UnacceptableSchema { .. } => (StatusCode::NOT_ACCEPTABLE, "PGRST106"),
            Self::NoRelationship { .. } => (StatusCode::BAD_REQUEST, "PGRST200"),
            Self::NotEmbedded { .. } => (StatusCode::BAD_REQUEST, "PGRST108"),
            Self::AmbiguousRelationship { .. } => (StatusCode::MULTIPLE_CHOICES, "PGRST201"),
            Self::TableNotFound { .. } => (StatusCode::NOT_FOUND, "PGRST205"),
            Self::UnknownColumn { .. } => (StatusCode::BAD_REQUEST, "42703"),
            Self::InvalidValue { .. } => (StatusCode::BAD_REQUEST, "22P02"),
            Self::NotSupported { .. } => (StatusCode::BAD_REQUEST, "EB200"),
            Self::NoSingleKey { .. } => (StatusCode::NOT_FOUND, "EB201"),
            Self::InvalidCast { .. } => (StatusCode::BAD_REQUEST, "EB202"),
            Self::NotOnEngine { .. } => (StatusCode::BAD_REQUEST, "EB203"),
            Self::RelatedOrderNotToOne { .. } => (StatusCode::BAD_REQUEST, "PGRST118"),
            Self::FunctionNotFound { .. } => (StatusCode::NOT_FOUND, "PGRST202"),
            Self::EmbedFilter => (StatusCode::BAD_REQUEST, "PGRST120"),
            Self::AmbiguousFunction { .. } => (StatusCode::MULTIPLE_CHOICES, "PGRST203"),
            Self::Function { status, code, .. } => (*status, code.as_str()),
            Self::SpreadNotToOne { .. } => (StatusCode::BAD_REQUEST, "PGRST119"),
            Self::UnfilteredWrite { .. } => (StatusCode::BAD_REQUEST, "21000"),
            Self::InvalidPutFilters => (StatusCode::METHOD_NOT_ALLOWED, "PGRST105"),
            Self::PutKeyMismatch => (StatusCode::BAD_REQUEST, "PGRST115"),
            // Execution: the SQLSTATE; PGRST0xx connection; PGRST3xx / EB3xx credentials.
            Self::Database { status, code, .. } => (*status, code.as_str()),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "PGRST001"),
            Self::MissingCredentials => (StatusCode::UNAUTHORIZED, "EB300"),
            Self::InvalidApiKey => (StatusCode::UNAUTHORIZED, "EB301"),
            Self::ProjectPaused => (StatusCode::SERVICE_UNAVAILABLE, "EB302"),
            Self::InvalidJwt(_) => (StatusCode::UNAUTHORIZED, "PGRST301"),
            Self::ExpiredJwt => (StatusCode::UNAUTHORIZED, "PGRST303"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "EB500"),
            Self::MaxAffected { .. } => (StatusCode::BAD_REQUEST, "PGRST124"),
            // Response stage.
            Self::NotSingular { .. } => (StatusCode::NOT_ACCEPTABLE, "PGRST116"),
            Self::RowNotFound => (StatusCode::NOT_FOUND, "PGRST116"),
        }
    }

    /// The seconds a client should wait before retrying (the `Retry-After` header), for
    /// the errors that say so ([`RestError::RateLimited`]).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs, .. } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The one-sentence message (the `message` of the body).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// More detail, when there is any (the `details` of the body).
    pub fn details(&self) -> Option<String> {
        match self {
            Self::QueryParam { details, .. } => Some(details.clone()),
            Self::InvalidBody { details, .. } => details.clone(),
            Self::InvalidRange(e) => Some(
                match e {
                    RangeError::NegativeLimit => "Limit should be greater than or equal to zero.".to_owned(),
                    RangeError::LowerGtUpper => {
                        "The lower boundary must be lower than or equal to the upper boundary in the Range header."
                            .to_owned()
                    }
                    RangeError::Disjoint => {
                        "The Range header and the limit/offset parameters select no rows in common.".to_owned()
                    }
                    RangeError::OutOfBounds { offset, total } => {
                        format!("An offset of {offset} was requested, but there are only {total} rows.")
                    }
                },
            ),
            Self::UnsupportedMethod { details, .. } => details.clone(),
            Self::InvalidPreferences { invalid } => {
                Some(format!("Invalid preferences: {}", invalid.join(", ")))
            }
            Self::InvalidHeader { details, .. } => Some(details.clone()),
            Self::NotSingular { rows: Some(rows) } => Some(format!("The result contains {rows} rows")),
            Self::NotSingular { rows: None } => Some("The result contains more than 1 rows".to_owned()),
            Self::RowNotFound => Some("The result contains 0 rows".to_owned()),
            Self::RowQuotaExceeded { rows, adding, .. } => {
                Some(format!("The project holds {rows} rows and the request adds {adding}"))
            }
            Self::Function { details, .. } => details.clone(),
            Self::MaxAffected { rows: Some(n), .. } => Some(format!("The query affects {n} rows")),
            Self::MaxAffected { rows: None, max } => Some(format!("The query affects more than {max} rows")),
            Self::RelatedOrderNotToOne { parent, child } | Self::SpreadNotToOne { parent, child } => {
                Some(format!("'{parent}' and '{child}' do not form a many-to-one or one-to-one relationship"))
            }
            Self::InvalidRpcMethod { .. }
            | Self::MediaType { .. }
            | Self::PutLimitNotAllowed
            | Self::InvalidResourcePath
            | Self::LimitExceeded { .. }
            | Self::BodyTooLarge { .. }
            | Self::RateLimited { .. }
            | Self::TableNotFound { .. }
            | Self::NoRelationship { .. }
            | Self::UnacceptableSchema { .. }
            | Self::NotEmbedded { .. }
            | Self::AmbiguousRelationship { .. }
            | Self::UnknownColumn { .. }
            | Self::InvalidValue { .. }
            | Self::NotSupported { .. }
            | Self::NoSingleKey { .. }
            | Self::InvalidCast { .. }
            | Self::NotOnEngine { .. }
            | Self::FunctionNotFound { .. }
            | Self::EmbedFilter
            | Self::AmbiguousFunction { .. }
            | Self::UnfilteredWrite { .. }
            | Self::InvalidPutFilters
            | Self::PutKeyMismatch
            | Self::Database { .. }
            | Self::Unavailable
            | Self::MissingCredentials
            | Self::InvalidApiKey
            | Self::ProjectPaused
            | Self::InvalidJwt(_)
            | Self::ExpiredJwt
            | Self::Internal => None,
        }
    }

    /// A suggestion for fixing the request, when there is one (the `hint` of the body).
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::LimitExceeded { limit, .. } => Some(format!(
                "The host sets {limit} in RequestLimits; split the request or ask for a higher limit."
            )),
            Self::BodyTooLarge { .. } => Some("Send fewer rows per request.".to_owned()),
            Self::RateLimited { retry_after_secs, .. } => {
                Some(format!("Retry after {retry_after_secs} seconds."))
            }
            Self::RowQuotaExceeded { .. } => {
                Some("Delete rows, or move the project to a plan with more rows.".to_owned())
            }
            Self::AmbiguousRelationship { .. } => Some(
                "Pick one with !hint: the foreign key's name or its column, e.g. table!fk_column(*)"
                    .to_owned(),
            ),
            Self::UnfilteredWrite { .. } => {
                Some("Add a filter (e.g. id=eq.1); the host may allow unfiltered writes.".to_owned())
            }
            Self::MissingCredentials => Some("Send the project's key in the apikey header.".to_owned()),
            Self::Function { hint, .. } => hint.clone(),
            Self::EmbedFilter => {
                Some("Only is null or not is null filters are allowed on embedded resources".to_owned())
            }
            Self::InvalidCast { .. } => Some(
                "Cast to text, smallint, integer, bigint, numeric, real, float8, boolean, json or jsonb"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// The response body in PostgREST's shape: `{code, message, details, hint}`.
    ///
    /// ```
    /// use easbase_rest::RestError;
    /// let body = RestError::InvalidResourcePath.to_body();
    /// assert_eq!(body["code"], "PGRST125");
    /// assert_eq!(body["message"], "Invalid path specified in request URL");
    /// assert!(body["details"].is_null() && body["hint"].is_null());
    /// ```
    pub fn to_body(&self) -> Value {
        json!({
            "code": self.code(),
            "message": self.message(),
            "details": self.details(),
            "hint": self.hint(),
        })
    }
}

impl RestError {
    /// Maps an easbase-core error to its REST error: **the one place** database errors
    /// become HTTP statuses (PostgREST's `pgErrorStatus`). `authenticated`: the request
    /// carried a user token (a permission error is then 403, else 401, as PostgREST does).
    ///
    /// | SQLSTATE | status |
    /// |---|---|
    /// | `23505` unique, `23503` foreign key | 409 |
    /// | `23502` not null, `23514` check, `22xxx` data | 400 |
    /// | `42501` permission / row policy | 401 anonymous, 403 authenticated |
    /// | `42P01` undefined table, `42883` undefined function | 404 |
    /// | `P0001` raised by a function | 400 |
    /// | `25006` a write in a read-only call | 405 |
    /// | `42703` undefined column, the rest of class `42` | 400 |
    /// | anything else | 500, with a generic message |
    ///
    /// ```
    /// use easbase_rest::RestError;
    /// let e = easbase_core::Error::Database { sqlstate: Some("2067".into()), message: "UNIQUE constraint failed".into() };
    /// let rest = RestError::from_core(&e, false);
    /// assert_eq!((rest.status().as_u16(), rest.code()), (409, "23505"));
    /// ```
    pub fn from_core(error: &easbase_core::Error, authenticated: bool) -> RestError {
        use easbase_core::Error as E;
        match error {
            E::Database { message, .. } => {
                let Some(code) = easbase_core::db::portable_sqlstate(error) else {
                    return RestError::Internal;
                };
                let status = match code {
                    "23505" | "23503" => StatusCode::CONFLICT,
                    "23502" | "23514" | "42703" | "21000" => StatusCode::BAD_REQUEST,
                    c if c.starts_with("22") => StatusCode::BAD_REQUEST,
                    "42501" if authenticated => StatusCode::FORBIDDEN,
                    "42501" => StatusCode::UNAUTHORIZED,
                    "42P01" | "42883" => StatusCode::NOT_FOUND,
                    // RAISE EXCEPTION in a function, as PostgREST answers it.
                    "P0001" => StatusCode::BAD_REQUEST,
                    // A write in a read-only transaction (a GET of a writing function).
                    "25006" => StatusCode::METHOD_NOT_ALLOWED,
                    // The rest of class 42 (e.g. 42704, an unknown text-search
                    // configuration) is the request's fault, as PostgREST answers.
                    c if c.starts_with("42") => StatusCode::BAD_REQUEST,
                    _ => return RestError::Internal,
                };
                RestError::Database { status, code: code.to_owned(), message: message.clone() }
            }
            E::Unavailable(_) => RestError::Unavailable,
            E::MissingCredentials | E::MissingApiKey => RestError::MissingCredentials,
            E::InvalidApiKey | E::ProjectNotFound(_) => RestError::InvalidApiKey,
            E::ProjectPaused => RestError::ProjectPaused,
            E::RateLimited { limit, retry_after_secs } => {
                RestError::RateLimited { limit: *limit, retry_after_secs: *retry_after_secs }
            }
            E::InvalidToken(detail) => RestError::InvalidJwt(format!("JWT invalid: {detail}")),
            E::ExpiredToken => RestError::ExpiredJwt,
            E::TokenNotYetValid => RestError::InvalidJwt("JWT not yet valid".to_owned()),
            _ => RestError::Internal,
        }
    }
}
