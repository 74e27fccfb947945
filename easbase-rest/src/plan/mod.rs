//! Stage 2 of the pipeline: an [`ApiRequest`] + the project's [`SchemaSnapshot`] →
//! [`ActionPlan`], holding only validated names.
//!
//! Every unknown table (404 `PGRST205`), unknown column (400 `42703`, naming it), value
//! that cannot be its column's type (400 `22P02`) and feature not built yet (400 `EB200`)
//! is refused here, before any SQL exists. This module knows the schema model and
//! nothing of SQL (no sea-query import): `sql/` turns the plan into statements.
//!
//! Files: `read.rs` (GET/HEAD), `mutate.rs` (POST, PATCH, DELETE), `value.rs` (typed
//! values from query-string text and JSON).

mod embed;
mod mutate;
mod read;
mod value;

use std::sync::Arc;

use easbase_schema::{ColumnName, TableDef, TableName};

pub use self::embed::{Embed, Junction};
pub use self::value::Value;

use crate::error::RestError;
use crate::request::{
    Action, ApiRequest, Field, IsValue, LogicOperator, LogicTree, MediaType, OpExpr, Operation, Operator,
    Quantifier, Representation, SelectItem, Target,
};
use crate::schema_cache::SchemaSnapshot;

/// What the host allows, as the plan stage reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanConfig {
    /// Most rows one read returns (`None`: no cap). A larger `limit` is lowered to it.
    pub max_rows: Option<u64>,
    /// Allow PATCH and DELETE without any filter.
    pub allow_unfiltered_writes: bool,
}

/// A checked request: the table, what to do with it, and how to answer.
#[derive(Debug, Clone)]
pub struct ActionPlan {
    snapshot: Arc<SchemaSnapshot>,
    table: TableName,
    /// The statement-level intent.
    pub crud: CrudPlan,
    /// The negotiated response media type.
    pub accept: MediaType,
    /// HEAD: no body.
    pub headers_only: bool,
}

impl ActionPlan {
    /// The table the plan is about (validated: it exists and is exposed).
    pub fn table(&self) -> &TableDef {
        self.snapshot
            .schema()
            .table(self.table.as_str())
            .unwrap_or_else(|| unreachable!("checked by the plan"))
    }

    /// The schema snapshot the plan was checked against.
    pub fn snapshot(&self) -> &Arc<SchemaSnapshot> {
        &self.snapshot
    }

    /// Whether the plan only reads.
    pub fn is_read(&self) -> bool {
        matches!(self.crud, CrudPlan::Read(_))
    }
}

/// One statement-level intent.
#[derive(Debug, Clone)]
pub enum CrudPlan {
    /// GET / HEAD.
    Read(ReadPlan),
    /// POST (insert, or upsert with `Prefer: resolution=`).
    Insert(InsertPlan),
    /// PATCH.
    Update(UpdatePlan),
    /// DELETE.
    Delete(DeletePlan),
}

/// A column of the answer: which column, under which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The column.
    pub column: ColumnName,
    /// Its key in the JSON object (`alias:` or the column's name).
    pub key: String,
}

/// A boolean condition over validated columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// All hold (true when empty).
    And(Vec<Condition>),
    /// Any holds (false when empty).
    Or(Vec<Condition>),
    /// Negation.
    Not(Box<Condition>),
    /// A test on one column.
    Test {
        /// The column.
        column: ColumnName,
        /// The test.
        test: Test,
    },
}

