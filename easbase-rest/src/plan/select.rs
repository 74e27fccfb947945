//! The columns of an answer: `select=` items → [`Output`]s, with JSON paths
//! (`data->a->>b`, keyed as PostgREST keys them), casts (`price::text`, to the [`Cast`]
//! targets only) and aggregates (`count()`, `price.sum()`, grouped by the other outputs).

use easbase_schema::{ColumnDef, ColumnName, ColumnType, TableDef};

use crate::error::RestError;
use crate::plan::column;
use crate::request::{Aggregate, JsonArrow, JsonOperand, JsonStep, SelectItem};

/// A column of the answer: which column (possibly a JSON path into it, possibly cast),
/// under which key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Output {
    /// The column.
    pub column: ColumnName,
    /// Its key in the JSON object (`alias:`, the last key of a JSON path, or the column's
    /// name).
    pub key: String,
    /// `->` / `->>` steps into a json / jsonb column (empty: the column itself).
    pub json_path: Vec<JsonStep>,
    /// `::type`.
    pub cast: Option<Cast>,
    /// `.sum()`, `count()`, …: the value is an aggregate over each group of rows.
    pub aggregate: Option<OutputAggregate>,
}

/// An aggregate output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputAggregate {
    /// The function.
    pub func: Aggregate,
    /// `count()` alone: the rows, not a column (`column` is then only a placeholder).
    pub rows: bool,
    /// `::type` after the aggregate.
    pub cast: Option<Cast>,
}

impl Output {
    /// The plain column under its own name.
    pub fn column(name: &ColumnName) -> Output {
        Output {
            column: name.clone(),
            key: name.as_str().to_owned(),
            json_path: Vec::new(),
            cast: None,
            aggregate: None,
        }
    }

    /// The type of the value in the answer: the cast's, a JSON path's (`->`: JSON,
    /// `->>`: text), else the column's.
    pub fn answer_type(&self, table: &TableDef) -> Option<ColumnType> {
        if let Some(agg) = self.aggregate {
            if let Some(cast) = agg.cast {
                return Some(cast.column_type());
            }
            let inner = Output { aggregate: None, ..self.clone() }.answer_type(table);
            return match agg.func {
                Aggregate::Count => Some(ColumnType::BigInt),
                Aggregate::Sum if inner.as_ref().is_some_and(ColumnType::is_integer) => {
                    Some(ColumnType::BigInt)
                }
                Aggregate::Sum | Aggregate::Avg => Some(ColumnType::Decimal(None)),
                Aggregate::Max | Aggregate::Min => inner,
            };
        }
        if let Some(cast) = self.cast {
            return Some(cast.column_type());
        }
        match self.json_path.last() {
            Some(step) if step.arrow == JsonArrow::Json => Some(ColumnType::Jsonb),
            Some(_) => Some(ColumnType::Text),
            None => table.column(self.column.as_str()).map(|c| c.ty.clone()),
        }
    }
}

/// The types `::type` may name (PostgreSQL's names and common synonyms). Any other
/// target is refused with 400 `EB202`, so a cast never reaches the database as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cast {
    /// `text`.
    Text,
    /// `smallint`, `int2`.
    SmallInt,
    /// `integer`, `int`, `int4`.
    Integer,
    /// `bigint`, `int8`.
    BigInt,
    /// `numeric`, `decimal`.
    Numeric,
    /// `real`, `float4`.
    Real,
    /// `float8` (`double precision`).
    Double,
    /// `boolean`, `bool`.
    Boolean,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
}

impl Cast {
    /// The cast target named `name` (case-insensitive), if it is one.
    pub fn parse(name: &str) -> Option<Cast> {
        Some(match name.to_ascii_lowercase().as_str() {
            "text" => Cast::Text,
            "smallint" | "int2" => Cast::SmallInt,
            "integer" | "int" | "int4" => Cast::Integer,
            "bigint" | "int8" => Cast::BigInt,
            "numeric" | "decimal" => Cast::Numeric,
            "real" | "float4" => Cast::Real,
            "float8" | "double" => Cast::Double,
            "boolean" | "bool" => Cast::Boolean,
            "json" => Cast::Json,
            "jsonb" => Cast::Jsonb,
            _ => return None,
        })
    }

