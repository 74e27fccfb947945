//! Validation: [`Schema`] → [`ValidSchema`], reporting every broken rule with its path.
//!
//! Dialect-independent rules are checked by [`validate`]; what one engine cannot represent
//! (arrays outside PostgreSQL, partial indexes on MySQL, …) by [`check_dialect`].

mod defaults;
mod dialect;
mod order;

use std::collections::{HashMap, HashSet};

use crate::error::{ErrorKind, ValidationErrors};
use crate::model::DefaultValue;
use crate::model::{ColumnType, Operation, PolicyRules, Role, Schema, Table};
use crate::name::{ColumnName, Ident, NameError, TableName, fit};
use crate::policy::{self, Columns};
use crate::valid::{
    CheckDef, ColumnDef, EnumDef, ForeignKeyDef, IndexDef, PolicyDef, TableDef, UniqueDef, ValidSchema,
};

pub use dialect::check_dialect;

/// Validates a schema description.
///
/// # Errors
/// Every broken rule, each with its path ([`ValidationErrors`]).
pub fn validate(schema: &Schema) -> Result<ValidSchema, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let enums = validate_enums(schema, &mut errors);
    let mut tables = Vec::new();
    let mut table_names: HashMap<String, usize> = HashMap::new();
    for (ti, table) in schema.tables.iter().enumerate() {
        let path = format!("tables[{ti}]");
        if let Some(prev) = table_names.insert(table.name.to_ascii_lowercase(), ti) {
            errors.push(
                format!("{path}.name"),
                ErrorKind::DuplicateTable,
                format!("table `{}` is declared twice (first at tables[{prev}])", table.name),
            );
        }
        if let Some(t) = validate_table(&path, table, &enums, &mut errors) {
            tables.push(t);
        }
    }
    // Cross-table rules need every table resolved first.
    let mut constraint_names: HashMap<String, String> = HashMap::new();
    for (ti, table) in schema.tables.iter().enumerate() {
        let path = format!("tables[{ti}]");
        let Some(pos) = tables.iter().position(|t| t.name.as_str() == table.name) else { continue };
        let fks = resolve_foreign_keys(&path, table, &tables[pos], &tables, &mut errors);
        tables[pos].foreign_keys = fks;
        let t = &tables[pos];
        let names = t
            .uniques
            .iter()
            .map(|u| (&u.name, "unique"))
            .chain(t.foreign_keys.iter().map(|f| (&f.name, "foreign_keys")))
            .chain(t.indexes.iter().map(|i| (&i.name, "indexes")))
            .chain(t.checks.iter().map(|c| (&c.name, "checks")));
        for (name, kind) in names {
            let key = name.as_str().to_ascii_lowercase();
            if let Some(prev) = constraint_names.insert(key, path.clone()) {
                errors.push(
                    format!("{path}.{kind}"),
                    ErrorKind::DuplicateIndex,
                    format!("the name `{name}` is used twice (also in {prev}); index and constraint names must be unique in a schema"),
                );
            }
        }
    }
    let tables = order::dependency_order(tables);
    errors.into_result(ValidSchema { source: schema.clone(), enums, tables })
}

fn name_error(errors: &mut ValidationErrors, path: String, e: NameError) {
    let kind = match e {
        NameError::Syntax(_) => ErrorKind::InvalidIdentifier,
        NameError::TooLong { .. } => ErrorKind::IdentifierTooLong,
        NameError::Reserved(_) => ErrorKind::ReservedWord,
    };
    errors.push(path, kind, e.to_string());
}

fn ident(errors: &mut ValidationErrors, path: String, name: &str) -> Option<Ident> {
    Ident::new(name).map_err(|e| name_error(errors, path, e)).ok()
}

