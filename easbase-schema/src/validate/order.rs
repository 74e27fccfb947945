//! Dependency order of tables: a table comes after the tables its foreign keys reference,
//! ties keep the order of the description (so the output is deterministic). Foreign keys
//! in a cycle are left for the DDL generator to add after all tables exist.

use crate::valid::TableDef;

pub(super) fn dependency_order(tables: Vec<TableDef>) -> Vec<TableDef> {
    let n = tables.len();
    let index_of = |name: &str| tables.iter().position(|t| t.name.as_str() == name);
    let deps: Vec<Vec<usize>> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut d: Vec<usize> = t
                .foreign_keys
                .iter()
                .filter_map(|fk| index_of(fk.table.as_str()))
                .filter(|&j| j != i)
                .collect();
            d.sort_unstable();
            d.dedup();
            d
        })
        .collect();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        // The first unplaced table whose dependencies are all placed; on a cycle, the
        // first unplaced table (its forward foreign keys are added later).
        let next = (0..n)
            .find(|&i| !placed[i] && deps[i].iter().all(|&d| placed[d]))
            .or_else(|| (0..n).find(|&i| !placed[i]))
            .unwrap_or(0);
        placed[next] = true;
        order.push(next);
    }
    let mut slots: Vec<Option<TableDef>> = tables.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
