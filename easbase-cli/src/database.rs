//! Where a platform lives: [`DatabaseUrl`] (`postgres://…`, `mysql://…`, `sqlite://FILE`,
//! `sqlite::memory:`) and [`open_platform`], which opens the platform with the modules
//! the host serves (auth).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use easbase_auth::AuthModule;
use easbase_core::db::{Db, SqliteConfig};
use easbase_core::module::Module;
use easbase_core::project::{Platform, PlatformConfig};

use crate::error::{Error, Result};

/// The embedded database used when no URL is given: a SQLite file in `.easbase/` of the
/// working directory.
pub const DEFAULT_SQLITE_FILE: &str = ".easbase/easbase.db";

/// A platform database.
///
/// ```
/// use easbase_cli::database::DatabaseUrl;
///
/// let url: DatabaseUrl = "sqlite://data/easbase.db".parse().unwrap();
/// assert_eq!(url, DatabaseUrl::SqliteFile("data/easbase.db".into()));
/// assert_eq!(url.projects_dir(), Some("data/easbase-projects".into()));
/// assert_eq!("sqlite::memory:".parse::<DatabaseUrl>().unwrap(), DatabaseUrl::SqliteMemory);
/// let pg: DatabaseUrl = "postgres://app:hunter2@db.internal/easbase".parse().unwrap();
/// assert_eq!(pg.to_string(), "postgres://app:***@db.internal/easbase"); // the password is never shown
/// let pg: DatabaseUrl = "postgresql://u:p@ss@h:5432/db?sslmode=disable".parse().unwrap();
/// assert_eq!(pg.to_string(), "postgresql://u:***@h:5432/db?sslmode=disable");
/// let pg: DatabaseUrl = "postgres://app@h/db".parse().unwrap();
/// assert_eq!(pg.to_string(), "postgres://app@h/db");
/// let my: DatabaseUrl = "mysql://root:pw@127.0.0.1:3306/easbase".parse().unwrap();
/// assert_eq!(my.to_string(), "mysql://root:***@127.0.0.1:3306/easbase");
/// assert!("redis://localhost/x".parse::<DatabaseUrl>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (created with its folder when missing); projects get files in
    /// [`DatabaseUrl::projects_dir`].
    SqliteFile(PathBuf),
    /// An in-memory SQLite database: everything is gone when the process exits.
    SqliteMemory,
    /// A PostgreSQL URL (needs the `postgres` feature, on by default).
    Postgres(String),
    /// A MySQL or MariaDB URL naming the platform's database (needs the `mysql`
    /// feature; `mariadb://` is read as `mysql://`).
    Mysql(String),
}

impl Default for DatabaseUrl {
    fn default() -> DatabaseUrl {
        DatabaseUrl::SqliteFile(PathBuf::from(DEFAULT_SQLITE_FILE))
    }
}

impl FromStr for DatabaseUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<DatabaseUrl> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(s.to_owned()));
        }
        if s.starts_with("mysql://") || s.starts_with("mariadb://") {
            return Ok(DatabaseUrl::Mysql(s.replacen("mariadb://", "mysql://", 1)));
        }
        if matches!(s, "sqlite::memory:" | "sqlite://:memory:" | ":memory:") {
            return Ok(DatabaseUrl::SqliteMemory);
        }
        let path = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:"));
        match path {
            Some(p) if !p.is_empty() => Ok(DatabaseUrl::SqliteFile(PathBuf::from(p))),
            Some(_) => Err(Error::Usage("a sqlite:// URL needs a file: sqlite://path/to/easbase.db".into())),
            None => Err(Error::Usage(format!(
                "unsupported database URL `{}`: use postgres://USER@HOST/DB, mysql://USER@HOST/DB, \
                 sqlite://FILE or sqlite::memory:",
                Redacted(s)
            ))),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::SqliteFile(p) => write!(f, "sqlite://{}", p.display()),
            DatabaseUrl::SqliteMemory => f.write_str("sqlite::memory:"),
            DatabaseUrl::Postgres(url) | DatabaseUrl::Mysql(url) => write!(f, "{}", Redacted(url)),
        }
    }
}