fn validate_enums(schema: &Schema, errors: &mut ValidationErrors) -> Vec<EnumDef> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (ei, e) in schema.enums.iter().enumerate() {
        let path = format!("enums[{ei}]");
        let Some(name) = ident(errors, format!("{path}.name"), &e.name) else { continue };
        if !matches!(e.name.parse::<ColumnType>(), Ok(ColumnType::Named(_))) {
            errors.push(
                format!("{path}.name"),
                ErrorKind::DuplicateEnum,
                format!("`{}` is a built-in type name; give the enum another name", e.name),
            );
            continue;
        }
        if !seen.insert(e.name.to_ascii_lowercase()) {
            errors.push(
                format!("{path}.name"),
                ErrorKind::DuplicateEnum,
                format!("enum `{}` is declared twice", e.name),
            );
        }
        if e.values.is_empty() {
            errors.push(
                format!("{path}.values"),
                ErrorKind::Invalid,
                format!("enum `{}` has no values", e.name),
            );
        }
        let mut values = HashSet::new();
        for (vi, v) in e.values.iter().enumerate() {
            if v.is_empty() || v.len() > 63 {
                errors.push(
                    format!("{path}.values[{vi}]"),
                    ErrorKind::Invalid,
                    "enum values are 1 to 63 bytes long",
                );
            } else if !values.insert(v.as_str()) {
                errors.push(
                    format!("{path}.values[{vi}]"),
                    ErrorKind::DuplicateEnum,
                    format!("value `{v}` is listed twice"),
                );
            }
        }
        out.push(EnumDef { name, values: e.values.clone(), comment: e.comment.clone() });
    }
    out
}

