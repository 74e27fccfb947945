//! Rows of cells → JSON values, by the columns' types.

use easbase_core::db::{Cell, Row};
use easbase_schema::{ColumnType, TableDef};
use serde_json::{Map, Number, Value as Json};

use crate::plan::{Embed, Output};
use crate::schema_cache::SchemaSnapshot;

/// Each row as an object keyed by the outputs (cells in output order).
pub(super) fn rows(table: &TableDef, outputs: &[Output], rows: &[Row]) -> Vec<Json> {
    let types: Vec<Option<ColumnType>> = outputs.iter().map(|o| o.answer_type(table)).collect();
    rows.iter()
        .map(|row| {
            let mut obj = Map::with_capacity(outputs.len());
            for (i, o) in outputs.iter().enumerate() {
                let cell = row.cells.get(i).unwrap_or(&Cell::Null);
                obj.insert(o.key.clone(), cell_json(cell, types[i].as_ref()));
            }
            Json::Object(obj)
        })
        .collect()
}

/// Rows with embedded resources: the embeds' cells follow the outputs' cells, each JSON
/// (text on SQLite) of row arrays (to-many) or one row array / NULL (to-one), whose
/// values are the embed's outputs followed by its own embeds.
pub(super) fn rows_with_embeds(
    snapshot: &SchemaSnapshot,
    table: &TableDef,
    outputs: &[Output],
    embeds: &[Embed],
    db_rows: &[Row],
) -> Vec<Json> {
    let mut out = rows(table, outputs, db_rows);
    if embeds.is_empty() {
        return out;
    }
    for (obj, row) in out.iter_mut().zip(db_rows) {
        let Json::Object(obj) = obj else { continue };
        for (i, e) in embeds.iter().enumerate() {
            let value = match row.cells.get(outputs.len() + i) {
                Some(Cell::Text(text)) => serde_json::from_str(text).unwrap_or(Json::Null),
                _ => Json::Null,
            };
            insert_embed(snapshot, obj, e, &value);
        }
    }
    out
}

/// Puts embed `e`'s value (as the database built it) into `obj`: under its key, or, for
/// a spread, its keys merged into `obj`.
fn insert_embed(snapshot: &SchemaSnapshot, obj: &mut Map<String, Json>, e: &Embed, value: &Json) {
    let Some(child) = snapshot.schema().table(e.table.as_str()) else { return };
    let types: Vec<Option<ColumnType>> = e.outputs.iter().map(|o| o.answer_type(child)).collect();
    let object = |v: &Json| -> Option<Map<String, Json>> {
        let Json::Array(values) = v else { return None };
        let mut m = Map::with_capacity(e.outputs.len() + e.embeds.len());
        for ((o, ty), v) in e.outputs.iter().zip(&types).zip(values) {
            m.insert(o.key.clone(), typed(v, ty.as_ref()));
        }
        for (nested, v) in e.embeds.iter().zip(values.iter().skip(e.outputs.len())) {
            insert_embed(snapshot, &mut m, nested, v);
        }
        Some(m)
    };
    if e.spread {
        match object(value) {
            Some(m) => obj.extend(m),
            None => {
                // No related row: the spread's keys, all null (nested to-many: empty).
                let mut nulls = Map::new();
                for o in &e.outputs {
                    nulls.insert(o.key.clone(), Json::Null);
                }
                for nested in &e.embeds {
                    insert_embed(snapshot, &mut nulls, nested, &Json::Null);
                }
                obj.extend(nulls);
            }
        }
        return;
    }
    let embedded = if e.to_one {
        object(value).map_or(Json::Null, Json::Object)
    } else {
        match value {
            Json::Array(items) => {
                Json::Array(items.iter().map(|i| object(i).map_or(Json::Null, Json::Object)).collect())
            }
            _ => Json::Array(Vec::new()),
        }
    };
    obj.insert(e.key.clone(), embedded);
}

