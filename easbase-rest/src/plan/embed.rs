//! Embedded resources, to any depth the parser allowed (`RequestLimits::max_embed_depth`):
//! `select=id,reviews(stars)` (one-to-many, an array), `select=id,product:products(name)`
//! (many-to-one, an object or null), `select=id,tags(label)` (many-to-many through a
//! junction table whose primary key holds both foreign keys) and
//! `select=id,...products(name)` (a to-one spread: its keys merged into the parent),
//! resolved through the schema's foreign keys; `!hint` picks a foreign key by its name or
//! its column, `!inner` drops parents without a match. Filters, orders and windows on an
//! embed are found by their path of keys (`reviews.products.name=eq.x`).

use easbase_schema::{ColumnName, TableDef, TableName};

use crate::error::RestError;
use crate::plan::select::output;
use crate::plan::{Condition, OrderItem, Output};
use crate::request::{JoinType, SelectItem};
use crate::schema_cache::SchemaSnapshot;

/// One embedded resource of a read.
#[derive(Debug, Clone, PartialEq)]
pub struct Embed {
    /// Its key in the parent's JSON object (`alias:` or the relation's name).
    pub key: String,
    /// The related table.
    pub table: TableName,
    /// Its columns in the answer.
    pub outputs: Vec<Output>,
    /// An object (many-to-one, or one-to-one) rather than an array.
    pub to_one: bool,
    /// The join: (parent column, child column) pairs that must be equal.
    pub join: Vec<(ColumnName, ColumnName)>,
    /// `!inner`: parents without a related row are dropped.
    pub inner: bool,
    /// `key.column=op.value`, `key.or=(…)`: which related rows are embedded (and, with
    /// `!inner`, which parents are kept).
    pub filter: Condition,
    /// `key.order=…` (default: the related table's primary key).
    pub order: Vec<OrderItem>,
    /// `key.limit=` (to-many only).
    pub limit: Option<u64>,
    /// `key.offset=` (to-many only).
    pub offset: u64,
    /// Many-to-many: the junction table the two are related through (`join` is empty).
    pub via: Option<Junction>,
    /// `...relation(…)`: a to-one embed whose keys are merged into the parent object.
    pub spread: bool,
    /// Embedded resources of this one.
    pub embeds: Vec<Embed>,
    /// Some output is an aggregate: the related rows are grouped by the other outputs
    /// (one group of all of them when there are none, as PostgREST answers
    /// `rel(amount.sum())` with one object even when nothing relates).
    pub grouped: bool,
}

impl Embed {
    /// The embed at `path` (keys from this level down) among `embeds`.
    ///
    /// # Errors
    /// 400 `PGRST108` naming the first key that is not embedded.
    pub(crate) fn find_mut<'e>(embeds: &'e mut [Embed], path: &[String]) -> Result<&'e mut Embed, RestError> {
        let (first, rest) = path.split_first().ok_or(RestError::Internal)?;
        let e = embeds
            .iter_mut()
            .find(|e| &e.key == first)
            .ok_or_else(|| RestError::NotEmbedded { name: first.clone() })?;
        if rest.is_empty() { Ok(e) } else { Embed::find_mut(&mut e.embeds, rest) }
    }
}

/// A junction table of a many-to-many embed: it has foreign keys to both tables, whose
/// columns are part of its primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Junction {
    /// The junction table.
    pub table: TableName,
    /// (parent column, junction column) pairs.
    pub parent: Vec<(ColumnName, ColumnName)>,
    /// (child column, junction column) pairs.
    pub child: Vec<(ColumnName, ColumnName)>,
}

/// A relationship found.
struct Candidate<'a> {
    to_one: bool,
    join: Vec<(ColumnName, ColumnName)>,
    via: Option<Junction>,
    /// What a `!hint` may name: the foreign key, its single column, or the junction table.
    names: Vec<&'a str>,
}

fn fk_names(fk: &easbase_schema::ForeignKeyDef) -> Vec<&str> {
    let mut names = vec![fk.name.as_str()];
    if let [c] = fk.columns.as_slice() {
        names.push(c.as_str());
    }
    names
}

