//! Where a project lives per backend, and making and removing it.
//!
//! - PostgreSQL, shared: a schema `p_<id>` in the platform database and three roles
//!   `p_<id>_anon`, `p_<id>_authenticated`, `p_<id>_service` (NOLOGIN, owning nothing)
//!   that the platform's login role may `SET ROLE` to.
//! - PostgreSQL, dedicated: a database `p_<id>` (owned by the platform's login role,
//!   `CONNECT` revoked from `PUBLIC`) on the platform's server or on the server of the
//!   project's `database_url`, with its tables in a schema `p_<id>` and the same three
//!   roles (roles are cluster-wide). The login role needs `CREATEDB` and `CREATEROLE`.
//!   `CREATE DATABASE` cannot run in a transaction: the administration statements run one
//!   by one on a connection of the platform's pool (or a connection of their own to
//!   another server).
//! - MySQL / MariaDB: a database `p_<id>` (`utf8mb4_bin`, so text compares and is unique
//!   byte for byte, as on PostgreSQL and SQLite), on the platform's server (shared, and
//!   dedicated without a URL) or on the server of the project's `database_url`
//!   (dedicated), reached through a pool of its own. MySQL has no roles per request: the
//!   REST layer compiles the policies into its statements. The platform's login needs
//!   `CREATE` and `DROP` on `p_%` databases.
//! - SQLite: a database file `<data_dir>/<id>.sqlite`, or an in-memory database, whatever
//!   the isolation.
//!
//! A project's named schemas (`named.rs`) live beside: the PostgreSQL schema
//! `p_<id>__<name>` in the project's database, the MySQL database `p_<id>__<name>`, the
//! SQLite file `<data_dir>/<id>__<name>.sqlite`.

use std::sync::Arc;

use easbase_schema::ddl::{RoleNames, quote_ident};
use easbase_schema::{Dialect, Ident, Schema, ValidSchema};

use super::model::Isolation;
use super::router::PoolGuard;
use super::store::ProjectRow;
use super::{Platform, ProjectDb};
use crate::context::ProjectId;
use crate::db::{Db, Stmt};
use crate::error::{Error, Result};

fn ident(name: String) -> Ident {
    // Built from a project id ([a-z0-9_-], at most 40) and fixed text: always valid.
    Ident::new(name.replace('-', "_")).unwrap_or_else(|_| unreachable!("generated identifiers are valid"))
}

fn quoted(name: &Ident) -> String {
    quote_ident(Dialect::Postgres, name.as_str())
}

/// The PostgreSQL schema of a project.
pub(super) fn pg_schema(platform: &Platform, id: &ProjectId) -> Option<Ident> {
    (platform.inner.db.dialect() == Dialect::Postgres).then(|| ident(format!("p_{id}")))
}

/// Where a project's named schema lives: the PostgreSQL schema (next to the project's,
/// in the same database) or the MySQL database `p_<id>__<name>`. The name was checked by
/// `named::check_name` to make a valid identifier.
pub(super) fn named_storage(id: &ProjectId, name: &str) -> Ident {
    ident(format!("p_{id}__{name}"))
}

/// The name of a dedicated project's PostgreSQL database.
pub(super) fn database_name(id: &ProjectId) -> Ident {
    ident(format!("p_{id}"))
}

/// The database roles of a project's request roles.
pub(super) fn role_names(platform: &Platform, id: &ProjectId) -> RoleNames {
    if platform.inner.db.dialect() != Dialect::Postgres {
        return RoleNames::default();
    }
    RoleNames {
        anon: ident(format!("p_{id}_anon")),
        authenticated: ident(format!("p_{id}_authenticated")),
        service: ident(format!("p_{id}_service")),
    }
}

/// The PostgreSQL schema holding a project's tables: its own, or the schema it adopted.
pub(super) fn pg_schema_of(platform: &Platform, row: &ProjectRow) -> Option<Ident> {
    match &row.adopt {
        Some(adopt) if platform.inner.db.dialect() == Dialect::Postgres => {
            Ident::new(adopt.schema.as_str()).ok()
        }
        _ => pg_schema(platform, &row.project.id),
    }
}

/// The database roles of a project's request roles: its own, or those of the schema it
/// adopted.
pub(super) fn role_names_of(platform: &Platform, row: &ProjectRow) -> RoleNames {
    match adopted_roles(row) {
        Some(roles) if platform.inner.db.dialect() == Dialect::Postgres => roles,
        _ => role_names(platform, &row.project.id),
    }
}

