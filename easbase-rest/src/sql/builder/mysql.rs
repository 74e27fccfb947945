//! MySQL / MariaDB: embeds aggregated in `JSON_ARRAYAGG`, and writes without `RETURNING`.
//!
//! A write finds its rows by primary key through a temporary table (`CREATE TEMPORARY
//! TABLE` commits nothing, unlike other DDL): `_eb_k` holds the keys of the rows the
//! write changes (recorded before an update or delete, from the payload's keys or the
//! generated `AUTO_INCREMENT` range after an insert), `_eb_c` the keys an upsert finds
//! in conflict. Policy guards, the singular / `max-affected` checks and the answer (a
//! `SELECT` of the written rows, with embeds; a delete's is read before it deletes) all
//! read those keys, in the same transaction.

use super::*;

/// The temporary table of the written rows' keys.
const KEYS: &str = "_eb_k";
/// The temporary table of the keys of the rows an upsert finds in conflict.
const EXISTING: &str = "_eb_c";

/// How the rows an insert writes are found again.
enum Written {
    /// By these columns, whose values every row of the payload gives (a unique key).
    ByValues(Vec<ColumnName>),
    /// By the `AUTO_INCREMENT` range the insert of `n` rows generated.
    Generated(u64),
    /// By the keys of a single-column primary key set into the session variables
    /// `@eb_k0…` before the insert, one per row: the row's own key, the column's literal
    /// default, or (`None`) a `uuid()` drawn for a left-out key whose default is
    /// `gen_random_uuid()`.
    Drawn(Vec<Option<Value>>),
    /// Not at all: some row leaves out (or nulls) a key column without a default, which
    /// the insert refuses (not-null, 23502, as PostgreSQL does).
    Fails,
}

/// The session variable holding the drawn key of row `n`.
fn drawn(n: usize) -> String {
    format!("@eb_k{n}")
}

