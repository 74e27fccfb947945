//! The catalog queries: everything about one schema (namespace) in a handful of
//! statements, each with the schema's name as the bound parameter `$1`.

use tokio_postgres::types::FromSql;
use tokio_postgres::{Client, Row};

use crate::Error;

pub(super) fn db_error(e: &tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Database(format!("{} ({})", db.message(), db.code().code())),
        None => Error::Database(e.to_string()),
    }
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, Error> {
    row.try_get(i).map_err(|e| Error::Database(format!("unexpected catalog row: {e}")))
}

async fn query(client: &Client, sql: &str, schema: &str) -> Result<Vec<Row>, Error> {
    client.query(sql, &[&schema]).await.map_err(|e| db_error(&e))
}

/// A relation of the schema (tables, views, …).
pub(super) struct RawRelation {
    pub(super) name: String,
    /// `pg_class.relkind`.
    pub(super) kind: String,
    pub(super) is_partition: bool,
    pub(super) comment: Option<String>,
    pub(super) policies: i64,
}

/// A column of a table.
pub(super) struct RawColumn {
    pub(super) table: String,
    pub(super) name: String,
    pub(super) not_null: bool,
    /// `pg_attribute.attidentity`: `a` always, `d` by default, empty for none.
    pub(super) identity: String,
    /// `pg_attribute.attgenerated`: `s` stored, empty for none.
    pub(super) generated: String,
    /// The default (or generation) expression as `pg_get_expr` prints it.
    pub(super) default: Option<String>,
    pub(super) typmod: i32,
    pub(super) type_name: String,
    pub(super) type_kind: String,
    pub(super) type_schema: String,
    pub(super) type_formatted: String,
    /// For arrays: the element type's name, kind, schema and formatted name.
    pub(super) element: Option<(String, String, String, String)>,
    pub(super) comment: Option<String>,
    /// Whether the column owns a sequence (serial or identity).
    pub(super) owns_sequence: bool,
}

/// A constraint of a table (primary key, unique, foreign key, check, exclusion).
pub(super) struct RawConstraint {
    pub(super) table: String,
    pub(super) name: String,
    /// `pg_constraint.contype`: `p`, `u`, `f`, `c`, `x`.
    pub(super) kind: String,
    pub(super) columns: Vec<String>,
    pub(super) ref_table: Option<String>,
    pub(super) ref_schema: Option<String>,
    pub(super) ref_columns: Vec<String>,
    pub(super) on_update: String,
    pub(super) on_delete: String,
    pub(super) match_type: String,
    pub(super) deferrable: bool,
    pub(super) definition: String,
}

/// An index of a table that no constraint owns.
pub(super) struct RawIndex {
    pub(super) table: String,
    pub(super) name: String,
    pub(super) unique: bool,
    /// The key columns (empty names for expressions).
    pub(super) columns: Vec<String>,
    pub(super) has_include: bool,
    pub(super) has_expressions: bool,
    pub(super) partial: bool,
    pub(super) method: String,
    pub(super) has_options: bool,
    pub(super) definition: String,
}

/// A trigger on a table (not internal ones such as foreign-key triggers).
pub(super) struct RawTrigger {
    pub(super) table: String,
    pub(super) name: String,
    pub(super) function: String,
}

/// An enum type and its values in sort order.
pub(super) struct RawEnum {
    pub(super) name: String,
    pub(super) values: Vec<String>,
    pub(super) comment: Option<String>,
}

/// Everything read from the catalog.
pub(super) struct Catalog {
    pub(super) relations: Vec<RawRelation>,
    pub(super) columns: Vec<RawColumn>,
    pub(super) constraints: Vec<RawConstraint>,
    pub(super) indexes: Vec<RawIndex>,
    pub(super) triggers: Vec<RawTrigger>,
    pub(super) enums: Vec<RawEnum>,
}

const SCHEMA_EXISTS: &str = "select exists (select 1 from pg_namespace where nspname = $1)";

const RELATIONS: &str = "
select c.relname::text, c.relkind::text, c.relispartition, obj_description(c.oid, 'pg_class'),
       (select count(*) from pg_policy p where p.polrelid = c.oid)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm', 'f')
order by c.relname";

const COLUMNS: &str = "
select c.relname::text, a.attname::text, a.attnotnull, a.attidentity::text, a.attgenerated::text,
       pg_get_expr(d.adbin, d.adrelid), a.atttypmod,
       t.typname::text, t.typtype::text, tn.nspname::text, format_type(a.atttypid, a.atttypmod),
       et.typname::text, et.typtype::text, etn.nspname::text, format_type(et.oid, a.atttypmod),
       col_description(c.oid, a.attnum),
       pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) is not null
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
join pg_namespace tn on tn.oid = t.typnamespace
left join pg_type et on et.oid = t.typelem and t.typcategory = 'A'
left join pg_namespace etn on etn.oid = et.typnamespace
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
order by c.relname, a.attnum";

