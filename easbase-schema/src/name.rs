//! Validated identifiers: [`TableName`], [`ColumnName`] and the rules they follow.
//!
//! A name that reaches SQL is always one of these, so no caller text ever becomes an
//! identifier without passing [`check_identifier`] (invariant 1 of DESIGN.md).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a usable identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty, or characters other than ASCII letters, digits and `_`, or a leading digit.
    #[error("`{0}` is not a valid name: use ASCII letters, digits and `_`, not starting with a digit")]
    Syntax(String),
    /// Longer than any dialect allows (63 bytes, PostgreSQL's limit).
    #[error("`{name}` is {len} characters long; names are at most {max}")]
    TooLong {
        /// The name.
        name: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A reserved SQL word, or a prefix EasBase keeps for itself.
    #[error("`{0}` is reserved; choose another name")]
    Reserved(String),
}

/// The longest identifier accepted anywhere (PostgreSQL's limit; MySQL allows 64).
pub const MAX_IDENTIFIER_LEN: usize = 63;

/// Checks that `name` is a plain identifier usable unquoted-or-quoted on every dialect.
///
/// # Errors
/// [`NameError`] naming the rule broken.
///
/// ```
/// use easbase_schema::name::check_identifier;
/// assert!(check_identifier("order_items").is_ok());
/// assert!(check_identifier("order").is_err()); // reserved
/// assert!(check_identifier("1st").is_err());
/// assert!(check_identifier("a;drop table x").is_err());
/// ```
pub fn check_identifier(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(NameError::Syntax(name.to_owned()));
    }
    if name.len() > MAX_IDENTIFIER_LEN {
        return Err(NameError::TooLong { name: name.to_owned(), len: name.len(), max: MAX_IDENTIFIER_LEN });
    }
    if is_reserved(name) {
        return Err(NameError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Whether `name` is reserved: an SQL keyword reserved in PostgreSQL, SQLite or MySQL,
/// or a prefix EasBase and the engines keep for themselves (`_easbase`, `pg_`, `sqlite_`).
pub fn is_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("_easbase")
        || lower.starts_with("pg_")
        || lower.starts_with("sqlite_")
        || RESERVED.binary_search(&lower.as_str()).is_ok()
}

/// Words reserved in at least one of PostgreSQL, SQLite and MySQL/MariaDB, sorted.
const RESERVED: &[&str] = &[
    "accessible",
    "add",
    "all",
    "alter",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asensitive",
    "asymmetric",
    "authorization",
    "before",
    "between",
    "bigint",
    "binary",
    "blob",
    "both",
    "by",
    "call",
    "cascade",
    "case",
    "cast",
    "change",
    "char",
    "character",
    "check",
    "collate",
    "column",
    "concurrently",
    "condition",
    "constraint",
    "continue",
    "convert",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "cursor",
    "database",
    "databases",
    "day_hour",
    "day_microsecond",
    "day_minute",
    "day_second",
    "dec",
    "decimal",
    "declare",
    "default",
    "deferrable",
    "delayed",
    "delete",
    "desc",
    "describe",
    "deterministic",
    "distinct",
    "distinctrow",
    "div",
    "do",
    "double",
    "drop",
    "dual",
    "each",
    "else",
    "elseif",
    "enclosed",
    "end",
    "escape",
    "escaped",
    "except",
    "exists",
    "exit",
    "explain",
    "false",
    "fetch",
    "float",
    "for",
    "force",
    "foreign",
    "freeze",
    "from",
    "full",
    "fulltext",
    "function",
    "generated",
    "get",
    "grant",
    "group",
    "having",
    "high_priority",
    "hour_microsecond",
    "hour_minute",
    "hour_second",
    "if",
    "ignore",
    "ilike",
    "in",
    "index",
    "infile",
    "initially",
    "inner",
    "inout",
    "insensitive",
    "insert",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "iterate",
    "join",
    "key",
    "keys",
    "kill",
    "lateral",
    "leading",
    "leave",
    "left",
    "like",
    "limit",
    "linear",
    "lines",
    "load",
    "localtime",
    "localtimestamp",
    "lock",
    "long",
    "loop",
    "low_priority",
    "match",
    "maxvalue",
    "minute_microsecond",
    "minute_second",
    "mod",
    "modifies",
    "natural",
    "not",
    "notnull",
    "null",
    "numeric",
    "of",
    "offset",
    "on",
    "only",
    "optimize",
    "option",
    "optionally",
    "or",
    "order",
    "out",
    "outer",
    "outfile",
    "over",
    "overlaps",
    "partition",
    "placing",
    "precision",
    "primary",
    "procedure",
    "purge",
    "range",
    "read",
    "reads",
    "real",
    "recursive",
    "references",
    "regexp",
    "release",
    "rename",
    "repeat",
    "replace",
    "require",
    "resignal",
    "restrict",
    "return",
    "returning",
    "revoke",
    "right",
    "rlike",
    "row",
    "rows",
    "schema",
    "schemas",
    "select",
    "sensitive",
    "separator",
    "session_user",
    "set",
    "show",
    "signal",
    "similar",
    "smallint",
    "some",
    "spatial",
    "specific",
    "sql",
    "sqlexception",
    "sqlstate",
    "sqlwarning",
    "ssl",
    "starting",
    "stored",
    "straight_join",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "terminated",
    "then",
    "to",
    "trailing",
    "trigger",
    "true",
    "undo",
    "union",
    "unique",
    "unlock",
    "unsigned",
    "update",
    "usage",
    "use",
    "user",
    "using",
    "utc_date",
    "utc_time",
    "utc_timestamp",
    "values",
    "varbinary",
    "varchar",
    "varcharacter",
    "variadic",
    "varying",
    "verbose",
    "virtual",
    "when",
    "where",
    "while",
    "window",
    "with",
    "write",
    "xor",
    "year_month",
    "zerofill",
];

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        // Shared text: names are cloned into every plan and statement, so a clone is a
        // reference count, not an allocation.
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// Validates `name` ([`check_identifier`]).
            ///
            /// # Errors
            /// [`NameError`] naming the rule broken.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                check_identifier(&name)?;
                Ok(Self(name.into()))
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0.as_ref().to_owned()
            }
        }

        impl sea_query::Iden for $name {
            fn unquoted(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A validated table name.
    ///
    /// ```
    /// use easbase_schema::TableName;
    /// assert_eq!(TableName::new("products").unwrap().as_str(), "products");
    /// assert!(TableName::new("products; drop").is_err());
    /// ```
    TableName
);
name_type!(
    /// A validated column name.
    ///
    /// ```
    /// use easbase_schema::ColumnName;
    /// assert!(ColumnName::new("price").is_ok());
    /// assert!(ColumnName::new("select").is_err());
    /// ```
    ColumnName
);
name_type!(
    /// A validated name of an index, constraint, policy or enum.
    Ident
);

/// Makes a generated name (`products_owner_id_idx`) fit the identifier limit: names longer
/// than [`MAX_IDENTIFIER_LEN`] are cut and given a short hash of the whole, so two long
/// names stay distinct and the result is deterministic.
pub(crate) fn fit(name: String) -> String {
    if name.len() <= MAX_IDENTIFIER_LEN {
        return name;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut keep = MAX_IDENTIFIER_LEN - hash.len() - 1;
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut cut = name[..keep].to_owned();
    cut.push('_');
    cut.push_str(&hash);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_list_is_sorted_and_lowercase() {
        let mut sorted = RESERVED.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, RESERVED);
        assert!(RESERVED.iter().all(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }

    #[test]
    fn reserved_is_case_insensitive() {
        assert!(is_reserved("SELECT"));
        assert!(is_reserved("pg_class"));
        assert!(is_reserved("_easbase_migrations"));
        assert!(!is_reserved("products"));
    }

    #[test]
    fn fit_is_deterministic_and_bounded() {
        let long = "a".repeat(100);
        let a = fit(long.clone());
        assert_eq!(a.len(), MAX_IDENTIFIER_LEN);
        assert_eq!(a, fit(long));
        assert_ne!(fit("a".repeat(99)), fit("a".repeat(100)));
        assert_eq!(fit("short".into()), "short");
    }
}