/// Validates one table on its own (everything but foreign keys). Returns `None` when the
/// table is too broken to take part in cross-table checks.
fn validate_table(
    path: &str,
    table: &Table,
    enums: &[EnumDef],
    errors: &mut ValidationErrors,
) -> Option<TableDef> {
    let name =
        TableName::new(table.name.clone()).map_err(|e| name_error(errors, format!("{path}.name"), e)).ok();
    let renamed_from = table.renamed_from.as_ref().and_then(|r| {
        TableName::new(r.clone()).map_err(|e| name_error(errors, format!("{path}.renamed_from"), e)).ok()
    });
    if table.columns.is_empty() {
        errors.push(
            format!("{path}.columns"),
            ErrorKind::Invalid,
            format!("table `{}` has no columns", table.name),
        );
    }

    let mut columns: Vec<ColumnDef> = Vec::new();
    let mut seen = HashMap::new();
    let mut declared_pk = Vec::new();
    for (ci, col) in table.columns.iter().enumerate() {
        let cpath = format!("{path}.columns[{ci}]");
        if let Some(prev) = seen.insert(col.name.to_ascii_lowercase(), ci) {
            errors.push(
                format!("{cpath}.name"),
                ErrorKind::DuplicateColumn,
                format!(
                    "column `{}` is declared twice in table `{}` (first at columns[{prev}])",
                    col.name, table.name
                ),
            );
            continue;
        }
        let Ok(cname) =
            ColumnName::new(col.name.clone()).map_err(|e| name_error(errors, format!("{cpath}.name"), e))
        else {
            continue;
        };
        let renamed_from = col.renamed_from.as_ref().and_then(|r| {
            ColumnName::new(r.clone())
                .map_err(|e| name_error(errors, format!("{cpath}.renamed_from"), e))
                .ok()
        });
        check_type(&format!("{cpath}.type"), &col.ty, enums, errors);
        if col.primary {
            declared_pk.push((ci, cname.clone()));
        }
        if let Some(default) = &col.default {
            defaults::check_default(&format!("{cpath}.default"), col, default, enums, errors);
        }
        columns.push(ColumnDef {
            name: cname,
            renamed_from,
            ty: col.ty.clone(),
            nullable: !(col.required || col.primary || table.primary_key.contains(&col.name)),
            default: col.default.clone(),
            auto_update: false,
            comment: col.comment.clone(),
        });
    }
    if table.timestamps {
        for ts in ["created_at", "updated_at"] {
            if seen.contains_key(ts) {
                errors.push(
                    format!("{path}.timestamps"),
                    ErrorKind::DuplicateColumn,
                    format!("`timestamps` adds `{ts}`, which table `{}` already declares", table.name),
                );
            } else {
                columns.push(ColumnDef {
                    name: ColumnName::new(ts).ok()?,
                    renamed_from: None,
                    ty: ColumnType::Timestamptz,
                    nullable: false,
                    default: Some(DefaultValue::Now),
                    auto_update: ts == "updated_at",
                    comment: None,
                });
            }
        }
    }

    let lookup =
        |cols: &[ColumnDef], n: &str| cols.iter().find(|c| c.name.as_str() == n).map(|c| c.name.clone());

    // Primary key.
    let primary_key: Vec<ColumnName> = match (declared_pk.as_slice(), table.primary_key.is_empty()) {
        ([], true) => {
            errors.push(
                format!("{path}.columns"),
                ErrorKind::MissingPrimaryKey,
                format!(
                    "table `{}` has no primary key: mark a column `\"primary\": true` or list `primary_key`",
                    table.name
                ),
            );
            Vec::new()
        }
        ([(_, c)], true) => vec![c.clone()],
        (cols, true) => {
            for (ci, _) in &cols[1..] {
                errors.push(
                    format!("{path}.columns[{ci}].primary"),
                    ErrorKind::DoubledPrimaryKey,
                    format!("table `{}` marks several columns `primary`; for a composite key list them in `primary_key`", table.name),
                );
            }
            Vec::new()
        }
        ([], false) => column_list(&format!("{path}.primary_key"), &table.primary_key, &columns, errors),
        ([(ci, _), ..], false) => {
            errors.push(
                format!("{path}.columns[{ci}].primary"),
                ErrorKind::DoubledPrimaryKey,
                format!(
                    "table `{}` declares its primary key twice: on a column and in `primary_key`",
                    table.name
                ),
            );
            Vec::new()
        }
    };
    for (i, pk) in primary_key.iter().enumerate() {
        if let Some(c) = columns.iter().find(|c| &c.name == pk)
            && matches!(c.ty, ColumnType::Json | ColumnType::Jsonb | ColumnType::Array(_))
        {
            errors.push(
                format!("{path}.primary_key[{i}]"),
                ErrorKind::Invalid,
                format!("column `{pk}` of type {} cannot be part of a primary key", c.ty),
            );
        }
    }
    for (ci, col) in table.columns.iter().enumerate() {
        if col.ty == ColumnType::Identity && !(primary_key.len() == 1 && primary_key[0].as_str() == col.name)
        {
            errors.push(
                format!("{path}.columns[{ci}].type"),
                ErrorKind::Invalid,
                format!("`identity` column `{}` must be the table's only primary key column", col.name),
            );
        }
        if col.ty == ColumnType::Identity && col.default.is_some() {
            errors.push(
                format!("{path}.columns[{ci}].default"),
                ErrorKind::InvalidDefault,
                "an `identity` column gets its values from the database; remove the default",
            );
        }
    }

    let tname = table.name.as_str();
    // Unique constraints.
    let mut uniques = Vec::new();
    for (ci, col) in table.columns.iter().enumerate() {
        if col.unique {
            if col.primary {
                errors.push(
                    format!("{path}.columns[{ci}].unique"),
                    ErrorKind::Invalid,
                    format!("column `{}` is the primary key and unique already", col.name),
                );
            } else if let Some(c) = lookup(&columns, &col.name) {
                uniques.push(UniqueDef {
                    name: generated(&format!("{tname}_{}_key", col.name)),
                    columns: vec![c],
                });
            }
        }
    }
    for (ui, cols) in table.unique.iter().enumerate() {
        let cols = column_list(&format!("{path}.unique[{ui}]"), cols, &columns, errors);
        if !cols.is_empty() {
            let joined = join(&cols);
            uniques.push(UniqueDef { name: generated(&format!("{tname}_{joined}_key")), columns: cols });
        }
    }

    // Checks (the column's, then the table's).
    let probe = ProbeColumns(&columns, enums);
    let mut checks = Vec::new();
    for (ci, col) in table.columns.iter().enumerate() {
        if let Some(src) = &col.check
            && let Some(expr) = parse_expr(&format!("{path}.columns[{ci}].check"), src, &probe, false, errors)
        {
            checks.push(CheckDef { name: generated(&format!("{tname}_{}_check", col.name)), expr });
        }
    }
    for (ki, check) in table.checks.iter().enumerate() {
        let kpath = format!("{path}.checks[{ki}]");
        let name = match &check.name {
            Some(n) => ident(errors, format!("{kpath}.name"), n),
            None => Some(generated(&format!("{tname}_check{}", ki + 1))),
        };
        if let (Some(expr), Some(name)) =
            (parse_expr(&format!("{kpath}.expr"), &check.expr, &probe, false, errors), name)
        {
            checks.push(CheckDef { name, expr });
        }
    }

    // Declared indexes.
    let mut indexes = Vec::new();
    for (ii, index) in table.indexes.iter().enumerate() {
        let ipath = format!("{path}.indexes[{ii}]");
        let cols = column_list(&format!("{ipath}.columns"), &index.columns, &columns, errors);
        let predicate = index
            .predicate
            .as_ref()
            .and_then(|p| parse_expr(&format!("{ipath}.where"), p, &probe, false, errors));
        let name = match &index.name {
            Some(n) => ident(errors, format!("{ipath}.name"), n),
            None => Some(generated(&format!("{tname}_{}_idx", join(&cols)))),
        };
        if let (false, Some(name)) = (cols.is_empty(), name) {
            indexes.push(IndexDef {
                name,
                columns: cols,
                unique: index.unique,
                predicate,
                for_policy: false,
            });
        }
    }

    // Policies.
    let mut policies = Vec::new();
    for op in Operation::ALL {
        let Some(rules) = table.policies.get(op) else { continue };
        let ppath = format!("{path}.policies.{}", op.as_str());
        match rules {
            PolicyRules::Expr(src) => {
                if let Some(expr) = parse_expr(&ppath, src, &probe, true, errors) {
                    let (using, check) = match op {
                        Operation::Select | Operation::Delete => (Some(expr), None),
                        Operation::Insert => (None, Some(expr)),
                        Operation::Update => (Some(expr.clone()), Some(expr)),
                    };
                    policies.push(PolicyDef {
                        name: generated(&format!("{tname}_{}", op.as_str())),
                        operation: op,
                        roles: Role::REQUEST.to_vec(),
                        using,
                        check,
                    });
                }
            }
            PolicyRules::Rules(list) => {
                for (ri, rule) in list.iter().enumerate() {
                    let rpath = format!("{ppath}[{ri}]");
                    if let Some(p) = policy_rule(&rpath, tname, op, ri, list.len(), rule, &probe, errors) {
                        policies.push(p);
                    }
                }
            }
        }
    }
    let mut seen_policy = HashSet::new();
    for p in &policies {
        if !seen_policy.insert(p.name.as_str().to_owned()) {
            errors.push(
                format!("{path}.policies"),
                ErrorKind::DuplicateIndex,
                format!("policy name `{}` is used twice", p.name),
            );
        }
    }

    // An index for every column a policy filters on, unless a key or index leads with it.
    let mut leading: HashSet<String> = HashSet::new();
    leading.extend(primary_key.first().map(|c| c.to_string()));
    leading.extend(uniques.iter().filter_map(|u| u.columns.first()).map(|c| c.to_string()));
    leading.extend(
        indexes
            .iter()
            .filter(|i| i.predicate.is_none())
            .filter_map(|i| i.columns.first())
            .map(|c| c.to_string()),
    );
    let mut policy_cols = Vec::new();
    for p in &policies {
        for e in p.using.iter().chain(p.check.iter()) {
            for c in policy::referenced_columns(e) {
                if !policy_cols.contains(&c) {
                    policy_cols.push(c);
                }
            }
        }
    }
    for c in policy_cols {
        if leading.contains(&c) {
            continue;
        }
        let Some(col) = columns.iter().find(|cd| cd.name.as_str() == c) else { continue };
        if matches!(col.ty, ColumnType::Json | ColumnType::Jsonb | ColumnType::Bytes | ColumnType::Array(_)) {
            continue;
        }
        leading.insert(c.clone());
        indexes.push(IndexDef {
            name: generated(&format!("{tname}_{c}_policy_idx")),
            columns: vec![col.name.clone()],
            unique: false,
            predicate: None,
            for_policy: true,
        });
    }

    Some(TableDef {
        name: name?,
        renamed_from,
        columns,
        primary_key,
        uniques,
        foreign_keys: Vec::new(),
        indexes,
        checks,
        policies,
        timestamps: table.timestamps,
        comment: table.comment.clone(),
    })
}

