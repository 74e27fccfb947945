//! POST / PATCH / DELETE → [`InsertPlan`], [`UpdatePlan`], [`DeletePlan`].

use easbase_schema::{ColumnName, DefaultValue, TableDef};
use serde_json::{Map, Value as Json};

use crate::error::RestError;
use crate::plan::{
    CmpOp, Condition, Conflict, DeletePlan, InsertPlan, Output, PlanConfig, Test, UpdatePlan, Value, column,
    is_unfiltered, not_supported,
};
use crate::request::{ApiRequest, Missing, Payload, Resolution};

fn rows(req: &ApiRequest) -> Result<Vec<&Map<String, Json>>, RestError> {
    match &req.payload {
        Some(Payload::Object(o)) => Ok(vec![o]),
        Some(Payload::Array(rows)) => Ok(rows.iter().collect()),
        Some(Payload::Raw { .. }) | None => Err(RestError::InvalidBody {
            message: "Empty or invalid json".to_owned(),
            details: Some("send a JSON object or an array of objects".to_owned()),
        }),
    }
}

fn columns(req: &ApiRequest, table: &TableDef) -> Result<Vec<ColumnName>, RestError> {
    req.columns.iter().map(|c| column(table, c).map(|d| d.name.clone())).collect()
}

pub(super) fn insert(
    req: &ApiRequest,
    table: &TableDef,
    returning: Option<Vec<Output>>,
) -> Result<InsertPlan, RestError> {
    let missing =
        if req.preferences.missing == Some(Missing::Default) { Value::Default } else { Value::Null };
    let columns = columns(req, table)?;
    let body = rows(req)?;
    let mut out = Vec::with_capacity(body.len());
    for row in body {
        let mut values = Vec::with_capacity(columns.len());
        for c in &columns {
            let def = column(table, c.as_str())?;
            values.push(match row.get(c.as_str()) {
                Some(v) => Value::from_json(v, def)?,
                None => missing.clone(),
            });
        }
        out.push(values);
    }
    let uid_defaults = table
        .columns
        .iter()
        .filter(|c| c.default == Some(DefaultValue::AuthUid) && !columns.contains(&c.name))
        .map(|c| c.name.clone())
        .collect();
    let conflict = match req.preferences.resolution {
        None => None,
        Some(resolution) => {
            let target = match &req.query.on_conflict {
                Some(cols) => {
                    cols.iter().map(|c| column(table, c).map(|d| d.name.clone())).collect::<Result<_, _>>()?
                }
                None => table.primary_key.clone(),
            };
            if target.is_empty() {
                return Err(not_supported("an upsert on a table without a primary key or on_conflict="));
            }
            Some(Conflict { columns: target, merge: resolution == Resolution::MergeDuplicates })
        }
    };
    Ok(InsertPlan {
        columns,
        rows: out,
        uid_defaults,
        conflict,
        returning,
        embeds: Vec::new(),
        put: false,
        location: false,
    })
}

/// PUT: insert or replace the one row the filters name by its whole primary key.
pub(super) fn put(
    req: &ApiRequest,
    table: &TableDef,
    filter: &Condition,
    returning: Option<Vec<Output>>,
) -> Result<InsertPlan, RestError> {
    // The filters must be exactly `pk = value` for every primary-key column.
    let Condition::And(tests) = filter else { return Err(RestError::InvalidPutFilters) };
    let mut key = Vec::new();
    for t in tests {
        match t {
            Condition::Test { column, json_path, test: Test::Cmp(CmpOp::Eq, v) }
                if json_path.is_empty()
                    && table.primary_key.contains(column)
                    && !key.iter().any(|(c, _)| c == column) =>
            {
                key.push((column.clone(), v.clone()));
            }
            _ => return Err(RestError::InvalidPutFilters),
        }
    }
    if table.primary_key.is_empty() || key.len() != table.primary_key.len() {
        return Err(RestError::InvalidPutFilters);
    }
    let row = match &req.payload {
        Some(Payload::Object(o)) => o,
        Some(Payload::Array(rows)) if rows.len() == 1 => &rows[0],
        _ => {
            return Err(RestError::InvalidBody {
                message: "PUT payload must contain one row".to_owned(),
                details: None,
            });
        }
    };
    if table.columns.iter().any(|c| !row.contains_key(c.name.as_str())) {
        return Err(RestError::InvalidBody {
            message: "You must specify all columns in the payload when using PUT".to_owned(),
            details: None,
        });
    }
    for (column, value) in &key {
        let def = crate::plan::column(table, column.as_str())?;
        match row.get(column.as_str()) {
            Some(v) if Value::from_json(v, def)? == *value => {}
            _ => return Err(RestError::PutKeyMismatch),
        }
    }
    let mut plan = insert(req, table, returning)?;
    plan.conflict = Some(Conflict { columns: table.primary_key.clone(), merge: true });
    plan.put = true;
    Ok(plan)
}

pub(super) fn update(
    req: &ApiRequest,
    table: &TableDef,
    filter: Condition,
    config: &PlanConfig,
    returning: Option<Vec<Output>>,
) -> Result<UpdatePlan, RestError> {
    let nothing = serde_json::Map::new();
    let row = match &req.payload {
        Some(Payload::Object(o)) => o,
        // `[]` and `[{}]` set nothing, as `{}` does.
        Some(Payload::Array(rows)) if rows.iter().all(|r| r.is_empty()) => &nothing,
        Some(Payload::Array(_)) => return Err(not_supported("PATCH with an array body")),
        _ => {
            return Err(RestError::InvalidBody {
                message: "Empty or invalid json".to_owned(),
                details: None,
            });
        }
    };
    let columns = columns(req, table)?;
    if columns.is_empty() {
        // Nothing to set: PostgREST updates nothing and answers no row (204, or `[]`).
        return Ok(UpdatePlan { set: Vec::new(), filter, window: None, returning, embeds: Vec::new() });
    }
    let mut set = Vec::with_capacity(columns.len());
    for c in columns {
        let def = column(table, c.as_str())?;
        let v = match row.get(c.as_str()) {
            Some(v) => Value::from_json(v, def)?,
            None => Value::Null,
        };
        set.push((c, v));
    }
    if is_unfiltered(&filter) && !config.allow_unfiltered_writes {
        return Err(RestError::UnfilteredWrite { verb: "UPDATE" });
    }
    Ok(UpdatePlan { set, filter, window: None, returning, embeds: Vec::new() })
}

pub(super) fn delete(
    _table: &TableDef,
    filter: Condition,
    config: &PlanConfig,
    returning: Option<Vec<Output>>,
    embeds: Vec<crate::plan::Embed>,
) -> Result<DeletePlan, RestError> {
    if is_unfiltered(&filter) && !config.allow_unfiltered_writes {
        return Err(RestError::UnfilteredWrite { verb: "DELETE" });
    }
    Ok(DeletePlan { filter, window: None, returning, embeds })
}
