//! Statement templates per request shape: a read asked again with other values reuses
//! the SQL built the first time and only binds the new values.
//!
//! Building a statement (plan → sea-query tree → SQL text) is most of what the SQL stage
//! costs, and clients repeat a few shapes with many values (`id=eq.1`, `id=eq.2`, …). A
//! read's **shape** is everything that decides its SQL: the snapshot it was planned
//! against, the target (dialect, schema, role, and on SQLite / MySQL the user's id, role
//! and email, which policies bind), the table, the outputs, the order, the window, the
//! count and the filter tree with its operators. Filter values are **slots** when binding
//! them cannot depend on their content: integers, and text compared with a plain text,
//! varchar or uuid column (no JSON path). Every other value (booleans, NULLs, numbers,
//! JSON, dates and times, patterns) is part of the shape.
//!
//! The first time a shape is seen, its statements are built twice: with the request's
//! values, which answers it, and with a **sentinel** in every slot (an integer or a text
//! no request holds). The two must agree everywhere except at the sentinels: the same
//! SQL, the same constants, and the request's own value (as the builder binds it) where
//! the sentinel is. Then the shape's template is kept: SQL, constants, and which slot
//! goes where. Otherwise the shape is remembered as not cacheable and always built. The
//! check is what makes the cache safe: a value the builder would bind differently, a
//! policy constant that came from the request, or SQL that depends on a value, each
//! turns a shape away instead of being reused wrongly.
//!
//! Not cached: writes, reads with embedded resources or embed filters, and reads of a
//! table whose select policies read token claims beyond the user's id, role and email
//! (those bind claims that the shape does not hold). At most [`MAX_TEMPLATES`] shapes are
//! kept (the map is cleared when full); each holds its snapshot, so a schema change gives
//! new shapes and the old ones go with the next clear.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use easbase_core::db::Stmt;
use easbase_schema::{ColumnType, Dialect, Operation, TableDef};

use super::builder::{SqlPlan, SqlTarget, build};
use crate::error::RestError;
use crate::plan::{ActionPlan, Condition, CrudPlan, ReadPlan, Test, Value};
use crate::schema_cache::SchemaSnapshot;

/// The most shapes kept.
pub const MAX_TEMPLATES: usize = 4096;

/// Counters of the statement templates (`RestService::template_stats`; tests and benchmarks read them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TemplateStats {
    /// Requests answered from a template.
    pub hits: u64,
    /// Shapes seen for the first time (built twice and checked).
    pub misses: u64,
    /// Requests whose shape was found not cacheable (built as usual).
    pub refused: u64,
    /// Requests of a kind never cached (writes, embeds, claims in policies).
    pub skipped: u64,
}

/// The statement templates of one REST service.
pub(crate) struct Templates {
    map: Mutex<HashMap<Box<[u8]>, Cached>>,
    /// Makes the sentinels of this process unguessable (no request can hold one by
    /// chance or on purpose).
    nonce: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    refused: AtomicU64,
    skipped: AtomicU64,
}

/// A shape's template, or `None` when the shape is not cacheable.
type Cached = Option<Arc<Template>>;

/// A shape's statements with their values as constants and slots.
struct Template {
    /// Keeps the snapshot alive, so its address in the key cannot be reused by another.
    _snapshot: Arc<SchemaSnapshot>,
    statements: Vec<(String, Vec<Bound>, bool)>,
    skeleton: SqlPlan,
}

/// One bound value of a template.
enum Bound {
    Const(sea_query::Value),
    Slot(usize),
}

impl Default for Templates {
    fn default() -> Templates {
        let nonce = std::collections::hash_map::RandomState::new().hash_one(0x5eb_u64);
        Templates {
            map: Mutex::new(HashMap::new()),
            nonce,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }
}

impl Templates {
    /// The counters so far.
    pub(crate) fn stats(&self) -> TemplateStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TemplateStats {
            hits: get(&self.hits),
            misses: get(&self.misses),
            refused: get(&self.refused),
            skipped: get(&self.skipped),
        }
    }

