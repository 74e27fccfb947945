//! GET / HEAD → [`ReadPlan`]; the filters, orders and windows of embedded resources
//! (also in a write's answer).

use easbase_schema::TableDef;

use crate::error::RestError;
use crate::plan::{
    Condition, Embed, OrderItem, PlanConfig, ReadPlan, Window, column, columns_of, embed, select, test, tree,
};
use crate::request::{ApiRequest, Direction, IsValue, Nulls, Operation, OrderTerm};
use crate::schema_cache::SchemaSnapshot;

pub(super) fn plan(
    req: &ApiRequest,
    table: &TableDef,
    snapshot: &SchemaSnapshot,
    filter: Condition,
    config: &PlanConfig,
) -> Result<ReadPlan, RestError> {
    let mut embeds = embed::embeds(&req.query.select, table, snapshot)?;
    embed_params(req, snapshot, &mut embeds)?;
    let mut related = Vec::new();
    for f in req.query.filters.iter().filter(|f| crate::plan::is_embed_filter(req, table, f)) {
        let i = embeds.iter().position(|e| e.key == f.field.name).ok_or(RestError::Internal)?;
        let present = match (&f.expr.operation, f.expr.negated) {
            (Operation::Is(IsValue::Null), negated) => negated,
            (Operation::Is(IsValue::NotNull), negated) => !negated,
            _ => return Err(RestError::EmbedFilter),
        };
        related.push((i, present));
    }
    let order = order_items(
        snapshot,
        table,
        &embeds,
        &req.query
            .order
            .iter()
            .filter(|o| o.path.is_empty())
            .flat_map(|o| o.terms.clone())
            .collect::<Vec<_>>(),
    )?;
    let limit = match (req.range.limit, config.max_rows) {
        (Some(l), Some(m)) => Some(l.min(m)),
        (l, m) => l.or(m),
    };
    // Databases take signed 64-bit limits and offsets; no table has more rows.
    let cap = |n: u64| n.min(i64::MAX as u64);
    let outputs = columns_of(req, table)?;
    // A spread's aggregates aggregate the rows of the read itself.
    let grouped =
        outputs.iter().any(|o| o.aggregate.is_some()) || embeds.iter().any(|e| e.spread && e.grouped);
    if grouped {
        // Embedded resources group too (each row's embedded JSON), as in PostgREST.
        for o in &order {
            check_grouped(table, &outputs, o)?;
        }
    }
    Ok(ReadPlan {
        outputs,
        grouped,
        related,
        embeds,
        filter,
        order,
        offset: cap(req.range.offset),
        limit: limit.map(cap),
        count: req.preferences.count,
        max_rows: config.max_rows,
    })
}

/// Only grouped columns can order groups (PostgreSQL's 42803 on every engine).
fn check_grouped(table: &TableDef, outputs: &[crate::plan::Output], o: &OrderItem) -> Result<(), RestError> {
    let in_group = o.embed.is_none()
        && outputs
            .iter()
            .any(|x| x.aggregate.is_none() && x.column == o.column && x.json_path == o.json_path);
    if in_group {
        return Ok(());
    }
    Err(RestError::Database {
        status: http::StatusCode::BAD_REQUEST,
        code: "42803".to_owned(),
        message: format!(
            "column \"{}.{}\" must appear in the GROUP BY clause or be used in an aggregate function",
            table.name.as_str(),
            o.column.as_str()
        ),
    })
}

