//! The request body → [`Payload`], by its content type (PostgREST's `getPayload`).
//!
//! JSON: an object is one row (or a function's named arguments); an array of objects is a
//! bulk write whose objects must all have the same keys, unless `columns=` names the
//! columns (then keys outside `columns` are ignored and missing ones are null or default).
//! CSV: a header line, then rows; `NULL` is null. Form-urlencoded: one row of strings.
//! `text/plain`, `text/xml`, `application/octet-stream`: raw, for functions only.

use serde_json::{Map, Value};

use crate::error::RestError;
use crate::request::media_type::ContentType;
use crate::request::query_params::decode_component;

/// A parsed request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// One JSON object: one row, or a function's named arguments.
    Object(Map<String, Value>),
    /// An array of objects (possibly empty): a bulk insert or upsert, in one statement.
    Array(Vec<Map<String, Value>>),
    /// The raw body of a function call with one unnamed parameter.
    Raw {
        /// `text/plain`, `text/xml` or `application/octet-stream`.
        content_type: ContentType,
        /// The bytes as received.
        bytes: Vec<u8>,
    },
}

impl Payload {
    /// The keys of the (first) object, sorted; empty for raw bodies and empty arrays.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = match self {
            Payload::Object(o) => o.keys().cloned().collect(),
            Payload::Array(rows) => rows.first().map(|o| o.keys().cloned().collect()).unwrap_or_default(),
            Payload::Raw { .. } => Vec::new(),
        };
        keys.sort();
        keys
    }
}

fn invalid(message: &str, details: Option<String>) -> RestError {
    RestError::InvalidBody { message: message.to_owned(), details }
}

/// Parses `body`. `is_call`: a function call (empty body = no arguments; raw types ok).
/// `has_columns`: `columns=` was given (no key-uniformity check).
pub(crate) fn parse(
    body: &[u8],
    content_type: &ContentType,
    is_call: bool,
    has_columns: bool,
) -> Result<Payload, RestError> {
    match content_type {
        ContentType::Json => {
            if is_call && body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Payload::Object(Map::new()));
            }
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| invalid("Empty or invalid json", Some(e.to_string())))?;
            json_payload(value, has_columns)
        }
        ContentType::Csv => {
            let text = std::str::from_utf8(body)
                .map_err(|e| invalid("CSV body is not valid UTF-8", Some(e.to_string())))?;
            csv_payload(text)
        }
        ContentType::FormUrlEncoded => {
            let text = std::str::from_utf8(body)
                .map_err(|e| invalid("Form body is not valid UTF-8", Some(e.to_string())))?;
            let mut row = Map::new();
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = decode_component(k).map_err(|d| invalid("Invalid form body", Some(d)))?;
                let v = decode_component(v).map_err(|d| invalid("Invalid form body", Some(d)))?;
                row.insert(k.into_owned(), Value::String(v.into_owned()));
            }
            Ok(Payload::Object(row))
        }
        ContentType::Text | ContentType::Xml | ContentType::OctetStream if is_call => {
            Ok(Payload::Raw { content_type: content_type.clone(), bytes: body.to_vec() })
        }
        other => Err(invalid(&format!("Content-Type not acceptable: {}", other.as_str()), None)),
    }
}

fn json_payload(value: Value, has_columns: bool) -> Result<Payload, RestError> {
    match value {
        Value::Object(o) => Ok(Payload::Object(o)),
        Value::Array(items) => {
            let mut rows = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::Object(o) => rows.push(o),
                    other => {
                        return Err(invalid(
                            "All object keys must match",
                            Some(format!("element {i} of the array is {}, not an object", kind(&other))),
                        ));
                    }
                }
            }
            if !has_columns && let Some(first) = rows.first() {
                for (i, row) in rows.iter().enumerate().skip(1) {
                    if row.len() != first.len() || !row.keys().all(|k| first.contains_key(k)) {
                        return Err(invalid(
                            "All object keys must match",
                            Some(format!(
                                "object {i} has the keys {} but object 0 has {}; send columns= to allow this",
                                key_list(row),
                                key_list(first)
                            )),
                        ));
                    }
                }
            }
            Ok(Payload::Array(rows))
        }
        other => Err(invalid(
            "Empty or invalid json",
            Some(format!("the body is {}; send an object or an array of objects", kind(&other))),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn key_list(o: &Map<String, Value>) -> String {
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    keys.sort_unstable();
    format!("({})", keys.join(", "))
}

/// RFC 4180 CSV: fields separated by commas, records by CRLF or LF, `"` quotes with `""`
/// for a quote. The first record names the columns.
fn csv_payload(text: &str) -> Result<Payload, RestError> {
    let records = csv_records(text).map_err(|d| invalid("Invalid CSV", Some(d)))?;
    let mut records = records.into_iter();
    let Some(header) = records.next() else {
        return Err(invalid("Invalid CSV", Some("the body has no header line".to_owned())));
    };
    let names: Vec<String> = header.into_iter().map(|(s, _)| s).collect();
    for (i, n) in names.iter().enumerate() {
        if names.iter().take(i).any(|m| m == n) {
            return Err(invalid(
                "Invalid CSV",
                Some(format!("the column {n:?} appears twice in the header")),
            ));
        }
    }
    let mut rows = Vec::new();
    for (line, record) in records.enumerate() {
        if record.len() != names.len() {
            return Err(invalid(
                "All lines must have same number of fields",
                Some(format!(
                    "line {} has {} fields, the header has {}",
                    line + 2,
                    record.len(),
                    names.len()
                )),
            ));
        }
        let row = names
            .iter()
            .zip(record)
            .map(|(n, (v, quoted))| {
                let v = if !quoted && v == "NULL" { Value::Null } else { Value::String(v) };
                (n.clone(), v)
            })
            .collect();
        rows.push(row);
    }
    Ok(Payload::Array(rows))
}

/// Records of (field, was quoted). A trailing line break does not start a record.
fn csv_records(text: &str) -> Result<Vec<Vec<(String, bool)>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut at_record_start = true;
    while let Some(c) = chars.next() {
        at_record_start = false;
        match c {
            '"' if field.is_empty() && !quoted => {
                quoted = true;
                loop {
                    match chars.next() {
                        None => {
                            return Err(format!("unterminated quoted field in record {}", records.len() + 1));
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => field.push(ch),
                    }
                }
                if !matches!(chars.peek(), None | Some(',' | '\n' | '\r')) {
                    return Err(format!("text after a closing quote in record {}", records.len() + 1));
                }
            }
            ',' => record.push((std::mem::take(&mut field), std::mem::replace(&mut quoted, false))),
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push((std::mem::take(&mut field), std::mem::replace(&mut quoted, false)));
                records.push(std::mem::take(&mut record));
                at_record_start = true;
            }
            '"' => return Err(format!("a quote inside an unquoted field in record {}", records.len() + 1)),
            ch => field.push(ch),
        }
    }
    if !at_record_start {
        record.push((field, quoted));
        records.push(record);
    }
    Ok(records)
}