fn adopted_roles(row: &ProjectRow) -> Option<RoleNames> {
    let adopt = row.adopt.as_ref()?;
    Some(RoleNames {
        anon: Ident::new(adopt.anon_role.as_str()).ok()?,
        authenticated: Ident::new(adopt.authenticated_role.as_str()).ok()?,
        service: Ident::new(adopt.service_role.as_str()).ok()?,
    })
}

/// Checks an adoption request before anything is stored.
pub(super) fn check_adopt(platform: &Platform, adopt: &super::AdoptSchema) -> Result<()> {
    if platform.inner.db.dialect() != Dialect::Postgres {
        return Err(Error::Config("adopting an existing schema is for PostgreSQL platforms".into()));
    }
    let bad = |what: &str, name: &str, why: String| {
        Error::Config(format!("adopt: the {what} `{name}` is not a valid name: {why}"))
    };
    for (what, name) in [
        ("schema", &adopt.schema),
        ("anon role", &adopt.anon_role),
        ("authenticated role", &adopt.authenticated_role),
        ("service role", &adopt.service_role),
    ] {
        Ident::new(name.as_str()).map_err(|e| bad(what, name, e.to_string()))?;
    }
    let schema = adopt.schema.to_ascii_lowercase();
    if schema.starts_with("pg_")
        || schema == "information_schema"
        || schema == platform.inner.config.platform_schema.as_str()
    {
        return Err(Error::Config(format!("adopt: the schema `{}` cannot be served", adopt.schema)));
    }
    let roles = [&adopt.anon_role, &adopt.authenticated_role, &adopt.service_role];
    if roles.iter().any(|r| r.starts_with("pg_")) {
        return Err(Error::Config("adopt: the roles cannot be PostgreSQL's own (pg_*)".into()));
    }
    Ok(())
}

/// The statements that prepare an adopted schema: its roles (created if missing), the
/// login's membership in them, and the grants. See [`super::AdoptSchema`].
fn adopt_script(schema: &Ident, roles: &RoleNames) -> Vec<String> {
    let s = quoted(schema);
    let mut script = Vec::new();
    for (role, extra) in [(&roles.anon, ""), (&roles.authenticated, ""), (&roles.service, " BYPASSRLS")] {
        let r = quoted(role);
        let name = role.as_str().replace('\'', "''");
        // A new role gets Supabase's grants on the schema's objects; an existing one
        // keeps its own (only USAGE on the schema, below). BYPASSRLS needs a superuser:
        // without it the service role is made without.
        let grants = format!(
            "EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}'; \
             EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}'; \
             EXECUTE 'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {r}';",
            s = s.replace('\'', "''"),
            r = r.replace('\'', "''"),
        );
        let create = if extra.is_empty() {
            format!("CREATE ROLE {r} NOLOGIN NOINHERIT;")
        } else {
            format!(
                "BEGIN CREATE ROLE {r} NOLOGIN NOINHERIT{extra}; \
                 EXCEPTION WHEN insufficient_privilege THEN CREATE ROLE {r} NOLOGIN NOINHERIT; END;"
            )
        };
        script.push(format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN {create} {grants} END IF; END $$"
        ));
        script.push(format!(
            "DO $$ BEGIN IF NOT pg_has_role(CURRENT_USER, '{name}', 'MEMBER') THEN EXECUTE 'GRANT {q} TO CURRENT_USER'; END IF; END $$",
            q = r.replace('\'', "''")
        ));
        script.push(format!("GRANT USAGE ON SCHEMA {s} TO {r}"));
    }
    script
}

fn roles(platform: &Platform, id: &ProjectId) -> [Ident; 3] {
    let r = role_names(platform, id);
    [r.anon, r.authenticated, r.service]
}

/// Statements that create a project's roles (idempotent; one statement each).
fn create_roles(platform: &Platform, id: &ProjectId) -> Vec<String> {
    let mut script = Vec::new();
    for role in roles(platform, id) {
        // CREATE ROLE has no IF NOT EXISTS; the names are generated identifiers.
        script.push(format!(
            "DO $$ BEGIN CREATE ROLE {r} NOLOGIN NOINHERIT; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            r = quoted(&role)
        ));
        script.push(format!("GRANT {} TO CURRENT_USER", quoted(&role)));
    }
    script
}

