//! `Accept` → the [`MediaType`] to answer with; `Content-Type` → the [`ContentType`] of
//! the body.

use http::HeaderValue;

use crate::error::RestError;

/// The representation the response will have, negotiated from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json` (also chosen for `*/*`, `application/*` or no `Accept`).
    Json,
    /// `application/vnd.pgrst.array+json`, optionally `;nulls=stripped`.
    ArrayJson {
        /// Leave out keys whose value is null.
        strip_nulls: bool,
    },
    /// `application/vnd.pgrst.object+json`: exactly one row as an object (406 otherwise),
    /// optionally `;nulls=stripped`.
    SingleObject {
        /// Leave out keys whose value is null.
        strip_nulls: bool,
    },
    /// `text/csv`.
    Csv,
    /// `application/openapi+json`: the OpenAPI document (at the root only).
    OpenApi,
}

impl MediaType {
    /// The type's name (`application/json`, `text/csv`, …), without parameters.
    pub fn essence(&self) -> &'static str {
        match self {
            MediaType::Json => "application/json",
            MediaType::ArrayJson { .. } => "application/vnd.pgrst.array+json",
            MediaType::SingleObject { .. } => "application/vnd.pgrst.object+json",
            MediaType::Csv => "text/csv",
            MediaType::OpenApi => "application/openapi+json",
        }
    }
}

/// The media type of a request body, from `Content-Type` (JSON when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentType {
    /// `application/json`.
    Json,
    /// `text/csv`: a header line of column names, `NULL` for null.
    Csv,
    /// `application/x-www-form-urlencoded`.
    FormUrlEncoded,
    /// `text/plain` (functions with one unnamed text parameter).
    Text,
    /// `text/xml` (functions with one unnamed xml parameter).
    Xml,
    /// `application/octet-stream` (functions with one unnamed bytea parameter).
    OctetStream,
    /// Anything else, lower-cased without parameters.
    Other(String),
}

impl ContentType {
    /// The media type as written in a header.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv",
            Self::FormUrlEncoded => "application/x-www-form-urlencoded",
            Self::Text => "text/plain",
            Self::Xml => "text/xml",
            Self::OctetStream => "application/octet-stream",
            Self::Other(s) => s,
        }
    }
}

fn header_text<'a>(name: &'static str, value: &'a HeaderValue) -> Result<&'a str, RestError> {
    value.to_str().map_err(|_| RestError::InvalidHeader {
        name,
        details: "it contains characters other than visible ASCII".to_owned(),
    })
}

/// One `Accept` element: quality, lower-cased essence, parameters.
type AcceptItem = (f32, String, Vec<(String, String)>);

/// Splits `type/sub; a=b; q=0.5` into the lower-cased essence and its parameters.
fn split_media(item: &str) -> (String, Vec<(String, String)>) {
    let mut parts = item.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_owned()))
        })
        .collect();
    (essence, params)
}

/// Picks the response media type from `Accept`: the client's most preferred type (by
/// `q`, then order) that EasBase produces.
///
/// # Errors
/// `406 PGRST107` naming the client's types when none can be produced; `EB102` when the
/// header is not ASCII.
pub(crate) fn negotiate(accept: Option<&HeaderValue>) -> Result<MediaType, RestError> {
    let Some(accept) = accept else { return Ok(MediaType::Json) };
    let text = header_text("Accept", accept)?;
    if text.trim().is_empty() {
        return Ok(MediaType::Json);
    }
    let mut items: Vec<AcceptItem> = text
        .split(',')
        .filter(|i| !i.trim().is_empty())
        .map(|i| {
            let (essence, params) = split_media(i);
            let q =
                params.iter().find(|(k, _)| k == "q").and_then(|(_, v)| v.parse::<f32>().ok()).unwrap_or(1.0);
            (if q.is_finite() { q } else { 0.0 }, essence, params)
        })
        .collect();
    // Stable: equal q keeps the client's order.
    items.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (q, essence, params) in &items {
        if *q <= 0.0 {
            continue;
        }
        let strip = params.iter().any(|(k, v)| k == "nulls" && v == "stripped");
        let found = match essence.as_str() {
            "*/*" | "application/*" | "application/json" => Some(MediaType::Json),
            "application/vnd.pgrst.object+json" | "application/vnd.pgrst.object" => {
                Some(MediaType::SingleObject { strip_nulls: strip })
            }
            "application/vnd.pgrst.array+json" | "application/vnd.pgrst.array" => {
                Some(MediaType::ArrayJson { strip_nulls: strip })
            }
            "text/csv" => Some(MediaType::Csv),
            "application/openapi+json" => Some(MediaType::OpenApi),
            _ => None,
        };
        if let Some(m) = found {
            return Ok(m);
        }
    }
    Err(RestError::MediaType { accepted: items.into_iter().map(|(_, e, _)| e).collect() })
}

/// The body's media type from `Content-Type` (JSON when absent).
pub(crate) fn content_type(value: Option<&HeaderValue>) -> Result<ContentType, RestError> {
    let Some(value) = value else { return Ok(ContentType::Json) };
    let (essence, _) = split_media(header_text("Content-Type", value)?);
    Ok(match essence.as_str() {
        "" | "application/json" => ContentType::Json,
        "text/csv" => ContentType::Csv,
        "application/x-www-form-urlencoded" => ContentType::FormUrlEncoded,
        "text/plain" => ContentType::Text,
        "text/xml" => ContentType::Xml,
        "application/octet-stream" => ContentType::OctetStream,
        _ => ContentType::Other(essence),
    })
}
