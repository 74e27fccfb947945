//! Stage 5 of the pipeline: the plan + [`DbResult`] → `http::Response<Bytes>`, with
//! PostgREST's statuses and headers: `Content-Range` on every read (`0-9/*`, `0-9/100`
//! with a count, `*/0` when empty), 206 for a partial range with a count, 416 past the
//! end, `Preference-Applied`, the single-object media type (406 `PGRST116` otherwise),
//! CSV; and every [`RestError`] as `{code, message, details, hint}`.
//!
//! Rows become JSON from their cells and the columns' types (`json.rs`): SQLite's 0/1 are
//! booleans for boolean columns, numeric text is a number, json columns are embedded as
//! JSON. (Faster path for later: build the body in the database, `json_agg` /
//! `json_group_array`, and pass its text through.)

mod json;
pub mod openapi;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::Value as Json;

use crate::error::{RangeError, RestError};
use crate::execute::DbResult;
use crate::plan::{ActionPlan, CrudPlan, Embed, Output};
use crate::request::{MediaType, Preferences, Representation};

/// The response to an error, in PostgREST's shape.
pub fn error_response(error: &RestError) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(error.to_body().to_string()));
    *res.status_mut() = error.status();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    if let Some(secs) = error.retry_after_secs() {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

/// The response to a successful execution.
///
/// # Errors
/// 406 `PGRST116` (single object requested, not one row), 416 `PGRST103` (offset past
/// the counted rows).
pub fn respond(
    plan: &ActionPlan,
    prefs: &Preferences,
    result: DbResult,
) -> Result<Response<Bytes>, RestError> {
    let table = plan.table();
    let mut applied = Vec::new();
    match &plan.crud {
        CrudPlan::Read(read) => {
            let n = result.main.rows.len() as u64;
            let offset = read.offset;
            let total = result.count;
            match (result.count.is_some(), result.count_kind) {
                (true, Some(crate::request::Count::Planned)) => applied.push("count=planned"),
                (true, Some(crate::request::Count::Estimated)) => applied.push("count=estimated"),
                (true, _) => applied.push("count=exact"),
                (false, _) => {}
            }
            let (range, status) = content_range(offset, n, total)?;
            if let Some(mut res) = plain_body(plan, read, &result)? {
                *res.status_mut() = status;
                set(&mut res, header::CONTENT_RANGE, &range);
                preference_applied(&mut res, &applied);
                return Ok(res);
            }
            let rows = json::rows_with_embeds(
                plan.snapshot(),
                table,
                &read.outputs,
                &read.embeds,
                &result.main.rows,
            );
            let mut res = body(plan.accept, rows, plan.headers_only)?;
            *res.status_mut() = status;
            set(&mut res, header::CONTENT_RANGE, &range);
            preference_applied(&mut res, &applied);
            Ok(res)
        }
        CrudPlan::Insert(i) => {
            if let (Some(r), false) = (prefs.resolution, i.put) {
                applied.push(match r {
                    crate::request::Resolution::MergeDuplicates => "resolution=merge-duplicates",
                    crate::request::Resolution::IgnoreDuplicates => "resolution=ignore-duplicates",
                });
            }
            if i.location {
                return Ok(location(plan, i.returning.as_deref().unwrap_or_default(), &result, applied));
            }
            let status = if i.put { StatusCode::OK } else { StatusCode::CREATED };
            write(plan, prefs, (&i.returning, &i.embeds), &result, status, applied)
        }
        CrudPlan::Update(u) => {
            write(plan, prefs, (&u.returning, &u.embeds), &result, StatusCode::OK, applied)
        }
        CrudPlan::Delete(d) => {
            write(plan, prefs, (&d.returning, &d.embeds), &result, StatusCode::OK, applied)
        }
    }
}

/// The answer to OPTIONS: 200 with the methods the resource allows in `Allow`, as
/// PostgREST answers it.
pub fn options(target: &crate::request::Target) -> Response<Bytes> {
    use crate::request::Target;
    let allow = match target {
        Target::Root => "OPTIONS,GET,HEAD",
        Target::Function { .. } => "OPTIONS,GET,HEAD,POST",
        Target::Relation { .. } => "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE",
    };
    let mut res = Response::new(Bytes::new());
    set(&mut res, header::ALLOW, allow);
    res
}

/// The response to a host function's answer (`/rpc/{name}`): rows shaped by the
/// request like a table's (with `Content-Range`, counts, 206 / 416, single object, CSV),
/// a scalar or an object as JSON, nothing as 204.
///
/// # Errors
/// Those of shaping the rows (unknown column 42703, …), 406 `PGRST116`, 416 `PGRST103`.
pub fn respond_rpc(
    req: &crate::request::ApiRequest,
    name: &str,
    output: crate::rpc::RpcOutput,
    max_rows: Option<u64>,
) -> Result<Response<Bytes>, RestError> {
    use crate::rpc::RpcOutput;
    let headers_only = matches!(req.action, crate::request::Action::Call { headers_only: true, .. });
    let json_body = |value: Json| {
        let mut res = Response::new(if headers_only { Bytes::new() } else { Bytes::from(value.to_string()) });
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        res
    };
    match output {
        RpcOutput::Void => {
            let mut res = Response::new(Bytes::new());
            *res.status_mut() = StatusCode::NO_CONTENT;
            Ok(res)
        }
        RpcOutput::Scalar(v) => Ok(json_body(v)),
        RpcOutput::Object(o) => Ok(json_body(Json::Object(o))),
        RpcOutput::Rows(rows) => {
            let shaped = crate::rpc::shape_rows(req, name, rows, max_rows)?;
            let n = shaped.rows.len() as u64;
            let offset = req.range.offset;
            let total = req.preferences.count.is_some().then_some(shaped.total);
            let (range, status) = content_range(offset, n, total)?;
            let mut res = body(req.accept, shaped.rows, headers_only)?;
            *res.status_mut() = status;
            set(&mut res, header::CONTENT_RANGE, &range);
            if total.is_some() {
                preference_applied(&mut res, &["count=exact"]);
            }
            Ok(res)
        }
    }
}

fn write(
    plan: &ActionPlan,
    prefs: &Preferences,
    (returning, embeds): (&Option<Vec<Output>>, &[Embed]),
    result: &DbResult,
    status_with_body: StatusCode,
    mut applied: Vec<&'static str>,
) -> Result<Response<Bytes>, RestError> {
    let affected = result.main.affected.max(result.main.rows.len() as u64);
    let mut res = match returning {
        Some(outputs) => {
            applied.push("return=representation");
            let rows =
                json::rows_with_embeds(plan.snapshot(), plan.table(), outputs, embeds, &result.main.rows);
            let mut res = body(plan.accept, rows, false)?;
            *res.status_mut() = status_with_body;
            res
        }
        None => {
            if prefs.representation == Some(Representation::Minimal) {
                applied.push("return=minimal");
            }
            if let MediaType::SingleObject { .. } = plan.accept
                && affected != 1
            {
                return Err(RestError::NotSingular { rows: Some(affected as usize) });
            }
            let mut res = Response::new(Bytes::new());
            *res.status_mut() = if status_with_body == StatusCode::CREATED {
                StatusCode::CREATED
            } else {
                StatusCode::NO_CONTENT
            };
            res
        }
    };
    set(&mut res, header::CONTENT_RANGE, &format!("*/{affected}"));
    preference_applied(&mut res, &applied);
    Ok(res)
}

/// `return=headers-only`: 201 with `Location: /{table}?{pk}=eq.{value}` and no body.
fn location(
    plan: &ActionPlan,
    key: &[Output],
    result: &DbResult,
    mut applied: Vec<&'static str>,
) -> Response<Bytes> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = StatusCode::CREATED;
    let rows = json::rows(plan.table(), key, &result.main.rows);
    if let Some(Json::Object(row)) = rows.first() {
        let query: Vec<String> = key
            .iter()
            .map(|o| {
                let v = match row.get(&o.key) {
                    Some(Json::String(s)) => s.clone(),
                    Some(Json::Null) | None => "null".to_owned(),
                    Some(other) => other.to_string(),
                };
                format!("{}=eq.{}", o.key, utf8_percent_encode(&v, NON_ALPHANUMERIC))
            })
            .collect();
        set(&mut res, header::LOCATION, &format!("/{}?{}", plan.table().name.as_str(), query.join("&")));
    }
    applied.push("return=headers-only");
    set(&mut res, header::CONTENT_RANGE, "*/*");
    preference_applied(&mut res, &applied);
    res
}

