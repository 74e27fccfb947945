//! `GET /`: the OpenAPI 3.1 document of the project's exposed tables
//! ([`easbase_codegen::openapi::document`]), with the project's REST URL as its server.

use bytes::Bytes;
use easbase_codegen::openapi::{self, OpenApiOptions};
use http::{HeaderValue, Response, header};
use serde_json::Value as Json;

use crate::error::RestError;
use crate::request::MediaType;
use crate::schema_cache::SchemaSnapshot;

/// The document for `snapshot`'s exposed tables: hidden tables (and `_easbase*` ones)
/// leave no path, parameter, schema or tag behind.
pub fn document(snapshot: &SchemaSnapshot, title: &str, server_url: &str) -> Json {
    let mut options = OpenApiOptions::new(title, "1.0.0");
    options.server_url = server_url.to_owned();
    let mut doc = openapi::document(snapshot.schema(), &options);
    let hidden: Vec<&str> = snapshot
        .schema()
        .tables()
        .iter()
        .map(|t| t.name.as_str())
        .filter(|name| snapshot.is_hidden(name))
        .collect();
    if hidden.is_empty() {
        return doc;
    }
    let is_hidden = |name: &str| hidden.contains(&name);
    if let Some(paths) = doc.get_mut("paths").and_then(Json::as_object_mut) {
        paths.retain(|path, _| !is_hidden(path.trim_start_matches('/').split('/').next().unwrap_or("")));
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Json::as_object_mut) {
        schemas.retain(|name, _| !is_hidden(name.split('.').next().unwrap_or("")));
    }
    if let Some(params) = doc.pointer_mut("/components/parameters").and_then(Json::as_object_mut) {
        params.retain(|name, _| {
            !name
                .strip_prefix("rowFilter.")
                .is_some_and(|rest| is_hidden(rest.split('.').next().unwrap_or("")))
        });
    }
    if let Some(tags) = doc.get_mut("tags").and_then(Json::as_array_mut) {
        tags.retain(|t| !t.get("name").and_then(Json::as_str).is_some_and(is_hidden));
    }
    doc
}

/// The root's answer: the document as `application/openapi+json` (the default), or 406
/// `PGRST107` for another media type.
pub(crate) fn respond(
    accept: MediaType,
    doc: &Json,
    headers_only: bool,
) -> Result<Response<Bytes>, RestError> {
    if !matches!(accept, MediaType::Json | MediaType::OpenApi) {
        return Err(RestError::MediaType { accepted: vec![accept.essence().to_owned()] });
    }
    let text = if headers_only { Bytes::new() } else { Bytes::from(doc.to_string()) };
    let mut res = Response::new(text);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/openapi+json; charset=utf-8"));
    Ok(res)
}
