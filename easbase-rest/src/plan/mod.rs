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
mod select;
pub(crate) mod value;

use std::sync::Arc;

use easbase_schema::{ColumnName, TableDef, TableName};

pub use self::embed::{Embed, Junction};
pub use self::select::{Cast, Output, OutputAggregate};
pub use self::value::Value;

use crate::error::RestError;
use crate::request::{
    Action, ApiRequest, Field, IsValue, JsonStep, LogicOperator, LogicTree, MediaType, OpExpr, Operation,
    Operator, Quantifier, Representation, SelectItem, Target,
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
    /// `Prefer: handling=strict, max-affected=n` on PATCH / DELETE: more than `n`
    /// changed rows roll the write back (400 `PGRST124`).
    pub max_affected: Option<u64>,
    /// The row route `/{table}/{key}`: answered as one object (JSON unless another type
    /// was asked for), 404 when there is no such row.
    pub by_key: bool,
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

/// A boolean condition over validated columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// All hold (true when empty).
    And(Vec<Condition>),
    /// Any holds (false when empty).
    Or(Vec<Condition>),
    /// Negation.
    Not(Box<Condition>),
    /// A test on one column (or a JSON path into it).
    Test {
        /// The column.
        column: ColumnName,
        /// `->` / `->>` steps into a json / jsonb column (empty: the column itself).
        json_path: Vec<JsonStep>,
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
    /// `match` / `imatch`: a POSIX regular expression (`~`, `~*`).
    Regex {
        /// The pattern (at most [`MAX_PATTERN_BYTES`]).
        pattern: String,
        /// `imatch`.
        case_insensitive: bool,
    },
    /// `cs`, `cd`, `ov`: containment and overlap of JSON values (`cs`, `cd`) or arrays;
    /// the value is JSON text or an array literal.
    Contains(Containment, Value),
    /// `fts`, `plfts`, `phfts`, `wfts`: full-text search (PostgreSQL).
    Fts {
        /// Which `to_tsquery` flavour.
        op: crate::request::FtsOperator,
        /// The text-search configuration (`fts(english)`), else the database's default.
        language: Option<String>,
        /// The query text.
        query: String,
    },
}

/// `cs` / `cd` / `ov`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Containment {
    /// `cs`: `@>`.
    Contains,
    /// `cd`: `<@`.
    ContainedIn,
    /// `ov`: `&&` (arrays only).
    Overlaps,
}