/// Resolves the relation items (`rel(…)`, `...rel(…)`) of one level of `select=`, and
/// theirs below them.
pub(crate) fn embeds(
    items: &[SelectItem],
    parent: &TableDef,
    snapshot: &SchemaSnapshot,
) -> Result<Vec<Embed>, RestError> {
    let mut out = Vec::new();
    for item in items {
        let (name, alias, hint, join, children, spread) = match item {
            SelectItem::Relation { name, alias, hint, join, children } => {
                (name, alias.as_ref(), hint, join, children, false)
            }
            SelectItem::Spread { name, hint, join, children } => (name, None, hint, join, children, true),
            SelectItem::Star | SelectItem::Field { .. } => continue,
        };
        let not_found =
            || RestError::NoRelationship { parent: parent.name.as_str().to_owned(), child: name.clone() };
        let child = snapshot.table(name).ok_or_else(not_found)?;
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        // Many-to-one: the parent refers to the child.
        for fk in parent.foreign_keys.iter().filter(|fk| fk.table == child.name) {
            let join = fk.columns.iter().cloned().zip(fk.referenced.iter().cloned()).collect();
            candidates.push(Candidate { to_one: true, join, via: None, names: fk_names(fk) });
        }
        // One-to-many (one-to-one when the child's key columns are unique).
        for fk in child.foreign_keys.iter().filter(|fk| fk.table == parent.name) {
            let join = fk.referenced.iter().cloned().zip(fk.columns.iter().cloned()).collect();
            let unique =
                child.primary_key == fk.columns || child.uniques.iter().any(|u| u.columns == fk.columns);
            candidates.push(Candidate { to_one: unique, join, via: None, names: fk_names(fk) });
        }
        // Many-to-many through an exposed junction table.
        for j in snapshot.schema().tables().iter().filter(|j| snapshot.table(j.name.as_str()).is_some()) {
            let in_key = |cols: &[ColumnName]| cols.iter().all(|c| j.primary_key.contains(c));
            for to_parent in j.foreign_keys.iter().filter(|fk| fk.table == parent.name && in_key(&fk.columns))
            {
                for to_child in j
                    .foreign_keys
                    .iter()
                    .filter(|fk| fk.table == child.name && fk.name != to_parent.name && in_key(&fk.columns))
                {
                    let via = Junction {
                        table: j.name.clone(),
                        parent: to_parent
                            .referenced
                            .iter()
                            .cloned()
                            .zip(to_parent.columns.iter().cloned())
                            .collect(),
                        child: to_child
                            .referenced
                            .iter()
                            .cloned()
                            .zip(to_child.columns.iter().cloned())
                            .collect(),
                    };
                    let mut names = vec![j.name.as_str()];
                    names.extend(fk_names(to_child));
                    candidates.push(Candidate { to_one: false, join: Vec::new(), via: Some(via), names });
                }
            }
        }
        if let Some(h) = hint {
            candidates.retain(|c| c.names.contains(&h.as_str()));
        }
        let (to_one, join_pairs, via) = match candidates.as_mut_slice() {
            [] => return Err(not_found()),
            [c] => (c.to_one, std::mem::take(&mut c.join), c.via.take()),
            _ => {
                return Err(RestError::AmbiguousRelationship {
                    parent: parent.name.as_str().to_owned(),
                    child: name.clone(),
                });
            }
        };
        if spread && !to_one {
            return Err(RestError::SpreadNotToOne {
                parent: parent.name.as_str().to_owned(),
                child: name.clone(),
            });
        }
        let mut outputs = Vec::new();
        for c in children {
            match c {
                SelectItem::Star => outputs.extend(child.columns.iter().map(|c| Output::column(&c.name))),
                SelectItem::Field { .. } => outputs.push(output(child, c)?),
                SelectItem::Relation { .. } | SelectItem::Spread { .. } => {}
            }
        }
        let grouped = outputs.iter().any(|o| o.aggregate.is_some());
        let nested = embeds(children, child, snapshot)?;
        if grouped && !nested.is_empty() {
            return Err(crate::plan::not_supported("aggregates with embedded resources"));
        }
        if nested.iter().any(|n| n.spread && n.grouped) {
            // PostgREST aggregates a spread's columns with its parent's rows: here only
            // at the top of a read.
            return Err(crate::plan::not_supported("aggregates in a spread below an embedded resource"));
        }
        out.push(Embed {
            key: alias.cloned().unwrap_or_else(|| name.clone()),
            table: child.name.clone(),
            outputs,
            to_one,
            join: join_pairs,
            inner: *join == Some(JoinType::Inner),
            filter: Condition::And(Vec::new()),
            order: Vec::new(),
            limit: None,
            offset: 0,
            via,
            spread,
            embeds: nested,
            grouped,
        });
    }
    Ok(out)
}
