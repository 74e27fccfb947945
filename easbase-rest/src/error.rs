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
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// The code table: one match, one arm per variant.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            // PGRST0xx: connection to the database (not used by EasBase's request stage).
            // PGRST1xx: the request (PostgREST's ApiRequestError), same numbers and statuses.
            Self::QueryParam { .. } => (StatusCode::BAD_REQUEST, "PGRST100"),
            Self::InvalidRpcMethod { .. } => (StatusCode::METHOD_NOT_ALLOWED, "PGRST101"),
            Self::InvalidBody { .. } => (StatusCode::BAD_REQUEST, "PGRST102"),
            Self::InvalidRange(_) => (StatusCode::RANGE_NOT_SATISFIABLE, "PGRST103"),
            // PGRST104: retired by PostgREST (ParseRequestError), never reused.
            // PGRST105 (InvalidFilters, PUT): raised by the plan stage.
            // PGRST106 (UnacceptableSchema): raised by the plan stage, which knows the schemas.
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
                    RangeError::NegativeLimit => "Limit should be greater than or equal to zero.",
                    RangeError::LowerGtUpper => {
                        "The lower boundary must be lower than or equal to the upper boundary in the Range header."
                    }
                    RangeError::Disjoint => {
                        "The Range header and the limit/offset parameters select no rows in common."
                    }
                }
                .to_owned(),
            ),
            Self::UnsupportedMethod { details, .. } => details.clone(),
            Self::InvalidPreferences { invalid } => {
                Some(format!("Invalid preferences: {}", invalid.join(", ")))
            }
            Self::InvalidHeader { details, .. } => Some(details.clone()),
            Self::InvalidRpcMethod { .. }
            | Self::MediaType { .. }
            | Self::PutLimitNotAllowed
            | Self::InvalidResourcePath
            | Self::LimitExceeded { .. }
            | Self::BodyTooLarge { .. } => None,
        }
    }

    /// A suggestion for fixing the request, when there is one (the `hint` of the body).
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::LimitExceeded { limit, .. } => Some(format!(
                "The host sets {limit} in RequestLimits; split the request or ask for a higher limit."
            )),
            Self::BodyTooLarge { .. } => Some("Send fewer rows per request.".to_owned()),
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