fn set(res: &mut Response<Bytes>, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().insert(name, v);
    }
}

fn preference_applied(res: &mut Response<Bytes>, applied: &[&str]) {
    if !applied.is_empty() {
        set(res, header::HeaderName::from_static("preference-applied"), &applied.join(", "));
    }
}

/// The common read — plain JSON (an array, or one object), no embeds — written straight
/// to bytes ([`json::rows_bytes`]); `None` for every other read.
///
/// # Errors
/// 406 `PGRST116` when one object is asked for and there is not one row.
fn plain_body(
    plan: &ActionPlan,
    read: &crate::plan::ReadPlan,
    result: &DbResult,
) -> Result<Option<Response<Bytes>>, RestError> {
    let (content_type, single) = match plan.accept {
        MediaType::Json => ("application/json; charset=utf-8", false),
        MediaType::SingleObject { strip_nulls: false } => {
            ("application/vnd.pgrst.object+json; charset=utf-8", true)
        }
        _ => return Ok(None),
    };
    if !read.embeds.is_empty() {
        return Ok(None);
    }
    let rows = &result.main.rows;
    if single && rows.len() != 1 {
        return Err(RestError::NotSingular { rows: Some(rows.len()) });
    }
    let Some(bytes) = json::rows_bytes(plan.table(), &read.outputs, rows, single) else { return Ok(None) };
    let mut res = Response::new(if plan.headers_only { Bytes::new() } else { Bytes::from(bytes) });
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(Some(res))
}

