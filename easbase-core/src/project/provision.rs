//! Where a project lives per backend, and making and removing it.
//!
//! - PostgreSQL, shared: a schema `p_<id>` in the platform database and three roles
//!   `p_<id>_anon`, `p_<id>_authenticated`, `p_<id>_service` (NOLOGIN, owning nothing)
//!   that the platform's login role may `SET ROLE` to.
//! - SQLite: a database file `<data_dir>/<id>.sqlite`, or an in-memory database.

use easbase_schema::ddl::{RoleNames, quote_ident};
use easbase_schema::{Dialect, Ident, Schema, ValidSchema};

use super::{Platform, Project, ProjectDb};
use crate::context::ProjectId;
use crate::db::{Db, Stmt};
use crate::error::{Error, Result};

fn ident(name: String) -> Ident {
    // Built from a project id ([a-z0-9_-], at most 40) and fixed text: always valid.
    Ident::new(name.replace('-', "_")).unwrap_or_else(|_| unreachable!("generated identifiers are valid"))
}

/// The PostgreSQL schema of a project.
pub(super) fn pg_schema(platform: &Platform, id: &ProjectId) -> Option<Ident> {
    (platform.inner.db.dialect() == Dialect::Postgres).then(|| ident(format!("p_{id}")))
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

fn roles(platform: &Platform, id: &ProjectId) -> [Ident; 3] {
    let r = role_names(platform, id);
    [r.anon, r.authenticated, r.service]
}

/// The handle holding a project's tables.
pub(super) async fn database(platform: &Platform, id: &ProjectId) -> Result<Db> {
    #[cfg(not(feature = "sqlite"))]
    let _ = id;
    match platform.inner.db.dialect() {
        Dialect::Postgres => Ok(platform.inner.db.clone()),
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => {
            use crate::db::SqliteConfig;
            let config = match &platform.inner.config.data_dir {
                Some(dir) => {
                    std::fs::create_dir_all(dir).map_err(|e| Error::Config(format!("data_dir: {e}")))?;
                    SqliteConfig::file(dir.join(format!("{id}.sqlite")))
                }
                None => SqliteConfig::in_memory(),
            };
            Db::open_sqlite(config)
        }
        other => Err(Error::Config(format!("projects on {other} are not supported yet"))),
    }
}

/// Whether a project's handle may be closed to bound open databases (an in-memory SQLite
/// database would be lost; PostgreSQL handles share the platform pool).
pub(super) fn closable(platform: &Platform, pdb: &ProjectDb) -> bool {
    pdb.dialect() == Dialect::Sqlite && platform.inner.config.data_dir.is_some()
}

/// Creates what holds the project's tables (idempotent, so a failed provisioning can
/// resume).
pub(super) async fn prepare(platform: &Platform, project: &Project) -> Result<()> {
    let db = &platform.inner.db;
    if db.dialect() != Dialect::Postgres {
        return Ok(());
    }
    let mut script = Vec::new();
    for role in roles(platform, &project.id) {
        // CREATE ROLE has no IF NOT EXISTS; the names are generated identifiers.
        script.push(format!(
            "DO $$ BEGIN CREATE ROLE {r} NOLOGIN NOINHERIT; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            r = quote_ident(Dialect::Postgres, role.as_str())
        ));
        script.push(format!("GRANT {} TO CURRENT_USER", quote_ident(Dialect::Postgres, role.as_str())));
    }
    if let Some(schema) = pg_schema(platform, &project.id) {
        script
            .push(format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(Dialect::Postgres, schema.as_str())));
    }
    db.execute_script(&script).await
}

/// Removes everything a project holds: its schema and roles, or its database file.
pub(super) async fn undo(platform: &Platform, project: &Project) -> Result<()> {
    let db = &platform.inner.db;
    match db.dialect() {
        Dialect::Postgres => {
            let mut script = Vec::new();
            if let Some(schema) = pg_schema(platform, &project.id) {
                script.push(format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    quote_ident(Dialect::Postgres, schema.as_str())
                ));
            }
            for role in roles(platform, &project.id) {
                let quoted = quote_ident(Dialect::Postgres, role.as_str());
                script.push(format!(
                    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN EXECUTE 'DROP OWNED BY {quoted}'; EXECUTE 'DROP ROLE {quoted}'; END IF; END $$",
                    name = role.as_str()
                ));
            }
            db.execute_script(&script).await
        }
        _ => {
            if let Some(dir) = &platform.inner.config.data_dir {
                for suffix in ["sqlite", "sqlite-wal", "sqlite-shm"] {
                    let path = dir.join(format!("{}.{suffix}", project.id));
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(Error::Config(format!("cannot remove {}: {e}", path.display())));
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

/// The schema last applied to a project, from its migration history.
pub(super) async fn current_schema(pdb: &ProjectDb) -> Result<Option<ValidSchema>> {
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
        _ => Stmt::new(
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