    /// PostgreSQL's name of the type.
    pub fn pg_name(self) -> &'static str {
        match self {
            Cast::Text => "text",
            Cast::SmallInt => "smallint",
            Cast::Integer => "integer",
            Cast::BigInt => "bigint",
            Cast::Numeric => "numeric",
            Cast::Real => "real",
            Cast::Double => "double precision",
            Cast::Boolean => "boolean",
            Cast::Json => "json",
            Cast::Jsonb => "jsonb",
        }
    }

    /// The schema type of a cast value (how the answer renders it).
    pub fn column_type(self) -> ColumnType {
        match self {
            Cast::Text => ColumnType::Text,
            Cast::SmallInt => ColumnType::SmallInt,
            Cast::Integer => ColumnType::Integer,
            Cast::BigInt => ColumnType::BigInt,
            Cast::Numeric => ColumnType::Decimal(None),
            Cast::Real => ColumnType::Real,
            Cast::Double => ColumnType::Double,
            Cast::Boolean => ColumnType::Boolean,
            Cast::Json => ColumnType::Json,
            Cast::Jsonb => ColumnType::Jsonb,
        }
    }
}

/// Checks a JSON path on `def`: only json / jsonb columns have one (PostgreSQL's 42883,
/// which PostgREST passes through as 404, on every engine).
pub(crate) fn check_json_path(def: &ColumnDef, path: &[JsonStep]) -> Result<(), RestError> {
    if path.is_empty() || matches!(def.ty, ColumnType::Json | ColumnType::Jsonb) {
        return Ok(());
    }
    let arrow = if path[0].arrow == JsonArrow::Json { "->" } else { "->>" };
    Err(RestError::Database {
        status: http::StatusCode::NOT_FOUND,
        code: "42883".to_owned(),
        message: format!("operator does not exist: {} {arrow} unknown", def.ty),
    })
}

/// PostgREST's key of a JSON path: its last key; after an index, the last key before
/// it, else the column (`data->1->mycol->>2` is `mycol`, `data->3` is `data`).
fn json_key(column: &str, path: &[JsonStep]) -> String {
    path.iter()
        .rev()
        .find_map(|s| match &s.operand {
            JsonOperand::Key(k) => Some(k.clone()),
            JsonOperand::Index(_) => None,
        })
        .unwrap_or_else(|| column.to_owned())
}

/// One field item of `select=` (not `*`, not an embed) as an [`Output`] of `table`.
///
/// # Errors
/// 400 `42703` (unknown column), 404 `42883` (JSON path on a non-JSON column, `sum`/`avg`
/// of a non-number), 400 `EB202` (a cast target not in [`Cast`]).
pub(crate) fn output(table: &TableDef, item: &SelectItem) -> Result<Output, RestError> {
    let SelectItem::Field { field, alias, cast, aggregate, aggregate_cast } = item else {
        return Err(RestError::Internal);
    };
    let parse_cast = |c: &Option<String>| -> Result<Option<Cast>, RestError> {
        match c {
            None => Ok(None),
            Some(name) => {
                Cast::parse(name).map(Some).ok_or_else(|| RestError::InvalidCast { target: name.clone() })
            }
        }
    };
    let aggregate = aggregate
        .map(|func| -> Result<OutputAggregate, RestError> {
            Ok(OutputAggregate { func, rows: field.name == "*", cast: parse_cast(aggregate_cast)? })
        })
        .transpose()?;
    let agg_key = |a: &OutputAggregate| {
        match a.func {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Max => "max",
            Aggregate::Min => "min",
        }
        .to_owned()
    };
    if let Some(agg) = aggregate.filter(|a| a.rows) {
        // `count()`: the rows of each group; any column stands in for them.
        let first = table.columns.first().ok_or(RestError::Internal)?;
        return Ok(Output {
            column: first.name.clone(),
            key: alias.clone().unwrap_or_else(|| agg_key(&agg)),
            json_path: Vec::new(),
            cast: None,
            aggregate: Some(agg),
        });
    }
    let def = column(table, &field.name)?;
    check_json_path(def, &field.json_path)?;
    let cast = parse_cast(cast)?;
    let key = match (alias, &aggregate) {
        (Some(a), _) => a.clone(),
        (None, Some(agg)) => agg_key(agg),
        (None, None) if field.json_path.is_empty() => field.name.clone(),
        (None, None) => json_key(&field.name, &field.json_path),
    };
    if let Some(agg) = aggregate
        && matches!(agg.func, Aggregate::Sum | Aggregate::Avg)
    {
        let ty = Output {
            column: def.name.clone(),
            key: String::new(),
            json_path: field.json_path.clone(),
            cast,
            aggregate: None,
        }
        .answer_type(table);
        if !ty.as_ref().is_some_and(ColumnType::is_numeric) {
            let name = if agg.func == Aggregate::Sum { "sum" } else { "avg" };
            return Err(RestError::Database {
                status: http::StatusCode::NOT_FOUND,
                code: "42883".to_owned(),
                message: format!(
                    "function {name}({}) does not exist",
                    ty.map_or("unknown".to_owned(), |t| t.to_string())
                ),
            });
        }
    }
    Ok(Output { column: def.name.clone(), key, json_path: field.json_path.clone(), cast, aggregate })
}
