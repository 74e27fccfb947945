//! The planner: two [`ValidSchema`]s → a [`Plan`].

use sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, QueryBuilder, SqliteQueryBuilder, Table, TableAlterStatement,
};

use super::{Plan, Step, StepKind as K};
use crate::Dialect;
use crate::ddl::{self, DdlOptions, Gen, StatementKind, quote_ident, sql_literal};
use crate::error::ValidationErrors;
use crate::model::{ColumnType, DefaultValue, FkAction};
use crate::policy::{self, AuthMode};
use crate::valid::{ColumnDef, EnumDef, TableDef, ValidSchema};

/// Plans the migration of a database holding `old` to `new` on `dialect`.
///
/// Tables and columns are matched by name, or through `renamed_from` in `new`; what is
/// only in `old` is dropped, what is only in `new` is created. Same inputs give a
/// byte-identical plan.
///
/// # Errors
/// What `dialect` cannot represent in `new` ([`crate::validate::check_dialect`]).
pub fn plan(
    old: &ValidSchema,
    new: &ValidSchema,
    dialect: Dialect,
    options: &DdlOptions,
) -> Result<Plan, ValidationErrors> {
    crate::validate::check_dialect(new, dialect)?;
    let planner = Planner::new(old, new, dialect, options);
    Ok(Plan { dialect, steps: planner.steps() })
}

/// A table of both versions.
struct Pair<'a> {
    old: &'a TableDef,
    new: &'a TableDef,
    /// Matched columns (old, new), in the new table's order.
    cols: Vec<(&'a ColumnDef, &'a ColumnDef)>,
    added: Vec<&'a ColumnDef>,
    dropped: Vec<&'a ColumnDef>,
    /// SQLite: rebuild instead of altering in place.
    rebuild: bool,
    /// PostgreSQL: drop and recreate the policies.
    replace_policies: bool,
}

impl Pair<'_> {
    fn renamed(&self) -> bool {
        self.old.name != self.new.name
    }

    /// The new name of an old column (itself when kept, `None` when dropped).
    fn new_col(&self, old: &str) -> Option<&str> {
        self.cols.iter().find(|(o, _)| o.name.as_str() == old).map(|(_, n)| n.name.as_str())
    }
}

/// A constraint or index, comparable across versions (names in the new version's terms).
#[derive(Debug, Clone, PartialEq)]
enum Rep {
    Unique { cols: Vec<String> },
    Fk { cols: Vec<String>, table: String, referenced: Vec<String>, on_delete: FkAction, on_update: FkAction },
    Check { sql: String },
    Index { cols: Vec<String>, unique: bool, predicate: Option<String> },
}

/// A constraint or index with its name.
type Named = (String, Rep);

/// What a column looks like on one dialect.
#[derive(Debug, Clone, PartialEq)]
struct ColSig {
    ty: String,
    identity: bool,
    not_null: bool,
    default: Option<String>,
    auto_update: bool,
    enum_values: Option<Vec<String>>,
    comment: Option<String>,
}

struct Planner<'a> {
    old: &'a ValidSchema,
    new: &'a ValidSchema,
    dialect: Dialect,
    og: Gen<'a>,
    ng: Gen<'a>,
    options: &'a DdlOptions,
    pairs: Vec<Pair<'a>>,
    created: Vec<&'a TableDef>,
    dropped: Vec<&'a TableDef>,
    /// PostgreSQL enums recreated (values removed or reordered).
    recreated_enums: Vec<&'a EnumDef>,
}

fn render(dialect: Dialect, expr: &sea_query::Expr) -> String {
    let mut out = String::new();
    match dialect {
        Dialect::Postgres => PostgresQueryBuilder.prepare_expr(expr, &mut out),
        Dialect::Sqlite => SqliteQueryBuilder.prepare_expr(expr, &mut out),
        Dialect::Mysql => MysqlQueryBuilder.prepare_expr(expr, &mut out),
    }
    out
}

fn build_alter(stmt: &TableAlterStatement, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => stmt.to_string(PostgresQueryBuilder),
        Dialect::Sqlite => stmt.to_string(SqliteQueryBuilder),
        Dialect::Mysql => stmt.to_string(MysqlQueryBuilder),
    }
}

fn fk_action_sql(a: FkAction) -> &'static str {
    match a {
        FkAction::NoAction => "NO ACTION",
        FkAction::Restrict => "RESTRICT",
        FkAction::Cascade => "CASCADE",
        FkAction::SetNull => "SET NULL",
        FkAction::SetDefault => "SET DEFAULT",
    }
}

fn step(kind: K, table: Option<&str>, description: String, destructive: bool, sql: Vec<String>) -> Step {
    Step { kind, table: table.map(str::to_owned), description, destructive, sql }
}

/// Whether changing a column from `old` to `new` keeps every value.
fn widening(old: &ColumnType, new: &ColumnType, os: &ValidSchema, ns: &ValidSchema) -> bool {
    use ColumnType as T;
    let enum_values = |s: &ValidSchema, n: &str| s.enum_def(n).map(|e| e.values.clone()).unwrap_or_default();
    match (old, new) {
        (a, b) if a == b => match a {
            T::Named(n) => {
                let nv = enum_values(ns, n);
                enum_values(os, n).iter().all(|v| nv.contains(v))
            }
            _ => true,
        },
        (T::Varchar(n), T::Varchar(m)) => m >= n,
        (T::Varchar(_) | T::Uuid | T::Named(_), T::Text) => true,
        (T::Uuid, T::Varchar(m)) => *m >= 36,
        (T::Named(e), T::Varchar(m)) => enum_values(os, e).iter().all(|v| v.chars().count() <= *m as usize),
        (T::SmallInt, T::Integer | T::BigInt) | (T::Integer, T::BigInt) => true,
        (T::Identity, T::BigInt) | (T::BigInt, T::Identity) => true,
        (T::SmallInt | T::Integer | T::BigInt | T::Identity, T::Decimal(None)) => true,
        (T::Decimal(Some(_)), T::Decimal(None)) => true,
        (T::Decimal(Some((p, s))), T::Decimal(Some((p2, s2)))) => s2 >= s && p2 - s2.min(p2) >= p - s.min(p),
        (T::Real, T::Double) => true,
        (T::Json, T::Jsonb) | (T::Jsonb, T::Json) => true,
        (T::Array(a), T::Array(b)) => widening(a, b, os, ns),
        _ => false,
    }
}

