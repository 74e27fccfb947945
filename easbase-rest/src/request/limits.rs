//! `RequestLimits`: the bounds a host puts on one request, checked while parsing.

use crate::error::RestError;

/// Bounds on one request, with safe defaults; exceeding one is a `400 EB100` naming the
/// limit (`413 EB101` for the body).
///
/// ```
/// use easbase_rest::request::RequestLimits;
/// let limits = RequestLimits { max_filters: 20, ..RequestLimits::default() };
/// assert_eq!(limits.max_body_bytes, 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    /// Largest body accepted, in bytes (default 1 MiB). Hosts should also bound the read.
    pub max_body_bytes: usize,
    /// Most filters per request: query-string filters plus every condition inside
    /// `or=`/`and=` trees (default 100).
    pub max_filters: usize,
    /// Deepest nesting of embedded resources in `select=` (default 8). Capped at 64.
    pub max_embed_depth: usize,
    /// Deepest nesting of `and(…)`/`or(…)` in a logic tree (default 8). Capped at 64.
    pub max_logic_depth: usize,
    /// Longest raw query string, in bytes (default 16 KiB).
    pub max_query_len: usize,
    /// Most elements in one `in.(…)` list or quantified array (default 1000).
    pub max_in_values: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_body_bytes: 1024 * 1024,
            max_filters: 100,
            max_embed_depth: 8,
            max_logic_depth: 8,
            max_query_len: 16 * 1024,
            max_in_values: 1000,
        }
    }
}

pub(crate) fn exceeded(limit: &'static str, what: impl std::fmt::Display, max: usize) -> RestError {
    RestError::LimitExceeded { limit, message: format!("{what} is more than the limit {limit} ({max})") }
}