/// Statements that drop a project's roles and whatever they own or were granted in the
/// current database (idempotent; one statement each).
fn drop_roles(platform: &Platform, id: &ProjectId) -> Vec<String> {
    roles(platform, id)
        .iter()
        .map(|role| {
            let q = quoted(role);
            format!(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN EXECUTE 'DROP OWNED BY {q}'; EXECUTE 'DROP ROLE {q}'; END IF; END $$",
                name = role.as_str()
            )
        })
        .collect()
}

/// A project's database, as [`database`] opens it.
pub(super) struct Opened {
    pub(super) db: Db,
    /// Closes the pool (or file) when the last handle goes.
    pub(super) guard: Option<Arc<PoolGuard>>,
    /// An in-memory database: never closed.
    pub(super) in_memory: bool,
}

/// Opens the handle holding a project's tables.
pub(super) async fn database(platform: &Platform, row: &ProjectRow) -> Result<Opened> {
    let counter = platform.inner.router.pool_counter();
    match platform.inner.db.dialect() {
        #[cfg(feature = "postgres")]
        Dialect::Postgres if row.project.isolation == Isolation::Dedicated => {
            let server = dedicated::Server::of(platform, row)?;
            let db = dedicated::pool(server.project_config(&database_name(&row.project.id)), platform)?;
            Ok(Opened { guard: Some(PoolGuard::new(db.clone(), counter)), db, in_memory: false })
        }
        Dialect::Postgres => Ok(Opened { db: platform.inner.db.clone(), guard: None, in_memory: false }),
        #[cfg(feature = "mysql")]
        Dialect::Mysql => {
            let db = mysql::project_pool(platform, row)?;
            Ok(Opened { guard: Some(PoolGuard::new(db.clone(), counter)), db, in_memory: false })
        }
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => {
            let _ = row.project.isolation; // every SQLite project is its own database
            sqlite_file(platform, &format!("{}.sqlite", row.project.id), counter)
        }
        #[allow(unreachable_patterns)] // with every backend feature on
        other => Err(Error::Config(format!("projects on {other} need the `{other}` feature"))),
    }
}

/// A SQLite database named `file` in the platform's data folder (created if missing), or
/// an in-memory database of its own when the platform keeps no folder.
#[cfg(feature = "sqlite")]
fn sqlite_file(
    platform: &Platform,
    file: &str,
    counter: Arc<std::sync::atomic::AtomicUsize>,
) -> Result<Opened> {
    use crate::db::SqliteConfig;
    match &platform.inner.config.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::Config(format!("data_dir: {e}")))?;
            let db = Db::open_sqlite(SqliteConfig::file(dir.join(file)))?;
            Ok(Opened { guard: Some(PoolGuard::new(db.clone(), counter)), db, in_memory: false })
        }
        None => Ok(Opened { db: Db::open_sqlite(SqliteConfig::in_memory())?, guard: None, in_memory: true }),
    }
}

/// Opens the handle holding a project's named schema `name`, beside `public` (the
/// project's own handle): on PostgreSQL the same pool (another schema), on MySQL a pool of
/// its own to the database `p_<id>__<name>`, on SQLite the file `<id>__<name>.sqlite` beside
/// the project's (or an in-memory database of its own).
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(unused_variables))]
pub(super) fn named_database(
    platform: &Platform,
    row: &ProjectRow,
    public: &ProjectDb,
    name: &str,
) -> Result<Opened> {
    let counter = platform.inner.router.pool_counter();
    match platform.inner.db.dialect() {
        Dialect::Postgres => {
            Ok(Opened { db: public.db().clone(), guard: public.parts._pool.clone(), in_memory: false })
        }
        #[cfg(feature = "mysql")]
        Dialect::Mysql => {
            let db = mysql::pool_to(platform, row, &named_storage(&row.project.id, name))?;
            Ok(Opened { guard: Some(PoolGuard::new(db.clone(), counter)), db, in_memory: false })
        }
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => sqlite_file(platform, &format!("{}__{name}.sqlite", row.project.id), counter),
        #[allow(unreachable_patterns)] // with every backend feature on
        other => Err(Error::Config(format!("projects on {other} need the `{other}` feature"))),
    }
}