impl<'a> Planner<'a> {
    fn new(old: &'a ValidSchema, new: &'a ValidSchema, dialect: Dialect, options: &'a DdlOptions) -> Self {
        let og = Gen { schema: old, dialect, options };
        let ng = Gen { schema: new, dialect, options };
        let mut matched_old: Vec<&str> = Vec::new();
        let mut pairs = Vec::new();
        let mut created = Vec::new();
        for t in new.tables() {
            let by_name = old.table(t.name.as_str());
            let by_rename = t
                .renamed_from
                .as_ref()
                .filter(|r| new.table(r.as_str()).is_none())
                .and_then(|r| old.table(r.as_str()));
            match by_name.or(by_rename) {
                Some(o) if !matched_old.contains(&o.name.as_str()) => {
                    matched_old.push(o.name.as_str());
                    pairs.push(Pair::match_columns(o, t));
                }
                _ => created.push(t),
            }
        }
        let dropped = old.tables().iter().filter(|t| !matched_old.contains(&t.name.as_str())).collect();
        let mut planner = Planner {
            old,
            new,
            dialect,
            og,
            ng,
            options,
            pairs: Vec::new(),
            created,
            dropped,
            recreated_enums: Vec::new(),
        };
        if dialect == Dialect::Postgres {
            for e in new.enums() {
                if let Some(o) = old.enum_def(e.name.as_str())
                    && !is_subsequence(&o.values, &e.values)
                {
                    planner.recreated_enums.push(e);
                }
            }
        }
        // The flags compare the versions through the rename maps, which need every pair.
        planner.pairs = pairs;
        for i in 0..planner.pairs.len() {
            let rebuild = dialect == Dialect::Sqlite && planner.needs_rebuild(&planner.pairs[i]);
            let replace = dialect == Dialect::Postgres
                && options.security
                && planner.policies_change(&planner.pairs[i]);
            planner.pairs[i].rebuild = rebuild;
            planner.pairs[i].replace_policies = replace;
        }
        planner
    }

    // ----- names and comparable forms -------------------------------------------------

