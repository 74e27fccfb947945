//! Statements per plan: SELECT (+ `count(*)`), INSERT, UPDATE, DELETE.

use easbase_core::db::{BuildStmt, Stmt};
use easbase_schema::policy::AuthContext;
use easbase_schema::{ColumnName, ColumnType, Dialect, Ident, Operation, PolicyPart, Role, TableDef};
use sea_query::{
    Alias, BinOper, Expr, ExprTrait, IntoTableRef, NullOrdering, OnConflict, Order, Query, SelectStatement,
    TableRef,
};

use crate::error::RestError;

mod mysql;

/// The alias of an embedded resource's table in its subquery (followed by its depth).
const EMBED_ALIAS: &str = "_eb_c";
/// The alias of a many-to-many embed's junction table (followed by its depth).
const JUNCTION_ALIAS: &str = "_eb_j";

use crate::plan::{
    ActionPlan, CmpOp, Condition, CrudPlan, DeletePlan, Embed, InsertPlan, OrderItem, Output, ReadPlan, Test,
    UpdatePlan, Value,
};
use crate::request::{Count, IsValue};
use crate::sql::expr;
use crate::sql::policy::{self, Policies, conflicts, rowid, written};

/// Where and as whom the statements run.
#[derive(Debug, Clone)]
pub struct SqlTarget<'a> {
    /// The project database's dialect.
    pub dialect: Dialect,
    /// PostgreSQL: the project's schema (table references are qualified with it).
    pub pg_schema: Option<&'a Ident>,
    /// The request's role.
    pub role: Role,
    /// The request's authentication, bound into policies on SQLite.
    pub auth: &'a AuthContext,
}

/// The statements of one request's transaction.
#[derive(Debug, Clone)]
pub struct SqlPlan {
    /// The statements, in order.
    pub statements: Vec<Stmt>,
    /// Which statement's rows (or affected count) answer the request.
    pub main: usize,
    /// Further statements whose rows and counts follow `main`'s (an insert split in
    /// several statements on SQLite).
    pub more: Vec<usize>,
    /// Which statement returns the exact count, if one was asked for.
    pub count: Option<usize>,
    /// Which statement is the `EXPLAIN` whose estimate answers `count=planned` (and
    /// `count=estimated` past `count_cap`), PostgreSQL only.
    pub planned: Option<usize>,
    /// `count=estimated`: the exact count is trusted up to this many rows.
    pub count_cap: Option<u64>,
    /// The count the statements compute (`Exact` on SQLite whatever was asked).
    pub count_kind: Option<Count>,
    /// Whether the transaction only reads.
    pub read_only: bool,
}

impl SqlPlan {
    /// A write's plan: no counts, main statement 0.
    fn write() -> SqlPlan {
        SqlPlan {
            statements: Vec::new(),
            main: 0,
            more: Vec::new(),
            count: None,
            planned: None,
            count_cap: None,
            count_kind: None,
            read_only: false,
        }
    }
}

/// Builds the statements of `plan` for `target`.
///
/// # Errors
/// 400 `EB203` for what this engine cannot answer as PostgreSQL does, `EB200` for what is
/// not built yet.
pub fn build(plan: &ActionPlan, target: &SqlTarget<'_>) -> Result<SqlPlan, RestError> {
    let singular = !plan.is_read() && matches!(plan.accept, crate::request::MediaType::SingleObject { .. });
    let b = Builder {
        table: plan.table(),
        snapshot: plan.snapshot(),
        target,
        singular,
        max_affected: plan.max_affected,
    };
    match &plan.crud {
        CrudPlan::Read(r) => b.read(r),
        CrudPlan::Insert(i) => b.insert(i),
        CrudPlan::Update(u) => b.update(u),
        CrudPlan::Delete(d) => b.delete(d),
    }
}

/// Where the columns of a condition or join are read: the request's table, or an
/// embedded resource's table under its alias.
#[derive(Clone, Copy)]
enum Parent<'p> {
    Root,
    Embed { table: &'p TableDef, alias: &'p str },
}

/// `LIMIT` / `OFFSET` of a window (an offset alone needs a limit on SQLite).
fn window(q: &mut SelectStatement, limit: Option<u64>, offset: u64) {
    match (limit, offset) {
        (Some(l), o) => {
            q.limit(l);
            if o > 0 {
                q.offset(o);
            }
        }
        (None, 0) => {}
        (None, o) => {
            q.limit(i64::MAX as u64).offset(o);
        }
    }
}

struct Builder<'a> {
    table: &'a TableDef,
    snapshot: &'a crate::schema_cache::SchemaSnapshot,
    target: &'a SqlTarget<'a>,
    /// A write answered with the single-object media type: it must change exactly one
    /// row, or roll back.
    singular: bool,
    /// `Prefer: max-affected` (strict): more changed rows roll the write back.
    max_affected: Option<u64>,
}

/// The marker of the error a singular write raises when it changes `n` rows (n ≠ 1):
/// `EB_NOT_SINGULAR <n>`; [`not_singular_rows`] reads it back.
const NOT_SINGULAR: &str = "EB_NOT_SINGULAR";

/// The marker of the error a write raises when it changes more rows than `Prefer:
/// max-affected` allows: `EB_MAX_AFFECTED <n>` ([`max_affected_rows`] reads it back).
const MAX_AFFECTED: &str = "EB_MAX_AFFECTED";