#[allow(clippy::too_many_arguments)]
fn policy_rule(
    rpath: &str,
    tname: &str,
    op: Operation,
    index: usize,
    count: usize,
    rule: &crate::model::PolicyRule,
    probe: &ProbeColumns<'_>,
    errors: &mut ValidationErrors,
) -> Option<PolicyDef> {
    let mut ok = true;
    if rule.roles.contains(&Role::Service) {
        errors.push(
            format!("{rpath}.roles"),
            ErrorKind::PolicyInvalid,
            "the `service` role bypasses row policies; list `anon` and/or `authenticated`",
        );
        ok = false;
    }
    if rule.using.is_none() && rule.check.is_none() {
        errors.push(
            rpath.to_owned(),
            ErrorKind::PolicyInvalid,
            "a policy rule needs `using`, `check` or both",
        );
        ok = false;
    }
    if op == Operation::Insert && rule.using.is_some() {
        errors.push(
            format!("{rpath}.using"),
            ErrorKind::PolicyInvalid,
            "an insert policy has only `check` (there is no existing row to test)",
        );
        ok = false;
    }
    if matches!(op, Operation::Select | Operation::Delete) && rule.check.is_some() {
        errors.push(
            format!("{rpath}.check"),
            ErrorKind::PolicyInvalid,
            format!("a {} policy has only `using` (no row is written)", op.as_str()),
        );
        ok = false;
    }
    let using =
        rule.using.as_ref().and_then(|s| parse_expr(&format!("{rpath}.using"), s, probe, true, errors));
    let check =
        rule.check.as_ref().and_then(|s| parse_expr(&format!("{rpath}.check"), s, probe, true, errors));
    let name = match &rule.name {
        Some(n) => ident(errors, format!("{rpath}.name"), n)?,
        None if count == 1 => generated(&format!("{tname}_{}", op.as_str())),
        None => generated(&format!("{tname}_{}_{}", op.as_str(), index + 1)),
    };
    let mut roles = if rule.roles.is_empty() { Role::REQUEST.to_vec() } else { rule.roles.clone() };
    roles.sort();
    roles.dedup();
    let parsed = rule.using.is_some() == using.is_some() && rule.check.is_some() == check.is_some();
    (ok && parsed).then_some(PolicyDef { name, operation: op, roles, using, check })
}

