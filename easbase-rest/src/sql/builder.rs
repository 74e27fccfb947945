//! Statements per plan: SELECT (+ `count(*)`), INSERT, UPDATE, DELETE.

use easbase_core::db::{BuildStmt, Stmt};
use easbase_schema::policy::AuthContext;
use easbase_schema::{ColumnName, Dialect, Ident, Operation, PolicyPart, Role, TableDef};
use sea_query::{
    Alias, BinOper, Expr, ExprTrait, IntoTableRef, NullOrdering, OnConflict, Order, Query, SelectStatement,
    TableRef,
};

use crate::error::RestError;
/// The alias of an embedded resource's table in its subquery.
const EMBED_ALIAS: &str = "_eb_c";
/// The alias of a many-to-many embed's junction table.
const JUNCTION_ALIAS: &str = "_eb_j";

use crate::plan::{
    ActionPlan, CmpOp, Condition, CrudPlan, DeletePlan, Embed, InsertPlan, Output, ReadPlan, Test,
    UpdatePlan, Value, not_supported,
};
use crate::request::IsValue;
use crate::sql::policy::{Policies, conflicts, rowid, written};

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
    /// Which statement returns the exact count, if one was asked for.
    pub count: Option<usize>,
    /// Whether the transaction only reads.
    pub read_only: bool,
}

/// Builds the statements of `plan` for `target`.
///
/// # Errors
/// 400 `EB200` for what this engine cannot do yet (MySQL).
pub fn build(plan: &ActionPlan, target: &SqlTarget<'_>) -> Result<SqlPlan, RestError> {
    if target.dialect == Dialect::Mysql {
        return Err(not_supported("MySQL"));
    }
    let singular = !plan.is_read() && matches!(plan.accept, crate::request::MediaType::SingleObject { .. });
    let b = Builder { table: plan.table(), snapshot: plan.snapshot(), target, singular };
    match &plan.crud {
        CrudPlan::Read(r) => Ok(b.read(r, plan.snapshot())),
        CrudPlan::Insert(i) => b.insert(i),
        CrudPlan::Update(u) => Ok(b.update(u)),
        CrudPlan::Delete(d) => Ok(b.delete(d)),
    }
}

struct Builder<'a> {
    table: &'a TableDef,
    snapshot: &'a crate::schema_cache::SchemaSnapshot,
    target: &'a SqlTarget<'a>,
    /// A write answered with the single-object media type: it must change exactly one
    /// row, or roll back.
    singular: bool,
}

/// The marker of the error a singular write raises when it changes `n` rows (n ≠ 1):
/// `EB_NOT_SINGULAR <n>`; [`not_singular_rows`] reads it back.
const NOT_SINGULAR: &str = "EB_NOT_SINGULAR";