/// Creates what holds a named schema (idempotent): a PostgreSQL schema in the project's
/// database (`public` is the project's own handle), or a MySQL database.
pub(super) async fn prepare_named(
    platform: &Platform,
    row: &ProjectRow,
    public: &ProjectDb,
    name: &str,
) -> Result<()> {
    let storage = named_storage(&row.project.id, name);
    match platform.inner.db.dialect() {
        Dialect::Postgres => {
            public.db().execute_script(&[format!("CREATE SCHEMA IF NOT EXISTS {}", quoted(&storage))]).await
        }
        #[cfg(feature = "mysql")]
        Dialect::Mysql => mysql::create_database(platform, row, &storage).await,
        _ => Ok(()),
    }
}

/// Removes what holds a named schema (idempotent): its PostgreSQL schema, its MySQL
/// database or its SQLite files. `public` is the project's own handle on PostgreSQL (where
/// the schema lives); unused elsewhere.
pub(super) async fn undo_named(
    platform: &Platform,
    row: &ProjectRow,
    public: Option<&Db>,
    name: &str,
) -> Result<()> {
    let id = &row.project.id;
    platform.inner.router.forget_key(&format!("{id}/{name}"));
    let storage = named_storage(id, name);
    match platform.inner.db.dialect() {
        Dialect::Postgres => {
            let db = public.unwrap_or(&platform.inner.db);
            db.execute_script(&[format!("DROP SCHEMA IF EXISTS {} CASCADE", quoted(&storage))]).await
        }
        #[cfg(feature = "mysql")]
        Dialect::Mysql => mysql::drop_database(platform, row, &storage).await,
        _ => {
            if let Some(dir) = &platform.inner.config.data_dir {
                remove_files(dir, &format!("{id}__{name}"))?;
            }
            Ok(())
        }
    }
}

/// Removes the SQLite files `<dir>/<stem>.sqlite` (and its `-wal`, `-shm`), if present.
fn remove_files(dir: &std::path::Path, stem: &str) -> Result<()> {
    for suffix in ["sqlite", "sqlite-wal", "sqlite-shm"] {
        let path = dir.join(format!("{stem}.{suffix}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Config(format!("cannot remove {}: {e}", path.display()))),
        }
    }
    Ok(())
}

/// Creates what holds the project's tables (idempotent, so a failed provisioning can
/// resume).
pub(super) async fn prepare(platform: &Platform, row: &ProjectRow) -> Result<()> {
    let project = &row.project;
    let db = &platform.inner.db;
    #[cfg(feature = "mysql")]
    if db.dialect() == Dialect::Mysql {
        return mysql::create(platform, row).await;
    }
    if db.dialect() != Dialect::Postgres {
        return Ok(());
    }
    if let (Some(schema), Some(roles)) = (pg_schema_of(platform, row), adopted_roles(row)) {
        // The schema must exist: an adopted schema is never created.
        let exists = Stmt::new(
            "select count(*) from pg_namespace where nspname = $1",
            sea_query::Values(vec![schema.as_str().to_owned().into()]),
        );
        if super::store::count(&db.query(exists).await?)? == 0 {
            return Err(Error::Config(format!("there is no schema `{schema}` to adopt in the database")));
        }
        return db.execute_script(&adopt_script(&schema, &roles)).await;
    }
    let create_schema = format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        quoted(&pg_schema(platform, &project.id).unwrap_or_else(|| database_name(&project.id)))
    );
    if project.isolation == Isolation::Dedicated {
        #[cfg(feature = "postgres")]
        {
            dedicated::create(platform, row).await?;
            let pdb = platform.open_project_db(&project.id).await?;
            return pdb.db().execute_script(&[create_schema]).await;
        }
        #[cfg(not(feature = "postgres"))]
        unreachable!("a PostgreSQL platform needs the `postgres` feature");
    }
    let mut script = create_roles(platform, &project.id);
    script.push(create_schema);
    db.execute_script(&script).await
}