/// Parses and checks a policy-language expression, reporting problems at `path`.
fn parse_expr(
    path: &str,
    src: &str,
    columns: &dyn Columns,
    allow_auth: bool,
    errors: &mut ValidationErrors,
) -> Option<policy::Expr> {
    match policy::parse(src) {
        Err(e) => {
            errors.push(path.to_owned(), ErrorKind::PolicySyntax, format!("cannot parse `{src}`: {e}"));
            None
        }
        Ok(expr) => {
            let problems = policy::check(&expr, columns, allow_auth);
            for p in &problems {
                let kind =
                    if p.column.is_some() { ErrorKind::UnknownColumn } else { ErrorKind::PolicyInvalid };
                let kind = if p.message.contains("unknown column") { kind } else { ErrorKind::PolicyInvalid };
                errors.push(path.to_owned(), kind, format!("in `{src}`: {}", p.message));
            }
            problems.is_empty().then_some(expr)
        }
    }
}

/// The columns of the table being validated, and the schema's enums (so a policy that
/// compares an enum column with a value it does not have is reported).
struct ProbeColumns<'a>(&'a [ColumnDef], &'a [EnumDef]);

impl Columns for ProbeColumns<'_> {
    fn column_type(&self, name: &str) -> Option<&ColumnType> {
        self.0.iter().find(|c| c.name.as_str() == name).map(|c| &c.ty)
    }

    fn enum_values(&self, type_name: &str) -> Option<Vec<String>> {
        self.1.iter().find(|e| e.name.as_str() == type_name).map(|e| e.values.clone())
    }
}