/// `Some(Some(n))`: a singular write changed `n` rows; `Some(None)`: more than one (SQLite
/// does not say how many); `None`: not the marker.
pub(crate) fn not_singular_rows(message: &str) -> Option<Option<usize>> {
    let rest = &message[message.find(NOT_SINGULAR)? + NOT_SINGULAR.len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    Some(digits.parse().ok())
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
        Expr::val(match v {
            Value::Null => sea_query::Value::String(None),
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Number(s) if self.dialect() == Dialect::Postgres => s.clone().into(),
            Value::Number(s) => match s.parse::<i64>() {
                Ok(i) => i.into(),
                Err(_) => s.parse::<f64>().unwrap_or(f64::NAN).into(),
            },
            Value::Text(s) | Value::Json(s) => s.clone().into(),
        })
    }

    fn condition(&self, c: &Condition) -> Expr {
        self.condition_in(c, None)
    }

    /// The condition with its columns qualified by `alias` (an embedded resource's table).
    fn condition_in(&self, c: &Condition, alias: Option<&str>) -> Expr {
        match c {
            Condition::And(children) => children
                .iter()
                .map(|c| self.condition(c))
                .reduce(|a, b| a.and(b))
                .unwrap_or_else(|| Expr::cust("1 = 1")),
            Condition::Or(children) => children
                .iter()
                .map(|c| self.condition(c))
                .reduce(|a, b| a.or(b))
                .unwrap_or_else(|| Expr::cust("1 = 0")),
            Condition::Not(inner) => self.condition_in(inner, alias).not(),
            Condition::Test { column, test } => {
                let col = match alias {
                    Some(a) => Expr::col((Alias::new(a), Alias::new(column.as_str()))),
                    None => Expr::col(Alias::new(column.as_str())),
                };
                match test {
                    Test::Cmp(op, v) => {
                        let v = self.bind(v);
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
                        // SQLite's LIKE ignores ASCII case; GLOB is the case-sensitive match.
                        (_, false) => col.binary(BinOper::Custom("GLOB"), Expr::val(like_to_glob(pattern))),
                        (_, true) => col.binary(BinOper::Like, Expr::val(pattern.clone())),
                    },
                    Test::In(values) => {
                        if values.is_empty() {
                            Expr::cust("1 = 0")
                        } else {
                            col.is_in(values.iter().map(|v| self.bind(v)))
                        }
                    }
                    Test::IsDistinct(v) => match self.dialect() {
                        Dialect::Postgres => col.binary(BinOper::Custom("IS DISTINCT FROM"), self.bind(v)),
                        _ => col.binary(BinOper::IsNot, self.bind(v)),
                    },
                    Test::Is(IsValue::Null | IsValue::Unknown) => col.is_null(),
                    Test::Is(IsValue::NotNull) => col.is_not_null(),
                    Test::Is(IsValue::True) => col.binary(BinOper::Is, Expr::Constant(true.into())),
                    Test::Is(IsValue::False) => col.binary(BinOper::Is, Expr::Constant(false.into())),
                }
            }
        }
    }

    fn filtered(&self, q: &mut SelectStatement, filter: &Condition) {
        q.from(self.table_ref());
        if !matches!(filter, Condition::And(tests) if tests.is_empty()) {
            q.and_where(self.condition(filter));
        }
        if let Some(sel) = self.using(Operation::Select) {
            q.and_where(sel);
        }
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

    /// `FROM child AS _eb_c WHERE <join> AND <child's select policy on SQLite>`.
    fn embed_from(&self, e: &Embed, child: &TableDef, q: &mut SelectStatement) {
        let child_ref = match (self.dialect(), self.target.pg_schema) {
            (Dialect::Postgres, Some(schema)) => {
                (Alias::new(schema.as_str()), Alias::new(child.name.as_str())).into_table_ref()
            }
            _ => Alias::new(child.name.as_str()).into_table_ref(),
        };
        q.from_as(child_ref, Alias::new(EMBED_ALIAS));
        for (p, c) in &e.join {
            q.and_where(Expr::col((Alias::new(EMBED_ALIAS), Alias::new(c.as_str()))).eq(self.parent_col(p)));
        }
        if let Some(via) = &e.via {
            // Many-to-many: the child key in the junction rows of this parent,
            // under the junction's own select policy on SQLite.
            let junction_ref = match (self.dialect(), self.target.pg_schema) {
                (Dialect::Postgres, Some(schema)) => {
                    (Alias::new(schema.as_str()), Alias::new(via.table.as_str())).into_table_ref()
                }
                _ => Alias::new(via.table.as_str()).into_table_ref(),
            };
            // As `(child key) IN (SELECT junction columns …)`: SQLite's EXISTS-to-join
            // rewrite duplicates rows for an EXISTS nested in an EXISTS.
            let jcol = |c: &ColumnName| Expr::col((Alias::new(JUNCTION_ALIAS), Alias::new(c.as_str())));
            let mut j = Query::select();
            j.exprs(via.child.iter().map(|(_, jc)| jcol(jc)))
                .from_as(junction_ref, Alias::new(JUNCTION_ALIAS));
            for (p, jc) in &via.parent {
                j.and_where(jcol(jc).eq(self.parent_col(p)));
            }
            if self.dialect() != Dialect::Postgres
                && let Some(junction) = self.target_table(via.table.as_str())
                && let Some(policy) = junction.policy_condition(
                    Operation::Select,
                    self.target.role,
                    PolicyPart::Using,
                    self.dialect(),
                    easbase_schema::policy::AuthMode::Bound(self.target.auth),
                    Some(JUNCTION_ALIAS),
                )
            {
                j.and_where(policy);
            }
            let child_key: Vec<Expr> = via
                .child
                .iter()
                .map(|(c, _)| Expr::col((Alias::new(EMBED_ALIAS), Alias::new(c.as_str()))))
                .collect();
            let key = match <[Expr; 1]>::try_from(child_key) {
                Ok([one]) => one,
                Err(many) => Expr::tuple(many),
            };
            q.and_where(key.in_subquery(j));
        }
        if !matches!(&e.filter, Condition::And(tests) if tests.is_empty()) {
            q.and_where(self.condition_in(&e.filter, Some(EMBED_ALIAS)));
        }
        if self.dialect() != Dialect::Postgres
            && let Some(policy) = child.policy_condition(
                Operation::Select,
                self.target.role,
                PolicyPart::Using,
                self.dialect(),
                easbase_schema::policy::AuthMode::Bound(self.target.auth),
                Some(EMBED_ALIAS),
            )
        {
            q.and_where(policy);
        }
    }

    /// The subquery giving an embedded resource as JSON text: an array of row arrays
    /// (to-many, ordered by the child's key) or one row array or NULL (to-one). Keys are
    /// added by `respond/` (no caller-given alias ever reaches SQL).
    fn embed_subquery(&self, e: &Embed, child: &TableDef) -> SelectStatement {
        let cols =
            e.outputs.iter().map(|o| Expr::col((Alias::new(EMBED_ALIAS), Alias::new(o.column.as_str()))));
        let row = Expr::FunctionCall(
            sea_query::Func::cust(Alias::new(if self.dialect() == Dialect::Postgres {
                "json_build_array"
            } else {
                "json_array"
            }))
            .args(cols),
        );
        let mut inner = Query::select();
        self.embed_from(e, child, &mut inner);
        if e.to_one {
            inner.expr(row).limit(1);
            return inner;
        }
        inner.expr_as(row, Alias::new("r"));
        if e.order.is_empty() {
            for pk in &child.primary_key {
                inner.order_by((Alias::new(EMBED_ALIAS), Alias::new(pk.as_str())), Order::Asc);
            }
        }
        for o in &e.order {
            inner.order_by_with_nulls(
                (Alias::new(EMBED_ALIAS), Alias::new(o.column.as_str())),
                if o.desc { Order::Desc } else { Order::Asc },
                if o.nulls_first { NullOrdering::First } else { NullOrdering::Last },
            );
        }
        match (e.limit, e.offset) {
            (Some(l), o) => {
                inner.limit(l);
                if o > 0 {
                    inner.offset(o);
                }
            }
            (None, 0) => {}
            (None, o) => {
                inner.limit(i64::MAX as u64).offset(o);
            }
        }
        let mut outer = Query::select();
        outer.expr(Expr::cust(if self.dialect() == Dialect::Postgres {
            r#"coalesce(json_agg("r"), '[]')"#
        } else {
            r#"json_group_array(json("r"))"#
        }));
        outer.from_subquery(inner, Alias::new("_eb_s"));
        outer
    }

    /// `!inner` embeds: `EXISTS (SELECT 1 FROM child WHERE <join>)`.
    fn inner_conditions(&self, r: &ReadPlan, snapshot: &crate::schema_cache::SchemaSnapshot) -> Vec<Expr> {
        r.embeds
            .iter()
            .filter(|e| e.inner)
            .filter_map(|e| {
                let child = snapshot.schema().table(e.table.as_str())?;
                let mut q = Query::select();
                q.expr(Expr::cust("1"));
                self.embed_from(e, child, &mut q);
                Some(if self.dialect() == Dialect::Postgres {
                    Expr::exists(q)
                } else {
                    // SQLite's EXISTS-to-join rewrite returns a parent twice when the
                    // subquery holds a correlated IN (many-to-many); a scalar subquery
                    // is not rewritten.
                    q.limit(1);
                    Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(q)))
                        .is_not_null()
                })
            })
            .collect()
    }

    fn read(&self, r: &ReadPlan, snapshot: &crate::schema_cache::SchemaSnapshot) -> SqlPlan {
        let mut q = Query::select();
        q.columns(r.outputs.iter().map(|o| Alias::new(o.column.as_str())));
        for (i, e) in r.embeds.iter().enumerate() {
            if let Some(child) = snapshot.schema().table(e.table.as_str()) {
                let sub = self.embed_subquery(e, child);
                q.expr_as(
                    Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(sub))),
                    Alias::new(format!("_eb_embed_{i}")),
                );
            }
        }
        if r.outputs.is_empty() && r.embeds.is_empty() {
            // `select=` with nothing: rows of no columns, as `{}` objects.
            q.expr(Expr::cust("1"));
        }
        self.filtered(&mut q, &r.filter);
        let inner = self.inner_conditions(r, snapshot);
        for c in &inner {
            q.and_where(c.clone());
        }
        for o in &r.order {
            q.order_by_with_nulls(
                Alias::new(o.column.as_str()),
                if o.desc { Order::Desc } else { Order::Asc },
                if o.nulls_first { NullOrdering::First } else { NullOrdering::Last },
            );
        }
        match (r.limit, r.offset) {
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
        let mut statements = vec![q.build_for(self.dialect())];
        let mut count = None;
        if r.count {
            let mut c = Query::select();
            c.expr(Expr::cust("count(*)"));
            self.filtered(&mut c, &r.filter);
            for cond in inner {
                c.and_where(cond);
            }
            count = Some(statements.len());
            statements.push(c.build_for(self.dialect()));
        }
        SqlPlan { statements, main: 0, count, read_only: true }
    }

    fn returning(outputs: &Option<Vec<Output>>) -> Option<sea_query::ReturningClause> {
        let outputs = outputs.as_ref()?;
        if outputs.is_empty() {
            return Some(Query::returning().expr(Expr::cust("1")));
        }
        Some(Query::returning().columns(outputs.iter().map(|o| Alias::new(o.column.as_str()))))
    }

    fn insert(&self, i: &InsertPlan) -> Result<SqlPlan, RestError> {
        let policies = self.policies();
        let mut q = Query::insert();
        q.into_table(self.table_ref());
        let mut columns: Vec<Alias> = i.columns.iter().map(|c| Alias::new(c.as_str())).collect();
        let uid = match (&policies, self.dialect(), &self.target.auth.uid) {
            (_, Dialect::Postgres, _) | (_, _, None) => None,
            (_, _, Some(uid)) if !i.uid_defaults.is_empty() => Some(uid.clone()),
            _ => None,
        };
        if uid.is_some() {
            columns.extend(i.uid_defaults.iter().map(|c| Alias::new(c.as_str())));
        }
        if columns.is_empty() {
            q.or_default_values_many(u32::try_from(i.rows.len().max(1)).unwrap_or(u32::MAX));
        } else {
            q.columns(columns);
            for row in &i.rows {
                let mut values: Vec<Expr> = row.iter().map(|v| self.bind(v)).collect();
                if let Some(uid) = &uid {
                    values.extend(i.uid_defaults.iter().map(|_| Expr::val(uid.clone())));
                }
                q.values(values).map_err(|_| RestError::Internal)?;
            }
        }
        if let Some(c) = &i.conflict {
            let mut on = OnConflict::columns(c.columns.iter().map(|c| Alias::new(c.as_str())));
            let updates: Vec<Alias> =
                i.columns.iter().filter(|x| !c.columns.contains(x)).map(|x| Alias::new(x.as_str())).collect();
            if c.merge && !updates.is_empty() {
                on.update_columns(updates);
            } else {
                on.do_nothing();
            }
            q.on_conflict(on);
        }
        if let Some(r) = Self::returning(&i.returning) {
            q.returning(r);
        }
        let mut statements = Vec::new();
        let mut guards = Vec::new();
        if let Some(p) = &policies {
            statements.extend(p.reset_written());
            let mut mark = Query::select();
            mark.expr(Expr::cust("coalesce(max(rowid), 0)")).from(self.table_ref());
            let mut record = Query::insert();
            record.into_table(written()).columns([Alias::new("k")]);
            record.select_from(mark).map_err(|_| RestError::Internal)?;
            statements.push(record.build_for(self.dialect()));
            let mut after = Query::select();
            after.expr(Expr::cust("max(k)")).from(written());
            let after = Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(after)));
            guards.extend(p.guard(Operation::Insert, self.table_ref(), rowid().gt(after)));
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
        let main = statements.len();
        statements.extend(self.write(Write::Insert(q), i.returning.is_some()));
        statements.extend(guards);
        Ok(SqlPlan { statements, main, count: None, read_only: false })
    }

    /// The main write statement; for a singular write, also what makes it roll back
    /// unless exactly one row changed. PostgreSQL: the write becomes a CTE whose rows are
    /// counted by the statement itself, failing with the marker in a cast error. SQLite:
    /// guards on `changes()` right after the write.
    fn write(&self, w: Write, returns_rows: bool) -> Vec<Stmt> {
        if !self.singular {
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
            return vec![
                main,
                guard("changes() = 0", format!("{NOT_SINGULAR} 0")),
                guard("changes() > 1", format!("{NOT_SINGULAR} more")),
            ];
        }
        let w_name = Alias::new("_eb_w");
        let sub: sea_query::SubQueryStatement = match w {
            Write::Insert(mut q) => {
                if !returns_rows {
                    q.returning(Query::returning().expr(Expr::cust("1")));
                }
                q.into()
            }
            Write::Update(mut q) => {
                if !returns_rows {
                    q.returning(Query::returning().expr(Expr::cust("1")));
                }
                q.into()
            }
            Write::Delete(mut q) => {
                if !returns_rows {
                    q.returning(Query::returning().expr(Expr::cust("1")));
                }
                q.into()
            }
        };
        let written =
            sea_query::CommonTableExpression::new().query(sub).table_name(w_name.clone()).to_owned();
        let count = sea_query::CommonTableExpression::new()
            .query(
                Query::select()
                    .expr_as(Expr::cust("count(*)"), Alias::new("c"))
                    .from(w_name.clone())
                    .to_owned(),
            )
            .table_name(Alias::new("_eb_n"))
            .to_owned();
        let mut select = Query::select();
        select
            .expr(Expr::cust(r#""_eb_w".*"#))
            .from(Alias::new("_eb_n"))
            .join(sea_query::JoinType::LeftJoin, w_name, Expr::cust("true"))
            .and_where(Expr::cust(format!(
                r#"CASE WHEN "_eb_n"."c" = 1 THEN true ELSE CAST('{NOT_SINGULAR} ' || "_eb_n"."c" AS integer) = 0 END"#
            )));
        let with = sea_query::WithClause::new().cte(written).cte(count).to_owned();
        let (sql, values) = select.with(with).build(sea_query::PostgresQueryBuilder);
        vec![Stmt::new(sql, values)]
    }

    /// Rows of the table equal to some payload row on all of `columns` (the conflict
    /// target). A row that leaves a target column out conflicts with nothing here.
    fn conflicting(&self, i: &InsertPlan, columns: &[ColumnName]) -> Expr {
        let positions: Option<Vec<usize>> =
            columns.iter().map(|c| i.columns.iter().position(|x| x == c)).collect();
        let Some(positions) = positions else { return Expr::cust("1 = 0") };
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
            .reduce(|a, b| a.or(b))
            .unwrap_or_else(|| Expr::cust("1 = 0"))
    }

    fn update(&self, u: &UpdatePlan) -> SqlPlan {
        let mut q = Query::update();
        q.table(self.table_ref());
        q.values(u.set.iter().map(|(c, v)| (Alias::new(c.as_str()), self.bind(v))));
        if let Some(r) = Self::returning(&u.returning) {
            q.returning(r);
        }
        let mut statements = Vec::new();
        let mut guard = None;
        match self.policies() {
            Some(p) => {
                statements.extend(p.reset_written());
                let mut rows = Query::select();
                rows.expr(rowid()).from(self.table_ref()).and_where(self.condition(&u.filter));
                for op in [Operation::Update, Operation::Select] {
                    if let Some(c) = p.condition(op, PolicyPart::Using) {
                        rows.and_where(c);
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
            None => {
                q.and_where(self.condition(&u.filter));
            }
        }
        let main = statements.len();
        statements.extend(self.write(Write::Update(q), u.returning.is_some()));
        statements.extend(guard);
        SqlPlan { statements, main, count: None, read_only: false }
    }

    fn delete(&self, d: &DeletePlan) -> SqlPlan {
        let mut q = Query::delete();
        q.from_table(self.table_ref()).and_where(self.condition(&d.filter));
        for op in [Operation::Delete, Operation::Select] {
            if let Some(c) = self.using(op) {
                q.and_where(c);
            }
        }
        if let Some(r) = Self::returning(&d.returning) {
            q.returning(r);
        }
        SqlPlan {
            statements: self.write(Write::Delete(q), d.returning.is_some()),
            main: 0,
            count: None,
            read_only: false,
        }
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