/// Removes everything a project holds: its schema and roles, its database, or its
/// database file.
pub(super) async fn undo(platform: &Platform, row: &ProjectRow) -> Result<()> {
    let project = &row.project;
    platform.inner.router.forget(project.id.as_str());
    let db = &platform.inner.db;
    if row.adopt.is_some() {
        // Neither the adopted schema, its tables nor its roles belong to the project.
        return Ok(());
    }
    match db.dialect() {
        #[cfg(feature = "postgres")]
        Dialect::Postgres if project.isolation == Isolation::Dedicated => {
            dedicated::destroy(platform, row).await
        }
        Dialect::Postgres => {
            let mut script = Vec::new();
            if let Some(schema) = pg_schema(platform, &project.id) {
                script.push(format!("DROP SCHEMA IF EXISTS {} CASCADE", quoted(&schema)));
            }
            script.extend(drop_roles(platform, &project.id));
            db.execute_script(&script).await
        }
        #[cfg(feature = "mysql")]
        Dialect::Mysql => mysql::destroy(platform, row).await,
        _ => {
            if let Some(dir) = &platform.inner.config.data_dir {
                remove_files(dir, project.id.as_str())?;
            }
            Ok(())
        }
    }
}

/// Dedicated PostgreSQL databases.
#[cfg(feature = "postgres")]
mod dedicated {
    use std::str::FromStr;
    use std::time::Duration;

    use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
    use tokio_postgres::NoTls;

    use super::*;

    /// The server a dedicated project lives on.
    pub(super) enum Server {
        /// The platform's: administration through the platform pool.
        Platform { pool: deadpool_postgres::Pool, config: tokio_postgres::Config },
        /// Another server (the project's `database_url`).
        External { config: tokio_postgres::Config },
    }

    /// A connection to run administration statements on, one at a time (never in a
    /// transaction block: `CREATE DATABASE` refuses that).
    enum Admin {
        Pooled(deadpool_postgres::Object),
        Own(tokio_postgres::Client, tokio::task::JoinHandle<()>),
    }

    impl Drop for Admin {
        fn drop(&mut self) {
            if let Admin::Own(_, task) = self {
                task.abort();
            }
        }
    }

    impl Admin {
        fn client(&self) -> &tokio_postgres::Client {
            match self {
                Admin::Pooled(object) => object,
                Admin::Own(client, _) => client,
            }
        }

        async fn run(&self, sql: &str) -> Result<()> {
            self.client().batch_execute(sql).await.map_err(|e| pg_error(&e))
        }
    }

    /// A driver error as [`Error`], without the `DETAIL` (and never a connection string).
    fn pg_error(e: &tokio_postgres::Error) -> Error {
        match e.as_db_error() {
            Some(db) => Error::Database {
                sqlstate: Some(db.code().code().to_owned()),
                message: db.message().to_owned(),
            },
            None => Error::Unavailable(format!("PostgreSQL: {e}")),
        }
    }

    /// Parses a connection string without echoing it (it may hold a password).
    pub(in crate::project) fn parse_url(url: &str) -> Result<tokio_postgres::Config> {
        tokio_postgres::Config::from_str(url)
            .map_err(|_| Error::Config("the database URL is not a valid PostgreSQL connection string".into()))
    }

    impl Server {
        pub(super) fn of(platform: &Platform, row: &ProjectRow) -> Result<Server> {
            if let Some(url) = &row.database_url {
                return Ok(Server::External { config: parse_url(url)? });
            }
            let pg = match &platform.inner.db {
                Db::Postgres(pg) => pg,
                #[allow(unreachable_patterns)]
                _ => return Err(Error::Config("dedicated databases need a PostgreSQL platform".into())),
            };
            let config = platform.inner.pg_server.clone().ok_or_else(|| {
                Error::Config(
                    "dedicated projects need the platform's connection settings: set \
                     PlatformConfig::postgres, or build the platform's Db with Db::connect_postgres"
                        .into(),
                )
            })?;
            Ok(Server::Platform { pool: pg.pool().clone(), config })
        }

        /// The server's settings with the database name replaced.
        pub(super) fn project_config(&self, database: &Ident) -> tokio_postgres::Config {
            let (Server::Platform { config, .. } | Server::External { config }) = self;
            let mut config = config.clone();
            config.dbname(database.as_str());
            config
        }

        async fn admin(&self) -> Result<Admin> {
            match self {
                Server::Platform { pool, .. } => {
                    Ok(Admin::Pooled(pool.get().await.map_err(|e| Error::Unavailable(e.to_string()))?))
                }
                Server::External { config } => {
                    let (client, connection) = config.connect(NoTls).await.map_err(|e| pg_error(&e))?;
                    let task = tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    Ok(Admin::Own(client, task))
                }
            }
        }
    }

