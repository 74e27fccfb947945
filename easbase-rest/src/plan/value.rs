//! Typed values: query-string text and JSON body values checked against their column's
//! type, so a wrong type is a 400 naming the value before any SQL is built.

use easbase_core::calendar::{civil_from_days, days_from_civil};
use easbase_schema::{ColumnDef, ColumnType};
use serde_json::Value as Json;

use crate::error::RestError;
use crate::plan::not_supported;

/// A value checked against its column's type.
#[derive(Debug, Clone, PartialEq, Hash)]
pub enum Value {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal or float, as validated text (`12.5`, `-3`, `1e3`).
    Number(String),
    /// Text (also uuids, dates, times, enum values).
    Text(String),
    /// JSON text, for json / jsonb columns.
    Json(String),
    /// The column's default: a key a row of an insert leaves out, with `Prefer:
    /// missing=default`.
    Default,
}

/// The type's name as PostgreSQL writes it in `invalid input syntax for type …`.
fn pg_type_name(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Identity => "bigint".to_owned(),
        ColumnType::Decimal(_) => "numeric".to_owned(),
        ColumnType::Double => "double precision".to_owned(),
        ColumnType::Timestamptz => "timestamp with time zone".to_owned(),
        ColumnType::Timestamp => "timestamp without time zone".to_owned(),
        ColumnType::Bytes => "bytea".to_owned(),
        ColumnType::Varchar(_) => "character varying".to_owned(),
        other => other.to_string(),
    }
}

fn invalid(def: &ColumnDef, value: &str) -> RestError {
    RestError::InvalidValue { ty: pg_type_name(&def.ty), value: value.to_owned() }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn int_range(ty: &ColumnType) -> (i64, i64) {
    match ty {
        ColumnType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
        ColumnType::Integer => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    }
}

impl Value {
    /// A query-string value (`id=eq.5`, `/{table}/5`) for a column.
    ///
    /// # Errors
    /// 400 `22P02` when the text is not of the column's type; 400 `EB200` for types not
    /// filterable yet (bytes, arrays).
    pub fn from_filter_text(text: &str, def: &ColumnDef) -> Result<Value, RestError> {
        let ty = &def.ty;
        if ty.is_integer() {
            let (lo, hi) = int_range(ty);
            return match text.trim().parse::<i64>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(Value::Int(n)),
                Ok(_) => Err(RestError::Database {
                    status: http::StatusCode::BAD_REQUEST,
                    code: "22003".to_owned(),
                    message: format!("value \"{text}\" is out of range for type {}", pg_type_name(ty)),
                }),
                Err(_) => Err(invalid(def, text)),
            };
        }
        match ty {
            ColumnType::Decimal(_) | ColumnType::Real | ColumnType::Double => {
                match text.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(Value::Number(text.trim().to_owned())),
                    _ => Err(invalid(def, text)),
                }
            }
            ColumnType::Boolean => parse_bool(text).map(Value::Bool).ok_or_else(|| invalid(def, text)),
            ColumnType::Uuid => {
                if is_uuid(text) {
                    Ok(Value::Text(text.to_ascii_lowercase()))
                } else {
                    Err(invalid(def, text))
                }
            }
            ColumnType::Json | ColumnType::Jsonb => {
                serde_json::from_str::<Json>(text)
                    .map_err(|_| RestError::InvalidValue { ty: "json".to_owned(), value: text.to_owned() })?;
                Ok(Value::Json(text.to_owned()))
            }
            ColumnType::Bytes | ColumnType::Array(_) => {
                Err(not_supported(format!("filtering on {} columns", def.ty)))
            }
            _ => Ok(Value::Text(text.to_owned())),
        }
    }

    /// A JSON body value for a column.
    ///
    /// # Errors
    /// 400 `22P02` when the value is not of the column's type; 400 `EB200` for types not
    /// writable yet (bytes, arrays).
    pub fn from_json(value: &Json, def: &ColumnDef) -> Result<Value, RestError> {
        let ty = &def.ty;
        if value.is_null() {
            return Ok(Value::Null);
        }
        match ty {
            ColumnType::Json | ColumnType::Jsonb => return Ok(Value::Json(value.to_string())),
            ColumnType::Bytes | ColumnType::Array(_) => {
                return Err(not_supported(format!("writing {} columns", def.ty)));
            }
            _ => {}
        }
        match value {
            Json::String(s) => Value::from_filter_text(s, def),
            Json::Number(n) => {
                if ty.is_integer() {
                    match n.as_i64() {
                        Some(_) => Value::from_filter_text(&n.to_string(), def),
                        None => Err(invalid(def, &n.to_string())),
                    }
                } else if ty.is_numeric() {
                    Ok(Value::Number(n.to_string()))
                } else if *ty == ColumnType::Boolean {
                    Err(invalid(def, &n.to_string()))
                } else {
                    Value::from_filter_text(&n.to_string(), def)
                }
            }
            Json::Bool(b) => match ty {
                ColumnType::Boolean => Ok(Value::Bool(*b)),
                t if t.is_textual() && !matches!(t, ColumnType::Uuid) => Ok(Value::Text(b.to_string())),
                _ => Err(invalid(def, &b.to_string())),
            },
            Json::Array(_) | Json::Object(_) => Err(invalid(def, &value.to_string())),
            Json::Null => Ok(Value::Null),
        }
    }
}