const CONSTRAINTS: &str = "
select c.relname::text, con.conname::text, con.contype::text,
       array(select a.attname::text from unnest(con.conkey) with ordinality k(num, ord)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.ord),
       fc.relname::text, fn.nspname::text,
       array(select a.attname::text from unnest(con.confkey) with ordinality k(num, ord)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.ord),
       con.confupdtype::text, con.confdeltype::text, con.confmatchtype::text, con.condeferrable,
       pg_get_constraintdef(con.oid)
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where n.nspname = $1 and c.relkind in ('r', 'p') and con.contype in ('p', 'u', 'f', 'c', 'x')
order by c.relname, con.conname";

const INDEXES: &str = "
select c.relname::text, ic.relname::text, i.indisunique,
       array(select coalesce(a.attname::text, '') from unnest(i.indkey::int2[]) with ordinality k(num, ord)
             left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.num
             where k.ord <= i.indnkeyatts order by k.ord),
       i.indnatts > i.indnkeyatts, i.indexprs is not null, i.indpred is not null, am.amname::text,
       exists (select 1 from unnest(i.indoption::int2[]) o where o <> 0),
       pg_get_indexdef(i.indexrelid)
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_class ic on ic.oid = i.indexrelid
join pg_am am on am.oid = ic.relam
where n.nspname = $1 and c.relkind in ('r', 'p')
  and not exists (select 1 from pg_constraint k
                  where k.conindid = i.indexrelid and k.conrelid = i.indrelid and k.contype in ('p', 'u', 'x'))
order by c.relname, ic.relname";

const TRIGGERS: &str = "
select c.relname::text, t.tgname::text, p.proname::text
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_proc p on p.oid = t.tgfoid
where n.nspname = $1 and not t.tgisinternal
order by c.relname, t.tgname";

const ENUMS: &str = "
select t.typname::text,
       array(select e.enumlabel::text from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder),
       obj_description(t.oid, 'pg_type')
from pg_type t join pg_namespace n on n.oid = t.typnamespace
where n.nspname = $1 and t.typtype = 'e'
order by t.typname";

/// Reads the catalog of `schema`; `None` when there is no such schema.
pub(super) async fn read(client: &Client, schema: &str) -> Result<Option<Catalog>, Error> {
    let exists = client.query_one(SCHEMA_EXISTS, &[&schema]).await.map_err(|e| db_error(&e))?;
    if !get::<bool>(&exists, 0)? {
        return Ok(None);
    }
    let mut relations = Vec::new();
    for r in query(client, RELATIONS, schema).await? {
        relations.push(RawRelation {
            name: get(&r, 0)?,
            kind: get(&r, 1)?,
            is_partition: get(&r, 2)?,
            comment: get(&r, 3)?,
            policies: get(&r, 4)?,
        });
    }
    let mut columns = Vec::new();
    for r in query(client, COLUMNS, schema).await? {
        let element = match get::<Option<String>>(&r, 11)? {
            Some(name) => Some((name, get(&r, 12)?, get(&r, 13)?, get(&r, 14)?)),
            None => None,
        };
        columns.push(RawColumn {
            table: get(&r, 0)?,
            name: get(&r, 1)?,
            not_null: get(&r, 2)?,
            identity: get(&r, 3)?,
            generated: get(&r, 4)?,
            default: get(&r, 5)?,
            typmod: get(&r, 6)?,
            type_name: get(&r, 7)?,
            type_kind: get(&r, 8)?,
            type_schema: get(&r, 9)?,
            type_formatted: get(&r, 10)?,
            element,
            comment: get(&r, 15)?,
            owns_sequence: get(&r, 16)?,
        });
    }
    let mut constraints = Vec::new();
    for r in query(client, CONSTRAINTS, schema).await? {
        constraints.push(RawConstraint {
            table: get(&r, 0)?,
            name: get(&r, 1)?,
            kind: get(&r, 2)?,
            columns: get(&r, 3)?,
            ref_table: get(&r, 4)?,
            ref_schema: get(&r, 5)?,
            ref_columns: get(&r, 6)?,
            on_update: get(&r, 7)?,
            on_delete: get(&r, 8)?,
            match_type: get(&r, 9)?,
            deferrable: get(&r, 10)?,
            definition: get(&r, 11)?,
        });
    }
    let mut indexes = Vec::new();
    for r in query(client, INDEXES, schema).await? {
        indexes.push(RawIndex {
            table: get(&r, 0)?,
            name: get(&r, 1)?,
            unique: get(&r, 2)?,
            columns: get(&r, 3)?,
            has_include: get(&r, 4)?,
            has_expressions: get(&r, 5)?,
            partial: get(&r, 6)?,
            method: get(&r, 7)?,
            has_options: get(&r, 8)?,
            definition: get(&r, 9)?,
        });
    }
    let mut triggers = Vec::new();
    for r in query(client, TRIGGERS, schema).await? {
        triggers.push(RawTrigger { table: get(&r, 0)?, name: get(&r, 1)?, function: get(&r, 2)? });
    }
    let mut enums = Vec::new();
    for r in query(client, ENUMS, schema).await? {
        enums.push(RawEnum { name: get(&r, 0)?, values: get(&r, 1)?, comment: get(&r, 2)? });
    }
    Ok(Some(Catalog { relations, columns, constraints, indexes, triggers, enums }))
}