    /// The statements of `plan`, from its shape's template when there is one (see the
    /// module docs); exactly what [`build`] gives.
    ///
    /// # Errors
    /// Those of [`build`].
    pub(crate) fn build(&self, plan: &ActionPlan, target: &SqlTarget<'_>) -> Result<SqlPlan, RestError> {
        let Some(shape) = Shape::of(plan, target) else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return build(plan, target);
        };
        let found = self.map.lock().unwrap_or_else(PoisonError::into_inner).get(&*shape.key).cloned();
        match found {
            Some(Some(template)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(template.instantiate(&shape.slots));
            }
            Some(None) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return build(plan, target);
            }
            None => {}
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let real = build(plan, target)?;
        let template = self.derive(plan, target, &shape, &real).map(Arc::new);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_TEMPLATES {
            map.clear();
        }
        map.insert(shape.key, template);
        Ok(real)
    }

    /// The sentinel of slot `k`: the request's value's kind, with a content no request
    /// holds.
    fn sentinel(&self, k: usize, like: &Value) -> Value {
        match like {
            // Far from any real key or count; distinct per slot.
            Value::Int(_) => Value::Int(((self.nonce >> 2) as i64 | (1 << 61)).wrapping_add(k as i64)),
            _ => Value::Text(format!("\u{1}eb-slot-{:016x}-{k}", self.nonce)),
        }
    }

    /// Builds the plan again with sentinels in its slots and keeps the template when the
    /// two builds agree (see the module docs); `None` when they do not.
    fn derive(
        &self,
        plan: &ActionPlan,
        target: &SqlTarget<'_>,
        shape: &Shape<'_>,
        real: &SqlPlan,
    ) -> Option<Template> {
        let mut sentinel_plan = plan.clone();
        let CrudPlan::Read(read) = &mut sentinel_plan.crud else { return None };
        let mut k = 0;
        let table = plan.table();
        visit_values(&mut read.filter, table, &mut |v| {
            *v = self.sentinel(k, v);
            k += 1;
        });
        if k != shape.slots.len() {
            return None;
        }
        let sentinels: Vec<sea_query::Value> =
            shape.slots.iter().enumerate().map(|(k, v)| slot_value(&self.sentinel(k, v))).collect();
        let built = build(&sentinel_plan, target).ok()?;
        let same_skeleton = built.statements.len() == real.statements.len()
            && built.main == real.main
            && built.more == real.more
            && built.count == real.count
            && built.planned == real.planned
            && built.count_cap == real.count_cap
            && built.count_kind == real.count_kind
            && built.read_only == real.read_only;
        if !same_skeleton {
            return None;
        }
        let mut statements = Vec::with_capacity(real.statements.len());
        for (s, r) in built.statements.iter().zip(&real.statements) {
            if s.sql != r.sql
                || s.values.0.len() != r.values.0.len()
                || s.guard.is_some()
                || r.guard.is_some()
                || s.plain_read != r.plain_read
            {
                return None;
            }
            let mut bound = Vec::with_capacity(r.values.0.len());
            for (sv, rv) in s.values.0.iter().zip(&r.values.0) {
                match sentinels.iter().position(|x| x == sv) {
                    // The request's own value, as a slot binds it, must be where its
                    // sentinel is.
                    Some(k) if *rv == slot_value(shape.slots[k]) => bound.push(Bound::Slot(k)),
                    Some(_) => return None,
                    None if sv == rv => bound.push(Bound::Const(rv.clone())),
                    None => return None,
                }
            }
            statements.push((r.sql.clone(), bound, r.plain_read));
        }
        Some(Template { _snapshot: Arc::clone(plan.snapshot()), statements, skeleton: skeleton_of(real) })
    }
}

/// `plan` without its statements (a template's skeleton).
fn skeleton_of(plan: &SqlPlan) -> SqlPlan {
    SqlPlan {
        statements: Vec::new(),
        main: plan.main,
        more: plan.more.clone(),
        count: plan.count,
        planned: plan.planned,
        count_cap: plan.count_cap,
        count_kind: plan.count_kind,
        read_only: plan.read_only,
    }
}

impl Template {
    fn instantiate(&self, slots: &[&Value]) -> SqlPlan {
        let statements = self
            .statements
            .iter()
            .map(|(sql, bound, plain_read)| {
                let values = bound
                    .iter()
                    .map(|b| match b {
                        Bound::Const(v) => v.clone(),
                        Bound::Slot(k) => {
                            slots.get(*k).map_or(sea_query::Value::String(None), |v| slot_value(v))
                        }
                    })
                    .collect();
                Stmt {
                    sql: sql.clone(),
                    values: sea_query::Values(values),
                    guard: None,
                    plain_read: *plain_read,
                }
            })
            .collect();
        SqlPlan { statements, ..skeleton_of(&self.skeleton) }
    }
}

/// How the builder binds a slot's value: an integer as a big integer, text as text.
fn slot_value(v: &Value) -> sea_query::Value {
    match v {
        Value::Int(i) => (*i).into(),
        Value::Text(s) => s.clone().into(),
        // Never a slot (see `is_slot`).
        _ => sea_query::Value::String(None),
    }
}

/// Whether `value` compared with `column` (no JSON path) is a slot: binding it cannot
/// depend on its content.
fn is_slot(value: &Value, column: Option<&ColumnType>) -> bool {
    match value {
        Value::Int(_) => true,
        Value::Text(_) => {
            matches!(column, Some(ColumnType::Text | ColumnType::Varchar(_) | ColumnType::Uuid))
        }
        _ => false,
    }
}