impl Builder<'_> {
    /// `JSON_ARRAYAGG(row ORDER BY … LIMIT … OFFSET …)`, `[]` when nothing relates.
    pub(super) fn my_array_agg(
        &self,
        e: &Embed,
        child: &TableDef,
        row: Expr,
        alias: &str,
        depth: usize,
    ) -> Result<Expr, RestError> {
        let mut args = vec![row];
        let mut terms = Vec::new();
        if e.order.is_empty() {
            for pk in &child.primary_key {
                args.push(self.col(Some(alias), pk));
                terms.push(format!("${} ASC", args.len()));
            }
        }
        for o in &e.order {
            let parent = Parent::Embed { table: child, alias };
            args.push(self.order_expr(o, child, &e.embeds, parent, Some(alias), depth + 1)?);
            let n = args.len();
            terms.push(format!(
                "(${n} IS NULL) {}, ${n} {}",
                if o.nulls_first { "DESC" } else { "ASC" },
                if o.desc { "DESC" } else { "ASC" }
            ));
        }
        let mut template = String::from("COALESCE(JSON_ARRAYAGG($1");
        if !terms.is_empty() {
            template.push_str(" ORDER BY ");
            template.push_str(&terms.join(", "));
        }
        match (e.limit, e.offset) {
            (Some(l), o) => template.push_str(&format!(" LIMIT {l} OFFSET {o}")),
            (None, 0) => {}
            (None, o) => template.push_str(&format!(" LIMIT {} OFFSET {o}", i64::MAX)),
        }
        template.push_str("), JSON_ARRAY())");
        Ok(expr::tmpl(Dialect::Mysql, &template, &args))
    }

    /// A to-many embed grouped by some of its columns: MariaDB can neither aggregate
    /// aggregates nor correlate a derived table, so each group is the related row with the
    /// smallest key among those of its group (`NOT EXISTS` a smaller one), its aggregates
    /// correlated subqueries over the rows of the same group (`<=>`: NULL groups too).
    pub(super) fn my_grouped_embed(
        &self,
        e: &Embed,
        child: &TableDef,
        parent: Parent<'_>,
        depth: usize,
    ) -> Result<SelectStatement, RestError> {
        if child.primary_key.is_empty() {
            return Err(expr::not_on(
                Dialect::Mysql,
                "aggregates grouped by columns of an embedded table without a primary key",
            ));
        }
        let alias = format!("{EMBED_ALIAS}{depth}");
        let groups: Vec<&Output> = e.outputs.iter().filter(|o| o.aggregate.is_none()).collect();
        let group_at = |a: &str| {
            groups.iter().map(|o| self.output_expr(child, Some(a), o)).collect::<Result<Vec<_>, _>>()
        };
        // The embeds below, for the related row at alias depth `d`: their JSON, or a
        // spread with aggregates' values for the row.
        let below_at = |d: usize| -> Result<Vec<DerivedEmbed<'_>>, RestError> {
            let a = format!("{EMBED_ALIAS}{d}");
            let mut out = Vec::with_capacity(e.embeds.len());
            for n in &e.embeds {
                let grandchild = self.target_table(n.table.as_str()).ok_or(RestError::Internal)?;
                let here = Parent::Embed { table: child, alias: &a };
                if n.spread && n.grouped {
                    out.push(self.spread_values(n, grandchild, here, d + 1)?);
                    continue;
                }
                let sub = self.embed_subquery(n, grandchild, here, d + 1)?;
                let sub = Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(sub)));
                out.push(DerivedEmbed::Grouped(expr::tmpl(Dialect::Mysql, "JSON_EXTRACT($1, '$')", &[sub])));
            }
            Ok(out)
        };
        // What of the embeds below groups: their JSON, a spread's values not aggregated.
        let grouping = |below: &[DerivedEmbed<'_>]| -> Vec<Expr> {
            let mut out = Vec::new();
            for b in below {
                match b {
                    DerivedEmbed::Grouped(json) => out.push(json.clone()),
                    DerivedEmbed::Spread { outputs, .. } => out.extend(
                        outputs.iter().filter(|(o, _)| o.aggregate.is_none()).filter_map(|(_, v)| v.clone()),
                    ),
                }
            }
            out
        };
        let here_below = below_at(depth)?;
        let mut here = group_at(&alias)?;
        here.extend(grouping(&here_below));
        if here.is_empty() {
            // Aggregates only (a spread's too): one group of all the related rows, one
            // row even when none relate.
            let mut cols = e
                .outputs
                .iter()
                .map(|o| self.output_expr(child, Some(&alias), o))
                .collect::<Result<Vec<_>, _>>()?;
            for b in here_below {
                let DerivedEmbed::Spread { child: grandchild, outputs } = b else {
                    return Err(RestError::Internal);
                };
                let mut values = Vec::with_capacity(outputs.len());
                for (o, value) in outputs {
                    let agg = o.aggregate.ok_or(RestError::Internal)?;
                    values.push(self.aggregate_expr(grandchild, None, &o, agg, value)?);
                }
                cols.push(Expr::FunctionCall(sea_query::Func::cust(Alias::new("JSON_ARRAY")).args(values)));
            }
            let row = Expr::FunctionCall(sea_query::Func::cust(Alias::new("JSON_ARRAY")).args(cols));
            let mut q = Query::select();
            self.embed_from(e, child, parent, depth, &mut q)?;
            q.expr(expr::tmpl(Dialect::Mysql, "JSON_ARRAY($1)", &[row]));
            window(&mut q, e.limit, e.offset);
            return Ok(q);
        }
        // The related rows at alias depth `d` in the same group as this row (the same
        // grouping values and the same embeds below).
        let same_group = |d: usize, q: &mut SelectStatement| -> Result<(), RestError> {
            self.embed_from(e, child, parent, d, q)?;
            let mut there = group_at(&format!("{EMBED_ALIAS}{d}"))?;
            there.extend(grouping(&below_at(d)?));
            for (x, y) in there.into_iter().zip(&here) {
                q.and_where(expr::tmpl(Dialect::Mysql, "($1 <=> $2)", &[x, y.clone()]));
            }
            Ok(())
        };
        let key_at = |a: &str| {
            let cols: Vec<Expr> = child.primary_key.iter().map(|c| self.col(Some(a), c)).collect();
            match <[Expr; 1]>::try_from(cols) {
                Ok([one]) => one,
                Err(many) => Expr::tuple(many),
            }
        };
        let (first_at, agg_at) = (depth + 100, depth + 200);
        let mut cols = Vec::with_capacity(e.outputs.len());
        for o in &e.outputs {
            if o.aggregate.is_none() {
                cols.push(self.output_expr(child, Some(&alias), o)?);
                continue;
            }
            let mut q = Query::select();
            q.expr(self.output_expr(child, Some(&format!("{EMBED_ALIAS}{agg_at}")), o)?);
            same_group(agg_at, &mut q)?;
            cols.push(Expr::SubQuery(None, Box::new(sea_query::SubQueryStatement::SelectStatement(q))));
        }
        for (j, b) in here_below.into_iter().enumerate() {
            match b {
                DerivedEmbed::Grouped(json) => cols.push(json),
                DerivedEmbed::Spread { child: grandchild, outputs } => {
                    // A spread with aggregates: aggregated over this group's rows.
                    let mut values = Vec::with_capacity(outputs.len());
                    for (k, (o, value)) in outputs.into_iter().enumerate() {
                        let Some(agg) = o.aggregate else {
                            values.push(value.ok_or(RestError::Internal)?);
                            continue;
                        };
                        let at_agg = match below_at(agg_at)?.into_iter().nth(j) {
                            Some(DerivedEmbed::Spread { outputs, .. }) => {
                                outputs.into_iter().nth(k).and_then(|(_, v)| v)
                            }
                            _ => None,
                        };
                        let mut q = Query::select();
                        q.expr(self.aggregate_expr(grandchild, None, &o, agg, at_agg)?);
                        same_group(agg_at, &mut q)?;
                        values.push(Expr::SubQuery(
                            None,
                            Box::new(sea_query::SubQueryStatement::SelectStatement(q)),
                        ));
                    }
                    cols.push(Expr::FunctionCall(
                        sea_query::Func::cust(Alias::new("JSON_ARRAY")).args(values),
                    ));
                }
            }
        }
        let row = Expr::FunctionCall(sea_query::Func::cust(Alias::new("JSON_ARRAY")).args(cols));
        let mut smaller = Query::select();
        smaller.expr(Expr::cust("1"));
        same_group(first_at, &mut smaller)?;
        smaller.and_where(key_at(&format!("{EMBED_ALIAS}{first_at}")).lt(key_at(&alias)));
        let mut q = Query::select();
        self.embed_from(e, child, parent, depth, &mut q)?;
        q.and_where(Expr::exists(smaller).not());
        q.expr(self.my_array_agg(e, child, row, &alias, depth)?);
        Ok(q)
    }

    /// `DROP` and `CREATE TEMPORARY TABLE name` with one column `k<i>` per primary key
    /// column, of its type.
    fn my_temp(&self, name: &str) -> Vec<Stmt> {
        // Identifiers are validated names (ASCII letters, digits, `_`).
        let columns: Vec<String> = self
            .table
            .primary_key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("`{}` AS `k{i}`", c.as_str()))
            .collect();
        vec![
            Stmt::raw(format!("DROP TEMPORARY TABLE IF EXISTS `{name}`")),
            Stmt::raw(format!(
                "CREATE TEMPORARY TABLE `{name}` AS SELECT {} FROM `{}` LIMIT 0",
                columns.join(", "),
                self.table.name.as_str()
            )),
        ]
    }

    /// The primary key as an expression (a tuple when composite).
    fn my_pk(&self) -> Expr {
        let cols: Vec<Expr> = self.table.primary_key.iter().map(|c| self.col(None, c)).collect();
        match <[Expr; 1]>::try_from(cols) {
            Ok([one]) => one,
            Err(many) => Expr::tuple(many),
        }
    }

    /// `SELECT k0, k1, … FROM name`, a key column replaced by the value an update sets it to.
    fn my_keys(&self, name: &str, set: &[(ColumnName, Value)]) -> SelectStatement {
        let mut q = Query::select();
        for (i, pk) in self.table.primary_key.iter().enumerate() {
            match set.iter().find(|(c, _)| c == pk) {
                Some((_, v)) => q.expr(self.bind(v)),
                None => q.expr(Expr::col(Alias::new(format!("k{i}")))),
            };
        }
        q.from(Alias::new(name));
        q
    }

    /// `INSERT INTO name (k0, …) <rows>`.
    fn my_record(&self, name: &str, rows: SelectStatement) -> Result<Stmt, RestError> {
        let mut q = Query::insert();
        q.into_table(Alias::new(name))
            .columns((0..self.table.primary_key.len()).map(|i| Alias::new(format!("k{i}"))));
        q.select_from(rows).map_err(|_| RestError::Internal)?;
        Ok(q.build_for(Dialect::Mysql))
    }

    /// The keys of the rows `filter`, the policies' `using` of `ops` and the window select.
    fn my_target_rows(
        &self,
        filter: &Condition,
        win: Option<&crate::plan::Window>,
        ops: &[Operation],
    ) -> Result<SelectStatement, RestError> {
        let mut q = Query::select();
        q.exprs(self.table.primary_key.iter().map(|c| self.col(None, c))).from(self.table_ref());
        self.target_rows(&mut q, filter, win, ops)?;
        Ok(q)
    }

    /// The answer: the written rows (outputs and embeds) by key, in key order; without a
    /// representation, one row per written row (their count).
    fn my_answer(
        &self,
        outputs: &Option<Vec<Output>>,
        embeds: &[Embed],
        set: &[(ColumnName, Value)],
        order: Option<Expr>,
    ) -> Result<Stmt, RestError> {
        let Some(outputs) = outputs else {
            let mut q = Query::select();
            q.expr(Expr::cust("1")).from(Alias::new(KEYS));
            return Ok(q.build_for(Dialect::Mysql));
        };
        let mut q = self.answer_query(outputs, embeds, self.my_pk().in_subquery(self.my_keys(KEYS, set)))?;
        if let Some(order) = order {
            q.order_by_expr(order, Order::Asc);
        }
        for pk in &self.table.primary_key {
            q.order_by(Alias::new(pk.as_str()), Order::Asc);
        }
        Ok(q.build_for(Dialect::Mysql))
    }

    /// The singular and `max-affected` checks on the number of written rows.
    /// A singular write whose answer drops rows (`!inner` embeds of `embeds`) counts the
    /// rows it answers (the written rows' keys after `set`), as PostgREST does.
    fn my_count_guards(&self, embeds: &[Embed], set: &[(ColumnName, Value)]) -> Result<Vec<Stmt>, RestError> {
        let guard = |cond: &str, message: String| {
            let mut q = Query::select();
            q.expr(Expr::cust(format!("count(*) {cond}"))).from(Alias::new(KEYS));
            q.build_for(Dialect::Mysql).with_guard(easbase_core::db::Guard::NoRows(message))
        };
        let mut out = Vec::new();
        if let Some(max) = self.max_affected {
            out.push(guard(&format!("> {max}"), format!("{MAX_AFFECTED} more")));
        }
        if self.singular {
            match self.answer_filter(embeds)? {
                Some(keep) => {
                    let rows = self.my_pk().in_subquery(self.my_keys(KEYS, set)).and(keep);
                    out.extend(self.kept_guards(rows));
                }
                None => {
                    out.push(guard("= 0", format!("{NOT_SINGULAR} 0")));
                    out.push(guard("> 1", format!("{NOT_SINGULAR} more")));
                }
            }
        }
        Ok(out)
    }

    pub(super) fn my_update(&self, u: &UpdatePlan) -> Result<SqlPlan, RestError> {
        let mut statements = self.my_temp(KEYS);
        let rows =
            self.my_target_rows(&u.filter, u.window.as_ref(), &[Operation::Update, Operation::Select])?;
        statements.push(self.my_record(KEYS, rows)?);
        let mut q = Query::update();
        q.table(self.table_ref())
            .values(u.set.iter().map(|(c, v)| (Alias::new(c.as_str()), self.set_value(c, v))))
            .and_where(self.my_pk().in_subquery(self.my_keys(KEYS, &[])));
        statements.push(q.build_for(Dialect::Mysql));
        if let Some(p) = self.policies() {
            let written = self.my_pk().in_subquery(self.my_keys(KEYS, &u.set));
            statements.extend(p.guard(Operation::Update, self.table_ref(), written));
        }
        statements.extend(self.my_count_guards(&u.embeds, &u.set)?);
        let main = statements.len();
        statements.push(self.my_answer(&u.returning, &u.embeds, &u.set, None)?);
        Ok(SqlPlan { statements, main, ..SqlPlan::write() })
    }

    pub(super) fn my_delete(&self, d: &DeletePlan) -> Result<SqlPlan, RestError> {
        let mut statements = self.my_temp(KEYS);
        let rows =
            self.my_target_rows(&d.filter, d.window.as_ref(), &[Operation::Delete, Operation::Select])?;
        statements.push(self.my_record(KEYS, rows)?);
        // The answer is read before the rows go (as `RETURNING` sees them).
        let main = statements.len();
        statements.push(self.my_answer(&d.returning, &d.embeds, &[], None)?);
        // Counted before the rows go.
        statements.extend(self.my_count_guards(&d.embeds, &[])?);
        let mut q = Query::delete();
        q.from_table(self.table_ref()).and_where(self.my_pk().in_subquery(self.my_keys(KEYS, &[])));
        statements.push(q.build_for(Dialect::Mysql));
        Ok(SqlPlan { statements, main, ..SqlPlan::write() })
    }

    /// How an insert's rows are found again, or 400 `EB203` when they cannot be.
    fn my_written(&self, i: &InsertPlan) -> Result<Written, RestError> {
        let given = |cols: &[ColumnName]| {
            let positions: Option<Vec<usize>> =
                cols.iter().map(|c| i.columns.iter().position(|x| x == c)).collect();
            positions.is_some_and(|p| {
                i.rows.iter().all(|row| p.iter().all(|&at| !matches!(row[at], Value::Null | Value::Default)))
            })
        };
        if !i.rows.is_empty() && given(&self.table.primary_key) {
            return Ok(Written::ByValues(self.table.primary_key.clone()));
        }
        if let Some(c) = i.conflict.as_ref().filter(|c| !i.rows.is_empty() && given(&c.columns)) {
            return Ok(Written::ByValues(c.columns.clone()));
        }
        let generated = match self.table.primary_key.as_slice() {
            [pk] => self.table.column(pk.as_str()).is_some_and(|c| c.ty == ColumnType::Identity),
            _ => false,
        };
        let omitted = |pk: &ColumnName| match i.columns.iter().position(|x| x == pk) {
            None => true,
            Some(at) => i.rows.iter().all(|row| matches!(row[at], Value::Null | Value::Default)),
        };
        if generated && i.conflict.is_none() && self.table.primary_key.iter().all(omitted) {
            return Ok(Written::Generated(i.rows.len().max(1) as u64));
        }
        // A row's value of key column `pk`: `Value::Default` when left out.
        let key_of = |row: &[Value], pk: &ColumnName| match i.columns.iter().position(|x| x == pk) {
            Some(at) => row[at].clone(),
            None => Value::Default,
        };
        let fails = self.table.primary_key.iter().any(|pk| {
            let def = self.table.column(pk.as_str());
            let no_default = def.is_some_and(|c| c.default.is_none() && c.ty != ColumnType::Identity);
            i.rows.iter().any(|row| match key_of(row, pk) {
                Value::Null => true,
                Value::Default => no_default,
                _ => false,
            })
        });
        if fails {
            return Ok(Written::Fails);
        }
        if let ([pk], false) = (self.table.primary_key.as_slice(), i.rows.is_empty())
            && let Some(def) = self.table.column(pk.as_str())
        {
            let mut keys = Vec::with_capacity(i.rows.len());
            for row in &i.rows {
                keys.push(match (key_of(row, pk), &def.default) {
                    (Value::Default, Some(easbase_schema::DefaultValue::GenRandomUuid)) => None,
                    (Value::Default, Some(easbase_schema::DefaultValue::Literal(v))) => {
                        Some(Value::from_json(v, def)?)
                    }
                    // The request's user; without one the key is null, which the insert
                    // refuses (not-null, as PostgreSQL's `auth.uid()` default gives).
                    (Value::Default, Some(easbase_schema::DefaultValue::AuthUid)) => {
                        match &self.target.auth.uid {
                            Some(uid) => Some(Value::Text(uid.clone())),
                            None => return Ok(Written::Fails),
                        }
                    }
                    (Value::Default, _) => {
                        return Err(expr::not_on(
                            Dialect::Mysql,
                            "an insert whose rows leave out a primary key that only the database knows \
                             (an AUTO_INCREMENT key given in some rows only, or a time default)",
                        ));
                    }
                    (given, _) => Some(given),
                });
            }
            return Ok(Written::Drawn(keys));
        }
        Err(expr::not_on(
            Dialect::Mysql,
            "an insert whose rows leave out part of a composite primary key that has a default",
        ))
    }

    pub(super) fn my_insert(&self, i: &InsertPlan) -> Result<SqlPlan, RestError> {
        let written = self.my_written(i)?;
        let policies = self.policies();
        let mut statements = self.my_temp(KEYS);
        if let Some(c) = &i.conflict {
            // The existing rows the upsert meets: checked against the update's and the
            // select's `using` before it (merge), left out of its answer (ignore).
            statements.extend(self.my_temp(EXISTING));
            let mut existing = Query::select();
            existing
                .exprs(self.table.primary_key.iter().map(|c| self.col(None, c)))
                .from(self.table_ref())
                .and_where(self.conflicting(i, &c.columns));
            statements.push(self.my_record(EXISTING, existing)?);
            if let (Some(p), true) = (&policies, c.merge) {
                statements.extend(p.upsert_using_guard(
                    self.table_ref(),
                    self.my_pk().in_subquery(self.my_keys(EXISTING, &[])),
                ));
            }
        }
        let mut q = Query::insert();
        q.into_table(self.table_ref());
        let mut columns: Vec<Alias> = i.columns.iter().map(|c| Alias::new(c.as_str())).collect();
        let uid = self.target.auth.uid.clone().filter(|_| !i.uid_defaults.is_empty());
        if uid.is_some() {
            columns.extend(i.uid_defaults.iter().map(|c| Alias::new(c.as_str())));
        }
        // The key's position among the payload's columns (else it is appended).
        let mut key_at = None;
        if let Written::Drawn(keys) = &written {
            // Each row's key set first (given, the literal default, or a drawn uuid, what
            // the column's default would give), so the rows can be found again.
            let pk = self.table.primary_key.first().ok_or(RestError::Internal)?;
            let mut draw = Query::select();
            for (n, key) in keys.iter().enumerate() {
                draw.expr(match key {
                    None => Expr::cust(format!("({} := uuid())", drawn(n))),
                    Some(v) => {
                        expr::tmpl(Dialect::Mysql, &format!("({} := $1)", drawn(n)), &[self.set_value(pk, v)])
                    }
                });
            }
            statements.push(draw.build_for(Dialect::Mysql));
            key_at = i.columns.iter().position(|c| c == pk);
            // A left-out `auth.uid` key is already given the user's id (`uid_defaults`).
            if key_at.is_none() && !(uid.is_some() && i.uid_defaults.contains(pk)) {
                columns.push(Alias::new(pk.as_str()));
            }
        }
        if columns.is_empty() {
            q.or_default_values_many(u32::try_from(i.rows.len().max(1)).unwrap_or(u32::MAX));
        } else {
            q.columns(columns);
            for (n, row) in i.rows.iter().enumerate() {
                // A left-out `auth.uid` column takes the request's user (MySQL has no
                // such default).
                let mut values: Vec<Expr> = row
                    .iter()
                    .zip(&i.columns)
                    .map(|(v, c)| match (v, &self.target.auth.uid) {
                        (Value::Default, uid)
                            if self.table.column(c.as_str()).is_some_and(|d| {
                                d.default == Some(easbase_schema::DefaultValue::AuthUid)
                            }) =>
                        {
                            uid.clone().map_or(Expr::val(sea_query::Value::String(None)), Expr::val)
                        }
                        _ => self.set_value(c, v),
                    })
                    .collect();
                if let Some(uid) = &uid {
                    values.extend(i.uid_defaults.iter().map(|_| Expr::val(uid.clone())));
                }
                let uid_key =
                    uid.is_some() && self.table.primary_key.iter().any(|pk| i.uid_defaults.contains(pk));
                match (&written, key_at) {
                    (Written::Drawn(_), Some(at)) if at < values.len() => values[at] = Expr::cust(drawn(n)),
                    (Written::Drawn(_), None) if !uid_key => values.push(Expr::cust(drawn(n))),
                    _ => {}
                }
                q.values(values).map_err(|_| RestError::Internal)?;
            }
        }
        if let Some(c) = &i.conflict {
            // MySQL meets a conflict on any unique key (it takes no target).
            let mut on = OnConflict::new();
            let updates: Vec<Alias> =
                i.columns.iter().filter(|x| !c.columns.contains(x)).map(|x| Alias::new(x.as_str())).collect();
            if c.merge && !updates.is_empty() {
                on.update_columns(updates);
            } else {
                on.do_nothing_on(self.table.primary_key.iter().take(1).map(|c| Alias::new(c.as_str())));
            }
            q.on_conflict(on);
        }
        statements.push(q.build_for(Dialect::Mysql));
        let mut rows = Query::select();
        rows.exprs(self.table.primary_key.iter().map(|c| self.col(None, c))).from(self.table_ref());
        // The answer in the payload's order, as `RETURNING` gives it.
        let order = match &written {
            Written::ByValues(cols) if i.rows.len() > 1 => {
                let each = self.payload_rows(i, cols);
                let arms: Vec<String> =
                    (0..each.len()).map(|n| format!("WHEN ${} THEN {n}", n + 1)).collect();
                Some(expr::tmpl(Dialect::Mysql, &format!("(CASE {} END)", arms.join(" ")), &each))
            }
            Written::Drawn(keys) if keys.len() > 1 => {
                let arms: Vec<String> =
                    (0..keys.len()).map(|k| format!("WHEN {} THEN {k}", drawn(k))).collect();
                let pk = self.my_pk();
                Some(expr::tmpl(Dialect::Mysql, &format!("(CASE $1 {} END)", arms.join(" ")), &[pk]))
            }
            _ => None,
        };
        match written {
            Written::ByValues(cols) => {
                rows.and_where(self.conflicting(i, &cols));
            }
            Written::Drawn(keys) => {
                let keys: Vec<String> = (0..keys.len()).map(drawn).collect();
                let pk = self.my_pk();
                rows.and_where(expr::tmpl(Dialect::Mysql, &format!("$1 IN ({})", keys.join(", ")), &[pk]));
            }
            Written::Fails => {
                rows.and_where(Expr::cust("1 = 0"));
            }
            Written::Generated(n) => {
                let pk = self.my_pk();
                rows.and_where(expr::tmpl(
                    Dialect::Mysql,
                    &format!("$1 BETWEEN LAST_INSERT_ID() AND LAST_INSERT_ID() + {}", n - 1),
                    &[pk],
                ));
            }
        }
        if i.conflict.as_ref().is_some_and(|c| !c.merge) {
            // Ignored rows are not the insert's.
            rows.and_where(self.my_pk().not_in_subquery(self.my_keys(EXISTING, &[])));
        }
        statements.push(self.my_record(KEYS, rows)?);
        if let Some(p) = &policies {
            let mut inserted = self.my_pk().in_subquery(self.my_keys(KEYS, &[]));
            if i.conflict.is_some() {
                inserted = inserted.and(self.my_pk().not_in_subquery(self.my_keys(EXISTING, &[])));
            }
            statements.extend(p.guard(Operation::Insert, self.table_ref(), inserted));
            if i.conflict.as_ref().is_some_and(|c| c.merge) {
                let updated = self.my_pk().in_subquery(self.my_keys(EXISTING, &[]));
                statements.extend(p.guard(Operation::Update, self.table_ref(), updated));
            }
        }
        statements.extend(self.my_count_guards(&i.embeds, &[])?);
        let main = statements.len();
        statements.push(self.my_answer(&i.returning, &i.embeds, &[], order)?);
        Ok(SqlPlan { statements, main, ..SqlPlan::write() })
    }
}