    fn pair_of_old(&self, old_table: &str) -> Option<&Pair<'a>> {
        self.pairs.iter().find(|p| p.old.name.as_str() == old_table)
    }

    /// The new name of an old table (itself when not matched).
    fn new_table_name(&self, old_table: &str) -> String {
        self.pair_of_old(old_table).map_or_else(|| old_table.to_owned(), |p| p.new.name.to_string())
    }

    /// The new name of a column of an old table (itself when not matched).
    fn new_col_name(&self, old_table: &str, col: &str) -> String {
        self.pair_of_old(old_table).and_then(|p| p.new_col(col)).unwrap_or(col).to_owned()
    }

    fn reps(&self, t: &TableDef, g: &Gen<'_>, is_old: bool) -> Vec<Named> {
        let name = t.name.as_str();
        let col = |c: &str| if is_old { self.new_col_name(name, c) } else { c.to_owned() };
        let cols = |cs: &[crate::ColumnName]| cs.iter().map(|c| col(c.as_str())).collect::<Vec<_>>();
        let mut out = Vec::new();
        for u in &t.uniques {
            out.push((u.name.to_string(), Rep::Unique { cols: cols(&u.columns) }));
        }
        for c in &t.checks {
            out.push((c.name.to_string(), Rep::Check { sql: self.check_sql(t, &c.expr, g) }));
        }
        for fk in &t.foreign_keys {
            let target = fk.table.as_str();
            let (table, referenced) = if is_old {
                (
                    self.new_table_name(target),
                    fk.referenced.iter().map(|c| self.new_col_name(target, c.as_str())).collect(),
                )
            } else {
                (target.to_owned(), fk.referenced.iter().map(|c| c.to_string()).collect())
            };
            out.push((
                fk.name.to_string(),
                Rep::Fk {
                    cols: cols(&fk.columns),
                    table,
                    referenced,
                    on_delete: fk.on_delete,
                    on_update: fk.on_update,
                },
            ));
        }
        for i in &t.indexes {
            // MySQL skips some policy indexes: compare what would exist.
            if g.index(t, i).is_none() {
                continue;
            }
            let predicate = i.predicate.as_ref().map(|p| self.check_sql(t, p, g));
            out.push((
                i.name.to_string(),
                Rep::Index { cols: cols(&i.columns), unique: i.unique, predicate },
            ));
        }
        out
    }

    fn check_sql(&self, t: &TableDef, expr: &policy::Expr, g: &Gen<'_>) -> String {
        policy::to_sql(expr, t, g.dialect, AuthMode::Postgres)
    }

    fn sig(&self, t: &TableDef, c: &ColumnDef, g: &Gen<'_>) -> ColSig {
        let d = self.dialect;
        let enum_values = match (&c.ty, d) {
            (ColumnType::Named(n), Dialect::Sqlite) => g.schema.enum_def(n).map(|e| e.values.clone()),
            _ => None,
        };
        let _ = t;
        ColSig {
            ty: g.sql_type(&c.ty),
            identity: c.ty == ColumnType::Identity,
            not_null: !c.nullable,
            default: g.default_expr(c).map(|e| render(d, &e)),
            auto_update: c.auto_update && d == Dialect::Mysql,
            enum_values,
            comment: if d == Dialect::Mysql { c.comment.clone() } else { None },
        }
    }

    fn pk(&self, t: &TableDef, is_old: bool) -> Vec<String> {
        t.primary_key
            .iter()
            .map(|c| if is_old { self.new_col_name(t.name.as_str(), c.as_str()) } else { c.to_string() })
            .collect()
    }

    /// The constraint and index changes of a pair: (dropped, added), by name.
    fn constraint_diff(&self, p: &Pair<'a>) -> (Vec<Named>, Vec<Named>) {
        let old = self.reps(p.old, &self.og, true);
        let new = self.reps(p.new, &self.ng, false);
        let dropped = old.iter().filter(|o| !new.contains(o)).cloned().collect();
        let added = new.iter().filter(|n| !old.contains(n)).cloned().collect();
        (dropped, added)
    }

    fn needs_rebuild(&self, p: &Pair<'a>) -> bool {
        if p.old.timestamps != p.new.timestamps || self.pk(p.old, true) != self.pk(p.new, false) {
            return true;
        }
        let (dropped, added) = self.constraint_diff(p);
        let non_index = |r: &Named| !matches!(r.1, Rep::Index { .. });
        if dropped.iter().any(non_index) || added.iter().any(non_index) {
            return true;
        }
        if p.cols.iter().any(|(o, n)| self.sig(p.old, o, &self.og) != self.sig(p.new, n, &self.ng)) {
            return true;
        }
        let in_new_keys = |c: &str| {
            p.new.primary_key.iter().any(|k| k.as_str() == c)
                || p.new.uniques.iter().any(|u| u.columns.iter().any(|k| k.as_str() == c))
        };
        let addable = |c: &ColumnDef| {
            !in_new_keys(c.name.as_str())
                && c.ty != ColumnType::Identity
                && !c.auto_update
                && match &c.default {
                    None => c.nullable,
                    Some(DefaultValue::Literal(v)) => c.nullable || !v.is_null(),
                    Some(_) => false,
                }
        };
        if !p.added.iter().all(|c| addable(c)) {
            return true;
        }
        let used_in_old = |c: &str| {
            let t = p.old;
            let has = |cs: &[crate::ColumnName]| cs.iter().any(|k| k.as_str() == c);
            has(&t.primary_key)
                || t.uniques.iter().any(|u| has(&u.columns))
                || t.foreign_keys.iter().any(|f| has(&f.columns))
                || t.indexes.iter().any(|i| {
                    has(&i.columns)
                        || i.predicate
                            .as_ref()
                            .is_some_and(|e| policy::referenced_columns(e).iter().any(|r| r == c))
                })
                || t.checks.iter().any(|k| policy::referenced_columns(&k.expr).iter().any(|r| r == c))
                || (t.timestamps && c == "updated_at")
        };
        p.dropped.iter().any(|c| used_in_old(c.name.as_str()))
    }

    fn policies_change(&self, p: &Pair<'a>) -> bool {
        if p.renamed() || p.old.policies != p.new.policies || !p.dropped.is_empty() {
            return true;
        }
        let type_change = p.cols.iter().any(|(o, n)| o.ty != n.ty || o.name != n.name);
        let enum_recreated = p.cols.iter().any(|(o, _)| match &o.ty {
            ColumnType::Named(e) => self.recreated_enums.iter().any(|r| r.name.as_str() == e),
            _ => false,
        });
        type_change || enum_recreated
    }

    // ----- SQL helpers ----------------------------------------------------------------

    fn q(&self, name: &str) -> String {
        quote_ident(self.dialect, name)
    }

    fn qt(&self, table: &str) -> String {
        self.ng.qualified(table)
    }

    fn alter(&self, table: &str, rest: &str) -> String {
        format!("ALTER TABLE {} {rest}", self.qt(table))
    }

    fn default_sql(&self, g: &Gen<'_>, c: &ColumnDef) -> Option<String> {
        g.default_expr(c).map(|e| render(self.dialect, &e))
    }

    // ----- the phases -------------------------------------------------------------------

    fn steps(&self) -> Vec<Step> {
        let mut out = Vec::new();
        self.setup(&mut out);
        self.enums_first(&mut out);
        self.drop_policies(&mut out);
        self.drop_constraints(&mut out);
        self.recreate_enums(&mut out);
        self.renames(&mut out);
        self.create_tables(&mut out);
        self.columns(&mut out);
        self.rebuilds(&mut out);
        self.add_constraints(&mut out);
        self.create_policies(&mut out);
        self.comments(&mut out);
        self.drop_columns(&mut out);
        self.drop_tables(&mut out);
        self.drop_enums(&mut out);
        out
    }

    fn setup(&self, out: &mut Vec<Step>) {
        if self.dialect != Dialect::Postgres {
            return;
        }
        let mut sql = Vec::new();
        if self.options.security && !self.created.is_empty() {
            sql.extend(self.ng.schema_grants().into_iter().map(|s| s.sql));
        }
        let timestamps_added = self.created.iter().any(|t| t.timestamps)
            || self.pairs.iter().any(|p| p.new.timestamps && !p.old.timestamps);
        if timestamps_added {
            sql.push(self.ng.updated_at_function().sql);
        }
        if !sql.is_empty() {
            out.push(step(
                K::Setup,
                None,
                "prepare the schema (grants, trigger function)".into(),
                false,
                sql,
            ));
        }
    }

    fn enums_first(&self, out: &mut Vec<Step>) {
        if self.dialect != Dialect::Postgres {
            return;
        }
        for e in self.new.enums() {
            let Some(o) = self.old.enum_def(e.name.as_str()) else {
                let sql = self.ng.enum_statements(e).into_iter().map(|s| s.sql).collect();
                out.push(step(K::CreateEnum, None, format!("create enum `{}`", e.name), false, sql));
                continue;
            };
            if self.recreated_enums.iter().any(|r| r.name == e.name) || o.values == e.values {
                continue;
            }
            let ty = self.qt(e.name.as_str());
            let mut sql = Vec::new();
            let mut added = Vec::new();
            for (i, v) in e.values.iter().enumerate() {
                if o.values.contains(v) {
                    continue;
                }
                let lit = |s: &str| sql_literal(self.dialect, s.into());
                let place = match i.checked_sub(1).and_then(|j| e.values.get(j)) {
                    Some(prev) => format!(" AFTER {}", lit(prev)),
                    None => e
                        .values
                        .iter()
                        .find(|v| o.values.contains(v))
                        .map_or_else(String::new, |next| format!(" BEFORE {}", lit(next))),
                };
                sql.push(format!("ALTER TYPE {ty} ADD VALUE IF NOT EXISTS {}{place}", lit(v)));
                added.push(format!("'{v}'"));
            }
            out.push(step(
                K::AlterEnum,
                None,
                format!("add value(s) {} to enum `{}`", added.join(", "), e.name),
                false,
                sql,
            ));
        }
    }

    fn old_enum_name(e: &EnumDef) -> String {
        crate::name::fit(format!("_easbase_old_{}", e.name))
    }

    fn recreate_enums(&self, out: &mut Vec<Step>) {
        for e in &self.recreated_enums {
            let Some(o) = self.old.enum_def(e.name.as_str()) else { continue };
            let ty = self.qt(e.name.as_str());
            let mut sql = vec![format!("ALTER TYPE {ty} RENAME TO {}", self.q(&Self::old_enum_name(e)))];
            sql.extend(
                self.ng
                    .enum_statements(e)
                    .into_iter()
                    .filter(|s| s.kind == StatementKind::CreateEnum)
                    .map(|s| s.sql),
            );
            for p in &self.pairs {
                for (oc, _) in &p.cols {
                    if !matches!(&oc.ty, ColumnType::Named(n) if n.as_str() == e.name.as_str()) {
                        continue;
                    }
                    let c = self.q(oc.name.as_str());
                    let table = p.old.name.as_str();
                    if oc.default.is_some() {
                        sql.push(self.alter(table, &format!("ALTER COLUMN {c} DROP DEFAULT")));
                    }
                    sql.push(self.alter(table, &format!("ALTER COLUMN {c} TYPE {ty} USING {c}::text::{ty}")));
                    if let Some(d) = self.default_sql(&self.ng, oc) {
                        sql.push(self.alter(table, &format!("ALTER COLUMN {c} SET DEFAULT {d}")));
                    }
                }
            }
            let removed: Vec<String> =
                o.values.iter().filter(|v| !e.values.contains(v)).map(|v| format!("'{v}'")).collect();
            let description = if removed.is_empty() {
                format!("recreate enum `{}` with its values reordered", e.name)
            } else {
                format!("recreate enum `{}` without value(s) {}", e.name, removed.join(", "))
            };
            out.push(step(K::AlterEnum, None, description, !removed.is_empty(), sql));
        }
    }

    fn policy_drop_sql(&self, t: &TableDef) -> Vec<String> {
        let q = self.qt(t.name.as_str());
        let mut names: Vec<String> = t.policies.iter().map(|p| p.name.to_string()).collect();
        names.push(crate::name::fit(format!("{}_service", t.name)));
        names.iter().map(|n| format!("DROP POLICY IF EXISTS {} ON {q}", self.q(n))).collect()
    }

    fn drop_policies(&self, out: &mut Vec<Step>) {
        for p in self.pairs.iter().filter(|p| p.replace_policies) {
            let name = p.old.name.as_str();
            out.push(step(
                K::ReplacePolicies,
                Some(p.new.name.as_str()),
                format!("drop the policies of `{name}` (recreated below)"),
                false,
                self.policy_drop_sql(p.old),
            ));
        }
    }

    fn drop_constraints(&self, out: &mut Vec<Step>) {
        let d = self.dialect;
        // Triggers of tables losing `timestamps` (PostgreSQL; SQLite rebuilds, MySQL has none).
        for p in &self.pairs {
            if d == Dialect::Postgres && p.old.timestamps && !p.new.timestamps {
                let trigger = crate::name::fit(format!("{}_updated_at", p.old.name));
                out.push(step(
                    K::Trigger,
                    Some(p.new.name.as_str()),
                    format!("stop maintaining `updated_at` of `{}`", p.old.name),
                    false,
                    vec![format!(
                        "DROP TRIGGER IF EXISTS {} ON {}",
                        self.q(&trigger),
                        self.qt(p.old.name.as_str())
                    )],
                ));
            }
        }
        // Foreign keys first (they may depend on unique keys), then the rest.
        let mut fks = Vec::new();
        let mut rest = Vec::new();
        for p in self.pairs.iter().filter(|p| !p.rebuild) {
            let table = p.old.name.as_str();
            let qt = self.qt(table);
            let (dropped, _) = self.constraint_diff(p);
            for (name, rep) in dropped {
                let n = self.q(&name);
                let (kind, what, sql) = match (&rep, d) {
                    (Rep::Fk { .. }, Dialect::Mysql) => {
                        (K::DropConstraint, "foreign key", format!("ALTER TABLE {qt} DROP FOREIGN KEY {n}"))
                    }
                    (Rep::Fk { .. }, _) => {
                        (K::DropConstraint, "foreign key", format!("ALTER TABLE {qt} DROP CONSTRAINT {n}"))
                    }
                    (Rep::Unique { .. }, Dialect::Mysql) => {
                        (K::DropConstraint, "unique constraint", format!("ALTER TABLE {qt} DROP INDEX {n}"))
                    }
                    (Rep::Unique { .. }, _) => (
                        K::DropConstraint,
                        "unique constraint",
                        format!("ALTER TABLE {qt} DROP CONSTRAINT {n}"),
                    ),
                    (Rep::Check { .. }, _) => {
                        (K::DropConstraint, "check", format!("ALTER TABLE {qt} DROP CONSTRAINT {n}"))
                    }
                    (Rep::Index { .. }, Dialect::Mysql) => {
                        (K::DropIndex, "index", format!("DROP INDEX {n} ON {qt}"))
                    }
                    (Rep::Index { .. }, _) => {
                        (K::DropIndex, "index", format!("DROP INDEX {}", self.qt(&name)))
                    }
                };
                let s = step(
                    kind,
                    Some(p.new.name.as_str()),
                    format!("drop {what} `{name}` of `{table}`"),
                    false,
                    vec![sql],
                );
                if matches!(rep, Rep::Fk { .. }) { fks.push(s) } else { rest.push(s) }
            }
            // Primary key changes.
            if self.pk(p.old, true) != self.pk(p.new, false) && !p.old.primary_key.is_empty() {
                let sql = match d {
                    Dialect::Mysql => format!("ALTER TABLE {qt} DROP PRIMARY KEY"),
                    _ => format!("ALTER TABLE {qt} DROP CONSTRAINT {}", self.q(&format!("{table}_pkey"))),
                };
                rest.push(step(
                    K::DropConstraint,
                    Some(p.new.name.as_str()),
                    format!("drop the primary key of `{table}`"),
                    false,
                    vec![sql],
                ));
            }
        }
        // Foreign keys of kept tables to dropped tables are gone from the new schema, so
        // they are in `fks`; those between dropped tables go with their tables.
        out.extend(fks);
        out.extend(rest);
    }

    fn renames(&self, out: &mut Vec<Step>) {
        let d = self.dialect;
        for p in self.pairs.iter().filter(|p| p.renamed()) {
            let (from, to) = (p.old.name.as_str(), p.new.name.as_str());
            let mut sql = vec![match d {
                Dialect::Mysql => format!("RENAME TABLE {} TO {}", self.q(from), self.q(to)),
                _ => format!("ALTER TABLE {} RENAME TO {}", self.qt(from), self.q(to)),
            }];
            if d == Dialect::Postgres && p.old.timestamps && p.new.timestamps {
                let (a, b) = (
                    crate::name::fit(format!("{from}_updated_at")),
                    crate::name::fit(format!("{to}_updated_at")),
                );
                sql.push(format!("ALTER TRIGGER {} ON {} RENAME TO {}", self.q(&a), self.qt(to), self.q(&b)));
            }
            out.push(step(K::RenameTable, Some(to), format!("rename table `{from}` to `{to}`"), false, sql));
        }
        for p in self.pairs.iter().filter(|p| !p.rebuild) {
            let t = p.new.name.as_str();
            for (o, n) in p.cols.iter().filter(|(o, n)| o.name != n.name) {
                out.push(step(
                    K::RenameColumn,
                    Some(t),
                    format!("rename column `{}` to `{}` in `{t}`", o.name, n.name),
                    false,
                    vec![self.alter(
                        t,
                        &format!("RENAME COLUMN {} TO {}", self.q(o.name.as_str()), self.q(n.name.as_str())),
                    )],
                ));
            }
        }
    }

    fn create_tables(&self, out: &mut Vec<Step>) {
        for t in &self.created {
            let sql = ddl::table_statements(self.new, t, self.dialect, self.options)
                .into_iter()
                .map(|s| s.sql)
                .collect();
            out.push(step(
                K::CreateTable,
                Some(t.name.as_str()),
                format!("create table `{}`", t.name),
                false,
                sql,
            ));
        }
    }

    fn columns(&self, out: &mut Vec<Step>) {
        let d = self.dialect;
        for p in self.pairs.iter().filter(|p| !p.rebuild) {
            let t = p.new.name.as_str();
            for c in &p.added {
                let mut alter = Table::alter();
                alter.table(self.ng.table_ref(t)).add_column(self.ng.column_def(p.new, c));
                let mut sql = vec![build_alter(&alter, d)];
                if let (Dialect::Postgres, Some(comment)) = (d, &c.comment) {
                    sql.push(format!(
                        "COMMENT ON COLUMN {}.{} IS {}",
                        self.qt(t),
                        self.q(c.name.as_str()),
                        sql_literal(d, comment.as_str().into())
                    ));
                }
                out.push(step(
                    K::AddColumn,
                    Some(t),
                    format!("add column `{}` to `{t}`", c.name),
                    false,
                    sql,
                ));
            }
            for (o, n) in &p.cols {
                if let Some(s) = self.alter_column(p, o, n) {
                    out.push(s);
                }
            }
            if d == Dialect::Postgres && p.new.timestamps && !p.old.timestamps {
                let sql = self.ng.updated_at_trigger(p.new).into_iter().map(|s| s.sql).collect();
                out.push(step(K::Trigger, Some(t), format!("maintain `updated_at` of `{t}`"), false, sql));
            }
        }
    }

    /// The changes of one kept column (in place: PostgreSQL and MySQL).
    fn alter_column(&self, p: &Pair<'a>, o: &ColumnDef, n: &ColumnDef) -> Option<Step> {
        let d = self.dialect;
        let (os, ns) = (self.sig(p.old, o, &self.og), self.sig(p.new, n, &self.ng));
        if os == ns {
            return None;
        }
        let t = p.new.name.as_str();
        let c = self.q(n.name.as_str());
        let type_changed = os.ty != ns.ty || os.identity != ns.identity || os.enum_values != ns.enum_values;
        let destructive = !widening(&o.ty, &n.ty, self.old, self.new);
        let mut what = Vec::new();
        if type_changed {
            what.push(type_change(&o.ty, &n.ty));
        }
        if os.not_null != ns.not_null {
            what.push(if ns.not_null { "set not null".to_owned() } else { "drop not null".to_owned() });
        }
        if os.default != ns.default {
            what.push(if ns.default.is_some() {
                "set default".to_owned()
            } else {
                "drop default".to_owned()
            });
        }
        if os.auto_update != ns.auto_update {
            what.push("on update".to_owned());
        }
        if os.comment != ns.comment {
            what.push("comment".to_owned());
        }
        let backfill = (!os.not_null && ns.not_null)
            .then(|| self.default_sql(&self.ng, n))
            .flatten()
            .map(|def| format!("UPDATE {} SET {c} = {def} WHERE {c} IS NULL", self.qt(t)));
        let mut sql = Vec::new();
        match d {
            Dialect::Postgres => {
                if type_changed {
                    if os.identity && !ns.identity {
                        sql.push(self.alter(t, &format!("ALTER COLUMN {c} DROP IDENTITY IF EXISTS")));
                    }
                    if os.default.is_some() {
                        sql.push(self.alter(t, &format!("ALTER COLUMN {c} DROP DEFAULT")));
                    }
                    if os.ty != ns.ty {
                        let via =
                            if matches!(o.ty, ColumnType::Named(_)) || matches!(n.ty, ColumnType::Named(_)) {
                                "::text"
                            } else {
                                ""
                            };
                        sql.push(self.alter(
                            t,
                            &format!("ALTER COLUMN {c} TYPE {ty} USING {c}{via}::{ty}", ty = ns.ty),
                        ));
                    }
                    if ns.identity && !os.identity {
                        sql.push(
                            self.alter(t, &format!("ALTER COLUMN {c} ADD GENERATED BY DEFAULT AS IDENTITY")),
                        );
                        let seq_of = sql_literal(d, self.qt(t).into());
                        sql.push(format!(
                            "SELECT setval(pg_get_serial_sequence({seq_of}, {}), coalesce(max({c}), 0) + 1, false) FROM {}",
                            sql_literal(d, n.name.as_str().into()),
                            self.qt(t)
                        ));
                    }
                }
                if os.default != ns.default || (type_changed && ns.default.is_some()) {
                    match &ns.default {
                        Some(def) => sql.push(self.alter(t, &format!("ALTER COLUMN {c} SET DEFAULT {def}"))),
                        None if !type_changed => {
                            sql.push(self.alter(t, &format!("ALTER COLUMN {c} DROP DEFAULT")))
                        }
                        None => {}
                    }
                }
                if os.not_null != ns.not_null {
                    if ns.not_null {
                        sql.extend(backfill);
                        sql.push(self.alter(t, &format!("ALTER COLUMN {c} SET NOT NULL")));
                    } else {
                        sql.push(self.alter(t, &format!("ALTER COLUMN {c} DROP NOT NULL")));
                    }
                }
            }
            Dialect::Mysql => {
                sql.extend(backfill);
                let mut alter = Table::alter();
                alter.table(self.ng.table_ref(t)).modify_column(self.ng.column_def(p.new, n));
                sql.push(build_alter(&alter, d));
            }
            // SQLite rebuilds instead.
            Dialect::Sqlite => return None,
        }
        if sql.is_empty() {
            return None;
        }
        Some(step(
            K::AlterColumn,
            Some(t),
            format!("alter column `{}` of `{t}`: {}", n.name, what.join(", ")),
            type_changed && destructive,
            sql,
        ))
    }

    fn rebuilds(&self, out: &mut Vec<Step>) {
        for p in self.pairs.iter().filter(|p| p.rebuild) {
            out.push(self.rebuild(p));
        }
    }

    /// SQLite: create `_easbase_new_<t>`, copy the rows, drop `<t>`, rename, recreate
    /// indexes and triggers.
    fn rebuild(&self, p: &Pair<'a>) -> Step {
        let t = p.new.name.as_str();
        let tmp = format!("_easbase_new_{t}");
        let statements = ddl::table_statements(self.new, p.new, self.dialect, self.options);
        let mut sql = Vec::new();
        let mut rest = Vec::new();
        for s in statements {
            if s.kind == StatementKind::CreateTable && sql.is_empty() {
                let prefix = format!("CREATE TABLE {} ", self.q(t));
                let body = s
                    .sql
                    .strip_prefix(&prefix)
                    .map_or_else(|| s.sql.clone(), |b| format!("CREATE TABLE {} {b}", self.q(&tmp)));
                sql.push(body);
            } else {
                rest.push(s.sql);
            }
        }
        let mut into = Vec::new();
        let mut select = Vec::new();
        for (o, n) in &p.cols {
            into.push(self.q(n.name.as_str()));
            let src = self.q(o.name.as_str());
            let value = match self.default_sql(&self.ng, n) {
                Some(def) if o.nullable && !n.nullable => format!("coalesce({src}, {def})"),
                _ => src,
            };
            select.push(value);
        }
        // The table was renamed in place before (a separate step); columns are mapped here.
        if !into.is_empty() {
            sql.push(format!(
                "INSERT INTO {} ({}) SELECT {} FROM {}",
                self.q(&tmp),
                into.join(", "),
                select.join(", "),
                self.q(t)
            ));
        }
        sql.push(format!("DROP TABLE {}", self.q(t)));
        sql.push(format!("ALTER TABLE {} RENAME TO {}", self.q(&tmp), self.q(t)));
        sql.extend(rest);
        let mut what = Vec::new();
        let mut destructive = false;
        for (o, n) in &p.cols {
            if o.name != n.name {
                what.push(format!("rename column `{}` to `{}`", o.name, n.name));
            }
            let (os, ns) = (self.sig(p.old, o, &self.og), self.sig(p.new, n, &self.ng));
            if o.ty != n.ty || os.enum_values != ns.enum_values {
                what.push(format!("column `{}` {}", n.name, type_change(&o.ty, &n.ty)));
                destructive |= !widening(&o.ty, &n.ty, self.old, self.new);
            }
            if os.not_null != ns.not_null {
                what.push(format!(
                    "column `{}` {}",
                    n.name,
                    if ns.not_null { "set not null" } else { "drop not null" }
                ));
            }
            if os.default != ns.default {
                what.push(format!("column `{}` default", n.name));
            }
        }
        for c in &p.added {
            what.push(format!("add column `{}`", c.name));
        }
        for c in &p.dropped {
            what.push(format!("drop column `{}`", c.name));
            destructive = true;
        }
        let (dropped, added) = self.constraint_diff(p);
        if !dropped.is_empty() || !added.is_empty() || self.pk(p.old, true) != self.pk(p.new, false) {
            what.push("constraints".to_owned());
        }
        if p.old.timestamps != p.new.timestamps {
            what.push("timestamps".to_owned());
        }
        step(K::RebuildTable, Some(t), format!("rebuild table `{t}`: {}", what.join(", ")), destructive, sql)
    }

    fn add_constraints(&self, out: &mut Vec<Step>) {
        let d = self.dialect;
        let mut fks = Vec::new();
        let mut indexes = Vec::new();
        for p in self.pairs.iter().filter(|p| !p.rebuild) {
            let t = p.new.name.as_str();
            let qt = self.qt(t);
            if self.pk(p.old, true) != self.pk(p.new, false) && !p.new.primary_key.is_empty() {
                let cols: Vec<String> = p.new.primary_key.iter().map(|c| self.q(c.as_str())).collect();
                let sql = match d {
                    Dialect::Mysql => format!("ALTER TABLE {qt} ADD PRIMARY KEY ({})", cols.join(", ")),
                    _ => format!(
                        "ALTER TABLE {qt} ADD CONSTRAINT {} PRIMARY KEY ({})",
                        self.q(&format!("{t}_pkey")),
                        cols.join(", ")
                    ),
                };
                out.push(step(
                    K::AddConstraint,
                    Some(t),
                    format!("add the primary key of `{t}`"),
                    false,
                    vec![sql],
                ));
            }
            let (_, added) = self.constraint_diff(p);
            for (name, rep) in added {
                let n = self.q(&name);
                let cols = |cs: &[String]| cs.iter().map(|c| self.q(c)).collect::<Vec<_>>().join(", ");
                match &rep {
                    Rep::Unique { cols: cs } => out.push(step(
                        K::AddConstraint,
                        Some(t),
                        format!("add unique constraint `{name}` to `{t}`"),
                        false,
                        vec![format!("ALTER TABLE {qt} ADD CONSTRAINT {n} UNIQUE ({})", cols(cs))],
                    )),
                    Rep::Check { sql } => out.push(step(
                        K::AddConstraint,
                        Some(t),
                        format!("add check `{name}` to `{t}`"),
                        false,
                        vec![format!("ALTER TABLE {qt} ADD CONSTRAINT {n} CHECK ({sql})")],
                    )),
                    Rep::Fk { cols: cs, table, referenced, on_delete, on_update } => {
                        let mut sql = format!(
                            "ALTER TABLE {qt} ADD CONSTRAINT {n} FOREIGN KEY ({}) REFERENCES {} ({})",
                            cols(cs),
                            self.qt(table),
                            cols(referenced)
                        );
                        if *on_delete != FkAction::NoAction {
                            sql.push_str(&format!(" ON DELETE {}", fk_action_sql(*on_delete)));
                        }
                        if *on_update != FkAction::NoAction {
                            sql.push_str(&format!(" ON UPDATE {}", fk_action_sql(*on_update)));
                        }
                        fks.push(step(
                            K::AddConstraint,
                            Some(t),
                            format!("add foreign key `{name}` to `{t}`"),
                            false,
                            vec![sql],
                        ));
                    }
                    Rep::Index { .. } => {
                        let index = p.new.indexes.iter().find(|i| i.name.as_str() == name);
                        if let Some(sql) = index.and_then(|i| self.ng.index(p.new, i)) {
                            indexes.push(step(
                                K::CreateIndex,
                                Some(t),
                                format!("create index `{name}` on `{t}`"),
                                false,
                                vec![sql],
                            ));
                        }
                    }
                }
            }
        }
        out.extend(fks);
        out.extend(indexes);
    }

    fn create_policies(&self, out: &mut Vec<Step>) {
        for p in self.pairs.iter().filter(|p| p.replace_policies) {
            let t = p.new.name.as_str();
            let sql: Vec<String> = ddl::security_statements(self.new, p.new, self.dialect, self.options)
                .into_iter()
                .filter(|s| s.kind == StatementKind::CreatePolicy)
                .map(|s| s.sql)
                .collect();
            out.push(step(K::ReplacePolicies, Some(t), format!("create the policies of `{t}`"), false, sql));
        }
    }

    fn comments(&self, out: &mut Vec<Step>) {
        let d = self.dialect;
        if d == Dialect::Sqlite {
            return;
        }
        let lit = |c: &Option<String>| match c {
            Some(c) => sql_literal(d, c.as_str().into()),
            None if d == Dialect::Mysql => "''".to_owned(),
            None => "NULL".to_owned(),
        };
        if d == Dialect::Postgres {
            for e in self.new.enums() {
                if let Some(o) = self.old.enum_def(e.name.as_str())
                    && o.comment != e.comment
                    && !self.recreated_enums.iter().any(|r| r.name == e.name)
                {
                    out.push(step(
                        K::Comment,
                        None,
                        format!("change the comment of enum `{}`", e.name),
                        false,
                        vec![format!("COMMENT ON TYPE {} IS {}", self.qt(e.name.as_str()), lit(&e.comment))],
                    ));
                }
            }
        }
        for p in &self.pairs {
            let t = p.new.name.as_str();
            let mut sql = Vec::new();
            if p.old.comment != p.new.comment {
                sql.push(match d {
                    Dialect::Mysql => format!("ALTER TABLE {} COMMENT = {}", self.qt(t), lit(&p.new.comment)),
                    _ => format!("COMMENT ON TABLE {} IS {}", self.qt(t), lit(&p.new.comment)),
                });
            }
            if d == Dialect::Postgres {
                for (o, n) in p.cols.iter().filter(|(o, n)| o.comment != n.comment) {
                    sql.push(format!(
                        "COMMENT ON COLUMN {}.{} IS {}",
                        self.qt(t),
                        self.q(n.name.as_str()),
                        lit(&n.comment)
                    ));
                    let _ = o;
                }
            }
            if !sql.is_empty() {
                out.push(step(K::Comment, Some(t), format!("change comments of `{t}`"), false, sql));
            }
        }
    }

    fn drop_columns(&self, out: &mut Vec<Step>) {
        for p in self.pairs.iter().filter(|p| !p.rebuild) {
            let t = p.new.name.as_str();
            for c in &p.dropped {
                out.push(step(
                    K::DropColumn,
                    Some(t),
                    format!("drop column `{}` from `{t}`", c.name),
                    true,
                    vec![self.alter(t, &format!("DROP COLUMN {}", self.q(c.name.as_str())))],
                ));
            }
        }
    }

    fn drop_tables(&self, out: &mut Vec<Step>) {
        for t in self.old.tables().iter().rev() {
            if self.dropped.iter().any(|d| d.name == t.name) {
                out.push(step(
                    K::DropTable,
                    Some(t.name.as_str()),
                    format!("drop table `{}`", t.name),
                    true,
                    vec![format!("DROP TABLE {}", self.qt(t.name.as_str()))],
                ));
            }
        }
    }

    fn drop_enums(&self, out: &mut Vec<Step>) {
        if self.dialect != Dialect::Postgres {
            return;
        }
        for e in &self.recreated_enums {
            out.push(step(
                K::DropEnum,
                None,
                format!("drop the previous version of enum `{}`", e.name),
                false,
                vec![format!("DROP TYPE {}", self.qt(&Self::old_enum_name(e)))],
            ));
        }
        for e in self.old.enums() {
            if self.new.enum_def(e.name.as_str()).is_none() {
                out.push(step(
                    K::DropEnum,
                    None,
                    format!("drop enum `{}`", e.name),
                    false,
                    vec![format!("DROP TYPE {}", self.qt(e.name.as_str()))],
                ));
            }
        }
    }
}