fn check_type(path: &str, ty: &ColumnType, enums: &[EnumDef], errors: &mut ValidationErrors) {
    match ty {
        ColumnType::Named(n) if enums.iter().any(|e| e.name.as_str() == n) => {}
        ColumnType::Named(n) => {
            let hint = if n.starts_with("varchar") {
                " (write varchar(n) with a positive length)"
            } else if n.starts_with("decimal") || n.starts_with("numeric") {
                " (write decimal or decimal(precision,scale))"
            } else {
                ""
            };
            errors.push(
                path.to_owned(),
                ErrorKind::UnknownType,
                format!("unknown type `{n}`{hint}: use uuid, text, varchar(n), smallint, integer, bigint, identity, decimal(p,s), real, double, boolean, date, time, timestamp, timestamptz, json, jsonb, bytes, an array `type[]`, or an enum of the schema"),
            );
        }
        ColumnType::Varchar(0) => {
            errors.push(path.to_owned(), ErrorKind::UnknownType, "varchar needs a length of at least 1")
        }
        ColumnType::Decimal(Some((p, s))) if *p == 0 || *p > 1000 || s > p => errors.push(
            path.to_owned(),
            ErrorKind::UnknownType,
            format!("decimal({p},{s}) needs 1 <= precision <= 1000 and scale <= precision"),
        ),
        ColumnType::Array(inner) => match inner.as_ref() {
            ColumnType::Array(_) | ColumnType::Identity => errors.push(
                path.to_owned(),
                ErrorKind::UnknownType,
                format!("arrays of {inner} are not supported"),
            ),
            other => check_type(path, other, enums, errors),
        },
        _ => {}
    }
}

/// Resolves a list of column names against the table, reporting unknown and repeated ones.
fn column_list(
    path: &str,
    names: &[String],
    columns: &[ColumnDef],
    errors: &mut ValidationErrors,
) -> Vec<ColumnName> {
    if names.is_empty() {
        errors.push(path.to_owned(), ErrorKind::Invalid, "the column list is empty");
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, n) in names.iter().enumerate() {
        match columns.iter().find(|c| c.name.as_str() == n) {
            None => {
                errors.push(
                    format!("{path}[{i}]"),
                    ErrorKind::UnknownColumn,
                    format!("unknown column `{n}`"),
                );
                ok = false;
            }
            Some(c) if out.contains(&c.name) => {
                errors.push(
                    format!("{path}[{i}]"),
                    ErrorKind::DuplicateColumn,
                    format!("column `{n}` is listed twice"),
                );
                ok = false;
            }
            Some(c) => out.push(c.name.clone()),
        }
    }
    if ok { out } else { Vec::new() }
}

