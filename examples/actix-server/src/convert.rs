//! actix-web's request and response types ↔ the `http` crate's, which EasBase's
//! services take and answer. actix-web 4 is built on `http` 0.2 and EasBase on `http` 1,
//! so names and values are copied as text and bytes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;

/// The `http::Request` of an actix request, with its path made relative to the mount
/// point (`/rest/v1/todos?x` → `/todos?x`).
pub(crate) fn to_http(
    req: &HttpRequest,
    path: &str,
    body: Bytes,
) -> Result<http::Request<Bytes>, http::Error> {
    let path = if path.is_empty() { "/" } else { path };
    let uri = match req.query_string() {
        "" => path.to_owned(),
        query => format!("{path}?{query}"),
    };
    let mut builder = http::Request::builder().method(req.method().as_str()).uri(uri);
    for (name, value) in req.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    builder.body(body)
}

/// The actix response of an `http::Response`, with the CORS headers a browser needs.
pub(crate) fn from_http(res: http::Response<Bytes>, req: &HttpRequest) -> HttpResponse {
    let (parts, body) = res.into_parts();
    let status = StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponseBuilder::new(status);
    for (name, value) in &parts.headers {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    cors(&mut out, req);
    out.body(body)
}

/// The answer to a CORS preflight: any origin, method and requested headers.
pub(crate) fn preflight(req: &HttpRequest) -> HttpResponse {
    let mut out = HttpResponse::NoContent();
    cors(&mut out, req);
    out.append_header(("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"));
    if let Some(headers) = req.headers().get("access-control-request-headers") {
        out.append_header(("access-control-allow-headers", headers.as_bytes()));
    }
    out.append_header(("access-control-max-age", "86400"));
    out.finish()
}

/// Allows the request's origin (or any) and exposes every header (supabase-js reads
/// `Content-Range` for counts).
fn cors(out: &mut HttpResponseBuilder, req: &HttpRequest) {
    let origin = req.headers().get("origin").map_or(&b"*"[..], |o| o.as_bytes());
    out.append_header(("access-control-allow-origin", origin));
    out.append_header(("access-control-expose-headers", "*"));
    out.append_header(("vary", "Origin"));
}