/// `Some(Some(n))`: a write changed `n` rows, more than `max-affected`; `Some(None)`: more
/// (SQLite does not say how many); `None`: not the marker.
pub(crate) fn max_affected_rows(message: &str) -> Option<Option<u64>> {
    let rest = &message[message.find(MAX_AFFECTED)? + MAX_AFFECTED.len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    Some(digits.parse().ok())
}

/// `Some(Some(n))`: a singular write changed `n` rows; `Some(None)`: more than one (SQLite
/// does not say how many); `None`: not the marker.
pub(crate) fn not_singular_rows(message: &str) -> Option<Option<usize>> {
    let rest = &message[message.find(NOT_SINGULAR)? + NOT_SINGULAR.len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    Some(digits.parse().ok())
}

/// An embedded resource of a grouped read, computed per row in its derived table.
enum DerivedEmbed<'t> {
    /// Its JSON, grouped by.
    Grouped(Expr),
    /// A spread with aggregates (PostgREST aggregates a spread's columns with its
    /// parent's rows): each output's value per row (`None`: `count()`), then aggregated, or
    /// grouped by, over the parent's groups.
    Spread { child: &'t TableDef, outputs: Vec<(Output, Option<Expr>)> },
}

/// A write statement before it is built.
enum Write {
    Insert(sea_query::InsertStatement),
    Update(sea_query::UpdateStatement),
    Delete(sea_query::DeleteStatement),
}

impl Builder<'_> {
    fn dialect(&self) -> Dialect {
        self.target.dialect
    }

    /// Another table of the schema (a junction table).
    fn target_table(&self, name: &str) -> Option<&TableDef> {
        self.snapshot.schema().table(name)
    }

    fn table_ref(&self) -> TableRef {
        let name = Alias::new(self.table.name.as_str());
        match (self.dialect(), self.target.pg_schema) {
            (Dialect::Postgres, Some(schema)) => (Alias::new(schema.as_str()), name).into_table_ref(),
            _ => name.into_table_ref(),
        }
    }

    /// The policies, when this engine enforces them in the statements (not PostgreSQL).
    fn policies(&self) -> Option<Policies<'_>> {
        let p = Policies {
            table: self.table,
            role: self.target.role,
            auth: self.target.auth,
            dialect: self.dialect(),
        };
        (self.dialect() != Dialect::Postgres && p.enforced()).then_some(p)
    }

    fn using(&self, op: Operation) -> Option<Expr> {
        self.policies().and_then(|p| p.condition(op, PolicyPart::Using))
    }

    fn bind(&self, v: &Value) -> Expr {
        if *v == Value::Default {
            return Expr::cust("DEFAULT");
        }
        Expr::val(match v {
            Value::Null => sea_query::Value::String(None),
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            // MySQL converts decimal text exactly.
            Value::Number(s) if self.dialect() != Dialect::Sqlite => s.clone().into(),
            Value::Number(s) => match s.parse::<i64>() {
                Ok(i) => i.into(),
                Err(_) => s.parse::<f64>().unwrap_or(f64::NAN).into(),
            },
            Value::Text(s) | Value::Json(s) => s.clone().into(),
            Value::Default => sea_query::Value::String(None),
        })
    }

    /// A value for a column of type `ty`: a `timestamptz` with an offset is bound as the
    /// same instant in UTC on MySQL (its `datetime(6)` refuses offsets) and, on SQLite, in
    /// one text form whose order is time order (`YYYY-MM-DDTHH:MM:SS.ffffffZ`; a
    /// `timestamp` the same without `Z`).
    fn bind_col(&self, ty: &ColumnType, v: &Value) -> Expr {
        let converted = match (v, self.dialect()) {
            (Value::Text(s), Dialect::Mysql) if *ty == ColumnType::Timestamptz => {
                crate::plan::value::timestamptz_to_utc(s)
            }
            (Value::Text(s), Dialect::Sqlite) if *ty == ColumnType::Timestamptz => {
                crate::plan::value::timestamptz_sqlite(s)
            }
            // A timestamp without zone: the same form, without the `Z`.
            (Value::Text(s), Dialect::Sqlite)
                if *ty == ColumnType::Timestamp && crate::plan::value::timestamptz_to_utc(s).is_none() =>
            {
                crate::plan::value::timestamptz_sqlite(s).map(|t| t.trim_end_matches('Z').to_owned())
            }
            _ => None,
        };
        match converted {
            Some(text) => Expr::val(text),
            None => self.bind(v),
        }
    }

    /// MySQL compares a date-time column with text it cannot read as "no match" (a
    /// warning) and SQLite compares it as text, where PostgreSQL fails: only ISO 8601 is
    /// taken there, anything else is refused (`EB203`).
    fn check_time(&self, ty: &ColumnType, v: &Value) -> Result<(), RestError> {
        static ISO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(
                r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)?$",
            )
            .unwrap_or_else(|_| unreachable!("a valid pattern"))
        });
        match v {
            Value::Text(s)
                if self.dialect() != Dialect::Postgres
                    && matches!(ty, ColumnType::Timestamptz | ColumnType::Timestamp | ColumnType::Date)
                    && !ISO.is_match(s.trim()) =>
            {
                Err(expr::not_on(self.dialect(), format!("the {} value \"{s}\" (only ISO 8601 is read)", ty)))
            }
            _ => Ok(()),
        }
    }

    /// The value a write gives column `c`.
    fn set_value(&self, c: &ColumnName, v: &Value) -> Expr {
        match self.table.column(c.as_str()) {
            Some(d) => self.bind_col(&d.ty, v),
            None => self.bind(v),
        }
    }

    fn condition(&self, c: &Condition) -> Result<Expr, RestError> {
        self.condition_in(c, Parent::Root, None)
    }

    /// A column of `table` read in `at` (unqualified at the root of a statement, else by
    /// an embed's alias).
    fn col(&self, alias: Option<&str>, column: &ColumnName) -> Expr {
        match alias {
            Some(a) => Expr::col((Alias::new(a), Alias::new(column.as_str()))),
            None => Expr::col(Alias::new(column.as_str())),
        }
    }

    /// The condition over `table`'s columns, qualified by `alias` (an embedded resource's
    /// table) when given.
    fn condition_in(&self, c: &Condition, on: Parent<'_>, alias: Option<&str>) -> Result<Expr, RestError> {
        Ok(match c {
            Condition::And(children) => children
                .iter()
                .map(|c| self.condition_in(c, on, alias))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .reduce(|a, b| a.and(b))
                .unwrap_or_else(|| Expr::cust("1 = 1")),
            Condition::Or(children) => children
                .iter()
                .map(|c| self.condition_in(c, on, alias))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .reduce(|a, b| a.or(b))
                .unwrap_or_else(|| Expr::cust("1 = 0")),
            Condition::Not(inner) => self.condition_in(inner, on, alias)?.not(),
            Condition::Test { column, json_path, test } => {
                let table = match on {
                    Parent::Root => self.table,
                    Parent::Embed { table, .. } => table,
                };
                let def = table.column(column.as_str()).ok_or(RestError::Internal)?;
                if json_path.is_empty() {
                    match test {
                        Test::Cmp(_, v) | Test::IsDistinct(v) => self.check_time(&def.ty, v)?,
                        Test::In(values) => {
                            for v in values {
                                self.check_time(&def.ty, v)?;
                            }
                        }
                        _ => {}
                    }
                }
                let col =
                    expr::json_path(self.dialect(), self.col(alias, column), &def.ty, json_path, false)?;
                // `->` values are JSON: SQLite compares its minified text.
                let json_value = self.dialect() != Dialect::Postgres
                    && json_path.last().is_some_and(|s| s.arrow == crate::request::JsonArrow::Json);
                let my_json = json_value && self.dialect() == Dialect::Mysql;
                let bind = |v: &Value| {
                    if json_value && !matches!(v, Value::Null) && !my_json {
                        expr::tmpl(self.dialect(), "json($1)", &[self.bind(v)])
                    } else if json_path.is_empty() {
                        self.bind_col(&def.ty, v)
                    } else {
                        self.bind(v)
                    }
                };
                // MySQL compares JSON values with JSON_EQUALS (their text differs in spacing);
                // `= 1` keeps its NULL a NULL (MariaDB's WHERE takes a bare NULL one as true).
                let json_eq = |v: &Value| {
                    expr::tmpl(self.dialect(), "(JSON_EQUALS($1, $2) = 1)", &[col.clone(), self.bind(v)])
                };
                match test {
                    Test::Cmp(CmpOp::Eq, v) if my_json && *v != Value::Null => json_eq(v),
                    Test::Cmp(CmpOp::Neq, v) if my_json && *v != Value::Null => json_eq(v).not(),
                    Test::In(values) if my_json && !values.is_empty() => values
                        .iter()
                        .map(json_eq)
                        .reduce(|a, b| a.or(b))
                        .unwrap_or_else(|| Expr::cust("1 = 0")),
                    // jsonb's order (and numeric equality) on `->` values.
                    Test::Cmp(op, v @ Value::Json(text)) if json_value => {
                        match expr::json_compare(self.dialect(), col.clone(), *op, text)? {
                            Some(e) => e,
                            None if *op == CmpOp::Neq => col.ne(bind(v)),
                            None => col.eq(bind(v)),
                        }
                    }
                    Test::In(values) if json_value && !values.is_empty() => values
                        .iter()
                        .map(|v| match v {
                            Value::Json(text) => {
                                Ok(expr::json_compare(self.dialect(), col.clone(), CmpOp::Eq, text)?
                                    .unwrap_or_else(|| col.clone().eq(bind(v))))
                            }
                            _ => Ok(col.clone().eq(bind(v))),
                        })
                        .collect::<Result<Vec<_>, RestError>>()?
                        .into_iter()
                        .reduce(|a, b| a.or(b))
                        .unwrap_or_else(|| Expr::cust("1 = 0")),
                    Test::Cmp(op, v) => {
                        let v = bind(v);
                        match op {
                            CmpOp::Eq => col.eq(v),
                            CmpOp::Neq => col.ne(v),
                            CmpOp::Gt => col.gt(v),
                            CmpOp::Gte => col.gte(v),
                            CmpOp::Lt => col.lt(v),
                            CmpOp::Lte => col.lte(v),
                        }
                    }
                    Test::Like { pattern, case_insensitive } => match (self.dialect(), case_insensitive) {
                        (Dialect::Postgres, false) => col.binary(BinOper::Like, Expr::val(pattern.clone())),
                        (Dialect::Postgres, true) => {
                            col.binary(BinOper::Custom("ILIKE"), Expr::val(pattern.clone()))
                        }
                        // The project's MySQL database compares with `utf8mb4_bin` (JSON paths
                        // too): LIKE is case-sensitive; ILIKE compares lower-cased text.
                        (Dialect::Mysql, false) => col.binary(BinOper::Like, Expr::val(pattern.clone())),
                        (Dialect::Mysql, true) => expr::tmpl(
                            self.dialect(),
                            "(LOWER($1) LIKE LOWER($2))",
                            &[col, Expr::val(pattern.clone())],
                        ),
                        // SQLite's LIKE ignores ASCII case; GLOB is the case-sensitive match.
                        (_, false) => col.binary(BinOper::Custom("GLOB"), Expr::val(like_to_glob(pattern))),
                        (_, true) => col.binary(BinOper::Like, Expr::val(pattern.clone())),
                    },
                    Test::In(values) => {
                        if values.is_empty() {
                            Expr::cust("1 = 0")
                        } else {
                            col.is_in(values.iter().map(bind))
                        }
                    }
                    Test::IsDistinct(v) => match self.dialect() {
                        Dialect::Postgres => col.binary(BinOper::Custom("IS DISTINCT FROM"), bind(v)),
                        Dialect::Mysql => col.binary(BinOper::Custom("<=>"), bind(v)).not(),
                        _ => col.binary(BinOper::IsNot, bind(v)),
                    },
                    Test::Is(IsValue::Null | IsValue::Unknown) => col.is_null(),
                    Test::Is(IsValue::NotNull) => col.is_not_null(),
                    Test::Is(IsValue::True) => col.binary(BinOper::Is, Expr::Constant(true.into())),
                    Test::Is(IsValue::False) => col.binary(BinOper::Is, Expr::Constant(false.into())),
                    Test::Regex { pattern, case_insensitive } => {
                        expr::regex(self.dialect(), col, pattern, *case_insensitive)?
                    }
                    Test::Contains(op, v) => {
                        let json =
                            json_path.last().is_some_and(|s| s.arrow == crate::request::JsonArrow::Json)
                                || matches!(def.ty, ColumnType::Json | ColumnType::Jsonb);
                        expr::containment(self.dialect(), col, json, *op, v)?
                    }
                    Test::Fts { op, language, query } => {
                        expr::fts(self.dialect(), col, *op, language.as_deref(), query)?
                    }
                }
            }
        })
    }

    fn filtered(&self, q: &mut SelectStatement, filter: &Condition) -> Result<(), RestError> {
        q.from(self.table_ref());
        if !matches!(filter, Condition::And(tests) if tests.is_empty()) {
            q.and_where(self.condition(filter)?);
        }
        if let Some(sel) = self.using(Operation::Select) {
            q.and_where(sel);
        }
        Ok(())
    }

    /// A column of the request's table, qualified (it is referred to from embedded
    /// resources' subqueries).
    fn parent_col(&self, column: &ColumnName) -> Expr {
        let table = Alias::new(self.table.name.as_str());
        let col = Alias::new(column.as_str());
        match (self.dialect(), self.target.pg_schema) {
            (Dialect::Postgres, Some(schema)) => Expr::col((Alias::new(schema.as_str()), table, col)),
            _ => Expr::col((table, col)),
        }
    }

    /// A column of an embed's parent: the request's table, or an enclosing embed.
    fn parent_expr(&self, parent: Parent<'_>, column: &ColumnName) -> Expr {
        match parent {
            Parent::Root => self.parent_col(column),
            Parent::Embed { alias, .. } => self.col(Some(alias), column),
        }
    }

    fn schema_ref(&self, table: &str) -> TableRef {
        match (self.dialect(), self.target.pg_schema) {
            (Dialect::Postgres, Some(schema)) => {
                (Alias::new(schema.as_str()), Alias::new(table)).into_table_ref()
            }
            _ => Alias::new(table).into_table_ref(),
        }
    }

    /// One output column: the column, its JSON path, its cast, its aggregate.
    fn output_expr(&self, table: &TableDef, alias: Option<&str>, o: &Output) -> Result<Expr, RestError> {
        if let Some(agg) = o.aggregate {
            return self.aggregate_expr(table, alias, o, agg, None);
        }
        let def = table.column(o.column.as_str()).ok_or(RestError::Internal)?;
        let e = expr::json_path(self.dialect(), self.col(alias, &o.column), &def.ty, &o.json_path, false)?;
        match o.cast {
            None => Ok(e),
            Some(cast) => {
                let from = Output { cast: None, ..o.clone() }.answer_type(table);
                expr::cast(self.dialect(), e, from.as_ref(), cast)
            }
        }
    }

    /// `count(*)`, `sum(x)`, … (then its cast). SQLite sums and averages only integers:
    /// its floating sums of decimals differ from PostgreSQL's exact ones.
    fn aggregate_expr(
        &self,
        table: &TableDef,
        alias: Option<&str>,
        o: &Output,
        agg: crate::plan::OutputAggregate,
        value: Option<Expr>,
    ) -> Result<Expr, RestError> {
        use crate::request::Aggregate as A;
        let plain = Output { aggregate: None, ..o.clone() };
        let e = if agg.rows {
            Expr::cust("count(*)")
        } else {
            // The aggregated value: the column (path, cast) of `table`, or `value` when
            // given (a spread's value computed per row).
            let inner = match value {
                Some(v) => v,
                None => self.output_expr(table, alias, &plain)?,
            };
            let ty = plain.answer_type(table);
            // SQLite's floating sums of decimals differ from PostgreSQL's exact ones;
            // MySQL sums decimals exactly but rounds their averages to 4 places.
            let integer = ty.as_ref().is_some_and(ColumnType::is_integer);
            let exact_sum = self.dialect() == Dialect::Mysql && matches!(ty, Some(ColumnType::Decimal(_)));
            let refused = match agg.func {
                A::Sum => !integer && !exact_sum,
                A::Avg => !integer,
                _ => false,
            };
            if self.dialect() != Dialect::Postgres && refused {
                return Err(expr::not_on(
                    self.dialect(),
                    format!(
                        "summing or averaging {} values",
                        ty.map_or("these".to_owned(), |t| t.to_string())
                    ),
                ));
            }
            if self.dialect() == Dialect::Mysql && agg.func == A::Avg {
                // AVG rounds to 4 places on MySQL: divide as a double, as SQLite does.
                return self.cast_aggregate(
                    table,
                    o,
                    agg,
                    expr::tmpl(self.dialect(), "(SUM($1) / CAST(COUNT($1) AS DOUBLE))", &[inner]),
                );
            }
            let func = match agg.func {
                A::Count => "count",
                A::Sum => "sum",
                A::Avg => "avg",
                A::Max => "max",
                A::Min => "min",
            };
            expr::tmpl(self.dialect(), &format!("{func}($1)"), &[inner])
        };
        self.cast_aggregate(table, o, agg, e)
    }

    /// An aggregate's value, then its cast (`count()::text`).
    fn cast_aggregate(
        &self,
        table: &TableDef,
        o: &Output,
        agg: crate::plan::OutputAggregate,
        e: Expr,
    ) -> Result<Expr, RestError> {
        match agg.cast {
            None => Ok(e),
            Some(cast) => {
                let from = Output {
                    aggregate: Some(crate::plan::OutputAggregate { cast: None, ..agg }),
                    ..o.clone()
                }
                .answer_type(table);
                expr::cast(self.dialect(), e, from.as_ref(), cast)
            }
        }
    }

    /// `FROM child AS _eb_c<depth> WHERE <join to parent> AND <filters> AND <!inner
    /// embeds below> AND <child's select policy on SQLite>`.
    fn embed_from(
        &self,
        e: &Embed,
        child: &TableDef,
        parent: Parent<'_>,
        depth: usize,
        q: &mut SelectStatement,
    ) -> Result<(), RestError> {
        let alias = format!("{EMBED_ALIAS}{depth}");
        q.from_as(self.schema_ref(child.name.as_str()), Alias::new(&alias));
        for (p, c) in &e.join {
            q.and_where(self.col(Some(&alias), c).eq(self.parent_expr(parent, p)));
        }
        if let Some(via) = &e.via {
            // Many-to-many: the child key in the junction rows of this parent,
            // under the junction's own select policy on SQLite.
            let junction = format!("{JUNCTION_ALIAS}{depth}");
            // As `(child key) IN (SELECT junction columns …)`: SQLite's EXISTS-to-join
            // rewrite duplicates rows for an EXISTS nested in an EXISTS.
            let mut j = Query::select();
            j.exprs(via.child.iter().map(|(_, jc)| self.col(Some(&junction), jc)))
                .from_as(self.schema_ref(via.table.as_str()), Alias::new(&junction));
            for (p, jc) in &via.parent {
                j.and_where(self.col(Some(&junction), jc).eq(self.parent_expr(parent, p)));
            }
            if self.dialect() != Dialect::Postgres
                && let Some(junction_def) = self.target_table(via.table.as_str())
                && let Some(policy) = junction_def.policy_condition(
                    Operation::Select,
                    self.target.role,
                    PolicyPart::Using,
                    self.dialect(),
                    easbase_schema::policy::AuthMode::Bound(self.target.auth),
                    Some(&junction),
                )
            {
                j.and_where(policy);
            }
            let child_key: Vec<Expr> = via.child.iter().map(|(c, _)| self.col(Some(&alias), c)).collect();
            let key = match <[Expr; 1]>::try_from(child_key) {
                Ok([one]) => one,
                Err(many) => Expr::tuple(many),
            };
            q.and_where(key.in_subquery(j));
        }
        if !matches!(&e.filter, Condition::And(tests) if tests.is_empty()) {
            q.and_where(self.condition_in(
                &e.filter,
                Parent::Embed { table: child, alias: &alias },
                Some(&alias),
            )?);
        }
        for c in self.inner_conditions(&e.embeds, Parent::Embed { table: child, alias: &alias }, depth + 1)? {
            q.and_where(c);
        }
        if self.dialect() != Dialect::Postgres
            && let Some(policy) = child.policy_condition(
                Operation::Select,
                self.target.role,
                PolicyPart::Using,
                self.dialect(),
                easbase_schema::policy::AuthMode::Bound(self.target.auth),
                Some(&alias),
            )
        {
            q.and_where(policy);
        }
        Ok(())
    }

    /// The JSON of one embedded row: an array of its outputs' values followed by its own
    /// embeds' JSON. Keys are added by `respond/` (no caller-given alias reaches SQL).
    fn embed_row(&self, e: &Embed, child: &TableDef, depth: usize) -> Result<Expr, RestError> {
        let alias = format!("{EMBED_ALIAS}{depth}");
        let mut cols = e
            .outputs
            .iter()
            .map(|o| self.output_expr(child, Some(&alias), o))
            .collect::<Result<Vec<_>, _>>()?;
        for nested in &e.embeds {
            let grandchild = self.target_table(nested.table.as_str()).ok_or(RestError::Internal)?;
            let sub = self.embed_subquery(
                nested,
                grandchild,
                Parent::Embed { table: child, alias: &alias },
                depth + 1,
            )?;
            let sub = Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(sub)));
            // SQLite and MySQL would embed the subquery's JSON text as a string.
            cols.push(match self.dialect() {
                Dialect::Postgres => sub,
                Dialect::Sqlite => expr::tmpl(self.dialect(), "json($1)", &[sub]),
                Dialect::Mysql => expr::tmpl(self.dialect(), "JSON_EXTRACT($1, '$')", &[sub]),
            });
        }
        Ok(Expr::FunctionCall(
            sea_query::Func::cust(Alias::new(match self.dialect() {
                Dialect::Postgres => "json_build_array",
                Dialect::Sqlite => "json_array",
                Dialect::Mysql => "JSON_ARRAY",
            }))
            .args(cols),
        ))
    }

    /// The subquery giving an embedded resource as JSON: an array of row arrays (to-many,
    /// ordered by the child's key unless ordered) or one row array or NULL (to-one).
    fn embed_subquery(
        &self,
        e: &Embed,
        child: &TableDef,
        parent: Parent<'_>,
        depth: usize,
    ) -> Result<SelectStatement, RestError> {
        let alias = format!("{EMBED_ALIAS}{depth}");
        // A grouped embed's groups are ordered by the request's order, else by its
        // grouping columns (nulls last, on every engine).
        let groups: Vec<&Output> = e.outputs.iter().filter(|o| o.aggregate.is_none()).collect();
        let order: Vec<OrderItem> = if e.grouped && e.order.is_empty() {
            groups
                .iter()
                .map(|o| OrderItem {
                    embed: None,
                    column: o.column.clone(),
                    json_path: o.json_path.clone(),
                    desc: false,
                    nulls_first: false,
                })
                .collect()
        } else {
            e.order.clone()
        };
        let nested_groups = e.grouped && !e.embeds.is_empty();
        if e.grouped && !e.to_one && (!groups.is_empty() || nested_groups) && self.dialect() == Dialect::Mysql
        {
            return self.my_grouped_embed(&Embed { order, ..e.clone() }, child, parent, depth);
        }
        if self.pg_json_grouped(&e.outputs) || (nested_groups && self.dialect() != Dialect::Mysql) {
            // Grouped by JSON paths (PostgreSQL) or by embeds below: through a derived
            // table of the related rows, the embeds' JSON computed there.
            let mut rows = Query::select();
            self.embed_from(e, child, parent, depth, &mut rows)?;
            let mut nested = Vec::with_capacity(e.embeds.len());
            for n in &e.embeds {
                let grandchild = self.target_table(n.table.as_str()).ok_or(RestError::Internal)?;
                if n.spread && n.grouped {
                    // Its aggregates aggregate this embed's rows.
                    let here = Parent::Embed { table: child, alias: &alias };
                    nested.push(self.spread_values(n, grandchild, here, depth + 1)?);
                    continue;
                }
                let sub = self.embed_subquery(
                    n,
                    grandchild,
                    Parent::Embed { table: child, alias: &alias },
                    depth + 1,
                )?;
                let sub = Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(sub)));
                nested.push(DerivedEmbed::Grouped(match self.dialect() {
                    Dialect::Postgres => expr::tmpl(Dialect::Postgres, "CAST($1 AS jsonb)", &[sub]),
                    _ => sub,
                }));
            }
            let (mut inner, mut cols) =
                self.derived_groups(&e.outputs, child, Some(&alias), rows, &order, nested)?;
            if self.dialect() == Dialect::Sqlite {
                // SQLite would put the embeds' JSON text in the row as strings.
                for c in cols.iter_mut().skip(e.outputs.len()) {
                    *c = expr::tmpl(Dialect::Sqlite, "json($1)", std::slice::from_ref(c));
                }
            }
            let row = Expr::FunctionCall(
                sea_query::Func::cust(Alias::new(if self.dialect() == Dialect::Postgres {
                    "json_build_array"
                } else {
                    "json_array"
                }))
                .args(cols),
            );
            if e.to_one {
                inner.expr(row).limit(1);
                return Ok(inner);
            }
            inner.expr_as(row, Alias::new("r"));
            window(&mut inner, e.limit, e.offset);
            return Ok(self.json_array_of(inner, depth));
        }
        let row = self.embed_row(e, child, depth)?;
        let mut inner = Query::select();
        self.embed_from(e, child, parent, depth, &mut inner)?;
        if e.grouped {
            let exprs = groups
                .iter()
                .map(|o| self.output_expr(child, Some(&alias), o))
                .collect::<Result<Vec<_>, _>>()?;
            inner.add_group_by(exprs);
        }
        if e.to_one {
            inner.expr(row).limit(1);
            return Ok(inner);
        }
        if self.dialect() == Dialect::Mysql {
            if e.grouped {
                // One group of all the related rows: one row, in an array.
                inner.expr(expr::tmpl(Dialect::Mysql, "JSON_ARRAY($1)", &[row]));
                window(&mut inner, e.limit, e.offset);
                return Ok(inner);
            }
            // MariaDB has no correlated derived tables: the order and window go inside
            // JSON_ARRAYAGG.
            inner.expr(self.my_array_agg(e, child, row, &alias, depth)?);
            return Ok(inner);
        }
        inner.expr_as(row, Alias::new("r"));
        if order.is_empty() && !e.grouped {
            for pk in &child.primary_key {
                inner.order_by((Alias::new(&alias), Alias::new(pk.as_str())), Order::Asc);
            }
        }
        for o in &order {
            let key = self.order_expr(
                o,
                child,
                &e.embeds,
                Parent::Embed { table: child, alias: &alias },
                Some(&alias),
                depth + 1,
            )?;
            inner.order_by_expr_with_nulls(
                key,
                if o.desc { Order::Desc } else { Order::Asc },
                if o.nulls_first { NullOrdering::First } else { NullOrdering::Last },
            );
        }
        window(&mut inner, e.limit, e.offset);
        Ok(self.json_array_of(inner, depth))
    }

    /// The JSON array of the `"r"` column of `inner`'s rows (`[]` when there are none).
    fn json_array_of(&self, inner: SelectStatement, depth: usize) -> SelectStatement {
        let mut outer = Query::select();
        outer.expr(Expr::cust(if self.dialect() == Dialect::Postgres {
            r#"coalesce(json_agg("r"), '[]')"#
        } else {
            r#"json_group_array(json("r"))"#
        }));
        outer.from_subquery(inner, Alias::new(format!("_eb_s{depth}")));
        outer
    }

    /// What one `ORDER BY` term sorts by: a column (or JSON path) of the table, or of a
    /// to-one embed (a scalar subquery under the embed's join, filters and policy).
    fn order_expr(
        &self,
        o: &OrderItem,
        table: &TableDef,
        embeds: &[Embed],
        parent: Parent<'_>,
        alias: Option<&str>,
        depth: usize,
    ) -> Result<Expr, RestError> {
        let Some(i) = o.embed else {
            let def = table.column(o.column.as_str()).ok_or(RestError::Internal)?;
            return expr::json_path(self.dialect(), self.col(alias, &o.column), &def.ty, &o.json_path, true);
        };
        let e = embeds.get(i).ok_or(RestError::Internal)?;
        let child = self.target_table(e.table.as_str()).ok_or(RestError::Internal)?;
        let def = child.column(o.column.as_str()).ok_or(RestError::Internal)?;
        let child_alias = format!("{EMBED_ALIAS}{depth}");
        let mut q = Query::select();
        q.expr(expr::json_path(
            self.dialect(),
            self.col(Some(&child_alias), &o.column),
            &def.ty,
            &o.json_path,
            true,
        )?);
        self.embed_from(e, child, parent, depth, &mut q)?;
        q.limit(1);
        Ok(Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(q))))
    }

    /// `!inner` embeds of one level: `EXISTS (SELECT 1 FROM child WHERE <join> …)`.
    fn inner_conditions(
        &self,
        embeds: &[Embed],
        parent: Parent<'_>,
        depth: usize,
    ) -> Result<Vec<Expr>, RestError> {
        let mut out = Vec::new();
        for e in embeds.iter().filter(|e| e.inner) {
            let child = self.target_table(e.table.as_str()).ok_or(RestError::Internal)?;
            let mut q = Query::select();
            q.expr(Expr::cust("1"));
            self.embed_from(e, child, parent, depth, &mut q)?;
            out.push(if self.dialect() == Dialect::Postgres {
                Expr::exists(q)
            } else {
                // SQLite's EXISTS-to-join rewrite returns a parent twice when the
                // subquery holds a correlated IN (many-to-many); a scalar subquery
                // is not rewritten.
                q.limit(1);
                Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(q))).is_not_null()
            });
        }
        Ok(out)
    }

    /// The root's embeds as columns, after its outputs.
    fn embed_columns(&self, embeds: &[Embed]) -> Result<Vec<Expr>, RestError> {
        let mut out = Vec::new();
        for e in embeds {
            let child = self.target_table(e.table.as_str()).ok_or(RestError::Internal)?;
            let sub = self.embed_subquery(e, child, Parent::Root, 0)?;
            out.push(Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(sub))));
        }
        Ok(out)
    }

    /// Whether grouping by `outputs` needs [`Builder::pg_json_groups`].
    fn pg_json_grouped(&self, outputs: &[Output]) -> bool {
        self.dialect() == Dialect::Postgres
            && outputs.iter().any(|o| o.aggregate.is_some())
            && outputs.iter().any(|o| o.aggregate.is_none() && !o.json_path.is_empty())
    }

    /// PostgreSQL matches a selected or ordered expression to a grouped one only when
    /// they are the same, parameters included, so grouping columns read through a JSON
    /// path (whose keys are bound parameters) are computed once, as `_eb_g<i>` of a
    /// derived table over `rows` (a select of `table`'s rows, under `alias` when given),
    /// then grouped and ordered by name. Embedded resources of a grouped read are computed
    /// there too (`_eb_e<i>`, JSON) and grouped by. Returns the grouped select (no columns
    /// yet) and the expressions of the outputs then the embeds over it.
    fn derived_groups(
        &self,
        outputs: &[Output],
        table: &TableDef,
        alias: Option<&str>,
        mut rows: SelectStatement,
        order: &[OrderItem],
        embeds: Vec<DerivedEmbed<'_>>,
    ) -> Result<(SelectStatement, Vec<Expr>), RestError> {
        let groups: Vec<&Output> = outputs.iter().filter(|o| o.aggregate.is_none()).collect();
        let name = |i: usize| Alias::new(format!("_eb_g{i}"));
        let g = |i: usize| match alias {
            Some(a) => Expr::col((Alias::new(a), name(i))),
            None => Expr::col(name(i)),
        };
        rows.expr(Expr::cust(match alias {
            Some(a) => format!(r#""{a}".*"#),
            None => "*".to_owned(),
        }));
        for (i, o) in groups.iter().enumerate() {
            rows.expr_as(self.output_expr(table, alias, o)?, name(i));
        }
        let embed_name = |i: usize, k: Option<usize>| match k {
            None => Alias::new(format!("_eb_e{i}")),
            Some(k) => Alias::new(format!("_eb_e{i}_{k}")),
        };
        // Per embed: its column over the groups; and the grouping columns it adds.
        let mut embed_cols = Vec::with_capacity(embeds.len());
        let mut embed_groups = Vec::new();
        // The grouped columns of spreads: (embed, column, path) → name.
        let mut spread_groups: Vec<(usize, &ColumnName, &[crate::request::JsonStep], Expr)> = Vec::new();
        let spread_outputs: Vec<Vec<Output>> = embeds
            .iter()
            .map(|e| match e {
                DerivedEmbed::Spread { outputs, .. } => outputs.iter().map(|(o, _)| o.clone()).collect(),
                DerivedEmbed::Grouped(_) => Vec::new(),
            })
            .collect();
        for (i, e) in embeds.into_iter().enumerate() {
            match e {
                DerivedEmbed::Grouped(e) => {
                    rows.expr_as(e, embed_name(i, None));
                    embed_cols.push(Expr::col(embed_name(i, None)));
                    embed_groups.push(Expr::col(embed_name(i, None)));
                }
                DerivedEmbed::Spread { child, outputs } => {
                    let mut values = Vec::with_capacity(outputs.len());
                    for (k, (o, value)) in outputs.into_iter().enumerate() {
                        let col = Expr::col(embed_name(i, Some(k)));
                        if let Some(v) = value {
                            rows.expr_as(v, embed_name(i, Some(k)));
                        }
                        match o.aggregate {
                            Some(agg) => values.push(self.aggregate_expr(child, None, &o, agg, Some(col))?),
                            None => {
                                embed_groups.push(col.clone());
                                if let Some(so) = spread_outputs.get(i).and_then(|v| v.get(k)) {
                                    spread_groups.push((i, &so.column, &so.json_path, col.clone()));
                                }
                                values.push(col);
                            }
                        }
                    }
                    embed_cols.push(Expr::FunctionCall(
                        sea_query::Func::cust(Alias::new(match self.dialect() {
                            Dialect::Postgres => "json_build_array",
                            Dialect::Sqlite => "json_array",
                            Dialect::Mysql => "JSON_ARRAY",
                        }))
                        .args(values),
                    ));
                }
            }
        }
        let mut q = Query::select();
        q.from_subquery(rows, Alias::new(alias.unwrap_or(table.name.as_str())));
        let mut cols = Vec::with_capacity(outputs.len());
        let mut at = 0;
        for o in outputs {
            if o.aggregate.is_none() {
                cols.push(g(at));
                at += 1;
            } else {
                cols.push(self.output_expr(table, alias, o)?);
            }
        }
        cols.extend(embed_cols);
        q.add_group_by((0..groups.len()).map(g).chain(embed_groups));
        for o in order {
            let key = match o.embed {
                // A spread's grouped column.
                Some(e) => spread_groups
                    .iter()
                    .find(|(i, c, p, _)| *i == e && **c == o.column && *p == o.json_path.as_slice())
                    .map(|(.., col)| col.clone())
                    .ok_or(RestError::Internal)?,
                None => g(groups
                    .iter()
                    .position(|x| x.column == o.column && x.json_path == o.json_path)
                    .ok_or(RestError::Internal)?),
            };
            q.order_by_expr_with_nulls(
                key,
                if o.desc { Order::Desc } else { Order::Asc },
                if o.nulls_first { NullOrdering::First } else { NullOrdering::Last },
            );
        }
        Ok((q, cols))
    }

    fn read(&self, r: &ReadPlan) -> Result<SqlPlan, RestError> {
        if r.grouped && !r.embeds.is_empty() {
            return self.grouped_read_with_embeds(r);
        }
        if self.pg_json_grouped(&r.outputs) {
            return self.pg_json_grouped_read(r);
        }
        let mut q = Query::select();
        for o in &r.outputs {
            q.expr(self.output_expr(self.table, None, o)?);
        }
        for (i, e) in self.embed_columns(&r.embeds)?.into_iter().enumerate() {
            q.expr_as(e, Alias::new(format!("_eb_embed_{i}")));
        }
        if r.outputs.is_empty() && r.embeds.is_empty() {
            // `select=` with nothing: rows of no columns, as `{}` objects.
            q.expr(Expr::cust("1"));
        }
        self.filtered(&mut q, &r.filter)?;
        let groups = if r.grouped {
            r.outputs
                .iter()
                .filter(|o| o.aggregate.is_none())
                .map(|o| self.output_expr(self.table, None, o))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        q.add_group_by(groups.clone());
        let inner = self.row_conditions(r)?;
        for c in &inner {
            q.and_where(c.clone());
        }
        for o in &r.order {
            let key = self.order_expr(o, self.table, &r.embeds, Parent::Root, None, 0)?;
            q.order_by_expr_with_nulls(
                key,
                if o.desc { Order::Desc } else { Order::Asc },
                if o.nulls_first { NullOrdering::First } else { NullOrdering::Last },
            );
        }
        window(&mut q, r.limit, r.offset);
        self.read_with_counts(r, q, &groups, &inner, None)
    }

    /// A grouped read on PostgreSQL by JSON paths ([`Builder::pg_json_groups`]); no embeds.
    fn pg_json_grouped_read(&self, r: &ReadPlan) -> Result<SqlPlan, RestError> {
        let mut rows = Query::select();
        self.filtered(&mut rows, &r.filter)?;
        let (mut q, cols) = self.derived_groups(&r.outputs, self.table, None, rows, &r.order, Vec::new())?;
        q.exprs(cols);
        window(&mut q, r.limit, r.offset);
        let groups = r
            .outputs
            .iter()
            .filter(|o| o.aggregate.is_none())
            .map(|o| self.output_expr(self.table, None, o))
            .collect::<Result<Vec<_>, _>>()?;
        self.read_with_counts(r, q, &groups, &[], None)
    }

    /// A grouped read with embedded resources: each row's embeds are computed in a
    /// derived table of the selected rows and grouped by with the other grouping columns,
    /// as PostgREST groups by an embedded resource (PostgreSQL: as `jsonb`, `json` has no
    /// equality).
    fn grouped_read_with_embeds(&self, r: &ReadPlan) -> Result<SqlPlan, RestError> {
        let conditions = self.row_conditions(r)?;
        let build = || -> Result<(SelectStatement, Vec<Expr>), RestError> {
            let mut rows = Query::select();
            self.filtered(&mut rows, &r.filter)?;
            for c in &conditions {
                rows.and_where(c.clone());
            }
            let mut embeds = Vec::with_capacity(r.embeds.len());
            for e in &r.embeds {
                let child = self.target_table(e.table.as_str()).ok_or(RestError::Internal)?;
                if e.spread && e.grouped {
                    embeds.push(self.spread_values(e, child, Parent::Root, 0)?);
                    continue;
                }
                let sub = self.embed_subquery(e, child, Parent::Root, 0)?;
                let sub = Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(sub)));
                embeds.push(DerivedEmbed::Grouped(if self.dialect() == Dialect::Postgres {
                    expr::tmpl(Dialect::Postgres, "CAST($1 AS jsonb)", &[sub])
                } else {
                    sub
                }));
            }
            self.derived_groups(&r.outputs, self.table, None, rows, &r.order, embeds)
        };
        let (mut q, cols) = build()?;
        q.exprs(cols);
        window(&mut q, r.limit, r.offset);
        let (mut groups, _) = build()?;
        groups.expr(Expr::cust("1"));
        self.read_with_counts(r, q, &[], &conditions, Some(groups))
    }

    /// A to-one spread with aggregates: each output's value for the row (a scalar
    /// subquery under the embed's join, filters and policy; NULL without a related row).
    fn spread_values<'t>(
        &self,
        e: &Embed,
        child: &'t TableDef,
        parent: Parent<'_>,
        depth: usize,
    ) -> Result<DerivedEmbed<'t>, RestError> {
        let alias = format!("{EMBED_ALIAS}{depth}");
        let mut outputs = Vec::with_capacity(e.outputs.len());
        for o in &e.outputs {
            if o.aggregate.is_some_and(|a| a.rows) {
                outputs.push((o.clone(), None));
                continue;
            }
            let plain = Output { aggregate: None, ..o.clone() };
            let mut q = Query::select();
            q.expr(self.output_expr(child, Some(&alias), &plain)?);
            self.embed_from(e, child, parent, depth, &mut q)?;
            q.limit(1);
            let value = Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(q)));
            outputs.push((o.clone(), Some(value)));
        }
        Ok(DerivedEmbed::Spread { child, outputs })
    }

    /// The conditions of `!inner` embeds and of `rel=is.null` / `rel=not.is.null` on the
    /// rows of a read.
    fn row_conditions(&self, r: &ReadPlan) -> Result<Vec<Expr>, RestError> {
        let mut inner = self.inner_conditions(&r.embeds, Parent::Root, 0)?;
        for &(i, present) in &r.related {
            // `rel=not.is.null` is `!inner`; `rel=is.null` its negation (an anti-join).
            let e = r.embeds.get(i).ok_or(RestError::Internal)?;
            let mut exists = self.inner_conditions(
                std::slice::from_ref(&Embed { inner: true, ..e.clone() }),
                Parent::Root,
                0,
            )?;
            let c = exists.pop().ok_or(RestError::Internal)?;
            inner.push(if present { c } else { c.not() });
        }
        Ok(inner)
    }

    /// The read's statement `q`, then those counting its rows as `r` asks (a grouped
    /// read's exact count: its groups, `grouped` when given, else the rows grouped by
    /// `groups`).
    fn read_with_counts(
        &self,
        r: &ReadPlan,
        q: SelectStatement,
        groups: &[Expr],
        inner: &[Expr],
        grouped: Option<SelectStatement>,
    ) -> Result<SqlPlan, RestError> {
        let mut statements = vec![q.build_for(self.dialect())];
        let (mut count, mut planned, mut count_cap) = (None, None, None);
        // The rows the filters select, for counting.
        let counted = || -> Result<SelectStatement, RestError> {
            let mut c = Query::select();
            self.filtered(&mut c, &r.filter)?;
            for cond in inner {
                c.and_where(cond.clone());
            }
            Ok(c)
        };
        let pg = self.dialect() == Dialect::Postgres;
        let kind = match r.count {
            // SQLite has no planner estimate: every count is exact there.
            Some(_) if !pg => Some(Count::Exact),
            // Estimated without a row cap: nothing to estimate past.
            Some(Count::Estimated) if r.max_rows.is_none() => Some(Count::Exact),
            other => other,
        };
        if matches!(kind, Some(Count::Exact)) && r.grouped {
            // The groups are the rows of the answer.
            let g = match grouped {
                Some(g) => g,
                None => {
                    let mut g = counted()?;
                    g.expr(Expr::cust("1")).add_group_by(groups.to_vec());
                    g
                }
            };
            let mut c = Query::select();
            c.expr(Expr::cust("count(*)")).from_subquery(g, Alias::new("_eb_g"));
            count = Some(statements.len());
            statements.push(c.build_for(self.dialect()));
        } else if matches!(kind, Some(Count::Exact)) {
            let mut c = counted()?;
            c.expr(Expr::cust("count(*)"));
            count = Some(statements.len());
            statements.push(c.build_for(self.dialect()));
        }
        if let (Some(Count::Estimated), Some(cap)) = (kind, r.max_rows) {
            // Exact up to the cap (counting at most cap + 1 rows), the plan's estimate past it.
            let mut inner_rows = counted()?;
            inner_rows.expr(Expr::cust("1")).limit(Ord::min(cap.saturating_add(1), i64::MAX as u64));
            let mut c = Query::select();
            c.expr(Expr::cust("count(*)")).from_subquery(inner_rows, Alias::new("_eb_e"));
            count = Some(statements.len());
            count_cap = Some(cap);
            statements.push(c.build_for(self.dialect()));
        }
        if matches!(kind, Some(Count::Planned | Count::Estimated)) && pg {
            let mut c = counted()?;
            c.expr(Expr::cust("1"));
            let stmt = c.build_for(self.dialect());
            planned = Some(statements.len());
            statements.push(Stmt::new(format!("EXPLAIN (FORMAT JSON) {}", stmt.sql), stmt.values));
        }
        Ok(SqlPlan {
            statements,
            main: 0,
            more: Vec::new(),
            count,
            planned,
            count_cap,
            count_kind: kind,
            read_only: true,
        })
    }

    /// `key IN (SELECT key FROM t WHERE … ORDER BY … LIMIT … OFFSET …)`: the window of a
    /// limited PATCH / DELETE, by `ctid` on PostgreSQL and `rowid` on SQLite.
    fn windowed(
        &self,
        filter: &Condition,
        w: &crate::plan::Window,
        using: &[Operation],
    ) -> Result<Expr, RestError> {
        let key =
            || Expr::col(Alias::new(if self.dialect() == Dialect::Postgres { "ctid" } else { "rowid" }));
        let mut q = Query::select();
        q.expr(key()).from(self.table_ref());
        self.target_rows(&mut q, filter, Some(w), using)?;
        Ok(key().in_subquery(q))
    }

    /// Narrows `q` (a select of the target table) to the rows a write targets: `filter`,
    /// the policies' `using` of `ops`, and the window of a limited PATCH / DELETE.
    fn target_rows(
        &self,
        q: &mut SelectStatement,
        filter: &Condition,
        win: Option<&crate::plan::Window>,
        ops: &[Operation],
    ) -> Result<(), RestError> {
        if !matches!(filter, Condition::And(tests) if tests.is_empty()) {
            q.and_where(self.condition(filter)?);
        }
        for op in ops {
            if let Some(c) = self.using(*op) {
                q.and_where(c);
            }
        }
        if let Some(w) = win {
            for o in &w.order {
                q.order_by_expr_with_nulls(
                    self.order_expr(o, self.table, &[], Parent::Root, None, 0)?,
                    if o.desc { Order::Desc } else { Order::Asc },
                    if o.nulls_first { NullOrdering::First } else { NullOrdering::Last },
                );
            }
            window(q, w.limit, w.offset);
        }
        Ok(())
    }

    /// `RETURNING` the outputs (with their paths and casts) and the embeds of a write's
    /// answer, whose subqueries read the written row.
    fn returning(
        &self,
        outputs: &Option<Vec<Output>>,
        embeds: &[Embed],
    ) -> Result<Option<sea_query::ReturningClause>, RestError> {
        let Some(outputs) = outputs.as_ref() else { return Ok(None) };
        let mut exprs = outputs
            .iter()
            .map(|o| {
                if o.json_path.is_empty() && o.cast.is_none() {
                    Ok(self.col(None, &o.column))
                } else {
                    self.output_expr(self.table, None, o)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        exprs.extend(self.embed_columns(embeds)?);
        if exprs.is_empty() {
            exprs.push(Expr::cust("1"));
        }
        if self.dialect() == Dialect::Postgres {
            // Last, after the cells the answer reads: `write` answers the rows it holds for.
            match self.answer_filter(embeds)? {
                Some(keep) => exprs.push(expr::tmpl(Dialect::Postgres, r#"($1) AS "_eb_keep""#, &[keep])),
                None if self.singular || self.max_affected.is_some() => {
                    exprs.push(Expr::cust(r#"true AS "_eb_keep""#));
                }
                None => {}
            }
        }
        Ok(Some(Query::returning().exprs(exprs)))
    }

    /// The `!inner` embeds of a write's answer, as one condition on a written row.
    fn answer_filter(&self, embeds: &[Embed]) -> Result<Option<Expr>, RestError> {
        Ok(self.inner_conditions(embeds, Parent::Root, 0)?.into_iter().reduce(|a, b| a.and(b)))
    }

    /// Whether the answer of a write drops rows (`!inner` embeds): PostgreSQL filters its
    /// `RETURNING` rows in the statement, MySQL its re-selected rows; SQLite, whose
    /// `RETURNING` cannot be filtered, selects the rows it recorded ([`policy::record_answer`]).
    fn filtered_answer(&self, returning: &Option<Vec<Output>>, embeds: &[Embed]) -> bool {
        returning.is_some() && embeds.iter().any(|e| e.inner)
    }

    /// The guards of a singular write whose answer drops rows: exactly one row of the table
    /// that `answered` selects, or roll back (PostgREST counts the rows it answers).
    fn kept_guards(&self, answered: Expr) -> Vec<Stmt> {
        if !self.singular {
            return Vec::new();
        }
        let count = |cond: &str, message: String| {
            let mut q = Query::select();
            q.expr(Expr::cust(format!("count(*) {cond}"))).from(self.table_ref()).and_where(answered.clone());
            q.build_for(self.dialect()).with_guard(easbase_core::db::Guard::NoRows(message))
        };
        vec![count("= 0", format!("{NOT_SINGULAR} 0")), count("> 1", format!("{NOT_SINGULAR} more"))]
    }

    /// `rows` that the `!inner` embeds keep.
    fn answered(&self, embeds: &[Embed], rows: Expr) -> Result<Expr, RestError> {
        Ok(match self.answer_filter(embeds)? {
            Some(keep) => rows.and(keep),
            None => rows,
        })
    }

    /// The answer of a write as a `SELECT` of the table: the outputs and embeds of the
    /// rows `rows` selects that the `!inner` embeds keep, in `order`.
    fn answer_select(
        &self,
        outputs: &[Output],
        embeds: &[Embed],
        rows: Expr,
        order: Expr,
    ) -> Result<Stmt, RestError> {
        let mut q = self.answer_query(outputs, embeds, rows)?;
        q.order_by_expr(order, Order::Asc);
        Ok(q.build_for(self.dialect()))
    }

    /// The answer's outputs and embeds for the written `rows` of the table; `!inner`
    /// embeds drop the rows of the answer without a match (not the writes).
    fn answer_query(
        &self,
        outputs: &[Output],
        embeds: &[Embed],
        rows: Expr,
    ) -> Result<SelectStatement, RestError> {
        let mut q = Query::select();
        for o in outputs {
            q.expr(self.output_expr(self.table, None, o)?);
        }
        q.exprs(self.embed_columns(embeds)?);
        if outputs.is_empty() && embeds.is_empty() {
            q.expr(Expr::cust("1"));
        }
        q.from(self.table_ref()).and_where(rows);
        if let Some(keep) = self.answer_filter(embeds)? {
            q.and_where(keep);
        }
        Ok(q)
    }

    fn insert(&self, i: &InsertPlan) -> Result<SqlPlan, RestError> {
        for row in &i.rows {
            for (v, c) in row.iter().zip(&i.columns) {
                if let Some(d) = self.table.column(c.as_str()) {
                    self.check_time(&d.ty, v)?;
                }
            }
        }
        if self.dialect() == Dialect::Mysql {
            return self.my_insert(i);
        }
        let keyed;
        let i = match self.sqlite_rowid_key(i)? {
            Some(plan) => {
                keyed = plan;
                &keyed
            }
            None => i,
        };
        let filtered = self.filtered_answer(&i.returning, &i.embeds);
        let sqlite_answer = filtered && self.dialect() == Dialect::Sqlite;
        let policies = self.policies();
        let mut columns: Vec<Alias> = i.columns.iter().map(|c| Alias::new(c.as_str())).collect();
        let uid = match (&policies, self.dialect(), &self.target.auth.uid) {
            (_, Dialect::Postgres, _) | (_, _, None) => None,
            (_, _, Some(uid)) if !i.uid_defaults.is_empty() => Some(uid.clone()),
            _ => None,
        };
        if uid.is_some() {
            columns.extend(i.uid_defaults.iter().map(|c| Alias::new(c.as_str())));
        }
        // `missing=default` on SQLite, which has no DEFAULT in a VALUES list: each run of
        // rows leaving out the same columns is one INSERT of the others (the answer keeps
        // the payload's order). PostgreSQL takes DEFAULT per cell in one statement.
        // A left-out `auth.uid` column takes the request's user, as PostgreSQL's default.
        let uid_column: Vec<bool> = i
            .columns
            .iter()
            .map(|c| {
                self.table
                    .column(c.as_str())
                    .is_some_and(|d| d.default == Some(easbase_schema::DefaultValue::AuthUid))
            })
            .collect();
        let rows: Vec<Vec<Value>> = i
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&uid_column)
                    .map(|(v, is_uid)| match (v, is_uid, &self.target.auth.uid) {
                        (Value::Default, true, uid) if self.dialect() != Dialect::Postgres => {
                            uid.clone().map_or(Value::Null, Value::Text)
                        }
                        _ => v.clone(),
                    })
                    .collect()
            })
            .collect();
        let mut groups: Vec<(Vec<bool>, Vec<&Vec<Value>>)> = Vec::new();
        for row in &rows {
            let present: Vec<bool> =
                row.iter().map(|v| self.dialect() == Dialect::Postgres || *v != Value::Default).collect();
            match groups.last_mut() {
                Some((p, rows)) if *p == present => rows.push(row),
                _ => groups.push((present, vec![row])),
            }
        }
        if groups.is_empty() {
            groups.push((vec![true; i.columns.len()], Vec::new()));
        }
        let mut inserts = Vec::with_capacity(groups.len());
        for (present, rows) in &groups {
            let mut q = Query::insert();
            q.into_table(self.table_ref());
            let cols: Vec<Alias> = columns
                .iter()
                .enumerate()
                .filter(|(n, _)| present.get(*n).copied().unwrap_or(true))
                .map(|(_, c)| c.clone())
                .collect();
            if cols.is_empty() {
                q.or_default_values_many(u32::try_from(rows.len().max(1)).unwrap_or(u32::MAX));
            } else {
                q.columns(cols);
                for row in rows {
                    let mut values: Vec<Expr> = row
                        .iter()
                        .zip(present)
                        .zip(&i.columns)
                        .filter(|((_, p), _)| **p)
                        .map(|((v, _), c)| self.set_value(c, v))
                        .collect();
                    if let Some(uid) = &uid {
                        values.extend(i.uid_defaults.iter().map(|_| Expr::val(uid.clone())));
                    }
                    q.values(values).map_err(|_| RestError::Internal)?;
                }
            }
            if let Some(c) = &i.conflict {
                let mut on = OnConflict::columns(c.columns.iter().map(|c| Alias::new(c.as_str())));
                // Left-out columns too: `excluded` holds their defaults.
                let updates: Vec<Alias> = i
                    .columns
                    .iter()
                    .filter(|x| !c.columns.contains(x))
                    .map(|x| Alias::new(x.as_str()))
                    .collect();
                if c.merge && !updates.is_empty() {
                    on.update_columns(updates);
                } else {
                    on.do_nothing();
                }
                q.on_conflict(on);
            }
            if !sqlite_answer && let Some(r) = self.returning(&i.returning, &i.embeds)? {
                q.returning(r);
            }
            inserts.push(q);
        }
        let mut statements = Vec::new();
        let mut guards = Vec::new();
        if let Some(p) = &policies {
            statements.extend(p.reset_written());
            // Every inserted row's rowid, wherever it falls (an explicit key below the
            // largest one too), recorded by a temporary trigger.
            statements.extend(p.record_inserts());
            let keys = Query::select().column(Alias::new("k")).from(written()).to_owned();
            guards.extend(p.guard(Operation::Insert, self.table_ref(), rowid().in_subquery(keys)));
            if let Some(c) = i.conflict.as_ref().filter(|c| c.merge) {
                // The existing rows the upsert will update: checked before (update and
                // select `using`) and after (update `check`).
                statements.extend(p.reset_conflicts());
                let mut existing = Query::select();
                existing.expr(rowid()).from(self.table_ref()).and_where(self.conflicting(i, &c.columns));
                let mut record = Query::insert();
                record.into_table(conflicts()).columns([Alias::new("k")]);
                record.select_from(existing).map_err(|_| RestError::Internal)?;
                statements.push(record.build_for(self.dialect()));
                let keys = || Query::select().column(Alias::new("k")).from(conflicts()).to_owned();
                statements.extend(p.upsert_using_guard(self.table_ref(), rowid().in_subquery(keys())));
                guards.extend(p.guard(Operation::Update, self.table_ref(), rowid().in_subquery(keys())));
            }
        }
        if sqlite_answer {
            statements.extend(policy::record_answer(self.table));
        }
        let mut main = statements.len();
        let mut more = Vec::new();
        for (n, q) in inserts.into_iter().enumerate() {
            if n > 0 {
                more.push(statements.len());
            }
            statements.extend(self.write(
                Write::Insert(q),
                i.returning.is_some() && !sqlite_answer,
                filtered,
            ));
        }
        if sqlite_answer {
            statements.push(policy::stop_answer());
        }
        if let Some(p) = &policies {
            statements.push(p.stop_recording());
        }
        statements.extend(guards);
        if let (true, Some(outputs)) = (sqlite_answer, &i.returning) {
            let (rows, order) = policy::answer_rows(self.table);
            main = statements.len();
            more.clear();
            statements.push(self.answer_select(outputs, &i.embeds, rows.clone(), order)?);
            statements.extend(self.kept_guards(self.answered(&i.embeds, rows)?));
        }
        Ok(SqlPlan { statements, main, more, ..SqlPlan::write() })
    }

    /// SQLite makes a single integer primary key the rowid, which it numbers itself when a
    /// row leaves it out or nulls it, where PostgreSQL takes the column's default or fails:
    /// there the literal default is written out, and a left-out key without one (or a
    /// null key) is PostgreSQL's not-null violation (400 `23502`). `None`: nothing to do.
    fn sqlite_rowid_key(&self, i: &InsertPlan) -> Result<Option<InsertPlan>, RestError> {
        let ([pk], Dialect::Sqlite) = (self.table.primary_key.as_slice(), self.dialect()) else {
            return Ok(None);
        };
        let Some(def) = self.table.column(pk.as_str()) else { return Ok(None) };
        if !matches!(def.ty, ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt)
            || i.rows.is_empty()
        {
            return Ok(None);
        }
        let default = match &def.default {
            Some(easbase_schema::DefaultValue::Literal(v)) => Some(Value::from_json(v, def)?),
            _ => None,
        };
        let mut plan = i.clone();
        let at = match plan.columns.iter().position(|c| c == pk) {
            Some(at) => at,
            None => {
                plan.columns.push(pk.clone());
                for row in &mut plan.rows {
                    row.push(Value::Default);
                }
                plan.columns.len() - 1
            }
        };
        for row in &mut plan.rows {
            match (&row[at], &default) {
                (Value::Null, _) | (Value::Default, None) => {
                    return Err(RestError::Database {
                        status: http::StatusCode::BAD_REQUEST,
                        code: "23502".to_owned(),
                        message: format!(
                            "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                            pk.as_str(),
                            self.table.name.as_str()
                        ),
                    });
                }
                (Value::Default, Some(d)) => row[at] = d.clone(),
                _ => {}
            }
        }
        Ok(Some(plan))
    }

    /// The main write statement; for a singular write, also what makes it roll back
    /// unless exactly one row changed. PostgreSQL: the write becomes a CTE whose rows are
    /// counted by the statement itself, failing with the marker in a cast error. SQLite:
    /// guards on `changes()` right after the write.
    ///
    /// `keep`: the answer drops rows (`!inner` embeds): PostgreSQL's `RETURNING` carries a
    /// last column `_eb_keep` (always there when the rows are counted) and only the rows it
    /// holds for answer, and count as one object; elsewhere the caller counts the kept
    /// rows of a singular write.
    fn write(&self, w: Write, returns_rows: bool, keep: bool) -> Vec<Stmt> {
        if !self.singular && self.max_affected.is_none() && !keep {
            return vec![match w {
                Write::Insert(q) => q.build_for(self.dialect()),
                Write::Update(q) => q.build_for(self.dialect()),
                Write::Delete(q) => q.build_for(self.dialect()),
            }];
        }
        if self.dialect() != Dialect::Postgres {
            let main = match w {
                Write::Insert(q) => q.build_for(self.dialect()),
                Write::Update(q) => q.build_for(self.dialect()),
                Write::Delete(q) => q.build_for(self.dialect()),
            };
            let guard = |cond: &str, message: String| {
                Query::select()
                    .expr(Expr::cust(cond.to_owned()))
                    .to_owned()
                    .build_for(self.dialect())
                    .with_guard(easbase_core::db::Guard::NoRows(message))
            };
            let mut out = vec![main];
            if let Some(max) = self.max_affected {
                out.push(guard(&format!("changes() > {max}"), format!("{MAX_AFFECTED} more")));
            }
            if self.singular && !keep {
                out.push(guard("changes() = 0", format!("{NOT_SINGULAR} 0")));
                out.push(guard("changes() > 1", format!("{NOT_SINGULAR} more")));
            }
            return out;
        }
        let w_name = Alias::new("_eb_w");
        let sub: sea_query::SubQueryStatement = match w {
            Write::Insert(mut q) => {
                if !returns_rows {
                    q.returning(Query::returning().expr(Expr::cust(r#"true AS "_eb_keep""#)));
                }
                q.into()
            }
            Write::Update(mut q) => {
                if !returns_rows {
                    q.returning(Query::returning().expr(Expr::cust(r#"true AS "_eb_keep""#)));
                }
                q.into()
            }
            Write::Delete(mut q) => {
                if !returns_rows {
                    q.returning(Query::returning().expr(Expr::cust(r#"true AS "_eb_keep""#)));
                }
                q.into()
            }
        };
        let written =
            sea_query::CommonTableExpression::new().query(sub).table_name(w_name.clone()).to_owned();
        // `c` written rows, `k` of them answered.
        let count = sea_query::CommonTableExpression::new()
            .query(
                Query::select()
                    .expr_as(Expr::cust("count(*)"), Alias::new("c"))
                    .expr_as(Expr::cust(r#"count(*) FILTER (WHERE "_eb_keep")"#), Alias::new("k"))
                    .from(w_name.clone())
                    .to_owned(),
            )
            .table_name(Alias::new("_eb_n"))
            .to_owned();
        let mut select = Query::select();
        select.expr(Expr::cust(r#""_eb_w".*"#));
        let counted = self.singular || self.max_affected.is_some();
        if counted {
            // One row at least (NULLs when nothing was written), on which one condition
            // fails the statement when the counts are wrong (PostgreSQL may evaluate
            // separate conditions in any order, and skip some) and else keeps the
            // answered rows.
            select.from(Alias::new("_eb_n")).join(sea_query::JoinType::LeftJoin, w_name, Expr::cust("true"));
            let mut arms = String::from("CASE");
            if let Some(max) = self.max_affected {
                arms.push_str(&format!(
                    r#" WHEN "_eb_n"."c" > {max} THEN CAST('{MAX_AFFECTED} ' || "_eb_n"."c" AS integer) = 0"#
                ));
            }
            if self.singular {
                arms.push_str(&format!(
                    r#" WHEN "_eb_n"."k" <> 1 THEN CAST('{NOT_SINGULAR} ' || "_eb_n"."k" AS integer) = 0"#
                ));
            }
            arms.push_str(r#" ELSE coalesce("_eb_w"."_eb_keep", false) END"#);
            select.and_where(Expr::cust(arms));
        } else {
            select.from(w_name);
            if keep {
                select.and_where(Expr::cust(r#""_eb_w"."_eb_keep""#));
            }
        }
        let mut with = sea_query::WithClause::new();
        with.cte(written);
        if counted {
            with.cte(count);
        }
        let (sql, values) = select.with(with).build(sea_query::PostgresQueryBuilder);
        vec![Stmt::new(sql, values)]
    }

    /// Rows of the table equal to some payload row on all of `columns` (the conflict
    /// target). A row that leaves a target column out conflicts with nothing here.
    fn conflicting(&self, i: &InsertPlan, columns: &[ColumnName]) -> Expr {
        self.payload_rows(i, columns)
            .into_iter()
            .reduce(|a, b| a.or(b))
            .unwrap_or_else(|| Expr::cust("1 = 0"))
    }

    /// Per payload row, the condition of a table row equal to it on all of `columns`
    /// (none when the payload leaves one of them out).
    fn payload_rows(&self, i: &InsertPlan, columns: &[ColumnName]) -> Vec<Expr> {
        let positions: Option<Vec<usize>> =
            columns.iter().map(|c| i.columns.iter().position(|x| x == c)).collect();
        let Some(positions) = positions else { return Vec::new() };
        i.rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .zip(&positions)
                    .map(|(c, &p)| Expr::col(Alias::new(c.as_str())).eq(self.bind(&row[p])))
                    .reduce(|a, b| a.and(b))
                    .unwrap_or_else(|| Expr::cust("1 = 0"))
            })
            .collect()
    }

    fn update(&self, u: &UpdatePlan) -> Result<SqlPlan, RestError> {
        if u.set.is_empty() {
            // Nothing to set: no update and no row, on every engine.
            let mut q = Query::select();
            q.expr(Expr::cust("1")).from(self.table_ref()).and_where(Expr::cust("1 = 0"));
            return Ok(SqlPlan { statements: vec![q.build_for(self.dialect())], ..SqlPlan::write() });
        }
        for (c, v) in &u.set {
            if let Some(d) = self.table.column(c.as_str()) {
                self.check_time(&d.ty, v)?;
            }
        }
        if self.dialect() == Dialect::Mysql {
            return self.my_update(u);
        }
        let mut q = Query::update();
        q.table(self.table_ref());
        q.values(u.set.iter().map(|(c, v)| (Alias::new(c.as_str()), self.set_value(c, v))));
        let filtered = self.filtered_answer(&u.returning, &u.embeds);
        let sqlite_answer = filtered && self.dialect() == Dialect::Sqlite;
        if !sqlite_answer && let Some(r) = self.returning(&u.returning, &u.embeds)? {
            q.returning(r);
        }
        let mut statements = Vec::new();
        let mut guard = None;
        match self.policies() {
            Some(p) => {
                statements.extend(p.reset_written());
                let mut rows = Query::select();
                rows.expr(rowid()).from(self.table_ref());
                match &u.window {
                    Some(w) => {
                        rows.and_where(self.windowed(
                            &u.filter,
                            w,
                            &[Operation::Update, Operation::Select],
                        )?);
                    }
                    None => {
                        rows.and_where(self.condition(&u.filter)?);
                        for op in [Operation::Update, Operation::Select] {
                            if let Some(c) = p.condition(op, PolicyPart::Using) {
                                rows.and_where(c);
                            }
                        }
                    }
                }
                let mut record = Query::insert();
                record.into_table(written()).columns([Alias::new("k")]);
                if record.select_from(rows).is_ok() {
                    statements.push(record.build_for(self.dialect()));
                }
                let keys = || Query::select().column(Alias::new("k")).from(written()).to_owned();
                q.and_where(rowid().in_subquery(keys()));
                guard = p.guard(Operation::Update, self.table_ref(), rowid().in_subquery(keys()));
            }
            None => match &u.window {
                Some(w) => {
                    q.and_where(self.windowed(&u.filter, w, &[])?);
                }
                None => {
                    q.and_where(self.condition(&u.filter)?);
                }
            },
        }
        if sqlite_answer {
            statements.extend(policy::record_answer(self.table));
        }
        let mut main = statements.len();
        statements.extend(self.write(Write::Update(q), u.returning.is_some() && !sqlite_answer, filtered));
        if sqlite_answer {
            statements.push(policy::stop_answer());
        }
        statements.extend(guard);
        if let (true, Some(outputs)) = (sqlite_answer, &u.returning) {
            let (rows, order) = policy::answer_rows(self.table);
            main = statements.len();
            statements.push(self.answer_select(outputs, &u.embeds, rows.clone(), order)?);
            statements.extend(self.kept_guards(self.answered(&u.embeds, rows)?));
        }
        Ok(SqlPlan { statements, main, ..SqlPlan::write() })
    }

    fn delete(&self, d: &DeletePlan) -> Result<SqlPlan, RestError> {
        if self.dialect() == Dialect::Mysql {
            return self.my_delete(d);
        }
        let mut rows = vec![match &d.window {
            Some(w) => self.windowed(&d.filter, w, &[Operation::Delete, Operation::Select])?,
            None => self.condition(&d.filter)?,
        }];
        for op in [Operation::Delete, Operation::Select] {
            rows.extend(self.using(op));
        }
        let mut q = Query::delete();
        q.from_table(self.table_ref());
        for c in &rows {
            q.and_where(c.clone());
        }
        let filtered = self.filtered_answer(&d.returning, &d.embeds);
        if let (Dialect::Sqlite, true, Some(outputs)) = (self.dialect(), filtered, &d.returning) {
            // The answer is read before the rows go (as `RETURNING` sees them).
            let all = rows.into_iter().reduce(|a, b| a.and(b)).unwrap_or_else(|| Expr::cust("1 = 1"));
            let mut statements = vec![self.answer_select(outputs, &d.embeds, all.clone(), rowid())?];
            statements.extend(self.kept_guards(self.answered(&d.embeds, all)?));
            statements.extend(self.write(Write::Delete(q), false, true));
            return Ok(SqlPlan { statements, ..SqlPlan::write() });
        }
        if let Some(r) = self.returning(&d.returning, &d.embeds)? {
            q.returning(r);
        }
        Ok(SqlPlan {
            statements: self.write(Write::Delete(q), d.returning.is_some(), filtered),
            ..SqlPlan::write()
        })
    }
}

/// A LIKE pattern (`%`, `_`) as a GLOB pattern (`*`, `?`), GLOB's own metacharacters
/// escaped by brackets.
fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            other => out.push(other),
        }
    }
    out
}