/// The window of a limited PATCH / DELETE (`limit`, `offset`, `order`), if any.
pub(super) fn write_window(
    req: &ApiRequest,
    table: &TableDef,
    snapshot: &SchemaSnapshot,
) -> Result<Option<Window>, RestError> {
    if req.range == crate::request::Range::ALL {
        return Ok(None);
    }
    let terms: Vec<OrderTerm> =
        req.query.order.iter().filter(|o| o.path.is_empty()).flat_map(|o| o.terms.clone()).collect();
    let mut order = order_items(snapshot, table, &[], &terms)?;
    if order.is_empty() {
        order = table
            .primary_key
            .iter()
            .map(|c| OrderItem {
                embed: None,
                column: c.clone(),
                json_path: Vec::new(),
                desc: false,
                nulls_first: false,
            })
            .collect();
    }
    let cap = |n: u64| n.min(i64::MAX as u64);
    Ok(Some(Window { order, limit: req.range.limit.map(cap), offset: cap(req.range.offset) }))
}

/// Applies `path.column=…`, `path.or=…`, `path.order=…`, `path.limit=…` and
/// `path.offset=…` to the embeds they name (400 `PGRST108` for a path that is not one).
pub(super) fn embed_params(
    req: &ApiRequest,
    snapshot: &SchemaSnapshot,
    embeds: &mut [Embed],
) -> Result<(), RestError> {
    let child = |e: &Embed| snapshot.schema().table(e.table.as_str()).ok_or(RestError::Internal);
    for f in req.query.filters.iter().filter(|f| !f.path.is_empty()) {
        let e = Embed::find_mut(embeds, &f.path)?;
        let cond = test(child(e)?, &f.field, &f.expr)?;
        push(&mut e.filter, cond);
    }
    for l in req.query.logic.iter().filter(|l| !l.path.is_empty()) {
        let e = Embed::find_mut(embeds, &l.path)?;
        let cond = tree(child(e)?, &l.tree)?;
        push(&mut e.filter, cond);
    }
    for o in req.query.order.iter().filter(|o| !o.path.is_empty()) {
        let e = Embed::find_mut(embeds, &o.path)?;
        let items = order_items(snapshot, child(e)?, &e.embeds, &o.terms)?;
        if e.grouped {
            let table = child(e)?;
            for item in &items {
                check_grouped(table, &e.outputs, item)?;
            }
        }
        e.order.extend(items);
    }
    for r in &req.query.embedded_ranges {
        let e = Embed::find_mut(embeds, &r.path)?;
        e.limit = r.range.limit.map(|l| l.min(i64::MAX as u64));
        e.offset = r.range.offset.min(i64::MAX as u64);
    }
    Ok(())
}

fn push(filter: &mut Condition, cond: Condition) {
    match filter {
        Condition::And(v) => v.push(cond),
        other => *other = Condition::And(vec![other.clone(), cond]),
    }
}

/// `order=` terms of `table`, whose `rel(column)` terms name to-one embeds of `embeds`.
fn order_items(
    snapshot: &SchemaSnapshot,
    table: &TableDef,
    embeds: &[Embed],
    terms: &[OrderTerm],
) -> Result<Vec<OrderItem>, RestError> {
    let mut order = Vec::new();
    for term in terms {
        let (embed, def) = match &term.relation {
            None => (None, column(table, &term.field.name)?),
            Some(rel) => {
                let i = embeds
                    .iter()
                    .position(|e| &e.key == rel)
                    .ok_or_else(|| RestError::NotEmbedded { name: rel.clone() })?;
                if !embeds[i].to_one {
                    return Err(RestError::RelatedOrderNotToOne {
                        parent: table.name.as_str().to_owned(),
                        child: rel.clone(),
                    });
                }
                let child = snapshot.schema().table(embeds[i].table.as_str()).ok_or(RestError::Internal)?;
                (Some(i), column(child, &term.field.name)?)
            }
        };
        select::check_json_path(def, &term.field.json_path)?;
        let desc = term.direction == Some(Direction::Desc);
        let nulls_first = match term.nulls {
            Some(Nulls::First) => true,
            Some(Nulls::Last) => false,
            None => desc,
        };
        order.push(OrderItem {
            embed,
            column: def.name.clone(),
            json_path: term.field.json_path.clone(),
            desc,
            nulls_first,
        });
    }
    Ok(order)
}