/// The body of rows in the negotiated media type.
fn body(accept: MediaType, mut rows: Vec<Json>, headers_only: bool) -> Result<Response<Bytes>, RestError> {
    let strip = |rows: &mut Vec<Json>| {
        for r in rows.iter_mut() {
            if let Json::Object(o) = r {
                o.retain(|_, v| !v.is_null());
            }
        }
    };
    let (content_type, text) = match accept {
        MediaType::Json => ("application/json; charset=utf-8", Json::Array(rows).to_string()),
        // Only the root answers OpenAPI (the plan refuses it elsewhere).
        MediaType::OpenApi => {
            return Err(RestError::MediaType { accepted: vec![accept.essence().to_owned()] });
        }
        MediaType::ArrayJson { strip_nulls } => {
            if strip_nulls {
                strip(&mut rows);
            }
            ("application/vnd.pgrst.array+json; charset=utf-8", Json::Array(rows).to_string())
        }
        MediaType::SingleObject { strip_nulls } => {
            if rows.len() != 1 {
                return Err(RestError::NotSingular { rows: Some(rows.len()) });
            }
            if strip_nulls {
                strip(&mut rows);
            }
            ("application/vnd.pgrst.object+json; charset=utf-8", rows.remove(0).to_string())
        }
        MediaType::Csv => ("text/csv; charset=utf-8", json::csv(&rows)),
    };
    let mut res = Response::new(if headers_only { Bytes::new() } else { Bytes::from(text) });
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(res)
}

/// A read's `Content-Range` (`0-24/100`, `*/0`, `5-9/*`) and status: 206 for part of a
/// counted total, 416 (`PGRST103`) for an offset past it.
fn content_range(offset: u64, n: u64, total: Option<u64>) -> Result<(String, StatusCode), RestError> {
    let range = match (n, total) {
        (0, Some(t)) => format!("*/{t}"),
        (0, None) => "*/*".to_owned(),
        (n, Some(t)) => format!("{offset}-{}/{t}", offset + n - 1),
        (n, None) => format!("{offset}-{}/*", offset + n - 1),
    };
    let status = match total {
        Some(t) if offset > t => {
            return Err(RestError::InvalidRange(RangeError::OutOfBounds { offset, total: t }));
        }
        Some(t) if n < t => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    Ok((range, status))
}