/// A value the database put in JSON, corrected by its column's type where the engine
/// cannot say it: SQLite's 0/1 booleans, JSON columns held as text, numeric text.
fn typed(v: &Json, ty: Option<&ColumnType>) -> Json {
    match (v, ty) {
        (Json::Number(n), Some(ColumnType::Boolean)) => Json::Bool(n.as_f64() != Some(0.0)),
        (Json::String(s), Some(ColumnType::Json | ColumnType::Jsonb)) => {
            serde_json::from_str(s).unwrap_or_else(|_| v.clone())
        }
        (Json::String(s), Some(t)) if t.is_numeric() => number_from_text(s),
        (Json::String(s), Some(t @ (ColumnType::Timestamptz | ColumnType::Timestamp | ColumnType::Time))) => {
            Json::String(time_text(s, t))
        }
        _ => v.clone(),
    }
}

/// A date-time or time as PostgreSQL renders it in JSON: `T` between date and time, no
/// trailing zeros in the fraction, and (`timestamptz`) an offset, `+00:00` for a value
/// stored without one (MySQL's `datetime(6)` holds UTC; `JSON_ARRAY` writes a space and
/// six digits).
fn time_text(s: &str, ty: &ColumnType) -> String {
    let b = s.as_bytes();
    let dated = b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b' ' | b'T');
    let mut out = if dated { format!("{}T{}", &s[..10], &s[11..]) } else { s.to_owned() };
    let time_at = if dated { 11 } else { 0 };
    let zone_at = if dated { out[time_at..].find(['Z', '+', '-']).map(|i| i + time_at) } else { None };
    let (body, zone) = out.split_at(zone_at.unwrap_or(out.len()));
    let body = match body.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|c| c.is_ascii_digit()) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") }
        }
        _ => body.to_owned(),
    };
    out = match (ty, zone) {
        (ColumnType::Timestamptz, "" | "Z") if dated => format!("{body}+00:00"),
        _ => format!("{body}{zone}"),
    };
    out
}

fn number_from_text(s: &str) -> Json {
    s.parse::<Number>().map(Json::Number).unwrap_or_else(|_| Json::String(s.to_owned()))
}

/// One cell as JSON for a column of type `ty`.
pub(super) fn cell_json(cell: &Cell, ty: Option<&ColumnType>) -> Json {
    match (cell, ty) {
        (Cell::Null, _) => Json::Null,
        (Cell::Bool(b), _) => Json::Bool(*b),
        (Cell::Int(i), Some(ColumnType::Boolean)) => Json::Bool(*i != 0),
        (Cell::Int(i), _) => Json::from(*i),
        (Cell::Float(f), _) => Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        (Cell::Text(s), Some(ColumnType::Json | ColumnType::Jsonb)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.clone()))
        }
        (Cell::Text(s), Some(t)) if t.is_numeric() => number_from_text(s),
        (Cell::Text(s), Some(t @ (ColumnType::Timestamptz | ColumnType::Timestamp | ColumnType::Time))) => {
            Json::String(time_text(s, t))
        }
        (Cell::Text(s), _) => Json::String(s.clone()),
        (Cell::Bytes(b), _) => {
            let mut hex = String::with_capacity(2 + b.len() * 2);
            hex.push_str("\\x");
            for byte in b {
                hex.push_str(&format!("{byte:02x}"));
            }
            Json::String(hex)
        }
    }
}

/// Rows as CSV: a header line of keys, then one line per row; NULL is an empty field.
pub(super) fn csv(rows: &[Json]) -> String {
    let Some(Json::Object(first)) = rows.first() else { return String::new() };
    let keys: Vec<&String> = first.keys().collect();
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = keys.iter().map(|k| field(k)).collect::<Vec<_>>().join(",");
    for row in rows {
        out.push('\n');
        let line: Vec<String> = keys
            .iter()
            .map(|k| match row.get(k.as_str()) {
                None | Some(Json::Null) => String::new(),
                Some(Json::String(s)) => field(s),
                Some(other) => field(&other.to_string()),
            })
            .collect();
        out.push_str(&line.join(","));
    }
    out
}