/// Calls `f` on every slot of a filter tree, in a fixed order (the key's).
fn visit_values(cond: &mut Condition, table: &TableDef, f: &mut dyn FnMut(&mut Value)) {
    match cond {
        Condition::And(items) | Condition::Or(items) => {
            items.iter_mut().for_each(|c| visit_values(c, table, f));
        }
        Condition::Not(inner) => visit_values(inner, table, f),
        Condition::Test { column, json_path, test } => {
            let ty = if json_path.is_empty() { table.column(column.as_str()).map(|c| &c.ty) } else { None };
            let mut visit = |v: &mut Value| {
                if is_slot(v, ty) {
                    f(v);
                }
            };
            match test {
                Test::Cmp(_, v) | Test::IsDistinct(v) => visit(v),
                Test::In(values) => values.iter_mut().for_each(visit),
                Test::Like { .. }
                | Test::Is(_)
                | Test::Regex { .. }
                | Test::Contains(..)
                | Test::Fts { .. } => {}
            }
        }
    }
}

/// A read's shape: its key, and its slots' values in order.
struct Shape<'p> {
    key: Box<[u8]>,
    slots: Vec<&'p Value>,
}

/// Writes what it is given into the key (a [`Hasher`] so that derived `Hash` impls can
/// write into it; `str` ends with `0xff` and collections start with their length, so the
/// bytes of two different shapes differ).
struct KeyWriter(Vec<u8>);

impl Hasher for KeyWriter {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

impl<'p> Shape<'p> {
    /// The shape of a cacheable read; `None` for anything else (see the module docs).
    fn of(plan: &'p ActionPlan, target: &SqlTarget<'_>) -> Option<Shape<'p>> {
        let CrudPlan::Read(read) = &plan.crud else { return None };
        let ReadPlan { outputs, filter, order, offset, limit, count, max_rows, embeds, grouped, related } =
            read;
        if !embeds.is_empty() || !related.is_empty() {
            return None;
        }
        let table = plan.table();
        let bound_auth = target.dialect != Dialect::Postgres;
        if bound_auth && table.policies_read_claims(Operation::Select, target.role) {
            return None;
        }
        let mut w = KeyWriter(Vec::with_capacity(256));
        (Arc::as_ptr(plan.snapshot()) as usize).hash(&mut w);
        table.name.as_str().hash(&mut w);
        std::mem::discriminant(&target.dialect).hash(&mut w);
        target.pg_schema.map(|s| s.as_str()).hash(&mut w);
        target.role.hash(&mut w);
        if bound_auth {
            let auth = target.auth;
            (&auth.uid, &auth.role, &auth.email).hash(&mut w);
        }
        std::mem::discriminant(&plan.accept).hash(&mut w);
        (plan.headers_only, plan.max_affected, plan.by_key).hash(&mut w);
        (outputs, order, offset, limit, count, max_rows, grouped).hash(&mut w);
        let mut slots = Vec::new();
        write_condition(filter, table, &mut w, &mut slots);
        Some(Shape { key: w.0.into_boxed_slice(), slots })
    }
}

/// Writes a filter tree into the key: slots as their kind only (collected in `slots`),
/// everything else as it is. Walks in [`visit_values`]'s order.
fn write_condition<'p>(cond: &'p Condition, table: &TableDef, w: &mut KeyWriter, slots: &mut Vec<&'p Value>) {
    match cond {
        Condition::And(items) | Condition::Or(items) => {
            (matches!(cond, Condition::And(_)) as u8, items.len()).hash(w);
            items.iter().for_each(|c| write_condition(c, table, w, slots));
        }
        Condition::Not(inner) => {
            2u8.hash(w);
            write_condition(inner, table, w, slots);
        }
        Condition::Test { column, json_path, test } => {
            (3u8, column, json_path).hash(w);
            let ty = if json_path.is_empty() { table.column(column.as_str()).map(|c| &c.ty) } else { None };
            let mut value = |v: &'p Value, w: &mut KeyWriter| {
                if is_slot(v, ty) {
                    // The slot's kind (`Int` / `Text`) but not its content.
                    (0xfeu8, std::mem::discriminant(v)).hash(w);
                    slots.push(v);
                } else {
                    v.hash(w);
                }
            };
            match test {
                Test::Cmp(op, v) => {
                    (0u8, op).hash(w);
                    value(v, w);
                }
                Test::IsDistinct(v) => {
                    1u8.hash(w);
                    value(v, w);
                }
                Test::In(values) => {
                    (2u8, values.len()).hash(w);
                    values.iter().for_each(|v| value(v, w));
                }
                Test::Like { pattern, case_insensitive } => (3u8, pattern, case_insensitive).hash(w),
                Test::Is(is) => (4u8, is).hash(w),
                Test::Regex { pattern, case_insensitive } => (5u8, pattern, case_insensitive).hash(w),
                Test::Contains(c, v) => (6u8, c, v).hash(w),
                Test::Fts { op, language, query } => (7u8, op, language, query).hash(w),
            }
        }
    }
}
