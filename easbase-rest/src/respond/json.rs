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

/// The rows of [`rows`] as JSON text written straight to bytes, without building values
/// (`single`: the one row as an object, not an array). Byte for byte what serializing
/// [`rows`] gives: keys in the same (sorted) order, the same numbers and escapes. `None`
/// when two outputs share a key (the object keeps one of them: left to [`rows`]).
pub(super) fn rows_bytes(
    table: &TableDef,
    outputs: &[Output],
    rows: &[Row],
    single: bool,
) -> Option<Vec<u8>> {
    let mut order: Vec<usize> = (0..outputs.len()).collect();
    order.sort_by(|&a, &b| outputs[a].key.cmp(&outputs[b].key));
    if order.windows(2).any(|w| outputs[w[0]].key == outputs[w[1]].key) {
        return None;
    }
    let types: Vec<Option<ColumnType>> = outputs.iter().map(|o| o.answer_type(table)).collect();
    let mut out = Vec::with_capacity(2 + rows.len() * (2 + outputs.len() * 24));
    if !single {
        out.push(b'[');
    }
    for (r, row) in rows.iter().enumerate() {
        if r > 0 {
            out.push(b',');
        }
        out.push(b'{');
        for (n, &i) in order.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_str(&mut out, outputs[i].key.as_str());
            out.push(b':');
            write_cell(&mut out, row.cells.get(i).unwrap_or(&Cell::Null), types[i].as_ref());
        }
        out.push(b'}');
    }
    if !single {
        out.push(b']');
    }
    Some(out)
}

/// A JSON string (writing to a `Vec` cannot fail).
fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A JSON value (writing to a `Vec` cannot fail).
fn write_value(out: &mut Vec<u8>, v: &Json) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// One cell as [`cell_json`] renders it, written directly for the common kinds.
fn write_cell(out: &mut Vec<u8>, cell: &Cell, ty: Option<&ColumnType>) {
    let needs_value = |t: &ColumnType| {
        t.is_numeric()
            || matches!(
                t,
                ColumnType::Json
                    | ColumnType::Jsonb
                    | ColumnType::Timestamptz
                    | ColumnType::Timestamp
                    | ColumnType::Time
            )
    };
    match (cell, ty) {
        (Cell::Null, _) => out.extend_from_slice(b"null"),
        (Cell::Bool(b), _) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        (Cell::Int(i), Some(ColumnType::Boolean)) => {
            out.extend_from_slice(if *i != 0 { b"true" } else { b"false" });
        }
        (Cell::Int(i), _) => {
            use std::io::Write as _;
            let _ = write!(out, "{i}");
        }
        (Cell::Text(s), ty) if !ty.is_some_and(needs_value) => write_str(out, s),
        _ => write_value(out, &cell_json(cell, ty)),
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use easbase_core::db::{Cell, Row};
    use easbase_schema::{ColumnName, Schema};

    use super::{Json, rows, rows_bytes};
    use crate::plan::Output;

    /// The bytes written directly are the bytes of the values serialized: every kind of
    /// cell, keys out of order, escapes, aliases, and a shared key (no direct path).
    #[test]
    fn rows_bytes_match_serialized_values() {
        let schema = Schema::from_json(
            r#"{ "tables": [ { "name": "t", "columns": [
                { "name": "id", "type": "bigint", "primary": true },
                { "name": "name", "type": "text" },
                { "name": "ok", "type": "boolean" },
                { "name": "price", "type": "decimal(10,2)" },
                { "name": "ratio", "type": "double" },
                { "name": "meta", "type": "jsonb" },
                { "name": "at", "type": "timestamptz" },
                { "name": "raw", "type": "bytes" } ] } ] }"#,
        )
        .unwrap()
        .validate()
        .unwrap();
        let table = schema.table("t").unwrap();
        let col = |n: &str| Output::column(&ColumnName::new(n).unwrap());
        let mut outputs: Vec<Output> =
            ["ratio", "name", "id", "ok", "price", "meta", "at", "raw"].iter().map(|n| col(n)).collect();
        outputs.push(Output { key: "alias \"é\"".into(), ..col("name") });
        let columns: Arc<[String]> = outputs.iter().map(|o| o.key.clone()).collect();
        let row = |cells: Vec<Cell>| Row { columns: Arc::clone(&columns), cells };
        let data = vec![
            row(vec![
                Cell::Float(0.1),
                Cell::Text("a \"quoted\"\n\u{1}é".into()),
                Cell::Int(-42),
                Cell::Int(1),
                Cell::Text("12.50".into()),
                Cell::Text(r#"{"b": [1, 2], "a": null}"#.into()),
                Cell::Text("2026-01-02 03:04:05.120".into()),
                Cell::Bytes(vec![0, 255]),
                Cell::Text("x".into()),
            ]),
            row(vec![
                Cell::Float(f64::NAN),
                Cell::Null,
                Cell::Int(i64::MAX),
                Cell::Bool(false),
                Cell::Text("not a number".into()),
                Cell::Text("not json".into()),
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ]),
        ];
        let expected = serde_json::to_vec(&Json::Array(rows(table, &outputs, &data))).unwrap();
        let got = rows_bytes(table, &outputs, &data, false).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(expected).unwrap());
        // One object.
        let one = &data[..1];
        let expected = serde_json::to_vec(&rows(table, &outputs, one)[0]).unwrap();
        assert_eq!(rows_bytes(table, &outputs, one, true).unwrap(), expected);
        // No rows.
        assert_eq!(rows_bytes(table, &outputs, &[], false).unwrap(), b"[]");
        // Two outputs under one key: left to the values.
        outputs.push(Output { key: "id".into(), ..col("name") });
        assert!(rows_bytes(table, &outputs, &data, false).is_none());
    }
}