fn resolve_foreign_keys(
    path: &str,
    table: &Table,
    def: &TableDef,
    tables: &[TableDef],
    errors: &mut ValidationErrors,
) -> Vec<ForeignKeyDef> {
    let tname = def.name.as_str();
    let mut out = Vec::new();
    for (ci, col) in table.columns.iter().enumerate() {
        let Some(r) = &col.references else { continue };
        let rpath = format!("{path}.columns[{ci}].references");
        let Some(local) = def.column(&col.name) else {
            // The column itself is broken (reported already); still report a missing target.
            if !tables.iter().any(|t| t.name.as_str() == r.table) {
                errors.push(
                    rpath,
                    ErrorKind::UnknownTable,
                    format!("references unknown table `{}`", r.table),
                );
            }
            continue;
        };
        let target_cols: Vec<String> = r.column.iter().cloned().collect();
        if let Some(fk) = resolve_fk(
            &rpath,
            def,
            std::slice::from_ref(&local.name),
            &r.table,
            &target_cols,
            (r.on_delete, r.on_update),
            generated(&format!("{tname}_{}_fkey", col.name)),
            tables,
            errors,
        ) {
            out.push(fk);
        }
    }
    for (fi, fk) in table.foreign_keys.iter().enumerate() {
        let fpath = format!("{path}.foreign_keys[{fi}]");
        let cols = column_list(&format!("{fpath}.columns"), &fk.columns, &def.columns, errors);
        if cols.is_empty() {
            continue;
        }
        let name = match &fk.name {
            Some(n) => match ident(errors, format!("{fpath}.name"), n) {
                Some(n) => n,
                None => continue,
            },
            None => generated(&format!("{tname}_{}_fkey", join(&cols))),
        };
        if let Some(fk) = resolve_fk(
            &fpath,
            def,
            &cols,
            &fk.references,
            &fk.referenced_columns,
            (fk.on_delete, fk.on_update),
            name,
            tables,
            errors,
        ) {
            out.push(fk);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn resolve_fk(
    path: &str,
    def: &TableDef,
    columns: &[ColumnName],
    target: &str,
    target_cols: &[String],
    (on_delete, on_update): (crate::model::FkAction, crate::model::FkAction),
    name: Ident,
    tables: &[TableDef],
    errors: &mut ValidationErrors,
) -> Option<ForeignKeyDef> {
    let Some(t) = tables.iter().find(|t| t.name.as_str() == target) else {
        let known: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        errors.push(
            path.to_owned(),
            ErrorKind::UnknownTable,
            format!("references unknown table `{target}` (tables: {})", known.join(", ")),
        );
        return None;
    };
    let referenced: Vec<ColumnName> = if target_cols.is_empty() {
        t.primary_key.clone()
    } else {
        let mut out = Vec::new();
        for c in target_cols {
            match t.column(c) {
                Some(cd) => out.push(cd.name.clone()),
                None => {
                    errors.push(
                        path.to_owned(),
                        ErrorKind::UnknownColumn,
                        format!("references unknown column `{c}` of table `{target}`"),
                    );
                    return None;
                }
            }
        }
        out
    };
    if referenced.len() != columns.len() {
        errors.push(
            path.to_owned(),
            ErrorKind::ForeignKeyTarget,
            format!(
                "{} column(s) refer to {} column(s) of `{target}`; the counts must match",
                columns.len(),
                referenced.len()
            ),
        );
        return None;
    }
    let as_set =
        |v: &[ColumnName]| v.iter().map(|c| c.as_str().to_owned()).collect::<std::collections::BTreeSet<_>>();
    let target_set = as_set(&referenced);
    let is_key =
        as_set(&t.primary_key) == target_set || t.uniques.iter().any(|u| as_set(&u.columns) == target_set);
    if !is_key {
        errors.push(
            path.to_owned(),
            ErrorKind::ForeignKeyTarget,
            format!("`{target}`({}) is neither the primary key nor unique; a foreign key must reference one of them", join(&referenced)),
        );
    }
    for (local, remote) in columns.iter().zip(&referenced) {
        let (Some(l), Some(r)) = (def.column(local.as_str()), t.column(remote.as_str())) else { continue };
        let compatible =
            l.ty.referenced_as() == r.ty.referenced_as() || (l.ty.is_integer() && r.ty.is_integer());
        if !compatible {
            errors.push(
                path.to_owned(),
                ErrorKind::ForeignKeyTypeMismatch,
                format!(
                    "`{}.{local}` is {} but references `{target}.{remote}` of type {}",
                    def.name,
                    l.ty,
                    r.ty.referenced_as()
                ),
            );
        }
        if !l.nullable
            && (on_delete == crate::model::FkAction::SetNull || on_update == crate::model::FkAction::SetNull)
        {
            errors.push(
                path.to_owned(),
                ErrorKind::Invalid,
                format!("`set_null` needs `{local}` to accept NULL, but it is required"),
            );
        }
    }
    is_key.then_some(ForeignKeyDef {
        name,
        columns: columns.to_vec(),
        table: t.name.clone(),
        referenced,
        on_delete,
        on_update,
    })
}

fn join(cols: &[ColumnName]) -> String {
    cols.iter().map(ColumnName::as_str).collect::<Vec<_>>().join("_")
}

/// A generated name, cut to fit; generated from valid names, so always valid.
fn generated(name: &str) -> Ident {
    let fitted = fit(name.to_owned());
    Ident::new(fitted.clone()).unwrap_or_else(|_| {
        // A generated name can only fail by being reserved (e.g. `_easbase…`): prefix it.
        Ident::new(fit(format!("x_{fitted}"))).unwrap_or_else(|_| Ident::new("x_generated").expect("valid"))
    })
}
