//! The top-level window of rows: the `Range` header (GET only) intersected with
//! `limit`/`offset`, by PostgREST's rules (`ApiRequest.getRanges`).

use crate::error::{RangeError, RestError};
use crate::request::syntax::Cursor;
use crate::request::types::Range;

/// A parsed `limit` value.
pub(crate) fn parse_limit(key: &str, value: &str) -> Result<u64, RestError> {
    if let Some(digits) = value.strip_prefix('-')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(RestError::InvalidRange(RangeError::NegativeLimit));
    }
    parse_count(key, value, "limit")
}

/// A parsed `offset` value.
pub(crate) fn parse_offset(key: &str, value: &str) -> Result<u64, RestError> {
    parse_count(key, value, "offset")
}

fn parse_count(key: &str, value: &str, what: &'static str) -> Result<u64, RestError> {
    if !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = value.parse::<u64>()
    {
        return Ok(n);
    }
    let c = Cursor::new(value, what);
    let at = value.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(value.len());
    Err(match c.fail_at(at, "a non-negative integer") {
        RestError::QueryParam { message, details } => RestError::QueryParam {
            message,
            details: if at == value.len() && !value.is_empty() {
                format!("{key}={value} is too large for a row count")
            } else {
                format!("{details} (in {key}={value})")
            },
        },
        other => other,
    })
}

/// `Range: 0-24` → `(0, Some(24))`; `Range: 10-` → `(10, None)`. Anything not of the form
/// `^[0-9]+-[0-9]*$` is ignored, as PostgREST does (RFC 9110 lets a server ignore Range).
pub(crate) fn parse_range_header(value: &str) -> Option<(u64, Option<u64>)> {
    let (lo, hi) = value.trim().split_once('-')?;
    if lo.is_empty() || !lo.bytes().all(|b| b.is_ascii_digit()) || !hi.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let lo = lo.parse().ok()?;
    let hi = if hi.is_empty() { None } else { Some(hi.parse().ok()?) };
    Some((lo, hi))
}

/// Combines the header window (GET only) with `limit`/`offset`.
///
/// `limit=0` wins over everything (zero rows, never an error). Otherwise the two windows
/// are intersected; an empty result is `416 PGRST103`.
pub(crate) fn top_level(
    header: Option<(u64, Option<u64>)>,
    limit: Option<u64>,
    offset: Option<u64>,
) -> Result<Range, RestError> {
    let offset = offset.unwrap_or(0);
    if limit == Some(0) {
        return Ok(Range { offset, limit: Some(0) });
    }
    // Inclusive [lower, upper] windows; `None` upper = unbounded.
    let query_upper = limit.map(|l| offset.saturating_add(l - 1));
    let (lower, upper) = match header {
        None => (offset, query_upper),
        Some((lo, hi)) => {
            if hi.is_some_and(|hi| hi < lo) {
                return Err(RestError::InvalidRange(RangeError::LowerGtUpper));
            }
            let upper = match (hi, query_upper) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            (lo.max(offset), upper)
        }
    };
    match upper {
        Some(u) if u < lower => Err(RestError::InvalidRange(RangeError::Disjoint)),
        Some(u) => Ok(Range { offset: lower, limit: Some(u - lower + 1) }),
        None => Ok(Range { offset: lower, limit: None }),
    }
}