    /// A pool to a dedicated database (no connection is made until the first use).
    pub(super) fn pool(config: tokio_postgres::Config, platform: &Platform) -> Result<Db> {
        let build = |config: tokio_postgres::Config| {
            let manager = Manager::from_config(
                config,
                NoTls,
                ManagerConfig { recycling_method: RecyclingMethod::Fast },
            );
            Pool::builder(manager)
                .max_size(platform.inner.config.dedicated_pool_size.max(1))
                .runtime(Runtime::Tokio1)
                .build()
                .map_err(|e| Error::Config(format!("PostgreSQL pool: {e}")))
        };
        // A second pool, used only for plain reads' sessions (see `PgDb`).
        let pool = build(config.clone())?;
        Ok(Db::Postgres(crate::db::PgDb::from_pools(pool, build(config)?)))
    }

    /// Creates the project's roles and database (idempotent).
    pub(super) async fn create(platform: &Platform, row: &ProjectRow) -> Result<()> {
        let id = &row.project.id;
        let server = Server::of(platform, row)?;
        let admin = server.admin().await?;
        for statement in create_roles(platform, id) {
            admin.run(&statement).await?;
        }
        let database = quoted(&database_name(id));
        match admin.run(&format!("CREATE DATABASE {database}")).await {
            Ok(()) => {}
            Err(e) if e.sqlstate() == Some("42P04") => {} // resumed: it exists
            Err(e) => return Err(e),
        }
        admin.run(&format!("REVOKE ALL ON DATABASE {database} FROM PUBLIC")).await
    }

    /// Terminates the database's connections, drops it, then the roles (idempotent).
    pub(super) async fn destroy(platform: &Platform, row: &ProjectRow) -> Result<()> {
        let id = &row.project.id;
        let server = Server::of(platform, row)?;
        let admin = server.admin().await?;
        let name = database_name(id);
        let version: i32 = admin
            .client()
            .query_one("select current_setting('server_version_num')::int4", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg_error(&e))?;
        // PostgreSQL 13+ terminates the remaining sessions itself with FORCE.
        let force = if version >= 130_000 { " WITH (FORCE)" } else { "" };
        let drop_database = format!("DROP DATABASE IF EXISTS {}{force}", quoted(&name));
        let mut attempt = 0;
        loop {
            admin
                .client()
                .execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity \
                     where datname = $1 and pid <> pg_backend_pid()",
                    &[&name.as_str()],
                )
                .await
                .map_err(|e| pg_error(&e))?;
            match admin.run(&drop_database).await {
                Ok(()) => break,
                // A session reconnected between the two statements: again.
                Err(e) if e.sqlstate() == Some("55006") && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
        for statement in drop_roles(platform, id) {
            admin.run(&statement).await?;
        }
        Ok(())
    }
}

#[cfg(feature = "postgres")]
pub(super) use dedicated::parse_url;

/// Projects' databases on MySQL / MariaDB.
#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use crate::db::MyDb;

    fn platform_db(platform: &Platform) -> Result<&MyDb> {
        match &platform.inner.db {
            Db::Mysql(my) => Ok(my),
            #[allow(unreachable_patterns)]
            _ => Err(Error::Config("MySQL projects need a MySQL platform".into())),
        }
    }

    fn pool_size(platform: &Platform) -> u32 {
        u32::try_from(platform.inner.config.dedicated_pool_size.max(1)).unwrap_or(u32::MAX)
    }

    /// A pool to the project's database (no connection until the first use).
    pub(super) fn project_pool(platform: &Platform, row: &ProjectRow) -> Result<Db> {
        pool_to(platform, row, &database_name(&row.project.id))
    }

    /// A pool to the database `name` on the project's server (no connection until the
    /// first use).
    pub(super) fn pool_to(platform: &Platform, row: &ProjectRow, name: &Ident) -> Result<Db> {
        let db = match &row.database_url {
            Some(url) => MyDb::lazy(url, Some(name.as_str()), pool_size(platform))?,
            None => platform_db(platform)?.sibling(name.as_str(), pool_size(platform)),
        };
        Ok(Db::Mysql(db))
    }

    /// Where `CREATE DATABASE` and `DROP DATABASE` run: the platform's pool, or a pool
    /// of its own (closed after use) to the project's server.
    struct Admin {
        db: MyDb,
        own: bool,
    }

