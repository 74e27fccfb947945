//! Does a column's default fit its type?

use crate::error::{ErrorKind, ValidationErrors};
use crate::model::{Column, ColumnType, DefaultValue};
use crate::valid::EnumDef;

pub(super) fn check_default(
    path: &str,
    col: &Column,
    default: &DefaultValue,
    enums: &[EnumDef],
    errors: &mut ValidationErrors,
) {
    let ty = &col.ty;
    let problem: Option<String> = match default {
        DefaultValue::Now => (!matches!(
            ty,
            ColumnType::Timestamptz | ColumnType::Timestamp | ColumnType::Date | ColumnType::Time
        ))
        .then(|| format!("`now()` fits date and time columns, not {ty}")),
        DefaultValue::GenRandomUuid => (!matches!(ty, ColumnType::Uuid))
            .then(|| format!("`gen_random_uuid()` fits uuid columns, not {ty}")),
        DefaultValue::AuthUid => {
            (!matches!(ty, ColumnType::Uuid | ColumnType::Text | ColumnType::Varchar(_)))
                .then(|| format!("`auth.uid` fits uuid or text columns, not {ty}"))
        }
        DefaultValue::Literal(v) => literal_problem(ty, v, enums, col.required || col.primary),
    };
    if let Some(message) = problem {
        errors.push(
            path.to_owned(),
            ErrorKind::InvalidDefault,
            format!("default of `{}`: {message}", col.name),
        );
    }
}

fn literal_problem(
    ty: &ColumnType,
    v: &serde_json::Value,
    enums: &[EnumDef],
    required: bool,
) -> Option<String> {
    use serde_json::Value;
    let want = |what: &str| Some(format!("{v} is not {what}"));
    match (ty, v) {
        (_, Value::Null) if required => Some("null cannot be the default of a required column".into()),
        (_, Value::Null) => None,
        (ColumnType::Json | ColumnType::Jsonb, _) => None,
        (ColumnType::SmallInt, Value::Number(n)) => {
            n.as_i64().filter(|i| i16::try_from(*i).is_ok()).map_or_else(|| want("a smallint"), |_| None)
        }
        (ColumnType::Integer, Value::Number(n)) => {
            n.as_i64().filter(|i| i32::try_from(*i).is_ok()).map_or_else(|| want("an integer"), |_| None)
        }
        (ColumnType::BigInt, Value::Number(n)) => n.as_i64().map_or_else(|| want("a bigint"), |_| None),
        (ColumnType::Decimal(_) | ColumnType::Real | ColumnType::Double, Value::Number(_)) => None,
        (ColumnType::Boolean, Value::Bool(_)) => None,
        (ColumnType::Text, Value::String(_)) => None,
        (ColumnType::Varchar(n), Value::String(s)) => {
            (s.chars().count() > *n as usize).then(|| format!("\"{s}\" is longer than varchar({n})"))
        }
        (ColumnType::Uuid, Value::String(s)) => (!is_uuid(s)).then(|| format!("\"{s}\" is not a uuid")),
        (ColumnType::Date, Value::String(s)) => {
            (!is_date(s)).then(|| format!("\"{s}\" is not a date (YYYY-MM-DD)"))
        }
        (ColumnType::Time, Value::String(s)) => {
            (!is_time(s)).then(|| format!("\"{s}\" is not a time (HH:MM:SS)"))
        }
        (ColumnType::Timestamp | ColumnType::Timestamptz, Value::String(s)) => {
            (!is_timestamp(s)).then(|| {
                format!("\"{s}\" is not a timestamp (YYYY-MM-DDTHH:MM:SS, with an offset for timestamptz)")
            })
        }
        (ColumnType::Named(name), Value::String(s)) => match enums.iter().find(|e| e.name.as_str() == name) {
            Some(e) if e.values.contains(s) => None,
            Some(e) => Some(format!("\"{s}\" is not a value of enum `{name}` ({})", e.values.join(", "))),
            None => None, // the unknown type is reported already
        },
        (ColumnType::Array(_), Value::Array(items)) if items.is_empty() => None,
        (ColumnType::Array(inner), Value::Array(items)) => {
            items.iter().find_map(|item| literal_problem(inner, item, enums, true))
        }
        (ColumnType::Bytes, _) => Some("bytes columns take no literal default".into()),
        (ColumnType::Identity, _) => None, // reported by the identity rule
        (ty, _) => want(&format!("a {ty} value")),
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    matches!(p.as_slice(), [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2)
        && (1..=12).contains(&m.parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&d.parse::<u32>().unwrap_or(0)))
}

fn is_time(s: &str) -> bool {
    let (hms, frac) = s.split_once('.').unwrap_or((s, "0"));
    let p: Vec<&str> = hms.split(':').collect();
    frac.bytes().all(|b| b.is_ascii_digit())
        && matches!(p.as_slice(), [h, m, sec] if digits(h, 2) && digits(m, 2) && digits(sec, 2)
            && h.parse::<u32>().unwrap_or(99) < 24 && m.parse::<u32>().unwrap_or(99) < 60
            && sec.parse::<u32>().unwrap_or(99) < 61)
}

fn is_timestamp(s: &str) -> bool {
    let Some((date, rest)) = s.split_once(['T', ' ']) else { return false };
    let time = rest.trim_end_matches('Z');
    let time = match time.rfind(['+', '-']) {
        Some(i) if i >= 8 => &time[..i],
        _ => time,
    };
    is_date(date) && is_time(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2024-13-01"));
        assert!(is_time("23:59:59.5"));
        assert!(!is_time("24:00:00"));
        assert!(is_timestamp("2024-01-01T10:00:00Z"));
        assert!(is_timestamp("2024-01-01 10:00:00+02:00"));
        assert!(!is_timestamp("yesterday"));
    }
}