impl Containment {
    /// PostgreSQL's operator.
    pub fn symbol(self) -> &'static str {
        match self {
            Containment::Contains => "@>",
            Containment::ContainedIn => "<@",
            Containment::Overlaps => "&&",
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderItem {
    /// `order=rel(column)`: the to-one embed (an index into the same level's embeds)
    /// whose column orders the rows; `None`: a column of the table itself.
    pub embed: Option<usize>,
    /// The column.
    pub column: ColumnName,
    /// `->` / `->>` steps into a json / jsonb column.
    pub json_path: Vec<JsonStep>,
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
    /// `Prefer: count=…`: how to count the rows the filters select.
    pub count: Option<crate::request::Count>,
    /// The host's `max_rows`: `count=estimated` counts exactly up to it, then plans.
    pub max_rows: Option<u64>,
    /// Embedded resources (each with its own below it).
    pub embeds: Vec<Embed>,
    /// Some output is an aggregate: rows are grouped by the other outputs.
    pub grouped: bool,
    /// `rel=not.is.null` (`true`: rows with a related row) and `rel=is.null` (`false`:
    /// rows without one), by index into `embeds`.
    pub related: Vec<(usize, bool)>,
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
    /// Embedded resources of the answer (`return=representation` with `select=rel(…)`).
    pub embeds: Vec<Embed>,
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
    /// `SET column = value` (empty: a body with no column, which updates nothing).
    pub set: Vec<(ColumnName, Value)>,
    /// Which rows.
    pub filter: Condition,
    /// `limit`/`offset` (with `order`): only that window of the selected rows.
    pub window: Option<Window>,
    /// The columns to answer with, else `None`.
    pub returning: Option<Vec<Output>>,
    /// Embedded resources of the answer.
    pub embeds: Vec<Embed>,
}

/// The window of a limited PATCH / DELETE: the rows the filters select, in `order`
/// (the primary key when none is given, so the window is deterministic), `offset`
/// skipped, at most `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The order.
    pub order: Vec<OrderItem>,
    /// Rows changed at most.
    pub limit: Option<u64>,
    /// Rows skipped.
    pub offset: u64,
}

/// A delete.
#[derive(Debug, Clone)]
pub struct DeletePlan {
    /// Which rows.
    pub filter: Condition,
    /// `limit`/`offset` (with `order`): only that window of the selected rows.
    pub window: Option<Window>,
    /// The columns to answer with, else `None`.
    pub returning: Option<Vec<Output>>,
    /// Embedded resources of the answer.
    pub embeds: Vec<Embed>,
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
        return Err(RestError::UnacceptableSchema {
            schema: profile.to_owned(),
            exposed: vec!["public".to_owned()],
        });
    }
    if req.accept == crate::request::MediaType::OpenApi {
        // Only the root is an OpenAPI document.
        return Err(RestError::MediaType { accepted: vec![req.accept.essence().to_owned()] });
    }
    let max_affected = match req.preferences.handling {
        Some(crate::request::Handling::Strict) if matches!(req.action, Action::Update | Action::Delete) => {
            req.preferences.max_affected
        }
        _ => None,
    };
    let table = snapshot.table(name).ok_or_else(|| RestError::TableNotFound { table: name.clone() })?;
    let mut filter = filters(req, table)?;
    if let Some(key) = key {
        let [pk] = table.primary_key.as_slice() else {
            return Err(RestError::NoSingleKey { table: name.clone() });
        };
        let def = table.column(pk.as_str()).unwrap_or_else(|| unreachable!("validated schema"));
        let value = Value::from_filter_text(&key.0, def)?;
        filter.push(Condition::Test {
            column: pk.clone(),
            json_path: Vec::new(),
            test: Test::Cmp(CmpOp::Eq, value),
        });
    }
    let filter = Condition::And(filter);
    // The answer of a write: its columns and embeds (`return=representation`).
    let answer = || -> Result<(Option<Vec<Output>>, Vec<Embed>), RestError> {
        if req.preferences.representation != Some(Representation::Full) {
            return Ok((None, Vec::new()));
        }
        // `!inner` embeds drop rows of the answer (not of the write), as PostgREST does.
        let mut embeds = embed::embeds(&req.query.select, table, snapshot)?;
        read::embed_params(req, snapshot, &mut embeds)?;
        let outputs = columns_of(req, table)?;
        if outputs.iter().any(|o| o.aggregate.is_some()) || embeds.iter().any(|e| e.spread && e.grouped) {
            return Err(not_supported("aggregates in the answer of a write"));
        }
        Ok((Some(outputs), embeds))
    };
    if !matches!(req.action, Action::Read { .. })
        && req.preferences.representation != Some(Representation::Full)
    {
        // Without an answer, embedded filters have nothing to apply to: still check them.
        let mut embeds = embed::embeds(&req.query.select, table, snapshot)?;
        read::embed_params(req, snapshot, &mut embeds)?;
    }
    let crud = match req.action {
        Action::Read { .. } => CrudPlan::Read(read::plan(req, table, snapshot, filter, config)?),
        Action::Create => {
            if key.is_some() {
                return Err(not_supported("POST on /{table}/{key}"));
            }
            let (returning, embeds) = answer()?;
            let mut plan = mutate::insert(req, table, returning)?;
            plan.embeds = embeds;
            if req.preferences.representation == Some(Representation::HeadersOnly)
                && matches!(req.payload, Some(crate::request::Payload::Object(_)))
                && !table.primary_key.is_empty()
            {
                plan.returning = Some(table.primary_key.iter().map(Output::column).collect());
                plan.location = true;
            }
            CrudPlan::Insert(plan)
        }
        Action::Update => {
            let (returning, embeds) = answer()?;
            let mut plan = mutate::update(req, table, filter, config, returning)?;
            plan.embeds = embeds;
            plan.window = read::write_window(req, table, snapshot)?;
            CrudPlan::Update(plan)
        }
        Action::Delete => {
            let (returning, embeds) = answer()?;
            let mut plan = mutate::delete(table, filter, config, returning, embeds)?;
            plan.window = read::write_window(req, table, snapshot)?;
            CrudPlan::Delete(plan)
        }
        Action::Upsert => {
            let (returning, embeds) = answer()?;
            let mut plan = mutate::put(req, table, &filter, returning)?;
            plan.embeds = embeds;
            CrudPlan::Insert(plan)
        }
        Action::Call { .. } => return Err(not_supported("calling functions (/rpc)")),
        Action::Info => return Err(not_supported("OPTIONS")),
    };
    Ok(ActionPlan {
        snapshot: Arc::clone(snapshot),
        table: table.name.clone(),
        crud,
        // The row route answers one object, and a write through it changes one row.
        accept: match req.accept {
            MediaType::Json if key.is_some() => MediaType::SingleObject { strip_nulls: false },
            other => other,
        },
        headers_only: matches!(req.action, Action::Read { headers_only: true }),
        max_affected,
        by_key: key.is_some(),
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

/// The plain columns of `select=` (`*` = every column in table order), relations left
/// out (`embed.rs` resolves them).
pub(crate) fn columns_of(req: &ApiRequest, table: &TableDef) -> Result<Vec<Output>, RestError> {
    let mut out = Vec::new();
    for item in &req.query.select {
        match item {
            SelectItem::Star => out.extend(table.columns.iter().map(|c| Output::column(&c.name))),
            SelectItem::Field { .. } => out.push(select::output(table, item)?),
            SelectItem::Relation { .. } | SelectItem::Spread { .. } => {}
        }
    }
    Ok(out)
}

/// The query string's root filters and logic trees.
/// (Filters on embedded resources are left to `read::embed_params`, which knows the embeds.)
fn filters(req: &ApiRequest, table: &TableDef) -> Result<Vec<Condition>, RestError> {
    let mut out = Vec::new();
    for f in req.query.filters.iter().filter(|f| f.path.is_empty()) {
        if is_embed_filter(req, table, f) {
            if !matches!(req.action, Action::Read { .. }) {
                return Err(not_supported("filtering a write by an embedded resource"));
            }
            continue; // `read::plan` resolves it against the embeds.
        }
        out.push(test(table, &f.field, &f.expr)?);
    }
    for logic in req.query.logic.iter().filter(|l| l.path.is_empty()) {
        out.push(tree(table, &logic.tree)?);
    }
    Ok(out)
}

/// `rel=is.null` / `rel=not.is.null`: a root filter naming an embedded resource of
/// `select=` (not a column), PostgREST's anti-join and its `!inner` replacement.
pub(crate) fn is_embed_filter(req: &ApiRequest, table: &TableDef, f: &crate::request::Filter) -> bool {
    f.path.is_empty()
        && f.field.json_path.is_empty()
        && table.column(&f.field.name).is_none()
        && req.query.select.iter().any(|i| match i {
            SelectItem::Relation { name, alias, .. } => alias.as_ref().unwrap_or(name) == &f.field.name,
            SelectItem::Spread { name, .. } => name == &f.field.name,
            SelectItem::Star | SelectItem::Field { .. } => false,
        })
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
    let def = column(table, &field.name)?;
    select::check_json_path(def, &field.json_path)?;
    let operand = Operand::of(def, &field.json_path);
    let parse = |v: &str| operand.value(v);
    let leaf =
        |test: Test| Condition::Test { column: def.name.clone(), json_path: field.json_path.clone(), test };
    let cond = match &expr.operation {
        Operation::Op { op, quantifier: None, value } => leaf(binary(&operand, *op, Some(value))?),
        Operation::Op { op, quantifier: Some(q), value } => {
            // `eq(any).{a,b}`: one test per element, joined by OR (any) or AND (all).
            let elements = crate::request::parse_array_literal(value)
                .map_err(|_| RestError::InvalidValue { ty: format!("{}[]", def.ty), value: value.clone() })?;
            let tests = elements
                .iter()
                .map(|e| binary(&operand, *op, e.as_deref()).map(leaf))
                .collect::<Result<Vec<_>, _>>()?;
            match q {
                Quantifier::Any => Condition::Or(tests),
                Quantifier::All => Condition::And(tests),
            }
        }
        Operation::In(values) => leaf(Test::In(values.iter().map(|v| parse(v)).collect::<Result<_, _>>()?)),
        Operation::Is(v) => leaf(Test::Is(*v)),
        Operation::IsDistinct(v) => leaf(Test::IsDistinct(parse(v)?)),
        Operation::Fts { op, language, value } => {
            if !operand.is_text() {
                return Err(RestError::Database {
                    status: http::StatusCode::NOT_FOUND,
                    code: "42883".to_owned(),
                    message: format!("function to_tsvector({}) does not exist", operand.type_name()),
                });
            }
            leaf(Test::Fts { op: *op, language: language.clone(), query: value.clone() })
        }
    };
    Ok(if expr.negated { Condition::Not(Box::new(cond)) } else { cond })
}

/// What a filter tests: a column, or a JSON path into one (`->>`: text, `->`: JSON).
enum Operand<'t> {
    Column(&'t easbase_schema::ColumnDef),
    JsonText,
    Json,
}

impl<'t> Operand<'t> {
    fn of(def: &'t easbase_schema::ColumnDef, path: &[JsonStep]) -> Operand<'t> {
        match path.last() {
            None => Operand::Column(def),
            Some(step) if step.arrow == crate::request::JsonArrow::Text => Operand::JsonText,
            Some(_) => Operand::Json,
        }
    }

    fn value(&self, text: &str) -> Result<Value, RestError> {
        match self {
            Operand::Column(def) => Value::from_filter_text(text, def),
            Operand::JsonText => Ok(Value::Text(text.to_owned())),
            Operand::Json => serde_json::from_str::<serde_json::Value>(text)
                .map(|v| Value::Json(v.to_string()))
                .map_err(|_| RestError::InvalidValue { ty: "json".to_owned(), value: text.to_owned() }),
        }
    }

    fn is_text(&self) -> bool {
        match self {
            Operand::Column(def) => {
                matches!(def.ty, easbase_schema::ColumnType::Text | easbase_schema::ColumnType::Varchar(_))
            }
            Operand::JsonText => true,
            Operand::Json => false,
        }
    }

    fn type_name(&self) -> String {
        match self {
            Operand::Column(def) => def.ty.to_string(),
            Operand::JsonText => "text".to_owned(),
            Operand::Json => "jsonb".to_owned(),
        }
    }
}

/// One binary operator test; `value` `None` is an array element `NULL`.
fn binary(operand: &Operand<'_>, op: Operator, value: Option<&str>) -> Result<Test, RestError> {
    let parsed = || value.map_or(Ok(Value::Null), |v| operand.value(v));
    // PostgreSQL has no such operator for the operand's type: refuse it the same way on
    // every engine (PostgREST passes PostgreSQL's 42883 through as 404).
    let no_operator = |symbol: &str| RestError::Database {
        status: http::StatusCode::NOT_FOUND,
        code: "42883".to_owned(),
        message: format!("operator does not exist: {} {symbol} unknown", operand.type_name()),
    };
    Ok(match op {
        Operator::Eq => Test::Cmp(CmpOp::Eq, parsed()?),
        Operator::Neq => Test::Cmp(CmpOp::Neq, parsed()?),
        Operator::Gt => Test::Cmp(CmpOp::Gt, parsed()?),
        Operator::Gte => Test::Cmp(CmpOp::Gte, parsed()?),
        Operator::Lt => Test::Cmp(CmpOp::Lt, parsed()?),
        Operator::Lte => Test::Cmp(CmpOp::Lte, parsed()?),
        Operator::Like | Operator::ILike if !operand.is_text() => {
            return Err(no_operator(if op == Operator::Like { "~~" } else { "~~*" }));
        }
        Operator::Like | Operator::ILike => match value {
            Some(v) => Test::Like { pattern: v.replace('*', "%"), case_insensitive: op == Operator::ILike },
            None => Test::Cmp(CmpOp::Eq, Value::Null),
        },
        Operator::Match | Operator::IMatch if !operand.is_text() => {
            return Err(no_operator(if op == Operator::Match { "~" } else { "~*" }));
        }
        Operator::Match | Operator::IMatch => match value {
            Some(v) if v.len() > MAX_PATTERN_BYTES => {
                return Err(crate::request::exceeded(
                    "max_pattern_bytes",
                    format!("A pattern of {} bytes", v.len()),
                    MAX_PATTERN_BYTES,
                ));
            }
            Some(v) => Test::Regex { pattern: v.to_owned(), case_insensitive: op == Operator::IMatch },
            None => Test::Cmp(CmpOp::Eq, Value::Null),
        },
        Operator::Contains | Operator::ContainedIn | Operator::Overlap => {
            let contain = match op {
                Operator::Contains => Containment::Contains,
                Operator::ContainedIn => Containment::ContainedIn,
                _ => Containment::Overlaps,
            };
            let text = value.unwrap_or("");
            match operand {
                Operand::Column(def) => match &def.ty {
                    easbase_schema::ColumnType::Json | easbase_schema::ColumnType::Jsonb
                        if contain != Containment::Overlaps =>
                    {
                        Test::Contains(contain, operand.value(text)?)
                    }
                    easbase_schema::ColumnType::Array(_) => {
                        crate::request::parse_array_literal(text).map_err(|_| RestError::InvalidValue {
                            ty: def.ty.to_string(),
                            value: text.to_owned(),
                        })?;
                        Test::Contains(contain, Value::Text(text.to_owned()))
                    }
                    _ => return Err(no_operator(contain.symbol())),
                },
                Operand::Json if contain != Containment::Overlaps => {
                    Test::Contains(contain, operand.value(text)?)
                }
                _ => return Err(no_operator(contain.symbol())),
            }
        }
        Operator::StrictlyLeft
        | Operator::StrictlyRight
        | Operator::NotExtendsRight
        | Operator::NotExtendsLeft
        | Operator::Adjacent => {
            // Range operators: no column of a schema is a range type.
            let symbol = match op {
                Operator::StrictlyLeft => "<<",
                Operator::StrictlyRight => ">>",
                Operator::NotExtendsRight => "&<",
                Operator::NotExtendsLeft => "&>",
                _ => "-|-",
            };
            return Err(no_operator(symbol));
        }
    })
}

/// Longest `match` / `imatch` pattern, in bytes: a regular expression is compiled per
/// request, so its size is bounded.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// Whether the condition has any test (an unfiltered PATCH / DELETE has none).
pub(crate) fn is_unfiltered(c: &Condition) -> bool {
    match c {
        Condition::And(children) => children.iter().all(is_unfiltered),
        _ => false,
    }
}