/// A URL with its password replaced by `***`.
struct Redacted<'a>(&'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return f.write_str(url) };
        let authority_end = url[scheme_end..].find('/').map_or(url.len(), |i| scheme_end + i);
        match url[scheme_end..authority_end].rfind('@').map(|i| scheme_end + i) {
            Some(at) => match url[scheme_end..at].find(':').map(|i| scheme_end + i) {
                Some(colon) => write!(f, "{}:***{}", &url[..colon], &url[at..]),
                None => f.write_str(url),
            },
            None => f.write_str(url),
        }
    }
}

impl DatabaseUrl {
    /// Where a SQLite platform keeps its projects' database files: `<stem>-projects`
    /// beside the platform file. `None` for in-memory and PostgreSQL platforms.
    pub fn projects_dir(&self) -> Option<PathBuf> {
        match self {
            DatabaseUrl::SqliteFile(path) => {
                let stem = path.file_stem().map_or_else(|| "easbase".into(), |s| s.to_string_lossy());
                Some(parent(path).join(format!("{stem}-projects")))
            }
            _ => None,
        }
    }

    /// Where `easbase serve` keeps the keys it issued (see [`crate::serve`]): beside a
    /// SQLite file, else `.easbase/` of the working directory (PostgreSQL, MySQL); `None` for an in-memory
    /// database (its projects do not outlive the process).
    pub fn state_dir(&self) -> Option<PathBuf> {
        match self {
            DatabaseUrl::SqliteFile(path) => Some(parent(path).to_owned()),
            DatabaseUrl::SqliteMemory => None,
            DatabaseUrl::Postgres(_) | DatabaseUrl::Mysql(_) => Some(PathBuf::from(".easbase")),
        }
    }

    /// Opens the database (a SQLite file's folder is created when missing).
    ///
    /// # Errors
    /// [`Error::Io`] when the folder cannot be made, [`Error::Core`] when the database
    /// cannot be opened or reached, [`Error::Usage`] for PostgreSQL or MySQL without its
    /// feature.
    pub async fn open(&self) -> Result<Db> {
        match self {
            DatabaseUrl::SqliteFile(path) => {
                let dir = parent(path);
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                Ok(Db::open_sqlite(SqliteConfig::file(path))?)
            }
            DatabaseUrl::SqliteMemory => Ok(Db::open_sqlite(SqliteConfig::in_memory())?),
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => {
                Ok(Db::connect_postgres(easbase_core::db::PgConfig::new(url.clone())).await?)
            }
            #[cfg(not(feature = "postgres"))]
            DatabaseUrl::Postgres(_) => {
                Err(Error::Usage("PostgreSQL URLs need easbase-cli's `postgres` feature".into()))
            }
            #[cfg(feature = "mysql")]
            DatabaseUrl::Mysql(url) => {
                Ok(Db::connect_mysql(easbase_core::db::MyConfig::new(url.clone())).await?)
            }
            #[cfg(not(feature = "mysql"))]
            DatabaseUrl::Mysql(_) => {
                Err(Error::Usage("MySQL URLs need easbase-cli's `mysql` feature".into()))
            }
        }
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The modules every project of a host gets: the auth tables ([`AuthModule`]).
pub fn modules() -> Vec<Arc<dyn Module>> {
    vec![
        Arc::new(AuthModule::default()),
        Arc::new(easbase_core::usage::UsageModule),
        Arc::new(easbase_core::logs::LogsModule),
    ]
}

/// Opens (creating or migrating its tables) the platform at `url` with [`modules`].
/// Every project's API URL is `base_url`: the host serves all projects under one origin
/// and the API key names the project. On PostgreSQL the platform tables live in the
/// schema `platform_schema` (default `easbase`).
///
/// # Errors
/// [`Error::Usage`] for an invalid schema name; see [`DatabaseUrl::open`];
/// [`Error::Core`] when the platform tables cannot be made.
pub async fn open_platform(
    url: &DatabaseUrl,
    base_url: &str,
    platform_schema: Option<&str>,
) -> Result<Platform> {
    let mut config = PlatformConfig {
        data_dir: url.projects_dir(),
        api_url_template: "{base_url}".into(),
        ..PlatformConfig::new(base_url)
    };
    if let Some(name) = platform_schema {
        config.platform_schema = easbase_core::schema::Ident::new(name)
            .map_err(|e| Error::Usage(format!("--platform-schema {name}: {e}")))?;
    }
    let db = url.open().await?;
    Ok(Platform::open(db, config, modules()).await?)
}
