//! The SQL dialects EasBase generates for.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A SQL dialect: the engine a schema is compiled for.
///
/// ```
/// use easbase_schema::Dialect;
///
/// assert_eq!("postgres".parse::<Dialect>().unwrap(), Dialect::Postgres);
/// assert_eq!(Dialect::Mysql.to_string(), "mysql");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// PostgreSQL 13 or newer (row-level security, `jsonb`, arrays).
    Postgres,
    /// SQLite 3.35 or newer (the embedded default).
    Sqlite,
    /// MySQL 8 or MariaDB 10.6 or newer.
    Mysql,
}

impl Dialect {
    /// All dialects, in a fixed order.
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::Sqlite, Dialect::Mysql];

    /// The longest identifier the engine accepts, in bytes (`None`: no practical limit).
    pub fn max_identifier_len(self) -> Option<usize> {
        match self {
            Dialect::Postgres => Some(63),
            Dialect::Mysql => Some(64),
            Dialect::Sqlite => None,
        }
    }

    /// Lower-case name, as used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown dialect name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect `{0}` (expected postgres, sqlite or mysql)")]
pub struct UnknownDialect(pub String);

impl std::str::FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Ok(Dialect::Postgres),
            "sqlite" | "sqlite3" => Ok(Dialect::Sqlite),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            _ => Err(UnknownDialect(s.to_owned())),
        }
    }
}
