//! PostgreSQL column types read back into [`ColumnType`]s: the inverse of the table in
//! [`crate::ddl`]'s type module.

use crate::model::ColumnType;

/// A PostgreSQL type as the catalog describes it.
#[derive(Debug, Clone)]
pub(crate) struct PgType<'a> {
    /// `pg_type.typname` (`int4`, `varchar`, `order_status`).
    pub(crate) name: &'a str,
    /// `pg_type.typtype` (`b` base, `e` enum, `d` domain, …).
    pub(crate) kind: &'a str,
    /// The schema of the type.
    pub(crate) schema: &'a str,
    /// The column's `atttypmod` (-1 when none).
    pub(crate) typmod: i32,
    /// `format_type(oid, typmod)`: the name for types EasBase does not know.
    pub(crate) formatted: &'a str,
}

/// What a type reads back as: the type, and a note when something was dropped.
pub(crate) fn column_type(t: &PgType<'_>, schema: &str) -> (ColumnType, Option<String>) {
    use ColumnType as T;
    if t.kind == "e" {
        return if t.schema == schema {
            (T::Named(t.name.to_owned()), None)
        } else {
            (T::Named(t.formatted.to_owned()), None)
        };
    }
    if t.schema != "pg_catalog" || t.kind != "b" {
        return (T::Named(t.formatted.to_owned()), None);
    }
    let precision_dropped = |ty: ColumnType| {
        let note = (t.typmod >= 0)
            .then(|| format!("`{}` is read as `{ty}` (the precision is not kept)", t.formatted));
        (ty, note)
    };
    let ty = match t.name {
        "uuid" => T::Uuid,
        "text" => T::Text,
        "varchar" if t.typmod >= 4 => T::Varchar((t.typmod - 4) as u32),
        "int2" => T::SmallInt,
        "int4" => T::Integer,
        "int8" => T::BigInt,
        "numeric" if t.typmod < 0 => T::Decimal(None),
        "numeric" => {
            let v = t.typmod - 4;
            let precision = ((v >> 16) & 0xffff) as u32;
            // The scale is an 11-bit signed number since PostgreSQL 15.
            let scale = v & 0x7ff;
            if scale > precision as i32 || scale >= 0x400 {
                T::Named(t.formatted.to_owned())
            } else {
                T::Decimal(Some((precision, scale as u32)))
            }
        }
        "float4" => T::Real,
        "float8" => T::Double,
        "bool" => T::Boolean,
        "date" => T::Date,
        "time" => return precision_dropped(T::Time),
        "timestamp" => return precision_dropped(T::Timestamp),
        "timestamptz" => return precision_dropped(T::Timestamptz),
        "json" => T::Json,
        "jsonb" => T::Jsonb,
        "bytea" => T::Bytes,
        _ => T::Named(t.formatted.to_owned()),
    };
    (ty, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str, typmod: i32, formatted: &str) -> String {
        let t = PgType { name, kind: "b", schema: "pg_catalog", typmod, formatted };
        column_type(&t, "app").0.to_string()
    }

    #[test]
    fn builtins() {
        assert_eq!(ty("varchar", 24, "character varying(20)"), "varchar(20)");
        assert_eq!(ty("varchar", -1, "character varying"), "character varying");
        assert_eq!(ty("numeric", (12 << 16) + 2 + 4, "numeric(12,2)"), "decimal(12,2)");
        assert_eq!(ty("numeric", -1, "numeric"), "decimal");
        assert_eq!(ty("float8", -1, "double precision"), "double");
        assert_eq!(ty("bytea", -1, "bytea"), "bytes");
        assert_eq!(ty("interval", -1, "interval"), "interval");
        assert_eq!(ty("timestamptz", 3, "timestamp(3) with time zone"), "timestamptz");
        let e = PgType { name: "mood", kind: "e", schema: "app", typmod: -1, formatted: "app.mood" };
        assert_eq!(column_type(&e, "app").0, ColumnType::Named("mood".into()));
        assert_eq!(column_type(&e, "other").0, ColumnType::Named("app.mood".into()));
    }
}