/// A test of one column against typed values.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `=`, `<>`, `>`, `>=`, `<`, `<=`.
    Cmp(CmpOp, Value),
    /// `like` / `ilike` with `*` already turned into `%`.
    Like {
        /// The pattern (`%` and `_` wildcards).
        pattern: String,
        /// `ilike`.
        case_insensitive: bool,
    },
    /// `in.(…)`.
    In(Vec<Value>),
    /// `is.null`, `is.true`, …
    Is(IsValue),
    /// `isdistinct.value`: `IS DISTINCT FROM` (NULL-safe inequality).
    IsDistinct(Value),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`.
    Eq,
    /// `<>`.
    Neq,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
}

/// One `ORDER BY` term. Nulls are always placed explicitly, as PostgreSQL orders by
/// default (last ascending, first descending), so every engine gives the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// The column.
    pub column: ColumnName,
    /// Descending.
    pub desc: bool,
    /// Nulls first.
    pub nulls_first: bool,
}

/// A read.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    /// The columns of the answer, in order.
    pub outputs: Vec<Output>,
    /// The filters (all must hold).
    pub filter: Condition,
    /// The order.
    pub order: Vec<OrderItem>,
    /// Rows skipped.
    pub offset: u64,
    /// Rows returned at most (the host's `max_rows` applied).
    pub limit: Option<u64>,
    /// `Prefer: count=exact` (`planned` and `estimated` are counted exactly too).
    pub count: bool,
    /// Embedded resources, one level deep.
    pub embeds: Vec<Embed>,
}

/// An insert, possibly an upsert.
#[derive(Debug, Clone)]
pub struct InsertPlan {
    /// The columns given.
    pub columns: Vec<ColumnName>,
    /// The rows, one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Columns whose default is `auth.uid` and that the body leaves out: SQLite and MySQL
    /// fill them from the request (PostgreSQL's default reads the claims itself).
    pub uid_defaults: Vec<ColumnName>,
    /// Upsert: the conflict target and what to do.
    pub conflict: Option<Conflict>,
    /// The columns to answer with (`return=representation`), else `None`.
    pub returning: Option<Vec<Output>>,
    /// PUT: one row by key (answered 200 / 204 rather than 201).
    pub put: bool,
    /// `return=headers-only` on one object: `returning` is the primary key, answered as
    /// a `Location` header rather than a body.
    pub location: bool,
}

/// `ON CONFLICT (…) DO UPDATE / DO NOTHING`.
#[derive(Debug, Clone)]
pub struct Conflict {
    /// The unique columns (`on_conflict=`, else the primary key).
    pub columns: Vec<ColumnName>,
    /// `merge-duplicates` (update the other given columns) or `ignore-duplicates`.
    pub merge: bool,
}

/// An update.
#[derive(Debug, Clone)]
pub struct UpdatePlan {
    /// `SET column = value`.
    pub set: Vec<(ColumnName, Value)>,
    /// Which rows.
    pub filter: Condition,
    /// The columns to answer with, else `None`.
    pub returning: Option<Vec<Output>>,
}

/// A delete.
#[derive(Debug, Clone)]
pub struct DeletePlan {
    /// Which rows.
    pub filter: Condition,
    /// The columns to answer with, else `None`.
    pub returning: Option<Vec<Output>>,
}

/// Checks `req` against `snapshot`.
///
/// # Errors
/// 404 `PGRST205` (unknown or hidden table), 400 `42703` (unknown column), 400 `22P02`
/// (a value of the wrong type), 400 `EB200` (not supported yet), 404 `EB201`
/// (`/{table}/{key}` without a single-column key), 400 `21000` (unfiltered write).
pub fn action_plan(
    req: &ApiRequest,
    snapshot: &Arc<SchemaSnapshot>,
    config: &PlanConfig,
) -> Result<ActionPlan, RestError> {
    let (name, key) = match &req.target {
        Target::Relation { name, key } => (name, key),
        Target::Root => return Err(not_supported("the OpenAPI description at /")),
        Target::Function { .. } => return Err(not_supported("calling functions (/rpc)")),
    };
    if let Some(profile) = req.profile.as_deref().filter(|p| *p != "public") {
        return Err(RestError::UnacceptableSchema { schema: profile.to_owned() });
    }
    if req.preferences.handling == Some(crate::request::Handling::Strict)
        && req.preferences.max_affected.is_some()
    {
        // Never affect more rows than the client's bound silently: refuse until enforced.
        return Err(not_supported("Prefer: max-affected"));
    }
    if matches!(req.action, Action::Update | Action::Delete) && req.range != crate::request::Range::ALL {
        // Never change more rows than a limited write asks for: refuse until supported.
        return Err(not_supported("limit/offset on PATCH and DELETE"));
    }
    let table = snapshot.table(name).ok_or_else(|| RestError::TableNotFound { table: name.clone() })?;
    let is_read = matches!(req.action, Action::Read { .. });
    let mut filter = filters(req, table, is_read)?;
    if let Some(key) = key {
        let [pk] = table.primary_key.as_slice() else {
            return Err(RestError::NoSingleKey { table: name.clone() });
        };
        let def = table.column(pk.as_str()).unwrap_or_else(|| unreachable!("validated schema"));
        let value = Value::from_filter_text(&key.0, def)?;
        filter.push(Condition::Test { column: pk.clone(), test: Test::Cmp(CmpOp::Eq, value) });
    }
    let filter = Condition::And(filter);
    let returning = |outputs: Vec<Output>| {
        (req.preferences.representation == Some(Representation::Full)).then_some(outputs)
    };
    let crud = match req.action {
        Action::Read { .. } => CrudPlan::Read(read::plan(req, table, snapshot, filter, config)?),
        Action::Create => {
            if key.is_some() {
                return Err(not_supported("POST on /{table}/{key}"));
            }
            let mut plan = mutate::insert(req, table, returning(outputs(req, table)?))?;
            if req.preferences.representation == Some(Representation::HeadersOnly)
                && matches!(req.payload, Some(crate::request::Payload::Object(_)))
                && !table.primary_key.is_empty()
            {
                plan.returning = Some(
                    table
                        .primary_key
                        .iter()
                        .map(|c| Output { column: c.clone(), key: c.as_str().to_owned() })
                        .collect(),
                );
                plan.location = true;
            }
            CrudPlan::Insert(plan)
        }
        Action::Update => {
            CrudPlan::Update(mutate::update(req, table, filter, config, returning(outputs(req, table)?))?)
        }
        Action::Delete => {
            CrudPlan::Delete(mutate::delete(table, filter, config, returning(outputs(req, table)?))?)
        }
        Action::Upsert => {
            CrudPlan::Insert(mutate::put(req, table, &filter, returning(outputs(req, table)?))?)
        }
        Action::Call { .. } => return Err(not_supported("calling functions (/rpc)")),
        Action::Info => return Err(not_supported("OPTIONS")),
    };
    Ok(ActionPlan {
        snapshot: Arc::clone(snapshot),
        table: table.name.clone(),
        crud,
        accept: req.accept,
        headers_only: matches!(req.action, Action::Read { headers_only: true }),
    })
}

pub(crate) fn not_supported(what: impl Into<String>) -> RestError {
    RestError::NotSupported { what: what.into() }
}

/// The column named `name` of `table`, or the 42703 error naming it.
pub(crate) fn column<'t>(
    table: &'t TableDef,
    name: &str,
) -> Result<&'t easbase_schema::ColumnDef, RestError> {
    table.column(name).ok_or_else(|| RestError::UnknownColumn {
        table: table.name.as_str().to_owned(),
        column: name.to_owned(),
    })
}

fn plain_field<'t>(table: &'t TableDef, field: &Field) -> Result<&'t easbase_schema::ColumnDef, RestError> {
    let def = column(table, &field.name)?;
    if !field.json_path.is_empty() {
        return Err(not_supported("JSON paths (->, ->>)"));
    }
    Ok(def)
}

/// `select=` → the answer's columns (`*` = every column in table order); embedded
/// resources are refused (writes) — reads resolve them in `embed.rs`.
pub(crate) fn outputs(req: &ApiRequest, table: &TableDef) -> Result<Vec<Output>, RestError> {
    if req.query.select.iter().any(|i| matches!(i, SelectItem::Relation { .. } | SelectItem::Spread { .. })) {
        return Err(not_supported("embedding in the answer of a write"));
    }
    columns_of(req, table)
}

/// The plain columns of `select=`, relations left out.
pub(crate) fn columns_of(req: &ApiRequest, table: &TableDef) -> Result<Vec<Output>, RestError> {
    let mut out = Vec::new();
    for item in &req.query.select {
        match item {
            SelectItem::Star => out.extend(
                table
                    .columns
                    .iter()
                    .map(|c| Output { column: c.name.clone(), key: c.name.as_str().to_owned() }),
            ),
            SelectItem::Field { field, alias, cast, aggregate, aggregate_cast } => {
                let def = plain_field(table, field)?;
                if cast.is_some() || aggregate_cast.is_some() {
                    return Err(not_supported("casts in select (::type)"));
                }
                if aggregate.is_some() {
                    return Err(not_supported("aggregates in select"));
                }
                out.push(Output {
                    column: def.name.clone(),
                    key: alias.clone().unwrap_or_else(|| field.name.clone()),
                });
            }
            SelectItem::Relation { .. } | SelectItem::Spread { .. } => {}
        }
    }
    Ok(out)
}

/// The query string's root filters and logic trees.
/// (Filters on embedded resources are left to the read plan, which knows the embeds.)
fn filters(req: &ApiRequest, table: &TableDef, is_read: bool) -> Result<Vec<Condition>, RestError> {
    let mut out = Vec::new();
    for f in &req.query.filters {
        match (f.path.is_empty(), is_read) {
            (true, _) => out.push(test(table, &f.field, &f.expr)?),
            (false, true) => {}
            (false, false) => return Err(not_supported("filtering embedded resources of a write")),
        }
    }
    for logic in &req.query.logic {
        match (logic.path.is_empty(), is_read) {
            (true, _) => out.push(tree(table, &logic.tree)?),
            (false, true) => {}
            (false, false) => return Err(not_supported("filtering embedded resources of a write")),
        }
    }
    Ok(out)
}

pub(crate) fn tree(table: &TableDef, node: &LogicTree) -> Result<Condition, RestError> {
    match node {
        LogicTree::Condition { field, expr } => test(table, field, expr),
        LogicTree::Expr { negated, op, children } => {
            let children = children.iter().map(|c| tree(table, c)).collect::<Result<Vec<_>, _>>()?;
            let cond = match op {
                LogicOperator::And => Condition::And(children),
                LogicOperator::Or => Condition::Or(children),
            };
            Ok(if *negated { Condition::Not(Box::new(cond)) } else { cond })
        }
    }
}

pub(crate) fn test(table: &TableDef, field: &Field, expr: &OpExpr) -> Result<Condition, RestError> {
    let def = plain_field(table, field)?;
    let parse = |v: &str| Value::from_filter_text(v, def);
    let leaf = |test: Test| Condition::Test { column: def.name.clone(), test };
    let cond = match &expr.operation {
        Operation::Op { op, quantifier: None, value } => leaf(binary(def, *op, Some(value))?),
        Operation::Op { op, quantifier: Some(q), value } => {
            // `eq(any).{a,b}`: one test per element, joined by OR (any) or AND (all).
            let elements = crate::request::parse_array_literal(value)
                .map_err(|_| RestError::InvalidValue { ty: format!("{}[]", def.ty), value: value.clone() })?;
            let tests = elements
                .iter()
                .map(|e| binary(def, *op, e.as_deref()).map(leaf))
                .collect::<Result<Vec<_>, _>>()?;
            match q {
                Quantifier::Any => Condition::Or(tests),
                Quantifier::All => Condition::And(tests),
            }
        }
        Operation::In(values) => leaf(Test::In(values.iter().map(|v| parse(v)).collect::<Result<_, _>>()?)),
        Operation::Is(v) => leaf(Test::Is(*v)),
        Operation::IsDistinct(v) => leaf(Test::IsDistinct(parse(v)?)),
        Operation::Fts { .. } => return Err(not_supported("full-text search operators")),
    };
    Ok(if expr.negated { Condition::Not(Box::new(cond)) } else { cond })
}

/// One binary operator test; `value` `None` is an array element `NULL`.
fn binary(def: &easbase_schema::ColumnDef, op: Operator, value: Option<&str>) -> Result<Test, RestError> {
    let parsed = || value.map_or(Ok(Value::Null), |v| Value::from_filter_text(v, def));
    Ok(match op {
        Operator::Eq => Test::Cmp(CmpOp::Eq, parsed()?),
        Operator::Neq => Test::Cmp(CmpOp::Neq, parsed()?),
        Operator::Gt => Test::Cmp(CmpOp::Gt, parsed()?),
        Operator::Gte => Test::Cmp(CmpOp::Gte, parsed()?),
        Operator::Lt => Test::Cmp(CmpOp::Lt, parsed()?),
        Operator::Lte => Test::Cmp(CmpOp::Lte, parsed()?),
        Operator::Like | Operator::ILike
            if !matches!(
                def.ty,
                easbase_schema::ColumnType::Text | easbase_schema::ColumnType::Varchar(_)
            ) =>
        {
            // PostgreSQL has no LIKE for other types; refuse it the same way on every
            // engine (PostgREST passes PostgreSQL's 42883 through as 404).
            return Err(RestError::Database {
                status: http::StatusCode::NOT_FOUND,
                code: "42883".to_owned(),
                message: format!(
                    "operator does not exist: {} {} unknown",
                    def.ty,
                    if op == Operator::Like { "~~" } else { "~~*" }
                ),
            });
        }
        Operator::Like | Operator::ILike => match value {
            Some(v) => Test::Like { pattern: v.replace('*', "%"), case_insensitive: op == Operator::ILike },
            None => Test::Cmp(CmpOp::Eq, Value::Null),
        },
        other => return Err(not_supported(format!("operator {}", other.as_str()))),
    })
}

/// Whether the condition has any test (an unfiltered PATCH / DELETE has none).
pub(crate) fn is_unfiltered(c: &Condition) -> bool {
    match c {
        Condition::And(children) => children.iter().all(is_unfiltered),
        _ => false,
    }
}