/// A `timestamptz` text with a UTC offset (`2024-05-01T12:30:00+02:00`, `…Z`) as the same
/// instant in UTC without one (`2024-05-01 10:30:00`), for engines whose column holds no
/// zone (MySQL's `datetime(6)` refuses an offset). `None` when the text has no offset or
/// is not such a timestamp (the database then judges it).
pub(crate) fn timestamptz_to_utc(text: &str) -> Option<String> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (year, month, day, hour, minute) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?);
    // The time's end: seconds and fraction, then the offset.
    let rest = &t[16..];
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (seconds, zone) = rest.split_at(zone_at);
    let seconds = seconds.trim_end();
    if !(seconds.is_empty() || seconds.starts_with(':')) {
        return None;
    }
    let offset_minutes = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            let (h, m) = match digits.len() {
                2 => (digits.parse::<i64>().ok()?, 0),
                4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
                _ => return None,
            };
            sign * (h * 60 + m)
        }
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 24 || minute > 59 {
        return None;
    }
    let total = days_from_civil(year, month, day) * 1440 + hour * 60 + minute - offset_minutes;
    let (days, minutes) = (total.div_euclid(1440), total.rem_euclid(1440));
    let (y, m, d) = civil_from_days(days);
    Some(format!("{y:04}-{m:02}-{d:02} {:02}:{:02}{seconds}", minutes / 60, minutes % 60))
}

/// A `timestamptz` text as SQLite keeps it so that text order is time order:
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (a text without offset is UTC, as PostgreSQL's
/// sessions read it). `None` when the text is not such a timestamp.
pub(crate) fn timestamptz_sqlite(text: &str) -> Option<String> {
    let t = text.trim();
    let utc = match timestamptz_to_utc(t) {
        Some(utc) => utc,
        None => {
            let b = t.as_bytes();
            let plain = b.len() >= 16
                && b[4] == b'-'
                && b[7] == b'-'
                && matches!(b[10], b'T' | b't' | b' ')
                && b[13] == b':'
                && t[16..].bytes().all(|c| c.is_ascii_digit() || c == b':' || c == b'.');
            if !plain {
                return None;
            }
            format!("{} {}", &t[..10], &t[11..])
        }
    };
    let (date, time) = utc.split_once(' ')?;
    let (hm, rest) = time.split_at(5.min(time.len()));
    let (seconds, fraction) = match rest.strip_prefix(':') {
        Some(s) => s.split_once('.').unwrap_or((s, "")),
        None if rest.is_empty() => ("00", ""),
        None => return None,
    };
    if seconds.len() != 2 || !seconds.bytes().all(|c| c.is_ascii_digit()) || fraction.len() > 6 {
        return None;
    }
    Some(format!("{date}T{hm}:{seconds}.{fraction:0<6}Z"))
}

#[cfg(test)]
mod tests {
    use super::timestamptz_to_utc;

    #[test]
    fn offsets_become_utc() {
        let cases = [
            ("2024-05-01T12:30:00+02:00", Some("2024-05-01 10:30:00")),
            ("2024-05-01T12:30:00.25Z", Some("2024-05-01 12:30:00.25")),
            ("2024-01-01 00:15:00-0130", Some("2024-01-01 01:45:00")),
            ("2024-03-01T00:30:00+01", Some("2024-02-29 23:30:00")),
            ("1999-12-31T23:00:00-02:00", Some("2000-01-01 01:00:00")),
            ("2024-05-01T12:30:00", None),
            ("2024-05-01", None),
            ("yesterday", None),
        ];
        for (text, want) in cases {
            assert_eq!(timestamptz_to_utc(text).as_deref(), want, "{text}");
        }
        let sqlite = [
            ("2024-05-01T12:30:00+02:00", Some("2024-05-01T10:30:00.000000Z")),
            ("2024-05-01 10:00:00.5", Some("2024-05-01T10:00:00.500000Z")),
            ("2024-05-01T10:00Z", Some("2024-05-01T10:00:00.000000Z")),
            ("2024-05-01", None),
            ("now", None),
        ];
        for (text, want) in sqlite {
            assert_eq!(super::timestamptz_sqlite(text).as_deref(), want, "{text}");
        }
    }
}
