//! GET / HEAD → [`ReadPlan`].

use easbase_schema::TableDef;

use crate::error::RestError;
use crate::plan::{
    Condition, OrderItem, PlanConfig, ReadPlan, column, columns_of, embed, not_supported, test, tree,
};
use crate::request::{ApiRequest, Count, Direction, Nulls, OrderTerm};
use crate::schema_cache::SchemaSnapshot;

pub(super) fn plan(
    req: &ApiRequest,
    table: &TableDef,
    snapshot: &SchemaSnapshot,
    filter: Condition,
    config: &PlanConfig,
) -> Result<ReadPlan, RestError> {
    let mut embeds = embed::embeds(&req.query.select, table, snapshot)?;
    // Filters, orders and ranges of embedded resources, by the embed's key.
    let embed_of = |path: &[String]| -> Result<usize, RestError> {
        match path {
            [key] => embeds
                .iter()
                .position(|e| &e.key == key)
                .ok_or_else(|| RestError::NotEmbedded { name: key.clone() }),
            _ => Err(not_supported("filters, orders and limits on nested embedded resources")),
        }
    };
    let mut embed_filters: Vec<(usize, Condition)> = Vec::new();
    for f in req.query.filters.iter().filter(|f| !f.path.is_empty()) {
        let i = embed_of(&f.path)?;
        let child = snapshot.schema().table(embeds[i].table.as_str()).unwrap_or(table);
        embed_filters.push((i, test(child, &f.field, &f.expr)?));
    }
    for l in req.query.logic.iter().filter(|l| !l.path.is_empty()) {
        let i = embed_of(&l.path)?;
        let child = snapshot.schema().table(embeds[i].table.as_str()).unwrap_or(table);
        embed_filters.push((i, tree(child, &l.tree)?));
    }
    let mut embed_orders = Vec::new();
    for o in req.query.order.iter().filter(|o| !o.path.is_empty()) {
        let i = embed_of(&o.path)?;
        let child = snapshot.schema().table(embeds[i].table.as_str()).unwrap_or(table);
        embed_orders.push((i, order_items(child, &o.terms)?));
    }
    let mut embed_ranges = Vec::new();
    for r in &req.query.embedded_ranges {
        embed_ranges.push((embed_of(&r.path)?, r.range));
    }
    for (i, c) in embed_filters {
        if let Condition::And(v) = &mut embeds[i].filter {
            v.push(c);
        }
    }
    for (i, o) in embed_orders {
        embeds[i].order.extend(o);
    }
    for (i, r) in embed_ranges {
        embeds[i].limit = r.limit.map(|l| l.min(i64::MAX as u64));
        embeds[i].offset = r.offset.min(i64::MAX as u64);
    }
    let order = order_items(
        table,
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
    Ok(ReadPlan {
        outputs: columns_of(req, table)?,
        embeds,
        filter,
        order,
        offset: cap(req.range.offset),
        limit: limit.map(cap),
        count: matches!(req.preferences.count, Some(Count::Exact | Count::Planned | Count::Estimated)),
    })
}

fn order_items(table: &TableDef, terms: &[OrderTerm]) -> Result<Vec<OrderItem>, RestError> {
    let mut order = Vec::new();
    for term in terms {
        if term.relation.is_some() {
            return Err(not_supported("ordering by an embedded resource"));
        }
        if !term.field.json_path.is_empty() {
            return Err(not_supported("JSON paths (->, ->>)"));
        }
        let def = column(table, &term.field.name)?;
        let desc = term.direction == Some(Direction::Desc);
        let nulls_first = match term.nulls {
            Some(Nulls::First) => true,
            Some(Nulls::Last) => false,
            None => desc,
        };
        order.push(OrderItem { column: def.name.clone(), desc, nulls_first });
    }
    Ok(order)
}