    impl Admin {
        fn of(platform: &Platform, row: &ProjectRow) -> Result<Admin> {
            Ok(match &row.database_url {
                Some(url) => Admin { db: MyDb::lazy(url, None, 1)?, own: true },
                None => Admin { db: platform_db(platform)?.clone(), own: false },
            })
        }

        async fn run(self, sql: String) -> Result<()> {
            let done = self.db.execute_script(&[sql]).await;
            if self.own {
                self.db.pool().close().await;
            }
            done
        }
    }

    /// Creates the project's database (idempotent).
    pub(super) async fn create(platform: &Platform, row: &ProjectRow) -> Result<()> {
        create_database(platform, row, &database_name(&row.project.id)).await
    }

    /// Drops the project's database (idempotent).
    pub(super) async fn destroy(platform: &Platform, row: &ProjectRow) -> Result<()> {
        drop_database(platform, row, &database_name(&row.project.id)).await
    }

    /// Creates the database `name` on the project's server (idempotent).
    pub(super) async fn create_database(platform: &Platform, row: &ProjectRow, name: &Ident) -> Result<()> {
        let name = quote_ident(Dialect::Mysql, name.as_str());
        Admin::of(platform, row)?
            .run(format!("CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
            .await
    }

    /// Drops the database `name` on the project's server (idempotent).
    pub(super) async fn drop_database(platform: &Platform, row: &ProjectRow, name: &Ident) -> Result<()> {
        let name = quote_ident(Dialect::Mysql, name.as_str());
        Admin::of(platform, row)?.run(format!("DROP DATABASE IF EXISTS {name}")).await
    }
}

/// The schema last applied to a project, from its migration history.
pub(super) async fn current_schema(pdb: &ProjectDb) -> Result<Option<ValidSchema>> {
    #[cfg(feature = "postgres")]
    if pdb.is_adopted()
        && let (Db::Postgres(pg), Some(schema)) = (pdb.db(), pdb.pg_schema())
    {
        let client = pg.pool().get().await.map_err(|e| Error::Unavailable(e.to_string()))?;
        let found = easbase_schema::introspect::introspect_postgres(&client, schema.as_str()).await?;
        for warning in &found.warnings {
            tracing::debug!(schema = %schema, warning = %warning, "adopted schema");
        }
        let valid = found.schema.validate_for(Dialect::Postgres).map_err(easbase_schema::Error::from)?;
        return Ok(Some(valid));
    }
    let table = match pdb.pg_schema() {
        Some(s) => format!(
            "{}.{}",
            quote_ident(Dialect::Postgres, s.as_str()),
            quote_ident(Dialect::Postgres, easbase_schema::migrate::HISTORY_TABLE)
        ),
        None => quote_ident(pdb.dialect(), easbase_schema::migrate::HISTORY_TABLE),
    };
    let exists = match pdb.dialect() {
        Dialect::Postgres => Stmt::new(
            "select count(*) from pg_tables where schemaname = $1 and tablename = $2",
            sea_query::Values(vec![
                pdb.pg_schema().map(|s| s.as_str().to_owned()).unwrap_or_default().into(),
                easbase_schema::migrate::HISTORY_TABLE.into(),
            ]),
        ),
        Dialect::Mysql => Stmt::new(
            "select count(*) from information_schema.tables where table_schema = database() and table_name = ?",
            sea_query::Values(vec![easbase_schema::migrate::HISTORY_TABLE.into()]),
        ),
        Dialect::Sqlite => Stmt::new(
            "select count(*) from sqlite_master where type = 'table' and name = ?",
            sea_query::Values(vec![easbase_schema::migrate::HISTORY_TABLE.into()]),
        ),
    };
    if super::store::count(&pdb.db().query(exists).await?)? == 0 {
        return Ok(None);
    }
    let q = quote_ident(pdb.dialect(), "schema_json");
    let id = quote_ident(pdb.dialect(), "id");
    let rows =
        pdb.db().query(Stmt::raw(format!("select {q} from {table} order by {id} desc limit 1"))).await?;
    let Some(json) = rows.first().and_then(|r| r.cells.first()).and_then(|c| c.as_str()) else {
        return Ok(None);
    };
    let schema = Schema::from_json(json)?;
    Ok(Some(schema.validate().map_err(easbase_schema::Error::from)?))
}
