//! TypeScript text helpers shared by the `Database` types and the SDK module: literals,
//! property keys, type names, comments, and the prettier-like layout both outputs use.

use easbase_schema::{ColumnDef, ColumnType, TableDef, ValidSchema};

/// A TypeScript string literal (JSON's escaping is valid TypeScript).
pub(crate) fn string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A property key: bare when it is an identifier, quoted otherwise.
pub(crate) fn key(name: &str) -> String {
    let mut chars = name.chars();
    let ident = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident { name.to_owned() } else { string(name) }
}

/// A property key in an object literal that runs: like [`key`], except that `__proto__`
/// is computed (`["__proto__"]`), since written plainly it would set the prototype.
pub(crate) fn value_key(name: &str) -> String {
    if name == "__proto__" { format!("[{}]", string(name)) } else { key(name) }
}

/// `order_items` → `OrderItems`.
pub(crate) fn pascal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// A JSDoc comment at `indent`, or nothing. `*/` in the text cannot end the comment.
pub(crate) fn doc(out: &mut String, indent: usize, text: Option<&str>) {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return };
    let pad = " ".repeat(indent);
    let text = text.replace("*/", "*\\/");
    let lines: Vec<&str> = text.lines().collect();
    if let [line] = lines.as_slice() {
        out.push_str(&format!("{pad}/** {line} */\n"));
    } else {
        out.push_str(&format!("{pad}/**\n"));
        for line in lines {
            out.push_str(format!("{pad} * {line}").trim_end());
            out.push('\n');
        }
        out.push_str(&format!("{pad} */\n"));
    }
}

/// The TypeScript type of a column's values in JSON, as `supabase gen types` maps
/// PostgreSQL's types (numbers for every numeric type, strings for dates, uuids and
/// bytea, `Json` for json / jsonb, enums by reference).
pub(crate) fn column_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Boolean => "boolean".to_owned(),
        ColumnType::SmallInt
        | ColumnType::Integer
        | ColumnType::BigInt
        | ColumnType::Identity
        | ColumnType::Decimal(_)
        | ColumnType::Real
        | ColumnType::Double => "number".to_owned(),
        ColumnType::Uuid
        | ColumnType::Text
        | ColumnType::Varchar(_)
        | ColumnType::Date
        | ColumnType::Time
        | ColumnType::Timestamp
        | ColumnType::Timestamptz
        | ColumnType::Bytes => "string".to_owned(),
        ColumnType::Json | ColumnType::Jsonb => "Json".to_owned(),
        ColumnType::Array(inner) => format!("{}[]", column_type(inner)),
        ColumnType::Named(name) => format!("Database[\"public\"][\"Enums\"][{}]", string(name)),
        _ => "unknown".to_owned(),
    }
}

/// The type with `| null` when the column accepts NULL.
pub(crate) fn value_type(column: &ColumnDef) -> String {
    let ty = column_type(&column.ty);
    if column.nullable { format!("{ty} | null") } else { ty }
}

/// Whether an insert may leave the column out: it accepts NULL, has a default, or is an
/// identity (the same rule as `supabase gen types`).
pub(crate) fn insert_optional(column: &ColumnDef) -> bool {
    column.nullable || column.default.is_some() || column.ty == ColumnType::Identity
}

/// Sorts as JavaScript's `localeCompare` does for ASCII names (case-insensitive first),
/// with a byte-order tie-break so the order is total.
pub(crate) fn sort_key(name: &str) -> (String, String) {
    (name.to_ascii_lowercase(), name.to_owned())
}

/// The tables, sorted by name (the order `supabase gen types` prints them in).
pub(crate) fn sorted_tables(schema: &ValidSchema) -> Vec<&TableDef> {
    let mut tables: Vec<&TableDef> = schema.tables().iter().collect();
    tables.sort_by_key(|t| sort_key(t.name.as_str()));
    tables
}

/// The columns of a table, sorted by name.
pub(crate) fn sorted_columns(table: &TableDef) -> Vec<&ColumnDef> {
    let mut columns: Vec<&ColumnDef> = table.columns.iter().collect();
    columns.sort_by_key(|c| sort_key(c.name.as_str()));
    columns
}

/// `head: a | b | c` on one line when it fits in 80 columns, else one `| item` per line
/// (prettier's layout of a union).
pub(crate) fn union(out: &mut String, indent: usize, head: &str, items: &[String]) {
    let pad = " ".repeat(indent);
    let line = format!("{pad}{head}: {}", items.join(" | "));
    if line.len() <= 80 || items.len() < 2 {
        out.push_str(&line);
        out.push('\n');
    } else {
        out.push_str(&format!("{pad}{head}:\n"));
        for item in items {
            out.push_str(&format!("{pad}  | {item}\n"));
        }
    }
}

/// `head: [a, b]` on one line when it fits in 80 columns, else one item per line.
pub(crate) fn array(out: &mut String, indent: usize, head: &str, items: &[String], trailing: &str) {
    let pad = " ".repeat(indent);
    let line = format!("{pad}{head}: [{}]{trailing}", items.join(", "));
    if line.len() <= 80 {
        out.push_str(&line);
        out.push('\n');
    } else {
        out.push_str(&format!("{pad}{head}: [\n"));
        for item in items {
            out.push_str(&format!("{pad}  {item},\n"));
        }
        out.push_str(&format!("{pad}]{trailing}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_only_when_needed() {
        assert_eq!(key("price"), "price");
        assert_eq!(key("_x1"), "_x1");
        assert_eq!(key("1x"), "\"1x\"");
        assert_eq!(key("a-b"), "\"a-b\"");
        assert_eq!(value_key("price"), "price");
        assert_eq!(value_key("__proto__"), "[\"__proto__\"]");
    }

    #[test]
    fn pascal_case_of_snake_names() {
        assert_eq!(pascal("order_items"), "OrderItems");
        assert_eq!(pascal("_private__x"), "PrivateX");
        assert_eq!(pascal("products"), "Products");
    }

    #[test]
    fn comments_cannot_be_closed_by_their_text() {
        let mut out = String::new();
        doc(&mut out, 2, Some("a */ b"));
        assert_eq!(out, "  /** a *\\/ b */\n");
        out.clear();
        doc(&mut out, 0, Some("one\ntwo"));
        assert_eq!(out, "/**\n * one\n * two\n */\n");
        out.clear();
        doc(&mut out, 0, Some("  "));
        assert_eq!(out, "");
    }

    #[test]
    fn long_unions_break_one_item_per_line() {
        let mut out = String::new();
        union(&mut out, 2, "a", &["\"x\"".to_owned(), "\"y\"".to_owned()]);
        assert_eq!(out, "  a: \"x\" | \"y\"\n");
        out.clear();
        let items: Vec<String> = (0..20).map(|i| format!("\"value{i}\"")).collect();
        union(&mut out, 0, "e", &items);
        assert!(out.starts_with("e:\n  | \"value0\"\n"), "{out}");
    }
}