impl<'a> Pair<'a> {
    fn match_columns(old: &'a TableDef, new: &'a TableDef) -> Pair<'a> {
        let mut cols = Vec::new();
        let mut added = Vec::new();
        let mut used: Vec<&str> = Vec::new();
        for c in &new.columns {
            let by_name = old.column(c.name.as_str());
            let by_rename = c
                .renamed_from
                .as_ref()
                .filter(|r| new.column(r.as_str()).is_none())
                .and_then(|r| old.column(r.as_str()));
            match by_name.or(by_rename) {
                Some(o) if !used.contains(&o.name.as_str()) => {
                    used.push(o.name.as_str());
                    cols.push((o, c));
                }
                _ => added.push(c),
            }
        }
        let dropped = old.columns.iter().filter(|c| !used.contains(&c.name.as_str())).collect();
        Pair { old, new, cols, added, dropped, rebuild: false, replace_policies: false }
    }
}

/// "type integer → bigint", or "enum values" when an enum changed.
fn type_change(old: &ColumnType, new: &ColumnType) -> String {
    if old == new { format!("values of enum `{new}`") } else { format!("type {old} → {new}") }
}

/// Whether `a` appears in `b` in the same order (values only added).
fn is_subsequence(a: &[String], b: &[String]) -> bool {
    let mut it = b.iter();
    a.iter().all(|v| it.any(|w| w == v))
}
